"""MIGA against FIFO on the pack's trained tiny Wan 2.1 ("shapes"), on CPU, side by side in one run.

    python -m tools.bench.miga            # 3 interleaved rounds (seeds 0-2) x 180 frames, memory 512 vs 64
    python -m tools.bench.miga --quick

Same window (the model's 9 trained latent frames), same 27-step ladder, same seed per round. Figures (ratios;
absolute seconds on these machines mean little):
- model calls and seconds per output latent frame of full MIGA with the nodes' defaults (zigzag with the auto slide +
  unified with re-denoise + self-reflection at threshold 0.01 on the clean estimates + 2 in-queue guidance latents)
  over FIFO with lookahead in the same round, with the trigger rate; the official code's half-window slide, history
  guidance, the official noisy pairwise metric, and MIGA without self-reflection;
- memory of MIGA for 512 against 64 output frames, each in a fresh child process (``benchmark.measure_run``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from ..testing.host import boot_host
from .fifo import measure_run, memory_children, memory_report

# (name in the table, tools.bench.consistency method): the defaults first (queue guidance, pairwise_denoised),
# then history guidance, the official noisy-latent metric, and no self-reflection.
VARIANTS = (("miga (defaults)", "miga"), ("miga, official half slide", "miga_half_slide"),
            ("miga, history guidance", "miga_history"), ("miga, pairwise metric", "miga_pairwise"),
            ("miga, no self-reflection", "miga_guidance_only"))
MEMORY_METHOD = "miga"


def load_shapes():
    import comfy.sd

    from .consistency import MODEL_PATH

    return comfy.sd.load_diffusion_model(str(MODEL_PATH))


def variants() -> dict:
    from .consistency import queue_config

    return {"fifo_lookahead": queue_config("fifo_lookahead"), **{n: queue_config(m) for n, m in VARIANTS}}


def memory_child(frames: int) -> None:
    boot_host()
    from .consistency import queue_config, run_queue_method

    model = load_shapes()
    cfg = queue_config(MEMORY_METHOD)
    run_queue_method(model, cfg, 2, 0)  # warm-up
    info: dict = {}

    def run(n: int, cb):
        out, got = run_queue_method(model, cfg, n, 0, callback=cb)
        info.update(got)
        return out

    mem = measure_run(run, frames)
    # the exact bound behind the RSS figures: latents the sampler held at once (queue, buffers, candidates)
    mem["resident_latents"] = info["max_resident_latents"]
    print(json.dumps(mem))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 36 frames (smoke run)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=180, help="output latent frames per run (default 20 windows)")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=str(Path.home() / ".cache" / "infinite-video" / "bench"))
    args = ap.parse_args()
    os.environ["IV_BENCH_DIR"] = args.dir
    if args.memory_child:
        memory_child(args.memory_child)
        return
    boot_host()
    from .consistency import STEPS, WINDOW, run_queue_method

    model = load_shapes()
    frames = 36 if args.quick else args.frames
    rounds = 1 if args.quick else args.rounds
    runs = variants()
    run_queue_method(model, runs["fifo_lookahead"], 4, 0)  # warm-up
    rows: dict[str, list[dict]] = {k: [] for k in runs}
    for r in range(rounds):  # interleaved: machine drift hits every variant alike
        for name, cfg in runs.items():
            t0 = time.perf_counter()
            _, info = run_queue_method(model, cfg, frames, r)
            rows[name].append({"seconds": time.perf_counter() - t0, **info})
    fifo = rows["fifo_lookahead"]
    print(f"shapes_wan21 (trained tiny Wan 2.1) on CPU, window {WINDOW}, {STEPS} steps, latent 16x16, cfg 1, "
          f"{frames} frames, {rounds} interleaved round(s), seeds 0..{rounds - 1}; all-in (warm-up included)")
    print(f"{'variant':28s} {'calls/frame':>11s} {'s/frame':>8s} {'calls/FIFO':>10s} {'s/FIFO':>7s} {'triggers':>9s}")
    fc = statistics.fmean(r["model_calls"] for r in fifo)
    for name, rs in rows.items():
        calls = statistics.fmean(r["model_calls"] for r in rs)
        sec = statistics.median(r["seconds"] for r in rs)
        # seconds: the ratio to FIFO in the same round (same seed, side by side), median over rounds
        s_ratio = statistics.median(r["seconds"] / f["seconds"] for r, f in zip(rs, fifo))
        judged = sum(r.get("judgments", 0) for r in rs)
        trig = f"{sum(r.get('triggers', 0) for r in rs) / judged:.1%}" if judged else "-"
        print(f"{name:28s} {calls / frames:11.2f} {sec / frames:8.4f} {calls / fc:10.2f} {s_ratio:7.2f} {trig:>9s}")
    print("target: MIGA / FIFO <= 1.3 with self-reflection at its default threshold (0.01)")
    print(memory_report("MIGA (defaults)", memory_children(__spec__.name, args.dir)))


if __name__ == "__main__":
    main()
