"""FIFO-Diffusion's ``auto clip`` start: the first clip made natively inside the sampler, then a queue that fills
from empty behind it and drains at the end, so no model call goes to a frame that is thrown away.

FIFO-Diffusion (Kim et al. 2024, arXiv 2405.11473, §3) starts the queue from a clip made by the base model: its
frames are forward-noised onto the diagonal and, with latent partitioning, the cleaner slots are filled with copies
of its first frame that leave as warm-up. Here the sampler makes that clip itself and keeps it:

1. *Native clip*: ``f`` latent frames (the model's window) denoised together over the queue's own ladder, from the
   run's seeded generator, with the prompt of output frame 0, at stream positions ``0 .. f-1``. The clip is the
   video's first ``f`` output latents (``steps`` model calls for ``f`` frames: native cost).
2. *Fill*: the queue's slots hold the clip's frames, clean, as context (the slot ``d`` places before the first new
   frame holds clip frame ``f - d``, clamped at frame 0), and the tail group starts as fresh noise. A new group
   enters at the tail every iteration, so the proper slots fill up one group at a time; a slot is *active* while it
   holds a new frame. Context slots are passed at sigma 0 and never step.
3. *Drain*: once every needed group has entered, the groups that would follow (never emitted) stay pure noise at the
   ladder's top and never step.

Windows whose write region holds no active slot are skipped, and a window that holds only part of the band of
active slots is trimmed (:func:`read_span`) to the slots that carry information: the drain's never-entering slots
are pure noise at the ladder's top (flow matching's ``sigma = 1``: no signal), so dropping them changes nothing an
ideal denoiser could use, and of the fill's clean clip context only the ``context`` frames next to the first new
frame are kept (for a Markov video the nearest clean frame already holds all the clip says about what follows).
Every emitted frame takes all the ladder's steps from pure noise, none is discarded, and the fill and the drain cost
about what the new frames need. Entry ids count new frames from 0 (output index ``f + id``); negative ids are
the clip's frames (``f + id``), so positions stay consecutive across the queue.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from .denoiser import call_denoiser, window_positions
from .plan import FifoPlan
from .prompts import FrameRange, group_frames
from .steps import NoiseScaling, per_frame_step


def latent_holds_frames(latent: Tensor) -> bool:
    """Whether ``latent [B, C, F, H, W]`` carries content: an empty latent (zeros, or zeros after ComfyUI's
    ``process_latent_in``, which shifts and scales each channel) is constant per batch row and channel."""
    x = latent.to(torch.float32)
    return bool((x.amax(dim=(2, 3, 4)) != x.amin(dim=(2, 3, 4))).any())


def check_auto_clip_latent(latent: Tensor) -> None:
    """``auto clip`` makes the first clip itself: refuse a latent that already holds frames (before any call)."""
    if latent_holds_frames(latent):
        raise ValueError(
            "init_mode auto clip makes the first clip itself, but the sampler's latent already holds frames; give "
            "it an empty video latent (e.g. EmptyHunyuanLatentVideo), or set init_mode to clip to start from this "
            "clip")


def native_clip(denoiser: Callable[..., Tensor], shape: Sequence[int], sigmas: Tensor, generator: torch.Generator,
                randn: Callable[[Sequence[int]], Tensor], *, rule: str, eta: float, noise_scaling: NoiseScaling,
                prompt_ranges: Optional[Sequence[FrameRange]]) -> Tensor:
    """Sample one clip ``[B, C, f, H, W]`` natively over ``sigmas`` (every frame at the same level, one model call
    per step), with the prompt of output frame 0; noise from ``randn`` (the run's generator), in draw order: the
    starting noise, then each ancestral step's."""
    b, c, f, h, w = shape
    (prompts,) = group_frames([0], prompt_ranges)
    x = noise_scaling(sigmas[:1].expand(f), randn((b, c, f, h, w)), torch.zeros(tuple(shape), device=sigmas.device))
    positions = window_positions(range(f), x)
    for k in range(sigmas.shape[0] - 1):
        sig = sigmas[k].expand(b, f)
        denoised = call_denoiser(denoiser, x, sig, prompts, positions)
        noise = randn((b, c, f, h, w)) if rule == "euler_ancestral" and eta > 0 else None
        x = per_frame_step(rule, x, denoised, sig, sigmas[k + 1].expand(b, f), eta=eta, noise=noise,
                           noise_scaling=noise_scaling)
    return x


def filled_queue(plan: FifoPlan, clip: Tensor, tail_noise: Tensor) -> tuple[Tensor, list[int]]:
    """The queue right after the clip: ``(latents [B, C, pad + Q, H, W], entries)``; the tail group holds
    ``tail_noise [B, C, g, H, W]`` (new entries ``0 .. g-1``), every other slot a clean clip frame (negative ids)."""
    f, g, slots = plan.window, plan.group, plan.slots
    entries = list(range(-(slots - g), g))
    src = [max(0, f + e) for e in entries[:-g]]
    return torch.cat([clip[:, :, src], tail_noise.to(clip)], dim=2), entries


def needed_entries(plan: FifoPlan, frames: int) -> int:
    """New entries that step through the queue: the frames after the clip, rounded up to whole groups."""
    rest = max(0, int(frames) - plan.window)
    return -(-rest // plan.group) * plan.group


def slot_sigmas(entries: Sequence[int], slot_sigma: Tensor, top: Tensor, needed: int) -> tuple[Tensor, list[bool]]:
    """Per-slot sigma ``[slots]`` the model sees and which slots step: clip context at 0, new frames at their slot's
    level, frames that never enter at the ladder's top ``top``."""
    e = torch.tensor(list(entries), device=slot_sigma.device)
    sig = torch.where(e < 0, torch.zeros_like(slot_sigma), torch.where(e >= needed, top.expand_as(slot_sigma),
                                                                       slot_sigma))
    return sig, [0 <= v < needed for v in entries]


FILL_CONTEXT = 2  # clean clip frames a fill window keeps in front of its first new frame


def read_span(live: Sequence[bool], start: int, stop: int, context: int = FILL_CONTEXT) -> tuple[int, int]:
    """The slots ``[lo, hi)`` of window ``[start, stop)`` worth reading: up to its last ``live`` slot (a frame that
    is or was new: never-entering slots behind it are dropped) and from ``context`` slots before its first live one
    (clip context further ahead is dropped). ``live`` covers the whole queue; the window must hold a live slot."""
    idx = [s for s in range(start, stop) if live[s]]
    return max(start, idx[0] - max(0, int(context))), idx[-1] + 1


def info_for_clip(clip: Tensor, sigmas: Tensor, total: int, entries: list[int], x: Tensor) -> dict[str, Any]:
    """The callback dict after the clip iteration (iteration 0): its last frame is the newest output."""
    f = clip.shape[2]
    return {"x": x, "i": 0, "sigma": sigmas[:1], "sigma_hat": sigmas[:1], "denoised": clip[:, :, f - 1:f],
            "frame": f - 1, "entries": list(entries), "total": total}
