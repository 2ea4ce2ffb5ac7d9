"""Run whatever a :class:`~.config.QueueConfig` holds: plain FIFO-Diffusion, MIGA when MIGA parts are chained, or
chunked continuation (:mod:`.continuation`) on FIFO's ladder."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from .config import QueueConfig
from .fifo import check_fifo_inputs, check_video_latent, sample_fifo
from .prompts import FrameRange
from .runner import Stream
from .steps import NoiseScaling


def check_run_inputs(config: QueueConfig, latent: Tensor, sigmas: Tensor, frames: int) -> None:
    """Validate before any model call (errors name the input and the fix)."""
    check_video_latent(latent)
    if config.continuation is not None:
        from .continuation import check_continuation_inputs

        if config.is_miga:
            raise ValueError("continuation replaces the queue: remove the MIGA parts (Zigzag Stage, Unified Stage, "
                             "Self-Reflection, Long-Range Guidance) or turn continuation off")
        plan = config.fifo_plan(latent.shape[2])
        check_continuation_inputs(config.continuation, latent, sigmas, plan.window, frames, config.init)
        if sigmas.shape[0] - 1 != plan.steps:
            raise ValueError(f"the sigma schedule has {sigmas.shape[0] - 1} steps; continuation runs FIFO's ladder of "
                             f"window_length x partitions = {plan.steps} steps; set steps to {plan.steps}")
    elif config.is_miga:
        from .miga import check_miga_inputs

        check_miga_inputs(config, latent, sigmas, frames)
    else:
        check_fifo_inputs(config.fifo_plan(latent.shape[2]), latent, sigmas, frames)


def required_steps(config: QueueConfig, latent_frames: int) -> int:
    """Steps the sigma schedule must have for this configuration."""
    if config.is_miga:
        from .miga import miga_steps

        return miga_steps(config, latent_frames)
    return config.fifo_plan(latent_frames).steps


@torch.no_grad()
def run_queue(
    config: QueueConfig,
    denoiser: Callable[..., Tensor],
    latent: Tensor,
    sigmas: Tensor,
    frames: int,
    *,
    seed: int,
    rule: str = "euler",
    eta: float = 1.0,
    noise_scaling: Optional[NoiseScaling] = None,
    prompt_ranges: Optional[Sequence[FrameRange]] = None,
    callback: Optional[Callable[[dict[str, Any]], None]] = None,
    output_device: Optional[torch.device] = None,
    stream: Optional[Stream] = None,
) -> Tensor:
    """Generate ``frames`` latent frames ``[B, C, frames, H, W]`` (only the newest ``stream.keep`` when streamed, see
    :mod:`.runner`); noise comes from a CPU generator seeded ``seed``."""
    generator = torch.Generator("cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    kwargs: dict[str, Any] = dict(generator=generator, rule=rule, eta=eta, prompt_ranges=prompt_ranges,
                                  callback=callback, output_device=output_device, stream=stream)
    if noise_scaling is not None:
        kwargs["noise_scaling"] = noise_scaling
    if config.continuation is not None:
        from .continuation import sample_continuation

        check_run_inputs(config, latent, sigmas, frames)
        kwargs["init"] = config.init
        window = config.resolve_window(latent.shape[2])
        return sample_continuation(config.continuation, denoiser, latent, sigmas, window, frames, **kwargs)
    if config.is_miga:
        from .miga import sample_miga

        return sample_miga(config, denoiser, latent, sigmas, frames, **kwargs)
    return sample_fifo(denoiser, latent, sigmas, config.fifo_plan(latent.shape[2]), frames, **kwargs)
