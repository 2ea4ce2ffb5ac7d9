"""Makes the pack's own trained shapes model loadable right after install.

The starter workflow (``example_workflows/1 Start here, a long video on the CPU with nothing to download.json``) loads
``shapes_wan21.safetensors`` with ComfyUI's ``UNETLoader``. Instead of asking users to copy it into
``models/diffusion_models``, the pack adds its folder to the host's ``diffusion_models`` search paths through
``folder_paths.add_model_folder_path`` (the host's API for extra model folders, what ``extra_model_paths.yaml`` uses).
Nothing is copied or written into the user's model folders; the folder holds one model file (the rest is its card
and benchmark pictures, which the host's extension filter skips).
"""

from __future__ import annotations

from pathlib import Path

SHAPES_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "shapes_wan21"
SHAPES_MODEL_FILE = "shapes_wan21.safetensors"


def register_shapes_model() -> bool:
    """Add the shapes model's folder to ``diffusion_models`` (idempotent); False if the file is not there."""
    if not (SHAPES_MODEL_DIR / SHAPES_MODEL_FILE).is_file():
        return False
    import folder_paths  # the host's module: imported only when ComfyUI loads the pack

    folder_paths.add_model_folder_path("diffusion_models", str(SHAPES_MODEL_DIR))
    return True
