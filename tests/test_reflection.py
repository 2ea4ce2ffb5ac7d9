"""Self-reflection: similarity metrics on hand-computed toys, the trigger rule, selection and settings checks."""

from __future__ import annotations

import pytest
import torch

from infinite_video.samplers.miga_partition import check_group_width, check_guidance
from infinite_video.samplers.reflection import (
    ReflectionState,
    check_candidates,
    check_reflection_fit,
    check_threshold,
    get_similarity,
    judged_groups,
    reference_groups,
    select_candidate,
    sim_mean_map,
    sim_pairwise,
)


def latents(*frames: list[list[float]]) -> torch.Tensor:
    """Build ``[1, C, F, 2, 2]`` from frames given as ``C`` flattened 2x2 maps each."""
    x = torch.tensor(frames, dtype=torch.float32)  # [F, C, 4]
    return x.permute(1, 0, 2).reshape(1, x.shape[1], x.shape[0], 2, 2)


A = latents([[1, 0, 0, 0]])  # one latent, one channel: map [[1, 0], [0, 0]]
B = latents([[1, 0, 0, 0]], [[0, 1, 0, 0]])  # two latents


def test_mean_then_cosine_vs_mean_of_cosines() -> None:
    # mean map of B = [0.5, 0.5, 0, 0]; cos with [1, 0, 0, 0] = 0.5 / sqrt(0.5) = 0.70710678
    assert sim_mean_map(A, B).item() == pytest.approx(0.70710678, abs=1e-6)
    # pairwise: cos(a, b1) = 1, cos(a, b2) = 0 -> mean 0.5
    assert sim_pairwise(A, B).item() == pytest.approx(0.5, abs=1e-6)


def test_pairwise_normalises_each_latent_but_mean_map_does_not() -> None:
    b = latents([[2, 0, 0, 0]], [[0, 1, 0, 0]])
    # mean map [1, 0.5, 0, 0]: cos = 1 / sqrt(1.25) = 0.89442719
    assert sim_mean_map(A, b).item() == pytest.approx(0.89442719, abs=1e-6)
    assert sim_pairwise(A, b).item() == pytest.approx(0.5, abs=1e-6)


def test_channel_mean_before_cosine() -> None:
    a = latents([[1, 3, 0, 0], [1, -1, 0, 0]])  # channel mean [1, 1, 0, 0]
    b = latents([[0, 2, 0, 0], [0, 0, 0, 0]])  # channel mean [0, 1, 0, 0]
    # single latents: both metrics are cos([1, 1, 0, 0], [0, 1, 0, 0]) = 1 / sqrt(2)
    assert sim_mean_map(a, b).item() == pytest.approx(0.70710678, abs=1e-6)
    assert sim_pairwise(a, b).item() == pytest.approx(0.70710678, abs=1e-6)


def test_pairwise_two_by_two() -> None:
    a = latents([[1, 0, 0, 0]], [[0, 0, 1, 0]])
    b = latents([[1, 0, 1, 0]], [[0, -3, 0, 0]])
    # cosines: (a1,b1) 0.70710678, (a1,b2) 0, (a2,b1) 0.70710678, (a2,b2) 0 -> mean 0.35355339
    assert sim_pairwise(a, b).item() == pytest.approx(0.35355339, abs=1e-6)
    # mean maps [0.5, 0, 0.5, 0] and [0.5, -1.5, 0.5, 0]: 0.5 / (0.70710678 * 1.6583124) = 0.42640143
    assert sim_mean_map(a, b).item() == pytest.approx(0.42640143, abs=1e-6)


def test_opposite_maps_and_batch_shape() -> None:
    neg = latents([[-1, 0, 0, 0]])
    assert sim_mean_map(A, neg).item() == pytest.approx(-1.0)
    assert sim_pairwise(A, neg).item() == pytest.approx(-1.0)
    a2 = torch.cat([A, A], dim=0)
    b2 = torch.cat([B, neg[:, :, :1].expand(1, 1, 2, 2, 2)], dim=0)
    assert sim_mean_map(a2, b2).shape == (2,)
    assert sim_pairwise(a2, b2).tolist() == pytest.approx([0.5, -1.0], abs=1e-6)


def test_metrics_are_symmetric_and_scale_free() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(1, 4, 3, 5, 6, generator=g)
    b = torch.randn(1, 4, 2, 5, 6, generator=g)
    for sim in (sim_mean_map, sim_pairwise):
        assert sim(a, b).item() == pytest.approx(sim(b, a).item(), abs=1e-6)
        assert sim(3 * a, b).item() == pytest.approx(sim(a, b).item(), abs=1e-6)


def test_metric_shape_errors_and_registry() -> None:
    with pytest.raises(ValueError, match="frames"):
        sim_mean_map(A[0], B)
    with pytest.raises(ValueError, match="agree"):
        sim_pairwise(A, torch.zeros(1, 1, 1, 3, 3))
    assert get_similarity("mean_map") is sim_mean_map and get_similarity("pairwise") is sim_pairwise
    with pytest.raises(ValueError, match="Unknown similarity"):
        get_similarity("cosine")


def test_trigger_rule_sequence() -> None:
    s = ReflectionState(threshold=0.1)
    s, flagged = s.judge(0.9)
    assert not flagged and s.history == (0.9,)  # first call only records
    s, flagged = s.judge(0.85)
    assert not flagged  # drop 0.05
    s, flagged = s.judge(0.7)
    assert flagged and s.history == (0.9, 0.85, 0.7)  # drop 0.15 from the previous score, appended anyway
    s = s.accept(0.8)
    assert s.history == (0.9, 0.85, 0.8)
    s, flagged = s.judge(0.75)
    assert not flagged  # compared with the accepted 0.8, not the judged 0.7
    s, flagged = s.judge(0.95)
    assert not flagged  # rising similarity never flags


def test_trigger_is_strict() -> None:
    s = ReflectionState(threshold=0.25)
    s, _ = s.judge(0.75)
    s, flagged = s.judge(0.5)  # drop exactly 0.25 (exact in binary)
    assert not flagged
    s, flagged = s.judge(0.25 - 2**-20)
    assert flagged


def test_zero_threshold_flags_any_drop_and_tensor_scores() -> None:
    s = ReflectionState(threshold=0.0)
    s, _ = s.judge(torch.tensor([0.5]))
    s, flagged = s.judge(torch.tensor(0.5))
    assert not flagged
    s, flagged = s.judge(0.4999)
    assert flagged
    with pytest.raises(ValueError, match="single number"):
        s.judge(torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="judge"):
        ReflectionState(0.1).accept(0.5)


def test_select_candidate_ties_and_beat() -> None:
    assert select_candidate([0.2, 0.5, 0.5], 0.4) == (1, True)
    assert select_candidate([0.3, 0.3], 0.3) == (0, False)  # must strictly beat the current score
    assert select_candidate([-0.5, -0.2, -0.9], -0.3) == (1, True)
    assert select_candidate([0.1], 0.7) == (0, False)
    assert select_candidate([torch.tensor(0.1), torch.tensor(0.6)], torch.tensor(0.2)) == (1, True)
    with pytest.raises(ValueError, match="at least 1 candidate"):
        select_candidate([], 0.5)


def test_reference_groups_and_judged_positions() -> None:
    assert reference_groups(16, 4) == 3  # VC2
    assert reference_groups(21, 7) == 2  # Wan
    assert reference_groups(17, 4) == 4  # (4 + 1) * 4 = 20 >= 17
    # VC2: judged DDIM level 50 of 64 = 13 steps done; front after the sweep at 16 is the first active state
    assert judged_groups(15, 13, 3) is None
    assert judged_groups(16, 13, 3) == (3, (0, 1, 2))
    assert judged_groups(20, 13, 3) == (7, (4, 5, 6))
    # Wan: judged step 10, references at steps 12 and 11
    assert judged_groups(12, 10, 2) == (2, (0, 1))
    assert judged_groups(11, 10, 2) is None


def test_settings_checks() -> None:
    for bad in (-0.01, 2.01, float("nan")):
        with pytest.raises(ValueError, match="threshold"):
            check_threshold(bad)
        with pytest.raises(ValueError, match="threshold"):
            ReflectionState(bad)
    check_threshold(0.0)
    check_threshold(2.0)
    with pytest.raises(ValueError, match="candidates"):
        check_candidates(0)
    check_candidates(1)
    with pytest.raises(ValueError, match="L_zig=13 does not fit"):
        check_group_width(16, 13, 4)
    check_group_width(16, 12, 4)
    with pytest.raises(ValueError, match="L_zig"):
        check_group_width(16, 0, 4)
    with pytest.raises(ValueError, match="m_guid=16 fill the whole window"):
        check_guidance(16, 16)
    with pytest.raises(ValueError, match="m_guid"):
        check_guidance(16, -1)
    check_guidance(16, 15)
    with pytest.raises(ValueError, match="longer than the group width"):
        check_reflection_fit(4, 4)
    check_reflection_fit(4, 3)
