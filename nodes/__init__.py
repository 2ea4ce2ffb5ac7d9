"""V3 registration: one extension lists every node of the pack."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import continuation, fifo, kstep, miga, preview, sampler, video_sink
from .model_paths import register_shapes_model
from .routes import register_routes


class InfiniteVideoExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        # ComfyUI 0.3.64 calls get_node_list (not on_load) while loading packs, before the server adds its routes
        register_routes()
        register_shapes_model()  # the starter workflow's model, without copying it into the user's folders
        return [*fifo.NODES, *continuation.NODES, *miga.NODES, *sampler.NODES, *kstep.NODES, *preview.NODES,
                *video_sink.NODES]


__all__ = ["InfiniteVideoExtension"]
