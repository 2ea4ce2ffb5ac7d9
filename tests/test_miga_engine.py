"""MIGA sampling loop with toy denoisers (no ComfyUI): counts, sweep invariants, guidance, reflection, memory,
errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from infinite_video.samplers.config import (
    GuidanceConfig,
    QueueConfig,
    ReflectionConfig,
    UnifiedConfig,
    ZigzagConfig,
)
from infinite_video.samplers.miga import MigaStats, sample_miga
from infinite_video.samplers.miga_presets import MIGA_PRESETS, preset_note
from infinite_video.samplers.miga_setup import miga_steps, prepare_miga, resolve_miga
from infinite_video.samplers.steps import flow_noise_scaling, ve_noise_scaling
from infinite_video.tools.testing.position_echo import PositionEcho

W = 8  # toy window


def ladder(steps: int, top: float = 1.0) -> torch.Tensor:
    return torch.linspace(top, 0.0, steps + 1)


def zero(x, sigma, prompts=None):
    return torch.zeros_like(x)


def tanh(x, sigma, prompts=None):
    return torch.tanh(x) * 0.5


def run(cfg, frames, den=tanh, latent=None, seed=0, **kw):
    latent = torch.zeros(1, 2, W, 3, 3) if latent is None else latent
    sig = kw.pop("sigmas", None)
    if sig is None:
        sig = ladder(miga_steps(cfg, latent.shape[2]))
    stats = kw.pop("stats", MigaStats())
    out = sample_miga(cfg, den, latent, sig, frames, generator=torch.Generator().manual_seed(seed), stats=stats, **kw)
    return out, stats


ZZ = ZigzagConfig(steps=12, group=2, end_step=8)
UN = UnifiedConfig(steps=4, renoise=True, renoise_step=8)
CONFIGS = {
    "zigzag": QueueConfig(W, 2, True, "noise", zigzag=ZZ),
    "tta": QueueConfig(W, 2, True, "noise", zigzag=ZZ, unified=UN),
    "dce": QueueConfig(W, 3, True, "noise", reflection=ReflectionConfig(judged_level=3),
                       guidance=GuidanceConfig(2, "queue")),
    "full": QueueConfig(W, 2, True, "clip", zigzag=ZZ, unified=UN, reflection=ReflectionConfig(judged_level=2),
                        guidance=GuidanceConfig(2, "queue")),
    "history": QueueConfig(W, 2, True, "noise", zigzag=ZZ, unified=UN, guidance=GuidanceConfig(2, "history", 6)),
}


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("frames", [1, 7, 23])
def test_output_frame_count(name, frames):
    out, st = run(CONFIGS[name], frames, latent=torch.randn(2, 2, W, 3, 3))
    assert out.shape == (2, 2, frames, 3, 3)
    assert st.output_latents == frames and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["zigzag", "dce", "history"])
def test_each_latent_steps_exactly_once_per_sweep(name):
    """D = 0 with VE scaling: x / sigma of a queue latent stays its initial noise iff it steps once per sweep."""
    cfg = dataclasses.replace(CONFIGS[name], reflection=None)
    sig = ladder(miga_steps(cfg, W), top=2.0)
    seen: dict[int, torch.Tensor] = {}
    checked = 0

    def cb(info):
        nonlocal checked
        for p, (e, s) in enumerate(zip(info["entries"], info["sigma"])):
            if float(s) == 0.0:
                continue
            ratio = info["x"][:, :, p] / s
            if e in seen:
                torch.testing.assert_close(ratio, seen[e], rtol=1e-5, atol=1e-6)
                checked += 1
            else:
                seen[e] = ratio
    run(cfg, 30, den=zero, sigmas=sig, noise_scaling=ve_noise_scaling, callback=cb)
    assert checked > 200


def test_group_dequeue_enqueue_counts_in_steady_state():
    cfg = CONFIGS["zigzag"]
    setup = resolve_miga(cfg, W, 60)
    g, e = setup.group, setup.end_level
    sizes, entries = [], []
    run(cfg, 60, callback=lambda i: (sizes.append(i["x"].shape[2]), entries.append(i["entries"])))
    # between iterations the steady-state queue holds E groups; one group out, one in per iteration
    steady = sizes[setup.zigzag.warmup:]
    assert len(steady) > 20 and set(steady) == {e * g}
    for a, b in zip(entries[setup.zigzag.warmup:], entries[setup.zigzag.warmup + 1:]):
        assert b[:-g] == a[g:] and b[-g:] == [a[-1] + 1 + k for k in range(g)]


def test_guidance_latents_at_planned_positions_and_discarded():
    """Record what the model receives: memory latents (own levels) are prepended; changing their output is a no-op."""
    cfg = dataclasses.replace(CONFIGS["zigzag"], guidance=GuidanceConfig(2, "queue"))
    setup = resolve_miga(cfg, W, 10)
    sig = ladder(miga_steps(cfg, W))
    calls = []

    def den(x, s, prompts=None):
        calls.append(s[0].clone())
        return torch.tanh(x) * 0.5
    base, _ = run(cfg, 10, den=den, sigmas=sig)
    assert all(c.shape[0] == W for c in calls)
    # in steady state the windows whose memory is group-wise get sigmas of their memory latents first
    plan = setup.zigzag
    lv = plan.levels
    with_mem = [w for w in plan.windows(0) if w.memory]
    assert with_mem
    expected = [sig[[lv[i] for i in w.inputs]] for w in with_mem]
    got = [c for c in calls if any(torch.equal(c, e) for e in expected)]
    assert got, "no model call saw the planned memory levels"

    # the same run with garbage at the memory outputs of those windows: identical result (outputs discarded)
    calls.clear()
    alt, _ = run(cfg, 10, den=lambda x, s, prompts=None: _mask_memory(x, s, with_mem, sig, lv), sigmas=sig)
    torch.testing.assert_close(alt, base)


def _mask_memory(x, s, with_mem, sig, lv):
    out = torch.tanh(x) * 0.5
    for w in with_mem:
        if torch.equal(s[0], sig[[lv[i] for i in w.inputs]]):
            out[:, :, :len(w.memory)] = 123.0
    return out


def test_history_guidance_feeds_clean_latents():
    cfg = CONFIGS["history"]
    zeros = []

    def den(x, s, prompts=None):
        zeros.append(int((s[0] == 0).sum()))
        return torch.tanh(x) * 0.5
    run(cfg, 40, den=den)
    assert max(zeros) == 2  # two clean history latents prepended once the bank holds them


class Drift:
    """Denoiser that makes one group drift: latents with a given stream id get a different content while noisy."""

    def __init__(self):
        self.k = 0

    def __call__(self, x, s, prompts=None):
        self.k += 1
        out = torch.tanh(x) * 0.5
        # a content flip every few calls: some judged groups will disagree with their references
        if self.k % 7 == 0:
            out = -out
        return out


def test_reflection_triggers_counts_and_selection():
    cfg = CONFIGS["full"]
    out, st = run(cfg, 40, den=Drift(), latent=torch.randn(1, 2, W, 3, 3))
    assert st.judgments > 10 and st.triggers > 0 and st.accepted <= st.triggers
    setup = resolve_miga(cfg, W, 40)
    assert st.reflection_calls > 0 and st.model_calls == st.stage1_calls + st.reflection_calls + st.unified_calls
    # threshold 2 never triggers (a cosine drop is at most 2); threshold 0 triggers on any drop
    never = dataclasses.replace(cfg, reflection=dataclasses.replace(cfg.reflection, threshold=2.0))
    _, st2 = run(never, 40, den=Drift(), latent=torch.randn(1, 2, W, 3, 3))
    assert st2.triggers == 0 and st2.reflection_calls == 0 and st2.judgments == st.judgments
    assert setup.references == (W - 1) // 2


def test_reflection_keeps_best_candidate_only_if_better():
    """A denoiser that returns the references' content for regenerated latents makes every candidate win."""
    cfg = QueueConfig(W, 3, True, "noise", reflection=ReflectionConfig(candidates=2, threshold=0.0, judged_level=3))
    _, st = run(cfg, 20, den=Drift())
    assert st.triggers > 0 and 0 <= st.accepted <= st.triggers
    # candidates counted: each trigger runs `candidates` regenerations of judged_level sweeps
    assert st.reflection_calls >= st.triggers * 2 * 3


def test_slide_auto_rule_and_one_slide_per_run():
    """Auto slide: f - m with a Zigzag Stage; FIFO's lookahead decides on FIFO's queue; an explicit slide is
    honoured."""
    full = CONFIGS["full"]  # f = 8, m = 2
    assert resolve_miga(full, W, 10).zigzag.slide == W - 2
    half = dataclasses.replace(full, zigzag=dataclasses.replace(ZZ, slide=3))
    setup = resolve_miga(half, W, 10)
    assert setup.zigzag.slide == 3 and setup.unified.slide == 3  # the unified stage sweeps with the same slide
    assert resolve_miga(full, W, 10).unified.slide == W - 2
    dce = CONFIGS["dce"]
    assert resolve_miga(dce, W, 10).zigzag.slide == W // 2  # lookahead on: windows write their front half
    assert resolve_miga(dataclasses.replace(dce, lookahead=False), W, 10).zigzag.slide == W - 2


@pytest.mark.parametrize("slide", [0, 1])
def test_regeneration_sweeps_use_the_run_slide(slide):
    """Every trigger costs candidates x (windows of the static partition at the run's slide that write a new latent)."""
    from infinite_video.samplers.miga_partition import static_partition

    full = CONFIGS["full"]
    cfg = dataclasses.replace(full, zigzag=dataclasses.replace(ZZ, slide=slide),
                              reflection=dataclasses.replace(full.reflection, judged_level=5))
    setup = resolve_miga(cfg, W, 40)
    g, frozen, rf = setup.group, setup.references * setup.group, setup.reflection
    per_candidate = sum(
        sum(1 for start, cal in static_partition(frozen + r * g, W, setup.zigzag.slide) if start + cal > frozen)
        for r in range(1, rf.judged_level + 1))
    _, st = run(cfg, 40, den=Drift(), latent=torch.randn(1, 2, W, 3, 3))
    assert st.triggers > 0 and st.reflection_calls == st.triggers * rf.candidates * per_candidate


@pytest.mark.parametrize("name", list(CONFIGS))
def test_seeded_bit_identical(name):
    kw = dict(rule="euler_ancestral", eta=0.7, noise_scaling=flow_noise_scaling, latent=torch.randn(1, 2, W, 3, 3))
    a, _ = run(CONFIGS[name], 15, seed=5, **kw)
    b, _ = run(CONFIGS[name], 15, seed=5, **kw)
    c, _ = run(CONFIGS[name], 15, seed=6, **kw)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_memory_does_not_grow_with_frames():
    cfg = dataclasses.replace(CONFIGS["full"], reflection=ReflectionConfig(threshold=0.0, judged_level=2))
    peaks = {}
    for frames in (50, 300):
        biggest = [0]
        _, st = run(cfg, frames, den=Drift(),
                    callback=lambda i: biggest.__setitem__(0, max(biggest[0], i["x"].shape[2])))  # noqa: B023
        peaks[frames] = (biggest[0], st.max_resident_latents)
    assert peaks[50] == peaks[300]


def test_preset_defaults_are_valid():
    cfg = MIGA_PRESETS["wan21"].queue()
    setup = resolve_miga(cfg, 21, 100)
    assert miga_steps(cfg, 21) == 54 and setup.end_level == 44 and setup.zigzag.span == 17
    assert setup.zigzag.slide == 17 and setup.references == 2  # auto: f - m (the official code's is 10)
    for name in ("ltxv", "cosmos"):
        resolve_miga(MIGA_PRESETS[name].queue(), MIGA_PRESETS[name].window, 10)


def test_preset_note_names_every_preset():
    """The Zigzag and Unified Stage descriptions' note is made from the presets (the defaults' backbone first)."""
    assert preset_note() == (
        "Defaults: Wan 2.1 official (window 21). LTX-Video (window 13): steps 40, L_zig 3, end 32, unified 8; "
        "Cosmos Predict2 (window 24): steps 35, L_zig 6, end 28, unified 7 (untuned starting points).")


def test_docs_preset_table_matches_the_presets():
    """The per-backbone table of docs/algorithms/miga.md is what MIGA_PRESETS holds (one source of truth, checked)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs/algorithms/miga.md").read_text()
    rows = {line.split("|")[1].split()[0]: [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("| ") and line.split("|")[1].split()[0] in MIGA_PRESETS}
    assert set(rows) == set(MIGA_PRESETS)
    for name, p in MIGA_PRESETS.items():
        zz, un, rf, gd = p.zigzag, p.unified, p.reflection, p.guidance
        expected = [p.window, zz.steps, zz.group, zz.end_step, un.steps, un.renoise_step, gd.latents,
                    rf.candidates, rf.threshold, rf.judged_level]
        assert [float(c) for c in rows[name]] == [float(v) for v in expected], name


# ---- bad input ----------------------------------------------------------------------------------------------------

BAD = [
    (dataclasses.replace(CONFIGS["zigzag"], zigzag=ZigzagConfig(12, 7, 8), guidance=GuidanceConfig(2)), 5, "L_zig"),
    (dataclasses.replace(CONFIGS["zigzag"], guidance=GuidanceConfig(8)), 5, "m_guid"),
    (dataclasses.replace(CONFIGS["full"], reflection=ReflectionConfig(threshold=2.5)), 5, "threshold"),
    (dataclasses.replace(CONFIGS["full"], reflection=ReflectionConfig(candidates=0)), 5, "candidates"),
    (QueueConfig(W, 2, True, "noise", unified=UN), 5, "Unified Stage needs a Zigzag Stage"),
    (dataclasses.replace(CONFIGS["tta"], zigzag=ZigzagConfig(12, 2, 12)), 5, "end step"),
    (dataclasses.replace(CONFIGS["tta"], unified=UnifiedConfig(3)), 5, "Unified Stage steps 3"),
    (CONFIGS["tta"], 0, "frames"),
    (dataclasses.replace(CONFIGS["tta"], window=W + 1), 5, "longer than the latent"),
    (dataclasses.replace(CONFIGS["full"], reflection=ReflectionConfig(judged_level=50)), 5, "judged level"),
]


@pytest.mark.parametrize("cfg,frames,match", BAD)
def test_bad_input_raises_before_model_call(cfg, frames, match):
    def boom(*a, **k):
        raise AssertionError("model called")
    with pytest.raises(ValueError, match=match):
        sample_miga(cfg, boom, torch.zeros(1, 2, W, 3, 3), ladder(12), frames, generator=torch.Generator())


def test_wrong_schedule_length_names_required_steps():
    with pytest.raises(ValueError, match="needs exactly 12"):
        prepare_miga(CONFIGS["tta"], torch.zeros(1, 2, W, 3, 3), ladder(10), 5)
    with pytest.raises(ValueError, match="needs exactly 24"):
        prepare_miga(CONFIGS["dce"], torch.zeros(1, 2, W, 3, 3), ladder(12), 5)


class ConstantContent:
    """A denoiser whose clean estimate is the same picture for every latent: nothing drifts."""

    def __init__(self):
        self.picture = torch.randn(1, 2, 1, 3, 3, generator=torch.Generator().manual_seed(7))

    def __call__(self, x, sigma, prompts=None):
        return self.picture.expand(x.shape[0], -1, x.shape[2], -1, -1).clone()


def test_denoised_metric_judges_the_estimates_not_the_noise():
    """With content that never changes, the noisy-latent score still jitters with the fresh noise and triggers;
    scored on the sweep's clean estimates (``pairwise_denoised``) it is constant and never triggers, at no extra
    model call per judgment."""
    base = dataclasses.replace(CONFIGS["full"], reflection=ReflectionConfig(threshold=0.001, metric="pairwise",
                                                                            judged_level=2))
    _, noisy = run(base, 40, den=ConstantContent())
    den = dataclasses.replace(base, reflection=dataclasses.replace(base.reflection, metric="pairwise_denoised"))
    _, clean = run(den, 40, den=ConstantContent())
    assert noisy.judgments == clean.judgments > 10
    assert noisy.triggers > 0 and clean.triggers == 0
    assert clean.model_calls == clean.stage1_calls + clean.unified_calls  # judging cost no call
    # and it does trigger when the estimates drift
    _, drift = run(dataclasses.replace(den, reflection=dataclasses.replace(den.reflection, threshold=0.0)), 40,
                   den=Drift(), latent=torch.randn(1, 2, W, 3, 3))
    assert drift.triggers > 0 and drift.reflection_calls > 0


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_denoiser_is_told_each_window_frames_stream_position(name):
    den = PositionEcho()
    out, _ = run(CONFIGS[name], 23, den=den, latent=torch.zeros(1, 2, W, 3, 3), noise_scaling=flow_noise_scaling)
    torch.testing.assert_close(out, torch.arange(23.0)[None, None, :, None, None].expand_as(out))
    gaps = [p for p in den.calls if p != list(range(p[0], p[0] + len(p)))]
    if name == "history":  # finished latents read as memory sit at their own, earlier, positions
        assert gaps and all(p == sorted(p) for p in gaps)
    elif name == "tta":
        assert not gaps
