"""Run whatever a :class:`~.config.QueueConfig` holds: plain FIFO-Diffusion (Kim et al. 2024, arXiv 2405.11473), or
MIGA (Feng et al., arXiv 2605.18233) when MIGA parts are chained, or chunked continuation (:mod:`.continuation`) on
FIFO's ladder.

:func:`check_run_inputs` checks a run's inputs once and returns its set-up (a :class:`.plan.FifoPlan` or a
:class:`.miga_setup.MigaSetup`); a caller that checks before the run (the sampler nodes, before opening a sink) hands
it to :func:`run_queue`, so nothing is resolved twice.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import Tensor

from .config import QueueConfig
from .denoiser import needs_one_level
from .fifo import check_fifo_inputs, check_video_latent, sample_fifo
from .miga import sample_miga
from .miga_setup import MigaSetup, miga_steps, prepare_miga
from .plan import AUTO_CLIP, FifoPlan
from .prompts import FrameRange
from .runner import Stream
from .steps import NoiseScaling, get_step_rule

QueueSetup = Union[FifoPlan, MigaSetup]


def check_run_inputs(config: QueueConfig, latent: Tensor, sigmas: Tensor, frames: int,
                     rule: str = "euler") -> QueueSetup:
    """Validate before any model call (errors name the input and the fix); return the run's set-up. ``rule``: the
    step rule (``dpmpp_2m`` only with continuation, whose chunks keep their previous estimate)."""
    check_video_latent(latent)
    check_fifo_only(config)
    get_step_rule(rule, multistep=config.continuation is not None)
    if config.continuation is not None:
        from .continuation import check_alone, check_continuation_inputs

        check_alone(config)
        plan = config.fifo_plan(latent.shape[2])
        check_continuation_inputs(config.continuation, latent, sigmas, plan.window, frames, config.init)
        if sigmas.shape[0] - 1 != plan.steps:
            raise ValueError(f"the sigma schedule has {sigmas.shape[0] - 1} steps; continuation runs FIFO's ladder of "
                             f"window_length x partitions = {plan.steps} steps; set steps to {plan.steps}")
        return plan
    if config.is_miga:
        return prepare_miga(config, latent, sigmas, frames)
    plan = config.fifo_plan(latent.shape[2])
    check_fifo_inputs(plan, latent, sigmas, frames)
    return plan


def check_fifo_only(config: QueueConfig) -> None:
    """``init_mode`` auto clip and ``group_size`` belong to FIFO's own queue: refuse them, naming the fix, where
    another engine (MIGA's stages, continuation) would run instead."""
    other = None
    if config.continuation is not None:
        other = ("continuation", "turn continuation off")
    elif config.is_miga:
        other = ("the MIGA parts (Zigzag Stage, Unified Stage, Self-Reflection, Long-Range Guidance), which have "
                 "their own warm-up and groups", "remove them")
    if other is None:
        return
    if config.init == AUTO_CLIP:
        raise ValueError(f"FIFO Queue Init: init_mode auto clip runs FIFO's own queue, not {other[0]}; set init_mode "
                         f"to noise or clip, or {other[1]}")
    if int(config.group) != 1:
        raise ValueError(f"FIFO Queue Init: group_size {config.group} groups FIFO's own queue, not {other[0]}; set "
                         f"group_size to 1, or {other[1]}")


def required_steps(config: QueueConfig, latent_frames: int) -> int:
    """Steps the sigma schedule must have for this configuration."""
    if config.is_miga:
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
    setup: Optional[QueueSetup] = None,
) -> Tensor:
    """Generate ``frames`` latent frames ``[B, C, frames, H, W]`` (only the newest ``stream.keep`` when streamed, see
    :mod:`.runner`); noise comes from a CPU generator seeded ``seed``. ``setup``: what :func:`check_run_inputs`
    returned for these inputs, when the caller has checked them already."""
    check_fifo_only(config)
    generator = torch.Generator("cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    kwargs: dict[str, Any] = dict(generator=generator, rule=rule, eta=eta, prompt_ranges=prompt_ranges,
                                  callback=callback, output_device=output_device, stream=stream)
    if noise_scaling is not None:
        kwargs["noise_scaling"] = noise_scaling
    if needs_one_level(denoiser) and config.continuation is None:
        raise ValueError("this model takes one noise level per window, which the diagonal queue (FIFO-Diffusion, "
                         "MIGA) cannot give: run it with chunked continuation")
    if config.continuation is not None:
        from .continuation import sample_continuation

        if setup is None:
            check_run_inputs(config, latent, sigmas, frames)
        kwargs["init"] = config.init
        window = config.resolve_window(latent.shape[2])
        return sample_continuation(config.continuation, denoiser, latent, sigmas, window, frames, **kwargs)
    if config.is_miga:
        miga = setup if isinstance(setup, MigaSetup) else None
        return sample_miga(config, denoiser, latent, sigmas, frames, setup=miga, **kwargs)
    plan = setup if isinstance(setup, FifoPlan) else config.fifo_plan(latent.shape[2])
    return sample_fifo(denoiser, latent, sigmas, plan, frames, **kwargs)
