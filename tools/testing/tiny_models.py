"""Tiny random-weight ComfyUI models for tests (no downloads).

Each ``write_tiny_<family>(path, seed=0) -> Path`` builds the real ComfyUI network class at the smallest size that
``comfy.model_detection`` still recognises, fills every parameter with ``normal_(0, 0.02)`` from a seeded generator
(the ``disable_weight_init`` operations leave them uninitialised) and saves the state dict with safetensors, so
``UNETLoader`` / ``comfy.sd.load_diffusion_model`` load it like a downloaded checkpoint:

| builder | network | detected as (``model.model`` class) | latent channels | conditioning |
|---|---|---|---|---|
| ``write_tiny_wan21`` | ``WanModel`` t2v, dim 128, 2 layers, in/out 16 | ``WAN21`` (``WAN21_T2V``) | 16 | ``[B, L, 4096]`` |
| ``write_tiny_wan21_i2v36`` | same with ``in_dim=36`` (Wan 2.2-A14B-I2V concat layout) | ``WAN21`` | 16 (+20 concat) | ``[B, L, 4096]`` |
| ``write_tiny_wan21_vace`` | ``VaceWanModel``, the same plus 1 VACE block (``vace_in_dim=96``) | ``WAN21_Vace`` | 16 (+96 ``vace_context``) | ``[B, L, 4096]`` |
| ``write_tiny_wan21_camera`` | ``CameraWanModel`` (Fun Camera), ``in_dim=32``, camera adapter of 24 channels | ``WAN21_Camera`` | 16 (+16 concat, +24 ``camera_conditions``) | ``[B, L, 4096]`` |
| ``write_tiny_wan22`` | ``WanModel`` t2v, in/out 48 (Wan 2.2-TI2V-5B layout) | ``WAN22`` (``WAN22_T2V``) | 48 | ``[B, L, 4096]`` |
| ``write_tiny_ltxv`` | ``LTXVModel``, 32 heads of 4, 2 layers | ``LTXV`` | 128 | ``[B, L, 4096]`` + ``attention_mask`` |
| ``write_tiny_cosmos_predict2`` | ``MiniTrainDIT``, 192 channels (16 heads of 12) | ``CosmosPredict2`` (``CosmosT2IPredict2``) | 16 | ``[B, L, 1024]`` |

Cosmos Predict2 detection infers only ``in_channels`` and ``model_channels``; ``num_blocks`` (10) and ``num_heads``
(16) keep their class defaults for any width other than 2048 / 5120, and its 3-D RoPE needs a head dim of at least 12
(``dim_h = head_dim // 6 * 2`` must exceed 2), so 192 channels is the smallest it loads. It is still the largest of
the five (~15 M parameters).

Nothing here imports ComfyUI at module level: the builders import it when called, after the host is on ``sys.path``
and ``comfy.cli_args.args.cpu`` is set (see ``host.py``).
"""

from __future__ import annotations

from pathlib import Path

import torch

# File names the server fixture and the example use under models/diffusion_models/.
FILE_NAMES = {
    "wan21": "tiny_wan21.safetensors",
    "wan21_i2v36": "tiny_wan21_i2v36.safetensors",
    "wan22": "tiny_wan22.safetensors",
    "ltxv": "tiny_ltxv.safetensors",
    "cosmos_predict2": "tiny_cosmos_predict2.safetensors",
}

# ``model.model`` class name each family must load as.
MODEL_CLASSES = {
    "wan21": "WAN21",
    "wan21_i2v36": "WAN21",
    "wan22": "WAN22",
    "ltxv": "LTXV",
    "cosmos_predict2": "CosmosPredict2",
}

# Width of the cross-attention context each family expects (for ``tiny_conditioning``).
CONTEXT_DIMS = {"wan21": 4096, "wan21_i2v36": 4096, "wan22": 4096, "ltxv": 4096, "cosmos_predict2": 1024}


def _save_random(module: torch.nn.Module, path, seed: int) -> Path:
    """Fill every parameter with N(0, 0.02) from ``seed`` (in a fixed order) and save the state dict."""
    import safetensors.torch

    gen = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            param.copy_(torch.randn(param.shape, generator=gen, dtype=torch.float32).mul_(0.02).to(param.dtype))
    state = {k: v.detach().contiguous() for k, v in module.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state, str(path))
    return path


def _wan(path, seed: int, in_dim: int, out_dim: int) -> Path:
    import comfy.ops
    from comfy.ldm.wan.model import WanModel

    model = WanModel(
        model_type="t2v", in_dim=in_dim, dim=128, ffn_dim=256, text_dim=4096, out_dim=out_dim, num_heads=1,
        num_layers=2, operations=comfy.ops.disable_weight_init, dtype=torch.float32,
    )
    return _save_random(model, path, seed)


def write_tiny_wan21(path, seed: int = 0) -> Path:
    """Wan 2.1 T2V: 16 latent channels; loads as ``WAN21`` (FLOW, shift 8)."""
    return _wan(path, seed, in_dim=16, out_dim=16)


def write_tiny_wan21_i2v36(path, seed: int = 0) -> Path:
    """Wan 2.1 with ``in_dim=36``: 16 noisy + 4 mask + 16 image channels (the A14B-I2V ``c_concat`` layout)."""
    return _wan(path, seed, in_dim=36, out_dim=16)


def write_tiny_wan21_fun48(path, seed: int = 0) -> Path:
    """Wan 2.1 Fun Control layout, ``in_dim=48``: 16 noisy + 16 control + 16 start-image channels (the ``c_concat`` of
    ``WanFunControlToVideo``); loads as ``WAN21``."""
    return _wan(path, seed, in_dim=48, out_dim=16)


def write_tiny_wan21_vace(path, seed: int = 0) -> Path:
    """Wan 2.1 VACE: ``VaceWanModel`` with one VACE block reading the 96-channel ``vace_context`` (16 inactive + 16
    reactive latent channels + 64 mask channels, WanVaceToVideo's layout); loads as ``WAN21_Vace``. Not in
    ``write_all`` (the server's models): its test fixture writes it on demand."""
    import comfy.ops
    from comfy.ldm.wan.model import VaceWanModel

    model = VaceWanModel(
        model_type="vace", in_dim=16, dim=128, ffn_dim=256, text_dim=4096, out_dim=16, num_heads=1, num_layers=2,
        vace_layers=1, vace_in_dim=96, operations=comfy.ops.disable_weight_init, dtype=torch.float32,
    )
    return _save_random(model, path, seed)


def write_tiny_wan21_camera(path, seed: int = 0) -> Path:
    """Wan 2.1 Fun Camera: ``CameraWanModel`` with ``in_dim=32`` (16 noisy + 16 start-image channels) and the camera
    adapter reading ``camera_conditions`` ``[B, 24, T, H, W]`` (WanCameraEmbedding); loads as ``WAN21_Camera``. Not in
    ``write_all``: its tests write it on demand."""
    import comfy.ops
    from comfy.ldm.wan.model import CameraWanModel

    model = CameraWanModel(
        model_type="camera", in_dim=32, dim=128, ffn_dim=256, text_dim=4096, out_dim=16, num_heads=1, num_layers=2,
        operations=comfy.ops.disable_weight_init, dtype=torch.float32,
    )
    return _save_random(model, path, seed)


def write_tiny_wan22(path, seed: int = 0) -> Path:
    """Wan 2.2-TI2V-5B layout: ``out_dim == 48`` selects ``WAN22_T2V``; 48 latent channels, 16x spatial VAE."""
    return _wan(path, seed, in_dim=48, out_dim=48)


def write_tiny_ltxv(path, seed: int = 0) -> Path:
    """LTX-Video: 128 latent channels, 32 heads of 4; loads as ``LTXV`` (Flux sampling, shift 2.37)."""
    import comfy.ops
    from comfy.ldm.lightricks.model import LTXVModel

    model = LTXVModel(
        in_channels=128, cross_attention_dim=128, attention_head_dim=4, num_attention_heads=32,
        caption_channels=4096, num_layers=2, operations=comfy.ops.disable_weight_init, dtype=torch.float32,
    )
    return _save_random(model, path, seed)


def write_tiny_cosmos_predict2(path, seed: int = 0) -> Path:
    """Cosmos Predict2 T2I/T2V: 16 latent channels (Wan 2.1 VAE), context width 1024; loads as ``CosmosPredict2``.

    The arguments mirror what ``comfy.model_detection`` derives for ``model_channels=192`` / ``in_channels=16``.
    """
    import comfy.ops
    from comfy.ldm.cosmos.predict2 import MiniTrainDIT

    model = MiniTrainDIT(
        max_img_h=240, max_img_w=240, max_frames=128, in_channels=16, out_channels=16, patch_spatial=2,
        patch_temporal=1, concat_padding_mask=True, model_channels=192, num_blocks=10, num_heads=16,
        crossattn_emb_channels=1024, pos_emb_cls="rope3d", pos_emb_learnable=True, pos_emb_interpolation="crop",
        min_fps=1, max_fps=30, use_adaln_lora=True, adaln_lora_dim=256, rope_h_extrapolation_ratio=4.0,
        rope_w_extrapolation_ratio=4.0, rope_t_extrapolation_ratio=1.0, extra_per_block_abs_pos_emb=False,
        rope_enable_fps_modulation=False, operations=comfy.ops.disable_weight_init, dtype=torch.float32,
    )
    return _save_random(model, path, seed)


WRITERS = {
    "wan21": write_tiny_wan21,
    "wan21_i2v36": write_tiny_wan21_i2v36,
    "wan22": write_tiny_wan22,
    "ltxv": write_tiny_ltxv,
    "cosmos_predict2": write_tiny_cosmos_predict2,
}


def write_all(folder, seed: int = 0) -> dict[str, Path]:
    """Write every tiny model into ``folder`` under ``FILE_NAMES``; existing files are kept (same seed, same bytes)."""
    folder = Path(folder)
    out = {}
    for family, writer in WRITERS.items():
        path = folder / FILE_NAMES[family]
        out[family] = path if path.is_file() else writer(path, seed=seed)
    return out


def load_tiny(path):
    """Load a tiny model file the way ``UNETLoader`` does; returns the ``ModelPatcher``."""
    import comfy.sd

    return comfy.sd.load_diffusion_model(str(path))


def tiny_conditioning(seed: int, tokens: int = 8, dim: int = 4096, attention_mask: bool = False) -> list:
    """ComfyUI CONDITIONING ``[[cross_attn [1, tokens, dim], {}]]`` from a seeded randn (no text encoder needed).

    ``dim`` is 4096 for Wan and LTXV, 1024 for Cosmos Predict2 (``CONTEXT_DIMS``). LTXV's forward needs an
    ``attention_mask`` (the T5 token mask, integer ``[1, tokens]``): pass ``attention_mask=True`` for it.
    """
    gen = torch.Generator("cpu").manual_seed(seed)
    extra = {"attention_mask": torch.ones(1, tokens, dtype=torch.int64)} if attention_mask else {}
    return [[torch.randn(1, tokens, dim, generator=gen, dtype=torch.float32), extra]]
