"""MIGA self-reflection wired into the sampling loop (Feng et al., arXiv 2605.18233): judge, regenerate, replace.

After every Stage-1 sweep the group at the judged level is scored against the ``refs = (f - 1) // L`` groups in front
of it with the metric of :mod:`.reflection` (on the noisy latents, or on the model's clean estimates from the same
sweep for ``pairwise_denoised``, which adds no model call). When the score drops by more than the threshold, each of
``candidates`` regenerations re-runs the judged group and every noisier group behind it from fresh seeded noise,
``judged_level`` sweeps behind the frozen reference groups (static partition, window ``f``, no memory: the official
candidate loop), and the best candidate replaces them if it beats the current score.

Departure from the official code: self-reflection runs during the whole run, not only while the queue is filled.
Latents are ``[B, C, F, H, W]``; levels and queue indices follow :mod:`.miga_partition`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import torch
from torch import Tensor

from .config import ReflectionConfig
from .miga_partition import static_partition
from .reflection import ReflectionState, get_similarity, judged_groups, judges_denoised, select_candidate

if TYPE_CHECKING:
    from .miga import MigaRun


class SelfReflection:
    """The self-reflection of one run: its settings, the similarity metric and the judgment history (``judge``, part
    of the run's saved state)."""

    def __init__(self, config: ReflectionConfig, references: int):
        self.config, self.refs = config, references
        self.sim = get_similarity(config.metric)
        self.judge = ReflectionState(float(config.threshold))
        self.denoised = judges_denoised(config.metric)  # the run keeps the queue's clean estimates (``x0``)

    def after_sweep(self, run: MigaRun) -> None:
        """Judge the group at the judged level (once its reference groups exist); regenerate it on a drop."""
        rf, g, refs = self.config, run.s.group, self.refs
        where = judged_groups(run.lv[0], rf.judged_level, refs)
        if where is None:
            return
        jg, _ = where
        a, b = (jg - refs) * g, jg * g
        judged = run.x0 if run.x0 is not None else run.x
        ref = judged[:, :, a:b]
        score = self.sim(judged[:, :, b:b + g], ref).mean()
        self.judge, flagged = self.judge.judge(score)
        run.stats.judgments += 1
        if not flagged:
            return
        current = self.judge.last
        assert current is not None  # judge() has just recorded the score
        run.stats.triggers += 1
        run.phase = "reflection"
        scores: list[float] = []
        best: Optional[tuple[Tensor, Tensor]] = None
        for _ in range(int(rf.candidates)):
            cand, cand_x0 = self.regenerate(run, run.x[:, :, a:b], run.lv[a:b], run.ids[a:], rf.judged_level)
            sc = float(self.sim((cand_x0 if run.x0 is not None else cand)[:, :, :g], ref).mean())
            if best is None or sc > max(scores):
                best = (cand, cand_x0)
            scores.append(sc)
        run.phase = "stage1"
        i, beats = select_candidate(scores, current)
        if beats:
            assert best is not None and best[0].shape[2] == run.x.shape[2] - b
            run.x = torch.cat([run.x[:, :, :b], best[0]], dim=2)
            if run.x0 is not None:
                run.x0 = torch.cat([run.x0[:, :, :b], best[1]], dim=2)
            self.judge = self.judge.accept(scores[i])
            run.stats.accepted += 1

    @staticmethod
    def regenerate(run: MigaRun, ref: Tensor, ref_lv: list[int], ids: list[int],
                   rounds: int) -> tuple[Tensor, Tensor]:
        """One candidate: ``rounds`` times append a fresh group and sweep (static partition, window ``f``, no memory)
        with the reference groups ``ref`` frozen in front; returns the regenerated groups (levels ``rounds .. 1``)
        and the model's clean estimates of them from their last sweep."""
        f, g = run.s.window, run.s.group
        frozen = ref.shape[2]
        q, lv = ref, list(ref_lv)
        q0 = ref.new_zeros(ref.shape[:2] + (0,) + ref.shape[3:])
        for _ in range(rounds):
            q = torch.cat([q, run.fresh(g)], dim=2)
            q0 = torch.cat([q0, q.new_zeros(q.shape[:2] + (g,) + q.shape[3:])], dim=2)
            lv += [0] * g
            new = q.clone()
            for start, cal in static_partition(q.shape[2], f, run.s.zigzag.slide):
                lo, hi = max(start, frozen), start + cal
                if lo >= hi:
                    continue  # the window would write only the frozen references
                # ids: the references', then the regenerated latents continue them one by one
                den = run.model(q[:, :, start:start + f], run.sig[lv[start:start + f]],
                                [ids[0] + p for p in range(start, start + f)])
                new[:, :, lo:hi] = run.step(q[:, :, lo:hi], den[:, :, lo - start:hi - start], lv[lo:hi])
                q0[:, :, lo - frozen:hi - frozen] = den[:, :, lo - start:hi - start]
            q = new
            lv = lv[:frozen] + [x + 1 for x in lv[frozen:]]
            run.resident(q.shape[2] + frozen)
        return q[:, :, frozen:], q0
