"""Frame positions through to the model: each window frame sits where it is in the video, as far as the model can say.

The engines give the denoiser each window frame's stream position (``samplers/denoiser.py``). A model that sees a
window as consecutive frames reads frames that are far apart in the video (continuation anchors, MIGA's memory
latents) as neighbours. Where the network's temporal position encoding can be given per frame, the adapter gives it
each frame's offset from the window's earliest frame (:func:`model_offsets`); per family:

- **Wan 2.1 / 2.2** (``comfy.ldm.wan.model.WanModel``, and its VACE and Camera subclasses, whose ``forward_orig``
  takes the same ``freqs``): 3-D RoPE, one temporal id per latent frame (patch size
  ``(1, 2, 2)``). A keyed ``DIFFUSION_MODEL`` wrapper (:func:`wan_positions_forward`, installed by :func:`install`
  next to the adapter's ``APPLY_MODEL`` wrapper, in the run's cloned model options) redoes ``WanModel._forward``
  (``pad_to_patch_size``, ``rope_encode``, ``forward_orig``, crop) with the temporal ids set to the offsets and the
  height / width ids as ``rope_encode`` builds them (:func:`wan_freqs`). A window whose offsets are ``0 .. f-1``
  (every FIFO window, warm-up and padding included) goes to the stock forward untouched, bit for bit.
- **LTX-Video** (``LTXVModel``): positions are pixel coordinates built inside ``_forward`` from the patchifier's grid
  (with the causal first-frame fix and the frame rate); the only way in is ``keyframe_idxs``, which overwrites the
  coordinates of the *trailing* tokens for guide frames (LTXVAddGuide, which the queue refuses). Reusing it for the
  whole window would lean on how that override is sliced, or mean mirroring all of ``_forward``; neither is safe to
  track upstream, so LTX-Video windows stay consecutive.
- **Cosmos Predict2** (``MiniTrainDIT``): its RoPE (``VideoRopePosition3DEmb``) is built inside ``forward`` from the
  grid and the fps, with no per-frame input; windows stay consecutive.

:func:`model_takes_positions` says which, once per run; the adapter's denoiser carries it to the engine (which
refuses continuation anchors on a model that would read them as neighbours, before any model call).

**The cap.** Wan is trained on clips of 81 frames = 21 latents, so it has seen temporal offsets up to 20 and nothing
beyond; RoPE at offsets far outside that is out of distribution, and an anchor 200 latents back would get a rotation
the model has never seen. :func:`model_offsets` therefore shortens the window's gaps so its span stays within the
trained span: gaps of one latent (true neighbours) are kept, and the largest gaps are all cut to one common whole
length ``c`` (water-filling), the largest ``c`` that keeps the span ``<= span - 1``. Nearby context keeps its exact
geometry; far frames keep their order and stay separated from their neighbours, only closer than they are. ``c``
never drops below 2, so a far frame is never made a neighbour: a window with more gaps than the span can absorb
ends up just beyond it (every gap 2), the least that keeps far frames apart. Offsets stay whole numbers, as in
training.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch import Tensor

POSITIONS_KEY = "infinite_video_positions"
POSITIONS_WRAPPER_KEY = "infinite_video_rope"

# Latent frames per clip each family is trained on (Wan 2.1 / 2.2: 81 frames = 21 latents; the TI2V-5B's 121-frame
# clips would allow 31, the smaller bound is kept for every Wan model).
TRAINED_SPAN = {"wan": 21, "vace": 21, "camera": 21}
MIN_FAR_GAP = 2  # a gap that was more than one latent never becomes one


def model_takes_positions(family: str) -> bool:
    """Whether the adapter gives a model of ``family`` (``adapter.per_frame_family``) its window frames' positions."""
    return family in TRAINED_SPAN


FAMILY_NAMES = {"wan": "Wan 2.1 / 2.2", "ltxv": "LTX-Video", "cosmos": "Cosmos Predict2"}


def check_anchors(queue: Any, family: str, node: str) -> None:
    """Raise before any model call when ``queue`` (a ``QueueConfig``) keeps continuation anchors and the model of
    ``family`` sees every window as consecutive frames (it would read far-away anchors as neighbours)."""
    cont = getattr(queue, "continuation", None)
    if cont is not None and int(cont.anchors) > 0 and not model_takes_positions(family):
        raise ValueError(
            f"{node}: continuation anchors {cont.anchors}: anchors need a model that takes frame positions, and "
            f"{FAMILY_NAMES.get(family, family)} sees every window as consecutive frames, so it would read far-away "
            f"anchors as neighbours; set anchors to 0, or load a Wan 2.1 / 2.2 model")


def capped_gaps(gaps: Sequence[int], limit: int) -> list[int]:
    """``gaps`` (whole, ``>= 0``) with the largest cut to one common length ``c >= 2`` so that their sum is at most
    ``limit`` (or as small as ``c = 2`` makes it); unchanged when they already fit. See the module docstring."""
    gaps = [int(g) for g in gaps]
    if sum(gaps) <= limit:
        return gaps
    c = MIN_FAR_GAP
    for cand in range(max(gaps), MIN_FAR_GAP - 1, -1):
        if sum(min(g, cand) for g in gaps) <= limit:
            c = cand
            break
    return [min(g, c) for g in gaps]


def model_offsets(positions: Sequence[int], span: int) -> list[int]:
    """Whole temporal offsets for a window's frames: stream ``positions`` (any order) relative to the earliest, with
    the gaps between neighbouring positions capped (:func:`capped_gaps`) so the span stays ``<= span - 1``.

    Consecutive positions give ``0 .. f-1``; equal positions keep equal offsets; order is kept.
    """
    pos = [int(p) for p in positions]
    order = sorted(range(len(pos)), key=lambda i: pos[i])
    gaps = [pos[order[k + 1]] - pos[order[k]] for k in range(len(pos) - 1)]
    out = [0] * len(pos)
    at = 0
    for k, g in enumerate(capped_gaps(gaps, max(0, int(span) - 1))):
        at += g
        out[order[k + 1]] = at
    return out


def wan_freqs(net: Any, offsets: Tensor, h: int, w: int, device: torch.device) -> Tensor:
    """RoPE freqs for a Wan window, as ``WanModel.rope_encode(t, h, w)`` builds them but with temporal ids
    ``offsets[f]`` (one per latent frame; patch size 1 in time): ``[1, f*h'*w', 1, head_dim/2, 2, 2]``."""
    ph, pw = net.patch_size[1], net.patch_size[2]
    h_len, w_len = (h + ph // 2) // ph, (w + pw // 2) // pw
    f = offsets.shape[0]
    ids = torch.zeros((f, h_len, w_len, 3), device=device, dtype=torch.float32)
    ids[..., 0] += offsets.to(device=device, dtype=torch.float32).reshape(-1, 1, 1)
    ids[..., 1] += torch.arange(h_len, device=device, dtype=torch.float32).reshape(1, -1, 1)
    ids[..., 2] += torch.arange(w_len, device=device, dtype=torch.float32).reshape(1, 1, -1)
    return net.rope_embedder(ids.reshape(1, -1, 3)).movedim(1, 2)


def wan_positions_forward(executor: Any, x: Tensor, timestep: Tensor, context: Tensor,
                          clip_fea: Optional[Tensor] = None, time_dim_concat: Optional[Tensor] = None,
                          transformer_options: dict = {}, **kwargs: Any) -> Tensor:  # noqa: B006 (forward's)
    """``DIFFUSION_MODEL`` wrapper for ``WanModel`` (its ``forward`` signature): ``_forward`` with the temporal RoPE
    ids at the window frames' capped offsets (``transformer_options[POSITIONS_KEY]``: ``LongTensor[f]``).

    ``x``: ``[B', C_in, f, H, W]``. Calls the stock path unchanged when there are no positions, when the offsets are
    ``0 .. f-1``, or for anything the adapter refuses anyway (extra frames: ``time_dim_concat``, reference latents).
    """
    import comfy.ldm.common_dit

    net = executor.class_obj
    positions = transformer_options.get(POSITIONS_KEY)
    f = x.shape[2]
    stock = (positions is None or positions.shape[0] != f or time_dim_concat is not None or net.patch_size[0] != 1
             or "reference_latent" in kwargs)
    offsets = None if stock or positions is None else model_offsets(positions.tolist(), TRAINED_SPAN["wan"])
    if offsets is None or offsets == list(range(f)):
        return executor(x, timestep, context, clip_fea, time_dim_concat, transformer_options, **kwargs)
    _, _, t, h, w = x.shape
    x = comfy.ldm.common_dit.pad_to_patch_size(x, net.patch_size)
    freqs = wan_freqs(net, torch.tensor(offsets), h, w, x.device)
    return net.forward_orig(x, timestep, context, clip_fea=clip_fea, freqs=freqs,
                            transformer_options=transformer_options, **kwargs)[:, :, :t, :h, :w]


def install(options: dict, family: str) -> None:
    """Add the family's positions wrapper to ``options`` (a cloned model options dict) when it takes positions."""
    import comfy.patcher_extension

    if family in TRAINED_SPAN:  # WanModel and its VACE / Camera subclasses (their forward_orig takes freqs too)
        comfy.patcher_extension.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL,
                                                     POSITIONS_WRAPPER_KEY, wan_positions_forward, options,
                                                     is_model_options=True)
