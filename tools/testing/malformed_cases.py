"""Malformed API prompts for the pack, and how the server must answer each.

Shared by ``tests/test_malformed_prompts.py`` (every case once, through the session's real server) and the soak
benchmark ``tools/bench/soak_prompts.py`` (many prompts against one server). A :class:`Case` edits the tiny FIFO
workflow (``example_workflows/api/fifo_tiny_wan.json``, 4 output frames) and says what must happen:

- ``validation``: ``POST /prompt`` answers 400 and ``node_errors`` holds the node ``node`` with ``expect`` in one of its
  errors (``node=""``: a prompt-level error);
- ``execution``: the prompt is queued, fails, and its ``execution_error`` comes from node ``node`` with ``expect`` in
  the message.

Every answer must be printable: no lone surrogate may come back in a message the pack wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..pack import PACK_ROOT

SURROGATE = "\ud800"
NAN, INF = float("nan"), float("inf")  # json.dumps writes NaN / Infinity, as a JavaScript client can

Edit = Callable[[dict], None]


@dataclass(frozen=True)
class Case:
    label: str
    kind: str  # "validation" | "execution"
    node: str  # the node id the answer must name ("" = a prompt-level error)
    expect: str  # text the error must contain
    edit: Edit


def base_prompt() -> dict:
    """The tiny FIFO workflow: Wan 2.1 tiny, window 5, 2 partitions, 4 output frames (a few seconds on CPU)."""
    prompt = json.loads((PACK_ROOT / "example_workflows" / "api" / "fifo_tiny_wan.json").read_text())
    prompt["6"]["inputs"]["frames"] = 4
    prompt["7"]["inputs"]["filename_prefix"] = "malformed/run"
    return prompt


def build(case: Case) -> dict:
    prompt = base_prompt()
    case.edit(prompt)
    return prompt


# -- graph edits -------------------------------------------------------------------------------------------------------

def _set(node: str, **values: Any) -> Edit:
    def edit(p: dict) -> None:
        p[node]["inputs"].update(values)
    return edit


def _all(*edits: Edit) -> Edit:
    def edit(p: dict) -> None:
        for e in edits:
            e(p)
    return edit


def miga_chain(p: dict) -> None:
    """The full MIGA chain on a window of 8 (as the end-to-end test): Zigzag 20, Unified 21, Self-Reflection 22,
    Long-Range Guidance 23 -> sampler 6."""
    p["4"]["inputs"]["length"] = 29
    p["5"]["inputs"].update(window_length=8, partitions=2)
    p["20"] = {"class_type": "InfiniteVideo_ZigzagStage",
               "inputs": {"queue": ["5", 0], "steps": 16, "group_size": 2, "end_step": 12, "slide": 0}}
    p["21"] = {"class_type": "InfiniteVideo_UnifiedStage",
               "inputs": {"queue": ["20", 0], "steps": 4, "re_denoise": True, "re_noise_step": 12}}
    p["22"] = {"class_type": "InfiniteVideo_SelfReflection",
               "inputs": {"queue": ["21", 0], "candidates": 2, "threshold": 0.01, "metric": "pairwise",
                          "judged_level": 4}}
    p["23"] = {"class_type": "InfiniteVideo_LongRangeGuidance",
               "inputs": {"queue": ["22", 0], "guidance_latents": 2, "source": "queue", "history_span": 16}}
    p["6"]["inputs"]["queue"] = ["23", 0]


def _miga_set(node: str, **values: Any) -> Edit:
    return _all(miga_chain, _set(node, **values))


def _continuation(p: dict) -> None:
    """Chunked Continuation 50 between FIFO Queue Init 5 (window 0 = the latent's 5 frames) and the sampler: 2 anchors,
    the newest finished latent and 2 new ones per window."""
    p["50"] = {"class_type": "InfiniteVideo_Continuation",
               "inputs": {"queue": ["5", 0], "chunk": 2, "anchors": 2, "anchor_every": 2}}
    p["6"]["inputs"]["queue"] = ["50", 0]


def _continuation_set(**values: Any) -> Edit:
    return _all(_continuation, _set("50", **values))


def _continuation_after_miga(p: dict) -> None:
    miga_chain(p)
    _continuation(p)
    p["50"]["inputs"]["queue"] = ["23", 0]


def _miga_after_continuation(p: dict) -> None:
    _continuation(p)
    p["20"] = {"class_type": "InfiniteVideo_ZigzagStage",
               "inputs": {"queue": ["50", 0], "steps": 10, "group_size": 1, "end_step": 10, "slide": 0}}
    p["6"]["inputs"]["queue"] = ["20", 0]


def _custom(p: dict) -> None:
    """Queue Sampler (custom) 30 inside SamplerCustomAdvanced 34, saved by 7."""
    p["30"] = {"class_type": "InfiniteVideo_QueueSampler",
               "inputs": {"queue": ["5", 0], "frames": 4, "sampler_name": "euler", "eta": 1.0}}
    p["31"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": 0}}
    p["32"] = {"class_type": "CFGGuider", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0],
                                                     "cfg": 5.0}}
    p["33"] = {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 10,
                                                          "denoise": 1.0}}
    p["34"] = {"class_type": "SamplerCustomAdvanced",
               "inputs": {"noise": ["31", 0], "guider": ["32", 0], "sampler": ["30", 0], "sigmas": ["33", 0],
                          "latent_image": ["4", 0]}}
    p["7"]["inputs"]["samples"] = ["34", 0]
    del p["6"]  # an output node itself: left in, it would run on its own


def _custom_set(**values: Any) -> Edit:
    return _all(_custom, _set("30", **values))


def _kstep(p: dict) -> None:
    """K-Step Noise Search 40 (its VAE is left out: these cases are about its own widgets), saved by 7."""
    p["41"] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}
    p["40"] = {"class_type": "InfiniteVideo_KStepNoiseSearch",
               "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "start_image": ["41", 0],
                          "chunk_length": 9, "num_chunks": 2, "candidates": 2, "preview_steps": 1, "full_steps": 2,
                          "sampler_name": "euler", "scheduler": "simple", "cfg": 5.0, "seed": 0}}
    p["7"]["inputs"]["samples"] = ["40", 1]
    del p["6"]


def _kstep_set(**values: Any) -> Edit:
    return _all(_kstep, _set("40", **values))


def _sink(p: dict) -> None:
    """Video Sink 80 (preview decode, no checkpoints) on the sampler's sink input."""
    p["80"] = {"class_type": "InfiniteVideo_VideoSink",
               "inputs": {"decode": "preview", "filename_prefix": "malformed/sink", "fps": 16.0, "codec": "h264 (mp4)",
                          "quality": 19, "checkpoint_every": 0, "resume": ""}}
    p["6"]["inputs"]["sink"] = ["80", 0]


def _sink_set(**values: Any) -> Edit:
    return _all(_sink, _set("80", **values))


def _sink_fps_from_primitive(value: float) -> Edit:
    def edit(p: dict) -> None:
        _sink(p)
        p["81"] = {"class_type": "PrimitiveFloat", "inputs": {"value": value}}
        p["80"]["inputs"]["fps"] = ["81", 0]
    return edit


def _frame_range(**values: Any) -> Edit:
    def edit(p: dict) -> None:
        p["9"] = {"class_type": "InfiniteVideo_ConditioningFrameRange",
                  "inputs": {"conditioning": ["2", 0], "start_frame": 0, "end_frame": 0, **values}}
        p["6"]["inputs"]["positive"] = ["9", 0]
    return edit


def _cfg_from_primitive(value: float) -> Edit:
    def edit(p: dict) -> None:
        p["50"] = {"class_type": "PrimitiveFloat", "inputs": {"value": value}}
        p["6"]["inputs"]["cfg"] = ["50", 0]
    return edit


def _ltxv_clip(p: dict) -> None:
    """A finished 128-channel LTX-Video clip (one KSampler step of the tiny LTXV) as Wan's init_mode clip latent."""
    p["60"] = {"class_type": "UNETLoader", "inputs": {"unet_name": "tiny_ltxv.safetensors", "weight_dtype": "default"}}
    p["61"] = {"class_type": "IVTest_RandomConditioning",
               "inputs": {"seed": 3, "tokens": 8, "dim": 4096, "attention_mask": True}}
    p["62"] = {"class_type": "EmptyLTXVLatentVideo", "inputs": {"width": 64, "height": 64, "length": 33,
                                                                "batch_size": 1}}
    p["63"] = {"class_type": "KSampler",
               "inputs": {"model": ["60", 0], "positive": ["61", 0], "negative": ["61", 0], "latent_image": ["62", 0],
                          "seed": 0, "steps": 1, "cfg": 1.0, "sampler_name": "euler", "scheduler": "simple",
                          "denoise": 1.0}}
    p["5"]["inputs"]["init_mode"] = "clip"
    p["6"]["inputs"]["latent_image"] = ["63", 0]


def _empty_conditioning(width: int) -> Edit:
    def edit(p: dict) -> None:
        p["70"] = {"class_type": "InfiniteVideo_EmptyConditioning", "inputs": {"width": width, "tokens": 1}}
        p["6"]["inputs"]["positive"] = ["70", 0]
    return edit


def _empty_conditioning_width_from_primitive(value: int) -> Edit:
    def edit(p: dict) -> None:
        _empty_conditioning(4096)(p)
        p["71"] = {"class_type": "PrimitiveInt", "inputs": {"value": value}}
        p["70"]["inputs"]["width"] = ["71", 0]
    return edit


def _drop(node: str, name: str) -> Edit:
    def edit(p: dict) -> None:
        del p[node]["inputs"][name]
    return edit


# -- the cases ---------------------------------------------------------------------------------------------------------

def _v(label: str, node: str, expect: str, edit: Edit) -> Case:
    return Case(label, "validation", node, expect, edit)


def _x(label: str, node: str, expect: str, edit: Edit) -> Case:
    return Case(label, "execution", node, expect, edit)


S = SURROGATE
LINK = "(a link [node id, output index])"
CASES: list[Case] = [
    # every combo of the pack with a lone surrogate: rejected at validation, the value shown escaped
    _v(f"init_mode {S}", "5", "init_mode '\\ud800' is not one of its options", _set("5", init_mode=S)),
    _v(f"sampler_name {S}", "6", "sampler_name '\\ud800'", _set("6", sampler_name=S)),
    _v(f"scheduler {S}", "6", "scheduler '\\ud800'", _set("6", scheduler=S)),
    _v(f"metric {S}", "22", "metric '\\ud800'", _miga_set("22", metric=S)),
    _v(f"source {S}", "23", "source '\\ud800'", _miga_set("23", source=S)),
    _v(f"custom sampler_name {S}", "30", "sampler_name '\\ud800'", _custom_set(sampler_name=S)),
    _v(f"kstep sampler_name {S}", "40", "sampler_name '\\ud800'", _kstep_set(sampler_name=S)),
    _v(f"kstep scheduler {S}", "40", "scheduler '\\ud800'", _kstep_set(scheduler=S)),
    _v(f"init_mode surrogates and emoji {S}", "5", "FIFO Queue Init: init_mode",
       _set("5", init_mode="\udfff" + S + " \U0001F600")),
    _v(f"sink codec {S}", "80", "Video Sink: codec '\\ud800' is not one of its options", _sink_set(codec=S)),
    _v(f"sink decode {S}", "80", "decode '\\ud800'", _sink_set(decode=S)),
    # other strings no combo holds
    _v("init_mode empty", "5", "init_mode '' is not one of its options; choose clip, noise", _set("5", init_mode="")),
    _v("init_mode NUL", "5", "init_mode 'noise\\x00'", _set("5", init_mode="noise\x00")),
    _v("init_mode 10k chars", "5", "init_mode 'xxxx", _set("5", init_mode="x" * 10_000)),
    _v("sampler_name upper case", "6", "sampler_name 'EULER'", _set("6", sampler_name="EULER")),
    _v("scheduler an integer", "6", "scheduler 7 is not one of its options", _set("6", scheduler=7)),
    _v("scheduler a float", "6", "scheduler 1.5", _set("6", scheduler=1.5)),
    _v("metric wrong", "22", "metric 'cosine'", _miga_set("22", metric="cosine")),
    _v("source capitalised", "23", "source 'History'", _miga_set("23", source="History")),
    _v("custom sampler_name empty", "30", "sampler_name ''", _custom_set(sampler_name="")),
    _v("kstep scheduler trailing space", "40", "scheduler 'simple '", _kstep_set(scheduler="simple ")),
    _x("metric null", "22", "Self-Reflection: metric None is not one of its options", _miga_set("22", metric=None)),
    # non-finite floats on every float input
    _v("cfg NaN", "6", "cfg must be a finite number, got nan", _set("6", cfg=NAN)),
    _v("cfg 'nan'", "6", "cfg must be a finite number, got nan", _set("6", cfg="nan")),
    _v("cfg inf", "6", "cfg must be a finite number, got inf", _set("6", cfg=INF)),
    _v("cfg -inf", "6", "cfg must be a finite number, got -inf", _set("6", cfg=-INF)),
    _v("cfg 'Infinity'", "6", "cfg must be a finite number, got inf", _set("6", cfg="Infinity")),
    _v("eta NaN", "6", "eta must be a finite number", _set("6", eta=NAN)),
    _v("eta 'inf'", "6", "eta must be a finite number", _set("6", eta="inf")),
    _v("threshold NaN", "22", "Self-Reflection: threshold must be a finite number", _miga_set("22", threshold=NAN)),
    _v("threshold inf", "22", "threshold must be a finite number", _miga_set("22", threshold=INF)),
    _v("custom eta NaN", "30", "eta must be a finite number", _custom_set(eta=NAN)),
    _v("kstep cfg NaN", "40", "K-Step Noise Search: cfg must be a finite number", _kstep_set(cfg=NAN)),
    _x("cfg NaN through a link", "6", "Infinite Video Sampler: cfg must be a finite number",
       _cfg_from_primitive(NAN)),
    _x("cfg 1e9 through a link", "6", "cfg 1000000000.0 is above its maximum 100.0",
       _cfg_from_primitive(1e9)),
    _x("Empty Conditioning width 1e9 through a link", "70", "Empty Conditioning: width 1000000000 is above its "
       "maximum 16384", _empty_conditioning_width_from_primitive(10 ** 9)),
    _v("sink fps NaN", "80", "Video Sink: fps must be a finite number", _sink_set(fps=NAN)),
    _x("sink fps NaN through a link", "80", "Video Sink: fps must be a finite number", _sink_fps_from_primitive(NAN)),
    # the sink's paths and codec limits
    _v("sink prefix leaves the output folder", "80", "filename_prefix leaves ComfyUI's output folder",
       _sink_set(filename_prefix="../../outside")),
    _v("sink prefix absolute", "80", "filename_prefix must be a relative path", _sink_set(filename_prefix="/tmp/x")),
    _v("sink resume missing", "80", "resume checkpoint 'malformed/none.ivckpt' does not exist",
       _sink_set(resume="malformed/none.ivckpt")),
    _v(f"sink resume {S}", "80", "resume must name a .ivckpt", _sink_set(resume=S)),
    _v("sink h264 quality 60", "80", "quality 60 is above h264's maximum 51", _sink_set(quality=60)),
    _v("sink fps 0", "80", "fps 0.0 is below its minimum 0.01", _sink_set(fps=0)),
    _x("sink decode vae without a vae", "80", "decode is vae but no vae is connected", _sink_set(decode="vae")),
    # out-of-range values of inputs a validate_inputs names (ComfyUI skips their min/max checks)
    _v("frame range start -5", "9", "start_frame -5 is below its minimum 0", _frame_range(start_frame=-5)),
    _v("frame range start 1e7", "9", "start_frame 10000000 is above its maximum 1000000",
       _frame_range(start_frame=10 ** 7)),
    _v("frame range end -1", "9", "end_frame -1 is below its minimum 0", _frame_range(end_frame=-1)),
    _v("frame range end 1e7", "9", "end_frame 10000000 is above its maximum", _frame_range(end_frame=10 ** 7)),
    _v("frame range end before start", "9", "end_frame (3) must be after start_frame (5)",
       _frame_range(start_frame=5, end_frame=3)),
    _v("cfg 101", "6", "cfg 101.0 is above its maximum 100.0", _set("6", cfg=101)),
    _v("eta 1.5", "6", "eta 1.5 is above its maximum 1.0", _set("6", eta=1.5)),
    _v("eta -0.1", "6", "eta -0.1 is below its minimum 0.0", _set("6", eta=-0.1)),
    _v("threshold 2.5", "22", "threshold 2.5 is above its maximum 2.0", _miga_set("22", threshold=2.5)),
    _v("zigzag steps 1", "20", "steps 1 is below its minimum 2", _miga_set("20", steps=1)),
    _v("zigzag end_step 0", "20", "end_step 0 is below its minimum 1", _miga_set("20", end_step=0)),
    _v("zigzag end_step past steps", "20", "end_step 17 is past the last step 16", _miga_set("20", end_step=17)),
    _v("custom eta 2", "30", "eta 2.0 is above its maximum 1.0", _custom_set(eta=2)),
    # ComfyUI's own checks (inputs no validate_inputs names), kept working
    _v("partitions 65", "5", "bigger than max", _set("5", partitions=65)),
    _v("window_length 2000", "5", "bigger than max", _set("5", window_length=2000)),
    _v("frames 0", "6", "smaller than min", _set("6", frames=0)),
    _v("seed -1", "6", "smaller than min", _set("6", seed=-1)),
    _v("frames a word", "6", "frames", _set("6", frames="many")),
    _v(f"window_length {S}", "5", "window_length", _set("5", window_length=S)),
    _v("queue missing", "6", "queue", _drop("6", "queue")),
    _v("queue wired to CONDITIONING", "6", "mismatch", _set("6", queue=["2", 0])),
    _v(f"unet_name {S}", "1", "unet_name", _set("1", unet_name=S)),
    _v("link to a missing node", "", "", _set("6", queue=["99", 0])),
    # raw JSON values on sockets: ComfyUI passes anything but a link to execute unchecked
    _x("latent_image a string", "6", f"latent_image must be connected to a node's LATENT output {LINK}, got 'x'",
       _set("6", latent_image="x")),
    _x("latent_image null", "6", f"latent_image must be connected to a node's LATENT output {LINK}, got None",
       _set("6", latent_image=None)),
    _x("model a number", "6", f"model must be connected to a node's MODEL output {LINK}, got 5", _set("6", model=5)),
    _x("positive an object", "6", "positive must be connected to a node's CONDITIONING output",
       _set("6", positive={"a": 1})),
    _x("negative a wrapped list", "6", "negative must be connected to a node's CONDITIONING output",
       _set("6", negative={"__value__": [1, 2]})),
    _x(f"queue a string {S}", "6", "queue must come from FIFO Queue Init", _set("6", queue=S)),
    _x("zigzag queue a number", "20", "queue must come from FIFO Queue Init", _miga_set("20", queue=5)),
    _x("frame range conditioning a string", "9", "Conditioning Frame Range: conditioning must be connected",
       _all(_frame_range(), _set("9", conditioning="x"))),
    # checks that need the queue or the model: at execution, naming the node that holds the value
    _x("guidance 64 on a window of 8", "23", "Long-Range Guidance: guidance latents m_guid=64 fill the whole window",
       _miga_set("23", guidance_latents=64, history_span=16)),
    _x("guidance 8 on a window of 8 (history)", "23", "fill the whole window f=8",
       _miga_set("23", guidance_latents=8, source="history", history_span=4)),
    _x("history span below guidance", "23", "span 1 must hold at least the 2 guidance latents",
       _miga_set("23", source="history", history_span=1)),
    _x("zigzag group wider than the window", "20", "Zigzag Stage: group width L_zig=9 does not fit the window",
       _miga_set("20", group_size=9)),
    _x("unified steps mismatch", "21", "Unified Stage steps 5 must equal Zigzag Stage steps - end step",
       _miga_set("21", steps=5)),
    _x("unified re-noise step past the ladder", "21", "re-noise step 16 must be in [0, steps - 1 = 15]",
       _miga_set("21", re_noise_step=16)),
    _x("judged level too high", "22", "Self-Reflection judged level 100", _miga_set("22", judged_level=100)),
    # window 0: the window is known at the sampler, which checks the fit; a set window_length: the node checks it
    _x("continuation chunk fills the latent's window", "6", "continuation chunk 5 must be in [1, window - 1 = 4]",
       _continuation_set(chunk=5)),
    _x("continuation anchors leave no newest latent", "50", "Chunked Continuation: continuation anchors 3 must be in "
       "[0, window - chunk - 1 = 2]", _all(_continuation_set(anchors=3), _set("5", window_length=5))),
    _x("continuation after MIGA parts", "50", "Chunked Continuation: continuation replaces the queue: remove the MIGA "
       "parts", _continuation_after_miga),
    _x("MIGA parts after continuation", "6", "continuation replaces the queue: remove the MIGA parts",
       _miga_after_continuation),
    _x("continuation queue a number", "50", "Chunked Continuation: queue must come from FIFO Queue Init",
       _continuation_set(queue=5)),
    _x("continuation chunks in flight leave no slot for the anchors", "50", "Chunked Continuation: continuation "
       "anchors 2 must be in [0, window - chunk x in_flight - 1 = 0]",
       _all(_continuation_set(in_flight=2), _set("5", window_length=5))),
    _v("continuation in_flight 0", "50", "in_flight", _continuation_set(in_flight=0)),
    _v("continuation context not an option", "50", "context 'noisy' is not one of its options",
       _continuation_set(context="noisy")),
    _v("continuation denoise 0", "50", "denoise", _continuation_set(denoise=0.0)),
    _x("continuation tracked context with chunks in flight", "50", "Chunked Continuation: continuation in_flight 2 "
       "cannot run with tracked context", _continuation_set(chunk=1, in_flight=2, context="tracked")),
    _x("lookahead on a window of 1", "5", "lookahead needs a window of at least 2", _set("5", window_length=1)),
    _x("window longer than the latent", "6", "window_length 9 is longer than the latent's 5 frames",
       _set("5", window_length=9)),
    _x("128-channel LTX-Video clip into Wan", "6", "latent_image has 128 channels but this WAN21 model works on "
       "16-channel latents", _ltxv_clip),
    _x("Empty Conditioning width 8 on Wan", "6", "positive conditioning 0 is 8 wide but this WAN21 model reads "
       "4096-wide", _empty_conditioning(8)),
]


# -- checking an answer ---------------------------------------------------------------------------------------------

def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def check_outcome(server: Any, case: Case, timeout: float = 300.0) -> Optional[str]:
    """Post ``case`` to ``server``; ``None`` if it was answered as the case says, else what went wrong."""
    status, body = server.post_prompt_raw(build(case))
    if case.kind == "validation":
        if status != 400:
            return f"{case.label}: expected a validation error (400), got {status}: {body}"
        if not case.node:
            return None if body.get("error") else f"{case.label}: no prompt-level error in {body}"
        node = body.get("node_errors", {}).get(case.node)
        if node is None:
            named = list(body.get("node_errors", {}))
            return f"{case.label}: node {case.node} not named in node_errors {named}: {body}"
        text = "\n".join(_texts(node["errors"]))
        if case.expect not in text:
            return f"{case.label}: {case.expect!r} not in the errors of node {case.node}: {ascii(text[:2000])}"
        return None
    if status != 200:
        return f"{case.label}: expected to pass validation and fail at execution, got {status}: {body}"
    entry = server.wait_history(body["prompt_id"], timeout=timeout)
    st = entry.get("status", {})
    if st.get("status_str") != "error":
        return f"{case.label}: expected an execution error, got {st.get('status_str')}"
    errors = [data for event, data in st.get("messages", []) if event == "execution_error"]
    if not errors:
        return f"{case.label}: failed without an execution_error message: {st}"
    err = errors[0]
    if str(err.get("node_id")) != case.node:
        return (f"{case.label}: error reported on node {err.get('node_id')} ({err.get('node_type')}), expected node "
                f"{case.node}: {err.get('exception_message')}")
    message = str(err.get("exception_message", ""))
    if case.expect not in message:
        return f"{case.label}: {case.expect!r} not in {message!r}"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in message):
        return f"{case.label}: the message carries a raw surrogate: {ascii(message)}"
    if "Tensor" in err.get("exception_type", "") or "RuntimeError" in err.get("exception_type", ""):
        return f"{case.label}: a raw torch error: {message}"
    return None

