"""Chunked Continuation: the queue option that denoises chunks of new latents behind clean context.

``FIFO Queue Init -> Chunked Continuation -> Infinite Video Sampler``: FIFO Queue Init gives the window and the ladder
(``window_length x partitions`` steps); this node replaces FIFO's diagonal queue by chunked continuation
(:mod:`..samplers.continuation`): each chunk of new latents is denoised in one window whose other slots hold finished
latents, anchors from early in the video and the newest finished ones, clean or tracked (``context``), from noise or
from the newest finished latent (``denoise``); or ``in_flight`` chunks at once, each further down the ladder (a
pipeline). Widget defaults are :data:`..samplers.continuation.NODE_DEFAULTS`; an API prompt without the newer optional
inputs runs as it did before they existed (:class:`..samplers.config.ContinuationConfig`'s defaults).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from comfy_api.latest import io

from ..samplers.config import ContinuationConfig, QueueConfig
from ..samplers.continuation import CONTEXT_TRACK, NODE_DEFAULTS, check_alone, check_continuation, check_modes
from .types import CATEGORY, QueueType
from .validation import check_widgets, require_inputs

CC = NODE_DEFAULTS  # the widgets' defaults
# an API prompt from before the context and denoise inputs existed has no value for them: it runs as it did then
BEFORE = ContinuationConfig()


class ChunkedContinuation(io.ComfyNode):
    """Chunked continuation instead of FIFO's queue: every chunk sees clean context at every step of its ladder."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_Continuation",
            display_name="Chunked Continuation",
            category=CATEGORY,
            description="Replaces FIFO's queue: each chunk of new latent frames is denoised in one window whose "
                        "other slots hold finished latents (anchors from early in the video and the newest "
                        "finished frames), like an image-to-video continuation. Frames keep their contrast and the "
                        "subject stays the same over hundreds of frames. Costs denoise x steps / chunk model calls "
                        "per output latent frame. Chain FIFO Queue Init (window_length, partitions = the ladder) -> "
                        "Chunked Continuation -> Infinite Video Sampler; not with the MIGA nodes.",
            inputs=[
                QueueType.Input("queue", tooltip="Queue configuration from FIFO Queue Init: its window_length is the "
                                                 "window, window_length x partitions the steps of every chunk."),
                io.Int.Input("chunk", default=CC.chunk, min=1, max=1023,
                             tooltip="New latent frames per chunk. Each chunk runs the whole ladder (window_length x "
                                     "partitions steps, one model call each), so a chunk costs steps / chunk model "
                                     "calls per output latent frame (42 steps, chunk 12: 3.5). Larger = fewer calls "
                                     "but less clean context in the window; chunk + anchors must leave at least one "
                                     "slot of the window for the newest finished frame."),
                io.Int.Input("anchors", default=CC.anchors, min=0, max=64,
                             tooltip="Clean latents from early in the video (output latent frames 0, anchor_every, "
                                     "2 x anchor_every, ...) kept in every window for the whole run at their true "
                                     "distance: they keep the subject's look over hundreds of frames. Each takes a "
                                     "window slot (no extra calls). Needs a model that takes frame positions (Wan "
                                     "2.1 / 2.2, VACE, Camera); LTX-Video and Cosmos would read them as neighbours, "
                                     "so they are refused there: 0 = none, any model."),
                io.Int.Input("anchor_every", default=CC.anchor_every, min=1, max=4096,
                             tooltip="Output latent frames between anchors: the anchors are latent frames 0, "
                                     "anchor_every, 2 x anchor_every, ... (each joins once it is finished). Larger "
                                     "spreads them over more of the video. Ignored with 0 anchors."),
                # optional: an API prompt from before it existed has no value for it and must still run
                io.Int.Input("in_flight", default=CC.in_flight, min=1, max=16, optional=True,
                             tooltip="Chunks denoised at once, each further down the ladder than the next (a "
                                     "pipeline): a chunk leaves every steps / in_flight calls instead of every "
                                     "steps, so the calls per output frame drop by in_flight while every chunk "
                                     "still runs the whole ladder; younger chunks see the older ones, still noisy, "
                                     "as their neighbours. chunk x in_flight + anchors must leave at least one "
                                     "window slot. Experimental: on the pack's trained test model it drifts into "
                                     "one colour (docs/benchmarks.md); 1 = one chunk at a time, as the templates "
                                     "run. Needs context clean and denoise 1; not with Wan VACE / Camera (one level "
                                     "per window)."),
                io.Combo.Input("context", options=list(CONTEXT_TRACK), default="tracked", optional=True,
                               tooltip="How the window holds its context (anchors, newest finished frames). "
                                       "tracked (default): every frame at the chunk's noise level, as a text-to-video "
                                       "model (Wan, LTX-Video) was trained, and after each call the context's noise "
                                       "moves so that the model reads the context as its finished frames (no extra "
                                       "calls). clean: the context at noise level 0 beside the noisy chunk, right "
                                       "for a model that reads each frame's own level; a model trained on one level "
                                       "per window reads it badly (the subject drifts, chunk borders show). On the "
                                       "pack's trained test model tracked kept the subject to the end on all 8 seeds "
                                       "(0.86), clean context did not (0.20; docs/benchmarks.md). Not with in_flight "
                                       "above 1. An API prompt without this input runs clean, as before the input "
                                       "existed."),
                io.Float.Input("denoise", default=CC.denoise, min=0.05, max=1.0, step=0.01, optional=True,
                               tooltip="Share of the ladder each chunk after the first runs. 1 = from pure noise, "
                                       "every step. Below 1 a chunk starts from the newest finished frame, repeated "
                                       "and noised to that point of the ladder (like img2img strength), and skips "
                                       "the steps above it: fewer calls, and the chunk starts next to its context, "
                                       "where the model cannot read the context yet. Lower starts closer to a copy "
                                       "of the newest frame. 0.5 "
                                       "suits a window of 9 latent frames, 0.6 the Wan templates' 21 and 31 (analytic "
                                       "oracle). Not with in_flight above 1. An API prompt without this input runs "
                                       "1, as before the input existed."),
            ],
            outputs=[QueueType.Output(display_name="queue", tooltip="The queue configuration with chunked "
                                                                    "continuation, for Infinite Video Sampler.")],
        )

    @classmethod
    def validate_inputs(cls, chunk: Optional[int] = None, anchors: Optional[int] = None,
                        anchor_every: Optional[int] = None, in_flight: Optional[int] = None,
                        context: Optional[str] = None, denoise: Optional[float] = None) -> bool | str:
        return check_widgets(cls, chunk=chunk, anchors=anchors, anchor_every=anchor_every, in_flight=in_flight,
                             context=context, denoise=denoise)

    @classmethod
    def execute(cls, queue, chunk: int, anchors: int, anchor_every: int, in_flight: int = CC.in_flight,
                context: str = "clean", denoise: float = BEFORE.denoise) -> io.NodeOutput:
        if not isinstance(queue, QueueConfig):
            raise ValueError("Chunked Continuation: queue must come from FIFO Queue Init")
        require_inputs(cls, chunk=chunk, anchors=anchors, anchor_every=anchor_every, in_flight=in_flight,
                       context=context, denoise=denoise)  # linked values skip validation
        cont = ContinuationConfig(chunk, anchors, anchor_every, in_flight=in_flight, track=CONTEXT_TRACK[context],
                                  denoise=float(denoise))
        q = dataclasses.replace(queue, continuation=cont)
        try:
            check_alone(q)
            if q.window > 0:  # the fit in the window, here where the error names this node (else the sampler's)
                check_continuation(cont, q.window, q.window * q.partitions)
            else:  # the window is the latent's, known at the sampler: what does not need it, here
                check_modes(cont)
        except ValueError as e:
            raise ValueError(f"Chunked Continuation: {e}") from None
        return io.NodeOutput(q)


NODES = [ChunkedContinuation]
