"""Example workflow for speed: a step-distilled Wan 2.1 (a 4-step LoRA, cfg 1) on FIFO's queue with groups and the
``auto clip`` start, registered in :data:`.ui_workflows.WORKFLOWS`.

LightX2V publishes its 4-step (step and cfg distilled) LoRAs for Wan 2.1 T2V only for the 14B model (the repository
``lightx2v/Wan2.1-Distill-Loras`` holds a T2V 14B and an I2V 14B LoRA; there is none for 1.3B), so this workflow
loads Wan 2.1 T2V 14B. The figures in its Note (model calls, steps) come from a run of the samplers' own loop on
blank latents with a counting denoiser, so the Note and the run cannot disagree.
"""

from __future__ import annotations

from .ui_workflows import (
    DIAGRAM_FIFO,
    MODELS,
    PREVIEW,
    ZOOM,
    Workflow,
    _download,
    _files,
    _saved,
    _seconds,
    _todo,
    decode_and_save,
    fifo_sampler,
    queue_init,
    wan21_loaders,
    wan_text,
)

MODEL_14B = "wan2.1_t2v_14B_fp8_e4m3fn.safetensors"
LORA_4STEP = "wan2.1_t2v_14b_lora_rank64_lightx2v_4step.safetensors"
LORA_URL = f"https://huggingface.co/lightx2v/Wan2.1-Distill-Loras/resolve/main/{LORA_4STEP}"

# window 20 latent frames (77 video frames) in groups of 5 = 4 levels, 1 partition: the LoRA's 4 steps
FAST_FIFO = (20, 1, False, "auto clip", 5)


def counted_calls(window: int, partitions: int, lookahead: bool, init: str, group: int, frames: int) -> int:
    """Model calls of a whole run, counted on the samplers' own loop (blank latents, a trivial denoiser)."""
    import torch

    from infinite_video.samplers import plan_fifo, sample_fifo

    plan = plan_fifo(window, partitions, lookahead, init, group)
    calls = []

    def den(x, sigma, prompts=None):
        calls.append(1)
        return torch.zeros_like(x)

    sample_fifo(den, torch.zeros(1, 1, window, 1, 1), torch.linspace(1.0, 0.0, plan.steps + 1), plan, frames,
                generator=torch.Generator().manual_seed(0))
    return len(calls)


def _expect_fast(frames: int, fps: float) -> str:
    window, partitions, lookahead, init, group = FAST_FIFO
    steps = window // group * partitions
    video = 4 * (frames - 1) + 1
    calls = counted_calls(*FAST_FIFO, frames)
    native = -(-frames // window) * steps
    with_la = counted_calls(window, partitions, True, init, group, frames)
    return (f"Output: {frames} latent frames = {video} video frames = {video / fps:.0f} s at {fps:.0f} fps; nothing "
            f"is discarded (init_mode auto clip: the first {window} latent frames are one native clip, the queue "
            f"continues it).\n"
            f"Cost: {calls} model calls for the whole video, {steps} steps per frame, cfg 1 (one pass per call); "
            f"native clips of {window} latent frames at {steps} steps would take {native} calls for the same length "
            f"(without any continuity between them). Lookahead on: {with_la} calls (smoother motion at the group "
            f"borders). One call denoises one window of {window} latent frames.")


def fifo_wan21_4step() -> Workflow:
    frames, fps = 120, 16.0
    wf = Workflow()
    wf.column()
    wf.note(_todo(_download(), _saved("fifo_wan21_4step", _seconds(frames, 4, fps), "832x480", fps),
                  "Change the prompt (Prompt node) and press Run again for another video. " + ZOOM),
            "A fast long text-to-video: Wan 2.1 T2V with LightX2V's 4-step distillation LoRA (cfg 1, 4 steps) on "
            "FIFO-Diffusion's queue with groups. The LoRA exists only for the 14B model (none is published for "
            "1.3B), so this workflow loads Wan 2.1 T2V 14B (the fp8 file, loaded with weight_dtype fp8_e4m3fn).\n\n"
            + _files(MODEL_14B, LORA_4STEP, "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan_2.1_vae.safetensors")
            + f"\nDownload addresses:\n- {MODELS[MODEL_14B][0]}\n- {LORA_URL}\n\n"
            "Settings: window_length 20 latent frames (77 video frames), group_size 5 = 4 groups sharing a noise "
            "level each, partitions 1: the queue has window / group x partitions = 4 levels, the LoRA's 4 steps; "
            "every iteration one call and 5 latent frames out. init_mode auto clip; lookahead off (fastest). "
            "cfg 1 and steps come from the LoRA: keep them.\n\n"
            + _expect_fast(frames, fps) + "\n\n" + PREVIEW, height=640)
    unet, clip, vae = wan21_loaders(wf, MODEL_14B, "fp8_e4m3fn")
    lora = wf.add("LoraLoaderModelOnly", "4-step LoRA (LightX2V, cfg 1)", [LORA_4STEP, 1.0],
                  {"model": (unet.id, 0, "MODEL")}, [("MODEL", "MODEL")], models=(LORA_4STEP,))
    wf.column()
    pos, neg = wan_text(wf, clip.id, "A hot air balloon drifting over green hills at sunrise, slow aerial tracking "
                                     "shot, warm light, cinematic")
    latent = wf.add("EmptyHunyuanLatentVideo", "Window: 77 frames = 20 latent frames", [832, 480, 77, 1],
                    outputs=[("LATENT", "LATENT")])
    queue = queue_init(wf, FAST_FIFO, DIAGRAM_FIFO)
    wf.column()
    s = fifo_sampler(wf, lora.id, (pos.id, 0, "CONDITIONING"), (neg.id, 0, "CONDITIONING"), latent.id, queue.id,
                     frames, 1.0)
    decode_and_save(wf, s, vae.id, fps, "fifo_wan21_4step")
    return wf
