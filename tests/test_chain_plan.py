"""The whole chain's plan (what the queue diagram draws) against the samplers' own runs with toy denoisers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from infinite_video.samplers.chain_plan import plan_chain
from infinite_video.samplers.config import (
    ContinuationConfig,
    GuidanceConfig,
    QueueConfig,
    ReflectionConfig,
    UnifiedConfig,
    ZigzagConfig,
)
from infinite_video.samplers.continuation import sample_continuation
from infinite_video.samplers.fifo import sample_fifo
from infinite_video.samplers.miga import MigaStats, sample_miga
from infinite_video.samplers.miga_presets import MIGA_PRESETS
from infinite_video.samplers.miga_setup import miga_steps

W = 8
ZZ = ZigzagConfig(steps=12, group=2, end_step=8)
UN = UnifiedConfig(steps=4, renoise=True, renoise_step=8)


def tanh(x, sigma, prompts=None):
    return torch.tanh(x) * 0.5


class Flip:
    """Flips its output every few calls, so some self-reflection judgments trigger."""

    def __init__(self):
        self.k = 0

    def __call__(self, x, sigma, prompts=None):
        self.k += 1
        return -torch.tanh(x) if self.k % 7 == 0 else torch.tanh(x)


def miga_run(cfg, frames, den=tanh):
    stats = MigaStats()
    sig = torch.linspace(1.0, 0.0, miga_steps(cfg, W) + 1)
    sample_miga(cfg, den, torch.zeros(1, 2, W, 3, 3), sig, frames, generator=torch.Generator().manual_seed(0),
                stats=stats)
    return stats


def test_fifo_chain_is_fifos_plan():
    d = plan_chain(QueueConfig(4, 2, True, "noise"), 4)
    assert d["kind"] == "fifo" and d["steps"] == 8 and d["warmup"] == 8 and d["slots"] == 10
    assert d["calls"]["expected"] == d["calls"]["worst"] == 4 and d["ignored"] == []
    assert d["levels"][:d["pad"]] == [8] * d["pad"] and d["levels"][d["head"]] == 7 and d["levels"][-1] == 0


@pytest.mark.parametrize("cfg", [QueueConfig(4, 3, False, "noise"), QueueConfig(8, 2, True, "noise", group=2)])
def test_fifo_calls_per_frame_match_a_run(cfg):
    calls = []

    def counted(x, sigma, prompts=None):
        calls.append(1)
        return tanh(x, sigma)

    d = plan_chain(cfg, cfg.window)
    frames = 10
    sample_fifo(counted, torch.zeros(1, 2, cfg.window, 3, 3), torch.linspace(1, 0, d["steps"] + 1),
                cfg.fifo_plan(cfg.window), frames, generator=torch.Generator().manual_seed(0))
    assert len(calls) == (frames + d["warmup"]) * d["calls"]["expected"]
    assert d["group"] == cfg.group and d["levels"] == list(cfg.fifo_plan(cfg.window).levels)


@pytest.mark.parametrize("parts", [dict(zigzag=ZZ), dict(zigzag=ZZ, unified=UN),
                                   dict(zigzag=ZZ, unified=UN, guidance=GuidanceConfig(2, "queue"))])
def test_miga_expected_calls_per_frame_match_a_run(parts):
    """Stage 1 + unified calls per output frame: the plan's figure against the loop's counters on a long run (the
    start-up and flush are the difference, which shrinks with length)."""
    cfg = QueueConfig(W, 2, True, "noise", **parts)
    d = plan_chain(cfg, W)
    st = miga_run(cfg, 400)
    assert st.reflection_calls == 0
    assert st.stage1_calls / st.output_latents == pytest.approx(d["calls"]["queue"], rel=0.08)
    assert st.unified_calls / st.output_latents == pytest.approx(d["calls"]["unified"], rel=0.08)


def test_reflection_worst_case_is_the_cost_of_triggering_every_judgment():
    cfg = QueueConfig(W, 2, True, "noise", zigzag=ZZ, unified=UN,
                      reflection=ReflectionConfig(candidates=2, threshold=0.0, judged_level=3))
    d = plan_chain(cfg, W)
    st = miga_run(cfg, 60, den=Flip())
    assert st.triggers > 0
    per_trigger = st.reflection_calls / st.triggers
    assert d["calls"]["reflection_worst"] == pytest.approx(per_trigger / d["group"])
    assert d["calls"]["worst"] == pytest.approx(d["calls"]["expected"] + d["calls"]["reflection_worst"])


def test_official_wan_preset_plan():
    d = plan_chain(MIGA_PRESETS["wan21"].queue(), 21)
    assert (d["kind"], d["steps"], d["group"], d["queue"], d["slide"]) == ("miga", 54, 7, 44 * 7, 17)
    assert d["unified"]["sweeps"] == 20 and d["calls"]["worst"] > d["calls"]["expected"] > 0
    assert all(len(w["memory"]) in (0, 4) for w in d["windows"])
    assert {i["input"] for i in d["ignored"]} == {"partitions", "lookahead", "history_span"}


def test_ignored_settings_are_named():
    base = QueueConfig(W, 2, True, "noise")
    assert plan_chain(base, W)["ignored"] == []
    zz_only = plan_chain(dataclasses.replace(base, zigzag=ZZ), W)["ignored"]
    assert [(i["node"], i["input"]) for i in zz_only] == [
        ("InfiniteVideo_FIFOQueueInit", "partitions"), ("InfiniteVideo_FIFOQueueInit", "lookahead"),
        ("InfiniteVideo_ZigzagStage", "end_step")]
    no_renoise = dataclasses.replace(base, zigzag=ZZ, unified=dataclasses.replace(UN, renoise=False))
    assert ("InfiniteVideo_UnifiedStage", "re_noise_step") in [(i["node"], i["input"])
                                                              for i in plan_chain(no_renoise, W)["ignored"]]


@pytest.mark.parametrize("parts,title", [
    ({}, "FIFO"),
    (dict(reflection=ReflectionConfig(judged_level=3), guidance=GuidanceConfig(2, "queue")),
     "FIFO + Self-Reflection + Long-Range Guidance"),
    (dict(zigzag=ZZ, unified=UN, reflection=ReflectionConfig(judged_level=3), guidance=GuidanceConfig(2, "queue")),
     "MIGA"),
    (dict(zigzag=ZZ, unified=UN), "MIGA (Zigzag Stage + Unified Stage)"),
])
def test_title_names_what_runs(parts, title):
    """MIGA's parts on FIFO's queue (no Zigzag Stage) run FIFO's diagonal queue: the title says FIFO, not MIGA."""
    assert plan_chain(QueueConfig(W, 2, True, "noise", **parts), W)["title"] == title


def test_impossible_chain_raises_the_samplers_error():
    with pytest.raises(ValueError, match="Unified Stage needs a Zigzag Stage"):
        plan_chain(QueueConfig(W, 2, True, "noise", unified=UN), W)
    with pytest.raises(ValueError, match="window_length 9 is longer than the latent's 8 frames"):
        plan_chain(QueueConfig(9, 2, True, "noise", zigzag=ZZ), 8)


class PositionsSeen:
    """Records each call's window positions and per-frame sigmas (the denoiser contract with positions)."""

    def __init__(self):
        self.calls: list[tuple[list[int], list[float]]] = []

    def __call__(self, x, sigma, prompts=None, positions=None):
        self.calls.append((positions.tolist(), sigma[0].tolist()))
        return torch.tanh(x) * 0.5


def test_continuation_chain_is_the_window_a_run_uses():
    """The plan's window (anchors, newest finished, chunk) is the last full chunk's window in a real run, its levels
    the sigmas that call gets (clean context, the chunk at fresh noise on the first step), and its calls per output
    latent the run's steady-state cost: steps / chunk."""
    cont = ContinuationConfig(chunk=3, anchors=2, anchor_every=5)
    cfg = QueueConfig(W, 2, True, "noise", continuation=cont)
    d = plan_chain(cfg, W)
    assert d["kind"] == "continuation" and d["title"] == "Chunked Continuation" and d["steps"] == 2 * W
    assert d["anchors"] == [0, 5] and d["roles"] == ["anchor"] * 2 + ["recent"] * 3 + ["new"] * 3
    assert d["windows"] == [{"read": [0, W], "write": [5, W], "memory": [0, 1]}]
    assert d["calls"]["expected"] == d["calls"]["worst"] == pytest.approx(16 / 3)
    assert [(i["node"], i["input"]) for i in d["ignored"]] == [("InfiniteVideo_FIFOQueueInit", "lookahead")]

    den, frames = PositionsSeen(), W + 3 * 6
    sample_continuation(cont, den, torch.zeros(1, 2, W, 3, 3), torch.linspace(1.0, 0.0, d["steps"] + 1), W, frames,
                        generator=torch.Generator().manual_seed(0))
    assert len(den.calls) == d["steps"] * (1 + (frames - W) // 3)  # the first chunk fills the window, then chunks
    positions, sigmas = den.calls[-d["steps"]]  # the first step of the last chunk
    done = frames - 3
    roles = ["anchor" if p in d["anchors"] else "recent" if p < done else "new" for p in positions]
    assert roles == d["roles"] and positions[:2] == d["anchors"]
    assert [s == 0.0 for s in sigmas] == [lv == d["steps"] for lv in d["levels"]]


def test_continuation_chain_in_flight_is_the_window_a_run_uses():
    """With 2 chunks in flight the plan's window holds both chunks (the older half way down the ladder), its calls per
    output latent are ceil(steps / 2) / chunk, and a real run's steady-state tick starts with exactly those levels."""
    cont = ContinuationConfig(chunk=2, anchors=2, anchor_every=5, in_flight=2)
    cfg = QueueConfig(W, 2, True, "noise", continuation=cont)
    d = plan_chain(cfg, W)
    steps, h = 2 * W, W  # 16 steps, 8 calls a tick
    assert d["in_flight"] == 2 and d["per_tick"] == h and d["calls"]["expected"] == pytest.approx(h / 2)
    assert d["roles"] == ["anchor"] * 2 + ["recent"] * 2 + ["new"] * 4
    assert d["levels"] == [steps] * 4 + [h, h, 0, 0]
    den, frames = PositionsSeen(), W + 2 * 6
    sample_continuation(cont, den, torch.zeros(1, 2, W, 3, 3), torch.linspace(1.0, 0.0, steps + 1), W, frames,
                        generator=torch.Generator().manual_seed(0))
    ticks = 6 + 1  # a chunk starts every tick, the last one needs one more to drain
    assert len(den.calls) == steps + ticks * h
    ladder = torch.linspace(1.0, 0.0, steps + 1)
    positions, sigmas = den.calls[steps + (ticks - 2) * h]  # the last tick with two chunks in flight
    assert positions[:2] == d["anchors"]
    torch.testing.assert_close(torch.tensor(sigmas), ladder[d["levels"]])


def test_continuation_chain_with_denoise_and_tracking_is_the_window_a_run_uses():
    """Below 1 denoise a chunk skips the top of the ladder: the plan's calls per output latent are the steps it runs
    over the chunk, its new slots start at the skipped level, and a real run makes exactly those calls."""
    cont = ContinuationConfig(chunk=3, anchors=2, anchor_every=5, track=2.0, denoise=0.5)
    cfg = QueueConfig(W, 2, True, "noise", continuation=cont)
    d = plan_chain(cfg, W)
    steps = 2 * W
    assert d["skip"] == 8 and d["per_tick"] == 8 and d["context"] == "tracked"
    assert d["calls"]["expected"] == pytest.approx(8 / 3)
    assert d["levels"] == [steps] * 5 + [8] * 3
    assert plan_chain(QueueConfig(W, 2, True, "noise", continuation=ContinuationConfig(3, 2, 5)), W)["context"] == \
        "clean"
    den, frames = PositionsSeen(), W + 3 * 6
    sample_continuation(cont, den, torch.zeros(1, 2, W, 3, 3), torch.linspace(1.0, 0.0, steps + 1), W, frames,
                        generator=torch.Generator().manual_seed(0))
    assert len(den.calls) == steps + 6 * d["per_tick"]
    ladder = torch.linspace(1.0, 0.0, steps + 1)
    _, sigmas = den.calls[-d["per_tick"]]  # the first call of the last chunk: one level, the skipped one
    torch.testing.assert_close(torch.tensor(sigmas), ladder[d["levels"][-1]].expand(W))


def test_continuation_chain_refuses_what_the_run_refuses():
    with pytest.raises(ValueError, match="continuation replaces the queue"):
        plan_chain(QueueConfig(W, 2, True, "noise", zigzag=ZZ, continuation=ContinuationConfig(3, 2, 5)), W)
    with pytest.raises(ValueError, match="continuation anchors 5 must be in"):
        plan_chain(QueueConfig(W, 2, True, "noise", continuation=ContinuationConfig(3, 5, 5)), W)
    with pytest.raises(ValueError, match="window_length 9 is longer than the latent's 8 frames"):
        plan_chain(QueueConfig(9, 2, True, "noise", continuation=ContinuationConfig(3, 2, 5)), 8)
    no_anchors = plan_chain(QueueConfig(W, 2, True, "noise", continuation=ContinuationConfig(3, 0, 5)), W)
    assert no_anchors["roles"] == ["recent"] * 5 + ["new"] * 3
    assert ("InfiniteVideo_Continuation", "anchor_every") in [(i["node"], i["input"]) for i in no_anchors["ignored"]]
