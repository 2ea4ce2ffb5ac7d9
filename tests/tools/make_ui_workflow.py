"""Writes the UI-format example workflow(s) in example_workflows/ (what the graph editor opens).

ComfyUI's server only executes API-format graphs and has no converter, so the UI JSON is generated from one compact
description here and checked against the live server's /object_info by tests/test_example_workflows.py.
Run: python tests/tools/make_ui_workflow.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (id, type, title, pos, inputs {name: (src id, src slot, type)}, outputs [(name, type)], widgets_values)
FIFO_WAN21 = [
    (1, "UNETLoader", "Load Wan 2.1 T2V 1.3B", (40, 40), {}, [("MODEL", "MODEL")],
     ["wan2.1_t2v_1.3B_fp16.safetensors", "default"]),
    (2, "CLIPLoader", "Load umT5", (40, 200), {}, [("CLIP", "CLIP")],
     ["umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan", "default"]),
    (3, "VAELoader", "Load Wan VAE", (40, 360), {}, [("VAE", "VAE")], ["wan_2.1_vae.safetensors"]),
    (4, "CLIPTextEncode", "Positive", (360, 40), {"clip": (2, 0, "CLIP")}, [("CONDITIONING", "CONDITIONING")],
     ["A red fox trotting through fresh snow in a pine forest, tracking shot, soft morning light"]),
    (5, "CLIPTextEncode", "Negative", (360, 260), {"clip": (2, 0, "CLIP")}, [("CONDITIONING", "CONDITIONING")],
     ["blurry, low quality, static, watermark, text"]),
    (6, "EmptyHunyuanLatentVideo", "Window: 81 frames = 21 latent frames", (360, 480), {},
     [("LATENT", "LATENT")], [832, 480, 81, 1]),
    (7, "InfiniteVideo_FIFOQueueInit", "FIFO Queue Init", (360, 680), {}, [("queue", "IV_QUEUE")],
     [0, 2, True, "noise"]),
    (8, "InfiniteVideo_Sampler", "Infinite Video Sampler", (760, 40),
     {"model": (1, 0, "MODEL"), "positive": (4, 0, "CONDITIONING"), "negative": (5, 0, "CONDITIONING"),
      "latent_image": (6, 0, "LATENT"), "queue": (7, 0, "IV_QUEUE")},
     [("LATENT", "LATENT")], [0, "fixed", 60, 5.0, "euler", 1.0, "simple"]),
    (9, "VAEDecode", "Decode", (1120, 40), {"samples": (8, 0, "LATENT"), "vae": (3, 0, "VAE")},
     [("IMAGE", "IMAGE")], []),
    (10, "CreateVideo", "Video at 16 fps", (1120, 200), {"images": (9, 0, "IMAGE")}, [("VIDEO", "VIDEO")], [16.0]),
    (11, "SaveVideo", "Save", (1120, 360), {"video": (10, 0, "VIDEO")}, [],
     ["infinite-video/fifo_wan21", "auto", "auto"]),
]


# The main job's graph (example_workflows/api/shapes_long_video.json) for the editor: MIGA's consistency parts
# (Self-Reflection + Long-Range Guidance) on FIFO's queue, the best-measured chain on the pack's trained tiny Wan 2.1
# (README, consistency benchmark), decoded with the preview factors, saved as mp4. A minute or two on a CPU.
MIGA_SHAPES = [
    (1, "UNETLoader", "Load the pack's shapes model (tests/models/shapes_wan21)", (40, 40), {}, [("MODEL", "MODEL")],
     ["shapes_wan21.safetensors", "default"]),
    (2, "InfiniteVideo_EmptyConditioning", "Empty Conditioning (trained unconditionally)", (40, 200), {},
     [("CONDITIONING", "CONDITIONING")], [4096, 1]),
    (3, "EmptyHunyuanLatentVideo", "Window: 33 frames = 9 latent frames of 16x16", (40, 360), {},
     [("LATENT", "LATENT")], [128, 128, 33, 1]),
    (4, "InfiniteVideo_FIFOQueueInit", "FIFO Queue Init", (40, 560), {}, [("queue", "IV_QUEUE")], [0, 3, True, "noise"]),
    (7, "InfiniteVideo_SelfReflection", "Self-Reflection", (400, 40), {"queue": (4, 0, "IV_QUEUE")},
     [("queue", "IV_QUEUE")], [3, 0.01, "pairwise_denoised", 5]),
    (8, "InfiniteVideo_LongRangeGuidance", "Long-Range Guidance", (400, 220), {"queue": (7, 0, "IV_QUEUE")},
     [("queue", "IV_QUEUE")], [2, "queue", 64]),
    (9, "InfiniteVideo_Sampler", "Infinite Video Sampler", (760, 40),
     {"model": (1, 0, "MODEL"), "positive": (2, 0, "CONDITIONING"), "negative": (2, 0, "CONDITIONING"),
      "latent_image": (3, 0, "LATENT"), "queue": (8, 0, "IV_QUEUE")},
     [("LATENT", "LATENT")], [0, "fixed", 240, 1.0, "euler", 1.0, "simple"]),
    (10, "InfiniteVideo_LatentPreviewDecode", "Latent Preview Decode", (1120, 40),
     {"model": (1, 0, "MODEL"), "samples": (9, 0, "LATENT")}, [("IMAGE", "IMAGE")], [8]),
    (11, "CreateVideo", "Video at 8 fps", (1120, 220), {"images": (10, 0, "IMAGE")}, [("VIDEO", "VIDEO")], [8.0]),
    (12, "SaveVideo", "Save", (1120, 380), {"video": (11, 0, "VIDEO")}, [],
     ["infinite-video/shapes_long_video", "mp4", "h264"]),
]


def ui_workflow(spec) -> dict:
    nodes, links = [], []
    out_links: dict[tuple[int, int], list[int]] = {}
    for nid, _, _, _, inputs, _, _ in spec:
        for slot_name, (src, src_slot, typ) in inputs.items():
            link_id = len(links) + 1
            dst_slot = list(inputs).index(slot_name)
            links.append([link_id, src, src_slot, nid, dst_slot, typ])
            out_links.setdefault((src, src_slot), []).append(link_id)
    link_of = {(l[3], l[4]): l[0] for l in links}
    for order, (nid, typ, title, pos, inputs, outputs, widgets) in enumerate(spec):
        nodes.append({
            "id": nid, "type": typ, "title": title, "pos": list(pos), "size": [320, 120], "flags": {},
            "order": order, "mode": 0,
            "inputs": [{"name": n, "type": t, "link": link_of[(nid, i)]} for i, (n, (_, _, t)) in enumerate(inputs.items())],
            "outputs": [{"name": n, "type": t, "links": out_links.get((nid, i), []), "slot_index": i}
                        for i, (n, t) in enumerate(outputs)],
            "properties": {"Node name for S&R": typ}, "widgets_values": widgets,
        })
    return {"last_node_id": max(n["id"] for n in nodes), "last_link_id": len(links), "nodes": nodes,
            "links": links, "groups": [], "config": {}, "extra": {}, "version": 0.4}


def main() -> None:
    for name, spec in (("fifo_wan21_t2v.json", FIFO_WAN21), ("shapes_long_video.json", MIGA_SHAPES)):
        path = ROOT / "example_workflows" / name
        path.write_text(json.dumps(ui_workflow(spec), indent=1) + "\n")
        print(path)


if __name__ == "__main__":
    main()
