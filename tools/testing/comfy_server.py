"""Drive a real headless ComfyUI server: start / stop, post API workflows, wait for results, read saved latents.

Used by the pytest fixtures (``tests/conftest.py``) and by ``tools/ci/run_example.py`` (``bash .ci/example``).
Only the standard library at module level; ``read_latent`` imports safetensors when called.

    with start_server(host, custom_nodes={"infinite-video": PACK_ROOT, "iv_test_nodes": TEST_NODES},
                      model_folders={"diffusion_models": [models_dir]}) as server:
        entry = server.run(prompt)                 # POST /prompt, wait for /history, raise on any error
        latent = read_latent(server.saved_files(entry, "latents")[0])

The server runs with ``--cpu``, a temporary ``--base-directory`` (so the host's own ``custom_nodes/`` and ``models/``
are not used), temporary user / temp / input directories, ``--database-url sqlite:///:memory:`` and an
``extra_model_paths.yaml`` whose ``custom_nodes:`` entry is a temporary folder of symlinks to the packs to load.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence

from ..pack import PACK_ROOT

TEST_NODES_DIR = Path(__file__).resolve().parent / "iv_test_nodes"
PACK_FOLDER_NAME = "infinite-video"

# Log lines ComfyUI writes when a custom node pack fails to load (nodes.py, load_custom_node / init_external_...).
_PACK_FAILURE_PATTERNS = ("IMPORT FAILED", "Cannot import", "Error while calling comfy_entrypoint",
                          "comfy_entrypoint in", "module for custom nodes due to the lack of")


class ServerError(RuntimeError):
    """The server did not start, rejected a prompt, or a prompt failed; the message carries the details."""


class PromptRejected(ServerError):
    """``POST /prompt`` answered 400 (validation failed). ``body`` is the JSON answer (``error``, ``node_errors``)."""

    def __init__(self, body: dict):
        self.body = body
        super().__init__("prompt rejected: " + json.dumps(body, indent=1)[:4000])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pack_import_errors(log: str, pack_dirs: Sequence[Path | str]) -> list[str]:
    """Log lines saying that one of ``pack_dirs`` (paths as the server saw them) failed to load."""
    names = [str(p) for p in pack_dirs]
    return [line for line in log.splitlines()
            if any(p in line for p in _PACK_FAILURE_PATTERNS) and any(n in line for n in names)]


def read_latent(path: Path | str):
    """The ``[B, C, F, H, W]`` tensor of a ``.latent`` file written by ``SaveLatent`` (key ``latent_tensor``)."""
    import safetensors.torch

    return safetensors.torch.load_file(str(path))["latent_tensor"]


class ComfyServer:
    """A running server (see ``start_server``). ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, process: subprocess.Popen, url: str, root: Path, output_dir: Path, log_path: Path,
                 pack_links: Mapping[str, Path]):
        self.process = process
        self.url = url
        self.root = root
        self.output_dir = output_dir
        self.log_path = log_path
        self.pack_links = dict(pack_links)
        self.client_id = uuid.uuid4().hex

    # -- HTTP -------------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Optional[dict] = None, timeout: float = 60.0) -> tuple[int, dict]:
        """``(status, json)`` of one request; HTTP error statuses are returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return status, {"raw": raw.decode(errors="replace")}

    def get(self, path: str) -> dict:
        status, body = self.request("GET", path)
        if status != 200:
            raise ServerError(f"GET {path} -> {status}: {body}")
        return body

    def object_info(self, node_class: Optional[str] = None) -> dict:
        """``GET /object_info`` (every node) or the entry of one class (``{}`` when it is not registered)."""
        if node_class is None:
            return self.get("/object_info")
        return self.get(f"/object_info/{node_class}").get(node_class, {})

    def post_prompt(self, prompt: dict, **extra) -> dict:
        """``POST /prompt``; returns ``{"prompt_id", "number", "node_errors"}`` or raises ``PromptRejected``."""
        status, body = self.post_prompt_raw(prompt, **extra)
        if status != 200:
            raise PromptRejected(body)
        return body

    def post_prompt_raw(self, prompt: dict, **extra) -> tuple[int, dict]:
        """``POST /prompt`` returning ``(status, json)`` as is (400 answers carry ``error`` and ``node_errors``)."""
        return self.request("POST", "/prompt", {"prompt": prompt, "client_id": self.client_id, **extra})

    def wait_history(self, prompt_id: str, timeout: float = 600.0, poll: float = 0.2) -> dict:
        """The ``/history`` entry of ``prompt_id`` once it completed or failed (``status.status_str``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            if entry is not None:
                status = entry.get("status", {})
                if status.get("completed") or status.get("status_str") == "error":
                    return entry
            if self.process.poll() is not None:
                raise ServerError(f"server exited ({self.process.returncode}) while running {prompt_id}\n"
                                  + self.log_tail())
            time.sleep(poll)
        raise ServerError(f"prompt {prompt_id} did not finish within {timeout:.0f} s\n" + self.log_tail())

    def run(self, prompt: dict, timeout: float = 600.0) -> dict:
        """Post ``prompt``, wait for it, and return its history entry; raise with the execution error on failure."""
        prompt_id = self.post_prompt(prompt)["prompt_id"]
        entry = self.wait_history(prompt_id, timeout=timeout)
        if entry["status"].get("status_str") != "success":
            errors = [data for event, data in entry["status"].get("messages", []) if event == "execution_error"]
            detail = "\n".join(f"node {e.get('node_id')} ({e.get('node_type')}): {e.get('exception_type')}: "
                               f"{e.get('exception_message')}\n{''.join(e.get('traceback', []))}" for e in errors)
            raise ServerError(f"prompt {prompt_id} failed:\n{detail or entry['status']}")
        return entry

    # -- results ----------------------------------------------------------------------------------------------
    def saved_files(self, entry: dict, kind: str = "latents", node_id: Optional[str] = None) -> list[Path]:
        """Files listed under ``outputs[node][kind]`` of a history entry (``latents``, ``images``, ``gifs``...)."""
        # ComfyUI puts its temp folder inside --temp-directory (main.py: <dir>/temp)
        bases = {"output": self.output_dir, "temp": self.root / "temp" / "temp", "input": self.root / "input"}
        files = []
        for nid, ui in entry.get("outputs", {}).items():
            if node_id is not None and nid != str(node_id):
                continue
            for item in ui.get(kind, []):
                files.append(bases[item.get("type", "output")] / item.get("subfolder", "") / item["filename"])
        return files

    # -- log --------------------------------------------------------------------------------------------------
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 80) -> str:
        return "---- ComfyUI log (tail) ----\n" + "\n".join(self.log().splitlines()[-lines:])

    def pack_import_errors(self) -> list[str]:
        return pack_import_errors(self.log(), list(self.pack_links.values()))

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _yaml(custom_nodes_dir: Path, model_folders: Mapping[str, Sequence[Path | str]]) -> str:
    # JSON strings are valid YAML scalars, which keeps odd characters in paths safe.
    lines = ["infinite_video_tests:", f"  custom_nodes: {json.dumps(str(custom_nodes_dir))}"]
    for folder, paths in model_folders.items():
        joined = "\n".join(str(Path(p).resolve()) for p in paths)
        lines.append(f"  {folder}: {json.dumps(joined)}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def start_server(host_dir: Path | str, *, custom_nodes: Optional[Mapping[str, Path | str]] = None,
                 model_folders: Optional[Mapping[str, Sequence[Path | str]]] = None,
                 output_dir: Optional[Path | str] = None, python: Optional[str] = None,
                 extra_args: Sequence[str] = (), startup_timeout: float = 300.0,
                 check_packs: bool = True, keep_root: bool = False,
                 frontend: bool | Path | str = False) -> Iterator[ComfyServer]:
    """Start ``python <host>/main.py`` headless on a free 127.0.0.1 port; stop it and clean up on exit.

    ``custom_nodes``: folder name -> pack directory, symlinked into the temporary ``custom_nodes:`` folder (default:
    this pack as ``infinite-video`` plus the test node pack). ``model_folders``: ComfyUI folder name (e.g.
    ``"diffusion_models"``) -> directories to search. ``output_dir`` defaults to a temporary folder. With
    ``check_packs`` a pack that logs an import failure, or whose nodes never appear, fails the start with the log.
    ``frontend``: ``True`` serves the host's installed (pinned) ComfyUI frontend, a folder serves that web root
    (``--front-end-root``, e.g. a newer frontend from ``tools/ci/frontends.py``), both for browser tests; by default
    an empty web root.
    """
    host_dir = Path(host_dir).resolve()
    if custom_nodes is None:
        custom_nodes = {PACK_FOLDER_NAME: PACK_ROOT, TEST_NODES_DIR.name: TEST_NODES_DIR}
    root = Path(tempfile.mkdtemp(prefix="iv-comfy-"))
    process = None
    server = None
    try:
        nodes_dir = root / "custom_nodes_src"
        nodes_dir.mkdir()
        links = {}
        for name, target in custom_nodes.items():
            link = nodes_dir / name
            link.symlink_to(Path(target).resolve(), target_is_directory=True)
            links[name] = link
        for sub in ("base/custom_nodes", "user", "temp", "input", "frontend"):
            (root / sub).mkdir(parents=True)
        out = Path(output_dir).resolve() if output_dir is not None else root / "output"
        out.mkdir(parents=True, exist_ok=True)
        yaml_path = root / "extra_model_paths.yaml"
        yaml_path.write_text(_yaml(nodes_dir, model_folders or {}))

        port = free_port()
        cmd = [python or sys.executable, str(host_dir / "main.py"), "--cpu", "--listen", "127.0.0.1",
               "--port", str(port), "--disable-auto-launch", "--dont-print-server", "--disable-api-nodes",
               "--base-directory", str(root / "base"), "--user-directory", str(root / "user"),
               "--temp-directory", str(root / "temp"), "--input-directory", str(root / "input"),
               "--output-directory", str(out),
               *_frontend_args(frontend, root / "frontend"),
               "--database-url", "sqlite:///:memory:", "--extra-model-paths-config", str(yaml_path), *extra_args]
        log_path = root / "server.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(cmd, cwd=str(host_dir), stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env)
        server = ComfyServer(process, f"http://127.0.0.1:{port}", root, out, log_path, links)
        _wait_ready(server, startup_timeout)
        if check_packs:
            errors = server.pack_import_errors()
            if errors:
                raise ServerError("custom node pack failed to import:\n" + "\n".join(errors) + "\n"
                                  + server.log_tail(200))
        yield server
    finally:
        if server is not None:
            server.stop()
        elif process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if not keep_root:
            shutil.rmtree(root, ignore_errors=True)


def _frontend_args(frontend: bool | Path | str, empty: Path) -> tuple[str, ...]:
    if frontend is True:
        return ()
    return "--front-end-root", str(Path(frontend).resolve() if frontend else empty)


def _wait_ready(server: ComfyServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"ComfyUI exited with {server.process.returncode} during start-up\n"
                              + server.log_tail(200))
        try:
            status, _ = server.request("GET", "/system_stats", timeout=5)
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            pass
        time.sleep(0.25)
    raise ServerError(f"ComfyUI did not answer within {timeout:.0f} s\n" + server.log_tail(200))


def missing_nodes(server: ComfyServer, prompt: dict) -> list[str]:
    """Node classes a prompt uses that the server did not register (a pack that silently failed to load)."""
    known = set(server.object_info())
    return sorted({node["class_type"] for node in prompt.values()} - known)


def load_api_workflow(path: Path | str) -> dict:
    """An API-format workflow (``{"<id>": {"class_type", "inputs"}}``) from JSON; rejects the UI format."""
    data = json.loads(Path(path).read_text())
    if "nodes" in data and "links" in data:
        raise ValueError(f"{path} is a UI-format workflow; the server runs API format only "
                         "(docs/comfyui-host.md, Headless API)")
    return data
