"""The example workflows whose conditioning follows the video: a start image (Wan 2.1 I2V 14B) and a control video
(Wan 2.1 Fun Control 1.3B), each in front of FIFO-Diffusion and streamed to the file by a Video Sink.

ComfyUI's Wan conditioning nodes attach per-frame tensors (the start image among grey frames and its mask; the
control video's latents). The queue samplers take them built for the *whole video* (the node's ``length`` is the
video's length, not the model's window) and give each window the slice at its frames' positions
(``nodes/frame_conds.py``), so the node's ``length`` here is ``4 x (frames - 1) + 1`` and its latent (as long as the
video) is the sampler's ``latent_image``: the window is FIFO Queue Init's ``window_length``. Both run as shipped: the
start image and the control video are made by the workflow with core nodes.

Registered in ``ui_workflows.WORKFLOWS``; run ``python -m tools.authoring.ui_workflows`` to write them.
"""

from __future__ import annotations

from .ui_workflows import (
    DIAGRAM_FIFO,
    PREVIEW,
    RESUME,
    ZOOM,
    Node,
    Workflow,
    _download,
    _expect,
    _files,
    _num,
    _plan,
    _seconds,
    _todo,
    queue_init,
    start_image,
    wan21_loaders,
    wan_text,
)

FIFO_WAN21 = (21, 2, True, "noise")  # the model's 81-frame window = 21 latent frames, 42 steps, lookahead
FRAMES = 120  # output latent frames: 477 video frames, 30 s at 16 fps


def _length(frames: int) -> int:
    """Video frames of ``frames`` Wan latent frames: the ``length`` a Wan conditioning node needs for them."""
    return 4 * (frames - 1) + 1


def _streamed(prefix: str, seconds: float, size: str, fps: float) -> str:
    return (f"Press Run. A {seconds:.0f}-second video ({size}, {_num(fps)} fps) is written to "
            f"ComfyUI/output/infinite-video/{prefix}_00001_.mp4 frame by frame while the run goes (open it any time).")


def _whole_video(node: str, frames: int) -> str:
    return (f"{node}'s length is the whole video ({_length(frames)} frames = {frames} latent frames), not the model's "
            f"81-frame window: each window of the queue gets the slice of that conditioning at its own frames. If you "
            f"change frames on the sampler, set length to 4 x (frames - 1) + 1 (the sampler's error names the value "
            f"if they disagree).")


def sink_and_sampler(wf: Workflow, model: int, cond: Node, vae: int, queue: int, frames: int, cfg: float,
                     fps: float, prefix: str) -> Node:
    """Video Sink (the mp4 grows while the run goes; Cancel and resume) and the Infinite Video Sampler fed by a Wan
    conditioning node's positive, negative and whole-video latent."""
    sink = wf.add("InfiniteVideo_VideoSink", "Video Sink (the mp4 grows while the run goes)",
                  ["vae", f"infinite-video/{prefix}", fps, "h264 (mp4)", 19, 64, ""], {"vae": (vae, 0, "VAE")},
                  [("sink", "IV_VIDEO_SINK")])
    return wf.add("InfiniteVideo_Sampler", "Infinite Video Sampler", [0, "fixed", frames, cfg, "euler", 1.0, "simple"],
                  {"model": (model, 0, "MODEL"), "positive": (cond.id, 0, "CONDITIONING"),
                   "negative": (cond.id, 1, "CONDITIONING"), "latent_image": (cond.id, 2, "LATENT"),
                   "queue": (queue, 0, "IV_QUEUE"), "sink": (sink.id, 0, "IV_VIDEO_SINK")},
                  [("LATENT", "LATENT"), ("VIDEO", "VIDEO")])


I2V_PROMPT = ("A wide green meadow under a blue summer sky, the camera slowly glides forward over the grass, white "
              "clouds drift by, flowers sway in the wind, natural light")


def fifo_wan21_i2v() -> Workflow:
    frames = FRAMES
    plan = _plan({"fifo": FIFO_WAN21}, 21)
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _streamed("fifo_wan21_i2v", _seconds(frames, 4, 16), "832x480", 16), RESUME,
                  "The start image (a sky over a meadow) is made by the workflow; for your own picture, replace it "
                  "with Load Image (WanImageToVideo scales it to its width and height). " + ZOOM),
            "FIFO-Diffusion image-to-video on Wan 2.1 I2V 14B 480p: one long video that starts at the start image "
            "and goes on past the model's 81-frame window. The 14B model needs about 24 GB of VRAM with "
            "weight_dtype fp8_e4m3fn (set on the loader).\n\n"
            + _files("wan2.1_i2v_480p_14B_fp16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan_2.1_vae.safetensors", "clip_vision_h.safetensors")
            + "\n" + _whole_video("WanImageToVideo", frames) + " The start image conditions the first latent only; "
              "later windows are told they have no image, as in a native run's later frames. CLIP vision (required "
              "by Wan 2.1 I2V) describes the start image to every window.\n\n"
              "Settings: window_length 21 (81 frames), partitions 2 = 42 steps, lookahead on, cfg 5, 832x480.\n\n"
            + _expect(plan, frames, 4, 16) + "\n\n" + PREVIEW, 640)
    unet, clip, vae = wan21_loaders(wf, "wan2.1_i2v_480p_14B_fp16.safetensors", "fp8_e4m3fn")
    cv = wf.add("CLIPVisionLoader", "Load CLIP vision H", ["clip_vision_h.safetensors"],
                outputs=[("CLIP_VISION", "CLIP_VISION")], models=("clip_vision_h.safetensors",))
    wf.column()
    pos, neg = wan_text(wf, clip.id, I2V_PROMPT)
    image = start_image(wf, 832, 480)
    seen = wf.add("CLIPVisionEncode", "CLIP vision of the start image", ["none"],
                  {"clip_vision": (cv.id, 0, "CLIP_VISION"), "image": (image.id, 0, "IMAGE")},
                  [("CLIP_VISION_OUTPUT", "CLIP_VISION_OUTPUT")])
    wf.column()
    cond = wf.add("WanImageToVideo", f"Start image, whole video: {_length(frames)} frames = {frames} latent",
                  [832, 480, _length(frames), 1],
                  {"positive": (pos.id, 0, "CONDITIONING"), "negative": (neg.id, 0, "CONDITIONING"),
                   "vae": (vae.id, 0, "VAE"), "clip_vision_output": (seen.id, 0, "CLIP_VISION_OUTPUT"),
                   "start_image": (image.id, 0, "IMAGE")},
                  [("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent", "LATENT")])
    queue = queue_init(wf, FIFO_WAN21, DIAGRAM_FIFO)
    wf.column()
    sink_and_sampler(wf, unet.id, cond, vae.id, queue.id, frames, 5.0, 16.0, "fifo_wan21_i2v")
    return wf


# The control video: a white square crossing a grey background from left to right in STEPS steps, each held HOLD
# frames, drawn at 1/8 of the video size (WanFunControlToVideo scales it to width x height).
CONTROL_W, CONTROL_H, SQUARE = 104, 60, 12
HOLD, DOUBLINGS = 30, 4  # 30 x 2^4 = 480 frames, 16 positions
GREY, WHITE = 0x808080, 0xFFFFFF


def control_video(wf: Workflow) -> Node:
    """A moving control video made with core nodes, so the workflow runs as shipped.

    The square at the left, held HOLD frames (RepeatImageBatch); then DOUBLINGS times: the batch so far, followed by
    the same batch with the square moved right by as many steps as the batch has positions (ImageCompositeMasked of
    the batch onto a grey background batch of its length, ImageBatch). 16 positions, 480 frames; the first ``length``
    frames are used.
    """
    step = (CONTROL_W - SQUARE) // (2 ** DOUBLINGS - 1)
    bg = wf.add("EmptyImage", "Control video: grey background", [CONTROL_W, CONTROL_H, 1, GREY],
                outputs=[("IMAGE", "IMAGE")])
    square = wf.add("EmptyImage", "Control video: white square", [SQUARE, SQUARE, 1, WHITE],
                    outputs=[("IMAGE", "IMAGE")])
    first = wf.add("ImageCompositeMasked", "The square at the left", [0, (CONTROL_H - SQUARE) // 2, False],
                   {"destination": (bg.id, 0, "IMAGE"), "source": (square.id, 0, "IMAGE")}, [("IMAGE", "IMAGE")])
    video = wf.add("RepeatImageBatch", f"Held {HOLD} frames", [HOLD], {"image": (first.id, 0, "IMAGE")},
                   [("IMAGE", "IMAGE")])
    for k in range(DOUBLINGS):
        n, shift = HOLD * 2 ** k, step * 2 ** k
        if k == 1:
            wf.column()
        back = wf.add("EmptyImage", f"Grey background x {n} frames", [CONTROL_W, CONTROL_H, n, GREY],
                      outputs=[("IMAGE", "IMAGE")])
        moved = wf.add("ImageCompositeMasked", f"The {n} frames so far, {shift} px further right", [shift, 0, False],
                       {"destination": (back.id, 0, "IMAGE"), "source": (video.id, 0, "IMAGE")}, [("IMAGE", "IMAGE")])
        video = wf.add("ImageBatch", f"Control video: {2 * n} frames" if k == DOUBLINGS - 1 else f"{2 * n} frames",
                       [], {"image1": (video.id, 0, "IMAGE"), "image2": (moved.id, 0, "IMAGE")}, [("IMAGE", "IMAGE")])
    return video


CONTROL_PROMPT = ("A white paper lantern floating from left to right through a dark misty forest at dusk, soft glow, "
                  "cinematic")


def fifo_wan21_fun_control() -> Workflow:
    frames = FRAMES
    plan = _plan({"fifo": FIFO_WAN21}, 21)
    total = HOLD * 2 ** DOUBLINGS
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _streamed("fifo_wan21_fun_control", _seconds(frames, 4, 16), "832x480", 16),
                  RESUME,
                  "The control video (a white square crossing a grey background) is made by the workflow; the video "
                  "follows it. For your own, replace it with Load Video + Get Video Components (a depth, pose or edge "
                  f"video of at least {_length(frames)} frames). " + ZOOM),
            "FIFO-Diffusion on Wan 2.1 Fun Control 1.3B (8-12 GB of VRAM at 480p): one long video whose motion "
            "follows a control video, past the model's 81-frame window.\n\n"
            + _files("wan2.1_fun_control_1.3B_bf16.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
                     "wan_2.1_vae.safetensors")
            + "\n" + _whole_video("WanFunControlToVideo", frames) + " So the control video moves forward with the "
              "queue, window by window. It must be at least length frames "
              "long (WanFunControlToVideo leaves the frames past its end without control).\n\n"
              f"The control video here: {total} frames of {CONTROL_W}x{CONTROL_H} (WanFunControlToVideo scales it "
              f"to 832x480), the square at {2 ** DOUBLINGS} positions, moving one step every {HOLD} frames; built "
              "by doubling (each ImageBatch appends the frames so far, moved further right).\n\n"
              "Settings: window_length 21 (81 frames), partitions 2 = 42 steps, lookahead on, cfg 6, 832x480.\n\n"
            + _expect(plan, frames, 4, 16) + "\n\n" + PREVIEW, 700)
    unet, clip, vae = wan21_loaders(wf, "wan2.1_fun_control_1.3B_bf16.safetensors")
    wf.column()
    pos, neg = wan_text(wf, clip.id, CONTROL_PROMPT)
    wf.column()
    control = control_video(wf)
    wf.column()
    cond = wf.add("WanFunControlToVideo", f"Control, whole video: {_length(frames)} frames = {frames} latent",
                  [832, 480, _length(frames), 1],
                  {"positive": (pos.id, 0, "CONDITIONING"), "negative": (neg.id, 0, "CONDITIONING"),
                   "vae": (vae.id, 0, "VAE"), "control_video": (control.id, 0, "IMAGE")},
                  [("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent", "LATENT")])
    queue = queue_init(wf, FIFO_WAN21, DIAGRAM_FIFO)
    wf.column()
    sink_and_sampler(wf, unet.id, cond, vae.id, queue.id, frames, 6.0, 16.0, "fifo_wan21_fun_control")
    return wf
