"""Video Sink: stream a long run to a video file as frames leave the queue, checkpoint it, and resume it.

The node only describes the sink (:class:`SinkSpec`, wire type ``IV_VIDEO_SINK``); the samplers take it as an optional
input and drive a :class:`StreamSession` around their run:

- each finished latent is turned back into the VAE's space, decoded (:mod:`.stream_decode`) and encoded
  (:mod:`.stream_video`) at the end of the queue iteration that finished it, so the file grows while the run goes and
  the sampler keeps only a bounded tail of latents;
- every ``checkpoint_every`` output latents, and on Cancel or an error, the engine's state (:mod:`..samplers.stream`),
  what the decoder needs to continue (:mod:`.stream_decode`) and the list of video parts are written next to the
  video, atomically (temporary file, then rename). A periodic checkpoint is written only once the video frames it
  covers are in a closed fragment of the file, so even a killed process leaves a checkpoint whose frames are all in
  the file;
- ``resume`` names such a checkpoint: the run continues bit for bit, its new frames go to a part file, and at the end
  (or Cancel) the earlier video's frames and the new part are joined by remuxing into a new file. Nothing earlier is
  overwritten or deleted; a successful run deletes only its own checkpoint.

Checkpoints are read with ``torch.load(weights_only=True)`` (tensors and plain data, no code).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import folder_paths
import torch
from comfy_api.latest import io, ui
from comfy_api.latest._input_impl.video_types import VideoFromFile
from torch import Tensor

from ..samplers.stream import Stream
from .stream_decode import PREVIEW_UPSCALE, STREAMING_FAMILIES, PreviewStreamDecoder, StreamDecoder, make_decoder
from .stream_video import CODECS, VideoWriter, codec_problem, join_videos
from .types import CATEGORY
from .validation import check_widgets, require_inputs, shown

log = logging.getLogger("infinite_video")

SinkType = io.Custom("IV_VIDEO_SINK")
DECODE_MODES = ("vae", "preview")
CHECKPOINT_SUFFIX = ".ivckpt"
CHECKPOINT_FORMAT = "infinite-video checkpoint"
CHECKPOINT_VERSION = 2  # 2: a Wan decoder's state is its last latents, not its cache


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


# -- checks (shared by the node's validation and the samplers) --------------------------------------------------------


def _output_dir() -> str:
    return os.path.abspath(folder_paths.get_output_directory())


def _inside_output(rel: str, what: str) -> str:
    """Absolute path of ``rel`` under ComfyUI's output folder; ``ValueError`` for anything that leaves it."""
    out = _output_dir()
    if not rel or os.path.isabs(rel) or "\x00" in rel:
        raise ValueError(f"Video Sink: {what} must be a relative path inside ComfyUI's output folder (e.g. "
                         f"infinite-video/video)")
    path = os.path.abspath(os.path.join(out, rel))
    if os.path.commonpath((out, path)) != out:
        raise ValueError(f"Video Sink: {what} leaves ComfyUI's output folder ('..' or similar); use a path inside it, "
                         f"e.g. infinite-video/video")
    return path


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
            _inside_output(filename_prefix.strip(), "filename_prefix")
        if resume is not None and resume.strip():
            path = _inside_output(resume.strip(), "resume")
            if not path.endswith(CHECKPOINT_SUFFIX):
                return (f"Video Sink: resume must name a {CHECKPOINT_SUFFIX} checkpoint file, got "
                        f"{shown(os.path.basename(path))}")
            if not os.path.isfile(path):
                return (f"Video Sink: resume checkpoint {shown(resume.strip())} does not exist in the output folder; "
                        f"copy the name the interrupted run printed, or leave resume empty for a new run")
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
                                tooltip="A checkpoint (.ivckpt, path inside the output folder, as printed by the "
                                        "interrupted run) to continue. The sampler's settings, seed and prompts must "
                                        "be the run's. Leave empty for a new run."),
                io.Vae.Input("vae", optional=True,
                             tooltip="The model's VAE (needed for decode = vae)."),
            ],
            outputs=[SinkType.Output(tooltip="Connect to a sampler's sink input.")],
        )

    @classmethod
    def validate_inputs(cls, decode: Optional[str] = None, filename_prefix: Optional[str] = None,
                        fps: Optional[float] = None, codec: Optional[str] = None, quality: Optional[int] = None,
                        checkpoint_every: Optional[int] = None, resume: Optional[str] = None) -> bool | str:
        ok = check_widgets(cls, decode=decode, filename_prefix=filename_prefix, fps=fps, codec=codec, quality=quality,
                           checkpoint_every=checkpoint_every, resume=resume)
        return ok if ok is not True else (sink_problem(filename_prefix, codec, quality, resume) or True)

    @classmethod
    def execute(cls, decode, filename_prefix, fps, codec, quality, checkpoint_every, resume,
                vae=None) -> io.NodeOutput:
        require_inputs(cls, decode=decode, filename_prefix=filename_prefix, fps=fps, codec=codec, quality=quality,
                       checkpoint_every=checkpoint_every, resume=resume)
        problem = sink_problem(filename_prefix, codec, quality, resume)
        if problem:
            raise ValueError(problem)
        if decode == "vae" and vae is None:
            raise ValueError("Video Sink: decode is vae but no vae is connected; connect the model's VAE (Load VAE) "
                             "or set decode to preview")
        return io.NodeOutput(SinkSpec(filename_prefix.strip(), float(fps), codec, int(quality), decode,
                                      int(checkpoint_every), resume.strip(), vae))


# -- fingerprints -----------------------------------------------------------------------------------------------------


def tensor_digest(*values: Any) -> str:
    """A short digest of tensors / plain values (prompts, ladders), for telling runs apart."""
    h = hashlib.sha1()

    def feed(v: Any) -> None:
        if isinstance(v, Tensor):
            h.update(str((tuple(v.shape), str(v.dtype))).encode())
            h.update(v.detach().float().cpu().contiguous().numpy().tobytes())
        elif isinstance(v, dict):
            for k in sorted(v, key=str):
                h.update(str(k).encode())
                feed(v[k])
        elif isinstance(v, (list, tuple)):
            for x in v:
                feed(x)
        elif v is None or isinstance(v, (bool, int, float, str)):
            h.update(repr(v).encode())
        else:  # other objects (CLIP vision outputs, hooks): their kind only; a repr may hold a memory address
            h.update(type(v).__name__.encode())

    for v in values:
        feed(v)
    return h.hexdigest()[:16]


def weights_digest(net: Any) -> str:
    """A digest of a network's first 4,096 weights (enough to tell two checkpoints apart, cheap to compute); ``""``
    for something that is not a ``torch.nn.Module`` or has no parameters."""
    weight = next(iter(net.parameters()), None) if isinstance(net, torch.nn.Module) else None
    return tensor_digest(weight.flatten()[:4096]) if weight is not None else ""


def _mismatch(saved: dict, now: dict) -> Optional[str]:
    diffs = [k for k in now if saved.get(k) != now[k]] + [k for k in saved if k not in now]
    if not diffs:
        return None
    shown = "; ".join(f"{k}: saved {_short(saved.get(k))}, now {_short(now.get(k))}" for k in diffs[:4])
    return (f"the checkpoint is from a run with other settings ({shown}); resume needs the settings, seed, prompts, "
            f"model and latent it was saved with, or leave resume empty for a new run")


def _short(v: Any) -> str:
    text = ascii(v)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the session ------------------------------------------------------------------------------------------------------


def _video_name(prefix: str, ext: str) -> tuple[str, str]:
    """A new ``(absolute path, path relative to the output folder)`` for ``prefix`` (ComfyUI's counter)."""
    out = _output_dir()
    folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(prefix, out)
    os.makedirs(folder, exist_ok=True)
    while True:
        stem = f"{name}_{counter:05}_"
        if not any(os.path.exists(os.path.join(folder, stem + s)) for s in (f".{ext}", f".part.{ext}",
                                                                            CHECKPOINT_SUFFIX)):
            break
        counter += 1
    return os.path.join(folder, f"{stem}.{ext}"), os.path.join(subfolder, f"{stem}.{ext}")


def model_fingerprint(model: Any, latent: Tensor, positive: Any, negative: Any, **settings: Any) -> dict:
    """What a resumed run must share with the run it continues: model, latent, prompts and ``settings``."""
    net = model.model.diffusion_model
    return {"model": f"{type(model.model).__name__}/{type(net).__name__}", "weights": weights_digest(net),
            "latent": list(latent.shape), "latent_values": tensor_digest(latent),
            "positive": tensor_digest(positive), "negative": tensor_digest(negative),
            **{k: (tensor_digest(v) if isinstance(v, Tensor) else v) for k, v in settings.items()}}


def open_session(sink: SinkSpec, model: Any, latent: Tensor, fingerprint: dict) -> StreamSession:
    """A started :class:`StreamSession` for a sampler whose latents are ``latent``-shaped (``[B, C, F, H, W]``, the
    sampler's input): checks everything, opens the video file; no model call has happened yet."""
    if not isinstance(sink, SinkSpec):
        raise ValueError("sink must come from a Video Sink node")
    if latent.shape[0] != 1:
        raise ValueError(f"Video Sink: the latent has a batch of {latent.shape[0]}; a sink writes one video, so use "
                         f"batch size 1")
    session = StreamSession(sink, StreamSession.decoder_for(sink, model, latent.shape[1]), fingerprint,
                            latent_out=lambda x: model.model.process_latent_out(x.float()))
    h, w = latent.shape[3], latent.shape[4]
    scale = PREVIEW_UPSCALE if sink.decode == "preview" else int(sink.vae.spacial_compression_decode())
    session.start(w * scale, h * scale)
    return session


def open_image_session(sink: SinkSpec, fingerprint: dict, width: int, height: int) -> StreamSession:
    """A started :class:`StreamSession` for a node that makes the frames itself (K-Step Noise Search)."""
    if not isinstance(sink, SinkSpec):
        raise ValueError("sink must come from a Video Sink node")
    session = StreamSession(sink, None, fingerprint)
    session.start(width, height)
    return session


def load_checkpoint(rel: str) -> dict:
    """Read a checkpoint; ``ValueError`` naming ``resume`` for anything that is not one of ours."""
    path = _inside_output(rel, "resume")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"Video Sink: resume checkpoint {rel!r} does not exist; leave resume empty for a new "
                         f"run") from None
    except Exception as e:  # truncated, corrupt, or not a torch file at all
        raise ValueError(f"Video Sink: resume checkpoint {rel!r} cannot be read ({type(e).__name__}): it is "
                         f"truncated or corrupt; use an earlier checkpoint or start a new run") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"Video Sink: {rel!r} is not an infinite-video checkpoint; name the .ivckpt file an "
                         f"interrupted run wrote")
    if data.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"Video Sink: checkpoint {rel!r} has format version {data.get('version')!r}, this pack "
                         f"reads {CHECKPOINT_VERSION}; finish it with the pack version that wrote it")
    return data


def _atomic_save(obj: Any, path: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class StreamSession:
    """Decoder, video file and checkpoints around one sampler run (see the module docstring).

    ``latent_out`` maps a latent frame from the sampler's space to the VAE's (``model.process_latent_out``).
    ``fingerprint``: plain values that identify the run; a resumed run must match them.
    """

    def __init__(self, spec: SinkSpec, decoder: Optional[StreamDecoder], fingerprint: dict,
                 latent_out: Callable[[Tensor], Tensor] = lambda x: x):
        self.spec, self.latent_out, self.decoder = spec, latent_out, decoder
        fingerprint = dict(fingerprint, decode=self._decode_id(spec) if decoder is not None else "images",
                           codec=spec.codec, fps=spec.fps, quality=spec.quality)
        self.fingerprint = fingerprint
        self.resume_state: Optional[dict] = None
        self.parts: list[tuple[str, int]] = []  # earlier (relative path, frames) joined before this run's frames
        if spec.resume:
            data = load_checkpoint(spec.resume)
            problem = _mismatch(data["fingerprint"], fingerprint)
            if problem:
                raise ValueError(f"Video Sink: {problem}")
            self.resume_state = data["engine"]
            self.parts = [(str(p), int(n)) for p, n in data["parts"]]
            for p, _ in self.parts:
                if not os.path.isfile(_inside_output(p, "resume")):
                    raise ValueError(f"Video Sink: the checkpoint continues {p!r}, which is no longer in the output "
                                     f"folder; put it back, or start a new run")
            if self.decoder is not None:  # last: a Wan decoder replays its latents here
                self.decoder.load_state_dict(data["decoder"])
        ext = CODECS[spec.codec][1]
        self.path, self.rel = _video_name(spec.filename_prefix, ext)
        self.ckpt_path = self.path[: -len(ext) - 1] + CHECKPOINT_SUFFIX
        self.ckpt_rel = self.rel[: -len(ext) - 1] + CHECKPOINT_SUFFIX
        # a resumed run encodes into a part file, joined with the earlier video at the end
        self.write_path = self.path[: -len(ext)] + f"part.{ext}" if self.parts else self.path
        self.writer: Optional[VideoWriter] = None
        self.buffer: list[Tensor] = []
        self.pending: Optional[dict] = None
        self.decode_s = self.encode_s = 0.0
        self.latents_written = 0
        self.closed = False
        self.last_state: Optional[dict] = None  # chunk-wise producers: the state after the last finished chunk

    @staticmethod
    def _decode_id(spec: SinkSpec) -> str:
        if spec.decode == "preview":
            return "preview"
        net = getattr(spec.vae, "first_stage_model", spec.vae)
        return f"vae:{type(net).__module__}.{type(net).__name__}/{weights_digest(net)}"

    @staticmethod
    def decoder_for(spec: SinkSpec, model: Any, channels: int) -> StreamDecoder:
        if spec.decode == "preview":
            fmt = model.get_model_object("latent_format")
            factors = getattr(fmt, "latent_rgb_factors", None)
            if factors is None or len(factors) != channels:
                raise ValueError(f"Video Sink: decode is preview but the model's latent format "
                                 f"({type(fmt).__name__}) has no preview factors for {channels} channels; set decode "
                                 f"to vae and connect the VAE")
            return PreviewStreamDecoder(factors, getattr(fmt, "latent_rgb_factors_bias", None))
        vae = spec.vae
        if vae is None:
            raise ValueError("Video Sink: decode is vae but no vae is connected; connect the model's VAE or set "
                             "decode to preview")
        vae_channels = getattr(vae, "latent_channels", None)
        if vae_channels != channels:
            raise ValueError(f"Video Sink: the vae takes {vae_channels}-channel latents but the model makes "
                             f"{channels}-channel latents; connect the VAE that belongs to this model (Wan 2.1 and "
                             f"Cosmos Predict2: wan_2.1_vae, Wan 2.2 5B: wan2.2_vae, LTX-Video: its checkpoint's VAE)")
        try:
            return make_decoder(vae)
        except ValueError as e:
            raise ValueError(f"Video Sink: {e}") from None

    # -- engine hooks ----------------------------------------------------------------------------------------------

    def stream(self, keep: int) -> Stream:
        return Stream(on_frame=self.on_frame, on_boundary=self.on_boundary, every=self.spec.checkpoint_every,
                      on_state=self.on_state, on_abort=self.on_abort, resume=self.resume_state, keep=keep)

    def start(self, width: int, height: int) -> None:
        """Open the video file (before any model call: an unwritable folder fails here)."""
        try:
            self.writer = VideoWriter(self.write_path, self.spec.fps, self.spec.codec, self.spec.quality, width,
                                      height)
        except OSError as e:
            raise ValueError(f"Video Sink: cannot write {self.rel!r} in the output folder ({e.strerror}); choose "
                             f"another filename_prefix or free the folder") from None

    def on_frame(self, index: int, latent: Tensor) -> None:
        self.buffer.append(latent)  # decoded at the iteration's end, so a Cancel mid-iteration leaves no half state

    def on_boundary(self, frames_done: int) -> None:
        assert self.decoder is not None
        for latent in self.buffer:
            t0 = time.perf_counter()
            images = self.decoder.push(self.latent_out(latent) if self.spec.decode == "vae" else latent)
            self.decode_s += time.perf_counter() - t0
            self.write_images(images, latents=1)
        self.buffer = []

    def write_images(self, images: Tensor, latents: int = 0) -> None:
        """Encode ``[T, H, W, 3]`` frames; a pending checkpoint is saved once its frames are in a closed fragment."""
        assert self.writer is not None
        t0 = time.perf_counter()
        self.writer.write(images)
        self.encode_s += time.perf_counter() - t0
        self.latents_written += latents
        if self.pending is not None and self.writer.flushed:
            self._save(self.pending)
            self.pending = None

    def _checkpoint(self, engine: dict) -> dict:
        assert self.writer is not None
        parts = [p for p in self.parts + [(os.path.relpath(self.write_path, _output_dir()), self.writer.frames)]
                 if p[1] > 0]
        return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "fingerprint": self.fingerprint,
                "engine": engine, "decoder": self.decoder.state_dict() if self.decoder is not None else None,
                "parts": parts,
                "latent_frames": engine.get("frames_done", self.latents_written), "video": self.rel}

    def on_state(self, engine: dict) -> None:
        """A periodic snapshot: saved once the frames it covers are in a closed fragment (see :meth:`on_boundary`)."""
        assert self.writer is not None
        self.pending = self._checkpoint(engine)
        self.writer.mark()

    def _save(self, data: dict) -> None:
        _atomic_save(data, self.ckpt_path)
        log.info("infinite-video: checkpoint at %d latent frames: %s", data["latent_frames"], self.ckpt_rel)

    def on_abort(self, engine: Optional[dict]) -> None:
        """Cancel or an error: finalise the video with every frame written so far and save the last boundary."""
        self.buffer = []
        data = self._checkpoint(engine) if engine is not None else None
        self._close()
        if data is not None:
            if self.parts:  # joined: the checkpoint continues the joined file
                data["parts"] = [(self.rel, sum(n for _, n in data["parts"]))]
            self._save(data)
            log.warning("infinite-video: run stopped; resume it with resume = %s", self.ckpt_rel)

    def finish(self) -> None:
        """A normal end: the decoder's last frames, the file finalised (joined when resumed), checkpoint removed."""
        assert self.writer is not None
        if self.decoder is not None:
            images = self.decoder.finish()
            if images.shape[0]:
                self.writer.write(images)
        self._close()
        if os.path.exists(self.ckpt_path):
            os.remove(self.ckpt_path)

    def _close(self) -> None:
        if self.closed or self.writer is None:
            return
        self.closed = True
        self.writer.close()
        if self.writer.frames == 0:  # an empty file is no video: drop it (nothing was written to keep)
            os.remove(self.write_path)
        if self.parts:
            join_videos([(_inside_output(p, "resume"), n) for p, n in self.parts]
                        + ([(self.write_path, self.writer.frames)] if self.writer.frames else []), self.path)
            if self.writer.frames:
                os.remove(self.write_path)

    def fail(self) -> None:
        """The run stopped before its loop started (nothing generated): close and drop the empty file."""
        if self.closed or self.writer is None:
            return
        self.closed = True
        self.writer.close()
        os.remove(self.write_path)

    def chunk_hooks(self) -> dict[str, Any]:
        """Keyword arguments for ``noise_search.search_chunks``: frames to the file per chunk, a checkpoint after the
        chunk that brings ``checkpoint_every`` or more latent frames since the last one (chunks are the only
        consistent states), only the newest chunk kept, and the resume state."""
        from ..samplers.noise_search import search_state

        self.last_state = self.resume_state
        every, since = self.spec.checkpoint_every, 0
        done = self.resume_state["frames_done"] if self.resume_state is not None else 0

        def on_chunk(c: int, frames: Tensor, latent: Tensor) -> None:
            nonlocal since, done
            self.write_images(frames, latents=latent.shape[2])
            done += latent.shape[2]
            if every > 0:  # as drive(): with checkpoints off, a Cancel saves nothing either
                self.last_state = search_state(c + 1, frames[-1:], done)
                since += latent.shape[2]
                if since >= every:
                    self.on_state(self.last_state)
                    since = 0

        return {"on_chunk": on_chunk, "keep_chunks": 1, "resume": self.resume_state}

    # -- node output -----------------------------------------------------------------------------------------------

    def outputs(self) -> tuple[Any, Any]:
        """``(VIDEO, ui)`` for the sampler node."""
        folder, name = os.path.split(self.rel)
        result = ui.SavedResult(name, folder, io.FolderType.output)
        return VideoFromFile(self.path), ui.PreviewVideo([result])

    def __str__(self) -> str:
        return (f"{self.rel}: {self.latents_written} latent frames streamed (decode {self.decode_s:.1f} s, encode "
                f"{self.encode_s:.1f} s)")


NODES = [VideoSink]

__all__ = ["NODES", "SinkSpec", "SinkType", "StreamSession", "VideoSink", "STREAMING_FAMILIES", "model_fingerprint",
           "open_session", "tensor_digest"]
