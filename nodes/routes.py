"""HTTP routes for the pack's web extensions: the queue plan the graph editor draws, the checkpoints a Video Sink
can resume from, and the last measured speed.

``POST /infinite_video/chain_plan`` answers the whole chain's plan (:mod:`.chain_route`; FIFO Queue Init alone is a
chain too). ``GET /infinite_video/checkpoints`` lists the checkpoints in the output folder, newest first
(:func:`.checkpoint.list_checkpoints`; ``web/run_panel.js`` offers them on the Video Sink). ``GET
/infinite_video/speed`` answers :data:`.run_status.LAST_SPEED` (what ``frames`` costs, before Run).

Registered on ComfyUI's own route table (``PromptServer.instance.routes``), the seam custom node packs use
for routes; without a running server (tests, scripts) registering is a no-op.
"""

from __future__ import annotations

import sys

_registered = False


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

    from .chain_route import CHAIN_PATH, BadRequest, chain_plan_json

    async def chain_plan(request: "web.Request") -> "web.Response":
        # the whole chain's plan (queue diagram); settings the run rejects answer 200 {"error"}, see chain_route
        try:
            return web.json_response(chain_plan_json(await request.json()))
        except (BadRequest, ValueError) as e:  # ValueError: a body that is not JSON
            return web.json_response({"error": str(e)}, status=400)

    server.routes.post(CHAIN_PATH)(chain_plan)

    from .checkpoint import list_checkpoints
    from .run_status import LAST_SPEED

    async def checkpoints(request: "web.Request") -> "web.Response":
        return web.json_response({"checkpoints": list_checkpoints()})

    async def speed(request: "web.Request") -> "web.Response":
        return web.json_response(LAST_SPEED)

    server.routes.get("/infinite_video/checkpoints")(checkpoints)
    server.routes.get("/infinite_video/speed")(speed)
    _registered = True
