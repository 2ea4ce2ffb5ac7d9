"""Writes the UI-format example workflows in example_workflows/ (what the graph editor's template browser opens).

ComfyUI's server only executes API-format graphs and has no converter, so the UI JSON is generated here from one
compact description per workflow and checked against the live server's /object_info (and run where the tiny models
allow) by tests/test_example_workflows.py; tests/test_web_queue_diagram.py opens each in the real editor and checks
that no node covers another.

The template browser of ComfyUI's frontend (1.27, shipped with 0.3.64) shows a pack's template by its file name
only: the card's title *and* its description are the name (custom-node templates carry no other metadata), and
``<name>.jpg`` next to it is the thumbnail. So each file name says what the workflow is for. The cards come in the
order of the server's ``/workflow_templates`` list, which is ``glob`` order (the folder's directory order; neither the
server nor the frontend sorts it): the names start with a number, so the starter is first wherever the folder is
read in name or creation order (a fresh checkout writes the files in name order). Model loaders carry
``properties.models`` (name, url, directory): the frontend's missing-models dialog offers those downloads when a file
is not installed. The URLs are ComfyUI's official repackaged files (the ones its own templates use).

Every workflow opens on its Note, at a zoom where the Note's text (the editor's textarea font, 10 px by default) is
12 px on screen. The Note starts with what to do and what comes out (press Run; where the video is written; how to
stop and resume), then the details: what to download, the settings, what it costs; the figures (model calls per
output frame, warm-up frames, steps) come from samplers/chain_plan.py, the plan the samplers run.

Run: python -m tools.authoring.ui_workflows  (thumbnails: python -m tools.authoring.thumbnails)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ..pack import PACK_ROOT as ROOT

OUT = ROOT / "example_workflows"

HF_WAN21 = "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files"
HF_WAN22 = "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files"
# name -> (url, ComfyUI models/ folder)
MODELS = {
    "wan2.1_t2v_1.3B_fp16.safetensors": (f"{HF_WAN21}/diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors",
                                         "diffusion_models"),
    "wan2.1_i2v_480p_14B_fp16.safetensors": (f"{HF_WAN21}/diffusion_models/wan2.1_i2v_480p_14B_fp16.safetensors",
                                             "diffusion_models"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": (f"{HF_WAN21}/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                                               "text_encoders"),
    "wan_2.1_vae.safetensors": (f"{HF_WAN21}/vae/wan_2.1_vae.safetensors", "vae"),
    "wan2.1_t2v_14B_fp8_e4m3fn.safetensors": (f"{HF_WAN21}/diffusion_models/wan2.1_t2v_14B_fp8_e4m3fn.safetensors",
                                              "diffusion_models"),
    # LightX2V's step- and cfg-distilled LoRA (4 steps, cfg 1); published for Wan 2.1 T2V 14B only
    "wan2.1_t2v_14b_lora_rank64_lightx2v_4step.safetensors": (
        "https://huggingface.co/lightx2v/Wan2.1-Distill-Loras/resolve/main/"
        "wan2.1_t2v_14b_lora_rank64_lightx2v_4step.safetensors", "loras"),
    "clip_vision_h.safetensors": (f"{HF_WAN21}/clip_vision/clip_vision_h.safetensors", "clip_vision"),
    "wan2.1_fun_control_1.3B_bf16.safetensors": (
        f"{HF_WAN21}/diffusion_models/wan2.1_fun_control_1.3B_bf16.safetensors", "diffusion_models"),
    "wan2.2_ti2v_5B_fp16.safetensors": (f"{HF_WAN22}/diffusion_models/wan2.2_ti2v_5B_fp16.safetensors",
                                        "diffusion_models"),
    "wan2.2_vae.safetensors": (f"{HF_WAN22}/vae/wan2.2_vae.safetensors", "vae"),
    "ltx-video-2b-v0.9.5.safetensors": ("https://huggingface.co/Lightricks/LTX-Video/resolve/main/"
                                        "ltx-video-2b-v0.9.5.safetensors", "checkpoints"),
    "t5xxl_fp16.safetensors": ("https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/"
                               "t5xxl_fp16.safetensors", "text_encoders"),
}

TITLE_H = 30  # LiteGraph's title bar, drawn above a node's pos
# FIFO Queue Init draws its chain's queue diagram under its widgets (web/): room for the text and the drawing
DIAGRAM_FIFO = (460, 160 + 230)
DIAGRAM_MIGA = (460, 180 + 350)
GAP_X, GAP_Y = 60, 50
NOTE_W = 440
# The workflow opens on its Note (first column, top left) at a zoom where the Note's text is readable: the editor draws
# a Note's textarea at its font setting (10 px by default) times the zoom, so 1.2 gives 12 px on screen.
OPEN_ZOOM = 1.2
OPEN_OFFSET = [0, 10]  # graph units: the Note's title just below the editor's workflow tabs


@dataclass
class Node:
    id: int
    type: str
    title: str
    widgets: list
    inputs: dict = field(default_factory=dict)  # name -> (source id, source slot, type)
    outputs: list = field(default_factory=list)  # [(name, type)]
    size: tuple = (340, 0)  # height 0: estimated from sockets and widgets
    models: tuple = ()


class Workflow:
    """Nodes placed in columns, top to bottom, far enough apart that none covers another."""

    def __init__(self) -> None:
        self.columns: list[list[Node]] = []
        self.next_id = 1

    def column(self) -> None:
        self.columns.append([])

    def add(self, type_: str, title: str, widgets: list, inputs: Optional[dict] = None,
            outputs: Optional[list] = None, size: tuple = (340, 0), models: tuple = ()) -> Node:
        node = Node(self.next_id, type_, title, widgets, inputs or {}, outputs or [], size, models)
        self.next_id += 1
        self.columns[-1].append(node)
        return node

    def note(self, todo: str, details: str, height: int = 560, width: int = NOTE_W) -> Node:
        """The Note: what to do and what comes out first, in plain words; the details after."""
        return self.add("Note", "Read me first", [f"{todo}\n\n-- Details --\n\n{details}"], size=(width, height))


def _height(node: Node) -> int:
    if node.size[1]:
        return node.size[1]
    rows = max(len(node.inputs), len(node.outputs))
    widgets = sum(2 if isinstance(w, str) and w in ("fixed", "randomize") else 1 for w in node.widgets)
    text = sum(1 for w in node.widgets if isinstance(w, str) and len(w) > 40)  # a multiline prompt box
    return 26 + 22 * rows + 26 * widgets + 110 * text


def ui_workflow(wf: Workflow) -> dict:
    nodes_in_order = [n for col in wf.columns for n in col]
    links, out_links = [], {}
    for node in nodes_in_order:
        for slot, (_, (src, src_slot, typ)) in enumerate(node.inputs.items()):
            link_id = len(links) + 1
            links.append([link_id, src, src_slot, node.id, slot, typ])
            out_links.setdefault((src, src_slot), []).append(link_id)
    link_of = {(link[3], link[4]): link[0] for link in links}
    nodes, x = [], 40
    for col in wf.columns:
        y = 40 + TITLE_H
        width = max(n.size[0] for n in col)
        for node in col:
            h = _height(node)
            props: dict[str, Any] = {} if node.type == "Note" else {"Node name for S&R": node.type}
            if node.models:
                props["models"] = [{"name": m, "url": MODELS[m][0], "directory": MODELS[m][1]} for m in node.models]
            entry = {
                "id": node.id, "type": node.type, "title": node.title, "pos": [x, y], "size": [node.size[0], h],
                "flags": {}, "order": len(nodes), "mode": 0,
                "inputs": [{"name": n, "type": t, "link": link_of[(node.id, i)]}
                           for i, (n, (_, _, t)) in enumerate(node.inputs.items())],
                "outputs": [{"name": n, "type": t, "links": out_links.get((node.id, i), []), "slot_index": i}
                            for i, (n, t) in enumerate(node.outputs)],
                "properties": props, "widgets_values": node.widgets,
            }
            if node.type == "Note":
                entry.update(color="#432", bgcolor="#653")
            nodes.append(entry)
            y += h + TITLE_H + GAP_Y
        x += width + GAP_X
    return {"last_node_id": max(n["id"] for n in nodes), "last_link_id": len(links), "nodes": nodes,
            "links": links, "groups": [], "config": {},
            "extra": {"ds": {"scale": OPEN_ZOOM, "offset": OPEN_OFFSET}}, "version": 0.4}


# -- the figures in the notes come from the plan the samplers run ----------------------------------------------------

def _plan(chain: dict, latent_frames: int) -> dict:
    from infinite_video.samplers.chain_plan import plan_chain
    from infinite_video.samplers.config import (
        GuidanceConfig,
        QueueConfig,
        ReflectionConfig,
        UnifiedConfig,
        ZigzagConfig,
    )

    parts = {}
    if "zigzag" in chain:
        parts["zigzag"] = ZigzagConfig(*chain["zigzag"])
    if "unified" in chain:
        parts["unified"] = UnifiedConfig(*chain["unified"])
    if "reflection" in chain:
        parts["reflection"] = ReflectionConfig(*chain["reflection"])
    if "guidance" in chain:
        parts["guidance"] = GuidanceConfig(*chain["guidance"])
    if "continuation" in chain:
        parts["continuation"] = continuation_config(chain["continuation"])
    return plan_chain(QueueConfig(*chain["fifo"], **parts), latent_frames)


def continuation_config(settings: tuple):
    """The :class:`ContinuationConfig` of Chunked Continuation's widget values ``(chunk, anchors, anchor_every[,
    in_flight, context, denoise])`` (the optional ones default as the node does)."""
    from infinite_video.samplers.config import ContinuationConfig
    from infinite_video.samplers.continuation import CONTEXT_TRACK

    chunk, anchors, every, *more = settings
    flight, context, denoise = (list(more) + [1, "clean", 1.0][len(more):])[:3]
    return ContinuationConfig(chunk, anchors, every, in_flight=flight, track=CONTEXT_TRACK[context], denoise=denoise)


def _seconds(frames: int, stride: int, fps: float) -> float:
    """Length in seconds of ``frames`` output latent frames (``stride`` video frames each, the first one frame)."""
    return (stride * (frames - 1) + 1) / fps


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _expect(plan: dict, frames: int, stride: int, fps: float) -> str:
    video = stride * (frames - 1) + 1
    calls = plan["calls"]
    total = (frames + plan["warmup"]) * calls["expected"] if plan["kind"] == "fifo" else None
    lines = [f"Output: {frames} latent frames = {video} video frames = {video / fps:.0f} s at {_num(fps)} fps, after "
             f"{plan['warmup']} warm-up latent frames that are discarded.",
             f"Cost: {_num(calls['expected'])} model calls per output latent frame ({plan['steps']} steps per frame)"]
    if calls["reflection_worst"]:
        lines[-1] += (f", up to {_num(calls['worst'])} when every self-reflection judgment triggers (about a third "
                      f"do on the pack's benchmark)")
    lines[-1] += "."
    if total is not None:
        lines.append(f"That is {total:.0f} window calls for the whole video.")
    lines.append("One call denoises one window of the model's native length, so it costs about what one step of a "
                 "native run of that length costs (double with cfg > 1), and memory stays that of one native run "
                 "whatever the length. The queue diagram under FIFO Queue Init shows the plan.")
    return " ".join(lines)


def _expect_continuation(plan: dict, frames: int, stride: int, fps: float) -> str:
    """The Note's output and cost lines for a Chunked Continuation chain (its plan: ``per_tick`` calls per chunk
    leaving, the first window's whole ladder first)."""
    from infinite_video.samplers.continuation import chunk_ticks

    video = stride * (frames - 1) + 1
    ticks = chunk_ticks(frames, plan["window"], plan["chunk"], plan["steps"], plan["per_tick"])
    flight = (f"{plan['per_tick']} steps per chunk of {plan['chunk']}" if plan["in_flight"] == 1 else
              f"{plan['steps']} steps per chunk of {plan['chunk']}, {plan['in_flight']} chunks in flight: one leaves "
              f"every {plan['per_tick']} calls")
    return (f"Output: {frames} latent frames = {video} video frames = {video / fps:.0f} s at {_num(fps)} fps, nothing "
            f"discarded. Cost: {_num(round(plan['calls']['expected'], 1))} model calls per output latent frame "
            f"({flight}), {plan['steps'] + ticks * plan['per_tick']} window calls for the "
            f"whole video. One call denoises one window of the model's native length, so it costs about what one "
            f"step of a native run of that length costs (double with cfg > 1), and memory stays that of one native "
            f"run whatever the length. The diagram under FIFO Queue Init shows the window.")


def _continuation_note(plan: dict, fifo_calls: float, stride: int, fps: float, rule: str = "euler") -> str:
    """What Chunked Continuation does and costs, in plain words (figures from the chain's plan; ``rule``: the
    sampler's step rule)."""
    k, first, recent, n = plan["chunk"], plan["first_chunk"], plan["recent"], plan["in_flight"]
    anchors = ", ".join(str(a) for a in plan["anchors"])
    last = plan["anchors"][-1] * stride / fps
    flight = ("" if n == 1 else
              f" {n} chunks are in flight at once, each {plan['per_tick']} steps further down the ladder than the "
              f"next, so a chunk is done every {plan['per_tick']} calls while each still gets every step.")
    start = ("from noise" if not plan["skip"] else
             f"from the newest finished latent frame, noised to step {plan['skip']} of {plan['steps']} (denoise: it "
             f"runs the last {plan['per_tick']} steps)")
    steps = (f"Every chunk gets all {plan['steps']} steps." if not plan["skip"] else
             f"The first chunk gets all {plan['steps']} steps.")
    tracked = ("" if plan["context"] != "tracked" else
               " Context tracked: every frame of the window sits at the chunk's noise level, as the model was "
               "trained, and after each step the context's noise is moved so that the model reads it as the "
               "finished frames (no extra calls).")
    return (f"Chunked Continuation makes the video {k} latent frames ({k * stride} video frames) at a time. The first "
            f"chunk is a normal {stride * (first - 1) + 1}-frame clip. Each next chunk starts {start} in a window "
            f"that also holds, finished and fixed, the {recent} newest latent frames (so the motion goes on) and "
            f"{len(plan['anchors'])} anchors, latent frames {anchors} (each joins once it is made, from the first "
            f"{last:.0f} s of a long enough video; so the subject keeps its look for the whole video).{tracked} "
            f"{steps}{flight} "
            f"{_num(round(plan['calls']['expected'], 1))} model calls per output latent frame, against "
            f"{_num(fifo_calls)} for FIFO with lookahead at this window."
            + (" The sampler's dpmpp_2m (second order, no extra calls) keeps the contrast euler loses at these "
               "steps." if rule == "dpmpp_2m" else "")
            + " Anchors need a model that takes frame positions (Wan does). For FIFO-Diffusion instead: delete "
              "Chunked Continuation and connect FIFO Queue Init to the sampler"
            + (" (and set its sampler_name to euler)." if rule == "dpmpp_2m" else "."))


def continuation_node(wf: Workflow, queue: Node, settings: tuple) -> Node:
    return wf.add("InfiniteVideo_Continuation", "Chunked Continuation", list(settings),
                  {"queue": (queue.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])


DOWNLOAD = "Files (into ComfyUI/models/; the editor offers the downloads when one is missing):\n"
PREVIEW = "Start ComfyUI with --preview-method auto to watch each frame as it leaves the queue."
RESUME = ("To stop: Cancel. Every frame written so far stays in the file, and the sampler node shows how far it got "
          "and a button \"resume from ..._00001_.ivckpt\". To continue: press it (or the Video Sink's \"pick "
          "checkpoint to resume\") and press Run again, with every other setting unchanged; the video continues "
          "under its name and ends the same as an uninterrupted run.")
ZOOM = "Zoom out (mouse wheel) to see the whole graph."


def _todo(first: str, run: str, *more: str) -> str:
    """The Note's opening: numbered steps in plain words."""
    steps = [first, run, *more]
    return "\n".join(f"{k}. {t}" for k, t in enumerate(steps, 1))


def _files(*names: str) -> str:
    return DOWNLOAD + "\n".join(f"- {MODELS[n][1]}/{n}" for n in names) + "\n"


def _download() -> str:
    return ("Get the model files listed under Details into ComfyUI/models/ (when one is missing, the editor offers "
            "the downloads as the workflow opens).")


def _saved(prefix: str, seconds: float, size: str, fps: float) -> str:
    return (f"Press Run. A {seconds:.0f}-second video ({size}, {_num(fps)} fps) is saved as "
            f"ComfyUI/output/infinite-video/{prefix}_00001_.mp4 when the run ends (Cancel stops it and keeps "
            f"nothing; the starter shows how to stream to the file and resume instead).")


# -- the workflows ---------------------------------------------------------------------------------------------------

def wan_text(wf: Workflow, clip: int, positive: str, negative: str = "blurry, low quality, static, watermark, text,"
             " distorted") -> tuple[Node, Node]:
    pos = wf.add("CLIPTextEncode", "Prompt", [positive], {"clip": (clip, 0, "CLIP")},
                 [("CONDITIONING", "CONDITIONING")], size=(400, 0))
    neg = wf.add("CLIPTextEncode", "Negative prompt", [negative], {"clip": (clip, 0, "CLIP")},
                 [("CONDITIONING", "CONDITIONING")], size=(400, 0))
    return pos, neg


def decode_and_save(wf: Workflow, latent: Node, vae: int, fps: float, prefix: str, vae_slot: int = 0) -> None:
    dec = wf.add("VAEDecodeTiled", "Decode (tiled: long videos fit in memory)", [512, 64, 64, 8],
                 {"samples": (latent.id, 0, "LATENT"), "vae": (vae, vae_slot, "VAE")}, [("IMAGE", "IMAGE")])
    vid = wf.add("CreateVideo", f"Video at {_num(fps)} fps", [fps], {"images": (dec.id, 0, "IMAGE")},
                 [("VIDEO", "VIDEO")])
    wf.add("SaveVideo", "Save", [f"infinite-video/{prefix}", "mp4", "h264"], {"video": (vid.id, 0, "VIDEO")})


def wan_loaders(wf: Workflow, version: str, model: str, vae_file: str, dtype: str = "default"):
    """Wan diffusion model, the umT5 text encoder both Wan versions use, and the VAE."""
    name = "TI2V 5B" if "ti2v" in model else "model"
    unet = wf.add("UNETLoader", f"Load Wan {version} {name}", [model, dtype], outputs=[("MODEL", "MODEL")],
                  models=(model,))
    clip = wf.add("CLIPLoader", "Load umT5 text encoder", ["umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan", "default"],
                  outputs=[("CLIP", "CLIP")], models=("umt5_xxl_fp8_e4m3fn_scaled.safetensors",))
    vae = wf.add("VAELoader", f"Load Wan {version} VAE", [vae_file], outputs=[("VAE", "VAE")],
                 models=(vae_file,))
    return unet, clip, vae


def wan21_loaders(wf: Workflow, model: str = "wan2.1_t2v_1.3B_fp16.safetensors", dtype: str = "default"):
    return wan_loaders(wf, "2.1", model, "wan_2.1_vae.safetensors", dtype)


def wan22_loaders(wf: Workflow):
    return wan_loaders(wf, "2.2", "wan2.2_ti2v_5B_fp16.safetensors", "wan2.2_vae.safetensors")


def queue_init(wf: Workflow, settings: tuple, size: tuple) -> Node:
    return wf.add("InfiniteVideo_FIFOQueueInit", "FIFO Queue Init", list(settings), outputs=[("queue", "IV_QUEUE")],
                  size=size)


SKY, MEADOW = 0x87CEEB, 0x4C9A2A


def start_image(wf: Workflow, width: int, height: int) -> Node:
    """A start image made by the workflow itself with core nodes, so it runs as shipped: a blue sky over a green
    meadow at the video size (the prompt describes the scene the model makes of it). Replace it with Load Image (and
    Image Scale to the same size) for your own picture."""
    sky = wf.add("EmptyImage", "Start image: sky", [width, height, 1, SKY], outputs=[("IMAGE", "IMAGE")])
    ground = height * 3 // 8
    meadow = wf.add("EmptyImage", "Start image: meadow", [width, ground, 1, MEADOW], outputs=[("IMAGE", "IMAGE")])
    return wf.add("ImageCompositeMasked", f"Start image {width}x{height} (replace with Load Image for yours)",
                  [0, height - ground, False], {"destination": (sky.id, 0, "IMAGE"), "source": (meadow.id, 0, "IMAGE")},
                  [("IMAGE", "IMAGE")])


def kstep_and_sink(wf: Workflow, settings: tuple, model: int, pos: int, neg: int, vae: int, image: int,
                   fps: float, prefix: str, clip_vision: Optional[int] = None) -> None:
    """K-Step Noise Search (chunk, chunks, m, k, full) from a start image, streamed to the file by a Video Sink (one
    chunk at a time, with a checkpoint to resume from), and its report (every candidate's score) shown in a text
    box."""
    sink = wf.add("InfiniteVideo_VideoSink", "Video Sink (the mp4 grows chunk by chunk)",
                  ["vae", f"infinite-video/{prefix}", fps, "h264 (mp4)", 19, 64, ""], {"vae": (vae, 0, "VAE")},
                  [("sink", "IV_VIDEO_SINK")])
    inputs = {"model": (model, 0, "MODEL"), "positive": (pos, 0, "CONDITIONING"),
              "negative": (neg, 0, "CONDITIONING"), "vae": (vae, 0, "VAE"), "start_image": (image, 0, "IMAGE")}
    if clip_vision is not None:
        inputs["clip_vision"] = (clip_vision, 0, "CLIP_VISION")
    inputs["sink"] = (sink.id, 0, "IV_VIDEO_SINK")
    ks = wf.add("InfiniteVideo_KStepNoiseSearch", "K-Step Noise Search",
                [*settings, "euler", "simple", 5.0, 0, "fixed"], inputs,
                [("frames", "IMAGE"), ("latent", "LATENT"), ("report", "STRING"), ("video", "VIDEO")])
    wf.add("PreviewAny", "Candidate scores (report)", [], {"source": (ks.id, 2, "*")}, size=(340, 220))


def fifo_sampler(wf: Workflow, model: int, pos: tuple, neg: tuple, latent: int, queue: int, frames: int,
                 cfg: float, rule: str = "euler") -> Node:
    return wf.add("InfiniteVideo_Sampler", "Infinite Video Sampler", [0, "fixed", frames, cfg, rule, 1.0, "simple"],
                  {"model": (model, 0, "MODEL"), "positive": pos, "negative": neg,
                   "latent_image": (latent, 0, "LATENT"), "queue": (queue, 0, "IV_QUEUE")}, [("LATENT", "LATENT")])


# Chunked Continuation settings of the Wan text templates (chunk, anchors, anchor_every, in_flight, context, denoise)
# and the sampler's step rule: tracked context (one level per window, as Wan was trained), later chunks from the
# newest finished latent over the last 60% of the ladder, about 2/5 of the window new, 6 anchors; chosen on the
# analytic oracle at each template's window, where they meet every target on both denoisers (docs/benchmarks.md,
# "Chunked continuation at the templates' windows"); the same chain at the bouncing model's window of 9 is the
# node's default and keeps that model's subject on every seed (same file).
CONT_WAN21 = (8, 6, 24, 1, "tracked", 0.6)  # window 21, 42 steps
CONT_WAN22 = (15, 6, 24, 1, "tracked", 0.6)  # window 31, 62 steps
CONT_RULE = "euler"


def continuation_wan21() -> Workflow:
    frames, fifo = 120, (21, 2, True, "noise")
    plan = _plan({"fifo": fifo, "continuation": CONT_WAN21}, 21)
    fifo_plan = _plan({"fifo": fifo}, 21)
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _saved("continuation_wan21", _seconds(frames, 4, 16), "832x480", 16),
                  "Change the prompt (Prompt node) and press Run again for another video. " + ZOOM),
            "A long text-to-video on Wan 2.1 T2V 1.3B (8-12 GB of VRAM at 480p).\n\n"
            + _files("wan2.1_t2v_1.3B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan_2.1_vae.safetensors")
            + "\nSettings: the model's native window is 81 frames = 21 latent frames (window_length 21); "
              "partitions 2 = 42 steps; 832x480.\n\n"
            + _continuation_note(plan, fifo_plan["calls"]["expected"], 4, 16, CONT_RULE) + "\n\n"
            + _expect_continuation(plan, frames, 4, 16) + "\n\n" + PREVIEW, 700)
    unet, clip, vae = wan21_loaders(wf)
    wf.column()
    pos, neg = wan_text(wf, clip.id, "A red fox trotting through fresh snow in a pine forest, tracking shot, soft "
                                     "morning light, cinematic")
    latent = wf.add("EmptyHunyuanLatentVideo", "Window: 81 frames = 21 latent frames", [832, 480, 81, 1],
                    outputs=[("LATENT", "LATENT")])
    queue = queue_init(wf, fifo, DIAGRAM_FIFO)
    wf.column()
    cont = continuation_node(wf, queue, CONT_WAN21)
    s = fifo_sampler(wf, unet.id, (pos.id, 0, "CONDITIONING"), (neg.id, 0, "CONDITIONING"), latent.id, cont.id,
                     frames, 6.0, CONT_RULE)
    decode_and_save(wf, s, vae.id, 16.0, "continuation_wan21")
    return wf


def prompt_switch_wan21() -> Workflow:
    frames, fifo = 120, (21, 2, True, "noise")
    plan = _plan({"fifo": fifo}, 21)
    spans = [(0, 40, "A sailboat on a calm turquoise sea at noon, aerial tracking shot"),
             (40, 80, "A sailboat on a calm sea at golden sunset, aerial tracking shot"),
             (80, 0, "A sailboat on a calm sea under a starry night sky, aerial tracking shot")]
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _saved("prompt_switch_wan21", _seconds(frames, 4, 16), "832x480", 16),
                  "The video goes from noon to sunset (about 10 s in) to a starry night (about 20 s in). Edit the "
                  "three prompts and their frame ranges to tell your own story. " + ZOOM),
            "Prompt switching over time on Wan 2.1 T2V 1.3B: three prompts, each over a span of output latent "
            "frames (Conditioning Frame Range; end 0 = to the end), combined with Conditioning (Combine). Each frame "
            "keeps the prompt of its own output index, so a switch travels through the queue with the frames and "
            "the change is gradual (about one window).\n\n"
            + _files("wan2.1_t2v_1.3B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan_2.1_vae.safetensors")
            + "\nLatent frame n is video frames 4n-3..4n: the switches at latent frames 40 and 80 come about 10 s "
              "and 20 s in.\n\n"
            + _expect(plan, frames, 4, 16) + " Windows that straddle a switch make one call per prompt.\n\n"
            + PREVIEW)
    unet, clip, vae = wan21_loaders(wf)
    wf.column()
    ranged = []
    for start, end, text in spans:
        enc = wf.add("CLIPTextEncode", f"Prompt for frames {start}-{end or 'end'}", [text],
                     {"clip": (clip.id, 0, "CLIP")}, [("CONDITIONING", "CONDITIONING")], size=(400, 0))
        ranged.append(enc)
    neg = wf.add("CLIPTextEncode", "Negative prompt", ["blurry, low quality, static, watermark, text, distorted"],
                 {"clip": (clip.id, 0, "CLIP")}, [("CONDITIONING", "CONDITIONING")], size=(400, 0))
    wf.column()
    frs = [wf.add("InfiniteVideo_ConditioningFrameRange", f"Frames {start}-{end or 'end'}", [start, end],
                  {"conditioning": (enc.id, 0, "CONDITIONING")}, [("CONDITIONING", "CONDITIONING")])
           for enc, (start, end, _) in zip(ranged, spans)]
    c1 = wf.add("ConditioningCombine", "Combine", [], {"conditioning_1": (frs[0].id, 0, "CONDITIONING"),
                                                        "conditioning_2": (frs[1].id, 0, "CONDITIONING")},
                [("CONDITIONING", "CONDITIONING")])
    c2 = wf.add("ConditioningCombine", "Combine", [], {"conditioning_1": (c1.id, 0, "CONDITIONING"),
                                                        "conditioning_2": (frs[2].id, 0, "CONDITIONING")},
                [("CONDITIONING", "CONDITIONING")])
    latent = wf.add("EmptyHunyuanLatentVideo", "Window: 81 frames = 21 latent frames", [832, 480, 81, 1],
                    outputs=[("LATENT", "LATENT")])
    queue = queue_init(wf, fifo, DIAGRAM_FIFO)
    wf.column()
    s = fifo_sampler(wf, unet.id, (c2.id, 0, "CONDITIONING"), (neg.id, 0, "CONDITIONING"), latent.id, queue.id,
                     frames, 6.0)
    decode_and_save(wf, s, vae.id, 16.0, "prompt_switch_wan21")
    return wf


MIGA_WAN = {"fifo": (21, 2, True, "noise"), "zigzag": (54, 7, 44, 0), "unified": (10, True, 44),
            "reflection": (3, 0.01, "pairwise_denoised", 10), "guidance": (4, "queue", 64)}


def miga_wan21() -> Workflow:
    frames = 120
    plan = _plan(MIGA_WAN, 21)
    half = _plan({**MIGA_WAN, "zigzag": (54, 7, 44, 10)}, 21)
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _saved("miga_wan21", _seconds(frames, 4, 16), "832x480", 16),
                  "Compare with template 2 (chunked continuation): on the pack's oracle benchmark it keeps the "
                  "subject (far-lag correlation 0.42 of a true 0.50) where MIGA keeps none, at about half MIGA's "
                  "model calls. This workflow runs the paper's recipe as published. " + ZOOM),
            "MIGA on Wan 2.1 T2V 1.3B with the paper's official Wan config: 81 frames = 21 latents per window "
            "(17 queue latents + 4 long-range guidance latents), 54 steps, shift 5, cfg 5, groups of 7, stage 1 "
            "ends at step 44, 10 unified steps, re-noise to 44 and 10 more, self-reflection with 3 candidates at "
            "threshold 0.01. One departure: the Zigzag Stage's slide is 0 = auto (17: windows write every latent they "
            f"read; as consistent on the pack's benchmark, fewer calls). Set slide 10 for the official recipe "
            f"({_num(half['calls']['expected'])} calls per frame instead of {_num(plan['calls']['expected'])}).\n\n"
            + _files("wan2.1_t2v_1.3B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan_2.1_vae.safetensors")
            + "\nFIFO Queue Init's partitions and lookahead stay at their defaults: under a Zigzag Stage the stage "
              "sets the steps (the diagram warns if you change them).\n\n"
            + _expect(plan, frames, 4, 16) + "\n\n" + PREVIEW)
    unet, clip, vae = wan21_loaders(wf)
    shift = wf.add("ModelSamplingSD3", "Shift 5 (official MIGA config)", [5.0], {"model": (unet.id, 0, "MODEL")},
                   [("MODEL", "MODEL")])
    wf.column()
    pos, neg = wan_text(wf, clip.id, "A hot air balloon drifting over green valleys and a winding river, aerial "
                                     "shot, clear summer day")
    latent = wf.add("EmptyHunyuanLatentVideo", "Window: 81 frames = 21 latent frames", [832, 480, 81, 1],
                    outputs=[("LATENT", "LATENT")])
    queue = queue_init(wf, MIGA_WAN["fifo"], DIAGRAM_MIGA)
    wf.column()
    zz = wf.add("InfiniteVideo_ZigzagStage", "Zigzag Stage", list(MIGA_WAN["zigzag"]),
                {"queue": (queue.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])
    un = wf.add("InfiniteVideo_UnifiedStage", "Unified Stage", list(MIGA_WAN["unified"]),
                {"queue": (zz.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])
    rf = wf.add("InfiniteVideo_SelfReflection", "Self-Reflection", list(MIGA_WAN["reflection"]),
                {"queue": (un.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])
    gd = wf.add("InfiniteVideo_LongRangeGuidance", "Long-Range Guidance", list(MIGA_WAN["guidance"]),
                {"queue": (rf.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])
    wf.column()
    s = fifo_sampler(wf, shift.id, (pos.id, 0, "CONDITIONING"), (neg.id, 0, "CONDITIONING"), latent.id, gd.id,
                     frames, 5.0)
    decode_and_save(wf, s, vae.id, 16.0, "miga_wan21")
    return wf


def continuation_wan22() -> Workflow:
    frames, fifo = 96, (31, 2, True, "noise")
    plan = _plan({"fifo": fifo, "continuation": CONT_WAN22}, 31)
    fifo_plan = _plan({"fifo": fifo}, 31)
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _saved("continuation_wan22", _seconds(frames, 4, 24), "1280x704", 24),
                  "Less than 24 GB of VRAM: set weight_dtype to fp8_e4m3fn on the model loader. " + ZOOM),
            "Text-to-video on Wan 2.2 TI2V 5B at 1280x704, 24 fps (about 16-24 GB of VRAM; use weight_dtype "
            "fp8_e4m3fn on smaller cards).\n\n"
            + _files("wan2.2_ti2v_5B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan2.2_vae.safetensors")
            + "\nSettings: native 121 frames = 31 latent frames (window_length 31), partitions 2 = 62 steps, "
              "shift 8, cfg 5. The 5B model's VAE compresses 16x in space, so sizes are multiples of 32.\n\n"
            + _continuation_note(plan, fifo_plan["calls"]["expected"], 4, 24, CONT_RULE) + "\n\n"
            + _expect_continuation(plan, frames, 4, 24) + "\n\n" + PREVIEW, 700)
    unet, clip, vae = wan22_loaders(wf)
    shift = wf.add("ModelSamplingSD3", "Shift 8", [8.0], {"model": (unet.id, 0, "MODEL")}, [("MODEL", "MODEL")])
    wf.column()
    pos, neg = wan_text(wf, clip.id, "A paper boat floating down a rain-soaked city street gutter, low angle, "
                                     "reflections, cinematic")
    latent = wf.add("Wan22ImageToVideoLatent", "Window: 121 frames = 31 latent frames", [1280, 704, 121, 1],
                    {"vae": (vae.id, 0, "VAE")}, [("LATENT", "LATENT")])
    queue = queue_init(wf, fifo, DIAGRAM_FIFO)
    wf.column()
    cont = continuation_node(wf, queue, CONT_WAN22)
    s = fifo_sampler(wf, shift.id, (pos.id, 0, "CONDITIONING"), (neg.id, 0, "CONDITIONING"), latent.id, cont.id,
                     frames, 5.0, CONT_RULE)
    decode_and_save(wf, s, vae.id, 24.0, "continuation_wan22")
    return wf


def fifo_ltxv() -> Workflow:
    frames, fifo = 60, (13, 3, True, "noise")
    plan = _plan({"fifo": fifo}, 13)
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _saved("fifo_ltxv", _seconds(frames, 8, 25), "768x512", 25),
                  "LTX-Video is the fastest of these models; change the prompt and run again. " + ZOOM),
            "FIFO-Diffusion text-to-video on LTX-Video 2B v0.9.5 at 768x512, 25 fps (fast; about 8-12 GB of "
            "VRAM).\n\n"
            + _files("ltx-video-2b-v0.9.5.safetensors", "t5xxl_fp16.safetensors")
            + "\nSettings: native 97 frames = 13 latent frames (8x temporal compression; window_length 13), "
              "partitions 3 = 39 steps, lookahead on, cfg 3. Sizes are multiples of 32.\n\n"
            + _expect(plan, frames, 8, 25) + "\n\n" + PREVIEW)
    ckpt = wf.add("CheckpointLoaderSimple", "Load LTX-Video 2B (model + VAE)", ["ltx-video-2b-v0.9.5.safetensors"],
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")],
                  models=("ltx-video-2b-v0.9.5.safetensors",))
    clip = wf.add("CLIPLoader", "Load T5-XXL text encoder", ["t5xxl_fp16.safetensors", "ltxv", "default"],
                  outputs=[("CLIP", "CLIP")], models=("t5xxl_fp16.safetensors",))
    wf.column()
    pos, neg = wan_text(wf, clip.id, "A steam locomotive crossing a stone viaduct in the mountains, drone shot "
                                     "following the train, autumn colours, detailed",
                        "low quality, worst quality, deformed, distorted, blurry, static, watermark")
    cond = wf.add("LTXVConditioning", "Frame rate 25", [25.0], {"positive": (pos.id, 0, "CONDITIONING"),
                                                                 "negative": (neg.id, 0, "CONDITIONING")},
                  [("positive", "CONDITIONING"), ("negative", "CONDITIONING")])
    latent = wf.add("EmptyLTXVLatentVideo", "Window: 97 frames = 13 latent frames", [768, 512, 97, 1],
                    outputs=[("LATENT", "LATENT")])
    queue = queue_init(wf, fifo, DIAGRAM_FIFO)
    wf.column()
    s = fifo_sampler(wf, ckpt.id, (cond.id, 0, "CONDITIONING"), (cond.id, 1, "CONDITIONING"), latent.id, queue.id,
                     frames, 3.0)
    decode_and_save(wf, s, ckpt.id, 25.0, "fifo_ltxv", vae_slot=2)  # the checkpoint's VAE is its third output
    return wf


def _kstep_note(model: str, chunk: int, chunks: int, m: int, k: int, full: int, fps: float) -> str:
    frames = chunk + (chunks - 1) * (chunk - 1)
    return (f"Output: {chunks} chunks of {chunk} frames; each starts from the last frame of the one before, which "
            f"appears once: {frames} frames = {frames / fps:.0f} s at {_num(fps)} fps. Cost per chunk: {m} candidate "
            f"previews of {k} steps + {full} steps for the winner = {m * k + full} model runs' steps "
            f"({(m * k + full) / full:.1f}x a plain run of {full} steps; brute force would be {m}x). The report "
            f"(Candidate scores) lists every candidate's score per chunk.")


def _kstep_todo(prefix: str, chunk: int, chunks: int, fps: float, size: str) -> str:
    frames = chunk + (chunks - 1) * (chunk - 1)
    return _todo(_download(), f"Press Run. A {frames / fps:.0f}-second video ({size}, {_num(fps)} fps) is written to "
                 f"ComfyUI/output/infinite-video/{prefix}_00001_.mp4 chunk by chunk while the run goes; when it ends, "
                 f"Candidate scores shows which of the noises won each chunk.", RESUME,
                 "The start image (a sky over a meadow) is made by the workflow; for your own picture, replace it "
                 "with Load Image + Image Scale to the same size. " + ZOOM)


def kstep_wan21() -> Workflow:
    chunk, chunks, m, k, full = 33, 4, 5, 3, 30
    wf = Workflow()
    wf.column()
    wf.note(_kstep_todo("kstep_wan21_i2v", chunk, chunks, 16, "832x480"),
            "K-Step Noise Search image-to-video on Wan 2.1 I2V 14B 480p: a long video chunk by chunk from a start "
            "image, trying 5 noises with a cheap 3-step preview before each chunk and finishing only the best. The "
            "14B model needs about 24 GB of VRAM with weight_dtype fp8_e4m3fn (set on the loader).\n\n"
            + _files("wan2.1_i2v_480p_14B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan_2.1_vae.safetensors", "clip_vision_h.safetensors")
            + "\nThe video size is the start image's (832x480, a multiple of 16). CLIP vision is required by Wan 2.1 "
              "I2V and also scores the candidates.\n\n"
            + _kstep_note("wan21", chunk, chunks, m, k, full, 16) + "\n\n" + PREVIEW, 620)
    unet, clip, vae = wan21_loaders(wf, "wan2.1_i2v_480p_14B_fp16.safetensors", "fp8_e4m3fn")
    cv = wf.add("CLIPVisionLoader", "Load CLIP vision H", ["clip_vision_h.safetensors"],
                outputs=[("CLIP_VISION", "CLIP_VISION")], models=("clip_vision_h.safetensors",))
    wf.column()
    pos, neg = wan_text(wf, clip.id, KSTEP_PROMPT)
    image = start_image(wf, 832, 480)
    wf.column()
    kstep_and_sink(wf, (chunk, chunks, m, k, full), unet.id, pos.id, neg.id, vae.id, image.id, 16.0,
                   "kstep_wan21_i2v", clip_vision=cv.id)
    return wf


KSTEP_PROMPT = ("A wide green meadow under a blue summer sky, the camera slowly glides forward over the grass, white "
                "clouds drift by, flowers sway in the wind, natural light")


def kstep_wan22() -> Workflow:
    chunk, chunks, m, k, full = 49, 4, 5, 3, 30
    wf = Workflow()
    wf.column()
    wf.note(_kstep_todo("kstep_wan22_i2v", chunk, chunks, 24, "1280x704"),
            "K-Step Noise Search image-to-video on Wan 2.2 TI2V 5B at 1280x704, 24 fps (about 16-24 GB of VRAM): "
            "a long video chunk by chunk from a start image, 5 noises tried with a 3-step preview per chunk, only "
            "the best finished. No CLIP vision needed (candidates are scored on VAE latents).\n\n"
            + _files("wan2.2_ti2v_5B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan2.2_vae.safetensors")
            + "\nThe video size is the start image's (1280x704, multiples of 32).\n\n"
            + _kstep_note("wan22", chunk, chunks, m, k, full, 24) + "\n\n" + PREVIEW, 620)
    unet, clip, vae = wan22_loaders(wf)
    wf.column()
    pos, neg = wan_text(wf, clip.id, KSTEP_PROMPT)
    image = start_image(wf, 1280, 704)
    wf.column()
    kstep_and_sink(wf, (chunk, chunks, m, k, full), unet.id, pos.id, neg.id, vae.id, image.id, 24.0,
                   "kstep_wan22_i2v")
    return wf


# The main job's graph (example_workflows/api/shapes_long_video.json) for the editor: MIGA's consistency parts
# (Self-Reflection + Long-Range Guidance) on FIFO's queue, the best-measured chain on the pack's trained tiny Wan 2.1
# (docs/benchmarks.md, consistency), decoded with the preview factors, saved as mp4. A few minutes on a CPU.
SHAPES = {"fifo": (0, 3, True, "noise"), "reflection": (3, 0.01, "pairwise_denoised", 5), "guidance": (2, "queue", 64)}


def shapes_starter() -> Workflow:
    frames = 240
    plan = _plan(SHAPES, 9)
    wf = Workflow()
    wf.column()
    wf.note(_todo("Press Run. Nothing to download: it runs on a CPU, in a few minutes on a laptop.",
                  "Open ComfyUI/output/infinite-video/shapes_long_video_00001_.mp4 while it is written: the video "
                  "(30 s at 8 fps, 128x128) grows frame by frame. It shows coloured shapes moving over a panning "
                  "background: the only thing the pack's tiny model knows.", RESUME,
                  "Then try the real-model workflows of this pack (Wan 2.1, Wan 2.2, LTX-Video). " + ZOOM),
            "The model is the pack's own tiny Wan 2.1 (3.3 MB), trained on coloured shapes moving over a panning "
            "background; the pack makes it visible in diffusion_models when ComfyUI loads it. It has no text "
            "encoder: Empty Conditioning, cfg 1.\n\n"
            "Chain: FIFO Queue Init (window 0 = the latent's 9 frames, 3 partitions, lookahead) -> Self-Reflection "
            "-> Long-Range Guidance -> Infinite Video Sampler: the best-measured chain on this model (README, "
            "consistency benchmark). The Video Sink streams the mp4 with the preview decode (exact for this model, "
            "no VAE).\n\n"
            + _expect(plan, frames, 1, 8) + " (the preview decode makes one image per latent frame.)", 600)
    unet = wf.add("UNETLoader", "Load the pack's shapes model", ["shapes_wan21.safetensors", "default"],
                  outputs=[("MODEL", "MODEL")])
    cond = wf.add("InfiniteVideo_EmptyConditioning", "Empty Conditioning (trained unconditionally)", [4096, 1],
                  outputs=[("CONDITIONING", "CONDITIONING")])
    wf.column()
    latent = wf.add("EmptyHunyuanLatentVideo", "Window: 33 frames = 9 latent frames of 16x16", [128, 128, 33, 1],
                    outputs=[("LATENT", "LATENT")])
    queue = queue_init(wf, SHAPES["fifo"], DIAGRAM_MIGA)
    rf = wf.add("InfiniteVideo_SelfReflection", "Self-Reflection", list(SHAPES["reflection"]),
                {"queue": (queue.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])
    gd = wf.add("InfiniteVideo_LongRangeGuidance", "Long-Range Guidance", list(SHAPES["guidance"]),
                {"queue": (rf.id, 0, "IV_QUEUE")}, [("queue", "IV_QUEUE")])
    wf.column()
    sink = wf.add("InfiniteVideo_VideoSink", "Video Sink (the mp4 grows while the run goes)",
                  ["preview", "infinite-video/shapes_long_video", 8.0, "h264 (mp4)", 19, 64, ""],
                  outputs=[("sink", "IV_VIDEO_SINK")])
    wf.add("InfiniteVideo_Sampler", "Infinite Video Sampler", [0, "fixed", frames, 1.0, "euler", 1.0, "simple"],
           {"model": (unet.id, 0, "MODEL"), "positive": (cond.id, 0, "CONDITIONING"),
            "negative": (cond.id, 0, "CONDITIONING"), "latent_image": (latent.id, 0, "LATENT"),
            "queue": (gd.id, 0, "IV_QUEUE"), "sink": (sink.id, 0, "IV_VIDEO_SINK")},
           [("LATENT", "LATENT"), ("VIDEO", "VIDEO")])
    return wf


def _elsewhere(module: str, builder: str):
    """A builder from another authoring module, imported when called (those modules import this one's helpers)."""
    def build() -> Workflow:
        import importlib

        return getattr(importlib.import_module(f".{module}", __package__), builder)()
    return build


# file name (the template browser's title) -> workflow
WORKFLOWS = {
    "1 Start here, a long video on the CPU with nothing to download": shapes_starter,
    "2 Wan 2.1 1.3B, long video from a prompt (chunked continuation)": continuation_wan21,
    "3 Wan 2.1 1.3B, more consistent long video (MIGA, official config)": miga_wan21,
    "4 Wan 2.1 1.3B, long video whose prompt changes over time": prompt_switch_wan21,
    "5 Wan 2.2 5B, 720p long video from a prompt (chunked continuation)": continuation_wan22,
    "6 LTX-Video 2B, fast long video from a prompt (FIFO)": fifo_ltxv,
    "7 Wan 2.1 I2V 14B, long video from an image, best of 5 noises per chunk (K-Step)": kstep_wan21,
    "8 Wan 2.2 5B, long video from an image, best of 5 noises per chunk (K-Step)": kstep_wan22,
    "9 Wan 2.1 I2V 14B, long video from a start image (FIFO)": _elsewhere("templates_conditioning", "fifo_wan21_i2v"),
    "10 Wan 2.1 Fun Control 1.3B, long video that follows a control video (FIFO)":
        _elsewhere("templates_conditioning", "fifo_wan21_fun_control"),
    "11 Wan 2.1 14B, fast long video with a 4-step LoRA (FIFO)": _elsewhere("templates_speed", "fifo_wan21_4step"),
}
STARTER = next(iter(WORKFLOWS))


def main() -> None:
    for old in OUT.glob("*.json"):  # renamed or removed workflows leave no stale files (or thumbnails)
        if old.stem not in WORKFLOWS:
            old.unlink()
            old.with_suffix(".jpg").unlink(missing_ok=True)
    for name, build in WORKFLOWS.items():
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(ui_workflow(build()), indent=1) + "\n")
        print(path)


if __name__ == "__main__":
    main()
