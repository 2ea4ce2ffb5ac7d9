"""A video file that grows while the run goes (PyAV, which ComfyUI already depends on).

- **Always valid.** MP4 is written fragmented (``frag_keyframe+empty_moov``): the file plays while it grows, after a
  normal end, after Cancel (closed with every frame written so far) and, up to its last fragment, after the process
  was killed. WebM (Matroska) is written one cluster per frame. The file is unbuffered in Python, so what the muxer
  has written is in the OS's hands and survives a killed process.
- **No look-ahead.** H.264 uses ``tune=zerolatency`` (no B-frames, no frame delay) so each frame is in the file as
  soon as it is encoded, and a stream can be cut after any frame: frames only reference earlier frames.
- **Checkpoint boundaries are keyframes.** :meth:`VideoWriter.mark` forces the next frame to be a keyframe; with
  ``frag_keyframe`` that closes the fragment holding every frame before it, so :attr:`VideoWriter.flushed` says when
  the frames a checkpoint covers are on disk.
- **Resume joins by remuxing.** A resumed run encodes into a new part file; :func:`join_videos` then copies the
  packets of the first ``n`` frames of each part into one new file (no re-encode).
- **Never overwrites.** The file is opened with ``O_EXCL`` semantics (``xb``).
"""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Optional

import av
import numpy as np
import torch
from torch import Tensor

# codec choice -> (container format, file extension, PyAV encoder, pixel format, encoder options from quality)
CODECS: dict[str, tuple[str, str, str, str]] = {
    "h264 (mp4)": ("mp4", "mp4", "libx264", "yuv420p"),
    "vp9 (webm)": ("webm", "webm", "libvpx-vp9", "yuv420p"),
}


def codec_problem(codec: str) -> Optional[str]:
    """Why ``codec`` cannot be used here, or None."""
    if codec not in CODECS:
        return f"codec must be one of {', '.join(CODECS)}"
    encoder = CODECS[codec][2]
    if encoder not in av.codecs_available:
        return (f"codec {codec}: this PyAV build has no {encoder} encoder; choose another codec or install a PyAV "
                f"build with it (pip install av)")
    return None


# mp4: a fragment closes (and is written) at each keyframe. webm: one cluster per frame; Matroska writes a cluster only
# when the next one starts, and by default starts one at a keyframe only past 4 KiB, so a checkpoint's frames could
# still sit in memory when the process is killed.
_MUXER_OPTIONS = {"mp4": {"movflags": "frag_keyframe+empty_moov+default_base_moof"},
                  "webm": {"cluster_size_limit": "1"}}


def _encoder_options(encoder: str, quality: int, fps: Fraction) -> dict[str, object]:
    if encoder == "libx264":
        # keyint: a keyframe at least every 2 s, so the file visibly grows (a fragment per keyframe)
        return {"crf": str(int(quality)), "preset": "medium", "tune": "zerolatency", "forced-idr": "1",
                "g": str(max(1, round(2 * fps)))}
    return {"crf": str(int(quality)), "b": "0", "deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
            "g": str(max(1, round(2 * fps)))}


class VideoWriter:
    """Encode ``[T, H, W, 3]`` float frames in [0, 1] into ``path`` as they come."""

    def __init__(self, path: str, fps: float, codec: str, quality: int, width: int, height: int):
        problem = codec_problem(codec)
        if problem:
            raise ValueError(problem)
        fmt, _, encoder, pix_fmt = CODECS[codec]
        self.path, self.width, self.height = path, width + width % 2, height + height % 2  # 4:2:0 needs even sizes
        self.fps = Fraction(fps).limit_denominator(1001)
        # Unbuffered: what the muxer flushes reaches the OS at once, so it survives a killed process. ("x": never
        # overwrite.)
        self.file = open(path, "xb", buffering=0)
        self.container = av.open(self.file, mode="w", format=fmt, options=_MUXER_OPTIONS[fmt])
        stream = self.container.add_stream(encoder, rate=self.fps)
        assert isinstance(stream, av.video.stream.VideoStream)  # a video encoder from CODECS
        self.stream = stream
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, pix_fmt
        self.stream.options = _encoder_options(encoder, quality, self.fps)
        self.frames = 0  # frames in the file (copied and encoded)
        self._key_next = False
        self.flushed = True  # every frame before the last mark() is in a closed fragment
        self.closed = False

    def _frame(self, image: Tensor) -> av.VideoFrame:
        arr = (image.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        h, w = arr.shape[:2]
        if (h, w) != (self.height, self.width):
            arr = np.pad(arr, ((0, self.height - h), (0, self.width - w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
        frame.pts = self.frames
        frame.time_base = 1 / self.fps
        return frame

    def write(self, images: Tensor) -> None:
        """Encode frames ``[T, H, W, 3]`` (floats in [0, 1])."""
        for image in images:
            frame = self._frame(image)
            if self._key_next:
                frame.pict_type = av.video.frame.PictureType.I
                self._key_next = False
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
                if packet.is_keyframe:
                    self.flushed = True
            self.frames += 1

    def mark(self) -> None:
        """A checkpoint boundary: the next frame is a keyframe; :attr:`flushed` turns True once it is muxed."""
        self._key_next = True
        self.flushed = False

    def close(self) -> None:
        """Flush the encoder and finalise the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
        finally:
            self.file.close()
        self.flushed = True


def _frame_rate(vs: "av.video.stream.VideoStream") -> Fraction:
    """The stream's frame rate (average, else guessed); an error for a stream that has neither."""
    rate = vs.average_rate or vs.guessed_rate
    if not rate:
        raise ValueError("a video part has no frame rate: it was not written by the Video Sink; resume from a "
                         "checkpoint whose video is still there")
    return rate


def _packets(src: "av.container.InputContainer", frames: int):
    """The packets of the first ``frames`` frames of ``src``'s video stream; stops quietly at a truncated end (a file
    cut short by a killed process ends in a partial fragment)."""
    vs = src.streams.video[0]
    rate = _frame_rate(vs)
    try:
        for packet in src.demux(vs):
            if packet.pts is None or packet.size == 0:
                continue
            if round(float(packet.pts * packet.time_base * rate)) < frames:
                yield packet
    except av.error.FFmpegError:
        return


def join_videos(parts: list[tuple[str, int]], path: str) -> int:
    """Write the first ``n`` frames of each ``(file, n)`` of ``parts`` one after the other into the new file ``path``
    by remuxing (no re-encode); return the frame count. ``ValueError`` (and no file) when a part is missing, holds
    fewer frames than asked, or differs in codec or size."""
    first = parts[0][0]
    try:
        with av.open(first) as src:
            ref = src.streams.video[0]
            ref_codec, ref_size = ref.codec_context.name, (ref.codec_context.width, ref.codec_context.height)
    except (OSError, av.error.FFmpegError) as e:
        raise ValueError(f"the video to continue ({os.path.basename(first)}) cannot be read ({e}); resume from a "
                         f"checkpoint whose video is still there") from None
    with av.open(first) as template_src, open(path, "xb") as f:
        fmt = "webm" if path.endswith(".webm") else "mp4"
        try:
            with av.open(f, mode="w", format=fmt, options=_MUXER_OPTIONS[fmt]) as out:
                stream = out.add_stream_from_template(template_src.streams.video[0])
                offset, total = 0.0, 0
                for part, n in parts:
                    copied = 0
                    with av.open(part) as src:
                        vs = src.streams.video[0]
                        if (vs.codec_context.name, (vs.codec_context.width, vs.codec_context.height)) != (
                                ref_codec, ref_size):
                            raise ValueError(f"{os.path.basename(part)} is not the same kind of video as "
                                             f"{os.path.basename(first)}: resume with the sink settings the run used")
                        rate = _frame_rate(vs)
                        for packet in _packets(src, n):
                            shift = round(offset / packet.time_base)
                            packet.pts += shift
                            packet.dts = packet.dts + shift if packet.dts is not None else None
                            packet.stream = stream
                            out.mux(packet)
                            copied += 1
                    if copied < n:
                        raise ValueError(f"{os.path.basename(part)} holds {copied} readable frames, the checkpoint "
                                         f"needs {n}: the file was cut short or replaced; resume from an earlier "
                                         f"checkpoint")
                    offset += n / float(rate)
                    total += n
        except BaseException:
            f.close()
            os.remove(path)
            raise
    return total


def read_frames(path: str) -> np.ndarray:
    """All frames of a video file, ``[T, H, W, 3]`` uint8."""
    with av.open(path) as src:
        return np.stack([f.to_ndarray(format="rgb24") for f in src.decode(video=0)])

