"""Test-only ComfyUI node pack loaded beside infinite-video by the server fixtures and ``.ci/example``.

Never shipped with the pack's nodes. ``IVTest_RandomConditioning`` makes CONDITIONING from a seeded randn, for the
tiny Wan / LTXV / Cosmos models that have no text encoder here (``tools/testing/tiny_models.py``).
``IVTest_RandomVAE`` and ``IVTest_TinyClipVision`` stand in for VAELoader and CLIPVisionLoader where a workflow needs
them (the K-Step templates): random-weight real ComfyUI classes from ``tools/testing/tiny_vaes.py``.
"""

import importlib.util
from pathlib import Path

# The folder is symlinked into a temporary custom_nodes folder: resolve to find tiny_models.py beside it.
_spec = importlib.util.spec_from_file_location(
    "iv_test_tiny_models", Path(__file__).resolve().parent.parent / "tiny_models.py")
tiny_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_models)
_spec = importlib.util.spec_from_file_location(
    "iv_test_tiny_vaes", Path(__file__).resolve().parent.parent / "tiny_vaes.py")
tiny_vaes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_vaes)
_CACHE: dict = {}


class IVTestRandomConditioning:
    """CONDITIONING ``[[randn(1, tokens, dim), {}]]`` from a seed (Wan / LTXV: dim 4096, Cosmos Predict2: 1024)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFF, "tooltip": "Seed of the randn."}),
                "tokens": ("INT", {"default": 8, "min": 1, "max": 512, "tooltip": "Sequence length."}),
                "dim": ("INT", {"default": 4096, "min": 1, "max": 8192,
                                "tooltip": "Context width: 4096 for Wan and LTXV, 1024 for Cosmos Predict2."}),
            },
            "optional": {
                "attention_mask": ("BOOLEAN", {"default": False,
                                               "tooltip": "Add an all-ones token mask (LTXV needs one)."}),
            },
        }

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"
    CATEGORY = "infinite-video/testing"
    DESCRIPTION = "Test only: random conditioning without a text encoder."

    def make(self, seed, tokens, dim, attention_mask=False):
        return (tiny_models.tiny_conditioning(seed, tokens=tokens, dim=dim, attention_mask=attention_mask),)


class _Wan22VAE(tiny_vaes.SmallWan22VAE):
    """The narrow Wan 2.2 VAE with the network where the Video Sink looks for it (``first_stage_model``)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.first_stage_model = self.net


class IVTestRandomVAE:
    """A random-weight VAE of a Wan family: wan21 = the full-size Wan 2.1 VAE (``comfy.sd.VAE``, written once to a
    temporary file and loaded as VAELoader does), wan22 = the narrow Wan 2.2 stand-in (``SmallWan22VAE``)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"family": (["wan21", "wan22"], {"tooltip": "Which VAE layout."}),
                             "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFF, "tooltip": "Weight seed."})}}

    RETURN_TYPES = ("VAE",)
    FUNCTION = "make"
    CATEGORY = "infinite-video/testing"
    DESCRIPTION = "Test only: a random-weight video VAE."

    def make(self, family, seed):
        key = ("vae", family, seed)
        if key not in _CACHE:
            if family == "wan21":
                import tempfile

                path = Path(tempfile.mkdtemp(prefix="iv-test-vae-")) / "wan21_vae.safetensors"
                _CACHE[key] = tiny_vaes.load_vae(tiny_vaes.write_random_wan21_vae(path, seed))
            else:
                _CACHE[key] = _Wan22VAE(seed)
        return (_CACHE[key],)


class IVTestTinyClipVision:
    """A real ``comfy.clip_vision.ClipVisionModel`` at toy size (2 layers, 32x32 input), random weights."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"hidden": ("INT", {"default": 1280, "min": 32, "max": 4096, "step": 32,
                                                "tooltip": "Embedding width (CLIP vision H: 1280)."}),
                             "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFF, "tooltip": "Weight seed."})}}

    RETURN_TYPES = ("CLIP_VISION",)
    FUNCTION = "make"
    CATEGORY = "infinite-video/testing"
    DESCRIPTION = "Test only: a toy CLIP vision model."

    def make(self, hidden, seed):
        import json
        import tempfile

        import comfy.clip_vision
        import torch

        config = {"hidden_size": hidden, "image_size": 32, "intermediate_size": 64,
                  "num_attention_heads": hidden // 32, "num_hidden_layers": 2, "patch_size": 16,
                  "projection_dim": 16, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_channels": 3,
                  "model_type": "clip_vision_model"}
        path = Path(tempfile.mkdtemp(prefix="iv-test-clip-")) / "clip_vision.json"
        path.write_text(json.dumps(config))
        clip = comfy.clip_vision.ClipVisionModel(str(path))
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for _, param in sorted(clip.model.named_parameters()):
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
        return (clip,)


NODE_CLASS_MAPPINGS = {"IVTest_RandomConditioning": IVTestRandomConditioning, "IVTest_RandomVAE": IVTestRandomVAE,
                       "IVTest_TinyClipVision": IVTestTinyClipVision}
NODE_DISPLAY_NAME_MAPPINGS = {"IVTest_RandomConditioning": "Random Conditioning (infinite-video tests)",
                              "IVTest_RandomVAE": "Random VAE (infinite-video tests)",
                              "IVTest_TinyClipVision": "Tiny CLIP Vision (infinite-video tests)"}
