"""Analytic oracle for the queue samplers: a stationary Gaussian video, its exact denoiser, and what to measure.

The "video" is a stationary Gaussian process over latent frames: every latent pixel is an independent sequence
``x[t] = sqrt(W) a + sqrt(1 - W) y[t]`` with ``y[t] = rho * y[t-1] + sqrt(1 - rho^2) * e[t]`` an AR(1) series and
``a ~ N(0, 1)`` drawn once per video: a component constant over the whole video (a subject's identity, share
``W``), so ``Cov(x[s], x[t]) = (1 - W) rho^|s-t| + W`` (unit variance, zero mean; ``W = 0`` is the plain AR(1)
video). For it the ideal denoiser is known in closed form: a window of ``F`` frames at per-frame noise levels
``sigma[F]`` (flow matching, ComfyUI ``CONST``: ``y = (1 - sigma) x0 + sigma n``; clean guidance frames have
``sigma = 0``) has the conditional mean ``E[x0 | y] = K A (A K A + diag(sigma^2))^-1 y`` with ``K`` the covariance
above at the frames' positions and ``A = diag(1 - sigma)``. :class:`ExactDenoiser` implements exactly that; its
frames sit at the stream positions the engine passes (``positions``), consecutive when it passes none.
:class:`MismatchedDenoiser` stands in for a model trained on single-level windows only: the same closed form computed
as if every window frame sat at the window's mean level, so it is exact on single-level windows and wrong on the mixed
windows of FIFO, MIGA and continuation (its docstring says why this design).

Feeding it to the real engines (``sample_fifo``, ``sample_miga``) turns every bookkeeping error into a number:

- with ``rho = 0`` every frame is its own 1-D problem, so the per-frame variance of the output is known exactly for
  the ladder path the frame took (:func:`path_variance`): a skipped or doubled step, or a wrong noise level, shows;
- with ``rho > 0`` the lag-k correlations of the output against the truth (``rho^k``) and against the same ladder run
  natively on one window (:func:`native_window`, the discretisation reference); the lag-1 correlation at every stream
  position (:func:`lag_profile`) shows any border, of any stage, that sits at a fixed place;
- with ``W > 0`` the correlation at far lags (100-200 frames; truth ``W``) says how much of the identity a method
  keeps across the whole video (independent chunks keep none).

Used by ``tests/test_oracle.py`` (fast, asserting) and ``tools/bench/oracle.py`` (the full table, longer runs).
Pure torch, no ComfyUI.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
from torch import Tensor

from infinite_video.samplers import plan_fifo, sample_fifo
from infinite_video.samplers.config import (
    ContinuationConfig,
    GuidanceConfig,
    QueueConfig,
    ReflectionConfig,
    UnifiedConfig,
    ZigzagConfig,
)
from infinite_video.samplers.continuation import NODE_DEFAULTS, sample_continuation
from infinite_video.samplers.miga import MigaStats, sample_miga
from infinite_video.samplers.miga_setup import resolve_miga
from infinite_video.samplers.steps import dpmpp_2m_denoised, flow_noise_scaling


def check_process(rho: float, identity: float = 0.0) -> None:
    """``ValueError`` naming the input unless ``-1 < rho < 1`` and ``0 <= identity < 1``, both finite numbers."""
    checks = (("rho", rho, -1.0, False, "(-1, 1)", "the lag-1 correlation of the AR(1) part"),
              ("identity", identity, 0.0, True, "[0, 1)", "the share W of the variance that is constant over the "
               "whole video (0 = none)"))
    for name, value, lo, lo_in, span, what in checks:
        ok = isinstance(value, (int, float)) and math.isfinite(value) and value < 1 and (
            value >= lo if lo_in else value > lo)
        if not ok:
            raise ValueError(f"the oracle's {name} must be a finite number in {span} ({what}), got {value!r}")


def ar1_cov(n: int, rho: float, positions: Optional[Sequence[int]] = None, identity: float = 0.0) -> Tensor:
    """``[n, n]`` covariance ``(1 - W) rho^|i-j| + W`` of ``n`` frames (consecutive, or at the given stream
    positions), float64; ``W = identity``."""
    p = torch.arange(n, dtype=torch.float64) if positions is None else torch.as_tensor(
        positions, dtype=torch.float64).reshape(-1)
    w = float(identity)
    return (1.0 - w) * float(rho) ** (p[:, None] - p[None, :]).abs() + w


def truth_corr(lag: int, rho: float, identity: float = 0.0) -> float:
    """The true correlation between frames ``lag`` apart."""
    return (1.0 - identity) * rho ** lag + identity


class ExactDenoiser:
    """``D(x[B, C, F, H, W], sigma[B, F], positions=None) -> E[x0 | x]`` for the video above under flow-matching
    noise, ``identity`` the share ``W``.

    Counts its calls in :attr:`calls`. ``positions`` (``[F]`` stream positions) place the frames; without them (or
    with ``use_positions=False``: a model that numbers every window ``0 .. F-1``) they are taken as consecutive.
    """

    def __init__(self, rho: float, identity: float = 0.0, use_positions: bool = True):
        check_process(rho, identity)
        self.rho, self.identity, self.use_positions, self.calls = float(rho), float(identity), use_positions, 0

    def __call__(self, x: Tensor, sigma: Tensor, prompts=None, positions: Optional[Tensor] = None) -> Tensor:
        self.calls += 1
        f = x.shape[2]
        pos = positions if self.use_positions else None
        if pos is not None and torch.as_tensor(pos).numel() != f:
            raise ValueError(f"positions has {torch.as_tensor(pos).numel()} entries for a window of {f} frames")
        s = ar1_cov(f, self.rho, None if pos is None else pos.tolist(), self.identity)
        sig = self.levels(sigma.to(torch.float64).reshape(-1, f))
        a = 1.0 - sig  # [B, F]
        # G = A S A + diag(sigma^2) is symmetric positive definite; M^T = G^-1 A S, out_i = sum_j M_ij y_j
        g = a[:, :, None] * s[None] * a[:, None, :] + torch.diag_embed(sig ** 2)
        mt = torch.linalg.solve(g, a[:, :, None] * s[None])
        m = mt.transpose(1, 2).expand(x.shape[0], -1, -1).to(x.dtype)
        return torch.einsum("bij,bcjhw->bcihw", m, x)

    def levels(self, sigma: Tensor) -> Tensor:
        """``[B, F]`` the noise levels the posterior is computed for: the true ones."""
        return sigma


class MismatchedDenoiser(ExactDenoiser):
    """The same video's denoiser as a model trained on single-level windows only would be: exact when every window
    frame sits at one noise level, wrong when they do not.

    Design: the posterior mean computed as if every frame of the window sat at one shared level, the mean of the
    window's levels in the model's parametrisation (flow sigma = Wan's timestep / 1000): ``E[x0 | y]`` under
    ``sigma_i = mean(sigma)`` for all ``i``, applied to the real input ``y``. Why this one: a model that never saw
    mixed levels cannot tell from the window which frames are clean and which are noisy, so it reads the whole window
    at one typical level; it over-trusts frames noisier than the mean (their noise leaks into the estimate as signal)
    and under-trusts cleaner ones (clean context and anchors at sigma 0 count as noisy evidence). On a single-level
    window (native sampling, independent chunks, the Unified Stage's windows without guidance latents) it equals
    :class:`ExactDenoiser` bit for bit, so native references do not change; FIFO's diagonal windows, MIGA's zigzag
    windows, clean guidance latents and continuation's clean context all pay for the mismatch. It is one plausible
    model of the train-inference gap, not a measurement of a trained network (a real model may read a frame's own
    level from its per-frame time embedding; this one does not).
    """

    def levels(self, sigma: Tensor) -> Tensor:
        same = (sigma == sigma[:, :1]).all(dim=1, keepdim=True)
        return torch.where(same, sigma, sigma.mean(dim=1, keepdim=True).expand_as(sigma))


DENOISERS = {"exact": ExactDenoiser, "mismatched": MismatchedDenoiser}


def ar1_video(shape: tuple[int, int, int, int, int], rho: float, generator: torch.Generator,
              identity: float = 0.0) -> Tensor:
    """A sample of the true process ``[B, C, F, H, W]`` (for checking the metrics themselves)."""
    check_process(rho, identity)
    b, c, f, h, w = shape
    e = torch.randn(shape, generator=generator, dtype=torch.float64)
    x = torch.empty_like(e)
    x[:, :, 0] = e[:, :, 0]
    for t in range(1, f):
        x[:, :, t] = rho * x[:, :, t - 1] + math.sqrt(1 - rho * rho) * e[:, :, t]
    if identity:
        a = torch.randn((b, c, 1, h, w), generator=generator, dtype=torch.float64)
        x = math.sqrt(identity) * a + math.sqrt(1 - identity) * x
    return x.float()


def shifted_ladder(steps: int, shift: float) -> Tensor:
    """Flow-matching sigmas ``[steps + 1]`` from 1 to 0 with Wan's time shift ``s t / (1 + (s - 1) t)``."""
    t = torch.linspace(1.0, 0.0, int(steps) + 1, dtype=torch.float64)
    return (shift * t / (1 + (shift - 1) * t)).float()


# --------------------------------------------------------------------------------------------------------------------
# references


def path_variance(sigmas: Tensor, legs: Sequence[tuple[int, int]]) -> float:
    """Exact output variance, at ``rho = 0``, of a frame that starts as pure noise at level ``legs[0][0]`` and takes
    the deterministic Euler steps of each leg ``(from_level, to_level)``; between legs it is re-noised to the next
    leg's start level (``x = (1 - s) x + s n``, as MIGA's re-denoise pass). Independent of the engines' code."""
    sig = [float(s) for s in sigmas]
    var = None
    for a, b in legs:
        s0 = sig[a]
        var = 1.0 if var is None else (1 - s0) ** 2 * var + s0 ** 2
        for k in range(a, b):
            s, s_next = sig[k], sig[k + 1]
            al = 1.0 - s
            d = al / (al * al + s * s)  # D(y) = d * y for one unit-variance frame
            c = 1.0 + (1.0 - d) * (s_next - s) / s
            var *= c * c
    return float(var)


def flow_2m_denoised(den: Tensor, old: Optional[Tensor], sig: Tensor, i: int) -> Tensor:
    """DPM-Solver++(2M)'s corrected estimate for step ``i`` of the flow ladder ``sig``: the engine's
    :func:`steps.dpmpp_2m_denoised` (the step itself is Euler's with this estimate in place of ``den``)."""
    return dpmpp_2m_denoised(den, old, float(sig[i - 1]) if i else None, float(sig[i]), float(sig[i + 1]),
                             flow_noise_scaling)


def native_window(den: Callable, shape: tuple[int, int, int, int, int], sigmas: Tensor, legs: Sequence[tuple[int, int]],
                  generator: torch.Generator, positions: Optional[Tensor] = None, order: int = 1) -> Tensor:
    """One window of ``F = shape[2]`` frames sampled natively (every frame at one level) along the same legs as
    :func:`path_variance`, with deterministic Euler (``order`` 2: DPM-Solver++(2M), :func:`flow_2m_denoised`, its
    history restarted on every leg): the discretisation reference for a queue sampler on that ladder.
    ``positions`` (``[F]`` stream positions) go to the denoiser when given."""
    extra = {} if positions is None else {"positions": positions}
    x: Optional[Tensor] = None
    for a, b in legs:
        n = torch.randn(shape, generator=generator)
        x = n if x is None else flow_noise_scaling(sigmas[a].expand(shape[2]), n, x)
        old: Optional[Tensor] = None
        for k in range(a, b):
            s = sigmas[k].expand(shape[0], shape[2])
            d = den(x, s, **extra)
            step_d = flow_2m_denoised(d, old, sigmas, k) if order == 2 else d
            x, old = x + (x - step_d) / float(sigmas[k]) * float(sigmas[k + 1] - sigmas[k]), d
    assert x is not None
    return x


# --------------------------------------------------------------------------------------------------------------------
# metrics (zero mean is known, so second moments are not centred)


def _samples(video: Tensor) -> Tensor:
    """``[B, C, F, H, W] -> [F, N]``: one column per independent pixel sequence."""
    return video.to(torch.float64).movedim(2, 0).reshape(video.shape[2], -1)


def frame_variance(video: Tensor) -> Tensor:
    """``[F]`` second moment of every frame over the independent pixel sequences."""
    return _samples(video).pow(2).mean(1)


def lag_profile(video: Tensor, k: int = 1) -> Tensor:
    """``[F - k]`` correlation between frame ``t`` and ``t + k`` at every stream position ``t``."""
    x = _samples(video)
    v = x.pow(2).mean(1)
    return (x[:-k] * x[k:]).mean(1) / (v[:-k] * v[k:]).sqrt()


def lag_corr(video: Tensor, k: int) -> float:
    """Lag-``k`` correlation pooled over all positions."""
    x = _samples(video)
    return float((x[:-k] * x[k:]).mean() / x.pow(2).mean())


@dataclass
class Measure:
    """What the oracle measures on one output video (pooled over the batch and the latent pixels)."""

    frames: int
    var: float  # mean per-frame variance
    var_drift: float  # mean variance of the last quarter minus the first quarter
    mean: float
    lag1: float
    lag3: float
    lag_far: float  # mean correlation at lags 30..70 (truth ~0.01 at rho = 0.9, W at identity W)
    lag_distant: float  # mean correlation at lags 100..200 (truth W: the identity kept across the video)
    lag1_min: float  # lowest lag-1 correlation at any position
    lag1_dev: float  # largest |lag-1 at a position - pooled lag-1|: the most visible border
    lag1_dev_at: int

    def row(self) -> str:
        return (f"{self.var:6.3f} {self.var_drift:+7.3f} {self.mean:+7.3f} {self.lag1:6.3f} {self.lag3:6.3f} "
                f"{self.lag_far:+7.3f} {self.lag_distant:+7.3f} {self.lag1_min:6.3f} {self.lag1_dev:6.3f} "
                f"{self.lag1_dev_at:5d}")

    HEADER = f"{'var':>6s} {'drift':>7s} {'mean':>7s} {'lag1':>6s} {'lag3':>6s} {'lag30-70':>7s} {'100-200':>7s} " \
             f"{'min1':>6s} {'dev1':>6s} {'at':>5s}"


MID_LAGS = tuple(range(30, 71, 10))
FAR_LAGS = tuple(range(100, 201, 10))


def truth_mean_corr(lags: Sequence[int], rho: float, identity: float = 0.0) -> float:
    """The true mean correlation over ``lags`` (the ``lag30-70`` / ``100-200`` columns' truth)."""
    return sum(truth_corr(k, rho, identity) for k in lags) / len(lags)


def measure(video: Tensor) -> Measure:
    v = frame_variance(video)
    q = max(1, v.shape[0] // 4)
    prof = lag_profile(video, 1)
    pooled = lag_corr(video, 1)
    dev = (prof - pooled).abs()
    far = [lag_corr(video, k) for k in MID_LAGS if k < video.shape[2]]
    distant = [lag_corr(video, k) for k in FAR_LAGS if k < video.shape[2]]
    return Measure(video.shape[2], float(v.mean()), float(v[-q:].mean() - v[:q].mean()), float(video.mean()),
                   pooled, lag_corr(video, 3), sum(far) / len(far) if far else float("nan"),
                   sum(distant) / len(distant) if distant else float("nan"), float(prof.min()),
                   float(dev.max()), int(dev.argmax()))


# --------------------------------------------------------------------------------------------------------------------
# the methods, run through the real engines


@dataclass(frozen=True)
class Setting:
    """A model-free stand-in for a backbone: window, ladder, MIGA constants (the sampler nodes' chain for it)."""

    window: int
    steps: int  # MIGA's zigzag ladder; FIFO runs window x partitions
    partitions: int
    group: int
    end_step: int
    guidance: int
    shift: float
    slide: int = 0  # 0 = auto

    def zigzag(self) -> ZigzagConfig:
        return ZigzagConfig(self.steps, self.group, self.end_step, self.slide)

    def unified(self, renoise: bool = True) -> UnifiedConfig:
        return UnifiedConfig(self.steps - self.end_step, renoise, self.end_step)


# the pack's shapes benchmark (9-frame window, 27 steps) and the official Wan 2.1 recipe (21, 54 steps, L 7, E 44, m 4)
SMALL = Setting(window=9, steps=27, partitions=3, group=3, end_step=22, guidance=2, shift=5.0)
WAN21 = Setting(window=21, steps=54, partitions=3, group=7, end_step=44, guidance=4, shift=5.0)

METHODS = ("chunks", "fifo", "fifo_lookahead", "dce", "dce_no_lookahead", "dce_guidance", "dce_miga", "zigzag",
           "tta", "tta_no_renoise", "tta_guidance", "tta_history", "miga", "cont_k5_a0_s24", "cont_k5_a3_s24",
           "fifo_auto", "fifo_lookahead_auto")
# few-step methods (a model distilled for s steps): FIFO with groups ``fifo_s{s}`` (auto clip start) /
# ``fifo_s{s}_noise`` (noise warm-up), and native chunks at the same steps ``chunks_s{s}``; see :func:`few_step_plan`
FEW_STEP_METHODS = ("chunks_s4", "fifo_s4", "fifo_s4_noise", "chunks_s8", "fifo_s8", "fifo_s8_noise")
FEW = Setting(window=20, steps=4, partitions=1, group=5, end_step=3, guidance=2, shift=5.0)



def continuation_name(cfg: ContinuationConfig, rule: str = "euler", partitions: int = 0) -> str:
    """The method name of a continuation config: ``cont_k{chunk}_a{anchors}_s{anchor_every}``, then ``_n{in_flight}``
    with chunks in flight, ``_2m`` with the ``dpmpp_2m`` rule, ``_shared`` / ``_t{track}`` / ``_d{denoise}`` off the
    config's defaults and ``_p{partitions}`` off the setting's partitions."""
    return (f"cont_k{cfg.chunk}_a{cfg.anchors}_s{cfg.anchor_every}" + (f"_n{cfg.in_flight}" if cfg.in_flight > 1
            else "") + ("_2m" if rule == "dpmpp_2m" else "") + ("_shared" if cfg.shared_level else "")
            + (f"_t{cfg.track:g}" if cfg.tracked else "") + (f"_d{cfg.denoise:g}" if cfg.denoise < 1 else "")
            + (f"_p{partitions}" if partitions else ""))


# chains a shipped workflow or a node default runs: FIFO Queue Init's defaults (lookahead on) at the setting's 3
# partitions (the starter's and the LTX-Video template's queue) and at its default 2 (the Wan FIFO templates), the
# shapes starter (FIFO's queue + Self-Reflection + Long-Range Guidance), the official MIGA config, the Chunked
# Continuation node's defaults and its settings in the Wan 2.1 / Wan 2.2 text templates, with their step rule
# (tools/authoring/ui_workflows.py: CONT_WAN21, CONT_WAN22, CONT_RULE; measured at those templates' windows)
SHIPPED = ("fifo_lookahead", "fifo_lookahead_p2", "dce_miga", "miga", continuation_name(NODE_DEFAULTS),
           "cont_k8_a6_s24_t2_d0.6", "cont_k15_a6_s24_t2_d0.6")


def queue_config(method: str, st: Setting) -> QueueConfig:
    """The queue configuration of a method (FIFO Queue Init -> MIGA nodes), no prompts."""
    base = QueueConfig(st.window, st.partitions, method not in ("fifo", "dce_no_lookahead"), "noise")
    guid = GuidanceConfig(st.guidance, "queue", 64)
    rf = ReflectionConfig(3, 0.01, "pairwise_denoised", judged_level=round(st.steps * 10 / 54))
    return {
        "fifo": base, "fifo_lookahead": base,
        "dce": dataclasses.replace(base), "dce_no_lookahead": base,
        "dce_guidance": dataclasses.replace(base, guidance=guid),
        "dce_miga": dataclasses.replace(base, guidance=guid, reflection=rf),
        "zigzag": dataclasses.replace(base, zigzag=st.zigzag()),
        "tta": dataclasses.replace(base, zigzag=st.zigzag(), unified=st.unified()),
        "tta_no_renoise": dataclasses.replace(base, zigzag=st.zigzag(), unified=st.unified(False)),
        "tta_guidance": dataclasses.replace(base, zigzag=st.zigzag(), unified=st.unified(), guidance=guid),
        "tta_history": dataclasses.replace(base, zigzag=st.zigzag(), unified=st.unified(),
                                           guidance=dataclasses.replace(guid, source="history")),
        "miga": dataclasses.replace(base, zigzag=st.zigzag(), unified=st.unified(), guidance=guid, reflection=rf),
    }[method]


def method_setting(method: str, st: Setting) -> Setting:
    """The setting a method runs: ``fifo_p{n}`` / ``fifo_lookahead_p{n}`` are FIFO with ``n`` partitions (FIFO Queue
    Init's default is 2), ``fifo_w{f}_p{n}`` also with a window of ``f`` frames (a model whose clip is ``f`` long);
    ``cont_..._p{n}`` is continuation on a ladder of ``window x n`` steps; any other method runs ``st`` as it is."""
    m = re.fullmatch(r"(fifo|fifo_lookahead|cont_\w+?)(?:_w(\d+))?_p(\d+)", method)
    if m is None:
        return st
    return dataclasses.replace(st, partitions=int(m[3]), window=int(m[2]) if m[2] else st.window)


def _base(method: str) -> str:
    """``fifo_w27_p1`` -> ``fifo``, ``cont_k2_a4_s24_n2_2m_p5`` -> ``cont_k2_a4_s24_n2_2m``: the method without its
    window and partitions suffixes."""
    return re.sub(r"(_w\d+)?_p\d+$", "", method) if method.startswith(("fifo", "cont_")) else method


CONT_NAME = re.compile(r"cont_k(\d+)_a(\d+)_s(\d+)(?:_n(\d+))?(_2m)?(_shared)?(?:_t(\d+(?:\.\d+)?))?"
                       r"(?:_d(\d+(?:\.\d+)?))?")


def continuation_config(method: str) -> Optional[ContinuationConfig]:
    """``cont_k{chunk}_a{anchors}_s{anchor_every}[_n{in_flight}][_2m][_shared][_t{track}][_d{denoise}]`` (e.g.
    ``cont_k4_a3_s32``; ``_shared``: shared-level mode; ``_2m``: the ``dpmpp_2m`` rule, :func:`step_rule`;
    ``_t2``: tracked context with gain 2; ``_d0.5``: chunks run half the ladder from the newest latent), partitions
    suffix aside -> its :class:`ContinuationConfig`; None for any other method."""
    m = CONT_NAME.fullmatch(_base(method))
    return None if m is None else ContinuationConfig(int(m[1]), int(m[2]), int(m[3]), m[6] is not None,
                                                     int(m[4] or 1), float(m[7] or 0), float(m[8] or 1))


def step_rule(method: str) -> str:
    """The sampler's step rule a method runs: ``dpmpp_2m`` for a continuation method with ``_2m``, else ``euler``."""
    m = CONT_NAME.fullmatch(_base(method))
    return "dpmpp_2m" if m is not None and m[5] else "euler"


def few_steps(method: str) -> Optional[int]:
    """``s`` of a few-step method (``chunks_s4``, ``fifo_s8``, ``fifo_s8_noise``), else None."""
    m = re.fullmatch(r"(?:chunks|fifo)_s(\d+)(?:_noise)?", method)
    return None if m is None else int(m[1])


def few_step_plan(method: str, st: Setting):
    """FIFO's plan for ``fifo_s{s}[_noise]``: ``s`` levels from the window's largest number of levels ``l`` that
    divides both the window and ``s`` (groups of ``window / l``, ``s / l`` partitions), no lookahead."""
    s = few_steps(method)
    assert s is not None
    per_window = max(d for d in range(1, st.window + 1) if st.window % d == 0 and s % d == 0)
    init = "noise" if method.endswith("_noise") else "auto clip"
    return plan_fifo(st.window, s // per_window, False, init, st.window // per_window)


def legs(method: str, st: Setting) -> list[tuple[int, int]]:
    """The ladder path an output frame takes: ``[(from, to), ...]`` with a re-noise between legs."""
    if few_steps(method) is not None:
        return [(0, few_steps(method))]
    st, method = method_setting(method, st), _base(method)
    if method in ("fifo_auto", "fifo_lookahead_auto"):
        return [(0, st.window * st.partitions)]
    if method in ("chunks", "fifo", "fifo_lookahead") or method.startswith(("dce", "cont_")):
        return [(0, st.window * st.partitions)]
    if method in ("tta", "tta_guidance", "tta_history", "miga"):
        return [(0, st.steps), (st.end_step, st.steps)]
    return [(0, st.steps)]


def ladder(method: str, st: Setting) -> Tensor:
    return shifted_ladder(legs(method, st)[0][1], st.shift)


def _dce(cfg: QueueConfig) -> QueueConfig:
    # MIGA without a Zigzag Stage needs one MIGA part to run on MIGA's engine; a guidance of 0 latents is that part
    return cfg if cfg.is_miga else dataclasses.replace(cfg, guidance=GuidanceConfig(0, "queue", 1))


def run_method(method: str, st: Setting, frames: int, rho: float, *, batch: int = 8, channels: int = 4,
               size: int = 8, seed: int = 0, stats: Optional[MigaStats] = None, identity: float = 0.0,
               denoiser: str = "exact") -> tuple[Tensor, int]:
    """``(video [B, C, frames, H, W], model calls)`` of one method on the oracle with identity share ``identity``
    and the ``denoiser`` of :data:`DENOISERS` (on one CPU thread: the tensors are tiny, so more threads only add
    overhead)."""
    check_process(rho, identity)
    if denoiser not in DENOISERS:
        raise ValueError(f"the oracle's denoiser must be one of {', '.join(DENOISERS)}, got {denoiser!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_method(method, st, frames, DENOISERS[denoiser](rho, identity), batch, channels, size, seed, stats)
    finally:
        torch.set_num_threads(threads)


def _run_method(method: str, st: Setting, frames: int, den: ExactDenoiser, batch: int, channels: int, size: int,
                seed: int, stats: Optional[MigaStats]) -> tuple[Tensor, int]:
    sig = ladder(method, st)
    st, method = method_setting(method, st), _base(method)
    gen = torch.Generator().manual_seed(seed)
    latent = torch.zeros(batch, channels, st.window, size, size)
    if method == "chunks" or method.startswith("chunks_s"):
        n = math.ceil(frames / st.window)
        clips = [native_window(den, tuple(latent.shape), sig, legs(method, st), gen) for _ in range(n)]
        return torch.cat(clips, dim=2)[:, :, :frames], den.calls
    cont = continuation_config(method)
    if cont is not None:
        return sample_continuation(cont, den, latent, sig, st.window, frames, generator=gen, rule=step_rule(method),
                                   noise_scaling=flow_noise_scaling), den.calls
    if few_steps(method) is not None or method in ("fifo_auto", "fifo_lookahead_auto"):
        plan = (few_step_plan(method, st) if few_steps(method) is not None else
                plan_fifo(st.window, st.partitions, method == "fifo_lookahead_auto", "auto clip"))
        return sample_fifo(den, latent, sig, plan, frames, generator=gen, noise_scaling=flow_noise_scaling), den.calls
    cfg = queue_config(method, st)
    if method in ("fifo", "fifo_lookahead"):
        plan = plan_fifo(st.window, st.partitions, cfg.lookahead, "noise")
        return sample_fifo(den, latent, sig, plan, frames, generator=gen, noise_scaling=flow_noise_scaling), den.calls
    cfg = _dce(cfg)
    out = sample_miga(cfg, den, latent, sig, frames, generator=gen, noise_scaling=flow_noise_scaling,
                      stats=stats if stats is not None else MigaStats())
    return out, den.calls


def setup_of(method: str, st: Setting, frames: int):
    """The resolved MIGA setup a method runs (None for FIFO and chunks)."""
    method = _base(method)
    if method in ("chunks", "fifo", "fifo_lookahead") or continuation_config(method) is not None:
        return None
    if few_steps(method) is not None or method in ("fifo_auto", "fifo_lookahead_auto"):
        return None
    return resolve_miga(_dce(queue_config(method, st)), st.window, frames)
