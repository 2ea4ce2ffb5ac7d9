"""V3 registration: one extension lists every node of the pack."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import fifo, kstep, miga, preview, sampler


class InfiniteVideoExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [*fifo.NODES, *miga.NODES, *sampler.NODES, *kstep.NODES, *preview.NODES]


__all__ = ["InfiniteVideoExtension"]
