"""MIGA set-up (Feng et al., arXiv 2605.18233): check a :class:`.config.QueueConfig` and lay out the run's plans.

:func:`prepare_miga` is the one check of a MIGA run's inputs: the configuration against the latent and the sigma ladder,
then :func:`resolve_miga` derives everything the loop needs (:class:`MigaSetup`: the zigzag queue of
:mod:`.zigzag_plan`, the streamed unified stage of :mod:`.unified_plan`, self-reflection's reference groups, guidance
and warm-up), so the loop (:class:`.miga.MigaRun`) only runs plans. Each ``ValueError`` names the input and the fix,
before any model call. The MIGA nodes call :func:`resolve_miga` on the chain built so far (without the latent), so an
impossible value is reported by the node that holds it; :mod:`.chain_plan` draws the same set-up.

How a chain maps to a run (the loop's docstring says why each part runs as it does):

- a **Zigzag Stage** sets the ladder (``T`` steps), the group width ``L`` and the window stride; without one ("DCE
  only"), MIGA runs FIFO's diagonal queue (``L = 1``, ``T = window x partitions``) to clean, and FIFO Queue Init's
  lookahead keeps its meaning (FIFO-Diffusion §3.4: windows of half the window write their later half);
- a **Unified Stage** needs a Zigzag Stage whose end step ``E`` is above clean and has ``T - E`` steps; without
  one stage 1 runs to clean (the end step is ignored);
- **Long-Range Guidance** takes ``m`` of the window's ``f`` latents; **Self-Reflection** judges a group against the
  ``(f - 1) // L`` groups in front of it, so its judged level must leave room for them before stage 1 ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from .config import GuidanceConfig, QueueConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig
from .guidance import MEMORY_SOURCES
from .miga_partition import check_group_width, check_guidance
from .plan import INIT_MODES
from .reflection import check_candidates, check_reflection_fit, check_threshold, get_similarity, reference_groups
from .unified_plan import UnifiedPlan, plan_unified
from .zigzag_plan import ZigzagPlan, plan_zigzag


@dataclass(frozen=True)
class MigaSetup:
    """Everything one MIGA run derives from its configuration (see :func:`resolve_miga`)."""

    window: int
    steps: int
    zigzag: ZigzagPlan
    unified: Optional[UnifiedPlan]
    reflection: Optional[ReflectionConfig]
    references: int  # reference groups in front of the judged group (0 without self-reflection)
    guidance: int
    source: str
    span: int
    warmup: int  # stream latents discarded before output 0
    stage1_latents: int  # latents stage 1 must deliver
    frames: int  # output latents
    clip: bool  # the queue starts from the latent's clip (init mode "clip"), else from noise

    @property
    def group(self) -> int:
        return self.zigzag.group

    @property
    def end_level(self) -> int:
        return self.zigzag.end_level


def _check_window(config: QueueConfig, latent_frames: int) -> int:
    f = config.resolve_window(latent_frames)
    if f > latent_frames:
        raise ValueError(
            f"window_length {f} is longer than the latent's {latent_frames} frames; set window_length to at most "
            f"{latent_frames} (0 = the latent's length) or make the latent longer")
    if f < 2:
        raise ValueError(f"MIGA needs a window of at least 2 latent frames, got window_length {f}")
    return f


def _check_guidance(gd: GuidanceConfig, f: int) -> None:
    if gd.source not in MEMORY_SOURCES:
        raise ValueError(f"Unknown Long-Range Guidance source {gd.source!r}: choose one of {', '.join(MEMORY_SOURCES)}")
    try:  # the binding constraint first: no span helps guidance latents that do not fit the window
        check_guidance(f, gd.latents)
    except ValueError as e:
        raise ValueError(f"Long-Range Guidance: {e}") from None
    if gd.source == "history" and int(gd.span) < max(1, gd.latents):  # only the history source reads the span
        raise ValueError(f"Long-Range Guidance history span {gd.span} must hold at least the {gd.latents} guidance "
                         f"latents; raise the span")


def _zigzag_stage1(zz: ZigzagConfig, unified: bool, f: int, m: int) -> tuple[int, int, int, int]:
    """``(steps T, group L, end level E, slide)`` of a Zigzag Stage."""
    # auto slide: every window writes all the queue latents it reads (borders still rotate between sweeps)
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
    if unified:
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
    return t, group, e_lvl, slide


def _check_unified(un: UnifiedConfig, t: int, e_lvl: int) -> Optional[int]:
    """The re-noise level of a Unified Stage (None without re-denoise)."""
    if int(un.steps) != t - e_lvl:
        raise ValueError(
            f"Unified Stage steps {un.steps} must equal Zigzag Stage steps - end step = {t} - {e_lvl} = "
            f"{t - e_lvl} (the unified stage finishes the ladder); set Unified Stage steps to {t - e_lvl}")
    r = int(un.renoise_step) if un.renoise else None
    if r is not None and not 0 <= r < t:
        raise ValueError(f"Unified Stage re-noise step {r} must be in [0, steps - 1 = {t - 1}] (official: the "
                         f"stage-1 end step {e_lvl})")
    return r


def _check_reflection(rf: ReflectionConfig, f: int, group: int, e_lvl: int) -> int:
    """The number of reference groups self-reflection judges against."""
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
    return refs


def resolve_miga(config: QueueConfig, latent_frames: int, frames: int = 1) -> MigaSetup:
    """Check the MIGA parts of ``config`` for a latent of ``latent_frames`` frames and ``frames`` output latents (1
    when only the chain is checked) and lay out the plans; ``ValueError`` names the input and the fix."""
    if int(frames) < 1:
        raise ValueError(f"frames must be at least 1 output latent frame, got {frames}")
    f = _check_window(config, latent_frames)
    zz, un, rf, gd = config.zigzag, config.unified, config.reflection, config.guidance
    m = gd.latents if gd is not None else 0
    if gd is not None:
        _check_guidance(gd, f)
    if un is not None and zz is None:
        raise ValueError("Unified Stage needs a Zigzag Stage before it: stage 1 must end above clean (Zigzag Stage "
                         "end step < steps) to leave the unified steps; add a Zigzag Stage or remove the Unified Stage")
    slide: Optional[int]  # None: the plan's default (half the window, capped by the guidance)
    if zz is not None:
        t, group, e_lvl, slide = _zigzag_stage1(zz, un is not None, f, m)
    else:
        # "DCE only": FIFO's diagonal queue (one latent per group) on FIFO's ladder, run to clean
        t, group = f * int(config.partitions), 1
        slide = None if config.lookahead else f - m
        e_lvl = t
        if e_lvl < f + 1:
            raise ValueError(
                f"without a Zigzag Stage MIGA runs FIFO's diagonal queue of window x partitions = {t} steps, which "
                f"must exceed the window ({f}); set partitions to at least 2 in FIFO Queue Init or add a Zigzag Stage")
    # lookahead on FIFO's queue writes each window's later, noisier part behind cleaner context (FIFO §3.4)
    plan = plan_zigzag(f, group, t, e_lvl, m, slide, behind=zz is None and config.lookahead)
    renoise = _check_unified(un, t, e_lvl) if un is not None else None
    refs = _check_reflection(rf, f, group, e_lvl) if rf is not None else 0
    warmup = plan.base_groups * group if config.init == "noise" else 0
    need = int(frames) + warmup
    if un is not None:
        # a window of future past the last output latent: the unified sweeps near the end of the stream read ahead
        # like everywhere else (the official Wan code drops its last 21 latents for the same reason)
        need += f
    stage1 = math.ceil(need / group) * group
    uplan: Optional[UnifiedPlan] = None
    if un is not None:
        # the run's slide, but every written segment keeps at least one latent of context on each side (the
        # unified windows centre it): a window that writes all it reads puts a hard border into every sweep
        uplan = plan_unified(f, e_lvl, t, renoise, slide=max(1, min(plan.slide, f - 2)), total=stage1)
    src = gd.source if gd is not None else "queue"
    span = int(gd.span) if gd is not None else 1
    return MigaSetup(f, t, plan, uplan, rf, refs, m, src, span, warmup, stage1, int(frames), config.init == "clip")


def miga_steps(config: QueueConfig, latent_frames: int) -> int:
    """Length - 1 of the sigma ladder MIGA needs: Zigzag Stage steps, or window x partitions without one."""
    if config.zigzag is not None:
        return int(config.zigzag.steps)
    return config.resolve_window(latent_frames) * int(config.partitions)


def prepare_miga(config: QueueConfig, latent: Tensor, sigmas: Tensor, frames: int) -> MigaSetup:
    """Check a MIGA run's inputs (``latent [B, C, F, H, W]``, the ladder ``sigmas [T + 1]``, ``frames`` output
    latents) and resolve its set-up: once per run, before any model call; ``ValueError`` names the input and the
    fix."""
    if latent.ndim != 5:
        raise ValueError(f"latent must be a video latent [batch, channels, frames, height, width], got shape "
                         f"{tuple(latent.shape)}")
    if config.init not in INIT_MODES:
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
    return setup
