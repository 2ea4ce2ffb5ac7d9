"""A toy denoiser for the ``positions`` argument of the denoiser contract (``samplers/denoiser.py``).

Its clean estimate of every window frame is the frame's stream position, so a latent leaves the queue equal to the
position its last model call gave it; it records every call's positions. Pure torch, no ComfyUI.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


class PositionEcho:
    """``x0[b, c, i] = positions[i]``; ``calls`` holds each call's positions as a list."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, x: Tensor, sigma: Tensor, prompts: Optional[tuple] = None,
                 positions: Optional[Tensor] = None) -> Tensor:
        assert positions is not None and positions.dtype == torch.long and positions.shape == (x.shape[2],)
        self.calls.append(positions.tolist())
        return positions.to(x)[None, None, :, None, None].expand_as(x).clone()
