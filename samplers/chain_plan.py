"""The plan of a whole queue chain, as data for the queue diagram and the example workflows' notes.

A chain is ``FIFO Queue Init -> [Zigzag Stage] -> [Unified Stage] -> [Self-Reflection] -> [Long-Range Guidance]``;
its :class:`.config.QueueConfig` decides which sampler runs. This module lays out what that run does, from the same
functions the samplers use (:func:`.plan.plan_fifo` for FIFO-Diffusion, Kim et al. 2024, arXiv 2405.11473;
:func:`.miga_setup.resolve_miga` for MIGA, Feng et al., arXiv 2605.18233), so the picture and the run cannot disagree:

- the queue between iterations: one level per latent (``levels``, 0 = fresh noise, ``steps`` = clean) and which
  latents are finished context (``pad``) or leave next (``head``);
- the model calls of one steady-state sweep: the range each window reads and writes, and the queue positions of its
  long-range guidance latents;
- MIGA's unified stage: the block it finishes at a time (context, emitted latents, look-ahead) and its sweeps;
- the expected model calls per output latent frame: stage 1 (or FIFO's queue), the unified stage, and
  self-reflection's worst case (every judgment triggers: ``candidates`` regenerations of ``judged_level`` sweeps);
- the settings the chain ignores (FIFO's ``partitions`` / ``lookahead`` under a Zigzag Stage, ...), so the editor can
  say so instead of letting them look effective;
- a title naming what runs (``FIFO``, ``FIFO + Self-Reflection``, ``MIGA``, ``Chunked Continuation``, ...), by the
  chain's nodes.

A chain ``FIFO Queue Init -> Chunked Continuation`` (:mod:`.continuation`) has one window per tick: its slots in the
steady state (``roles``: ``anchor``, ``recent`` = newest finished, ``new`` = the chunks in flight, oldest first, at
their ``levels``), the anchors' output latents, and ``per_tick`` model calls that read the whole window and write the
chunks (``steps / in_flight``, rounded up: with one chunk in flight, its whole ladder, less the ``skip`` steps a
chunk skips below 1 ``denoise``), and ``context``: ``clean``, ``tracked`` or ``shared`` (one level per window).

Everything is integers; nothing calls a model. Levels index the descending sigma ladder, i.e. count the steps done
from fresh noise (0 = pure noise, ``steps`` = clean), for FIFO and MIGA alike; index 0 of ``levels`` is the clean end.
"""

from __future__ import annotations

from typing import Any

from .config import QueueConfig
from .continuation import calls_per_tick, check_alone, check_continuation, context_positions, skipped_steps
from .miga_partition import static_partition
from .miga_setup import resolve_miga

MAX_DRAWN_SLOTS = 4096


def ignored_settings(config: QueueConfig) -> list[dict[str, str]]:
    """Settings in ``config`` that the run will not use, each ``{"node", "input", "why"}``."""
    out: list[dict[str, str]] = []
    if config.continuation is not None:
        out.append({"node": "InfiniteVideo_FIFOQueueInit", "input": "lookahead",
                    "why": "Chunked Continuation denoises each chunk in one window"})
        if config.continuation.anchors == 0:
            out.append({"node": "InfiniteVideo_Continuation", "input": "anchor_every", "why": "anchors is 0"})
    if config.zigzag is not None:
        why = "the Zigzag Stage sets the steps and the window stride (slide)"
        out.append({"node": "InfiniteVideo_FIFOQueueInit", "input": "partitions", "why": why})
        out.append({"node": "InfiniteVideo_FIFOQueueInit", "input": "lookahead", "why": why})
        if config.unified is None:
            out.append({"node": "InfiniteVideo_ZigzagStage", "input": "end_step",
                        "why": "without a Unified Stage, stage 1 runs to clean"})
    if config.unified is not None and not config.unified.renoise:
        out.append({"node": "InfiniteVideo_UnifiedStage", "input": "re_noise_step", "why": "re_denoise is off"})
    if config.guidance is not None and config.guidance.source == "queue":
        out.append({"node": "InfiniteVideo_LongRangeGuidance", "input": "history_span", "why": "source is queue"})
    return out


PART_NAMES = (("zigzag", "Zigzag Stage"), ("unified", "Unified Stage"), ("reflection", "Self-Reflection"),
              ("guidance", "Long-Range Guidance"))


def chain_title(config: QueueConfig) -> str:
    """What runs, named by the chain's nodes: ``"MIGA"`` for the whole MIGA chain, ``"MIGA (Zigzag Stage + ...)"``
    for part of it with a zigzag queue, ``"FIFO + Self-Reflection + ..."`` for MIGA's parts on FIFO's diagonal queue
    (one latent per group), ``"FIFO"`` alone."""
    if config.continuation is not None:
        return "Chunked Continuation"
    present = [name for attr, name in PART_NAMES if getattr(config, attr) is not None]
    if config.zigzag is None:
        return " + ".join(["FIFO", *present])
    if len(present) == len(PART_NAMES):
        return "MIGA"
    return f"MIGA ({' + '.join(present)})"


def regeneration_calls(window: int, group: int, references: int, judged_level: int, slide: int) -> int:
    """Model calls of one self-reflection candidate: ``judged_level`` sweeps over the reference groups (frozen) plus
    one more fresh group per sweep, static partition at the run's slide, windows that write only references skipped
    (as :meth:`.miga_reflection.SelfReflection.regenerate` runs them)."""
    frozen = references * group
    return sum(sum(1 for start, cal in static_partition(frozen + r * group, window, slide) if start + cal > frozen)
               for r in range(1, judged_level + 1))


def _fifo_chain(config: QueueConfig, latent_frames: int) -> dict[str, Any]:
    plan = config.fifo_plan(latent_frames)
    steps = plan.steps
    calls = len(plan.windows) / plan.group  # per output frame: one group leaves per iteration
    return {
        "kind": "fifo", "window": plan.window, "steps": steps, "warmup": plan.warmup,
        "queue": plan.queue, "pad": plan.pad, "head": plan.head, "group": plan.group, "init": plan.init,
        "levels": list(plan.levels),
        "windows": [{"read": [w.start, w.stop], "write": [w.write_start, w.write_stop], "memory": []}
                    for w in plan.windows],
        "unified": None,
        "calls": {"queue": calls, "unified": 0, "reflection_worst": 0, "expected": calls, "worst": calls},
    }


def _miga_chain(config: QueueConfig, latent_frames: int) -> dict[str, Any]:
    s = resolve_miga(config, latent_frames)
    zz, g = s.zigzag, s.group
    # one steady-state sweep; the partition rotates with the sweep index, so the cost is averaged over a full turn
    sweeps = [zz.windows(it) for it in range(zz.slide)]
    stage1 = sum(len(w) for w in sweeps) / (len(sweeps) * g)
    unified = None
    unified_calls = 0.0
    if s.unified is not None:
        up = s.unified
        unified = {"sweeps": up.sweeps, "start_level": up.start_level, "renoise_level": up.renoise_level,
                   "slide": up.slide}
        # streamed as whole-video sweeps: in the steady state every sweep writes each latent once, `slide` at a time
        unified_calls = up.sweeps / up.slide
    reflection = 0.0
    if s.reflection is not None:
        per_trigger = s.reflection.candidates * regeneration_calls(
            s.window, g, s.references, s.reflection.judged_level, zz.slide)
        reflection = per_trigger / g  # at most one judgment per iteration, one group leaves per iteration
    expected = stage1 + unified_calls
    return {
        "kind": "miga", "window": s.window, "steps": s.steps, "warmup": s.warmup,
        "queue": zz.capacity, "pad": 0, "head": 0, "group": g, "end_level": zz.end_level,
        "slide": zz.slide, "guidance": s.guidance, "references": s.references,
        "judged_level": s.reflection.judged_level if s.reflection is not None else None,
        "levels": list(zz.levels),
        "windows": [{"read": [w.read_start, w.read_stop], "write": [w.write_start, w.write_stop],
                     "memory": list(w.memory)} for w in sweeps[0]],
        "unified": unified,
        "calls": {"queue": stage1, "unified": unified_calls, "reflection_worst": reflection,
                  "expected": expected, "worst": expected + reflection},
    }


def _continuation_chain(config: QueueConfig, latent_frames: int) -> dict[str, Any]:
    """The steady-state window of chunked continuation (every anchor finished): anchors, newest finished latents, the
    chunk; the first chunk fills the whole window (no context yet), the last may be shorter."""
    cont = config.continuation
    assert cont is not None
    check_alone(config)
    window = config.resolve_window(latent_frames)
    if window > latent_frames:
        raise ValueError(f"window_length {window} is longer than the latent's {latent_frames} frames; set "
                         f"window_length to at most {latent_frames} (0 = the latent's length) or make the latent "
                         f"longer")
    steps = config.fifo_plan(latent_frames).steps
    check_continuation(cont, window, steps)
    k, n = cont.chunk, cont.in_flight
    skip = skipped_steps(cont, steps)  # a chunk's first step, below 1 denoise
    per_tick = calls_per_tick(cont, steps)  # calls between two chunks leaving (the ladder a chunk runs, one in flight)
    anchor_at = [j * cont.anchor_every for j in range(cont.anchors)]
    done = max(anchor_at, default=0) + window  # far enough in that every anchor is finished
    anchors, recent = context_positions(done, n * k, window, anchor_at)
    c = len(anchors) + len(recent)
    return {
        "kind": "continuation", "window": window, "steps": steps, "warmup": 0,
        "queue": window, "pad": c, "head": -1, "group": k, "chunk": k, "first_chunk": window,
        "in_flight": n, "per_tick": per_tick, "skip": skip,
        "context": "tracked" if cont.tracked else "shared" if cont.shared_level else "clean",
        "anchors": anchors, "recent": len(recent),
        "roles": ["anchor"] * len(anchors) + ["recent"] * len(recent) + ["new"] * (n * k),
        # steps done per slot as a tick starts: the oldest chunk in flight is furthest down the ladder
        "levels": [steps] * c + [min(steps, skip + j * per_tick) for j in range(n - 1, -1, -1) for _ in range(k)],
        "windows": [{"read": [0, window], "write": [c, window], "memory": list(range(len(anchors)))}],
        "unified": None,
        "calls": {"queue": per_tick / k, "unified": 0, "reflection_worst": 0, "expected": per_tick / k,
                  "worst": per_tick / k},
    }


def plan_chain(config: QueueConfig, latent_frames: int) -> dict[str, Any]:
    """The run ``config`` makes with a sampler latent of ``latent_frames`` frames (JSON-able).

    ``ValueError`` (the sampler's own message, naming the input and the fix) when the run would be rejected.
    """
    if int(latent_frames) < 1:
        raise ValueError(f"the sampler's latent must have at least 1 frame, got {latent_frames}")
    if config.continuation is not None:
        d = _continuation_chain(config, latent_frames)
    else:
        d = _miga_chain(config, latent_frames) if config.is_miga else _fifo_chain(config, latent_frames)
    d["ignored"] = ignored_settings(config)
    d["title"] = chain_title(config)
    d["slots"] = len(d["levels"])
    if d["slots"] > MAX_DRAWN_SLOTS:  # too many to draw (or send): the figures stay, the picture goes
        d["levels"], d["windows"], d["too_large"] = [], [], True
    return d
