"""Chunk-wise k-step noise search for image-to-video (Zhan et al. 2024, arXiv 2411.18668), pure torch.

A long video is generated chunk by chunk with an image-to-video model, each chunk guided by the last frame of the one
before. Before each chunk, ``m`` candidate noises are tried with a cheap *preview*: a complete ``k``-step sampling
run from the candidate noise on a coarse schedule spanning the whole noise range (not the first ``k`` steps of the
full schedule, and not an ``x0`` estimate). Each preview is scored against the guide image and only the best noise
is denoised with the full number of steps.

Score (as the authors code it): for a candidate with per-frame embeddings ``e_f`` and guide embedding
``g``, ``score = min_f cos(g, e_f)``; the highest score wins and ties go to the lowest index. Cosine similarity is
scale invariant, so unnormalised embeddings select the same candidate as normalised ones.

Shapes: embeddings are ``guide[D]`` and ``frames[m, F, D]``; latents are ``[B, C, T, H, W]`` with latent frames on
axis 2; pixel frames are ``[F, H, W, C]`` (ComfyUI's IMAGE layout). This module holds the seeds, the scores, the
selection and the chunk bookkeeping; the loop, one chunk per iteration, is :class:`.kstep_run.KStepRun`, to which the
host (the ComfyUI node) plugs in through the :class:`.kstep_run.ChunkBackend` protocol, so all of it is testable
without a model. Randomness comes only from :func:`candidate_noise`, one seeded CPU ``torch.Generator`` per
``(seed, chunk, candidate)``, so any candidate can be re-created exactly.

This is an independent implementation. Departures from the authors' driver: the duplicated boundary frame is dropped
when chunks are stitched; candidates are seeded (the driver draws from the unseeded global RNG); ``m`` is a real
input (the driver hard-codes 5); without a CLIP vision model the score uses latent frames instead of CLIP embeddings.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """One round of SplitMix64 (Steele et al. 2014): a fixed, well-mixed 64-bit permutation."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def candidate_seed(seed: int, chunk: int, candidate: int) -> int:
    """The 63-bit seed of candidate ``candidate`` of chunk ``chunk`` under the user's ``seed``.

    Derived by chaining SplitMix64 over ``(seed, chunk, candidate)``, so it depends only on those three numbers: the
    first ``m`` candidates are the same whatever ``m`` is, and changing the number of chunks does not change earlier
    chunks. The same seed also drives the sampler's own noise (ancestral / SDE steps) for both the preview and the
    full run of that candidate, as the authors' Open-Sora Plan setup re-seeds its step generator per call.
    """
    if chunk < 0 or candidate < 0:
        raise ValueError(f"chunk and candidate must be >= 0, got chunk={chunk}, candidate={candidate}")
    h = _splitmix64(int(seed) & _MASK64)
    h = _splitmix64(h ^ chunk)
    h = _splitmix64(h ^ (candidate + 0x51ED2701))
    return h >> 1


def candidate_noise(shape: Sequence[int], seed: int, chunk: int, candidate: int,
                    dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard normal noise of ``shape`` (e.g. a latent ``[1, C, T, H, W]``) for one candidate, on the CPU.

    Drawn from ``torch.Generator("cpu").manual_seed(candidate_seed(seed, chunk, candidate))``, like ComfyUI's own
    ``prepare_noise``, so it is identical on every device and can be regenerated for the full run.
    """
    generator = torch.Generator(device="cpu").manual_seed(candidate_seed(seed, chunk, candidate))
    return torch.randn(tuple(shape), generator=generator, dtype=dtype, device="cpu")


def frame_cosines(guide_emb: Tensor, frames_emb: Tensor, eps: float = 1e-8) -> Tensor:
    """Cosine similarity of every frame embedding to the guide: ``guide[D]``, ``frames[..., F, D]`` -> ``[..., F]``.

    ``eps`` clamps each norm from below, as ``torch.nn.functional.cosine_similarity`` does (the authors use 1e-8).
    """
    if guide_emb.ndim != 1:
        raise ValueError(f"guide embedding must be 1-D [D], got shape {tuple(guide_emb.shape)}")
    if frames_emb.shape[-1] != guide_emb.shape[0]:
        raise ValueError(
            f"frame embeddings have dimension {frames_emb.shape[-1]} but the guide has {guide_emb.shape[0]}: "
            "embed both with the same encoder"
        )
    g = guide_emb.detach().to(torch.float64)
    e = frames_emb.detach().to(torch.float64)
    dot = (e * g).sum(-1)
    norms: Tensor = e.norm(dim=-1).clamp_min(eps) * g.norm().clamp_min(eps)
    return (dot / norms).to(torch.float32)


def score_candidates(guide_emb: Tensor, frames_emb: Tensor, eps: float = 1e-8) -> Tensor:
    """Per-candidate score ``min_f cos(guide, frame_f)``: ``guide[D]``, ``frames[m, F, D]`` -> ``scores[m]``.

    The minimum (not the mean) is the paper's choice: a candidate is only as good as its worst frame, so one preview
    that drifts away from the guide anywhere in the chunk loses to one that stays close throughout.
    """
    if frames_emb.ndim != 3:
        raise ValueError(f"frame embeddings must be [m, F, D], got shape {tuple(frames_emb.shape)}")
    if frames_emb.shape[0] == 0 or frames_emb.shape[1] == 0:
        raise ValueError(f"need at least one candidate and one frame, got shape {tuple(frames_emb.shape)}")
    return frame_cosines(guide_emb, frames_emb, eps).amin(dim=-1)


def select_best(scores: Tensor | Sequence[float]) -> int:
    """Index of the highest score; ties go to the lowest index. NaN scores never win unless all are NaN (then 0)."""
    if isinstance(scores, Tensor):
        s = scores.detach().to(torch.float64).flatten()
    else:
        s = torch.tensor([float(v) for v in scores], dtype=torch.float64)
    if s.numel() == 0:
        raise ValueError("select_best needs at least one score")
    s = torch.where(torch.isnan(s), torch.full_like(s, float("-inf")), s)
    best = s.max()
    return int(torch.nonzero(s == best)[0, 0])


def latent_frame_embeddings(latent: Tensor) -> Tensor:
    """Flatten each latent frame into an embedding: ``[B, C, T, H, W]`` -> ``[B, T, C·H·W]``.

    Used for the latent-space score when no CLIP vision model is connected; the host passes latents in the model's
    normalised space (``latent_format.process_in``), where the channels are roughly zero-mean and unit-variance, so
    the cosine compares content rather than the VAE's per-channel offsets.
    """
    if latent.ndim != 5:
        raise ValueError(f"latent must be [B, C, T, H, W], got shape {tuple(latent.shape)}")
    b, c, t, h, w = latent.shape
    return latent.permute(0, 2, 1, 3, 4).reshape(b, t, c * h * w)


# --- chunk bookkeeping -------------------------------------------------------------------------------------------


def latent_frames(length: int, temporal_stride: int) -> int:
    """Latent frames of a chunk of ``length`` pixel frames under a causal VAE: ``(length - 1) // stride + 1``."""
    return (int(length) - 1) // int(temporal_stride) + 1


def check_chunk_length(length: int, temporal_stride: int, family: str = "this model",
                       name: str = "chunk_length") -> None:
    """Raise unless ``length = stride·n + 1`` with ``n >= 1`` (Wan: 4n+1 frames, LTX-Video: 8n+1).

    A causal video VAE maps frame 0 to latent frame 0 and every following group of ``stride`` frames to one latent
    frame, so only these lengths decode back to exactly ``length`` frames. ``n >= 1`` because a one-frame chunk would
    only repeat its guide.
    """
    stride = int(temporal_stride)
    length = int(length)
    if length >= stride + 1 and (length - 1) % stride == 0:
        return
    below = stride * max(1, (length - 1) // stride) + 1
    near = [v for v in (below, below + stride) if v != length]
    raise ValueError(
        f"{name} = {length} cannot be expressed by {family}'s temporal compression ({stride}x): chunks must have "
        f"{stride}n+1 frames with n >= 1 ({stride + 1}, {2 * stride + 1}, {3 * stride + 1}, ...); set {name} to "
        f"{' or '.join(str(v) for v in near)}"
    )


def output_frame_count(chunk_length: int, num_chunks: int) -> int:
    """Frames of the stitched video: ``L + (c - 1)(L - 1)``; each later chunk's first frame repeats its guide."""
    if num_chunks < 1:
        return 0
    return int(chunk_length) + (int(num_chunks) - 1) * (int(chunk_length) - 1)


def stitch_chunks(chunks: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate chunks along ``dim``, dropping element 0 of every chunk after the first.

    Chunk ``c + 1`` starts from the last frame of chunk ``c`` (its guide), so that frame would appear twice. Works for
    pixel frames (``[F, H, W, C]``, ``dim=0``) and for latents (``[B, C, T, H, W]``, ``dim=2``): with a causal VAE
    latent frame 0 encodes exactly pixel frame 0, so the stitched latent decodes to the stitched frame count.
    """
    if len(chunks) == 0:
        raise ValueError("stitch_chunks needs at least one chunk")
    parts = [chunks[0]] + [c.narrow(dim, 1, c.shape[dim] - 1) for c in chunks[1:]]
    return torch.cat(parts, dim=dim)


def check_search_params(num_chunks: int, candidates: int, preview_steps: int, full_steps: int) -> None:
    """Raise a ``ValueError`` naming the input and the fix for impossible search settings."""
    if num_chunks < 1:
        raise ValueError(f"num_chunks must be at least 1, got {num_chunks}")
    if full_steps < 1:
        raise ValueError(f"full_steps must be at least 1, got {full_steps}")
    if candidates < 1:
        raise ValueError(
            f"candidates (m) must be at least 1, got {candidates}; use 1 to switch the search off (plain chunked "
            "image-to-video) or 2 and more to search"
        )
    if preview_steps < 1:
        raise ValueError(
            f"preview_steps (k) must be at least 1, got {preview_steps}: a preview is a complete k-step run; use "
            "k = 1 to 5 for a cheap search"
        )
    if preview_steps > full_steps:
        raise ValueError(
            f"preview_steps (k) = {preview_steps} is above full_steps = {full_steps}: a preview must not cost more "
            f"than the run it predicts; set preview_steps to at most {full_steps} (k = full_steps is brute force: "
            "every candidate is fully denoised and the best one is kept)"
        )


def runs_per_chunk(candidates: int, preview_steps: int, full_steps: int) -> int:
    """Sampler steps per chunk: ``m·k + full``; ``m·full`` for brute force (``k = full``); ``full`` for ``m = 1``."""
    if candidates <= 1:
        return full_steps
    if preview_steps == full_steps:
        return candidates * full_steps
    return candidates * preview_steps + full_steps
