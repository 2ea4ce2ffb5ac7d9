"""Chunked continuation (``samplers/continuation.py``) with toy denoisers: what each window holds, at which
positions and levels, model calls, the anchors in the resume state, and bad input refused before any model call."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from infinite_video.samplers.config import ContinuationConfig, GuidanceConfig, QueueConfig
from infinite_video.samplers.continuation import context_positions, sample_continuation
from infinite_video.samplers.run import run_queue
from infinite_video.samplers.runner import Stream
from infinite_video.samplers.steps import flow_noise_scaling

W = 8


def ladder(steps: int) -> torch.Tensor:
    return torch.linspace(1.0, 0.0, steps + 1)


class Echo:
    """Clean estimate of every window frame = its stream position; records each call's positions and sigmas."""

    def __init__(self):
        self.calls: list[tuple[list[int], list[float]]] = []

    def __call__(self, x, sigma, prompts=None, positions=None):
        self.calls.append((positions.tolist(), sigma[0].tolist()))
        return positions.to(x)[None, None, :, None, None].expand_as(x).clone()


def run(cfg, frames, den, steps=6, **kw):
    kw.setdefault("noise_scaling", flow_noise_scaling)
    return sample_continuation(cfg, den, torch.zeros(1, 2, W, 2, 2), ladder(steps), W, frames,
                               generator=torch.Generator().manual_seed(0), **kw)


def test_windows_hold_anchors_then_newest_then_the_chunk():
    cfg, den = ContinuationConfig(chunk=3, anchors=2, anchor_every=10), Echo()
    out = run(cfg, 30, den)
    torch.testing.assert_close(out, torch.arange(30.0)[None, None, :, None, None].expand_as(out))
    windows = [den.calls[i] for i in range(0, len(den.calls), 6)]  # one window per chunk, 6 steps each
    assert windows[0][0] == list(range(8))  # the first chunk: a whole window of new latents, sampled natively
    assert windows[1][0] == [0, 4, 5, 6, 7, 8, 9, 10]  # anchor 0, the 4 newest, 3 new
    assert windows[2][0] == [0, 7, 8, 9, 10, 11, 12, 13]  # anchor 10 is among the newest
    assert windows[3][0] == [0, 10, 11, 12, 13, 14, 15, 16]  # now both anchors, 3 newest
    for pos, sig in den.calls[6:]:
        n = pos[-1] + 1
        new = [p for p, s in zip(pos, sig) if s > 0]
        anchors, recent = context_positions(pos[-len(new)], len(new), W, [0, 10])
        assert pos == anchors + recent + new and new == list(range(n - len(new), n))
        assert all(s == 0 for s in sig[:W - len(new)])  # context is clean
    assert len(den.calls) == 6 * (1 + -(-(30 - 8) // 3))  # steps per chunk, no wasted latent
    last_window = den.calls[-1][0]
    assert last_window[:2] == [0, 10] and last_window[-1] == 29


def test_context_positions():
    assert context_positions(40, 4, 9, [0, 16, 32]) == ([0, 16, 32], [38, 39])
    assert context_positions(33, 4, 9, [0, 16, 32]) == ([0, 16], [30, 31, 32])  # 32 is among the newest
    assert context_positions(9, 9 - 1, 9, [0, 16]) == ([], [8])
    assert context_positions(5, 4, 9, [0, 16, 32]) == ([0], [1, 2, 3, 4])


@pytest.mark.parametrize("cfg,frames,anchors", [
    (ContinuationConfig(chunk=2, anchors=3, anchor_every=5), 31, [0, 5, 10]),
    (ContinuationConfig(chunk=2, anchors=2, anchor_every=5, track=2.0, denoise=0.5), 25, [0, 5]),
], ids=["clean", "tracked_denoise"])
def test_anchors_are_in_the_resume_state_and_resume_is_bit_identical(cfg, frames, anchors):
    def den(x, sigma, prompts=None, positions=None):
        return torch.tanh(0.7 * x + 0.2 * torch.roll(x, 1, dims=2)) + 0.05 * torch.sin(positions.to(x))[
            None, None, :, None, None]

    full = run(cfg, frames, den)
    states = []
    run(cfg, frames, den, stream=Stream(every=4 if cfg.denoise == 1 else 3, on_state=states.append))
    late = [s for s in states if s["frames_done"] > anchors[-1]]
    assert late and sorted(late[0]["anchors"]) == anchors
    for state in (states[0], late[0]):
        out = run(cfg, frames, den, stream=Stream(resume=state))
        k = state["frames_done"]
        assert torch.equal(out[:, :, k:], full[:, :, k:])
    other = dataclasses.replace(cfg, anchor_every=4)
    with pytest.raises(ValueError, match="anchors do not match"):
        run(other, frames, den, stream=Stream(resume=late[0]))
    if cfg.tracked:  # the mode reaches the run
        assert not torch.equal(full, run(dataclasses.replace(cfg, track=0.0), frames, den))


@pytest.mark.parametrize("cfg,match", [
    (ContinuationConfig(chunk=0, anchors=0), r"chunk 0 must be in \[1, window - 1 = 7\]"),
    (ContinuationConfig(chunk=8, anchors=0), r"chunk 8 must be in \[1, window - 1 = 7\]"),
    (ContinuationConfig(chunk=4, anchors=4), r"anchors 4 must be in \[0, window - chunk - 1 = 3\]"),
    (ContinuationConfig(chunk=4, anchors=2, anchor_every=0), "anchor_every must be at least 1"),
])
def test_bad_settings_are_refused_before_any_model_call(cfg, match):
    den = Echo()
    with pytest.raises(ValueError, match=match):
        run(cfg, 20, den)
    assert den.calls == []


def test_anchors_need_a_model_that_takes_positions():
    calls = []

    def old(x, sigma, prompts=None):
        calls.append(1)
        return x * 0

    with pytest.raises(ValueError, match="anchors need a model that takes frame positions.*set anchors to 0"):
        run(ContinuationConfig(chunk=3, anchors=2), 20, old)
    assert calls == []
    out = run(ContinuationConfig(chunk=3, anchors=0), 20, old)  # without anchors every window is consecutive
    assert out.shape[2] == 20 and calls


def test_run_queue_dispatches_and_refuses_miga_parts():
    cfg = QueueConfig(W, 2, True, "noise", continuation=ContinuationConfig(chunk=3, anchors=1, anchor_every=4))
    den = Echo()
    out = run_queue(cfg, den, torch.zeros(1, 2, W, 2, 2), ladder(16), 12, seed=1, noise_scaling=flow_noise_scaling)
    torch.testing.assert_close(out, torch.arange(12.0)[None, None, :, None, None].expand_as(out))
    with pytest.raises(ValueError, match="continuation runs FIFO's ladder of window_length x partitions = 16"):
        run_queue(cfg, den, torch.zeros(1, 2, W, 2, 2), ladder(12), 12, seed=1)
    with pytest.raises(ValueError, match="remove the MIGA parts"):
        run_queue(QueueConfig(W, 2, True, "noise", guidance=GuidanceConfig(2), continuation=cfg.continuation), den,
                  torch.zeros(1, 2, W, 2, 2), ladder(16), 12, seed=1)


def test_clip_init_continues_the_clip():
    clip = torch.randn(1, 2, W, 2, 2, generator=torch.Generator().manual_seed(5))
    den = Echo()
    out = sample_continuation(ContinuationConfig(chunk=3, anchors=0), den, clip, ladder(6), W, 14,
                              generator=torch.Generator().manual_seed(0), init="clip")
    assert torch.equal(out[:, :, :W], clip)  # the clip is the video's first latents
    assert den.calls[0][0] == [3, 4, 5, 6, 7, 8, 9, 10] and len(den.calls) == 6 * 2


class SharedEcho:
    """Like :class:`Echo`, but takes one level per window (``one_level_per_window``) and records ``x``, the sigmas
    and the ``known`` slots of each call."""

    one_level_per_window = True

    def __init__(self):
        self.calls = []

    def __call__(self, x, sigma, prompts=None, positions=None, known=None):
        self.calls.append((x.clone(), sigma.clone(), positions.tolist(), known))
        return positions.to(x)[None, None, :, None, None].expand_as(x).clone()


@pytest.mark.parametrize("auto", [True, False], ids=["model_asks", "config_field"])
def test_shared_level_renoises_the_context_to_the_chunks_level_and_names_it_known(auto):
    steps, cfg = 6, ContinuationConfig(chunk=3, anchors=1, anchor_every=10, shared_level=not auto)
    den = SharedEcho()
    if not auto:  # the same denoiser without the attribute: the config field alone turns the mode on
        den.one_level_per_window = False
    out = run(cfg, 20, den, steps=steps)
    torch.testing.assert_close(out, torch.arange(20.0)[None, None, :, None, None].expand_as(out))
    sig = ladder(steps)
    for i, (x, sigma, pos, known) in enumerate(den.calls):
        step = i % steps
        assert torch.equal(sigma, sig[step].expand_as(sigma))  # every frame of the window at the chunk's level
        if i < steps:  # the first chunk has no context
            assert known is None
            continue
        c = W - sum(1 for p in pos if p >= pos[-1] - 2)
        assert known.mask.tolist() == [True] * c + [False] * (W - c)
        clean = torch.tensor(pos[:c], dtype=torch.float32)[None, None, :, None, None].expand(1, 2, c, 2, 2)
        torch.testing.assert_close(known.x0[:, :, :c], clean)  # the finished latents (Echo: their positions)
        assert torch.equal(known.x0[:, :, c:], torch.zeros_like(known.x0[:, :, c:]))
        # the context slots are the clean latents noised to this step's level, with one noise draw per chunk
        noise = (x[:, :, :c] - (1 - sig[step]) * clean) / sig[step]
        first = den.calls[i - step][0]
        torch.testing.assert_close(noise, (first[:, :, :c] - (1 - sig[0]) * clean) / sig[0])
        assert noise.abs().max() > 0.1


def test_shared_level_resumes_bit_for_bit():
    cfg = ContinuationConfig(chunk=2, anchors=1, anchor_every=5, shared_level=True)

    def den(x, sigma, prompts=None, positions=None, known=None):
        return torch.tanh(0.7 * x + 0.2 * torch.roll(x, 1, dims=2)) + 0.1 * known.x0 if known is not None else x * 0

    full = run(cfg, 17, den)
    states = []
    run(cfg, 17, den, stream=Stream(every=3, on_state=states.append))
    assert len(states) >= 2
    for state in states[:2]:
        out = run(cfg, 17, den, stream=Stream(resume=state))
        k = state["frames_done"]
        assert torch.equal(out[:, :, k:], full[:, :, k:])
    assert not torch.equal(full, run(ContinuationConfig(chunk=2, anchors=1, anchor_every=5), 17, den))


def test_one_level_denoiser_is_refused_by_the_diagonal_queue_before_any_model_call():
    den = SharedEcho()
    with pytest.raises(ValueError, match="one noise level per window.*chunked continuation"):
        run_queue(QueueConfig(W, 2, True, "noise"), den, torch.zeros(1, 2, W, 2, 2), ladder(16), 12, seed=1)
    assert den.calls == []


def test_chunks_in_flight_share_the_window_at_staggered_levels():
    """in_flight 2, 6 steps: every tick is 3 calls; the window holds the context, then the older chunk (steps 3-5 of
    its ladder) beside the newer one (steps 0-2); the older leaves clean after the tick, and the last chunk drains
    with more context slots."""
    cfg, den = ContinuationConfig(chunk=2, anchors=1, anchor_every=10, in_flight=2), Echo()
    out = run(cfg, 20, den)
    torch.testing.assert_close(out, torch.arange(20.0)[None, None, :, None, None].expand_as(out))
    sig = ladder(6).tolist()
    assert den.calls[0][0] == list(range(8)) and len(den.calls) - 6 == 3 * (6 + 1)  # 6 chunks of 2, one drain tick
    first_tick = den.calls[6:9]
    for j, (pos, s) in enumerate(first_tick):  # one chunk in flight: 6 context slots, chunk 8-9
        assert pos == [0, 3, 4, 5, 6, 7, 8, 9] and s == [0.0] * 6 + [sig[j]] * 2
    for j, (pos, s) in enumerate(den.calls[9:12]):  # chunk 8-9 at steps 3-5, chunk 10-11 at steps 0-2
        assert pos == [0, 5, 6, 7, 8, 9, 10, 11]  # anchor 0, 3 newest, then the two chunks
        assert s == [0.0] * 4 + [sig[3 + j]] * 2 + [sig[j]] * 2
    drain = den.calls[-3:]  # the last chunk (18-19) alone, at steps 3-5, beside 6 clean latents
    assert all(p == [0, 13, 14, 15, 16, 17, 18, 19] for p, _ in drain)
    assert [s[-1] for _, s in drain] == sig[3:6]


def test_in_flight_resumes_bit_for_bit_with_a_chunk_in_flight():
    cfg = ContinuationConfig(chunk=2, anchors=2, anchor_every=6, in_flight=2)

    def den(x, sigma, prompts=None, positions=None):
        return torch.tanh(0.7 * x + 0.2 * torch.roll(x, 1, dims=2)) + 0.05 * torch.sin(positions.to(x))[
            None, None, :, None, None]

    for rule in ("dpmpp_2m", "euler_ancestral"):
        full = run(cfg, 25, den, rule=rule)
        states = []
        run(cfg, 25, den, rule=rule, stream=Stream(every=1, on_state=states.append))
        mid = [s for s in states if s["flight"] and s["frames_done"] > 12]
        assert mid and mid[0]["flight"][0]["step"] == 3  # half its ladder done
        assert (mid[0]["flight"][0]["old"] is not None) == (rule == "dpmpp_2m")  # 2M's history travels with it
        out = run(cfg, 25, den, rule=rule, stream=Stream(resume=mid[0]))
        k = mid[0]["frames_done"]
        assert torch.equal(out[:, :, k:], full[:, :, k:]), rule
    with pytest.raises(ValueError, match="chunks in flight do not match"):
        run(ContinuationConfig(chunk=2, anchors=2, anchor_every=6), 25, den, stream=Stream(resume=mid[0]))


def test_2m_first_window_is_the_oracles_native_2m_window():
    """The first chunk has no context: with dpmpp_2m it is native DPM-Solver++(2M) sampling of one window, which the
    oracle computes independently (tools/testing/oracle.py native_window, order 2)."""
    from infinite_video.tools.testing import oracle

    d = oracle.ExactDenoiser(0.9, 0.5)
    sig = oracle.shifted_ladder(12, 5.0)
    want = oracle.native_window(d, (2, 2, W, 3, 3), sig, [(0, 12)], torch.Generator().manual_seed(3), order=2)
    got = sample_continuation(ContinuationConfig(chunk=3, anchors=0), d, torch.zeros(2, 2, W, 3, 3), sig, W, W,
                              generator=torch.Generator().manual_seed(3), rule="dpmpp_2m",
                              noise_scaling=flow_noise_scaling)
    torch.testing.assert_close(got, want)
    euler = sample_continuation(ContinuationConfig(chunk=3, anchors=0), d, torch.zeros(2, 2, W, 3, 3), sig, W, W,
                                generator=torch.Generator().manual_seed(3), noise_scaling=flow_noise_scaling)
    assert (euler - got).abs().max() > 1e-3  # a different solver, not Euler renamed


def test_2m_and_in_flight_refusals_before_any_model_call():
    den = Echo()
    fifo = QueueConfig(W, 2, True, "noise")
    with pytest.raises(ValueError, match="dpmpp_2m needs Chunked Continuation"):
        run_queue(fifo, den, torch.zeros(1, 2, W, 2, 2), ladder(16), 12, seed=1, rule="dpmpp_2m")
    with pytest.raises(ValueError, match="dpmpp_2m needs Chunked Continuation"):
        run_queue(dataclasses.replace(fifo, guidance=GuidanceConfig(2)), den, torch.zeros(1, 2, W, 2, 2),
                  ladder(16), 12, seed=1, rule="dpmpp_2m")
    with pytest.raises(ValueError, match=r"chunk 3 x in_flight 3 = 9 new latents must be in \[1, window - 1 = 7\]"):
        run(ContinuationConfig(chunk=3, anchors=0, in_flight=3), 20, den)
    with pytest.raises(ValueError, match=r"anchors 2 must be in \[0, window - chunk x in_flight - 1 = 1\]"):
        run(ContinuationConfig(chunk=3, anchors=2, in_flight=2), 20, den)
    with pytest.raises(ValueError, match="in_flight must be at least 1"):
        run(ContinuationConfig(chunk=3, anchors=0, in_flight=0), 20, den)
    with pytest.raises(ValueError, match="one noise level per window.*set in_flight to 1"):
        run(ContinuationConfig(chunk=2, anchors=0, shared_level=True, in_flight=2), 20, den)
    assert den.calls == []


def test_2m_reads_lambda_off_the_model_family():
    """DPM-Solver++(2M)'s ratio r uses lambda = log(alpha / s): -log(sigma) for a variance-exploding family (Cosmos in
    ComfyUI, EPS models), log((1 - sigma) / sigma) for flow matching; first order from zero signal or onto sigma 0."""
    import math

    from infinite_video.samplers.steps import dpmpp_2m_denoised, ve_noise_scaling

    den, old = torch.full((1, 1, 1, 1, 1), 3.0), torch.full((1, 1, 1, 1, 1), 1.0)
    for ns, lam in ((ve_noise_scaling, lambda s: -math.log(s)), (flow_noise_scaling, lambda s: math.log((1 - s) / s))):
        r = (lam(0.6) - lam(0.8)) / (lam(0.3) - lam(0.6))
        got = dpmpp_2m_denoised(den, old, 0.8, 0.6, 0.3, ns)
        torch.testing.assert_close(got, (1 + 0.5 / r) * den - 0.5 / r * old)
        assert torch.equal(dpmpp_2m_denoised(den, old, 0.8, 0.6, 0.0, ns), den)  # onto sigma 0
        assert torch.equal(dpmpp_2m_denoised(den, None, 0.8, 0.6, 0.3, ns), den)  # no history yet
    assert torch.equal(dpmpp_2m_denoised(den, old, 1.0, 0.6, 0.3, flow_noise_scaling), den)  # from flow's sigma 1


@pytest.mark.parametrize("chunk,in_flight,frames", [(2, 2, 20), (3, 1, 20), (5, 1, 8), (2, 3, 23), (3, 2, 9)])
def test_chunk_ticks_counts_the_calls_the_run_makes(chunk, in_flight, frames):
    """The Note's cost line (tools/authoring/ui_workflows.py) and the run's progress total read the same count:
    the first window's ``steps`` calls, then ``per_tick`` calls per tick after it."""
    from infinite_video.samplers.continuation import chunk_ticks

    den, steps = Echo(), 6
    run(ContinuationConfig(chunk=chunk, anchors=0, anchor_every=10, in_flight=in_flight), frames, den, steps=steps)
    per_tick = -(-steps // in_flight)
    assert len(den.calls) == steps + per_tick * chunk_ticks(frames, W, chunk, steps, per_tick)


def test_tracked_context_moves_the_noise_by_the_models_misreading_of_the_context():
    """Tracked context: every frame at the chunk's level; between two calls of one chunk the context's noise moves by
    ``track * (1 - sigma) * (clean - read) / sigma`` (flow), ``read`` the model's estimate of the context slots."""
    steps, cfg = 6, ContinuationConfig(chunk=3, anchors=1, anchor_every=10, track=1.5)
    seen = []

    def den(x, sigma, prompts=None, positions=None, known=None):  # reads every frame half way to its position
        seen.append((x.clone(), sigma.clone(), positions.tolist()))
        return 0.5 * x + 0.5 * positions.to(x)[None, None, :, None, None]

    out = run(cfg, 20, den, steps=steps)
    sig = ladder(steps)
    moved = 0
    for i in range(steps, len(seen) - 1):
        step = i % steps
        x, sigma, pos = seen[i]
        assert torch.equal(sigma, sig[step].expand_as(sigma))  # one level per window
        if step == steps - 1:
            continue
        c = W - 3
        clean = out[:, :, pos[:c]]  # the finished latents
        noise = (x[:, :, :c] - (1 - sig[step]) * clean) / sig[step]
        read = 0.5 * x[:, :, :c] + 0.5 * torch.tensor(pos[:c], dtype=x.dtype)[None, None, :, None, None]
        want = noise + 1.5 * (1 - sig[step]) / sig[step] * (clean - read)
        nxt = seen[i + 1][0][:, :, :c]
        torch.testing.assert_close(nxt, sig[step + 1] * want + (1 - sig[step + 1]) * clean)
        moved += 1
    assert moved > 10


def test_tracked_context_keeps_the_subject_on_the_oracle_under_a_single_level_model():
    """On the analytic oracle with a subject (W = 0.5), a model trained on single-level windows (the mismatched
    denoiser) loses the subject with clean context beside the chunk and keeps it with tracked context; tracked windows
    sit at one level, which that model reads exactly, so its run equals the exact denoiser's bit for bit."""
    from infinite_video.tools.testing import oracle

    st = oracle.SMALL
    sig = oracle.ladder("cont_k4_a4_s24", st)
    lat = torch.zeros(4, 2, st.window, 4, 4)
    tracked, clean = ContinuationConfig(4, 4, 24, track=2.0, denoise=0.5), ContinuationConfig(4, 4, 24)

    def video(cfg, den):
        return sample_continuation(cfg, den, lat, sig, st.window, 160, generator=torch.Generator().manual_seed(1),
                                   noise_scaling=flow_noise_scaling)

    t_mis = video(tracked, oracle.MismatchedDenoiser(0.9, 0.5))
    assert torch.equal(t_mis, video(tracked, oracle.ExactDenoiser(0.9, 0.5)))
    m_t, m_c = oracle.measure(t_mis), oracle.measure(video(clean, oracle.MismatchedDenoiser(0.9, 0.5)))
    assert m_t.lag_distant > 0.3 and m_c.lag_distant < 0.1, (m_t, m_c)  # lags 100-159; truth 0.5
    assert m_t.lag1 > 0.93 > m_c.lag1, (m_t, m_c)  # native 0.97; clean context breaks the chunk borders


def test_denoise_starts_later_chunks_from_the_newest_latent_and_skips_the_top_of_the_ladder():
    """``denoise`` 0.5 on a 6-step ladder: the first chunk runs all 6 steps from noise, every later one the last 3
    from the newest finished latent repeated and noised to the level of step 3 (a noise scaling that keeps only the
    clean part shows the start exactly)."""
    steps, cfg = 6, ContinuationConfig(chunk=3, anchors=0, denoise=0.5)
    seen = []

    def den(x, sigma, prompts=None, positions=None):
        seen.append((x.clone(), sigma[0].tolist(), positions.tolist()))
        return positions.to(x)[None, None, :, None, None].expand_as(x).clone()

    def keep_clean(sigma, noise, x0):  # the start without its noise
        return x0 + 0 * noise

    sig = ladder(steps)
    out = run(cfg, 20, den, steps=steps, noise_scaling=keep_clean)
    assert len(seen) == steps + 3 * 4  # the first window, then 4 chunks of 3 calls
    for j in range(4):
        x, sigma, pos = seen[steps + 3 * j]  # a later chunk's first call
        assert sigma[-3:] == [float(sig[3])] * 3
        newest = out[:, :, pos[-4]]  # the last finished latent before the chunk
        assert torch.equal(x[:, :, -3:], newest[:, :, None].expand(-1, -1, 3, -1, -1))
    assert [s[-1] for _, s, _ in seen[:steps]] == [float(v) for v in sig[:steps]]


@pytest.mark.parametrize("cfg,match", [
    (ContinuationConfig(chunk=3, anchors=0, track=-1.0), r"track must be a gain in \[0, 4.0\]"),
    (ContinuationConfig(chunk=3, anchors=0, track=float("nan")), r"track must be a gain"),
    (ContinuationConfig(chunk=3, anchors=0, track=5.0), r"track must be a gain in \[0, 4.0\]"),
    (ContinuationConfig(chunk=3, anchors=0, denoise=0.0), r"denoise must be in \(0, 1\]"),
    (ContinuationConfig(chunk=3, anchors=0, denoise=1.5), r"denoise must be in \(0, 1\]"),
    (ContinuationConfig(chunk=2, anchors=0, in_flight=2, track=2.0),
     "in_flight 2 cannot run with tracked context.*set in_flight to 1"),
    (ContinuationConfig(chunk=2, anchors=0, in_flight=2, denoise=0.5),
     "in_flight 2 cannot run with denoise 0.5.*set in_flight to 1"),
])
def test_bad_tracking_and_denoise_are_refused_before_any_model_call(cfg, match):
    den = Echo()
    with pytest.raises(ValueError, match=match):
        run(cfg, 20, den)
    assert den.calls == []
