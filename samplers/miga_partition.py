"""MIGA's conventions and window partitions as pure data: which queue latents one sweep's windows read and write.

MIGA (Feng et al., arXiv 2605.18233) extends a short clip into a long video with a queue of single-frame latents
whose noise levels form a *zigzag* staircase (Stage 1, :mod:`.zigzag_plan`), then finishes them in windows that sit at
one common level (Stage 2, :mod:`.unified_plan`). Conventions shared by those plan modules and the sampling loop
(:mod:`.miga`); they differ from both official backbones:

- queue index 0 is the *front*: the oldest, least noisy latent; fresh noise is appended at the tail;
- a latent's *level* indexes a descending sigma ladder ``sigmas[0..T]`` (``T = steps``): level 0 is the noisiest
  (``sigmas[0]``), level ``T`` is clean; one step moves a latent from level ``k`` to ``k + 1``;
- a window is a pair ``(start, cal)``: the model reads ``W`` consecutive latents ``q[start : start + W]`` (plus memory)
  and only its first ``cal`` outputs are written back to ``q[start : start + cal]``; the rest is look-ahead context.
  Every partition covers every queue index exactly once per sweep. :class:`MigaWindow` is the resolved form (memory,
  the exact range read, the range written and where the written outputs sit in the model output).

The official code hard-codes its constants per backbone; here everything is derived from the model window ``f``, the
group width ``L``, the number of steps ``T``, the end-of-Stage-1 level ``E`` and the number of guidance latents ``m``.
The plans' default slide is ``f // 2`` (the official 8 for ``f = 16`` and 10 for ``f = 21``; the sampler's auto
slide is ``f - m``, see :func:`.miga_setup.resolve_miga`); the memory offset is ``L // 2``
(:func:`.guidance.default_offset`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# --------------------------------------------------------------------------------------------------------------------
# size checks


def check_guidance(window: int, guidance: int) -> None:
    """Raise unless ``0 <= m_guid < f``: the window must keep at least one queue latent next to its memory."""
    if int(window) < 1:
        raise ValueError(f"window f must be at least 1 latent frame, got {window}")
    if int(guidance) < 0:
        raise ValueError(f"guidance latents m_guid must be >= 0, got {guidance}; use 0 to turn long-range guidance off")
    if int(guidance) >= int(window):
        raise ValueError(
            f"guidance latents m_guid={guidance} fill the whole window f={window}, leaving no queue latent to denoise; "
            f"use at most {int(window) - 1} (the official value is 4)"
        )


def check_group_width(window: int, group: int, guidance: int = 0) -> None:
    """Raise unless ``1 <= L_zig <= f - m_guid``.

    A Stage-1 window holds ``W = f - m`` queue latents; ``L <= W`` means it holds at least one whole group, so the
    base clip (``f`` latents) seeds at least one group and a window never spans more than ``ceil(W / L) + 1`` levels.
    """
    check_guidance(window, guidance)
    if int(group) < 1:
        raise ValueError(f"group width L_zig must be at least 1 latent, got {group}")
    room = int(window) - int(guidance)
    if int(group) > room:
        raise ValueError(
            f"group width L_zig={group} does not fit the window: f - m_guid = {window} - {guidance} = {room} queue "
            f"latents per window; use L_zig <= {room}, or fewer guidance latents"
        )


def _check_partition(n: int, window: int, slide: int) -> None:
    if window < 1:
        raise ValueError(f"window must be at least 1 latent, got {window}")
    if not 1 <= slide <= window:
        raise ValueError(f"slide must be in [1, window={window}] so a window writes only what it reads, got {slide}")
    if n < window:
        raise ValueError(f"the queue holds {n} latents, fewer than the window's {window}; a sweep needs n >= window")


# --------------------------------------------------------------------------------------------------------------------
# partitions of one sweep


def static_partition(n: int, window: int, slide: int) -> list[tuple[int, int]]:
    """Windows ``(start, cal)`` of a sweep with fixed borders (MIGA init phase and self-reflection candidates).

    With ``r = (n - W) mod slide``: a head window ``(0, r)`` if ``r > 0``, then ``(r + k * slide, slide)`` for
    ``k < (n - W) // slide``, then the tail window ``(n - W, W)``. Write ranges tile ``[0, n)`` exactly once.
    """
    _check_partition(n, window, slide)
    r = (n - window) % slide
    parts = [(0, r)] if r > 0 else []
    parts += [(r + k * slide, slide) for k in range((n - window) // slide)]
    parts.append((n - window, window))
    return parts


def dynamic_partition(n: int, window: int, slide: int, it: int) -> list[tuple[int, int]]:
    """Windows ``(start, cal)`` of sweep ``it`` with rotating borders (MIGA Stage 1 and 2, "dynamic sliding window").

    Offset ``r1 = it mod slide`` (0 if ``n - r1 < W``), ``left = n - r1``, ``r = (left - W) mod slide``: ``(0, r1)`` if
    ``r1 > 0``, then ``(r1 + k * slide, slide)`` for ``k < (left - W) // slide``, then ``(n - W - r, r)`` if ``r > 0``,
    then ``(n - W, W)``. Moving the borders between sweeps avoids jitter at fixed window seams.
    """
    _check_partition(n, window, slide)
    if int(it) < 0:
        raise ValueError(f"sweep counter it must be >= 0, got {it}")
    r1 = int(it) % slide
    if n - r1 < window:
        r1 = 0
    left = n - r1
    r = (left - window) % slide
    parts = [(0, r1)] if r1 > 0 else []
    parts += [(r1 + k * slide, slide) for k in range((left - window) // slide)]
    if r > 0:
        parts.append((n - window - r, r))
    parts.append((n - window, window))
    return parts


def segment_count(n: int, slide: int, it: int) -> int:
    """Write segments of sweep ``it`` in :func:`segment_at` (``n`` latents, segments of at most ``slide``)."""
    r = int(it) % int(slide)
    return (1 if r else 0) + -(-(int(n) - r) // int(slide))


def segment_at(n: int, slide: int, it: int, k: int) -> tuple[int, int]:
    """Write range ``[a, b)`` of segment ``k`` of sweep ``it``: ``[0, r)`` with ``r = it mod slide`` if ``r > 0``,
    then segments of ``slide`` latents up to ``n`` (the last one shorter).

    Unlike :func:`dynamic_partition`, whose last window ``(n - W, W)`` puts a border at ``n - W`` in every sweep,
    *every* border moves between sweeps; the caller picks the ``W`` latents each segment's window reads (always
    including the segment, so ``slide <= W``). Used by the unified stage and by lookahead on FIFO's queue.
    """
    n, slide, r = int(n), int(slide), int(it) % int(slide)
    if r and k == 0:
        return 0, r
    a = r + (int(k) - (1 if r else 0)) * slide
    return a, min(a + slide, n)


def rotating_segments(n: int, slide: int, it: int) -> list[tuple[int, int]]:
    """All write ranges of sweep ``it`` (:func:`segment_at`), left to right; they tile ``[0, n)`` once."""
    return [segment_at(n, slide, it, k) for k in range(segment_count(n, slide, it))]


@dataclass(frozen=True)
class MigaWindow:
    """One model call, resolved: input = ``history`` bank slots, then ``memory``, then ``q[read_start:read_stop]``.

    The input always has ``f`` frames. Outputs ``out_offset .. out_offset + (write_stop - write_start) - 1`` are
    written back to queue indices ``write_start .. write_stop - 1``; every other output is discarded. Memory latents
    (and history latents) keep their own level in the per-frame sigma vector.
    """

    memory: tuple[int, ...]
    read_start: int
    read_stop: int
    write_start: int
    write_stop: int
    history: int = 0

    @property
    def inputs(self) -> tuple[int, ...]:
        """Queue indices fed to the model, in order (after the ``history`` bank slots)."""
        return self.memory + tuple(range(self.read_start, self.read_stop))

    @property
    def frames(self) -> int:
        return self.history + len(self.memory) + self.read_stop - self.read_start

    @property
    def out_offset(self) -> int:
        """Position in the model output of the first written latent."""
        return self.history + len(self.memory) + self.write_start - self.read_start

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["memory"] = list(self.memory)
        d["out_offset"] = self.out_offset
        return d



def default_slide(window: int) -> int:
    """``f // 2`` (at least 1): the official slide for both backbones (16 → 8, 21 → 10)."""
    return max(1, int(window) // 2)

