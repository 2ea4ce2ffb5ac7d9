"""The oracle experiments' second-order step and chunks-in-flight runner (``tools/bench/oracle_context.py``).

The rows these produce are in docs/benchmarks.md ("Other context levels and window layouts"); here the pieces are
pinned on a tiny exact oracle: DPM-Solver++(2M) on the flow ladder is first order where it must be, and on one
natively sampled window it removes Euler's variance loss (the discretisation the "native" reference carries)."""

from __future__ import annotations

import pytest
import torch

from infinite_video.samplers.continuation import sample_continuation
from infinite_video.samplers.steps import flow_noise_scaling
from infinite_video.tools.bench.oracle_context import native_reference, run_pipeline, run_variant
from infinite_video.tools.testing import oracle


def test_2m_is_first_order_without_history_from_one_and_onto_zero():
    sig = torch.tensor([1.0, 0.8, 0.5, 0.0])
    den, old = torch.full((2,), 3.0), torch.full((2,), 1.0)
    assert torch.equal(oracle.flow_2m_denoised(den, None, sig, 1), den)  # no previous estimate
    assert torch.equal(oracle.flow_2m_denoised(den, old, sig, 1), den)  # the previous step started at sigma 1
    assert torch.equal(oracle.flow_2m_denoised(den, old, sig, 2), den)  # the step lands on sigma 0
    sig = torch.tensor([1.0, 0.9, 0.8, 0.5, 0.2])
    out = oracle.flow_2m_denoised(den, old, sig, 2)
    lam = [torch.log((1 - s) / s) for s in sig[1:4]]
    r = (lam[1] - lam[0]) / (lam[2] - lam[1])
    assert torch.allclose(out, (1 + 0.5 / r) * den - 0.5 / r * old)
    assert float(out[0]) > 3.0  # extrapolates along the estimates' trend


def test_2m_native_window_keeps_the_variance_euler_loses():
    euler, _ = native_reference(oracle.SMALL, 0.9, 0.5, 1, 1, batch=16, size=4)
    second, _ = native_reference(oracle.SMALL, 0.9, 0.5, 2, 1, batch=16, size=4)
    assert euler < 0.92  # Euler's discretisation shrinks a unit-variance window (0.88 in the docs' table)
    assert abs(second - 1.0) < 0.05, second  # 2M lands on the truth at the same calls


def test_pipeline_two_in_flight_calls_and_refusal():
    st, frames = oracle.SMALL, 40
    video, calls = run_variant("k2_a3_s24:pipeline2m", st, frames, 0.9, 0.5, "exact", 0, batch=2, size=4)
    assert video.shape == (2, 4, frames, 4, 4) and torch.isfinite(video).all()
    h = -(-(len(oracle.ladder("cont_k5_a3_s24", st)) - 1) // 2)
    iterations = -(-(frames - st.window) // 2) + 1  # one more than emitted chunks: the pipeline fills first
    assert calls == st.steps + iterations * h  # one native window, then h calls an iteration, no extra for 2M
    with pytest.raises(ValueError, match="no context slot"):
        run_pipeline(3, 0, 24, oracle.DENOISERS["exact"](0.9, 0.5), st, frames, 0, 1, 4, inflight=3)
    with pytest.raises(ValueError, match="3 anchors do not fit .* at most 2"):  # 9 - 2 x 3 slots, one kept newest
        run_pipeline(3, 3, 24, oracle.DENOISERS["exact"](0.9, 0.5), st, frames, 0, 1, 4)


def test_pipeline_cap_puts_the_context_at_the_oldest_chunks_level_up_to_the_cap():
    """``pipeline2m_cap{c}`` (docs: capped context makes the mismatched overshoot worse): every call after the first
    window gives the context slots ``min(level of the oldest chunk in flight, c)``; without the suffix they are 0."""
    st, frames, k = oracle.SMALL, 20, 2
    exact = oracle.DENOISERS["exact"](0.9, 0.0)
    levels: list[list[float]] = []

    def rec(x, sigma, positions=None):
        levels.append(sigma[0].tolist())
        return exact(x, sigma, positions=positions)

    for cap in (0.3, None):
        levels.clear()
        run_pipeline(k, 2, 24, rec, st, frames, 0, 1, 4, order=2, cap=cap)
        for lv in levels[st.steps:]:  # after the native first window
            ctx, oldest = lv[:st.window - 2 * k], lv[st.window - 2 * k]
            want = 0.0 if cap is None else min(oldest, cap)
            assert ctx == pytest.approx([want] * len(ctx))
        assert any(0 < lv[0] <= 0.3 for lv in levels[st.steps:]) == (cap is not None)


@pytest.mark.parametrize("variant,method", [("k4_a4_s24:track2_start0.85", "cont_k4_a4_s24_t2_d0.5"),
                                            ("k5_a3_s24:track2", "cont_k5_a3_s24_t2")])
def test_tracked_prototype_is_the_engines_run(variant, method):
    """The experiment's tracked context (and start below sigma 0.85: step 13 of 27) is what the engine's
    ``track`` / ``denoise`` run, bit for bit up to float rounding, on the same seed, with the same calls."""
    st, frames = oracle.SMALL, 30
    proto, proto_calls = run_variant(variant, st, frames, 0.9, 0.5, "mismatched", 3, batch=2, size=4)
    cfg = oracle.continuation_config(method)
    den = oracle.DENOISERS["mismatched"](0.9, 0.5)
    engine = sample_continuation(cfg, den, torch.zeros(2, 4, st.window, 4, 4), oracle.ladder(method, st), st.window,
                                 frames, generator=torch.Generator().manual_seed(3), noise_scaling=flow_noise_scaling)
    torch.testing.assert_close(engine, proto, rtol=1e-4, atol=1e-4)
    assert den.calls == proto_calls


def test_reconstruction_guidance_costs_a_second_call_per_step():
    st, frames = oracle.SMALL, 30
    _, plain = run_variant("k5_a3_s24:scale1", st, frames, 0.9, 0.5, "exact", 0, batch=2, size=4)
    video, calls = run_variant("k5_a3_s24:recon4", st, frames, 0.9, 0.5, "exact", 0, batch=2, size=4)
    chunks = -(-(frames - st.window) // 5)
    assert calls - plain == 27 * chunks and torch.isfinite(video).all()
