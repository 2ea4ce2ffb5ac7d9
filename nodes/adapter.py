"""The one place that turns a ComfyUI MODEL / GUIDER into the pack's per-frame denoiser.

ComfyUI's public contract is one sigma per batch row (``comfy/model_sampling.py`` reshapes sigma to ``[B, 1, ...]``),
while FIFO-Diffusion and MIGA give every latent frame its own noise level. The seam uses only sanctioned hooks
(``docs/comfyui-host.md``, "Per-frame noise levels"):

1. :class:`PerFrameSampler` is a ``comfy.samplers.Sampler`` run by ``CFGGuider.sample``, so cond conversion, CFG,
   hooks, ControlNet pre-run, a *window-sized* memory estimate, latent in/out processing and cleanup are ComfyUI's.
2. Inside it, a keyed ``APPLY_MODEL`` wrapper (local to this run's cloned model options; the MODEL is untouched)
   redoes ``BaseModel._apply_model`` with a per-frame sigma read from ``transformer_options``. Everything else in
   ComfyUI sees a scalar *carrier* sigma per row (the window's mean level): timestep-ranged conds, hook keyframes,
   ControlNet ranges and CFG plugins keep working but cannot be per-frame.
3. Per architecture the per-frame timesteps take the shape the diffusion model wants: ``[B, F]`` for ``WanModel``
   (Wan 2.1 / 2.2) and Cosmos Predict2's ``MiniTrainDIT``, ``[B, F*H*W]`` per token for ``LTXVModel``. Wan VACE
   (``VaceWanModel``) and Wan Camera (``CameraWanModel``) take one timestep per window: they run on chunked
   continuation, whose shared-level mode gives a window one level, with their per-frame conditioning sliced per window
   (VACE also gets the known slots through its mask; :mod:`.vace`, :mod:`.camera`).
   Every other model gets :class:`UnsupportedModelError` naming the families that work.

4. Per-frame conditioning (the ``c_concat`` of Wan I2V / FLF / Fun: start and end images, masks, control latents) is
   built by ComfyUI for the whole video and sliced here at the stream positions of the window's frames (see
   :mod:`.frame_conds`), so it travels with its frames through the queue.
5. Frame positions reach the model where its temporal position encoding allows (Wan 2.1 / 2.2; a keyed
   ``DIFFUSION_MODEL`` wrapper, :mod:`.positions`), so frames that are far apart in the video are not neighbours to
   the model either. The denoiser tells the engine whether they do (``positions_reach_model``).

The mirror of ``_apply_model`` must track upstream; ``tests/test_adapter_host.py`` checks that equal per-frame sigmas
reproduce stock ``apply_model`` for every supported family.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.patcher_extension
import comfy.samplers
import torch
from torch import Tensor

from .camera import is_camera, window_camera_conditions
from .frame_conds import frames_at, known_frames, pin_known
from .positions import POSITIONS_KEY, model_takes_positions
from .positions import install as install_positions
from .stateful_patches import check_stateful_patches
from .vace import is_vace, one_timestep_per_row, window_vace_context

SIGMA_KEY = "infinite_video_sigmas"
PROMPTS_KEY = "infinite_video_prompts"
PROMPT_INDEX_KEY = "infinite_video_prompt_index"
FRAME_RANGE_KEY = "infinite_video_frame_range"
KNOWN_KEY = "infinite_video_known"
WRAPPER_KEY = "infinite_video_per_frame"

SUPPORTED_FAMILIES = (
    "Wan 2.1 (T2V, I2V, FLF, Fun; VACE and Camera with Chunked Continuation), Wan 2.2 (TI2V-5B, A14B single expert), "
    "LTX-Video and Cosmos Predict2")
# Subclasses of these models add tokens or embed the timestep without flattening it, so they are not per-frame safe.
_UNSAFE_KWARGS = {
    "reference_latent": "reference latents (Wan Fun / Phantom)",
    "time_dim_concat": "time-concatenated latents",
    "keyframe_idxs": "LTX-Video guide frames (LTXVAddGuide)",
}


class UnsupportedModelError(ValueError):
    """A model whose diffusion network cannot take one timestep per latent frame."""


ONE_LEVEL_FAMILIES = ("vace", "camera")  # one timestep per window: chunked continuation in shared-level mode


def _uncompiled(net: Any) -> Any:
    """The module under a ``torch.compile`` wrapper (``OptimizedModule._orig_mod``; TorchCompileModel swaps the
    compiled module in for the duration of ``apply_model``), else ``net``: the family is the network's, compiled or
    not."""
    return getattr(net, "_orig_mod", net) if isinstance(net, torch.nn.Module) else net


def per_frame_family(base_model: Any) -> str:
    """``"wan"``, ``"ltxv"`` or ``"cosmos"`` for a ComfyUI ``BaseModel`` that takes per-frame timesteps, ``"vace"``
    or ``"camera"`` for Wan VACE / Camera (one timestep per window: chunked continuation only, see
    :data:`ONE_LEVEL_FAMILIES`); else raise."""
    import comfy.ldm.cosmos.predict2 as cosmos_predict2
    import comfy.ldm.lightricks.model as ltxv
    import comfy.ldm.wan.model as wan

    net = _uncompiled(getattr(base_model, "diffusion_model", None))
    kind = type(base_model).__name__
    if type(net) is wan.WanModel and kind in ("WAN21", "WAN22"):
        return "wan"
    if is_vace(base_model):
        return "vace"
    if is_camera(base_model):
        return "camera"
    if type(net) is ltxv.LTXVModel:
        return "ltxv"
    if type(net) is cosmos_predict2.MiniTrainDIT and kind == "CosmosPredict2":
        return "cosmos"
    raise UnsupportedModelError(
        f"{kind} ({type(net).__name__}) cannot take a separate noise level per "
        f"latent frame, which FIFO-Diffusion and "
        f"MIGA need. Load one of: {SUPPORTED_FAMILIES}. (Wan S2V, HuMo and Animate variants, "
        f"HunyuanVideo, Mochi and Cosmos 1 embed one timestep per video; Wan VACE and Camera do too, and run with "
        f"Chunked Continuation.) For image-to-video with any model, use "
        f"K-Step Noise Search instead."
    )


def context_width(base_model: Any) -> Optional[int]:
    """Width of the text embedding the diffusion model takes (4096 for Wan / LTX-Video umT5 or T5, 1024 for Cosmos
    Predict2), read from its first layer that consumes the context; ``None`` when the layout is unknown."""
    net = _uncompiled(getattr(base_model, "diffusion_model", None))
    layer = None
    if hasattr(net, "text_embedding"):  # WanModel: text_embedding = Sequential(Linear(text_dim, dim), ...)
        layer = net.text_embedding[0]
    elif getattr(net, "caption_projection", None) is not None:  # LTXVModel: PixArtAlphaTextProjection
        layer = net.caption_projection.linear_1
    elif hasattr(net, "blocks") and hasattr(net.blocks[0], "cross_attn"):  # Cosmos Predict2: context straight in
        layer = getattr(net.blocks[0].cross_attn, "k_proj", None)
    return getattr(layer, "in_features", None)


def check_latent_channels(model: Any, latent: Tensor, node: str) -> None:
    """Raise before any model call when ``latent[B, C, F, H, W]`` (after ``fix_empty_latent_channels``) has other
    channels than ``model``'s latent format; otherwise it surfaces as a raw torch error inside the model."""
    expected = getattr(model.get_model_object("latent_format"), "latent_channels", None)
    if expected is not None and latent.ndim == 5 and latent.shape[1] != expected:
        raise ValueError(
            f"{node}: latent_image has {latent.shape[1]} channels but this {type(model.model).__name__} model works "
            f"on {expected}-channel latents; connect a latent made for this model (an empty video latent for it, or "
            f"VAE Encode with the model's own VAE)")


def check_conditioning_width(model: Any, conds: dict[str, list], node: str) -> None:
    """Raise before any model call when a conditioning's width does not fit ``model``'s text embedding.

    ``conds``: input name -> ComfyUI CONDITIONING (``[[tensor[B, tokens, width], extras], ...]``); ``node`` is the
    display name the message starts with. Otherwise the mismatch surfaces as a raw torch error inside the model.
    """
    kind = type(model.model).__name__
    width = context_width(model.model)
    if width is None:
        return
    for name, cond in conds.items():
        for i, entry in enumerate(cond or []):
            tensor = entry[0] if isinstance(entry, (list, tuple)) and entry else None
            if isinstance(tensor, Tensor) and tensor.ndim == 3 and tensor.shape[-1] != width:
                raise ValueError(
                    f"{node}: {name} conditioning {i} is {tensor.shape[-1]} wide but this {kind} model reads "
                    f"{width}-wide text embeddings; encode the prompt with the model's own text encoder (umT5-XXL for "
                    f"Wan, T5-XXL for LTX-Video, oldt5_xxl for Cosmos Predict2), or set Empty Conditioning's width "
                    f"to {width}")


def _fold(x: Tensor) -> Tensor:
    """``[B, C, F, H, W] -> [B*F, C, 1, H, W]``: frames onto the batch axis, where ComfyUI expects one sigma each."""
    b, c, f, h, w = x.shape
    return x.movedim(2, 1).reshape(b * f, c, 1, h, w)


def _unfold(x: Tensor, b: int) -> Tensor:
    bf, c, _, h, w = x.shape
    return x.reshape(b, bf // b, c, h, w).movedim(1, 2)


def per_frame_noise_scaling(model_sampling: Any) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """The model's own ``noise_scaling`` with a per-frame sigma ``[F]`` / ``[B, F]`` (the engine's contract)."""

    def noise_scaling(sigma: Tensor, noise: Tensor, x0: Tensor) -> Tensor:
        sig = sigma if sigma.ndim == 2 else sigma.unsqueeze(0)
        b = max(noise.shape[0], x0.shape[0], sig.shape[0])
        shape = (b, max(noise.shape[1], x0.shape[1]), sig.shape[1], max(noise.shape[3], x0.shape[3]),
                 max(noise.shape[4], x0.shape[4]))
        sig = sig.expand(b, -1).reshape(-1).to(noise.device, torch.float32)
        out = model_sampling.noise_scaling(sig, _fold(noise.expand(shape).to(torch.float32)),
                                           _fold(x0.expand(shape).to(torch.float32)), max_denoise=False)
        return _unfold(out, b)

    return noise_scaling


def _per_frame_timesteps(family: str, base_model: Any, t: Tensor, x: Tensor) -> Tensor:
    """Shape per-frame timesteps ``t[B, F]`` for the diffusion model (per token for ``LTXV``, as its
    ``process_timestep`` does). A LATENT's noise mask is not folded in here: its kept frames are known frames, put in
    place at level 0 by the sampler (``frame_conds.pin_known``), so a window-sized mask is never read as timesteps."""
    b, _, f, h, w = x.shape
    if family == "ltxv":
        tt = t.reshape(b, 1, f, 1, 1).expand(b, 1, f, h, w)
        return _uncompiled(base_model.diffusion_model).patchifier.patchify(tt)[0].reshape(b, -1)
    return t


def per_frame_apply_model(executor: Any, x: Tensor, t: Tensor, c_concat: Optional[Tensor] = None,
                          c_crossattn: Optional[Tensor] = None, control: Any = None,
                          transformer_options: dict = {}, **kwargs: Any) -> Tensor:  # noqa: B006 (ComfyUI's signature)
    """``APPLY_MODEL`` wrapper: ``BaseModel._apply_model`` with the per-frame sigma from ``transformer_options``.

    ``x``: ``[B', C, F, H, W]`` where ``B'`` stacks cond and uncond rows; the sigma ``[B, F]`` repeats to ``B'``.
    Without the pack's key (another sampler on the same options) it defers to the stock path.
    """
    sigma = transformer_options.get(SIGMA_KEY)
    if sigma is None:
        return executor(x, t, c_concat, c_crossattn, control, transformer_options, **kwargs)
    bm = executor.class_obj
    family = per_frame_family(bm)
    for key, what in _UNSAFE_KWARGS.items():
        if kwargs.get(key) is not None:
            raise UnsupportedModelError(f"{what} add tokens outside the video frames, so they cannot be used with a "
                                        f"per-frame noise queue; remove that conditioning")
    ms = bm.model_sampling
    b = x.shape[0]
    sig = sigma.to(x.device, torch.float32)
    sig = sig.repeat(b // sig.shape[0], 1)  # [B', F]
    flat_sig = sig.reshape(-1)

    xc = _unfold(ms.calculate_input(flat_sig, _fold(x)), b)
    positions = transformer_options.get(POSITIONS_KEY)
    if c_concat is not None and positions is not None:
        c_concat = frames_at(c_concat, positions)
    if c_concat is not None:
        xc = torch.cat([xc, comfy.model_management.cast_to_device(c_concat, xc.device, xc.dtype)], dim=1)
    dtype = bm.manual_cast_dtype if bm.manual_cast_dtype is not None else bm.get_dtype()
    xc = xc.to(dtype)
    device = xc.device
    context = None if c_crossattn is None else comfy.model_management.cast_to_device(c_crossattn, device, dtype)
    extra = {}
    for name, value in kwargs.items():
        if isinstance(value, list):
            value = [comfy.model_base.convert_tensor(v, dtype, device) for v in value]
        else:
            value = comfy.model_base.convert_tensor(value, dtype, device)
        extra[name] = value
    extra.pop("denoise_mask", None)  # the guider's mask for the whole latent; known frames are pinned instead
    if family in ONE_LEVEL_FAMILIES:  # one timestep per row; the window's own conditioning frames
        timesteps = ms.timestep(one_timestep_per_row(sig)).float()
        if extra.get("vace_context") is not None:
            extra["vace_context"] = window_vace_context(extra["vace_context"], positions, x.shape[2],
                                                        transformer_options.get(KNOWN_KEY))
        if extra.get("camera_conditions") is not None:
            extra["camera_conditions"] = window_camera_conditions(extra["camera_conditions"], positions, x.shape[2])
    else:
        timesteps = ms.timestep(flat_sig).float().reshape(sig.shape)
        timesteps = _per_frame_timesteps(family, bm, timesteps, x)
    out = bm.diffusion_model(xc, timesteps, context=context, control=control,
                             transformer_options=transformer_options, **extra).float()
    return _unfold(ms.calculate_denoised(flat_sig, _fold(out), _fold(x)), b)


def per_frame_options(model_options: dict, family: Optional[str] = None) -> dict:
    """A clone of ``model_options`` with the per-frame wrapper installed and context windows dropped; for a
    ``family`` whose frames can be placed at their positions, that wrapper too (:mod:`.positions`)."""
    options = comfy.model_patcher.create_model_options_clone(model_options)
    options.pop("context_handler", None)  # core context windows would re-slice our windows
    options.setdefault("transformer_options", {})
    comfy.patcher_extension.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, WRAPPER_KEY,
                                                 per_frame_apply_model, options, is_model_options=True)
    if family is not None:
        install_positions(options, family)
    return options


class PromptScheduleGuider(comfy.samplers.CFGGuider):
    """``CFGGuider`` that can restrict the positive conds to the prompt set of the frames being denoised.

    Positive entries are stamped with their index (``PROMPT_INDEX_KEY``) before ``set_conds``; the sampler puts the
    active indices in ``transformer_options[PROMPTS_KEY]`` for each model call.
    """

    def predict_noise(self, x: Tensor, timestep: Tensor, model_options: dict = {},  # noqa: B006 (CFGGuider's signature)
                      seed: Optional[int] = None) -> Tensor:  # noqa: B006
        active = model_options.get("transformer_options", {}).get(PROMPTS_KEY)
        positive = self.conds.get("positive", None)
        if active is not None and positive is not None:
            positive = [c for c in positive if c.get(PROMPT_INDEX_KEY, -1) in active]
        return comfy.samplers.sampling_function(self.inner_model, x, timestep, self.conds.get("negative", None),
                                                positive, self.cfg, model_options=model_options, seed=seed)


def stamp_prompts(positive: list) -> tuple[list, Optional[list]]:
    """Stamp each positive entry with its index; return the stamped list and its frame ranges (None if unranged)."""
    stamped, ranges = [], []
    for i, (tensor, extra) in enumerate(positive):
        extra = dict(extra)
        extra[PROMPT_INDEX_KEY] = i
        stamped.append([tensor, extra])
        ranges.append(extra.get(FRAME_RANGE_KEY))
    return stamped, (None if all(r is None for r in ranges) else ranges)


class EngineCallback:
    """A progress callback that takes the engine's callback dict whole (``i``, ``total``, ``frame``, ``stats``, ...)
    instead of k-diffusion's ``(step, x0, x, total)``, and hears of every model call, so that long stretches without
    an iteration end (MIGA's self-reflection regenerations) can be reported. See ``nodes/progress.py``."""

    def __call__(self, info: dict) -> None:
        raise NotImplementedError

    def model_call(self) -> None:
        """Called before each model call."""


class PerFrameSampler(comfy.samplers.Sampler):
    """A ComfyUI ``Sampler`` that runs one of the pack's pure-torch loops with a per-frame denoiser.

    ``run(denoiser, latent, sigmas, noise_scaling, callback) -> Tensor`` is the loop (FIFO, MIGA, ...). The output may
    have more frames than the window ``CFGGuider.sample`` was given (``inner_sample`` does not check shapes).
    """

    def __init__(self, run: Callable[..., Tensor], prompt_ranges: Optional[list] = None,
                 known: Optional[dict[int, Tensor]] = None):
        self.run = run
        self.prompt_ranges = prompt_ranges
        self.known = known  # stream position -> kept latent frame (raw VAE space), see frame_conds.known_frames
        self.model_calls = 0
        self.stats: Any = None  # MIGA's MigaStats (self-reflection triggers and cost), when the loop reports it

    def sample(self, model_wrap: Any, sigmas: Tensor, extra_args: dict, callback: Optional[Callable], noise: Tensor,
               latent_image: Optional[Tensor] = None, denoise_mask: Optional[Tensor] = None,
               disable_pbar: bool = False) -> Tensor:
        family = per_frame_family(model_wrap.inner_model)
        check_stateful_patches(extra_args.get("model_options", {}), "Infinite Video sampler")
        options = per_frame_options(extra_args.get("model_options", {}), family)
        transformer_options = options["transformer_options"]
        seed = extra_args.get("seed")
        ms = model_wrap.inner_model.model_sampling
        base = latent_image if latent_image is not None else torch.zeros_like(noise)
        engine_callback = callback if isinstance(callback, EngineCallback) else None
        if self.known:  # given in raw VAE space; the loop works in the model's space
            kept = {p: model_wrap.inner_model.process_latent_in(v) for p, v in self.known.items()}
        else:  # SamplerCustomAdvanced: the latent's noise mask arrives as denoise_mask, the latent in model space
            kept = known_frames(base, None if denoise_mask is None else denoise_mask[:, :1],
                                "Infinite Video Queue Sampler (custom)")

        def denoiser(x: Tensor, sigma: Tensor, prompts: Optional[tuple] = None, positions: Optional[Tensor] = None,
                     known: Any = None) -> Tensor:
            comfy.model_management.throw_exception_if_processing_interrupted()
            if engine_callback is not None:
                engine_callback.model_call()
            transformer_options[SIGMA_KEY] = sigma
            transformer_options[PROMPTS_KEY] = prompts
            transformer_options[POSITIONS_KEY] = positions
            transformer_options[KNOWN_KEY] = known  # samplers.denoiser.KnownSlots, in shared-level continuation
            self.model_calls += 1
            pins: list = []
            if kept and positions is not None:
                x, sigma, pins = pin_known(x, sigma, positions, kept)
                transformer_options[SIGMA_KEY] = sigma
            carrier = sigma.mean(dim=1).to(x.device)  # what every other consumer sees: one sigma per row
            out = model_wrap(x, carrier, model_options=options, seed=seed)
            for i, value in pins:
                out[:, :, i:i + 1] = value.to(out)
            return out

        denoiser.one_level_per_window = family in ONE_LEVEL_FAMILIES  # type: ignore[attr-defined]
        denoiser.positions_reach_model = model_takes_positions(family)  # type: ignore[attr-defined]

        def on_step(info: dict) -> None:
            self.stats = info.get("stats")
            if engine_callback is not None:
                engine_callback(info)
            elif callback is not None:
                callback(info["i"], info["denoised"], info["x"], info["total"])

        return self.run(denoiser, base, sigmas, per_frame_noise_scaling(ms), on_step)
