"""FIFO-Diffusion sampling loop (Kim et al. 2024, arXiv 2405.11473, Alg. 1 with §3.3 partitioning and §3.4 lookahead).

Shapes: latents are ``[B, C, F, H, W]`` with frames on axis 2. The denoiser contract is
``denoiser(x[B, C, f, H, W], sigma[B, f], prompts=None, positions=None) -> x0[B, C, f, H, W]``: one sigma per frame,
``prompts`` an optional tuple of conditioning indices (see :mod:`.prompts`), ``positions`` the window frames' stream
positions, passed when the denoiser takes them (see :mod:`.denoiser`). Randomness comes only from the injected
``torch.Generator`` (CPU noise moved to the latent's device, as ComfyUI does), so a seed reproduces bit for bit.

The queue state is explicit (:class:`FifoQueue`, saved and loaded by :class:`FifoRun`); memory is one queue plus the
output frames, whatever the length, or one queue plus a bounded tail when the run is streamed (:mod:`.runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
from torch import Tensor

from .denoiser import KnownSlots, call_denoiser, window_positions
from .fifo_auto import (
    check_auto_clip_latent,
    filled_queue,
    info_for_clip,
    native_clip,
    needed_entries,
    read_span,
    slot_sigmas,
)
from .plan import AUTO_CLIP, FifoPlan
from .prompts import FrameRange, group_frames, validate_schedule
from .runner import LatentTail, Stream, check_state, drive
from .steps import NoiseScaling, get_step_rule, per_frame_step, ve_noise_scaling

Denoiser = Callable[..., Tensor]


@dataclass
class FifoQueue:
    """Queue state between iterations.

    ``latents``: ``[B, C, pad + Q, H, W]``, slot 0 the clean end. ``entries``: the id of the frame in each slot (ids
    count frames in the order they entered: the initial proper slots are ``0 .. Q-1``, then one id per refill;
    ``-1`` marks initial padding). ``next_entry``: the id the next refill gets.
    """

    latents: Tensor
    entries: list[int]
    next_entry: int


def check_video_latent(latent: Tensor) -> None:
    """A video latent is ``[B, C, F, H, W]``."""
    if latent.ndim != 5:
        raise ValueError(
            f"latent must be a video latent [batch, channels, frames, height, width], got rank {latent.ndim} "
            f"(shape {tuple(latent.shape)}); use a video latent node such as EmptyHunyuanLatentVideo or "
            "EmptyLTXVLatentVideo"
        )


def check_fifo_inputs(plan: FifoPlan, latent: Tensor, sigmas: Tensor, frames: int) -> None:
    """Raise a ``ValueError`` naming the bad input and the fix, before any model call."""
    if int(frames) < 1:
        raise ValueError(f"frames must be at least 1 output latent frame, got {frames}")
    check_video_latent(latent)
    if plan.window > latent.shape[2]:
        raise ValueError(
            f"window_length {plan.window} is longer than the latent's {latent.shape[2]} frames; set window_length "
            f"to at most {latent.shape[2]} (0 = the latent's length) or make the latent longer"
        )
    if sigmas.ndim != 1 or sigmas.shape[0] < 2:
        raise ValueError(f"sigmas must be a 1-D schedule with at least 2 entries, got shape {tuple(sigmas.shape)}")
    steps = sigmas.shape[0] - 1
    if steps != plan.steps:
        short = "too short" if steps < plan.steps else "too long"
        if plan.group == 1:
            raise ValueError(
                f"the sigma schedule has {steps} steps, {short} for the queue: FIFO needs exactly window_length x "
                f"partitions = {plan.window} x {plan.partitions} = {plan.steps} steps (one per queue slot); set steps "
                f"to {plan.steps} in the scheduler, or change partitions (a few-step model: set group_size so that "
                f"window_length / group_size x partitions equals its steps)")
        raise ValueError(
            f"the sigma schedule has {steps} steps, {short} for the queue: FIFO with groups needs exactly "
            f"window_length / group_size x partitions = {plan.window} / {plan.group} x {plan.partitions} = "
            f"{plan.steps} steps (one per level); set steps to {plan.steps} in the scheduler, or change group_size "
            f"or partitions so the queue has as many levels as the model's steps")
    if float(sigmas[-1]) != 0.0:
        raise ValueError("sigmas must end at 0 so frames leave the queue clean; do not split off the last step")
    if not bool(torch.all(sigmas[:-1] > sigmas[1:])):
        raise ValueError("sigmas must be strictly decreasing (one distinct noise level per queue slot)")
    if plan.init == AUTO_CLIP:
        check_auto_clip_latent(latent)


def _randn(shape: Sequence[int], generator: torch.Generator, like: Tensor) -> Tensor:
    return torch.randn(tuple(shape), generator=generator, dtype=torch.float32, device=generator.device).to(like)


def init_queue(
    plan: FifoPlan,
    latent: Tensor,
    sigmas: Tensor,
    generator: torch.Generator,
    noise_scaling: NoiseScaling = ve_noise_scaling,
) -> FifoQueue:
    """Fill the queue (FIFO-Diffusion §3, queue initialisation).

    ``clip``: ``latent[:, :, :f]`` is a clean clip; proper slot ``p`` holds clip frame ``max(0, p - (Q - f))``
    re-noised to its level, so the clip sits in the noisiest ``f`` slots and cleaner slots hold its first frame.
    Padding slots hold the clean first frame. ``noise``: every proper slot holds noise at its level around a blank
    (zero) latent and padding is blank; the first ``Q`` leaving frames are discarded. ``auto clip``: a blank
    placeholder, filled by the run's first iteration (:mod:`.fifo_auto`); nothing is drawn.
    """
    b, c, _, h, w = latent.shape
    q, f = plan.queue, plan.window
    level_sigma = sigmas.to(latent)[list(plan.levels)]  # [pad + Q]
    if plan.init == AUTO_CLIP:
        blank = torch.zeros((b, c, plan.slots, h, w), dtype=torch.float32, device=latent.device)
        return FifoQueue(blank.to(latent), [-1] * plan.slots, 0)
    noise = _randn((b, c, plan.slots, h, w), generator, latent)
    if plan.init == "clip":
        src = [0] * plan.pad + [max(0, p - (q - f)) for p in range(q)]
        x0 = latent[:, :, src].to(torch.float32)
    else:
        x0 = torch.zeros((b, c, plan.slots, h, w), dtype=torch.float32, device=latent.device)
    latents = noise_scaling(level_sigma, noise, x0)
    return FifoQueue(latents, [-1] * plan.pad + list(range(q)), q)


class FifoRun:
    """One FIFO-Diffusion run, an iteration per :meth:`iterate` (a :class:`.runner.QueueRunner`).

    Each iteration (Alg. 1): every window of the plan, noisiest first, is denoised at its slots' own sigmas and
    its write region takes one step down the ladder; the head group (one frame, or ``plan.group``) is now clean and
    leaves; everything shifts one group towards the head; the tail gets a fresh group at ``sigmas[0]``. Warm-up
    frames are not returned. ``auto clip`` (:mod:`.fifo_auto`): iteration 0 makes the native clip and fills the
    queue behind it; later iterations skip windows that write no active slot and, with ``trim`` (the default),
    shorten the fill's and the drain's partial windows to their informative slots (``trim=False``: whole windows).
    State between iterations: the :class:`FifoQueue`, the iteration count and the generator's state.
    """

    def __init__(self, denoiser: Denoiser, latent: Tensor, sigmas: Tensor, plan: FifoPlan, frames: int, *,
                 generator: torch.Generator, rule: str = "euler", eta: float = 1.0,
                 noise_scaling: NoiseScaling = ve_noise_scaling,
                 prompt_ranges: Optional[Sequence[FrameRange]] = None, trim: bool = True):
        check_fifo_inputs(plan, latent, sigmas, frames)
        get_step_rule(rule)
        if prompt_ranges is not None:
            validate_schedule(prompt_ranges)
        self.den, self.plan, self.gen, self.rule, self.eta = denoiser, plan, generator, rule, eta
        self.ns, self.ranges, self.frames = noise_scaling, prompt_ranges, int(frames)
        self.sigmas = sigmas.to(device=latent.device, dtype=torch.float32)
        self.queue = init_queue(plan, latent, self.sigmas, generator, noise_scaling)
        level = torch.tensor(plan.levels, device=latent.device)
        self.slot_sigma = self.sigmas[level]  # fixed per slot for the whole run
        self.next_sigma = self.sigmas[torch.clamp(level + 1, max=plan.steps)]
        self.auto = plan.init == AUTO_CLIP
        self.trim = trim  # auto clip: trim fill / drain windows to their informative slots (fifo_auto.read_span)
        # output index of entry e is e + offset; frames below `first_out` are not emitted by the queue
        self.offset = plan.window if self.auto else -plan.warmup
        self.first_out = plan.window if self.auto else 0
        self.needed = needed_entries(plan, frames) if self.auto else 0  # auto clip: new entries that step
        self.total = plan.iterations(frames)
        self.it = 0
        self.frames_done = 0
        self._info: dict[str, Any] = {}

    @property
    def done(self) -> bool:
        return self.it >= self.total

    def _start_from_clip(self) -> list[tuple[int, Tensor]]:
        """Iteration 0 of ``auto clip``: the native clip, emitted, and the queue filled behind it."""
        x, plan, g = self.queue.latents, self.plan, self.plan.group
        b, c, _, h, w = x.shape
        clip = native_clip(self.den, (b, c, plan.window, h, w), self.sigmas, self.gen,
                           lambda shape: _randn(shape, self.gen, x), rule=self.rule, eta=self.eta,
                           noise_scaling=self.ns, prompt_ranges=self.ranges).to(x)
        tail = self.ns(self.slot_sigma[-g:], _randn((b, c, g, h, w), self.gen, x), torch.zeros_like(clip[:, :, :g]))
        latents, entries = filled_queue(plan, clip, tail)
        self.queue = FifoQueue(latents, entries, g)
        self.it = 1
        self._info = info_for_clip(clip, self.sigmas, self.total, entries, latents)
        out = [(i, clip[:, :, i:i + 1].clone()) for i in range(min(plan.window, self.frames))]
        self.frames_done = len(out)
        return out

    def iterate(self) -> list[tuple[int, Tensor]]:
        if self.auto and self.it == 0:
            return self._start_from_clip()
        plan, gen, x, g = self.plan, self.gen, self.queue.latents, self.plan.group
        entries = self.queue.entries
        b = x.shape[0]
        sigma, active = self.slot_sigma, None
        if self.auto:
            sigma, active = slot_sigmas(entries, self.slot_sigma, self.sigmas[0], self.needed)
        for win in plan.windows:
            rs, re = win.start, win.stop
            if active is not None:
                if not any(active[win.write_start:win.write_stop]):
                    continue  # fill / drain: nothing needed is written here
                if self.trim:
                    rs, re = read_span(active, win.start, win.stop)
            sig = sigma[rs:re].expand(b, -1)
            xw = x[:, :, rs:re]
            out_idx = [e + self.offset for e in entries[rs:re]]
            # slots hold consecutive frames; blank padding before the first one continues them backwards
            first = entries[plan.head] - plan.head + self.offset
            denoised = _denoise_grouped(self.den, xw, sig, out_idx, self.ranges,
                                        window_positions(range(first + rs, first + re), xw))
            ws, we = max(win.write_start, rs), min(win.write_stop, re)  # a trimmed window drops only idle slots
            noise = None
            if self.rule == "euler_ancestral" and self.eta > 0:  # drawn for the whole write region, trimmed or not
                noise = _randn((b, x.shape[1], win.write_stop - win.write_start, x.shape[3], x.shape[4]), gen, x)
                noise = noise[:, :, ws - win.write_start:we - win.write_start]
            cur = self.slot_sigma[ws:we].expand(b, -1)
            stepped = per_frame_step(
                self.rule, xw[:, :, ws - rs:we - rs], denoised[:, :, ws - rs:we - rs], cur,
                self.next_sigma[ws:we].expand(b, -1),
                eta=self.eta, noise=noise, noise_scaling=self.ns,
            )
            if active is not None:  # only new frames step; clip context and never-entering frames stay as they are
                keep = torch.tensor(active[ws:we], device=x.device).view(1, 1, -1, 1, 1)
                stepped = torch.where(keep, stepped, xw[:, :, ws - rs:we - rs])
            x[:, :, ws:we] = stepped
        head = x[:, :, plan.head:plan.head + g].clone()
        out_index = [e + self.offset for e in entries[plan.head:plan.head + g]]
        # Shift one group towards the head (the padding keeps the newest finished frames) and refill the tail.
        tail = self.ns(self.slot_sigma[-g:], _randn((b, x.shape[1], g, x.shape[3], x.shape[4]), gen, x),
                       torch.zeros_like(head))
        x = torch.cat([x[:, :, g:], tail], dim=2)
        nxt = self.queue.next_entry
        self.queue = FifoQueue(x, entries[g:] + list(range(nxt, nxt + g)), nxt + g)
        self._info = {"x": x, "i": self.it, "sigma": self.slot_sigma, "sigma_hat": self.slot_sigma,
                      "denoised": head[:, :, -1:], "frame": out_index[-1], "entries": list(self.queue.entries),
                      "total": self.total}
        self.it += 1
        out = [(i, head[:, :, k:k + 1]) for k, i in enumerate(out_index) if self.first_out <= i < self.frames]
        self.frames_done += len(out)
        return out

    def info(self) -> dict[str, Any]:
        return self._info

    _STATE_KEYS = ("latents", "entries", "next_entry", "it", "frames_done", "rng")

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "fifo", "latents": self.queue.latents.detach().clone(), "entries": list(self.queue.entries),
                "next_entry": self.queue.next_entry, "it": self.it, "rng": self.gen.get_state(),
                "frames_done": self.frames_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, "fifo", self._STATE_KEYS)
        x = state["latents"]
        if tuple(x.shape) != tuple(self.queue.latents.shape):
            raise ValueError(f"the resume state's queue is {tuple(x.shape)}, this run's is "
                             f"{tuple(self.queue.latents.shape)}: resume with the latent size and queue settings it "
                             f"was saved with")
        self.queue = FifoQueue(x.to(self.queue.latents).clone(), list(state["entries"]), int(state["next_entry"]))
        self.it, self.frames_done = int(state["it"]), int(state["frames_done"])
        self.gen.set_state(state["rng"])


def iterate_fifo(
    denoiser: Denoiser,
    latent: Tensor,
    sigmas: Tensor,
    plan: FifoPlan,
    frames: int,
    *,
    generator: torch.Generator,
    rule: str = "euler",
    eta: float = 1.0,
    noise_scaling: NoiseScaling = ve_noise_scaling,
    prompt_ranges: Optional[Sequence[FrameRange]] = None,
    callback: Optional[Callable[[dict[str, Any]], None]] = None,
) -> Iterator[tuple[int, Tensor]]:
    """Run diagonal denoising (:class:`FifoRun`) and yield ``(output_index, frame[B, C, 1, H, W])`` as frames leave
    the queue. Warm-up frames are not yielded."""
    run = FifoRun(denoiser, latent, sigmas, plan, frames, generator=generator, rule=rule, eta=eta,
                  noise_scaling=noise_scaling, prompt_ranges=prompt_ranges)
    while not run.done:
        out = run.iterate()
        if callback is not None:
            callback(run.info())
        yield from out


def _denoise_grouped(denoiser: Denoiser, x: Tensor, sigma: Tensor, out_idx: list[int],
                     prompt_ranges: Optional[Sequence[FrameRange]], positions: Optional[Tensor] = None,
                     known: Optional[KnownSlots] = None) -> Tensor:
    """Denoise a window; with a prompt schedule, one call per distinct prompt set, each frame taking its own.
    ``positions``: the window frames' stream positions ``[f]`` (every call sees the whole window); ``known``: see
    :mod:`.denoiser`."""
    groups = group_frames(out_idx, prompt_ranges)
    if len(groups) == 1:
        (key,) = groups
        return call_denoiser(denoiser, x, sigma, key, positions, known)
    out = torch.empty_like(x)
    for key, frames in groups.items():
        out[:, :, frames] = call_denoiser(denoiser, x, sigma, key, positions, known)[:, :, frames]
    return out


@torch.no_grad()
def sample_fifo(
    denoiser: Denoiser,
    latent: Tensor,
    sigmas: Tensor,
    plan: FifoPlan,
    frames: int,
    *,
    generator: torch.Generator,
    output_device: Optional[torch.device] = None,
    callback: Optional[Callable[[dict[str, Any]], None]] = None,
    stream: Optional[Stream] = None,
    **kwargs: Any,
) -> Tensor:
    """Generate ``frames`` latent frames with FIFO-Diffusion; returns ``[B, C, frames, H, W]`` on ``output_device``
    (with ``stream.keep``, only the newest ``keep`` of them; see :mod:`.runner`).

    Finished frames are moved to ``output_device`` as they leave the queue, so the working device only ever holds
    the queue. ``kwargs`` are those of :class:`FifoRun`.
    """
    b, c, _, h, w = latent.shape
    run = FifoRun(denoiser, latent, sigmas, plan, frames, generator=generator, **kwargs)
    tail = LatentTail((b, c, h, w), frames, stream.keep if stream else None, output_device or latent.device)
    return drive(run, tail, stream, callback)
