"""Prompt switching over time, per frame.

A prompt schedule is a list with one entry per positive conditioning: ``None`` (applies to every frame) or a
half-open range ``(start, stop)`` of *output* latent-frame indices (``stop`` may be ``None`` for "to the end").
For every frame in a window the schedule gives the tuple of conditioning indices active for that frame; frames with
the same tuple share one model call.

Departure from the official FIFO-Diffusion code (``fifo_ddim_sampling_multiprompts``): there the prompt of the frame
being dequeued is applied to the *whole queue* at once, so every frame in flight switches prompt at the same moment.
Here each frame keeps the prompt of its own output index, so a switch travels through the queue with the frame.
"""

from __future__ import annotations

from typing import Optional, Sequence

FrameRange = Optional[tuple[int, Optional[int]]]


def validate_schedule(ranges: Sequence[FrameRange]) -> None:
    for i, r in enumerate(ranges):
        if r is None:
            continue
        start, stop = r
        if start < 0 or (stop is not None and stop <= start):
            raise ValueError(
                f"conditioning {i} has frame range {start}..{stop}: start must be >= 0 and end after start"
            )


def active_prompts(frame: int, ranges: Sequence[FrameRange]) -> tuple[int, ...]:
    """Indices of the conditionings active at output frame ``frame`` (frames before 0 count as frame 0).

    If no ranged conditioning covers the frame and no conditioning is unranged, the nearest range wins (the last
    one that started before the frame, else the first one), so every frame always has a prompt.
    """
    frame = max(0, frame)
    hit = tuple(i for i, r in enumerate(ranges) if r is None or (r[0] <= frame and (r[1] is None or frame < r[1])))
    if hit or not ranges:
        return hit
    started = [i for i, r in enumerate(ranges) if r is not None and r[0] <= frame]
    if started:
        return (max(started, key=lambda i: ranges[i][0]),)  # type: ignore[index]
    return (min(range(len(ranges)), key=lambda i: ranges[i][0]),)  # type: ignore[index]


def group_frames(frames: Sequence[int],
                 ranges: Optional[Sequence[FrameRange]]) -> dict[Optional[tuple[int, ...]], list[int]]:
    """Group window positions by active prompt tuple: ``{prompts: [positions]}`` in first-seen order.

    ``ranges=None`` (no schedule) puts every position under the key ``None``.
    """
    if not ranges or all(r is None for r in ranges):
        return {None: list(range(len(frames)))}
    groups: dict[Optional[tuple[int, ...]], list[int]] = {}
    for pos, fr in enumerate(frames):
        groups.setdefault(active_prompts(fr, ranges), []).append(pos)
    return groups
