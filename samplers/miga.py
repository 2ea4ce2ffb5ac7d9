"""MIGA sampling loop (Feng et al., arXiv 2605.18233): zigzag Stage 1, streaming unified Stage 2, self-reflection and
long-range guidance, running the set-up of :mod:`.miga_setup` (the pure plans of :mod:`.zigzag_plan`,
:mod:`.unified_plan`, :mod:`.guidance` and :mod:`.reflection`).

Shapes and contracts are those of :mod:`.fifo`: latents ``[B, C, F, H, W]`` (frames on axis 2), the denoiser
``denoiser(x[B, C, f, H, W], sigma[B, f], prompts=None, positions=None) -> x0`` (:mod:`.denoiser`; positions are the
stream positions of every window frame, memory latents included), noise only from the injected CPU
``torch.Generator``.
Ladder convention of :mod:`.miga_partition`: level 0 = ``sigmas[0]`` (noisiest), level ``T`` = clean; queue index
0 = front.

How the parts compose:

- **Stage 1** is the zigzag queue of :func:`.zigzag_plan.plan_zigzag`: groups of ``L`` latents share a level, each
  iteration one sweep steps every latent exactly once, the front group leaves at level ``E`` and one group of fresh
  seeded noise enters at level 0. Sweeps are **Jacobi**: every window reads the pre-sweep queue (as official Wan
  Stage 1/2), so memory latents are read at their pre-sweep value and window order does not matter. Partitions are
  static while the queue grows and rotating (dynamic) once it is full, as in the official code. Without a Zigzag
  Stage ("DCE only") the queue is FIFO's diagonal staircase (``L = 1``), run to clean.
- **Stage 2** is the official whole-video unified sweep, streamed as a wavefront (:mod:`.miga_unified`).
- **Long-range guidance**: ``m`` memory latents are prepended to each Stage-1 window at their own levels and their
  outputs discarded. Source ``"queue"`` (default) = the official in-queue latents of
  :func:`.guidance.memory_positions`; ``"history"`` = the paper's reading, clean latents that already left (after
  Stage 2 when present), from a bounded :class:`.guidance.HistoryBank`, at sigma 0; until the bank holds ``m``
  latents the queue source is used. Candidate and Stage-2 windows have no memory (official).
- **Self-reflection** (:mod:`.miga_reflection`) runs after every sweep, during the whole run.
- **Queue initialisation** (departure: no separate progressive-init loop; the growing queue *is* the init): ``clip``
  seeds the ``f // L`` base groups with the latent's first ``f`` frames re-noised to levels ``f // L .. 1`` and fresh
  groups are the clip's last latent noised to level 0 (official); ``noise`` seeds blank latents plus noise and
  discards the base groups' output (warm-up).
- Cost and trigger counts are kept in a :class:`MigaStats` (pass one in, or read ``"stats"`` in the callback dict).

Memory is the queue (``E * L`` latents), one Jacobi copy, the unified stage's staircase (fewer than ``f + slide``
latents per unified sweep), the history bank and one reflection candidate: constant in the number of output frames
(only the output tensor grows).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from .config import QueueConfig
from .denoiser import call_denoiser, window_positions
from .fifo import _denoise_grouped, _randn
from .guidance import HistoryBank
from .miga_reflection import SelfReflection
from .miga_setup import MigaSetup, prepare_miga
from .miga_unified import UnifiedStream
from .prompts import FrameRange, validate_schedule
from .runner import Frame, LatentTail, Stream, check_state, clone_state, drive
from .steps import NoiseScaling, get_step_rule, per_frame_step, ve_noise_scaling

Denoiser = Callable[..., Tensor]


@dataclass
class MigaStats:
    """Cost and self-reflection counters of one MIGA run (filled in as it goes)."""

    model_calls: int = 0
    stage1_calls: int = 0
    reflection_calls: int = 0
    unified_calls: int = 0
    iterations: int = 0
    judgments: int = 0
    triggers: int = 0
    accepted: int = 0
    output_latents: int = 0
    max_resident_latents: int = 0

    @property
    def trigger_rate(self) -> float:
        return self.triggers / self.judgments if self.judgments else 0.0

    def summary(self) -> str:
        return (f"MIGA: {self.output_latents} latents, {self.model_calls} model calls (stage 1 {self.stage1_calls}, "
                f"reflection {self.reflection_calls}, unified {self.unified_calls}); self-reflection {self.triggers}/"
                f"{self.judgments} triggered ({100 * self.trigger_rate:.1f}%), {self.accepted} accepted; at most "
                f"{self.max_resident_latents} latents resident")


class MigaRun:
    """One MIGA run, an iteration per :meth:`iterate` (a :class:`.runner.QueueRunner`), ready after construction.

    ``setup`` comes from :func:`.miga_setup.prepare_miga` for this ``latent`` and ``sigmas`` (checked once, there).
    Each iteration: a Jacobi sweep of the queue, self-reflection, the front group leaves (into the unified stage, or
    out when stage 1 runs to clean), a group of fresh noise enters. Warm-up latents are not returned.
    """

    def __init__(self, denoiser: Denoiser, latent: Tensor, sigmas: Tensor, setup: MigaSetup, *,
                 generator: torch.Generator, rule: str = "euler", eta: float = 1.0,
                 noise_scaling: NoiseScaling = ve_noise_scaling,
                 prompt_ranges: Optional[Sequence[FrameRange]] = None, stats: Optional[MigaStats] = None):
        if latent.ndim != 5 or latent.shape[2] < setup.window or tuple(sigmas.shape) != (setup.steps + 1,):
            raise ValueError(f"this MIGA set-up is for a latent of at least {setup.window} frames and "
                             f"{setup.steps + 1} sigmas, got {tuple(latent.shape)} and {tuple(sigmas.shape)}: "
                             f"prepare it with prepare_miga(config, latent, sigmas, frames)")
        get_step_rule(rule)
        if prompt_ranges is not None:
            validate_schedule(prompt_ranges)
        self.s, self.den, self.gen, self.rule, self.eta = setup, denoiser, generator, rule, eta
        self.ns, self.ranges, self.frames = noise_scaling, prompt_ranges, setup.frames
        self.stats = stats if stats is not None else MigaStats()
        self.sig = sigmas.to(device=latent.device, dtype=torch.float32)
        b, c, _, h, w = latent.shape
        self.shape = (b, c, h, w)
        self.like = latent.to(torch.float32)
        f = setup.window
        self.fresh_x0 = self.like[:, :, f - 1:f] if setup.clip else torch.zeros_like(self.like[:, :, :1])
        self.pending: list[Frame] = []  # output latents finished in the current iteration
        self.phase = "stage1"
        self.newest: Optional[Tensor] = None
        self.bank: Optional[HistoryBank[tuple[int, Tensor]]] = (
            HistoryBank(setup.span) if setup.source == "history" and setup.guidance > 0 else None)
        self.reflection = (SelfReflection(setup.reflection, setup.references) if setup.reflection is not None
                           else None)
        self.unified = UnifiedStream(setup.unified, self.like) if setup.unified is not None else None
        self.init_queue()
        self.produced = self.it = 0
        self.total = setup.zigzag.iterations(setup.stage1_latents // setup.group)

    # -- helpers ------------------------------------------------------------------------------------------------------

    def randn(self, n: int) -> Tensor:
        b, c, h, w = self.shape
        return _randn((b, c, n, h, w), self.gen, self.like)

    def fresh(self, n: int) -> Tensor:
        """``n`` latents of fresh seeded noise at level 0 (around the clip's last latent, or blank)."""
        return self.ns(self.sig[:1].expand(n), self.randn(n), self.fresh_x0.expand(-1, -1, n, -1, -1))

    def model(self, x: Tensor, sigma: Tensor, ids: list[int]) -> Tensor:
        """Counted model call with a per-frame sigma ``[f]``; ``ids`` are stream ids (output index + warm-up)."""
        out_idx = [i - self.s.warmup for i in ids]

        def counted(xx: Tensor, ss: Tensor, prompts: Optional[tuple[int, ...]] = None,
                    positions: Optional[Tensor] = None) -> Tensor:
            self.stats.model_calls += 1
            setattr(self.stats, f"{self.phase}_calls", getattr(self.stats, f"{self.phase}_calls") + 1)
            return call_denoiser(self.den, xx, ss, prompts, positions)

        return _denoise_grouped(counted, x, sigma.expand(x.shape[0], -1), out_idx, self.ranges,
                                window_positions(out_idx, x))

    def step(self, x: Tensor, den: Tensor, lv: Sequence[int]) -> Tensor:
        """One ladder step of latents ``x[B, C, k, H, W]`` at levels ``lv`` to ``lv + 1``."""
        idx = torch.tensor(list(lv), device=self.sig.device)
        noise = None
        if self.rule == "euler_ancestral" and self.eta > 0:
            noise = self.randn(x.shape[2])
        b = x.shape[0]
        return per_frame_step(self.rule, x, den, self.sig[idx].expand(b, -1), self.sig[idx + 1].expand(b, -1),
                              eta=self.eta, noise=noise, noise_scaling=self.ns)

    def resident(self, extra: int = 0) -> None:
        n = (2 if self.x0 is None else 3) * self.x.shape[2] + extra
        n += self.unified.held() if self.unified is not None else 0
        n += len(self.bank) if self.bank is not None else 0
        self.stats.max_resident_latents = max(self.stats.max_resident_latents, n)

    def emit(self, sid: int, latent: Tensor) -> None:
        """A finished (clean) latent with stream id ``sid`` leaves: into the output, and the history bank."""
        k = sid - self.s.warmup
        if 0 <= k < self.frames:
            self.pending.append((k, latent))
            self.stats.output_latents += 1
        self.newest = latent
        if self.bank is not None:
            self.bank.add((sid, latent.clone()))

    # -- Stage 1 ------------------------------------------------------------------------------------------------------

    def init_queue(self) -> None:
        plan, g = self.s.zigzag, self.s.group
        self.lv = list(plan.init_levels)
        nb = plan.base_groups * g
        if self.s.clip:
            lo, hi = plan.base_latents
            x0 = self.like[:, :, lo:hi]
        else:
            x0 = torch.zeros_like(self.like[:, :, :1]).expand(-1, -1, nb, -1, -1)
        base = self.ns(self.sig[self.lv[:nb]], self.randn(nb), x0)
        self.x = torch.cat([base, self.fresh(g)], dim=2)
        # clean estimates of the queue latents from their last sweep, when the reflection metric scores those
        self.x0: Optional[Tensor] = (torch.zeros_like(self.x) if self.reflection is not None
                                     and self.reflection.denoised else None)
        self.ids = list(range(len(self.lv)))
        self.next_id = len(self.lv)

    def sweep(self, it: int) -> None:
        """One Jacobi sweep: every queue latent takes exactly one step, windows read the pre-sweep queue."""
        plan, m = self.s.zigzag, self.s.guidance
        n = self.x.shape[2]
        bank = self.bank if self.bank is not None and len(self.bank) >= m else None
        wins = plan.windows(it, n, static=n < plan.capacity, history=bank is not None)
        hx: Optional[Tensor] = None
        hids: list[int] = []
        if bank is not None:
            picked = bank.sample(m, self.s.span)
            hx, hids = torch.cat([p[1] for p in picked], dim=2), [p[0] for p in picked]
        src, lvt = self.x, torch.tensor(self.lv, device=self.sig.device)
        new = src.clone()
        for win in wins:
            idx = list(win.inputs)
            xw, sw, ids = src[:, :, idx], self.sig[lvt[idx]], [self.ids[i] for i in idx]
            if hx is not None and win.history:
                xw = torch.cat([hx, xw], dim=2)
                sw = torch.cat([self.sig.new_zeros(len(hids)), sw])  # clean: sigma 0
                ids = hids + ids
            den = self.model(xw, sw, ids)
            o, k = win.out_offset, win.write_stop - win.write_start
            new[:, :, win.write_start:win.write_stop] = self.step(
                xw[:, :, o:o + k], den[:, :, o:o + k], self.lv[win.write_start:win.write_stop])
            if self.x0 is not None:  # nothing reads x0 during a sweep: write in place
                self.x0[:, :, win.write_start:win.write_stop] = den[:, :, o:o + k]
        self.x = new
        self.lv = [lv + 1 for lv in self.lv]
        self.resident()

    # -- driver (a :class:`.runner.QueueRunner`) -------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.produced >= self.s.stage1_latents

    @property
    def frames_done(self) -> int:
        return self.stats.output_latents

    def iterate(self) -> list[Frame]:
        """One iteration: a sweep, self-reflection, the front group leaves (into the unified stage), a group enters."""
        g = self.s.group
        self.pending = []
        self.sweep(self.it)
        if self.reflection is not None:
            self.reflection.after_sweep(self)
        if self.lv[0] >= self.s.end_level:
            out, ids = self.x[:, :, :g], self.ids[:g]
            self.x, self.lv, self.ids = self.x[:, :, g:], self.lv[g:], self.ids[g:]
            if self.x0 is not None:
                self.x0 = self.x0[:, :, g:]
            self.produced += g
            if self.unified is not None:
                self.unified.arrive(self, out.clone())
            else:
                for p, sid in enumerate(ids):
                    self.emit(sid, out[:, :, p:p + 1].clone())
        # one group of fresh seeded noise enters at the tail
        self.x = torch.cat([self.x, self.fresh(g)], dim=2)
        if self.x0 is not None:
            self.x0 = torch.cat([self.x0, torch.zeros_like(self.x0[:, :, :g])], dim=2)
        self.lv += [0] * g
        self.ids += list(range(self.next_id, self.next_id + g))
        self.next_id += g
        self.stats.iterations = self.it + 1
        self.it += 1
        if self.done and self.stats.output_latents != self.frames:
            raise RuntimeError(f"MIGA produced {self.stats.output_latents} of {self.frames} latents (a bug)")
        return self.pending

    def info(self) -> dict[str, Any]:
        sigma = self.sig[torch.tensor(self.lv, device=self.sig.device)]
        newest = self.newest if self.newest is not None else self.x[:, :, :1]
        return {"x": self.x, "i": self.it - 1, "sigma": sigma, "sigma_hat": sigma, "denoised": newest,
                "frame": self.stats.output_latents - 1, "entries": [e - self.s.warmup for e in self.ids],
                "total": self.total, "stats": self.stats}

    # Everything that changes during a run. A new attribute of the loop state must be added here, or a resumed run
    # would silently differ (tests/test_stream_engine.py checks resumed runs bit for bit).
    _STATE = ("x", "lv", "ids", "next_id", "x0", "newest", "produced", "it", "phase")
    _UNIFIED = (("ubuf", "buf"), ("ulo", "lo"), ("udone", "done"))  # state key, UnifiedStream attribute

    def state_dict(self) -> dict[str, Any]:
        state = {name: clone_state(getattr(self, name)) for name in self._STATE}
        for key, attr in self._UNIFIED:
            state[key] = clone_state(getattr(self.unified, attr)) if self.unified is not None else []
        state.update(kind="miga", rng=self.gen.get_state(), stats=dataclasses.asdict(self.stats),
                     frames_done=self.frames_done,
                     judge=None if self.reflection is None else list(self.reflection.judge.history),
                     bank=None if self.bank is None else {"total": self.bank.total,
                                                          "frames": clone_state(list(self.bank.frames()))})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, "miga", self._STATE + tuple(k for k, _ in self._UNIFIED) + ("rng", "stats", "judge", "bank"))
        if tuple(state["x"].shape[:2]) != tuple(self.x.shape[:2]) or state["x"].shape[3:] != self.x.shape[3:]:
            raise ValueError(f"the resume state's latents are {tuple(state['x'].shape)}, this run's are "
                             f"{tuple(self.x.shape)} (frames aside): resume with the latent size it was saved with")
        device = self.like.device
        for name in self._STATE:
            setattr(self, name, clone_state(state[name], device))
        if self.unified is not None:
            for key, attr in self._UNIFIED:
                setattr(self.unified, attr, clone_state(state[key], device))
        self.gen.set_state(state["rng"])
        self.stats = MigaStats(**state["stats"])
        if self.reflection is not None:
            self.reflection.judge = dataclasses.replace(self.reflection.judge, history=tuple(state["judge"]))
        if self.bank is not None:
            self.bank.restore(state["bank"]["total"], clone_state(state["bank"]["frames"], device))


@torch.no_grad()
def sample_miga(
    config: QueueConfig,
    denoiser: Denoiser,
    latent: Tensor,
    sigmas: Tensor,
    frames: int,
    *,
    generator: torch.Generator,
    rule: str = "euler",
    eta: float = 1.0,
    prompt_ranges: Optional[Sequence[FrameRange]] = None,
    callback: Optional[Callable[[dict[str, Any]], None]] = None,
    output_device: Optional[torch.device] = None,
    noise_scaling: NoiseScaling = ve_noise_scaling,
    stats: Optional[MigaStats] = None,
    stream: Optional[Stream] = None,
    setup: Optional[MigaSetup] = None,
) -> Tensor:
    """Generate ``frames`` latent frames with MIGA; returns ``[B, C, frames, H, W]`` on ``output_device`` (with
    ``stream.keep``, only the newest ``keep``; see :mod:`.runner`).

    ``sigmas``: the ladder ``[T + 1]`` (:func:`.miga_setup.miga_steps` + 1 entries, ending at 0). ``stats``: an
    optional :class:`MigaStats` filled in during the run (also passed to ``callback`` as ``"stats"``; on a resumed run
    it continues the saved counters). ``setup``: :func:`.miga_setup.prepare_miga`'s answer for these inputs when the
    caller has checked them already (it is not resolved again).
    """
    if setup is None:
        setup = prepare_miga(config, latent, sigmas, frames)
    elif setup.frames != int(frames):
        raise ValueError(f"this MIGA set-up is for {setup.frames} output latents, not {frames}: prepare it with "
                         f"prepare_miga(config, latent, sigmas, frames)")
    run = MigaRun(denoiser, latent, sigmas, setup, generator=generator, rule=rule, eta=eta,
                  noise_scaling=noise_scaling, prompt_ranges=prompt_ranges, stats=stats)
    b, c, _, h, w = latent.shape
    tail = LatentTail((b, c, h, w), setup.frames, stream.keep if stream else None, output_device or latent.device)
    out = drive(run, tail, stream, callback)
    if stats is not None and stats is not run.stats:  # a resumed run replaced the counters: hand them back
        for k, v in dataclasses.asdict(run.stats).items():
            setattr(stats, k, v)
    return out
