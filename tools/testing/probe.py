"""Record what the diffusion network receives per call, through a keyed ``DIFFUSION_MODEL`` wrapper on a model clone.

``APPLY_MODEL`` wrappers see ``c_concat`` before the pack's adapter slices it per window; the network's own input
(``x`` = latent channels followed by the concat channels, the per-frame timesteps, the stream positions of the window
frames) is what a window really gets, so the probe sits one level in, on the same sanctioned seam kind (a keyed
wrapper on a clone; the original model is untouched).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

PROBE_KEY = "infinite_video_test_probe"


@dataclass
class ProbeCall:
    """One network call: ``x[B', C_in, f, h, w]`` as the network got it, ``timesteps`` (``[B', f]`` per frame, or the
    shape the network takes), ``positions`` (``LongTensor[f]`` stream positions, or None outside the queue), ``extra``
    (the tensor keyword inputs, e.g. Wan VACE's ``vace_context`` ``[B', n, 96, f, h, w]``)."""

    x: torch.Tensor
    timesteps: torch.Tensor
    positions: Optional[torch.Tensor]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


class Probe:
    def __init__(self) -> None:
        self.calls: list[ProbeCall] = []

    def __call__(self, executor, x, timestep, *args, **kwargs):
        from infinite_video.nodes.adapter import POSITIONS_KEY

        options = kwargs.get("transformer_options")
        if options is None:
            options = next((a for a in args if isinstance(a, dict)), {})
        positions = options.get(POSITIONS_KEY)
        extra = {k: v.detach().float().cpu().clone() for k, v in kwargs.items() if isinstance(v, torch.Tensor)}
        self.calls.append(ProbeCall(x.detach().float().cpu().clone(), timestep.detach().float().cpu().clone(),
                                    None if positions is None else positions.detach().cpu().clone(), extra))
        return executor(x, timestep, *args, **kwargs)


def probe_model(model: Any) -> tuple[Any, Probe]:
    """A clone of ``model`` whose network inputs are recorded by the returned :class:`Probe`."""
    import comfy.patcher_extension

    probe = Probe()
    clone = model.clone()
    clone.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, PROBE_KEY, probe)
    return clone, probe
