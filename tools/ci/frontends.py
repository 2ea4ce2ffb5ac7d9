"""The ComfyUI frontends the browser tests run against: the host's pinned one and a current release from PyPI.

ComfyUI 0.3.64 pins ``comfyui-frontend-package`` 1.27; users who upgrade the frontend alone (``pip install -U
comfyui-frontend-package``, or the server's ``--front-end-version``) run the same backend with a newer editor, which
draws nodes differently (1.58 adds "Nodes 2.0", Vue-rendered nodes). The browser suite runs against both, serving the
newer one with ``--front-end-root`` so the host's installed (pinned) frontend is never replaced.

``python3 tools/ci/frontends.py --fetch [PYTHON]`` (run by ``.ci/setup``) downloads each wheel in ``CURRENT`` with
``PYTHON -m pip download --no-deps`` and unpacks it into the cache folder; ``static_dir(version)`` is where the
tests find it (``None`` when it was never fetched). Standard library only.

Cache: ``$INFINITE_VIDEO_FRONTENDS``, else ``~/.cache/infinite-video/frontends``; one folder per version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Optional

PACKAGE = "comfyui-frontend-package"
CURRENT = ("1.58.1",)  # newer frontends the browser suite also runs against


def cache_dir() -> Path:
    return Path(os.environ.get("INFINITE_VIDEO_FRONTENDS") or Path.home() / ".cache" / "infinite-video" / "frontends")


def static_dir(version: str) -> Optional[Path]:
    """The web root of frontend ``version`` (for ``--front-end-root``), or None when it has not been fetched."""
    static = cache_dir() / version / "comfyui_frontend_package" / "static"
    return static if (static / "index.html").is_file() else None


def fetch(version: str, python: str = sys.executable) -> Path:
    """Download and unpack ``comfyui-frontend-package==version`` (no-op when cached); returns its web root."""
    have = static_dir(version)
    if have is not None:
        return have
    target = cache_dir() / version
    with tempfile.TemporaryDirectory(prefix="iv-frontend-") as tmp:
        subprocess.run([python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                        "-d", tmp, f"{PACKAGE}=={version}"], check=True, stdout=sys.stderr)
        (wheel,) = Path(tmp).glob("*.whl")
        target.parent.mkdir(parents=True, exist_ok=True)
        unpacked = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(unpacked)
        shutil.rmtree(target, ignore_errors=True)  # an earlier, broken attempt
        unpacked.rename(target)  # whole or not at all: a half-unpacked folder never looks fetched
    found = static_dir(version)
    if found is None:
        raise RuntimeError(f"{PACKAGE} {version} unpacked into {target} has no static/index.html")
    return found


def main(argv: list[str]) -> int:
    if argv[:1] != ["--fetch"]:
        print(__doc__, file=sys.stderr)
        return 2
    python = argv[1] if len(argv) > 1 else sys.executable
    rc = 0
    for version in CURRENT:
        try:
            print(f"{PACKAGE} {version}: {fetch(version, python)}", file=sys.stderr)
        except (subprocess.CalledProcessError, OSError, RuntimeError, ValueError) as e:
            print(f"{PACKAGE} {version}: could not fetch ({e}); the browser tests against it will be skipped",
                  file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
