"""MIGA Stage 1 as pure data: the zigzag queue and its integer simulation (arXiv 2605.18233).

Notes: ``docs/algorithms/miga.md`` (section 4, Stage 1).

The queue holds single-frame latents whose noise levels form a *zigzag* staircase: groups of ``L`` (``L_zig``)
consecutive latents share one level and adjacent groups differ by one level. Every iteration one *sweep* over the
queue moves every latent one level down the ladder; the front group leaves at the end-of-Stage-1 level ``E`` and a
group of fresh noise enters at the tail. Conventions and derived constants: :mod:`.miga_partition`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from .guidance import default_offset, memory_positions
from .miga_partition import (
    MigaWindow,
    check_group_width,
    default_slide,
    dynamic_partition,
    rotating_segments,
    static_partition,
)


@dataclass(frozen=True)
class ZigzagPlan:
    """The zigzag queue of MIGA Stage 1 (and the progressive init that grows it). Build it with :func:`plan_zigzag`.

    Iteration ``i`` (0-based): (1) one sweep with :meth:`windows` ``(i, n)``: every latent steps from level ``k`` to
    ``k + 1``; (2) if the front group has reached ``end_level`` it leaves (queue indices ``0 .. L-1``); (3) one group
    of fresh noise is appended at level 0. Self-reflection, when enabled, runs between (1) and (2) during the growth.

    ``levels`` is the steady-state staircase between iterations (``E`` groups, slot ``p`` at ``E - 1 - p // L``);
    ``init_levels`` the queue before iteration 0 (the ``f // L`` base groups at ``f // L .. 1`` and one fresh group
    at 0). ``partitions[k]`` is the steady-state partition of sweeps with ``it % slide == k``, as ``(start, cal)``
    write ranges. ``behind`` (FIFO-Diffusion §3.4 lookahead on FIFO's queue, Kim et al. 2024): the written segments
    rotate as in :func:`.miga_partition.segment_at` and each window *ends* where its segment ends, so it writes its
    later, noisier part behind cleaner context (the front window, which has nothing in front, reads ``[0, W)``);
    otherwise (MIGA's orientation) each window writes its front part and reads ahead.
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
    behind: bool = False

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
        if self.behind:  # (start read, write range): the window ends where its written segment ends
            spans = [(max(0, b - w), a, b) for a, b in rotating_segments(n, self.slide, 0 if static else it)]
        else:
            parts = static_partition(n, w, self.slide) if static else dynamic_partition(n, w, self.slide, it)
            spans = [(start, start, start + cal) for start, cal in parts]
        out: list[MigaWindow] = []
        for start, a, b in spans:
            if history and m > 0:
                out.append(MigaWindow((), start, start + w, a, b, history=m))
            elif m > 0 and start < m:
                # widen to f queue latents (ending at the segment when behind); the official queue is always long
                # enough for r == start
                r = max(0, b - f) if self.behind else min(start, n - f)
                out.append(MigaWindow((), r, r + f, a, b))
            else:
                mem = memory_positions(start, m, self.group, self.offset)
                out.append(MigaWindow(mem, start, start + w, a, b))
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


def plan_zigzag(
    window: int,
    group: int,
    steps: int,
    end_level: int,
    guidance: int = 0,
    slide: Optional[int] = None,
    offset: Optional[int] = None,
    behind: bool = False,
) -> ZigzagPlan:
    """Lay out the Stage-1 zigzag queue for model window ``f``, group width ``L``, ``T`` steps and exit level ``E``.

    ``guidance`` is ``m_guid`` (official 4); ``slide`` defaults to ``min(f // 2, f - m)``; ``offset`` (the group-wise
    memory offset) to ``L // 2``; ``behind``: see :class:`ZigzagPlan`. The official settings are VC2
    ``(16, 4, 64, 54, 4)`` and Wan ``(21, 7, 54, 44, 4)``.
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
    if behind:
        parts = tuple(tuple((a, b - a) for a, b in rotating_segments(n, s, k)) for k in range(s))
    else:
        parts = tuple(tuple(dynamic_partition(n, w, s, k)) for k in range(s))
    levels = tuple(e - 1 - p // g for p in range(n))
    init_levels = tuple(base - p // g for p in range((base + 1) * g))
    return ZigzagPlan(f, g, t, e, m, s, off, base, levels, init_levels, parts, bool(behind))


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
