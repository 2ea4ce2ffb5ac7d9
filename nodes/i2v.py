"""Image-to-video conditioning per model family, built the way ComfyUI's own nodes build it.

Used by the k-step noise search (arXiv 2411.18668) to condition every chunk on its guide image. Three families:

- ``wan21_i2v``: ``WAN21`` with ``in_dim == 36`` (Wan 2.1 I2V, Wan 2.2-A14B I2V), as ``WanImageToVideo`` does it:
  ``concat_latent_image`` (the guide followed by grey frames, VAE-encoded) and ``concat_mask`` (0 on the guide's
  latent frame) conds, plus ``clip_vision_output`` when the model has a CLIP image embedding (Wan 2.1 I2V 14B);
  chunks of 4n+1 frames, sizes a multiple of 16;
- ``wan22_ti2v``: ``WAN22`` (Wan 2.2 TI2V 5B), as ``Wan22ImageToVideoLatent``: the guide latent in place at latent
  frame 0, ``noise_mask`` 0 there; 4n+1 frames, multiple of 32;
- ``ltxv``: ``LTXV``, as ``LTXVImgToVideo`` with strength 1: the guide latent in place at latent frame 0,
  ``noise_mask`` 0 there; 8n+1 frames, multiple of 32.

Only ComfyUI helpers are called (``node_helpers.conditioning_set_values``, ``vae.encode``, the model's
``latent_format``); the node bodies are not copied. Shapes: images ``[B, H, W, 3]`` in ``[0, 1]``; latents
``[1, C, T, H/s, W/s]`` in the VAE's raw space (what ``KSampler`` takes and returns), ``T = (L - 1) // stride + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import comfy.model_base
import comfy.model_management
import node_helpers
import torch

SUPPORTED = (
    "Wan 2.1 / Wan 2.2-A14B image-to-video (36 input channels: latent + mask + image, e.g. wan2.1_i2v_480p_14B or "
    "wan2.2_i2v_high/low_noise_14B), Wan 2.2 TI2V 5B (wan2.2_ti2v_5B), LTX-Video (ltxv-*)"
)


@dataclass(frozen=True)
class I2VFamily:
    """What the search needs to know about a model family.

    ``temporal_stride``: pixel frames per latent frame after the first (chunk lengths are ``stride·n + 1``).
    ``size_multiple``: image width and height must be multiples of it (VAE stride × patch size).
    ``vae_stride``: the VAE's spatial compression. ``needs_clip_vision``: the model has a CLIP image embedding
    (``img_emb``, Wan 2.1 I2V 14B) and must get a ``clip_vision_output`` cond of width ``clip_dim``.
    """

    key: str
    label: str
    temporal_stride: int
    size_multiple: int
    vae_stride: int
    latent_channels: int
    needs_clip_vision: bool = False
    clip_dim: int = 0


@dataclass
class ChunkConditioning:
    """One chunk's sampler inputs: conds, ``latent_image[1, C, T, h, w]``, optional ``noise_mask`` (1 = denoise,
    0 = keep; broadcastable to the latent) and ``guide_latent[1, C, 1, h, w]``, the guide's own VAE latent."""

    positive: list
    negative: list
    latent_image: torch.Tensor
    noise_mask: Optional[torch.Tensor]
    guide_latent: torch.Tensor


def detect_family(model: Any) -> I2VFamily:
    """The I2V family of a ComfyUI MODEL (``ModelPatcher``); raises a ``ValueError`` naming the working families.

    Exact class matches on purpose: subclasses such as ``WAN21_Vace``, ``WAN21_Camera`` or ``WAN22_S2V`` condition
    differently and are not supported.
    """
    inner = getattr(model, "model", None)
    cls = type(inner)
    name = cls.__name__
    if cls is comfy.model_base.WAN22:
        return I2VFamily("wan22_ti2v", "Wan 2.2 TI2V 5B", 4, 32, 16, 48)
    if inner is not None and cls is comfy.model_base.WAN21:
        dm = inner.diffusion_model
        in_dim = int(dm.patch_embedding.weight.shape[1])
        if in_dim == 36:
            img_emb = getattr(dm, "img_emb", None)
            if img_emb is not None:
                clip_dim = int(img_emb.proj[0].normalized_shape[0])
                return I2VFamily("wan21_i2v", "Wan 2.1 image-to-video (with CLIP image embedding)", 4, 16, 8, 16,
                                 needs_clip_vision=True, clip_dim=clip_dim)
            return I2VFamily("wan21_i2v", "Wan 2.1 / 2.2-A14B image-to-video", 4, 16, 8, 16)
        kind = "text-to-video" if in_dim == 16 else f"a {in_dim}-channel variant"
        raise ValueError(
            f"model: this Wan 2.1 model has {in_dim} input channels ({kind}) and cannot take a start image; "
            f"K-Step Noise Search needs an image-to-video model: {SUPPORTED}"
        )
    if cls is comfy.model_base.LTXV:
        return I2VFamily("ltxv", "LTX-Video", 8, 32, 32, 128)
    raise ValueError(
        f"model: {name} is not supported for image-to-video by K-Step Noise Search; load one of: {SUPPORTED}"
    )


def check_vae(family: I2VFamily, vae: Any) -> None:
    """Raise unless the VAE's latent channels and compression match the model family."""
    channels = getattr(vae, "latent_channels", None)
    try:
        spatial = int(vae.spacial_compression_encode())
        temporal = int(vae.temporal_compression_decode() or 1)
    except Exception:  # a VAE without these methods cannot be the right video VAE
        spatial, temporal = None, None
    if channels != family.latent_channels or spatial != family.vae_stride or temporal != family.temporal_stride:
        raise ValueError(
            f"vae: the connected VAE has {channels} latent channels, {spatial}x spatial and {temporal}x temporal "
            f"compression, but {family.label} needs {family.latent_channels} channels, {family.vae_stride}x and "
            f"{family.temporal_stride}x; connect the VAE that belongs to the model "
            f"({_VAE_HINT.get(family.key, 'its own VAE')})"
        )


_VAE_HINT = {"wan21_i2v": "wan_2.1_vae", "wan22_ti2v": "wan2.2_vae", "ltxv": "the LTX-Video VAE"}


def check_image_size(family: I2VFamily, image: torch.Tensor) -> None:
    """Raise unless ``image[B, H, W, C]`` has ``C >= 3`` and a size the family can encode and decode exactly.

    The image is not resized: the chunk resolution is the start image's resolution, so the output keeps the size the
    user chose. A wrong size is reported with the nearest valid sizes instead.
    """
    if image.ndim != 4 or image.shape[0] < 1 or image.shape[-1] < 3:
        raise ValueError(
            f"start_image must be an IMAGE batch [B, H, W, 3], got shape {tuple(image.shape)}; connect a Load Image "
            "node or any node that outputs IMAGE"
        )
    h, w = int(image.shape[1]), int(image.shape[2])
    m = family.size_multiple
    if h % m == 0 and w % m == 0 and h >= m and w >= m:
        return
    fit_w, fit_h = max(m, round(w / m) * m), max(m, round(h / m) * m)
    raise ValueError(
        f"start_image is {w}x{h} but {family.label} needs a width and height that are multiples of {m} (the chunk "
        f"latent is {family.vae_stride}x smaller and the model patches it); resize it first, e.g. Upscale Image to "
        f"{fit_w}x{fit_h} (with crop 'center' to keep the aspect ratio)"
    )


def build_chunk_conditioning(
    family: I2VFamily,
    model: Any,
    positive: list,
    negative: list,
    vae: Any,
    guide: torch.Tensor,
    length: int,
    clip_vision_output: Any = None,
) -> ChunkConditioning:
    """Conditioning and latent for one chunk of ``length`` pixel frames guided by ``guide[1, H, W, 3]``."""
    guide = guide[:1, :, :, :3]
    _, height, width, _ = guide.shape
    t = (length - 1) // family.temporal_stride + 1
    h, w = height // family.vae_stride, width // family.vae_stride
    device = comfy.model_management.intermediate_device()
    if family.key == "wan21_i2v":
        # WanImageToVideo: encode [guide, grey, grey, ...] and concatenate it with a mask that is 0 (keep) on the
        # guide's latent frame; the sampled latent starts empty.
        video = torch.full((length, height, width, 3), 0.5, dtype=guide.dtype, device=guide.device)
        video[:1] = guide
        concat = vae.encode(video)
        mask = torch.ones((1, 1, t, h, w), dtype=guide.dtype, device=guide.device)
        mask[:, :, :1] = 0.0
        values: dict[str, Any] = {"concat_latent_image": concat, "concat_mask": mask}
        if family.needs_clip_vision and clip_vision_output is not None:
            values["clip_vision_output"] = clip_vision_output
        positive = node_helpers.conditioning_set_values(positive, values)
        negative = node_helpers.conditioning_set_values(negative, values)
        latent = torch.zeros((1, family.latent_channels, t, h, w), device=device)
        return ChunkConditioning(positive, negative, latent, None, concat[:, :, :1].to(device))

    # Wan22ImageToVideoLatent / LTXVImgToVideo (strength 1): the guide latent sits in place at latent frame 0 and the
    # noise mask keeps it; the other frames are denoised from noise.
    encoded = vae.encode(guide).to(device)  # [1, C, 1, h, w]
    latent = torch.zeros((1, family.latent_channels, t, h, w), device=device)
    if family.key == "wan22_ti2v":
        # Empty frames hold the raw-space value of a zero model-space latent, as Wan22ImageToVideoLatent does.
        latent = model.get_model_object("latent_format").process_out(latent)
        mask = torch.ones((1, 1, t, h, w), device=device)
    else:
        mask = torch.ones((1, 1, t, 1, 1), device=device)
    latent[:, :, :1] = encoded
    mask[:, :, :1] = 0.0
    return ChunkConditioning(positive, negative, latent, mask, encoded)
