"""Pure tests of the k-step noise search core (arXiv 2411.18668): scoring, selection, seeds, chunk bookkeeping.

No ComfyUI: the search loop runs against a deterministic toy backend.
"""

from __future__ import annotations

import pytest
import torch

from infinite_video.samplers.kstep_run import ChunkRecord, search_chunks
from infinite_video.samplers.noise_search import (
    candidate_noise,
    candidate_seed,
    check_chunk_length,
    check_search_params,
    frame_cosines,
    latent_frame_embeddings,
    latent_frames,
    output_frame_count,
    runs_per_chunk,
    score_candidates,
    select_best,
    stitch_chunks,
)

# The worked example of docs/algorithms/kstep-search.md, verbatim.
GUIDE = torch.tensor([1.0, 0.0])
CAND_A = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.6, 0.8]])
CAND_B = torch.tensor([[0.8, 0.6]] * 4)


# --- score and selection ------------------------------------------------------------------------------------------


def test_golden_example_min_not_mean():
    frames = torch.stack([CAND_A, CAND_B])
    cos = frame_cosines(GUIDE, frames)
    torch.testing.assert_close(cos, torch.tensor([[1.0, 1.0, 1.0, 0.6], [0.8, 0.8, 0.8, 0.8]]))
    scores = score_candidates(GUIDE, frames)
    torch.testing.assert_close(scores, torch.tensor([0.6, 0.8]))
    assert select_best(scores) == 1  # B
    # A mean-based score would have picked A (0.9 > 0.8): the example separates min from mean.
    assert select_best(cos.mean(dim=-1)) == 0


def test_ties_go_to_lowest_index():
    assert select_best(torch.tensor([0.5, 0.7, 0.7])) == 1
    assert select_best([0.3, 0.3, 0.3]) == 0
    frames = torch.stack([CAND_B, CAND_A, CAND_B])  # scores 0.8, 0.6, 0.8
    assert select_best(score_candidates(GUIDE, frames)) == 0
    same = torch.stack([CAND_B, CAND_B])
    assert select_best(score_candidates(GUIDE, same)) == 0


def test_scale_invariance():
    frames = torch.stack([CAND_A, CAND_B])
    gen = torch.Generator().manual_seed(0)
    factors = torch.rand(2, 4, 1, generator=gen) * 10 + 0.1  # a positive scale per frame embedding
    scaled = score_candidates(GUIDE * 3.7, frames * factors)
    torch.testing.assert_close(scaled, score_candidates(GUIDE, frames))
    assert select_best(scaled) == 1


def test_nan_never_wins_and_scores_are_detached():
    assert select_best(torch.tensor([float("nan"), 0.1, -0.2])) == 1
    assert select_best(torch.tensor([float("nan"), float("nan")])) == 0
    g = torch.tensor([1.0, 0.0], requires_grad=True)
    assert not score_candidates(g, torch.stack([CAND_A])).requires_grad


def test_score_shape_errors():
    with pytest.raises(ValueError, match="same encoder"):
        score_candidates(torch.ones(3), torch.ones(2, 4, 2))
    with pytest.raises(ValueError, match=r"\[m, F, D\]"):
        score_candidates(torch.ones(2), torch.ones(4, 2))


def test_latent_frame_embeddings_flatten_each_frame():
    latent = torch.arange(2 * 3 * 4 * 2 * 2, dtype=torch.float32).reshape(2, 3, 4, 2, 2)  # [B, C, T, H, W]
    emb = latent_frame_embeddings(latent)
    assert emb.shape == (2, 4, 3 * 2 * 2)
    torch.testing.assert_close(emb[1, 2], latent[1, :, 2].flatten())


# --- seeds --------------------------------------------------------------------------------------------------------


def test_candidate_seeds_are_deterministic_and_distinct():
    seeds = {(c, i): candidate_seed(1234, c, i) for c in range(4) for i in range(6)}
    assert len(set(seeds.values())) == len(seeds)
    assert all(0 <= s < 2**63 for s in seeds.values())
    assert candidate_seed(1234, 2, 3) == seeds[(2, 3)]
    assert candidate_seed(1235, 2, 3) != seeds[(2, 3)]
    assert candidate_seed(2**64 - 1, 0, 0) >= 0  # the widget's full range works
    with pytest.raises(ValueError):
        candidate_seed(0, -1, 0)


def test_candidate_noise_reproducible():
    a = candidate_noise((1, 4, 2, 3, 3), 7, chunk=1, candidate=2)
    b = candidate_noise((1, 4, 2, 3, 3), 7, chunk=1, candidate=2)
    c = candidate_noise((1, 4, 2, 3, 3), 7, chunk=1, candidate=3)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.device.type == "cpu" and a.dtype == torch.float32


# --- bookkeeping --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length,stride", [(5, 4), (9, 4), (33, 4), (81, 4), (9, 8), (33, 8), (97, 8)])
def test_chunk_length_valid(length, stride):
    check_chunk_length(length, stride)
    assert latent_frames(length, stride) == (length - 1) // stride + 1 >= 2


@pytest.mark.parametrize("length,stride,suggest", [(6, 4, "5 or 9"), (4, 4, "5"), (1, 4, "5"), (80, 4, "77 or 81"),
                                                   (5, 8, "9"), (85, 8, "81 or 89")])
def test_chunk_length_invalid_names_input_and_fix(length, stride, suggest):
    with pytest.raises(ValueError) as err:
        check_chunk_length(length, stride, "Wan")
    msg = str(err.value)
    assert msg.startswith(f"chunk_length = {length}") and f"{stride}n+1" in msg and suggest in msg


@pytest.mark.parametrize("length,chunks,expected", [(5, 1, 5), (5, 2, 9), (33, 3, 97), (81, 5, 401), (9, 0, 0)])
def test_output_frame_count(length, chunks, expected):
    assert output_frame_count(length, chunks) == expected == (length + (chunks - 1) * (length - 1) if chunks else 0)


def test_stitch_drops_the_repeated_boundary_frame():
    chunks = [torch.tensor([0, 1, 2, 3, 4]), torch.tensor([4, 5, 6, 7, 8]), torch.tensor([8, 9, 10, 11, 12])]
    assert stitch_chunks(chunks).tolist() == list(range(13))
    lat = [torch.zeros(1, 2, 3, 1, 1) + k for k in range(3)]  # latents [B, C, T, H, W], frames on dim 2
    out = stitch_chunks(lat, dim=2)
    assert out.shape == (1, 2, 3 + 2 + 2, 1, 1)
    assert out[0, 0, :, 0, 0].tolist() == [0, 0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError):
        stitch_chunks([])


@pytest.mark.parametrize("args,name", [
    ((1, 0, 1, 2), "candidates"),
    ((1, 2, 0, 2), "preview_steps"),
    ((1, 2, 3, 2), "preview_steps"),
    ((0, 2, 1, 2), "num_chunks"),
    ((1, 2, 1, 0), "full_steps"),
])
def test_search_params_errors_name_the_input(args, name):
    with pytest.raises(ValueError) as err:
        check_search_params(*args)
    assert str(err.value).startswith(name)


def test_k_above_full_says_what_to_set():
    with pytest.raises(ValueError, match="at most 2"):
        check_search_params(1, 2, 3, 2)


def test_runs_per_chunk():
    assert runs_per_chunk(5, 3, 30) == 45
    assert runs_per_chunk(4, 20, 20) == 80  # brute force: the best full run is kept
    assert runs_per_chunk(1, 3, 30) == 30


def test_record_describe_lists_every_score():
    text = ChunkRecord(2, (0.25, 0.5, 0.125), 1, 99).describe()
    assert "chunk 2: candidate 1 won with score 0.5000" in text
    assert "0: 0.2500" in text and "*1: 0.5000" in text and "2: 0.1250" in text
    assert "no search" in ChunkRecord(0, (), 0, 5).describe()


# --- the loop against a toy backend -------------------------------------------------------------------------------


class ToyBackend:
    """Latent ``[1, C=3, T=3, 2, 2]``, temporal stride 2 (chunk length 5); frame 0 is the guide (in-place I2V)."""

    def __init__(self, interrupt_after: int | None = None):
        self.noise_shape = (1, 3, 3, 2, 2)
        self.calls: list[tuple[str, int]] = []
        self.noises: list[torch.Tensor] = []
        self.guides: list[torch.Tensor] = []
        self.interrupt_after = interrupt_after
        self.checks = 0

    def prepare(self, chunk, guide):
        self.guide = guide.clone()
        self.guides.append(self.guide)

    def _guide_latent(self):
        return self.guide[0].permute(2, 0, 1)[None, :, None]  # [1, C, 1, h, w]

    def embed_guide(self):
        return self._guide_latent().flatten()

    def sample(self, noise, seed, steps):
        self.calls.append(("sample", steps))
        self.noises.append(noise)
        assert seed >= 0
        x = self._guide_latent() + noise * (0.5 ** steps)
        x[:, :, :1] = self._guide_latent()
        return x

    def embed_frames(self, latent):
        self.calls.append(("embed", latent.shape[2]))
        return latent_frame_embeddings(latent)[0]

    def decode(self, latent):
        self.calls.append(("decode", latent.shape[2]))
        frames = latent[0].permute(1, 2, 3, 0)  # [T, h, w, C]
        return frames[[0, 1, 1, 2, 2]]  # 5 pixel frames; 0 is the guide, 4 the last latent frame

    def check_interrupt(self):
        self.checks += 1
        if self.interrupt_after is not None and self.checks > self.interrupt_after:
            raise InterruptedError("cancelled")


def _guide():
    return torch.linspace(-1, 1, 12).reshape(1, 2, 2, 3)


def _run(backend, seed=3, chunks=3, m=4, k=1, full=3):
    return search_chunks(backend, _guide(), num_chunks=chunks, candidates=m, preview_steps=k, full_steps=full,
                         seed=seed, check_interrupt=backend.check_interrupt)


def test_winners_match_an_explicit_oracle():
    backend = ToyBackend()
    result = _run(backend)
    guide = _guide()
    for c, record in enumerate(result.records):
        g_lat = guide[0].permute(2, 0, 1)[None, :, None]
        embs = []
        for i in range(4):
            x = g_lat + candidate_noise(backend.noise_shape, 3, c, i) * 0.5
            x[:, :, :1] = g_lat
            embs.append(x[0].permute(1, 0, 2, 3).reshape(3, -1))
        cos = torch.stack([torch.nn.functional.cosine_similarity(e, g_lat.flatten()[None], dim=-1) for e in embs])
        expected = cos.min(dim=1).values
        torch.testing.assert_close(torch.tensor(record.scores), expected, rtol=1e-5, atol=1e-6)
        assert record.winner == int(torch.argmax(expected))
        assert record.seed == candidate_seed(3, c, record.winner)
        full = g_lat + candidate_noise(backend.noise_shape, 3, c, record.winner) * 0.125
        full[:, :, :1] = g_lat
        guide = full[0].permute(1, 2, 3, 0)[-1:]  # the next guide is the last frame of the full run
        if c + 1 < len(result.records):
            torch.testing.assert_close(backend.guides[c + 1], guide)


def test_call_pattern_per_chunk():
    backend = ToyBackend()
    result = _run(backend, chunks=2, m=3, k=1, full=4)
    chunk = [("sample", 1), ("embed", 3)] * 3 + [("sample", 4), ("decode", 3)]
    assert backend.calls == chunk * 2
    # the full run starts from the winner's own noise
    for c, rec in enumerate(result.records):
        assert torch.equal(backend.noises[c * 4 + 3], backend.noises[c * 4 + rec.winner])
    assert backend.checks == 2 * 4  # cancel is checked before every sampler run


def test_brute_force_keeps_the_winning_full_run():
    backend = ToyBackend()
    result = _run(backend, chunks=2, m=3, k=3, full=3)
    assert backend.calls == ([("sample", 3), ("embed", 3)] * 3 + [("decode", 3)]) * 2
    assert all(r.reused_preview for r in result.records)


def test_single_candidate_is_plain_chunked_i2v():
    backend = ToyBackend()
    result = _run(backend, chunks=2, m=1, k=1, full=3)
    assert backend.calls == [("sample", 3), ("decode", 3)] * 2
    assert [r.scores for r in result.records] == [(), ()]
    assert [r.winner for r in result.records] == [0, 0]


def test_same_seed_same_winners_and_frames():
    a, b = _run(ToyBackend(), seed=11), _run(ToyBackend(), seed=11)
    assert [r.winner for r in a.records] == [r.winner for r in b.records]
    assert [r.scores for r in a.records] == [r.scores for r in b.records]
    assert torch.equal(a.frames, b.frames) and torch.equal(a.latent, b.latent)
    c = _run(ToyBackend(), seed=12)
    assert not torch.equal(a.frames, c.frames)


def test_more_candidates_keep_the_earlier_ones():
    small, large = _run(ToyBackend(), m=2, chunks=1), _run(ToyBackend(), m=5, chunks=1)
    assert large.records[0].scores[:2] == small.records[0].scores
    assert large.records[0].scores[large.records[0].winner] >= small.records[0].scores[small.records[0].winner]


@pytest.mark.parametrize("chunks", [1, 2, 4])
def test_boundary_frame_not_duplicated(chunks):
    backend = ToyBackend()
    result = _run(backend, chunks=chunks)
    assert result.frames.shape == (output_frame_count(5, chunks), 2, 2, 3)
    assert result.latent.shape == (1, 3, 3 + (chunks - 1) * 2, 2, 2)
    for c in range(1, chunks):
        # chunk c begins with its guide, the last frame of chunk c - 1, and that frame appears once
        start = 4 * c
        torch.testing.assert_close(result.frames[start], backend.guides[c][0])
        assert not torch.equal(result.frames[start + 1], result.frames[start])
    torch.testing.assert_close(result.frames[0], _guide()[0])


def test_cancel_stops_between_runs():
    backend = ToyBackend(interrupt_after=5)
    with pytest.raises(InterruptedError):
        _run(backend, chunks=3, m=4, k=1, full=3)
    assert len([c for c in backend.calls if c[0] == "sample"]) == 5


def test_invalid_params_raise_before_any_call():
    backend = ToyBackend()
    with pytest.raises(ValueError, match="^candidates"):
        _run(backend, m=0)
    with pytest.raises(ValueError, match="^preview_steps"):
        _run(backend, k=5, full=3)
    assert backend.calls == [] and backend.guides == []


# --- on the streaming protocol: one chunk per drive iteration, save and resume ------------------------------------


def _roundtrip(state):
    """Through bytes as a checkpoint file would go, loaded with weights_only (no pickled code)."""
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _runner(backend, keep=1):
    from infinite_video.samplers.kstep_run import KStepRun

    return KStepRun(backend, _guide(), num_chunks=3, candidates=3, preview_steps=1, full_steps=3, seed=5,
                    check_interrupt=backend.check_interrupt, keep_chunks=keep)


def test_chunks_leave_drive_as_stitched_output_latents():
    from infinite_video.samplers.runner import Stream, drive

    plain = search_chunks(ToyBackend(), _guide(), num_chunks=3, candidates=3, preview_steps=1, full_steps=3, seed=5)
    run, emitted, images = _runner(ToyBackend()), [], []
    drive(run, None, Stream(on_frame=lambda i, f: emitted.append((i, f)),
                            on_boundary=lambda done: images.append(run.images)))
    assert [i for i, _ in emitted] == list(range(3 + 2 * 2)) and run.frames_done == 7
    assert torch.equal(torch.cat([f for _, f in emitted], dim=2), plain.latent)
    assert torch.equal(torch.cat(images), plain.frames)
    # the result keeps the newest chunk whole (its own first frame, not the stitched one)
    last = run.result()
    assert last.latent.shape[2] == 3 and torch.equal(last.latent[:, :, 1:], plain.latent[:, :, -2:])
    assert last.frames.shape[0] == 5 and torch.equal(last.frames[1:], plain.frames[-4:])
    assert last.records == plain.records


def test_cancel_in_the_last_chunk_then_resume_returns_the_uninterrupted_result():
    """A Cancel in the last chunk saves the state after the chunk before; resumed from it (and from the state saved
    at the very end), the run returns the uninterrupted run's frames, latents and records bit for bit, with the
    newest chunk only (as with a sink) and with every chunk (the kept chunks' frames decoded again)."""
    from infinite_video.samplers.runner import Stream, drive

    for keep in (1, None):
        states = []
        ref = _runner(ToyBackend(), keep)
        drive(ref, None, Stream(every=1, on_state=lambda s: states.append(_roundtrip(s))))  # noqa: B023
        expected = ref.result()
        assert [s["frames_done"] for s in states] == [3, 5, 7]
        saved = []
        with pytest.raises(InterruptedError):  # 4 sampler runs per chunk: stop at the 2nd run of the 3rd chunk
            drive(_runner(ToyBackend(interrupt_after=9), keep), None,
                  Stream(every=1, on_abort=lambda s: saved.append(_roundtrip(s))))  # noqa: B023
        (state,) = saved
        assert state["chunk"] == 2 and state["frames_done"] == 5
        for resume in (state, states[-1]):
            backend = ToyBackend()
            run = _runner(backend, keep)
            drive(run, None, Stream(resume=resume))
            got = run.result()
            assert torch.equal(got.latent, expected.latent) and torch.equal(got.frames, expected.frames)
            assert got.records == expected.records
            assert [c for c in backend.calls if c[0] == "sample"] == ([("sample", 1)] * 3 + [("sample", 3)]) * (
                3 - resume["chunk"]), "only the chunks after the saved state are sampled"


def test_kstep_resume_state_of_another_run_is_refused():
    from infinite_video.samplers.runner import Stream, drive

    states = []
    drive(_runner(ToyBackend()), None, Stream(every=1, on_state=states.append))
    run = _runner(ToyBackend())
    with pytest.raises(ValueError, match="'fifo' run, this run is 'kstep'"):
        drive(run, None, Stream(resume={**states[0], "kind": "fifo"}))
    with pytest.raises(ValueError, match="image size"):
        drive(run, None, Stream(resume={**states[0], "guide": torch.zeros(1, 4, 4, 3)}))
    with pytest.raises(ValueError, match="chunk 4, this run has 3"):
        drive(run, None, Stream(resume={**states[0], "chunk": 4}))
    with pytest.raises(ValueError, match="keeps 1 chunks for the result, this run keeps None"):
        drive(_runner(ToyBackend(), None), None, Stream(resume=states[0]))
