"""Per-frame conditioning that travels with its frames through the queue.

Wan's conditioning nodes attach tensors with one entry per latent frame to the CONDITIONING: ``concat_latent_image``
``[B, C, T, h, w]`` (WanImageToVideo, WanFirstLastFrameToVideo, WanFunInpaintToVideo: the start / end image among
grey frames; WanFunControlToVideo: control latents and start image) and ``concat_mask`` ``[1, 1|4, T, h, w]`` (0 on
the latents an image pins). ComfyUI turns them into the model's ``c_concat`` ``[B, C', T, h, w]``
(``WAN21.concat_cond``: scaling, mask inversion; frame by frame). For a long video they are built for the whole video
(the node's ``length`` = the video's length) and every window the queue sends to the model takes the slice at its
frames' stream positions (:func:`frames_at`): the start image reaches only the first latent, the end image only the
last, control frames their own positions, every other frame the values the node gives unconditioned frames.

Compared with core's context windows (``comfy/context_windows.py``, ``IndexListContextHandler.get_resized_cond``),
which slice every cond tensor whose frame count equals the full latent's at the window's index list:

- the same rule (a tensor as long as the video is sliced at the window's frames), but applied to the model's
  ``c_concat`` after ComfyUI built it for the whole video, not to the raw cond entries;
- core passes a tensor of any other length through unchanged (a window-length image conditioning is then silently
  re-applied to every window); here a per-frame conditioning whose length is not the video's is refused before any
  model call (:func:`check_frame_conditioning`), naming the node and the ``length`` to set;
- core's windows lie inside the latent; a queue also holds warm-up frames before the video (discarded) and frames
  after its end (still in the queue when the run stops). They take the conditioning of the nearest video frame
  (positions clamped to ``[0, T - 1]``), as prompt ranges do (:func:`..samplers.prompts.active_prompts`).

Latent frames a LATENT's ``noise_mask`` keeps (0 over the whole frame: Wan22ImageToVideoLatent's start image,
LTXVImgToVideo's image at strength 1) are *known frames* (:func:`known_frames`): whenever a window holds one at its
stream position it enters the model clean, at noise level 0 (so timestep 0, what ``WAN22`` / ``LTXV``
``process_timestep`` make of a 0 mask), and its prediction is the known latent (:func:`pin_known`); the queue's step
then carries that frame to it exactly. The mask is never read as a window's timesteps. Masks that blend (values
between 0 and 1) or cover parts of a frame are refused.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import torch
from torch import Tensor

# cond keys that hold one entry per latent frame on axis 2
FRAME_KEYS = ("concat_latent_image", "concat_mask")
WAN_TEMPORAL_STRIDE = 4  # pixel frames per latent frame after the first (Wan 2.1 / 2.2 VAEs)


def frames_at(tensor: Tensor, positions: Tensor) -> Tensor:
    """``tensor[:, :, positions]`` with positions clamped to the tensor's frames; ``tensor``: ``[B, C, T, h, w]``,
    ``positions``: ``LongTensor[f]`` of stream positions -> ``[B, C, f, h, w]``."""
    idx = positions.to(device=tensor.device, dtype=torch.long).clamp(0, tensor.shape[2] - 1)
    return tensor.index_select(2, idx)


def _extras(cond: Iterable) -> Iterable[dict]:
    """The extras dict of each entry, for a raw CONDITIONING (``[[tensor, dict], ...]``) or a guider's converted one
    (``[dict, ...]``)."""
    for entry in cond or []:
        if isinstance(entry, dict):
            yield entry
        elif isinstance(entry, (list, tuple)) and len(entry) > 1 and isinstance(entry[1], dict):
            yield entry[1]


def _made_by(extra: dict) -> str:
    """The core node(s) that attach this layout (for the error message)."""
    image, mask = extra.get("concat_latent_image"), extra.get("concat_mask")
    if "concat_mask_index" in extra:
        return "Wan22FunControlToVideo"
    if mask is None:
        return "WanFunControlToVideo (or WanCameraImageToVideo)"
    if isinstance(mask, Tensor) and mask.ndim == 5 and mask.shape[2] > 1 and float(mask[:, :, -1].min()) == 0.0:
        return "WanFirstLastFrameToVideo or WanFunInpaintToVideo (with an end image)"
    if isinstance(image, Tensor) and image.ndim == 5 and image.shape[1] > 16:
        return "WanFunControlToVideo"
    return "WanImageToVideo, WanFirstLastFrameToVideo or WanFunInpaintToVideo"


def _blank_tail(control: Tensor) -> int:
    """How many of the last latent frames of ``control`` (``[B, 16, T, h, w]``) hold the value WanFunControlToVideo
    leaves where its control video has no frames: the same constant (the empty latent) at every pixel of every such
    frame. A real encoded frame is never spatially constant, so a tail like that means the video ran out."""
    flat = control.flatten(3)
    constant = (flat == flat[..., :1]).all(dim=3).all(dim=1).all(dim=0)  # [T]: every pixel of the frame equal
    n = 0
    while n < control.shape[2] and bool(constant[-1 - n]) and torch.equal(control[:, :, -1 - n], control[:, :, -1]):
        n += 1
    return n


def check_control_covers_video(extra: dict, node: str, name: str) -> None:
    """Raise when WanFunControlToVideo's control video is shorter than its ``length``: the node fills the rest with
    the empty latent, so the end of a long video would follow no control at all."""
    image = extra.get("concat_latent_image")
    if (extra.get("concat_mask") is not None or "concat_mask_index" in extra or not isinstance(image, Tensor)
            or image.ndim != 5 or image.shape[1] != 32):  # not WanFunControlToVideo's layout
        return
    frames = int(image.shape[2])
    blank = _blank_tail(image[:, :16])
    if 0 < blank < frames:
        have = frames - blank
        raise ValueError(
            f"{node}: the {name} conditioning's control video covers only the first {have} of its {frames} latent "
            f"frames (WanFunControlToVideo fills the rest with no control). Give WanFunControlToVideo a control_video "
            f"of at least {WAN_TEMPORAL_STRIDE * (frames - 1) + 1} frames (its length), or set its length and frames "
            f"to {WAN_TEMPORAL_STRIDE * (have - 1) + 1} video frames ({have} latent frames)")


def check_frame_conditioning(conds: dict[str, Any], frames: int, node: str, window: int = 0,
                             size: Optional[tuple[int, int]] = None) -> None:
    """Raise before any model call unless every per-frame conditioning covers exactly the ``frames`` latent frames
    the sampler makes (and, given the latent's ``size`` ``(h, w)``, has its size).

    ``conds``: input name -> CONDITIONING (raw or converted); ``node``: the sampler's display name; ``window``: the
    queue's window, named in the message when the conditioning was made at window length.
    """
    check_outside_conditioning(conds, node)
    frames = int(frames)
    for name, cond in conds.items():
        for extra in _extras(cond):
            for key in FRAME_KEYS:
                value = extra.get(key)
                if not isinstance(value, Tensor) or value.ndim != 5:
                    continue
                if key == "concat_latent_image" and size is not None and tuple(value.shape[-2:]) != tuple(size):
                    raise ValueError(
                        f"{node}: the {name} conditioning's {key} is {value.shape[-1]}x{value.shape[-2]} latent "
                        f"pixels but latent_image is {size[1]}x{size[0]}: the image would be stretched to fit. Set "
                        f"width and height on the node that made it ({_made_by(extra)}) to the video's size, or make "
                        f"the latent with that node")
                if value.shape[2] == frames:
                    continue
                have = int(value.shape[2])
                length = WAN_TEMPORAL_STRIDE * (frames - 1) + 1
                why = ("it was made at window length; a long video needs it built for the whole video, and each "
                       "window takes its slice" if window and have == window else
                       "shorter than the video, so its last frames would have no conditioning" if have < frames else
                       "longer than the video, so its last frames (an end image) would never be reached")
                raise ValueError(
                    f"{node}: the {name} conditioning's {key} covers {have} latent frames but frames is {frames}: "
                    f"{why}. Set length on the node that made it ({_made_by(extra)}) to {length} "
                    f"(= 4 x (frames - 1) + 1 video frames, {frames} latent frames), or set frames to {have}")
            check_control_covers_video(extra, node, name)


def known_frames(latent: Tensor, mask: Optional[Tensor], node: str) -> dict[int, Tensor]:
    """``{stream position: latent[:, :, p:p+1]}`` for every latent frame ``mask`` keeps whole (0 everywhere).

    ``latent``: ``[B, C, T, h, w]``; ``mask``: the LATENT's ``noise_mask`` (1 = denoise, 0 = keep), ``[B, 1|C, T, h|1,
    w|1]`` or None. Anything else than whole frames at 0 or 1 is refused with the fix.
    """
    if mask is None:
        return {}
    m = mask.to(torch.float32)
    if m.ndim != 5 or m.shape[2] != latent.shape[2]:
        raise ValueError(
            f"{node}: latent_image has a noise_mask of shape {tuple(mask.shape)} for a latent of "
            f"{latent.shape[2]} frames; the queue samplers keep whole latent frames fixed (a start image from "
            f"Wan22ImageToVideoLatent or LTXVImgToVideo) but do not inpaint: remove Set Latent Noise Mask, or make "
            f"the latent with one of those nodes")
    known = {}
    for p in range(m.shape[2]):
        lo, hi = float(m[:, :, p].min()), float(m[:, :, p].max())
        if hi == 0.0:
            known[p] = latent[:, :, p:p + 1]
        elif lo != 1.0:
            raise ValueError(
                f"{node}: latent_image's noise_mask is {lo:g}..{hi:g} on latent frame {p}: the queue samplers keep "
                f"whole latent frames fixed (mask 0) or denoise them (mask 1), but do not blend or inpaint; set "
                f"LTXVImgToVideo's strength to 1.0, or remove Set Latent Noise Mask")
    return known


def pin_known(x: Tensor, sigma: Tensor, positions: Tensor,
              known: dict[int, Tensor]) -> tuple[Tensor, Tensor, list[tuple[int, Tensor]]]:
    """Put the known frames of a window in place, clean, at noise level 0.

    ``x[B, C, f, h, w]``, ``sigma[B, f]``, ``positions[f]``; ``known``: position -> ``[B|1, C, 1, h, w]`` in the
    model's latent space. Returns the new ``x`` and ``sigma`` and ``[(window index, value)]`` for the caller to write
    into the prediction (as ``KSamplerX0Inpaint`` does for a kept latent).
    """
    hits = [(i, known[p]) for i, p in enumerate(positions.tolist()) if p in known]
    if not hits:
        return x, sigma, []
    x, sigma = x.clone(), sigma.clone()
    pins = []
    for i, value in hits:
        value = value.to(x)
        x[:, :, i:i + 1] = value
        sigma[:, i] = 0.0
        pins.append((i, value))
    return x, sigma, pins


# cond keys that add tokens or frames outside the window's latents: refused before any model call
OUTSIDE_KEYS = {
    "keyframe_idxs": "LTX-Video guide frames (LTXVAddGuide) are appended to the latent as extra frames with their "
                     "own positions; use LTXVImgToVideo with strength 1.0 for a start image, or remove LTXVAddGuide",
    "time_dim_concat": "Wan Phantom subject images (WanPhantomSubjectToVideo) are appended as extra frames; remove "
                       "that node",
    "reference_latents": "a reference latent (e.g. Wan22FunControlToVideo's ref_image) adds a frame outside the "
                         "video; disconnect ref_image",
}


def check_outside_conditioning(conds: dict[str, Any], node: str) -> None:
    """Raise before any model call for conditioning that adds frames outside the window (no per-frame level)."""
    for name, cond in conds.items():
        for extra in _extras(cond):
            for key, why in OUTSIDE_KEYS.items():
                if extra.get(key) is not None:
                    raise ValueError(f"{node}: the {name} conditioning cannot go through a per-frame noise queue: "
                                     f"{why}")
