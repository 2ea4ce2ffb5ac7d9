"""K-step noise search as a runner of :func:`.runner.drive`, one chunk per iteration (Zhan et al. 2024,
arXiv 2411.18668); seeds, scores, selection and chunk bookkeeping are in :mod:`.noise_search`.

Per chunk ``c`` (:meth:`KStepRun.iterate`):

1. ``backend.prepare(c, guide)`` builds the image-to-video conditioning for the current guide;
2. if ``candidates > 1``: for each candidate ``i`` the noise ``z_i = candidate_noise(shape, seed, c, i)`` is sampled
   with ``preview_steps`` steps, embedded per frame and scored (``score_fn``, default
   :func:`~.noise_search.score_candidates`); the winner is :func:`~.noise_search.select_best`; with one candidate
   there is no search;
3. the winner's noise is sampled with ``full_steps`` steps (or the preview is kept when it already was a
   ``full_steps`` run) and decoded; its last frame is the next guide.

The chunk's latents ``[1, C, T, h, w]`` join the output stitched (the boundary frame, which repeats the guide, is
dropped for ``c > 0``): they leave :func:`.runner.drive` as output latents with consecutive indices, as a queue
engine's do, so a Video Sink counts, checkpoints and resumes them the same way. The chunk's pixel frames
``[F, H, W, 3]`` (decoded anyway: the next guide is the last of them) that joined the video are :attr:`KStepRun.images`.

State between chunks: the chunk count, the next guide ``[1, H, W, 3]``, the records, and the latents of the chunks
the result keeps (their frames are decoded again from them when the result needs them). Candidate noises are
functions of ``(seed, c, i)``, so a run continued from a state equals the uninterrupted one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

import torch
from torch import Tensor

from .noise_search import (
    candidate_noise,
    candidate_seed,
    check_search_params,
    score_candidates,
    select_best,
    stitch_chunks,
)
from .runner import check_state, drive


class ChunkBackend(Protocol):
    """What :class:`KStepRun` needs from the host. Called in this order per chunk: ``prepare`` once, then
    ``embed_guide`` / ``sample`` / ``embed_frames`` for the candidates, then ``sample`` and ``decode`` for the winner.
    """

    noise_shape: tuple[int, ...]
    """The latent shape of one chunk, ``[1, C, T, H, W]``."""

    def prepare(self, chunk: int, guide: Tensor) -> None:
        """Build the chunk's image-to-video conditioning from ``guide[1, H, W, 3]``."""

    def embed_guide(self) -> Tensor:
        """The guide's embedding ``[D]`` for the current chunk."""

    def sample(self, noise: Tensor, seed: int, steps: int) -> Tensor:
        """Run the sampler from ``noise`` over a ``steps``-step schedule; returns the latent ``[1, C, T, H, W]``."""

    def embed_frames(self, latent: Tensor) -> Tensor:
        """Per-frame embeddings ``[F, D]`` of a sampled (preview) latent."""

    def decode(self, latent: Tensor) -> Tensor:
        """Pixel frames ``[L, H, W, 3]`` of a sampled latent."""


@dataclass(frozen=True)
class ChunkRecord:
    """What happened in one chunk: every candidate's score, the winner and its seed.

    ``scores`` is empty when no search ran (``candidates == 1``). ``reused_preview`` is true when the preview already
    was the full run (``preview_steps == full_steps``, brute force) and was kept instead of being re-run.
    """

    chunk: int
    scores: tuple[float, ...]
    winner: int
    seed: int
    reused_preview: bool = False

    def describe(self) -> str:
        if not self.scores:
            return f"chunk {self.chunk}: no search (1 candidate), seed {self.seed}"
        listed = ", ".join(
            f"{'*' if i == self.winner else ''}{i}: {s:.4f}" for i, s in enumerate(self.scores)
        )
        return (f"chunk {self.chunk}: candidate {self.winner} won with score {self.scores[self.winner]:.4f} "
                f"(seed {self.seed}); scores [{listed}]")


@dataclass
class SearchResult:
    """``frames[N, H, W, C]`` with ``N = L + (c-1)(L-1)``, ``latent[1, C, T_total, h, w]`` stitched the same way, and
    one :class:`ChunkRecord` per chunk."""

    frames: Tensor
    latent: Tensor
    records: list[ChunkRecord] = field(default_factory=list)


class KStepRun:
    """One k-step noise search run, a chunk per :meth:`iterate` (a :class:`.runner.QueueRunner`).

    ``guide`` is the first guide ``[1, H, W, 3]``. ``check_interrupt`` is called before every sampler run so the host
    can cancel between runs. ``keep_chunks`` bounds what :meth:`result` holds (the newest chunks only; None: all).
    """

    def __init__(self, backend: ChunkBackend, guide: Tensor, *, num_chunks: int, candidates: int,
                 preview_steps: int, full_steps: int, seed: int,
                 score_fn: Callable[[Tensor, Tensor], Tensor] = score_candidates,
                 check_interrupt: Optional[Callable[[], None]] = None, keep_chunks: Optional[int] = None):
        check_search_params(num_chunks, candidates, preview_steps, full_steps)
        self.backend, self.guide, self.seed, self.score_fn = backend, guide, seed, score_fn
        self.num_chunks, self.candidates = int(num_chunks), int(candidates)
        self.preview_steps, self.full_steps = int(preview_steps), int(full_steps)
        self.check = check_interrupt or (lambda: None)
        self.keep = keep_chunks
        self.shape = tuple(backend.noise_shape)
        self.chunk = 0
        self.frames_done = 0  # output latents so far (stitched)
        self.records: list[ChunkRecord] = []
        self.kept: list[tuple[Optional[Tensor], Tensor]] = []  # (frames, or None until decoded again; latent)
        self.images: Optional[Tensor] = None  # the pixel frames that joined the video in the last iteration
        self._info: dict[str, Any] = {}

    @property
    def done(self) -> bool:
        return self.chunk >= self.num_chunks

    def iterate(self) -> list[tuple[int, Tensor]]:
        """One chunk: search, full run, decode; returns its output latents ``(index, [1, C, 1, h, w])``."""
        c, backend, seed = self.chunk, self.backend, self.seed
        backend.prepare(c, self.guide)
        winner, kept = 0, None
        scores: tuple[float, ...] = ()
        if self.candidates > 1:
            guide_emb = backend.embed_guide()
            embs, previews = [], []
            for i in range(self.candidates):
                self.check()
                latent = backend.sample(candidate_noise(self.shape, seed, c, i), candidate_seed(seed, c, i),
                                        self.preview_steps)
                embs.append(backend.embed_frames(latent))
                previews.append(latent if self.preview_steps == self.full_steps else None)
            score = self.score_fn(guide_emb, torch.stack(embs))
            winner = select_best(score)
            scores = tuple(float(v) for v in score)
            kept = previews[winner]
        win_seed = candidate_seed(seed, c, winner)
        if kept is None:
            self.check()
            kept = backend.sample(candidate_noise(self.shape, seed, c, winner), win_seed, self.full_steps)
        frames = backend.decode(kept)
        record = ChunkRecord(c, scores, winner, win_seed,
                             reused_preview=self.candidates > 1 and self.preview_steps == self.full_steps)
        self.records.append(record)
        self.kept.append((frames, kept))
        if self.keep is not None:
            self.kept = self.kept[-self.keep:]
        self.guide = frames[-1:]
        new = kept[:, :, 1:] if c > 0 else kept
        self.images = frames[1:] if c > 0 else frames
        first = self.frames_done
        self.frames_done += new.shape[2]
        self.chunk += 1
        self._info = {"i": c, "total": self.num_chunks, "record": record, "frame": self.frames_done - 1}
        return [(first + j, new[:, :, j:j + 1]) for j in range(new.shape[2])]

    def info(self) -> dict[str, Any]:
        """The chunk just done: ``i`` (its index), ``total`` (chunks), ``record`` (:class:`ChunkRecord`), ``frame``."""
        return self._info

    _STATE_KEYS = ("chunk", "guide", "frames_done", "records", "kept", "keep_chunks")

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "kstep", "chunk": self.chunk, "guide": self.guide.detach().cpu().clone(),
                "frames_done": self.frames_done, "records": [dataclasses.astuple(r) for r in self.records],
                "kept": [latent.detach().clone() for _, latent in self.kept], "keep_chunks": self.keep}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(state, "kstep", self._STATE_KEYS)
        chunk = int(state["chunk"])
        if not 0 < chunk <= self.num_chunks:
            raise ValueError(f"the resume state is at chunk {chunk}, this run has {self.num_chunks} chunks: resume "
                             f"with the settings it was saved with")
        if state["keep_chunks"] != self.keep:
            raise ValueError(f"the resume state keeps {state['keep_chunks']} chunks for the result, this run keeps "
                             f"{self.keep}: resume it as it was saved (with or without a sink)")
        guide = state["guide"]
        if tuple(guide.shape) != tuple(self.guide.shape):
            raise ValueError(f"the resume state's guide is {tuple(guide.shape)}, this run's is "
                             f"{tuple(self.guide.shape)}: resume with the image size it was saved with")
        self.chunk, self.frames_done, self.guide = chunk, int(state["frames_done"]), guide.to(self.guide)
        self.records = [ChunkRecord(int(c), tuple(float(v) for v in s), int(w), int(sd), bool(r))
                        for c, s, w, sd, r in state["records"]]
        self.kept = [(None, latent.clone()) for latent in state["kept"]]
        if self.keep is not None:
            self.kept = self.kept[-self.keep:]

    def result(self) -> SearchResult:
        """The kept chunks stitched (frames of chunks kept from a resume state are decoded again, as they were)."""
        device = self.kept[-1][1].device
        frames = [f if f is not None else self.backend.decode(latent.to(device)) for f, latent in self.kept]
        latents = [latent.to(device) for _, latent in self.kept]
        return SearchResult(stitch_chunks(frames, dim=0), stitch_chunks(latents, dim=2), list(self.records))


def search_chunks(backend: ChunkBackend, guide: Tensor, *, num_chunks: int, candidates: int, preview_steps: int,
                  full_steps: int, seed: int, score_fn: Callable[[Tensor, Tensor], Tensor] = score_candidates,
                  on_record: Optional[Callable[[ChunkRecord], None]] = None,
                  check_interrupt: Optional[Callable[[], None]] = None) -> SearchResult:
    """Generate ``num_chunks`` chunks with k-step noise search (a :class:`KStepRun` driven to its end, unstreamed);
    ``guide`` is ``[1, H, W, 3]``; ``on_record`` gets each chunk's :class:`ChunkRecord` as it finishes."""
    run = KStepRun(backend, guide, num_chunks=num_chunks, candidates=candidates, preview_steps=preview_steps,
                   full_steps=full_steps, seed=seed, score_fn=score_fn, check_interrupt=check_interrupt)
    drive(run, None, callback=(lambda info: on_record(info["record"])) if on_record is not None else None)
    return run.result()
