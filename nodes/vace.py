"""Wan VACE (``WAN21_Vace`` / ``VaceWanModel``) on chunked continuation, one window at a time.

VACE (Jiang et al., "VACE: All-in-One Video Creation and Editing", arXiv 2503.07598) adds a context branch that reads
``vace_context`` ``[B, n, 96, T, h, w]`` (``WAN21_Vace.extra_conds``; ``n`` = chained WanVaceToVideo inputs): per
latent frame ``process_latent_in(inactive)`` (16 ch: the control video where its mask is 0, grey elsewhere),
``process_latent_in(reactive)`` (16 ch: the control video where its mask is 1, grey elsewhere) and the mask (64 ch,
one per 8x8 pixel offset; 1 = generate, 0 = keep the inactive content). Its network embeds one timestep per batch
row (``VaceWanModel.forward_orig`` does not take per-frame timesteps), so:

- it cannot run on the diagonal queue (FIFO-Diffusion, MIGA), where a window's frames sit at different levels;
  :func:`check_vace_run` refuses that before any model call;
- it runs on chunked continuation in shared-level mode (``samplers/continuation.py``): the whole window at the
  chunk's level, the network given that level once per row (:func:`one_timestep_per_row`);
- WanVaceToVideo builds the context for the whole video (its ``length`` = the video's); each window takes the frames
  at its stream positions (:func:`window_vace_context`, as :mod:`.frame_conds` does for ``c_concat``), so each window
  gets its own control frames;
- the context slots the engine re-noises (finished latents, anchors) are handed to VACE as known frames through its
  own mask, as VACE's video extension does: inactive = the clean latent (the model's space, as the engine holds it),
  reactive = the grey latent, mask = 0. The grey latent is read from the whole-video context: the inactive latent of a
  frame whose mask is 1 everywhere (WanVaceToVideo makes it ``encode(grey)``), or the reactive latent of a frame
  whose mask is 0 everywhere; the nearest such frame of the same kind (the video's first latent frame, which the
  causal VAE encodes from one pixel frame, or a later one). A context with no such frame is refused before any
  model call.

VACE's ``reference_image`` (``trim_latent`` > 0: an extra frame in front of the video, denoised along and trimmed) is
refused: every window would need that frame in front of it at the window's level.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import torch
from torch import Tensor

from .frame_conds import WAN_TEMPORAL_STRIDE, _extras

CONTINUATION_NODE = "Chunked Continuation (InfiniteVideo_Continuation)"
INACTIVE, REACTIVE, MASK = slice(0, 16), slice(16, 32), slice(32, 96)


def is_vace(base_model: Any) -> bool:
    """Whether a ComfyUI ``BaseModel`` is Wan VACE (``WAN21_Vace`` with a ``VaceWanModel``, compiled or not)."""
    import comfy.ldm.wan.model as wan

    net = getattr(base_model, "diffusion_model", None)
    net = getattr(net, "_orig_mod", net) if isinstance(net, torch.nn.Module) else net
    return type(base_model).__name__ == "WAN21_Vace" and type(net) is wan.VaceWanModel


def _vace_inputs(conds: dict[str, Any]) -> Iterable[tuple[str, Tensor, Tensor]]:
    """``(input name, vace_frames [B, 32, T, h, w], vace_mask [1, 64, T, h, w])`` of every WanVaceToVideo input."""
    for name, cond in conds.items():
        for extra in _extras(cond):
            for frames, mask in zip(extra.get("vace_frames") or [], extra.get("vace_mask") or []):
                if isinstance(frames, Tensor) and isinstance(mask, Tensor):
                    yield name, frames, mask


def check_vace_run(base_model: Any, queue: Any, conds: dict[str, Any], frames: int, node: str,
                   kept: Optional[dict] = None) -> None:
    """Raise before any model call unless a Wan VACE run can go: chunked continuation, a context built for the whole
    video (``frames`` latent frames), no reference image, a grey latent to find, no frames kept by the latent's noise
    mask (``kept``: :func:`.frame_conds.known_frames`, or the guider's mask; anything truthy is refused). Nothing for
    other models."""
    if not is_vace(base_model):
        return
    if queue.continuation is None or queue.is_miga:
        raise ValueError(
            f"{node}: Wan VACE (WanVaceToVideo) embeds one timestep per window, so it cannot run on the diagonal "
            f"queue (FIFO-Diffusion, or MIGA's Zigzag Stage, Unified Stage, Self-Reflection and Long-Range Guidance), "
            f"where a window's frames sit at different noise levels. Add a {CONTINUATION_NODE} node to the queue "
            f"(and no MIGA nodes): each chunk is then denoised with its whole window at one level, and the previous "
            f"chunk reaches VACE as known frames")
    if kept:
        raise ValueError(f"{node}: latent_image has a noise_mask keeping latent frames, which Wan VACE cannot take "
                         f"at one level per window; give known frames through WanVaceToVideo's control_video and "
                         f"control_masks (mask 0), and remove the noise mask")
    frames = int(frames)
    length = WAN_TEMPORAL_STRIDE * (frames - 1) + 1
    for name, vf, mask in _vace_inputs(conds):
        have = int(vf.shape[2])
        if have == frames + 1 and float(mask[:, :, 0].abs().max()) == 0.0:
            raise ValueError(
                f"{node}: the {name} conditioning has a WanVaceToVideo reference_image (a frame in front of the "
                f"video, trim_latent 1), which a long video cannot keep in front of every window; disconnect "
                f"reference_image from WanVaceToVideo")
        if have != frames or mask.shape[2] != frames:
            raise ValueError(
                f"{node}: the {name} conditioning's WanVaceToVideo context covers {have} latent frames but frames is "
                f"{frames}: a long video needs the control video built for the whole video, and each window takes "
                f"its frames. Set WanVaceToVideo's length to {length} (= 4 x (frames - 1) + 1 video frames), with a "
                f"control_video at least that long, or set frames to {have}")
        m = mask.to(torch.float32)
        lo, hi = m.amin(dim=(0, 1, 3, 4)), m.amax(dim=(0, 1, 3, 4))
        if not bool(((lo == 1.0) | (hi == 0.0)).any()):
            raise ValueError(
                f"{node}: the {name} conditioning's WanVaceToVideo control_masks cover part of every frame, so no "
                f"frame holds the grey latent that continuation gives VACE with its known frames; leave at least one "
                f"frame's mask all 1 (or all 0)")


def one_timestep_per_row(sigma: Tensor) -> Tensor:
    """``sigma[B, f] -> [B]``, the window's one level per row; ``ValueError`` unless all of a row's frames share it."""
    if not bool((sigma == sigma[:, :1]).all()):
        raise ValueError(
            f"Wan VACE embeds one timestep per window but this window's frames sit at levels "
            f"{sorted(set(sigma[0].tolist()))}; run it with a {CONTINUATION_NODE} node in the queue")
    return sigma[:, 0]


def _grey_frames(whole: Tensor) -> tuple[Tensor, Tensor]:
    """Per frame of the whole-video ``vace_context`` ``[B, n, 96, T, h, w]``: ``(mask all 1, mask all 0)``,
    ``[B, n, T]`` each: where the inactive, resp. reactive, latent is the grey latent."""
    mask = whole[:, :, MASK]
    return mask.amin(dim=(2, 4, 5)) == 1.0, mask.amax(dim=(2, 4, 5)) == 0.0


def _grey(whole: Tensor, flags: tuple[Tensor, Tensor], p: int) -> Tensor:
    """The grey latent ``[B, n, 16, h, w]`` for stream position ``p`` (see the module docstring)."""
    ones, zeros = flags
    t = whole.shape[3]
    q = torch.arange(t, device=whole.device)
    # rank: same kind as p first (the first latent frame or a later one), then by distance
    rank = ((q == 0) != (p == 0)).to(torch.long) * (2 * t) + (q - p).abs()
    out = whole.new_empty(whole.shape[:2] + (16,) + whole.shape[4:])
    for b in range(whole.shape[0]):
        for j in range(whole.shape[1]):
            ok = ones[b, j] | zeros[b, j]
            if not bool(ok.any()):
                raise ValueError("Wan VACE: no frame of the WanVaceToVideo context holds the grey latent")
            best = int(torch.where(ok, rank, rank.new_full((), 4 * t)).argmin())
            out[b, j] = whole[b, j, INACTIVE if bool(ones[b, j, best]) else REACTIVE, best]
    return out


def window_vace_context(whole: Tensor, positions: Optional[Tensor], frames: int, known: Any = None) -> Tensor:
    """The window's ``vace_context`` ``[B', n, 96, f, h, w]`` from the whole video's ``[B', n, 96, T, h, w]``.

    ``positions``: ``LongTensor[f]`` stream positions (clamped to ``[0, T - 1]``; None = the first ``f`` frames);
    ``known``: the engine's :class:`..samplers.denoiser.KnownSlots` (``mask[f]``, ``x0[B, 16, f, h, w]`` in the
    model's space) or None: known slots get inactive = their clean latent, reactive = grey, mask = 0.
    """
    if positions is None:
        positions = torch.arange(frames)
    idx = positions.to(device=whole.device, dtype=torch.long).clamp(0, whole.shape[3] - 1)
    out = whole.index_select(3, idx)
    if known is None or not bool(known.mask.any()):
        return out
    rows = out.shape[0]
    x0 = known.x0.to(device=out.device, dtype=out.dtype)
    x0 = x0.repeat(rows // x0.shape[0], 1, 1, 1, 1)  # [B', 16, f, h, w]: cond and uncond rows
    flags = _grey_frames(whole)
    for i in torch.nonzero(known.mask.cpu()).flatten().tolist():
        out[:, :, INACTIVE, i] = x0[:, None, :, i]
        out[:, :, REACTIVE, i] = _grey(whole, flags, int(idx[i]))
        out[:, :, MASK, i] = 0.0
    return out
