"""MIGA sampling loop (arXiv 2605.18233; ``docs/miga.md``): zigzag Stage 1, streaming unified Stage 2, self-reflection
and long-range guidance, on top of the pure plans of :mod:`.miga_plan`, :mod:`.guidance` and :mod:`.reflection`.

Shapes and contracts are those of :mod:`.fifo`: latents ``[B, C, F, H, W]`` (frames on axis 2), the denoiser
``denoiser(x[B, C, f, H, W], sigma[B, f], prompts=None) -> x0``, noise only from the injected CPU ``torch.Generator``.
Ladder convention of :mod:`.miga_plan`: level 0 = ``sigmas[0]`` (noisiest), level ``T`` = clean; queue index 0 = front.

How the parts compose (decisions, each one sentence for the README):

- **Stage 1** is the zigzag queue of :func:`.miga_plan.plan_zigzag`: groups of ``L`` latents share a level, each
  iteration one sweep steps every latent exactly once, the front group leaves at level ``E`` and one group of fresh
  seeded noise enters at level 0. Sweeps are **Jacobi**: every window reads the pre-sweep queue (as official Wan
  Stage 1/2), so memory latents are read at their pre-sweep value and window order does not matter. Partitions are
  static while the queue grows and rotating (dynamic) once it is full, as in the official code.
- **No Zigzag Stage** ("DCE only" ablation): ``L = 1`` and ``T = window x partitions`` steps (FIFO's ladder), so the
  queue is FIFO's diagonal staircase; stage 1 then runs to clean. With FIFO Queue Init's lookahead on, windows of
  half the window write their later, noisier half behind cleaner context, as FIFO-Diffusion §3.4. A **Zigzag Stage
  without Unified Stage** also runs stage 1 to clean (its end step is ignored). A **Unified Stage needs a Zigzag
  Stage** whose end step is above clean.
- **Stage 2** is the official whole-video unified sweep, streamed as a wavefront (:mod:`.unified_plan`; departure:
  the official code holds the whole video in memory): each window runs as soon as the latents it reads have taken
  the previous sweep, so the result is the whole-video sweep's without chunk borders, in bounded memory. Its windows
  centre their written segment (context on both sides, slide at most ``f - 2``); stage 1 delivers ``f`` latents past
  the last output. Optional re-noise to ``renoise_step`` and a second pass to clean. Unified steps must equal
  ``T - E``.
- **Long-range guidance**: ``m`` memory latents are prepended to each Stage-1 window at their own levels and their
  outputs discarded. Source ``"queue"`` (default; the shapes benchmark found ``history`` no better, its videos
  lose more shapes) = the official in-queue latents of :func:`.guidance.memory_positions`; ``"history"`` = the
  paper's reading, clean latents that already left
  (after Stage 2 when present), from a bounded :class:`.guidance.HistoryBank`, at sigma 0; until the bank holds ``m``
  latents the queue source is used. Candidate and Stage-2 windows have no memory (official).
- **Self-reflection runs during the whole run** (departure: official only during the queue initialisation): after
  every sweep the group at the judged level is scored against the ``(f - 1) // L`` groups in front of it; on a drop
  above the threshold ``candidates`` regenerations of it and every noisier group behind it are run behind the frozen
  reference groups, and the best replaces them if it beats the current score.
- **Queue initialisation** (departure: no separate progressive-init loop; the growing queue *is* the init): ``clip``
  seeds the ``f // L`` base groups with the latent's first ``f`` frames re-noised to levels ``f // L .. 1`` and fresh
  groups are the clip's last latent noised to level 0 (official); ``noise`` seeds blank latents plus noise and
  discards the base groups' output (warm-up).
- Cost and trigger counts are kept in a :class:`MigaStats` (pass one in, or read ``"stats"`` in the callback dict).

Memory is the queue (``E * L`` latents), one Jacobi copy, the unified stage's staircase (fewer than ``f + slide``
latents per unified sweep), the history bank and one reflection candidate: constant in the number of output frames
(only the output tensor grows).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from .config import GuidanceConfig, QueueConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig
from .fifo import _denoise_grouped, _randn, call_denoiser
from .guidance import MEMORY_SOURCES, HistoryBank
from .miga_plan import (
    UnifiedPlan,
    ZigzagPlan,
    check_group_width,
    check_guidance,
    plan_unified,
    plan_zigzag,
    static_partition,
)
from .prompts import FrameRange, validate_schedule
from .reflection import (
    ReflectionState,
    check_candidates,
    check_reflection_fit,
    check_threshold,
    get_similarity,
    judged_groups,
    judges_denoised,
    reference_groups,
    select_candidate,
)
from .steps import NoiseScaling, get_step_rule, per_frame_step, ve_noise_scaling
from .stream import LatentTail, Stream, check_state, clone_state, drive

Denoiser = Callable[..., Tensor]

MIGA_PRESETS: dict[str, dict[str, Any]] = {
    "wan21": {
        "window": 21,
        "zigzag": ZigzagConfig(steps=54, group=7, end_step=44, slide=0),
        "unified": UnifiedConfig(steps=10, renoise=True, renoise_step=44),
        "reflection": ReflectionConfig(candidates=3, threshold=0.01, metric="pairwise_denoised", judged_level=10),
        "guidance": GuidanceConfig(latents=4, source="queue", span=64),
        "note": "Official Wan2.1-T2V-1.3B config: 81 frames = 21 latents (17 queue + 4 guidance), 54 steps, shift 5, "
                "cfg 5, L_zig 7, stage 1 ends at step 44, 10 unified steps, re-noise to 44 and 10 more. Slide: ours "
                "(auto = 17, windows write all they read); the official code's is 10.",
    },
    "ltxv": {
        "window": 13,
        "zigzag": ZigzagConfig(steps=40, group=3, end_step=32, slide=0),
        "unified": UnifiedConfig(steps=8, renoise=True, renoise_step=32),
        "reflection": ReflectionConfig(candidates=3, threshold=0.01, metric="pairwise_denoised", judged_level=8),
        "guidance": GuidanceConfig(latents=3, source="queue", span=48),
        "note": "Untuned starting point: LTX-Video 97 frames = 13 latents (8x temporal); keep L_zig <= f - m = 10 "
                "and about 80% of the steps in stage 1.",
    },
    "cosmos": {
        "window": 24,
        "zigzag": ZigzagConfig(steps=35, group=6, end_step=28, slide=0),
        "unified": UnifiedConfig(steps=7, renoise=True, renoise_step=28),
        "reflection": ReflectionConfig(candidates=3, threshold=0.01, metric="pairwise_denoised", judged_level=8),
        "guidance": GuidanceConfig(latents=4, source="queue", span=64),
        "note": "Untuned starting point: Cosmos Predict2 93 frames = 24 latents, its default 35 steps; "
                "variance-exploding scaling (RFlow in ComfyUI), so thresholds may need retuning.",
    },
}


@dataclass
class MigaStats:
    """Cost and self-reflection counters of one MIGA run (filled in as it goes)."""

    model_calls: int = 0
    stage1_calls: int = 0
    reflection_calls: int = 0
    unified_calls: int = 0
    iterations: int = 0
    judgments: int = 0
    triggers: int = 0
    accepted: int = 0
    output_latents: int = 0
    max_resident_latents: int = 0

    @property
    def trigger_rate(self) -> float:
        return self.triggers / self.judgments if self.judgments else 0.0

    def summary(self) -> str:
        return (f"MIGA: {self.output_latents} latents, {self.model_calls} model calls (stage 1 {self.stage1_calls}, "
                f"reflection {self.reflection_calls}, unified {self.unified_calls}); self-reflection {self.triggers}/"
                f"{self.judgments} triggered ({100 * self.trigger_rate:.1f}%), {self.accepted} accepted; at most "
                f"{self.max_resident_latents} latents resident")


@dataclass(frozen=True)
class MigaSetup:
    """Everything :func:`sample_miga` derives from the configuration (see :func:`resolve_miga`)."""

    window: int
    steps: int
    zigzag: ZigzagPlan
    unified: Optional[UnifiedPlan]
    reflection: Optional[ReflectionConfig]
    references: int
    guidance: int
    source: str
    span: int
    warmup: int  # stream latents discarded before output 0
    stage1_latents: int  # latents stage 1 must deliver

    @property
    def group(self) -> int:
        return self.zigzag.group

    @property
    def end_level(self) -> int:
        return self.zigzag.end_level


# ---------------------------------------------------------------------------------------------------------------------
# configuration checks


def resolve_miga(config: QueueConfig, latent_frames: int, frames: int = 1) -> MigaSetup:
    """Validate the MIGA parts of ``config`` and lay out the plans; ``ValueError`` names the input and the fix."""
    if int(frames) < 1:
        raise ValueError(f"frames must be at least 1 output latent frame, got {frames}")
    f = config.resolve_window(latent_frames)
    if f > latent_frames:
        raise ValueError(
            f"window_length {f} is longer than the latent's {latent_frames} frames; set window_length to at most "
            f"{latent_frames} (0 = the latent's length) or make the latent longer")
    if f < 2:
        raise ValueError(f"MIGA needs a window of at least 2 latent frames, got window_length {f}")
    zz, un, rf, gd = config.zigzag, config.unified, config.reflection, config.guidance
    m = gd.latents if gd is not None else 0
    if gd is not None:
        if gd.source not in MEMORY_SOURCES:
            raise ValueError(f"Unknown Long-Range Guidance source {gd.source!r}: choose one of "
                             f"{', '.join(MEMORY_SOURCES)}")
        try:  # the binding constraint first: no span helps guidance latents that do not fit the window
            check_guidance(f, m)
        except ValueError as e:
            raise ValueError(f"Long-Range Guidance: {e}") from None
        if gd.source == "history" and int(gd.span) < max(1, m):  # only the history source reads the span
            raise ValueError(f"Long-Range Guidance history span {gd.span} must hold at least the {m} guidance "
                             f"latents; raise the span")
    if un is not None and zz is None:
        raise ValueError("Unified Stage needs a Zigzag Stage before it: stage 1 must end above clean (Zigzag Stage "
                         "end step < steps) to leave the unified steps; add a Zigzag Stage or remove the Unified Stage")
    if zz is not None:
        # auto slide: every window writes all the queue latents it reads (borders still rotate between sweeps); the
        # official half-window slide (10 for Wan) costs 1.4x more for no measured gain (README, consistency benchmark)
        t, group, slide = int(zz.steps), int(zz.group), (int(zz.slide) or f - m)
        if t < 2:
            raise ValueError(f"Zigzag Stage steps must be at least 2, got {t}")
        if group < 1:
            raise ValueError(f"Zigzag Stage group size L_zig must be at least 1, got {group}")
        try:
            check_group_width(f, group, m)
        except ValueError as e:
            raise ValueError(f"Zigzag Stage: {e}") from None
        base = f // group
        if un is not None:
            e_lvl = int(zz.end_step)
            if not base + 1 <= e_lvl < t:
                raise ValueError(
                    f"Zigzag Stage end step {e_lvl} must be in [{base + 1}, steps - 1 = {t - 1}] with a Unified Stage "
                    f"(stage 1 ends above clean; the {base} base-clip groups need at least one step); the official "
                    f"value is steps - 10")
        else:
            e_lvl = t  # stage 1 runs to clean
            if base + 1 > t:
                raise ValueError(f"Zigzag Stage steps {t} must be at least window // L_zig + 1 = {base + 1}")
        if not 1 <= slide <= f - m:
            raise ValueError(f"Zigzag Stage slide must be 0 (auto) or in [1, window - guidance = {f - m}], got {slide}")
    else:
        # "DCE only": FIFO's diagonal queue (one latent per group) on FIFO's ladder, run to clean.
        # FIFO Queue Init's lookahead keeps its meaning: on, windows of the plan's default slide (half the window,
        # capped by the guidance) write their later half behind cleaner context; off, windows write all they read
        t, group = f * int(config.partitions), 1
        slide = None if config.lookahead else f - m
        e_lvl = t
        if e_lvl < f + 1:
            raise ValueError(
                f"without a Zigzag Stage MIGA runs FIFO's diagonal queue of window x partitions = {t} steps, which "
                f"must exceed the window ({f}); set partitions to at least 2 in FIFO Queue Init or add a Zigzag Stage")
    # lookahead on FIFO's queue writes each window's later, noisier part behind cleaner context (FIFO §3.4)
    plan = plan_zigzag(f, group, t, e_lvl, m, slide, behind=zz is None and config.lookahead)
    uplan: Optional[UnifiedPlan] = None
    if un is not None:
        if int(un.steps) != t - e_lvl:
            raise ValueError(
                f"Unified Stage steps {un.steps} must equal Zigzag Stage steps - end step = {t} - {e_lvl} = "
                f"{t - e_lvl} (the unified stage finishes the ladder); set Unified Stage steps to {t - e_lvl}")
        r = int(un.renoise_step) if un.renoise else None
        if r is not None and not 0 <= r < t:
            raise ValueError(f"Unified Stage re-noise step {r} must be in [0, steps - 1 = {t - 1}] (official: the "
                             f"stage-1 end step {e_lvl})")
    refs = 0
    if rf is not None:
        check_threshold(rf.threshold)
        check_candidates(rf.candidates)
        get_similarity(rf.metric)
        check_reflection_fit(f, group)
        refs = reference_groups(f, group)
        j = int(rf.judged_level)
        if not 1 <= j <= e_lvl - refs:
            raise ValueError(
                f"Self-Reflection judged level {j} must be in [1, {e_lvl - refs}]: the judged group needs its {refs} "
                f"reference groups in front of it before stage 1 ends at step {e_lvl}; the official value is 10")
    warmup = plan.base_groups * group if config.init == "noise" else 0
    need = frames + warmup
    if un is not None:
        # a window of future past the last output latent: the unified sweeps near the end of the stream read ahead
        # like everywhere else (the official Wan code drops its last 21 latents for the same reason)
        need += f
    stage1 = math.ceil(need / group) * group
    if un is not None:
        # the run's slide, but every written segment keeps at least one latent of context on each side (the
        # unified windows centre it): a window that writes all it reads puts a hard border into every sweep, and
        # the last sweeps' borders show (analytic oracle, tests/test_oracle.py)
        uplan = plan_unified(f, e_lvl, t, r, slide=max(1, min(plan.slide, f - 2)), total=stage1)
    src = gd.source if gd is not None else "queue"
    span = int(gd.span) if gd is not None else 1
    return MigaSetup(f, t, plan, uplan, rf, refs, m, src, span, warmup, stage1)


def miga_steps(config: QueueConfig, latent_frames: int) -> int:
    """Length - 1 of the sigma ladder MIGA needs: Zigzag Stage steps, or window x partitions without one."""
    if config.zigzag is not None:
        return int(config.zigzag.steps)
    return config.resolve_window(latent_frames) * int(config.partitions)


def check_miga_inputs(config: QueueConfig, latent: Tensor, sigmas: Tensor, frames: int) -> None:
    """Raise a ``ValueError`` naming the bad input and the fix, before any model call."""
    if latent.ndim != 5:
        raise ValueError(f"latent must be a video latent [batch, channels, frames, height, width], got shape "
                         f"{tuple(latent.shape)}")
    if config.init not in ("clip", "noise"):
        raise ValueError(f"Unknown init mode {config.init!r}: choose clip or noise")
    setup = resolve_miga(config, latent.shape[2], frames)
    if sigmas.ndim != 1 or sigmas.shape[0] < 2:
        raise ValueError(f"sigmas must be a 1-D schedule with at least 2 entries, got shape {tuple(sigmas.shape)}")
    steps = sigmas.shape[0] - 1
    if steps != setup.steps:
        where = "Zigzag Stage steps" if config.zigzag is not None else "window_length x partitions"
        raise ValueError(f"the sigma schedule has {steps} steps; MIGA needs exactly {setup.steps} ({where}); set "
                         f"steps to {setup.steps} in the scheduler ({setup.steps + 1} sigmas)")
    if float(sigmas[-1]) != 0.0:
        raise ValueError("sigmas must end at 0 so latents leave clean; do not split off the last step")
    if not bool(torch.all(sigmas[:-1] > sigmas[1:])):
        raise ValueError("sigmas must be strictly decreasing (one distinct noise level per ladder step)")


# ---------------------------------------------------------------------------------------------------------------------
# the loop


class _Run:
    """State of one MIGA run (queue, unified buffers, history, reflection); methods are the steps of the loop."""

    def __init__(self, setup: MigaSetup, denoiser: Denoiser, latent: Tensor, sigmas: Tensor, frames: int,
                 generator: torch.Generator, rule: str, eta: float, noise_scaling: NoiseScaling,
                 prompt_ranges: Optional[Sequence[FrameRange]], stats: MigaStats, init: str):
        self.s, self.den, self.gen, self.rule, self.eta = setup, denoiser, generator, rule, eta
        self.ns, self.ranges, self.frames, self.stats = noise_scaling, prompt_ranges, frames, stats
        self.sig = sigmas.to(device=latent.device, dtype=torch.float32)
        b, c, _, h, w = latent.shape
        self.shape = (b, c, h, w)
        self.like = latent.to(torch.float32)
        self.clip = init == "clip"
        f = setup.window
        self.fresh_x0 = (self.like[:, :, f - 1:f] if self.clip else torch.zeros_like(self.like[:, :, :1]))
        self.pending: list[tuple[int, Tensor]] = []  # output latents finished in the current iteration
        self.phase = "stage1"
        self.newest: Optional[Tensor] = None
        self.bank: Optional[HistoryBank] = (HistoryBank(setup.span) if setup.source == "history"
                                            and setup.guidance > 0 else None)
        rf = setup.reflection
        self.sim = get_similarity(rf.metric) if rf is not None else None
        self.judge = ReflectionState(float(rf.threshold)) if rf is not None else None
        # clean estimates of the queue latents from their last sweep (set up with the queue), when the reflection
        # metric scores those; None otherwise
        self.x0: Optional[Tensor] = None
        # unified stage (see arrive): per sweep level, the latents still to be read and the windows run
        sweeps = setup.unified.sweeps if setup.unified is not None else 0
        self.ubuf = [self.like[:, :, :0] for _ in range(sweeps)]
        self.ulo = [0] * sweeps
        self.udone = [0] * sweeps

    # -- helpers ------------------------------------------------------------------------------------------------------

    def randn(self, n: int) -> Tensor:
        b, c, h, w = self.shape
        return _randn((b, c, n, h, w), self.gen, self.like)

    def fresh(self, n: int) -> Tensor:
        """``n`` latents of fresh seeded noise at level 0 (around the clip's last latent, or blank)."""
        return self.ns(self.sig[:1].expand(n), self.randn(n), self.fresh_x0.expand(-1, -1, n, -1, -1))

    def model(self, x: Tensor, sigma: Tensor, ids: list[int]) -> Tensor:
        """Counted model call with a per-frame sigma ``[f]``; ``ids`` are stream ids (output index + warm-up)."""
        out_idx = [i - self.s.warmup for i in ids]

        def counted(xx: Tensor, ss: Tensor, prompts: Optional[tuple] = None,
                    positions: Optional[Tensor] = None) -> Tensor:
            self.stats.model_calls += 1
            setattr(self.stats, f"{self.phase}_calls", getattr(self.stats, f"{self.phase}_calls") + 1)
            return call_denoiser(self.den, xx, ss, prompts, positions)

        return _denoise_grouped(counted, x, sigma.expand(x.shape[0], -1), out_idx, self.ranges)

    def step(self, x: Tensor, den: Tensor, lv: Sequence[int]) -> Tensor:
        """One ladder step of latents ``x[B, C, k, H, W]`` at levels ``lv`` to ``lv + 1``."""
        idx = torch.tensor(list(lv), device=self.sig.device)
        noise = None
        if self.rule == "euler_ancestral" and self.eta > 0:
            noise = self.randn(x.shape[2])
        b = x.shape[0]
        return per_frame_step(self.rule, x, den, self.sig[idx].expand(b, -1), self.sig[idx + 1].expand(b, -1),
                              eta=self.eta, noise=noise, noise_scaling=self.ns)

    def resident(self, extra: int = 0) -> None:
        n = (2 if self.x0 is None else 3) * self.x.shape[2] + sum(x.shape[2] for x in self.ubuf) + extra
        n += len(self.bank) if self.bank is not None else 0
        self.stats.max_resident_latents = max(self.stats.max_resident_latents, n)

    def emit(self, sid: int, latent: Tensor) -> None:
        """A finished (clean) latent with stream id ``sid`` leaves: into the output, and the history bank."""
        k = sid - self.s.warmup
        if 0 <= k < self.frames:
            self.pending.append((k, latent))
            self.stats.output_latents += 1
        self.newest = latent
        if self.bank is not None:
            self.bank.add((sid, latent.clone()))

    # -- Stage 1 ------------------------------------------------------------------------------------------------------

    def init_queue(self) -> None:
        plan, g = self.s.zigzag, self.s.group
        self.lv = list(plan.init_levels)
        nb = plan.base_groups * g
        if self.clip:
            lo, hi = plan.base_latents
            x0 = self.like[:, :, lo:hi]
        else:
            x0 = torch.zeros_like(self.like[:, :, :1]).expand(-1, -1, nb, -1, -1)
        base = self.ns(self.sig[self.lv[:nb]], self.randn(nb), x0)
        self.x = torch.cat([base, self.fresh(g)], dim=2)
        rf = self.s.reflection
        if rf is not None and judges_denoised(rf.metric):
            self.x0 = torch.zeros_like(self.x)
        self.ids = list(range(len(self.lv)))
        self.next_id = len(self.lv)

    def sweep(self, it: int) -> None:
        """One Jacobi sweep: every queue latent takes exactly one step, windows read the pre-sweep queue."""
        plan, m = self.s.zigzag, self.s.guidance
        n = self.x.shape[2]
        hist = self.bank is not None and len(self.bank) >= m
        wins = plan.windows(it, n, static=n < plan.capacity, history=hist)
        hx: Optional[Tensor] = None
        hids: list[int] = []
        if hist:
            picked = self.bank.sample(m, self.s.span)
            hx, hids = torch.cat([p[1] for p in picked], dim=2), [p[0] for p in picked]
        src, lvt = self.x, torch.tensor(self.lv, device=self.sig.device)
        new = src.clone()
        for win in wins:
            idx = list(win.inputs)
            xw, sw, ids = src[:, :, idx], self.sig[lvt[idx]], [self.ids[i] for i in idx]
            if hx is not None and win.history:
                xw = torch.cat([hx, xw], dim=2)
                sw = torch.cat([self.sig.new_zeros(len(hids)), sw])  # clean: sigma 0
                ids = hids + ids
            den = self.model(xw, sw, ids)
            o, k = win.out_offset, win.write_stop - win.write_start
            new[:, :, win.write_start:win.write_stop] = self.step(
                xw[:, :, o:o + k], den[:, :, o:o + k], self.lv[win.write_start:win.write_stop])
            if self.x0 is not None:  # nothing reads x0 during a sweep: write in place
                self.x0[:, :, win.write_start:win.write_stop] = den[:, :, o:o + k]
        self.x = new
        self.lv = [lv + 1 for lv in self.lv]
        self.resident()

    def reflect(self) -> None:
        """Self-reflection after a sweep (``docs/miga.md`` §7), active whenever the references exist."""
        rf, g, refs = self.s.reflection, self.s.group, self.s.references
        where = judged_groups(self.lv[0], rf.judged_level, refs)
        if where is None:
            return
        jg, _ = where
        a, b = (jg - refs) * g, jg * g
        judged = self.x0 if self.x0 is not None else self.x
        ref = judged[:, :, a:b]
        score = self.sim(judged[:, :, b:b + g], ref).mean()
        self.judge, flagged = self.judge.judge(score)
        self.stats.judgments += 1
        if not flagged:
            return
        self.stats.triggers += 1
        self.phase = "reflection"
        scores: list[float] = []
        best: Optional[tuple[Tensor, Tensor]] = None
        for _ in range(int(rf.candidates)):
            cand, cand_x0 = self.regenerate(self.x[:, :, a:b], self.lv[a:b], self.ids[a:], rf.judged_level)
            sc = float(self.sim((cand_x0 if self.x0 is not None else cand)[:, :, :g], ref).mean())
            if best is None or sc > max(scores):
                best = (cand, cand_x0)
            scores.append(sc)
        self.phase = "stage1"
        i, beats = select_candidate(scores, self.judge.last)
        if beats:
            assert best is not None and best[0].shape[2] == self.x.shape[2] - b
            self.x = torch.cat([self.x[:, :, :b], best[0]], dim=2)
            if self.x0 is not None:
                self.x0 = torch.cat([self.x0[:, :, :b], best[1]], dim=2)
            self.judge = self.judge.accept(scores[i])
            self.stats.accepted += 1

    def regenerate(self, ref: Tensor, ref_lv: list[int], ids: list[int], rounds: int) -> tuple[Tensor, Tensor]:
        """One candidate: ``rounds`` times append a fresh group and sweep (static partition, window ``f``, no memory)
        with the reference groups frozen in front; returns the regenerated groups (levels ``rounds .. 1``) and the
        model's clean estimates of them from their last sweep."""
        f, g = self.s.window, self.s.group
        frozen = ref.shape[2]
        q, lv = ref, list(ref_lv)
        q0 = ref.new_zeros(ref.shape[:2] + (0,) + ref.shape[3:])
        for _ in range(rounds):
            q = torch.cat([q, self.fresh(g)], dim=2)
            q0 = torch.cat([q0, q.new_zeros(q.shape[:2] + (g,) + q.shape[3:])], dim=2)
            lv += [0] * g
            new = q.clone()
            for start, cal in static_partition(q.shape[2], f, self.s.zigzag.slide):
                lo, hi = max(start, frozen), start + cal
                if lo >= hi:
                    continue  # the window would write only the frozen references
                # ids: the references', then the regenerated latents continue them one by one
                den = self.model(q[:, :, start:start + f], self.sig[lv[start:start + f]],
                                 [ids[0] + p for p in range(start, start + f)])
                new[:, :, lo:hi] = self.step(q[:, :, lo:hi], den[:, :, lo - start:hi - start], lv[lo:hi])
                q0[:, :, lo - frozen:hi - frozen] = den[:, :, lo - start:hi - start]
            q = new
            lv = lv[:frozen] + [x + 1 for x in lv[frozen:]]
            self.resident(q.shape[2] + frozen)
        return q[:, :, frozen:], q0

    # -- Stage 2 ------------------------------------------------------------------------------------------------------

    def arrive(self, latents: Tensor) -> None:
        """Latents leaving stage 1 (at level E, in stream order) enter the unified stage; run every window now
        possible and emit the latents that finish.

        The whole-video unified sweeps, streamed as a wavefront (:mod:`.unified_plan`): ``self.ubuf[j]`` holds stream
        ids ``self.ulo[j], ...`` after ``j`` sweeps, ``self.udone[j]`` counts the windows of sweep ``j`` run. Each
        sweep level's latents are kept until the last window of that sweep reading them has run (Jacobi: a window
        never sees a latent another window of its sweep already moved on).
        """
        up = self.s.unified
        assert up is not None
        self.ubuf[0] = torch.cat([self.ubuf[0], latents], dim=2)
        self.phase = "unified"
        while (nxt := up.next_window([lo + x.shape[2] for lo, x in zip(self.ulo, self.ubuf)], self.udone)) is not None:
            j, win = nxt
            level, lo = up.sweep_levels[j], self.ulo[j]
            xw = self.ubuf[j][:, :, win.read_start - lo:win.read_stop - lo]
            den = self.model(xw, self.sig[level:level + 1].expand(win.frames),
                             list(range(win.read_start, win.read_stop)))
            o, k = win.out_offset, win.write_stop - win.write_start
            new = self.step(xw[:, :, o:o + k], den[:, :, o:o + k], [level] * k)
            self.udone[j] += 1
            keep = up.keep_from(j, self.udone[j])
            self.ubuf[j], self.ulo[j] = self.ubuf[j][:, :, keep - lo:], keep
            if j + 1 == up.sweeps:
                for p in range(k):
                    self.emit(win.write_start + p, new[:, :, p:p + 1])
                continue
            if j + 1 == up.renoise_sweep:  # clean after pass 1: re-noise with fresh noise for the second pass
                r = up.sweep_levels[j + 1]
                new = self.ns(self.sig[r:r + 1].expand(k), self.randn(k), new)
            self.ubuf[j + 1] = torch.cat([self.ubuf[j + 1], new], dim=2)
            self.resident()
        self.phase = "stage1"

    # -- driver (a :class:`.stream.QueueRunner`) -------------------------------------------------------------------

    def start(self) -> None:
        self.init_queue()
        self.produced = self.it = 0
        self.total = self.s.zigzag.iterations(self.s.stage1_latents // self.s.group)

    @property
    def done(self) -> bool:
        return self.produced >= self.s.stage1_latents

    @property
    def frames_done(self) -> int:
        return self.stats.output_latents

    def iterate(self) -> list[tuple[int, Tensor]]:
        """One iteration: a sweep, self-reflection, the front group leaves (into the unified stage), a group enters."""
        g, s = self.s.group, self.s
        self.pending = []
        self.sweep(self.it)
        if s.reflection is not None:
            self.reflect()
        if self.lv[0] >= s.end_level:
            out, ids = self.x[:, :, :g], self.ids[:g]
            self.x, self.lv, self.ids = self.x[:, :, g:], self.lv[g:], self.ids[g:]
            if self.x0 is not None:
                self.x0 = self.x0[:, :, g:]
            self.produced += g
            if s.unified is not None:
                self.arrive(out.clone())
            else:
                for p, sid in enumerate(ids):
                    self.emit(sid, out[:, :, p:p + 1].clone())
        # one group of fresh seeded noise enters at the tail
        self.x = torch.cat([self.x, self.fresh(g)], dim=2)
        if self.x0 is not None:
            self.x0 = torch.cat([self.x0, torch.zeros_like(self.x0[:, :, :g])], dim=2)
        self.lv += [0] * g
        self.ids += list(range(self.next_id, self.next_id + g))
        self.next_id += g
        self.stats.iterations = self.it + 1
        self.it += 1
        if self.done and self.stats.output_latents != self.frames:
            raise RuntimeError(f"MIGA produced {self.stats.output_latents} of {self.frames} latents (a bug)")
        return self.pending

    def info(self) -> dict[str, Any]:
        sigma = self.sig[torch.tensor(self.lv, device=self.sig.device)]
        newest = self.newest if self.newest is not None else self.x[:, :, :1]
        return {"x": self.x, "i": self.it - 1, "sigma": sigma, "sigma_hat": sigma, "denoised": newest,
                "frame": self.stats.output_latents - 1, "entries": [e - self.s.warmup for e in self.ids],
                "total": self.total, "stats": self.stats}

    # Everything that changes during a run. A new attribute of the loop state must be added here, or a resumed run
    # would silently differ (tests/test_stream_engine.py checks resumed runs bit for bit).
    _STATE = ("x", "lv", "ids", "next_id", "x0", "ubuf", "ulo", "udone",
              "newest", "produced", "it", "phase")

    def state_dict(self) -> dict[str, Any]:
        state = {name: clone_state(getattr(self, name)) for name in self._STATE}
        state.update(kind="miga", rng=self.gen.get_state(), stats=dataclasses.asdict(self.stats),
                     frames_done=self.frames_done,
                     judge=None if self.judge is None else list(self.judge.history),
                     bank=None if self.bank is None else {"total": self.bank.total,
                                                          "frames": clone_state(list(self.bank.frames()))})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, "miga", self._STATE + ("rng", "stats", "judge", "bank"))
        if tuple(state["x"].shape[:2]) != tuple(self.x.shape[:2]) or state["x"].shape[3:] != self.x.shape[3:]:
            raise ValueError(f"the resume state's latents are {tuple(state['x'].shape)}, this run's are "
                             f"{tuple(self.x.shape)} (frames aside): resume with the latent size it was saved with")
        for name in self._STATE:
            setattr(self, name, clone_state(state[name], self.like.device))
        self.gen.set_state(state["rng"])
        self.stats = MigaStats(**state["stats"])
        if self.judge is not None:
            self.judge = dataclasses.replace(self.judge, history=tuple(state["judge"]))
        if self.bank is not None:
            self.bank.restore(state["bank"]["total"], clone_state(state["bank"]["frames"], self.like.device))


@torch.no_grad()
def sample_miga(
    config: QueueConfig,
    denoiser: Denoiser,
    latent: Tensor,
    sigmas: Tensor,
    frames: int,
    *,
    generator: torch.Generator,
    rule: str = "euler",
    eta: float = 1.0,
    prompt_ranges: Optional[Sequence[FrameRange]] = None,
    callback: Optional[Callable[[dict[str, Any]], None]] = None,
    output_device: Optional[torch.device] = None,
    noise_scaling: NoiseScaling = ve_noise_scaling,
    stats: Optional[MigaStats] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """Generate ``frames`` latent frames with MIGA; returns ``[B, C, frames, H, W]`` on ``output_device`` (with
    ``stream.keep``, only the newest ``keep``; see :mod:`.stream`).

    ``sigmas``: the ladder ``[T + 1]`` (:func:`miga_steps` + 1 entries, ending at 0). ``stats``: an optional
    :class:`MigaStats` filled in during the run (also passed to ``callback`` as ``"stats"``; on a resumed run it
    continues the saved counters).
    """
    check_miga_inputs(config, latent, sigmas, frames)
    get_step_rule(rule)
    if prompt_ranges is not None:
        validate_schedule(prompt_ranges)
    setup = resolve_miga(config, latent.shape[2], frames)
    run = _Run(setup, denoiser, latent, sigmas, int(frames), generator, rule, eta, noise_scaling, prompt_ranges,
               stats if stats is not None else MigaStats(), config.init)
    run.start()
    b, c, _, h, w = latent.shape
    tail = LatentTail((b, c, h, w), frames, stream.keep if stream else None, output_device or latent.device)
    out = drive(run, tail, stream, callback)
    if stats is not None and stats is not run.stats:  # a resumed run replaced the counters: hand them back
        for k, v in dataclasses.asdict(run.stats).items():
            setattr(stats, k, v)
    return out
