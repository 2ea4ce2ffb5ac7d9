"""Every queue sampler against an analytic oracle (``tools/testing/oracle.py``): a stationary Gaussian AR(1) video and
its exact conditional-mean denoiser, run through the real engines (``sample_fifo``, ``sample_miga``).

What is asserted (the full table for longer runs: ``python -m tools.bench.oracle``):

- at zero correlation every method's per-frame variance is the exact variance of its ladder path (a skipped,
  doubled or mislabelled step changes it);
- no border of the unified stage is visible: the lag-1 correlation at every stream position stays within 0.03 of
  the pooled value, with and without guidance, at the official Wan 2.1 recipe and the shapes benchmark's setting,
  with the auto slide (also on FIFO's queue with guidance, and for the full chain); independent chunks, whose borders
  are visible by construction, fail the same check, and so do the Zigzag Stage's group borders without the Unified
  Stage;
- lookahead on FIFO's queue (MIGA without a Zigzag Stage) helps as FIFO-Diffusion §3.4 intends: higher lag-1 and
  lag-3 correlations than with lookahead off.
"""

from __future__ import annotations

import pytest
import torch

from infinite_video.tools.testing import oracle

FRAMES = 80


def test_metrics_read_the_true_process() -> None:
    video = oracle.ar1_video((8, 4, 200, 8, 8), 0.9, torch.Generator().manual_seed(0))
    m = oracle.measure(video)
    assert abs(m.var - 1) < 0.05 and abs(m.lag1 - 0.9) < 0.01 and abs(m.lag3 - 0.729) < 0.02
    assert m.lag1_dev < 0.03 and abs(m.lag_far) < 0.02


def test_exact_denoiser_is_the_posterior_mean() -> None:
    """Against a Monte-Carlo regression of x0 on y for one window with mixed levels (two clean frames)."""
    sig = torch.tensor([0.0, 0.0, 0.3, 0.6, 0.9])
    x0 = oracle.ar1_video((1, 1, 5, 120, 120), 0.8, torch.Generator().manual_seed(1))
    y = (1 - sig)[None, None, :, None, None] * x0 + sig[None, None, :, None, None] * torch.randn(
        x0.shape, generator=torch.Generator().manual_seed(2))
    d = oracle.ExactDenoiser(0.8)(y, sig[None])
    torch.testing.assert_close(d[:, :, :2], y[:, :, :2], atol=1e-4, rtol=0)  # clean frames are known exactly
    ys, xs = oracle._samples(y).T, oracle._samples(x0).T  # [N, 5]
    fit = torch.linalg.lstsq(ys, xs).solution  # least squares x0 ~ y: the linear (= exact, Gaussian) posterior mean
    ours = torch.linalg.lstsq(ys, oracle._samples(d).T).solution
    torch.testing.assert_close(ours, fit, atol=0.02, rtol=0)


@pytest.mark.parametrize("method", oracle.METHODS)
def test_zero_correlation_reproduces_each_frames_path_variance(method: str) -> None:
    st = oracle.SMALL
    video, _ = oracle.run_method(method, st, FRAMES, 0.0)
    expected = oracle.path_variance(oracle.ladder(method, st), oracle.legs(method, st))
    var = oracle.frame_variance(video)
    assert abs(float(var.mean()) / expected - 1) < 0.02, (float(var.mean()), expected)
    q = FRAMES // 4
    assert abs(float(var[-q:].mean() - var[:q].mean())) < 0.04 * expected  # no drift along the video
    assert abs(float(video.mean())) < 0.02


@pytest.mark.parametrize("setting,method", [("small", "tta"), ("small", "tta_guidance"), ("wan21", "tta"),
                                            ("wan21", "tta_guidance"), ("small", "dce_guidance"), ("small", "miga")])
def test_no_border_shows(setting: str, method: str) -> None:
    st = {"small": oracle.SMALL, "wan21": oracle.WAN21}[setting]
    video, _ = oracle.run_method(method, st, FRAMES, 0.9)
    m = oracle.measure(video)
    assert m.lag1_dev < 0.03, m  # every stream position: window, group and unified-stage borders alike
    # and the video as a whole keeps the process's short-range structure (truth 0.9 / 0.729)
    assert abs(m.lag1 - 0.9) < 0.02 and abs(m.lag3 - 0.729) < 0.12


def test_the_border_check_fails_on_independent_chunks() -> None:
    video, _ = oracle.run_method("chunks", oracle.SMALL, 45, 0.9)
    m = oracle.measure(video)
    assert m.lag1_dev > 0.5 and m.lag1_dev_at % oracle.SMALL.window == oracle.SMALL.window - 1


@pytest.mark.parametrize("setting", ["small", "wan21"])
def test_lookahead_on_fifo_queue_keeps_more_correlation(setting: str) -> None:
    """MIGA's engine on FIFO's queue: lookahead writes each window's later half behind cleaner context (§3.4)."""
    st = {"small": oracle.SMALL, "wan21": oracle.WAN21}[setting]
    on = oracle.measure(oracle.run_method("dce", st, FRAMES, 0.9)[0])
    off = oracle.measure(oracle.run_method("dce_no_lookahead", st, FRAMES, 0.9)[0])
    assert on.lag1 > off.lag1 and on.lag3 > off.lag3 + 0.015, (on, off)
    assert on.lag1_dev < 0.03


def test_unified_stage_removes_the_zigzag_group_borders() -> None:
    """Stage 1 alone keeps adjacent groups one level apart in every sweep, and its group borders show; the unified
    stage (every window at one level) is what removes them."""
    zigzag = oracle.measure(oracle.run_method("zigzag", oracle.SMALL, FRAMES, 0.9)[0])
    tta = oracle.measure(oracle.run_method("tta", oracle.SMALL, FRAMES, 0.9)[0])
    assert zigzag.lag1_dev > 0.05 and (zigzag.lag1_dev_at + 1) % oracle.SMALL.group == 0
    assert tta.lag1_dev < 0.03
