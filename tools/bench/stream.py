"""Streaming output (Video Sink) on CPU: memory flat in the video's length, and the cost of decoding and encoding.

    python -m tools.bench.stream            # memory N vs 10N frames (fresh process each), speed with/without
    python -m tools.bench.stream --quick    # smaller
    python -m tools.bench.stream --soak     # 10,000 latent frames of the shapes model against 1,000
    python -m tools.bench.stream --only speed --rounds 3    # one half (memory | speed)

Two set-ups, both through Infinite Video Sampler with a Video Sink, as a user runs them:
- **shapes**: the pack's trained tiny Wan 2.1 (16x16 latents), preview decode (8x upscale, 128x128 video);
- **wan+vae**: the tiny random-weight Wan 2.1 with a random full-size Wan 2.1 VAE (4x4 latents -> 32x32 video),
  decoded frame by frame with the causal cache.
For each, FIFO (2 partitions, no lookahead) and MIGA (zigzag + unified + self-reflection + guidance).

Memory: whole-process peak RSS (Linux VmHWM, reset after the model is loaded and warmed up) of a run of 10N output
latent frames over one of N frames, each in a fresh child process; target <= 1.05. With a GPU, the peak of
``torch.cuda.max_memory_allocated`` too. Without a sink the same ratio is printed for comparison (the output LATENT
and its decode grow with the video). Speed: seconds per output latent frame with the sink over without it, measured
interleaved in one process, with the sink's own decode and encode seconds reported separately. "Without" is what a
graph without a sink does: the sampler's LATENT, decoded whole (VAE Decode, or the preview decode for shapes), then
encoded as one video at the end (Save Video).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..pack import PACK_ROOT
from ..testing import tiny_models
from ..testing.host import boot_host
from .fifo import reset_peak_rss, rss_kib

SETUPS = ("shapes", "wan+vae")
METHODS = ("fifo", "miga")


class _Sessions(logging.Handler):
    """Collects the SinkSession the sampler logs at the end of a run (its decode / encode seconds)."""

    def __init__(self):
        super().__init__()
        self.items = []

    def emit(self, record):
        arg = record.args[0] if isinstance(record.args, tuple) and record.args else None
        if hasattr(arg, "decode_s"):
            self.items.append(arg)


def setup(name: str, folder: Path):
    """``(model, latent window, positive, negative, cfg, sink kwargs)`` of a set-up."""
    import torch

    from ..testing.tiny_vaes import load_vae, write_random_wan21_vae

    if name == "shapes":
        import comfy.sd

        from .consistency import MODEL_PATH, WINDOW

        model = comfy.sd.load_diffusion_model(str(MODEL_PATH))
        zero = [[torch.zeros(1, 1, 4096), {}]]
        return model, torch.zeros(1, 16, WINDOW, 16, 16), zero, zero, 1.0, {"decode": "preview", "vae": None}
    path = folder / tiny_models.FILE_NAMES["wan21"]
    if not path.is_file():
        tiny_models.write_tiny_wan21(path, seed=0)
    vae = load_vae(write_random_wan21_vae(folder / "bench_wan21_vae.safetensors"))
    model = tiny_models.load_tiny(path)
    return (model, torch.zeros(1, 16, 8, 4, 4), tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2),
            5.0, {"decode": "vae", "vae": vae})


def queue(method: str, window: int):
    from infinite_video.samplers.config import QueueConfig

    from .consistency import queue_config

    if window == 9:  # the shapes model: FIFO with 2 partitions (cheap on a CPU), MIGA as the consistency benchmark
        return QueueConfig(9, 2, False, "noise") if method == "fifo" else queue_config("miga")
    from infinite_video.samplers.config import GuidanceConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig

    base = QueueConfig(window, 2, True, "noise")
    if method == "fifo":
        return base
    import dataclasses

    return dataclasses.replace(base, zigzag=ZigzagConfig(16, 2, 12, 0), unified=UnifiedConfig(4, True, 12),
                               reflection=ReflectionConfig(2, 0.01, "pairwise_denoised", 3),
                               guidance=GuidanceConfig(2, "queue", 64))


def run(parts, method: str, frames: int, sink: bool, out_dir: str, seed: int = 0, encode: bool = False):
    """One sampler run; returns (seconds, session or None). Without a sink the whole LATENT is then decoded (the
    set-up's VAE, or the preview decode) and, with ``encode``, saved as one video, as a graph does after the sampler."""
    import folder_paths

    from infinite_video.nodes.sampler import InfiniteVideoSampler
    from infinite_video.nodes.video_sink import VideoSink

    model, window, pos, neg, cfg, sink_kw = parts
    folder_paths.set_output_directory(out_dir)
    spec = None
    if sink:
        spec = VideoSink.execute(filename_prefix="bench/run", fps=16.0, codec="h264 (mp4)", quality=19,
                                 checkpoint_every=0, resume="", **sink_kw).args[0]
    handler = _Sessions()
    logging.getLogger("infinite_video").addHandler(handler)
    logging.getLogger("infinite_video").setLevel(logging.INFO)
    t0 = time.perf_counter()
    out = InfiniteVideoSampler.execute(model, pos, neg, {"samples": window}, queue(method, window.shape[2]), seed,
                                       frames, cfg, "euler", 1.0, "simple", sink=spec)
    if not sink:  # what a graph without a sink does next: decode the whole LATENT (and save it as one video)
        if sink_kw["decode"] == "vae":  # VAE Decode
            images = sink_kw["vae"].decode(model.model.process_latent_out(out.args[0]["samples"].float()))[0].float()
        else:  # Latent Preview Decode
            from infinite_video.nodes.preview import LatentPreviewDecode

            images = LatentPreviewDecode.execute(model, out.args[0], 8).args[0]
        if encode:  # Save Video: the whole IMAGE batch at the end
            from infinite_video.nodes.stream_video import VideoWriter

            writer = VideoWriter(str(Path(out_dir) / f"batch_{time.time_ns()}.mp4"), 16.0, "h264 (mp4)", 19,
                                 images.shape[2], images.shape[1])
            writer.write(images)
            writer.close()
    seconds = time.perf_counter() - t0
    logging.getLogger("infinite_video").removeHandler(handler)
    return seconds, (handler.items[-1] if handler.items else None)


def memory_child(name: str, method: str, frames: int, sink: bool, folder: str) -> None:
    boot_host()
    import torch

    parts = setup(name, Path(folder))
    with tempfile.TemporaryDirectory() as out:
        run(parts, method, 2, sink, out)  # warm-up: allocator pools, lazy imports, encoder
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        reset_peak_rss()
        base = rss_kib()
        run(parts, method, frames, sink, out)
        res = {"peak_kib": rss_kib("VmHWM"), "growth_kib": rss_kib("VmHWM") - base}
        if torch.cuda.is_available():
            res["vram_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(res))


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", __spec__.name, "--memory-child", *args], capture_output=True,
                         text=True, cwd=PACK_ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--soak", action="store_true", help="10,000 vs 1,000 latent frames, shapes model, FIFO")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=("memory", "speed"), help="one half of the benchmark")
    ap.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=str(Path.home() / ".cache" / "infinite-video" / "bench"))
    args = ap.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    if args.memory_child:
        name, method, frames, sink = args.memory_child
        memory_child(name, method, int(frames), sink == "1", args.dir)
        return
    if args.soak:
        short, long = (child(["shapes", "fifo", str(n), "1", "--dir", args.dir]) for n in (1000, 10000))
        print(f"soak, shapes FIFO with sink (preview decode): peak RSS 1,000 frames {short['peak_kib']} KiB, "
              f"10,000 frames {long['peak_kib']} KiB, ratio {long['peak_kib'] / short['peak_kib']:.3f} "
              f"(target <= 1.05)")
        return
    n = {"shapes": 8 if args.quick else 32, "wan+vae": 4 if args.quick else 12}
    if args.only != "speed":
        memory(n, args.dir)
    if args.only != "memory":
        speed(n, args.dir, 1 if args.quick else args.rounds)


def memory(n: dict, folder: str) -> None:
    print("memory: whole-process peak RSS, 10N vs N output latent frames, fresh process each (target <= 1.05)")
    print(f"{'set-up':9s} {'method':6s} {'sink':5s} {'N':>4s} {'peak N KiB':>11s} {'peak 10N KiB':>13s} {'ratio':>6s}")
    rows = [(name, method, "1") for name in SETUPS for method in METHODS] + [("shapes", "fifo", "0")]
    for name, method, sink in rows:  # every set-up with the sink; one without it, for contrast
        a, b = (child([name, method, str(k), sink, "--dir", folder]) for k in (n[name], 10 * n[name]))
        vram = f"  VRAM {a['vram_peak_mib']:.0f} vs {b['vram_peak_mib']:.0f} MiB" if "vram_peak_mib" in a else ""
        print(f"{name:9s} {method:6s} {'yes' if sink == '1' else 'no':5s} {n[name]:4d} {a['peak_kib']:11d} "
              f"{b['peak_kib']:13d} {b['peak_kib'] / a['peak_kib']:6.3f}{vram}", flush=True)


def speed(n: dict, folder: str, rounds: int) -> None:
    boot_host()
    print(f"\nspeed: seconds per output latent frame with the sink over without it (LATENT, then the whole video "
          f"decoded and encoded at the end), median of {rounds} interleaved round(s)")
    with tempfile.TemporaryDirectory() as out:
        for name in SETUPS:
            parts = setup(name, Path(folder))
            frames = 2 * n[name]
            for method in METHODS[:1]:  # FIFO: the sink's cost does not depend on the queue
                run(parts, method, 2, True, out)  # warm-up
                with_s, without_s, dec, enc = [], [], [], []
                for r in range(rounds):
                    s, session = run(parts, method, frames, True, out, seed=r)
                    with_s.append(s / frames)
                    dec.append(session.decode_s / frames)
                    enc.append(session.encode_s / frames)
                    without_s.append(run(parts, method, frames, False, out, seed=r, encode=True)[0] / frames)
                w, wo = statistics.median(with_s), statistics.median(without_s)
                print(f"{name:9s} {method:6s} {frames:4d} frames: {w:.4f} s/frame with sink, {wo:.4f} without, "
                      f"ratio {w / wo:.2f}; sink decode {statistics.median(dec):.4f} + encode "
                      f"{statistics.median(enc):.4f} s/frame", flush=True)


if __name__ == "__main__":
    main()
