"""Test-only ComfyUI node pack loaded beside infinite-video by the server fixtures and ``.ci/example``.

Never shipped with the pack's nodes. ``IVTest_RandomConditioning`` makes CONDITIONING from a seeded randn, for the
tiny Wan / LTXV / Cosmos models that have no text encoder here (``tools/testing/tiny_models.py``).
"""

import importlib.util
from pathlib import Path

# The folder is symlinked into a temporary custom_nodes folder: resolve to find tiny_models.py beside it.
_spec = importlib.util.spec_from_file_location(
    "iv_test_tiny_models", Path(__file__).resolve().parent.parent / "tiny_models.py")
tiny_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_models)


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


NODE_CLASS_MAPPINGS = {"IVTest_RandomConditioning": IVTestRandomConditioning}
NODE_DISPLAY_NAME_MAPPINGS = {"IVTest_RandomConditioning": "Random Conditioning (infinite-video tests)"}
