"""One checker for the widget values an API client sends, used by every node's ``validate_inputs``.

ComfyUI 0.3.64 checks a V3 node's widget values only partly (``execution.validate_inputs``):

- combo values of V3 nodes are not checked against their options (the input type is ``"COMBO"``, not the option
  list the check looks for), so any string reaches ``execute``;
- ``float("nan")`` passes the ``min``/``max`` checks (every comparison with NaN is false);
- every input a node's ``validate_inputs`` names, or all of them when it takes ``**kwargs``, skips the ``min``/``max``
  checks altogether.

:func:`check_widgets` checks the values a node's ``validate_inputs`` receives against the node's own schema (options,
finiteness, ``min``/``max``), so naming an input there never loses a check (it refuses to run when a node's
``validate_inputs`` takes an input it does not pass on), and :func:`require_inputs` does the same
in ``execute`` for values that came through a link (``None`` at validation time) and for socket inputs, where
ComfyUI passes a raw JSON value (anything but a ``[node id, output index]`` link) unchecked. Messages name the node,
the input and the fix, and show user strings with :func:`shown`: a raw string can hold a lone surrogate
(``"\\ud800"`` in JSON), which ComfyUI's prompt worker cannot print; an exception carrying one kills the worker
thread and the server never runs another prompt.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Mapping, Optional

import torch
from comfy_api.latest import io

_MAX_SHOWN = 60
_MAX_LISTED = 20  # longer option lists are summarised, as ComfyUI does for its own combos


def shown(value: Any) -> str:
    """``value`` as ASCII-only, quoted and bounded text, safe to put in an error message or a log line."""
    text = ascii(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 5] + "...'"


def _options(spec: io.Combo.Input) -> str:
    opts = [str(o) for o in spec.options]
    return ", ".join(opts) if len(opts) <= _MAX_LISTED else f"one of the {len(opts)} listed in the node"


def _range(spec: Any) -> str:
    lo = "-inf" if spec.min is None else spec.min
    hi = "inf" if spec.max is None else spec.max
    return f"[{lo}, {hi}]"


def _is_conditioning(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(e, (list, tuple)) and len(e) >= 2 and isinstance(e[0], torch.Tensor) and isinstance(e[1], dict)
        for e in value)


# What a value arriving on a socket must look like. ComfyUI passes a raw JSON value given for a socket input (a
# string, a number, an object: anything but a [node id, output index] link) to execute unchecked.
_SOCKETS = {
    "LATENT": lambda v: isinstance(v, dict) and isinstance(v.get("samples"), torch.Tensor),
    "CONDITIONING": _is_conditioning,
    "MODEL": lambda v: hasattr(v, "model") and hasattr(v, "get_model_object"),
    "SIGMAS": lambda v: isinstance(v, torch.Tensor),
    "IMAGE": lambda v: isinstance(v, torch.Tensor),
    "VAE": lambda v: hasattr(v, "decode") and hasattr(v, "encode"),
    "CLIP_VISION": lambda v: hasattr(v, "encode_image"),
}


def input_problem(spec: io.Input, value: Any) -> Optional[str]:
    """What is wrong with ``value`` for the input ``spec`` (a schema input: a widget, or a socket of a core type),
    or ``None``."""
    name = spec.id
    kind = spec.get_io_type()
    if kind in _SOCKETS:
        if _SOCKETS[kind](value):
            return None
        return (f"{name} must be connected to a node's {kind} output (a link [node id, output index]), got "
                f"{shown(value)}")
    if isinstance(spec, io.Combo.Input):
        if not isinstance(value, str) or value not in spec.options:
            return f"{name} {shown(value)} is not one of its options; choose {_options(spec)}"
        return None
    if isinstance(spec, io.Boolean.Input):
        return None if isinstance(value, bool) else f"{name} must be true or false, got {shown(value)}"
    if isinstance(spec, (io.Int.Input, io.Float.Input)):
        is_float = isinstance(spec, io.Float.Input)
        kinds = (int, float) if is_float else (int,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"{name} must be {'a number' if is_float else 'an integer'}, got {shown(value)}"
        if is_float and not math.isfinite(value):
            return f"{name} must be a finite number, got {value}; use a value in {_range(spec)}"
        if spec.min is not None and value < spec.min:
            return f"{name} {value} is below its minimum {spec.min}; use a value in {_range(spec)}"
        if spec.max is not None and value > spec.max:
            return f"{name} {value} is above its maximum {spec.max}; use a value in {_range(spec)}"
    return None


def _problems(node: type[io.ComfyNode], values: Mapping[str, Any], linked_none: bool) -> Optional[str]:
    schema = node.define_schema()
    specs = {spec.id: spec for spec in schema.inputs}
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None or (value is None and (linked_none or spec.optional)):  # optional: not connected
            continue
        problem = input_problem(spec, value)
        if problem is not None:
            return f"{schema.display_name}: {problem}"
    return None


@functools.lru_cache(maxsize=None)
def taken_inputs(node: type[io.ComfyNode]) -> Optional[frozenset[str]]:
    """The schema inputs ComfyUI hands ``node.validate_inputs``, skipping its own ``min``/``max`` checks for them
    (``execution.validate_inputs`` reads the method's argument names); ``None``: all of them (``**kwargs``)."""
    params = inspect.signature(node.validate_inputs).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return frozenset(params) & {spec.id for spec in node.define_schema().inputs}


def check_widgets(node: type[io.ComfyNode], **values: Any) -> bool | str:
    """``True``, or the first problem among ``values`` as ``validate_inputs`` reports it (node name first).

    ``None`` is skipped: at validation time it stands for a linked input, whose value exists only at execution.
    ``values`` must hold every input ``node.validate_inputs`` takes: ComfyUI checks none of those itself, so one left
    out would go unchecked (a ``TypeError`` says which, on the node's first validation).
    """
    taken = taken_inputs(node)  # type: ignore[arg-type]  # classes are hashable; mypy sees type[Any]
    if taken is not None and not taken <= values.keys():
        raise TypeError(f"{node.__name__}.validate_inputs takes {sorted(taken - values.keys())} but does not pass "
                        "them to check_widgets; ComfyUI skips its own range checks for them")
    problem = _problems(node, values, linked_none=True)
    return True if problem is None else problem


def require_inputs(node: type[io.ComfyNode], **values: Any) -> None:
    """Raise ``ValueError`` with the first problem among ``values`` (for ``execute``: linked values included)."""
    problem = _problems(node, values, linked_none=False)
    if problem is not None:
        raise ValueError(problem)


def validate_like_comfy(node: type[io.ComfyNode], inputs: Mapping[str, Any]) -> bool | str:
    """Run ``node.validate_inputs`` as ComfyUI's validation does: with only the inputs it names (``True`` when the
    node has none). For callers outside a prompt, such as the queue diagram's chain route."""
    validate = getattr(node, "validate_inputs", None)
    if validate is None:
        return True
    params = inspect.signature(validate).parameters
    try:
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return validate(**inputs)
        return validate(**{k: v for k, v in inputs.items() if k in params})
    except NotImplementedError:  # comfy_api's placeholder: the node has no check
        return True
