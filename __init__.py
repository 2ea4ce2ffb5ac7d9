"""infinite-video: train-free infinite-length video for ComfyUI (FIFO-Diffusion, MIGA, k-step noise search).

Only the V3 extension entry point and the web folder are exposed; everything heavy is imported lazily when
ComfyUI asks for the node list, so importing the package costs nothing.
"""

WEB_DIRECTORY = "./web"


async def comfy_entrypoint():
    from .nodes import InfiniteVideoExtension

    return InfiniteVideoExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
