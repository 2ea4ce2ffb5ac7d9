"""The streaming protocol of every engine: finished latents go out as they leave, the returned tensor keeps a bounded
tail, and the run's state is saved at iteration boundaries so an interrupted run continues bit for bit.

FIFO-Diffusion and MIGA keep a constant-size queue (Kim et al. 2024 §3; MIGA §3) and K-step noise search works
chunk by chunk, but a loop that collects every output frame in one ``[B, C, frames, H, W]`` tensor is not
constant-memory. Here the engines are *runners*: objects that do one iteration (a queue step, or a chunk) per
:meth:`QueueRunner.iterate` and can save and load their whole state. :func:`drive` is the one loop for every engine:
it routes each finished latent to a :class:`LatentTail` and to the :class:`Stream`'s
``on_frame``, calls the k-diffusion-style callback, and at iteration boundaries hands snapshots of the state to
``on_state``. The returned tail is part of that state, so a resumed run returns what an uninterrupted one does.
Everything here is pure torch; the ComfyUI side (VAE decode, video file, checkpoint file) lives in the Video Sink's
modules of ``nodes/``.

State dicts hold only tensors, numbers, strings, lists, tuples, dicts and ``None`` (``torch.load(weights_only=True)``
reads them back), including the CPU generator's state, so a continued run draws exactly the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, overload

import torch
from torch import Tensor

Frame = tuple[int, Tensor]  # (output index, latent [B, C, 1, H, W])


class QueueRunner(Protocol):
    """One run of an engine, one iteration at a time (``fifo.FifoRun``, ``miga.MigaRun``, ``kstep_run.KStepRun``)."""

    @property
    def done(self) -> bool: ...

    @property
    def frames_done(self) -> int:
        """Output latents produced so far (they are produced in order: indices ``0 .. frames_done - 1``)."""

    def iterate(self) -> list[Frame]:
        """Run one queue iteration; return the output latents that became final in it, in order."""

    def info(self) -> dict[str, Any]:
        """The k-diffusion-style callback dict for the iteration just done."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue after the iteration just done (tensors cloned)."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class LatentTail:
    """The latents a streamed run returns: all of them (``keep=None``) or only the newest ``keep``.

    ``shape`` is ``(B, C, H, W)``; :meth:`result` gives ``[B, C, n, H, W]`` in output order, ``n = min(keep, put)``.
    """

    def __init__(self, shape: tuple[int, int, int, int], frames: int, keep: Optional[int],
                 device: torch.device, dtype: torch.dtype = torch.float32):
        b, c, h, w = shape
        self.keep = None if keep is None else max(1, min(int(keep), int(frames)))
        size = int(frames) if self.keep is None else self.keep
        self.buf = torch.zeros((b, c, size, h, w), dtype=dtype, device=device)
        self.count = 0  # highest output index put + 1

    def put(self, index: int, frame: Tensor) -> None:
        slot = index if self.keep is None else index % self.keep
        self.buf[:, :, slot:slot + 1] = frame.to(self.buf)
        self.count = max(self.count, index + 1)

    def result(self) -> Tensor:
        if self.keep is None:
            return self.buf[:, :, :self.count]
        n = min(self.keep, self.count)
        first = self.count - n
        order = [(first + i) % self.keep for i in range(n)]
        return self.buf[:, :, order]

    def state_dict(self) -> dict[str, Any]:
        """The latents put so far that the tail holds (its filled slots, cloned) and their count."""
        return {"keep": self.keep, "count": self.count,
                "latents": self.buf[:, :, :min(self.count, self.buf.shape[2])].detach().clone()}

    def load_state_dict(self, state: Any) -> None:
        if not isinstance(state, dict) or not {"keep", "count", "latents"} <= state.keys():
            raise ValueError("the resume state lacks the returned latents (tail): the checkpoint is incomplete or "
                             "from another version; start a new run")
        latents, count = state["latents"], int(state["count"])
        filled = min(count, self.buf.shape[2])
        if state["keep"] != self.keep or tuple(latents.shape) != tuple(self.buf[:, :, :filled].shape):
            raise ValueError(f"the resume state's returned latents are {tuple(latents.shape)} (keep {state['keep']}), "
                             f"this run's are {tuple(self.buf[:, :, :filled].shape)} (keep {self.keep}): resume with "
                             f"the latent size and settings it was saved with")
        self.buf[:, :, :filled] = latents.to(self.buf)
        self.count = count


@dataclass
class Stream:
    """How a run is streamed (every field optional; a default ``Stream`` behaves like an unstreamed run).

    - ``on_frame(index, latent[B, C, 1, H, W])``: each output latent as it becomes final, in order.
    - ``on_boundary(frames_done)``: after every iteration, before the callback (a consumer commits its work here, so
      everything it has at a boundary matches the state saved there).
    - ``every``: hand a state to ``on_state`` each time ``every`` more output latents are done (0: never).
    - ``on_state(state)``: a state snapshot at an iteration boundary (``state["frames_done"]`` latents are done;
      ``state["tail"]`` holds the returned tail's latents, when :func:`drive` was given a tail).
    - ``on_abort(state)``: the run stopped with an exception (Cancel, a crash): the last boundary's state (None
      when no snapshot was taken, i.e. ``every`` is 0), before the exception propagates.
    - ``resume``: a state from ``on_state`` / ``on_abort`` to continue from.
    - ``keep``: output latents the returned tensor keeps (None: all).
    """

    on_frame: Optional[Callable[[int, Tensor], None]] = None
    on_boundary: Optional[Callable[[int], None]] = None
    every: int = 0
    on_state: Optional[Callable[[dict[str, Any]], None]] = None
    on_abort: Optional[Callable[[Optional[dict[str, Any]]], None]] = None
    resume: Optional[dict[str, Any]] = None
    keep: Optional[int] = None


@overload
def drive(runner: QueueRunner, tail: LatentTail, stream: Optional[Stream] = None,
          callback: Optional[Callable[[dict[str, Any]], None]] = None) -> Tensor: ...


@overload
def drive(runner: QueueRunner, tail: None, stream: Optional[Stream] = None,
          callback: Optional[Callable[[dict[str, Any]], None]] = None) -> None: ...


def drive(runner: QueueRunner, tail: Optional[LatentTail], stream: Optional[Stream] = None,
          callback: Optional[Callable[[dict[str, Any]], None]] = None) -> Optional[Tensor]:
    """Run ``runner`` to the end; return ``tail.result()`` (None without a tail: the runner keeps its own result).

    With ``stream.every`` set, a snapshot of the state is kept from each boundary (one clone of the queue and of the
    tail: memory stays constant) so that a Cancel in the middle of an iteration still saves the last consistent state.
    The tail is saved with the runner's state (key ``"tail"``) and restored from it, so the latents a resumed run
    returns include those made before the resume.
    """
    s = stream or Stream()
    if s.resume is not None:
        runner.load_state_dict(s.resume)
        if tail is not None:
            tail.load_state_dict(s.resume.get("tail"))

    def state() -> dict[str, Any]:
        snap = runner.state_dict()
        if tail is not None:
            snap["tail"] = tail.state_dict()
        return snap

    snapshot = state() if s.every > 0 else None
    last_saved = runner.frames_done
    try:
        while not runner.done:
            for index, frame in runner.iterate():
                if tail is not None:
                    tail.put(index, frame)
                if s.on_frame is not None:
                    s.on_frame(index, frame)
            if s.on_boundary is not None:
                s.on_boundary(runner.frames_done)
            if s.every > 0:
                snapshot = state()
                if s.on_state is not None and (runner.frames_done - last_saved >= s.every or runner.done):
                    s.on_state(snapshot)
                    last_saved = runner.frames_done
            if callback is not None:
                callback(runner.info())
    except BaseException:
        if s.on_abort is not None:
            s.on_abort(snapshot)
        raise
    return tail.result() if tail is not None else None


# -- state (de)serialisation helpers shared by the runners ------------------------------------------------------------


def clone_state(value: Any, device: Optional[torch.device] = None) -> Any:
    """A deep copy of a state value: tensors cloned (onto ``device`` when given), containers rebuilt."""
    if isinstance(value, Tensor):
        return value.detach().to(device=device, copy=True)
    if isinstance(value, dict):
        return {k: clone_state(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clone_state(v, device) for v in value)
    return value


def check_state(state: Any, kind: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """Check that ``state`` is a runner state of ``kind`` with ``keys``; ``ValueError`` names what is wrong."""
    if not isinstance(state, dict) or state.get("kind") != kind:
        found = state.get("kind") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"the resume state is from a {found!r} run, this run is {kind!r}: resume it with the "
                         f"settings it was saved with")
    missing = [k for k in keys if k not in state]
    if missing:
        raise ValueError(f"the resume state lacks {', '.join(missing)}: the checkpoint is incomplete or from another "
                         f"version; start a new run")
    return state
