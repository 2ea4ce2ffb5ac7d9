"""Side-by-side benchmark of the queue samplers on the tiny random-weight Wan 2.1, on CPU, in one process.

Everything is measured in the same run, interleaved, and printed as ratios (these machines are noisy; absolute
seconds mean little). Run with the pack's virtualenv::

    python tests/tools/benchmark.py            # FIFO vs native KSampler, calls per frame, memory 512 vs 64
    python tests/tools/benchmark.py --quick    # smaller, for a smoke run

Figures:
- seconds per output latent frame of FIFO (no lookahead / lookahead) over native KSampler's seconds per latent frame
  at the same steps (window x partitions) and window, steady state (after the queue's warm-up) and all-in;
- model calls per output frame against theory (n without lookahead, 2n with);
- peak memory (RSS growth over the loaded model, in a fresh child process per length) for 512 against 64 frames.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

WINDOW, PARTITIONS, SPATIAL = 8, 2, 16  # latent frames per window, blocks, latent height/width


def boot_host():
    """Import ComfyUI in-process on CPU and the pack as ``infinite_video``."""
    from find_host import find_host

    host, why = find_host()
    if host is None:
        sys.exit(why)
    sys.argv = [sys.argv[0], "--cpu"]
    sys.path.insert(0, str(host))
    import comfy.options

    comfy.options.enable_args_parsing()
    import comfy.cli_args

    comfy.cli_args.args.cpu = True
    import conftest  # noqa: F401  (loads the pack as infinite_video)


def load_model(folder: Path):
    import tiny_models

    path = folder / tiny_models.FILE_NAMES["wan21"]
    if not path.is_file():
        tiny_models.write_tiny_wan21(path, seed=0)
    return tiny_models.load_tiny(path)


def conds():
    import tiny_models

    return tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)


def run_fifo(model, frames: int, lookahead: bool, init: str = "clip", callback=None, window=WINDOW):
    """One Infinite Video Sampler run through the real node path; returns (seconds, model calls, samples)."""
    import torch

    import comfy.samplers
    from infinite_video.nodes.adapter import PerFrameSampler, PromptScheduleGuider, stamp_prompts
    from infinite_video.samplers.config import QueueConfig
    from infinite_video.samplers.run import run_queue

    cfg = QueueConfig(window, PARTITIONS, lookahead, init)
    plan = cfg.fifo_plan(window)
    pos, neg = conds()
    stamped, _ = stamp_prompts(pos)
    guider = PromptScheduleGuider(model)
    guider.set_conds(stamped, neg)
    guider.set_cfg(5.0)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", plan.steps).cpu()

    def run(denoiser, latent, sig, ns, cb):
        return run_queue(cfg, denoiser, latent, sig, frames, seed=0, noise_scaling=ns, callback=cb)
    sampler = PerFrameSampler(run)
    clip = torch.randn(1, 16, window, SPATIAL, SPATIAL, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    out = guider.sample(torch.zeros_like(clip), clip, sampler, sigmas, callback=callback, disable_pbar=True, seed=0)
    return time.perf_counter() - t0, sampler.model_calls, out, plan


def run_native(model, steps: int):
    """Stock ComfyUI euler on one window of WINDOW latent frames, ``steps`` steps; returns seconds."""
    import torch

    import comfy.sample
    import comfy.samplers

    pos, neg = conds()
    latent = torch.zeros(1, 16, WINDOW, SPATIAL, SPATIAL)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    comfy.sample.sample(model, noise, steps, 5.0, "euler", "simple", pos, neg, latent, disable_pbar=True, seed=0)
    return time.perf_counter() - t0


def steady_seconds_per_frame(model, frames: int, lookahead: bool) -> tuple[float, float, float]:
    """(steady-state s/frame, all-in s/frame, calls per iteration) timing each iteration through the callback."""
    stamps: list[float] = []
    seconds, calls, _, plan = run_fifo(model, frames, lookahead, callback=lambda *a: stamps.append(time.perf_counter()))
    steady = stamps[plan.warmup:]
    per_frame = (steady[-1] - steady[0]) / (len(steady) - 1)
    return per_frame, seconds / frames, calls / plan.iterations(frames)


def memory_child(frames: int) -> None:
    """Child process: peak RSS growth while generating ``frames`` frames (model loaded and warmed up first)."""
    boot_host()
    model = load_model(Path(os.environ["IV_BENCH_DIR"]))
    run_fifo(model, 2, False)  # warm-up: allocator pools, lazy imports
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, _, out, _ = run_fifo(model, frames, False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"frames": frames, "peak_growth_kib": peak - base, "output_kib": out.numel() * 4 // 1024}))


def memory_children(script: str, folder: str, lengths=(64, 512)) -> dict[int, dict]:
    """Run ``script --memory-child N`` in a fresh process per length; returns each child's JSON line by length."""
    mem = {}
    for n in lengths:
        out = subprocess.run([sys.executable, script, "--memory-child", str(n), "--dir", folder],
                             capture_output=True, text=True, check=True)
        mem[n] = json.loads(out.stdout.strip().splitlines()[-1])
    return mem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer frames and rounds (smoke run)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per measurement (median reported)")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=str(Path.home() / ".cache" / "infinite-video" / "bench"),
                    help="where the tiny model is written")
    args = ap.parse_args()
    os.environ["IV_BENCH_DIR"] = args.dir
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    boot_host()
    import statistics

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_model(Path(args.dir))
    frames = 16 if args.quick else 48
    rounds = 1 if args.quick else args.rounds
    steps = WINDOW * PARTITIONS
    run_native(model, 2)  # warm-up
    native, plain, look = [], [], []
    for _ in range(rounds):  # interleave so drift hits every variant alike
        native.append(run_native(model, steps) / WINDOW)
        plain.append(steady_seconds_per_frame(model, frames, False))
        look.append(steady_seconds_per_frame(model, frames, True))
    nat = statistics.median(native)
    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    print(f"tiny Wan 2.1 on CPU, window {WINDOW} latent frames, {PARTITIONS} partitions = {steps} steps, "
          f"latent {SPATIAL}x{SPATIAL}, cfg 5, {frames} output frames, {rounds} interleaved round(s)")
    print(f"{'variant':34s} {'s/frame':>9s} {'ratio':>7s} {'target':>7s}")
    print(f"{'native KSampler (euler)':34s} {nat:9.4f} {1.0:7.2f}")
    print(f"{'FIFO, no lookahead (steady)':34s} {med(plain, 0):9.4f} {med(plain, 0) / nat:7.2f} {'<=1.05':>7s}")
    print(f"{'FIFO, no lookahead (with warm-up)':34s} {med(plain, 1):9.4f} {med(plain, 1) / nat:7.2f}")
    print(f"{'FIFO, lookahead (steady)':34s} {med(look, 0):9.4f} {med(look, 0) / nat:7.2f} {'<=2.1':>7s}")
    print(f"{'FIFO, lookahead (with warm-up)':34s} {med(look, 1):9.4f} {med(look, 1) / nat:7.2f}")
    print(f"model calls per output frame: no lookahead {med(plain, 2):.2f} (theory n = {PARTITIONS}), "
          f"lookahead {med(look, 2):.2f} (theory 2n = {2 * PARTITIONS})")
    mem = memory_children(__file__, args.dir)
    g64, g512 = mem[64]["peak_growth_kib"], mem[512]["peak_growth_kib"]
    print(f"peak RSS growth: 64 frames {g64} KiB, 512 frames {g512} KiB, ratio {g512 / max(g64, 1):.2f} "
          f"(target <=1.05 once output streams; the LATENT output itself is {mem[64]['output_kib']} vs "
          f"{mem[512]['output_kib']} KiB)")


if __name__ == "__main__":
    main()
