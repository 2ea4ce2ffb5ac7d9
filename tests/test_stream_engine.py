"""Streamed queue runs (no ComfyUI): bounded output tail, in-order frames, and save/resume bit for bit for FIFO,
every MIGA chain and chunked continuation with anchors, after a periodic save and after an exception in the middle of
an iteration (Cancel)."""

from __future__ import annotations

import io

import pytest
import torch

from infinite_video.samplers.config import (
    ContinuationConfig,
    GuidanceConfig,
    QueueConfig,
    ReflectionConfig,
    UnifiedConfig,
    ZigzagConfig,
)
from infinite_video.samplers.miga import MigaStats
from infinite_video.samplers.run import required_steps, run_queue
from infinite_video.samplers.runner import LatentTail, Stream

W = 8
ZZ = ZigzagConfig(steps=12, group=2, end_step=8)
UN = UnifiedConfig(steps=4, renoise=True, renoise_step=8)
CONFIGS = {
    "fifo": QueueConfig(W, 2, True, "noise"),
    "fifo_clip": QueueConfig(4, 3, False, "clip"),
    # the native clip is iteration 0; the queue fills behind it and drains at the end (state: the same keys)
    "fifo_auto": QueueConfig(W, 2, True, "auto clip"),
    "fifo_auto_group": QueueConfig(W, 2, False, "auto clip", group=2),
    "fifo_group": QueueConfig(W, 2, True, "noise", group=2),
    "tta": QueueConfig(W, 2, True, "noise", zigzag=ZZ, unified=UN),
    # reflection with a low threshold so that regenerations (more generator draws) happen between saves
    "full": QueueConfig(W, 2, True, "clip", zigzag=ZZ, unified=UN,
                        reflection=ReflectionConfig(candidates=2, threshold=0.0, judged_level=2),
                        guidance=GuidanceConfig(2, "queue")),
    "history": QueueConfig(W, 2, True, "noise", zigzag=ZZ, unified=UN, guidance=GuidanceConfig(2, "history", 6)),
    "dce": QueueConfig(W, 3, True, "noise", reflection=ReflectionConfig(judged_level=3, threshold=0.0),
                       guidance=GuidanceConfig(2, "queue")),
    # anchors are part of the state: latents 0 and 4 stay in every window for the whole run
    "continuation": QueueConfig(W, 2, True, "noise", continuation=ContinuationConfig(chunk=3, anchors=2,
                                                                                      anchor_every=4)),
}

UNIFIED_FRAMES = 150  # enough for several outputs after the unified stage's first


def mixing(x, sigma, prompts=None, positions=None):
    """Deterministic toy denoiser whose output depends on neighbouring frames, on each frame's sigma and (when
    given) on the frames' stream positions."""
    rolled = torch.roll(x, 1, dims=2)
    out = torch.tanh(0.6 * x + 0.3 * rolled) * (1.0 - 0.5 * sigma.reshape(sigma.shape[0], 1, -1, 1, 1))
    if positions is not None:
        out = out + 0.01 * torch.cos(positions.to(x))[None, None, :, None, None]
    return out


def latent():
    return torch.randn(1, 2, W, 3, 3, generator=torch.Generator().manual_seed(7))


def run(cfg, frames, stream=None, den=mixing, stats=None):
    lat = torch.zeros(1, 2, W, 3, 3) if cfg.init == "auto clip" else latent()
    sig = torch.linspace(1.0, 0.0, required_steps(cfg, lat.shape[2]) + 1)
    kw = {"stats": stats} if stats is not None and cfg.is_miga else {}
    if kw:
        from infinite_video.samplers.miga import sample_miga
        return sample_miga(cfg, den, lat, sig, frames, generator=torch.Generator().manual_seed(3), stream=stream, **kw)
    return run_queue(cfg, den, lat, sig, frames, seed=3, stream=stream)


def roundtrip(state):
    """Through bytes as a checkpoint file would go, loaded with weights_only (no pickled code)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_stream_frames_in_order_and_tail(name):
    cfg, frames = CONFIGS[name], 21
    full = run(cfg, frames)
    seen = []
    tail = run(cfg, frames, Stream(on_frame=lambda i, f: seen.append((i, f.clone())), keep=5))
    assert [i for i, _ in seen] == list(range(frames))
    assert torch.equal(torch.cat([f for _, f in seen], dim=2), full)
    assert tail.shape[2] == 5 and torch.equal(tail, full[:, :, -5:])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_resume_from_periodic_state_is_bit_identical(name):
    cfg, frames = CONFIGS[name], 23
    every = 2
    if cfg.unified is not None:  # the unified stage's wavefront (samplers/unified_plan.py) fills before it emits
        frames, every = UNIFIED_FRAMES, 25
    full = run(cfg, frames)
    states = []
    run(cfg, frames, Stream(every=every, on_state=lambda s: states.append(roundtrip(s))))
    assert len(states) >= 2
    done = [s["frames_done"] for s in states]
    assert done == sorted(done) and done[-1] == frames
    for state in states[:-1]:
        k = state["frames_done"]
        seen = []
        out = run(cfg, frames, Stream(resume=state, on_frame=lambda i, f: seen.append(i)))  # noqa: B023
        assert seen == list(range(k, frames)), "a resumed run emits exactly the frames after the saved state"
        assert torch.equal(out[:, :, k:], full[:, :, k:])


class Cancel(Exception):
    pass


@pytest.mark.parametrize("name", ["fifo", "fifo_auto", "fifo_group", "full", "history", "continuation"])
def test_exception_mid_iteration_saves_last_boundary(name):
    cfg = CONFIGS[name]
    frames = 40 if cfg.unified is None else UNIFIED_FRAMES
    full = run(cfg, frames)
    saved, emitted = [], []

    def cancelling(x, sigma, prompts=None, positions=None):
        if len(emitted) >= frames // 4:  # Cancel at the first model call after a quarter of the video is out
            raise Cancel
        return mixing(x, sigma, positions=positions)

    with pytest.raises(Cancel):
        run(cfg, frames, Stream(every=1000, on_abort=lambda s: saved.append(roundtrip(s)),
                                on_frame=lambda i, f: emitted.append(i)), den=cancelling)
    (state,) = saved
    k = state["frames_done"]
    assert 0 < k <= len(emitted) < frames
    out = run(cfg, frames, Stream(resume=state))
    assert torch.equal(out[:, :, k:], full[:, :, k:])


def test_resumed_miga_stats_continue():
    cfg, frames = CONFIGS["full"], 17
    ref = MigaStats()
    run(cfg, frames, stats=ref)
    states = []
    run(cfg, frames, Stream(every=6, on_state=states.append))
    resumed = MigaStats()
    run(cfg, frames, Stream(resume=roundtrip(states[0])), stats=resumed)
    assert resumed == ref


def test_resume_state_from_other_engine_or_size_is_refused():
    states = []
    run(CONFIGS["fifo"], 9, Stream(every=3, on_state=states.append))
    with pytest.raises(ValueError, match="'fifo' run, this run is 'miga'"):
        run(CONFIGS["tta"], 9, Stream(resume=states[0]))
    bad = dict(states[0], latents=states[0]["latents"][:, :, :, :2])
    with pytest.raises(ValueError, match="latent size"):
        run(CONFIGS["fifo"], 9, Stream(resume=bad))
    with pytest.raises(ValueError, match="lacks rng"):
        run(CONFIGS["fifo"], 9, Stream(resume={k: v for k, v in states[0].items() if k != "rng"}))


def test_latent_tail_keeps_newest_in_order():
    tail = LatentTail((1, 1, 1, 1), 10, keep=3, device=torch.device("cpu"))
    for i in range(7):
        tail.put(i, torch.full((1, 1, 1, 1, 1), float(i)))
    assert tail.result().flatten().tolist() == [4.0, 5.0, 6.0]
    assert tail.buf.shape[2] == 3
    full = LatentTail((1, 1, 1, 1), 4, keep=None, device=torch.device("cpu"))
    for i in range(4):
        full.put(i, torch.full((1, 1, 1, 1, 1), float(i)))
    assert full.result().flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("name", ["fifo", "fifo_clip", "tta", "full", "history", "dce"])
def test_resume_inside_the_returned_tail_returns_the_uninterrupted_latents(name):
    """Cancel (and, separately, a periodic save) after some of the latents the run returns are made: the resumed run
    returns the uninterrupted run's latents bit for bit, those made before the resume included (the saved state holds
    the tail); a state without the tail is refused. (The unified stage emits its last 31 latents in the run's last
    iteration, so there the tail is longer than that.)"""
    cfg = CONFIGS[name]
    frames, keep = (24, 5) if cfg.unified is None else (UNIFIED_FRAMES, 40)
    full = run(cfg, frames, Stream(keep=keep))
    assert torch.equal(full, run(cfg, frames)[:, :, -keep:])
    saved, emitted, states = [], [], []

    def cancelling(x, sigma, prompts=None, positions=None):
        if len(emitted) >= frames - keep + 2:
            raise Cancel
        return mixing(x, sigma, positions=positions)

    with pytest.raises(Cancel):
        run(cfg, frames, Stream(every=1, keep=keep, on_abort=lambda s: saved.append(roundtrip(s)),
                                on_frame=lambda i, f: emitted.append(i)), den=cancelling)
    run(cfg, frames, Stream(every=1, keep=keep, on_state=lambda s: states.append(roundtrip(s))))
    inside = [s for s in saved + states if frames - keep < s["frames_done"] <= frames]
    assert saved[0] in inside and len(inside) >= 2
    for state in inside:
        out = run(cfg, frames, Stream(resume=state, keep=keep))
        assert torch.equal(out, full), f"resumed at {state['frames_done']} of {frames}"
    with pytest.raises(ValueError, match="lacks the returned latents"):
        run(cfg, frames, Stream(resume={k: v for k, v in saved[0].items() if k != "tail"}, keep=keep))
