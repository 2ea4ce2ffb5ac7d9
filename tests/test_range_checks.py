"""Every numeric input of every node of the pack is range-checked at validation, through the real server.

ComfyUI 0.3.64 skips its own ``min`` / ``max`` checks for the inputs a node's ``validate_inputs`` names, and never
refuses a NaN float; the pack's checks (``nodes/validation.py``, ranges read from each node's schema) must cover both.
The cases come from ``/object_info`` (``tools/testing/range_cases.py``): a node or an input added later is covered
without editing this file. Each case is refused with HTTP 400 naming the node and the input, so nothing is queued and
no model is called. The same values through a link (``None`` at validation) fail at the node when it executes, and a
valid prompt built the same way still runs afterwards.
"""

from __future__ import annotations

import pytest

from infinite_video.tools.testing.range_cases import (
    NODE_ID,
    PACK_PREFIX,
    check_linked_case,
    check_range_case,
    linked_cases,
    node_prompt,
    range_cases,
)

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def object_info(comfy_server) -> dict:
    return comfy_server.object_info()


def test_cases_cover_every_numeric_input_of_every_node(object_info):
    cases = range_cases(object_info)
    assert cases, "no numeric input found on any node of the pack"
    covered = {(c.node_class, c.input, c.kind) for c in cases}
    assert {("InfiniteVideo_LatentPreviewDecode", "upscale", k) for k in ("below", "above")} <= covered
    assert ("InfiniteVideo_VideoSink", "fps", "nan") in covered
    numeric = {(name, i) for name, info in object_info.items() if name.startswith(PACK_PREFIX)
               for section in info["input"].values() if isinstance(section, dict)
               for i, spec in section.items() if spec[0] in ("INT", "FLOAT")}
    assert {(c.node_class, c.input) for c in cases} == numeric
    assert all(c.kind in {"below", "above"} for c in cases if c.value == c.value)  # every non-NaN case is out of range
    assert all((c.value < c.lo) if c.kind == "below" else (c.value > c.hi) for c in cases if c.kind != "nan")


def test_every_out_of_range_number_is_refused_at_validation(comfy_server, object_info):
    cases = range_cases(object_info)
    known = _queued_or_done(comfy_server)  # an earlier test's prompt may still be running
    problems = [p for p in (check_range_case(comfy_server, c) for c in cases) if p is not None]
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems)
    assert _queued_or_done(comfy_server) <= known, "a refused prompt was queued"


def _queued_or_done(server) -> set[str]:
    queue = server.get("/queue")
    return set(server.get("/history")) | {item[1] for item in queue["queue_running"] + queue["queue_pending"]}


def test_every_out_of_range_number_through_a_link_fails_at_its_node(comfy_server, object_info):
    """A linked value is ``None`` at validation; the node refuses it when it executes, before any model call,
    naming itself, the input, the value and the range (``require_inputs``)."""
    cases = linked_cases(object_info)
    assert len(cases) >= len(range_cases(object_info)) - 4  # only seeds above 2**64 - 1 cannot travel a link
    problems = {(c.node_class, c.input, c.kind): p for c in cases
                for p in [check_linked_case(comfy_server, c)] if p is not None}
    assert not problems, f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems.values())


def test_a_valid_prompt_still_runs_after_the_refused_ones(comfy_server, object_info):
    """Latent Preview Decode with its defaults (upscale 8), in the graph the cases use: it runs and previews."""
    prompt = node_prompt(object_info, "InfiniteVideo_LatentPreviewDecode")
    entry = comfy_server.run(prompt, timeout=300)
    images = comfy_server.saved_files(entry, "images")
    assert len(images) == 5 and all(p.is_file() for p in images)  # one image per latent frame of 17 video frames
    assert prompt[NODE_ID]["inputs"]["upscale"] == 8
