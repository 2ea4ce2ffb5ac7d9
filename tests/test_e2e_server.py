"""End to end through the real headless ComfyUI server on 127.0.0.1 with the pack loaded (API-format workflows)."""

from __future__ import annotations

import copy

import pytest

from infinite_video.tools.testing.comfy_server import PACK_ROOT, ServerError, load_api_workflow, read_latent
from infinite_video.tools.testing.malformed_cases import miga_chain

pytestmark = pytest.mark.host

# Node ids are public API: saved workflows refer to them. Never rename one once shipped.
NODE_IDS = {
    "InfiniteVideo_FIFOQueueInit": "FIFO Queue Init",
    "InfiniteVideo_Sampler": "Infinite Video Sampler",
    "InfiniteVideo_QueueSampler": "Infinite Video Queue Sampler (custom)",
    "InfiniteVideo_ConditioningFrameRange": "Conditioning Frame Range",
    "InfiniteVideo_ZigzagStage": "Zigzag Stage",
    "InfiniteVideo_UnifiedStage": "Unified Stage",
    "InfiniteVideo_SelfReflection": "Self-Reflection",
    "InfiniteVideo_LongRangeGuidance": "Long-Range Guidance",
    "InfiniteVideo_KStepNoiseSearch": "K-Step Noise Search",
    "InfiniteVideo_EmptyConditioning": "Empty Conditioning",
    "InfiniteVideo_LatentPreviewDecode": "Latent Preview Decode",
    "InfiniteVideo_Continuation": "Chunked Continuation",
}


def fifo_prompt() -> dict:
    return load_api_workflow(PACK_ROOT / "example_workflows" / "api" / "fifo_tiny_wan.json")


def test_every_node_is_listed_with_display_name_and_tooltips(comfy_server):
    info = comfy_server.object_info()
    ours = {k for k in info if k.startswith("InfiniteVideo_")}
    assert set(NODE_IDS) <= ours, f"missing from /object_info: {set(NODE_IDS) - ours}"
    for node_id in ours:
        node = info[node_id]
        if node_id in NODE_IDS:
            assert node["display_name"] == NODE_IDS[node_id]
        for section in ("required", "optional"):
            for name, spec in node["input"].get(section, {}).items():
                opts = spec[1] if len(spec) > 1 else {}
                assert opts.get("tooltip"), f"{node_id}.{name} has no tooltip"


def test_prompt_switching_workflow_saves_every_frame(comfy_server):
    prompt = fifo_prompt()
    prompt["8"] = {"class_type": "IVTest_RandomConditioning", "inputs": {"seed": 9, "tokens": 8, "dim": 4096}}
    prompt["9"] = {"class_type": "InfiniteVideo_ConditioningFrameRange",
                   "inputs": {"conditioning": ["2", 0], "start_frame": 0, "end_frame": 6}}
    prompt["10"] = {"class_type": "InfiniteVideo_ConditioningFrameRange",
                    "inputs": {"conditioning": ["8", 0], "start_frame": 6, "end_frame": 0}}
    prompt["11"] = {"class_type": "ConditioningCombine",
                    "inputs": {"conditioning_1": ["9", 0], "conditioning_2": ["10", 0]}}
    prompt["6"]["inputs"].update(positive=["11", 0], frames=13, sampler_name="euler_ancestral")
    prompt["7"]["inputs"]["filename_prefix"] = "e2e/prompt_switch"
    entry = comfy_server.run(prompt)
    (path,) = comfy_server.saved_files(entry, "latents")
    assert read_latent(path).shape == (1, 16, 13, 8, 8)


def test_full_miga_chain_saves_every_frame(comfy_server):
    """FIFO Queue Init -> Zigzag -> Unified -> Self-Reflection -> Long-Range Guidance -> sampler, via the API."""
    prompt = fifo_prompt()
    miga_chain(prompt)  # window of 8 latent frames: Zigzag 20 -> Unified 21 -> Self-Reflection 22 -> Guidance 23
    prompt["6"]["inputs"]["frames"] = 10
    prompt["7"]["inputs"]["filename_prefix"] = "e2e/miga"
    info = comfy_server.object_info()
    for node_id in ("20", "21", "22", "23"):  # keep the test's widget names in step with the schema
        spec = info[prompt[node_id]["class_type"]]["input"]
        names = set(spec.get("required", {})) | set(spec.get("optional", {}))
        assert set(prompt[node_id]["inputs"]) == names, (prompt[node_id]["class_type"], names)
    entry = comfy_server.run(prompt)
    (path,) = comfy_server.saved_files(entry, "latents")
    assert read_latent(path).shape == (1, 16, 10, 8, 8)


def test_malformed_workflows_get_node_errors(comfy_server):
    # a missing required input
    prompt = fifo_prompt()
    del prompt["6"]["inputs"]["queue"]
    status, body = comfy_server.post_prompt_raw(prompt)
    assert status == 400
    errors = body["node_errors"]["6"]["errors"]
    assert any(e["type"] == "required_input_missing" and "queue" in str(e["details"]) for e in errors)
    # zero frames
    prompt = fifo_prompt()
    prompt["6"]["inputs"]["frames"] = 0
    status, body = comfy_server.post_prompt_raw(prompt)
    assert status == 400
    assert body["node_errors"]["6"]["errors"][0]["type"] == "value_smaller_than_min"
    # a CONDITIONING wired into the queue socket
    prompt = fifo_prompt()
    prompt["6"]["inputs"]["queue"] = ["2", 0]
    status, body = comfy_server.post_prompt_raw(prompt)
    assert status == 400
    assert body["node_errors"]["6"]["errors"][0]["type"] == "return_type_mismatch"
    # an end frame before the start frame
    prompt = fifo_prompt()
    prompt["9"] = {"class_type": "InfiniteVideo_ConditioningFrameRange",
                   "inputs": {"conditioning": ["2", 0], "start_frame": 5, "end_frame": 3}}
    prompt["6"]["inputs"]["positive"] = ["9", 0]
    status, body = comfy_server.post_prompt_raw(prompt)
    assert status == 400
    assert "end_frame (3) must be after start_frame (5)" in str(body["node_errors"]["9"])


def test_runtime_errors_name_the_input_and_fix(comfy_server):
    """A schedule of the wrong length fails at run time with a message that says what to change."""
    prompt = fifo_prompt()
    prompt["12"] = {"class_type": "BasicScheduler",
                    "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 7, "denoise": 1.0}}
    prompt["6"]["inputs"]["sigmas"] = ["12", 0]
    with pytest.raises(ServerError, match="needs exactly window_length x partitions = 5 x 2 = 10 steps"):
        comfy_server.run(prompt)
    # a window longer than the latent
    prompt = fifo_prompt()
    prompt["5"]["inputs"]["window_length"] = 9
    with pytest.raises(ServerError, match="window_length 9 is longer than the latent's 5 frames"):
        comfy_server.run(copy.deepcopy(prompt))


def test_main_job_workflow_writes_a_watchable_video(comfy_server):
    """The main job's workflow (FIFO + DCE on the trained shapes model, streamed by a Video Sink), shortened."""
    import av

    prompt = load_api_workflow(PACK_ROOT / "example_workflows" / "api" / "shapes_long_video.json")
    prompt["9"]["inputs"]["frames"] = 12
    prompt["14"]["inputs"]["filename_prefix"] = prompt["13"]["inputs"]["filename_prefix"] = "e2e/shapes"
    entry = comfy_server.run(prompt, timeout=600)
    latent = read_latent(comfy_server.saved_files(entry, "latents")[0])
    assert list(latent.shape) == [1, 16, 9, 16, 16], "with a sink the sampler returns its last window only"
    videos = [p for p in comfy_server.saved_files(entry, "iv_video", node_id="9") if p.suffix == ".mp4"]
    assert len(videos) == 1 and videos[0].is_file(), "the sampler shows the streamed file as its UI output"
    with av.open(str(videos[0])) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 12 and frames[0].shape == (128, 128, 3)
    assert max(float(f.std()) for f in frames) > 10, "the video must show content, not one flat colour"
