"""Progress of Infinite Video Sampler as a client sees it: websocket events of the real server.

The bar counts the engine's iterations, warm-up included (``max`` = iterations, reaching it, never going back), so it
moves before the first frame leaves; the node's progress text labels the warm-up, says each self-reflection
regeneration, and once frames leave gives elapsed time, seconds per output frame and the time left.
"""

from __future__ import annotations

import asyncio
import json
import struct

import pytest

from infinite_video.tools.testing.malformed_cases import base_prompt, miga_chain

pytestmark = pytest.mark.host

TEXT_EVENT = 3  # protocol.BinaryEventTypes.TEXT: >I event, >I node id length, node id, utf-8 text


def miga_prompt(frames: int) -> dict:
    p = base_prompt()
    miga_chain(p)  # window 8: Zigzag 20 -> Unified 21 -> Self-Reflection 22 -> Long-Range Guidance 23
    # no Unified Stage: stage 1 runs to clean and a group leaves per sweep (the unified stage's wavefront would hold
    # a run this short back to its end); threshold 0: every drop in similarity triggers a regeneration
    del p["21"], p["23"]
    p["20"]["inputs"].update(steps=8, end_step=8)
    p["22"]["inputs"].update(queue=["20", 0], candidates=1, threshold=0.0, judged_level=2)
    p["6"]["inputs"].update(queue=["22", 0], frames=frames, seed=3)
    p["7"]["inputs"]["filename_prefix"] = "progress/miga"
    return p


async def _watch(server, prompt: dict, timeout: float) -> tuple[str, list[dict], list[tuple[str, str]]]:
    import aiohttp

    progress, texts = [], []
    ws_url = server.url.replace("http://", "ws://") + f"/ws?clientId={server.client_id}"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, max_msg_size=0) as ws:
            loop = asyncio.get_running_loop()
            prompt_id = (await loop.run_in_executor(None, server.post_prompt, prompt))["prompt_id"]
            status = "timeout"
            async with asyncio.timeout(timeout):
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        (event,) = struct.unpack(">I", msg.data[:4])
                        if event == TEXT_EVENT:
                            (n,) = struct.unpack(">I", msg.data[4:8])
                            texts.append((msg.data[8:8 + n].decode(), msg.data[8 + n:].decode()))
                        continue
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    data = json.loads(msg.data)
                    kind, body = data.get("type"), data.get("data", {})
                    if body.get("prompt_id") not in (None, prompt_id):
                        continue
                    if kind == "progress":
                        progress.append(body)
                    elif kind in ("execution_success", "execution_error"):
                        status = kind
                        break
    return status, progress, texts


def test_miga_progress_moves_during_warm_up_and_says_what_runs(comfy_server):
    frames = 10
    status, progress, texts = asyncio.run(_watch(comfy_server, miga_prompt(frames), timeout=600))
    assert status == "execution_success"
    bar = [(p["value"], p["max"]) for p in progress if str(p.get("node")) == "6"]
    values = [v for v, _ in bar]
    (total,) = {m for _, m in bar}
    assert total > frames and values == list(range(1, total + 1)), bar  # one step per sweep, warm-up included
    said = [t for node, t in texts if node == "6"]
    warm = [t for t in said if t.startswith("warm-up: iteration ")]
    assert warm and "no frame yet" in warm[0] and " elapsed" in warm[0], said
    assert said.index(warm[0]) < min(i for i, t in enumerate(said) if "latent frames ·" in t)
    assert any(t.startswith("Self-Reflection: regenerating a group (trigger ") for t in said), said
    last = [t for t in said if t.startswith(f"{frames} / {frames} latent frames")]
    assert last and " s per output frame" in last[-1] and "about 0:00 left" in last[-1], said


def test_fifo_progress_still_counts_queue_iterations(comfy_server):
    status, progress, _ = asyncio.run(_watch(comfy_server, base_prompt(), timeout=600))
    assert status == "execution_success"
    bar = [(p["value"], p["max"]) for p in progress if str(p.get("node")) == "6"]
    # window 5 x 2 partitions: 10 warm-up iterations, then one per output frame (4)
    assert bar[-1] == (14, 14) and [v for v, _ in bar] == list(range(1, 15)), bar
    log = comfy_server.log()  # the node's line goes to the log too, every tenth of the run
    assert "infinite-video: warm-up: iteration 1 of 14 (the queue fills; no frame yet)" in log
    assert "infinite-video: 4 / 4 latent frames · " in log and " s per output frame · about 0:00 left" in log
