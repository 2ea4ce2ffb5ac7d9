"""Per-frame solver steps and noise scaling on a k-diffusion sigma ladder.

Every latent frame carries its own sigma, so the rules here take ``sigma`` as ``[F]`` or ``[B, F]`` and broadcast it
over a latent ``[B, C, F, H, W]`` (axis 2 is time). A *noise scaling* function ``ns(sigma, noise, x0) -> x`` says how
the model family mixes signal and noise; it is the only model knowledge the steps need:

- variance exploding (EPS, V-prediction, EDM, Cosmos RFlow in ComfyUI): ``x = x0 + sigma * noise``
- flow matching (ComfyUI ``CONST``: Wan, LTX-Video): ``x = (1 - sigma) * x0 + sigma * noise``

The ComfyUI adapter injects the model's own ``model_sampling.noise_scaling``; these two are the pure-torch defaults.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor

NoiseScaling = Callable[[Tensor, Tensor, Tensor], Tensor]


def frame_sigma(sigma: Tensor, ndim: int = 5) -> Tensor:
    """Reshape a per-frame sigma ``[F]`` or ``[B, F]`` to broadcast over ``[B, C, F, H, W]`` (``[B|1, 1, F, 1, 1]``)."""
    if sigma.ndim == 1:
        sigma = sigma.unsqueeze(0)
    if sigma.ndim != 2:
        raise ValueError(f"per-frame sigma must be [F] or [B, F], got shape {tuple(sigma.shape)}")
    return sigma.reshape(sigma.shape[0], 1, sigma.shape[1], *([1] * (ndim - 3)))


def ve_noise_scaling(sigma: Tensor, noise: Tensor, x0: Tensor) -> Tensor:
    """Variance-exploding mix ``x = x0 + sigma * noise`` (k-diffusion convention for EPS / V-prediction models)."""
    return x0 + frame_sigma(sigma, noise.ndim).to(noise) * noise


def flow_noise_scaling(sigma: Tensor, noise: Tensor, x0: Tensor) -> Tensor:
    """Rectified-flow mix ``x = (1 - sigma) * x0 + sigma * noise`` (ComfyUI ``CONST``: Wan, LTX-Video)."""
    s = frame_sigma(sigma, noise.ndim).to(noise)
    return s * noise + (1.0 - s) * x0


def euler_step(x: Tensor, denoised: Tensor, sigma: Tensor, sigma_next: Tensor) -> Tensor:
    """Deterministic per-frame Euler step ``x + (x - D) / sigma * (sigma' - sigma)``.

    Exact DDIM (eta = 0) for both variance-exploding and flow models, so it needs no noise scaling. Frames with
    ``sigma == 0`` are returned unchanged (they are clean context, never stepped).
    """
    s = frame_sigma(sigma, x.ndim).to(x)
    s_next = frame_sigma(sigma_next, x.ndim).to(x)
    d = (x - denoised) / torch.where(s > 0, s, torch.ones_like(s))
    return torch.where(s > 0, x + d * (s_next - s), x)


def ancestral_step(
    x: Tensor,
    denoised: Tensor,
    sigma: Tensor,
    sigma_next: Tensor,
    noise: Tensor,
    eta: float = 1.0,
    noise_scaling: NoiseScaling = ve_noise_scaling,
) -> Tensor:
    """Per-frame ancestral (DDIM-eta) step for any family described by ``noise_scaling``.

    Write ``x = alpha(sigma) * (x0 + lam * eps)`` with ``alpha = ns(sigma, 0, 1)``, ``s = ns(sigma, 1, 0)`` and
    ``lam = s / alpha`` (the equivalent variance-exploding sigma). The step is k-diffusion's
    ``get_ancestral_step`` in ``lam`` units (Song et al. 2021, DDIM eq. 12 with ``eta``)::

        lam_up   = min(lam', eta * lam' * sqrt(1 - lam'^2 / lam^2))
        lam_down = sqrt(lam'^2 - lam_up^2)
        x'       = alpha' * (D + (x - alpha * D) / s * lam_down + lam_up * z)

    written so that ``alpha == 0`` (flow at ``sigma == 1``) needs no division by it. ``eta = 0`` equals
    :func:`euler_step`; ``sigma' == 0`` returns ``alpha(0) * D``.
    """
    def coef(sig: Tensor, n: float, x0: float) -> Tensor:
        # Read alpha(sigma) = ns(sigma, 0, 1) and s(sigma) = ns(sigma, 1, 0) per frame off unit latents.
        unit = torch.ones((1, 1, sig.shape[-1], 1, 1), dtype=x.dtype, device=x.device)
        return noise_scaling(sig, unit * n, unit * x0).reshape(-1, sig.shape[-1])

    alpha = coef(sigma, 0.0, 1.0)
    s = coef(sigma, 1.0, 0.0)
    alpha_n = coef(sigma_next, 0.0, 1.0)
    s_n = coef(sigma_next, 1.0, 0.0)

    safe_s = torch.where(s > 0, s, torch.ones_like(s))
    safe_alpha_n = torch.where(alpha_n > 0, alpha_n, torch.ones_like(alpha_n))
    lam_n = s_n / safe_alpha_n
    ratio = ((s_n * alpha) / (safe_alpha_n * safe_s)).clamp(min=0.0) ** 2  # lam'^2 / lam^2
    lam_up = torch.minimum(lam_n, eta * lam_n * (1.0 - ratio).clamp(min=0.0).sqrt())
    lam_down = (lam_n**2 - lam_up**2).clamp(min=0.0).sqrt()

    a = frame_sigma(alpha, x.ndim).to(x)
    a_n = frame_sigma(alpha_n, x.ndim).to(x)
    out = a_n * (denoised + (x - a * denoised) / frame_sigma(safe_s, x.ndim).to(x) * frame_sigma(lam_down, x.ndim).to(x)
                 + frame_sigma(lam_up, x.ndim).to(x) * noise)
    return torch.where(frame_sigma(s, x.ndim).to(x) > 0, out, x)


QUEUE_RULES = ("euler", "euler_ancestral")  # per-frame rules: every engine
STEP_RULES = QUEUE_RULES + ("dpmpp_2m",)  # dpmpp_2m: chunked continuation only (it keeps one history per chunk)


def get_step_rule(name: str, *, multistep: bool = False) -> str:
    """Validate a step-rule name (the Combo options of the sampler node). ``multistep``: the engine keeps a previous
    estimate per chunk (chunked continuation), so ``dpmpp_2m`` is allowed; the diagonal queues (FIFO, MIGA) move each
    frame through the ladder beside frames at other steps and keep no history, so they refuse it."""
    if name not in STEP_RULES:
        raise ValueError(f"Unknown step rule {name!r}: choose one of {', '.join(STEP_RULES)}")
    if name == "dpmpp_2m" and not multistep:
        raise ValueError("sampler_name dpmpp_2m needs Chunked Continuation (it keeps each chunk's previous estimate); "
                         "FIFO-Diffusion and MIGA queues take euler or euler_ancestral: pick one of those, or add "
                         "Chunked Continuation")
    return name


def _signal_noise(sigma: float, noise_scaling: NoiseScaling) -> tuple[float, float]:
    """``(alpha, s)`` of a level, read off ``noise_scaling``: ``alpha = ns(sigma, 0, 1)``, ``s = ns(sigma, 1, 0)``."""
    one = torch.ones((1, 1, 1, 1, 1), dtype=torch.float64)
    sig = torch.tensor([float(sigma)], dtype=torch.float64)
    return float(noise_scaling(sig, one * 0.0, one)), float(noise_scaling(sig, one, one * 0.0))


def log_snr(sigma: float, noise_scaling: NoiseScaling) -> float:
    """``lambda = log(alpha / s)`` (:func:`_signal_noise`): ``log((1 - sigma) / sigma)`` for flow matching,
    ``-log(sigma)`` for variance exploding."""
    alpha, s = _signal_noise(sigma, noise_scaling)
    return math.log(alpha / s)


def dpmpp_2m_denoised(denoised: Tensor, old: Optional[Tensor], sigma_prev: Optional[float], sigma: float,
                      sigma_next: float, noise_scaling: NoiseScaling = ve_noise_scaling) -> Tensor:
    """DPM-Solver++(2M)'s corrected estimate for the step ``sigma -> sigma_next`` (Lu et al. 2022, "DPM-Solver++",
    alg. 2): ``(1 + 1 / 2r) D - 1 / 2r D_old`` with ``r = h_prev / h`` in ``lambda = log(alpha / s)``
    (:func:`log_snr`, the model family's own, so it is exact for flow matching as for variance exploding). A
    deterministic :func:`euler_step` with this estimate in place of ``D`` *is* the 2M step (its exponential
    integrator equals Euler's coefficients in both families). First order (``denoised`` itself) without a previous
    estimate, from a level of zero signal (flow's sigma 1) or onto sigma 0, as k-diffusion's ``sample_dpmpp_2m``.
    ``denoised``, ``old``: ``[B, C, F, H, W]`` of one level."""
    if old is None or sigma_prev is None or float(sigma_next) <= 0.0:
        return denoised
    alpha_prev, s_prev = _signal_noise(sigma_prev, noise_scaling)
    if alpha_prev <= 0.0:
        return denoised
    lam_prev = math.log(alpha_prev / s_prev)
    lam, lam_next = log_snr(sigma, noise_scaling), log_snr(sigma_next, noise_scaling)
    r = (lam - lam_prev) / (lam_next - lam)
    return (1.0 + 0.5 / r) * denoised - (0.5 / r) * old


def per_frame_step(
    rule: str,
    x: Tensor,
    denoised: Tensor,
    sigma: Tensor,
    sigma_next: Tensor,
    *,
    eta: float = 1.0,
    noise: Optional[Tensor] = None,
    noise_scaling: NoiseScaling = ve_noise_scaling,
) -> Tensor:
    """Dispatch one per-frame step by rule name (``euler`` or ``euler_ancestral``; ``dpmpp_2m`` is an Euler step
    whose ``denoised`` the caller has corrected with :func:`dpmpp_2m_denoised`)."""
    if rule in ("euler", "dpmpp_2m") or eta == 0.0:
        return euler_step(x, denoised, sigma, sigma_next)
    if noise is None:
        raise ValueError("euler_ancestral needs a noise tensor")
    return ancestral_step(x, denoised, sigma, sigma_next, noise, eta=eta, noise_scaling=noise_scaling)
