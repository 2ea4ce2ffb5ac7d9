"""The pack's trained tiny Wan 2.1 ("shapes", models/shapes_wan21) on the real host, with the two nodes made
for it (Empty Conditioning, Latent Preview Decode).

The model must load as an ordinary Wan 2.1 (so every node of the pack runs on it unchanged) and must really have
learned its clips: a short native clip shows a few saturated palette shapes that keep their colours and move,
which the random-weight tiny Wan of the other tests does not.
"""

from __future__ import annotations

import json

import pytest
import torch

from infinite_video.tools.bench.consistency import run_native, to_rgb
from infinite_video.tools.testing.comfy_server import PACK_ROOT
from infinite_video.tools.testing.shapes.clips import ClipSpec, encode, make_clips
from infinite_video.tools.testing.shapes.metrics import palette_coverage, video_metrics

pytestmark = pytest.mark.host

MODEL_DIR = PACK_ROOT / "models" / "shapes_wan21"
MODEL = MODEL_DIR / "shapes_wan21.safetensors"


@pytest.fixture(scope="module")
def shapes(comfy_host):
    import comfy.sd

    return comfy.sd.load_diffusion_model(str(MODEL))


def native_clip(model, seed: int, steps: int = 24) -> torch.Tensor:
    """One 9-frame clip from stock ComfyUI euler (cfg 1, zero context): RGB ``[F, H, W, 3]`` in [-1, 1]."""
    return to_rgb(model, run_native(model, 9, seed, steps)[0])


def test_loads_as_wan21_with_its_card(shapes):
    import safetensors

    assert type(shapes.model).__name__ == "WAN21"
    assert type(shapes.get_model_object("latent_format")).__name__ == "Wan21"
    with safetensors.safe_open(str(MODEL), "pt") as f:
        meta = {k: json.loads(v) for k, v in f.metadata().items()}
    card = (MODEL_DIR / "README.md").read_text()
    assert f"{meta['steps']} steps" in card, "the model card must state the committed training steps"
    assert meta["arch"]["dim"] == 128 and meta["clip_spec"]["frames"] == 9


def _shape_stats(rgb: torch.Tensor) -> dict:
    m = video_metrics(rgb, reference_frames=3)
    label, cover = palette_coverage(rgb)
    centroid = []
    for t in range(rgb.shape[0]):  # centroid of all shape coverage per frame: moves when the shapes move
        w = cover[t] * (label[t] >= 0)
        ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
        centroid.append(torch.stack([(w * xs).sum(), (w * ys).sum()]) / w.sum().clamp_min(1e-6))
    m["travel"] = float((centroid[-1] - centroid[0]).norm())
    return m


def few_moving_shapes(m: dict) -> bool:
    """A handful of palette-coloured shapes per frame (the clips have 2 or 3; the model's may split or merge a few)
    whose coverage centroid travels (the clips move 0.35-0.9 px per frame)."""
    return 1.0 <= m["shape_count"] <= 8.0 and m["travel"] > 0.8


def test_native_clips_show_moving_shapes_and_random_weights_do_not(shapes, tiny_wan):
    trained = [_shape_stats(native_clip(shapes, seed)) for seed in (0, 1, 2)]
    assert all(few_moving_shapes(m) for m in trained), trained
    # measured: trained 2-5 shapes travelling 1.3-7.3 px; random weights ~31 speckles that stay put (< 0.4 px)
    random = [_shape_stats(native_clip(tiny_wan, seed)) for seed in (0, 1, 2)]
    assert not any(few_moving_shapes(m) for m in random), random


def test_latent_preview_decode_is_exact_on_encoded_clips(shapes):
    from infinite_video.nodes.preview import LatentPreviewDecode

    rgb, _ = make_clips(1, ClipSpec(frames=5), seed=3)
    fmt = shapes.get_model_object("latent_format")
    samples = {"samples": fmt.process_out(encode(rgb))}  # the LATENT a sampler would return
    images = LatentPreviewDecode.execute(shapes, samples, 1).result[0]
    assert images.shape == (5, 16, 16, 3)
    torch.testing.assert_close(images, (rgb[0] + 1) / 2, atol=1e-5, rtol=0)
    big = LatentPreviewDecode.execute(shapes, samples, 8).result[0]
    assert big.shape == (5, 128, 128, 3) and torch.equal(big[:, ::8, ::8], images)


def test_latent_preview_decode_rejects_a_foreign_latent(shapes):
    from infinite_video.nodes.preview import LatentPreviewDecode

    with pytest.raises(ValueError, match="samples have shape .* expects a video latent"):
        LatentPreviewDecode.execute(shapes, {"samples": torch.zeros(1, 4, 8, 8)}, 1)


def test_empty_conditioning_is_zeros_of_the_asked_width():
    from infinite_video.nodes.preview import EmptyConditioning

    (cond,) = EmptyConditioning.execute(1024, 3).result
    assert len(cond) == 1 and cond[0][1] == {}
    assert cond[0][0].shape == (1, 3, 1024) and not cond[0][0].any()


def test_training_architecture_is_what_comfyui_detects(comfy_host):
    """The trainer's WanModel settings must be the ones ComfyUI's detection infers from the weights (e.g. heads =
    dim // 128): the committed weights in the trainer's architecture compute what UNETLoader's model computes, and
    the same weights in a 2-head model (which loads without complaint) do not, which the trainer's check catches."""
    import comfy.ops
    import safetensors.torch
    from comfy.ldm.wan.model import WanModel

    from infinite_video.tools.authoring.train_shapes import ARCH, build_model, check_loads_as_trained

    weights = {k: v.float() for k, v in safetensors.torch.load_file(str(MODEL)).items()}
    model = build_model()
    model.load_state_dict(weights)
    assert check_loads_as_trained(model, MODEL) < 1e-3
    two_heads = WanModel(operations=comfy.ops.disable_weight_init, dtype=torch.float32, **{**ARCH, "num_heads": 2})
    two_heads.load_state_dict(weights)
    with pytest.raises(RuntimeError, match="different function"):
        check_loads_as_trained(two_heads, MODEL)
