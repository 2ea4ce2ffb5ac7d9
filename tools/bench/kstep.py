"""Cost of the k-step noise search (arXiv 2411.18668) against brute force and no search, in one run on CPU.

Runs the K-Step Noise Search node three times on the same tiny random-weight image-to-video model, start image and
seed, counting diffusion-model calls with a keyed ``APPLY_MODEL`` wrapper on a model clone (one call = one batched
cond + uncond evaluation) and timing them:

- **k-step search**: ``m`` previews of ``k`` steps + one full run of ``full`` steps per chunk (``m·k + full``);
- **brute force**: every candidate fully denoised, the best kept (the node with ``k = full``: ``m·full``);
- **no search**: one full run per chunk (the node with ``m = 1``: ``full``).

Not a test. Run with the pack's virtualenv from the repository root::

    python -m tools.bench.kstep                      # tiny Wan 2.1 (in_dim 36) + random full-size Wan VAE
    python -m tools.bench.kstep --family ltxv        # tiny LTX-Video + tiny LTXV VAE (faster)
    python -m tools.bench.kstep --m 5 --k 3 --full 30 --chunks 2

The call counter and the random VAEs are test support (``tools/testing/call_counter.py``, ``tiny_vaes.py``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch

from ..testing import tiny_models
from ..testing.call_counter import count_model_calls
from ..testing.host import boot_host
from ..testing.tiny_vaes import SmallWan22VAE, load_vae, start_image, tiny_ltxv_vae, write_random_wan21_vae

# --- the benchmark ------------------------------------------------------------------------------------------------


def _setup(family: str, folder: Path):
    if family == "ltxv":
        model = tiny_models.load_tiny(tiny_models.write_tiny_ltxv(folder / "tiny_ltxv.safetensors"))
        cond = [tiny_models.tiny_conditioning(s, attention_mask=True) for s in (1, 2)]
        return model, tiny_ltxv_vae(), cond, (64, 64), 9
    if family == "wan22":
        model = tiny_models.load_tiny(tiny_models.write_tiny_wan22(folder / "tiny_wan22.safetensors"))
        cond = [tiny_models.tiny_conditioning(s) for s in (1, 2)]
        return model, SmallWan22VAE(), cond, (32, 32), 5
    model = tiny_models.load_tiny(tiny_models.write_tiny_wan21_i2v36(folder / "tiny_wan21_i2v36.safetensors"))
    vae = load_vae(write_random_wan21_vae(folder / "wan21_vae_random.safetensors"))
    cond = [tiny_models.tiny_conditioning(s) for s in (1, 2)]
    return model, vae, cond, (32, 32), 5


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=["wan21", "wan22", "ltxv"], default="wan21")
    parser.add_argument("--m", type=int, default=5, help="candidates per chunk")
    parser.add_argument("--k", type=int, default=3, help="preview steps")
    parser.add_argument("--full", type=int, default=30, help="full steps")
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--cfg", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved repeats; the fastest of each is kept")
    args = parser.parse_args(argv)

    boot_host()
    from infinite_video.nodes.kstep import KStepNoiseSearch

    folder = Path(tempfile.mkdtemp(prefix="iv-bench-kstep-"))
    model, vae, (positive, negative), size, length = _setup(args.family, folder)
    image = start_image(size)
    configs = [
        ("k-step search", args.m, args.k, f"m*k + full = {args.m}*{args.k} + {args.full}"),
        ("brute force", args.m, args.full, f"m*full = {args.m}*{args.full}"),
        ("no search", 1, args.k, f"full = {args.full}"),
    ]
    print(f"family {args.family} ({type(model.model).__name__}), image {size[1]}x{size[0]}, chunk_length {length}, "
          f"{args.chunks} chunks, m={args.m}, k={args.k}, full={args.full}, cfg {args.cfg}, euler/simple, CPU, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    # Warm-up (model load, first-call allocations), not measured.
    KStepNoiseSearch.execute(model, positive, negative, vae, image, length, 1, 1, 1, 1, "euler", "simple",
                             args.cfg, args.seed)
    best: dict[str, tuple] = {}
    for _ in range(args.repeat):  # interleaved repeats; the fastest of each is kept (noisy machines)
        for name, m, k, theory in configs:
            counted, counter = count_model_calls(model)
            start = time.perf_counter()
            out = KStepNoiseSearch.execute(counted, positive, negative, vae, image, length, args.chunks, m, k,
                                           args.full, "euler", "simple", args.cfg, args.seed)
            total = time.perf_counter() - start
            row = (name, counter.calls / args.chunks, theory, counter.seconds / args.chunks, total / args.chunks,
                   out.args[0].shape[0])
            if name not in best or row[4] < best[name][4]:
                best[name] = row
    rows = [best[name] for name, *_ in configs]
    base_calls, base_model_s, base_total_s = rows[-1][1], rows[-1][3], rows[-1][4]
    print(f"{'mode':<15}{'calls/chunk':>12}  {'theory':<26}{'x calls':>8}{'model s/chunk':>15}{'x model s':>10}"
          f"{'total s/chunk':>15}{'x total':>9}{'frames':>8}")
    for name, calls, theory, model_s, total_s, frames in rows:
        print(f"{name:<15}{calls:>12.1f}  {theory:<26}{calls / base_calls:>8.2f}{model_s:>15.3f}"
              f"{model_s / base_model_s:>10.2f}{total_s:>15.2f}{total_s / base_total_s:>9.2f}{frames:>8}")
    kstep, brute = rows[0], rows[1]
    print(f"k-step search costs {kstep[1] / brute[1]:.2f}x the model calls of brute force "
          f"({kstep[3] / brute[3]:.2f}x its model seconds); total seconds include VAE encode/decode, which dominate "
          "on a tiny model.")


if __name__ == "__main__":
    main()
