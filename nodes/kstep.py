"""K-Step Noise Search node: chunk-by-chunk image-to-video with a cheap noise search per chunk (arXiv 2411.18668).

The loop (:class:`~..samplers.kstep_run.KStepRun`, one chunk per iteration of :func:`~..samplers.runner.drive`, the
loop of every engine), the scoring and the bookkeeping (:mod:`..samplers.noise_search`) are pure torch; this module
validates the inputs, adapts ComfyUI's MODEL / VAE / CLIP_VISION to the :class:`~..samplers.kstep_run.ChunkBackend`
protocol and runs every chunk with ComfyUI's own ``comfy.sample.sample`` (the ``KSampler`` path: the model's
scheduler, the chosen sampler, CFG, conds and memory management all stay ComfyUI's). With a Video Sink the run is
streamed, checkpointed and resumed as the queue samplers' runs are (:func:`.sink_session.sink_run`).

Shapes: ``start_image`` / output frames ``[N, H, W, 3]``; chunk latents ``[1, C, T, H/s, W/s]``; output latent
``[1, C, T_total, H/s, W/s]`` with ``T_total = T + (c - 1)(T - 1)``, which decodes to ``N = L + (c - 1)(L - 1)``
frames.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
import torch
from comfy_api.latest import io, ui

from ..samplers.kstep_run import ChunkRecord, KStepRun
from ..samplers.noise_search import (
    check_chunk_length,
    check_search_params,
    latent_frame_embeddings,
    runs_per_chunk,
)
from ..samplers.runner import drive
from .adapter import check_conditioning_width
from .checkpoint import model_fingerprint
from .i2v import ChunkConditioning, I2VFamily, build_chunk_conditioning, check_image_size, check_vae, detect_family
from .sink_session import open_image_session, sink_run
from .validation import check_widgets, require_inputs, shown
from .video_sink import SinkType

log = logging.getLogger("infinite_video")

SCORE_CLIP = "CLIP vision image_embeds, min over decoded frames of cos(guide, frame)"
SCORE_LATENT = ("latent cosine: each latent frame of the preview vs the guide's VAE latent, both flattened "
                "[C*h*w] in the model's normalised space (latent_format.process_in); min over latent frames")


class _ComfyChunkBackend:
    """Runs one chunk's previews and full run through ComfyUI (implements ``kstep_run.ChunkBackend``)."""

    def __init__(self, *, model: Any, family: I2VFamily, positive: list, negative: list, vae: Any,
                 clip_vision: Any, first_clip_output: Any, chunk_length: int, width: int, height: int,
                 cfg: float, sampler_name: str, scheduler: str, total_steps: int) -> None:
        self.model, self.family, self.vae, self.clip_vision = model, family, vae, clip_vision
        self.positive, self.negative = positive, negative
        self.length, self.cfg, self.sampler_name, self.scheduler = chunk_length, cfg, sampler_name, scheduler
        t = (chunk_length - 1) // family.temporal_stride + 1
        stride = family.vae_stride
        self.noise_shape: tuple[int, ...] = (1, family.latent_channels, t, height // stride, width // stride)
        self.latent_format = model.get_model_object("latent_format")
        self._clip_output = first_clip_output
        self._chunk_cond: Optional[ChunkConditioning] = None
        self.pbar = comfy.utils.ProgressBar(total_steps)
        self.previewer = latent_preview.get_previewer(model.load_device, self.latent_format)
        self.done = 0

    def prepare(self, chunk: int, guide: torch.Tensor) -> None:
        if chunk > 0 and self.clip_vision is not None:
            self._clip_output = self.clip_vision.encode_image(guide, crop=True)
        self._chunk_cond = build_chunk_conditioning(self.family, self.model, self.positive, self.negative, self.vae,
                                                    guide, self.length, clip_vision_output=self._clip_output)

    @property
    def _cond(self) -> ChunkConditioning:
        """The conditioning of the chunk being searched (``prepare`` runs first for every chunk)."""
        assert self._chunk_cond is not None, "prepare() runs before a chunk's previews"
        return self._chunk_cond

    def embed_guide(self) -> torch.Tensor:
        if self.clip_vision is not None:
            return self._clip_output["image_embeds"][0].float()
        return latent_frame_embeddings(self._model_space(self._cond.guide_latent))[0, 0]

    def sample(self, noise: torch.Tensor, seed: int, steps: int) -> torch.Tensor:
        cond, base = self._cond, self.done

        def callback(step: int, x0: torch.Tensor, x: torch.Tensor, total: int) -> None:
            preview = self.previewer.decode_latent_to_preview_image("JPEG", x0) if self.previewer else None
            self.pbar.update_absolute(base + step + 1, None, preview)

        out = comfy.sample.sample(
            self.model, noise, steps, self.cfg, self.sampler_name, self.scheduler, cond.positive, cond.negative,
            cond.latent_image, noise_mask=cond.noise_mask, callback=callback,
            disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed,
        )
        self.done = base + steps
        return out

    def embed_frames(self, latent: torch.Tensor) -> torch.Tensor:
        if self.clip_vision is not None:
            return self.clip_vision.encode_image(self.decode(latent), crop=True)["image_embeds"].float()
        return latent_frame_embeddings(self._model_space(latent))[0]

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        images = self.vae.decode(latent)
        return images.reshape((-1,) + tuple(images.shape[-3:]))[..., :3]

    def _model_space(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_in(latent.float())


def _encode_guide(clip_vision: Any, guide: torch.Tensor, family: I2VFamily) -> Any:
    """CLIP-encode the first guide, turning any failure into an error that names ``clip_vision`` and the fix."""
    try:
        out = clip_vision.encode_image(guide, crop=True)
        embeds = out["image_embeds"]
    except Exception as exc:  # surface the cause, but say which input and what to do
        raise ValueError(
            f"clip_vision: encoding the start image with the connected CLIP vision model failed "
            f"({type(exc).__name__}: {exc}); connect a model from 'Load CLIP Vision' (e.g. clip_vision_h), or "
            "disconnect clip_vision to score candidates in latent space"
        ) from exc
    if not isinstance(embeds, torch.Tensor) or embeds.ndim != 2 or not bool(torch.isfinite(embeds).all()):
        raise ValueError(
            "clip_vision: the CLIP vision model returned no usable image_embeds (expected a finite [1, D] tensor); "
            "connect a CLIP vision model with a projection head (e.g. clip_vision_h or a ViT-B/32), or disconnect "
            "clip_vision to score in latent space"
        )
    if family.needs_clip_vision:
        hidden = getattr(out, "penultimate_hidden_states", None)
        if hidden is None or hidden.shape[-1] != family.clip_dim:
            got = None if hidden is None else hidden.shape[-1]
            raise ValueError(
                f"clip_vision: this Wan 2.1 I2V model embeds {family.clip_dim}-wide CLIP hidden states but the "
                f"connected CLIP vision model gives {got}; connect clip_vision_h (ViT-H/14)"
            )
    return out


def validate(model: Any, vae: Any, start_image: torch.Tensor, chunk_length: int, num_chunks: int, candidates: int,
             preview_steps: int, full_steps: int, sampler_name: str, scheduler: str,
             clip_vision: Any = None) -> tuple[I2VFamily, Any]:
    """Check every input before any model call; returns the family and the first guide's CLIP output (or None)."""
    check_search_params(num_chunks, candidates, preview_steps, full_steps)
    # validate_inputs checks these too; a linked value reaches execute unchecked (and is shown escaped)
    if sampler_name not in comfy.samplers.KSampler.SAMPLERS:
        raise ValueError(f"sampler_name {shown(sampler_name)} is unknown; pick one of "
                         f"{comfy.samplers.KSampler.SAMPLERS}")
    if scheduler not in comfy.samplers.KSampler.SCHEDULERS:
        raise ValueError(f"scheduler {shown(scheduler)} is unknown; pick one of {comfy.samplers.KSampler.SCHEDULERS}")
    family = detect_family(model)
    check_vae(family, vae)
    check_image_size(family, start_image)
    check_chunk_length(chunk_length, family.temporal_stride, family.label)
    if family.needs_clip_vision and clip_vision is None:
        raise ValueError(
            "clip_vision: this Wan 2.1 I2V model has a CLIP image embedding and needs a CLIP vision model for its "
            "conditioning; connect 'Load CLIP Vision' with clip_vision_h (it is also used to score the candidates)"
        )
    clip_out = _encode_guide(clip_vision, start_image[-1:], family) if clip_vision is not None else None
    return family, clip_out


def format_report(family: I2VFamily, records: list[ChunkRecord], *, candidates: int, preview_steps: int,
                  full_steps: int, sampler_name: str, scheduler: str, clip: bool, frames: int) -> str:
    per_chunk = runs_per_chunk(candidates, preview_steps, full_steps)
    if candidates <= 1:
        mode = "no search (1 candidate)"
    elif preview_steps == full_steps:
        mode = f"brute force: {candidates} full runs, best kept"
    else:
        mode = f"k-step search: {candidates} candidates x {preview_steps} preview steps + 1 x {full_steps} full steps"
    lines = [
        f"K-Step Noise Search (arXiv 2411.18668) on {family.label}: {len(records)} chunks, {frames} frames",
        f"{mode}; {per_chunk} sampler steps per chunk vs {full_steps} without search "
        f"({per_chunk / full_steps:.2f}x); sampler {sampler_name}, scheduler {scheduler}",
        f"score: {SCORE_CLIP if clip else SCORE_LATENT}",
    ]
    lines += [r.describe() for r in records]
    return "\n".join(lines)


class KStepNoiseSearch(io.ComfyNode):
    """Chunk-wise image-to-video with k-step noise search (Zhan et al. 2024, arXiv 2411.18668)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="InfiniteVideo_KStepNoiseSearch",
            display_name="K-Step Noise Search",
            category="infinite-video",
            description=(
                "Generates a long video chunk by chunk with an image-to-video model (Wan 2.1/2.2-A14B I2V, Wan 2.2 "
                "TI2V 5B, LTX-Video). Each chunk starts from the last frame of the one before. Before each chunk, "
                "'candidates' noises get a cheap preview of 'preview_steps' steps; the candidate whose least similar "
                "preview frame is closest to the guide image is denoised with 'full_steps'."
            ),
            inputs=[
                io.Model.Input("model", tooltip="An image-to-video model: Wan 2.1 / 2.2-A14B I2V, Wan 2.2 TI2V 5B or "
                               "LTX-Video. Text-to-video models cannot take the start image."),
                io.Conditioning.Input("positive", tooltip="Positive prompt conditioning, used for every chunk."),
                io.Conditioning.Input("negative", tooltip="Negative prompt conditioning, used for every chunk."),
                io.Vae.Input("vae", tooltip="The model's VAE: encodes each chunk's guide image and decodes the "
                             "chunks (and the previews when clip_vision is connected)."),
                io.Image.Input("start_image", tooltip="The first guide image. Its size is the video size and must "
                               "be a multiple of 16 (Wan 2.1) or 32 (Wan 2.2 5B, LTX-Video); it is not resized. "
                               "With a batch, the last image is used, so a previous video can be continued."),
                io.Int.Input("chunk_length", default=33, min=5, max=4097, step=4,
                             tooltip="Pixel frames per chunk: 4n+1 for Wan (33, 81), 8n+1 for LTX-Video (33, 97). "
                             "Consecutive chunks share their boundary frame, which appears once in the output."),
                io.Int.Input("num_chunks", default=3, min=1, max=1000,
                             tooltip="How many chunks to generate. Output frames = chunk_length + (num_chunks - 1) "
                             "x (chunk_length - 1)."),
                io.Int.Input("candidates", default=5, min=1, max=64,
                             tooltip="m: candidate noises tried per chunk (the paper uses 5). 1 switches the search "
                             "off."),
                io.Int.Input("preview_steps", default=3, min=1, max=10000,
                             tooltip="k: steps of each candidate's preview, a complete run on a coarse k-step "
                             "schedule over the full noise range. Must not exceed full_steps; k = full_steps keeps "
                             "the best full run (brute force)."),
                io.Int.Input("full_steps", default=30, min=1, max=10000,
                             tooltip="Steps of the full run of the winning candidate."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                               tooltip="Sampler for previews and full runs. Deterministic samplers keep previews "
                               "and full runs most alike; stochastic ones are re-seeded per candidate."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple",
                               tooltip="Scheduler for both the k-step preview schedule and the full schedule."),
                io.Float.Input("cfg", default=5.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale (1.0 skips the negative prompt)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seeds every candidate noise: candidate i of chunk c is a fixed function of "
                             "(seed, c, i), so the same seed gives the same winners and frames."),
                io.ClipVision.Input("clip_vision", optional=True,
                                    tooltip="Optional CLIP vision model. Connected: previews are decoded and scored "
                                    "with CLIP image embeddings (as in the paper); Wan 2.1 I2V 14B also needs it "
                                    "(clip_vision_h) for its conditioning. Not connected: latent-space score, no "
                                    "preview decoding."),
                SinkType.Input("sink", optional=True,
                               tooltip="Optional Video Sink: each chunk's frames (decoded by this node's vae; the "
                                       "sink's decode and vae are not used) go to the file as the chunk finishes, "
                                       "a checkpoint after the first chunk that completes checkpoint_every latent "
                                       "frames (chunk by chunk: a chunk is the unit that resumes). The "
                                       "frames and latent outputs then hold only the last chunk."),
            ],
            outputs=[
                io.Image.Output(display_name="frames", tooltip="All chunks' frames, boundary frames not repeated "
                                "(with a sink: the last chunk's)."),
                io.Latent.Output(display_name="latent", tooltip="All chunks' latents stitched the same way; it "
                                 "decodes to the same frame count."),
                io.String.Output(display_name="report", tooltip="Per chunk: the winning candidate, its score and "
                                 "all candidates' scores."),
                io.Video.Output(display_name="video", tooltip="The streamed video file (only with a sink)."),
            ],
            is_experimental=True,
        )

    @classmethod
    def validate_inputs(cls, sampler_name: Optional[str] = None, scheduler: Optional[str] = None,
                        cfg: Optional[float] = None) -> bool | str:
        return check_widgets(cls, sampler_name=sampler_name, scheduler=scheduler, cfg=cfg)

    @classmethod
    def execute(cls, model, positive, negative, vae, start_image, chunk_length: int, num_chunks: int,
                candidates: int, preview_steps: int, full_steps: int, sampler_name: str, scheduler: str,
                cfg: float, seed: int, clip_vision: Optional[Any] = None, sink: Optional[Any] = None) -> io.NodeOutput:
        require_inputs(cls, model=model, positive=positive, negative=negative, vae=vae, start_image=start_image,
                       chunk_length=chunk_length, num_chunks=num_chunks, candidates=candidates,
                       preview_steps=preview_steps, full_steps=full_steps, cfg=cfg, seed=seed, clip_vision=clip_vision)
        family, clip_out = validate(model, vae, start_image, chunk_length, num_chunks, candidates, preview_steps,
                                    full_steps, sampler_name, scheduler, clip_vision)
        check_conditioning_width(model, {"positive": positive, "negative": negative}, "K-Step Noise Search")
        guide = start_image[-1:, :, :, :3].to(comfy.model_management.intermediate_device())
        backend = _ComfyChunkBackend(
            model=model, family=family, positive=positive, negative=negative, vae=vae, clip_vision=clip_vision,
            first_clip_output=clip_out, chunk_length=chunk_length, width=guide.shape[2], height=guide.shape[1],
            cfg=cfg, sampler_name=sampler_name, scheduler=scheduler,
            total_steps=num_chunks * runs_per_chunk(candidates, preview_steps, full_steps),
        )
        # with a sink, the result keeps only the newest chunk (memory stays flat)
        run = KStepRun(backend, guide, num_chunks=num_chunks, candidates=candidates, preview_steps=preview_steps,
                       full_steps=full_steps, seed=seed, keep_chunks=1 if sink is not None else None,
                       check_interrupt=comfy.model_management.throw_exception_if_processing_interrupted)

        def opener(spec: Any) -> Any:  # checks and the file's creation before any model call
            return open_image_session(spec, model_fingerprint(
                model, start_image[-1:], positive, negative, chunk_length=chunk_length, num_chunks=num_chunks,
                candidates=candidates, preview_steps=preview_steps, full_steps=full_steps, sampler=sampler_name,
                scheduler=scheduler, cfg=float(cfg), seed=int(seed), clip=clip_vision is not None),
                width=guide.shape[2], height=guide.shape[1], images=joined)

        def joined() -> torch.Tensor:  # the frames the iteration just done added to the video
            assert run.images is not None, "drive calls the sink after an iteration"
            return run.images

        with sink_run(sink, opener) as session, torch.no_grad():
            drive(run, None, session.stream(keep=1) if session is not None else None,
                  callback=lambda info: log.info("K-Step Noise Search: %s", info["record"].describe()))
            result = run.result()
        report = format_report(family, result.records, candidates=candidates, preview_steps=preview_steps,
                               full_steps=full_steps, sampler_name=sampler_name, scheduler=scheduler,
                               clip=clip_vision is not None, frames=result.frames.shape[0])
        if session is None:
            return io.NodeOutput(result.frames, {"samples": result.latent}, report, None, ui=ui.PreviewText(report))
        video, preview = session.outputs()
        return io.NodeOutput(result.frames, {"samples": result.latent}, report, video,
                             ui={**preview, "text": (report,)})


NODES = [KStepNoiseSearch]
