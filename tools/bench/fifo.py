"""Side-by-side benchmark of the queue samplers on the tiny random-weight Wan 2.1, on CPU, in one process.

Everything is measured in the same run, interleaved, and printed as ratios (these machines are noisy; absolute
seconds mean little). Run with the pack's virtualenv::

    python -m tools.bench.fifo            # FIFO vs native KSampler, calls per frame, memory 512 vs 64
    python -m tools.bench.fifo --quick    # smaller, for a smoke run

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
import subprocess
import sys
import time
from pathlib import Path

from ..pack import PACK_ROOT
from ..testing import tiny_models
from ..testing.host import boot_host

WINDOW, PARTITIONS, SPATIAL = 8, 2, 16  # latent frames per window, blocks, latent height/width


def load_model(folder: Path):
    path = folder / tiny_models.FILE_NAMES["wan21"]
    if not path.is_file():
        tiny_models.write_tiny_wan21(path, seed=0)
    return tiny_models.load_tiny(path)


def conds():
    return tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)


def sample_queue(model, cfg, frames: int, clip, positive, negative, cfg_scale: float, seed: int = 0, callback=None,
                 rule: str = "euler"):
    """One queue run (FIFO or MIGA) through the real adapter path, as Infinite Video Sampler runs it: a
    ``PerFrameSampler`` run by ``PromptScheduleGuider.sample`` on ``clip [1, C, window, H, W]``, sigmas from the
    model's "simple" schedule. Returns ``(samples, sampler)`` (``sampler.model_calls``, ``sampler.stats``)."""
    import comfy.samplers
    import torch

    from infinite_video.nodes.adapter import PerFrameSampler, PromptScheduleGuider, stamp_prompts
    from infinite_video.samplers.run import required_steps, run_queue

    stamped, _ = stamp_prompts(positive)
    guider = PromptScheduleGuider(model)
    guider.set_conds(stamped, negative)
    guider.set_cfg(cfg_scale)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple",
                                             required_steps(cfg, clip.shape[2])).cpu()

    def run(denoiser, latent, sig, ns, cb):
        return run_queue(cfg, denoiser, latent, sig, frames, seed=seed, rule=rule, noise_scaling=ns, callback=cb)

    sampler = PerFrameSampler(run)
    out = guider.sample(torch.zeros_like(clip), clip, sampler, sigmas, callback=callback, disable_pbar=True, seed=seed)
    return out, sampler


def run_fifo(model, frames: int, lookahead: bool, init: str = "clip", callback=None, window=WINDOW):
    """One Infinite Video Sampler run through the real node path; returns (seconds, model calls, samples, plan)."""
    import torch

    from infinite_video.samplers.config import QueueConfig

    cfg = QueueConfig(window, PARTITIONS, lookahead, init)
    pos, neg = conds()
    clip = torch.randn(1, 16, window, SPATIAL, SPATIAL, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    out, sampler = sample_queue(model, cfg, frames, clip, pos, neg, 5.0, callback=callback)
    return time.perf_counter() - t0, sampler.model_calls, out, cfg.fifo_plan(window)


def run_native(model, steps: int):
    """Stock ComfyUI euler on one window of WINDOW latent frames, ``steps`` steps; returns seconds."""
    import comfy.sample
    import comfy.samplers
    import torch

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


def rss_kib(field: str = "VmRSS") -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak since start or the last :func:`reset_peak_rss`) in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def reset_peak_rss() -> None:
    """Reset ``VmHWM`` to the current RSS (Linux ``clear_refs`` 5), so a peak can be taken around one run."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure_run(run, frames: int) -> dict:
    """Memory of one run in this process: ``run(frames, callback) -> LATENT tensor``.

    ``loop_growth_kib``: peak RSS during the sampling loop (read at its last callback, so after every output frame is
    written and before ComfyUI's ``process_latent_out`` copy) over the RSS before it; ``working_kib`` is that minus
    the output tensor's own bytes (which the loop fills, one frame at a time): the sampler's working memory.
    ``run_growth_kib``: peak over the whole run, copy on the way out included. ``process_peak_kib``: the process's
    whole peak RSS (model, ComfyUI and torch included), what a user's task manager shows.
    """
    import gc

    gc.collect()
    base = rss_kib()
    reset_peak_rss()
    marks: list[int] = []
    out = run(frames, lambda *a: marks.append(rss_kib("VmHWM")))
    run_peak = rss_kib("VmHWM")
    output_kib = out.numel() * out.element_size() // 1024
    loop = marks[-1] - base
    return {"frames": frames, "loop_growth_kib": loop, "working_kib": loop - output_kib, "output_kib": output_kib,
            "run_growth_kib": run_peak - base, "process_peak_kib": run_peak}


def memory_report(name: str, mem: dict[int, dict]) -> str:
    """Ratios 512 / 64 frames of the figures of :func:`measure_run` (target <= 1.05 on the peak memory).

    The working memory of a tiny model is a few MiB, where RSS moves by a few MiB between identical runs (allocator
    caches); read its ratio with the absolute figures, and with an exact count (e.g. resident latents) when the
    child reports one."""
    a, b = mem[64], mem[512]
    ratio = lambda k: b[k] / max(a[k], 1)  # noqa: E731
    lines = [f"{name} memory, 512 vs 64 output frames (fresh process each):",
             f"  whole-process peak RSS: {a['process_peak_kib']} vs {b['process_peak_kib']} KiB, ratio "
             f"{ratio('process_peak_kib'):.3f} (target <= 1.05)",
             f"  sampler working memory (loop peak - output): {a['working_kib']} vs {b['working_kib']} KiB, ratio "
             f"{ratio('working_kib'):.3f} (flat up to a few MiB of RSS noise)",
             f"  growth incl. the output LATENT ({a['output_kib']} vs {b['output_kib']} KiB) and its copy: "
             f"{a['run_growth_kib']} vs {b['run_growth_kib']} KiB, ratio {ratio('run_growth_kib'):.2f}"]
    for extra in sorted(set(a) - {"frames", "loop_growth_kib", "working_kib", "output_kib", "run_growth_kib",
                                  "process_peak_kib"}):
        lines.append(f"  {extra}: {a[extra]} vs {b[extra]}")
    return "\n".join(lines)


def memory_child(frames: int) -> None:
    """Child process: memory of one FIFO run of ``frames`` frames (model loaded and warmed up first)."""
    boot_host()
    model = load_model(Path(os.environ["IV_BENCH_DIR"]))
    run_fifo(model, 2, False)  # warm-up: allocator pools, lazy imports
    res = measure_run(lambda n, cb: run_fifo(model, n, False, callback=cb)[2], frames)
    print(json.dumps(res))


def memory_children(module: str, folder: str, lengths=(64, 512), extra=()) -> dict[int, dict]:
    """Run ``python -m module --memory-child N`` in a fresh process per length; each child's JSON line by length."""
    mem = {}
    for n in lengths:
        out = subprocess.run([sys.executable, "-m", module, "--memory-child", str(n), "--dir", folder, *extra],
                             capture_output=True, text=True, check=True, cwd=PACK_ROOT)
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
    print(memory_report("FIFO (no lookahead)", memory_children(__spec__.name, args.dir)))

if __name__ == "__main__":
    main()
