"""The queue configuration that flows between the pack's nodes (the ``IV_QUEUE`` wire type).

"FIFO Queue Init" creates it; each MIGA node returns an extended copy (``dataclasses.replace``), so a graph reads
``FIFO Queue Init -> Zigzag Stage -> Unified Stage -> Self-Reflection -> Long-Range Guidance -> sampler`` and any part
can be left out. It is frozen: ComfyUI caches node outputs and passes them by reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .plan import FifoPlan, plan_fifo


@dataclass(frozen=True)
class QueueConfig:
    """FIFO-Diffusion queue settings, plus optional MIGA parts.

    ``window``: latent frames per model call (0 = the sampler latent's frame count). ``partitions``: blocks ``n``;
    the schedule has ``window * partitions`` steps. ``lookahead``: FIFO §3.4. ``init``: ``"clip"`` or ``"noise"``.
    """

    window: int = 0
    partitions: int = 2
    lookahead: bool = True
    init: str = "noise"
    zigzag: Optional[Any] = None
    unified: Optional[Any] = None
    reflection: Optional[Any] = None
    guidance: Optional[Any] = None

    def resolve_window(self, latent_frames: int) -> int:
        return self.window if self.window > 0 else latent_frames

    def fifo_plan(self, latent_frames: int) -> FifoPlan:
        return plan_fifo(self.resolve_window(latent_frames), self.partitions, self.lookahead, self.init)

    @property
    def is_miga(self) -> bool:
        return any(p is not None for p in (self.zigzag, self.unified, self.reflection, self.guidance))
