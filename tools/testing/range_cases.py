"""Out-of-range numbers for every numeric input of every node of the pack, generated from the server's ``/object_info``.

ComfyUI 0.3.64 checks an ``INT`` / ``FLOAT`` widget's ``min`` / ``max`` itself only when the node's
``validate_inputs`` does not name the input (and takes no ``**kwargs``), and never checks that a float is finite
(``NaN < min`` is false). The pack's ``validate_inputs`` methods redo the checks for the inputs they name, from the
node's schema (``nodes/validation.py``). :func:`range_cases` turns ``/object_info`` into one prompt per node, input
and kind of bad value (below ``min``, above ``max``, ``NaN`` for floats), so a node or an input added later is covered
without editing this file; :func:`check_range_case` says whether the server refused it at validation as it must.
:func:`linked_cases` sends the same values through a link from a primitive node, which validation cannot see: the node
must refuse them when it executes (``require_inputs``), :func:`check_linked_case` checks that.

Each prompt holds the node under test (id :data:`NODE_ID`) with its defaults, its required sockets fed by the nodes
of :data:`PROVIDERS`, and one output led to an output node through :data:`CONSUMERS`; only the one value is wrong, so
the answer must name that node alone. A socket type missing from both tables raises :class:`NoWiring`, naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from .comfy_server import ServerError

PACK_PREFIX = "InfiniteVideo_"
NODE_ID = "100"
NUMERIC = ("INT", "FLOAT")

# socket type -> (class_type, inputs it is given); its other required inputs get their defaults / providers
PROVIDERS: dict[str, tuple[str, dict[str, Any]]] = {
    "MODEL": ("UNETLoader", {"unet_name": "tiny_wan21.safetensors", "weight_dtype": "default"}),
    "CONDITIONING": ("IVTest_RandomConditioning", {"seed": 1, "tokens": 8, "dim": 4096}),
    "LATENT": ("EmptyHunyuanLatentVideo", {"width": 64, "height": 64, "length": 17, "batch_size": 1}),
    "IMAGE": ("EmptyImage", {"width": 64, "height": 64, "batch_size": 1, "color": 0}),
    "VAE": ("VAELoader", {"vae_name": "pixel_space"}),
    "IV_QUEUE": ("InfiniteVideo_FIFOQueueInit", {}),
    "NOISE": ("RandomNoise", {}),
    "GUIDER": ("CFGGuider", {}),
    "SIGMAS": ("BasicScheduler", {}),
}

# output type -> (class_type, input name): a node taking it, on the way to an output node
CONSUMERS: dict[str, tuple[str, str]] = {
    "LATENT": ("SaveLatent", "samples"),
    "IMAGE": ("PreviewImage", "images"),
    "CONDITIONING": ("InfiniteVideo_Sampler", "positive"),
    "IV_QUEUE": ("InfiniteVideo_Sampler", "queue"),
    "IV_VIDEO_SINK": ("InfiniteVideo_Sampler", "sink"),
    "SAMPLER": ("SamplerCustomAdvanced", "sampler"),
}


class NoWiring(LookupError):
    """A node's socket or output has a type neither table knows: extend PROVIDERS / CONSUMERS."""


@dataclass(frozen=True)
class RangeCase:
    node_class: str
    display_name: str
    input: str
    kind: str  # "below" | "above" | "nan"
    value: Any
    lo: Any  # the input's min / max as /object_info gives them
    hi: Any
    prompt: dict

    @property
    def label(self) -> str:
        return f"{self.node_class}.{self.input} {self.kind} ({self.value})"


def _spec(info: dict, name: str) -> tuple[Any, dict]:
    for section in ("required", "optional"):
        entry = info["input"].get(section, {}).get(name)
        if entry is not None:
            return entry[0], (entry[1] if len(entry) > 1 else {})
    raise KeyError(name)


def _widget_default(kind: Any, opts: dict) -> Any:
    if isinstance(kind, list):  # a V1 combo: the type is the option list
        return opts.get("default", kind[0])
    if kind == "COMBO":
        return opts.get("default", opts["options"][0])
    if "default" in opts:
        return opts["default"]
    return {"INT": opts.get("min", 0), "FLOAT": opts.get("min", 0.0), "STRING": "", "BOOLEAN": False}.get(kind)


def _is_widget(kind: Any) -> bool:
    return isinstance(kind, list) or kind in ("COMBO", "INT", "FLOAT", "STRING", "BOOLEAN")


class _Graph:
    """An API prompt under construction: nodes with their defaults, sockets fed by shared provider nodes."""

    def __init__(self, info: dict[str, dict]):
        self.info = info
        self.nodes: dict[str, dict] = {}
        self.provided: dict[str, str] = {}  # socket type -> node id

    def _new_id(self) -> str:
        return str(len(self.nodes) + 1)

    def add(self, class_type: str, given: dict[str, Any], node_id: Optional[str] = None) -> str:
        info = self.info.get(class_type)
        if info is None:
            raise NoWiring(f"{class_type} is not registered on this server")
        node_id = node_id or self._new_id()
        self.nodes[node_id] = {"class_type": class_type, "inputs": {}}  # reserve the id before the providers
        inputs = {}
        for name, entry in info["input"].get("required", {}).items():
            kind, opts = entry[0], (entry[1] if len(entry) > 1 else {})
            if name in given:
                inputs[name] = given[name]
            elif _is_widget(kind):
                inputs[name] = _widget_default(kind, opts)
            else:
                inputs[name] = [self.provide(kind, f"{class_type}.{name}"), 0]
        inputs.update({k: v for k, v in given.items() if k not in inputs})
        self.nodes[node_id]["inputs"] = inputs
        return node_id

    def provide(self, kind: str, where: str) -> str:
        if kind not in self.provided:
            if kind not in PROVIDERS:
                raise NoWiring(f"no provider for socket type {kind} ({where}); add one to PROVIDERS")
            class_type, given = PROVIDERS[kind]
            self.provided[kind] = self.add(class_type, given)
        return self.provided[kind]

    def lead_to_output(self, node_id: str, depth: int = 0) -> None:
        """Link one output of ``node_id`` into a consumer, and so on until an output node: ComfyUI validates only
        output nodes and what they depend on."""
        info = self.info[self.nodes[node_id]["class_type"]]
        if info.get("output_node"):
            return
        for index, kind in enumerate(info["output"]):
            if kind in CONSUMERS and depth < 4:
                class_type, name = CONSUMERS[kind]
                consumer = self.add(class_type, {name: [node_id, index]})
                self.lead_to_output(consumer, depth + 1)
                return
        raise NoWiring(f"no consumer for any output {info['output']} of {self.nodes[node_id]['class_type']}; add one "
                       "to CONSUMERS")


def node_prompt(info: dict[str, dict], node_class: str, **values: Any) -> dict:
    """A prompt running ``node_class`` (id :data:`NODE_ID`) with its defaults, ``values`` replacing some."""
    graph = _Graph(info)
    graph.add(node_class, values, node_id=NODE_ID)
    graph.lead_to_output(NODE_ID)
    return graph.nodes


def _bad_values(kind: str, opts: dict) -> list[tuple[str, Any]]:
    step = 1 if kind == "INT" else (opts.get("step") or 1.0)
    out = []
    if opts.get("min") is not None:
        out.append(("below", opts["min"] - step))
    if opts.get("max") is not None:
        out.append(("above", opts["max"] + step))
    if kind == "FLOAT":
        out.append(("nan", math.nan))
    return out


def range_cases(info: dict[str, dict]) -> list[RangeCase]:
    """One case per pack node, numeric input (required or optional) and bad value, from ``/object_info``."""
    cases = []
    for node_class in sorted(k for k in info if k.startswith(PACK_PREFIX)):
        node = info[node_class]
        for section in ("required", "optional"):
            for name, entry in node["input"].get(section, {}).items():
                if entry[0] not in NUMERIC:
                    continue
                opts = entry[1] if len(entry) > 1 else {}
                for kind, value in _bad_values(entry[0], opts):
                    cases.append(RangeCase(node_class, node["display_name"], name, kind, value, opts.get("min"),
                                           opts.get("max"), node_prompt(info, node_class, **{name: value})))
    return cases


PRIMITIVES = {"INT": "PrimitiveInt", "FLOAT": "PrimitiveFloat"}
PRIMITIVE_ID = "101"


def linked_cases(info: dict[str, dict]) -> list[RangeCase]:
    """The cases of :func:`range_cases` with each bad value coming through a link from a primitive node (id
    :data:`PRIMITIVE_ID`): validation sees no value, so the node must refuse it when it executes."""
    cases = []
    for case in range_cases(info):
        kind = _spec(info[case.node_class], case.input)[0]
        _, opts = _spec(info[PRIMITIVES[kind]], "value")
        if case.kind != "nan" and not opts.get("min", -math.inf) <= case.value <= opts.get("max", math.inf):
            continue  # no primitive can carry it: a seed above 2**64 - 1 (PrimitiveInt stops at 2**63 - 1)
        prompt = node_prompt(info, case.node_class)
        prompt[PRIMITIVE_ID] = {"class_type": PRIMITIVES[kind], "inputs": {"value": case.value}}
        prompt[NODE_ID]["inputs"][case.input] = [PRIMITIVE_ID, 0]
        cases.append(RangeCase(case.node_class, case.display_name, case.input, case.kind, case.value, case.lo,
                               case.hi, prompt))
    return cases


def _wanted(case: RangeCase) -> list[str]:
    return [f"{case.display_name}: {case.input}", f"[{case.lo}, {case.hi}]", str(case.value)]


def check_linked_case(server: Any, case: RangeCase, timeout: float = 120.0) -> Optional[str]:
    """Post ``case`` (a linked bad value); ``None`` if it passed validation and the node under test failed naming
    itself, the input, the value and the range."""
    status, body = server.post_prompt_raw(case.prompt)
    if status != 200:
        return f"{case.label} (linked): expected to pass validation, got {status}: {body}"
    prompt_id = body["prompt_id"]
    try:
        entry = server.wait_history(prompt_id, timeout=timeout)
    except ServerError as e:  # still running: stop it
        server.request("POST", "/interrupt", {})
        return f"{case.label} (linked): did not fail within {timeout:.0f} s: {e}"
    st = entry.get("status", {})
    errors = [data for event, data in st.get("messages", []) if event == "execution_error"]
    if st.get("status_str") != "error" or not errors:
        return f"{case.label} (linked): expected an execution error, got {st.get('status_str')}"
    err = errors[0]
    message = str(err.get("exception_message", ""))
    if str(err.get("node_id")) != NODE_ID:
        return f"{case.label} (linked): failed at node {err.get('node_id')} ({err.get('node_type')}): {message}"
    missing = [w for w in _wanted(case) if w not in message]
    if missing:
        return f"{case.label} (linked): the message lacks {missing}: {ascii(message)}"
    return None


def _text(error: dict) -> str:
    return f"{error.get('message', '')} {error.get('details', '')}"


def check_range_case(server: Any, case: RangeCase) -> Optional[str]:
    """Post ``case``; ``None`` if the server refused it at validation naming the node under test alone, the input,
    and (where the pack's check answers, i.e. where ComfyUI skips its own) the value and the allowed range."""
    status, body = server.post_prompt_raw(case.prompt)
    if status == 200:  # accepted: stop it before it runs a model
        server.request("POST", "/queue", {"delete": [body.get("prompt_id")]})
        server.request("POST", "/interrupt", {})
        return f"{case.label}: accepted (HTTP 200); it must be refused at validation"
    if status != 400:
        return f"{case.label}: expected HTTP 400, got {status}: {body}"
    named = body.get("node_errors", {})
    if list(named) != [NODE_ID]:
        return f"{case.label}: node_errors must name node {NODE_ID} alone, got {list(named)}: {body}"
    errors = named[NODE_ID]["errors"]
    if not errors or any(case.input not in _text(e) for e in errors):
        return f"{case.label}: every error must name the input {case.input!r}: {ascii(errors)}"
    types = {e.get("type") for e in errors}
    if types == {"value_smaller_than_min" if case.kind == "below" else "value_bigger_than_max"}:
        # ComfyUI's own check: it ran, so ComfyUI did not skip this input
        if case.kind == "nan" or errors[0].get("extra_info", {}).get("received_value") != case.value:
            return f"{case.label}: ComfyUI's check answered for another value: {ascii(errors)}"
        return None
    if types != {"custom_validation_failed"}:
        return f"{case.label}: unexpected error types {sorted(map(str, types))}: {ascii(errors)}"
    message = _text(errors[0])
    missing = [w for w in _wanted(case) if w not in message]
    if missing:
        return f"{case.label}: the message lacks {missing}: {ascii(message)}"
    return None
