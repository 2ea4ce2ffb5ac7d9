"""Streaming output inside real ComfyUI: incremental VAE decode against the host's full decode, the Video Sink on the
sampler (file, tail, VIDEO output), Cancel + resume bit for bit, and bad sink input rejected before any model call.

VAEs: a random full-size Wan 2.1 VAE (ComfyUI builds no smaller one), a narrow real ``vae2_2.WanVAE`` for Wan 2.2 and
a small real LTX-Video VAE (``tools/testing/tiny_vaes.py``)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from infinite_video.tools.testing.tiny_vaes import SmallWan22VAE, load_vae, tiny_ltxv_vae, write_random_wan21_vae


@pytest.fixture(scope="module")
def wan21_vae(comfy_host, tmp_path_factory):
    return load_vae(write_random_wan21_vae(tmp_path_factory.mktemp("stream_vae") / "wan21_vae.safetensors"))


def _push_all(decoder, latent):
    frames = [decoder.push(latent[:, :, i:i + 1]) for i in range(latent.shape[2])] + [decoder.finish()]
    return torch.cat([f for f in frames if f.shape[0]], dim=0)


def psnr(a, b):
    mse = float(((a.detach() - b.detach()) ** 2).mean())  # a VAE called outside a prompt records autograd
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def test_wan21_stream_decode_equals_full_decode(wan21_vae):
    from infinite_video.nodes.stream_decode import WanStreamDecoder, make_decoder

    latent = torch.randn(1, 16, 4, 6, 8, generator=torch.Generator().manual_seed(0))
    full = wan21_vae.decode(latent)[0]
    decoder = make_decoder(wan21_vae)
    assert isinstance(decoder, WanStreamDecoder)
    streamed = _push_all(decoder, latent)
    assert streamed.shape == full.shape == (4 * (4 - 1) + 1, 48, 64, 3)
    assert (streamed - full.float().cpu()).abs().max() < 1e-5


class _Wan22Stand:
    """The members of ``comfy.sd.VAE`` the decoder reads, around a narrow real ``vae2_2.WanVAE`` (see module doc)."""

    def __init__(self):
        self.first_stage_model = SmallWan22VAE().net
        self.vae_dtype, self.device, self.output_device = torch.float32, torch.device("cpu"), torch.device("cpu")
        self.patcher = None
        self.process_output = lambda x: torch.clamp((x + 1.0) / 2.0, 0.0, 1.0)


def test_wan22_stream_decode_equals_full_decode(comfy_host):
    from infinite_video.nodes.stream_decode import WanStreamDecoder

    vae = _Wan22Stand()
    latent = torch.randn(1, 48, 3, 2, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = vae.process_output(vae.first_stage_model.decode(latent))[0].movedim(0, -1)
    streamed = _push_all(WanStreamDecoder(vae), latent)
    assert streamed.shape == full.shape == (4 * 2 + 1, 32, 48, 3)
    assert (streamed - full).abs().max() < 1e-5


def _wan22_full_structure():
    """A Wan 2.2 VAE stand with the real decoder's structure (num_res_blocks = 2: the same receptive field), narrow."""
    from comfy.ldm.wan.vae2_2 import WanVAE

    from infinite_video.tools.testing.tiny_vaes import fill_random

    stand = _Wan22Stand()
    stand.first_stage_model = WanVAE(dim=16, dec_dim=16, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                     attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0).eval()
    fill_random(stand.first_stage_model, 0)
    return stand


@pytest.mark.parametrize("kind", ["wan21", "wan22"])
def test_wan_decoder_resumes_bit_for_bit_from_its_last_latents(wan21_vae, kind):
    """A checkpoint holds the decoder's last ``causal_history`` latents, not its cache (1.8 GB at 832x480); loading
    decodes them into a fresh cache, which is then the uninterrupted run's cache bit for bit, because the decoder's
    receptive field is finite (40 latents for both families). Replaying only the last 4 latents gives other frames:
    the replay must reach back (random weights damp old latents, so past ~30 the difference is below float precision
    here; 40 is the computed reach). Latents of 1x1 (the receptive field is in time) on the full-size Wan 2.1 VAE and
    a narrow Wan 2.2 net of the real structure."""
    import io

    from infinite_video.nodes.stream_decode import WanStreamDecoder, causal_history

    vae = wan21_vae if kind == "wan21" else _wan22_full_structure()
    history = causal_history(vae.first_stage_model.decoder)
    assert history == 40
    channels = 16 if kind == "wan21" else 48
    cut, tail = history + 3, 3
    latent = torch.randn(1, channels, cut + tail, 1, 1, generator=torch.Generator().manual_seed(2))
    run = WanStreamDecoder(vae)
    for i in range(cut):
        run.push(latent[:, :, i:i + 1])
    buf = io.BytesIO()
    torch.save(run.state_dict(), buf)
    expected = [run.push(latent[:, :, i:i + 1]) for i in range(cut, cut + tail)]  # the uninterrupted run goes on

    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert len(state["recent"]) == history and state["count"] == cut
    assert buf.getbuffer().nbytes < 2 * history * latent[:, :, :1].numel() * 4 + 10_000  # latents, no cache
    resumed = WanStreamDecoder(vae)
    resumed.load_state_dict(state)
    got = [resumed.push(latent[:, :, i:i + 1]) for i in range(cut, cut + tail)]
    assert all(torch.equal(g, e) for g, e in zip(got, expected))

    short = WanStreamDecoder(vae)
    short.load_state_dict({**state, "recent": state["recent"][-4:]})
    assert not torch.equal(short.push(latent[:, :, cut:cut + 1]), expected[0])


def test_wan_decoder_resumes_exactly_before_its_history_fills(wan21_vae):
    """Fewer latents than the history: the checkpoint holds them all, and the replay starts where the video did."""
    from infinite_video.nodes.stream_decode import WanStreamDecoder

    latent = torch.randn(1, 16, 4, 4, 4, generator=torch.Generator().manual_seed(2))
    ref = _push_all(WanStreamDecoder(wan21_vae), latent)
    first = WanStreamDecoder(wan21_vae)
    head = torch.cat([first.push(latent[:, :, i:i + 1]) for i in range(2)])
    second = WanStreamDecoder(wan21_vae)
    second.load_state_dict(first.state_dict())
    rest = torch.cat([second.push(latent[:, :, i:i + 1]) for i in range(2, 4)])
    assert torch.equal(torch.cat([head, rest]), ref)


def test_ltxv_chunked_decode_against_full_decode(comfy_host, capsys):
    from infinite_video.nodes.stream_decode import ChunkedStreamDecoder, make_decoder

    vae = tiny_ltxv_vae()
    latent = torch.randn(1, 128, 12, 2, 2, generator=torch.Generator().manual_seed(3)) * 0.5
    with torch.no_grad():  # outside a prompt nothing turns autograd off (ComfyUI runs nodes under inference mode)
        full = vae.decode(latent)[0].float().cpu()
    decoder = make_decoder(vae)
    assert isinstance(decoder, ChunkedStreamDecoder)
    streamed = _push_all(decoder, latent)
    assert streamed.shape == full.shape == (8 * 11 + 1, 64, 64, 3)
    value = psnr(streamed, full)
    with capsys.disabled():
        print(f"\nLTX-Video chunked stream decode vs full decode: PSNR {value:.1f} dB "
              f"(chunks of {decoder.chunk} latents, {decoder.context} of context)")
    # not exact (the decoder is not causal, so frames near a chunk's end miss later latents); more context is closer
    assert value > 24.0
    wider = _push_all(ChunkedStreamDecoder(vae, decoder.chunk, decoder.context + 2), latent)
    assert psnr(wider, full) > value


def test_image_vae_is_refused_with_the_families_that_stream(comfy_host):
    from infinite_video.nodes.stream_decode import make_decoder

    class ImageVAE:  # the members make_decoder reads, as an SD 1.5 / SDXL comfy.sd.VAE has them
        latent_dim = 2
        first_stage_model = torch.nn.Identity()

        def temporal_compression_decode(self):
            return None
    with pytest.raises(ValueError, match="not a video VAE.*Wan 2.1 / 2.2 .*LTX-Video"):
        make_decoder(ImageVAE())


# -- the sampler with a sink ------------------------------------------------------------------------------------------


def _shapes_model(comfy_host):
    import comfy.sd

    root = Path(__file__).resolve().parents[1]
    return comfy.sd.load_diffusion_model(str(root / "models" / "shapes_wan21" / "shapes_wan21.safetensors"))


@pytest.fixture(scope="module")
def shapes(comfy_host):
    return _shapes_model(comfy_host)


def _sink(**kw):
    from infinite_video.nodes.video_sink import VideoSink

    args = dict(decode="preview", filename_prefix="iv/run", fps=8.0, codec="h264 (mp4)", quality=0,
                checkpoint_every=4, resume="", vae=None)
    args.update(kw)
    return VideoSink.execute(**args).args[0]


# A small queue keeps these runs cheap: window 4, 2 partitions, no lookahead = 2 model calls per output latent after
# a warm-up of 8 iterations (16 calls).
WARMUP_CALLS, CALLS_PER_FRAME = 16, 2


def _sample(model, sink, frames=12, seed=1, queue=None):
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.samplers.config import QueueConfig

    queue = queue or QueueConfig(4, 2, False, "noise")
    zero = [[torch.zeros(1, 1, 4096), {}]]
    latent = {"samples": torch.zeros(1, 16, 4, 16, 16)}
    return InfiniteVideoSampler.execute(model, zero, zero, latent, queue, seed, frames, 1.0, "euler", 1.0, "simple",
                                        sink=sink)


def cancelled(model, at_call: int, sink=None, run=None, **kw) -> None:
    """Run ``run(model)`` (default: ``_sample(model, sink, **kw)``) and press Cancel (ComfyUI's interrupt flag) at
    model call ``at_call``; the run must stop."""
    from infinite_video.tools.testing.call_counter import run_cancelled

    run_cancelled(model, at_call, run if run is not None else lambda m: _sample(m, sink, **kw))


def _frames(path):
    from infinite_video.nodes.stream_video import read_frames

    return read_frames(str(path))


def test_sink_streams_file_and_returns_tail_and_video(shapes, output_dir):
    full = _sample(shapes, None).args[0]["samples"]
    out = _sample(shapes, _sink())
    tail, video = out.args[0]["samples"], out.args[1]
    assert tail.shape[2] == 4 and torch.equal(tail, full[:, :, -4:])
    path = Path(video.get_stream_source())
    assert path.parent == output_dir / "iv" and path.suffix == ".mp4"
    frames = _frames(path)
    assert frames.shape == (12, 128, 128, 3)
    assert out.ui["iv_video"][0]["filename"] == path.name
    assert not list(output_dir.rglob("*.ivckpt")), "a finished run deletes its checkpoint"
    # the streamed frames are the preview decode of the returned latents (same map, 8x nearest upscale)
    from infinite_video.nodes.preview import LatentPreviewDecode

    ref = LatentPreviewDecode.execute(shapes, {"samples": full}, 8).args[0]
    assert psnr(torch.from_numpy(frames) / 255.0, ref) > 35.0  # 8-bit limited-range YUV 4:2:0 rounding only


def test_cancel_then_resume_continues_bit_for_bit(shapes, output_dir):
    uninterrupted = _sample(shapes, _sink(filename_prefix="iv/full"), frames=16)
    ref_frames = _frames(uninterrupted.args[1].get_stream_source())
    ref_tail = uninterrupted.args[0]["samples"]

    # Cancel in the middle of the iteration after frame 7
    cancelled(shapes, WARMUP_CALLS + CALLS_PER_FRAME * 7 + 1, _sink(filename_prefix="iv/cut"), frames=16)
    (ckpt,) = list((output_dir / "iv").glob("cut_*.ivckpt"))
    (cut_video,) = list((output_dir / "iv").glob("cut_*.mp4"))
    cut_frames = _frames(cut_video)
    assert cut_frames.shape[0] == 7, "Cancel finalises the file with the frames written so far"
    assert (cut_frames == ref_frames[:cut_frames.shape[0]]).all()

    resumed = _sample(shapes, _sink(filename_prefix="iv/cut", resume=f"iv/{ckpt.name}"), frames=16)
    video = Path(resumed.args[1].get_stream_source())
    assert video == cut_video, "the resumed run continues the stopped video under its name"
    assert [p.name for p in (output_dir / "iv").glob("cut_*")] == [video.name], "checkpoint spent, no part file"
    assert resumed.ui["iv_spent"] == [f"iv/{ckpt.name}"]
    assert (_frames(video) == ref_frames).all()
    assert torch.equal(resumed.args[0]["samples"], ref_tail)

    # keep_parts: the joined video gets a new name; the stopped video and its checkpoint stay
    cancelled(shapes, WARMUP_CALLS + CALLS_PER_FRAME * 7 + 1, _sink(filename_prefix="iv/keep"), frames=16)
    (ckpt,) = list((output_dir / "iv").glob("keep_*.ivckpt"))
    (cut_video,) = list((output_dir / "iv").glob("keep_*.mp4"))
    resumed = _sample(shapes, _sink(filename_prefix="iv/keep", resume=f"iv/{ckpt.name}", keep_parts=True), frames=16)
    video = Path(resumed.args[1].get_stream_source())
    assert video != cut_video and cut_video.exists() and ckpt.exists()
    assert (_frames(video) == ref_frames).all() and _frames(cut_video).shape[0] == 7


def test_cancel_in_the_warm_up_then_resume_takes_the_videos_name(shapes, output_dir):
    """Cancel before the first frame (mid warm-up): no video yet, a checkpoint; the resumed run writes the video under
    the name the stopped run would have had, and leaves nothing else."""
    ref = _sample(shapes, _sink(filename_prefix="iv/wfull"), frames=6)
    cancelled(shapes, WARMUP_CALLS // 2 + 1, _sink(filename_prefix="iv/warm"), frames=6)
    (ckpt,) = list((output_dir / "iv").glob("warm_*"))
    assert ckpt.suffix == ".ivckpt" and torch.load(ckpt, weights_only=True)["latent_frames"] == 0
    resumed = _sample(shapes, _sink(filename_prefix="iv/warm", resume=f"iv/{ckpt.name}"), frames=6)
    video = Path(resumed.args[1].get_stream_source())
    assert [p.name for p in (output_dir / "iv").glob("warm_*")] == [ckpt.stem + ".mp4"] == [video.name]
    assert (_frames(video) == _frames(ref.args[1].get_stream_source())).all()


def test_resume_inside_the_last_window_returns_the_uninterrupted_latents(shapes, output_dir):
    """Cancel within the last window_length latents (after frame 13 of 16, window 4) and resume: the LATENT output
    (the last 4 latents) is the uninterrupted run's bit for bit, the one made before the Cancel included (it comes
    from the checkpoint), and so is the video. A checkpoint of the previous format version is refused by name."""
    ref = _sample(shapes, _sink(filename_prefix="iv/tfull"), frames=16)
    cancelled(shapes, WARMUP_CALLS + CALLS_PER_FRAME * 13 + 1, _sink(filename_prefix="iv/tcut"), frames=16)
    (ckpt,) = list((output_dir / "iv").glob("tcut_*.ivckpt"))
    data = torch.load(ckpt, weights_only=True)
    assert 16 - 4 < data["latent_frames"] < 16, "the checkpoint is inside the returned window"
    resumed = _sample(shapes, _sink(filename_prefix="iv/tcut", resume=f"iv/{ckpt.name}"), frames=16)
    assert torch.equal(resumed.args[0]["samples"], ref.args[0]["samples"])
    assert (_frames(resumed.args[1].get_stream_source()) == _frames(ref.args[1].get_stream_source())).all()

    old = output_dir / "iv" / "old.ivckpt"
    torch.save({**data, "version": 2}, old)
    with pytest.raises(ValueError, match="format version 2, this pack reads 3"):
        _sample(shapes, _sink(filename_prefix="iv/tcut", resume="iv/old.ivckpt"), frames=16)


def test_resume_with_other_settings_or_corrupt_checkpoint_is_refused(shapes, output_dir):
    cancelled(shapes, WARMUP_CALLS + CALLS_PER_FRAME * 3 + 1, _sink(filename_prefix="iv/a"), frames=10)
    (ckpt,) = list((output_dir / "iv").glob("a_*.ivckpt"))
    before = {p.name: p.read_bytes() for p in (output_dir / "iv").iterdir()}
    counted = shapes.clone()
    seen = []
    counted.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: seen.append(1) or ex(*a, **k))
    with pytest.raises(ValueError, match="seed: saved 1, now 2"):
        _sample(counted, _sink(resume=f"iv/{ckpt.name}"), frames=10, seed=2)
    with pytest.raises(ValueError, match="frames: saved 10, now 11"):
        _sample(counted, _sink(resume=f"iv/{ckpt.name}"), frames=11)
    broken = output_dir / "iv" / "broken.ivckpt"
    broken.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        _sample(counted, _sink(resume="iv/broken.ivckpt"), frames=10)
    assert seen == [], "refused before any model call"
    broken.unlink()
    after = {p.name: p.read_bytes() for p in (output_dir / "iv").iterdir()}
    assert after == before, "the earlier video and checkpoint are untouched and no new file is left behind"


def _continuation(chunk=1, anchors=2, anchor_every=3):
    """The queue of FIFO Queue Init (window 4, 2 partitions = 8 steps) -> Chunked Continuation, built by the nodes:
    by default each window holds 2 anchors (output latents 0 and 3), the newest finished latent and 1 new one."""
    from infinite_video.nodes.continuation import ChunkedContinuation
    from infinite_video.nodes.fifo import FIFOQueueInit

    queue = FIFOQueueInit.execute(4, 2, False, "noise").args[0]
    return ChunkedContinuation.execute(queue, chunk, anchors, anchor_every).args[0]


# Continuation's first chunk is the whole window (4 latents, 8 calls), then 8 calls per output latent (chunk 1).
CONT_FIRST_CALLS, CONT_CALLS_PER_FRAME = 8, 8


def test_continuation_cancel_then_resume_continues_bit_for_bit(shapes, output_dir):
    """Infinite Video Sampler with a Video Sink and Chunked Continuation, cancelled after frame 6 of 12 (both anchors
    finished, so they are in the checkpoint) and resumed: the joined video and the returned latents are the
    uninterrupted run's bit for bit. Resuming with other continuation settings, or without continuation, is refused
    naming them, before any model call."""
    queue = _continuation()
    assert queue.continuation is not None and queue.continuation.anchors == 2
    ref = _sample(shapes, _sink(filename_prefix="iv/cfull"), frames=12, queue=queue)
    ref_frames = _frames(ref.args[1].get_stream_source())
    assert ref_frames.shape[0] == 12

    cancelled(shapes, CONT_FIRST_CALLS + CONT_CALLS_PER_FRAME * (6 - 4) + 3, _sink(filename_prefix="iv/ccut"),
              frames=12, queue=queue)
    (ckpt,) = list((output_dir / "iv").glob("ccut_*.ivckpt"))
    data = torch.load(ckpt, weights_only=True)
    assert data["fingerprint"]["continuation"] == "chunk 1, anchors 2, anchor_every 3"
    assert sorted(data["engine"]["anchors"]) == [0, 3] and data["latent_frames"] == 6

    counted = shapes.clone()
    seen = []
    counted.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: seen.append(1) or ex(*a, **k))
    with pytest.raises(ValueError, match="continuation: saved 'chunk 1, anchors 2, anchor_every 3', now 'chunk 1, "
                                         "anchors 1, anchor_every 3'"):
        _sample(counted, _sink(filename_prefix="iv/ccut", resume=f"iv/{ckpt.name}"), frames=12,
                queue=_continuation(anchors=1))
    with pytest.raises(ValueError, match="continuation: saved 'chunk 1, anchors 2, anchor_every 3', now None"):
        _sample(counted, _sink(filename_prefix="iv/ccut", resume=f"iv/{ckpt.name}"), frames=12,
                queue=dataclasses.replace(queue, continuation=None))
    assert seen == [], "refused before any model call"

    resumed = _sample(counted, _sink(filename_prefix="iv/ccut", resume=f"iv/{ckpt.name}"), frames=12, queue=queue)
    assert len(seen) == CONT_CALLS_PER_FRAME * (12 - 6), "the resumed run makes only the frames after the checkpoint"
    assert (_frames(resumed.args[1].get_stream_source()) == ref_frames).all()
    assert torch.equal(resumed.args[0]["samples"], ref.args[0]["samples"])


def test_continuation_node_checks_the_fit_in_the_window():
    from infinite_video.nodes.continuation import ChunkedContinuation
    from infinite_video.samplers.config import QueueConfig, ZigzagConfig

    with pytest.raises(ValueError, match=r"Chunked Continuation: continuation anchors 2 must be in \[0, window - "
                                         r"chunk - 1 = 1\]"):
        _continuation(chunk=2, anchors=2)
    with pytest.raises(ValueError, match="Chunked Continuation: continuation chunk 4 must be in"):
        _continuation(chunk=4, anchors=0)
    with pytest.raises(ValueError, match="Chunked Continuation: continuation replaces the queue: remove the MIGA"):
        ChunkedContinuation.execute(QueueConfig(4, 2, False, "noise", zigzag=ZigzagConfig()), 1, 2, 3)
    with pytest.raises(ValueError, match="Chunked Continuation: chunk 0 is below its minimum 1"):
        _continuation(chunk=0)
    window0 = ChunkedContinuation.execute(QueueConfig(0, 2, False, "noise"), 30, 2, 3).args[0]
    assert window0.continuation.chunk == 30, "window 0 (the latent's length): the sampler checks the fit"


@pytest.mark.parametrize("kw, words", [
    ({"fps": 0.0}, "fps 0.0 is below its minimum 0.01"),
    ({"fps": float("nan")}, "fps must be a finite number"),
    ({"codec": "h265 (mkv)"}, "is not one of its options; choose h264 \\(mp4\\)"),
    ({"quality": 55}, "quality 55 is above h264's maximum 51"),
    ({"checkpoint_every": -1}, "checkpoint_every -1 is below its minimum 0"),
    ({"filename_prefix": "../outside/x"}, "leaves ComfyUI's output folder"),
    ({"filename_prefix": "/etc/x"}, "relative path inside"),
    ({"resume": "iv/missing.ivckpt"}, "does not exist"),
    ({"resume": "iv/run.mp4"}, "must name a .ivckpt"),
    ({"decode": "vae"}, "no vae is connected"),
])
def test_sink_bad_input_names_input_and_fix(output_dir, kw, words):
    from infinite_video.nodes.video_sink import VideoSink

    args = dict(decode="preview", filename_prefix="iv/run", fps=8.0, codec="h264 (mp4)", quality=19,
                checkpoint_every=4, resume="")
    args.update(kw)
    problem = VideoSink.validate_inputs(**args)
    if kw.get("decode") != "vae":
        assert isinstance(problem, str) and re.search(words, problem) and "Video Sink" in problem
    with pytest.raises(ValueError, match=words):
        VideoSink.execute(**args)


def test_vae_of_another_family_is_refused_before_model_calls(shapes, output_dir):
    model = shapes.clone()
    seen = []
    model.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: seen.append(1) or ex(*a, **k))
    with pytest.raises(ValueError, match="vae takes 128-channel latents but the model makes 16-channel"):
        _sample(model, _sink(decode="vae", vae=tiny_ltxv_vae()))
    assert seen == [] and not list(output_dir.rglob("*.mp4"))


def test_unwritable_output_fails_before_model_calls(shapes, output_dir):
    blocker = output_dir / "iv"
    blocker.write_text("a file where the folder should be")
    model = shapes.clone()
    seen = []
    model.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: seen.append(1) or ex(*a, **k))
    with pytest.raises((ValueError, OSError)):
        _sample(model, _sink())
    assert seen == []
    assert os.path.isfile(blocker)


def test_sink_with_wan_vae_streams_what_vae_decode_gives(tiny_wan, wan21_vae, output_dir):
    """The sampler's frames through the Wan 2.1 VAE, frame by frame, against VAE.decode of the whole output."""
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.samplers.config import QueueConfig

    cond = [[torch.randn(1, 4, 4096, generator=torch.Generator().manual_seed(5)), {}]]
    latent = {"samples": torch.zeros(1, 16, 4, 4, 4)}
    queue = QueueConfig(4, 2, False, "noise")
    full = InfiniteVideoSampler.execute(tiny_wan, cond, cond, latent, queue, 3, 6, 1.0, "euler", 1.0,
                                        "simple").args[0]["samples"]
    out = InfiniteVideoSampler.execute(tiny_wan, cond, cond, latent, queue, 3, 6, 1.0, "euler", 1.0, "simple",
                                       sink=_sink(decode="vae", vae=wan21_vae, checkpoint_every=0))
    frames = torch.from_numpy(_frames(out.args[1].get_stream_source())) / 255.0
    ref = wan21_vae.decode(full)[0].float()
    assert frames.shape == ref.shape == (4 * (6 - 1) + 1, 32, 32, 3)
    assert psnr(frames, ref) > 35.0


def test_wan_vae_sink_cancel_then_resume_gives_the_uninterrupted_video(tiny_wan, wan21_vae, output_dir):
    """Cancel and resume with the Wan 2.1 VAE decoding: the checkpoint carries the decoder's last latents and the
    resumed run replays them, so the joined video equals the uninterrupted one frame for frame (lossless h264)."""
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.samplers.config import QueueConfig

    cond = [[torch.randn(1, 4, 4096, generator=torch.Generator().manual_seed(5)), {}]]
    latent = {"samples": torch.zeros(1, 16, 4, 4, 4)}

    def run(model, prefix, resume=""):
        sink = _sink(decode="vae", vae=wan21_vae, filename_prefix=prefix, checkpoint_every=2, resume=resume)
        return InfiniteVideoSampler.execute(model, cond, cond, latent, QueueConfig(4, 2, False, "noise"), 3, 8, 1.0,
                                            "euler", 1.0, "simple", sink=sink)

    ref = _frames(run(tiny_wan, "iv/wfull").args[1].get_stream_source())
    assert ref.shape == (4 * (8 - 1) + 1, 32, 32, 3)
    # Cancel in the iteration after the 5th output latent
    cancelled(tiny_wan, WARMUP_CALLS + 5 * CALLS_PER_FRAME + 1, run=lambda model: run(model, "iv/wcut"))
    (ckpt,) = (output_dir / "iv").glob("wcut_*.ivckpt")
    assert _frames(next((output_dir / "iv").glob("wcut_*.mp4"))).shape[0] == 4 * (5 - 1) + 1
    weight = next(wan21_vae.first_stage_model.parameters())
    with torch.no_grad():  # another Wan 2.1 VAE (other weights): refused, naming the decode
        original = weight.view(-1)[0].clone()
        weight.view(-1)[0] = original + 1.0
        try:
            with pytest.raises(ValueError, match="decode: saved 'vae:comfy.ldm.wan.vae.WanVAE/"):
                run(tiny_wan, "iv/wcut", resume=f"iv/{ckpt.name}")
        finally:
            weight.view(-1)[0] = original
    resumed = run(tiny_wan, "iv/wcut", resume=f"iv/{ckpt.name}")
    assert np.array_equal(_frames(resumed.args[1].get_stream_source()), ref)


def test_queue_sampler_custom_streams_through_sampler_custom_advanced(shapes, output_dir):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from infinite_video.nodes.sampler import QueueSamplerCustom
    from infinite_video.samplers.config import QueueConfig

    queue = QueueConfig(4, 2, False, "noise")
    zero = [[torch.zeros(1, 1, 4096), {}]]
    guider = comfy.samplers.CFGGuider(shapes)
    guider.set_conds(zero, zero)
    guider.set_cfg(1.0)
    sigmas = comfy.samplers.calculate_sigmas(shapes.get_model_object("model_sampling"), "simple", 8).cpu()
    latent = {"samples": torch.zeros(1, 16, 4, 16, 16)}
    node = SamplerCustomAdvanced()
    run = getattr(node, node.FUNCTION)
    plain = run(Noise_RandomNoise(4), guider, QueueSamplerCustom.execute(queue, 9, "euler", 0.0).args[0], sigmas,
                latent)[0]["samples"]
    sampler = QueueSamplerCustom.execute(queue, 9, "euler", 0.0, _sink(filename_prefix="iv/custom")).args[0]
    tail = run(Noise_RandomNoise(4), guider, sampler, sigmas, latent)[0]["samples"]
    assert tail.shape[2] == 4 and torch.equal(tail, plain[:, :, -4:])
    (video,) = (output_dir / "iv").glob("custom_*.mp4")
    assert _frames(video).shape[0] == 9


def test_kstep_streams_chunks_and_resumes_after_cancel(tiny_wan_i2v36, wan21_vae, output_dir):
    """K-Step Noise Search with a sink: each chunk goes to the file as it finishes; a Cancel in the third chunk
    leaves a checkpoint after the second; the resumed run's video equals the uninterrupted run's frames."""
    from infinite_video.nodes.kstep import KStepNoiseSearch
    from infinite_video.tools.testing import tiny_models
    from infinite_video.tools.testing.tiny_vaes import start_image

    pos, neg = tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)
    image = start_image((32, 32))

    def run(model, sink):
        return KStepNoiseSearch.execute(model, pos, neg, wan21_vae, image, 5, 4, 2, 1, 2, "euler", "simple", 3.0, 0,
                                        sink=sink)

    plain = run(tiny_wan_i2v36, None).args[0]
    assert plain.shape[0] == 5 + 3 * 4
    streamed = run(tiny_wan_i2v36, _sink(filename_prefix="iv/ks", checkpoint_every=1))
    # with a sink the frames output holds the last chunk (its first frame is the chunk's own, not the stitched one)
    assert streamed.args[0].shape[0] == 5 and torch.equal(streamed.args[0][1:], plain[-4:])
    full = torch.from_numpy(_frames(streamed.args[3].get_stream_source())) / 255.0
    assert full.shape[0] == plain.shape[0] and psnr(full, plain) > 35.0

    per_chunk = 2 * 1 + 2  # m * k preview steps + full steps: one model call each (cfg > 1 batches cond/uncond)
    cancelled(tiny_wan_i2v36, 2 * per_chunk + 1,
              run=lambda model: run(model, _sink(filename_prefix="iv/kcut", checkpoint_every=1)))
    (ckpt,) = (output_dir / "iv").glob("kcut_*.ivckpt")
    assert _frames(next((output_dir / "iv").glob("kcut_*.mp4"))).shape[0] == 5 + 4
    resumed = run(tiny_wan_i2v36, _sink(filename_prefix="iv/kcut", checkpoint_every=1, resume=f"iv/{ckpt.name}"))
    video = resumed.args[3].get_stream_source()
    assert (_frames(video) == _frames(streamed.args[3].get_stream_source())).all()


def test_kstep_cancel_in_the_last_chunk_then_resume_returns_the_uninterrupted_outputs(tiny_wan_i2v36, wan21_vae,
                                                                                     output_dir):
    """K-Step Noise Search with a sink, cancelled in its last chunk and resumed from the checkpoint after the chunk
    before: frames, latent and report outputs and the video equal the uninterrupted streamed run's."""
    from infinite_video.nodes.kstep import KStepNoiseSearch
    from infinite_video.tools.testing import tiny_models
    from infinite_video.tools.testing.tiny_vaes import start_image

    pos, neg = tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)
    image = start_image((32, 32))

    def run(model, prefix, resume=""):
        sink = _sink(filename_prefix=prefix, checkpoint_every=1, resume=resume)
        return KStepNoiseSearch.execute(model, pos, neg, wan21_vae, image, 5, 3, 2, 1, 2, "euler", "simple", 3.0, 0,
                                        sink=sink)

    ref = run(tiny_wan_i2v36, "iv/klfull")
    per_chunk = 2 * 1 + 2
    cancelled(tiny_wan_i2v36, 2 * per_chunk + 2, run=lambda model: run(model, "iv/klcut"))
    (ckpt,) = (output_dir / "iv").glob("klcut_*.ivckpt")
    resumed = run(tiny_wan_i2v36, "iv/klcut", resume=f"iv/{ckpt.name}")
    assert torch.equal(resumed.args[0], ref.args[0]) and resumed.args[0].shape[0] == 5
    assert torch.equal(resumed.args[1]["samples"], ref.args[1]["samples"])
    assert resumed.args[2] == ref.args[2]
    assert (_frames(resumed.args[3].get_stream_source()) == _frames(ref.args[3].get_stream_source())).all()


_KILLED_WRITER = r"""
import importlib.util, json, os, signal, sys
import torch
spec = importlib.util.spec_from_file_location("stream_video", sys.argv[1])
sv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sv)
path, codec, k = sys.argv[2], sys.argv[3], int(sys.argv[4])
gen = torch.Generator().manual_seed(k)
writer = sv.VideoWriter(path, 16.0, codec, 19, 32, 32)
for i in range(4 * k + 8):
    if i == k:
        writer.mark()  # a checkpoint boundary after k frames, as the sink marks it
    writer.write(torch.rand(1, 32, 32, 3, generator=gen))
    if i >= k and writer.flushed:  # where the sink would write its checkpoint ...
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies right after
print("flushed never turned true", flush=True)
"""


@pytest.mark.parametrize("codec", ["h264 (mp4)", "vp9 (webm)"])
@pytest.mark.parametrize("k", [3, 10])
def test_killed_writer_keeps_every_frame_before_the_checkpoint(tmp_path, codec, k):
    """Once :attr:`VideoWriter.flushed` says the frames before a mark are on disk (the moment a periodic checkpoint is
    written), a SIGKILL must not lose any of them, for both containers, even with small frames that fit in a buffer:
    a resume joins exactly those ``k`` frames. (Small fragments can sit in Python's file buffer, and Matroska keeps
    clusters under 4 KiB in memory, so without an explicit flush a kill loses frames the checkpoint counts on.)"""
    import subprocess
    import sys

    from infinite_video.nodes.stream_video import CODECS, join_videos, read_frames

    ext = CODECS[codec][1]
    path = tmp_path / f"killed.{ext}"
    module = Path(__file__).resolve().parents[1] / "nodes" / "stream_video.py"
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(module), str(path), codec, str(k)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stdout + done.stderr  # it died by SIGKILL once the mark was flushed
    joined = tmp_path / f"joined.{ext}"
    assert join_videos([(str(path), k)], str(joined)) == k
    frames = read_frames(str(joined))
    assert frames.shape == (k, 32, 32, 3)
    np.testing.assert_array_equal(frames, read_frames(str(path))[:k])  # remuxed, not re-encoded


def test_kstep_checkpoints_count_latent_frames(tiny_wan_i2v36, wan21_vae, output_dir, caplog):
    """checkpoint_every counts latent frames for K-Step too: with chunks of 5 frames the first chunk makes 2 latents
    and each later one 1 (4 new frames; 17 frames are 5 latents in all), so with checkpoint_every = 3 one checkpoint
    is due, after the second chunk (not one after every chunk), saved once the third chunk's frames close its
    fragment, and named by its 3 latent frames. (The last chunks add 2 < 3 latents: no second one.)"""
    import logging

    from infinite_video.nodes.kstep import KStepNoiseSearch
    from infinite_video.tools.testing import tiny_models
    from infinite_video.tools.testing.tiny_vaes import start_image

    pos, neg = tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)
    with caplog.at_level(logging.INFO, logger="infinite_video"):
        KStepNoiseSearch.execute(tiny_wan_i2v36, pos, neg, wan21_vae, start_image((32, 32)), 5, 4, 1, 1, 1, "euler",
                                 "simple", 1.0, 0, sink=_sink(filename_prefix="iv/kevery", checkpoint_every=3))
    saved = [r.getMessage() for r in caplog.records if "checkpoint at" in r.getMessage()]
    assert len(saved) == 1 and "checkpoint at 3 latent frames" in saved[0], saved


def test_queue_fingerprint_is_unchanged_for_settings_left_at_their_defaults(comfy_host):
    """Checkpoints saved before FIFO's group_size existed still resume: at group 1 the fingerprint is the text it was
    (the dataclass's repr without the field); another group, or continuation, is a key of its own, named on refusal."""
    import dataclasses

    from infinite_video.nodes.checkpoint import fingerprint_mismatch, queue_fingerprint
    from infinite_video.samplers.config import ContinuationConfig, QueueConfig

    q = QueueConfig(9, 3, True, "noise")
    before = {"queue": "QueueConfig(window=9, partitions=3, lookahead=True, init='noise', zigzag=None, unified=None, "
                       "reflection=None, guidance=None, continuation=None)"}
    assert queue_fingerprint(q) == before
    grouped = queue_fingerprint(dataclasses.replace(q, group=3))
    assert grouped["group"] == "group_size 3" and "group_size 3" in fingerprint_mismatch(before, grouped)
    cont = queue_fingerprint(dataclasses.replace(q, continuation=ContinuationConfig(5, 3, 24)))
    assert cont == dict(before, continuation="chunk 5, anchors 3, anchor_every 24")
    # an auto-clip checkpoint from before its windows were trimmed would continue differently: refused, named
    auto_old = {"queue": before["queue"].replace("'noise'", "'auto clip'")}
    auto = queue_fingerprint(dataclasses.replace(q, init="auto clip"))
    assert auto["queue"] == auto_old["queue"]
    assert "fill and drain windows trimmed" in fingerprint_mismatch(auto_old, auto)
