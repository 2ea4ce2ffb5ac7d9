"""Chunked continuation: a queue option that keeps the subject by conditioning every new chunk on finished latents.

Each iteration denoises ``k`` new latents (one *chunk*) over the ladder (``sigmas[0] -> 0``, one model call per
step) in a window of ``f`` frames whose other ``f - k`` slots hold finished latents (at sigma 0, or, tracked, at the
chunk's level: below): ``anchors`` latents from early in the video (output latents ``0, s, 2s, ...``, ``s =
anchor_every``; kept for the whole run, as the "sink" frames of autoregressive video models) and the newest finished
latents. Every window frame is given its true stream
position (:mod:`.denoiser`), so anchors read as far away, not as neighbours: in ComfyUI the Wan 2.1 / 2.2 model's
temporal RoPE gets each frame's offset in the window, far gaps shortened to stay within the span Wan is trained on
(``nodes/positions.py``), while LTX-Video and Cosmos Predict2 windows stay consecutive, so anchors are refused for them
(``positions_reach_model``, before any model call). The first chunk has no context and is
sampled natively in a full window of ``f`` new latents; the last one shrinks so no latent is wasted.

Why: a queue (FIFO-Diffusion, MIGA) denoises each frame with neighbours at other noise levels and cuts its
conditioning at every window border, so it loses variance against native sampling of one window and forgets the
subject within a few windows (the analytic oracle, ``tools/testing/oracle.py``, measures both). A chunk here sees the
same clean context at every step of its ladder, like an image-to-video continuation, and the anchors carry the
subject across the whole video. Cost: ``steps / k`` model calls per output latent.

Chunks in flight (``ContinuationConfig.in_flight`` = n > 1): a pipeline. The window holds the context, then n chunks,
oldest first, each ``h = ceil(steps / n)`` steps further down the ladder than the next; one *tick* is ``h`` calls in
which every chunk takes ``h`` steps (a chunk that reaches sigma 0 early stays as clean context), then the oldest leaves
and a new chunk starts from noise. Every chunk still runs the whole ladder, but a chunk leaves every ``h`` calls:
``h / k`` calls per output latent. The younger chunks see the older ones as their newest neighbours, a level or two
cleaner, which a model trained on single-level windows reads far better than clean context next to pure noise (the
oracle's mismatched denoiser: ``docs/benchmarks.md``). Not with the shared-level mode (one level per window).

Step rules: ``euler``, ``euler_ancestral`` and ``dpmpp_2m`` (DPM-Solver++(2M), :func:`.steps.dpmpp_2m_denoised`:
each chunk keeps its previous estimate; no extra calls). On the oracle 2M's native sampling keeps the variance Euler's
loses at these step counts (1.00 against 0.88 at 27 steps), and the chain with two chunks in flight needs it to keep
the variance (docs/benchmarks.md, "Identity over hundreds of frames").

Shared-level mode (``ContinuationConfig.shared_level``, or automatic for a denoiser that takes one level per window,
:func:`.denoiser.needs_one_level`, such as Wan VACE, which embeds one timestep per window): the context slots are not
given at sigma 0 but replaced at every step by their clean latents noised to the chunk's current level (the
replacement method of inpainting, as ComfyUI's ``KSamplerX0Inpaint``: one seeded noise draw per chunk, reused at every
step), so every frame of the window has the same sigma. The denoiser is also told which slots are known and their
clean latents (``known``, :class:`.denoiser.KnownSlots`), so a model with its own known-frame input (VACE's mask)
gets them that way. The context noise comes from the run's generator, after the chunk's own noise.

Tracked context (``ContinuationConfig.track`` > 0; the node's ``context`` "tracked", its default): shared-level windows
whose context noise is not fixed but follows the model's reading of the context. After every call the noisy context
moves by ``track * alpha * (clean - D_context)`` (:meth:`ContinuationRun._track`), so over a chunk's ladder the model
reads the context ever closer to its clean latents. Why: a model trained on single-level windows (every text-to-video
model) reads clean context beside a noisy chunk wrongly, and context re-noised to the chunk's level (shared level)
carries too little of it; for a Gaussian video, a noisy context on which the single-level posterior reads the clean
latents makes that posterior denoise the chunk exactly as a per-frame-level model with clean context would. This is
the fixed point of reconstruction guidance (Ho et al. 2022, "Video Diffusion Models" §3.1: ``x_b - w alpha / 2
grad_{z_b} ||x_a - D_a(z)||^2``) taken with the model's Jacobian as symmetric (a denoiser's is: Tweedie), which turns
its gradient into the change of the chunk's estimate when the context moves, so no gradient and no extra call is
needed; one Richardson step per call, carried across the ladder, tracks it. On the analytic oracle gains 2-7 give
alike results and 8 diverges (``docs/benchmarks.md``).

``denoise`` < 1: a chunk after the first starts from the newest finished latent, repeated and noised to step
``steps - ceil(denoise * steps)`` of the ladder (SDEdit, Meng et al. 2022), and runs only the steps below it. At the
top of the ladder a single-level model cannot read the context at all (at sigma 1 the context is pure noise to it),
so the chunk would settle its coarse content unconditioned; starting next to the context skips exactly those steps,
and costs fewer calls (``denoise * steps / k`` per output latent). With tracked context this is the node's default:
on the oracle it meets every identity target on both denoisers at 0.55x the calls of FIFO with lookahead.

Shapes: latents ``[B, C, F, H, W]``; the denoiser contract of :mod:`.denoiser`. State between iterations (for
resume, :mod:`.runner`): the anchors, the newest ``f - 1`` finished latents, the chunks in flight (latents, first
position, steps done, previous estimate), the count done and the generator's state; memory is those latents plus the
output tail, whatever the length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from .config import ContinuationConfig, QueueConfig
from .denoiser import Denoiser, KnownSlots, needs_one_level, positions_reach_model, window_positions
from .fifo import _denoise_grouped, _randn, check_video_latent
from .prompts import FrameRange, validate_schedule
from .runner import LatentTail, Stream, check_state, drive
from .steps import NoiseScaling, dpmpp_2m_denoised, get_step_rule, per_frame_step, ve_noise_scaling

TRACK_GAIN = 2.0  # tracked context's gain: on the oracle 2-7 give alike rows, 8 and more diverge (docs/benchmarks.md)
MAX_TRACK = 4.0
# Chunked Continuation's context widget -> ContinuationConfig.track (an API prompt from before the widget: clean)
CONTEXT_TRACK = {"clean": 0.0, "tracked": TRACK_GAIN}
# the Chunked Continuation node's widget defaults, chosen at the shapes models' window of 9 on the analytic oracle
# (every target of both denoisers) and on the bouncing model (docs/benchmarks.md)
NODE_DEFAULTS = ContinuationConfig(chunk=4, anchors=4, anchor_every=24, track=TRACK_GAIN, denoise=0.5)


def check_alone(config: QueueConfig) -> None:
    """``ValueError`` when ``config`` has continuation and MIGA parts: continuation replaces the queue they act on."""
    if config.continuation is not None and config.is_miga:
        raise ValueError("continuation replaces the queue: remove the MIGA parts (Zigzag Stage, Unified Stage, "
                         "Self-Reflection, Long-Range Guidance) or turn continuation off")


def check_continuation(cfg: ContinuationConfig, window: int, steps: int) -> None:
    """``ValueError`` naming the input and the fix unless the chunk and the anchors fit the window."""
    k, a, s, n = int(cfg.chunk), int(cfg.anchors), int(cfg.anchor_every), int(cfg.in_flight)
    if window < 2:
        raise ValueError(f"continuation needs a window of at least 2 latent frames (one clean, one new), got "
                         f"window_length {window}")
    if n < 1:
        raise ValueError(f"continuation in_flight must be at least 1 chunk, got {n}")
    if not 1 <= n * k <= window - 1:
        what, fix = (f"chunk {k}", "the chunk") if n == 1 else (f"chunk {k} x in_flight {n} = {n * k} new latents",
                                                                 "the chunk or in_flight")
        raise ValueError(f"continuation {what} must be in [1, window - 1 = {window - 1}] (the rest of the window "
                         f"holds clean context); lower {fix} or widen the window")
    if not 0 <= a <= window - 1 - n * k:
        new = "chunk" if n == 1 else "chunk x in_flight"
        raise ValueError(f"continuation anchors {a} must be in [0, window - {new} - 1 = {window - 1 - n * k}]: the "
                         f"window of {window} holds {n * k} new latents, the anchors and at least one newest finished "
                         f"latent; lower the anchors, the chunk{'' if n == 1 else ' or in_flight'}")
    if a > 0 and s < 1:
        raise ValueError(f"continuation anchor_every must be at least 1 latent, got {s}")
    if steps < 1:
        raise ValueError(f"continuation needs a ladder of at least 1 step, got {steps}")
    check_modes(cfg)


def check_modes(cfg: ContinuationConfig) -> None:
    """``ValueError`` naming the input and the fix unless ``track`` and ``denoise`` are in range and fit
    ``in_flight`` (whatever the window)."""
    n, track, den = int(cfg.in_flight), cfg.track, cfg.denoise
    if not (isinstance(track, (int, float)) and math.isfinite(track) and 0 <= track <= MAX_TRACK):
        raise ValueError(f"continuation track must be a gain in [0, {MAX_TRACK}] (0 = clean context; "
                         f"{TRACK_GAIN} as tuned on the oracle), got {track!r}")
    if not (isinstance(den, (int, float)) and math.isfinite(den) and 0 < den <= 1):
        raise ValueError(f"continuation denoise must be in (0, 1] (the share of the ladder a chunk runs; 1 = from "
                         f"pure noise), got {den!r}")
    if n > 1 and (cfg.tracked or den < 1):
        what = "tracked context (one level per window)" if cfg.tracked else f"denoise {den} (a later start)"
        raise ValueError(f"continuation in_flight {n} cannot run with {what}: chunks in flight sit a fixed number of "
                         f"steps apart; set in_flight to 1, or context to clean and denoise to 1")


def skipped_steps(cfg: ContinuationConfig, steps: int) -> int:
    """Ladder steps a chunk after the first skips: ``steps - ceil(denoise * steps)`` (at least one step runs)."""
    return steps - max(1, math.ceil(float(cfg.denoise) * steps - 1e-9))


def calls_per_tick(cfg: ContinuationConfig, steps: int) -> int:
    """Model calls between two chunks leaving, once the first window is done: ``ceil(steps / in_flight)``, less the
    steps a chunk skips below 1 ``denoise`` (the run's ticks and the plan's cost alike)."""
    return -(-steps // int(cfg.in_flight)) - skipped_steps(cfg, steps)


def context_positions(done: int, new: int, window: int, anchors: Sequence[int]) -> tuple[list[int], list[int]]:
    """``(anchor positions, recent positions)`` in the window of a chunk of ``new`` latents after ``done`` finished
    ones: the anchors that lie before the recent block (at most all but one context slot), then the newest finished
    latents filling the rest."""
    ctx = window - new
    use = [p for p in anchors if p < done][:max(0, ctx - 1)]  # at least one newest latent
    while True:
        start = done - (ctx - len(use))
        keep = [p for p in use if p < start]
        if keep == use:
            return use, list(range(max(0, start), done))
        use = keep


def chunk_ticks(frames: int, window: int, chunk: int, steps: int, per_tick: int) -> int:
    """Ticks of a continuation run after its first window: one per chunk, plus the ticks the last chunk still needs
    after it starts (``ceil(steps / per_tick) - 1``; 0 with one chunk in flight). Each such tick costs ``per_tick``
    window calls, the first window ``steps``."""
    chunks = max(0, -(-(frames - window) // chunk))
    return chunks + (-(-steps // per_tick) - 1 if chunks else 0)


@dataclass
class _Chunk:
    """One chunk in flight: its latents ``x`` ``[B, C, m, H, W]``, the stream position of its first latent, the ladder
    steps it has taken and its previous denoised estimate (``dpmpp_2m``'s history; None before its first step)."""

    x: Tensor
    first: int
    step: int = 0
    old: Optional[Tensor] = None

    @property
    def positions(self) -> list[int]:
        return list(range(self.first, self.first + self.x.shape[2]))


class ContinuationRun:
    """One chunked-continuation run, one *tick* per :meth:`iterate` (a :class:`.runner.QueueRunner`): a chunk starts,
    every chunk in flight takes ``ceil(steps / in_flight)`` ladder steps together, and the oldest leaves when it is
    clean. With ``in_flight`` 1 (the default) a tick is a whole chunk."""

    def __init__(self, cfg: ContinuationConfig, denoiser: Denoiser, latent: Tensor, sigmas: Tensor, window: int,
                 frames: int, *, generator: torch.Generator, rule: str = "euler", eta: float = 1.0,
                 noise_scaling: NoiseScaling = ve_noise_scaling, init: str = "noise",
                 prompt_ranges: Optional[Sequence[FrameRange]] = None):
        check_continuation_inputs(cfg, latent, sigmas, window, frames, init)
        get_step_rule(rule, multistep=True)
        if prompt_ranges is not None:
            validate_schedule(prompt_ranges)
        if cfg.anchors > 0 and not positions_reach_model(denoiser):
            raise ValueError(f"continuation anchors {cfg.anchors}: anchors need a model that takes frame positions "
                             f"(its temporal positions set per frame), and this one sees every window as consecutive "
                             f"frames, so it would read far-away anchors as neighbours; set anchors to 0, or use a "
                             f"Wan 2.1 / 2.2 model (LTX-Video and Cosmos Predict2 windows stay consecutive)")
        self.shared = bool(cfg.shared_level) or cfg.tracked or needs_one_level(denoiser)
        if self.shared and int(cfg.in_flight) > 1:
            raise ValueError(f"continuation in_flight {cfg.in_flight}: this model (or shared_level) takes one noise "
                             f"level per window, and chunks in flight sit at different levels; set in_flight to 1")
        self.cfg, self.den, self.gen, self.rule, self.eta = cfg, denoiser, generator, rule, eta
        self.ns, self.ranges, self.window, self.frames = noise_scaling, prompt_ranges, int(window), int(frames)
        self.sigmas = sigmas.to(device=latent.device, dtype=torch.float32)
        self.steps = self.sigmas.shape[0] - 1
        self.skip = skipped_steps(cfg, self.steps)  # a later chunk's first step (0: from pure noise)
        self.per_tick = calls_per_tick(cfg, self.steps)
        self.like = latent.to(torch.float32)
        self.anchor_at = [j * int(cfg.anchor_every) for j in range(int(cfg.anchors))]
        self.anchors: dict[int, Tensor] = {}  # output index -> clean latent [B, C, 1, H, W]
        self.recent = self.like[:, :, :0].clone()  # newest finished latents, at most window - 1
        self.flight: list[_Chunk] = []  # chunks being denoised, oldest first
        self.done_count = 0
        self.it = 0
        self.clip = init == "clip"
        self._info: dict[str, Any] = {}

    @property
    def done(self) -> bool:
        return self.done_count >= self.frames

    @property
    def frames_done(self) -> int:
        return min(self.done_count, self.frames)

    @property
    def started(self) -> int:
        """Stream position of the next chunk's first latent."""
        return self.flight[-1].first + self.flight[-1].x.shape[2] if self.flight else self.done_count

    def _keep(self, first: int, latents: Tensor) -> None:
        """Finished latents ``first, first + 1, ...`` become context: anchors and the newest ``window - 1``."""
        for p in range(latents.shape[2]):
            if first + p in self.anchor_at:
                self.anchors[first + p] = latents[:, :, p:p + 1].clone()
        self.recent = torch.cat([self.recent, latents], dim=2)[:, :, -(self.window - 1):].clone()
        self.done_count = first + latents.shape[2]

    def iterate(self) -> list[tuple[int, Tensor]]:
        f, first_window = self.window, self.done_count == 0
        if self.clip and first_window:  # the clip is the video's first f latents
            self.flight.append(_Chunk(self.like[:, :, :f].clone(), 0, self.steps))
        else:
            p = self.started
            if p < self.frames:  # too few finished latents to fill the window: more new ones (the first chunk: all f)
                self._start(p, max(min(int(self.cfg.chunk), self.frames - p), f - p))
            self._advance(self.steps if first_window else self.per_tick)
        out: list[tuple[int, Tensor]] = []
        while self.flight and self.flight[0].step >= self.steps:  # the oldest is clean: it leaves
            ch = self.flight.pop(0)
            self._keep(ch.first, ch.x)
            out += [(ch.first + q, ch.x[:, :, q:q + 1]) for q in range(ch.x.shape[2]) if ch.first + q < self.frames]
        self.it += 1
        shown = torch.cat([x for _, x in out], dim=2) if out else self.flight[0].x
        self._info = {"x": shown, "i": self.it - 1, "sigma": self.sigmas[-1:], "sigma_hat": self.sigmas[-1:],
                      "denoised": shown[:, :, -1:], "frame": self.frames_done - 1,
                      "entries": [q for q, _ in out], "total": self.total_iterations()}
        return out

    def _start(self, first: int, m: int) -> None:
        """A chunk of ``m`` latents joins the flight (one seeded draw): from noise at the top of the ladder, or, with
        ``denoise`` below 1 and a finished latent to start from, the newest finished latent repeated and noised to
        the level of step :attr:`skip` (SDEdit, Meng et al. 2022: the model starts from a guess that already sits
        next to its context, where a single-level model cannot read the context yet)."""
        b, c, _, h, w = self.like.shape
        noise = _randn((b, c, m, h, w), self.gen, self.like)
        i = self.skip if self.recent.shape[2] else 0
        start = self.recent[:, :, -1:].expand(-1, -1, m, -1, -1) if i else torch.zeros_like(noise)
        self.flight.append(_Chunk(self.ns(self.sigmas[i:i + 1].expand(m), noise, start), first, i))

    def _advance(self, calls: int) -> None:
        """``calls`` model calls on one window ``[context | chunks in flight, oldest first]``: each chunk not yet
        clean takes one step of the ladder per call (a clean one stays, at sigma 0, as context)."""
        f, chunks = self.window, self.flight
        new = sum(ch.x.shape[2] for ch in chunks)
        anc, rec = context_positions(chunks[0].first, new, f, self.anchor_at)
        ctx = [self.anchors[p] for p in anc] + ([self.recent[:, :, self.recent.shape[2] - len(rec):]] if rec else [])
        pos = anc + rec + [q for ch in chunks for q in ch.positions]
        positions = window_positions(pos, self.like)
        c = len(anc) + len(rec)
        b, ch_, _, h, w = self.like.shape
        clean = torch.cat(ctx, dim=2) if ctx else self.like[:, :, :0]
        zeros = self.sigmas.new_zeros(c)
        known, ctx_noise = None, None
        if self.shared and c > 0:  # one chunk in flight (checked): its context noise, drawn after its own noise
            ctx_noise = _randn((b, ch_, c, h, w), self.gen, self.like)
            slots = torch.arange(c + new, device=self.like.device) < c
            known = KnownSlots(slots, torch.cat([clean, torch.zeros_like(chunks[0].x)], dim=2))
        for _ in range(calls):
            ctx_x, ctx_sig = clean, zeros
            if ctx_noise is not None:  # the context at the chunk's level, replaced from its clean latents each step
                ctx_sig = self.sigmas[chunks[0].step].expand(c)
                ctx_x = self.ns(ctx_sig, ctx_noise, clean)
            sig = torch.cat([ctx_sig] + [self.sigmas[min(ch.step, self.steps)].expand(ch.x.shape[2])
                                         for ch in chunks]).expand(b, -1)
            den = _denoise_grouped(self.den, torch.cat([ctx_x] + [ch.x for ch in chunks], dim=2), sig, pos,
                                   self.ranges, positions, known)
            if ctx_noise is not None and self.cfg.tracked:
                ctx_noise = self._track(ctx_noise, clean, den[:, :, :c], ctx_sig)
            at = c
            for ch in chunks:
                m, i = ch.x.shape[2], ch.step
                if i < self.steps:
                    d = den[:, :, at:at + m]
                    s, s_next = self.sigmas[i].expand(m), self.sigmas[i + 1].expand(m)
                    est = d
                    if self.rule == "dpmpp_2m":
                        est = dpmpp_2m_denoised(d, ch.old, float(self.sigmas[i - 1]) if i else None,
                                                float(self.sigmas[i]), float(self.sigmas[i + 1]), self.ns)
                        ch.old = d
                    noise = None
                    if self.rule == "euler_ancestral" and self.eta > 0:
                        noise = _randn((b, ch_, m, h, w), self.gen, ch.x)
                    ch.x = per_frame_step(self.rule, ch.x, est, s.expand(b, -1), s_next.expand(b, -1), eta=self.eta,
                                          noise=noise, noise_scaling=self.ns)
                    ch.step = i + 1
                at += m

    def _track(self, noise: Tensor, clean: Tensor, read: Tensor, sigma: Tensor) -> Tensor:
        """Tracked context: the context's noise for the next step, moved so that the model's reading of the context
        (``read``, its denoised estimate) comes closer to the clean latents: ``noise + g alpha (clean - read) /
        sigma`` (``g`` = ``track``, ``alpha`` the signal scale at ``sigma``), i.e. the noisy context moves by
        ``g alpha (clean - read)``.

        Why: a model trained on single-level windows reads context at the chunk's level as noisy evidence and hardly
        follows it. The context input that makes the model read the context as its clean latents makes it denoise the
        chunk exactly as a per-frame-level model with clean context would: for a Gaussian video this is an identity
        (``D_a(z_a, z_b) = x_a`` implies ``D_b(z_a, z_b) = E[x_b | x_a, z_b]``), and it is the fixed point of
        reconstruction guidance (Ho et al. 2022, "Video Diffusion Models" §3.1) with the model's Jacobian taken as
        symmetric, as a denoiser's is. One Richardson step per call, carried from step to step, tracks that fixed
        point at no extra call. ``noise``, ``clean``, ``read``: ``[B, C, c, H, W]``; ``sigma``: ``[c]``."""
        one = torch.ones_like(noise[:1, :1, :, :1, :1])
        alpha = self.ns(sigma, torch.zeros_like(one), one)  # [1, 1, c, 1, 1] signal scale: 1 - sigma (flow), 1 (VE)
        return noise + float(self.cfg.track) * alpha / self.ns(sigma, one, torch.zeros_like(one)) * (clean - read)

    def total_iterations(self) -> int:
        """Ticks in the run: the first window, then :func:`chunk_ticks`."""
        return 1 + chunk_ticks(self.frames, self.window, int(self.cfg.chunk), self.steps, self.per_tick)

    def info(self) -> dict[str, Any]:
        return self._info

    _STATE_KEYS = ("anchors", "recent", "done_count", "it", "rng")

    def state_dict(self) -> dict[str, Any]:
        """Everything the next tick reads, the chunks in flight included (their latents, first positions, steps and
        previous estimates), so a resumed run continues bit for bit."""
        return {"kind": "continuation", "anchors": {p: t.detach().clone() for p, t in self.anchors.items()},
                "recent": self.recent.detach().clone(), "done_count": self.done_count, "it": self.it,
                "rng": self.gen.get_state(), "frames_done": self.frames_done,
                "flight": [{"x": ch.x.detach().clone(), "first": ch.first, "step": ch.step,
                            "old": None if ch.old is None else ch.old.detach().clone()} for ch in self.flight]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, "continuation", self._STATE_KEYS)
        r = state["recent"]
        if tuple(r.shape[:2]) + tuple(r.shape[3:]) != tuple(self.like.shape[:2]) + tuple(self.like.shape[3:]):
            raise ValueError(f"the resume state's latents are {tuple(r.shape)}, this run's are "
                             f"{tuple(self.like.shape)} (frames aside): resume with the latent size it was saved with")
        if sorted(int(p) for p in state["anchors"]) != [p for p in self.anchor_at if p < int(state["done_count"])]:
            raise ValueError("the resume state's anchors do not match this run's anchors / anchor_every: resume with "
                             "the continuation settings it was saved with")
        flight = state.get("flight", [])  # absent in states saved before chunks could be in flight: none were
        # between ticks at most in_flight - 1 chunks are in flight, each a whole number of ticks down its ladder
        if len(flight) > int(self.cfg.in_flight) - 1 or any(
                int(c["x"].shape[2]) > int(self.cfg.chunk) or not 0 < int(c["step"]) < self.steps
                or int(c["step"]) % self.per_tick for c in flight):
            raise ValueError("the resume state's chunks in flight do not match this run's chunk / in_flight: resume "
                             "with the continuation settings it was saved with")
        self.anchors = {int(p): t.to(self.like).clone() for p, t in state["anchors"].items()}
        self.recent = r.to(self.like).clone()
        self.flight = [_Chunk(c["x"].to(self.like).clone(), int(c["first"]), int(c["step"]),
                              None if c["old"] is None else c["old"].to(self.like).clone()) for c in flight]
        self.done_count, self.it = int(state["done_count"]), int(state["it"])
        self.gen.set_state(state["rng"])


def check_continuation_inputs(cfg: ContinuationConfig, latent: Tensor, sigmas: Tensor, window: int, frames: int,
                              init: str = "noise") -> None:
    """Raise a ``ValueError`` naming the bad input and the fix, before any model call."""
    if int(frames) < 1:
        raise ValueError(f"frames must be at least 1 output latent frame, got {frames}")
    check_video_latent(latent)
    if window > latent.shape[2]:
        raise ValueError(f"window_length {window} is longer than the latent's {latent.shape[2]} frames; set "
                         f"window_length to at most {latent.shape[2]} (0 = the latent's length) or make the latent "
                         f"longer")
    if init not in ("clip", "noise"):
        raise ValueError(f"Unknown init mode {init!r}: choose clip or noise")
    if sigmas.ndim != 1 or sigmas.shape[0] < 2:
        raise ValueError(f"sigmas must be a 1-D schedule with at least 2 entries, got shape {tuple(sigmas.shape)}")
    check_continuation(cfg, window, sigmas.shape[0] - 1)
    if float(sigmas[-1]) != 0.0:
        raise ValueError("sigmas must end at 0 so chunks finish clean; do not split off the last step")
    if not bool(torch.all(sigmas[:-1] > sigmas[1:])):
        raise ValueError("sigmas must be strictly decreasing")


@torch.no_grad()
def sample_continuation(cfg: ContinuationConfig, denoiser: Denoiser, latent: Tensor, sigmas: Tensor, window: int,
                        frames: int, *, generator: torch.Generator, output_device: Optional[torch.device] = None,
                        callback: Optional[Callable[[dict[str, Any]], None]] = None, stream: Optional[Stream] = None,
                        **kwargs: Any) -> Tensor:
    """Generate ``frames`` latent frames ``[B, C, frames, H, W]`` by chunked continuation (only the newest
    ``stream.keep`` when streamed); ``kwargs`` are those of :class:`ContinuationRun`."""
    b, c, _, h, w = latent.shape
    run = ContinuationRun(cfg, denoiser, latent, sigmas, window, frames, generator=generator, **kwargs)
    tail = LatentTail((b, c, h, w), frames, stream.keep if stream else None, output_device or latent.device)
    return drive(run, tail, stream, callback)
