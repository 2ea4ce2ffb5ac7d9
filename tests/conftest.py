"""Shared test set-up.

The pack is imported under the fixed package name ``infinite_video`` whatever its folder is called
(``tools/pack.py``): its sub-packages ``nodes`` and ``samplers`` would otherwise clash with ComfyUI's own top-level
``nodes`` module, and its folder is usually not a Python identifier (``custom_nodes/infinite-video``). pytest runs in
``importlib`` mode (pyproject.toml) so it never puts the repo root on ``sys.path`` either. Test support is the package
``infinite_video.tools.testing``.

ComfyUI host: discovery is ``tools/ci/find_host.py``, the same rule ``.ci/setup`` runs. When a host is found, its
folder goes on ``sys.path`` and ``--cpu`` is set before anything imports ``comfy.model_management``
(``tools/testing/host.py``), so host tests may import ``comfy`` at module level; without one, every test marked
``host`` (or using a host fixture) is skipped and the run says why in the report header and in one line at the end.
"""

from __future__ import annotations

import runpy
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

PACK_ROOT = Path(__file__).resolve().parents[1]
runpy.run_path(str(PACK_ROOT / "tools" / "pack.py"))["load_pack"]()

from infinite_video.tools.ci import find_host, frontends  # noqa: E402
from infinite_video.tools.testing import tiny_models  # noqa: E402
from infinite_video.tools.testing.comfy_server import ServerError, start_server  # noqa: E402
from infinite_video.tools.testing.host import prepare_host  # noqa: E402

HOST, HOST_REASON = find_host.find_host()
if HOST is not None:
    prepare_host(HOST)


def pytest_report_header(config):
    if HOST is None:
        return f"infinite-video: {HOST_REASON} -> host tests SKIPPED"
    return f"infinite-video: ComfyUI {find_host.host_version(HOST)} at {HOST}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        # fixturenames is the closure: every fixture built on comfy_host (tiny_*, comfy_server, ...) counts.
        if "comfy_host" in getattr(item, "fixturenames", ()) and "host" not in item.keywords:
            item.add_marker(pytest.mark.host)
    if HOST is None:
        skip = pytest.mark.skip(reason=HOST_REASON)
        for item in items:
            if "host" in item.keywords:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if HOST is None:
        skipped = sum(1 for r in terminalreporter.stats.get("skipped", []) if HOST_REASON in str(r.longrepr))
        terminalreporter.write_line(f"infinite-video: {skipped} host tests SKIPPED: {HOST_REASON}",
                                    yellow=True, bold=True)


@pytest.fixture(scope="session")
def comfy_host() -> Path:
    """The ComfyUI folder, imported in-process on CPU (``comfy.model_management``, ``nodes`` importable)."""
    if HOST is None:
        pytest.skip(HOST_REASON)
    import comfy.model_management  # noqa: F401  (device set-up happens here, with --cpu already set)

    import nodes  # noqa: F401  (ComfyUI's nodes.py: KSampler, common_ksampler, ...)

    return HOST


@pytest.fixture()
def output_dir(comfy_host, tmp_path):
    """ComfyUI's output folder pointed at this test's ``tmp_path`` (what the Video Sink writes into)."""
    import folder_paths

    before = folder_paths.get_output_directory()
    folder_paths.set_output_directory(str(tmp_path))
    yield tmp_path
    folder_paths.set_output_directory(before)


@pytest.fixture(scope="session")
def tiny_model_files(comfy_host) -> Iterator[Path]:
    """Folder with every tiny model, named as in ``tiny_models.FILE_NAMES`` (seed 0).

    A private temp folder rather than ``tmp_path_factory``: pytest prunes old ``pytest-of-<user>`` folders when a
    session starts, which could pull the files from under a server of another session running at the same time.
    """
    folder = Path(tempfile.mkdtemp(prefix="iv-tiny-models-"))
    try:
        tiny_models.write_all(folder, seed=0)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load(folder: Path, family: str):
    return tiny_models.load_tiny(folder / tiny_models.FILE_NAMES[family])


# Loaded ModelPatchers shared by the session: ``.clone()`` before patching model options.
@pytest.fixture(scope="session")
def tiny_wan(tiny_model_files):
    """Tiny Wan 2.1 T2V (``WAN21``; latent ``[B, 16, F, H, W]``, context 4096)."""
    return _load(tiny_model_files, "wan21")


@pytest.fixture(scope="session")
def tiny_wan_i2v36(tiny_model_files):
    """Tiny Wan 2.1 with ``in_dim=36`` (``WAN21``; A14B-I2V concat layout: 16 + 4 mask + 16 image channels)."""
    return _load(tiny_model_files, "wan21_i2v36")


@pytest.fixture(scope="session")
def tiny_wan22(tiny_model_files):
    """Tiny Wan 2.2-5B layout (``WAN22``; latent ``[B, 48, F, H, W]``, context 4096)."""
    return _load(tiny_model_files, "wan22")


@pytest.fixture(scope="session")
def tiny_ltxv(tiny_model_files):
    """Tiny LTX-Video (``LTXV``; latent ``[B, 128, F, H, W]``; conds need ``attention_mask``)."""
    return _load(tiny_model_files, "ltxv")


@pytest.fixture(scope="session")
def tiny_cosmos(tiny_model_files):
    """Tiny Cosmos Predict2 (``CosmosPredict2``; latent ``[B, 16, F, H, W]``, context 1024)."""
    return _load(tiny_model_files, "cosmos_predict2")


def _pinned_frontend() -> str:
    from importlib import metadata

    try:
        return metadata.version("comfyui-frontend-package")
    except metadata.PackageNotFoundError:
        return "pinned"


# The frontends the browser tests run against: the host's installed, pinned one (True: start_server's default web
# root) and the current ones .ci/setup fetched from PyPI (tools/ci/frontends.py), served with --front-end-root.
FRONTENDS = [pytest.param(True, id=f"frontend-{_pinned_frontend()}"),
             *(pytest.param(v, id=f"frontend-{v}") for v in frontends.CURRENT)]


@pytest.fixture(scope="module", params=FRONTENDS)
def frontend(request) -> tuple[str, bool | Path]:
    """``(version, web root)`` of one frontend for ``start_server(frontend=...)``; browser tests using it run once per
    frontend. A current frontend that ``.ci/setup`` has not fetched skips them with the reason."""
    if request.param is True:
        return _pinned_frontend(), True
    static = frontends.static_dir(request.param)
    if static is None:
        pytest.skip(f"comfyui-frontend-package {request.param} not fetched: run `bash .ci/setup` (or python3 "
                    "tools/ci/frontends.py --fetch) with network access")
    return request.param, static


@pytest.fixture(scope="session")
def tiny_wan_vace(tiny_model_files):
    """Tiny Wan 2.1 VACE (``WAN21_Vace``; latent ``[B, 16, F, H, W]``, context 4096, ``vace_context`` 96 channels)."""
    path = tiny_model_files / "tiny_wan21_vace.safetensors"
    return tiny_models.load_tiny(path if path.is_file() else tiny_models.write_tiny_wan21_vace(path))


@pytest.fixture(scope="session")
def comfy_server(comfy_host, tiny_model_files):
    """ONE real headless ComfyUI server for the session (``comfy_server.ComfyServer``).

    Loads this pack (as ``infinite-video``) and ``tools/testing/iv_test_nodes``; the tiny models are in
    ``diffusion_models``. The committed shapes model (``models/shapes_wan21``) is there because the pack
    registers its folder (``nodes/model_paths.py``), as for a user. Start-up fails, with the server log, if either
    pack logs an import failure or registers no nodes.
    """
    with start_server(comfy_host, model_folders={"diffusion_models": [tiny_model_files]}) as server:
        registered = server.object_info()
        ours = sorted(k for k in registered if k.startswith("InfiniteVideo_"))
        if not ours or "IVTest_RandomConditioning" not in registered:
            raise ServerError(
                f"packs loaded but nodes missing (InfiniteVideo_*: {ours}; IVTest_RandomConditioning: "
                f"{'IVTest_RandomConditioning' in registered})\n" + server.log_tail(200))
        yield server
