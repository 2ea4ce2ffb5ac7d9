"""The test harness itself against the real ComfyUI host: tiny models, stock KSampler, headless server round trips."""

from __future__ import annotations

import pytest
import torch

from infinite_video.tools.testing import tiny_models
from infinite_video.tools.testing.comfy_server import PACK_ROOT, PromptRejected, load_api_workflow, read_latent

pytestmark = pytest.mark.host


@pytest.mark.parametrize("fixture,family", [
    ("tiny_wan", "wan21"), ("tiny_wan_i2v36", "wan21_i2v36"), ("tiny_wan22", "wan22"), ("tiny_ltxv", "ltxv"),
    ("tiny_cosmos", "cosmos_predict2"),
])
def test_tiny_models_load_as_their_family(request, fixture, family):
    patcher = request.getfixturevalue(fixture)
    assert type(patcher.model).__name__ == tiny_models.MODEL_CLASSES[family]


def test_tiny_wan_channels(tiny_wan, tiny_wan_i2v36, tiny_wan22):
    assert tiny_wan.model.diffusion_model.patch_embedding.in_channels == 16
    assert tiny_wan_i2v36.model.diffusion_model.patch_embedding.in_channels == 36
    assert tiny_wan22.model.diffusion_model.out_dim == 48


def test_tiny_model_files_are_deterministic(tiny_model_files, tmp_path):
    again = tiny_models.write_tiny_wan21(tmp_path / "again.safetensors", seed=0)
    assert again.read_bytes() == (tiny_model_files / tiny_models.FILE_NAMES["wan21"]).read_bytes()
    other = tiny_models.write_tiny_wan21(tmp_path / "other.safetensors", seed=1)
    assert other.read_bytes() != again.read_bytes()


def test_stock_ksampler_runs_on_tiny_wan(tiny_wan):
    import nodes

    latent = {"samples": torch.zeros(1, 16, 3, 8, 8)}
    positive, negative = tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)
    (out,) = nodes.common_ksampler(tiny_wan, 0, 2, 5.0, "euler", "simple", positive, negative, latent)
    (again,) = nodes.common_ksampler(tiny_wan, 0, 2, 5.0, "euler", "simple", positive, negative, latent)
    assert out["samples"].shape == (1, 16, 3, 8, 8)
    assert torch.isfinite(out["samples"]).all()
    torch.testing.assert_close(out["samples"], again["samples"], rtol=0, atol=0)


def _t2v_prompt(steps: int = 2, length: int = 9) -> dict:
    """UNETLoader -> 2x IVTest_RandomConditioning -> EmptyHunyuanLatentVideo -> KSampler -> SaveLatent."""
    return {
        "1": {"class_type": "UNETLoader",
              "inputs": {"unet_name": tiny_models.FILE_NAMES["wan21"], "weight_dtype": "default"}},
        "2": {"class_type": "IVTest_RandomConditioning", "inputs": {"seed": 1, "tokens": 8, "dim": 4096}},
        "3": {"class_type": "IVTest_RandomConditioning", "inputs": {"seed": 2, "tokens": 8, "dim": 4096}},
        "4": {"class_type": "EmptyHunyuanLatentVideo",
              "inputs": {"width": 64, "height": 48, "length": length, "batch_size": 1}},
        "5": {"class_type": "KSampler",
              "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
                         "seed": 0, "steps": steps, "cfg": 5.0, "sampler_name": "euler", "scheduler": "simple",
                         "denoise": 1.0}},
        "6": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "smoke/t2v"}},
    }


def test_server_runs_stock_t2v_workflow(comfy_server):
    entry = comfy_server.run(_t2v_prompt(steps=2, length=9))
    (path,) = comfy_server.saved_files(entry, "latents", node_id="6")
    latent = read_latent(path)
    assert latent.shape == (1, 16, (9 - 1) // 4 + 1, 48 // 8, 64 // 8)
    assert torch.isfinite(latent).all()


def test_server_lists_pack_and_test_nodes(comfy_server):
    info = comfy_server.object_info("IVTest_RandomConditioning")
    assert info["output"] == ["CONDITIONING"]
    assert any(name.startswith("InfiniteVideo_") for name in comfy_server.object_info())


def test_server_rejects_malformed_workflow(comfy_server):
    prompt = _t2v_prompt(steps=0)
    del prompt["5"]["inputs"]["positive"]
    status, body = comfy_server.post_prompt_raw(prompt)
    assert status == 400
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    errors = {e["type"]: e for e in body["node_errors"]["5"]["errors"]}
    assert errors["required_input_missing"]["extra_info"]["input_name"] == "positive"
    assert errors["value_smaller_than_min"]["extra_info"]["input_name"] == "steps"
    with pytest.raises(PromptRejected):
        comfy_server.post_prompt(prompt)


def test_example_workflow_runs(comfy_server):
    """``example_workflows/api/fifo_tiny_wan.json``, the graph ``bash .ci/example`` runs, on the session server."""
    prompt = load_api_workflow(PACK_ROOT / "example_workflows" / "api" / "fifo_tiny_wan.json")
    entry = comfy_server.run(prompt)
    (path,) = comfy_server.saved_files(entry, "latents")
    frames = prompt["6"]["inputs"]["frames"]
    assert read_latent(path).shape == (1, 16, frames, 8, 8)
