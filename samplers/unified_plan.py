"""MIGA Stage 2 as pure data: the unified stage, streamed as a wavefront (arXiv 2605.18233).

Notes: ``docs/algorithms/miga.md`` (section 4, Stage 2; section 5, where we differ).

The official Stage 2 holds *every* Stage-1 output latent in memory, labels them all with the unified level and sweeps
the whole video: sweep ``j`` takes every latent from ``sweep_levels[j]`` to ``sweep_levels[j] + 1`` with windows of
``f`` latents that all sit at that one level (as in training), each window reading the pre-sweep video (Jacobi).
Memory grows with the video and nothing is emitted until the end (``docs/algorithms/miga.md``, section 6).

Here the *same* sweeps run, window for window, but streamed: a window of sweep ``j`` only needs the ``f`` latents it
reads to have taken ``j`` sweeps, so it runs as soon as they have, long before the rest of the video exists. The
latents in flight form a staircase of ``S`` sweep levels (like FIFO-Diffusion's diagonal queue, one *sweep* per rung
instead of one step), each rung holding the latents that the next window of its sweep still has to read: fewer than
``f + slide`` per rung, so memory is bounded by ``S (f + slide)`` latents whatever the video length
(:func:`simulate_unified`). The result is the whole-video sweep's, exactly, for every stream position: there are no
chunk borders and no recomputed look-ahead: independent blocks behind a re-noised frozen context would show their
borders as a drop of lag-1 correlation on the analytic oracle (``tests/test_oracle.py``).

Partition of sweep ``j`` (a departure from the official ``dynamic_partition``, whose last window ``(n - f, f)`` makes
a border that sits at the same place in every sweep): the written segments rotate, ``[0, r)`` with
``r = j mod slide`` if ``r > 0``, then segments of ``slide`` latents up to the end (the last one shorter); a segment
``[a, b)`` is written by the window of ``f`` latents that has it in its middle (``(f - slide) // 2`` latents of
context before it, the rest after), shifted to stay inside the video at its ends, so every border has context on
both sides (the official windows write their front part and read ahead only). Every latent is written exactly once
per sweep and every border moves between sweeps. The sampler keeps ``slide <= f - 2`` here: windows that write all
they read put a hard border into every sweep, and with few sweeps per pass the last sweeps' borders show on the
oracle (``docs/benchmarks.md``).

The video's length ``total`` (the latents Stage 1 delivers) is known in advance; the sampler makes Stage 1 deliver
``f`` latents past the last output latent, so the last output latent has a full window of future in every sweep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

from .miga_partition import MigaWindow, default_slide, segment_at, segment_count


@dataclass(frozen=True)
class UnifiedPlan:
    """The unified stage over a video of ``total`` latents (see the module docstring). Build it with
    :func:`plan_unified`.

    Sweep ``j`` moves every latent from ``sweep_levels[j]`` to ``sweep_levels[j] + 1``; the latents entering sweep
    ``renoise_sweep`` (if any), clean by then, are first re-noised with fresh noise to ``renoise_level``.
    """

    window: int
    start_level: int
    steps: int
    renoise_level: Optional[int]
    slide: int
    total: int
    sweep_levels: tuple[int, ...]
    renoise_sweep: Optional[int]

    @property
    def sweeps(self) -> int:
        """Unified steps every latent takes (``T - E``, plus ``T - R`` with a re-noise)."""
        return len(self.sweep_levels)

    def count(self, sweep: int) -> int:
        """Windows of sweep ``sweep``."""
        return segment_count(self.total, self.slide, sweep)

    def window_at(self, sweep: int, k: int) -> MigaWindow:
        """Window ``k`` (left to right) of sweep ``sweep``; positions are stream ids."""
        a, b = segment_at(self.total, self.slide, sweep, k)
        # the segment sits in the middle of the window: context on both sides of every border
        start = max(0, min(a - (self.window - self.slide) // 2, self.total - self.window))
        return MigaWindow((), start, start + self.window, a, b)

    def windows(self, sweep: int) -> tuple[MigaWindow, ...]:
        return tuple(self.window_at(sweep, k) for k in range(self.count(sweep)))

    def keep_from(self, sweep: int, done: int) -> int:
        """First stream id still needed at sweep level ``sweep`` once ``done`` of its windows ran (``total`` if
        none)."""
        return self.window_at(sweep, done).read_start if done < self.count(sweep) else self.total

    def next_window(self, held: Sequence[int], done: Sequence[int]) -> Optional[tuple[int, MigaWindow]]:
        """The window to run now, as ``(sweep, window)``, or ``None`` to wait for Stage 1.

        ``held[j]``: latents ``[.., held[j])`` have taken exactly ``j`` sweeps (``held[0]``: latents arrived);
        ``done[j]``: windows of sweep ``j`` already run. The latest sweep goes first, so finished latents leave and
        memory drains before more is read in.
        """
        for j in range(self.sweeps - 1, -1, -1):
            if done[j] < self.count(j) and self.window_at(j, done[j]).read_stop <= held[j]:
                return j, self.window_at(j, done[j])
        return None

    def calls_per_latent(self) -> float:
        """Model calls per latent of the video (every window of every sweep, once)."""
        return sum(self.count(j) for j in range(self.sweeps)) / self.total

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sweep_levels"] = list(self.sweep_levels)
        d.update(sweeps=self.sweeps, calls_per_latent=self.calls_per_latent())
        return d


def plan_unified(
    window: int,
    start_level: int,
    steps: int,
    renoise_level: Optional[int] = None,
    slide: Optional[int] = None,
    *,
    total: int,
) -> UnifiedPlan:
    """Lay out the unified stage for ``total`` latents arriving at ``start_level`` (= Stage 1's ``end_level``).

    Pass 1 takes them from ``start_level`` to ``steps`` (clean); with ``renoise_level`` they are re-noised to it and
    pass 2 takes them to clean again. Official: VC2 ``(16, 54, 64, 53)``, Wan ``(21, 44, 54, 44)``; the official Wan
    first pass stops one step short of clean (trap 4), ours reaches it. ``slide`` defaults to ``f // 2``.
    """
    f, e, t, n = int(window), int(start_level), int(steps), int(total)
    if f < 1:
        raise ValueError(f"window f must be at least 1 latent frame, got {window}")
    if t < 1:
        raise ValueError(f"steps T must be at least 1, got {t}")
    if not 0 <= e < t:
        raise ValueError(f"start_level must be in [0, steps - 1 = {t - 1}] (Stage 1's end_level, above clean), got {e}")
    if renoise_level is not None and not 0 <= int(renoise_level) < t:
        raise ValueError(f"renoise_level must be in [0, steps={t}) or None for no re-denoise pass, got {renoise_level}")
    s = default_slide(f) if slide is None else int(slide)
    if not 1 <= s <= f:
        raise ValueError(f"slide must be in [1, f={f}], got {s}")
    if n < f:
        raise ValueError(f"the unified stage needs at least window f={f} latents in total, got {n}; generate more "
                         f"frames or use a shorter window")
    levels = list(range(e, t))
    renoise_sweep: Optional[int] = None
    if renoise_level is not None:
        renoise_sweep = len(levels)
        levels += list(range(int(renoise_level), t))
    return UnifiedPlan(f, e, t, None if renoise_level is None else int(renoise_level), s, n, tuple(levels),
                       renoise_sweep)


@dataclass(frozen=True)
class UnifiedSimulation:
    """Result of :func:`simulate_unified`: emission order, per-latent final level and steps, cost and memory."""

    emitted: tuple[int, ...]
    final_levels: tuple[int, ...]
    steps: tuple[int, ...]
    model_calls: int
    max_resident: int
    errors: int


def simulate_unified(plan: UnifiedPlan, arrival: int) -> UnifiedSimulation:
    """Stream the video through the unified stage, ``arrival`` latents at a time, on integers (no tensors).

    Runs :meth:`UnifiedPlan.next_window` as the sampler does. A written latent gains one level (the re-noise sets
    it to ``renoise_level``); ``errors`` counts windows that read a latent the previous sweep has not written yet,
    or one no longer held, or that write out of order, and latents written other than once per sweep.
    ``max_resident`` is the most latents held at once over all sweep levels (what the sampler keeps besides Stage 1's
    queue).
    """
    arrival = int(arrival)
    if arrival < 1:
        raise ValueError(f"arrival must be at least 1 latent, got {arrival}")
    s, n = plan.sweeps, plan.total
    level = [plan.start_level] * n
    steps = [0] * n
    writes = [[0] * s for _ in range(n)]
    held, done, lo = [0] * (s + 1), [0] * s, [0] * s
    emitted: list[int] = []
    calls = errors = max_res = 0
    while held[0] < n or len(emitted) < n:
        nxt = plan.next_window(held, done)
        if nxt is None:
            if held[0] >= n:
                errors += 1  # stuck with the whole video arrived
                break
            held[0] = min(n, held[0] + arrival)
            max_res = max(max_res, sum(held[j] - lo[j] for j in range(s)))
            continue
        j, win = nxt
        calls += 1
        if win.read_start < lo[j] or win.read_stop > held[j] or win.frames != plan.window:
            errors += 1
        if j and any(writes[p][j - 1] != 1 for p in range(win.read_start, win.read_stop)):
            errors += 1  # reads a latent sweep j - 1 has not written yet
        if win.write_start != held[j + 1]:
            errors += 1
        for p in range(win.write_start, win.write_stop):
            writes[p][j] += 1
            steps[p] += 1
            level[p] = plan.sweep_levels[j] + 1
            if j + 1 == plan.renoise_sweep and plan.renoise_level is not None:
                level[p] = plan.renoise_level
        done[j] += 1
        lo[j] = plan.keep_from(j, done[j])
        held[j + 1] = win.write_stop
        if j + 1 == s:
            emitted += range(win.write_start, win.write_stop)
        else:
            max_res = max(max_res, sum(held[i] - lo[i] for i in range(s)))
    errors += sum(1 for w in writes for c in w if c != 1)
    return UnifiedSimulation(tuple(emitted), tuple(level), tuple(steps), calls, max_res, errors)
