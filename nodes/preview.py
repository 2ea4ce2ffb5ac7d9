"""Empty Conditioning and Latent Preview Decode: run and watch a video model without a text encoder or a VAE.

Both exist for the pack's own tiny trained model (``models/shapes_wan21``, trained unconditionally and on
latents the preview factors decode exactly), and are handy with real models too: an unconditional run, or a
quick look at a long latent video without decoding thousands of frames through the VAE.
"""

from __future__ import annotations

import torch
from comfy_api.latest import io

from .types import CATEGORY
from .validation import require_inputs


class EmptyConditioning(io.ComfyNode):
    """All-zero text conditioning ``[1, tokens, width]``: what an unconditionally trained model was trained on."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_EmptyConditioning",
            display_name="Empty Conditioning",
            category=CATEGORY,
            description="A conditioning of zeros, for models trained without text (the pack's shapes model) or for "
                        "unconditional runs without loading a text encoder.",
            inputs=[
                io.Int.Input("width", default=4096, min=1, max=16384,
                             tooltip="Width of the text embedding the model expects: 4096 for Wan and LTX-Video "
                                     "(umT5 / T5-XXL), 1024 for Cosmos Predict2."),
                io.Int.Input("tokens", default=1, min=1, max=1024,
                             tooltip="Number of (zero) tokens. 1 is what the shapes model was trained on."),
            ],
            outputs=[io.Conditioning.Output(tooltip="Zeros [1, tokens, width]; use it as positive and negative "
                                                    "with cfg 1.")],
        )

    @classmethod
    def execute(cls, width: int, tokens: int) -> io.NodeOutput:
        require_inputs(cls, width=width, tokens=tokens)  # linked values skip validation
        return io.NodeOutput([[torch.zeros(1, int(tokens), int(width)), {}]])


def latent_to_rgb(latent: torch.Tensor, factors, bias) -> torch.Tensor:
    """``latent[B, C, F, H, W]`` (sampling space) -> RGB ``[B*F, H, W, 3]`` in [0, 1] with the preview's linear map.

    Same map as ComfyUI's ``Latent2RGBPreviewer``: ``rgb = latent @ factors + bias``, in [-1, 1], then to [0, 1].
    """
    f = torch.tensor(factors, dtype=torch.float32)
    b = torch.tensor(bias, dtype=torch.float32) if bias is not None else torch.zeros(f.shape[1])
    rgb = latent.float().permute(0, 2, 3, 4, 1) @ f + b
    return ((rgb.clamp(-1, 1) + 1) / 2).flatten(0, 1)


class LatentPreviewDecode(io.ComfyNode):
    """Decode a latent video with the model's latent-to-RGB preview factors (one image per latent frame)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_LatentPreviewDecode",
            display_name="Latent Preview Decode",
            category=CATEGORY,
            description="Turns a video LATENT into images with the same linear latent-to-RGB map ComfyUI uses for "
                        "sampling previews: instant and memory-light, low fidelity for real models (use VAE Decode "
                        "for the final video), exact for the pack's shapes model.",
            inputs=[
                io.Model.Input("model", tooltip="The model that made the latent; its latent format gives the "
                                                "latent-to-RGB factors."),
                io.Latent.Input("samples", tooltip="Video latent [B, C, F, H, W] as the sampler returns it."),
                io.Int.Input("upscale", default=8, min=1, max=64,
                             tooltip="Nearest-neighbour enlargement of each latent pixel (8 = the Wan VAE's "
                                     "spatial factor). One image per latent frame: no temporal upsampling."),
            ],
            outputs=[io.Image.Output(tooltip="Frames [B*F, H*upscale, W*upscale, 3] in [0, 1].")],
        )

    @classmethod
    def execute(cls, model, samples, upscale: int) -> io.NodeOutput:
        require_inputs(cls, model=model, samples=samples, upscale=upscale)
        fmt = model.get_model_object("latent_format")
        factors = getattr(fmt, "latent_rgb_factors", None)
        x = samples["samples"]
        if factors is None:
            raise ValueError(f"Latent Preview Decode: the model's latent format ({type(fmt).__name__}) has no "
                             "latent-to-RGB preview factors; use VAE Decode for this model.")
        if x.ndim != 5 or x.shape[1] != len(factors):
            raise ValueError(f"Latent Preview Decode: samples have shape {list(x.shape)}, but the model's latent "
                             f"format ({type(fmt).__name__}) expects a video latent [B, {len(factors)}, F, H, W]; "
                             "connect the LATENT this model sampled.")
        rgb = latent_to_rgb(fmt.process_in(x.float()), factors, getattr(fmt, "latent_rgb_factors_bias", None))
        if upscale > 1:
            rgb = rgb.repeat_interleave(upscale, dim=1).repeat_interleave(upscale, dim=2)
        return io.NodeOutput(rgb)


NODES = [EmptyConditioning, LatentPreviewDecode]
