"""Every queue sampler against the analytic oracle (``oracle.py``): the full table, for longer runs than the tests.

    python -m tools.bench.oracle                      # both settings, 200 output frames, rho 0.9 and 0
    python -m tools.bench.oracle --setting wan21 --frames 400 --methods tta,tta_guidance

Methods (all on the same exact denoiser, flow matching, deterministic Euler):

- ``chunks``: independent windows sampled natively, concatenated (the borders are visible by construction);
- ``fifo`` / ``fifo_lookahead``: FIFO-Diffusion, ``partitions`` blocks;
- ``dce`` / ``dce_no_lookahead`` / ``dce_guidance``: MIGA's engine on FIFO's diagonal queue (no Zigzag Stage), FIFO
  Queue Init's lookahead on / off, and with in-queue Long-Range Guidance;
- ``zigzag``: Stage 1 only, run to clean; ``tta``: Zigzag + Unified Stage with re-noise; ``tta_no_renoise``;
  ``tta_guidance`` / ``tta_history``: with in-queue / history guidance; ``miga``: everything, self-reflection included.

Columns: mean per-frame variance (``var``, truth 1; ``ref`` is the same ladder run natively on one window), its drift
(last quarter minus first), the mean, pooled lag-1 / lag-3 correlations (truth ``rho``, ``rho^3``), mean correlation
at lags 30-70 (truth ``rho^30..70`` ~ 0), the lowest lag-1 at any stream position and the largest deviation of a
position's lag-1 from the pooled value (``dev1``, at position ``at``): a border at a fixed place shows there. At
``rho = 0`` the ``path`` column is the exact variance of the ladder path (:func:`oracle.path_variance`).
"""

from __future__ import annotations

import argparse
import time

import torch

from ..testing import oracle

SETTINGS = {"small": oracle.SMALL, "wan21": oracle.WAN21}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", default="small,wan21", help="comma-separated: small, wan21")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--rho", default="0.9,0", help="comma-separated AR(1) lag-1 correlations")
    ap.add_argument("--methods", default=",".join(oracle.METHODS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=8, help="latent height = width")
    ap.add_argument("--slide", type=int, default=0, help="Zigzag Stage slide (0 = auto)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for sname in args.setting.split(","):
        st = SETTINGS[sname]
        if args.slide:
            st = oracle.dataclasses.replace(st, slide=args.slide)
        for rho in (float(r) for r in args.rho.split(",")):
            print(f"\n{sname}: window {st.window}, zigzag {st.steps} steps, L {st.group}, E {st.end_step}, guidance "
                  f"{st.guidance}, FIFO {st.window}x{st.partitions}, slide {st.slide or 'auto'}; rho {rho}, "
                  f"{args.frames} frames, {args.batch}x4x{args.size}x{args.size} samples per frame")
            print(f"{'method':18s} {oracle.Measure.HEADER} {'ref':>6s} {'ref1':>6s} {'path':>6s} {'calls/f':>7s} "
                  f"{'s':>5s}")
            for method in args.methods.split(","):
                t0 = time.perf_counter()
                video, calls = oracle.run_method(method, st, args.frames, rho, batch=args.batch, size=args.size)
                sec = time.perf_counter() - t0
                m = oracle.measure(video)
                sig = oracle.ladder(method, st)
                ref = oracle.native_window(oracle.ExactDenoiser(rho), (args.batch * 4, 4, st.window, args.size,
                                                                        args.size), sig, oracle.legs(method, st),
                                           torch.Generator().manual_seed(1))
                path = oracle.path_variance(sig, oracle.legs(method, st))
                print(f"{method:18s} {m.row()} {float(oracle.frame_variance(ref).mean()):6.3f} "
                      f"{oracle.lag_corr(ref, 1):6.3f} {path:6.3f} {calls / args.frames:7.2f} {sec:5.1f}")


if __name__ == "__main__":
    main()
