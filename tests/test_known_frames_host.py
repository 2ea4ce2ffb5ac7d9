"""Latent frames a noise mask keeps (Wan 2.2 TI2V's start image, LTX-Video's image at strength 1) stay what the mask
keeps, on both sampler paths, and only they are clean: tiny real models, a probe on the network input."""

from __future__ import annotations

import pytest
import torch

from infinite_video.tools.testing.tiny_models import tiny_conditioning

pytestmark = pytest.mark.host

WINDOW, FRAMES = 4, 8


def _queue():
    from infinite_video.samplers.config import QueueConfig

    return QueueConfig(WINDOW, 1, False, "noise")


@pytest.fixture(scope="module")
def ti2v_latent(comfy_host):
    """Wan22ImageToVideoLatent for the whole video (32x32 px, 8 latents), and the start image's own latent."""
    from comfy_extras.nodes_wan import Wan22ImageToVideoLatent

    from infinite_video.tools.testing.tiny_vaes import SmallWan22VAE, start_image

    vae = SmallWan22VAE()
    image = start_image((32, 32), seed=5)
    latent = Wan22ImageToVideoLatent.execute(vae, 32, 32, 4 * (FRAMES - 1) + 1, 1, start_image=image).args[0]
    return latent, vae.encode(image)


def _check_probe(probe, image_model_space):
    """Position 0 enters the network as the clean image at timestep 0; every other frame is noisy (timestep > 0)."""
    assert probe.calls
    for call in probe.calls:
        for i, p in enumerate(call.positions.tolist()):
            if p == 0:
                assert float(call.timesteps[:, i].abs().max()) == 0.0
                torch.testing.assert_close(call.x[:, :, i], image_model_space[:, :, 0].expand_as(call.x[:, :, i]))
            else:
                assert float(call.timesteps[:, i].min()) > 0.0, (p, call.timesteps)


def test_wan22_ti2v_start_image_on_the_infinite_video_sampler(tiny_wan22, ti2v_latent):
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.tools.testing.probe import probe_model

    latent, encoded = ti2v_latent
    probed, probe = probe_model(tiny_wan22)
    out = InfiniteVideoSampler.execute(probed, tiny_conditioning(1), tiny_conditioning(2), latent, _queue(), 0,
                                       FRAMES, 3.0, "euler", 1.0, "simple").args[0]["samples"]
    torch.testing.assert_close(out[:, :, :1], encoded, rtol=1e-4, atol=1e-4)  # the first latent is the image
    assert (out[:, :, 1:] - encoded).abs().amax(dim=(0, 1, 3, 4)).min() > 1e-2  # and only the first
    _check_probe(probe, tiny_wan22.model.process_latent_in(encoded))
    without = InfiniteVideoSampler.execute(tiny_wan22, tiny_conditioning(1), tiny_conditioning(2),
                                           {"samples": latent["samples"]}, _queue(), 0, FRAMES, 3.0, "euler", 1.0,
                                           "simple").args[0]["samples"]
    assert not torch.allclose(without[:, :, :1], encoded, atol=1e-2)


def test_wan22_ti2v_through_sampler_custom_advanced(tiny_wan22, ti2v_latent):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from infinite_video.nodes.sampler import QueueSamplerCustom
    from infinite_video.tools.testing.probe import probe_model

    latent, encoded = ti2v_latent
    probed, probe = probe_model(tiny_wan22)
    guider = comfy.samplers.CFGGuider(probed)
    guider.set_conds(tiny_conditioning(1), tiny_conditioning(2))
    guider.set_cfg(3.0)
    sampler = QueueSamplerCustom.execute(_queue(), FRAMES, "euler", 0.0).args[0]
    sigmas = comfy.samplers.calculate_sigmas(probed.get_model_object("model_sampling"), "simple", WINDOW).cpu()
    node = SamplerCustomAdvanced()
    out = getattr(node, node.FUNCTION)(Noise_RandomNoise(1), guider, sampler, sigmas, latent)[0]["samples"]
    assert out.shape[2] == FRAMES
    torch.testing.assert_close(out[:, :, :1], encoded, rtol=1e-4, atol=1e-4)
    # the noise mask is never read as timesteps: windows that do not hold the first latent have no clean frame
    _check_probe(probe, tiny_wan22.model.process_latent_in(encoded))


def test_ltxv_image_to_video_strength_one_is_kept_and_partial_strength_refused(tiny_ltxv):
    from comfy_extras.nodes_lt import LTXVImgToVideo

    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.tools.testing.probe import probe_model
    from infinite_video.tools.testing.tiny_vaes import start_image, tiny_ltxv_vae

    vae = tiny_ltxv_vae()
    pos = tiny_conditioning(1, attention_mask=True)
    neg = tiny_conditioning(2, attention_mask=True)
    image = start_image((32, 32), seed=5)
    positive, negative, latent = LTXVImgToVideo.execute(pos, neg, image, vae, 32, 32, 8 * (FRAMES - 1) + 1, 1,
                                                        1.0).args
    probed, probe = probe_model(tiny_ltxv)
    out = InfiniteVideoSampler.execute(probed, positive, negative, latent, _queue(), 0, FRAMES, 3.0, "euler", 1.0,
                                       "simple").args[0]["samples"]
    torch.testing.assert_close(out[:, :, :1], latent["samples"][:, :, :1], rtol=1e-4, atol=1e-4)
    assert probe.calls
    positive, negative, latent = LTXVImgToVideo.execute(pos, neg, image, vae, 32, 32, 8 * (FRAMES - 1) + 1, 1,
                                                        0.6).args
    probed, probe = probe_model(tiny_ltxv)
    with pytest.raises(ValueError, match="noise_mask.*strength to 1.0"):
        InfiniteVideoSampler.execute(probed, positive, negative, latent, _queue(), 0, FRAMES, 3.0, "euler", 1.0,
                                     "simple")
    assert probe.calls == []


def test_wan22_ti2v_start_image_with_miga(tiny_wan22, ti2v_latent):
    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.samplers.config import QueueConfig, UnifiedConfig, ZigzagConfig

    latent, encoded = ti2v_latent
    queue = QueueConfig(WINDOW, 2, True, "noise", zigzag=ZigzagConfig(steps=8, group=2, end_step=6),
                        unified=UnifiedConfig(steps=2, renoise=True, renoise_step=6))
    out = InfiniteVideoSampler.execute(tiny_wan22, tiny_conditioning(1), tiny_conditioning(2), latent, queue, 0,
                                       FRAMES, 3.0, "euler", 1.0, "simple").args[0]["samples"]
    torch.testing.assert_close(out[:, :, :1], encoded, rtol=1e-4, atol=1e-4)
    assert (out[:, :, 1:] - encoded).abs().amax(dim=(0, 1, 3, 4)).min() > 1e-2


@pytest.mark.parametrize("path", ["infinite_video_sampler", "sampler_custom_advanced"])
def test_ltxv_add_guide_is_refused_before_any_model_call(tiny_ltxv, path):
    """LTXVAddGuide appends its guide frames to the latent with their own positions (``keyframe_idxs``): a per-frame
    queue cannot give them a level, so both sampler paths refuse it before the first model call, naming the node and
    the fix."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced
    from comfy_extras.nodes_lt import EmptyLTXVLatentVideo, LTXVAddGuide

    from infinite_video.nodes.sampler import InfiniteVideoSampler, QueueSamplerCustom
    from infinite_video.tools.testing.call_counter import count_model_calls
    from infinite_video.tools.testing.tiny_vaes import start_image, tiny_ltxv_vae

    latent = EmptyLTXVLatentVideo.execute(32, 32, 8 * (FRAMES - 1) + 1, 1).args[0]
    positive, negative, guided = LTXVAddGuide.execute(
        tiny_conditioning(1, attention_mask=True), tiny_conditioning(2, attention_mask=True), tiny_ltxv_vae(), latent,
        start_image((32, 32), seed=5), 16, 1.0).args
    assert positive[0][1].get("keyframe_idxs") is not None
    counted, counter = count_model_calls(tiny_ltxv)
    message = (r"the positive conditioning cannot go through a per-frame noise queue: LTX-Video guide frames "
               r"\(LTXVAddGuide\).*use LTXVImgToVideo with strength 1.0 for a start image, or remove LTXVAddGuide")
    if path == "infinite_video_sampler":
        with pytest.raises(ValueError, match="Infinite Video Sampler: " + message):
            InfiniteVideoSampler.execute(counted, positive, negative, guided, _queue(), 0, FRAMES, 3.0, "euler", 1.0,
                                         "simple")
    else:
        guider = comfy.samplers.CFGGuider(counted)
        guider.set_conds(positive, negative)
        guider.set_cfg(3.0)
        sampler = QueueSamplerCustom.execute(_queue(), FRAMES, "euler", 0.0).args[0]
        sigmas = comfy.samplers.calculate_sigmas(counted.get_model_object("model_sampling"), "simple", WINDOW).cpu()
        node = SamplerCustomAdvanced()
        with pytest.raises(ValueError, match=r"Queue Sampler \(custom\): " + message):
            getattr(node, node.FUNCTION)(Noise_RandomNoise(1), guider, sampler, sigmas, guided)
    assert counter.calls == 0
