"""Wan Camera (``WAN21_Camera`` / ``CameraWanModel``, Wan 2.1 Fun Camera) on chunked continuation.

Its network embeds one timestep per batch row, like VACE (:mod:`.vace`), so it runs only where a window shares one
level: chunked continuation in shared-level mode (the context re-noised to the chunk's level; the network has no input
for known frames, so they are given by replacement only). Its camera conditioning is per latent frame:
``WanCameraEmbedding`` makes ``camera_conditions`` ``[B, 24, T, H, W]`` (Plücker embeddings of the 4 pixel frames of
each latent frame stacked on channels, at pixel resolution) and ``CameraWanModel``'s adapter reads each latent frame
on its own (``WanCamAdapter``: frames folded onto the batch), so a window takes the frames at its stream positions
(:func:`window_camera_conditions`), as :mod:`.frame_conds` does for the start image's ``c_concat``.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import torch
from torch import Tensor

from .frame_conds import WAN_TEMPORAL_STRIDE, _extras
from .vace import CONTINUATION_NODE


def is_camera(base_model: Any) -> bool:
    """Whether a ComfyUI ``BaseModel`` is Wan Camera (``WAN21_Camera`` with a ``CameraWanModel``, compiled or not)."""
    import comfy.ldm.wan.model as wan

    net = getattr(base_model, "diffusion_model", None)
    net = getattr(net, "_orig_mod", net) if isinstance(net, torch.nn.Module) else net
    return type(base_model).__name__ == "WAN21_Camera" and type(net) is wan.CameraWanModel


def _camera_inputs(conds: dict[str, Any]) -> Iterable[tuple[str, Tensor]]:
    for name, cond in conds.items():
        for extra in _extras(cond):
            value = extra.get("camera_conditions")
            if isinstance(value, Tensor) and value.ndim == 5:
                yield name, value


def check_camera_run(base_model: Any, queue: Any, conds: dict[str, Any], frames: int, node: str,
                     kept: Optional[dict] = None) -> None:
    """Raise before any model call unless a Wan Camera run can go: chunked continuation, camera conditioning built
    for the whole video, no frames kept by a noise mask (``kept``). Nothing for other models."""
    if not is_camera(base_model):
        return
    if queue.continuation is None or queue.is_miga:
        raise ValueError(
            f"{node}: Wan Camera (WanCameraImageToVideo) embeds one timestep per window, so it cannot run on the "
            f"diagonal queue (FIFO-Diffusion, or MIGA's Zigzag Stage, Unified Stage, Self-Reflection and Long-Range "
            f"Guidance), where a window's frames sit at different noise levels. Add a {CONTINUATION_NODE} node to the "
            f"queue (and no MIGA nodes)")
    if kept:
        raise ValueError(f"{node}: latent_image has a noise_mask keeping latent frames, which Wan Camera cannot take "
                         f"at one level per window; give the start image through WanCameraImageToVideo and remove "
                         f"the noise mask")
    frames = int(frames)
    for name, value in _camera_inputs(conds):
        if value.shape[2] != frames:
            raise ValueError(
                f"{node}: the {name} conditioning's camera_conditions cover {value.shape[2]} latent frames but frames "
                f"is {frames}: a long video needs the camera path built for the whole video, and each window takes "
                f"its frames. Set WanCameraEmbedding's length to {WAN_TEMPORAL_STRIDE * (frames - 1) + 1} (= 4 x "
                f"(frames - 1) + 1 video frames), or set frames to {value.shape[2]}")


def window_camera_conditions(whole: Tensor, positions: Optional[Tensor], frames: int) -> Tensor:
    """``whole[B, 24, T, H, W]`` at the window's stream positions ``[f]`` (clamped to ``[0, T - 1]``; None = the first
    ``frames``) -> ``[B, 24, f, H, W]``."""
    if positions is None:
        positions = torch.arange(frames)
    idx = positions.to(device=whole.device, dtype=torch.long).clamp(0, whole.shape[2] - 1)
    return whole.index_select(2, idx)
