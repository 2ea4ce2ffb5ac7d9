"""The pack's wire types."""

from comfy_api.latest import io

# A frozen ``samplers.config.QueueConfig``: FIFO queue settings plus the MIGA parts chained onto it.
QueueType = io.Custom("IV_QUEUE")

CATEGORY = "infinite-video"
