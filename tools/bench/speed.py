"""Where the time goes for short and few-step videos: FIFO's start (noise warm-up vs ``init_mode`` auto clip) and
groups for few-step models, against native sampling, side by side in one process on a random-weight mid-size Wan.

Run from the repo root with the pack's virtualenv::

    python -m tools.bench.speed                   # 32 and 120 output latent frames, 2 interleaved rounds
    python -m tools.bench.speed --json speed.json --rounds 3
    python -m tools.bench.speed --quick           # smoke run (8 and 16 frames, 1 round)

The model is the real ComfyUI ``WanModel`` (Wan 2.1 T2V layout, 16 latent channels) at dim 256 with 2 layers and
random weights, loaded as a diffusion model file like a downloaded checkpoint; every run goes through the pack's real
adapter path (``PromptScheduleGuider`` + ``PerFrameSampler``, cfg 5) and native is stock ComfyUI ``comfy.sample``
(KSampler, euler). Everything is measured interleaved in the same process and printed as ratios (absolute seconds
on a shared CPU mean little):

- ``all_in_ratio``: all-in seconds per output latent frame (start, warm-up and drain included) over native's
  seconds per latent frame (one native window at the same steps, divided by its frames);
- ``calls_per_frame``: model calls per output latent frame (native: steps / window).

Rows: ``native``, ``fifo`` (noise warm-up), ``fifo_auto_clip`` and their lookahead variants at the issue's setting
(window 9, 3 partitions = 27 steps), and for a model distilled for 4 steps (cfg 5 kept for timing) ``native_s4``
(chunked, window 8), ``fifo_group_s4`` (noise warm-up) and ``fifo_group_s4_auto_clip`` (groups of 2, 1 partition =
4 levels). ``--json FILE`` writes one object per (method, frames).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from ..testing import tiny_models
from ..testing.host import boot_host
from .fifo import conds, sample_queue

WINDOW, PARTITIONS, SPATIAL, CFG = 9, 3, 8, 5.0
FEW_WINDOW, FEW_GROUP, FEW_STEPS = 8, 2, 4
DIM, LAYERS = 256, 2
FILE = "midsize_wan21_dim256.safetensors"


def write_midsize_wan(path: Path, seed: int = 0) -> Path:
    """Wan 2.1 T2V layout at dim 256 (2 heads of 128, as ``comfy.model_detection`` infers), ffn 1024, 2 layers."""
    import comfy.ops
    import torch
    from comfy.ldm.wan.model import WanModel

    model = WanModel(model_type="t2v", in_dim=16, dim=DIM, ffn_dim=4 * DIM, text_dim=4096, out_dim=16,
                     num_heads=DIM // 128, num_layers=LAYERS, operations=comfy.ops.disable_weight_init,
                     dtype=torch.float32)
    return tiny_models._save_random(model, path, seed)


def load_midsize(folder: Path):
    path = folder / FILE
    if not path.is_file():
        write_midsize_wan(path)
    return tiny_models.load_tiny(path)


def native_seconds(model, window: int, steps: int) -> float:
    """Stock ComfyUI euler on one window of ``window`` latent frames over ``steps`` steps; seconds."""
    import comfy.sample
    import torch

    pos, neg = conds()
    latent = torch.zeros(1, 16, window, SPATIAL, SPATIAL)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    comfy.sample.sample(model, noise, steps, CFG, "euler", "simple", pos, neg, latent, disable_pbar=True, seed=0)
    return time.perf_counter() - t0


def queue_run(model, window: int, partitions: int, lookahead: bool, init: str, frames: int,
              group: int = 1) -> tuple[float, int]:
    """One Infinite Video Sampler run (the real adapter path) on an empty latent; ``(seconds, model calls)``."""
    import torch

    from infinite_video.samplers.config import QueueConfig

    cfg = QueueConfig(window, partitions, lookahead, init, group=group)
    pos, neg = conds()
    clip = torch.zeros(1, 16, window, SPATIAL, SPATIAL)
    t0 = time.perf_counter()
    _, sampler = sample_queue(model, cfg, frames, clip, pos, neg, CFG)
    return time.perf_counter() - t0, sampler.model_calls


# method -> (window, partitions, lookahead, init, group); None = native
METHODS = {
    "native": None,
    "fifo": (WINDOW, PARTITIONS, False, "noise", 1),
    "fifo_auto_clip": (WINDOW, PARTITIONS, False, "auto clip", 1),
    "fifo_lookahead": (WINDOW, PARTITIONS, True, "noise", 1),
    "fifo_lookahead_auto_clip": (WINDOW, PARTITIONS, True, "auto clip", 1),
    "native_s4": None,
    "fifo_group_s4": (FEW_WINDOW, 1, False, "noise", FEW_GROUP),
    "fifo_group_s4_auto_clip": (FEW_WINDOW, 1, False, "auto clip", FEW_GROUP),
}
TARGETS = {("fifo_auto_clip", 32): "<= 1.10", ("fifo_auto_clip", 120): "<= 1.05"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="32,120", help="comma-separated output latent frame counts")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median reported)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--no-lookahead-at", default="120",
                    help="frame counts at which the lookahead rows are skipped (they are slow)")
    ap.add_argument("--quick", action="store_true", help="8 and 16 frames, 1 round (smoke run)")
    ap.add_argument("--json", default=None, help="write one object per (method, frames) to this file")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ap.add_argument("--dir", default=str(Path.home() / ".cache" / "infinite-video" / "bench"))
    args = ap.parse_args()
    lengths = [16, 24] if args.quick else [int(x) for x in args.frames.split(",")]
    rounds = 1 if args.quick else args.rounds
    skip_la = {int(x) for x in args.no_lookahead_at.split(",") if x}
    methods = args.methods.split(",")
    boot_host()
    import platform

    import torch

    torch.set_num_threads(args.threads)
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    model = load_midsize(Path(args.dir))
    native_seconds(model, WINDOW, 2)  # warm-up: allocator pools, lazy imports
    steps = WINDOW * PARTITIONS
    times: dict[tuple[str, int], list[float]] = {}
    calls: dict[tuple[str, int], int] = {}
    nat: dict[str, list[float]] = {"native": [], "native_s4": []}
    for _ in range(rounds):  # interleaved, so drift hits every variant alike
        nat["native"].append(native_seconds(model, WINDOW, steps) / WINDOW)
        nat["native_s4"].append(native_seconds(model, FEW_WINDOW, FEW_STEPS) / FEW_WINDOW)
        for frames in lengths:
            for m in methods:
                spec = METHODS[m]
                if spec is None or ("lookahead" in m and frames in skip_la):
                    continue
                sec, n = queue_run(model, spec[0], spec[1], spec[2], spec[3], frames, spec[4])
                times.setdefault((m, frames), []).append(sec / frames)
                calls[(m, frames)] = n
    native = {k: statistics.median(v) for k, v in nat.items()}
    rows = []
    for frames in lengths:
        for m in methods:
            if METHODS[m] is None:
                ref, cpf, spf = m, (steps / WINDOW if m == "native" else FEW_STEPS / FEW_WINDOW), native[m]
            elif (m, frames) in times:
                ref = "native_s4" if "_s4" in m else "native"
                cpf, spf = calls[(m, frames)] / frames, statistics.median(times[(m, frames)])
            else:
                continue
            rows.append({"method": m, "frames": frames, "calls_per_frame": round(cpf, 4),
                         "all_in_ratio": round(spf / native[ref], 4), "seconds_per_frame": round(spf, 5),
                         "native": ref, "target": TARGETS.get((m, frames))})
    print(f"mid-size random Wan 2.1 (WanModel dim {DIM}, {LAYERS} layers) on CPU ({platform.processor() or 'cpu'}, "
          f"{torch.get_num_threads()} threads), latent {SPATIAL}x{SPATIAL}, cfg {CFG}; FIFO window {WINDOW} x "
          f"{PARTITIONS} partitions = {steps} steps; few-step: window {FEW_WINDOW}, groups of {FEW_GROUP}, "
          f"{FEW_STEPS} steps; {rounds} interleaved round(s), median")
    print(f"{'method':26s} {'frames':>6s} {'calls/frame':>11s} {'all-in ratio':>12s} {'target':>8s}")
    for r in rows:
        print(f"{r['method']:26s} {r['frames']:6d} {r['calls_per_frame']:11.3f} {r['all_in_ratio']:12.3f} "
              f"{r['target'] or '':>8s}")
    for frames in lengths:
        g, n = calls.get(("fifo_group_s4_auto_clip", frames)), FEW_STEPS / FEW_WINDOW
        if g is not None:
            print(f"4 steps, {frames} frames: FIFO groups (auto clip) {g / frames:.3f} calls/frame vs native chunked "
                  f"{n:.3f}: {g / frames / n:.2f}x (target <= 1.25)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")


if __name__ == "__main__":
    main()
