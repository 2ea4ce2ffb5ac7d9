"""Per-frame conditioning travels with its frames: core Wan conditioning nodes in front of the queue samplers, with a
probe recording what the tiny real Wan network receives per call (32x32 px, window 4 latents)."""

from __future__ import annotations

import pytest
import torch

from infinite_video.tools.testing.tiny_models import tiny_conditioning

pytestmark = pytest.mark.host

SIZE, WINDOW = 32, 4
FIFO = dict(window=WINDOW, partitions=1, lookahead=False, init="noise")


def _queue(miga: bool = False):
    from infinite_video.samplers.config import QueueConfig, ZigzagConfig

    if miga:
        return QueueConfig(WINDOW, 2, True, "noise", zigzag=ZigzagConfig(steps=8, group=2, end_step=6))
    return QueueConfig(**FIFO)


def _pixels(latent_frames: int) -> int:
    return 4 * (latent_frames - 1) + 1


@pytest.fixture(scope="module")
def vae(comfy_host):
    from infinite_video.tools.testing.tiny_vaes import SmallWan21VAE

    return SmallWan21VAE()


@pytest.fixture(scope="module")
def tiny_wan_fun48(tiny_model_files):
    from infinite_video.tools.testing.tiny_models import load_tiny, write_tiny_wan21_fun48

    path = tiny_model_files / "tiny_wan21_fun48.safetensors"
    return load_tiny(path if path.is_file() else write_tiny_wan21_fun48(path))


def _image(seed: int) -> torch.Tensor:
    from infinite_video.tools.testing.tiny_vaes import start_image

    return start_image((SIZE, SIZE), seed=seed)


def _sample(model, positive, negative, frames, miga=False, seed=0):
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.tools.testing.probe import probe_model

    probed, probe = probe_model(model)
    latent = {"samples": torch.zeros(1, 16, WINDOW, SIZE // 8, SIZE // 8)}
    out = InfiniteVideoSampler.execute(probed, positive, negative, latent, _queue(miga), seed, frames, 3.0, "euler",
                                       1.0, "simple").args[0]["samples"]
    assert out.shape[2] == frames
    return probe


def _whole_video_concat(model, positive, frames) -> torch.Tensor:
    """The model's own ``concat_cond`` of the node's conditioning for the whole video ``[1, C', T, h, w]``."""
    extra = positive[0][1]
    noise = torch.zeros(1, 16, frames, SIZE // 8, SIZE // 8)
    return model.model.concat_cond(noise=noise, device=torch.device("cpu"), **{
        k: v for k, v in extra.items() if k in ("concat_latent_image", "concat_mask", "concat_mask_index")})


def _check_every_window(probe, whole, frames) -> None:
    """Each call's concat channels equal the whole-video concat at the call's stream positions (nearest video frame
    for warm-up frames and frames past the end)."""
    assert probe.calls
    for call in probe.calls:
        assert call.positions is not None and call.positions.shape == (WINDOW,)
        at = call.positions.clamp(0, frames - 1)
        got = call.x[:, 16:]
        torch.testing.assert_close(got, whole[:, :, at].expand_as(got), rtol=1e-5, atol=1e-5)
    seen = set(torch.cat([c.positions for c in probe.calls]).tolist())
    assert set(range(frames)) <= seen


def _pinned(call) -> list[bool]:
    """Per window frame: is it pinned to an image (I2V mask channels, one per pixel frame of the latent: 1 = image
    frame, as the network sees them)?"""
    mask = call.x[:, 16:20]
    return [bool((mask[:, :, i] > 0.5).any()) for i in range(mask.shape[2])]


@pytest.mark.parametrize("miga", [False, True], ids=["fifo", "miga"])
def test_start_image_reaches_only_the_first_latent(tiny_wan_i2v36, vae, miga):
    from comfy_extras.nodes_wan import WanImageToVideo

    frames = 8
    positive, negative, _ = WanImageToVideo.execute(tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE,
                                                    _pixels(frames), 1, start_image=_image(5)).args
    probe = _sample(tiny_wan_i2v36, positive, negative, frames, miga=miga)
    whole = _whole_video_concat(tiny_wan_i2v36, positive, frames)
    _check_every_window(probe, whole, frames)
    for call in probe.calls:  # the image only where the video starts (warm-up frames before it hold it)
        assert _pinned(call) == [p <= 0 for p in call.positions.tolist()]
    # windows that lie past the start are told nothing about the image
    assert any(min(c.positions.tolist()) >= 1 for c in probe.calls)


def test_end_image_reaches_only_the_last_latent(tiny_wan_i2v36, vae):
    from comfy_extras.nodes_wan import WanFirstLastFrameToVideo

    frames = 8
    positive, negative, _ = WanFirstLastFrameToVideo.execute(
        tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, _pixels(frames), 1, start_image=_image(5),
        end_image=_image(6)).args
    probe = _sample(tiny_wan_i2v36, positive, negative, frames)
    whole = _whole_video_concat(tiny_wan_i2v36, positive, frames)
    _check_every_window(probe, whole, frames)
    for call in probe.calls:  # frames past the end (never output) hold the end image
        assert _pinned(call) == [p <= 0 or p >= frames - 1 for p in call.positions.tolist()]


def test_control_video_three_windows_long_moves_forward(tiny_wan_fun48, vae):
    from comfy_extras.nodes_wan import WanFunControlToVideo

    frames = 3 * WINDOW
    gen = torch.Generator().manual_seed(3)
    control = torch.rand(_pixels(frames), 1, 1, 3, generator=gen).expand(-1, SIZE, SIZE, 3).contiguous()
    positive, negative, _ = WanFunControlToVideo.execute(
        tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, _pixels(frames), 1, control_video=control).args
    probe = _sample(tiny_wan_fun48, positive, negative, frames)
    whole = _whole_video_concat(tiny_wan_fun48, positive, frames)
    assert whole.shape[1] == 32 and whole.shape[2] == frames
    _check_every_window(probe, whole, frames)
    # window by window the control frames move forward: each call's control latents are those of later frames
    starts = [int(c.positions[0]) for c in probe.calls]
    assert starts == sorted(starts) and starts[-1] - starts[0] >= frames
    controls = [c.x[0, 16:32] for c in probe.calls if int(c.positions[0]) >= 0]
    assert not torch.equal(controls[0], controls[WINDOW])


@pytest.mark.parametrize("length,why", [(_pixels(WINDOW), "made at window length"), (_pixels(6), "shorter")])
def test_conditioning_not_built_for_the_whole_video_is_refused_before_any_model_call(tiny_wan_i2v36, vae, length,
                                                                                      why):
    from comfy_extras.nodes_wan import WanImageToVideo

    positive, negative, _ = WanImageToVideo.execute(tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE,
                                                    length, 1, start_image=_image(5)).args
    from infinite_video.tools.testing.probe import probe_model

    probed, probe = probe_model(tiny_wan_i2v36)
    from infinite_video.nodes.sampler import InfiniteVideoSampler

    latent = {"samples": torch.zeros(1, 16, WINDOW, SIZE // 8, SIZE // 8)}
    with pytest.raises(ValueError, match=rf"Infinite Video Sampler: .*concat_latent_image covers .* latent frames but "
                                         rf"frames is 8: .*{why}.*WanImageToVideo.* to 29 "):
        InfiniteVideoSampler.execute(probed, positive, negative, latent, _queue(), 0, 8, 3.0, "euler", 1.0, "simple")
    assert probe.calls == []


def test_queue_sampler_custom_refuses_window_length_conditioning(tiny_wan_i2v36, vae):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced
    from comfy_extras.nodes_wan import WanImageToVideo

    from infinite_video.nodes.sampler import QueueSamplerCustom
    from infinite_video.tools.testing.probe import probe_model

    positive, negative, latent = WanImageToVideo.execute(tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE,
                                                         _pixels(WINDOW), 1, start_image=_image(5)).args
    probed, probe = probe_model(tiny_wan_i2v36)
    guider = comfy.samplers.CFGGuider(probed)
    guider.set_conds(positive, negative)
    guider.set_cfg(3.0)
    sampler = QueueSamplerCustom.execute(_queue(), 8, "euler", 0.0).args[0]
    sigmas = comfy.samplers.calculate_sigmas(probed.get_model_object("model_sampling"), "simple", WINDOW).cpu()
    node = SamplerCustomAdvanced()
    with pytest.raises(ValueError, match="Queue Sampler \\(custom\\): .*made at window length.*to 29"):
        getattr(node, node.FUNCTION)(Noise_RandomNoise(1), guider, sampler, sigmas, latent)
    assert probe.calls == []


def test_start_image_size_not_matching_the_latent_is_refused(tiny_wan_i2v36, vae):
    from comfy_extras.nodes_wan import WanImageToVideo

    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.tools.testing.probe import probe_model

    positive, negative, _ = WanImageToVideo.execute(tiny_conditioning(1), tiny_conditioning(2), vae, 16, 16,
                                                    _pixels(8), 1, start_image=_image(5)).args
    probed, probe = probe_model(tiny_wan_i2v36)
    latent = {"samples": torch.zeros(1, 16, WINDOW, SIZE // 8, SIZE // 8)}
    with pytest.raises(ValueError, match="concat_latent_image is 2x2 latent pixels but latent_image is 4x4.*"
                                         "Set width and height on the node that made it \\(WanImageToVideo"):
        InfiniteVideoSampler.execute(probed, positive, negative, latent, _queue(), 0, 8, 3.0, "euler", 1.0, "simple")
    assert probe.calls == []


def test_control_video_through_the_video_sink_cancel_and_resume_bit_for_bit(tiny_wan_fun48, vae, output_dir):
    """A control video 3x the window through the Video Sink: Cancel mid-run, resume from the checkpoint, and the
    video and the returned latents equal the uninterrupted run's (the stream positions come back with the queue)."""
    from comfy_extras.nodes_wan import WanFunControlToVideo

    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.nodes.stream_video import read_frames
    from infinite_video.nodes.video_sink import VideoSink
    from infinite_video.tools.testing.call_counter import count_model_calls, run_cancelled

    frames = 3 * WINDOW
    gen = torch.Generator().manual_seed(3)
    control = torch.rand(_pixels(frames), 1, 1, 3, generator=gen).expand(-1, SIZE, SIZE, 3).contiguous()
    positive, negative, _ = WanFunControlToVideo.execute(
        tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, _pixels(frames), 1, control_video=control).args
    latent = {"samples": torch.zeros(1, 16, WINDOW, SIZE // 8, SIZE // 8)}

    def run(model, prefix, resume=""):
        sink = VideoSink.execute(decode="preview", filename_prefix=prefix, fps=8.0, codec="h264 (mp4)", quality=0,
                                 checkpoint_every=4, resume=resume, vae=None).args[0]
        return InfiniteVideoSampler.execute(model, positive, negative, latent, _queue(), 1, frames, 3.0, "euler", 1.0,
                                            "simple", sink=sink)

    full = run(tiny_wan_fun48, "iv/full")
    ref = read_frames(full.args[1].get_stream_source())
    # Cancel after the warm-up, in the iteration that finishes frame 7
    run_cancelled(tiny_wan_fun48, WINDOW + 7, lambda model: run(model, "iv/cut"))
    (ckpt,) = list((output_dir / "iv").glob("cut_*.ivckpt"))
    counted, counter = count_model_calls(tiny_wan_fun48)
    resumed = run(counted, "iv/cut", resume=f"iv/{ckpt.name}")
    assert 0 < counter.calls < WINDOW + frames, "the resumed run starts from the checkpoint, not from the start"
    assert (read_frames(resumed.args[1].get_stream_source()) == ref).all()
    assert torch.equal(resumed.args[0]["samples"], full.args[0]["samples"])


def test_control_video_shorter_than_length_is_refused_before_any_model_call(tiny_wan_fun48, vae):
    """WanFunControlToVideo fills frames past its control video with the empty latent; a long video whose control
    ran out would silently follow nothing at its end."""
    from comfy_extras.nodes_wan import WanFunControlToVideo

    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.tools.testing.probe import probe_model

    frames = 3 * WINDOW
    gen = torch.Generator().manual_seed(4)
    short = torch.rand(_pixels(WINDOW + 2), 1, 1, 3, generator=gen).expand(-1, SIZE, SIZE, 3).contiguous()
    positive, negative, _ = WanFunControlToVideo.execute(
        tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, _pixels(frames), 1, control_video=short).args
    probed, probe = probe_model(tiny_wan_fun48)
    latent = {"samples": torch.zeros(1, 16, WINDOW, SIZE // 8, SIZE // 8)}
    with pytest.raises(ValueError, match=rf"Infinite Video Sampler: .*control video covers only the first "
                                         rf"{WINDOW + 2} of its {frames} latent frames.*WanFunControlToVideo a "
                                         rf"control_video of at least {_pixels(frames)} frames"):
        InfiniteVideoSampler.execute(probed, positive, negative, latent, _queue(), 0, frames, 3.0, "euler", 1.0,
                                     "simple")
    assert probe.calls == []
