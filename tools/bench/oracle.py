"""Every queue sampler against the analytic oracle (``oracle.py``): the full table, for longer runs than the tests.

    python -m tools.bench.oracle                      # both settings, 200 output frames, rho 0.9 and 0
    python -m tools.bench.oracle --setting wan21 --frames 400 --methods tta,tta_guidance
    python -m tools.bench.oracle --identity 0.5 --json identity.json   # small, rho 0.9, 400 frames, 2 seeds
    python -m tools.bench.oracle --identity 0.5 --full --json all.json # every method and continuation candidate
    python -m tools.bench.oracle_tables identity.json                  # the markdown tables of docs/benchmarks.md

Methods (flow matching, deterministic Euler; the exact denoiser unless ``--denoiser`` says otherwise):

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

More methods by name: ``fifo_p{n}`` / ``fifo_lookahead_p{n}`` (FIFO with ``n`` partitions; ``fifo_lookahead_p2`` is
FIFO Queue Init's defaults; ``fifo_w{f}_p{n}``: with a window of ``f``), ``cont_k{chunk}_a{anchors}_s{anchor_every}``
(chunked continuation; then ``_n{in_flight}`` chunks in flight, ``_2m`` the sampler's dpmpp_2m, judged against native
DPM-Solver++(2M) sampling, ``_p{n}`` a ladder of ``window x n`` steps), ``native`` (one window sampled natively on the
setting's FIFO ladder: the reference row, no long video, so no far-lag columns).

``--identity W`` adds the component constant over the whole video (share ``W``; truth at lags 100-200: ``W``), so
the ``100-200`` column says how much of a subject's identity a method keeps; its defaults are the issue's setting
(``small``, rho 0.9, 400 frames, 2 seeds, metrics averaged over the seeds), the shipped chains plus the reference and
candidate rows (``--full``: every method and continuation candidate), each on the exact and the mismatched denoiser.
``--denoiser exact,mismatched`` picks them (``mismatched``: a model trained on single-level windows only,
:class:`oracle.MismatchedDenoiser`). ``--json FILE`` writes one object per method, denoiser and setting/rho:
``calls_per_frame``, ``var``, ``var_native``, ``lag1``, ``lag1_native``, ``mid`` (lags 30-70), ``far`` (lags
100-200), ``far_truth``, ``shipped`` (a shipped workflow or node default runs the chain), ``denoiser``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ..testing import oracle

SETTINGS = {"small": oracle.SMALL, "wan21": oracle.WAN21, "few": oracle.FEW}

# --identity's default rows: the references, FIFO without lookahead, every shipped chain, continuation without anchors
IDENTITY_METHODS = ("native", "chunks", "fifo", "fifo_lookahead", "fifo_lookahead_p2", "dce_miga", "miga",
                    # Chunked Continuation's defaults (tracked context, denoise 0.5), then without each part: the
                    # whole ladder, no tracking (shared level), clean context, neither; the defaults until 2026-12-04
                    "cont_k4_a4_s24_t2_d0.5", "cont_k4_a4_s24_t2", "cont_k4_a4_s24_shared_d0.5", "cont_k4_a4_s24_d0.5",
                    "cont_k4_a4_s24", "cont_k5_a3_s24",
                    # 2 chunks in flight, 4 anchors, dpmpp_2m on a ladder of 5 partitions (45 steps; node options)
                    "cont_k2_a4_s24_n2_2m_p5")
# --full: every method and the continuation candidates (chunk 3-7, anchors 0 to the most that fit, anchor_every 12-48)
CANDIDATES = tuple(f"cont_k{k}_a{a}_s{e}" for k in (3, 4, 5) for a in (0, 2, 3) for e in (24,)) + (
    "cont_k5_a3_s12", "cont_k5_a3_s48", "cont_k4_a4_s24", "cont_k3_a5_s24", "cont_k6_a0_s24", "cont_k6_a2_s24",
    "cont_k7_a0_s24", "cont_k7_a1_s24")
FULL_METHODS = tuple(dict.fromkeys(("native",) + oracle.METHODS + IDENTITY_METHODS + CANDIDATES))


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
    ap.add_argument("--methods", default=None, help="comma-separated (default: every method; with --identity the "
                    "shipped chains, references and main candidates; with --setting few the few-step ones: " +
                    ", ".join(oracle.FEW_STEP_METHODS) + ")")
    ap.add_argument("--full", action="store_true", help="every method and continuation candidate")
    ap.add_argument("--denoiser", default=None, help="comma-separated: exact, mismatched (default exact; both with "
                    "--identity)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=8, help="latent height = width")
    ap.add_argument("--slide", type=int, default=0, help="Zigzag Stage slide (0 = auto)")
    ap.add_argument("--window", type=int, default=0, help="window length instead of the setting's (0 = keep), e.g. "
                    "31 for Wan 2.2 5B")
    ap.add_argument("--partitions", type=int, default=0, help="FIFO Queue Init partitions instead of the setting's "
                    "(0 = keep): FIFO's and continuation's ladder is window x partitions steps")
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
    methods = (args.methods or ",".join(FULL_METHODS if args.full else IDENTITY_METHODS if ident else
                                        oracle.METHODS)).split(",")
    denoisers = (args.denoiser or ("exact,mismatched" if ident else "exact")).split(",")
    for d in denoisers:
        if d not in oracle.DENOISERS:
            ap.error(f"--denoiser: {d!r} is not one of {', '.join(oracle.DENOISERS)}")
    torch.set_num_threads(1)
    results = []
    for sname in settings.split(","):
        st = SETTINGS[sname]
        if args.slide:
            st = oracle.dataclasses.replace(st, slide=args.slide)
        if args.window:
            st = oracle.dataclasses.replace(st, window=args.window)
        if args.partitions:
            st = oracle.dataclasses.replace(st, partitions=args.partitions)
        for rho in rhos:
            oracle.check_process(rho, w)
            for den in denoisers:
                print(f"\n{sname}: window {st.window}, zigzag {st.steps} steps, L {st.group}, E {st.end_step}, "
                      f"guidance {st.guidance}, FIFO {st.window}x{st.partitions}, slide {st.slide or 'auto'}; rho "
                      f"{rho}, identity {w}, {den} denoiser, {frames} frames, {args.batch}x4x{args.size}x{args.size} "
                      f"samples per frame, {seeds} seed(s); truth: lag1 {oracle.truth_corr(1, rho, w):.3f}, "
                      f"lag30-70 {oracle.truth_mean_corr(oracle.MID_LAGS, rho, w):.3f}, 100-200 "
                      f"{oracle.truth_mean_corr(oracle.FAR_LAGS, rho, w):.3f}")
                print(f"{'method':18s} {oracle.Measure.HEADER} {'ref':>6s} {'ref1':>6s} {'path':>6s} "
                      f"{'calls/f':>7s} {'s':>5s}")
                for method in (oracle.FEW_STEP_METHODS if sname == "few" and not args.methods else methods):
                    results.append(run_row(method, st, sname, frames, rho, w, den, seeds, args.batch, args.size))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
        print(f"\nwrote {len(results)} results to {args.json}")


def run_row(method: str, st: oracle.Setting, sname: str, frames: int, rho: float, w: float, den: str, seeds: int,
            batch: int, size: int) -> dict:
    """One method on one denoiser, ``seeds`` runs averaged: prints its line, returns its JSON object."""
    t0 = time.perf_counter()
    native = method == "native"
    sig = oracle.ladder("fifo" if native else method, st)
    legs = oracle.legs("fifo" if native else method, st)
    order = 2 if oracle.step_rule(method) == "dpmpp_2m" else 1  # judged against native sampling with its solver
    ref = oracle.native_window(oracle.DENOISERS[den](rho, w), (batch * 16 * seeds, 4, oracle.method_setting(
        method, st).window, size, size), sig, legs, torch.Generator().manual_seed(1), order=order)
    var_ref, lag1_ref = float(oracle.frame_variance(ref).mean()), oracle.lag_corr(ref, 1)
    path = oracle.path_variance(sig, legs)
    if native:  # the reference itself: one window, its ladder's calls per frame
        calls_per_frame, var, lag1, mid, far, line = (len(sig) - 1) / st.window, var_ref, lag1_ref, None, None, \
            f"{var_ref:6.3f} {'':7s} {'':7s} {lag1_ref:6.3f} {'':6s} {'':7s} {'':7s} {'':6s} {'':6s} {'':5s}"
        lag1_min = None
    else:
        runs = [oracle.run_method(method, st, frames, rho, batch=batch, size=size, seed=seed, identity=w,
                                  denoiser=den) for seed in range(seeds)]
        ms = [oracle.measure(video) for video, _ in runs]
        m = oracle.Measure(frames, *[sum(getattr(x, f.name) for x in ms) / len(ms)
                                     for f in oracle.dataclasses.fields(oracle.Measure)[1:-1]], ms[0].lag1_dev_at)
        calls_per_frame = sum(c for _, c in runs) / len(runs) / frames
        var, lag1, mid, far, line = m.var, m.lag1, m.lag_far, m.lag_distant, m.row()
        lag1_min = m.lag1_min
    sec = time.perf_counter() - t0
    print(f"{method:18s} {line} {var_ref:6.3f} {lag1_ref:6.3f} {path:6.3f} {calls_per_frame:7.2f} {sec:5.1f}",
          flush=True)
    return {"method": method, "denoiser": den, "setting": sname, "rho": rho, "identity": w, "frames": frames,
            "seeds": seeds, "calls_per_frame": calls_per_frame, "var": var, "var_native": var_ref, "lag1": lag1,
            "lag1_native": lag1_ref, "lag1_min": lag1_min, "lag1_truth": oracle.truth_corr(1, rho, w), "mid": mid,
            "far": far,
            "far_truth": oracle.truth_mean_corr(oracle.FAR_LAGS, rho, w), "shipped": method in oracle.SHIPPED,
            "seconds": sec}


if __name__ == "__main__":
    main()
