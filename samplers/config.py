"""The queue configuration that flows between the pack's nodes (the ``IV_QUEUE`` wire type).

"FIFO Queue Init" creates it; each MIGA node returns an extended copy (``dataclasses.replace``), so a graph reads
``FIFO Queue Init -> Zigzag Stage -> Unified Stage -> Self-Reflection -> Long-Range Guidance -> sampler`` and any part
can be left out. It is frozen: ComfyUI caches node outputs and passes them by reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .plan import FifoPlan, plan_fifo


@dataclass(frozen=True)
class ZigzagConfig:
    """MIGA Stage 1 (zigzag): ``steps`` = ladder length T, ``group`` = L_zig, stage 1 ends at step ``end_step`` (E),
    ``slide`` = window stride of every MIGA sweep (stage 1, unified stage, self-reflection's regeneration); 0 = auto =
    ``f - m_guid``: each window writes every queue latent it reads and the borders rotate between sweeps (ours; the
    official Wan 2.1 code slides half the window, 10, the rest being look-ahead context).

    The defaults of these MIGA dataclasses are the official Wan 2.1 configuration (Feng et al., arXiv 2605.18233) and
    the one place each default lives: the nodes' widgets and the ``wan21`` preset (:mod:`.miga_presets`) read them.
    """

    steps: int = 54
    group: int = 7
    end_step: int = 44
    slide: int = 0


@dataclass(frozen=True)
class UnifiedConfig:
    """MIGA Stage 2 (unified level): ``steps`` must be T - E; with ``renoise`` the finished latents are re-noised to
    ladder step ``renoise_step`` (official: the stage-1 end step) and denoised again to clean."""

    steps: int = ZigzagConfig.steps - ZigzagConfig.end_step
    renoise: bool = True
    renoise_step: int = ZigzagConfig.end_step


@dataclass(frozen=True)
class ReflectionConfig:
    """MIGA self-reflection: ``candidates`` regenerations per trigger, trigger ``threshold`` on the similarity drop,
    ``metric`` (``pairwise_denoised`` = Wan's metric on the model's clean estimates, ours, the default: it ignores
    the noise that dominates the judged latents; ``pairwise`` = official Wan and ``mean_map`` = official
    VideoCrafter2, both on the noisy latents) and the ``judged_level`` (steps done from noise)."""

    candidates: int = 3
    threshold: float = 0.01
    metric: str = "pairwise_denoised"
    judged_level: int = 10


@dataclass(frozen=True)
class GuidanceConfig:
    """MIGA long-range guidance: ``latents`` = m_guid memory latents per window; ``source`` ``queue`` (official code:
    in-queue latents; the default) or ``history`` (the paper's wording: finished latents, the last ``span`` kept)."""

    latents: int = 4
    source: str = "queue"
    span: int = 64


@dataclass(frozen=True)
class ContinuationConfig:
    """Chunked continuation (:mod:`.continuation`): each iteration denoises ``chunk`` new latents over the whole
    ladder behind clean context: ``anchors`` early latents (output latents ``0, anchor_every, ...``, kept for the
    whole run, at their true positions) and the newest finished latents filling the rest of the window.

    ``shared_level``: the context is re-noised to the chunk's level at every step instead of held at sigma 0, so the
    whole window shares one level (for models that take one timestep per window, e.g. Wan VACE; such a model turns
    it on by itself, see :func:`.denoiser.needs_one_level`).

    ``in_flight``: chunks denoised at once, each ``ceil(steps / in_flight)`` steps further down the ladder than the
    next, so a chunk is emitted every ``ceil(steps / in_flight)`` calls instead of every ``steps`` (a pipeline: the
    window holds ``in_flight`` chunks beside the context).

    ``track``: tracked context (implies one level per window): after every call the context's noise moves by
    ``track * alpha * (clean - D_context) / sigma``, so the model reads the context ever closer to its clean latents
    (0 = off). ``denoise``: the share of the ladder a chunk after the first runs; below 1 it starts from the newest
    finished latent, repeated and noised to that step's level, instead of from pure noise (1 = the whole ladder)."""

    chunk: int = 5
    anchors: int = 3
    anchor_every: int = 24
    shared_level: bool = False
    in_flight: int = 1
    track: float = 0.0
    denoise: float = 1.0

    @property
    def tracked(self) -> bool:
        return float(self.track) > 0


@dataclass(frozen=True)
class QueueConfig:
    """FIFO-Diffusion queue settings, plus optional MIGA parts.

    ``window``: latent frames per model call (0 = the sampler latent's frame count). ``partitions``: blocks ``n``;
    the schedule has ``window * partitions`` steps. ``lookahead``: FIFO §3.4. ``init``: ``"clip"`` or ``"noise"``.
    ``continuation``: replaces the queue by chunked continuation on the same ladder (no MIGA parts with it).
    ``group``: frames sharing a level in FIFO's queue (the ladder has ``window * partitions / group`` steps).
    ``init`` ``"auto clip"`` makes the first clip natively inside the sampler (:mod:`.fifo_auto`).
    """

    window: int = 0
    partitions: int = 2
    lookahead: bool = True
    init: str = "noise"
    zigzag: Optional[ZigzagConfig] = None
    unified: Optional[UnifiedConfig] = None
    reflection: Optional[ReflectionConfig] = None
    guidance: Optional[GuidanceConfig] = None
    continuation: Optional[ContinuationConfig] = None
    group: int = 1

    def resolve_window(self, latent_frames: int) -> int:
        return self.window if self.window > 0 else latent_frames

    def fifo_plan(self, latent_frames: int) -> FifoPlan:
        return plan_fifo(self.resolve_window(latent_frames), self.partitions, self.lookahead, self.init,
                         self.group)

    @property
    def is_miga(self) -> bool:
        return any(p is not None for p in (self.zigzag, self.unified, self.reflection, self.guidance))
