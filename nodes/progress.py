"""The sampler node's progress bar and progress text, from the engines' callback dict.

The bar counts the engine's *iterations* (FIFO-Diffusion: queue steps; MIGA: sweeps), warm-up included: the first
output frame leaves only after the queue has filled (FIFO-Diffusion, Kim et al. 2024 §3.2; MIGA's first sweeps), which
on a long queue is minutes of a run, and a bar that waits for output frames sits at 0% through it. The node's text
labels the phase and says how long: during warm-up "warm-up: iteration i of n (no frame yet)", then output latent
frames done, elapsed time, measured seconds per output frame and the time left (remaining iterations at this run's
mean seconds per iteration). MIGA's self-reflection can spend many model calls inside one sweep regenerating groups;
the text says so while it runs (``MigaStats`` in the dict's ``stats``, updated live by the run). The same line goes to
the server log every tenth of the run.

Bar and (without a Video Sink) the latent preview go through ComfyUI's own ``latent_preview.prepare_callback`` (a
``ProgressBar`` of the running node); with a Video Sink the sink sends the decoded frames instead
(:mod:`.run_status`). Text through ``PromptServer.send_progress_text`` (:func:`.run_status.channel`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

import comfy.model_management
import comfy.utils
import latent_preview

from ..samplers.config import QueueConfig
from .adapter import EngineCallback
from .run_status import LAST_SPEED, channel, clock

log = logging.getLogger("infinite_video")

TEXT_INTERVAL_S = 0.5  # at most two texts a second: a regeneration makes a model call every few ms on tiny models
LOG_STEPS = 10  # a log line every tenth of the run


class SamplerProgress(EngineCallback):
    """Progress of one Infinite Video Sampler run: the bar (with a preview of the newest frame unless a Video Sink
    sends decoded frames) and the node's text (``say``; default: the running node's progress text)."""

    def __init__(self, model: Any, config: QueueConfig, frames: int,
                 say: Optional[Callable[[str], None]] = None, latent_previews: bool = True) -> None:
        self.miga = config.is_miga
        self.frames = int(frames)
        self.bar = latent_preview.prepare_callback(model, self.frames) if latent_previews else None
        self.plain_bar = None if latent_previews else comfy.utils.ProgressBar(self.frames)
        node = channel()
        node.event("started", {"frames": self.frames})
        self.say = say if say is not None else node.text
        self.stats: Any = None
        self.done = 0
        self._base = 0  # self-reflection model calls up to the last sweep's end
        self._said_at = 0.0
        self.t0 = time.monotonic()
        self.it0: Optional[int] = None  # first iteration of this run (a resumed run starts later)
        self.calls = 0
        self.first: Optional[tuple[float, int, int]] = None  # (time, frames done, model calls) at the first frame
        self._logged = -1

    def __call__(self, info: dict) -> None:
        comfy.model_management.throw_exception_if_processing_interrupted()
        i, total = int(info["i"]), max(1, int(info["total"]))
        if self.it0 is None:
            self.it0 = i
        self.stats = info.get("stats")
        self.done = max(0, int(info.get("frame", -1)) + 1)  # output latent frames so far
        if self.bar is not None:
            self.bar(i, info["denoised"], info["x"], total)
        elif self.plain_bar is not None:
            self.plain_bar.update_absolute(i + 1, total)
        now = time.monotonic()
        if self.done and self.first is None:
            self.first = (now, self.done, self.calls)
        line = self.status(i, total, now)
        tenth = (i + 1) * LOG_STEPS // total
        if tenth > self._logged:
            self._logged = tenth
            log.info("infinite-video: %s", line)
        regenerated = self.stats is not None and self.stats.reflection_calls > self._base
        self._text(line, force=i == self.it0 or regenerated or i + 1 == total)
        if self.stats is not None:
            self._base = self.stats.reflection_calls

    def status(self, i: int, total: int, now: float) -> str:
        """The node's line after iteration ``i`` of ``total`` (0-based), at time ``now``."""
        elapsed = now - self.t0
        ran = i + 1 - (self.it0 or 0)
        left = elapsed / max(1, ran) * (total - i - 1)
        if self.done == 0:
            return (f"warm-up: iteration {i + 1} of {total} (the queue fills; no frame yet) · {clock(elapsed)} "
                    f"elapsed · about {clock(left)} left")
        per_frame = self.seconds_per_frame(now)
        speed = f" · {per_frame:.2f} s per output frame" if per_frame is not None else ""
        return (f"{self.done} / {self.frames} latent frames · {clock(elapsed)} elapsed{speed} · "
                f"about {clock(left)} left")

    def seconds_per_frame(self, now: float) -> Optional[float]:
        """Seconds per output latent frame since the first frame of this run (None before a second frame); also
        recorded as the server's last measured speed (:data:`.run_status.LAST_SPEED`)."""
        if self.first is None or self.done <= self.first[1]:
            return None
        t, n, c = self.first
        frames = self.done - n
        LAST_SPEED.update(s_per_frame=(now - t) / frames, calls_per_frame=(self.calls - c) / frames,
                          s_per_call=(now - t) / max(1, self.calls - c))
        return (now - t) / frames

    def model_call(self) -> None:
        """Every model call (the run increments ``stats`` first): inside a regeneration, say so."""
        self.calls += 1
        stats = self.stats
        if self.miga and stats is not None and stats.reflection_calls > self._base:
            calls = stats.reflection_calls - self._base
            self._text(f"Self-Reflection: regenerating a group (trigger {stats.triggers}, {calls} model calls so "
                       f"far); {self.done} / {self.frames} latent frames done", force=calls == 1)

    def _text(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._said_at < TEXT_INTERVAL_S:
            return
        self._said_at = now
        self.say(text)
