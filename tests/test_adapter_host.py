"""The per-frame adapter on real (tiny, random-weight) ComfyUI models, in-process on CPU."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.host


def _conds(family: str, seed: int):
    from infinite_video.tools.testing.tiny_models import CONTEXT_DIMS, tiny_conditioning

    return tiny_conditioning(seed, dim=CONTEXT_DIMS[family], attention_mask=family == "ltxv")


def _apply(bm, x, sigma, ctx, transformer_options, **extra):
    return bm.apply_model(x, sigma, c_crossattn=ctx, transformer_options=transformer_options, **extra)


FAMILIES = [("tiny_wan", "wan21", 16), ("tiny_wan22", "wan22", 48), ("tiny_ltxv", "ltxv", 128),
            ("tiny_cosmos", "cosmos_predict2", 16), ("tiny_wan_i2v36", "wan21_i2v36", 16)]


@pytest.mark.parametrize("fixture,family,channels", FAMILIES)
def test_equal_per_frame_sigmas_match_stock_apply_model(request, fixture, family, channels):
    from infinite_video.nodes import adapter

    model = request.getfixturevalue(fixture)
    bm = model.model
    assert adapter.per_frame_family(bm) in ("wan", "ltxv", "cosmos")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, channels, 3, 4, 4, generator=gen)
    ctx = _conds(family, 1)[0][0].repeat(2, 1, 1)
    extra = {}
    if family == "ltxv":
        extra = {"attention_mask": torch.ones(2, ctx.shape[1], dtype=torch.int64), "frame_rate": 25}
    if family == "cosmos_predict2":
        extra = {"fps": None}
    if family == "wan21_i2v36":
        extra = {"c_concat": torch.randn(2, 20, 3, 4, 4, generator=gen)}
    sigma = torch.tensor([0.7, 0.3])
    stock = _apply(bm, x, sigma, ctx, {}, **extra)
    options = adapter.per_frame_options({})
    to = options["transformer_options"]
    to[adapter.SIGMA_KEY] = sigma[:, None].expand(2, 3)
    per_frame = _apply(bm, x, sigma, ctx, to, **extra)
    torch.testing.assert_close(per_frame, stock, rtol=1e-5, atol=1e-5)
    # and the levels really are per frame: changing one frame's sigma changes the result
    to[adapter.SIGMA_KEY] = torch.tensor([[0.7, 0.7, 0.2], [0.3, 0.3, 0.3]])
    mixed = _apply(bm, x, sigma, ctx, to, **extra)
    assert (mixed[0] - stock[0]).abs().max() > 1e-3
    torch.testing.assert_close(mixed[1], stock[1], rtol=1e-5, atol=1e-5)


def test_per_frame_noise_scaling_matches_model(tiny_wan):
    from infinite_video.nodes.adapter import per_frame_noise_scaling
    from infinite_video.samplers import flow_noise_scaling

    ns = per_frame_noise_scaling(tiny_wan.model.model_sampling)
    sigma = torch.tensor([1.0, 0.5, 0.0])
    noise, x0 = torch.randn(1, 16, 3, 2, 2), torch.randn(1, 16, 3, 2, 2)
    torch.testing.assert_close(ns(sigma, noise, x0), flow_noise_scaling(sigma, noise, x0))


def _camera_model(tmp_path):
    """A tiny Wan *Camera* model: real, loadable, one timestep per window (chunked continuation only)."""
    from infinite_video.tools.testing.tiny_models import load_tiny, write_tiny_wan21_camera

    return load_tiny(write_tiny_wan21_camera(tmp_path / "tiny_wan_camera.safetensors"))


def _humo_model(tmp_path):
    """A tiny Wan *HuMo* model (real class, loadable): its forward embeds one timestep and adds audio tokens."""
    import comfy.ldm.wan.model
    import comfy.ops
    import comfy.sd
    import safetensors.torch

    net = comfy.ldm.wan.model.HumoWanModel(in_dim=16, dim=128, ffn_dim=256, text_dim=4096, out_dim=16, num_heads=1,
                                           num_layers=2, operations=comfy.ops.disable_weight_init,
                                           dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(v.shape, generator=gen) * 0.02 for k, v in net.state_dict().items()}
    path = tmp_path / "tiny_wan_humo.safetensors"
    safetensors.torch.save_file(sd, str(path))
    return comfy.sd.load_diffusion_model(str(path))


def _vace_model(tmp_path):
    """A tiny Wan *VACE* model (real class, loadable, one timestep per video)."""
    import comfy.ldm.wan.model
    import comfy.ops
    import comfy.sd
    import safetensors.torch

    net = comfy.ldm.wan.model.VaceWanModel(model_type="vace", in_dim=16, dim=128, ffn_dim=256, text_dim=4096,
                                           out_dim=16, num_heads=1, num_layers=2, vace_layers=1, vace_in_dim=96,
                                           operations=comfy.ops.disable_weight_init, dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(v.shape, generator=gen) * 0.02 for k, v in net.state_dict().items()}
    path = tmp_path / "tiny_wan_vace.safetensors"
    safetensors.torch.save_file(sd, str(path))
    return comfy.sd.load_diffusion_model(str(path))


def test_vace_model_gets_the_node_and_the_alternative_before_any_model_call(tmp_path, comfy_host):
    model = _vace_model(tmp_path).clone()
    assert type(model.model).__name__ == "WAN21_Vace"
    calls = []
    model.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: calls.append(1) or ex(*a, **k))
    latent, queue, frames = _sampler_inputs()
    with pytest.raises(ValueError, match="Infinite Video Sampler: Wan VACE \\(WanVaceToVideo\\).*diagonal queue.*"
                                         "Chunked Continuation \\(InfiniteVideo_Continuation\\)"):
        _run(model, queue, latent, frames)
    assert calls == []


def _sampler_inputs(frames=6, window=4):
    from infinite_video.samplers.config import QueueConfig

    latent = {"samples": torch.zeros(1, 16, window, 4, 4)}
    return latent, QueueConfig(window, 2, True, "noise"), frames


def _run(model, queue, latent, frames, seed=3, positive=None, rule="euler_ancestral"):
    from infinite_video.nodes.sampler import InfiniteVideoSampler

    positive = positive if positive is not None else _conds("wan21", 1)
    return InfiniteVideoSampler.execute(model, positive, _conds("wan21", 2), latent, queue, seed, frames, 4.0,
                                        rule, 1.0, "simple").args[0]["samples"]


def test_unsupported_model_gets_clear_error_before_any_model_call(tmp_path, comfy_host):
    from infinite_video.nodes.adapter import UnsupportedModelError

    model = _humo_model(tmp_path)
    assert type(model.model).__name__ == "WAN21_HuMo"
    calls = []
    model = model.clone()
    model.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: calls.append(1) or ex(*a, **k))
    latent, queue, frames = _sampler_inputs()
    with pytest.raises(UnsupportedModelError, match="WAN21_HuMo \\(HumoWanModel\\) cannot take a separate noise level "
                                                    "per latent frame.*Wan 2.1 .*LTX-Video and Cosmos Predict2.*"
                                                    "Wan VACE and Camera do too, and run with Chunked Continuation"):
        _run(model, queue, latent, frames)
    assert calls == []


def test_camera_model_with_the_diagonal_queue_gets_the_node_before_any_model_call(tmp_path, comfy_host):
    model = _camera_model(tmp_path)
    assert type(model.model).__name__ == "WAN21_Camera"
    calls = []
    model = model.clone()
    model.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: calls.append(1) or ex(*a, **k))
    latent, queue, frames = _sampler_inputs()
    with pytest.raises(ValueError, match="Wan Camera \\(WanCameraImageToVideo\\).*diagonal queue.*Chunked "
                                         "Continuation \\(InfiniteVideo_Continuation\\)"):
        _run(model, queue, latent, frames)
    assert calls == []


def test_sampler_node_output_length_and_reproducibility(tiny_wan):
    latent, queue, frames = _sampler_inputs(frames=7)
    a = _run(tiny_wan, queue, latent, frames, seed=5)
    b = _run(tiny_wan, queue, latent, frames, seed=5)
    c = _run(tiny_wan, queue, latent, frames, seed=6)
    assert a.shape == (1, 16, 7, 4, 4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.isfinite(a).all()


def test_sampler_node_bad_input_is_rejected_before_model_calls(tiny_wan):
    from infinite_video.samplers.config import QueueConfig

    model = tiny_wan.clone()
    calls = []
    model.add_wrapper_with_key("apply_model", "test_count", lambda ex, *a, **k: calls.append(1) or ex(*a, **k))
    latent, queue, _ = _sampler_inputs()
    with pytest.raises(ValueError, match="frames 0 is below its minimum 1"):
        _run(model, queue, latent, 0)
    with pytest.raises(ValueError, match="window_length 9 is longer than the latent's 4 frames"):
        _run(model, QueueConfig(9, 2, True, "noise"), latent, 3)
    with pytest.raises(ValueError, match="latent must be a video latent"):
        _run(model, queue, {"samples": torch.zeros(1, 16, 4, 4)}, 3)
    assert calls == []


def test_cancel_stops_within_one_iteration(tiny_wan):
    import comfy.model_management

    model = tiny_wan.clone()
    calls = []
    latent, queue, frames = _sampler_inputs(frames=20)

    def count(ex, *a, **k):
        calls.append(1)
        if len(calls) == 10:
            comfy.model_management.interrupt_current_processing(True)
        return ex(*a, **k)
    model.add_wrapper_with_key("apply_model", "test_cancel", count)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            _run(model, queue, latent, frames)
    finally:
        comfy.model_management.interrupt_current_processing(False)
    windows_per_iteration = 2 * queue.partitions
    assert 10 <= len(calls) <= 10 + windows_per_iteration


def test_prompt_switch_reaches_the_model_per_frame(tiny_wan):
    """Two prompts with frame ranges: the cond rows the model sees follow the frames in each window."""
    from infinite_video.nodes.sampler import ConditioningFrameRange

    a, b = _conds("wan21", 11), _conds("wan21", 12)
    positive = (ConditioningFrameRange.execute(a, 0, 4).args[0] + ConditioningFrameRange.execute(b, 4, 0).args[0])
    seen = []
    model = tiny_wan.clone()

    def record(ex, x, t, c_concat=None, c_crossattn=None, control=None, transformer_options=None, **kw):
        for row in c_crossattn:
            seen.append(next((name for name, c in (("a", a), ("b", b)) if torch.equal(row, c[0][0][0])), "neg"))
        return ex(x, t, c_concat, c_crossattn, control, transformer_options, **kw)
    model.add_wrapper_with_key("apply_model", "test_record", record)
    latent, queue, _ = _sampler_inputs()
    out = _run(model, queue, latent, 8, positive=positive)
    assert out.shape[2] == 8
    assert "a" in seen and "b" in seen
    # without ranges, only one positive per call
    seen.clear()
    _run(model, queue, latent, 8, positive=a)
    assert set(seen) == {"a", "neg"}


def test_queue_sampler_in_sampler_custom_advanced(tiny_wan):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from infinite_video.nodes.sampler import QueueSamplerCustom

    latent, queue, _ = _sampler_inputs()
    sampler = QueueSamplerCustom.execute(queue, 5, "euler", 0.0).args[0]
    guider = comfy.samplers.CFGGuider(tiny_wan)
    guider.set_conds(_conds("wan21", 1), _conds("wan21", 2))
    guider.set_cfg(3.0)
    sigmas = comfy.samplers.calculate_sigmas(tiny_wan.get_model_object("model_sampling"), "simple", 8).cpu()
    node = SamplerCustomAdvanced()
    run = getattr(node, node.FUNCTION)
    out = run(Noise_RandomNoise(4), guider, sampler, sigmas, latent)[0]["samples"]
    assert out.shape == (1, 16, 5, 4, 4)
    again = run(Noise_RandomNoise(4), guider, sampler, sigmas, latent)[0]["samples"]
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match="needs exactly window_length x partitions = 4 x 2 = 8 steps"):
        run(Noise_RandomNoise(4), guider, sampler, sigmas[:5], latent)
