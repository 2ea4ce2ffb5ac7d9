"""MIGA nodes (arXiv 2605.18233): each adds one part to the queue configuration from FIFO Queue Init.

Chain ``FIFO Queue Init -> Zigzag Stage -> Unified Stage -> Self-Reflection -> Long-Range Guidance -> Infinite Video
Sampler``; any part may be left out (Self-Reflection + Long-Range Guidance alone = the "DCE only" ablation on FIFO's
diagonal queue; Zigzag + Unified = "TTA only"). Widget defaults are the config dataclasses' (the official Wan 2.1
config, :mod:`..samplers.config`); the descriptions' preset note comes from :mod:`..samplers.miga_presets`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from comfy_api.latest import io

from ..samplers.config import GuidanceConfig, QueueConfig, ReflectionConfig, UnifiedConfig, ZigzagConfig
from ..samplers.guidance import MEMORY_SOURCES
from ..samplers.miga_partition import check_guidance
from ..samplers.miga_presets import preset_note
from ..samplers.miga_setup import resolve_miga
from ..samplers.reflection import SIMILARITY_METRICS
from .types import CATEGORY, QueueType
from .validation import check_widgets, require_inputs

PRESET_NOTE = preset_note()
ZZ, UN, RF, GD = ZigzagConfig(), UnifiedConfig(), ReflectionConfig(), GuidanceConfig()  # the widgets' defaults


def _queue_input() -> io.Input:
    return QueueType.Input("queue", tooltip="Queue configuration from FIFO Queue Init (or another MIGA node).")


def _queue_output() -> io.Output:
    return QueueType.Output(display_name="queue", tooltip="The queue configuration with this MIGA part added.")


def _check_queue(queue: object) -> QueueConfig:
    if not isinstance(queue, QueueConfig):
        raise ValueError("queue must come from FIFO Queue Init (or a MIGA node chained after it)")
    return queue


def _check_chain(q: QueueConfig) -> QueueConfig:
    """Check the chain so far once FIFO Queue Init fixes the window, so the error names the node holding the value.

    Only checks that adding another MIGA part can never undo: with a Zigzag Stage every part only adds constraints
    (a Unified Stage narrows stage 1, guidance latents narrow the window), so the full check of the chain so far
    runs; without one (chain order is free, and the "DCE only" queue changes when a Zigzag Stage is added later)
    only the guidance latents' fit in the window. The sampler checks the complete chain again with the latent.
    """
    if q.window > 0:
        if q.zigzag is not None:
            resolve_miga(q, q.window)
        elif q.guidance is not None:
            try:
                check_guidance(q.window, q.guidance.latents)
            except ValueError as e:
                raise ValueError(f"Long-Range Guidance: {e}") from None
    return q


class ZigzagStage(io.ComfyNode):
    """MIGA Stage 1: zigzag queue of groups sharing a noise level."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_ZigzagStage",
            display_name="Zigzag Stage",
            category=CATEGORY,
            description="MIGA Stage 1: the queue holds groups of L_zig latents at one noise level each, one level "
                        "apart; every sweep steps each latent once, one group leaves at the stage-1 end step and one "
                        "group of fresh noise enters. " + PRESET_NOTE,
            inputs=[
                _queue_input(),
                io.Int.Input("steps", default=ZZ.steps, min=2, max=1000,
                             tooltip="Steps of the whole ladder (the scheduler must produce this many). Wan 2.1 "
                                     f"official: {ZZ.steps}."),
                io.Int.Input("group_size", default=ZZ.group, min=1, max=256,
                             tooltip="L_zig: latents per group sharing a noise level. Must fit the window minus the "
                                     f"guidance latents. Wan 2.1 official: {ZZ.group} (VideoCrafter2: 4)."),
                io.Int.Input("end_step", default=ZZ.end_step, min=1, max=1000,
                             tooltip="Step at which groups leave stage 1 for the Unified Stage (official: steps - 10). "
                                     "Without a Unified Stage, stage 1 runs to clean and this is ignored."),
                io.Int.Input("slide", default=ZZ.slide, min=0, max=1024,
                             tooltip="Window stride of every MIGA sweep (this stage, the Unified Stage, "
                                     "Self-Reflection's regeneration). 0 = auto: window - guidance latents, so each "
                                     "window writes every queue latent it reads (window borders still rotate between "
                                     "sweeps); fewer model calls than the official half window (10 for Wan "
                                     "2.1), as consistent on the pack's benchmark. The Unified Stage writes at most "
                                     "window - 2 per window (context on both sides). Set 10 for the official Wan "
                                     "recipe."),
            ],
            outputs=[_queue_output()],
            is_experimental=True,
        )

    @classmethod
    def validate_inputs(cls, steps: Optional[int] = None, end_step: Optional[int] = None) -> bool | str:
        ok = check_widgets(cls, steps=steps, end_step=end_step)
        return ok if ok is not True else cls._end_step_problem(steps, end_step)

    @staticmethod
    def _end_step_problem(steps: Optional[int], end_step: Optional[int]) -> bool | str:
        if steps is not None and end_step is not None and end_step > steps:
            return (f"Zigzag Stage: end_step {end_step} is past the last step {steps}; use at most steps (official: "
                    f"steps - 10)")
        return True

    @classmethod
    def execute(cls, queue, steps: int, group_size: int, end_step: int, slide: int) -> io.NodeOutput:
        q = _check_queue(queue)
        require_inputs(cls, steps=steps, group_size=group_size, end_step=end_step, slide=slide)
        problem = cls._end_step_problem(steps, end_step)
        if problem is not True:
            raise ValueError(problem)
        zigzag = ZigzagConfig(steps, group_size, end_step, slide)
        return io.NodeOutput(_check_chain(dataclasses.replace(q, zigzag=zigzag)))


class UnifiedStage(io.ComfyNode):
    """MIGA Stage 2: finish the stage-1 latents at one common noise level, streaming."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_UnifiedStage",
            display_name="Unified Stage",
            category=CATEGORY,
            description="MIGA Stage 2: latents leaving the Zigzag Stage are finished by whole-video sweeps in "
                        "which every window shares one noise level, streamed in bounded memory (each window runs "
                        "as soon as its latents are ready; the official code holds the whole video), optionally "
                        "re-noised and denoised again. Needs a Zigzag Stage before it. " + PRESET_NOTE,
            inputs=[
                _queue_input(),
                io.Int.Input("steps", default=UN.steps, min=1, max=1000,
                             tooltip="Unified steps; must equal Zigzag steps - end step (official "
                                     f"{ZZ.steps} - {ZZ.end_step} = {UN.steps})."),
                io.Boolean.Input("re_denoise", default=UN.renoise,
                                 tooltip="Add-and-re-denoise: re-noise the finished latents to re_noise_step and "
                                         "denoise them to clean again (official: on)."),
                io.Int.Input("re_noise_step", default=UN.renoise_step, min=0, max=1000,
                             tooltip="Ladder step the re-denoise pass starts from (official: the stage-1 end step, "
                                     f"{UN.renoise_step}). Ignored when re_denoise is off."),
            ],
            outputs=[_queue_output()],
            is_experimental=True,
        )

    @classmethod
    def execute(cls, queue, steps: int, re_denoise: bool, re_noise_step: int) -> io.NodeOutput:
        q = _check_queue(queue)  # a missing Zigzag Stage is reported by the sampler, so chain order is free
        require_inputs(cls, steps=steps, re_denoise=re_denoise, re_noise_step=re_noise_step)
        return io.NodeOutput(_check_chain(dataclasses.replace(q, unified=UnifiedConfig(steps, re_denoise,
                                                                                         re_noise_step))))


class SelfReflection(io.ComfyNode):
    """MIGA self-reflection: judge a group's similarity to the groups in front, regenerate it on a drop."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_SelfReflection",
            display_name="Self-Reflection",
            category=CATEGORY,
            description="MIGA self-reflection, active during the whole run: after each sweep the group at the judged "
                        "level is compared with the groups in front of it; when the similarity drops by more than "
                        "the threshold, it and the noisier groups behind it are regenerated from several candidate "
                        "noises and the best is kept if it is more consistent. Costs extra model calls per trigger.",
            inputs=[
                _queue_input(),
                io.Int.Input("candidates", default=RF.candidates, min=1, max=16,
                             tooltip=f"Candidate regenerations per trigger (official: {RF.candidates} Wan, 5 "
                                     "VideoCrafter2)."),
                io.Float.Input("threshold", default=RF.threshold, min=0.0, max=2.0, step=0.001, round=0.0001,
                               tooltip="Trigger when the similarity drops by more than this from the previous "
                                       f"judgment (cosine units, 0..2). Official Wan: {RF.threshold}. Higher = fewer "
                                       "triggers."),
                io.Combo.Input("metric", options=list(SIMILARITY_METRICS), default=RF.metric,
                               tooltip="pairwise: mean of per-latent cosines of the noisy latents (official Wan). "
                                       "mean_map: cosine of the channel-and-frame mean maps (official VideoCrafter2). "
                                       "pairwise_denoised: Wan's metric on the model's clean estimates from the same "
                                       "sweep (default: no extra calls; ignores the noise that dominates the judged "
                                       "latents, so it triggers about half as often)."),
                io.Int.Input("judged_level", default=RF.judged_level, min=1, max=1000,
                             tooltip=f"Steps done from noise when a group is judged (official Wan: {RF.judged_level}). "
                                     "Each trigger regenerates this many groups with this many sweeps per candidate."),
            ],
            outputs=[_queue_output()],
            is_experimental=True,
        )

    @classmethod
    def validate_inputs(cls, threshold: Optional[float] = None, metric: Optional[str] = None) -> bool | str:
        return check_widgets(cls, threshold=threshold, metric=metric)

    @classmethod
    def execute(cls, queue, candidates: int, threshold: float, metric: str, judged_level: int) -> io.NodeOutput:
        q = _check_queue(queue)
        require_inputs(cls, candidates=candidates, threshold=threshold, metric=metric, judged_level=judged_level)
        cfg = ReflectionConfig(candidates, float(threshold), metric, judged_level)
        return io.NodeOutput(_check_chain(dataclasses.replace(q, reflection=cfg)))


class LongRangeGuidance(io.ComfyNode):
    """MIGA long-range guidance: memory latents from further back prepended to every stage-1 window."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_LongRangeGuidance",
            display_name="Long-Range Guidance",
            category=CATEGORY,
            description="MIGA long-range guidance: each stage-1 window gets m extra latents from further back at "
                        "their own noise level (outputs discarded), so distant content stays consistent. The window "
                        "then holds window - m queue latents.",
            inputs=[
                _queue_input(),
                io.Int.Input("guidance_latents", default=GD.latents, min=1, max=64,
                             tooltip=f"m_guid: memory latents per window (official {GD.latents}); must be fewer than "
                                     "the window minus the Zigzag group size."),
                io.Combo.Input("source", options=list(MEMORY_SOURCES), default=GD.source,
                               tooltip="queue (default, official code): less noisy latents still in the queue. "
                                       "history: clean latents that already left (the paper's wording), sampled "
                                       "from the last history_span; lost more content in our benchmark."),
                io.Int.Input("history_span", default=GD.span, min=1, max=4096,
                             tooltip="source history: finished latents kept and sampled evenly (bounded memory). "
                                     "Ignored for source queue."),
            ],
            outputs=[_queue_output()],
            is_experimental=True,
        )

    @classmethod
    def validate_inputs(cls, source: Optional[str] = None) -> bool | str:
        return check_widgets(cls, source=source)

    @classmethod
    def execute(cls, queue, guidance_latents: int, source: str, history_span: int) -> io.NodeOutput:
        q = _check_queue(queue)
        require_inputs(cls, guidance_latents=guidance_latents, source=source, history_span=history_span)
        # the binding constraint first: the window (when FIFO Queue Init sets it), then the span, which only the
        # history source reads
        q = _check_chain(dataclasses.replace(q, guidance=GuidanceConfig(guidance_latents, source, history_span)))
        if source == "history" and history_span < guidance_latents:
            raise ValueError(f"Long-Range Guidance: history_span {history_span} must hold at least the "
                             f"{guidance_latents} guidance latents; raise history_span to {guidance_latents} or more")
        return io.NodeOutput(q)


NODES = [ZigzagStage, UnifiedStage, SelfReflection, LongRangeGuidance]
