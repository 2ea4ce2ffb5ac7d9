"""The queue diagram's plan for a whole chain: ``POST /infinite_video/chain_plan``.

Body: ``{"chain": [{"type": "InfiniteVideo_FIFOQueueInit", "inputs": {...widget values}}, <Chunked Continuation or
MIGA nodes in wire order>...], "latent_frames": <frames of the latent wired to the sampler, or null when unknown>}``.
The chain is built by the nodes' own ``execute`` (the same checks and the same ``QueueConfig`` as a run) and laid out by
:func:`samplers.chain_plan.plan_chain`. Answer: ``{"plan": {...}, "warnings": [...]}``, or ``{"error": "<the
engine's message>"}`` with status 200 for settings the run would reject (the editor asks while the user types; an
impossible value is an answer, not a failed request, so the browser console stays quiet). Status 400 only for a
request that is not a chain.
``warnings`` are the plan's ``ignored`` settings that the request sets to something other than the input's default:
a value someone chose that will have no effect. An ignored setting left at its default is not worth a warning (a
shipped MIGA workflow keeps FIFO Queue Init's defaults, which the Zigzag Stage overrides).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

from ..samplers.chain_plan import plan_chain
from ..samplers.config import QueueConfig
from . import continuation, fifo, miga
from .validation import validate_like_comfy

CHAIN_PATH = "/infinite_video/chain_plan"
MAX_CHAIN = 16


class BadRequest(ValueError):
    """The request is not a chain description (status 400)."""


@lru_cache(maxsize=None)
def _node_classes() -> dict[str, Any]:
    """The chain's V3 node classes by node id."""
    classes: tuple[Any, ...] = (*fifo.NODES, *continuation.NODES, *miga.NODES)
    return {cls.define_schema().node_id: cls for cls in classes}


def _max_window() -> int:
    return next(i.max for i in fifo.FIFOQueueInit.define_schema().inputs if i.id == "window_length")


def _build(chain: list[dict[str, Any]]) -> QueueConfig:
    classes = _node_classes()
    queue: Optional[QueueConfig] = None
    for k, link in enumerate(chain):
        cls = classes.get(str(link.get("type"))) if isinstance(link, dict) else None
        inputs = link.get("inputs") if isinstance(link, dict) else None
        if cls is None or not isinstance(inputs, dict):
            raise BadRequest(f"chain[{k}] must be {{'type': one of {sorted(classes)}, 'inputs': {{...}}}}")
        if (k == 0) != (cls is fifo.FIFOQueueInit):
            raise BadRequest("the chain starts with InfiniteVideo_FIFOQueueInit, and only there")
        name = cls.define_schema().display_name
        verdict = validate_like_comfy(cls, inputs)  # the node's own check, as a prompt's validation runs it
        if verdict is not True:
            text = str(verdict)
            raise ValueError(text if text.startswith(name) else f"{name}: {text}")
        try:
            out = cls.execute(**inputs) if queue is None else cls.execute(queue, **inputs)
        except TypeError as e:  # a missing or unknown input name
            raise BadRequest(f"{name}: {e}") from None
        queue = out.result[0]
    assert queue is not None  # the chain is not empty: its first link is FIFO Queue Init
    return queue


def _changed_ignored(chain: list[dict[str, Any]], ignored: list[dict[str, str]]) -> list[dict[str, str]]:
    """The ignored settings whose value in ``chain`` differs from the input's default."""
    classes = _node_classes()
    out = []
    for item in ignored:
        link = next((n for n in chain if n.get("type") == item["node"]), None)
        if link is None or item["input"] not in link["inputs"]:
            continue
        spec = next((i for i in classes[item["node"]].define_schema().inputs if i.id == item["input"]), None)
        if spec is None or link["inputs"][item["input"]] != spec.default:
            out.append(item)
    return out


def chain_plan_json(body: Any) -> dict[str, Any]:
    """``{"plan": ...}`` or ``{"error": ...}`` for a request body; :class:`BadRequest` if it is not a chain."""
    if not isinstance(body, dict) or not isinstance(body.get("chain"), list) or not body["chain"]:
        raise BadRequest("expected a JSON object {'chain': [...], 'latent_frames': int or null}")
    if len(body["chain"]) > MAX_CHAIN:
        raise BadRequest(f"a chain has at most {MAX_CHAIN} nodes")
    frames = body.get("latent_frames")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, int)):
        raise BadRequest(f"latent_frames must be an integer or null, got {frames!r}")
    try:
        config = _build(body["chain"])
        if config.window == 0 and frames is not None and frames > _max_window():
            # window 0 takes the latent's length: bound it as the window_length widget is bound (the plan grows
            # with window x partitions)
            raise ValueError(f"FIFO Queue Init: window_length 0 takes the latent's {frames} frames, more than the "
                             f"{_max_window()} a window may have; set window_length (at most {_max_window()})")
        if frames is None:
            if config.window == 0:
                raise ValueError("window_length 0 takes the frame count of the latent wired to Infinite Video "
                                 "Sampler's latent_image; connect one (or set window_length) to draw the plan")
            frames = config.window
        plan = plan_chain(config, frames)
        return {"plan": plan, "warnings": _changed_ignored(body["chain"], plan["ignored"])}
    except BadRequest:
        raise
    except ValueError as e:
        return {"error": str(e)}
