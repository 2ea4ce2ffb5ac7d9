"""Count a model's diffusion-model calls through a keyed ``APPLY_MODEL`` wrapper on a clone (ComfyUI's sanctioned seam).

One call is one batched evaluation (cond and uncond rows together). Used by the K-Step benchmark and the host tests.
"""

from __future__ import annotations

import time
from typing import Any, Optional

COUNT_KEY = "infinite_video_bench_count"


# --- helpers shared with the host tests ---------------------------------------------------------------------------


class CallCounter:
    """Diffusion-model calls seen by a keyed ``APPLY_MODEL`` wrapper: ``calls``, batch ``rows`` and ``seconds``."""

    def __init__(self, on_call: Optional[Any] = None) -> None:
        self.calls = 0
        self.rows = 0
        self.seconds = 0.0
        self.on_call = on_call

    def __call__(self, executor, x, *args, **kwargs):
        self.calls += 1
        self.rows += int(x.shape[0])
        start = time.perf_counter()
        try:
            return executor(x, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            if self.on_call is not None:
                self.on_call(self)


def count_model_calls(model: Any, on_call: Optional[Any] = None) -> tuple[Any, CallCounter]:
    """A clone of ``model`` whose every ``apply_model`` call is counted (the original is untouched)."""
    import comfy.patcher_extension

    counter = CallCounter(on_call)
    clone = model.clone()
    clone.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, COUNT_KEY, counter)
    return clone, counter


def run_cancelled(model: Any, at_call: int, run: Any) -> None:
    """Call ``run(clone)`` with a clone of ``model`` that presses Cancel (ComfyUI's interrupt flag) at model call
    ``at_call``; the run must stop with ComfyUI's ``InterruptProcessingException``. The flag is cleared afterwards."""
    import comfy.model_management
    import pytest

    clone, calls = model.clone(), []

    def cancel(executor, *args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            comfy.model_management.interrupt_current_processing(True)
        return executor(*args, **kwargs)
    clone.add_wrapper_with_key("apply_model", "test_cancel", cancel)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            run(clone)
    finally:
        comfy.model_management.interrupt_current_processing(False)
