"""MIGA's schedule as pure data: window partitions, the zigzag (Stage 1) queue and the streaming unified (Stage 2) plan.

MIGA (arXiv 2605.18233) extends a short clip into a long video with a queue of single-frame latents whose noise levels
form a *zigzag* staircase: groups of ``L`` (``L_zig``) consecutive latents share one level and adjacent groups differ by
one level. Every iteration one *sweep* over the queue moves every latent one level down the ladder; the front group
leaves at the end-of-Stage-1 level and a group of fresh noise enters at the tail (§5 of ``docs/miga.md``). The
finished latents then go through a *unified* stage in which every window holds latents at one common level, followed
by a re-noise and a second pass ("add-and-re-denoise", §6). Everything here is integers; the sampling loop that calls a
model lives elsewhere.

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

Streaming unified stage (a deliberate departure from the official code, ``docs/miga.md`` §6 and §11 trap 1)
--------------------------------------------------------------------------------------------------------------------
The official Stage 2 holds *every* Stage-1 output latent in memory, labels them all with the unified level and sweeps
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

from .guidance import default_offset, memory_positions


# --------------------------------------------------------------------------------------------------------------------
# size checks (re-exported by :mod:`.reflection` with the other MIGA settings checks)


def check_guidance(window: int, guidance: int) -> None:
    """Raise unless ``0 <= m_guid < f``: the window must keep at least one queue latent next to its memory."""
    if int(window) < 1:
        raise ValueError(f"window f must be at least 1 latent frame, got {window}")
    if int(guidance) < 0:
        raise ValueError(f"guidance latents m_guid must be >= 0, got {guidance}; use 0 to turn long-range guidance off")
    if int(guidance) >= int(window):
        raise ValueError(
            f"guidance latents m_guid={guidance} fill the whole window f={window}, leaving no queue latent to denoise; "
            f"use at most {int(window) - 1} (the official value is 4)"
        )


def check_group_width(window: int, group: int, guidance: int = 0) -> None:
    """Raise unless ``1 <= L_zig <= f - m_guid``.

    A Stage-1 window holds ``W = f - m`` queue latents; ``L <= W`` means it holds at least one whole group, so the
    base clip (``f`` latents) seeds at least one group and a window never spans more than ``ceil(W / L) + 1`` levels.
    """
    check_guidance(window, guidance)
    if int(group) < 1:
        raise ValueError(f"group width L_zig must be at least 1 latent, got {group}")
    room = int(window) - int(guidance)
    if int(group) > room:
        raise ValueError(
            f"group width L_zig={group} does not fit the window: f - m_guid = {window} - {guidance} = {room} queue "
            f"latents per window; use L_zig <= {room}, or fewer guidance latents"
        )


def _check_partition(n: int, window: int, slide: int) -> None:
    if window < 1:
        raise ValueError(f"window must be at least 1 latent, got {window}")
    if not 1 <= slide <= window:
        raise ValueError(f"slide must be in [1, window={window}] so a window writes only what it reads, got {slide}")
    if n < window:
        raise ValueError(f"the queue holds {n} latents, fewer than the window's {window}; a sweep needs n >= window")


# --------------------------------------------------------------------------------------------------------------------
# partitions of one sweep


def static_partition(n: int, window: int, slide: int) -> list[tuple[int, int]]:
    """Windows ``(start, cal)`` of a sweep with fixed borders (MIGA init phase and self-reflection candidates).

    With ``r = (n - W) mod slide``: a head window ``(0, r)`` if ``r > 0``, then ``(r + k * slide, slide)`` for
    ``k < (n - W) // slide``, then the tail window ``(n - W, W)``. Write ranges tile ``[0, n)`` exactly once.
    """
    _check_partition(n, window, slide)
    r = (n - window) % slide
    parts = [(0, r)] if r > 0 else []
    parts += [(r + k * slide, slide) for k in range((n - window) // slide)]
    parts.append((n - window, window))
    return parts


def dynamic_partition(n: int, window: int, slide: int, it: int) -> list[tuple[int, int]]:
    """Windows ``(start, cal)`` of sweep ``it`` with rotating borders (MIGA Stage 1 and 2, "dynamic sliding window").

    Offset ``r1 = it mod slide`` (0 if ``n - r1 < W``), ``left = n - r1``, ``r = (left - W) mod slide``: ``(0, r1)`` if
    ``r1 > 0``, then ``(r1 + k * slide, slide)`` for ``k < (left - W) // slide``, then ``(n - W - r, r)`` if ``r > 0``,
    then ``(n - W, W)``. Moving the borders between sweeps avoids jitter at fixed window seams.
    """
    _check_partition(n, window, slide)
    if int(it) < 0:
        raise ValueError(f"sweep counter it must be >= 0, got {it}")
    r1 = int(it) % slide
    if n - r1 < window:
        r1 = 0
    left = n - r1
    r = (left - window) % slide
    parts = [(0, r1)] if r1 > 0 else []
    parts += [(r1 + k * slide, slide) for k in range((left - window) // slide)]
    if r > 0:
        parts.append((n - window - r, r))
    parts.append((n - window, window))
    return parts


@dataclass(frozen=True)
class MigaWindow:
    """One model call, resolved: input = ``history`` bank slots, then ``memory``, then ``q[read_start:read_stop]``.

    The input always has ``f`` frames. Outputs ``out_offset .. out_offset + (write_stop - write_start) - 1`` are
    written back to queue indices ``write_start .. write_stop - 1``; every other output is discarded. Memory latents
    (and history latents) keep their own level in the per-frame sigma vector.
    """

    memory: tuple[int, ...]
    read_start: int
    read_stop: int
    write_start: int
    write_stop: int
    history: int = 0

    @property
    def inputs(self) -> tuple[int, ...]:
        """Queue indices fed to the model, in order (after the ``history`` bank slots)."""
        return self.memory + tuple(range(self.read_start, self.read_stop))

    @property
    def frames(self) -> int:
        return self.history + len(self.memory) + self.read_stop - self.read_start

    @property
    def out_offset(self) -> int:
        """Position in the model output of the first written latent."""
        return self.history + len(self.memory) + self.write_start - self.read_start

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["memory"] = list(self.memory)
        d["out_offset"] = self.out_offset
        return d


# --------------------------------------------------------------------------------------------------------------------
# Stage 1: zigzag queue


@dataclass(frozen=True)
class ZigzagPlan:
    """The zigzag queue of MIGA Stage 1 (and the progressive init that grows it). Build it with :func:`plan_zigzag`.

    Iteration ``i`` (0-based): (1) one sweep with :meth:`windows` ``(i, n)``: every latent steps from level ``k`` to
    ``k + 1``; (2) if the front group has reached ``end_level`` it leaves (queue indices ``0 .. L-1``); (3) one group
    of fresh noise is appended at level 0. Self-reflection, when enabled, runs between (1) and (2) during the growth.

    ``levels`` is the steady-state staircase between iterations (``E`` groups, slot ``p`` at ``E - 1 - p // L``);
    ``init_levels`` the queue before iteration 0 (the ``f // L`` base groups at ``f // L .. 1`` and one fresh group
    at 0). ``partitions[k]`` is the steady-state dynamic partition of sweeps with ``it % slide == k``.
    """

    window: int
    group: int
    steps: int
    end_level: int
    guidance: int
    slide: int
    offset: int
    base_groups: int
    levels: tuple[int, ...]
    init_levels: tuple[int, ...]
    partitions: tuple[tuple[tuple[int, int], ...], ...]

    @property
    def span(self) -> int:
        """Queue latents per Stage-1 window, ``W = f - m`` (the rest of the model input is memory)."""
        return self.window - self.guidance

    @property
    def groups(self) -> int:
        """Groups in the queue between iterations in the steady state (``E``)."""
        return self.end_level

    @property
    def capacity(self) -> int:
        """Latents in the queue between iterations in the steady state (``E * L``): the queue's memory bound."""
        return self.end_level * self.group

    @property
    def warmup(self) -> int:
        """Iterations that dequeue nothing; iteration ``warmup`` dequeues the first group (a base-clip group)."""
        return self.end_level - self.base_groups - 1

    @property
    def base_latents(self) -> tuple[int, int]:
        """Range ``[lo, hi)`` of base-clip latent indices that seed the queue: the *last* ``(f // L) * L``.

        Equal to the whole clip when ``L`` divides ``f`` (both official settings). Otherwise the first ``f mod L``
        are left out, so the queue still continues from the clip's last latent, the one fresh groups are built from.
        """
        return (self.window - self.base_groups * self.group, self.window)

    @property
    def dequeue_level(self) -> int:
        return self.end_level

    @property
    def enqueue_level(self) -> int:
        return 0

    def staircase(self, groups: int) -> tuple[int, ...]:
        """Levels of a queue of ``groups`` groups between iterations: slot ``p`` at ``groups - 1 - p // L``."""
        return tuple(groups - 1 - p // self.group for p in range(groups * self.group))

    def queue_latents(self, iteration: int) -> int:
        """Latents in the queue during the sweep of ``iteration``."""
        return min(self.base_groups + 1 + int(iteration), self.end_level) * self.group

    def iterations(self, groups_out: int) -> int:
        """Iterations until ``groups_out`` groups have been dequeued (the first ``base_groups`` are the base clip's)."""
        return self.warmup + int(groups_out)

    def windows(
        self, it: int, n: Optional[int] = None, *, static: bool = False, history: bool = False
    ) -> tuple[MigaWindow, ...]:
        """Resolved windows of sweep ``it`` over a queue of ``n`` latents (default: the steady-state capacity).

        ``static=True`` uses :func:`static_partition` (official init phase) instead of the rotating one. Queue memory
        (``history=False``, official): a window starting at ``start < m`` reads ``f`` queue latents from ``start``
        (shifted left if the queue ends first) and has no memory; otherwise it reads ``W`` latents from ``start``
        after the ``m`` latents of :func:`.guidance.memory_positions`. ``history=True`` (paper variant): no queue
        memory; every window reads ``W`` latents after ``m`` slots the caller fills from a
        :class:`.guidance.HistoryBank`.

        Windows are listed left to right. No window reads (outside its memory) a latent an earlier window wrote,
        except a shifted head window, so processing in place equals a Jacobi update apart from memory: in place,
        memory sees its already-updated value (official VC2); read it from a pre-sweep snapshot for Wan's behaviour.
        """
        n = self.capacity if n is None else int(n)
        f, m, w = self.window, self.guidance, self.span
        if m > 0 and not history and n < f:
            raise ValueError(f"the queue holds {n} latents, fewer than the model window f={f}")
        parts = static_partition(n, w, self.slide) if static else dynamic_partition(n, w, self.slide, it)
        out: list[MigaWindow] = []
        for start, cal in parts:
            if history and m > 0:
                out.append(MigaWindow((), start, start + w, start, start + cal, history=m))
            elif m > 0 and start < m:
                # widen to f queue latents; the official queue is always long enough for a == start
                a = min(start, n - f)
                out.append(MigaWindow((), a, a + f, start, start + cal))
            else:
                mem = memory_positions(start, m, self.group, self.offset)
                out.append(MigaWindow(mem, start, start + w, start, start + cal))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["levels"] = list(self.levels)
        d["init_levels"] = list(self.init_levels)
        d["partitions"] = [[list(p) for p in parts] for parts in self.partitions]
        d.update(span=self.span, groups=self.groups, capacity=self.capacity, warmup=self.warmup,
                 base_latents=list(self.base_latents), dequeue_level=self.dequeue_level,
                 enqueue_level=self.enqueue_level)
        return d


def default_slide(window: int) -> int:
    """``f // 2`` (at least 1): the official slide for both backbones (16 → 8, 21 → 10)."""
    return max(1, int(window) // 2)


def plan_zigzag(
    window: int,
    group: int,
    steps: int,
    end_level: int,
    guidance: int = 0,
    slide: Optional[int] = None,
    offset: Optional[int] = None,
) -> ZigzagPlan:
    """Lay out the Stage-1 zigzag queue for model window ``f``, group width ``L``, ``T`` steps and exit level ``E``.

    ``guidance`` is ``m_guid`` (official 4); ``slide`` defaults to ``min(f // 2, f - m)``; ``offset`` (the group-wise
    memory offset) to ``L // 2``. The official settings are VC2 ``(16, 4, 64, 54, 4)`` and Wan ``(21, 7, 54, 44, 4)``.
    """
    f, g, t, e, m = int(window), int(group), int(steps), int(end_level), int(guidance)
    check_group_width(f, g, m)
    if t < 1:
        raise ValueError(f"steps T must be at least 1, got {t}")
    base = f // g
    if not base + 1 <= e <= t:
        raise ValueError(
            f"end_level must be in [{base + 1}, steps={t}]: the {base} base-clip groups start at levels {base}..1 and "
            f"must take at least one step before leaving; got {e} (the official exit is steps - 10)"
        )
    w = f - m
    s = min(default_slide(f), w) if slide is None else int(slide)
    if not 1 <= s <= w:
        raise ValueError(f"slide must be in [1, f - m_guid = {w}], got {s}")
    off = default_offset(g) if offset is None else int(offset)
    if not 1 <= off <= g:
        raise ValueError(f"memory offset must be in [1, L_zig={g}], got {off}; leave it unset for L_zig // 2")
    n = e * g
    parts = tuple(tuple(dynamic_partition(n, w, s, k)) for k in range(s))
    levels = tuple(e - 1 - p // g for p in range(n))
    init_levels = tuple(base - p // g for p in range((base + 1) * g))
    return ZigzagPlan(f, g, t, e, m, s, off, base, levels, init_levels, parts)


@dataclass(frozen=True)
class GroupExit:
    """A group leaving the queue: per-latent levels at exit and steps taken since it entered."""

    group: int
    entry_level: int
    levels: tuple[int, ...]
    steps: tuple[int, ...]


@dataclass(frozen=True)
class ZigzagEvent:
    """What one iteration of :func:`simulate_zigzag` did: queue size during the sweep, groups out and in."""

    iteration: int
    queue_latents: int
    windows: int
    dequeued: tuple[int, ...]
    enqueued: tuple[int, ...]
    exits: tuple[GroupExit, ...]


def simulate_zigzag(plan: ZigzagPlan, iterations: int, *, static_init: bool = False) -> tuple[ZigzagEvent, ...]:
    """Run the zigzag bookkeeping on integers: levels only, no tensors, no model.

    Group ids: the base groups are ``0 .. f//L - 1`` (front first), the initial fresh group is ``f//L``, then every
    enqueued group takes the next id. Each sweep applies :meth:`ZigzagPlan.windows`: every written latent gains one
    level, so a partition that missed or repeated a latent shows up as a wrong exit level. After the sweep the front
    group leaves if its first latent has reached ``end_level``, then a fresh group enters at level 0.
    ``static_init=True`` uses the static partition while the queue is still growing (as the official init does).
    """
    g = plan.group
    # per latent: [group id, level, steps taken, entry level]
    queue: list[list[int]] = []
    for gid, lvl in enumerate(range(plan.base_groups, -1, -1)):
        queue += [[gid, lvl, 0, lvl] for _ in range(g)]
    next_id = plan.base_groups + 1
    events: list[ZigzagEvent] = []
    for it in range(int(iterations)):
        n = len(queue)
        static = static_init and n < plan.capacity
        wins = plan.windows(it, n, static=static)
        for win in wins:
            for p in range(win.write_start, win.write_stop):
                queue[p][1] += 1
                queue[p][2] += 1
        dequeued: tuple[int, ...] = ()
        exits: tuple[GroupExit, ...] = ()
        if queue and queue[0][1] >= plan.end_level:
            out, queue = queue[:g], queue[g:]
            dequeued = (out[0][0],)
            exits = (GroupExit(out[0][0], out[0][3], tuple(x[1] for x in out), tuple(x[2] for x in out)),)
        queue += [[next_id, plan.enqueue_level, 0, plan.enqueue_level] for _ in range(g)]
        events.append(ZigzagEvent(it, n, len(wins), dequeued, (next_id,), exits))
        next_id += 1
    return tuple(events)


# --------------------------------------------------------------------------------------------------------------------
# Stage 2: streaming unified stage


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
