"""The sampler node's progress bar and progress text, from the engines' callback dict.

FIFO-Diffusion emits one output frame per queue iteration after its warm-up, so its bar counts iterations. MIGA emits
a group (or a unified block) per sweep, and self-reflection can spend many model calls inside one sweep regenerating
groups, so its bar counts *output latent frames* (``frame`` of the callback dict), and the node's progress text says
what runs while no frame leaves: the warm-up sweeps, and each self-reflection regeneration with its model calls
(``MigaStats`` in the dict's ``stats``, updated live by the run).

Bar and preview go through ComfyUI's own ``latent_preview.prepare_callback`` (a ``ProgressBar`` of the running node);
the text through ``PromptServer.send_progress_text``, the seam ComfyUI's own nodes use for text on a node.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional

import comfy.model_management
import latent_preview

from ..samplers.config import QueueConfig
from .adapter import EngineCallback

TEXT_INTERVAL_S = 0.5  # at most two texts a second: a regeneration makes a model call every few ms on tiny models


def _node_text_sender() -> Optional[Callable[[str], None]]:
    """``send(text)`` to the running node through the server, or ``None`` outside a server run (tests, scripts)."""
    server = getattr(getattr(sys.modules.get("server"), "PromptServer", None), "instance", None)
    if server is None:
        return None
    from comfy_execution.utils import get_executing_context

    context = get_executing_context()
    if context is None:
        return None
    node_id = context.node_id
    return lambda text: server.send_progress_text(text, node_id)


class SamplerProgress(EngineCallback):
    """Progress of one Infinite Video Sampler run: the bar (with a preview of the newest frame) and the node's text."""

    def __init__(self, model: Any, config: QueueConfig, frames: int,
                 say: Optional[Callable[[str], None]] = None) -> None:
        self.miga = config.is_miga
        self.frames = int(frames)
        self.bar = latent_preview.prepare_callback(model, self.frames)
        self.say = say if say is not None else _node_text_sender()
        self.stats: Any = None
        self.done = 0
        self._base = 0  # self-reflection model calls up to the last sweep's end
        self._said_at = 0.0

    def __call__(self, info: dict) -> None:
        comfy.model_management.throw_exception_if_processing_interrupted()
        if not self.miga:
            self.bar(info["i"], info["denoised"], info["x"], info["total"])
            return
        self.stats = info.get("stats")
        self.done = max(0, int(info["frame"]) + 1)  # output latent frames so far
        self.bar(self.done - 1, info["denoised"], info["x"], self.frames)
        if self.done == 0:
            self._text(f"MIGA warm-up: sweep {info['i'] + 1}, no output frame yet (the queue, and the unified stage "
                       f"when there is one, fill first)", force=True)
        elif self.stats is not None and self.stats.reflection_calls > self._base:
            self._text(f"{self.done} / {self.frames} latent frames", force=True)  # the regeneration is over
        if self.stats is not None:
            self._base = self.stats.reflection_calls

    def model_call(self) -> None:
        """Every model call (the run increments ``stats`` first): inside a regeneration, say so."""
        stats = self.stats
        if self.miga and stats is not None and stats.reflection_calls > self._base:
            calls = stats.reflection_calls - self._base
            self._text(f"Self-Reflection: regenerating a group (trigger {stats.triggers}, {calls} model calls so "
                       f"far); {self.done} / {self.frames} latent frames done", force=calls == 1)

    def _text(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.say is None or (not force and now - self._said_at < TEXT_INTERVAL_S):
            return
        self._said_at = now
        self.say(text)
