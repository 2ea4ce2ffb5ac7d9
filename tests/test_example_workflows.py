"""The UI-format example workflows, as a user meets them: listed in the template browser with a thumbnail, valid
against the live server's node definitions, model loaders offering the official downloads, and run where the tiny
models can stand in for the real ones.

The server here is started with *stand-in files* named like the real models (empty files in their ComfyUI folders),
so its ``/object_info`` lists them as a user's server with the downloads would, and
*without* the shapes model in any model folder: the pack must make it visible itself (``nodes/model_paths.py``).
Each workflow is converted to the API form the way the frontend does (widget values in input order, links as
``[node id, slot]``, Note nodes left out) and checked against ``/object_info``: node types, widget values (combo
options, numeric bounds) and link types. The workflows whose parts have tiny stand-ins then run on the real server,
with their model loader pointed at the tiny random-weight model, text encoders replaced by seeded random
conditioning, the VAE decode by the latent preview decode (no tiny text encoder exists), and where a VAE or CLIP
vision is needed by the pack's nodes (K-Step) by random-weight stand-ins of ComfyUI's classes. The K-Step templates make
their start image with core nodes and stream through a Video Sink: they run as shipped, only smaller. So do the FIFO
templates from a start image and from a control video (made with core nodes too), their conditioning node's
whole-video length scaled with the frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infinite_video.tools.testing.comfy_server import PACK_ROOT, start_server

pytestmark = pytest.mark.host

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
UI_FILES = sorted((PACK_ROOT / "example_workflows").glob("*.json"))
FRONTEND_ONLY = {"Note", "MarkdownNote"}  # drawn by the editor, never sent to the server
LOADERS = {"UNETLoader": ("unet_name", "diffusion_models"), "CLIPLoader": ("clip_name", "text_encoders"),
           "VAELoader": ("vae_name", "vae"), "CheckpointLoaderSimple": ("ckpt_name", "checkpoints"),
           "CLIPVisionLoader": ("clip_name", "clip_vision"), "LoraLoaderModelOnly": ("lora_name", "loras")}
STARTER = "1 Start here, a long video on the CPU with nothing to download"
# real model file -> the tiny random-weight model of the same family (tools/testing/tiny_models.py)
TINY = {"wan2.1_t2v_1.3B_fp16.safetensors": "tiny_wan21.safetensors",
        "wan2.1_i2v_480p_14B_fp16.safetensors": "tiny_wan21_i2v36.safetensors",
        "wan2.2_ti2v_5B_fp16.safetensors": "tiny_wan22.safetensors",
        "wan2.1_fun_control_1.3B_bf16.safetensors": "tiny_wan21_fun48.safetensors",
        "wan2.1_t2v_14B_fp8_e4m3fn.safetensors": "tiny_wan21.safetensors",
        "shapes_wan21.safetensors": "shapes_wan21.safetensors"}
# real VAE file -> the family of a random-weight stand-in (IVTest_RandomVAE, tools/testing/iv_test_nodes)
TINY_VAE = {"wan_2.1_vae.safetensors": "wan21", "wan2.2_vae.safetensors": "wan22"}


def ui_workflows() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in UI_FILES}


def _spec(info: dict, node_type: str) -> list[tuple[str, object, dict]]:
    """``(name, type, options)`` of every input in the order the frontend lays out widgets."""
    spec = info[node_type]["input"]
    order = info[node_type].get("input_order") or {s: list(spec.get(s, {})) for s in ("required", "optional")}
    out = []
    for section in ("required", "optional"):
        for name in order.get(section, []):
            entry = spec[section][name]
            out.append((name, entry[0], entry[1] if len(entry) > 1 else {}))
    return out


def _is_widget(typ) -> bool:
    return isinstance(typ, list) or typ in WIDGET_TYPES


def ui_to_api(workflow: dict, info: dict) -> dict:
    """The API prompt the frontend would queue for a UI workflow (``graphToPrompt`` for plain graphs)."""
    prompt = {}
    links = {link[0]: link for link in workflow["links"]}
    for node in workflow["nodes"]:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) != 0:
            continue
        values = list(node["widgets_values"])
        inputs: dict = {}
        linked = {i["name"]: links[i["link"]] for i in node["inputs"] if i.get("link") is not None}
        for name, typ, opts in _spec(info, node["type"]):
            if name in linked:
                link = linked[name]
                inputs[name] = [str(link[1]), link[2]]
                if _is_widget(typ):
                    values.pop(0)  # a widget converted to an input keeps its value slot
                continue
            if _is_widget(typ):
                if not values and name in info[node["type"]]["input"].get("optional", {}):
                    continue  # saved before the optional widget existed: the frontend gives it its default
                assert values, f"{node['title']}: no widget value left for {name}"
                inputs[name] = values.pop(0)
                if opts.get("control_after_generate") or opts.get("image_upload"):
                    values.pop(0)  # the frontend's extra widget (seed control, upload button)
        assert not values, f"{node['title']} ({node['type']}): widget values left over: {values}"
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def check_against_object_info(prompt: dict, info: dict) -> list[str]:
    """What the server's definitions reject in an API prompt: types, options, bounds, link types."""
    problems = []
    for nid, node in prompt.items():
        where = f"node {nid} ({node['class_type']})"
        if node["class_type"] not in info:
            problems.append(f"{where}: unknown node type")
            continue
        spec = {name: (typ, opts) for name, typ, opts in _spec(info, node["class_type"])}
        required = info[node["class_type"]]["input"].get("required", {})
        for name in required:
            if name not in node["inputs"]:
                problems.append(f"{where}: required input {name} missing")
        for name, value in node["inputs"].items():
            if name not in spec:
                problems.append(f"{where}: no input {name}")
                continue
            typ, opts = spec[name]
            if isinstance(value, list):  # a link
                src = prompt.get(value[0])
                if src is None:
                    problems.append(f"{where}.{name}: links to missing node {value[0]}")
                    continue
                out_type = info[src["class_type"]]["output"][value[1]]
                want = "COMBO" if isinstance(typ, list) else typ
                if out_type != want and "*" not in (out_type, want):
                    problems.append(f"{where}.{name}: {out_type} wired into a {want} input")
                continue
            options = typ if isinstance(typ, list) else opts.get("options")
            if options is not None and value not in options:
                problems.append(f"{where}.{name}: {value!r} is not one of the server's options")
            if typ in ("INT", "FLOAT"):
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    problems.append(f"{where}.{name}: {value!r} is not a number")
                elif not opts.get("min", value) <= value <= opts.get("max", value):
                    problems.append(f"{where}.{name}: {value} outside [{opts.get('min')}, {opts.get('max')}]")
            if typ == "BOOLEAN" and not isinstance(value, bool):
                problems.append(f"{where}.{name}: {value!r} is not a boolean")
    return problems


@pytest.fixture(scope="module")
def server(comfy_host, tiny_model_files, tmp_path_factory):
    """A server with stand-in files for every model the workflows name, the tiny models, and no shapes folder."""
    standins = tmp_path_factory.mktemp("standins")
    folders: dict[str, list[Path]] = {}
    for wf in ui_workflows().values():
        for node in wf["nodes"]:
            for model in node.get("properties", {}).get("models", []):
                folder = standins / model["directory"]
                folder.mkdir(exist_ok=True)
                (folder / model["name"]).write_bytes(b"")  # listed by the server, never loaded
                folders.setdefault(model["directory"], [folder])
    if not (tiny_model_files / TINY["wan2.1_fun_control_1.3B_bf16.safetensors"]).is_file():
        from infinite_video.tools.testing.tiny_models import write_tiny_wan21_fun48

        write_tiny_wan21_fun48(tiny_model_files / TINY["wan2.1_fun_control_1.3B_bf16.safetensors"])
    folders.setdefault("diffusion_models", []).append(tiny_model_files)
    with start_server(comfy_host, model_folders=folders) as srv:
        yield srv


@pytest.fixture(scope="module")
def info(server):
    return server.object_info()


def test_example_workflows_exist():
    names = {p.stem for p in UI_FILES}
    assert STARTER in names and len(names) >= 8, names


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_is_valid_against_the_live_node_definitions(info, path):
    wf = json.loads(path.read_text())
    prompt = ui_to_api(wf, info)
    assert check_against_object_info(prompt, info) == []
    ids = {n["id"] for n in wf["nodes"]}
    for link_id, src, _, dst, _, _ in wf["links"]:
        assert src in ids and dst in ids, f"link {link_id} dangles"
    notes = [n for n in wf["nodes"] if n["type"] == "Note"]
    assert len(notes) == 1 and "Output:" in notes[0]["widgets_values"][0]


def test_the_checker_catches_what_the_server_would_reject(info):
    """A wrong option, an out-of-range number and a mistyped link are each reported (the check can fail)."""
    wf = ui_workflows()[CONTINUATION_WAN21]
    prompt = ui_to_api(wf, info)
    loader = next(k for k, n in prompt.items() if n["class_type"] == "UNETLoader")
    sampler = next(k for k, n in prompt.items() if n["class_type"] == "InfiniteVideo_Sampler")
    queue = next(k for k, n in prompt.items() if n["class_type"] == "InfiniteVideo_FIFOQueueInit")
    prompt[loader]["inputs"]["unet_name"] = "not_downloaded.safetensors"
    prompt[queue]["inputs"]["partitions"] = 0
    prompt[sampler]["inputs"]["latent_image"] = [loader, 0]
    problems = " | ".join(check_against_object_info(prompt, info))
    assert "'not_downloaded.safetensors' is not one of the server's options" in problems
    assert "partitions: 0 outside [1, 64]" in problems
    assert "MODEL wired into a LATENT input" in problems


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_model_loaders_offer_the_official_downloads(path):
    """Every model a loader names (except the pack's own) has a ``models`` entry the frontend's missing-models
    dialog accepts: same name, https://huggingface.co/ URL ending in that file, the loader's models/ folder."""
    wf = json.loads(path.read_text())
    for node in wf["nodes"]:
        if node["type"] not in LOADERS:
            continue
        name = node["widgets_values"][0]
        if name == "shapes_wan21.safetensors":
            continue
        (entry,) = [m for m in node["properties"].get("models", []) if m["name"] == name]
        assert entry["url"].startswith("https://huggingface.co/") and entry["url"].endswith("/" + name)
        assert entry["directory"] == LOADERS[node["type"]][1]
        assert name.endswith(".safetensors")


def test_server_lists_the_workflows_with_thumbnails(server):
    """The template browser lists a pack's ``example_workflows/*.json`` by name and shows ``<name>.jpg``."""
    listing = server.get("/workflow_templates")
    assert set(listing["infinite-video"]) == {p.stem for p in UI_FILES}
    import urllib.parse
    import urllib.request

    for p in UI_FILES:
        url = f"{server.url}/api/workflow_templates/infinite-video/{urllib.parse.quote(p.stem)}.jpg"
        with urllib.request.urlopen(url) as r:
            assert r.status == 200 and r.read(3) == b"\xff\xd8\xff", p.stem  # a JPEG


def test_shapes_model_is_visible_without_copying(server, info):
    """The pack adds its shapes model's folder to diffusion_models on load: listed although no model folder of this
    server holds it, and nothing was written into the server's own models/ folder."""
    assert "shapes_wan21.safetensors" in info["UNETLoader"]["input"]["required"]["unet_name"][0]
    written = [p for p in (server.root / "base").rglob("*") if p.is_file() and "models" in p.parts]
    assert written == []


# The tiny models run on the CPU, where a ComfyUI model call costs far more than on a GPU: the real-model runs keep
# their graph (nodes, wiring, chain order, sampler and decode settings) but get a window, ladder and length that
# the CPU affords. MIGA's chain is scaled as the pack's own MIGA tests scale it (window 8, 12 steps, groups of 2).
TINY_WINDOW = 5  # latent frames: 17 video frames
TINY_MIGA = {"InfiniteVideo_ZigzagStage": {"steps": 12, "group_size": 2, "end_step": 8},
             "InfiniteVideo_UnifiedStage": {"steps": 4, "re_noise_step": 8},
             "InfiniteVideo_SelfReflection": {"judged_level": 2},
             "InfiniteVideo_LongRangeGuidance": {"guidance_latents": 2}}
MIGA_WINDOW = 8  # latent frames: 29 video frames
# Chunked Continuation in the tiny window of 5: 2 anchors (latent frames 0 and 2), the newest finished one, 2 new ones
# (one chunk in flight, as in the templates)
TINY_CONTINUATION = {"chunk": 2, "anchors": 2, "anchor_every": 2, "in_flight": 1}
TINY_IMAGE = 32  # px: K-Step's start image side (a multiple of 32, as Wan 2.2 5B needs); WHOLE_VIDEO's video side
# K-Step: chunks of 5 frames, 2 candidates with 1-step previews, 2 full steps (``frames`` chunks)
TINY_KSTEP = {"chunk_length": 5, "candidates": 2, "preview_steps": 1, "full_steps": 2}
# Wan conditioning nodes whose length is the whole video (the sampler's latent comes from them): scaled with frames
WHOLE_VIDEO = ("WanImageToVideo", "WanFunControlToVideo")


def tiny_variant(prompt: dict, frames: int) -> dict:
    """The prompt with tiny stand-ins: loader -> tiny model, text encoder -> seeded random conditioning, VAE decode
    -> latent preview decode, a VAE or CLIP vision that K-Step uses -> random-weight stand-ins, a LoRA loader ->
    removed (its consumers take the loader's model: a real LoRA's keys do not fit a tiny model); for the real-model
    graphs a small latent and window (MIGA's chain scaled with it), ``frames`` output latent frames (frame ranges
    scaled with them), or for K-Step ``frames`` short chunks from a small start image."""
    prompt = json.loads(json.dumps(prompt))
    sampler = next(n for n in prompt.values() if n["class_type"] in ("InfiniteVideo_Sampler",
                                                                      "InfiniteVideo_KStepNoiseSearch"))
    kstep = sampler["class_type"] == "InfiniteVideo_KStepNoiseSearch"
    if kstep:
        sampler["inputs"].update(TINY_KSTEP, num_chunks=frames)
        old_frames = frames
    else:
        old_frames = sampler["inputs"]["frames"]
        sampler["inputs"]["frames"] = frames
    real = any(n["class_type"] == "CLIPTextEncode" for n in prompt.values())
    miga = any(n["class_type"] in TINY_MIGA for n in prompt.values())
    window = MIGA_WINDOW if miga else TINY_WINDOW
    image_h = max([n["inputs"]["height"] for n in prompt.values() if n["class_type"] == "EmptyImage"] or [1])
    for nid, node in list(prompt.items()):
        t, inputs = node["class_type"], node["inputs"]
        if t == "UNETLoader":
            inputs["unet_name"] = TINY[inputs["unet_name"]]
        elif t == "CLIPTextEncode":
            prompt[nid] = {"class_type": "IVTest_RandomConditioning",
                           "inputs": {"seed": int(nid), "tokens": 8, "dim": 4096}}
        elif t == "VAELoader":
            prompt[nid] = {"class_type": "IVTest_RandomVAE",
                           "inputs": {"family": TINY_VAE[inputs["vae_name"]], "seed": 0}}
        elif t == "CLIPVisionLoader":
            prompt[nid] = {"class_type": "IVTest_TinyClipVision", "inputs": {"hidden": 1280, "seed": 0}}
        elif t == "EmptyImage" and kstep:  # the start image's parts at the tiny size: a square, the same ground
            inputs.update(width=TINY_IMAGE, height=TINY_IMAGE * inputs["height"] // image_h)
        elif t == "ImageCompositeMasked" and kstep:
            inputs["y"] = TINY_IMAGE * inputs["y"] // image_h
        elif t in ("VAEDecode", "VAEDecodeTiled"):
            prompt[nid] = {"class_type": "InfiniteVideo_LatentPreviewDecode",
                           "inputs": {"model": sampler["inputs"]["model"], "samples": inputs["samples"],
                                      "upscale": 1}}
        elif t in WHOLE_VIDEO:  # conditioning (and latent) for the whole video, at the tiny size
            inputs.update(width=TINY_IMAGE, height=TINY_IMAGE, length=4 * (frames - 1) + 1)
        elif t == "EmptyHunyuanLatentVideo" and real:
            inputs.update(width=64, height=64, length=4 * (window - 1) + 1)
        elif t == "InfiniteVideo_FIFOQueueInit" and real:
            inputs["window_length"] = window
        elif t in TINY_MIGA:
            inputs.update(TINY_MIGA[t])
        elif t == "InfiniteVideo_Continuation":
            inputs.update(TINY_CONTINUATION)
        elif t == "InfiniteVideo_ConditioningFrameRange":
            for k in ("start_frame", "end_frame"):
                inputs[k] = inputs[k] * frames // old_frames
    for nid in [k for k, n in prompt.items() if n["class_type"] == "LoraLoaderModelOnly"]:
        source = prompt.pop(nid)["inputs"]["model"]
        for node in prompt.values():
            node["inputs"].update({k: source for k, v in node["inputs"].items() if v == [nid, 0]})
    used = {v[0] for n in prompt.values() for v in n["inputs"].values() if isinstance(v, list)}
    for nid in [k for k, n in prompt.items() if n["class_type"] in ("CLIPLoader", "IVTest_RandomVAE")]:
        if nid not in used:
            del prompt[nid]  # nothing uses them any more
    return prompt


KSTEP_WAN21 = "7 Wan 2.1 I2V 14B, long video from an image, best of 5 noises per chunk (K-Step)"
KSTEP_WAN22 = "8 Wan 2.2 5B, long video from an image, best of 5 noises per chunk (K-Step)"
FIFO_I2V = "9 Wan 2.1 I2V 14B, long video from a start image (FIFO)"
FIFO_CONTROL = "10 Wan 2.1 Fun Control 1.3B, long video that follows a control video (FIFO)"
CONTINUATION_WAN21 = "2 Wan 2.1 1.3B, long video from a prompt (chunked continuation)"
# the continuation template runs past its first chunk (5 latents) and its anchors: 2 more chunks of 2
RUNNABLE = {STARTER: 1, CONTINUATION_WAN21: 9,
            "3 Wan 2.1 1.3B, more consistent long video (MIGA, official config)": 4,
            "4 Wan 2.1 1.3B, long video whose prompt changes over time": 6, KSTEP_WAN21: 2, KSTEP_WAN22: 2,
            FIFO_I2V: 6, FIFO_CONTROL: 6,
            "11 Wan 2.1 14B, fast long video with a 4-step LoRA (FIFO)": 8}


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_workflow_runs_on_the_tiny_models(server, info, name):
    """The workflow's own graph (chain, sampler settings, decode to video) runs end to end; the starter runs as
    shipped (but shorter), with its own model found through the pack's folder registration."""
    prompt = tiny_variant(ui_to_api(ui_workflows()[name], info), RUNNABLE[name])
    assert check_against_object_info(prompt, info) == []
    entry = server.run(prompt, timeout=900)
    videos = [p for kind in ("images", "videos", "gifs", "iv_video") for p in server.saved_files(entry, kind)]
    videos = [p for p in videos if p.suffix == ".mp4"]
    assert videos and all(p.stat().st_size > 0 for p in videos), entry["outputs"]
    if name in (KSTEP_WAN21, KSTEP_WAN22):
        # streamed through the Video Sink, and the candidates' scores shown in the workflow's text box
        types = {nid: n["class_type"] for nid, n in prompt.items()}
        kstep = next(nid for nid, t in types.items() if t == "InfiniteVideo_KStepNoiseSearch")
        shown = next(nid for nid, t in types.items() if t == "PreviewAny")
        report = entry["outputs"][kstep]["text"][0]
        assert report and entry["outputs"][shown]["text"] == [report]
        assert report.count("chunk") >= RUNNABLE[name], report


def test_workflows_without_tiny_parts_are_named():
    """The rest need a VAE inside a core node (Wan 2.2's image-to-video latent) or a checkpoint's VAE, which have no
    tiny stand-in there: they are checked against the node definitions above, not run."""
    rest = {p.stem for p in UI_FILES} - set(RUNNABLE)
    for name in rest:
        types = {n["type"] for n in ui_workflows()[name]["nodes"]}
        assert types & {"Wan22ImageToVideoLatent", "CheckpointLoaderSimple"}, name


def test_fun_control_template_control_video_moves_over_the_whole_video(server, info):
    """The control video template 10 makes with core nodes, run as shipped (its size and length) on the server and
    saved frame by frame: at least as many frames as WanFunControlToVideo's length, one white square in every frame,
    moving left to right over the video."""
    import numpy as np
    from PIL import Image

    prompt = ui_to_api(ui_workflows()[FIFO_CONTROL], info)
    (cond,) = [n for n in prompt.values() if n["class_type"] == "WanFunControlToVideo"]
    length, (source, slot) = cond["inputs"]["length"], cond["inputs"]["control_video"]
    needed, todo = {}, [source]
    while todo:  # the control video's own subgraph
        nid = todo.pop()
        needed[nid] = prompt[nid]
        todo += [v[0] for v in prompt[nid]["inputs"].values() if isinstance(v, list)]
    needed["save"] = {"class_type": "SaveImage",
                      "inputs": {"images": [source, slot], "filename_prefix": "iv-test/control"}}
    files = sorted(server.saved_files(server.run(needed, timeout=600), "images"))
    assert len(files) >= length
    white = np.stack([np.asarray(Image.open(f))[:, :, 0] > 230 for f in files[:length]])  # [frames, H, W]
    sizes = white.reshape(length, -1).sum(1)
    assert (sizes == sizes[0]).all() and sizes[0] > 0, "one whole square in every frame"
    x = (white.sum(1) * np.arange(white.shape[2])).sum(1) / sizes
    assert (np.diff(x) >= 0).all() and x[-1] - x[0] > white.shape[2] / 2, x[::30]
