"""Long-video consistency benchmark on the pack's trained tiny Wan 2.1 models (CPU, one process).

Every method runs in the same process, on the same model, with the same seeds and the same ladder length, and is
scored on decoded frames (``clips.decode``: the model's latents decode exactly through the preview factors) with
the weight-free metrics of ``shapes/metrics.py``::

    python -m tools.bench.consistency                 # 3 seeds x 180 latent frames (20 windows)
    python -m tools.bench.consistency --quick         # 1 seed, 36 frames, for a smoke run
    python -m tools.bench.consistency --model bouncing_wan21 --out models/bouncing_wan21/bench
    python -m tools.bench.consistency --model bouncing_wan21 --native-only   # the 16-seed native check only

``--model`` takes a checkpoint path or the name of a folder of ``models/`` (default: ``shapes_wan21``).

Methods (window = the 9 latent frames the model was trained on, 27 ladder steps everywhere, one ``--sampler`` for
all: euler by default, ``euler_ancestral`` as the bouncing model's bench):

- ``chunks``: independent 9-frame clips, stock ComfyUI euler, one seed each, concatenated (the baseline users get
  by looping a sampler);
- ``chunks_continued``: 9-frame chunks, each starting from the previous chunk's last finished latent (held clean):
  the pack's chunked continuation engine with chunk 8 and no anchors, 27 steps per chunk;
- ``continuation``: the pack's Chunked Continuation node with its defaults (chunk 4, 4 anchors every 24 latents,
  tracked context, denoise 0.5: ``samplers.continuation.NODE_DEFAULTS``);
- ``cont_...``: any continuation config by the oracle's name (``cont_k5_a3_s24``: clean context, the node's
  defaults until 2026-12-04; ``cont_k4_a4_s24_t2``: tracked, the whole ladder);
- ``continuation_flight``: the identity chain of the analytic oracle at this window (chunk 2, 4 anchors every 24, 2
  chunks in flight; no template runs it; with the run's ``--sampler``, as every method);
- ``context_windows``: ComfyUI core's "Context Windows (Manual)" (9 frames, overlap 3, pyramid fuse) on the whole
  latent, stock euler;
- ``fifo`` / ``fifo_lookahead``: FIFO-Diffusion, 3 partitions;
- ``miga_tta``: Zigzag (L_zig 3, stage 1 to step 22 of 27) + Unified Stage (re-noise to 22), no DCE;
- ``miga_dce``: Self-Reflection + Long-Range Guidance on FIFO's diagonal queue, no TTA;
- ``miga``: both (the paper's full method), guidance from the queue (official code);
- ``miga_history``: both, guidance from the bounded history of finished latents (the paper's description);
- ``miga_half_slide``: both, with the official code's slide (half the window; the default writes every queue latent a
  window reads);
- ``miga_no_redenoise``: both, without the unified stage's re-noise-and-re-denoise pass;
- ``miga_pairwise`` / ``miga_mean_map``: both, self-reflection with the official metrics on the noisy latents (Wan /
  VideoCrafter2) instead of the default;
- ``miga_guidance_only``: TTA + Long-Range Guidance, no self-reflection (what self-reflection adds and costs);
- ``miga_dce_no_lookahead``: ``miga_dce`` with FIFO Queue Init's lookahead off (windows write all they read).

Output: one markdown table (mean over seeds; seconds per output frame; ``end``: subject consistency of the last window
against the first, ``metrics.subject_end``; ``*`` marks a difference from ``fifo_lookahead``
beyond seed-to-seed spread: the per-seed differences all have one sign and their mean exceeds twice their standard
error), a contact sheet per method (``--out``), ``results.json`` (every metric per seed) and ``summary.json``:
per method ``subject_end`` and ``calls_per_frame`` (mean, sd, per seed), and ``native``: ``subject_native``, the
subject consistency of the last 3 frames of a native 9-frame clip against its first 3 (``metrics.subject_end``),
over ``NATIVE_SEEDS`` seeds (their clips are ``native_clips.png``, one row per seed).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..pack import PACK_ROOT
from ..testing.shapes.clips import decode

MODEL_PATH = PACK_ROOT / "models" / "shapes_wan21" / "shapes_wan21.safetensors"
WINDOW, PARTITIONS, SPATIAL = 9, 3, 16
NATIVE_SEEDS, NATIVE_END = 16, 3  # native check: seeds 100.., last 3 frames of a clip against its first 3
NATIVE_FIRST_SEED = 100  # the target's seeds are NATIVE_FIRST_SEED .. + NATIVE_SEEDS - 1
STEPS = WINDOW * PARTITIONS
CFG = 1.0  # unconditional model: one model call per window

METHODS = ("chunks", "chunks_continued", "continuation", "continuation_flight", "context_windows", "fifo",
           "fifo_lookahead", "miga_tta", "miga_dce", "miga", "miga_history", "miga_half_slide", "miga_no_redenoise",
           "miga_pairwise", "miga_mean_map", "miga_guidance_only", "miga_dce_no_lookahead")
DEFAULT_METHODS = METHODS[:-2]  # the last two on request
BASELINE = "fifo_lookahead"


def queue_config(method: str, threshold: float = 0.01, metric: str = ""):
    """The ``QueueConfig`` a method runs (what the node chain FIFO Queue Init -> MIGA nodes would build); ``metric``
    "" = the Self-Reflection node's default."""
    from infinite_video.samplers.config import (
        ContinuationConfig,
        GuidanceConfig,
        QueueConfig,
        ReflectionConfig,
        UnifiedConfig,
        ZigzagConfig,
    )

    metric = metric or ReflectionConfig().metric
    end = round(STEPS * 44 / 54)  # official Wan: stage 1 ends at 44 of 54 steps (81%): 22 of 27
    tta = dict(zigzag=ZigzagConfig(STEPS, 3, end, 0), unified=UnifiedConfig(STEPS - end, True, end))
    dce = dict(reflection=ReflectionConfig(3, threshold, metric, judged_level=round(STEPS * 10 / 54)),  # 10 of 54
               guidance=GuidanceConfig(2, "queue", 64))  # official 4 of 21
    base = QueueConfig(WINDOW, PARTITIONS, method != "fifo", "noise")
    if method in ("fifo", "fifo_lookahead"):
        return base
    if method == "chunks_continued":  # one clean slot: the previous chunk's last latent
        return replace(base, continuation=ContinuationConfig(WINDOW - 1, 0))
    if method == "continuation":  # the Chunked Continuation node's defaults
        from infinite_video.samplers.continuation import NODE_DEFAULTS

        return replace(base, continuation=NODE_DEFAULTS)
    if method.startswith("cont_"):  # any continuation config by the oracle's name (tools/testing/oracle.py)
        from ..testing.oracle import continuation_config
        cont = continuation_config(method)
        if cont is None:
            raise ValueError(f"{method!r} is not a continuation name (cont_k4_a4_s24_t2_d0.5: see "
                             f"tools/testing/oracle.py continuation_config)")
        return replace(base, continuation=cont)
    if method == "continuation_flight":  # the oracle's identity chain at this window: 2 chunks of 2 in flight
        return replace(base, continuation=ContinuationConfig(2, 4, 24, in_flight=2))
    if method == "miga_tta":
        return replace(base, **tta)
    if method == "miga_dce":
        return replace(base, **dce)
    if method == "miga_dce_no_lookahead":  # FIFO Queue Init lookahead off: FIFO's windows write all they read
        return replace(base, lookahead=False, **dce)
    cfg = replace(base, **tta, **dce)
    if method == "miga_history":
        return replace(cfg, guidance=GuidanceConfig(2, "history", 64))
    if method in ("miga_pairwise", "miga_mean_map"):  # the official metrics, on the noisy latents
        return replace(cfg, reflection=replace(cfg.reflection, metric=method.split("_", 1)[1]))
    if method == "miga_guidance_only":
        return replace(cfg, reflection=None)
    if method == "miga_half_slide":  # the official code's slide: windows write their front half (auto: all they read)
        return replace(cfg, zigzag=replace(cfg.zigzag, slide=WINDOW // 2))
    if method == "miga_no_redenoise":
        return replace(cfg, unified=replace(cfg.unified, renoise=False))
    if method == "miga":
        return cfg
    raise ValueError(method)


def empty_cond():
    import torch

    return [[torch.zeros(1, 1, 4096), {}]]


def run_native(model, frames: int, seed: int, steps: int = STEPS, sampler: str = "euler"):
    """``(latent [1, 16, frames, H, W], stats)`` from a stock ComfyUI sampler (model may carry context windows)."""
    import comfy.sample
    import torch

    latent = torch.zeros(1, 16, frames, SPATIAL, SPATIAL)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(seed))
    out = comfy.sample.sample(model, noise, steps, CFG, sampler, "simple", empty_cond(), empty_cond(), latent,
                              disable_pbar=True, seed=seed)
    return out, {}


def run_chunks(model, frames: int, seed: int, sampler: str = "euler"):
    import torch

    parts = [run_native(model, WINDOW, seed * 1000 + k, sampler=sampler)[0] for k in range(math.ceil(frames / WINDOW))]
    return torch.cat(parts, dim=2)[:, :, :frames], {}


def run_context_windows(model, frames: int, seed: int, sampler: str = "euler"):
    import comfy.context_windows as cw
    from comfy_extras.nodes_context_windows import ContextWindowsManualNode

    patched = ContextWindowsManualNode.execute(model, WINDOW, 3, cw.ContextSchedules.STATIC_STANDARD, 1, False,
                                               cw.ContextFuseMethods.PYRAMID, 2).result[0]
    return run_native(patched, frames, seed, sampler=sampler)


def run_queue_method(model, cfg, frames: int, seed: int, callback=None, sampler: str = "euler"):
    """Our sampler through the real adapter path (``benchmark.sample_queue``), from a blank window."""
    import torch

    from .fifo import sample_queue

    clip = torch.zeros(1, 16, WINDOW, SPATIAL, SPATIAL)
    out, run = sample_queue(model, cfg, frames, clip, empty_cond(), empty_cond(), CFG, seed, callback, rule=sampler)
    st = run.stats
    info = {"model_calls": run.model_calls}
    if st is not None:
        info.update(judgments=st.judgments, triggers=st.triggers, accepted=st.accepted,
                    max_resident_latents=st.max_resident_latents)
    return out, info


def generate(model, method: str, frames: int, seed: int, threshold: float = 0.01, metric: str = "",
             sampler: str = "euler"):
    if method in ("chunks", "context_windows"):  # stock sampling: calls counted on a wrapped clone
        from ..testing.call_counter import count_model_calls

        counted, counter = count_model_calls(model)
        out, info = (run_chunks if method == "chunks" else run_context_windows)(counted, frames, seed, sampler)
        return out, {**info, "model_calls": counter.calls}
    return run_queue_method(model, queue_config(method, threshold, metric), frames, seed, sampler=sampler)


def to_rgb(model, latent):
    """LATENT (``process_out`` space, as samplers return it) -> RGB ``[F, H, W, 3]`` in [-1, 1]."""
    fmt = model.get_model_object("latent_format")
    return decode(fmt.process_in(latent.float()))[0]


def contact_sheet(rgb, path: Path, columns: int = 15, rows: int = 2, scale: int = 4, every: bool = True) -> None:
    """Frames ``rgb [F, H, W, 3]`` tiled left to right, top to bottom: ``columns * rows`` frames evenly spread over
    the video (``every``), or simply the first ``columns * rows``."""
    import numpy as np
    from PIL import Image

    n = columns * rows
    idx = [round(i * (rgb.shape[0] - 1) / (n - 1)) for i in range(n)] if every else list(range(n))
    f, h, w = len(idx), rgb.shape[1], rgb.shape[2]
    tiles = ((rgb[idx] + 1) / 2 * 255).clamp(0, 255).byte().numpy()
    sheet = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1, 3), 255, dtype=np.uint8)
    for k in range(f):
        r, c = divmod(k, columns)
        sheet[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tiles[k]
    img = Image.fromarray(sheet)
    img.resize((img.width * scale, img.height * scale), Image.NEAREST).save(path)


def native_check(model, path: Path, seeds: int = NATIVE_SEEDS, scale: int = 4, sampler: str = "euler",
                 first_seed: int = NATIVE_FIRST_SEED) -> dict:
    """The model's own short clips (seeds ``first_seed``, ``first_seed + 1``, ...): ``path`` gets one row per seed,
    the 9 frames of a native 27-step clip left to right; returns ``subject_native`` (mean, sd, per seed) of those
    clips."""
    import torch

    from ..testing.shapes.metrics import subject_end

    rows = [to_rgb(model, run_native(model, WINDOW, first_seed + s, sampler=sampler)[0]) for s in range(seeds)]
    contact_sheet(torch.cat(rows), path, columns=WINDOW, rows=seeds, scale=scale, every=False)
    per_seed = [subject_end(rgb, NATIVE_END) for rgb in rows]
    return {"subject_native": statistics.fmean(per_seed), "sd": statistics.stdev(per_seed), "seeds": seeds,
            "first_seed": first_seed,
            "per_seed": per_seed, "frames_compared": NATIVE_END, "sampler": sampler}


def summarize(results: dict[str, list[dict]], native: dict) -> dict:
    """``summary.json``: per method ``subject_end`` and ``calls_per_frame`` (mean, sd over seeds, per seed)."""
    out = {"native": native}
    for method, rows in results.items():
        out[method] = {}
        for k in ("subject_end", "calls_per_frame"):
            vals = [r[k] for r in rows if k in r]
            if vals:
                out[method][k] = {"mean": statistics.fmean(vals),
                                  "sd": statistics.stdev(vals) if len(vals) > 1 else None, "per_seed": vals}
        out[method]["seeds"] = len(rows)
        base = results.get(BASELINE)
        if base is not None and method != BASELINE:
            out[method]["subject_end_beyond_spread_vs_" + BASELINE] = beyond_spread(
                [r["subject_end"] for r in rows], [r["subject_end"] for r in base])
    return out


def merge(folders: list[Path], out: Path) -> None:
    """Combine the ``results.json`` of runs over disjoint methods (the native check of the first folder is kept).
    Runs cut short hold fewer seeds: every run's seeds must be 0, 1, ... (paired comparisons use the common ones)."""
    results: dict[str, list[dict]] = {}
    for d in folders:
        for method, rows in json.loads((d / "results.json").read_text()).items():
            if method in results:
                sys.exit(f"--merge: {method} is in more than one of {', '.join(map(str, folders))}")
            results[method] = rows
    seeds = {m: [r["seed"] for r in rows] for m, rows in results.items()}
    if any(v != list(range(len(v))) for v in seeds.values()):
        sys.exit(f"--merge: every run's seeds must be 0, 1, ...: {seeds}")
    native = json.loads((folders[0] / "summary.json").read_text())["native"]
    samplers = {r.get("sampler", "euler") for rows in results.values() for r in rows} | {native.get("sampler", "euler")}
    if len(samplers) > 1:
        sys.exit(f"--merge: the runs used different samplers ({', '.join(sorted(samplers))}); merge runs of one")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "summary.json").write_text(json.dumps(summarize(results, native), indent=1))
    print(table(results))


def resolve_model(arg: str) -> Path:
    """A checkpoint path, or the name of a folder of ``models/`` holding ``<name>.safetensors``."""
    path = Path(arg)
    if path.suffix != ".safetensors" and not path.exists():
        path = PACK_ROOT / "models" / arg / f"{arg}.safetensors"
    if not path.is_file():
        sys.exit(f"--model {arg}: no such checkpoint ({path}); give a .safetensors path or a folder name of models/")
    return path


def beyond_spread(a: list[float], b: list[float]) -> bool:
    """Paired over seeds: every per-seed difference has one sign and |mean| > 2 standard errors."""
    d = [x - y for x, y in zip(a, b)]
    if len(d) < 2 or not (all(x > 0 for x in d) or all(x < 0 for x in d)):
        return False
    se = statistics.stdev(d) / math.sqrt(len(d))
    return abs(statistics.fmean(d)) > 2 * se


# metric key -> (column title, format, higher is better?) for the table
COLUMNS = {
    "seconds_per_frame": ("s/frame", "{:.3f}", False),
    "calls_per_frame": ("calls/frame", "{:.1f}", False),
    "temporal_flicker": ("flicker", "{:.4f}", True),
    "motion_smoothness": ("smooth", "{:.4f}", True),
    "background_consistency": ("bg", "{:.4f}", True),
    "subject_consistency": ("subject", "{:.3f}", True),
    "subject_end": ("end", "{:.3f}", True),
    "shape_count": ("shapes", "{:.2f}", None),
    "shape_presence": ("present", "{:.2f}", True),
    "shape_count_change": ("count chg", "{:.3f}", False),
    "colors_lost": ("lost", "{:.2f}", False),
    "brightness_drift": ("bright drift", "{:+.3f}", None),
    "contrast_drift": ("contr drift", "{:+.3f}", None),
    "saturation_drift": ("sat drift", "{:+.3f}", None),
}


def table(results: dict[str, list[dict]]) -> str:
    keys = list(COLUMNS)
    head = "| method | " + " | ".join(COLUMNS[k][0] for k in keys) + " | triggers |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    base = results.get(BASELINE)
    for method, rows in results.items():
        cells = []
        for k in keys:
            vals = [r[k] for r in rows if k in r]
            if not vals:
                cells.append("-")
                continue
            cell = COLUMNS[k][1].format(statistics.fmean(vals))
            if len(vals) > 1:
                cell += " ±" + COLUMNS[k][1].format(statistics.stdev(vals)).lstrip("+")
            if base is not None and method != BASELINE and k not in ("seconds_per_frame", "calls_per_frame") and \
                    beyond_spread(vals, [r[k] for r in base]):
                cell += " *"
            cells.append(cell)
        judged = sum(r.get("judgments", 0) for r in rows)
        trig = f"{sum(r.get('triggers', 0) for r in rows) / judged:.0%}" if judged else "-"
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {trig} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 seed, 36 frames (smoke run)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=20 * WINDOW, help="latent frames per video (default 20 windows)")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS), help=f"comma-separated, from {', '.join(METHODS)}")
    ap.add_argument("--threshold", type=float, default=0.01, help="self-reflection threshold of the MIGA methods")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--sampler", choices=("euler", "euler_ancestral", "dpmpp_2m"), default="euler",
                    help="the step rule of every method: ComfyUI's sampler of that name for native clips, chunks and "
                         "context windows, the Infinite Video Sampler's sampler_name (eta 1) for the pack's methods "
                         "(dpmpp_2m: only chunks, context windows and the continuation methods)")
    ap.add_argument("--model", default=str(MODEL_PATH),
                    help="a checkpoint path or a folder name of models/ (default: shapes_wan21)")
    ap.add_argument("--merge", default="",
                    help="comma-separated output folders of runs over disjoint methods (same model, seeds, frames): "
                         "write their combined results.json, summary.json and table into --out, running nothing")
    ap.add_argument("--native-seeds", type=int, default=NATIVE_SEEDS,
                    help=f"seeds of the native check (100, 101, ...; the benchmark's target reads {NATIVE_SEEDS}; more "
                    f"show how far its mean moves with the seeds)")
    ap.add_argument("--native-first-seed", type=int, default=NATIVE_FIRST_SEED,
                    help=f"first seed of the native check (the target reads {NATIVE_FIRST_SEED}.."
                         f"{NATIVE_FIRST_SEED + NATIVE_SEEDS - 1}; choose weights or settings on other seeds, e.g. "
                         "300.., so the target's seeds stay unseen)")
    ap.add_argument("--native-only", action="store_true",
                    help="only the native check (--native-seeds seeds) and native_clips.png")
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache" / "infinite-video" / "consistency")
    args = ap.parse_args(argv)
    if args.native_seeds < 2:
        ap.error(f"--native-seeds {args.native_seeds}: the check reports a spread, so it needs at least 2 seeds")
    if args.quick:
        args.seeds, args.frames = 1, 4 * WINDOW
    if args.merge:
        merge([Path(d) for d in args.merge.split(",") if d], args.out)
        return
    model_path = resolve_model(args.model)
    methods = [m for m in args.methods.split(",") if m]
    unknown = {m for m in methods if m not in METHODS and not m.startswith("cont_")}
    if unknown:
        sys.exit(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    queue = [m for m in methods if m not in ("chunks", "context_windows") and queue_config(m).continuation is None]
    if args.sampler == "dpmpp_2m" and queue:
        sys.exit(f"--sampler dpmpp_2m runs chunked continuation only; {', '.join(queue)} take euler or euler_ancestral")

    from ..testing.host import boot_host

    boot_host()
    import comfy.sd
    import torch

    from ..testing.shapes.metrics import subject_end, video_metrics

    if args.threads:
        torch.set_num_threads(args.threads)
    model = comfy.sd.load_diffusion_model(str(model_path))
    args.out.mkdir(parents=True, exist_ok=True)
    run_native(model, WINDOW, 0, sampler=args.sampler)  # warm-up
    native = native_check(model, args.out / "native_clips.png", seeds=args.native_seeds, sampler=args.sampler,
                          first_seed=args.native_first_seed)
    print(json.dumps({"native": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in native.items()
                                 if k != "per_seed"}}), flush=True)
    if args.native_only:
        (args.out / "summary.json").write_text(json.dumps({"native": native}, indent=1))
        print(f"native_clips.png and summary.json in {args.out}")
        return
    results: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in range(args.seeds):
        for method in methods:  # interleaved: machine drift hits every method alike
            t0 = time.perf_counter()
            latent, info = generate(model, method, args.frames, seed, args.threshold, sampler=args.sampler)
            seconds = time.perf_counter() - t0
            rgb = to_rgb(model, latent)
            row = {"seed": seed, "sampler": args.sampler, "seconds_per_frame": seconds / args.frames,
                   **video_metrics(rgb), "subject_end": subject_end(rgb, WINDOW), **info}
            if "model_calls" in row:
                row["calls_per_frame"] = row["model_calls"] / args.frames
            results[method].append(row)
            print(json.dumps({"method": method, **{k: (round(v, 5) if isinstance(v, float) else v)
                                                   for k, v in row.items()}}), flush=True)
            if seed == 0:
                contact_sheet(rgb, args.out / f"{method}.png")
        done = {m: rows for m, rows in results.items() if rows}  # written after every seed: a cut run keeps them
        (args.out / "results.json").write_text(json.dumps(done, indent=1))
        (args.out / "summary.json").write_text(json.dumps(summarize(done, native), indent=1))
    print(f"\n{model_path.stem} on CPU: {args.frames} latent frames ({args.frames / WINDOW:.0f} windows of {WINDOW}), "
          f"{STEPS} steps, {args.sampler}, {args.seeds} seeds, cfg {CFG}; mean ± sd over seeds; * = beyond seed "
          f"spread vs {BASELINE}\n")
    print(table(results))
    print(f"\ncontact sheets, results.json and summary.json in {args.out}")


if __name__ == "__main__":
    main()
