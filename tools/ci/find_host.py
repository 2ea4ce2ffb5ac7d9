"""Find the ComfyUI host: the one discovery rule shared by ``.ci/setup``, ``tests/conftest.py`` and the tools.

In order:

1. ``$COMFYUI_DIR`` when set (an explicit choice: if it is not a ComfyUI folder, there is no host and the reason says
   so; nothing else is tried);
2. the ComfyUI folder holding this repo when it sits in ``ComfyUI/custom_nodes/<pack>``;
3. ``~/comfy/ComfyUI``.

A ComfyUI folder has ``main.py`` and ``comfy/``. Run as a script it prints the host path (nothing when none is found)
and a one-line report on the next line; ``--how`` prints what to do when there is none. Standard library only:
``.ci/setup`` runs it with the system ``python3`` before the virtualenv exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

PACK_ROOT = Path(os.path.abspath(__file__)).parents[2]
REQUIRED_VERSION = "0.3.64"

HOW_TO_GET_HOST = f"""\
Without the host, the host tests are SKIPPED and `bash .ci/example` cannot run.
To get ComfyUI {REQUIRED_VERSION} where the scripts look for it:
    git clone --depth 1 --branch v{REQUIRED_VERSION} https://github.com/comfyanonymous/ComfyUI ~/comfy/ComfyUI
or point at an existing ComfyUI folder (the one with main.py):
    export COMFYUI_DIR=/path/to/ComfyUI
or put this repo at ComfyUI/custom_nodes/infinite-video. Then run `bash .ci/run` again: .ci/setup installs the
host's requirements into the virtualenv by itself."""


def is_host(path: Path) -> bool:
    return (path / "main.py").is_file() and (path / "comfy").is_dir()


def host_version(path: Path) -> str:
    """``__version__`` from ``comfyui_version.py`` (``"unknown"`` when it has none)."""
    try:
        for line in (path / "comfyui_version.py").read_text().splitlines():
            if line.startswith("__version__"):
                return line.split("=", 1)[1].strip().strip("\"'")
    except OSError:
        pass
    return "unknown"


def find_host(environ: Optional[dict] = None) -> tuple[Optional[Path], str]:
    """``(absolute host path or None, one-line reason)``."""
    env = os.environ if environ is None else environ
    explicit = env.get("COMFYUI_DIR", "")
    if explicit:
        path = Path(os.path.abspath(os.path.expanduser(explicit)))
        if is_host(path):
            return path, f"COMFYUI_DIR={path}"
        return None, (f"ComfyUI host not found: COMFYUI_DIR={explicit} is not a ComfyUI folder (no main.py and comfy/);"
                      f" fix or unset COMFYUI_DIR")
    for root in dict.fromkeys([PACK_ROOT, PACK_ROOT.resolve()]):
        if root.parent.name == "custom_nodes" and is_host(root.parent.parent):
            return root.parent.parent, f"the ComfyUI holding this repo ({root.parent.parent})"
    home = Path(os.path.expanduser(env.get("HOME", "~"))) / "comfy" / "ComfyUI"
    if is_host(home):
        return home, f"{home}"
    return None, (f"ComfyUI host not found: set COMFYUI_DIR, put ComfyUI {REQUIRED_VERSION} at {home}, or put this "
                  f"repo in ComfyUI/custom_nodes/ (see README, Install)")


if __name__ == "__main__":
    if "--how" in sys.argv[1:]:
        print(HOW_TO_GET_HOST)
        sys.exit(0)
    found, why = find_host()
    if found is None:
        print(f"\n{why}")
    else:
        version = host_version(found)
        note = "" if version == REQUIRED_VERSION else f"; the pack targets {REQUIRED_VERSION}"
        print(f"{found}\nComfyUI host: {found} (version {version}{note}; found as {why})")
