"""Import the ComfyUI host in-process, on CPU: the one place that puts the host on ``sys.path``.

ComfyUI is not an installed package: its modules (``comfy``, ``nodes``, ``folder_paths``, ...) import from its
folder. ``prepare_host`` puts that folder first on ``sys.path`` (ahead of anything that could shadow ``nodes``) and sets
``--cpu`` before ``comfy.model_management`` is imported, which is where ComfyUI picks its device.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..ci.find_host import find_host


def prepare_host(host: Path, cpu: bool = True) -> None:
    """Put ``host`` first on ``sys.path`` and set ``--cpu`` (cheap: no torch import)."""
    if str(host) in sys.path:
        sys.path.remove(str(host))
    sys.path.insert(0, str(host))
    import comfy.cli_args

    comfy.cli_args.args.cpu = cpu


def boot_host(cpu: bool = True) -> Path:
    """Find the host (``tools/ci/find_host.py``), prepare it and import ``comfy.model_management``; exit if none."""
    host, why = find_host()
    if host is None:
        sys.exit(why)
    prepare_host(host, cpu=cpu)
    import comfy.model_management  # noqa: F401  (device set-up happens here, with --cpu already set)

    return host
