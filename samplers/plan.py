"""The FIFO-Diffusion schedule as pure data: which queue slots each window reads and writes, and each slot's level.

FIFO-Diffusion (Kim et al. 2024, arXiv 2405.11473) keeps a queue of ``Q = f * n`` latent frames whose noise levels
increase from the head (slot ``pad``, next to leave) to the tail (slot ``pad + Q - 1``, fresh noise). Every iteration
each proper slot takes one solver step, the head leaves clean and the tail is refilled, so the number of diffusion
steps equals ``Q`` (§3.2, *diagonal denoising*; §3.3, *latent partitioning* into ``n`` blocks of the model's window
``f``). *Lookahead denoising* (§3.4) runs ``2n`` windows at stride ``f/2`` and writes back only their later half, so
every updated frame sees cleaner frames in front of it; ``pad`` slots at the head keep the most recently finished
frames as that context.

Conventions (shared by the sampler, the tests and the web widget through :meth:`FifoPlan.to_dict`):

- slot ``0`` is the clean end; the padded queue has ``pad + Q`` slots;
- ``levels[slot]`` indexes a descending sigma ladder ``sigmas[0..Q]`` with ``sigmas[Q] == 0``: proper slot ``p``
  (``0 <= p < Q``) sits at ``Q - 1 - p`` and steps to ``Q - p``; padding slots sit at ``Q`` (clean) and never step;
- windows are listed in processing order (noisiest first). Write regions tile ``[pad, pad + Q)`` exactly once and no
  window reads a region a window before it wrote, so in-place processing equals a parallel update from a snapshot.

Departure from the official code: lookahead works for any window length. Even ``f`` gives the paper's layout;
odd ``f`` alternates write regions of ``ceil(f/2)`` and ``floor(f/2)`` frames (the official VideoCrafter path
overlaps and skips slots for odd ``f``, the Open-Sora path does so for even ``f``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

INIT_MODES = ("clip", "noise")


@dataclass(frozen=True)
class Window:
    """One model call: read slots ``[start, stop)`` (always ``f`` of them), write back ``[write_start, write_stop)``."""

    start: int
    stop: int
    write_start: int
    write_stop: int


@dataclass(frozen=True)
class FifoPlan:
    """A FIFO-Diffusion queue layout. Build it with :func:`plan_fifo`."""

    window: int
    partitions: int
    lookahead: bool
    init: str
    pad: int
    queue: int
    levels: tuple[int, ...]
    windows: tuple[Window, ...]

    @property
    def steps(self) -> int:
        """Diffusion steps a frame takes through the queue (the sigma ladder has ``steps + 1`` entries)."""
        return self.queue

    @property
    def slots(self) -> int:
        return self.pad + self.queue

    @property
    def head(self) -> int:
        """The slot whose frame leaves the queue (clean) at the end of each iteration."""
        return self.pad

    @property
    def warmup(self) -> int:
        """Frames that leave before the first output frame.

        ``clip``: the queue starts as a clip re-noised diagonally; the first ``Q - f`` leaving frames are re-noised
        copies of its first frame, the next ``f`` are its re-generations (kept, as in the paper).
        ``noise``: the queue starts as noise; everything in it at the start is discarded (``Q`` frames).
        """
        return self.queue - self.window if self.init == "clip" else self.queue

    def iterations(self, frames: int) -> int:
        """Iterations to emit ``frames`` output frames."""
        return self.warmup + frames

    def model_calls_per_iteration(self) -> int:
        return len(self.windows)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["windows"] = [asdict(w) for w in self.windows]
        d["levels"] = list(self.levels)
        d.update(steps=self.steps, slots=self.slots, head=self.head, warmup=self.warmup)
        return d


def plan_fifo(window: int, partitions: int = 1, lookahead: bool = False, init: str = "clip") -> FifoPlan:
    """Lay out the FIFO queue for a model window of ``window`` latent frames and ``partitions`` blocks."""
    if int(window) < 1:
        raise ValueError(f"window_length must be at least 1 latent frame, got {window}")
    if int(partitions) < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    if lookahead and window < 2:
        raise ValueError("lookahead needs a window of at least 2 latent frames; turn lookahead off or widen the window")
    if init not in INIT_MODES:
        raise ValueError(f"Unknown init mode {init!r}: choose one of {', '.join(INIT_MODES)}")
    f, n = int(window), int(partitions)
    q = f * n
    windows: list[Window] = []
    if lookahead:
        big, small = (f + 1) // 2, f // 2
        sizes = [big, small] * n  # sums to f * n; even f gives 2n regions of f/2
        pad = f - sizes[0]
        pos = pad
        for w in sizes:
            windows.append(Window(pos + w - f, pos + w, pos, pos + w))
            pos += w
    else:
        pad = 0
        windows = [Window(k * f, (k + 1) * f, k * f, (k + 1) * f) for k in range(n)]
    levels = tuple([q] * pad + [q - 1 - p for p in range(q)])
    return FifoPlan(f, n, bool(lookahead), init, pad, q, levels, tuple(reversed(windows)))


def check_plan(plan: FifoPlan) -> None:
    """Assert the invariants the sampler relies on (used by tests and as a guard for hand-built plans)."""
    written = [0] * plan.slots
    for k, w in enumerate(plan.windows):
        assert w.stop - w.start == plan.window, f"window {k} reads {w.stop - w.start} slots, not {plan.window}"
        assert 0 <= w.start and w.stop <= plan.slots
        assert w.start <= w.write_start < w.write_stop <= w.stop
        for later in plan.windows[:k]:
            # an earlier-processed window must not have written what this one reads
            assert later.write_stop <= w.start or later.write_start >= w.stop or later is w
        for s in range(w.write_start, w.write_stop):
            written[s] += 1
    assert written == [0] * plan.pad + [1] * plan.queue, "write regions must tile the proper queue exactly once"
