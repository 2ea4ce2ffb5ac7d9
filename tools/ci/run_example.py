"""The main job behind ``bash .ci/example``: run an API workflow on a real headless ComfyUI server, print the result.

    python -m tools.ci.run_example --host ~/comfy/ComfyUI --output ./output [--workflow FILE] [--timeout S]

Starts the server (``comfy_server.start_server``) with this pack and the test node pack. Its ``diffusion_models``
folders are the pack's trained tiny Wan 2.1 (``models/shapes_wan21/shapes_wan21.safetensors``, committed; the
default workflow ``shapes_long_video.json`` runs FIFO + Self-Reflection + Long-Range Guidance on it and saves
an mp4) and a temporary folder holding the tiny
random-weight Wan 2.1 of ``tiny_models.py`` (seed 0) as ``tiny_wan21.safetensors`` (for ``fifo_tiny_wan.json``).
It posts the workflow, waits for it and prints every file it saved. Fails loudly
(non-zero exit, with the server log) when a node class is not registered, the prompt is rejected, or it fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from ..testing import comfy_server, tiny_models
from ..testing.host import prepare_host
from . import find_host

DEFAULT_WORKFLOW = comfy_server.PACK_ROOT / "example_workflows" / "api" / "shapes_long_video.json"
SHAPES_MODEL_DIR = comfy_server.PACK_ROOT / "models" / "shapes_wan21"
DEFAULT_MODEL_SEED = 0


def write_default_model(host: Path, folder: Path) -> Path:
    """The tiny Wan 2.1 (fixed seed) under its ``UNETLoader`` file name; imports ComfyUI's model code on CPU."""
    prepare_host(host)
    return tiny_models.write_tiny_wan21(folder / tiny_models.FILE_NAMES["wan21"], seed=DEFAULT_MODEL_SEED)


def video_summary(path: Path) -> str:
    """Frames, size and duration of a saved video, read back with PyAV (what ComfyUI's SaveVideo writes with)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        seconds = float(frames / stream.average_rate) if stream.average_rate else 0.0
        fps = float(stream.average_rate or 0)
        return f"{frames} frames {stream.width}x{stream.height}, {seconds:.1f} s at {fps:g} fps"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", type=Path, default=None, help="ComfyUI folder (default: find_host.py's rule)")
    parser.add_argument("--output", type=Path, default=comfy_server.PACK_ROOT / "output",
                        help="--output-directory of the server (default: ./output of the repo)")
    parser.add_argument("--workflow", type=Path, default=DEFAULT_WORKFLOW, help="API-format workflow JSON")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the prompt")
    args = parser.parse_args(argv)

    host = args.host
    if host is None:
        host, why = find_host.find_host()
        if host is None:
            print(f"[example] FAILED: the example runs a real ComfyUI server. {why}", file=sys.stderr)
            return 1
    host = host.resolve()
    output = args.output.resolve()
    prompt = comfy_server.load_api_workflow(args.workflow)

    with tempfile.TemporaryDirectory(prefix="iv-example-models-") as models:
        model_dir = Path(models) / "diffusion_models"
        write_default_model(host, model_dir)
        print(f"[example] ComfyUI {find_host.host_version(host)} at {host}; workflow {args.workflow}", flush=True)
        try:
            with comfy_server.start_server(host, model_folders={"diffusion_models": [SHAPES_MODEL_DIR, model_dir]},
                                           output_dir=output) as server:
                missing = comfy_server.missing_nodes(server, prompt)
                if missing:
                    raise comfy_server.ServerError(
                        f"node classes not registered by the server: {', '.join(missing)}\n" + server.log_tail(200))
                start = time.monotonic()
                entry = server.run(prompt, timeout=args.timeout)
                seconds = time.monotonic() - start
                saved = [p for kind in ("latents", "images", "gifs", "videos", "audio")
                         for p in server.saved_files(entry, kind)]
        except comfy_server.ServerError as e:
            print(f"[example] FAILED: {e}", file=sys.stderr)
            return 1

    print(f"[example] done in {seconds:.1f} s; output folder {output}")
    for path in saved:
        detail = ""
        if path.suffix == ".latent":
            detail = f"  latent {list(comfy_server.read_latent(path).shape)} [B, C, F, H, W]"
        elif path.suffix == ".mp4":
            detail = f"  video, {video_summary(path)}"
        print(f"[example] wrote {path}{detail}")
    if not saved:
        print("[example] FAILED: the workflow finished but saved no file", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
