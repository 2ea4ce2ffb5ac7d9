"""MIGA Stage 2 wired into the sampling loop (Feng et al., arXiv 2605.18233): the unified stage as a wavefront.

The latents leaving Stage 1 (at level ``E``, in stream order) are finished by the official whole-video unified sweeps,
every window's latents at one common level; :mod:`.unified_plan` streams them (departure: the official code holds the
whole video): a window of sweep ``j`` runs as soon as the latents it reads have taken sweep ``j - 1``, so the result
is the whole-video sweep's without chunk borders, in bounded memory. After the first pass the finished latents are
re-noised with fresh seeded noise for the second (add-and-re-denoise). Latents are ``[B, C, F, H, W]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .unified_plan import UnifiedPlan

if TYPE_CHECKING:
    from .miga import MigaRun


class UnifiedStream:
    """The unified stage of one run: ``buf[j]`` holds the latents at sweep level ``j`` still to be read (stream ids
    ``lo[j], ...``), ``done[j]`` counts the windows of sweep ``j`` run (all three are part of the run's saved state).
    Each sweep level's latents are kept until the last window of that sweep reading them has run (Jacobi: a window
    never sees a latent another window of its sweep already moved on)."""

    def __init__(self, plan: UnifiedPlan, like: Tensor):
        self.plan = plan
        self.buf = [like[:, :, :0] for _ in range(plan.sweeps)]
        self.lo = [0] * plan.sweeps
        self.done = [0] * plan.sweeps

    def held(self) -> int:
        """Latents held in the buffers."""
        return sum(x.shape[2] for x in self.buf)

    def arrive(self, run: MigaRun, latents: Tensor) -> None:
        """``latents`` leave stage 1 and enter sweep 0: run every window now possible and emit (through ``run``) the
        latents that finish."""
        up = self.plan
        self.buf[0] = torch.cat([self.buf[0], latents], dim=2)
        run.phase = "unified"
        while (nxt := up.next_window([lo + x.shape[2] for lo, x in zip(self.lo, self.buf)], self.done)) is not None:
            j, win = nxt
            level, lo = up.sweep_levels[j], self.lo[j]
            xw = self.buf[j][:, :, win.read_start - lo:win.read_stop - lo]
            den = run.model(xw, run.sig[level:level + 1].expand(win.frames), list(range(win.read_start, win.read_stop)))
            o, k = win.out_offset, win.write_stop - win.write_start
            new = run.step(xw[:, :, o:o + k], den[:, :, o:o + k], [level] * k)
            self.done[j] += 1
            keep = up.keep_from(j, self.done[j])
            self.buf[j], self.lo[j] = self.buf[j][:, :, keep - lo:], keep
            if j + 1 == up.sweeps:
                for p in range(k):
                    run.emit(win.write_start + p, new[:, :, p:p + 1])
                continue
            if j + 1 == up.renoise_sweep:  # clean after pass 1: re-noise with fresh noise for the second pass
                r = up.sweep_levels[j + 1]
                new = run.ns(run.sig[r:r + 1].expand(k), run.randn(k), new)
            self.buf[j + 1] = torch.cat([self.buf[j + 1], new], dim=2)
            run.resident()
        run.phase = "stage1"
