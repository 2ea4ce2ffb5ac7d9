"""The Video Sink's session around one sampler run: stream the frames to the video file as they become final,
checkpoint the run, resume it, and the one lifecycle every sampler node uses (:func:`sink_run`).

- each finished latent is turned back into the VAE's space, decoded (:mod:`.stream_decode`) and encoded
  (:mod:`.stream_video`) at the end of the iteration that finished it, so the file grows while the run goes and the
  sampler keeps only a bounded tail of latents; a sampler that decodes its frames itself (K-Step Noise Search) hands
  them over instead;
- every ``checkpoint_every`` output latents, and on Cancel or an error, the runner's state (:mod:`..samplers.runner`),
  what the decoder needs to continue and the list of video parts are written next to the video (:mod:`.checkpoint`).
  A periodic checkpoint is written only once the video frames it covers are in a closed fragment of the file, so
  even a killed process leaves a checkpoint whose frames are all in the file;
- ``resume`` names such a checkpoint: the run continues bit for bit, its new frames go to ``<video>.part.<ext>``, and
  at the end (or Cancel) the earlier video's frames and the new part are joined by remuxing into the video the
  checkpoint continues, under the same name (replaced atomically; it only grows). So a video keeps one name however
  often it is stopped and resumed, and its checkpoint is ``<video>.ivckpt`` next to it. A finished run deletes its
  checkpoint; a resumed one also deletes the checkpoint it was resumed from and earlier partial videos, unless the
  sink's ``keep_parts`` is on (then the joined video gets a new name and nothing earlier is touched).
- the running node hears of it (:mod:`.run_status`): live frames as they are encoded, and where a stopped run can be
  resumed from.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import folder_paths
from comfy_api.latest import io
from comfy_api.latest._input_impl.video_types import VideoFromFile
from torch import Tensor

from ..samplers.runner import Stream
from .checkpoint import (
    CHECKPOINT_SUFFIX,
    checkpoint_data,
    fingerprint_mismatch,
    inside_output,
    load_checkpoint,
    output_dir,
    save_checkpoint,
    weights_digest,
)
from .run_status import channel
from .stream_decode import PREVIEW_UPSCALE, PreviewStreamDecoder, StreamDecoder, make_decoder
from .stream_video import CODECS, VideoWriter, join_videos
from .video_sink import SinkSpec

log = logging.getLogger("infinite_video")

UI_VIDEO = "iv_video"  # the sampler's ui key for the finished video ({filename, subfolder, type})


def _video_name(prefix: str, ext: str) -> tuple[str, str]:
    """A new ``(absolute path, path relative to the output folder)`` for ``prefix`` (ComfyUI's counter)."""
    out = output_dir()
    folder, name, counter, subfolder, _ = folder_paths.get_save_image_path(prefix, out)
    os.makedirs(folder, exist_ok=True)
    while True:
        stem = f"{name}_{counter:05}_"
        if not any(os.path.exists(os.path.join(folder, stem + s)) for s in (f".{ext}", f".part.{ext}",
                                                                            CHECKPOINT_SUFFIX)):
            break
        counter += 1
    return os.path.join(folder, f"{stem}.{ext}"), os.path.join(subfolder, f"{stem}.{ext}")


def open_session(sink: SinkSpec, model: Any, latent: Tensor, fingerprint: dict) -> SinkSession:
    """A started :class:`SinkSession` for a sampler whose latents are ``latent``-shaped (``[B, C, F, H, W]``, the
    sampler's input): checks everything, opens the video file; no model call has happened yet."""
    if not isinstance(sink, SinkSpec):
        raise ValueError("sink must come from a Video Sink node")
    if latent.shape[0] != 1:
        raise ValueError(f"Video Sink: the latent has a batch of {latent.shape[0]}; a sink writes one video, so use "
                         f"batch size 1")
    session = SinkSession(sink, SinkSession.decoder_for(sink, model, latent.shape[1]), fingerprint,
                          latent_out=lambda x: model.model.process_latent_out(x.float()))
    h, w = latent.shape[3], latent.shape[4]
    scale = PREVIEW_UPSCALE if sink.decode == "preview" else int(sink.vae.spacial_compression_decode())
    session.start(w * scale, h * scale)
    return session


def open_image_session(sink: SinkSpec, fingerprint: dict, width: int, height: int,
                       images: Callable[[], Tensor]) -> SinkSession:
    """A started :class:`SinkSession` for a node that decodes the frames itself (K-Step Noise Search): ``images()``
    gives the pixel frames ``[F, H, W, 3]`` that joined the video in the iteration just done."""
    if not isinstance(sink, SinkSpec):
        raise ValueError("sink must come from a Video Sink node")
    session = SinkSession(sink, None, fingerprint, images=images)
    session.start(width, height)
    return session


@contextmanager
def sink_run(sink: Optional[SinkSpec],
             opener: Callable[[SinkSpec], SinkSession]) -> Iterator[Optional[SinkSession]]:
    """The lifecycle of a Video Sink around one sampler run, the same for every sampler node.

    - open: ``opener(sink)`` (:func:`open_session` or :func:`open_image_session`) checks everything and creates
      the video file, before any model call (without a sink nothing is opened and ``None`` is yielded);
    - run: :func:`..samplers.runner.drive`, given :meth:`SinkSession.stream`, streams the frames and saves the
      checkpoints; on Cancel or an error in its loop it saves the last boundary's state and finalises the file;
    - fail: an error outside the loop closes the file (dropped when empty: nothing was generated);
    - finish: a normal end writes the decoder's last frames, finalises (joins) the file, removes the checkpoint.

    The node then returns :meth:`SinkSession.outputs`.
    """
    session = opener(sink) if sink is not None else None
    if session is None:
        yield None
        return
    try:
        yield session
    except BaseException:
        session.fail()
        raise
    session.finish()
    log.info("infinite-video: %s", session)


class SinkSession:
    """Decoder, video file and checkpoints around one sampler run (see the module docstring).

    ``latent_out`` maps a latent frame from the sampler's space to the VAE's (``model.process_latent_out``).
    ``fingerprint``: plain values that identify the run; a resumed run must match them. Without a ``decoder``,
    ``images()`` gives the frames the sampler decoded itself in the iteration just done.
    """

    def __init__(self, spec: SinkSpec, decoder: Optional[StreamDecoder], fingerprint: dict,
                 latent_out: Callable[[Tensor], Tensor] = lambda x: x,
                 images: Optional[Callable[[], Tensor]] = None):
        self.spec, self.latent_out, self.decoder, self.images = spec, latent_out, decoder, images
        fingerprint = dict(fingerprint, decode=self._decode_id(spec) if decoder is not None else "images",
                           codec=spec.codec, fps=spec.fps, quality=spec.quality)
        self.fingerprint = fingerprint
        self.resume_state: Optional[dict] = None
        self.parts: list[tuple[str, int]] = []  # earlier (relative path, frames) joined before this run's frames
        self.channel = channel()
        continued: Optional[str] = None  # the video this resumed run continues under its own name
        if spec.resume:
            data = load_checkpoint(spec.resume)
            problem = fingerprint_mismatch(data["fingerprint"], fingerprint)
            if problem:
                raise ValueError(f"Video Sink: {problem}")
            self.resume_state = data["engine"]
            self.parts = [(str(p), int(n)) for p, n in data["parts"]]
            for p, _ in self.parts:
                if not os.path.isfile(inside_output(p, "resume")):
                    raise ValueError(f"Video Sink: the checkpoint continues {p!r}, which is no longer in the output "
                                     f"folder; put it back, or start a new run")
            if self.decoder is not None:  # last: a Wan decoder replays its latents here
                self.decoder.load_state_dict(data["decoder"])
            continued = self._continued(str(data.get("video", "")))
        ext = CODECS[spec.codec][1]
        if continued is not None:
            self.path, self.rel = inside_output(continued, "resume"), continued
        else:
            self.path, self.rel = _video_name(spec.filename_prefix, ext)
        self.ckpt_path = self.path[: -len(ext) - 1] + CHECKPOINT_SUFFIX
        self.ckpt_rel = self.rel[: -len(ext) - 1] + CHECKPOINT_SUFFIX
        # a resumed run encodes into a part file, joined with the earlier video at the end
        self.write_path = self.path[: -len(ext)] + f"part.{ext}" if self.parts else self.path
        if continued is not None and os.path.exists(self.write_path):
            os.remove(self.write_path)  # a killed resume's leftover that no checkpoint continues (see _continued)
        self.writer: Optional[VideoWriter] = None
        self.buffer: list[Tensor] = []
        self.pending: Optional[dict] = None
        self.decode_s = self.encode_s = 0.0
        self.latents_written = 0
        self.closed = False

    def _continued(self, video: str) -> Optional[str]:
        """The video a resumed run continues under its own name (``keep_parts`` off): the checkpoint's first part,
        when it is the video the checkpoint names and no part is that video's part file (a checkpoint saved while an
        earlier resume of it ran, then killed); or, for a run stopped before its first frame (no part), the name it
        would have had, when free. Else None: the video gets a new name."""
        if self.spec.keep_parts or not video:
            return None
        if not self.parts:
            return None if os.path.exists(inside_output(video, "resume")) else video
        if self.parts[0][0] != video:
            return None
        stem, ext = os.path.splitext(video)
        if any(p == f"{stem}.part{ext}" for p, _ in self.parts):
            return None
        return video

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
        self.channel.event("started", {"video": self.rel})
        try:
            self.writer = VideoWriter(self.write_path, self.spec.fps, self.spec.codec, self.spec.quality, width,
                                      height)
        except OSError as e:
            raise ValueError(f"Video Sink: cannot write {self.rel!r} in the output folder ({e.strerror}); choose "
                             f"another filename_prefix or free the folder") from None

    def on_frame(self, index: int, latent: Tensor) -> None:
        self.buffer.append(latent)  # decoded at the iteration's end, so a Cancel mid-iteration leaves no half state

    def on_boundary(self, frames_done: int) -> None:
        if self.decoder is None:  # the sampler decoded its frames itself
            if self.buffer and self.images is not None:
                self.write_images(self.images(), latents=len(self.buffer))
            self.buffer = []
            return
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
        if images.shape[0]:
            self.channel.preview(images[-1], self.latents_written)
        if self.pending is not None and self.writer.flushed:
            self._save(self.pending)
            self.pending = None

    def _checkpoint(self, engine: dict) -> dict:
        assert self.writer is not None
        parts = [p for p in self.parts + [(os.path.relpath(self.write_path, output_dir()), self.writer.frames)]
                 if p[1] > 0]
        decoder = self.decoder.state_dict() if self.decoder is not None else None
        done = engine.get("frames_done", self.latents_written)
        return checkpoint_data(self.fingerprint, engine, decoder, parts, done, self.rel)

    def on_state(self, engine: dict) -> None:
        """A periodic snapshot: saved once the frames it covers are in a closed fragment (see :meth:`on_boundary`)."""
        assert self.writer is not None
        self.pending = self._checkpoint(engine)
        self.writer.mark()

    def _save(self, data: dict) -> None:
        save_checkpoint(data, self.ckpt_path)
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
            self._clean_superseded()
            log.warning("infinite-video: run stopped; resume it with resume = %s", self.ckpt_rel)
            self.channel.text(f"Stopped at {data['latent_frames']} latent frames; the video so far is {self.rel}. "
                              f"To continue: pick the checkpoint {self.ckpt_rel} (button below, or the Video Sink's "
                              f"resume) and Run again with the same settings.")
        else:
            self.channel.text(f"Stopped; the video so far is {self.rel}. No checkpoint to resume from "
                              f"(checkpoint_every is 0, or the run stopped before its first iteration ended).")
        self.channel.event("stopped", {"checkpoint": self.ckpt_rel if data is not None else None,
                                       "latent_frames": data["latent_frames"] if data is not None else None,
                                       "video": self.rel})

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
        self._clean_superseded()

    def _clean_superseded(self) -> None:
        """After a resumed run's video is written (finished or stopped again): the checkpoint it was resumed from is
        spent and the earlier partial videos are inside the joined one, so both go, unless ``keep_parts``."""
        if not self.spec.resume or self.spec.keep_parts or not os.path.exists(self.path):
            return
        spent = inside_output(self.spec.resume, "resume")
        for path in [spent] + [inside_output(p, "resume") for p, _ in self.parts]:
            if path not in (self.path, self.ckpt_path) and os.path.isfile(path):
                os.remove(path)

    def _close(self) -> None:
        if self.closed or self.writer is None:
            return
        self.closed = True
        self.writer.close()
        if self.writer.frames == 0:  # an empty file is no video: drop it (nothing was written to keep)
            os.remove(self.write_path)
        if self.parts:
            tmp = f"{self.path}.tmp{os.getpid()}{os.path.splitext(self.path)[1]}"
            join_videos([(inside_output(p, "resume"), n) for p, n in self.parts]
                        + ([(self.write_path, self.writer.frames)] if self.writer.frames else []), tmp)
            os.replace(tmp, self.path)  # the continued video only grows: readers see the old file or the new one
            if self.writer.frames:
                os.remove(self.write_path)

    def fail(self) -> None:
        """The run stopped outside the engine's loop (whose own stop already closed the file): before it started,
        nothing was generated and the empty file is dropped; after it ended, the frames are kept, as on Cancel."""
        if self.closed or self.writer is None:
            return
        if self.writer.frames:
            self._close()
            return
        self.closed = True
        self.writer.close()
        os.remove(self.write_path)

    # -- node output -----------------------------------------------------------------------------------------------

    def outputs(self) -> tuple[Any, dict]:
        """``(VIDEO, ui)`` for the sampler node. The ui is the pack's own key (:data:`UI_VIDEO`), shown by
        ``web/run_panel.js`` in the panel that showed the live frames: the frontend's own video preview treats the
        live frames of a node that once showed a video as video sources, and keeps the earlier run's player."""
        folder, name = os.path.split(self.rel)
        shown: dict = {UI_VIDEO: [{"filename": name, "subfolder": folder, "type": io.FolderType.output.value}]}
        if self.spec.resume:
            shown["iv_spent"] = [self.spec.resume]
        self.channel.text(f"Done: {self.rel}" + (f" (the checkpoint {self.spec.resume} is spent)"
                                                  if self.spec.resume else ""))
        return VideoFromFile(self.path), shown

    def __str__(self) -> str:
        return (f"{self.rel}: {self.latents_written} latent frames streamed (decode {self.decode_s:.1f} s, encode "
                f"{self.encode_s:.1f} s)")
