"""The pack installed as users install it: in a folder whose name is not a Python identifier.

``git clone ... infinite-video`` (the README's install line) and ``ComfyUI/custom_nodes/infinite-video`` are the usual
places. The repo root is a package (``__init__.py``), so a pytest that put the root on ``sys.path`` or imported it by
its folder name would let the pack's ``nodes/`` shadow ComfyUI's ``nodes.py``, or fail outright on the ``-`` in the
name. Each test copies the checkout (tracked and untracked-but-not-ignored files) into such a folder and runs a slice of
the suite there in a fresh interpreter: pure tests, and host tests that import ComfyUI's ``nodes`` in-process next to
the pack's node code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infinite_video.tools.ci.find_host import find_host, is_host
from infinite_video.tools.testing.comfy_server import PACK_ROOT

pytestmark = pytest.mark.host
HOST = find_host()[0]

# A pure test, and host tests that import ComfyUI's nodes.py and the pack's nodes/ into one process.
SLICE = ["tests/test_chain_plan.py", "tests/test_host_smoke.py::test_stock_ksampler_runs_on_tiny_wan",
         "tests/test_adapter_host.py"]


def _copy_checkout(dest: Path) -> None:
    """The files a clone of the current working tree would have (git's view: tracked + untracked, not ignored)."""
    listed = subprocess.run(["git", "-C", str(PACK_ROOT), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = PACK_ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _run_slice(pack: Path, env: dict) -> str:
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *SLICE], cwd=pack, env=env,
                         capture_output=True, text=True, timeout=900)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    assert " passed" in log and "error" not in log.splitlines()[-1], log[-3000:]
    assert "SKIPPED" not in log, log[-3000:]
    return log


def _env(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("COMFYUI_DIR", "PYTEST_ADDOPTS")}
    env["HOME"] = str(home)  # no ~/comfy/ComfyUI: the host must be found by the rule under test
    env.update(extra)
    return env


@pytest.fixture
def host() -> Path:
    if HOST is None or not is_host(HOST):
        pytest.skip("no host")
    return HOST


def test_suite_passes_from_custom_nodes_infinite_video(host, tmp_path):
    """The pack at ``<a ComfyUI>/custom_nodes/infinite-video``, found as the host holding it (no COMFYUI_DIR)."""
    comfy = tmp_path / "ComfyUI"
    comfy.mkdir()
    for entry in host.iterdir():  # a ComfyUI of links to the real one, with a custom_nodes/ of its own
        if entry.name != "custom_nodes":
            (comfy / entry.name).symlink_to(entry)
    pack = comfy / "custom_nodes" / "infinite-video"
    _copy_checkout(pack)
    log = _run_slice(pack, _env(tmp_path / "home"))
    assert f"ComfyUI 0.3.64 at {comfy}\n" in log  # the report header: found through custom_nodes/


def test_suite_passes_from_a_clone_named_infinite_video(host, tmp_path):
    """``git clone ... infinite-video`` outside any ComfyUI, the host given by COMFYUI_DIR."""
    pack = tmp_path / "infinite-video"
    _copy_checkout(pack)
    log = _run_slice(pack, _env(tmp_path / "home", COMFYUI_DIR=str(host)))
    assert f"ComfyUI 0.3.64 at {host}\n" in log
