"""Shared test set-up.

The pack is imported under the fixed package name ``infinite_video`` whatever its folder is called, because its
sub-packages (``nodes``, ``samplers``) would otherwise clash with ComfyUI's own top-level ``nodes`` module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]


def _load_pack() -> None:
    if "infinite_video" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "infinite_video", PACK_ROOT / "__init__.py", submodule_search_locations=[str(PACK_ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["infinite_video"] = module
    spec.loader.exec_module(module)


_load_pack()
