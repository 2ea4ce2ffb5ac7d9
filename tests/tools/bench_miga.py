"""MIGA against FIFO on the tiny random-weight Wan 2.1, on CPU, side by side in one run.

    python tests/tools/bench_miga.py --quick

Figures (ratios; absolute seconds on these machines mean little):
- model calls and seconds per output latent frame of MIGA (zigzag + unified + self-reflection at its default threshold
  + queue guidance) over FIFO's (same window, lookahead on, same ladder length), and the self-reflection trigger rate;
- peak RSS growth of MIGA for 512 against 64 output frames, each in a fresh child process (target <= 1.05).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchmark import PARTITIONS, SPATIAL, WINDOW, boot_host, conds, load_model, memory_children, run_fifo  # noqa: E402

STEPS = WINDOW * PARTITIONS  # FIFO's ladder; MIGA uses the same length


def miga_config():
    from infinite_video.samplers.config import (
        GuidanceConfig, QueueConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig,
    )

    end = STEPS - STEPS // 4  # official Wan: 44 of 54, ~80% in stage 1
    return QueueConfig(WINDOW, PARTITIONS, True, "clip",
                       zigzag=ZigzagConfig(STEPS, 2, end), unified=UnifiedConfig(STEPS - end, True, end),
                       reflection=ReflectionConfig(3, 0.01, "pairwise", judged_level=4),
                       guidance=GuidanceConfig(2, "queue"))


def run_miga(model, frames: int):
    """One MIGA run through the real adapter (PerFrameSampler + guider); returns (seconds, model calls, stats, out)."""
    import torch

    import comfy.samplers
    from infinite_video.nodes.adapter import PerFrameSampler, PromptScheduleGuider, stamp_prompts
    from infinite_video.samplers.miga import MigaStats, miga_steps, sample_miga

    cfg = miga_config()
    pos, neg = conds()
    stamped, _ = stamp_prompts(pos)
    guider = PromptScheduleGuider(model)
    guider.set_conds(stamped, neg)
    guider.set_cfg(5.0)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple",
                                             miga_steps(cfg, WINDOW)).cpu()
    stats = MigaStats()

    def run(denoiser, latent, sig, ns, cb):
        return sample_miga(cfg, denoiser, latent, sig, frames, generator=torch.Generator().manual_seed(0),
                           noise_scaling=ns, callback=cb, stats=stats)
    sampler = PerFrameSampler(run)
    clip = torch.randn(1, 16, WINDOW, SPATIAL, SPATIAL, generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    out = guider.sample(torch.zeros_like(clip), clip, sampler, sigmas, disable_pbar=True, seed=0)
    return time.perf_counter() - t0, sampler.model_calls, stats, out


def memory_child(frames: int) -> None:
    boot_host()
    model = load_model(Path(os.environ["IV_BENCH_DIR"]))
    run_miga(model, 2)  # warm-up
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, _, stats, out = run_miga(model, frames)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"frames": frames, "peak_growth_kib": peak - base, "output_kib": out.numel() * 4 // 1024,
                      "max_resident_latents": stats.max_resident_latents}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer frames (smoke run)")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=str(Path.home() / ".cache" / "infinite-video" / "bench"))
    args = ap.parse_args()
    os.environ["IV_BENCH_DIR"] = args.dir
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    boot_host()
    model = load_model(Path(args.dir))
    frames = 32 if args.quick else 96
    run_fifo(model, 2, True)  # warm-up
    fs, fcalls, _, _ = run_fifo(model, frames, True)
    ms, mcalls, st, _ = run_miga(model, frames)
    print(f"tiny Wan 2.1 on CPU, window {WINDOW}, {STEPS} steps, latent {SPATIAL}x{SPATIAL}, cfg 5, {frames} frames "
          f"(all-in, warm-up included)")
    print(f"FIFO (lookahead, {PARTITIONS} partitions): {fcalls / frames:.2f} calls/frame, {fs / frames:.4f} s/frame")
    print(f"MIGA (zigzag L=2, end {miga_config().zigzag.end_step}, unified + re-denoise, reflection 3 cand. thr 0.01,"
          f" guidance 2 queue): {mcalls / frames:.2f} calls/frame, {ms / frames:.4f} s/frame")
    print(f"MIGA/FIFO: calls {mcalls / fcalls:.2f}, seconds {ms / fs:.2f} (target <= 1.3)")
    print(st.summary())
    print(f"self-reflection trigger rate {100 * st.trigger_rate:.1f}% ({st.triggers}/{st.judgments}); without it "
          f"MIGA would make {st.model_calls - st.reflection_calls} calls = {(st.model_calls - st.reflection_calls) / fcalls:.2f}x FIFO")
    mem = memory_children(__file__, args.dir)
    g64, g512 = mem[64]["peak_growth_kib"], mem[512]["peak_growth_kib"]
    print(f"MIGA peak RSS growth: 64 frames {g64} KiB, 512 frames {g512} KiB, ratio {g512 / max(g64, 1):.2f} "
          f"(target <= 1.05; LATENT output {mem[64]['output_kib']} vs {mem[512]['output_kib']} KiB; max resident "
          f"latents {mem[64]['max_resident_latents']} vs {mem[512]['max_resident_latents']})")


if __name__ == "__main__":
    main()
