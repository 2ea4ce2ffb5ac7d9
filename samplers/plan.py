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
- ``levels[slot]`` indexes a descending sigma ladder ``sigmas[0..S]`` (``S = Q / group`` steps) with
  ``sigmas[S] == 0``: proper slot ``p`` (``0 <= p < Q``) sits at ``S - 1 - p // group`` and steps one level down;
  padding slots sit at ``S`` (clean) and never step;
- windows are listed in processing order (noisiest first). Write regions tile ``[pad, pad + Q)`` exactly once and no
  window reads a region a window before it wrote, so in-place processing equals a parallel update from a snapshot.

*Groups* (as MIGA's zigzag queue, Feng et al., arXiv 2605.18233): with ``group = g`` the ``g`` frames of a group share
a level, so the ladder has ``Q / g`` steps and each iteration emits a whole group. A model distilled for ``s`` steps
runs the queue at ``s`` levels: ``window / g * partitions == s``. Calls per output frame are ``partitions / g`` (x2
with lookahead), which is native chunked generation's ``s / window`` when lookahead is off.

Departure from the official code: lookahead works for any window length. Even ``f`` gives the paper's layout;
odd ``f`` alternates write regions of ``ceil(f/2)`` and ``floor(f/2)`` frames (the official VideoCrafter path
overlaps and skips slots for odd ``f``, the Open-Sora path does so for even ``f``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

AUTO_CLIP = "auto clip"
INIT_MODES = ("clip", "noise", AUTO_CLIP)


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
    group: int = 1

    @property
    def steps(self) -> int:
        """Diffusion steps a frame takes through the queue (the sigma ladder has ``steps + 1`` entries)."""
        return self.queue // self.group

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
        ``auto clip``: nothing is discarded (the sampler makes the first clip natively and emits it, see
        :class:`.fifo.FifoRun`).
        """
        if self.init == AUTO_CLIP:
            return 0
        return self.queue - self.window if self.init == "clip" else self.queue

    def iterations(self, frames: int) -> int:
        """Iterations to emit ``frames`` output frames (a group per iteration; the last may be partly needed).

        ``auto clip``: one iteration for the native clip, then the queue fills from empty behind the clip and
        drains at the end: ``ceil((frames - window) / group) + steps - 1`` more when the video is longer than
        the clip."""
        g = self.group
        if self.init == AUTO_CLIP:
            rest = max(0, int(frames) - self.window)
            return 1 + ((-(-rest // g) + self.steps - 1) if rest else 0)
        return -(-(self.warmup + int(frames)) // g)

    def model_calls_per_iteration(self) -> int:
        return len(self.windows)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["windows"] = [asdict(w) for w in self.windows]
        d["levels"] = list(self.levels)
        d.update(steps=self.steps, slots=self.slots, head=self.head, warmup=self.warmup)
        return d


def plan_fifo(window: int, partitions: int = 1, lookahead: bool = False, init: str = "clip",
              group: int = 1) -> FifoPlan:
    """Lay out the FIFO queue for a model window of ``window`` latent frames, ``partitions`` blocks and frames
    sharing a level in groups of ``group``."""
    if int(window) < 1:
        raise ValueError(f"window_length must be at least 1 latent frame, got {window}")
    if int(partitions) < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    if lookahead and window < 2:
        raise ValueError("lookahead needs a window of at least 2 latent frames; turn lookahead off or widen the window")
    if init not in INIT_MODES:
        raise ValueError(f"Unknown init mode {init!r}: choose one of {', '.join(INIT_MODES)}")
    f, n, g = int(window), int(partitions), int(group)
    if g < 1:
        raise ValueError(f"group_size must be at least 1 latent frame, got {g}")
    if f % g:
        fits = [d for d in range(1, f + 1) if f % d == 0]
        raise ValueError(f"group_size {g} does not divide window_length {f}: a window holds whole groups; choose a "
                         f"group_size among {', '.join(map(str, fits))} or change window_length")
    if lookahead and f // g < 2:
        raise ValueError(f"lookahead needs at least 2 groups per window (window_length {f} / group_size {g}); turn "
                         f"lookahead off or lower group_size")
    q = f * n
    windows: list[Window] = []
    if lookahead:
        big, small = (f // g + 1) // 2 * g, f // g // 2 * g  # write regions hold whole groups
        sizes = [big, small] * n  # sums to f * n; even f gives 2n regions of f/2
        pad = f - sizes[0]
        pos = pad
        for w in sizes:
            windows.append(Window(pos + w - f, pos + w, pos, pos + w))
            pos += w
    else:
        pad = 0
        windows = [Window(k * f, (k + 1) * f, k * f, (k + 1) * f) for k in range(n)]
    steps = q // g
    levels = tuple([steps] * pad + [steps - 1 - p // g for p in range(q)])
    return FifoPlan(f, n, bool(lookahead), init, pad, q, levels, tuple(reversed(windows)), g)


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
