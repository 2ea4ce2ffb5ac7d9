"""Long Wan VACE (and Wan Camera) videos on chunked continuation: the real WanVaceToVideo / WanCameraImageToVideo
nodes in front of the Infinite Video Sampler, a probe recording what the tiny real VaceWanModel / CameraWanModel
receives per call (32x32 px, window 4 latents, control video and camera path 3x the window)."""

from __future__ import annotations

import pytest
import torch

from infinite_video.tools.testing.tiny_models import tiny_conditioning

pytestmark = pytest.mark.host

SIZE, WINDOW, STEPS = 32, 4, 4
FRAMES = 3 * WINDOW
CHUNK = 2


def _queue(continuation: bool = True, miga: bool = False):
    from infinite_video.samplers.config import ContinuationConfig, QueueConfig, ZigzagConfig

    if miga and not continuation:
        return QueueConfig(WINDOW, 2, True, "noise", zigzag=ZigzagConfig(steps=8, group=2, end_step=6))
    return QueueConfig(WINDOW, 1, False, "noise",
                       continuation=ContinuationConfig(CHUNK, 1, 8) if continuation else None,
                       zigzag=ZigzagConfig(steps=8, group=2, end_step=6) if miga else None)


def _pixels(latent_frames: int) -> int:
    return 4 * (latent_frames - 1) + 1


@pytest.fixture(scope="module")
def vae(comfy_host):
    from infinite_video.tools.testing.tiny_vaes import SmallWan21VAE

    return SmallWan21VAE()


def _control(frames: int) -> torch.Tensor:
    """A control video ``[4 (frames - 1) + 1, SIZE, SIZE, 3]``: one random colour per pixel frame."""
    gen = torch.Generator().manual_seed(3)
    return torch.rand(_pixels(frames), 1, 1, 3, generator=gen).expand(-1, SIZE, SIZE, 3).contiguous()


def _vace(vae, length=None, **kw):
    from comfy_extras.nodes_wan import WanVaceToVideo

    length = _pixels(FRAMES) if length is None else length
    return WanVaceToVideo.execute(tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, length, 1, 1.0,
                                  control_video=_control(FRAMES), **kw).args


@pytest.fixture(scope="module")
def vace_video(vae):
    """WanVaceToVideo's ``(positive, negative, latent, trim_latent)`` for the whole video (encoded once)."""
    return _vace(vae)


def _sample(model, positive, negative, latent, queue=None, sink=None, seed=1):
    from infinite_video.nodes.sampler import InfiniteVideoSampler

    return InfiniteVideoSampler.execute(model, positive, negative, latent, queue or _queue(), seed, FRAMES, 3.0,
                                        "euler", 1.0, "simple", sink=sink)


def test_each_window_gets_its_control_frames_and_the_known_slots_through_the_vace_mask(tiny_wan_vace, vace_video):
    from infinite_video.tools.testing.probe import probe_model

    assert type(tiny_wan_vace.model).__name__ == "WAN21_Vace"
    positive, negative, latent, trim = vace_video
    assert trim == 0 and latent["samples"].shape[2] == FRAMES
    probed, probe = probe_model(tiny_wan_vace)
    out = _sample(probed, positive, negative, latent).args[0]["samples"]
    assert out.shape[2] == FRAMES
    extra = positive[0][1]
    whole = tiny_wan_vace.model.extra_conds(noise=torch.zeros(1, 16, WINDOW, SIZE // 8, SIZE // 8),
                                            vace_frames=extra["vace_frames"], vace_mask=extra["vace_mask"])
    whole = whole["vace_context"].cond  # [1, 1, 96, FRAMES, h, w], what ComfyUI builds for the whole video
    assert whole.shape[3] == FRAMES and bool((whole[:, :, 32:] == 1).all())  # no control_masks: all generated
    clean = tiny_wan_vace.model.process_latent_in(out)  # the finished latents in the model's space
    chunks = 1 + (FRAMES - WINDOW) // CHUNK
    assert len(probe.calls) == chunks * STEPS
    for k, call in enumerate(probe.calls):
        pos = call.positions.tolist()
        ctx = call.extra["vace_context"]
        rows = call.x.shape[0]
        assert ctx.shape == (rows, 1, 96, WINDOW, SIZE // 8, SIZE // 8)
        assert call.timesteps.shape == (rows,)  # one timestep per row: the whole window at one level
        known = 0 if k < STEPS else WINDOW - CHUNK  # the first chunk has no context
        assert pos[known:] == list(range(pos[-1] - (WINDOW - known) + 1, pos[-1] + 1))  # the new latents
        for i, p in enumerate(pos):
            if i >= known:  # a frame being made: its own control frames, mask 1, as in the whole-video context
                torch.testing.assert_close(ctx[:, :, :, i], whole[:, :, :, p].expand(rows, -1, -1, -1, -1))
            else:  # a known slot: inactive = the clean latent, reactive = grey, mask 0
                torch.testing.assert_close(ctx[:, 0, :16, i], clean[:, :, p].expand(rows, -1, -1, -1),
                                           rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(ctx[:, 0, 16:32, i], whole[:, 0, :16, p].expand(rows, -1, -1, -1))
                assert bool((ctx[:, :, 32:, i] == 0).all())
                # the network sees it noised to the chunk's level, not clean
                assert not torch.allclose(call.x[:, :, i], clean[:, :, p].expand(rows, -1, -1, -1), atol=1e-2)
    # window by window the control moves forward: the made frames of the last chunk are the video's last ones
    assert probe.calls[-1].positions.tolist()[-CHUNK:] == list(range(FRAMES - CHUNK, FRAMES))
    firsts = [c.extra["vace_context"][0, 0, 16:32, -1] for c in probe.calls[::STEPS]]
    assert all(not torch.equal(a, b) for a, b in zip(firsts, firsts[1:]))


def test_through_the_video_sink_cancel_and_resume_bit_for_bit(tiny_wan_vace, vace_video, output_dir):
    from infinite_video.nodes.stream_video import read_frames
    from infinite_video.nodes.video_sink import VideoSink
    from infinite_video.tools.testing.call_counter import count_model_calls, run_cancelled

    positive, negative, latent, _ = vace_video

    def run(model, prefix, resume=""):
        sink = VideoSink.execute(decode="preview", filename_prefix=prefix, fps=8.0, codec="h264 (mp4)", quality=0,
                                 checkpoint_every=2, resume=resume, vae=None).args[0]
        return _sample(model, positive, negative, latent, sink=sink)

    full = run(tiny_wan_vace, "iv/full")
    ref = read_frames(full.args[1].get_stream_source())
    total = (1 + (FRAMES - WINDOW) // CHUNK) * STEPS
    run_cancelled(tiny_wan_vace, 3 * STEPS + 2, lambda model: run(model, "iv/cut"))  # in the fourth chunk
    (ckpt,) = list((output_dir / "iv").glob("cut_*.ivckpt"))
    counted, counter = count_model_calls(tiny_wan_vace)
    resumed = run(counted, "iv/cut", resume=f"iv/{ckpt.name}")
    assert 0 < counter.calls < total, "the resumed run starts from the checkpoint, not from the start"
    assert (read_frames(resumed.args[1].get_stream_source()) == ref).all()
    assert torch.equal(resumed.args[0]["samples"], full.args[0]["samples"])


@pytest.mark.parametrize("case,match", [
    ("fifo", "Wan VACE \\(WanVaceToVideo\\) embeds one timestep per window.*diagonal queue.*Add a Chunked "
             "Continuation \\(InfiniteVideo_Continuation\\) node"),
    ("miga", "Wan VACE.*cannot run on the diagonal queue \\(FIFO-Diffusion, or MIGA's Zigzag Stage, Unified Stage"),
    ("continuation_and_miga", "remove the MIGA parts"),
    ("window_length", f"WanVaceToVideo context covers {WINDOW} latent frames but frames is {FRAMES}.*Set "
                      f"WanVaceToVideo's length to {_pixels(FRAMES)}"),
    ("reference_image", "WanVaceToVideo reference_image.*disconnect reference_image"),
])
def test_refused_before_any_model_call(tiny_wan_vace, vae, vace_video, case, match):
    from infinite_video.tools.testing.call_counter import count_model_calls
    from infinite_video.tools.testing.tiny_vaes import start_image

    kw = {"length": _pixels(WINDOW)} if case == "window_length" else {}
    if case == "reference_image":
        kw["reference_image"] = start_image((SIZE, SIZE), seed=5)
    positive, negative, latent, _ = _vace(vae, **kw) if kw else vace_video
    counted, counter = count_model_calls(tiny_wan_vace)
    queue = _queue(continuation=case not in ("fifo", "miga"), miga="miga" in case)
    with pytest.raises(ValueError, match=match):
        _sample(counted, positive, negative, latent, queue=queue)
    assert counter.calls == 0


def test_queue_sampler_custom_refuses_the_diagonal_queue(tiny_wan_vace, vace_video):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from infinite_video.nodes.sampler import QueueSamplerCustom
    from infinite_video.tools.testing.call_counter import count_model_calls

    positive, negative, latent, _ = vace_video
    counted, counter = count_model_calls(tiny_wan_vace)
    guider = comfy.samplers.CFGGuider(counted)
    guider.set_conds(positive, negative)
    guider.set_cfg(3.0)
    sampler = QueueSamplerCustom.execute(_queue(continuation=False), FRAMES, "euler", 0.0).args[0]
    sigmas = comfy.samplers.calculate_sigmas(counted.get_model_object("model_sampling"), "simple", STEPS).cpu()
    node = SamplerCustomAdvanced()
    with pytest.raises(ValueError, match="Queue Sampler \\(custom\\): Wan VACE.*Chunked Continuation"):
        getattr(node, node.FUNCTION)(Noise_RandomNoise(1), guider, sampler, sigmas, latent)
    assert counter.calls == 0


@pytest.fixture(scope="module")
def tiny_wan_camera(tiny_model_files):
    from infinite_video.tools.testing.tiny_models import load_tiny, write_tiny_wan21_camera

    path = tiny_model_files / "tiny_wan21_camera.safetensors"
    return load_tiny(path if path.is_file() else write_tiny_wan21_camera(path))


def test_camera_path_moves_forward_window_by_window(tiny_wan_camera, vae):
    from comfy_extras.nodes_camera_trajectory import WanCameraEmbedding
    from comfy_extras.nodes_wan import WanCameraImageToVideo

    from infinite_video.tools.testing.probe import probe_model
    from infinite_video.tools.testing.tiny_vaes import start_image

    assert type(tiny_wan_camera.model).__name__ == "WAN21_Camera"
    camera = WanCameraEmbedding.execute("Zoom In", SIZE, SIZE, _pixels(FRAMES)).args[0]
    assert camera.shape[2] == FRAMES
    positive, negative, latent = WanCameraImageToVideo.execute(
        tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, _pixels(FRAMES), 1,
        start_image=start_image((SIZE, SIZE), seed=5), camera_conditions=camera).args
    probed, probe = probe_model(tiny_wan_camera)
    out = _sample(probed, positive, negative, latent).args[0]["samples"]
    assert out.shape[2] == FRAMES and len(probe.calls) == (1 + (FRAMES - WINDOW) // CHUNK) * STEPS
    for call in probe.calls:
        rows = call.x.shape[0]
        assert call.timesteps.shape == (rows,)
        got = call.extra["camera_conditions"]
        torch.testing.assert_close(got, camera[:, :, call.positions].expand(rows, -1, -1, -1, -1))
    assert probe.calls[-1].positions.tolist()[-CHUNK:] == list(range(FRAMES - CHUNK, FRAMES))
    # a camera path built at window length for a longer video is refused before any model call
    short = WanCameraEmbedding.execute("Zoom In", SIZE, SIZE, _pixels(WINDOW)).args[0]
    positive, negative, _ = WanCameraImageToVideo.execute(
        tiny_conditioning(1), tiny_conditioning(2), vae, SIZE, SIZE, _pixels(FRAMES), 1,
        camera_conditions=short).args
    calls = len(probe.calls)
    with pytest.raises(ValueError, match=f"camera_conditions cover {WINDOW} latent frames but frames is {FRAMES}.*"
                                         f"Set WanCameraEmbedding's length to {_pixels(FRAMES)}"):
        _sample(probed, positive, negative, latent)
    assert len(probe.calls) == calls


def test_known_slots_take_the_grey_latent_of_the_nearest_frame_of_the_same_kind(comfy_host):
    """With control_masks, the grey latent is the inactive latent of a frame generated whole (mask 1) or the reactive
    latent of a frame kept whole (mask 0); partly masked frames hold none; the first latent frame is its own kind."""
    from infinite_video.nodes.vace import window_vace_context
    from infinite_video.samplers.denoiser import KnownSlots

    t, h, w = 6, 2, 2
    whole = torch.randn(2, 1, 96, t, h, w, generator=torch.Generator().manual_seed(0))
    whole[:, :, 32:] = 0.5  # partly masked ...
    whole[:, :, 32:, 0] = 1.0  # ... but frame 0 generated whole,
    whole[:, :, 32:, 4] = 0.0  # frame 4 kept whole,
    whole[:, :, 32:, 5] = 1.0  # frame 5 generated whole
    positions = torch.tensor([0, 2, 3, 5])
    x0 = torch.randn(1, 16, 4, h, w, generator=torch.Generator().manual_seed(1))
    out = window_vace_context(whole, positions, 4, KnownSlots(torch.tensor([True, True, False, False]), x0))
    torch.testing.assert_close(out[:, :, :, 2:], whole[:, :, :, [3, 5]])  # new slots: their own frames
    for i in range(2):
        torch.testing.assert_close(out[:, 0, :16, i], x0[:, :, i].expand(2, -1, -1, -1))
        assert bool((out[:, :, 32:, i] == 0).all())
    torch.testing.assert_close(out[:, :, 16:32, 0], whole[:, :, :16, 0])  # position 0: frame 0's inactive
    torch.testing.assert_close(out[:, :, 16:32, 1], whole[:, :, 16:32, 4])  # position 2: nearest later whole frame


def test_queue_sampler_custom_runs_vace_with_continuation(tiny_wan_vace, vace_video):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from infinite_video.nodes.sampler import QueueSamplerCustom
    from infinite_video.tools.testing.probe import probe_model

    positive, negative, latent, _ = vace_video
    probed, probe = probe_model(tiny_wan_vace)
    guider = comfy.samplers.CFGGuider(probed)
    guider.set_conds(positive, negative)
    guider.set_cfg(3.0)
    sampler = QueueSamplerCustom.execute(_queue(), FRAMES, "euler", 0.0).args[0]
    sigmas = comfy.samplers.calculate_sigmas(probed.get_model_object("model_sampling"), "simple", STEPS).cpu()
    node = SamplerCustomAdvanced()
    out = getattr(node, node.FUNCTION)(Noise_RandomNoise(1), guider, sampler, sigmas, latent)[0]["samples"]
    assert out.shape[2] == FRAMES and len(probe.calls) == (1 + (FRAMES - WINDOW) // CHUNK) * STEPS
    for k, call in enumerate(probe.calls):
        assert call.timesteps.shape == (call.x.shape[0],)
        mask = call.extra["vace_context"][:, :, 32:]
        known = 0 if k < STEPS else WINDOW - CHUNK
        assert [bool((mask[:, :, :, i] == 0).all()) for i in range(WINDOW)] == [i < known for i in range(WINDOW)]
