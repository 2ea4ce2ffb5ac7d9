"""MIGA plans on integers: partitions (golden-facts §3), the zigzag queue and the streaming unified stage."""

from __future__ import annotations

import pytest

from infinite_video.samplers.guidance import memory_positions
from infinite_video.samplers.miga_partition import (
    MigaWindow,
    dynamic_partition,
    rotating_segments,
    segment_count,
    static_partition,
)
from infinite_video.samplers.unified_plan import plan_unified, simulate_unified
from infinite_video.samplers.zigzag_plan import ZigzagPlan, plan_zigzag, simulate_zigzag

WINDOW_SLIDES = [(12, 8), (16, 8), (17, 10), (21, 10)]


def assert_tiles(parts: list[tuple[int, int]], n: int, w: int) -> None:
    """Write ranges [start, start + cal) tile [0, n) exactly once, in order; every read range fits the queue."""
    pos = 0
    for start, cal in parts:
        assert start == pos and 1 <= cal <= w and 0 <= start and start + w <= n
        pos += cal
    assert pos == n


# --- golden-facts §3, verbatim -----------------------------------------------------------------------------------


def test_dynamic_example_n136_w12_it3() -> None:
    parts = dynamic_partition(136, 12, 8, 3)
    assert parts[:3] == [(0, 3), (3, 8), (11, 8)] and parts[3] == (19, 8)
    assert parts[-4:] == [(107, 8), (115, 8), (123, 1), (124, 12)]
    assert parts == [(0, 3)] + [(3 + 8 * k, 8) for k in range(15)] + [(123, 1), (124, 12)]


def test_dynamic_example_n120_w16_it0() -> None:
    parts = dynamic_partition(120, 16, 8, 0)
    assert parts[:3] == [(0, 8), (8, 8), (16, 8)]
    assert parts[-3:] == [(88, 8), (96, 8), (104, 16)]
    assert parts == [(8 * k, 8) for k in range(13)] + [(104, 16)]


def test_static_example_n28_w17() -> None:
    assert static_partition(28, 17, 10) == [(0, 1), (1, 10), (11, 17)]


@pytest.mark.parametrize("w,slide", WINDOW_SLIDES)
def test_partitions_cover_every_index_once(w: int, slide: int) -> None:
    for n in range(w, 301):
        assert_tiles(static_partition(n, w, slide), n, w)
        for it in range(21):
            assert_tiles(dynamic_partition(n, w, slide, it), n, w)


def test_dynamic_offset_rotates_and_resets() -> None:
    assert [dynamic_partition(40, 12, 8, it)[0] for it in (0, 1, 7, 8, 9)] == [(0, 8), (0, 1), (0, 7), (0, 8), (0, 1)]
    # n - r1 < W: offset reset to 0
    assert dynamic_partition(14, 12, 8, 3) == [(0, 2), (2, 12)]


def test_partition_errors() -> None:
    with pytest.raises(ValueError, match="fewer than the window"):
        static_partition(11, 12, 8)
    with pytest.raises(ValueError, match="slide"):
        dynamic_partition(40, 12, 13, 0)
    with pytest.raises(ValueError, match="slide"):
        static_partition(40, 12, 0)


# --- zigzag plan -------------------------------------------------------------------------------------------------

VC2 = dict(window=16, group=4, steps=64, end_level=54, guidance=4)
WAN = dict(window=21, group=7, steps=54, end_level=44, guidance=4)
ODD = [
    dict(window=17, group=4, steps=30, end_level=20, guidance=3),  # L does not divide f
    dict(window=8, group=1, steps=12, end_level=10, guidance=2),  # L = 1
    dict(window=16, group=2, steps=20, end_level=15, guidance=4),  # short queue: shifted head windows
    dict(window=16, group=4, steps=20, end_level=9, guidance=0),  # no guidance
    dict(window=12, group=12, steps=6, end_level=3, guidance=0),  # one group per window
]
CONFIGS = [VC2, WAN] + ODD


def test_official_settings_derive_official_constants() -> None:
    vc2 = plan_zigzag(**VC2)
    assert (vc2.span, vc2.slide, vc2.offset, vc2.base_groups) == (12, 8, 2, 4)
    assert vc2.init_levels == (4,) * 4 + (3,) * 4 + (2,) * 4 + (1,) * 4 + (0,) * 4
    assert (vc2.capacity, vc2.warmup, vc2.base_latents) == (216, 49, (0, 16))
    assert vc2.levels[:5] == (53, 53, 53, 53, 52) and vc2.levels[-4:] == (0, 0, 0, 0)
    wan = plan_zigzag(**WAN)
    assert (wan.span, wan.slide, wan.offset, wan.base_groups) == (17, 10, 3, 3)
    assert wan.init_levels == (3,) * 7 + (2,) * 7 + (1,) * 7 + (0,) * 7
    assert (wan.capacity, wan.warmup) == (308, 40)
    assert len(wan.partitions) == 10 and list(wan.partitions[3]) == dynamic_partition(308, 17, 10, 3)
    d = wan.to_dict()
    assert d["capacity"] == 308 and d["partitions"][0][0] == [0, 10]


def test_base_latents_when_group_does_not_divide_window() -> None:
    plan = plan_zigzag(**ODD[0])  # f = 17, L = 4: 4 groups from the last 16 clip latents
    assert plan.base_groups == 4 and plan.base_latents == (1, 17)


def test_zigzag_windows_use_golden_memory() -> None:
    plan = plan_zigzag(**VC2)
    for it in range(plan.slide):
        for win in plan.windows(it):
            if win.write_start >= 4:
                assert win.memory == memory_positions(win.write_start, 4, 4)
    wins = {w.write_start: w for w in plan.windows(0, 120)}
    assert wins[16].memory == (2, 6, 10, 14) and wins[40].memory == (26, 30, 34, 38)
    assert wins[0].memory == () and (wins[0].read_start, wins[0].read_stop) == (0, 16)  # widened to f
    assert wins[8].memory == (0, 2, 4, 6) and wins[8].out_offset == 4


def check_windows(plan: ZigzagPlan, wins: tuple[MigaWindow, ...], n: int) -> None:
    pos = 0
    written: set[int] = set()
    for w in wins:
        assert w.frames == plan.window
        assert w.write_start == pos and w.write_stop > w.write_start
        pos = w.write_stop
        assert 0 <= w.read_start <= w.write_start and w.write_stop <= w.read_stop <= n
        assert all(0 <= p < w.write_start for p in w.memory)
        assert w.out_offset + (w.write_stop - w.write_start) <= plan.window
        assert w.inputs[w.out_offset - w.history] == w.write_start
        if w.read_start == w.write_start:  # unshifted windows never read what an earlier window wrote
            assert not written & set(range(w.read_start, w.read_stop))
        written |= set(range(w.write_start, w.write_stop))
    assert pos == n


@pytest.mark.parametrize("cfg", CONFIGS)
def test_zigzag_windows_over_the_whole_run(cfg: dict[str, int]) -> None:
    plan = plan_zigzag(**cfg)
    for it in range(plan.warmup + 2 * plan.slide):
        n = plan.queue_latents(it)
        for static in (False, True):
            check_windows(plan, plan.windows(it, n, static=static), n)
        hist = plan.windows(it, n, history=True)
        check_windows(plan, hist, n)
        assert all(w.history == plan.guidance and w.memory == () for w in hist)


@pytest.mark.parametrize("cfg", [dict(window=21, group=1, steps=63, end_level=63, guidance=0),
                                 dict(window=21, group=1, steps=63, end_level=63, guidance=4),
                                 dict(window=8, group=1, steps=24, end_level=24, guidance=2)])
def test_lookahead_on_fifo_queue_writes_behind_cleaner_context(cfg: dict[str, int]) -> None:
    """``behind`` (FIFO-Diffusion §3.4): every window but the front one ends where its written segment ends, so it
    writes its later, noisier latents with cleaner ones in front of them; the borders rotate between sweeps."""
    plan = plan_zigzag(**cfg, behind=True)
    assert plan.slide == min(cfg["window"] // 2, cfg["window"] - cfg["guidance"])
    borders: set[int] = set()
    for it in range(2 * plan.slide):
        n = plan.queue_latents(it)
        wins = plan.windows(it, n)
        check_windows(plan, wins, n)
        for w in wins:
            assert w.write_stop == w.read_stop or w.read_start == 0  # ends at its segment, or at the front
            if w.read_start > 0:
                assert w.write_start - w.read_start >= plan.span - plan.slide  # cleaner context in front
        borders |= {w.write_start for w in wins}
    assert len(borders) > plan.capacity // plan.slide + 1  # not the same places every sweep


def test_rotating_segments_tile_and_rotate() -> None:
    for n, slide in [(10, 3), (63, 10), (9, 9), (5, 1)]:
        for it in range(2 * slide):
            segs = rotating_segments(n, slide, it)
            assert segs[0][0] == 0 and segs[-1][1] == n and len(segs) == segment_count(n, slide, it)
            assert all(a < b <= a + slide for a, b in segs) and all(x[1] == y[0] for x, y in zip(segs, segs[1:]))
            assert segs[0][1] == (it % slide or min(slide, n))
    assert rotating_segments(10, 4, 1) == [(0, 1), (1, 5), (5, 9), (9, 10)]


def test_short_queue_shifts_the_widened_head_window() -> None:
    plan = plan_zigzag(**ODD[2])  # f = 16, m = 4, W = 12; a queue of 18 latents
    wins = plan.windows(3, 18)
    assert [(w.write_start, w.write_stop) for w in wins] == [(0, 3), (3, 6), (6, 18)]
    head = wins[1]  # starts at 3 < m: widened to 16 latents, shifted left so it ends at the queue's end
    assert head.memory == () and (head.read_start, head.read_stop) == (2, 18) and head.out_offset == 1
    check_windows(plan, wins, 18)


@pytest.mark.parametrize("static_init", [False, True])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_zigzag_simulation_steady_state(cfg: dict[str, int], static_init: bool) -> None:
    plan = plan_zigzag(**cfg)
    iterations = plan.warmup + 3 * plan.end_level + 7
    events = simulate_zigzag(plan, iterations, static_init=static_init)
    out = [e for e in events if e.dequeued]
    assert all(not e.dequeued for e in events[: plan.warmup])
    assert all(len(e.dequeued) == 1 and len(e.enqueued) == 1 for e in events[plan.warmup:])  # L out, L in
    assert [e.iteration for e in out][0] == plan.warmup
    assert [g for e in out for g in e.dequeued] == list(range(len(out)))  # first in, first out
    assert len(out) == iterations - plan.warmup
    for e in events:
        assert e.queue_latents == plan.queue_latents(e.iteration) <= plan.capacity
        assert e.windows > 0
    for e in out:
        (x,) = e.exits
        assert set(x.levels) == {plan.end_level}  # every latent leaves at the end-of-Stage-1 level
        assert set(x.steps) == {plan.end_level - x.entry_level}  # and took exactly one step per sweep
        if x.group < plan.base_groups:
            assert x.entry_level == plan.base_groups - x.group  # base groups enter re-noised to f//L .. 1
        else:
            assert x.entry_level == 0 and set(x.steps) == {plan.end_level}
            # a fresh group entered E iterations earlier (the initial one before iteration 0)
            entered = -1 if x.group == plan.base_groups else next(
                ev.iteration for ev in events if x.group in ev.enqueued)
            assert e.iteration - entered == plan.end_level
    assert all(e.queue_latents == plan.capacity for e in events[plan.warmup:])


def test_zigzag_short_regime_official_lengths() -> None:
    # docs/algorithms/miga.md, trap 2: with the official lengths the output is mostly init-queue groups
    for cfg, groups_out in ((VC2, 30), (WAN, 20)):
        plan = plan_zigzag(**cfg)
        events = simulate_zigzag(plan, plan.iterations(groups_out))
        out = [g for e in events for g in e.dequeued]
        assert out == list(range(groups_out))
        assert sum(len(e.enqueued) for e in events) == plan.iterations(groups_out)


def test_zigzag_many_iterations_wan() -> None:
    plan = plan_zigzag(**WAN)
    events = simulate_zigzag(plan, 400)
    assert sum(len(e.dequeued) for e in events) == 400 - plan.warmup
    assert sum(len(e.enqueued) for e in events) == 400


def test_zigzag_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        plan_zigzag(16, 13, 64, 54, guidance=4)
    with pytest.raises(ValueError, match="fill the whole window"):
        plan_zigzag(16, 4, 64, 54, guidance=16)
    with pytest.raises(ValueError, match="end_level"):
        plan_zigzag(16, 4, 64, 4, guidance=4)  # base groups start at 4: they must step before leaving
    with pytest.raises(ValueError, match="end_level"):
        plan_zigzag(16, 4, 64, 65, guidance=4)
    with pytest.raises(ValueError, match="slide"):
        plan_zigzag(16, 4, 64, 54, guidance=4, slide=13)
    with pytest.raises(ValueError, match="offset"):
        plan_zigzag(16, 4, 64, 54, guidance=4, offset=5)


# --- unified stage, streamed as a wavefront -----------------------------------------------------------------------


def test_unified_official_settings() -> None:
    vc2 = plan_unified(16, 54, 64, renoise_level=53, total=120)
    assert vc2.slide == 8 and vc2.sweep_levels == tuple(range(54, 64)) + tuple(range(53, 64))
    assert vc2.renoise_sweep == 10
    wan = plan_unified(21, 44, 54, renoise_level=44, total=140)
    assert wan.slide == 10 and wan.sweeps == 20 and wan.renoise_sweep == 10
    assert wan.sweep_levels[:2] == (44, 45) and wan.sweep_levels[9:12] == (53, 44, 45)
    plain = plan_unified(21, 44, 54, total=140)
    assert plain.sweeps == 10 and plain.renoise_sweep is None
    assert wan.to_dict()["sweeps"] == 20
    # every window of every sweep once: 140 latents in segments of 10 (plus the rotating head segment)
    assert wan.calls_per_latent() == sum(len(wan.windows(j)) for j in range(20)) / 140


UNIFIED = [
    (dict(window=16, start_level=54, steps=64, renoise_level=53), 4),
    (dict(window=21, start_level=44, steps=54, renoise_level=44, slide=17), 7),
    (dict(window=21, start_level=50, steps=54, slide=19), 7),
    (dict(window=12, start_level=7, steps=10, renoise_level=8, slide=5), 3),
    (dict(window=9, start_level=22, steps=27, renoise_level=22, slide=7), 1),
]


@pytest.mark.parametrize("cfg,arrival", UNIFIED)
def test_unified_streams_every_latent_once_per_sweep_in_bounded_memory(cfg: dict[str, int], arrival: int) -> None:
    plan = plan_unified(**cfg, total=1000)
    sim = simulate_unified(plan, arrival)
    assert sim.emitted == tuple(range(1000))  # in order, each exactly once
    assert sim.errors == 0  # every window read latents at its sweep's level, each latent written once per sweep
    assert set(sim.final_levels) == {plan.steps}  # clean
    assert set(sim.steps) == {plan.sweeps}  # every unified step exactly once
    # memory: a staircase of at most f + slide latents per sweep level, whatever the video length
    assert sim.max_resident <= plan.sweeps * (plan.window + plan.slide)
    longer = simulate_unified(plan_unified(**cfg, total=3000), arrival)
    assert longer.errors == 0 and longer.max_resident <= sim.max_resident + plan.window  # the video's end aside


@pytest.mark.parametrize("cfg,arrival", UNIFIED)
def test_unified_every_short_length(cfg: dict[str, int], arrival: int) -> None:
    f = cfg["window"]
    for total in range(f, 4 * f + 3):
        plan = plan_unified(**cfg, total=total)
        sim = simulate_unified(plan, arrival)
        assert sim.emitted == tuple(range(total)) and sim.errors == 0
        assert set(sim.steps) == {plan.sweeps} and set(sim.final_levels) == {plan.steps}
    with pytest.raises(ValueError, match="at least window"):
        plan_unified(**cfg, total=f - 1)


@pytest.mark.parametrize("slide", [1, 5, 10, 19])
def test_unified_borders_move_and_have_context_on_both_sides(slide: int) -> None:
    """No write border sits at the same place in every sweep (the official last window (n - f, f) does), and every
    written segment has context on both sides inside its window unless the video's start or end is there."""
    plan = plan_unified(21, 44, 54, renoise_level=44, slide=slide, total=200)
    borders: dict[int, int] = {}
    for j in range(plan.sweeps):
        wins = plan.windows(j)
        assert [(w.write_start, w.write_stop) for w in wins][0][0] == 0 and wins[-1].write_stop == 200
        for w, nxt in zip(wins, wins[1:]):
            assert w.write_stop == nxt.write_start  # tiles the video once
        for w in wins:
            assert w.frames == 21 and 0 <= w.read_start <= w.write_start < w.write_stop <= w.read_stop <= 200
            if w.write_start > 0 and w.read_start > 0:
                assert w.write_start - w.read_start >= (21 - slide) // 2
            if w.write_stop < 200 and w.read_stop < 200:
                assert w.read_stop - w.write_stop >= (21 - slide) // 2
            borders[w.write_start] = borders.get(w.write_start, 0) + 1
    if slide > 1:
        assert max(c for p, c in borders.items() if p > 0) < plan.sweeps


def test_unified_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="start_level"):
        plan_unified(21, 55, 54, total=100)
    with pytest.raises(ValueError, match="start_level"):
        plan_unified(21, 54, 54, total=100)  # no unified step left
    with pytest.raises(ValueError, match="renoise_level"):
        plan_unified(21, 44, 54, renoise_level=54, total=100)
    with pytest.raises(ValueError, match="slide"):
        plan_unified(21, 44, 54, slide=22, total=100)
