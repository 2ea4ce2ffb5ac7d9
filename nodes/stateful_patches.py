"""Model patches that carry state from one model call to the next, refused before the queue's first model call.

A plain sampler calls the model on one latent at falling noise levels, so a patch may remember the previous call:
EasyCache / LazyCache (``comfy_extras/nodes_easycache.py``) skip a call by reusing the change the previous call made
to its input; APG with momentum (``comfy_extras/nodes_apg.py``) keeps a running average of the guidance. In the
queue, consecutive calls are *different windows* (other frames, other noise levels, and the carrier level they see
is the window's mean), so that memory belongs to another window: FIFO never lets EasyCache skip a call (a silent
no-op) and MIGA makes it reuse another window's change; APG's average mixes the tail window's guidance into the head
window's. Per-window state would need these patches to key their state by window, which they do not, so they are
detected (by the keys and closures those nodes install; read only) and refused with the fix.
"""

from __future__ import annotations

from typing import Any, Optional

CACHE_KEYS = {"easycache": "EasyCache", "lazycache": "LazyCache"}


def _cache_name(model_options: dict) -> Optional[str]:
    options = model_options.get("transformer_options", {})
    holder = options.get("easycache")
    if holder is not None:
        return "LazyCache" if type(holder).__name__.startswith("Lazy") else "EasyCache"
    for per_type in options.get("wrappers", {}).values():
        for key, name in CACHE_KEYS.items():
            if per_type.get(key):
                return name
    return None


def _apg_momentum(fn: Any) -> float:
    """The ``momentum`` an APG pre-CFG function closes over (0 for any other function)."""
    if not getattr(fn, "__qualname__", "").startswith("APG."):
        return 0.0
    code, cells = getattr(fn, "__code__", None), getattr(fn, "__closure__", None) or ()
    names = getattr(code, "co_freevars", ())
    if "momentum" not in names:
        return 0.0
    try:
        return float(cells[names.index("momentum")].cell_contents)
    except (ValueError, TypeError, IndexError):
        return 0.0


def check_stateful_patches(model_options: dict, node: str) -> None:
    """Raise for a patch whose state would pass from one window to another (see the module docstring)."""
    cache = _cache_name(model_options)
    if cache is not None:
        raise ValueError(
            f"{node}: the model has {cache}, which skips model calls by reusing the change the previous call made; "
            f"in the queue every call is another window (other frames, other noise levels), so the reuse would be "
            f"wrong (MIGA) or never happen (FIFO). Remove the {cache} node in front of the sampler")
    for fn in model_options.get("sampler_pre_cfg_function", []):
        momentum = _apg_momentum(fn)
        if momentum != 0.0:
            raise ValueError(
                f"{node}: APG has momentum {momentum:g}: it averages the guidance over consecutive model calls, and "
                f"in the queue those are different windows, so one window's guidance would leak into the next. Set "
                f"APG's momentum to 0 (eta and norm_threshold work per call)")
