"""MIGA's schedule as pure data: the conventions shared by the per-stage plan modules, and their public names.

MIGA (arXiv 2605.18233) extends a short clip into a long video with a queue of single-frame latents whose noise levels
form a *zigzag* staircase: groups of ``L`` (``L_zig``) consecutive latents share one level and adjacent groups differ by
one level. Every iteration one *sweep* over the queue moves every latent one level down the ladder; the front group
leaves at the end-of-Stage-1 level and a group of fresh noise enters at the tail (§5 of ``docs/miga.md``). The
finished latents then go through a *unified* stage in which every window holds latents at one common level, followed
by a re-noise and a second pass ("add-and-re-denoise", §6). Everything in these modules is integers; the sampling loop
that calls a model is :mod:`.miga`.

Conventions (they differ from both official backbones, see ``docs/miga.md`` §0):

- queue index 0 is the *front*: the oldest, least noisy latent; fresh noise is appended at the tail;
- a latent's *level* indexes a descending sigma ladder ``sigmas[0..T]`` (``T = steps``): level 0 is the noisiest
  (``sigmas[0]``), level ``T`` is clean; one step moves a latent from level ``k`` to ``k + 1``;
- a window is a pair ``(start, cal)``: the model reads ``W`` consecutive latents ``q[start : start + W]`` (plus memory)
  and only its first ``cal`` outputs are written back to ``q[start : start + cal]``; the rest is look-ahead context.
  Every partition covers every queue index exactly once per sweep. :class:`MigaWindow` is the resolved form (memory,
  the exact range read, the range written and where the written outputs sit in the model output).

Generalisations of the official hard-coded constants (``docs/miga.md`` §11 trap 3): everything is derived from the
model window ``f``, the group width ``L``, the number of steps ``T``, the end-of-Stage-1 level ``E`` and the number of
guidance latents ``m``. The base clip's ``f`` latents seed ``f // L`` groups at levels ``f // L, ..., 1`` (the official
re-noise levels for both backbones, once converted to this ladder), one fresh group sits at level 0, and the queue
grows by one group per iteration until its front reaches ``E``; from then on it holds ``E`` groups (``E * L``
latents) between sweeps and dequeues one group per iteration. The plans' default slide is ``f // 2`` (8 for ``f = 16``,
10 for ``f = 21``, the official values; the sampler's auto slide is ``f - m``, see :func:`.miga.resolve_miga`); the
memory offset is ``L // 2`` (:func:`.guidance.default_offset`).

One file per part:

- :mod:`.miga_partition`: the size checks, the window partitions of one sweep and :class:`MigaWindow`;
- :mod:`.zigzag_plan`: Stage 1, the zigzag queue (:func:`plan_zigzag`, :func:`simulate_zigzag`);
- :mod:`.unified_plan`: Stage 2, the unified stage streamed as a wavefront (:func:`plan_unified`,
  :func:`simulate_unified`).

This module re-exports their public names, so ``from .miga_plan import ...`` keeps working.
"""

from __future__ import annotations

from .miga_partition import (  # noqa: F401
    MigaWindow,
    check_group_width,
    check_guidance,
    default_slide,
    dynamic_partition,
    static_partition,
)
from .unified_plan import (  # noqa: F401
    UnifiedPlan,
    UnifiedSimulation,
    plan_unified,
    simulate_unified,
)
from .zigzag_plan import GroupExit, ZigzagEvent, ZigzagPlan, plan_zigzag, simulate_zigzag  # noqa: F401
