"""The denoiser contract every engine calls, and the one place that calls it.

``denoiser(x[B, C, f, H, W], sigma[B, f], prompts=None, positions=None) -> x0[B, C, f, H, W]``:

- ``sigma``: one noise level per window frame (0 for clean context frames);
- ``prompts``: an optional tuple of conditioning indices (see :mod:`.prompts`);
- ``positions``: a LongTensor ``[f]`` (on ``x``'s device) with each window frame's stream position: the index of
  the latent in the output video (warm-up latents, which are discarded, and blank padding before the first one count
  negative). Frames that are not adjacent in the video (guidance memory, anchors) are not adjacent here either, so a
  model that can take positions (temporal RoPE) can place them where they are; differences are what matter.

``positions`` is optional on the denoiser's side: one that has no parameter of that name (and no ``**kwargs``) is
called without it and sees every window as consecutive frames, as before the argument existed.

Taking ``positions`` is not the same as the *model* placing frames at them: the ComfyUI adapter always takes them
(per-frame conditioning is sliced at them) but only some networks can be given per-frame temporal positions. A
denoiser says which with a bool attribute ``positions_reach_model``, set once when it is built; a denoiser with that
attribute takes ``positions`` (no signature is inspected per call). Without it, a denoiser that takes ``positions``
is trusted to use them (the pure-torch denoisers: the analytic oracle's, test toys). :func:`positions_reach_model`
reads it; an engine that relies on far frames reading as far (continuation anchors) checks it before any model call.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

Denoiser = Callable[..., Tensor]


def takes_positions(denoiser: Denoiser) -> bool:
    """Whether ``denoiser`` accepts a ``positions`` keyword (by name or through ``**kwargs``)."""
    try:
        params = inspect.signature(denoiser).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: call it the old way
        return False
    return any(p.name == "positions" and p.kind != p.POSITIONAL_ONLY or p.kind == p.VAR_KEYWORD for p in params)


def positions_reach_model(denoiser: Denoiser) -> bool:
    """Whether the model behind ``denoiser`` sees window frames at their stream positions (see above)."""
    flag = getattr(denoiser, "positions_reach_model", None)
    return bool(flag) if flag is not None else takes_positions(denoiser)


def window_positions(positions: Sequence[int], like: Tensor) -> Tensor:
    """``[f]`` LongTensor of stream positions on ``like``'s device."""
    return torch.tensor(list(positions), dtype=torch.long, device=like.device)


def call_denoiser(denoiser: Denoiser, x: Tensor, sigma: Tensor, prompts: Optional[tuple[Any, ...]] = None,
                  positions: Optional[Tensor] = None) -> Tensor:
    """Call ``denoiser`` by the contract above, passing ``positions`` only to a denoiser that takes them."""
    if positions is not None and (hasattr(denoiser, "positions_reach_model") or takes_positions(denoiser)):
        return denoiser(x, sigma, prompts=prompts, positions=positions)
    return denoiser(x, sigma, prompts=prompts)
