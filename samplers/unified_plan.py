"""MIGA Stage 2 as pure data: the streaming unified stage (arXiv 2605.18233, ``docs/miga.md`` §6).

A deliberate departure from the official code (``docs/miga.md`` §11 trap 1): the official Stage 2 holds *every* Stage-1 output latent in memory, labels them all with the unified level and sweeps
the whole video, so memory grows with the video and nothing is emitted until the end. Here the unified stage runs on
bounded, overlapping *blocks* instead, and keeps the one property that matters for the model: in training all frames of
a window share one level, so every window of the unified stage holds latents at a single level.

Latents arrive from Stage 1 in order, at level ``E``, and wait in a raw buffer. A block is a run of consecutive
latents ``[context | emit | lookahead]``:

- ``context`` (``c`` latents, default ``f - slide``): the newest *finished* (clean) latents of the previous block.
  They are frozen: before each sweep the caller re-noises them from their clean value to the sweep's level (one noise
  draw per context latent per block, reused at every level, so the context follows a single noising path), the
  windows read them, and nothing is ever written back to them. This is the same mechanism as MIGA's own
  self-reflection regeneration ("frozen leading context", §7); new content is denoised behind content that is
  already final, at the same noise level, so the chunk border does not show.
- ``emit`` (``P`` latents, default ``2 f``): the latents this block finishes. They take *every* unified step exactly
  once (``T - E`` sweeps, then, with ``renoise_level = R``, a re-noise to ``R`` and ``T - R`` more sweeps), leave
  clean as soon as the block ends and are never touched again.
- ``lookahead`` (``h`` latents, default ``f - slide``): the next raw latents, denoised along so that the last emitted
  latents see future frames, then *discarded*: their raw (level ``E``) copy stays in the buffer and they are
  recomputed from scratch as ``emit`` of the next block. With ``h = f - slide`` every emitted latent sees at least
  ``f - slide`` later latents in its window in every sweep, as in the interior of the official full-video sweep; with
  ``c >= slide - 1`` the window that straddles the border can start up to ``slide - 1`` latents inside the context,
  as the rotating offset dictates.

Each sweep of a block uses the official dynamic partition (rotating offset = sweep index, window ``f``, no memory) over
the whole block, with write-back restricted to ``emit`` and ``lookahead``; windows that would write only context are
skipped. The first block has no context (it emits ``c + P`` latents); when the stream ends, a final block emits
everything left, borrowing up to ``f - 1`` finished latents as context so that it still holds ``f`` latents. Memory
is the raw buffer (at most ``c + P + h + arrival - 1`` latents) plus the block being worked on and ``max(c, f - 1)``
finished latents, whatever the video length (:meth:`UnifiedPlan.max_resident`). The price is the recomputed
lookahead (``h / P`` extra work) and the skipped context windows; blocks run as a burst of sweeps when enough latents
have arrived, which changes latency, not total work.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from .miga_partition import MigaWindow, default_slide, dynamic_partition


@dataclass(frozen=True)
class UnifiedBlock:
    """A block of the streaming unified stage, in stream latent ids (0 = first latent out of Stage 1).

    The block's input is latents ``[context_start, stop)``: ``context`` (frozen, finished), ``emit`` (finished by
    this block) and ``lookahead`` (denoised along, then discarded). Block-relative position ``p`` is stream id
    ``context_start + p``.
    """

    context_start: int
    emit_start: int
    emit_stop: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.context_start

    @property
    def frozen(self) -> int:
        """Leading block positions that are context (never written)."""
        return self.emit_start - self.context_start

    @property
    def context(self) -> range:
        return range(self.context_start, self.emit_start)

    @property
    def emit(self) -> range:
        return range(self.emit_start, self.emit_stop)

    @property
    def lookahead(self) -> range:
        return range(self.emit_stop, self.stop)


@dataclass(frozen=True)
class UnifiedPlan:
    """The streaming unified stage (MIGA Stage 2, see the module docstring). Build it with :func:`plan_unified`.

    Sweep ``j`` moves every non-context latent of a block from ``sweep_levels[j]`` to ``sweep_levels[j] + 1``; before
    sweep ``renoise_sweep`` (if any) the block's latents, clean by then, are re-noised with fresh noise to
    ``renoise_level``. Context latents are re-noised from clean to ``sweep_levels[j]`` before every sweep.
    """

    window: int
    start_level: int
    steps: int
    renoise_level: Optional[int]
    slide: int
    context: int
    chunk: int
    lookahead: int
    sweep_levels: tuple[int, ...]
    renoise_sweep: Optional[int]

    @property
    def sweeps(self) -> int:
        """Unified steps every emitted latent takes (``T - E``, plus ``T - R`` with a re-noise)."""
        return len(self.sweep_levels)

    @property
    def first_block(self) -> int:
        """Latents that must have arrived before the first block runs (``c + P + h``)."""
        return self.context + self.chunk + self.lookahead

    @property
    def tail(self) -> int:
        """Finished latents kept as context for later blocks (``max(c, f - 1)``, enough for the final block)."""
        return max(self.context, self.window - 1)

    def max_resident(self, arrival: int) -> int:
        """Bound on latents held at once when Stage 1 delivers ``arrival`` latents at a time.

        Raw buffer ``< c + P + h + arrival``, plus the finished tail, plus the working copy of one block.
        """
        return (self.first_block + int(arrival) - 1) + self.tail + self.first_block

    def next_block(self, arrived: int, emitted: int, final: bool = False) -> Optional[UnifiedBlock]:
        """The block to run now, given ``arrived`` latents received and ``emitted`` finished; ``None`` to wait.

        Call repeatedly after each arrival until it returns ``None``; pass ``final=True`` once Stage 1 has delivered
        its last latent, so the remainder is flushed.
        """
        arrived, emitted = int(arrived), int(emitted)
        c, p, h, f = self.context, self.chunk, self.lookahead, self.window
        if not 0 <= emitted <= arrived:
            raise ValueError(f"need 0 <= emitted <= arrived, got emitted={emitted}, arrived={arrived}")
        if emitted == arrived:
            return None
        if emitted == 0:
            if arrived >= c + p + h:
                return UnifiedBlock(0, 0, c + p, c + p + h)
        elif arrived >= emitted + p + h:
            return UnifiedBlock(emitted - c, emitted, emitted + p, emitted + p + h)
        if not final:
            return None
        rest = arrived - emitted
        ctx = min(emitted, max(c, f - rest))
        if ctx + rest < f:
            raise ValueError(
                f"the unified stage needs at least window f={f} latents in total, got {arrived}; generate more frames "
                f"or use a shorter window"
            )
        return UnifiedBlock(emitted - ctx, emitted, arrived, arrived)

    def windows(self, length: int, frozen: int, sweep: int) -> tuple[MigaWindow, ...]:
        """Windows of sweep ``sweep`` over a block of ``length`` latents whose first ``frozen`` are context.

        Positions are block-relative. The official dynamic partition (window ``f``, no memory) over the whole block,
        write-back clipped to ``[frozen, length)``; windows that would write only context are skipped.
        """
        out: list[MigaWindow] = []
        for start, cal in dynamic_partition(int(length), self.window, self.slide, sweep):
            lo, hi = max(start, int(frozen)), start + cal
            if lo < hi:
                out.append(MigaWindow((), start, start + self.window, lo, hi))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sweep_levels"] = list(self.sweep_levels)
        d.update(sweeps=self.sweeps, first_block=self.first_block, tail=self.tail)
        return d


def plan_unified(
    window: int,
    start_level: int,
    steps: int,
    renoise_level: Optional[int] = None,
    slide: Optional[int] = None,
    *,
    context: Optional[int] = None,
    chunk: Optional[int] = None,
    lookahead: Optional[int] = None,
) -> UnifiedPlan:
    """Lay out the streaming unified stage: latents arrive at ``start_level`` (= Stage 1's ``end_level``).

    Pass 1 takes them from ``start_level`` to ``steps`` (clean); with ``renoise_level`` they are re-noised to it and
    pass 2 takes them to clean again. Official: VC2 ``(16, 54, 64, 53)``, Wan ``(21, 44, 54, 44)``; the official Wan
    first pass stops one step short of clean (trap 4), ours reaches it. ``context`` and ``lookahead`` default to
    ``f - slide``, ``chunk`` to ``2 f``; a block holds ``c + P + h >= f`` latents.
    """
    f, e, t = int(window), int(start_level), int(steps)
    if f < 1:
        raise ValueError(f"window f must be at least 1 latent frame, got {window}")
    if t < 1:
        raise ValueError(f"steps T must be at least 1, got {t}")
    if not 0 <= e <= t:
        raise ValueError(f"start_level must be in [0, steps={t}] (Stage 1's end_level), got {e}")
    if renoise_level is not None and not 0 <= int(renoise_level) < t:
        raise ValueError(f"renoise_level must be in [0, steps={t}) or None for no re-denoise pass, got {renoise_level}")
    s = default_slide(f) if slide is None else int(slide)
    if not 1 <= s <= f:
        raise ValueError(f"slide must be in [1, f={f}], got {s}")
    c = f - s if context is None else int(context)
    h = f - s if lookahead is None else int(lookahead)
    p = 2 * f if chunk is None else int(chunk)
    if c < 0 or h < 0:
        raise ValueError(f"context and lookahead must be >= 0 latents, got context={c}, lookahead={h}")
    if p < 1:
        raise ValueError(f"chunk must be at least 1 latent, got {p}")
    if c + p + h < f:
        raise ValueError(
            f"a block holds context + chunk + lookahead = {c + p + h} latents, fewer than f={f}; raise chunk"
        )
    levels = list(range(e, t))
    renoise_sweep: Optional[int] = None
    if renoise_level is not None:
        renoise_sweep = len(levels)
        levels += list(range(int(renoise_level), t))
    return UnifiedPlan(f, e, t, None if renoise_level is None else int(renoise_level), s, c, p, h,
                       tuple(levels), renoise_sweep)


@dataclass(frozen=True)
class UnifiedSimulation:
    """Result of :func:`simulate_unified`: emission order, per-latent final level and steps, cost and memory."""

    emitted: tuple[int, ...]
    final_levels: tuple[int, ...]
    steps: tuple[int, ...]
    blocks: int
    model_calls: int
    max_resident: int
    coverage_errors: int


def simulate_unified(plan: UnifiedPlan, total: int, arrival: int) -> UnifiedSimulation:
    """Stream ``total`` latents through the unified stage, ``arrival`` at a time, on integers (no tensors).

    Every block sweep applies :meth:`UnifiedPlan.windows`; a written latent gains one level. ``coverage_errors``
    counts sweeps after which some non-context latent is not exactly one level above the sweep's level.
    ``final_levels`` / ``steps`` are indexed by stream id. ``max_resident`` counts raw latents waiting, finished
    latents kept as context and the block being worked on.
    """
    total, arrival = int(total), int(arrival)
    if arrival < 1:
        raise ValueError(f"arrival must be at least 1 latent, got {arrival}")
    final_levels = [-1] * total
    steps = [0] * total
    emitted_order: list[int] = []
    arrived = emitted = blocks = calls = errors = max_res = 0
    while True:
        if arrived < total:
            arrived = min(total, arrived + arrival)
        ran = False
        while (blk := plan.next_block(arrived, emitted, final=arrived == total)) is not None:
            ran = True
            blocks += 1
            if blk.context_start < emitted - plan.tail or blk.emit_start != emitted:
                errors += 1
            max_res = max(max_res, (arrived - emitted) + min(emitted, plan.tail) + blk.length)
            lv = [plan.start_level] * blk.length
            st = [0] * blk.length
            live = range(blk.frozen, blk.length)
            for j, level in enumerate(plan.sweep_levels):
                if j == plan.renoise_sweep:
                    for q in live:
                        lv[q] = level  # re-noise: clean -> renoise_level
                for win in plan.windows(blk.length, blk.frozen, j):
                    calls += 1
                    if win.frames != plan.window or win.read_start < 0 or win.read_stop > blk.length:
                        errors += 1
                    for q in range(win.write_start, win.write_stop):
                        lv[q] += 1
                        st[q] += 1
                if any(lv[q] != level + 1 for q in live):
                    errors += 1
            for sid in blk.emit:
                q = sid - blk.context_start
                final_levels[sid], steps[sid] = lv[q], st[q]
                emitted_order.append(sid)
            emitted = blk.emit_stop
        if arrived == total and not ran:
            break
    return UnifiedSimulation(tuple(emitted_order), tuple(final_levels), tuple(steps), blocks, calls, max_res, errors)
