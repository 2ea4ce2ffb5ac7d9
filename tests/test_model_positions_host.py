"""Frame positions through to the model (``nodes/positions.py``): Wan's temporal RoPE at each window frame's capped
offset, the stock path bit for bit for consecutive windows, the cap, continuation anchors refused for models that
see windows as consecutive, and a continuation run on tiny Wan whose anchors really reach the model (and resume)."""

from __future__ import annotations

import random

import pytest
import torch

from infinite_video.nodes.positions import capped_gaps, model_offsets

# -- the cap (pure) ---------------------------------------------------------------------------------------------------


def test_offsets_of_consecutive_or_fitting_windows_are_unchanged():
    assert model_offsets([-3, -2, -1, 0, 1], 21) == [0, 1, 2, 3, 4]  # warm-up / padding continue the window
    assert model_offsets(range(40, 70), 21) == list(range(30))  # a window longer than the span: consecutive, as is
    assert model_offsets([0, 5, 6, 7], 21) == [0, 5, 6, 7]
    assert model_offsets([3, 23], 21) == [0, 20]  # exactly the trained span


def test_far_gaps_are_cut_to_one_common_length_within_the_span():
    # a continuation window: anchors 0, 16, 32, newest finished 38, 39, new 40..43 (span 43)
    assert model_offsets([0, 16, 32, 38, 39, 40, 41, 42, 43], 21) == [0, 5, 10, 15, 16, 17, 18, 19, 20]
    assert model_offsets([0, 100, 101], 21) == [0, 19, 20]
    # more gaps than the span absorbs: every far gap 2 (never a neighbour), the span just beyond 20
    assert model_offsets([10 * i for i in range(12)], 21) == [2 * i for i in range(12)]
    # any order, equal positions keep equal offsets
    assert model_offsets([43, 0, 42, 0, 16], 21) == [model_offsets([0, 16, 42, 43], 21)[k] for k in (3, 0, 2, 0, 1)]


def test_capped_gaps_rule_on_random_windows():
    rng = random.Random(0)
    for _ in range(500):
        gaps = [rng.choice([0, 1, 1, 1, 2, 3, 7, 16, 50, 400]) for _ in range(rng.randint(1, 24))]
        limit = rng.randint(0, 40)
        out = capped_gaps(gaps, limit)
        floor = sum(min(g, 2) for g in gaps)
        assert sum(out) <= max(limit, floor)
        if sum(gaps) <= limit:
            assert out == gaps
            continue
        c = max(out + [2])  # the cut (2 when no gap was over 2: nothing cut)
        assert all(o == min(g, c) for o, g in zip(out, gaps))  # one common cut, near gaps kept
        assert c >= 2 and (c == 2 or sum(min(g, c + 1) for g in gaps) > limit)  # the largest cut that fits


def test_the_denoiser_says_whether_positions_reach_the_model():
    from infinite_video.samplers.config import ContinuationConfig
    from infinite_video.samplers.continuation import sample_continuation
    from infinite_video.samplers.denoiser import call_denoiser, positions_reach_model

    seen = []

    class Adapter:  # like the ComfyUI adapter's denoiser: takes positions (per-frame conditioning), flag set once
        positions_reach_model = False

        def __call__(self, x, sigma, **kwargs):
            seen.append(kwargs.get("positions"))
            return x * 0

    den = Adapter()
    x, sigma, pos = torch.zeros(1, 2, 3, 1, 1), torch.ones(1, 3), torch.tensor([0, 5, 6])
    call_denoiser(den, x, sigma, None, pos)
    assert seen[-1] is pos and not positions_reach_model(den)
    den.positions_reach_model = True
    assert positions_reach_model(den)
    assert positions_reach_model(lambda x, s, positions=None: x) and not positions_reach_model(lambda x, s: x)
    den.positions_reach_model, calls = False, len(seen)
    with pytest.raises(ValueError, match="continuation anchors 2: .*set anchors to 0, or use a Wan 2.1 / 2.2 model"):
        sample_continuation(ContinuationConfig(chunk=2, anchors=2, anchor_every=4), den, torch.zeros(1, 2, 6, 1, 1),
                            torch.linspace(1, 0, 5), 6, 12, generator=torch.Generator().manual_seed(0))
    assert len(seen) == calls


# -- the model (tiny real Wan) ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sharp_wan(comfy_host, tmp_path_factory):
    """The tiny Wan 2.1 with its q / k RMSNorm gains at 1 (their init) instead of N(0, 0.02): attention logits of order
    sqrt(head dim) instead of ~0.005, so where a frame sits (RoPE) shows in the output, as in a trained model. Every
    other weight is ``write_tiny_wan21``'s."""
    import comfy.sd
    import safetensors.torch

    from infinite_video.tools.testing.tiny_models import write_tiny_wan21

    path = write_tiny_wan21(tmp_path_factory.mktemp("sharp") / "sharp_wan21.safetensors")
    sd = safetensors.torch.load_file(str(path))
    sd = {k: torch.ones_like(v) if k.endswith(("norm_q.weight", "norm_k.weight")) else v for k, v in sd.items()}
    safetensors.torch.save_file(sd, str(path))
    return comfy.sd.load_diffusion_model(str(path))


def _wan_inputs(channels: int, frames: int, seed: int = 0):
    from infinite_video.tools.testing.tiny_models import tiny_conditioning

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, frames, 4, 6, generator=gen)
    ctx = tiny_conditioning(1)[0][0].repeat(2, 1, 1)
    sigma = torch.rand(2, frames, generator=gen) * 0.8 + 0.1
    return x, ctx, sigma


def _per_frame(bm, x, ctx, sigma, positions=None, family="wan"):
    """``apply_model`` through the adapter's wrappers (``family=None``: without the positions wrapper)."""
    from infinite_video.nodes import adapter

    to = adapter.per_frame_options({}, family)["transformer_options"]
    to[adapter.SIGMA_KEY] = sigma
    to[adapter.POSITIONS_KEY] = None if positions is None else torch.tensor(positions)
    return bm.apply_model(x, sigma.mean(dim=1), c_crossattn=ctx, transformer_options=to)


@pytest.mark.host
@pytest.mark.parametrize("fixture,channels", [("sharp_wan", 16), ("tiny_wan", 16), ("tiny_wan22", 48)])
def test_consecutive_positions_give_todays_output_bit_for_bit(request, fixture, channels):
    bm = request.getfixturevalue(fixture).model
    x, ctx, sigma = _wan_inputs(channels, 4)
    today = _per_frame(bm, x, ctx, sigma, [7, 8, 9, 10], family=None)
    for positions in ([7, 8, 9, 10], [-2, -1, 0, 1], None):
        assert torch.equal(_per_frame(bm, x, ctx, sigma, positions), today)
    if fixture == "sharp_wan":  # (the random-weight models' attention is near uniform: RoPE barely shows)
        gap = _per_frame(bm, x, ctx, sigma, [0, 8, 9, 10])
        assert (gap - today).abs().max() > 1e-3, "a gap reaches the model"


def _stock_forward(net, x, t, ctx, offsets):
    """``WanModel.forward_orig`` with freqs made frame by frame by the stock ``rope_encode(1, h, w, t_start=p)``."""
    _, _, f, h, w = x.shape
    freqs = torch.cat([net.rope_encode(1, h, w, t_start=int(p), device=x.device, dtype=x.dtype) for p in offsets],
                      dim=1)
    return net.forward_orig(x, t, ctx, freqs=freqs)[:, :, :f, :h, :w]


@pytest.mark.host
@pytest.mark.parametrize("fixture,channels", [("sharp_wan", 16), ("tiny_wan22", 48)])
def test_a_window_with_a_gap_equals_the_stock_model_at_those_positions(request, fixture, channels):
    from infinite_video.nodes import adapter

    net = request.getfixturevalue(fixture).model.diffusion_model
    x, ctx, _ = _wan_inputs(channels, 4, seed=3)
    t = torch.tensor([[900.0, 500.0, 500.0, 100.0], [900.0, 500.0, 500.0, 100.0]])
    to = adapter.per_frame_options({}, "wan")["transformer_options"]

    def run(positions):
        to[adapter.POSITIONS_KEY] = torch.tensor(positions)
        return net(x, t, ctx, transformer_options=to)

    got = run([3, 9, 10, 11])
    assert torch.equal(got, _stock_forward(net, x, t, ctx, [0, 6, 7, 8]))
    # the cap: 100 latents back is out of the trained span; the model sees it 18 back (span 20)
    capped = run([0, 100, 101, 102])
    assert torch.equal(capped, _stock_forward(net, x, t, ctx, [0, 18, 19, 20]))
    if fixture == "sharp_wan":  # positions show in the output
        assert (got - _stock_forward(net, x, t, ctx, [0, 1, 2, 3])).abs().max() > 1e-3
        assert (capped - _stock_forward(net, x, t, ctx, [0, 100, 101, 102])).abs().max() > 1e-3
    # an odd size (padded to the patch size, then cropped) goes the same way
    import comfy.ldm.common_dit

    odd = x[:, :, :, :3, :5]
    to[adapter.POSITIONS_KEY] = torch.tensor([0, 4, 5, 6])
    padded = comfy.ldm.common_dit.pad_to_patch_size(odd, net.patch_size)
    assert torch.equal(net(odd, t, ctx, transformer_options=to),
                       _stock_forward(net, padded, t, ctx, [0, 4, 5, 6])[:, :, :, :3, :5])


@pytest.mark.host
def test_a_vace_window_with_a_gap_equals_the_stock_vace_model_at_those_positions(tiny_wan_vace):
    """VACE's blocks read the same freqs as the main blocks: the wrapper's positions reach both."""
    from infinite_video.nodes import adapter

    net = tiny_wan_vace.model.diffusion_model
    x, ctx, _ = _wan_inputs(16, 4, seed=5)
    vace = dict(vace_context=torch.randn(2, 1, 96, 4, 4, 6, generator=torch.Generator().manual_seed(6)),
                vace_strength=[1.0])
    t = torch.tensor([500.0, 500.0])  # VACE takes one timestep per window
    to = adapter.per_frame_options({}, "wan")["transformer_options"]
    to[adapter.POSITIONS_KEY] = torch.tensor([3, 9, 10, 11])
    got = net(x, t, ctx, transformer_options=to, **vace)

    def stock(offsets):
        freqs = torch.cat([net.rope_encode(1, 4, 6, t_start=p, device=x.device, dtype=x.dtype) for p in offsets], 1)
        return net.forward_orig(x, t, ctx, freqs=freqs, **vace)[:, :, :4]

    assert torch.equal(got, stock([0, 6, 7, 8]))
    assert not torch.equal(got, stock([0, 1, 2, 3]))


# -- continuation through the sampler node ----------------------------------------------------------------------------


def _queue(anchors: int):
    from infinite_video.samplers.config import ContinuationConfig, QueueConfig

    return QueueConfig(4, 1, False, "noise", continuation=ContinuationConfig(chunk=1, anchors=anchors, anchor_every=3))


def _sample(model, family, queue, frames=8, seed=4, sink=None, rule="euler"):
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.tools.testing.tiny_models import CONTEXT_DIMS, tiny_conditioning

    channels = {"wan21": 16, "ltxv": 128}[family]
    pos, neg = (tiny_conditioning(s, dim=CONTEXT_DIMS[family], attention_mask=family == "ltxv") for s in (1, 2))
    latent = {"samples": torch.zeros(1, channels, 4, 4, 4)}
    return InfiniteVideoSampler.execute(model, pos, neg, latent, queue, seed, frames, 1.0, rule, 1.0, "simple",
                                        sink=sink)


@pytest.mark.host
def test_anchors_on_a_model_that_sees_consecutive_frames_are_refused_before_any_model_call(tiny_ltxv):
    from infinite_video.samplers.continuation import sample_continuation
    from infinite_video.samplers.denoiser import positions_reach_model
    from infinite_video.tools.testing.call_counter import count_model_calls

    model, counter = count_model_calls(tiny_ltxv)
    with pytest.raises(ValueError, match="Infinite Video Sampler: continuation anchors 1: .*LTX-Video sees every "
                                         "window as consecutive frames.*set anchors to 0, or load a Wan"):
        _sample(model, "ltxv", _queue(1), frames=6)
    assert counter.calls == 0
    out = _sample(model, "ltxv", _queue(0), frames=6).args[0]["samples"]  # without anchors it runs
    assert out.shape[2] == 6 and counter.calls > 0

    # the engine's own check, on the denoiser the adapter builds (SamplerCustomAdvanced takes this path)
    import comfy.samplers

    from infinite_video.nodes.adapter import PerFrameSampler

    seen = []

    def run(denoiser, latent, sigmas, noise_scaling, callback):
        seen.append(positions_reach_model(denoiser))
        return sample_continuation(_queue(1).continuation, denoiser, latent, sigmas, 4, 6,
                                   generator=torch.Generator().manual_seed(0), noise_scaling=noise_scaling)
    before = counter.calls
    guider = comfy.samplers.CFGGuider(model)
    from infinite_video.tools.testing.tiny_models import tiny_conditioning

    guider.set_conds(tiny_conditioning(1, attention_mask=True), tiny_conditioning(2, attention_mask=True))
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", 4).cpu()
    with pytest.raises(ValueError, match="continuation anchors 1: .*set anchors to 0, or use a Wan 2.1 / 2.2 model"):
        guider.sample(torch.zeros(1, 128, 4, 4, 4), torch.zeros(1, 128, 4, 4, 4), PerFrameSampler(run), sigmas,
                      seed=0)
    assert seen == [False] and counter.calls == before
    # the SamplerCustomAdvanced node refuses them by name, before its sink or any model call
    from infinite_video.nodes.sampler import QueueSamplerCustom

    custom = QueueSamplerCustom.execute(_queue(1), 6, "euler", 0.0).args[0]
    with pytest.raises(ValueError, match=r"Infinite Video Queue Sampler \(custom\): continuation anchors 1: .*"
                                         r"LTX-Video.*set anchors to 0"):
        guider.sample(torch.zeros(1, 128, 4, 4, 4), torch.zeros(1, 128, 4, 4, 4), custom, sigmas, seed=0)
    assert counter.calls == before


def _without_positions(model):
    """A clone whose network never gets the stream positions (an outer ``DIFFUSION_MODEL`` wrapper drops them): what
    the same run gives a model that sees every window as consecutive frames."""
    import comfy.patcher_extension

    from infinite_video.nodes.adapter import POSITIONS_KEY

    def drop(executor, *args, **kwargs):
        args = [dict(a, **{POSITIONS_KEY: None}) if isinstance(a, dict) and POSITIONS_KEY in a else a for a in args]
        return executor(*args, **kwargs)
    clone = model.clone()
    clone.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "test_drop_positions", drop)
    return clone


@pytest.mark.host
def test_continuation_anchors_reach_the_wan_model(sharp_wan):
    with_positions = _sample(sharp_wan, "wan21", _queue(2)).args[0]["samples"]
    blind = _sample(_without_positions(sharp_wan), "wan21", _queue(2)).args[0]["samples"]
    assert with_positions.shape == blind.shape == (1, 16, 8, 4, 4)
    # the first chunk is one window of 4 consecutive new latents: the stock path, bit for bit
    assert torch.equal(with_positions[:, :, :4], blind[:, :, :4])
    # every later chunk sits behind anchors 0 and 3 at their true distance: the model sees a gap
    assert (with_positions[:, :, 4:] - blind[:, :, 4:]).abs().amax(dim=(0, 1, 3, 4)).min() > 1e-3


@pytest.mark.host
def test_fifo_through_the_node_is_todays_run_bit_for_bit(sharp_wan):
    """FIFO's windows (warm-up and padding included) are consecutive: the stock forward, whole run."""
    from infinite_video.samplers.config import QueueConfig

    queue = QueueConfig(4, 1, True, "noise")
    out = _sample(sharp_wan, "wan21", queue, frames=5).args[0]["samples"]
    assert torch.equal(out, _sample(_without_positions(sharp_wan), "wan21", queue, frames=5).args[0]["samples"])


@pytest.mark.host
def test_continuation_with_anchors_resumes_bit_for_bit(sharp_wan, output_dir):
    from infinite_video.nodes.video_sink import VideoSink
    from infinite_video.tools.testing.call_counter import run_cancelled

    def sink(prefix, resume=""):
        return VideoSink.execute(decode="preview", filename_prefix=prefix, fps=8.0, codec="h264 (mp4)", quality=0,
                                 checkpoint_every=2, resume=resume, vae=None).args[0]

    ref = _sample(sharp_wan, "wan21", _queue(2), frames=10, sink=sink("iv/full")).args[0]["samples"]
    # Cancel in the middle of the 6th chunk (4 steps each), when anchors 0 and 3 are kept.
    run_cancelled(sharp_wan, 4 * 5 + 2, lambda m: _sample(m, "wan21", _queue(2), frames=10, sink=sink("iv/cut")))
    (ckpt,) = list((output_dir / "iv").glob("cut_*.ivckpt"))
    data = torch.load(ckpt, weights_only=True)
    assert 4 <= data["latent_frames"] < 10 and sorted(data["engine"]["anchors"]) == [0, 3]  # anchors in the checkpoint
    resumed = _sample(sharp_wan, "wan21", _queue(2), frames=10, sink=sink("iv/cut", f"iv/{ckpt.name}"))
    assert torch.equal(resumed.args[0]["samples"], ref)


@pytest.mark.host
def test_chunks_in_flight_with_dpmpp_2m_resume_bit_for_bit(sharp_wan, output_dir):
    """The oracle's identity chain in small (Chunked Continuation node: chunk 1, 1 anchor, 2 in flight; sampler
    dpmpp_2m) on the real tiny Wan: the node builds the queue, the run costs steps / 2 calls per chunk, and a
    Cancel while a chunk is half way down its ladder resumes bit for bit (the chunk and its 2M history are in the
    checkpoint)."""
    from infinite_video.nodes.continuation import ChunkedContinuation
    from infinite_video.nodes.video_sink import VideoSink
    from infinite_video.samplers.config import QueueConfig
    from infinite_video.tools.testing.call_counter import count_model_calls, run_cancelled

    queue = ChunkedContinuation.execute(QueueConfig(4, 1, False, "noise"), chunk=1, anchors=1, anchor_every=3,
                                        in_flight=2).args[0]
    assert queue.continuation.in_flight == 2

    def sink(prefix, resume=""):
        return VideoSink.execute(decode="preview", filename_prefix=prefix, fps=8.0, codec="h264 (mp4)", quality=0,
                                 checkpoint_every=1, resume=resume, vae=None).args[0]

    model, counter = count_model_calls(sharp_wan)
    ref = _sample(model, "wan21", queue, frames=10, sink=sink("iv/full"), rule="dpmpp_2m").args[0]["samples"]
    assert counter.calls == 4 + 2 * (6 + 1)  # the first window's 4 steps, then 2 calls a tick: 6 chunks + 1 drain
    euler = _sample(sharp_wan, "wan21", queue, frames=10, rule="euler").args[0]["samples"]
    assert ref.shape[2] == 4 and (euler[:, :, -4:] - ref).abs().max() > 1e-4  # the rule reaches the run
    run_cancelled(sharp_wan, 4 + 2 * 3 + 1, lambda m: _sample(m, "wan21", queue, frames=10, sink=sink("iv/cut"),
                                                           rule="dpmpp_2m"))
    (ckpt,) = list((output_dir / "iv").glob("cut_*.ivckpt"))
    data = torch.load(ckpt, weights_only=True)
    flight = data["engine"]["flight"]
    assert len(flight) == 1 and flight[0]["step"] == 2 and flight[0]["old"] is not None
    resumed = _sample(sharp_wan, "wan21", queue, frames=10, sink=sink("iv/cut", f"iv/{ckpt.name}"), rule="dpmpp_2m")
    assert torch.equal(resumed.args[0]["samples"], ref)


@pytest.mark.host
def test_dpmpp_2m_on_the_diagonal_queue_is_refused_before_any_model_call(sharp_wan):
    from infinite_video.samplers.config import QueueConfig
    from infinite_video.tools.testing.call_counter import count_model_calls

    model, counter = count_model_calls(sharp_wan)
    with pytest.raises(ValueError, match="sampler_name dpmpp_2m needs Chunked Continuation.*pick one of those"):
        _sample(model, "wan21", QueueConfig(4, 1, True, "noise"), frames=5, rule="dpmpp_2m")
    assert counter.calls == 0


@pytest.mark.host
def test_tracked_context_with_denoise_through_the_node_resumes_bit_for_bit(sharp_wan, output_dir):
    """The templates' chain in small on the real tiny Wan (Chunked Continuation: chunk 1, 1 anchor, context tracked,
    denoise 0.5): an API prompt without the new inputs keeps clean context and the whole ladder; with them every
    chunk after the first costs half the ladder's calls, the output differs from clean context, and a Cancel in the
    middle of a chunk resumes bit for bit."""
    from infinite_video.nodes.continuation import ChunkedContinuation
    from infinite_video.nodes.video_sink import VideoSink
    from infinite_video.samplers.config import QueueConfig
    from infinite_video.samplers.continuation import TRACK_GAIN
    from infinite_video.tools.testing.call_counter import count_model_calls, run_cancelled

    base = QueueConfig(4, 1, False, "noise")
    old = ChunkedContinuation.execute(base, chunk=1, anchors=1, anchor_every=3).args[0]
    assert old.continuation.track == 0.0 and old.continuation.denoise == 1.0
    queue = ChunkedContinuation.execute(base, chunk=1, anchors=1, anchor_every=3, context="tracked",
                                        denoise=0.5).args[0]
    assert queue.continuation.track == TRACK_GAIN and queue.continuation.denoise == 0.5

    def sink(prefix, resume=""):
        return VideoSink.execute(decode="preview", filename_prefix=prefix, fps=8.0, codec="h264 (mp4)", quality=0,
                                 checkpoint_every=1, resume=resume, vae=None).args[0]

    model, counter = count_model_calls(sharp_wan)
    ref = _sample(model, "wan21", queue, frames=10, sink=sink("iv/full")).args[0]["samples"]
    assert counter.calls == 4 + 6 * 2  # the first window's 4 steps, then 2 of 4 steps for each of 6 chunks
    clean = _sample(sharp_wan, "wan21", old, frames=10).args[0]["samples"]
    assert ref.shape[2] == 4 and (clean[:, :, -4:] - ref).abs().max() > 1e-3  # the mode reaches the run
    run_cancelled(sharp_wan, 4 + 2 * 2 + 1, lambda m: _sample(m, "wan21", queue, frames=10, sink=sink("iv/cut")))
    (ckpt,) = list((output_dir / "iv").glob("cut_*.ivckpt"))
    assert torch.load(ckpt, weights_only=True)["fingerprint"]["continuation"] == (
        "chunk 1, anchors 1, anchor_every 3, track 2, denoise 0.5")
    with pytest.raises(ValueError, match="continuation: saved 'chunk 1, anchors 1, anchor_every 3, track 2, denoise "
                                         "0.5', now 'chunk 1, anchors 1, anchor_every 3'"):  # clean context refused
        _sample(sharp_wan, "wan21", old, frames=10, sink=sink("iv/cut", f"iv/{ckpt.name}"))
    resumed = _sample(sharp_wan, "wan21", queue, frames=10, sink=sink("iv/cut", f"iv/{ckpt.name}"))
    assert torch.equal(resumed.args[0]["samples"], ref)
