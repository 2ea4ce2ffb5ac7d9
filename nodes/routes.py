"""HTTP routes for the pack's web extension: the queue plan the graph editor draws.

``GET /infinite_video/fifo_plan?window_length=16&partitions=2&lookahead=true&init_mode=noise`` answers
:meth:`samplers.plan.FifoPlan.to_dict` as JSON (the same plan the sampler runs and the tests check), or status 400
with ``{"error": ...}`` naming the input and the fix. The values are checked against FIFO Queue Init's own limits
(``window_length <= 1024``, ``partitions <= 64``), which bound the answer's size and the time it takes; it is
computed off the event loop and the last few answers are kept, so a client cannot stall the server. Registered on
ComfyUI's own route table (``PromptServer.instance.routes``), the seam custom node packs use for routes; without a
running server (tests, scripts) registering is a no-op.
"""

from __future__ import annotations

import asyncio
import sys
from functools import lru_cache
from typing import Any, Mapping

from ..samplers.plan import plan_fifo
from .validation import require_inputs, shown

PLAN_PATH = "/infinite_video/fifo_plan"
_registered = False


def _required(query: Mapping[str, str], name: str, kind: str) -> str:
    raw = query.get(name)
    if raw is None:
        raise ValueError(f"missing {name}: pass ?{name}=<{kind}>")
    return raw


def _int(query: Mapping[str, str], name: str) -> int:
    raw = _required(query, name, "integer")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {shown(raw)}") from None


def fifo_plan_json(query: Mapping[str, str]) -> dict[str, Any]:
    """The plan for FIFO Queue Init's widget values in ``query``; ``ValueError`` names the bad input."""
    window = _int(query, "window_length")
    if window == 0:
        raise ValueError("window_length 0 takes the sampler latent's frame count, unknown until it runs; set "
                         "window_length to draw the queue")
    partitions = _int(query, "partitions")
    lookahead = _required(query, "lookahead", "true|false").lower()
    if lookahead not in ("true", "false"):
        raise ValueError(f"lookahead must be true or false, got {shown(lookahead)}")
    init_mode = _required(query, "init_mode", "clip|noise")
    from .fifo import FIFOQueueInit  # the node's limits and options, so the diagram accepts what the node does

    require_inputs(FIFOQueueInit, window_length=window, partitions=partitions, init_mode=init_mode)
    return _plan_dict(window, partitions, lookahead == "true", init_mode)


@lru_cache(maxsize=8)
def _plan_dict(window: int, partitions: int, lookahead: bool, init_mode: str) -> dict[str, Any]:
    return plan_fifo(window, partitions, lookahead, init_mode).to_dict()


def register_routes() -> None:
    """Add the routes to the running ComfyUI server once (idempotent; no server, nothing to do)."""
    global _registered
    if _registered:
        return
    # only a running ComfyUI has imported its server module; elsewhere (tests, scripts) do not import it for this
    module = sys.modules.get("server")
    server = getattr(getattr(module, "PromptServer", None), "instance", None)
    if server is None:
        return
    from aiohttp import web

    async def fifo_plan(request: "web.Request") -> "web.Response":
        try:
            # off the event loop: the largest plan the node allows is not instant
            plan = await asyncio.get_running_loop().run_in_executor(None, fifo_plan_json,
                                                                    dict(request.rel_url.query))
            return web.json_response(plan)
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)

    server.routes.get(PLAN_PATH)(fifo_plan)

    from .chain_route import CHAIN_PATH, BadRequest, chain_plan_json

    async def chain_plan(request: "web.Request") -> "web.Response":
        # the whole chain's plan (queue diagram); settings the run rejects answer 200 {"error"}, see chain_route
        try:
            return web.json_response(chain_plan_json(await request.json()))
        except (BadRequest, ValueError) as e:  # ValueError: a body that is not JSON
            return web.json_response({"error": str(e)}, status=400)

    server.routes.post(CHAIN_PATH)(chain_plan)
    _registered = True
