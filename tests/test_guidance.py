"""Long-range guidance positions (official reference values) and the bounded history bank (paper variant)."""

from __future__ import annotations

import pytest

from infinite_video.samplers.guidance import HistoryBank, default_offset, memory_positions

# the official code's positions, verbatim (docs/algorithms/miga.md, Long-range guidance positions)
VC2_TABLE = {4: (0, 1, 2, 3), 8: (0, 2, 4, 6), 15: (3, 6, 9, 12), 16: (2, 6, 10, 14), 40: (26, 30, 34, 38)}
WAN_TABLE = {10: (2, 4, 6, 8), 27: (3, 9, 15, 21), 28: (4, 11, 18, 25), 40: (16, 23, 30, 37)}


@pytest.mark.parametrize("start,expected", sorted(VC2_TABLE.items()))
def test_vc2_table(start: int, expected: tuple[int, ...]) -> None:
    assert memory_positions(start, 4, 4) == expected
    assert memory_positions(start, 4, 4, offset=2) == expected


@pytest.mark.parametrize("start", [0, 1, 2, 3])
def test_vc2_no_memory_at_queue_head(start: int) -> None:
    # starts 0-3: no memory, the caller widens the window to f = 16 latents
    assert memory_positions(start, 4, 4) == ()


@pytest.mark.parametrize("start,expected", sorted(WAN_TABLE.items()))
def test_wan_table(start: int, expected: tuple[int, ...]) -> None:
    assert memory_positions(start, 4, 7) == expected  # default offset 7 // 2 = 3, the official hard-coded value
    assert memory_positions(start, 4, 7, offset=3) == expected


def test_default_offset_matches_official_constants() -> None:
    assert default_offset(4) == 2 and default_offset(7) == 3
    assert default_offset(1) == 1  # L = 1: offset 0 would pick the window's own first latent


@pytest.mark.parametrize("group", range(1, 9))
@pytest.mark.parametrize("m", range(0, 6))
def test_positions_are_before_the_window(group: int, m: int) -> None:
    for start in range(0, 200):
        pos = memory_positions(start, m, group)
        assert len(pos) == (m if start >= m else 0)
        assert all(0 <= p < start for p in pos)
        assert list(pos) == sorted(set(pos))


def test_positions_reject_bad_inputs() -> None:
    with pytest.raises(ValueError, match="offset"):
        memory_positions(20, 4, 4, offset=0)
    with pytest.raises(ValueError, match="offset"):
        memory_positions(20, 4, 4, offset=5)
    with pytest.raises(ValueError, match="m_guid"):
        memory_positions(20, -1, 4)
    with pytest.raises(ValueError, match="L_zig"):
        memory_positions(20, 4, 0)


def test_history_bank_is_bounded_and_indexed_by_arrival() -> None:
    bank: HistoryBank[str] = HistoryBank(5)
    for i in range(10):
        assert bank.add(f"f{i}") == i
    assert len(bank) == 5 and bank.total == 10 and bank.oldest == 5
    assert bank[9] == "f9" and bank[5] == "f5"
    with pytest.raises(IndexError):
        bank[4]  # dropped


def test_history_bank_sampling_is_evenly_spread_and_deterministic() -> None:
    bank: HistoryBank[int] = HistoryBank(5)
    for i in range(10):
        bank.add(100 + i)
    # held 5..9; 3 picks over 5: offsets 0, 2, 4
    assert bank.sample_indices(3, 5) == (5, 7, 9)
    # 4 picks over 5: offsets round(0), round(4/3), round(8/3), round(4) = 0, 1, 3, 4
    assert bank.sample_indices(4, 5) == (5, 6, 8, 9)
    assert bank.sample_indices(4, 5) == (5, 6, 8, 9)
    # span 3 -> last 3 frames; 2 picks = oldest and newest of them
    assert bank.sample_indices(2, 3) == (7, 9)
    assert bank.sample_indices(1, 5) == (9,)
    assert bank.sample(3, 5) == [105, 107, 109]
    assert bank.sample_indices(0, 5) == ()


def test_history_bank_with_few_frames_returns_what_it_holds() -> None:
    bank: HistoryBank[int] = HistoryBank(8)
    assert bank.sample_indices(4, 8) == ()
    bank.add(0)
    bank.add(1)
    assert bank.sample_indices(4, 8) == (0, 1)


def test_history_bank_long_span_sampling() -> None:
    bank: HistoryBank[int] = HistoryBank(64)
    for i in range(200):
        bank.add(i)
    idx = bank.sample_indices(4, 64)
    # held 136..199; offsets round(j * 63 / 3) = 0, 21, 42, 63
    assert idx == (136, 157, 178, 199)


def test_history_bank_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="capacity"):
        HistoryBank(0)
    bank: HistoryBank[int] = HistoryBank(4)
    with pytest.raises(ValueError, match="capacity"):
        bank.sample_indices(2, 5)
    with pytest.raises(ValueError, match="span"):
        bank.sample_indices(2, 0)
