"""FIFO engine with toy denoisers: queue invariants, entry tracking, step rules, prompt switching (no ComfyUI)."""

from __future__ import annotations

import pytest
import torch

from infinite_video.samplers import (
    ancestral_step,
    check_plan,
    euler_step,
    flow_noise_scaling,
    iterate_fifo,
    plan_fifo,
    sample_fifo,
    ve_noise_scaling,
)
from infinite_video.samplers.fifo import check_fifo_inputs
from infinite_video.samplers.prompts import active_prompts, group_frames
from infinite_video.tools.testing.position_echo import PositionEcho


def ladder(steps: int, top: float = 1.0) -> torch.Tensor:
    return torch.linspace(top, 0.0, steps + 1)


def zero_denoiser(x, sigma, prompts=None):
    return torch.zeros_like(x)


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("window,partitions", [(1, 1), (2, 1), (4, 3), (5, 2), (7, 4), (16, 4), (21, 2)])
def test_plan_tiles_queue_once(window, partitions, lookahead):
    if lookahead and window < 2:
        with pytest.raises(ValueError, match="lookahead"):
            plan_fifo(window, partitions, lookahead)
        return
    plan = plan_fifo(window, partitions, lookahead)
    check_plan(plan)
    assert plan.steps == window * partitions
    assert len(plan.windows) == (2 * partitions if lookahead else partitions)
    assert plan.pad == (window // 2 if lookahead else 0)
    # each frame updated by lookahead has at least floor(f/2) frames of context in front of it
    for w in plan.windows:
        assert w.write_start - w.start >= (window // 2 if lookahead else 0)
    # levels ascend in noise towards the tail, one ladder rung per slot
    assert list(plan.levels[plan.pad:]) == list(range(plan.steps - 1, -1, -1))


def test_plan_matches_paper_layout_for_even_window():
    plan = plan_fifo(16, 4, lookahead=True)
    # the paper's layout: 2n windows at stride f/2 over [0, h + Q), writing back the later half
    assert sorted((w.start, w.write_start, w.write_stop) for w in plan.windows) == [
        (r * 8, r * 8 + 8, r * 8 + 16) for r in range(8)
    ]
    assert plan.to_dict()["slots"] == 72


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("init", ["clip", "noise"])
def test_each_slot_steps_exactly_once_per_iteration(lookahead, init):
    """With D = 0 and VE scaling, x / sigma of a frame stays its initial noise iff it takes one step per iteration."""
    plan = plan_fifo(4, 2, lookahead, init)
    sig = ladder(plan.steps, top=2.0)
    seen: dict[int, torch.Tensor] = {}
    level_sigma = sig[list(plan.levels)]
    checked = 0

    def cb(info):
        nonlocal checked
        x = info["x"]
        for slot, entry in enumerate(info["entries"]):
            if slot < plan.pad or entry < plan.queue:
                continue  # padding, and frames that started in the initial queue (clip content, not pure noise)
            ratio = x[:, :, slot] / level_sigma[slot]
            if entry in seen:
                torch.testing.assert_close(ratio, seen[entry], rtol=1e-5, atol=1e-6)
                checked += 1
            else:
                seen[entry] = ratio
    latent = torch.randn(1, 2, 4, 3, 3) if init == "clip" else torch.zeros(1, 2, 4, 3, 3)
    sample_fifo(zero_denoiser, latent, sig, plan, 12, generator=torch.Generator().manual_seed(0),
                noise_scaling=ve_noise_scaling, callback=cb)
    assert checked > 50


@pytest.mark.parametrize("lookahead", [False, True])
def test_frame_leaving_at_iteration_i_entered_at_i_minus_q(lookahead):
    plan = plan_fifo(3, 2, lookahead, "noise")
    q = plan.queue
    entered: dict[int, int] = {}
    left: list[tuple[int, int]] = []

    def cb(info):
        it = info["i"]
        entries = info["entries"]
        entered[entries[-1]] = it  # the tail refilled at the end of this iteration
        left.append((it, info["frame"] + plan.warmup))  # entry id of the frame that left
    frames = list(iterate_fifo(zero_denoiser, torch.zeros(1, 1, 3, 2, 2), ladder(q), plan, 10,
                               generator=torch.Generator().manual_seed(1), callback=cb))
    assert [i for i, _ in frames] == list(range(10))
    assert len(left) == plan.iterations(10) == q + 10
    for it, entry in left:
        assert entry == it
        if it >= q:
            assert entered[entry] == it - q


def test_output_count_and_warmup():
    for init, warm in (("clip", 8 - 4), ("noise", 8)):
        plan = plan_fifo(4, 2, False, init)
        assert plan.warmup == warm
        calls = []
        out = sample_fifo(lambda x, s, prompts=None: calls.append(1) or x * 0.9,  # noqa: B023 (called in this loop)
                          torch.randn(2, 3, 5, 4, 4),
                          ladder(8), plan, 7, generator=torch.Generator().manual_seed(0))
        assert out.shape == (2, 3, 7, 4, 4)
        assert len(calls) == plan.iterations(7) * plan.partitions


def test_lookahead_padding_holds_newest_finished_frames():
    plan = plan_fifo(4, 1, True, "noise")
    emitted = []

    def cb(info):
        emitted.append(info["denoised"])
        if len(emitted) >= plan.pad:
            torch.testing.assert_close(info["x"][:, :, :plan.pad], torch.cat(emitted[-plan.pad:], dim=2))
    sample_fifo(lambda x, s, prompts=None: 0.5 * x, torch.zeros(1, 2, 4, 2, 2), ladder(4), plan, 6,
                generator=torch.Generator().manual_seed(0), callback=cb)


def test_clip_init_regenerates_clip_first():
    """With a denoiser that predicts each frame's own clip frame, the first f outputs are exactly the clip.

    Entries ``Q - f .. Q - 1`` start as clip frames ``0 .. f - 1`` re-noised (the clip fills the noisiest slots),
    and a perfect x0 makes every Euler step exact on the flow path.
    """
    plan = plan_fifo(4, 2, False, "clip")
    clip = torch.randn(1, 2, 4, 3, 3)
    entries = {"now": [-1] * plan.pad + list(range(plan.queue))}
    calls = {"k": 0}

    def source(entry):
        if entry >= plan.queue:  # refills: fresh noise, any prediction will do
            return torch.zeros_like(clip[:, :, 0])
        return clip[:, :, max(0, entry - (plan.queue - plan.window))]

    def den(x, sigma, prompts=None):
        win = plan.windows[calls["k"] % len(plan.windows)]
        calls["k"] += 1
        return torch.stack([source(e) for e in entries["now"][win.start:win.stop]], dim=2)

    def cb(info):
        entries["now"] = info["entries"]
    out = sample_fifo(den, clip, ladder(plan.steps), plan, 4, generator=torch.Generator().manual_seed(0),
                      noise_scaling=flow_noise_scaling, callback=cb)
    torch.testing.assert_close(out, clip, rtol=1e-5, atol=1e-5)


def test_seed_reproduces_bit_for_bit_and_differs_across_seeds():
    plan = plan_fifo(4, 2, True, "noise")
    den = lambda x, s, prompts=None: torch.tanh(x) * 0.7  # noqa: E731

    def run(seed):
        return sample_fifo(den, torch.zeros(1, 2, 4, 3, 3), ladder(8), plan, 9, rule="euler_ancestral", eta=0.8,
                           noise_scaling=flow_noise_scaling, generator=torch.Generator().manual_seed(seed))
    a, b, c = run(3), run(3), run(4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


# ---- step rules ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ns", [ve_noise_scaling, flow_noise_scaling])
def test_ancestral_with_eta_zero_is_euler(ns):
    g = torch.Generator().manual_seed(0)
    x, d, z = (torch.randn(2, 3, 4, 2, 2, generator=g) for _ in range(3))
    s = torch.tensor([0.9, 0.5, 0.3, 0.1])
    s_next = torch.tensor([0.8, 0.4, 0.2, 0.0])
    torch.testing.assert_close(ancestral_step(x, d, s, s_next, z, eta=0.0, noise_scaling=ns),
                               euler_step(x, d, s, s_next))


@pytest.mark.parametrize("ns", [ve_noise_scaling, flow_noise_scaling])
def test_perfect_denoiser_lands_on_the_next_marginal(ns):
    """x = ns(sigma, eps, x0) and D = x0: Euler gives exactly ns(sigma', eps, x0) (DDIM is exact on a straight path)."""
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(1, 2, 3, 4, 4, generator=g), torch.randn(1, 2, 3, 4, 4, generator=g)
    s, s_next = torch.tensor([1.0, 0.6, 0.2]), torch.tensor([0.7, 0.3, 0.0])
    torch.testing.assert_close(euler_step(ns(s, eps, x0), x0, s, s_next), ns(s_next, eps, x0))
    # ancestral reaches the right marginal: signal part exact, fresh noise of std s(sigma')
    z = torch.randn(1, 2, 3, 64, 64, generator=g)
    x0b, epsb = torch.zeros(1, 2, 3, 64, 64), torch.randn(1, 2, 3, 64, 64, generator=g)
    out = ancestral_step(ns(s, epsb, x0b), x0b, s, s_next, z, eta=1.0, noise_scaling=ns)
    std = out.std(dim=(0, 1, 3, 4))
    expected = ns(s_next, torch.ones(1, 1, 3, 1, 1), torch.zeros(1, 1, 3, 1, 1)).flatten()
    torch.testing.assert_close(std, expected, atol=0.03, rtol=0.03)


def test_ancestral_matches_k_diffusion_for_ve():
    """VE case equals k-diffusion's get_ancestral_step + Euler to sigma_down."""
    g = torch.Generator().manual_seed(2)
    x, d, z = (torch.randn(1, 1, 2, 3, 3, generator=g) for _ in range(3))
    s, s_next, eta = torch.tensor([5.0, 1.2]), torch.tensor([3.0, 0.4]), 0.7
    up = torch.minimum(s_next, eta * (s_next**2 * (s**2 - s_next**2) / s**2).sqrt())
    down = (s_next**2 - up**2).sqrt()
    view = lambda t: t.view(1, 1, 2, 1, 1)  # noqa: E731
    expected = x + (x - d) / view(s) * (view(down) - view(s)) + view(up) * z
    torch.testing.assert_close(ancestral_step(x, d, s, s_next, z, eta=eta), expected)


def test_flow_ancestral_handles_sigma_one():
    x0 = torch.zeros(1, 1, 1, 2, 2)
    eps = torch.ones(1, 1, 1, 2, 2)
    out = ancestral_step(eps, x0, torch.tensor([1.0]), torch.tensor([0.5]), torch.zeros_like(eps), eta=1.0,
                         noise_scaling=flow_noise_scaling)
    assert torch.isfinite(out).all()


# ---- prompt schedule ----------------------------------------------------------------------------------------------

def test_active_prompts_and_grouping():
    ranges = [(0, 10), (10, None), None]
    assert active_prompts(3, ranges) == (0, 2)
    assert active_prompts(10, ranges) == (1, 2)
    assert active_prompts(-5, ranges) == (0, 2)  # warm-up frames count as frame 0
    assert group_frames([8, 9, 10, 11], ranges) == {(0, 2): [0, 1], (1, 2): [2, 3]}
    assert group_frames([1, 2], None) == {None: [0, 1]}
    # gaps fall back to the nearest range so every frame has a prompt
    assert active_prompts(15, [(0, 5), (20, 30)]) == (0,)
    assert active_prompts(2, [(5, 9), (20, 30)]) == (0,)


def test_each_frame_is_denoised_with_its_own_prompt():
    plan = plan_fifo(4, 2, True, "noise")
    ranges = [(0, 6), (6, None)]
    entries_seen = []

    def den(x, sigma, prompts=None):
        entries_seen.append(prompts)
        # encode the prompt in x0 so the output shows which prompt each frame got on its last step
        return torch.full_like(x, float(prompts[0]))
    out = sample_fifo(den, torch.zeros(1, 1, 4, 1, 1), ladder(plan.steps), plan, 12, prompt_ranges=ranges,
                      generator=torch.Generator().manual_seed(0))
    assert out[0, 0, :6].flatten().tolist() == [0.0] * 6
    assert out[0, 0, 6:].flatten().tolist() == [1.0] * 6
    # windows straddling the switch made one call per prompt
    assert entries_seen.count((0,)) > 0 and entries_seen.count((1,)) > 0
    assert len(entries_seen) > plan.iterations(12) * len(plan.windows)


# ---- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frames,latent,steps,match", [
    (0, (1, 2, 4, 2, 2), 8, "frames must be at least 1"),
    (-3, (1, 2, 4, 2, 2), 8, "frames must be at least 1"),
    (4, (1, 2, 2, 2), 8, "latent must be a video latent"),
    (4, (1, 2, 3, 2, 2), 8, "window_length 4 is longer than the latent's 3 frames"),
    (4, (1, 2, 4, 2, 2), 5, "too short for the queue"),
    (4, (1, 2, 4, 2, 2), 9, "too long for the queue"),
])
def test_bad_input_names_the_input(frames, latent, steps, match):
    plan = plan_fifo(4, 2)
    calls = []
    with pytest.raises(ValueError, match=match):
        check_fifo_inputs(plan, torch.zeros(latent), ladder(steps), frames)
    with pytest.raises(ValueError, match=match):
        list(iterate_fifo(lambda *a, **k: calls.append(1), torch.zeros(latent), ladder(steps), plan, frames,
                          generator=torch.Generator()))
    assert calls == []


def test_sigmas_must_end_at_zero_and_decrease():
    plan = plan_fifo(2, 1)
    with pytest.raises(ValueError, match="end at 0"):
        check_fifo_inputs(plan, torch.zeros(1, 1, 2, 1, 1), torch.tensor([1.0, 0.5, 0.1]), 3)
    with pytest.raises(ValueError, match="strictly decreasing"):
        check_fifo_inputs(plan, torch.zeros(1, 1, 2, 1, 1), torch.tensor([1.0, 1.0, 0.0]), 3)


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("init", ["clip", "noise"])
def test_the_denoiser_is_told_each_window_frames_stream_position(lookahead, init):
    plan = plan_fifo(4, 3, lookahead, init)
    den = PositionEcho()
    out = sample_fifo(den, torch.zeros(1, 2, 4, 2, 2), ladder(plan.steps), plan, 10,
                      generator=torch.Generator().manual_seed(0), noise_scaling=flow_noise_scaling)
    torch.testing.assert_close(out, torch.arange(10.0)[None, None, :, None, None].expand_as(out))
    assert all(p == list(range(p[0], p[0] + 4)) for p in den.calls)  # a FIFO window is consecutive frames


def test_denoisers_with_and_without_positions_give_the_same_run():
    plan = plan_fifo(4, 2, True, "noise")
    seen = []

    def old(x, sigma, prompts=None):
        return torch.tanh(x) * 0.7

    def new(x, sigma, **kwargs):
        seen.append(kwargs["positions"])
        return torch.tanh(x) * 0.7

    a, b = (sample_fifo(d, torch.zeros(1, 2, 4, 2, 2), ladder(plan.steps), plan, 6,
                        generator=torch.Generator().manual_seed(3)) for d in (old, new))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert seen and all(p.shape == (4,) for p in seen)


# -- init_mode "auto clip" and group_size -------------------------------------------------------------------------

AUTO_CASES = [(4, 3, False, 1), (4, 2, True, 1), (8, 1, False, 2), (8, 2, True, 2), (6, 2, False, 3)]


@pytest.mark.parametrize("window,partitions,lookahead,group", AUTO_CASES)
def test_auto_clip_emits_every_frame_once_at_its_position(window, partitions, lookahead, group):
    """PositionEcho makes each latent leave equal to its stream position: the native clip's frames are outputs
    0..f-1, the queue's follow in order, and every window is consecutive frames, at most the model's window."""
    plan = plan_fifo(window, partitions, lookahead, "auto clip", group)
    check_plan(plan)
    den = PositionEcho()
    frames = 3 * window + 1
    seen = []
    out = sample_fifo(den, torch.zeros(1, 2, window, 2, 2), ladder(plan.steps), plan, frames,
                      generator=torch.Generator().manual_seed(0), noise_scaling=flow_noise_scaling,
                      callback=lambda info: seen.append(info["i"]))
    torch.testing.assert_close(out, torch.arange(float(frames))[None, None, :, None, None].expand_as(out))
    assert all(p == list(range(p[0], p[0] + len(p))) and 0 < len(p) <= window for p in den.calls)
    assert den.calls[:plan.steps] == [list(range(window))] * plan.steps  # the native clip: one call per step
    assert seen == list(range(plan.iterations(frames)))


@pytest.mark.parametrize("window,partitions,group", [(4, 3, 1), (8, 1, 2), (6, 2, 3)])
def test_auto_clip_takes_every_step_once_per_new_frame_and_wastes_no_window(window, partitions, group):
    """Without lookahead windows do not overlap, so every new frame is seen once per ladder level, at that level,
    and every call after the clip writes at least one frame that is emitted; fewer calls than noise warm-up."""
    plan = plan_fifo(window, partitions, False, "auto clip", group)
    sig = ladder(plan.steps)
    frames = 4 * window
    levels: dict[int, list[float]] = {}
    calls = []

    def den(x, sigma, prompts=None, positions=None):
        calls.append(positions.tolist())
        for p, s in zip(positions.tolist(), sigma[0].tolist()):
            if p >= window and s > 0 and (p < frames or s < sig[0]):
                levels.setdefault(p, []).append(s)
        return 0.5 * x

    sample_fifo(den, torch.zeros(1, 1, window, 2, 2), sig, plan, frames, generator=torch.Generator().manual_seed(0))
    for p in range(window, frames):
        torch.testing.assert_close(torch.tensor(levels[p]), sig[:-1])
    assert all(any(window <= p < frames for p in c) for c in calls[plan.steps:])
    noise = plan_fifo(window, partitions, False, "noise", group)
    assert len(calls) < noise.iterations(frames) * len(noise.windows)


def test_auto_clip_starts_with_the_native_clip():
    """The first window_length outputs are a native Euler run of one window over the same ladder (same seed: the
    run's first noise draw), bit for bit up to float rounding."""
    plan = plan_fifo(4, 2, True, "auto clip")
    sig = ladder(plan.steps)

    def den(x, sigma, prompts=None):
        return torch.tanh(0.7 * x + 0.2 * torch.roll(x, 1, dims=2))
    out = sample_fifo(den, torch.zeros(1, 2, 4, 3, 3), sig, plan, 10, generator=torch.Generator().manual_seed(5),
                      noise_scaling=flow_noise_scaling)
    x = sig[0] * torch.randn(1, 2, 4, 3, 3, generator=torch.Generator().manual_seed(5))
    for k in range(plan.steps):
        x = x + (x - den(x, sig[k].expand(1, 4))) / sig[k] * (sig[k + 1] - sig[k])
    torch.testing.assert_close(out[:, :, :4], x)
    assert not torch.equal(out[:, :, 4:8], out[:, :, :4])


def test_group_emits_a_group_per_iteration_at_few_steps():
    """A model distilled for 4 steps: window 8, groups of 2, 1 partition = 4 levels; each iteration one call and
    one group out, so the steady state costs native chunked generation's 4 calls per 8 frames."""
    plan = plan_fifo(8, 1, False, "noise", 2)
    assert plan.steps == 4 and plan.levels == (3, 3, 2, 2, 1, 1, 0, 0)
    out_per_it = []
    frames = list(iterate_fifo(lambda x, s, prompts=None: 0.5 * x, torch.zeros(1, 1, 8, 2, 2), ladder(4), plan, 12,
                               generator=torch.Generator().manual_seed(0),
                               callback=lambda info: out_per_it.append(info["frame"])))
    assert [i for i, _ in frames] == list(range(12))
    assert len(out_per_it) == plan.iterations(12) == (8 + 12) // 2
    assert out_per_it[plan.warmup // 2:] == [1, 3, 5, 7, 9, 11]


@pytest.mark.parametrize("args,match", [
    ((8, 1, False, "noise", 3), "group_size 3 does not divide window_length 8"),
    ((8, 1, True, "noise", 8), "lookahead needs at least 2 groups per window"),
    ((8, 1, False, "noise", 0), "group_size must be at least 1"),
])
def test_group_that_does_not_fit_the_window_is_refused(args, match):
    with pytest.raises(ValueError, match=match):
        plan_fifo(*args)


def test_few_step_ladder_too_short_for_the_grouped_queue_names_the_fix():
    plan = plan_fifo(8, 2, False, "noise", 2)  # 8 levels
    with pytest.raises(ValueError, match=r"4 steps, too short.*8 / 2 x 2 = 8 steps.*group_size"):
        check_fifo_inputs(plan, torch.zeros(1, 1, 8, 2, 2), ladder(4), 10)
    with pytest.raises(ValueError, match=r"set group_size so that window_length / group_size x partitions"):
        check_fifo_inputs(plan_fifo(8, 1), torch.zeros(1, 1, 8, 2, 2), ladder(4), 10)


def test_auto_clip_refuses_a_latent_that_holds_frames_before_any_call():
    plan = plan_fifo(4, 2, False, "auto clip")
    calls = []
    with pytest.raises(ValueError, match="auto clip makes the first clip itself.*empty video latent.*clip"):
        list(iterate_fifo(lambda *a, **k: calls.append(1), torch.randn(1, 2, 4, 2, 2), ladder(8), plan, 10,
                          generator=torch.Generator()))
    assert calls == []
    # an empty latent after ComfyUI's per-channel shift and scale is still empty
    shifted = torch.zeros(1, 2, 4, 2, 2) + torch.tensor([0.3, -1.2])[None, :, None, None, None]
    check_fifo_inputs(plan, shifted, ladder(8), 10)


def test_auto_clip_and_group_are_refused_for_miga_and_continuation():
    from infinite_video.samplers.config import ContinuationConfig, QueueConfig, ReflectionConfig
    from infinite_video.samplers.run import check_run_inputs

    lat, sig = torch.zeros(1, 1, 4, 2, 2), ladder(8)
    for extra in ({"reflection": ReflectionConfig()}, {"continuation": ContinuationConfig(chunk=2, anchors=0)}):
        with pytest.raises(ValueError, match="init_mode auto clip runs FIFO's own queue.*set init_mode to noise"):
            check_run_inputs(QueueConfig(4, 2, False, "auto clip", **extra), lat, sig, 10)
        with pytest.raises(ValueError, match="group_size 2 groups FIFO's own queue.*set group_size to 1"):
            check_run_inputs(QueueConfig(4, 2, False, "noise", group=2, **extra), lat, sig, 10)


@pytest.mark.parametrize("window,partitions,lookahead,rule", [(9, 3, False, "euler"), (6, 2, True, "euler"),
                                                              (5, 2, False, "euler_ancestral")])
def test_auto_clip_trimmed_windows_give_the_exact_oracles_frames_for_fewer_frame_evaluations(window, partitions,
                                                                                            lookahead, rule):
    """The fill's and the drain's partial windows are trimmed (never-entering noise at sigma 1 dropped, clip context
    cut to FILL_CONTEXT frames): on the exact oracle of a Markov video (AR(1), no identity part) neither carries
    information, so the frames equal whole-window sampling's up to float rounding, for the same calls and fewer
    frame evaluations (without lookahead exactly the count below)."""
    from infinite_video.samplers.fifo_auto import FILL_CONTEXT
    from infinite_video.tools.testing.oracle import ExactDenoiser, shifted_ladder

    plan = plan_fifo(window, partitions, lookahead, "auto clip")
    sig = shifted_ladder(plan.steps, 3.0)
    frames = window + plan.queue + 5  # the band of new frames fills the whole queue
    outs, seen = [], []
    for trim in (False, True):
        den, lengths = ExactDenoiser(0.9), []

        def counted(x, sigma, prompts=None, positions=None, den=den, lengths=lengths):
            lengths.append(x.shape[2])
            return den(x, sigma, positions=positions)
        outs.append(sample_fifo(counted, torch.zeros(2, 3, window, 2, 2), sig, plan, frames, rule=rule,
                                generator=torch.Generator().manual_seed(1), noise_scaling=flow_noise_scaling,
                                trim=trim))
        seen.append(lengths)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-4, atol=1e-5)
    whole, trimmed = seen
    assert len(whole) == len(trimmed) and set(whole) == {window}
    assert sum(trimmed) < sum(whole)
    if not lookahead:  # per partition, a band edge crosses it twice: (f - a) idle slots at a = 1 .. f-1 active
        idle = range(window - 1, 0, -1)
        saved = partitions * (sum(idle) + sum(i - min(i, FILL_CONTEXT) for i in idle))
        assert sum(whole) - sum(trimmed) == saved

