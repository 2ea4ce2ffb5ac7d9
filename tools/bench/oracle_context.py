"""Chunked continuation with other context noise levels, on the exact and the mismatched oracle denoiser.

    python -m tools.bench.oracle_context                                   # every variant, W = 0.5, 400 frames, 2 seeds
    python -m tools.bench.oracle_context --identity 0 --variants k5_a3_s24:cap0.2,k5_a3_s24:clean
    python -m tools.bench.oracle_context --partitions 5 --seeds 4 --variants k2_a4_s24:pipeline2m   # 45 steps

The shipped continuation (:mod:`infinite_video.samplers.continuation`) holds its context (anchors, newest finished
latents) clean at sigma 0 next to a chunk at the ladder's level: exact for a model that reads every frame's level,
and far off for one trained on single-level windows (``oracle.MismatchedDenoiser`` reads the whole window at its
mean level, so it takes part of the chunk's noise for signal and discounts the context). These variants spread the
window's levels less, or not at all, and are measured here against the issue's targets; none is shipped.

A variant is ``k{chunk}_a{anchors}_s{anchor_every}:{context}``; ``context`` is one of

- ``clean``: the shipped behaviour (context at sigma 0); ``clean2m``: the same with DPM-Solver++(2M) steps;
- ``scale{a}``: context re-noised to ``a * sigma`` of the chunk (``scale1`` is the shipped shared-level mode);
- ``cap{c}``: context at ``min(sigma, c)``: soft while the chunk is noisy, the chunk's own level below ``c``;
- ``late{lo}``: context clean while the chunk is above ``lo``, at the chunk's level below it;
- ``anchors{A}_recent{R}``: anchors at ``min(sigma, A)``, the newest finished latents at ``min(sigma, R)``;
- ``guide{w}_{n}``: clean context plus context guidance (``D + w (D - D_chunk_only)``, one more call per step) over
  the first ``n`` steps;
- ``newest{n}_above{A}``: while the chunk is above ``A``, the window holds only the ``n`` newest context latents
  (anchors join below ``A``);
- ``quiet{q}``: every frame given the chunk's level, the context as ``(1 - sigma) clean + q sigma noise``
  (``quiet1`` is ``scale1``; ``quiet0`` keeps the context's signal and drops its noise);
- ``repaint{r}_{j}`` (``_fixed``: one context noise draw per chunk): ``scale1`` with RePaint's resampling, every
  ``j`` steps re-noised back and run again, ``r`` times in all;
- ``pipeline``: two chunks in flight at two levels (:func:`run_pipeline`), ``chunk`` latents each; ``pipeline2m``:
  the same with DPM-Solver++(2M) steps; ``pipeline_eta{e}``: ancestral Euler steps with ``eta`` e;
  ``pipeline_n{n}``, ``pipeline_n{n}_2m``: ``n`` chunks in flight at ``n`` levels; a ``_cap{c}`` suffix
  (``pipeline2m_cap0.3``) puts the context at ``min(sigma of the oldest chunk, c)`` instead of clean;
- ``traj``: every context latent replayed along the path it took when it was denoised, so at step ``i`` every
  window frame sits at ``sigmas[i]`` (a single-level window, which both denoisers read alike);
- ``recon{w}``: ``scale1`` with reconstruction guidance (Ho et al. 2022) without gradients: a second call per step
  with the noisy context moved by ``w alpha (clean - read)``, its chunk estimate taken (the model's Jacobian taken as
  symmetric, so that call gives ``J^T`` times the context's error);
- ``invert{n}``: ``scale1`` with ``n`` more calls per step moving the noisy context by ``alpha (clean - read)`` each
  (Richardson iterations towards a context the model reads as the clean latents);
- ``track{g}`` (``_2m``): the same move made once per call and carried to the next step, no extra call: the engine's
  tracked context (``ContinuationConfig.track``);
- a ``_start{s}`` suffix (``track2_start0.85``): chunks after the first start from the newest finished latent,
  repeated and noised to the first ladder level at or below ``s`` (the engine's ``denoise``, there as a share of the
  ladder).

Re-noised context uses one seeded noise draw per chunk (after the chunk's own noise), as the shared-level mode does;
``clean`` draws none, so its rows equal ``python -m tools.bench.oracle``'s ``cont_k{k}_a{a}_s{s}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
from typing import Callable, Optional

import torch
from torch import Tensor

from infinite_video.samplers.config import ContinuationConfig
from infinite_video.samplers.continuation import ContinuationRun, context_positions
from infinite_video.samplers.denoiser import window_positions
from infinite_video.samplers.fifo import _denoise_grouped, _randn
from infinite_video.samplers.runner import LatentTail, drive
from infinite_video.samplers.steps import ancestral_step, flow_noise_scaling, per_frame_step

from ..testing import oracle

VARIANTS = ("k5_a3_s24:clean", "k5_a3_s24:scale1", "k5_a3_s24:scale0.5", "k5_a3_s24:cap0.2", "k5_a3_s24:cap0.3",
            "k5_a3_s24:late0.3", "k5_a3_s24:anchors0.3_recent0.1", "k5_a3_s24:anchors0.5_recent0.1",
            "k5_a3_s24:guide1_9", "k5_a3_s24:newest1_above0.8", "k5_a3_s24:quiet0", "k5_a3_s24:repaint2_3_fixed",
            "k5_a3_s24:traj", "k6_a2_s24:cap0.2", "k6_a2_s24:anchors0.5_recent0.1", "k7_a1_s24:cap0.2",
            "k2_a3_s24:pipeline", "k3_a2_s24:pipeline")

# (sigma of the chunk, number of anchors in the window, context slots) -> [c] context sigmas, or None for clean
ContextLevels = Callable[[float, int, int], Optional[list[float]]]


def context_levels(spec: str) -> ContextLevels:
    """The context's noise levels of a ``context`` spec (module docstring)."""
    num = r"(\d+(?:\.\d+)?)"
    if spec.startswith(("quiet", "recon", "invert", "track")):  # every frame at the chunk's level
        return lambda s, na, c: [s] * c
    if spec in ("clean", "clean2m", "traj") or spec.startswith(("guide", "newest", "repaint")):
        return lambda s, na, c: None
    if m := re.fullmatch(f"scale{num}", spec):
        return lambda s, na, c, a=float(m[1]): [a * s] * c
    if m := re.fullmatch(f"cap{num}", spec):
        return lambda s, na, c, v=float(m[1]): [min(s, v)] * c
    if m := re.fullmatch(f"late{num}", spec):
        return lambda s, na, c, lo=float(m[1]): [s if s < lo else 0.0] * c
    if m := re.fullmatch(f"anchors{num}_recent{num}", spec):
        return lambda s, na, c, a=float(m[1]), r=float(m[2]): [min(s, a)] * na + [min(s, r)] * (c - na)
    raise ValueError(f"unknown context variant {spec!r}: see python -m tools.bench.oracle_context --help")


class ContextRun(ContinuationRun):
    """:class:`ContinuationRun` with the context at the levels of ``levels``, context guidance, or replayed paths."""

    def __init__(self, *args, spec: str = "clean", **kwargs):
        super().__init__(*args, **kwargs)
        ms = re.search(r"_start(\d+(?:\.\d+)?)", spec)
        self.start = float(ms[1]) if ms else None
        spec = re.sub(r"_start(\d+(?:\.\d+)?)", "", spec)
        self.levels = context_levels(spec)
        m = re.fullmatch(r"guide(\d+(?:\.\d+)?)_(\d+)", spec)
        self.guide_w, self.guide_n = (float(m[1]), int(m[2])) if m else (0.0, 0)
        self.traj: Optional[dict[int, list[Tensor]]] = {} if spec == "traj" else None
        m = re.fullmatch(r"quiet(\d+(?:\.\d+)?)", spec)
        self.quiet = float(m[1]) if m else None
        m = re.fullmatch(r"repaint(\d+)_(\d+)(_fixed)?", spec)
        self.repaint = (int(m[1]), int(m[2]), m[3] is not None) if m else None
        m = re.fullmatch(r"newest(\d+)_above(\d+(?:\.\d+)?)", spec)
        self.few, self.few_above = (int(m[1]), float(m[2])) if m else (None, 2.0)
        m = re.fullmatch(r"recon(\d+(?:\.\d+)?)(_2m)?", spec)
        self.recon = float(m[1]) if m else None
        mt = re.fullmatch(r"track(\d+(?:\.\d+)?)(_2m)?", spec)
        self.track = float(mt[1]) if mt else None
        mi = re.fullmatch(r"invert(\d+)", spec)
        self.invert = int(mi[1]) if mi else None
        self.order = 2 if spec == "clean2m" or (m and m[2]) or (mt and mt[2]) else 1

    def iterate(self) -> list[tuple[int, Tensor]]:
        """One chunk per iteration over the whole ladder (the engine's ``in_flight`` 1), by this class's
        :meth:`_chunk`."""
        n, f = self.done_count, self.window
        new = self._chunk(n, f if n == 0 else min(int(self.cfg.chunk), self.frames - n))
        self._keep(n, new)
        self.it += 1
        return [(n + p, new[:, :, p:p + 1]) for p in range(new.shape[2]) if n + p < self.frames]

    def _window(self, n: int, m: int):
        """The chunk's window as the engine builds it: ``(m, anchors, recent, positions list, positions, context
        count, the chunk's starting noise, the clean context)``."""
        f = self.window
        m = max(m, f - n)
        anc, rec = context_positions(n, m, f, self.anchor_at)
        pos = anc + rec + list(range(n, n + m))
        positions = window_positions(pos, self.like)
        c = len(pos) - m
        b, ch, _, h, w = self.like.shape
        x = self.ns(self.sigmas[:1].expand(m), _randn((b, ch, m, h, w), self.gen, self.like),
                    torch.zeros((b, ch, m, h, w), dtype=self.like.dtype, device=self.like.device))
        ctx = [self.anchors[p] for p in anc] + ([self.recent[:, :, self.recent.shape[2] - len(rec):]] if rec else [])
        return m, anc, rec, pos, positions, c, x, (torch.cat(ctx, dim=2) if ctx else x[:, :, :0])

    def _chunk(self, n: int, m: int) -> Tensor:
        if self.repaint is not None:
            return self._repaint(n, m)
        f = self.window
        m, anc, rec, pos, positions, c, x, clean = self._window(n, m)
        b, ch, _, h, w = self.like.shape
        soft = c > 0 and self.levels(1.0, len(anc), c) is not None
        ctx_noise = _randn((b, ch, c, h, w), self.gen, self.like) if soft else None
        path, old, i0 = [], None, 0
        if self.start is not None and c:  # SDEdit from the newest finished latent, repeated
            i0 = int((self.sigmas > self.start).sum())
            guess = clean[:, :, -1:].expand(-1, -1, m, -1, -1)
            x = self.ns(self.sigmas[i0].expand(m), x / self.sigmas[0], guess)  # x: the chunk's noise at sigma 1
        for i in range(i0, self.sigmas.shape[0] - 1):
            s, s_next = self.sigmas[i].expand(m), self.sigmas[i + 1].expand(m)
            ctx_x, ctx_sig = clean, self.sigmas.new_zeros(c)
            if self.traj is not None:  # every context latent at this step's level, from its own path
                path.append(x)
                ctx_x = torch.cat([self.traj[p][i] for p in anc + rec], dim=2) if c else clean
                ctx_sig = self.sigmas[i].expand(c)
            elif self.quiet is not None and c:  # the chunk's level for every frame, the context with less noise
                ctx_sig = self.sigmas[i].expand(c)
                ctx_x = (1 - ctx_sig[None, None, :, None, None]) * clean + self.quiet * ctx_sig[
                    None, None, :, None, None] * ctx_noise
            elif ctx_noise is not None:
                ctx_sig = torch.tensor(self.levels(float(self.sigmas[i]), len(anc), c), dtype=self.sigmas.dtype)
                ctx_x = self.ns(ctx_sig, ctx_noise, clean)
            sig = torch.cat([ctx_sig, s]).expand(b, -1)
            win, wpos, wc = torch.cat([ctx_x, x], dim=2), pos, c
            if self.few is not None and float(self.sigmas[i]) > self.few_above:  # only the newest context latents
                wc = min(c, self.few)
                win, sig, wpos = win[:, :, c - wc:], sig[:, c - wc:], pos[c - wc:]
            full = _denoise_grouped(self.den, win, sig, wpos, self.ranges, window_positions(wpos, self.like))
            den = full[:, :, wc:]
            if c and self.recon is not None:
                # reconstruction guidance (Ho et al. 2022) without gradients: J^T r = J r for a denoiser whose
                # Jacobian is symmetric (Tweedie), and J r is the change of the chunk's estimate when the noisy
                # context moves by r; linear here, so one more call with the context nudged gives it exactly
                r = clean - full[:, :, :c]
                nudged = torch.cat([ctx_x + self.recon * (1 - float(self.sigmas[i])) * r, x], dim=2)
                den = _denoise_grouped(self.den, nudged, sig, wpos, self.ranges, window_positions(wpos, self.like))[
                    :, :, c:]
            if c and self.track is not None:  # the context's noise follows the model's reading of it
                # the engine's tracked context (ContinuationRun._track) on the flow ladder: the noisy context moves
                # by g alpha (clean - read) for the next step
                sg = float(self.sigmas[i])
                ctx_noise = ctx_noise + self.track * (1 - sg) / sg * (clean - full[:, :, :c])
            if c and self.invert is not None:  # Richardson iterations on D_a(z_a, z_b) = clean
                za = ctx_x
                for _ in range(self.invert):
                    za = za + (1 - float(self.sigmas[i])) * (clean - full[:, :, :c])
                    full = _denoise_grouped(self.den, torch.cat([za, x], dim=2), sig, wpos, self.ranges,
                                            window_positions(wpos, self.like))
                den = full[:, :, c:]
            if c and i < self.guide_n:  # context guidance against the chunk alone
                alone = _denoise_grouped(self.den, x, s.expand(b, -1), pos[c:], self.ranges, positions[c:])
                den = den + self.guide_w * (den - alone)
            if self.order == 2:
                den, old = oracle.flow_2m_denoised(den, old, self.sigmas, i), den
            x = per_frame_step(self.rule, x, den, s.expand(b, -1), s_next.expand(b, -1), eta=self.eta,
                               noise_scaling=self.ns)
        if self.traj is not None:
            self.traj.update({n + j: [p[:, :, j:j + 1] for p in path] for j in range(m)})
            keep = set(self.anchor_at) | set(range(n + m - (f - 1), n + m))
            self.traj = {p: t for p, t in self.traj.items() if p in keep}
        return x


    def _repaint(self, n: int, m: int) -> Tensor:
        """Shared-level windows (context re-noised to the chunk's level) with RePaint's resampling (Lugmayr et al.
        2022): after every ``jump`` steps, re-noise the chunk back ``jump`` steps and run them again, ``rounds`` times
        in all."""
        rounds, jump, fixed = self.repaint
        m, anc, rec, pos, positions, c, x, clean = self._window(n, m)
        b, ch, _, h, w = self.like.shape
        ctx_noise = _randn((b, ch, c, h, w), self.gen, self.like) if c else None
        steps = self.sigmas.shape[0] - 1

        def step(x: Tensor, i: int) -> Tensor:
            sg = self.sigmas[i].expand(c + m)
            cn = ctx_noise if fixed or ctx_noise is None else _randn((b, ch, c, h, w), self.gen, self.like)
            ctx_x = self.ns(sg[:c], cn, clean) if c else clean
            den = _denoise_grouped(self.den, torch.cat([ctx_x, x], dim=2), sg.expand(b, -1), pos, self.ranges,
                                   positions)[:, :, c:]
            return per_frame_step(self.rule, x, den, sg[c:].expand(b, -1), self.sigmas[i + 1].expand(b, m),
                                  eta=self.eta, noise_scaling=self.ns)

        i0 = 0
        while i0 < steps:
            i1 = min(i0 + jump, steps)
            for r in range(rounds):
                for i in range(i0, i1):
                    x = step(x, i)
                if r < rounds - 1 and i1 < steps:  # flow forward noising from sigmas[i1] back to sigmas[i0]
                    s0, s1 = float(self.sigmas[i0]), float(self.sigmas[i1])
                    a = (1 - s0) / (1 - s1)
                    x = a * x + (s0 ** 2 - (a * s1) ** 2) ** 0.5 * _randn(x.shape, self.gen, x)
                elif r < rounds - 1:
                    break
            i0 = i1
        return x


def run_pipeline(k: int, anchors: int, every: int, d: oracle.ExactDenoiser, st: oracle.Setting, frames: int,
                 seed: int, batch: int, size: int, order: int = 1, eta: float = 0.0, inflight: int = 2,
                 cap: Optional[float] = None) -> Tensor:
    """``inflight`` chunks of ``k`` latents at ``inflight`` levels: the window is ``[context (f - n k) | oldest
    chunk | ... | newest chunk]``; every iteration of ``h = ceil(T / n)`` calls moves the chunk ``j`` places from
    the newest from ``sigmas[j h]`` to ``sigmas[(j + 1) h]`` (clean when it is done early); the oldest is emitted and
    a new chunk starts from noise. The first ``f`` latents are one native window. Deterministic Euler (``order`` 1),
    DPM-Solver++(2M) (``order`` 2, each chunk with its own history), or ancestral Euler with ``eta`` > 0 (fresh
    noise from the same generator); flow matching. ``cap``: the context sits at ``min(sigma of the oldest chunk,
    cap)`` instead of clean, re-noised from one draw per chunk (the window's levels spread less, for a model that
    reads them as one)."""
    f, sig = st.window, oracle.ladder("cont_k5_a3_s24", st)
    steps, n = len(sig) - 1, inflight
    h = -(-steps // n)
    if f - n * k < 1:
        raise ValueError(f"{n} chunks of {k} leave no context slot in a window of {f}")
    if anchors > f - n * k - 1:  # context_positions keeps one slot for the newest latent and drops extra anchors
        raise ValueError(f"{anchors} anchors do not fit beside {n} chunks of {k} in a window of {f}: at most "
                         f"{max(0, f - n * k - 1)}")
    g = torch.Generator().manual_seed(seed)
    shape = (batch, 4, k, size, size)
    out = oracle.native_window(d, (batch, 4, f, size, size), sig, [(0, steps)], g)
    anchor_at = [j * every for j in range(anchors)]

    def step(x: Tensor, den: Tensor, i: int) -> Tensor:
        if eta > 0:
            s, s_next = sig[i].expand(1, k), sig[i + 1].expand(1, k)
            return ancestral_step(x, den, s, s_next, torch.randn(x.shape, generator=g), eta, flow_noise_scaling)
        return x + (x - den) / float(sig[i]) * float(sig[i + 1] - sig[i])

    # in flight, oldest first: [latents, positions, previous estimate, steps done]
    chunks = [[torch.randn(shape, generator=g), list(range(f, f + k)), None, 0]]
    while out.shape[2] < frames:
        anc, rec = context_positions(chunks[0][1][0], n * k, f, anchor_at)
        cpos = anc + rec
        clean = out[:, :, cpos]  # the context stays fixed while these chunks move
        ctx_noise = torch.randn(clean.shape, generator=g) if cap is not None else None
        for _ in range(h):
            lvl = 0.0 if cap is None else min(float(sig[min(chunks[0][3], steps)]), cap)
            ctx = clean if ctx_noise is None else (1 - lvl) * clean + lvl * ctx_noise
            xs, sg, pos = [ctx], [lvl] * len(cpos), list(cpos)
            for c in chunks:
                xs.append(c[0])
                sg, pos = sg + [float(sig[min(c[3], steps)])] * k, pos + c[1]
            den = d(torch.cat(xs, 2), torch.tensor(sg).expand(batch, -1), positions=torch.tensor(pos))
            for j, c in enumerate(chunks):
                if c[3] < steps:
                    cd = den[:, :, len(cpos) + j * k:len(cpos) + (j + 1) * k]
                    c[0] = step(c[0], oracle.flow_2m_denoised(cd, c[2], sig, c[3]) if order == 2 else cd, c[3])
                    c[2], c[3] = cd, c[3] + 1
        if len(chunks) == n:
            out = torch.cat([out, chunks.pop(0)[0]], 2)
        chunks.append([torch.randn(shape, generator=g), [p + k for p in chunks[-1][1]], None, 0])
    return out[:, :, :frames]


def run_variant(variant: str, st: oracle.Setting, frames: int, rho: float, w: float, den: str, seed: int,
                batch: int = 8, size: int = 8) -> tuple[Tensor, int]:
    """``(video, model calls)`` of one variant on the oracle."""
    m = re.fullmatch(r"k(\d+)_a(\d+)_s(\d+):(.+)", variant)
    if m is None:
        raise ValueError(f"variant {variant!r} is not k{{chunk}}_a{{anchors}}_s{{anchor_every}}:{{context}}")
    d = oracle.DENOISERS[den](rho, w)
    if p := re.fullmatch(r"pipeline(?:_n(\d+))?(_?2m|_eta(\d+(?:\.\d+)?))?(?:_cap(\d+(?:\.\d+)?))?", m[4]):
        order, eta = (2 if p[2] and p[2].endswith("2m") else 1), (float(p[3]) if p[3] else 0.0)
        return run_pipeline(int(m[1]), int(m[2]), int(m[3]), d, st, frames, seed, batch, size, order, eta,
                            int(p[1] or 2), float(p[4]) if p[4] else None), d.calls
    cfg = ContinuationConfig(int(m[1]), int(m[2]), int(m[3]))
    sig = oracle.ladder("cont_k5_a3_s24", st)
    latent = torch.zeros(batch, 4, st.window, size, size)
    run = ContextRun(cfg, d, latent, sig, st.window, frames, generator=torch.Generator().manual_seed(seed),
                     noise_scaling=flow_noise_scaling, spec=m[4])
    return drive(run, LatentTail((batch, 4, size, size), frames, None, latent.device), None, None), d.calls


def native_reference(st: oracle.Setting, rho: float, w: float, order: int, seeds: int, batch: int = 64,
                     size: int = 8) -> tuple[float, float]:
    """``(var, lag-1)`` of one window sampled natively (every frame at one level) on the variants' ladder with Euler
    (``order`` 1) or DPM-Solver++(2M) (``order`` 2): the discretisation reference of a chain on that ladder and solver
    (both denoisers read a single-level window alike, so one reference serves both)."""
    sig, f = oracle.ladder("cont_k5_a3_s24", st), st.window
    ms = [oracle.measure(oracle.native_window(oracle.DENOISERS["exact"](rho, w), (batch, 4, f, size, size), sig,
                                              [(0, len(sig) - 1)], torch.Generator().manual_seed(seed),
                                              torch.arange(f), order))
          for seed in range(seeds)]
    return sum(m.var for m in ms) / seeds, sum(m.lag1 for m in ms) / seeds


def border_lag1(videos: list[Tensor], chunk: int, window: int) -> tuple[float, float]:
    """Mean lag-1 correlation over the pairs that cross a chunk border (the last latent of one chunk, the first of
    the next: chunks start at ``window + j * chunk``) and over the pairs inside a chunk, after the first window."""
    prof = sum(oracle.lag_profile(v, 1) for v in videos) / len(videos)
    t = torch.arange(window, prof.shape[0])
    across = (t + 1 - window) % chunk == 0
    return float(prof[t[across]].mean()), float(prof[t[~across]].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--identity", type=float, default=0.5)
    ap.add_argument("--rho", type=float, default=0.9)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--partitions", type=int, default=oracle.SMALL.partitions,
                    help="ladder of window x partitions steps (default 3: 27 steps, the issue's setting; 4: 36, 5: 45)")
    ap.add_argument("--borders", action="store_true", help="also print lag-1 across chunk borders and inside chunks "
                    "(exact / mismatched)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.partitions < 1:
        ap.error(f"--partitions {args.partitions}: the ladder needs at least 1 partition (window x partitions steps)")
    st = dataclasses.replace(oracle.SMALL, partitions=args.partitions)
    print(f"W {args.identity}, rho {args.rho}, window {st.window}, {st.window * st.partitions} steps, {args.frames} "
          f"frames, {args.seeds} seeds; columns: calls/frame, then exact / mismatched var, lag-1, lags 100-200")
    for order, name in ((1, "Euler"), (2, "2M")):
        var, lag1 = native_reference(st, args.rho, args.identity, order, args.seeds)
        print(f"native window, {name}: var {var:.3f}, lag-1 {lag1:.3f}", flush=True)
    for v in args.variants.split(","):
        t0, row = time.perf_counter(), {}
        for den in ("exact", "mismatched"):
            runs = [run_variant(v, st, args.frames, args.rho, args.identity, den, s) for s in range(args.seeds)]
            ms = [oracle.measure(video) for video, _ in runs]
            row[den] = [sum(getattr(x, k) for x in ms) / len(ms) for k in ("var", "lag1", "lag_distant")]
            if args.borders:
                row[den] += list(border_lag1([video for video, _ in runs], int(v[1:v.index("_")]), st.window))
            cpf = sum(c for _, c in runs) / len(runs) / args.frames
        e, mm = row["exact"], row["mismatched"]
        print(f"| {v} | {cpf:.2f} | {e[0]:.3f} / {mm[0]:.3f} | {e[1]:.3f} / {mm[1]:.3f} | {e[2]:+.3f} / {mm[2]:+.3f} "
              + (f"| border {e[3]:.3f} / {mm[3]:.3f} | inside {e[4]:.3f} / {mm[4]:.3f} " if args.borders else "")
              + f"| {time.perf_counter() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
