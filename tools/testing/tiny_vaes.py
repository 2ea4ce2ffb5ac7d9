"""Random-weight VAEs of ComfyUI's real classes (Wan 2.1, Wan 2.2, LTX-Video), built on the fly, and a start image.

Nothing is downloaded: the weights are seeded random. Nothing imports ComfyUI at module level (the host must be
prepared first, see ``host.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


def fill_random(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            param.copy_(torch.randn(param.shape, generator=gen).mul_(0.02).to(param.dtype))


def write_random_wan21_vae(path: Path, seed: int = 0) -> Path:
    """A random full-size Wan 2.1 VAE (the only size ComfyUI 0.3.64 builds: ~127 M parameters) in bf16 safetensors.

    ``VAELoader`` / ``comfy.sd.VAE`` detect it as the Wan 2.1 VAE (16 channels, 8x spatial, 4x temporal).
    """
    import safetensors.torch
    from comfy.ldm.wan.vae import WanVAE

    path = Path(path)
    if path.is_file():
        return path
    net = WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True], dropout=0.0)
    fill_random(net, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.to(torch.bfloat16).contiguous() for k, v in net.state_dict().items()},
                                str(path))
    return path


def load_vae(path: Path) -> Any:
    """Load a VAE file the way ``VAELoader`` does."""
    import comfy.sd
    import comfy.utils

    return comfy.sd.VAE(sd=comfy.utils.load_torch_file(str(path)))


TINY_LTXV_VAE_CONFIG = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128,
    "blocks": [["compress_all", 1], ["compress_all", 1], ["compress_all", 1], ["res_x", 1]],
    "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
}


def tiny_ltxv_vae(seed: int = 0) -> Any:
    """A real ``comfy.sd.VAE`` for LTX-Video (128 channels, 32x spatial, 8x temporal) at ~15 M parameters.

    Built through ComfyUI's own constructor: an LTXV VAE takes its architecture from the ``config`` metadata entry
    (as all-in-one LTXV checkpoints carry it), so three ``compress_all`` blocks and one ``res_x`` give the real
    compression with a small network. The per-channel statistics are the identity.
    """
    import comfy.sd
    from comfy.ldm.lightricks.vae.causal_video_autoencoder import VideoVAE

    net = VideoVAE(config=TINY_LTXV_VAE_CONFIG)
    fill_random(net, seed)
    sd = net.state_dict()
    for key in sd:
        if key.startswith("per_channel_statistics."):
            sd[key] = torch.ones(128) if "std" in key else torch.zeros(128)
    return comfy.sd.VAE(sd=sd, metadata={"config": json.dumps({"vae": TINY_LTXV_VAE_CONFIG})})


class SmallWan22VAE:
    """A narrow stand-in for ``comfy.sd.VAE`` around a real, narrow ``comfy.ldm.wan.vae2_2.WanVAE`` (48 channels).

    ComfyUI 0.3.64 only builds the full Wan 2.2 VAE (~705 M parameters, far too slow on CPU) and reads no config
    for it, so the test wraps the same network class at ``dim = dec_dim = 16``. It exposes exactly the members the
    node uses: ``latent_channels``, ``spacial_compression_encode``, ``temporal_compression_decode``, ``encode``
    (``[F, H, W, 3]`` in [0, 1] -> ``[1, 48, T, H/16, W/16]``) and ``decode`` (-> ``[1, F, H, W, 3]``).
    """

    latent_channels = 48

    def __init__(self, seed: int = 0) -> None:
        from comfy.ldm.wan.vae2_2 import WanVAE

        self.net = WanVAE(dim=16, dec_dim=16, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                          temperal_downsample=[False, True, True], dropout=0.0).eval()
        fill_random(self.net, seed)

    def spacial_compression_encode(self) -> int:
        return 16

    def temporal_compression_decode(self) -> int:
        return 4

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels[..., :3].movedim(-1, 0).unsqueeze(0) * 2.0 - 1.0  # [1, 3, F, H, W]
        return self.net.encode(x.float()).float()

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        out = self.net.decode(latent.float()).float()
        return ((out + 1.0) / 2.0).clamp(0.0, 1.0).movedim(1, -1)


class SmallWan21VAE(SmallWan22VAE):
    """The Wan 2.1 counterpart of :class:`SmallWan22VAE`: the real ``comfy.ldm.wan.vae.WanVAE`` (16 channels, 8x
    spatial, 4x temporal) at ``dim = 16``, for core conditioning nodes (WanImageToVideo, WanFirstLastFrameToVideo,
    WanFunControlToVideo, ...) in fast tests; the full-size random one encodes a 29-frame clip in tens of seconds."""

    latent_channels = 16

    def __init__(self, seed: int = 0) -> None:
        from comfy.ldm.wan.vae import WanVAE

        self.net = WanVAE(dim=16, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                          temperal_downsample=[False, True, True], dropout=0.0).eval()
        fill_random(self.net, seed)

    def spacial_compression_encode(self) -> int:
        return 8


def start_image(size: tuple[int, int], seed: int = 5) -> torch.Tensor:
    """A smooth random RGB image ``[1, H, W, 3]`` in [0, 1], quantised to 8 bits (it survives a PNG round trip)."""
    h, w = size
    gen = torch.Generator("cpu").manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 4, generator=gen)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return (img.movedim(1, -1) * 255).round() / 255
