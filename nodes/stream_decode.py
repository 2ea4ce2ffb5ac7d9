"""Decode a latent video one latent frame at a time, as the frames leave the queue, with bounded memory.

Three decoders, one interface (:class:`StreamDecoder`): ``push(latent[B, C, 1, H, W])`` returns the pixel frames that
are final now (``[T, H', W', 3]`` floats in [0, 1], batch row 0), ``finish()`` the rest, and ``state_dict()`` /
``load_state_dict()`` carry the decoder across a checkpoint so a resumed video continues exactly.

- :class:`WanStreamDecoder` (Wan 2.1 / 2.2 VAE; also Cosmos Predict2, which uses the Wan 2.1 VAE): these VAEs are
  causal and ComfyUI's ``WanVAE.decode`` already loops over latent frames with a feature cache
  (``comfy/ldm/wan/vae.py``, ``vae2_2.py``). We run the same loop with a cache that persists between calls, so the
  streamed frames equal ``VAE.decode`` of the whole latent (to float rounding; ``tests/test_stream_host.py``):
  latent 0 gives 1 frame, every later latent 4.
- :class:`ChunkedStreamDecoder` (LTX-Video and any other video VAE): decodes chunks of latents with a few latents of
  context before each chunk and cross-fades the overlapping frames, the way ComfyUI's tiled decode
  (``VAE.decode_tiled_3d`` / ``comfy.utils.tiled_scale_multidim``) feathers its temporal tiles. Not exact (LTX-Video's
  decoder is not causal: frames near a chunk's end miss the latents after it): ``tests/test_stream_host.py`` reports
  the PSNR against a full decode (figures: ``docs/long-runs.md``). Defaults: 8 latents per chunk and 4 of context.
- :class:`PreviewStreamDecoder`: the model's latent-to-RGB preview factors, one image per latent frame (fast look).

Only ``VAE.decode``, the public ``first_stage_model`` and ComfyUI's memory management are used; nothing is patched.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Optional, Protocol

import comfy.model_management
import torch
from torch import Tensor

from .preview import latent_to_rgb

PREVIEW_UPSCALE = 8  # nearest-neighbour size of a latent pixel in the preview video (the Wan VAE's spatial factor)
STREAMING_FAMILIES = "Wan 2.1 / 2.2 and Cosmos Predict2 (exact, frame by frame) and LTX-Video (chunked)"


class StreamDecoder(Protocol):
    def push(self, latent: Tensor) -> Tensor: ...

    def finish(self) -> Tensor: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _no_frames() -> Tensor:
    return torch.zeros((0, 1, 1, 3))


def _to_frames(pixels: Tensor) -> Tensor:
    """``[B, 3, T, H, W]`` -> ``[T, H, W, 3]`` of batch row 0, float32 on the CPU."""
    return pixels[0].movedim(0, -1).float().cpu()


def wan_vae_kind(vae: Any) -> Optional[str]:
    """``"wan21"`` / ``"wan22"`` when ``vae`` (a ``comfy.sd.VAE``) wraps a Wan VAE, else None."""
    import comfy.ldm.wan.vae as wan21
    import comfy.ldm.wan.vae2_2 as wan22

    net = getattr(vae, "first_stage_model", None)
    if isinstance(net, wan22.WanVAE):
        return "wan22"
    if isinstance(net, wan21.WanVAE):
        return "wan21"
    return None


def causal_history(decoder: Any) -> int:
    """Latent frames a Wan decoder (``comfy.ldm.wan.vae*.Decoder3d``) must have seen for its causal cache to be the
    same as after the whole video: its temporal receptive field, in latents, plus a margin of 2.

    Every causal convolution caches the last ``k_t - 1`` frames of its input; ``Resample`` in ``upsample3d`` mode
    doubles the frame rate after its own time convolution, so a convolution at 2 or 4 frames per latent reaches back
    ``(k_t - 1) / rate`` latents. They run in series along the main path (shortcuts are 1x1x1 or duplicate frames: no
    reach), so the reaches add up: 37.5 latents for both Wan 2.1 and Wan 2.2's decoders. The margin covers the first
    latent of a replay, which a fresh cache decodes to one frame instead of four.
    """
    from comfy.ldm.wan.vae import CausalConv3d as Conv21
    from comfy.ldm.wan.vae2_2 import CausalConv3d as Conv22

    rate, reach, doubles = 1, 0.0, set()
    for m in decoder.modules():  # parents before children, blocks in the order forward() runs them
        if getattr(m, "mode", None) == "upsample3d":
            doubles.add(id(m.time_conv))
        elif isinstance(m, (Conv21, Conv22)):
            reach += (m.kernel_size[0] - 1) / rate
            if id(m) in doubles:
                rate *= 2
    return math.ceil(reach) + 2


class WanStreamDecoder:
    """Frame-by-frame decode with a persistent causal feature cache (``comfy.ldm.wan.vae*.WanVAE.decode``'s loop).

    The cache holds two frames of every convolution's input at full width, about 1.8 GB in bf16 at 832x480, so a
    checkpoint does not store it: it stores the last :func:`causal_history` latents (about 16 MB there) and
    :meth:`load_state_dict` decodes them again into a fresh cache, discarding their frames. The decoder's receptive
    field is finite, so the rebuilt cache is the one the uninterrupted run had, bit for bit
    (``tests/test_stream_host.py``); a resume costs that many latent decodes (seconds on a GPU).
    """

    def __init__(self, vae: Any):
        import comfy.ldm.wan.vae as wan21

        self.vae, self.kind = vae, wan_vae_kind(vae)
        if self.kind is None:
            raise ValueError("WanStreamDecoder needs a Wan 2.1 / 2.2 VAE")
        self.net = vae.first_stage_model
        self.layers = wan21.count_conv3d(self.net.decoder)
        self.cache: list = [None] * self.layers
        self.count = 0
        self.recent: deque[Tensor] = deque(maxlen=causal_history(self.net.decoder))

    @torch.no_grad()
    def push(self, latent: Tensor) -> Tensor:
        vae = self.vae
        if getattr(vae, "patcher", None) is not None:  # as VAE.decode does (free memory, load the VAE weights)
            comfy.model_management.load_models_gpu([vae.patcher], memory_required=vae.memory_used_decode(
                latent.shape, vae.vae_dtype), force_full_load=getattr(vae, "disable_offload", False))
        self.recent.append(latent.detach().cpu().clone())
        z = latent.to(vae.vae_dtype).to(vae.device)
        x = self.net.conv2(z)  # a 1x1x1 convolution: per frame, as WanVAE.decode applies it to the whole latent
        extra = {"first_chunk": True} if self.kind == "wan22" and self.count == 0 else {}
        out = self.net.decoder(x, feat_cache=self.cache, feat_idx=[0], **extra)
        if self.kind == "wan22":
            from comfy.ldm.wan.vae2_2 import unpatchify

            out = unpatchify(out, patch_size=2)
        self.count += 1
        return _to_frames(vae.process_output(out.to(vae.output_device).float()))

    def finish(self) -> Tensor:
        return _no_frames()

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "recent": [z.clone() for z in self.recent]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        recent = state.get("recent")
        history = self.recent.maxlen or 0  # always set: the deque is made with the decoder's causal history
        if state.get("kind") != self.kind or not isinstance(recent, list) or len(recent) > history:
            raise ValueError(f"the checkpoint's decoder is {state.get('kind')!r}, this VAE is {self.kind!r}: resume "
                             f"with the VAE the run was started with")
        # a fresh cache fed the last latents (from latent 0 when the run had fewer): the run's cache again
        self.cache, self.count = [None] * self.layers, 0
        self.recent.clear()
        for z in recent:
            self.push(z)
        self.count = int(state["count"])


class ChunkedStreamDecoder:
    """Temporal chunks of ``chunk`` latents, each decoded with ``context`` latents before it; the frames of the
    ``context - 1`` latents both decodes share are cross-faded linearly (``comfy.utils.tiled_scale_multidim``'s
    feathering, along time only). Causal video VAEs map latent 0 to 1 frame and every later latent to ``t`` frames
    (``t`` = ``vae.temporal_compression_decode()``), so a chunk decoded from latent ``s > 0`` starts with one frame
    that is dropped. Holds at most ``context + chunk`` latents and ``t * (context - 1)`` frames."""

    def __init__(self, vae: Any, chunk: int = 8, context: int = 4):
        self.vae, self.chunk, self.context = vae, int(chunk), int(context)
        self.t = int(vae.temporal_compression_decode() or 1)
        self.latents: list[Tensor] = []  # [first_latent, ...) not yet decoded plus the context before them
        self.first = 0  # global index of self.latents[0]
        self.decoded = 0  # latents whose frames are emitted or held
        self.held: Optional[Tensor] = None  # frames of latents [decoded - (context - 1), decoded), not emitted yet

    @torch.no_grad()
    def push(self, latent: Tensor) -> Tensor:
        self.latents.append(latent.detach().cpu())
        if self.first + len(self.latents) - self.decoded >= self.chunk:
            return self._decode(final=False)
        return _no_frames()

    @torch.no_grad()
    def finish(self) -> Tensor:
        return self._decode(final=True)

    def _frames_of(self, n_latents: int) -> int:
        return 0 if n_latents <= 0 else 1 + self.t * (n_latents - 1)

    def _decode(self, final: bool) -> Tensor:
        end = self.first + len(self.latents)
        if end == self.decoded:  # nothing new: at the end, release the held frames
            out = self.held if final and self.held is not None else _no_frames()
            self.held = None if final else self.held
            return out
        # one latent before the context: decoded as a "first frame" (1 frame), dropped
        start = max(0, self.decoded - self.context)
        frames = self.vae.decode(torch.cat(self.latents[start - self.first:], dim=2))[0].float().cpu()
        if start > 0:
            frames = frames[1:]
        # frames now start where the held frames start (latent max(0, decoded - context + 1)): cross-fade them
        if self.held is not None and self.held.shape[0]:
            n = self.held.shape[0]
            w = torch.linspace(0, 1, n + 2)[1:-1].view(-1, 1, 1, 1)
            frames[:n] = self.held * (1 - w) + frames[:n] * w
        keep = 0 if final else min(self.context - 1, end)
        hold = self._frames_of(end) - self._frames_of(end - keep)
        out, self.held = frames[:frames.shape[0] - hold], frames[frames.shape[0] - hold:]
        self.decoded = end
        drop = max(0, end - self.context - self.first)  # the next chunk reads `context` latents before it
        self.latents, self.first = self.latents[drop:], self.first + drop
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "chunked", "latents": [z.clone() for z in self.latents], "first": self.first,
                "decoded": self.decoded, "held": None if self.held is None else self.held.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "chunked":
            raise ValueError(f"the checkpoint's decoder is {state.get('kind')!r}, this one decodes in chunks: resume "
                             f"with the VAE the run was started with")
        self.latents, self.first = list(state["latents"]), int(state["first"])
        self.decoded, self.held = int(state["decoded"]), state["held"]


class PreviewStreamDecoder:
    """One RGB image per latent frame from the model's preview factors (exact for the pack's shapes model), each latent
    pixel shown as ``upscale`` x ``upscale`` pixels. Takes latents in the sampler's space (as previews do)."""

    def __init__(self, factors: Any, bias: Any, upscale: int = PREVIEW_UPSCALE):
        self.factors, self.bias, self.upscale = factors, bias, int(upscale)

    def push(self, latent: Tensor) -> Tensor:
        rgb = latent_to_rgb(latent[:1].cpu(), self.factors, self.bias)
        return rgb.repeat_interleave(self.upscale, dim=1).repeat_interleave(self.upscale, dim=2)

    def finish(self) -> Tensor:
        return _no_frames()

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "preview"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "preview":
            raise ValueError("the checkpoint was decoded with a VAE, this sink uses the preview decode: set decode "
                             "to what the run was started with")


def make_decoder(vae: Any) -> StreamDecoder:
    """The streaming decoder for ``vae``; ``ValueError`` for a VAE that cannot decode video."""
    if wan_vae_kind(vae) is not None:
        return WanStreamDecoder(vae)
    if getattr(vae, "latent_dim", 2) == 3 and (vae.temporal_compression_decode() or 0) > 1:
        return ChunkedStreamDecoder(vae)
    raise ValueError(f"the vae is not a video VAE ({type(getattr(vae, 'first_stage_model', vae)).__name__}); the "
                     f"Video Sink streams {STREAMING_FAMILIES}: connect that model's VAE, or set decode to preview")
