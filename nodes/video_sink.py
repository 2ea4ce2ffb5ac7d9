"""Video Sink node: where and how a sampler streams its video (file, codec, decode, checkpoints, resume).

The node only describes the sink (:class:`SinkSpec`, wire type ``IV_VIDEO_SINK``); a sampler that takes it drives a
:class:`.sink_session.SinkSession` around its run (decode and encode as latents become final, checkpoints in the
format of :mod:`.checkpoint`, resume), through the one lifecycle :func:`.sink_session.sink_run`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from comfy_api.latest import io

from .checkpoint import CHECKPOINT_SUFFIX, inside_output
from .stream_video import CODECS, codec_problem
from .types import CATEGORY
from .validation import check_widgets, require_inputs, shown

SinkType = io.Custom("IV_VIDEO_SINK")
DECODE_MODES = ("vae", "preview")


@dataclass(frozen=True)
class SinkSpec:
    """What the Video Sink node says: where frames go and how (frozen: ComfyUI caches node outputs)."""

    filename_prefix: str
    fps: float
    codec: str
    quality: int
    decode: str
    checkpoint_every: int
    resume: str
    vae: Any = None
    keep_parts: bool = False


# -- checks (shared by the node's validation and the samplers) --------------------------------------------------------


def sink_problem(filename_prefix: Optional[str], codec: Optional[str], quality: Optional[int],
                 resume: Optional[str]) -> Optional[str]:
    """What the shared widget check (:func:`.validation.check_widgets`: options, ranges, NaN) cannot see: the codec's
    encoder in this PyAV build, its quality range, and the paths. The first problem (input and fix), or None;
    ``None`` values are linked inputs, checked at execution."""
    if codec is not None:
        problem = codec_problem(codec)
        if problem:
            return f"Video Sink: {problem}"
        if quality is not None and codec.startswith("h264") and quality > 51:
            return f"Video Sink: quality {quality} is above h264's maximum 51; use 0 (lossless) .. 51, or vp9 (webm)"
    try:
        if filename_prefix is not None:
            inside_output(filename_prefix.strip(), "filename_prefix")
        if resume is not None and resume.strip():
            path = inside_output(resume.strip(), "resume")
            if not path.endswith(CHECKPOINT_SUFFIX):
                return (f"Video Sink: resume must name a {CHECKPOINT_SUFFIX} checkpoint file, got "
                        f"{shown(os.path.basename(path))}")
            if not os.path.isfile(path):
                return (f"Video Sink: resume checkpoint {shown(resume.strip())} does not exist in the output folder; "
                        f"pick one with the 'pick checkpoint' button (a finished resume deletes the checkpoint it "
                        f"used), or leave resume empty for a new run")
    except ValueError as e:
        return str(e)
    return None


# -- the node ---------------------------------------------------------------------------------------------------------


class VideoSink(io.ComfyNode):
    """Where and how a sampler streams its video (connect to the sampler's ``sink`` input)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_VideoSink",
            display_name="Video Sink",
            category=CATEGORY,
            description="Streams the video to a file while the sampler runs: each latent frame is decoded and "
                        "encoded as soon as it is final, so memory stays flat however long the video, the file can "
                        "be watched as it grows, and an interrupted run can be resumed from its checkpoint.",
            inputs=[
                io.Combo.Input("decode", options=list(DECODE_MODES), default="vae",
                               tooltip="vae: decode with the VAE below (Wan 2.1/2.2 and Cosmos Predict2 exactly, "
                                       "frame by frame; LTX-Video in overlapping chunks). preview: the model's "
                                       "latent-to-RGB preview factors, one small image per latent frame (a fast "
                                       "look; exact for the pack's shapes model)."),
                io.String.Input("filename_prefix", default="infinite-video/video",
                                tooltip="File name prefix inside ComfyUI's output folder; a counter is added and "
                                        "no file is ever overwritten."),
                io.Float.Input("fps", default=16.0, min=0.01, max=240.0, step=0.01,
                               tooltip="Frames per second of the video (Wan 16, LTX-Video 24, Cosmos 16)."),
                io.Combo.Input("codec", options=list(CODECS), default="h264 (mp4)",
                               tooltip="h264 (mp4): plays everywhere, fragmented so it plays while it grows. "
                                       "vp9 (webm): smaller, slower to encode."),
                io.Int.Input("quality", default=19, min=0, max=63,
                             tooltip="Constant rate factor: lower is better and larger (0 = lossless h264; 19 "
                                     "visually lossless; 28 small)."),
                io.Int.Input("checkpoint_every", default=64, min=0, max=1_000_000,
                             tooltip="Save the run's state every N output latent frames (and on Cancel) next to "
                                     "the video, so it can be resumed; 0 = never. A finished run deletes its "
                                     "checkpoint."),
                io.String.Input("resume", default="",
                                tooltip="A checkpoint (.ivckpt, path inside the output folder) to continue: use the "
                                        "'pick checkpoint' button below (it lists the checkpoints in the output "
                                        "folder), or the sampler's button after a stopped run. The sampler's "
                                        "settings, seed and prompts must be the run's. The resumed run continues "
                                        "the same video file; when it finishes the checkpoint is spent and this "
                                        "field is cleared. Leave empty for a new run."),
                io.Vae.Input("vae", optional=True,
                             tooltip="The model's VAE (needed for decode = vae)."),
                io.Boolean.Input("keep_parts", default=False, optional=True,
                                 tooltip="Off: a resumed run continues the stopped video under its name and "
                                         "deletes the checkpoint it used and earlier partial videos once they are "
                                         "joined. On: keep them; the joined video gets a new name."),
            ],
            outputs=[SinkType.Output(tooltip="Connect to a sampler's sink input.")],
        )

    @classmethod
    def validate_inputs(cls, decode: Optional[str] = None, filename_prefix: Optional[str] = None,
                        fps: Optional[float] = None, codec: Optional[str] = None, quality: Optional[int] = None,
                        checkpoint_every: Optional[int] = None, resume: Optional[str] = None,
                        keep_parts: Optional[bool] = None) -> bool | str:
        ok = check_widgets(cls, decode=decode, filename_prefix=filename_prefix, fps=fps, codec=codec, quality=quality,
                           checkpoint_every=checkpoint_every, resume=resume, keep_parts=keep_parts)
        return ok if ok is not True else (sink_problem(filename_prefix, codec, quality, resume) or True)

    @classmethod
    def execute(cls, decode, filename_prefix, fps, codec, quality, checkpoint_every, resume,
                vae=None, keep_parts=False) -> io.NodeOutput:
        require_inputs(cls, decode=decode, filename_prefix=filename_prefix, fps=fps, codec=codec, quality=quality,
                       checkpoint_every=checkpoint_every, resume=resume)
        problem = sink_problem(filename_prefix, codec, quality, resume)
        if problem:
            raise ValueError(problem)
        if decode == "vae" and vae is None:
            raise ValueError("Video Sink: decode is vae but no vae is connected; connect the model's VAE (Load VAE) "
                             "or set decode to preview")
        return io.NodeOutput(SinkSpec(filename_prefix.strip(), float(fps), codec, int(quality), decode,
                                      int(checkpoint_every), resume.strip(), vae, keep_parts=bool(keep_parts)))


NODES = [VideoSink]
