"""What a running sampler node tells the graph editor: its progress text, live frames, and how the run ended.

The sampler's own UI (``web/run_panel.js``) shows these on the node:

- text: ``PromptServer.send_progress_text``, the seam ComfyUI's own nodes use for a line of text on a node;
- ``infinite_video.preview`` ``{node, image, frames}``: the newest decoded video frame (a small JPEG data URL), at most
  :data:`PREVIEW_INTERVAL_S` apart, whatever the Video Sink's decode mode;
- ``infinite_video.stopped`` ``{node, checkpoint, latent_frames, video}``: a run stopped (Cancel, an error) and left
  a checkpoint to resume from (``checkpoint`` None when none was saved);
- ``infinite_video.speed``: the last finished stretch's measured seconds per model call and per output latent frame,
  which the editor shows next to what a ``frames`` value costs before Run (also ``GET /infinite_video/speed``).

Everything is a no-op outside a server run (tests, scripts): :func:`channel` returns a channel that drops messages.
"""

from __future__ import annotations

import base64
import io
import sys
import time
from dataclasses import dataclass
from typing import Any, Optional

from torch import Tensor

PREVIEW_INTERVAL_S = 0.5  # at most two frames a second over the websocket
PREVIEW_MAX_SIDE = 320  # px: enough to see the video on a node, small enough to send twice a second

# The last measured speed of this server process: {"s_per_call", "s_per_frame", "calls_per_frame"} (None until a run
# has produced output frames). Read by the speed route.
LAST_SPEED: dict[str, Optional[float]] = {"s_per_call": None, "s_per_frame": None, "calls_per_frame": None}


@dataclass
class NodeChannel:
    """Messages to the editor about one running node (``server`` None: messages are dropped)."""

    server: Any = None
    node_id: Optional[str] = None
    _preview_at: float = 0.0

    @property
    def live(self) -> bool:
        return self.server is not None and self.node_id is not None

    def text(self, text: str) -> None:
        if self.live:
            self.server.send_progress_text(text, self.node_id)

    def event(self, name: str, data: dict) -> None:
        if self.live:
            self.server.send_sync(f"infinite_video.{name}", {"node": self.node_id, **data},
                                  getattr(self.server, "client_id", None))

    def preview(self, image: Tensor, frames: int, force: bool = False) -> None:
        """Send frame ``image`` ``[H, W, 3]`` (floats in [0, 1]) as the node's live preview (throttled)."""
        now = time.monotonic()
        if not self.live or (not force and now - self._preview_at < PREVIEW_INTERVAL_S):
            return
        self._preview_at = now
        self.event("preview", {"image": jpeg_data_url(image), "frames": int(frames)})


def channel() -> NodeChannel:
    """The channel of the node now executing on the running server, or a silent one."""
    server = getattr(getattr(sys.modules.get("server"), "PromptServer", None), "instance", None)
    if server is None:
        return NodeChannel()
    from comfy_execution.utils import get_executing_context

    context = get_executing_context()
    return NodeChannel(server, None if context is None else str(context.node_id))


def jpeg_data_url(image: Tensor) -> str:
    """``[H, W, 3]`` floats in [0, 1] -> a ``data:image/jpeg;base64,...`` URL, longest side at most
    :data:`PREVIEW_MAX_SIDE` (nearest-neighbour enlargement of small frames, so a 16x16 preview decode stays sharp)."""
    from PIL import Image

    arr = (image.detach().float().clamp(0, 1) * 255).round().byte().cpu().numpy()
    img = Image.fromarray(arr, "RGB")
    scale = PREVIEW_MAX_SIDE / max(img.size)
    if scale != 1:
        img = img.resize((max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale))),
                         Image.Resampling.NEAREST if scale > 1 else Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def clock(seconds: float) -> str:
    """``75`` -> ``1:15``, ``3725`` -> ``1:02:05``, ``200000`` -> ``2 d 7:33:20``."""
    s = max(0, int(round(seconds)))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    text = f"{h}:{m:02}:{s:02}" if h or d else f"{m}:{s:02}"
    return f"{d} d {text}" if d else text
