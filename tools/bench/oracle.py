"""Every queue sampler against the analytic oracle (``oracle.py``): the full table, for longer runs than the tests.

    python -m tools.bench.oracle                      # both settings, 200 output frames, rho 0.9 and 0
    python -m tools.bench.oracle --setting wan21 --frames 400 --methods tta,tta_guidance
    python -m tools.bench.oracle --identity 0.5 --json identity.json   # small, rho 0.9, 400 frames, 2 seeds

Methods (all on the same exact denoiser, flow matching, deterministic Euler):

- ``chunks``: independent windows sampled natively, concatenated (the borders are visible by construction);
- ``fifo`` / ``fifo_lookahead``: FIFO-Diffusion, ``partitions`` blocks;
- ``dce`` / ``dce_no_lookahead`` / ``dce_guidance``: MIGA's engine on FIFO's diagonal queue (no Zigzag Stage), FIFO
  Queue Init's lookahead on / off, and with in-queue Long-Range Guidance; ``dce_miga``: with Self-Reflection and
  in-queue guidance (the shapes starter workflow's chain);
- ``fifo_auto`` / ``fifo_lookahead_auto``: FIFO with init_mode auto clip (native first clip, no warm-up);
- setting ``few`` (window 20, a model distilled for few steps): ``chunks_s{s}`` native chunks at ``s`` steps,
  ``fifo_s{s}`` / ``fifo_s{s}_noise`` FIFO with groups at ``s`` levels (auto clip / noise start);
- ``zigzag``: Stage 1 only, run to clean; ``tta``: Zigzag + Unified Stage with re-noise; ``tta_no_renoise``;
  ``tta_guidance`` / ``tta_history``: with in-queue / history guidance; ``miga``: everything, self-reflection included.

Columns: mean per-frame variance (``var``, truth 1; ``ref`` is the same ladder run natively on one window), its drift
(last quarter minus first), the mean, pooled lag-1 / lag-3 correlations (truth ``rho``, ``rho^3``), mean correlation
at lags 30-70 (truth ``rho^30..70`` ~ 0) and at lags 100-200, the lowest lag-1 at any stream position and the largest
deviation of a position's lag-1 from the pooled value (``dev1``, at position ``at``): a border at a fixed place shows
there. At ``rho = 0`` the ``path`` column is the exact variance of the ladder path (:func:`oracle.path_variance`).

``--identity W`` adds the component constant over the whole video (share ``W``; truth at lags 100-200: ``W``), so
the ``100-200`` column says how much of a subject's identity a method keeps; its defaults are the issue's setting
(``small``, rho 0.9, 400 frames, 2 seeds, metrics averaged over the seeds). ``--json FILE`` writes one object per
method and setting/rho: ``calls_per_frame``, ``var``, ``var_native``, ``lag1``, ``lag1_native``, ``mid`` (lags
30-70), ``far`` (lags 100-200), ``far_truth``, ``shipped`` (a shipped workflow or node default runs the chain).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ..testing import oracle

SETTINGS = {"small": oracle.SMALL, "wan21": oracle.WAN21, "few": oracle.FEW}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", default=None, help="comma-separated: small, wan21 (default both; small with "
                    "--identity)")
    ap.add_argument("--frames", type=int, default=None, help="output latent frames (default 200; 400 with --identity)")
    ap.add_argument("--rho", default=None, help="comma-separated AR(1) lag-1 correlations (default 0.9,0; 0.9 with "
                    "--identity)")
    ap.add_argument("--identity", type=float, default=None, help="share W of the variance constant over the video")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per method, metrics averaged (default 1; 2 with "
                    "--identity)")
    ap.add_argument("--methods", default=None, help="comma-separated (default: every method; with --setting few "
                    "the few-step ones: " + ", ".join(oracle.FEW_STEP_METHODS) + ")")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=8, help="latent height = width")
    ap.add_argument("--slide", type=int, default=0, help="Zigzag Stage slide (0 = auto)")
    ap.add_argument("--json", default=None, help="write the results to this file")
    args = ap.parse_args()
    ident = args.identity is not None
    w = float(args.identity) if ident else 0.0
    try:
        oracle.check_process(0.0, w)
    except ValueError as e:
        ap.error(f"--identity: {e}")
    settings = args.setting or ("small" if ident else "small,wan21")
    frames = args.frames or (400 if ident else 200)
    rhos = [float(r) for r in (args.rho or ("0.9" if ident else "0.9,0")).split(",")]
    seeds = args.seeds or (2 if ident else 1)
    torch.set_num_threads(1)
    results = []
    for sname in settings.split(","):
        st = SETTINGS[sname]
        if args.slide:
            st = oracle.dataclasses.replace(st, slide=args.slide)
        for rho in rhos:
            oracle.check_process(rho, w)
            print(f"\n{sname}: window {st.window}, zigzag {st.steps} steps, L {st.group}, E {st.end_step}, guidance "
                  f"{st.guidance}, FIFO {st.window}x{st.partitions}, slide {st.slide or 'auto'}; rho {rho}, identity "
                  f"{w}, {frames} frames, {args.batch}x4x{args.size}x{args.size} samples per frame, {seeds} seed(s); "
                  f"truth: lag1 {oracle.truth_corr(1, rho, w):.3f}, lag30-70 "
                  f"{oracle.truth_mean_corr(oracle.MID_LAGS, rho, w):.3f}, 100-200 "
                  f"{oracle.truth_mean_corr(oracle.FAR_LAGS, rho, w):.3f}")
            print(f"{'method':18s} {oracle.Measure.HEADER} {'ref':>6s} {'ref1':>6s} {'path':>6s} {'calls/f':>7s} "
                  f"{'s':>5s}")
            methods = args.methods or ",".join(oracle.FEW_STEP_METHODS if sname == "few" else oracle.METHODS)
            for method in methods.split(","):
                t0 = time.perf_counter()
                runs = [oracle.run_method(method, st, frames, rho, batch=args.batch, size=args.size, seed=seed,
                                          identity=w) for seed in range(seeds)]
                sec = time.perf_counter() - t0
                ms = [oracle.measure(video) for video, _ in runs]
                m = oracle.Measure(frames, *[sum(getattr(x, f.name) for x in ms) / len(ms)
                                             for f in oracle.dataclasses.fields(oracle.Measure)[1:-1]],
                                   ms[0].lag1_dev_at)
                calls = sum(c for _, c in runs) / len(runs)
                sig = oracle.ladder(method, st)
                ref = oracle.native_window(oracle.ExactDenoiser(rho, w), (args.batch * 16 * seeds, 4, st.window,
                                                                           args.size, args.size),
                                           sig, oracle.legs(method, st), torch.Generator().manual_seed(1))
                path = oracle.path_variance(sig, oracle.legs(method, st))
                var_ref, lag1_ref = float(oracle.frame_variance(ref).mean()), oracle.lag_corr(ref, 1)
                print(f"{method:18s} {m.row()} {var_ref:6.3f} {lag1_ref:6.3f} {path:6.3f} {calls / frames:7.2f} "
                      f"{sec:5.1f}", flush=True)
                results.append({
                    "method": method, "setting": sname, "rho": rho, "identity": w, "frames": frames, "seeds": seeds,
                    "calls_per_frame": calls / frames, "var": m.var, "var_native": var_ref, "lag1": m.lag1,
                    "lag1_native": lag1_ref, "lag1_truth": oracle.truth_corr(1, rho, w), "mid": m.lag_far,
                    "far": m.lag_distant, "far_truth": oracle.truth_mean_corr(oracle.FAR_LAGS, rho, w),
                    "shipped": method in oracle.SHIPPED, "seconds": sec})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
        print(f"\nwrote {len(results)} results to {args.json}")


if __name__ == "__main__":
    main()
