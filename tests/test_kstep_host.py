"""K-Step Noise Search against the real ComfyUI host: tiny random-weight I2V models on CPU, in process and through the
headless server.

VAEs (ComfyUI 0.3.64 has no tiny Wan VAE, docs/comfyui-host.md, "Tiny models for tests"):
- Wan 2.1: a random full-size Wan 2.1 VAE written once per session (bf16, ~254 MB) and loaded like ``VAELoader``;
  used at 32x32, where one encode or decode of a 5-frame chunk takes a few seconds on CPU;
- LTX-Video: a real ``comfy.sd.VAE`` built from a small architecture carried in its ``config`` metadata;
- Wan 2.2 5B: a narrow stand-in around the real ``vae2_2.WanVAE`` class at width 16 (see
  ``tools/testing/tiny_vaes.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infinite_video.tools.testing import tiny_models
from infinite_video.tools.testing.call_counter import count_model_calls
from infinite_video.tools.testing.comfy_server import read_latent
from infinite_video.tools.testing.tiny_vaes import (
    SmallWan22VAE,
    load_vae,
    start_image,
    tiny_ltxv_vae,
    write_random_wan21_vae,
)

pytestmark = pytest.mark.host

NODE_ID = "InfiniteVideo_KStepNoiseSearch"


# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wan21_vae_file(comfy_host, tmp_path_factory):
    return write_random_wan21_vae(tmp_path_factory.mktemp("kstep_vae") / "kstep_wan21_vae.safetensors")


@pytest.fixture(scope="session")
def wan21_vae(wan21_vae_file):
    return load_vae(wan21_vae_file)


@pytest.fixture(scope="session")
def ltxv_vae(comfy_host):
    return tiny_ltxv_vae()


@pytest.fixture(scope="session")
def node(comfy_host):
    from infinite_video.nodes.kstep import KStepNoiseSearch

    return KStepNoiseSearch


def _conds(ltxv: bool = False):
    return tiny_models.tiny_conditioning(1, attention_mask=ltxv), tiny_models.tiny_conditioning(2, attention_mask=ltxv)


def _run(node, model, vae, image, *, length, chunks=2, m=2, k=1, full=2, seed=0, sampler="euler", cfg=5.0,
         clip_vision=None, ltxv=False):
    positive, negative = _conds(ltxv)
    out = node.execute(model, positive, negative, vae, image, length, chunks, m, k, full, sampler, "simple", cfg,
                       seed, clip_vision=clip_vision)
    frames, latent, report, video = out.args
    assert video is None, "no sink, no video"
    return frames, latent["samples"], report


# --- schema and family detection ----------------------------------------------------------------------------------


def test_schema_ids_tooltips_and_outputs(node):
    import comfy.samplers

    schema = node.define_schema()
    assert schema.node_id == NODE_ID
    assert all(getattr(inp, "tooltip", None) for inp in schema.inputs), "every input needs a tooltip"
    ids = [inp.id for inp in schema.inputs]
    assert ids[:5] == ["model", "positive", "negative", "vae", "start_image"]
    assert {"chunk_length", "num_chunks", "candidates", "preview_steps", "full_steps", "sampler_name", "scheduler",
            "cfg", "seed", "clip_vision"} <= set(ids)
    combos = {inp.id: inp.options for inp in schema.inputs if inp.id in ("sampler_name", "scheduler")}
    assert combos == {"sampler_name": comfy.samplers.KSampler.SAMPLERS,
                      "scheduler": comfy.samplers.KSampler.SCHEDULERS}
    assert [o.io_type for o in schema.outputs] == ["IMAGE", "LATENT", "STRING", "VIDEO"]
    from infinite_video.nodes import kstep

    assert kstep.NODES == [node]


@pytest.mark.parametrize("fixture,key", [("tiny_wan_i2v36", "wan21_i2v"), ("tiny_wan22", "wan22_ti2v"),
                                         ("tiny_ltxv", "ltxv")])
def test_detect_family(request, fixture, key):
    from infinite_video.nodes.i2v import detect_family

    family = detect_family(request.getfixturevalue(fixture))
    assert family.key == key
    assert not family.needs_clip_vision


@pytest.mark.parametrize("fixture,says", [("tiny_wan", "16 input channels (text-to-video)"),
                                          ("tiny_cosmos", "CosmosPredict2 is not supported")])
def test_models_without_i2v_are_rejected(request, fixture, says):
    from infinite_video.nodes.i2v import detect_family

    with pytest.raises(ValueError) as err:
        detect_family(request.getfixturevalue(fixture))
    msg = str(err.value)
    assert msg.startswith("model:") and says in msg
    assert "Wan 2.2 TI2V 5B" in msg and "LTX-Video" in msg and "image-to-video" in msg


# --- errors before any model call ---------------------------------------------------------------------------------


class FailingClipVision:
    """A CLIP_VISION whose encoder raises, as a broken or mismatched checkpoint would."""

    def encode_image(self, image, crop=True):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


class EmptyClipVision:
    """A CLIP_VISION whose output has no projected ``image_embeds``."""

    def encode_image(self, image, crop=True):
        import comfy.clip_vision

        out = comfy.clip_vision.Output()
        out["image_embeds"] = None
        return out


def _bad_cases():
    # (id, model fixture, vae fixture, image size, overrides, input named, words in the message)
    return [
        ("m0", "tiny_wan_i2v36", "wan21_vae", 32, {"m": 0}, "candidates", "below its minimum 1; use a value in [1,"),
        ("k0", "tiny_wan_i2v36", "wan21_vae", 32, {"k": 0}, "preview_steps", "below its minimum 1"),
        ("k>full", "tiny_wan_i2v36", "wan21_vae", 32, {"k": 3, "full": 2}, "preview_steps", "at most 2"),
        ("t2v", "tiny_wan", "wan21_vae", 32, {}, "model", "image-to-video"),
        ("size", "tiny_wan_i2v36", "wan21_vae", 40, {}, "start_image", "multiples of 16"),
        ("ltxv-size", "tiny_ltxv", "ltxv_vae", 48, {"length": 9}, "start_image", "multiples of 32"),
        ("wan-length", "tiny_wan_i2v36", "wan21_vae", 32, {"length": 6}, "chunk_length", "4n+1"),
        ("ltxv-length", "tiny_ltxv", "ltxv_vae", 64, {"length": 5}, "chunk_length", "8n+1"),
        ("vae", "tiny_ltxv", "wan21_vae", 64, {"length": 9}, "vae", "128 channels"),
        ("clip-fails", "tiny_wan_i2v36", "wan21_vae", 32, {"clip_vision": FailingClipVision()}, "clip_vision",
         "mat1 and mat2"),
        ("clip-empty", "tiny_ltxv", "ltxv_vae", 64, {"length": 9, "clip_vision": EmptyClipVision()}, "clip_vision",
         "image_embeds"),
        ("sampler", "tiny_wan_i2v36", "wan21_vae", 32, {"sampler": "nope"}, "sampler_name", "pick one of"),
    ]


@pytest.mark.parametrize("case", _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_bad_input_raises_before_any_model_call(request, node, case):
    _, model_fixture, vae_fixture, size, overrides, name, words = case
    model, counter = count_model_calls(request.getfixturevalue(model_fixture))
    vae = request.getfixturevalue(vae_fixture)
    kwargs = {"length": 5, **overrides}
    with pytest.raises(ValueError) as err:
        _run(node, model, vae, start_image((size, size)), ltxv=model_fixture == "tiny_ltxv", **kwargs)
    msg = str(err.value).removeprefix("K-Step Noise Search: ")  # range checks name the node first
    assert msg.startswith(name), msg
    assert words in msg, msg
    assert counter.calls == 0


# --- in-process runs ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wan21_reference(node, tiny_wan_i2v36, wan21_vae):
    """One in-process run on the tiny Wan 2.1 (in_dim 36) model, shared with the server comparison below (the random
    full-size Wan VAE makes each run slow on CPU)."""
    model, counter = count_model_calls(tiny_wan_i2v36)
    image = start_image((32, 32), seed=9)
    frames, latent, report = _run(node, model, wan21_vae, image, length=5, chunks=2, m=2, k=1, full=2, seed=5)
    return image, frames, latent, report, counter.calls


def test_wan21_i2v_chunks_calls_and_seams(wan21_reference):
    """Wan 2.1 concat layout: frame counts, m·k + full model calls per chunk, per-chunk report."""
    _, frames, latent, report, calls = wan21_reference
    assert frames.shape == (5 + 4, 32, 32, 3)  # L + (c - 1)(L - 1)
    assert latent.shape == (1, 16, 2 + 1, 4, 4)  # T + (c - 1)(T - 1)
    assert torch.isfinite(frames).all() and torch.isfinite(latent).all()
    assert calls == 2 * (2 * 1 + 2)  # chunks x (m·k + full)
    assert "chunk 0: candidate" in report and "chunk 1: candidate" in report and "latent cosine" in report


def test_ltxv_in_place_guide_reproducible_and_costs(node, tiny_ltxv, ltxv_vae):
    """LTX-Video in-place latent: the guide latent is kept; same seed, same result; brute force and no search."""
    image = start_image((64, 64))
    model, counter = count_model_calls(tiny_ltxv)
    frames, latent, report = _run(node, model, ltxv_vae, image, length=9, chunks=2, m=3, k=1, full=2, seed=3,
                                  ltxv=True)
    assert frames.shape == (9 + 8, 64, 64, 3)
    assert latent.shape == (1, 128, 2 + 1, 2, 2)
    assert counter.calls == 2 * (3 * 1 + 2)
    guide_latent = ltxv_vae.encode(image)
    torch.testing.assert_close(latent[:, :, :1], guide_latent, atol=1e-4, rtol=1e-4)

    again = _run(node, model, ltxv_vae, image, length=9, chunks=2, m=3, k=1, full=2, seed=3, ltxv=True)
    assert again[2] == report
    assert torch.equal(again[0], frames) and torch.equal(again[1], latent)
    other = _run(node, model, ltxv_vae, image, length=9, chunks=2, m=3, k=1, full=2, seed=4, ltxv=True)
    assert not torch.equal(other[1], latent)

    counter.calls = 0
    _run(node, model, ltxv_vae, image, length=9, chunks=2, m=3, k=2, full=2, seed=3, ltxv=True)
    assert counter.calls == 2 * 3 * 2  # brute force: m full runs, the best one kept
    counter.calls = 0
    _, plain, plain_report = _run(node, model, ltxv_vae, image, length=9, chunks=2, m=1, k=1, full=2, seed=3,
                                  ltxv=True)
    assert counter.calls == 2 * 2 and "no search" in plain_report


@pytest.mark.parametrize("sampler,k", [("euler", 1), ("euler_ancestral", 2), ("dpmpp_2m_sde", 1)])
def test_ltxv_winner_is_what_a_plain_run_of_its_noise_gives(node, tiny_ltxv, ltxv_vae, sampler, k):
    """Chunk 0's latent is a stock sampler run from the winner's noise and seed, also when a stochastic sampler's
    brute-force preview (k = full) is kept instead of re-run."""
    import comfy.sample

    from infinite_video.nodes.i2v import build_chunk_conditioning, detect_family
    from infinite_video.samplers.noise_search import candidate_noise, candidate_seed

    image = start_image((64, 64))
    _, latent, report = _run(node, tiny_ltxv, ltxv_vae, image, length=9, chunks=1, m=3, k=k, full=2, seed=11,
                             sampler=sampler, ltxv=True)
    winner = int(report.split("chunk 0: candidate ")[1].split(" ")[0])
    positive, negative = _conds(ltxv=True)
    family = detect_family(tiny_ltxv)
    cond = build_chunk_conditioning(family, tiny_ltxv, positive, negative, ltxv_vae, image, 9)
    noise = candidate_noise(cond.latent_image.shape, 11, 0, winner)
    ref = comfy.sample.sample(tiny_ltxv, noise, 2, 5.0, sampler, "simple", cond.positive, cond.negative,
                              cond.latent_image, noise_mask=cond.noise_mask, seed=candidate_seed(11, 0, winner))
    torch.testing.assert_close(latent, ref)


def test_wan22_in_place_guide(node, tiny_wan22):
    vae = SmallWan22VAE()
    model, counter = count_model_calls(tiny_wan22)
    image = start_image((32, 32))
    frames, latent, report = _run(node, model, vae, image, length=5, chunks=2, m=2, k=1, full=2, seed=1)
    assert frames.shape == (9, 32, 32, 3)
    assert latent.shape == (1, 48, 3, 2, 2)
    assert counter.calls == 2 * (2 + 2)
    torch.testing.assert_close(latent[:, :, :1], vae.encode(image), atol=1e-4, rtol=1e-4)
    assert "Wan 2.2 TI2V 5B" in report


def test_clip_vision_scoring(node, tiny_ltxv, ltxv_vae, tmp_path):
    """With a CLIP_VISION connected, previews are decoded and scored with its image embeddings."""
    clip = _tiny_clip_vision(tmp_path, 32)
    calls = []
    encode = clip.encode_image

    class Recording:
        def encode_image(self, image, crop=True):
            calls.append(image.shape[0])
            return encode(image, crop=crop)

    image = start_image((64, 64))
    frames, latent, report = _run(node, tiny_ltxv, ltxv_vae, image, length=9, chunks=2, m=2, k=1, full=2, seed=2,
                                  ltxv=True, clip_vision=Recording())
    assert frames.shape == (17, 64, 64, 3)
    assert "CLIP vision image_embeds" in report
    # first guide, then per chunk: m previews of 9 decoded frames; chunk 1 also embeds its new guide
    assert calls == [1, 9, 9, 1, 9, 9]
    scores = [float(s.split(": ")[1]) for s in report.split("scores [")[1].split("]")[0].replace("*", "").split(", ")]
    assert len(scores) == 2 and all(-1.0 <= s <= 1.0 for s in scores)


def test_cancel_is_honoured_between_runs(node, tiny_ltxv, ltxv_vae):
    import comfy.model_management as mm

    model, counter = count_model_calls(tiny_ltxv, on_call=lambda c: mm.interrupt_current_processing(True))
    try:
        with pytest.raises(mm.InterruptProcessingException):
            _run(node, model, ltxv_vae, start_image((64, 64)), length=9, chunks=3, m=4, k=1, full=2, ltxv=True)
    finally:
        mm.interrupt_current_processing(False)
    assert counter.calls == 1  # the first preview's single step, then the check before the next run stops it


# --- Wan 2.1 I2V with a CLIP image embedding (img_emb): needs clip_vision for its conditioning ----------------------


def _tiny_clip_vision(tmp_path, hidden: int, seed: int = 0):
    """A real ``comfy.clip_vision.ClipVisionModel`` at toy size (2 layers, 32x32 input, 16x16 patches)."""
    import comfy.clip_vision

    config = {"hidden_size": hidden, "image_size": 32, "intermediate_size": 64, "num_attention_heads": hidden // 32,
              "num_hidden_layers": 2, "patch_size": 16, "projection_dim": 16, "hidden_act": "gelu",
              "layer_norm_eps": 1e-5, "num_channels": 3, "model_type": "clip_vision_model"}
    path = tmp_path / f"tiny_clip_vision_{hidden}.json"
    path.write_text(json.dumps(config))
    clip = comfy.clip_vision.ClipVisionModel(str(path))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(clip.model.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return clip


@pytest.fixture(scope="module")
def tiny_wan_i2v_clip(comfy_host, tmp_path_factory):
    """Tiny Wan 2.1 I2V with ``img_emb`` (``model_type="i2v"``: loads as ``WAN21`` with ``image_to_video``)."""
    import comfy.ops
    import safetensors.torch
    from comfy.ldm.wan.model import WanModel

    from infinite_video.tools.testing.tiny_vaes import fill_random

    net = WanModel(model_type="i2v", in_dim=36, dim=128, ffn_dim=256, text_dim=4096, out_dim=16, num_heads=1,
                   num_layers=2, operations=comfy.ops.disable_weight_init, dtype=torch.float32)
    fill_random(net, 0)
    path = tmp_path_factory.mktemp("kstep_i2v") / "tiny_wan21_i2v_clip.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return tiny_models.load_tiny(path)


def test_wan21_i2v_with_image_embedding_needs_clip_h(node, tiny_wan_i2v_clip, wan21_vae, tmp_path):
    from infinite_video.nodes.i2v import detect_family

    family = detect_family(tiny_wan_i2v_clip)
    assert family.needs_clip_vision and family.clip_dim == 1280
    model, counter = count_model_calls(tiny_wan_i2v_clip)
    image = start_image((32, 32))
    with pytest.raises(ValueError, match="^clip_vision: .*clip_vision_h"):
        _run(node, model, wan21_vae, image, length=5)
    with pytest.raises(ValueError, match="^clip_vision: .*1280-wide .* gives 64"):
        _run(node, model, wan21_vae, image, length=5, clip_vision=_tiny_clip_vision(tmp_path, 64))
    assert counter.calls == 0


def test_wan21_i2v_clip_vision_output_reaches_the_model(tiny_wan_i2v_clip, wan21_vae, tmp_path):
    """The chunk conds carry ``clip_vision_output`` like WanImageToVideo's, and the model receives ``clip_fea``."""
    import comfy.patcher_extension
    import comfy.sample

    from infinite_video.nodes.i2v import build_chunk_conditioning, detect_family

    clip = _tiny_clip_vision(tmp_path, 1280)
    image = start_image((32, 32))
    clip_out = clip.encode_image(image, crop=True)
    seen = []

    def record_clip_fea(executor, *args, **kwargs):
        seen.append(kwargs.get("clip_fea"))
        return executor(*args, **kwargs)

    model, counter = count_model_calls(tiny_wan_i2v_clip)
    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, "infinite_video_test_clip_fea",
                               record_clip_fea)
    positive, negative = _conds()
    cond = build_chunk_conditioning(detect_family(model), model, positive, negative, wan21_vae, image, 5,
                                    clip_vision_output=clip_out)
    assert cond.positive[0][1]["clip_vision_output"] is clip_out and cond.noise_mask is None
    assert cond.positive[0][1]["concat_mask"][0, 0, :, 0, 0].tolist() == [0.0, 1.0]
    out = comfy.sample.sample(model, torch.randn(1, 16, 2, 4, 4), 1, 5.0, "euler", "simple", cond.positive,
                              cond.negative, cond.latent_image, seed=0)
    assert torch.isfinite(out).all() and counter.calls == 1
    assert seen and seen[0] is not None and seen[0].shape[-1] == 1280


# --- end to end through the server --------------------------------------------------------------------------------


def _server_prompt(image_name: str, vae_name: str, *, seed: int, chunk_length: int = 5, candidates: int = 2) -> dict:
    return {
        "1": {"class_type": "UNETLoader",
              "inputs": {"unet_name": tiny_models.FILE_NAMES["wan21_i2v36"], "weight_dtype": "default"}},
        "2": {"class_type": "IVTest_RandomConditioning", "inputs": {"seed": 1, "tokens": 8, "dim": 4096}},
        "3": {"class_type": "IVTest_RandomConditioning", "inputs": {"seed": 2, "tokens": 8, "dim": 4096}},
        "4": {"class_type": "VAELoader", "inputs": {"vae_name": vae_name}},
        "5": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "6": {"class_type": NODE_ID,
              "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "vae": ["4", 0],
                         "start_image": ["5", 0], "chunk_length": chunk_length, "num_chunks": 2,
                         "candidates": candidates, "preview_steps": 1, "full_steps": 2, "sampler_name": "euler",
                         "scheduler": "simple", "cfg": 5.0, "seed": seed}},
        "7": {"class_type": "SaveLatent", "inputs": {"samples": ["6", 1], "filename_prefix": "kstep/latent"}},
        "8": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "kstep/frame"}},
        "9": {"class_type": "PreviewAny", "inputs": {"source": ["6", 2]}},
    }


@pytest.fixture(scope="module")
def server_assets(comfy_server, wan21_vae_file):
    """Put the random Wan VAE under the server's ``models/vae`` and a start image in its input folder."""
    from PIL import Image

    if not comfy_server.object_info(NODE_ID):
        pytest.fail(f"{NODE_ID} is not registered by the server: nodes/__init__.py must list kstep.NODES")
    vae_dir = comfy_server.root / "base" / "models" / "vae"
    vae_dir.mkdir(parents=True, exist_ok=True)
    link = vae_dir / wan21_vae_file.name
    if not link.exists():
        link.symlink_to(wan21_vae_file)
    image = start_image((32, 32), seed=9)
    Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).save(comfy_server.root / "input" / "kstep.png")
    return "kstep.png", wan21_vae_file.name, image


def test_server_end_to_end_matches_in_process(comfy_server, server_assets, wan21_reference):
    """API run on the tiny Wan 2.1 (in_dim 36) model: outputs, report, and the same result as the in-process run."""
    image_name, vae_name, image = server_assets
    ref_image, _, ref_latent, ref_report, _ = wan21_reference
    assert torch.equal(image, ref_image)
    entry = comfy_server.run(_server_prompt(image_name, vae_name, seed=5))
    (latent_path,) = comfy_server.saved_files(entry, "latents", node_id="7")
    latent = read_latent(latent_path)
    assert latent.shape == (1, 16, 3, 4, 4)
    assert len(comfy_server.saved_files(entry, "images", node_id="8")) == 9
    (report,) = entry["outputs"]["9"]["text"]
    assert report.count("won with score") == 2 and "chunk 1: candidate" in report
    assert ref_report.splitlines()[3:] == report.splitlines()[3:]  # same winners, seeds and scores
    torch.testing.assert_close(ref_latent, latent, atol=1e-4, rtol=1e-4)


def test_server_reports_bad_chunk_length(comfy_server, server_assets):
    image_name, vae_name, _ = server_assets
    prompt_id = comfy_server.post_prompt(_server_prompt(image_name, vae_name, seed=5, chunk_length=7))["prompt_id"]
    entry = comfy_server.wait_history(prompt_id)
    assert entry["status"]["status_str"] == "error"
    (err,) = [d for e, d in entry["status"]["messages"] if e == "execution_error"]
    assert err["node_type"] == NODE_ID
    assert err["exception_message"].startswith("chunk_length = 7") and "set chunk_length to 5 or 9" in \
        err["exception_message"]


def test_server_rejects_zero_candidates(comfy_server, server_assets):
    image_name, vae_name, _ = server_assets
    status, body = comfy_server.post_prompt_raw(_server_prompt(image_name, vae_name, seed=5, candidates=0))
    assert status == 400
    (error,) = body["node_errors"]["6"]["errors"]
    assert error["type"] == "value_smaller_than_min" and error["extra_info"]["input_name"] == "candidates"
