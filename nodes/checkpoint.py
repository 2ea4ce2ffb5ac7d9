"""The Video Sink's checkpoint file: its format, where it may live, how it is read and written, and the fingerprint
that ties it to the run that wrote it.

A checkpoint (``<video stem>.ivckpt``, next to the video, inside ComfyUI's output folder) is a ``torch.save`` of a
dict of plain data and tensors, read back with ``torch.load(weights_only=True)`` (no code):

- ``format``, ``version``: :data:`CHECKPOINT_FORMAT`, :data:`CHECKPOINT_VERSION`;
- ``fingerprint``: what a resumed run must share with the saved one (:func:`model_fingerprint`, with the queue's
  settings from :func:`queue_fingerprint`, plus the sink's decode, codec, fps and quality);
- ``engine``: the runner's state at an iteration boundary (:mod:`..samplers.runner`), including the latents the run
  returns (``engine["tail"]``) for the queue engines;
- ``decoder``: what the streaming decoder needs to continue (:mod:`.stream_decode`; None for frames the sampler
  decodes itself);
- ``parts``: the video files (relative path, frames) whose frames come before the engine's state;
- ``latent_frames``, ``video``: for the log and the user.

Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Optional

import folder_paths
import torch
from torch import Tensor

CHECKPOINT_SUFFIX = ".ivckpt"
CHECKPOINT_FORMAT = "infinite-video checkpoint"
# 2: a Wan decoder's state is its last latents, not its cache; 3: the engine state holds the returned latents (tail)
CHECKPOINT_VERSION = 3


# -- paths ------------------------------------------------------------------------------------------------------------


def output_dir() -> str:
    return os.path.abspath(folder_paths.get_output_directory())


def inside_output(rel: str, what: str) -> str:
    """Absolute path of ``rel`` under ComfyUI's output folder; ``ValueError`` for anything that leaves it."""
    out = output_dir()
    if not rel or os.path.isabs(rel) or "\x00" in rel:
        raise ValueError(f"Video Sink: {what} must be a relative path inside ComfyUI's output folder (e.g. "
                         f"infinite-video/video)")
    path = os.path.abspath(os.path.join(out, rel))
    if os.path.commonpath((out, path)) != out:
        raise ValueError(f"Video Sink: {what} leaves ComfyUI's output folder ('..' or similar); use a path inside it, "
                         f"e.g. infinite-video/video")
    return path


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


def model_fingerprint(model: Any, latent: Tensor, positive: Any, negative: Any, **settings: Any) -> dict:
    """What a resumed run must share with the run it continues: model, latent, prompts and ``settings``."""
    net = model.model.diffusion_model
    return {"model": f"{type(model.model).__name__}/{type(net).__name__}", "weights": weights_digest(net),
            "latent": list(latent.shape), "latent_values": tensor_digest(latent),
            "positive": tensor_digest(positive), "negative": tensor_digest(negative),
            **{k: (tensor_digest(v) if isinstance(v, Tensor) else v) for k, v in settings.items()}}


def queue_fingerprint(queue: Any) -> dict:
    """The queue configuration's part of a fingerprint: the whole chain, with chunked continuation's settings, FIFO's
    ``group`` and ``auto clip``'s window trimming under keys of their own (absent where unused, so the fingerprint of
    a run that does not use them is what it was before they existed and older checkpoints still resume): a resume
    with other ones is refused naming them, and the engine's anchors come back only for the same settings."""
    out: dict = {}
    cont = getattr(queue, "continuation", None)
    group = int(getattr(queue, "group", 1))
    if dataclasses.is_dataclass(queue) and not isinstance(queue, type):
        if cont is not None:
            out["continuation"] = (f"chunk {cont.chunk}, anchors {cont.anchors}, anchor_every {cont.anchor_every}"
                                   + (f", in_flight {cont.in_flight}" if cont.in_flight > 1 else "")
                                   + (f", track {cont.track:g}" if cont.tracked else "")
                                   + (f", denoise {cont.denoise:g}" if cont.denoise < 1 else ""))
        if group != 1:
            out["group"] = f"group_size {group}"
        if getattr(queue, "init", None) == "auto clip":  # its fill and drain windows were trimmed after it shipped
            out["auto_clip"] = "fill and drain windows trimmed"
        queue = dataclasses.replace(queue, continuation=None, group=1)
    # the group field is the dataclass's last: its default leaves the text as before the field existed
    return {"queue": ascii(queue).replace(", group=1)", ")"), **out}


def fingerprint_mismatch(saved: dict, now: dict) -> Optional[str]:
    """What differs between a checkpoint's fingerprint and this run's (input and fix), or None."""
    diffs = [k for k in now if saved.get(k) != now[k]] + [k for k in saved if k not in now]
    if not diffs:
        return None
    shown = "; ".join(f"{k}: saved {_short(saved.get(k))}, now {_short(now.get(k))}" for k in diffs[:4])
    return (f"the checkpoint is from a run with other settings ({shown}); resume needs the settings, seed, prompts, "
            f"model and latent it was saved with, or leave resume empty for a new run")


def _short(v: Any) -> str:
    text = ascii(v)
    return text if len(text) <= 60 else text[:57] + "..."


# -- reading and writing ----------------------------------------------------------------------------------------------


def checkpoint_data(fingerprint: dict, engine: dict, decoder: Optional[dict], parts: list[tuple[str, int]],
                    latent_frames: int, video: str) -> dict:
    """The dict a checkpoint file holds (see the module docstring)."""
    return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "fingerprint": fingerprint,
            "engine": engine, "decoder": decoder, "parts": parts, "latent_frames": latent_frames, "video": video}


def load_checkpoint(rel: str, mmap: bool = False) -> dict:
    """Read a checkpoint; ``ValueError`` naming ``resume`` for anything that is not one of ours (``mmap``: tensors
    stay on disk until touched, for listing)."""
    path = inside_output(rel, "resume")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
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
                         f"reads {CHECKPOINT_VERSION}; finish it with the pack version that wrote it, or start a new "
                         f"run")
    return data


def save_checkpoint(data: dict, path: str) -> None:
    """Write ``data`` to ``path`` atomically: a killed process leaves the old file or the new one, never half."""
    tmp = f"{path}.tmp{os.getpid()}"
    torch.save(data, tmp)
    os.replace(tmp, path)


def list_checkpoints(limit: int = 200) -> list[dict]:
    """The checkpoints in the output folder, newest first: ``{path, latent_frames, video, mtime}`` (``path``
    relative to the output folder, as ``resume`` takes it). Read memory-mapped, so the queue's tensors are not
    loaded; a file that is not a readable checkpoint of this version is listed with ``error`` instead."""
    out = output_dir()
    found = []
    for folder, _, files in os.walk(out):
        found += [os.path.join(folder, f) for f in files if f.endswith(CHECKPOINT_SUFFIX)]
    dated = []
    for path in found:
        try:
            dated.append((os.path.getmtime(path), path))
        except OSError:  # removed meanwhile (a run finished)
            continue
    dated.sort(reverse=True)
    listed = []
    for mtime, path in dated[:limit]:
        rel = os.path.relpath(path, out).replace(os.sep, "/")
        item: dict[str, Any] = {"path": rel, "mtime": mtime}
        try:
            data = load_checkpoint(rel, mmap=True)
            item.update(latent_frames=int(data["latent_frames"]), video=str(data["video"]))
        except ValueError as e:
            item["error"] = str(e)
        listed.append(item)
    return listed
