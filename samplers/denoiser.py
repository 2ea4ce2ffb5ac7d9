"""The denoiser contract every engine calls, and the one place that calls it.

``denoiser(x[B, C, f, H, W], sigma[B, f], prompts=None, positions=None, known=None) -> x0[B, C, f, H, W]``:

- ``sigma``: one noise level per window frame (0 for clean context frames);
- ``prompts``: an optional tuple of conditioning indices (see :mod:`.prompts`);
- ``positions``: a LongTensor ``[f]`` (on ``x``'s device) with each window frame's stream position: the index of
  the latent in the output video (warm-up latents, which are discarded, and blank padding before the first one count
  negative). Frames that are not adjacent in the video (guidance memory, anchors) are not adjacent here either, so a
  model that can take positions (temporal RoPE) can place them where they are; differences are what matter.
- ``known``: a :class:`KnownSlots` when the engine re-noises clean context to the window's level (chunked
  continuation's shared-level mode, :mod:`.continuation`): which window slots hold a latent whose clean value is
  known, and that clean value. ``x`` holds those slots *noised* to their sigma like every other slot; a model with its
  own way to take known frames (Wan VACE: its mask and inactive latents) can give them that way. ``None`` otherwise.

``positions`` and ``known`` are optional on the denoiser's side: one that has no parameter of that name (and no
``**kwargs``) is called without it; without ``positions`` it sees every window as consecutive frames, as before the
argument existed, and without ``known`` it sees re-noised context as any noisy frame (replacement, as in inpainting).

A denoiser that can take only one noise level per window (every frame of a call at the same sigma, one timestep per
batch row) says so with a true attribute ``one_level_per_window`` (:func:`needs_one_level`); the engines that give
frames of a window different levels (FIFO, MIGA) refuse it, chunked continuation runs it in shared-level mode.

Taking ``positions`` is not the same as the *model* placing frames at them: the ComfyUI adapter always takes them
(per-frame conditioning is sliced at them) but only some networks can be given per-frame temporal positions. A
denoiser says which with a bool attribute ``positions_reach_model``, set once when it is built; a denoiser with that
attribute takes ``positions`` (no signature is inspected per call). Without it, a denoiser that takes ``positions``
is trusted to use them (the pure-torch denoisers: the analytic oracle's, test toys). :func:`positions_reach_model`
reads it; an engine that relies on far frames reading as far (continuation anchors) checks it before any model call.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple, Optional, Sequence

import torch
from torch import Tensor

Denoiser = Callable[..., Tensor]


class KnownSlots(NamedTuple):
    """Window slots whose clean latent is known: ``mask`` BoolTensor ``[f]`` (True = known), ``x0``
    ``[B, C, f, H, W]`` their clean latents (zeros on the other slots), on ``x``'s device."""

    mask: Tensor
    x0: Tensor


def _takes(denoiser: Denoiser, name: str) -> bool:
    try:
        params = inspect.signature(denoiser).parameters.values()
    except (TypeError, ValueError):  # no introspectable signature: call it the old way
        return False
    return any(p.name == name and p.kind != p.POSITIONAL_ONLY or p.kind == p.VAR_KEYWORD for p in params)


def takes_positions(denoiser: Denoiser) -> bool:
    """Whether ``denoiser`` accepts a ``positions`` keyword (by name or through ``**kwargs``)."""
    return _takes(denoiser, "positions")


def takes_known(denoiser: Denoiser) -> bool:
    """Whether ``denoiser`` accepts a ``known`` keyword (by name or through ``**kwargs``)."""
    return _takes(denoiser, "known")


def needs_one_level(denoiser: Denoiser) -> bool:
    """Whether ``denoiser`` takes only one noise level per window (its ``one_level_per_window`` attribute)."""
    return bool(getattr(denoiser, "one_level_per_window", False))


def positions_reach_model(denoiser: Denoiser) -> bool:
    """Whether the model behind ``denoiser`` sees window frames at their stream positions (see above)."""
    flag = getattr(denoiser, "positions_reach_model", None)
    return bool(flag) if flag is not None else takes_positions(denoiser)


def window_positions(positions: Sequence[int], like: Tensor) -> Tensor:
    """``[f]`` LongTensor of stream positions on ``like``'s device."""
    return torch.tensor(list(positions), dtype=torch.long, device=like.device)


def call_denoiser(denoiser: Denoiser, x: Tensor, sigma: Tensor, prompts: Optional[tuple[Any, ...]] = None,
                  positions: Optional[Tensor] = None, known: Optional[KnownSlots] = None) -> Tensor:
    """Call ``denoiser`` by the contract above, passing ``positions`` and ``known`` only to a denoiser that takes
    them."""
    kwargs: dict[str, Any] = {}
    if positions is not None and (hasattr(denoiser, "positions_reach_model") or takes_positions(denoiser)):
        kwargs["positions"] = positions
    if known is not None and takes_known(denoiser):
        kwargs["known"] = known
    return denoiser(x, sigma, prompts=prompts, **kwargs)
