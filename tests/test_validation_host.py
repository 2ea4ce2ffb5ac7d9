"""The shared widget check (``nodes/validation.py``) in process, on every node of the pack.

ComfyUI skips its own ``min``/``max`` checks for every input a node's ``validate_inputs`` takes; these tests call each
node's ``validate_inputs`` as ComfyUI does (``validate_like_comfy``) with an out-of-range value for each numeric input
it takes and expect the pack's message. ``tests/test_range_checks.py`` checks the same through the real server.
"""

from __future__ import annotations

import asyncio
import math
from typing import Optional

import pytest

pytestmark = pytest.mark.host


@pytest.fixture(scope="module")
def pack_nodes(comfy_host) -> list:
    from infinite_video.nodes import InfiniteVideoExtension

    return asyncio.run(InfiniteVideoExtension().get_node_list())


def _defaults(node) -> dict:
    """The node's widget defaults, as a prompt saved by the UI holds them (sockets left out: linked)."""
    from comfy_api.latest import io

    values = {}
    for spec in node.define_schema().inputs:
        if isinstance(spec, io.Combo.Input):
            values[spec.id] = spec.default if spec.default is not None else spec.options[0]
        elif isinstance(spec, (io.Int.Input, io.Float.Input, io.Boolean.Input, io.String.Input)):
            values[spec.id] = spec.default
    return values


def _numeric_taken(node) -> list:
    from comfy_api.latest import io

    from infinite_video.nodes.validation import taken_inputs

    taken = taken_inputs(node)
    return [spec for spec in node.define_schema().inputs if isinstance(spec, (io.Int.Input, io.Float.Input))
            and (taken is None or spec.id in taken)]


def _has_own_check(node) -> bool:
    from comfy_api.internal import first_real_override

    return first_real_override(node, "validate_inputs") is not None


def test_the_pack_has_nodes_whose_validate_inputs_takes_numbers(pack_nodes):
    ids = {n.define_schema().node_id for n in pack_nodes}
    assert len(ids) == len(pack_nodes) >= 12 and all(i.startswith("InfiniteVideo_") for i in ids)
    taken = {(n.define_schema().node_id, s.id) for n in pack_nodes if _has_own_check(n) for s in _numeric_taken(n)}
    assert ("InfiniteVideo_Sampler", "cfg") in taken and ("InfiniteVideo_VideoSink", "quality") in taken


def test_every_float_of_the_pack_goes_through_its_check(pack_nodes):
    """ComfyUI lets NaN through every min/max check, so each float input must be one ``validate_inputs`` takes."""
    from comfy_api.latest import io

    from infinite_video.nodes.validation import taken_inputs

    unchecked = [(n.define_schema().node_id, s.id) for n in pack_nodes for s in n.define_schema().inputs
                 if isinstance(s, io.Float.Input)
                 and not (_has_own_check(n) and (taken_inputs(n) is None or s.id in taken_inputs(n)))]
    assert not unchecked, f"float inputs whose NaN ComfyUI would let through: {unchecked}"


def _bad(spec) -> list:
    from comfy_api.latest import io

    is_float = isinstance(spec, io.Float.Input)
    step = (spec.step or 1.0) if is_float else 1
    out = []
    if spec.min is not None:
        out.append(spec.min - step)
    if spec.max is not None:
        out.append(spec.max + step)
    return out + ([math.nan, math.inf] if is_float else [])


def test_every_numeric_input_a_validate_inputs_takes_is_range_checked(pack_nodes):
    from infinite_video.nodes.validation import validate_like_comfy

    checked, problems = 0, []
    for node in (n for n in pack_nodes if _has_own_check(n)):
        schema = node.define_schema()
        defaults = _defaults(node)
        assert validate_like_comfy(node, defaults) is True, schema.node_id
        for spec in _numeric_taken(node):
            rng = f"[{'-inf' if spec.min is None else spec.min}, {'inf' if spec.max is None else spec.max}]"
            for value in _bad(spec):
                verdict = validate_like_comfy(node, {**defaults, spec.id: value})
                checked += 1
                wanted = (f"{schema.display_name}: {spec.id}", str(value), rng)
                if verdict is True or not all(w in verdict for w in wanted):
                    problems.append(f"{schema.node_id}.{spec.id} = {value}: {verdict!r}")
    assert checked >= 20 and not problems, "\n".join(problems)


def test_an_input_taken_but_not_passed_on_is_a_loud_error(comfy_host):
    """A ``validate_inputs`` that takes ``upscale`` and forgets it would let any upscale through (ComfyUI skips it)."""
    from comfy_api.latest import io

    from infinite_video.nodes.validation import check_widgets

    class Forgetful(io.ComfyNode):
        @classmethod
        def define_schema(cls) -> io.Schema:
            return io.Schema(node_id="IVTest_Forgetful", inputs=[
                io.Int.Input("upscale", default=8, min=1, max=64), io.Int.Input("tokens", default=1, min=1, max=9)])

        @classmethod
        def validate_inputs(cls, upscale: Optional[int] = None, tokens: Optional[int] = None) -> bool | str:
            return check_widgets(cls, tokens=tokens)

        @classmethod
        def execute(cls, upscale: int, tokens: int) -> io.NodeOutput:
            return io.NodeOutput()

    with pytest.raises(TypeError, match=r"Forgetful.validate_inputs takes \['upscale'\] but does not pass them"):
        Forgetful.validate_inputs(upscale=0, tokens=1)
