"""MIGA self-reflection (Feng et al., arXiv 2605.18233): similarity of latents, the trigger rule, candidate selection.

During the progressive queue initialisation MIGA scores how well the group just denoised to a *judged level* agrees
with the groups in front of it ("earlier consistent latents"). When the score drops by more than a threshold compared
with the previous judgment, it regenerates that group (and everything noisier behind it) from several candidate noises
with the reference groups as frozen leading context, and keeps the best candidate if it beats the current score
(``docs/algorithms/miga.md``, section 4). This module is the model-free part: metrics, the judgment state, selection,
where the judged and reference groups sit in the zigzag queue, and the settings checks; :mod:`.miga_reflection` wires
it into the sampling loop.

Two similarity metrics, one per official backbone; they give different numbers and must not be mixed:

- :func:`sim_mean_map` (VideoCrafter2 variant): each set is averaged over channels and frames into one spatial map;
  the similarity is the cosine of the two maps (*mean, then cosine*).
- :func:`sim_pairwise` (Wan variant): each latent is averaged over channels into a spatial vector and L2-normalised;
  the similarity is the mean of all ``|A| * |B|`` pairwise cosines (*cosine, then mean*).

Both take latent sets ``[B, C, F, H, W]`` (frames on axis 2, ``F`` may differ between the two sets) and return one
score per batch element, ``[B]``. Scores are computed in float32 (float64 inputs stay float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "SIMILARITY_METRICS", "ReflectionState", "check_candidates", "check_reflection_fit", "check_threshold",
    "get_similarity", "judged_groups", "judges_denoised", "reference_groups", "select_candidate", "sim_mean_map",
    "sim_pairwise",
]

Similarity = Callable[[Tensor, Tensor], Tensor]
Score = Union[float, Tensor]


def _check_sets(a: Tensor, b: Tensor) -> torch.dtype:
    for name, x in (("a", a), ("b", b)):
        if x.ndim != 5:
            raise ValueError(
                f"latent set {name} must be [batch, channels, frames, height, width], got shape {tuple(x.shape)}"
            )
        if x.shape[2] < 1:
            raise ValueError(f"latent set {name} has no frames; a similarity needs at least one latent per set")
    if a.shape[0] != b.shape[0] or a.shape[1] != b.shape[1] or a.shape[3:] != b.shape[3:]:
        raise ValueError(
            f"latent sets must agree in batch, channels and spatial size, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)


def sim_mean_map(a: Tensor, b: Tensor) -> Tensor:
    """VC2 similarity: cosine of the channel-and-frame mean maps of two latent sets; ``[B, C, F, H, W]`` → ``[B]``.

    The official code concatenates a set's single-frame latents along channels and averages, which with
    ``[1, C, 1, h, w]`` latents is one ``h * w`` map per set, whatever its comment says about per-frame vectors.
    """
    dt = _check_sets(a, b)
    ma = a.to(dt).mean(dim=(1, 2)).flatten(1)  # [B, H*W]
    mb = b.to(dt).mean(dim=(1, 2)).flatten(1)
    return (F.normalize(ma, dim=-1) * F.normalize(mb, dim=-1)).sum(dim=-1)


def sim_pairwise(a: Tensor, b: Tensor) -> Tensor:
    """Wan similarity: mean pairwise cosine of per-latent channel-mean maps; ``[B, C, Fa|Fb, H, W]`` → ``[B]``.

    Each latent becomes a spatial vector (mean over channels, ``H * W`` entries), L2-normalised; the score is the
    mean of the ``Fa * Fb`` cosines between the sets.
    """
    dt = _check_sets(a, b)
    va = F.normalize(a.to(dt).mean(dim=1).flatten(2), dim=-1)  # [B, Fa, H*W]
    vb = F.normalize(b.to(dt).mean(dim=1).flatten(2), dim=-1)  # [B, Fb, H*W]
    return torch.bmm(va, vb.transpose(1, 2)).mean(dim=(1, 2))  # [B, Fa, Fb] -> [B]


SIMILARITY_METRICS: dict[str, Similarity] = {"mean_map": sim_mean_map, "pairwise": sim_pairwise,
                                              "pairwise_denoised": sim_pairwise}

# Metrics scored on the model's clean estimates (x0) of the judged and reference groups, from the same sweep (no
# extra model call), instead of on the noisy latents. Our variant: at the judged level the latents are mostly noise
# (sigma ~0.96 at the official step 10 of 54), so the noisy score's sweep-to-sweep jitter is ~1/sqrt(H*W) and
# crosses a 0.01 threshold on small latents whatever the content does; the estimates carry the content only.
DENOISED_METRICS = frozenset({"pairwise_denoised"})


def judges_denoised(name: str) -> bool:
    """Whether metric ``name`` scores the sweep's clean estimates rather than the noisy latents."""
    get_similarity(name)
    return name in DENOISED_METRICS


def get_similarity(name: str) -> Similarity:
    """Look up a similarity metric by name (``mean_map`` = VC2, ``pairwise`` = Wan, ``pairwise_denoised`` = Wan's
    metric on the clean estimates, see :data:`DENOISED_METRICS`)."""
    if name not in SIMILARITY_METRICS:
        raise ValueError(f"Unknown similarity metric {name!r}: choose one of {', '.join(SIMILARITY_METRICS)}")
    return SIMILARITY_METRICS[name]


def _score(x: Score, what: str = "score") -> float:
    """A scalar score as a float: a Python number or a one-element tensor (reduce a ``[B]`` score first)."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError(f"{what} must be a single number, got a tensor of shape {tuple(x.shape)}; reduce it first")
        x = x.item()
    v = float(x)
    if math.isnan(v):
        raise ValueError(f"{what} is NaN; check the latents passed to the similarity metric")
    return v


@dataclass(frozen=True)
class ReflectionState:
    """Judgment history ``H`` of self-reflection. Immutable: every method returns a new state.

    Rule (``docs/algorithms/miga.md``, section 4): the first judgment only records; later ones are *flagged* when
    ``H[-1] - score > threshold`` (strictly). The score is appended either way, so each judgment compares with the
    previous judged group's score. After an accepted correction, :meth:`accept` overwrites ``H[-1]`` with the best
    candidate's score.
    """

    threshold: float
    history: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        check_threshold(self.threshold)

    def judge(self, score: Score) -> tuple[ReflectionState, bool]:
        """Record ``score``; return the new state and whether it dropped by more than ``threshold``."""
        s = _score(score)
        flagged = bool(self.history) and self.history[-1] - s > self.threshold
        return replace(self, history=self.history + (s,)), flagged

    def accept(self, best: Score) -> ReflectionState:
        """Overwrite the last score with the accepted candidate's score."""
        if not self.history:
            raise ValueError("no judgment recorded yet: call judge() before accept()")
        return replace(self, history=self.history[:-1] + (_score(best, "best score"),))

    @property
    def last(self) -> Optional[float]:
        return self.history[-1] if self.history else None

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "history": list(self.history)}


def select_candidate(scores: Sequence[Score], current: Score) -> tuple[int, bool]:
    """Index of the best candidate (highest score, first index on ties) and whether it strictly beats ``current``."""
    if len(scores) == 0:
        raise ValueError("no candidate scores to select from; self-reflection needs at least 1 candidate")
    vals = [_score(s, f"candidate {i} score") for i, s in enumerate(scores)]
    best = 0
    for i, v in enumerate(vals):
        if v > vals[best]:  # strict: an equal later score never displaces an earlier one
            best = i
    return best, vals[best] > _score(current, "current score")


def reference_groups(window: int, group: int) -> int:
    """Reference groups in front of the judged group: ``(f - 1) // L``.

    A candidate run starts as the references plus one fresh group, and that must fill a window of ``f`` latents:
    ``(refs + 1) * L >= f`` with as many references as fit. This gives the official 3 (VC2, ``f = 16``, ``L = 4``)
    and 2 (Wan, ``f = 21``, ``L = 7``) instead of their hard-coded values.
    """
    check_reflection_fit(window, group)
    return (int(window) - 1) // int(group)


def judged_groups(front_level: int, judged_level: int, references: int) -> Optional[tuple[int, tuple[int, ...]]]:
    """Where self-reflection looks in a zigzag queue just after a sweep; ``None`` while it cannot run yet.

    After the sweep the front group sits at ``front_level`` and group ``g`` (0 = front) at ``front_level - g``. The
    judged group is the one at ``judged_level`` (levels are steps done from fresh noise, so the official VC2 DDIM level
    50 of 64 is 13 here and Wan's step 10 stays 10); the references are the ``references`` groups just in front of
    it. Returns ``(judged index, reference indices)``. Active as soon as all references exist
    (``front_level >= judged_level + references``); the official code waits one more level. A correction replaces the
    judged group and every noisier group behind it: ``judged_level`` groups, regenerated by ``judged_level`` sweeps.
    """
    front_level, judged_level, references = int(front_level), int(judged_level), int(references)
    if judged_level < 1:
        raise ValueError(f"judged_level must be at least 1 (steps done from fresh noise), got {judged_level}")
    if references < 1:
        raise ValueError(f"references must be at least 1 group, got {references}")
    g = front_level - judged_level
    if g - references < 0:
        return None
    return g, tuple(range(g - references, g))


def check_threshold(threshold: float) -> None:
    """Raise unless ``0 <= threshold <= 2``: it bounds a drop in cosine similarity, which lies in ``[-2, 2]``."""
    t = float(threshold)
    if not 0.0 <= t <= 2.0:  # also rejects NaN
        raise ValueError(
            f"reflection threshold must be in [0, 2] (a drop in cosine similarity), got {threshold}; the official "
            f"code effectively uses 0.01 (Wan) and 0.001 (VC2)"
        )


def check_candidates(candidates: int) -> None:
    """Raise unless at least one candidate is regenerated."""
    if int(candidates) < 1:
        raise ValueError(
            f"reflection candidates must be at least 1, got {candidates}; the official values are 3 (Wan) and 5 (VC2), "
            f"or turn self-reflection off"
        )


def check_reflection_fit(window: int, group: int) -> None:
    """Raise unless a candidate window ``f`` holds at least one reference group and the regenerated group: ``f > L``."""
    if int(group) < 1:
        raise ValueError(f"group width L_zig must be at least 1 latent, got {group}")
    if int(window) <= int(group):
        raise ValueError(
            f"self-reflection needs a window f={window} longer than the group width L_zig={group}, so at least one "
            f"reference group precedes the regenerated one; use L_zig <= {int(window) - 1} or turn self-reflection off"
        )

