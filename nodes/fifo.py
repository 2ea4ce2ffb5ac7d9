"""FIFO Queue Init: the queue configuration every infinite-video sampler run starts from."""

from __future__ import annotations

from typing import Optional

from comfy_api.latest import io

from ..samplers.config import QueueConfig
from ..samplers.plan import INIT_MODES, plan_fifo
from .types import CATEGORY, QueueType
from .validation import check_widgets, require_inputs


class FIFOQueueInit(io.ComfyNode):
    """FIFO-Diffusion queue (Kim et al. 2024): window, latent partitioning and lookahead denoising."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_FIFOQueueInit",
            display_name="FIFO Queue Init",
            category=CATEGORY,
            description="Sets up a FIFO-Diffusion queue: frames at increasing noise levels, denoised diagonally in "
                        "windows the model was trained on. Connect to Infinite Video Sampler (directly, or through "
                        "Chunked Continuation or the MIGA nodes).",
            inputs=[
                io.Int.Input("window_length", default=0, min=0, max=1024,
                             tooltip="Latent frames the model denoises together (its training window; Wan 2.1: 21 "
                                     "latent frames = 81 video frames). 0 = the frame count of the sampler's latent."),
                io.Int.Input("partitions", default=2, min=1, max=64,
                             tooltip="Latent partitioning n: the queue holds window_length x partitions frames and "
                                     "the schedule has that many steps. More partitions = more steps per frame and "
                                     "proportionally more model calls per output frame."),
                io.Boolean.Input("lookahead", default=True,
                                 tooltip="Lookahead denoising: windows at half stride that update only their later "
                                         "half, so every frame sees cleaner frames ahead of it. Better consistency, "
                                         "twice the model calls. With MIGA nodes it applies to FIFO's queue "
                                         "(Self-Reflection / Long-Range Guidance without a Zigzag Stage); a Zigzag "
                                         "Stage's windows follow its slide."),
                io.Combo.Input("init_mode", options=list(INIT_MODES), default="noise",
                               tooltip="clip: the sampler's latent is a finished clip (e.g. from KSampler), re-noised "
                                       "diagonally into the queue; the output starts with its re-generation. noise: "
                                       "start from noise and discard the warm-up frames (one queue length). auto "
                                       "clip: the sampler first makes one clip natively (same seed, the first "
                                       "prompt; give it an empty latent), outputs it as the video's start and fills "
                                       "the queue behind it, so no warm-up frame is discarded. FIFO only (not with "
                                       "the MIGA nodes)."),
                io.Int.Input("group_size", default=1, min=1, max=64, optional=True,
                             tooltip="Latent frames that share a noise level in the queue (as the Zigzag Stage's "
                                     "group). For step-distilled models (e.g. a 4-step LoRA at cfg 1): the schedule "
                                     "has window_length / group_size x partitions steps, so set it to give the "
                                     "model's steps (window 20, group_size 5, 1 partition = 4 steps). Must divide "
                                     "window_length; each iteration outputs one group. 1 = one level per frame "
                                     "(FIFO-Diffusion). FIFO only (not with the MIGA nodes)."),
            ],
            outputs=[QueueType.Output(display_name="queue", tooltip="Queue configuration for Infinite Video Sampler "
                                                                    "or the MIGA stage nodes.")],
        )

    @classmethod
    def validate_inputs(cls, init_mode: Optional[str] = None) -> bool | str:
        return check_widgets(cls, init_mode=init_mode)

    @classmethod
    def execute(cls, window_length: int, partitions: int, lookahead: bool, init_mode: str,
                group_size: int = 1) -> io.NodeOutput:
        require_inputs(cls, window_length=window_length, partitions=partitions, lookahead=lookahead,
                       init_mode=init_mode, group_size=group_size)  # linked values skip validation
        if window_length > 0:
            try:  # fail here, not at sampling time
                plan_fifo(window_length, partitions, lookahead, init_mode, group_size)
            except ValueError as e:
                raise ValueError(f"FIFO Queue Init: {e}") from None
        return io.NodeOutput(QueueConfig(window_length, partitions, lookahead, init_mode, group=group_size))


NODES = [FIFOQueueInit]
