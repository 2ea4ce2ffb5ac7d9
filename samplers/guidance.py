"""Long-range frame guidance for MIGA (arXiv 2605.18233): which latents are prepended to a window as memory.

MIGA feeds a Stage-1 window ``W = f - m`` queue latents plus ``m`` (``m_guid``, 4 by default) *memory* latents taken
from further back in time, so the model always sees ``f`` frames and distant content stays consistent. The memory
latents are prepended (temporally before the window), keep their own noise level in the per-frame sigma vector, and
their outputs are discarded. Two sources are described, and this module provides both:

- ``"queue"`` (the official code, ``XiaokunFeng/MIGA``): :func:`memory_positions` picks ``m`` latents that are still
  *in the queue*, in front of the window, so they are a few levels less noisy than the window but not clean.
- ``"history"`` (the paper's wording, "clean distant frames"): :class:`HistoryBank` keeps a bounded history of latents
  that already *left* the queue and samples ``m`` of them evenly over a longer past. This is our reading of the paper;
  the official code never does it. The denoiser gets their true stream positions (:mod:`.denoiser`); a Wan model
  sees them at those positions, far gaps shortened to its trained span (``nodes/positions.py``), while LTX-Video and
  Cosmos Predict2 take them for the adjacent past. Read as the adjacent past, on the analytic oracle
  (``python -m tools.bench.oracle``: an AR(1) video with its exact denoiser) that adds spurious long-range
  correlation and keeps lowering the variance along the video, where in-queue memory does neither, so ``"queue"`` is
  the default (figures: ``docs/benchmarks.md``, analytic oracle).

Positions are queue indices in the MIGA queue convention: index 0 is the front (oldest, least noisy latent); windows
are described by their first queue index ``start`` (see :mod:`.miga_partition`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, Optional, TypeVar

MEMORY_SOURCES = ("queue", "history")

T = TypeVar("T")


def default_offset(group: int) -> int:
    """The in-group offset of the group-wise memory rule: ``L // 2``, at least 1.

    ``L // 2`` reproduces both official constants (VC2 ``L = 4`` → 2, Wan ``L = 7`` → 3, hard-coded there). The
    floor of 1 only matters for ``L = 1`` (never used officially): offset 0 would pick the window's own first latent.
    """
    return max(1, int(group) // 2)


def memory_positions(start: int, m: int, group: int, offset: Optional[int] = None) -> tuple[int, ...]:
    """Queue indices of the ``m`` memory latents for a window starting at queue index ``start`` (official rule).

    With ``L = group`` and ``off = offset`` (default :func:`default_offset`), ascending (oldest first):

    - ``start < m``: none; the caller widens the window to ``f = W + m`` queue latents instead;
    - ``m <= start < m * L``: stride ``s = start // m``: ``start - m*s, ..., start - 2s, start - s`` (the queue head);
    - ``start >= m * L``: one latent per preceding group: ``start - off - (m-1)*L, ..., start - off - L, start - off``.

    Every position is ``>= 0`` and ``< start``, so memory never overlaps the window it guides.
    """
    start, m, group = int(start), int(m), int(group)
    if m < 0:
        raise ValueError(f"guidance latents m_guid must be >= 0, got {m}")
    if group < 1:
        raise ValueError(f"group width L_zig must be >= 1, got {group}")
    if start < 0:
        raise ValueError(f"window start must be a queue index >= 0, got {start}")
    off = default_offset(group) if offset is None else int(offset)
    if not 1 <= off <= group:
        # off < 1 would reach into the window itself; off > L could reach before index 0 at start == m * L
        raise ValueError(f"memory offset must be in [1, L_zig={group}], got {off}; leave it unset for L_zig // 2")
    if m == 0 or start < m:
        return ()
    if start < m * group:
        s = start // m
        return tuple(start - (m - j) * s for j in range(m))
    return tuple(start - off - (m - 1 - j) * group for j in range(m))


@dataclass
class HistoryBank(Generic[T]):
    """A bounded history of finished latents, sampled sparsely as long-range memory (the paper's variant).

    Frames are numbered in the order they were added (``0, 1, 2, ...``, never reused); the bank holds the newest
    ``capacity`` of them, so memory is bounded whatever the video length. A frame is whatever the caller stores,
    typically one finished latent ``[B, C, 1, H, W]``; the caller also knows its noise level (the level at which it
    left, e.g. clean after the unified stage) and must put that level in the window's per-frame sigma vector.
    """

    capacity: int
    _frames: deque[T] = field(init=False, repr=False)
    total: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if int(self.capacity) < 1:
            raise ValueError(f"history capacity must be at least 1 latent, got {self.capacity}")
        self.capacity = int(self.capacity)
        self._frames = deque(maxlen=self.capacity)

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def oldest(self) -> int:
        """Index of the oldest frame still held (equals :attr:`total` when the bank is empty)."""
        return self.total - len(self._frames)

    def add(self, frame: T) -> int:
        """Store a finished frame (dropping the oldest when full) and return its index."""
        self._frames.append(frame)
        self.total += 1
        return self.total - 1

    def frames(self) -> list[tuple[int, T]]:
        """``(index, frame)`` of every frame held, oldest first (for saving a run's state)."""
        return [(self.oldest + i, f) for i, f in enumerate(self._frames)]

    def restore(self, total: int, frames: list[tuple[int, T]]) -> None:
        """Load what :meth:`frames` returned and the count ``total`` of frames ever added."""
        self._frames.clear()
        self._frames.extend(f for _, f in frames)
        self.total = int(total)

    def __getitem__(self, index: int) -> T:
        if not self.oldest <= index < self.total:
            raise IndexError(f"history frame {index} is not held (held: {self.oldest}..{self.total - 1})")
        return self._frames[index - self.oldest]

    def sample_indices(self, m: int, span: int) -> tuple[int, ...]:
        """``m`` frame indices evenly spread over the last ``span`` finished frames, oldest first (deterministic).

        With ``s = min(span, len(self))`` candidates ``total - s .. total - 1``, index ``j`` (``0 <= j < m``) is
        ``total - s + round(j * (s - 1) / (m - 1))`` (round half up), so the newest and the oldest candidate are
        always included and the picks are distinct; ``m = 1`` gives the newest frame. If fewer than ``m`` frames are
        held, all of them are returned (the caller falls back to queue memory, or widens the window).
        """
        m, span = int(m), int(span)
        if m < 0:
            raise ValueError(f"guidance latents m_guid must be >= 0, got {m}")
        if span < 1:
            raise ValueError(f"history span must be at least 1 latent, got {span}")
        if span > self.capacity:
            raise ValueError(
                f"history span {span} is longer than the bank's capacity {self.capacity}; raise the capacity to at "
                f"least {span} or shorten the span"
            )
        s = min(span, len(self._frames))
        if m == 0 or s == 0:
            return ()
        first = self.total - s
        if m >= s:
            return tuple(range(first, self.total))
        if m == 1:
            return (self.total - 1,)
        # integer round-half-up of j*(s-1)/(m-1): exact, no float ties
        return tuple(first + (2 * j * (s - 1) + (m - 1)) // (2 * (m - 1)) for j in range(m))

    def sample(self, m: int, span: int) -> list[T]:
        """The frames at :meth:`sample_indices` ``(m, span)``, oldest first."""
        return [self[i] for i in self.sample_indices(m, span)]

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "held": len(self._frames), "total": self.total, "oldest": self.oldest}
