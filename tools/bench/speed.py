"""Where the time goes for short and few-step videos: FIFO's start (noise warm-up vs ``init_mode`` auto clip) and
groups for few-step models, against native sampling, side by side in one process on a random-weight mid-size Wan.

Run from the repo root with the pack's virtualenv::

    python -m tools.bench.speed                   # 32 and 120 frames, 2 rounds (about 14 minutes on 2 busy cores)
    python -m tools.bench.speed --json speed.json --rounds 3
    python -m tools.bench.speed --methods native,fifo_auto_clip,fifo_lookahead,fifo_lookahead_auto_clip
    python -m tools.bench.speed --quick           # smoke run (16 and 24 frames, 1 round)
    python -m tools.bench.speed --spatial 8       # a smaller latent: a call's fixed cost weighs more

The model is the real ComfyUI ``WanModel`` (Wan 2.1 T2V layout, 16 latent channels) at dim 256 with 2 layers and
random weights, loaded as a diffusion model file like a downloaded checkpoint; every run goes through the pack's real
adapter path (``PromptScheduleGuider`` + ``PerFrameSampler``, cfg 5) and native is stock ComfyUI ``comfy.sample``
(KSampler, euler) on one window at the same steps. Every method run sits between two native reference points (just
before and just after it, in the same process, each ``--native-repeats`` native runs; their mean is its reference)
and the rounds repeat the whole sequence (interleaved, so drift and other jobs' load hit every variant alike); each
run gives a ratio and the median over rounds is reported with the spread. A native row's spread is one reference
point against the one before it: the noise floor.

- ``all_in_ratio``: all-in seconds per output latent frame (the native clip or the warm-up, the fill and the drain
  included) over native's seconds per latent frame (its window's seconds divided by its frames). Seconds are the
  process's CPU seconds on one torch thread (``time.process_time``: on a shared machine, time another job holds the
  core is not counted); ``all_in_ratio_wall`` is the same from wall-clock seconds;
- ``calls_per_frame``: model calls per output latent frame (native: steps / window).

Methods: ``native``, ``fifo`` (noise warm-up), ``fifo_auto_clip`` and their lookahead variants at the issue's setting
(window 9, 3 partitions = 27 steps), and for a model distilled for 4 steps (cfg 5 kept for timing) ``native_s4``
(chunked, window 8), ``fifo_group_s4`` (noise warm-up) and ``fifo_group_s4_auto_clip`` (groups of 2, 1 partition =
4 levels); by default all but the lookahead rows. ``--json FILE`` writes one object per (method, frames).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Optional

from ..testing import tiny_models
from ..testing.host import boot_host
from .fifo import conds, sample_queue

WINDOW, PARTITIONS, SPATIAL, CFG = 9, 3, 16, 5.0
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


def native_seconds(model, window: int, steps: int, spatial: int = SPATIAL) -> float:
    """Stock ComfyUI euler on one window of ``window`` latent frames over ``steps`` steps; seconds."""
    import comfy.sample
    import torch

    pos, neg = conds()
    latent = torch.zeros(1, 16, window, spatial, spatial)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    comfy.sample.sample(model, noise, steps, CFG, "euler", "simple", pos, neg, latent, disable_pbar=True, seed=0)
    return time.perf_counter() - t0


def queue_run(model, window: int, partitions: int, lookahead: bool, init: str, frames: int,
              group: int = 1, spatial: int = SPATIAL) -> tuple[float, int]:
    """One Infinite Video Sampler run (the real adapter path) on an empty latent; ``(seconds, model calls)``."""
    import torch

    from infinite_video.samplers.config import QueueConfig

    cfg = QueueConfig(window, partitions, lookahead, init, group=group)
    pos, neg = conds()
    clip = torch.zeros(1, 16, window, spatial, spatial)
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


def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def timed(fn, *args) -> tuple[float, float, int]:
    """``(CPU seconds, wall seconds, model calls)`` of ``fn(*args) -> calls``."""
    c0, w0 = _clock()
    n = fn(*args)
    c1, w1 = _clock()
    return c1 - c0, w1 - w0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="32,120", help="comma-separated output latent frame counts")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median of the paired ratios)")
    ap.add_argument("--methods", default="native,fifo,fifo_auto_clip,native_s4,fifo_group_s4_auto_clip",
                    help=f"any of {', '.join(METHODS)}")
    ap.add_argument("--no-lookahead-at", default="120",
                    help="frame counts at which the lookahead rows are skipped (they are slow)")
    ap.add_argument("--quick", action="store_true", help="16 and 24 frames, 1 round (smoke run)")
    ap.add_argument("--json", default=None, help="write one object per (method, frames) to this file")
    ap.add_argument("--native-repeats", type=int, default=2,
                    help="native runs back to back at each reference point (a steadier reference)")
    ap.add_argument("--spatial", type=int, default=SPATIAL,
                    help="latent height and width (16: 64 tokens per frame; at 8, 16 tokens, a call's fixed cost is "
                         "about a third of a window's; real Wan at 832x480 has 1560 tokens per frame)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ap.add_argument("--dir", default=str(Path.home() / ".cache" / "infinite-video" / "bench"))
    args = ap.parse_args()
    lengths = [16, 24] if args.quick else [int(x) for x in args.frames.split(",")]
    rounds = 1 if args.quick else args.rounds
    skip_la = {int(x) for x in args.no_lookahead_at.split(",") if x}
    methods = args.methods.split(",")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    boot_host()
    import os
    import platform

    import torch

    torch.set_num_threads(args.threads)
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    model = load_midsize(Path(args.dir))
    native_seconds(model, WINDOW, 2, args.spatial)  # warm-up: allocator pools, lazy imports
    steps = WINDOW * PARTITIONS
    nat_spec = {"native": (WINDOW, steps), "native_s4": (FEW_WINDOW, FEW_STEPS)}

    def native_calls(window: int, n_steps: int) -> int:
        for _ in range(args.native_repeats):
            native_seconds(model, window, n_steps, args.spatial)
        return n_steps * args.native_repeats

    def method_calls(spec: tuple, frames: int) -> int:
        return queue_run(model, spec[0], spec[1], spec[2], spec[3], frames, spec[4], args.spatial)[1]

    # (method, frames) -> per round: (cpu ratio, wall ratio, cpu s/frame); a native row: the native run after each
    # of its methods' runs against the one before it (the noise floor)
    ratios: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    calls: dict[tuple[str, int], int] = {}
    load = [os.getloadavg()[0]]
    t_start = time.perf_counter()
    last: Optional[tuple[str, float, float]] = None  # the latest run, when it was a native one: (ref, cpu, wall)
    for _ in range(rounds):
        for frames in lengths:
            for m in methods:
                spec = METHODS[m]
                if spec is None or ("lookahead" in m and frames in skip_la):
                    continue
                ref = "native_s4" if "_s4" in m else "native"
                w = nat_spec[ref][0] * args.native_repeats  # frames a native reference point makes
                if last is None or last[0] != ref:
                    last = (ref, *timed(native_calls, *nat_spec[ref])[:2])
                bc, bw = last[1:]  # native just before the method's run, and again just after it
                mc, mw, n = timed(method_calls, spec, frames)
                ac, aw, _ = timed(native_calls, *nat_spec[ref])
                last = (ref, ac, aw)
                nc, nw = (bc + ac) / 2, (bw + aw) / 2
                ratios.setdefault((m, frames), []).append(((mc / frames) / (nc / w), (mw / frames) / (nw / w),
                                                           mc / frames))
                ratios.setdefault((ref, frames), []).append((ac / bc, aw / bw, nc / w))
                calls[(m, frames)] = n
                load.append(os.getloadavg()[0])
    rows = []
    for frames in lengths:
        for m in methods:
            key = (m, frames)
            if METHODS[m] is None:
                cpf = steps / WINDOW if m == "native" else FEW_STEPS / FEW_WINDOW
            elif key in ratios:
                cpf = calls[key] / frames
            else:
                continue
            got = ratios.get(key, [])
            cpu = [r[0] for r in got] or [1.0]
            wall = [r[1] for r in got] or [1.0]
            rows.append({"method": m, "frames": frames, "calls_per_frame": round(cpf, 4),
                         "all_in_ratio": 1.0 if METHODS[m] is None else round(statistics.median(cpu), 4),
                         "all_in_ratio_wall": 1.0 if METHODS[m] is None else round(statistics.median(wall), 4),
                         "ratio_median": round(statistics.median(cpu), 4),
                         "ratio_spread": [round(min(cpu), 4), round(max(cpu), 4)],
                         "cpu_seconds_per_frame": round(statistics.median([r[2] for r in got]), 5) if got else None,
                         "native": "native_s4" if "_s4" in m else "native", "target": TARGETS.get(key),
                         "rounds": len(got)})
    print(f"mid-size random Wan 2.1 (WanModel dim {DIM}, {LAYERS} layers) on CPU ({platform.processor() or 'cpu'}, "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s)), latent {args.spatial}x{args.spatial}, "
          f"cfg {CFG}; "
          f"FIFO window {WINDOW} x {PARTITIONS} partitions = {steps} steps; few-step: window {FEW_WINDOW}, groups of "
          f"{FEW_GROUP}, {FEW_STEPS} steps; {rounds} interleaved round(s), each method run between two native "
          f"reference points of {args.native_repeats} run(s), "
          f"median of the ratios; load average {min(load):.1f}-{max(load):.1f}; "
          f"{time.perf_counter() - t_start:.0f} s")
    print("ratio: CPU seconds per output frame / native's (wall-clock in the next column); a native row's spread: "
          "one native reference point against the one before it (the noise floor)")
    print(f"{'method':26s} {'frames':>6s} {'calls/frame':>11s} {'all-in ratio':>12s} {'wall':>6s} "
          f"{'spread':>13s} {'target':>8s}")
    for r in rows:
        lo, hi = r["ratio_spread"]
        print(f"{r['method']:26s} {r['frames']:6d} {r['calls_per_frame']:11.3f} {r['all_in_ratio']:12.3f} "
              f"{r['all_in_ratio_wall']:6.3f} {f'{lo:.3f}-{hi:.3f}':>13s} {r['target'] or '':>8s}")
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
