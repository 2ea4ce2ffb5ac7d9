"""The engines tell the denoiser each window frame's stream position (pure torch, toy denoisers, no ComfyUI).

A denoiser that predicts ``x0 = position`` for every frame makes each output latent equal to its own index when the
positions are right: a frame's last step lands on the prediction made at its own position.
"""

from __future__ import annotations

import pytest
import torch

from infinite_video.samplers import plan_fifo, sample_fifo
from infinite_video.samplers.config import GuidanceConfig, QueueConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig
from infinite_video.samplers.denoiser import call_denoiser, takes_positions
from infinite_video.samplers.miga import MigaStats, sample_miga
from infinite_video.samplers.miga_setup import miga_steps
from infinite_video.tools.testing.position_echo import PositionEcho


def ladder(steps: int) -> torch.Tensor:
    return torch.linspace(1.0, 0.0, steps + 1)


def _index_video(frames: int) -> torch.Tensor:
    return torch.arange(frames, dtype=torch.float32).reshape(1, 1, -1, 1, 1).expand(1, 2, frames, 3, 3)


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("init", ["noise", "clip"])
def test_fifo_windows_get_their_frames_stream_positions(lookahead, init):
    plan = plan_fifo(4, 2, lookahead, init)
    den = PositionEcho()
    out = sample_fifo(den, torch.zeros(1, 2, 4, 3, 3), ladder(plan.steps), plan, 11,
                      generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, _index_video(11))
    for call in den.calls:  # every window is a run of consecutive stream positions (padding continues them back)
        assert call == list(range(call[0], call[0] + plan.window))
    assert min(c[0] for c in den.calls) == -plan.warmup - plan.pad


ZZ = ZigzagConfig(steps=12, group=2, end_step=8)
UN = UnifiedConfig(steps=4, renoise=True, renoise_step=8)


@pytest.mark.parametrize("cfg", [
    QueueConfig(8, 2, True, "noise", zigzag=ZZ),
    QueueConfig(8, 2, True, "noise", zigzag=ZZ, unified=UN),
    QueueConfig(8, 3, True, "noise", reflection=ReflectionConfig(judged_level=3), guidance=GuidanceConfig(2, "queue")),
], ids=["zigzag", "unified", "reflection"])
def test_miga_windows_get_their_frames_stream_positions(cfg):
    den = PositionEcho()
    latent = torch.zeros(1, 2, 8, 3, 3)
    out = sample_miga(cfg, den, latent, ladder(miga_steps(cfg, 8)), 13, generator=torch.Generator().manual_seed(0),
                      stats=MigaStats())
    torch.testing.assert_close(out, _index_video(13))
    assert any(max(c) >= 12 for c in den.calls)


def test_denoisers_without_positions_keep_working():
    def old(x, sigma, prompts=None):
        return x * 0

    assert not takes_positions(old) and takes_positions(lambda x, s, **kw: x)
    x = torch.ones(1, 1, 2, 1, 1)
    assert torch.equal(call_denoiser(old, x, torch.ones(1, 2), None, torch.tensor([0, 1])), x * 0)
