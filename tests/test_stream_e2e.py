"""Streaming through the real headless server: Cancel (POST /interrupt) and a killed server process (SIGKILL) in the
middle of a streamed run, then a resumed run whose video equals the uninterrupted run's frame for frame.

Runs the pack's trained shapes model with a small queue (window 4, 2 partitions, no lookahead) and lossless h264
(quality 0), so two encodes of the same frames decode to the same pixels and the comparison is exact."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from infinite_video.tools.testing.comfy_server import PACK_ROOT, start_server

SHAPES = PACK_ROOT / "models" / "shapes_wan21"
FRAMES = 30


def prompt(prefix: str, frames: int = FRAMES, resume: str = "", every: int = 4) -> dict:
    return {
        "1": {"class_type": "UNETLoader",
              "inputs": {"unet_name": "shapes_wan21.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "InfiniteVideo_EmptyConditioning", "inputs": {"width": 4096, "tokens": 1}},
        "3": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 128, "height": 128, "length": 13,
                                                                   "batch_size": 1}},
        "4": {"class_type": "InfiniteVideo_FIFOQueueInit", "inputs": {"window_length": 0, "partitions": 2,
                                                                       "lookahead": False, "init_mode": "noise"}},
        "5": {"class_type": "InfiniteVideo_VideoSink", "inputs": {
            "decode": "preview", "filename_prefix": prefix, "fps": 8.0, "codec": "h264 (mp4)", "quality": 0,
            "checkpoint_every": every, "resume": resume}},
        "6": {"class_type": "InfiniteVideo_Sampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["2", 0], "latent_image": ["3", 0],
            "queue": ["4", 0], "seed": 7, "frames": frames, "cfg": 1.0, "sampler_name": "euler", "eta": 1.0,
            "scheduler": "simple", "sink": ["5", 0]}},
    }


def frames_of(path: Path):
    from infinite_video.nodes.stream_video import read_frames

    return read_frames(str(path))


def video_of(server, entry) -> Path:
    (video,) = [p for p in server.saved_files(entry, "iv_video", node_id="6") if p.suffix == ".mp4"]
    return video


def wait_for_checkpoint(folder: Path, pattern: str, at_least: int, server, timeout: float = 300.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in folder.glob(pattern):
            try:
                data = torch.load(path, weights_only=True)
            except Exception:
                continue  # being renamed into place
            if data["latent_frames"] >= at_least:
                return path
        assert server.process.poll() is None, server.log_tail()
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint with {at_least} latent frames within {timeout} s\n" + server.log_tail())


@pytest.fixture(scope="module")
def output(comfy_host, tmp_path_factory):
    return tmp_path_factory.mktemp("stream_e2e")


@pytest.fixture(scope="module")
def reference(comfy_host, output):
    with start_server(comfy_host, model_folders={"diffusion_models": [SHAPES]}, output_dir=output) as server:
        entry = server.run(prompt("ref/full", every=0))
        return frames_of(video_of(server, entry))


def test_killed_server_then_resume_keeps_every_frame(comfy_host, output, reference):
    assert reference.shape[0] == FRAMES
    with start_server(comfy_host, model_folders={"diffusion_models": [SHAPES]}, output_dir=output) as server:
        server.post_prompt(prompt("kill/run"))
        ckpt = wait_for_checkpoint(output / "kill", "run_*.ivckpt", 8, server)
        server.process.kill()  # SIGKILL: no clean-up of any kind
        server.process.wait()
    data = torch.load(ckpt, weights_only=True)
    k = data["latent_frames"]
    assert 8 <= k < FRAMES
    (cut,) = (output / "kill").glob("run_*.mp4")
    cut_frames = frames_of(cut)  # a fragmented mp4 stays readable after a kill, up to its last closed fragment
    assert k <= cut_frames.shape[0] < FRAMES and (cut_frames == reference[:cut_frames.shape[0]]).all()
    with start_server(comfy_host, model_folders={"diffusion_models": [SHAPES]}, output_dir=output) as server:
        entry = server.run(prompt("kill/run", resume=f"kill/{ckpt.name}"))
        resumed = video_of(server, entry)
    assert resumed == cut, "a resumed run continues the stopped video under its name"
    assert (frames_of(resumed) == reference).all()
    assert sorted(p.name for p in (output / "kill").iterdir()) == [cut.name], "checkpoint spent, no part file left"


def test_cancel_then_resume_keeps_every_frame(comfy_host, output, reference):
    with start_server(comfy_host, model_folders={"diffusion_models": [SHAPES]}, output_dir=output) as server:
        prompt_id = server.post_prompt(prompt("cancel/run"))["prompt_id"]
        wait_for_checkpoint(output / "cancel", "run_*.ivckpt", 8, server)
        server.request("POST", "/interrupt", {})
        entry = server.wait_history(prompt_id)
        events = [event for event, _ in entry["status"]["messages"]]
        assert "execution_interrupted" in events
        (ckpt,) = (output / "cancel").glob("run_*.ivckpt")
        (cut,) = (output / "cancel").glob("run_*.mp4")
        k = torch.load(ckpt, weights_only=True)["latent_frames"]
        cut_frames = frames_of(cut)
        assert cut_frames.shape[0] == k < FRAMES, "Cancel closes the file on the checkpoint's last frame"
        entry = server.run(prompt("cancel/run", resume=f"cancel/{ckpt.name}"))
        assert video_of(server, entry) == cut and (frames_of(cut) == reference).all()
        assert sorted(p.name for p in (output / "cancel").iterdir()) == [cut.name], "checkpoint spent, no part file"
        # a second server keeps working after all this
        assert server.run(prompt("cancel/after", frames=3, every=0))["status"]["status_str"] == "success"
