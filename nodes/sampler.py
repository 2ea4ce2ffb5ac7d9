"""Infinite Video Sampler (KSampler-like), the SamplerCustomAdvanced variant, and Conditioning Frame Range."""

from __future__ import annotations

import logging
from typing import Any, Optional

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import torch
from comfy_api.latest import io

from ..samplers.config import QueueConfig
from ..samplers.run import QueueSetup, check_run_inputs, check_video_latent, required_steps, run_queue
from ..samplers.runner import Stream
from ..samplers.steps import STEP_RULES
from .adapter import (
    FRAME_RANGE_KEY,
    PerFrameSampler,
    PromptScheduleGuider,
    check_conditioning_width,
    check_latent_channels,
    per_frame_family,
    stamp_prompts,
)
from .camera import check_camera_run
from .checkpoint import model_fingerprint, queue_fingerprint
from .frame_conds import check_frame_conditioning, known_frames
from .positions import check_anchors
from .progress import SamplerProgress
from .sink_session import open_session, sink_run
from .types import CATEGORY, QueueType
from .vace import check_vace_run
from .validation import check_widgets, require_inputs
from .video_sink import SinkType

log = logging.getLogger("infinite_video")

SINK_TOOLTIP = ("Optional Video Sink: stream the video to a file while the run goes (decoded and encoded as each "
                "latent frame is final), checkpoint it and resume it. The LATENT output then holds only the last "
                "window_length latent frames.")
FRAMES_TOOLTIP = ("Latent frames to generate. Wan and Cosmos decode N latent frames into 4*(N-1)+1 video frames, "
                  "LTX-Video into 8*(N-1)+1. Memory does not grow with this number (only the output does).")


def _step_inputs() -> list:
    return [
        io.Combo.Input("sampler_name", options=list(STEP_RULES), default="euler",
                       tooltip="Per-frame step rule: euler (deterministic, DDIM eta 0), euler_ancestral (adds "
                               "fresh noise each step, scaled by eta) or dpmpp_2m (DPM-Solver++ 2M: second order "
                               "from each chunk's previous estimate, no extra calls; keeps the contrast euler loses "
                               "at the same steps; Chunked Continuation only)."),
        io.Float.Input("eta", default=1.0, min=0.0, max=1.0, step=0.01,
                       tooltip="Noise added by euler_ancestral (1 = full ancestral / DDPM-like, 0 = euler). "
                               "Ignored by euler."),
    ]


def _resolve_sigmas(model: Any, config: QueueConfig, latent: torch.Tensor, scheduler: str,
                    sigmas: Optional[torch.Tensor]) -> torch.Tensor:
    if sigmas is not None:
        return sigmas
    steps = required_steps(config, latent.shape[2] if latent.ndim == 5 else 0)
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps).cpu()


def _sampling_callback(model: Any, config: QueueConfig, frames: int, sink: Any) -> SamplerProgress:
    """Progress per engine iteration, warm-up included, with the node's text saying the phase, elapsed time, seconds
    per output frame and time left (nodes/progress.py); the newest latent as preview unless a Video Sink sends the
    decoded frames."""
    return SamplerProgress(model, config, frames, latent_previews=sink is None)


class InfiniteVideoSampler(io.ComfyNode):
    """Runs the queue configuration (FIFO-Diffusion, or MIGA when its nodes are chained) on a video model."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_Sampler",
            display_name="Infinite Video Sampler",
            category=CATEGORY,
            description="KSampler for videos of any length: runs the queue from FIFO Queue Init (and the MIGA "
                        "nodes) with one noise level per latent frame. Works with Wan 2.1/2.2, LTX-Video and "
                        "Cosmos Predict2.",
            inputs=[
                io.Model.Input("model", tooltip="A Wan 2.1 / 2.2, LTX-Video or Cosmos Predict2 model."),
                io.Conditioning.Input("positive", tooltip="Positive prompt. Several prompts combined with "
                                      "Conditioning (Combine), each given a span by Conditioning Frame Range, switch "
                                      "prompts over time per frame."),
                io.Conditioning.Input("negative", tooltip="Negative prompt."),
                io.Latent.Input("latent_image", tooltip="Sets size and window: an empty video latent (init_mode "
                                "noise or auto clip) or a finished clip (init_mode clip). Needs at least "
                                "window_length frames."),
                QueueType.Input("queue", tooltip="From FIFO Queue Init, optionally through the MIGA nodes."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seed of every noise draw (queue, refills, ancestral steps). Same seed, same "
                                     "video, bit for bit."),
                io.Int.Input("frames", default=32, min=1, max=1_000_000, tooltip=FRAMES_TOOLTIP),
                io.Float.Input("cfg", default=5.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale (1 = no negative pass)."),
                *_step_inputs(),
                io.Combo.Input("scheduler", options=list(comfy.samplers.SCHEDULER_NAMES), default="simple",
                               tooltip="Noise schedule; the step count is fixed by the queue (window_length x "
                                       "partitions for FIFO). Ignored when sigmas is connected."),
                io.Sigmas.Input("sigmas", optional=True,
                                tooltip="Optional custom schedule; it must have exactly the queue's step count "
                                        "(window_length x partitions + 1 values for FIFO) and end at 0."),
                SinkType.Input("sink", optional=True, tooltip=SINK_TOOLTIP),
            ],
            outputs=[io.Latent.Output(tooltip="Every generated latent frame, in order; with a sink connected only "
                                              "the last window_length of them (memory stays flat), e.g. to continue "
                                              "with init_mode clip."),
                     io.Video.Output(tooltip="The streamed video file (only with a sink connected).")],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, cfg: Optional[float] = None, sampler_name: Optional[str] = None,
                        eta: Optional[float] = None, scheduler: Optional[str] = None) -> bool | str:
        return check_widgets(cls, cfg=cfg, sampler_name=sampler_name, eta=eta, scheduler=scheduler)

    @classmethod
    def execute(cls, model, positive, negative, latent_image, queue, seed, frames, cfg, sampler_name, eta,
                scheduler, sigmas=None, sink=None) -> io.NodeOutput:
        if not isinstance(queue, QueueConfig):
            raise ValueError("queue must come from FIFO Queue Init (or a MIGA node chained after it)")
        require_inputs(cls, model=model, positive=positive, negative=negative, latent_image=latent_image, seed=seed,
                       frames=frames, cfg=cfg, sampler_name=sampler_name, eta=eta, scheduler=scheduler,
                       sigmas=sigmas)  # linked widget values and raw socket values skip validation
        check_video_latent(latent_image["samples"])  # before fix_empty_latent_channels adds a frame axis
        latent = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"])
        check_latent_channels(model, latent, "Infinite Video Sampler")
        check_conditioning_width(model, {"positive": positive, "negative": negative}, "Infinite Video Sampler")
        sigmas = _resolve_sigmas(model, queue, latent, scheduler, sigmas)
        setup = check_run_inputs(queue, latent, sigmas, frames, sampler_name)  # before any model call
        check_anchors(queue, per_frame_family(model.model), "Infinite Video Sampler")
        stamped, ranges = stamp_prompts(positive)
        window = queue.resolve_window(latent.shape[2])
        check_frame_conditioning({"positive": positive, "negative": negative}, frames, "Infinite Video Sampler", window,
                                 tuple(latent.shape[-2:]))
        known = known_frames(latent, latent_image.get("noise_mask"), "Infinite Video Sampler")
        for check in (check_vace_run, check_camera_run):
            check(model.model, queue, {"positive": positive, "negative": negative}, frames, "Infinite Video Sampler",
                  known)
        clip = latent[:, :, :window]

        def opener(spec: Any) -> Any:
            return open_session(spec, model, clip, model_fingerprint(
                model, clip, positive, negative, **queue_fingerprint(queue), frames=int(frames), seed=int(seed),
                sampler=sampler_name, eta=float(eta), cfg=float(cfg), sigmas=sigmas))

        with sink_run(sink, opener) as session:  # every check and the file's creation before any model call
            run = _queue_run(queue, frames, seed, sampler_name, eta, ranges,
                             session.stream(keep=window) if session is not None else None, setup)
            guider = PromptScheduleGuider(model)
            guider.set_conds(stamped, negative)
            guider.set_cfg(cfg)
            sampler = PerFrameSampler(run, known=known)
            samples = guider.sample(torch.zeros_like(clip), clip, sampler, sigmas,
                                    callback=_sampling_callback(model, queue, frames, sink),
                                    disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
            log.info("infinite-video: %d latent frames, %d model calls", frames, sampler.model_calls)
            if sampler.stats is not None:
                log.info("infinite-video: %s", sampler.stats.summary())
        out = {k: v for k, v in latent_image.items() if k not in ("noise_mask", "batch_index")}
        out["samples"] = samples.to(comfy.model_management.intermediate_device())
        if session is None:
            return io.NodeOutput(out, None)
        video, preview = session.outputs()
        return io.NodeOutput(out, video, ui=preview)


def _queue_run(queue: QueueConfig, frames: int, seed: int, rule: str, eta: float, ranges: Optional[list],
               stream: Optional[Stream] = None, setup: Optional[QueueSetup] = None):
    def run(denoiser, latent, sigmas, noise_scaling, callback):
        return run_queue(queue, denoiser, latent, sigmas, frames, seed=seed, rule=rule, eta=eta,
                         noise_scaling=noise_scaling, prompt_ranges=ranges, callback=callback,
                         output_device=comfy.model_management.intermediate_device(), stream=stream, setup=setup)

    return run


class QueueSamplerCustom(io.ComfyNode):
    """The queue as a SAMPLER for SamplerCustomAdvanced (bring your own guider, sigmas and noise seed)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_QueueSampler",
            display_name="Infinite Video Queue Sampler (custom)",
            category=CATEGORY,
            description="A SAMPLER for SamplerCustomAdvanced that runs the queue. The sigmas must have the queue's "
                        "step count; the seed comes from the NOISE input. Prompt frame ranges need Infinite Video "
                        "Sampler.",
            inputs=[
                QueueType.Input("queue", tooltip="From FIFO Queue Init, optionally through the MIGA nodes."),
                io.Int.Input("frames", default=32, min=1, max=1_000_000, tooltip=FRAMES_TOOLTIP),
                *_step_inputs(),
                SinkType.Input("sink", optional=True,
                               tooltip=SINK_TOOLTIP.replace("The LATENT output", "SamplerCustomAdvanced's output")
                               + " The file is named in the server log (a SAMPLER has no video output)."),
            ],
            outputs=[io.Sampler.Output(tooltip="Connect to SamplerCustomAdvanced's sampler input.")],
        )

    @classmethod
    def validate_inputs(cls, sampler_name: Optional[str] = None, eta: Optional[float] = None) -> bool | str:
        return check_widgets(cls, sampler_name=sampler_name, eta=eta)

    @classmethod
    def execute(cls, queue, frames, sampler_name, eta, sink=None) -> io.NodeOutput:
        if not isinstance(queue, QueueConfig):
            raise ValueError("queue must come from FIFO Queue Init (or a MIGA node chained after it)")
        require_inputs(cls, frames=frames, sampler_name=sampler_name, eta=eta)
        return io.NodeOutput(CustomQueueSampler(queue, frames, sampler_name, eta, sink))


class CustomQueueSampler(PerFrameSampler):
    """PerFrameSampler whose seed comes from the guider call (SamplerCustomAdvanced passes the NOISE seed)."""

    def __init__(self, queue: QueueConfig, frames: int, rule: str, eta: float, sink: Any = None):
        super().__init__(run=None)  # type: ignore[arg-type]
        self.queue, self.frames, self.rule, self.eta, self.sink = queue, frames, rule, eta, sink

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        base = latent_image if latent_image is not None else torch.zeros_like(noise)
        setup = check_run_inputs(self.queue, base, sigmas, self.frames, self.rule)
        check_frame_conditioning(getattr(model_wrap, "original_conds", {}), self.frames,
                                 "Infinite Video Queue Sampler (custom)", self.queue.resolve_window(base.shape[2]),
                                 tuple(base.shape[-2:]))
        check_anchors(self.queue, per_frame_family(model_wrap.inner_model), "Infinite Video Queue Sampler (custom)")
        seed = extra_args.get("seed") or 0
        window = self.queue.resolve_window(base.shape[2])
        clip = base[:, :, :window]
        conds = getattr(model_wrap, "original_conds", {})  # model_wrap is the guider: its patcher and conds
        for check in (check_vace_run, check_camera_run):
            check(model_wrap.inner_model, self.queue, conds, self.frames, "Infinite Video Queue Sampler (custom)",
                  None if denoise_mask is None else {0: denoise_mask})

        def opener(spec: Any) -> Any:
            patcher = model_wrap.model_patcher
            return open_session(spec, patcher, clip, model_fingerprint(
                patcher, clip, conds.get("positive"), conds.get("negative"), **queue_fingerprint(self.queue),
                frames=int(self.frames), seed=int(seed), sampler=self.rule, eta=float(self.eta),
                cfg=float(getattr(model_wrap, "cfg", 0.0)), sigmas=sigmas))

        with sink_run(self.sink, opener) as session:
            self.run = _queue_run(self.queue, self.frames, seed, self.rule, self.eta, None,
                                  session.stream(keep=window) if session is not None else None, setup)
            return super().sample(model_wrap, sigmas, extra_args, callback, noise, latent_image, denoise_mask,
                                  disable_pbar)


class ConditioningFrameRange(io.ComfyNode):
    """Give a prompt a span of output frames, for prompt switching over time."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_ConditioningFrameRange",
            display_name="Conditioning Frame Range",
            category=CATEGORY,
            description="Limits a prompt to a range of output latent frames. Combine several with Conditioning "
                        "(Combine) into Infinite Video Sampler's positive input: each frame is denoised with the "
                        "prompts whose range holds it, and a switch travels through the queue with the frames.",
            inputs=[
                io.Conditioning.Input("conditioning", tooltip="The prompt to limit."),
                io.Int.Input("start_frame", default=0, min=0, max=1_000_000,
                             tooltip="First output latent frame this prompt applies to."),
                io.Int.Input("end_frame", default=0, min=0, max=1_000_000,
                             tooltip="Output latent frame where this prompt stops (exclusive); 0 = to the end."),
            ],
            outputs=[io.Conditioning.Output(tooltip="The prompt with its frame range.")],
        )

    @classmethod
    def validate_inputs(cls, start_frame: Optional[int] = None, end_frame: Optional[int] = None) -> bool | str:
        # no **kwargs: ComfyUI skips the min/max checks of every input when validate_inputs takes them;
        # check_widgets redoes them for the two named here
        ok = check_widgets(cls, start_frame=start_frame, end_frame=end_frame)
        return ok if ok is not True else cls._order_problem(start_frame, end_frame)

    @staticmethod
    def _order_problem(start_frame: Optional[int], end_frame: Optional[int]) -> bool | str:
        if start_frame is not None and end_frame and end_frame <= start_frame:
            return (f"Conditioning Frame Range: end_frame ({end_frame}) must be after start_frame ({start_frame}), "
                    f"or 0 for 'to the end'")
        return True

    @classmethod
    def execute(cls, conditioning, start_frame, end_frame) -> io.NodeOutput:
        require_inputs(cls, conditioning=conditioning, start_frame=start_frame, end_frame=end_frame)
        problem = cls._order_problem(start_frame, end_frame)
        if problem is not True:
            raise ValueError(problem)
        span = (int(start_frame), int(end_frame) if end_frame else None)
        return io.NodeOutput([[t, {**extra, FRAME_RANGE_KEY: span}] for t, extra in conditioning])


NODES = [InfiniteVideoSampler, QueueSamplerCustom, ConditioningFrameRange]
