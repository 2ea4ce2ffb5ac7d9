"""Import this pack as the package ``infinite_video``, whatever its folder is called (standard library only).

The pack's folder is usually not a Python identifier (``custom_nodes/infinite-video``), and its sub-packages
``nodes`` and ``samplers`` must not shadow ComfyUI's top-level ``nodes`` module, so the pack is never imported
through ``sys.path``: it is loaded from its ``__init__.py`` under one fixed name. The test suite (``tests/conftest.py``)
and the scripts in ``tools/`` (through ``tools/__init__.py``) both call ``load_pack``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACK_NAME = "infinite_video"
PACK_ROOT = Path(__file__).resolve().parents[1]


def load_pack() -> ModuleType:
    """``sys.modules["infinite_video"]``, loaded from ``PACK_ROOT/__init__.py`` on first call (cheap: no torch)."""
    if PACK_NAME in sys.modules:
        return sys.modules[PACK_NAME]
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, PACK_ROOT / "__init__.py", submodule_search_locations=[str(PACK_ROOT)])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module
