"""Malformed API prompts through the real server: each is rejected at validation naming the node, or fails at
execution with a clear message naming the node and the input; none stops the server from running the next prompt.

Why it matters: ComfyUI 0.3.64 does not check V3 combo values, so a combo value holding a lone surrogate
(``"\\ud800"``) reaches the pack; an error that echoed it raw would kill ComfyUI's prompt worker thread while printing
it, and the server would still answer HTTP but never execute again. The cases below are the kinds an API client can
send (bad strings in every combo, non-finite floats, out-of-range values, impossible combinations, wrong models) and
end with a valid prompt that must still run. ``tools/bench/soak_prompts.py`` posts the same cases many times and
checks the memory.
"""

from __future__ import annotations

import json
import math

import pytest

from infinite_video.tools.testing.comfy_server import ServerError, read_latent
from infinite_video.tools.testing.malformed_cases import CASES, Case, base_prompt, check_outcome

pytestmark = pytest.mark.host


def test_there_are_enough_cases_of_every_kind():
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 60 and {"validation", "execution"} <= kinds
    surrogates = [c for c in CASES if "\ud800" in c.label]
    assert len(surrogates) >= 8, "every combo of the pack gets a lone surrogate"


@pytest.mark.parametrize("case", CASES, ids=[c.label.encode("ascii", "backslashreplace").decode() for c in CASES])
def test_malformed_prompt_is_rejected_naming_the_node(comfy_server, case: Case):
    problem = check_outcome(comfy_server, case)
    assert problem is None, problem


CHAIN = "/api/infinite_video/chain_plan"


def _fifo_chain(**inputs) -> dict:
    return {"chain": [{"type": "InfiniteVideo_FIFOQueueInit", "inputs": inputs}], "latent_frames": None}


@pytest.mark.parametrize("inputs,message", [
    ({"window_length": 1024, "partitions": 3000}, "partitions 3000 is above its maximum 64"),
    ({"window_length": 2000, "partitions": 2}, "window_length 2000 is above its maximum 1024"),
    ({"window_length": -3, "partitions": 2}, "window_length -3 is below its minimum 0"),
    ({"window_length": 8, "partitions": 2, "init_mode": "\ud800"}, "init_mode"),
    ({"window_length": 10 ** 23, "partitions": 2}, "above its maximum"),
])
def test_chain_route_applies_the_node_limits(comfy_server, inputs, message):
    status, body = comfy_server.request("POST", CHAIN, _fifo_chain(**{"lookahead": True, "init_mode": "noise",
                                                                       **inputs}))
    assert status == 200 and message in body["error"] and body["error"].isascii(), body


def test_chain_route_answer_is_bounded_at_the_node_maximum(comfy_server):
    """The largest queue FIFO Queue Init allows (1024 x 64 = 65,536 slots) answers, in well under a megabyte."""
    status, body = comfy_server.request("POST", CHAIN, _fifo_chain(window_length=1024, partitions=64, lookahead=True,
                                                                   init_mode="noise"))
    assert status == 200 and body["plan"]["queue"] == 65536
    assert len(json.dumps(body)) < 1_000_000


def test_chain_route_bounds_a_window_taken_from_the_latent(comfy_server):
    chain = [{"type": "InfiniteVideo_FIFOQueueInit",
              "inputs": {"window_length": 0, "partitions": 64, "lookahead": True, "init_mode": "noise"}}]
    status, body = comfy_server.request("POST", CHAIN, {"chain": chain, "latent_frames": 10 ** 9})
    assert status == 200 and "more than the 1024 a window may have" in body["error"], body


def test_server_still_runs_a_valid_prompt_after_the_malformed_ones(comfy_server):
    """Runs after the parametrised cases (file order): the prompt worker is alive and the result is finite."""
    prompt = base_prompt()
    prompt["7"]["inputs"]["filename_prefix"] = "malformed/after"
    try:
        entry = comfy_server.run(prompt, timeout=300)
    except ServerError as e:  # the worker thread died: the prompt is queued but never runs
        pytest.fail(f"the server no longer executes prompts: {e}")
    latent = read_latent(comfy_server.saved_files(entry, "latents")[0])
    assert latent.shape == (1, 16, 4, 8, 8)
    assert math.isfinite(float(latent.abs().sum()))
    # ComfyUI's own validation messages may still fail to log a surrogate ("--- Logging error ---", harmless);
    # what must never happen again is the worker thread dying on an exception message of the pack
    assert "Exception in thread" not in comfy_server.log(), comfy_server.log_tail()
