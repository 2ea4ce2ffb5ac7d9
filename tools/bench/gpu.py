"""Real-size speed: the Wan 2.1 T2V 1.3B and Wan 2.2 TI2V 5B architectures with random weights, native vs the pack's
samplers, and the Video Sink's decode with the real-size Wan VAEs.

    python -m tools.bench.gpu                 # full size (needs a GPU): 832x480, the templates' windows
    python -m tools.bench.gpu --reduced       # CPU run, under 10 minutes: real widths, 1 layer, tiny latent
    python -m tools.bench.gpu --json gpu.json

Nothing is downloaded: each network is ComfyUI's own ``WanModel`` built from the model's published configuration
(Wan 2.1 1.3B: dim 1536, ffn 8960, 12 heads, 30 layers, 16 latent channels; Wan 2.2 TI2V 5B: dim 3072, ffn 14336,
24 heads, 30 layers, 48 latent channels), filled with seeded N(0, 0.02) weights and loaded through
``comfy.sd.load_diffusion_model_state_dict`` (so ComfyUI detects it as ``WAN21`` / ``WAN22`` as it would the real
file). Random weights make the numbers about time and memory only. The VAEs are ComfyUI's real-size ``WanVAE``
classes (Wan 2.1: 16 channels, 8x; Wan 2.2: 48 channels, 16x) with random weights, decoded frame by frame as the
Video Sink does (:class:`nodes.stream_decode.WanStreamDecoder`).

Every sampler run goes through the pack's real adapter path (``PromptScheduleGuider`` + ``PerFrameSampler``) on an
empty latent; native is stock ComfyUI ``comfy.sample`` (euler) on one window. Columns: all-in seconds per output
latent frame and its ratio to native's seconds per latent frame, model calls per output latent frame, peak memory
(CUDA: ``max_memory_allocated``; CPU: the process's peak RSS growth during the run), and the decode's seconds per
video frame. ``--reduced`` keeps each model's width but runs 1 layer on a 64x32 video, window 4 x 1 partition (4
steps), 6 output latent frames, cfg 1, MIGA at 8 steps without self-reflection and 2 decoded latents: it shows the
table's shape and the samplers' relative cost on the CPU at hand (per-call weight traffic dominates), not real-size or
GPU figures, and says so in its output.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..testing.host import boot_host


@dataclass(frozen=True)
class Arch:
    name: str
    net: dict  # WanModel keyword arguments (the published configuration)
    vae: str  # "wan21" | "wan22"
    spatial: int  # VAE compression
    window: int  # the templates' window, latent frames
    partitions: int


ARCHS = {
    "wan21_1.3b": Arch("Wan 2.1 T2V 1.3B", dict(model_type="t2v", in_dim=16, out_dim=16, dim=1536, ffn_dim=8960,
                                                freq_dim=256, text_dim=4096, num_heads=12, num_layers=30),
                       "wan21", 8, 21, 2),
    "wan22_5b": Arch("Wan 2.2 TI2V 5B", dict(model_type="t2v", in_dim=48, out_dim=48, dim=3072, ffn_dim=14336,
                                             freq_dim=256, text_dim=4096, num_heads=24, num_layers=30),
                     "wan22", 16, 31, 2),
}
METHODS = ("native", "fifo", "fifo_lookahead", "fifo_auto_clip", "miga")


@dataclass(frozen=True)
class Size:
    width: int
    height: int
    frames: int  # output latent frames per run
    layers: Optional[int]  # None = the real depth
    window: Optional[int]  # None = the template's
    partitions: Optional[int]
    cfg: float


FULL = Size(832, 480, 48, None, None, None, 5.0)
REDUCED = Size(64, 32, 6, 1, 4, 1, 1.0)


def build_model(arch: Arch, layers: Optional[int], dtype, seed: int = 0):
    """A ``ModelPatcher`` around ComfyUI's ``WanModel`` with ``arch``'s configuration and random weights."""
    import comfy.ops
    import comfy.sd
    import torch
    from comfy.ldm.wan.model import WanModel

    cfg = dict(arch.net, num_layers=layers or arch.net["num_layers"])
    net = WanModel(**cfg, operations=comfy.ops.disable_weight_init, dtype=dtype)
    gen = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(net.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32).mul_(0.02).to(p.dtype))
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    del net
    model = comfy.sd.load_diffusion_model_state_dict(sd)
    if model is None:
        raise RuntimeError(f"ComfyUI did not recognise the {arch.name} state dict")
    return model


def build_vae(kind: str, seed: int = 0):
    """A real-size ``comfy.sd.VAE`` of the Wan 2.1 or 2.2 layout with random weights (as ``VAELoader`` builds it)."""
    import comfy.sd
    import torch

    from ..testing.tiny_vaes import fill_random

    if kind == "wan21":
        from comfy.ldm.wan.vae import WanVAE

        net = WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                     temperal_downsample=[False, True, True], dropout=0.0)
    else:
        from comfy.ldm.wan.vae2_2 import WanVAE

        net = WanVAE(dim=160, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                     temperal_downsample=[False, True, True], dropout=0.0)
    fill_random(net, seed)
    return comfy.sd.VAE(sd={k: v.to(torch.bfloat16).contiguous() for k, v in net.state_dict().items()})


def queue_config(method: str, window: int, partitions: int, reduced: bool):
    from infinite_video.samplers.config import (
        GuidanceConfig,
        QueueConfig,
        ReflectionConfig,
        UnifiedConfig,
        ZigzagConfig,
    )

    if method == "miga":
        if reduced:  # MIGA scaled down to the reduced window: 8 steps, groups of 2, 1 guidance latent, no reflection
            zz, un = ZigzagConfig(8, 2, 6), UnifiedConfig(2, True, 6)
            return QueueConfig(window, partitions, True, "noise", zigzag=zz, unified=un, guidance=GuidanceConfig(1))
        return QueueConfig(window, partitions, True, "noise", zigzag=ZigzagConfig(), unified=UnifiedConfig(),
                           reflection=ReflectionConfig(), guidance=GuidanceConfig())
    return QueueConfig(window, partitions, method == "fifo_lookahead", "auto clip" if "auto" in method else "noise")


class Peak:
    """Peak memory of one run: CUDA's allocator peak, or the process's peak RSS growth on the CPU (MiB)."""

    def __init__(self, cuda: bool):
        self.cuda = cuda

    def __enter__(self):
        import torch

        from .fifo import reset_peak_rss, rss_kib

        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.base = rss_kib()
            reset_peak_rss()
        return self

    def __exit__(self, *exc):
        import torch

        from .fifo import rss_kib

        if self.cuda:
            torch.cuda.synchronize()
            self.mib = torch.cuda.max_memory_allocated() / 2 ** 20
        else:
            self.mib = (rss_kib("VmHWM") - self.base) / 1024


def run_method(model, method: str, arch: Arch, size: Size, window: int, partitions: int, cuda: bool) -> dict:
    import comfy.sample
    import torch

    from ..testing import tiny_models
    from .fifo import sample_queue

    ch = arch.net["in_dim"]
    lat = (1, ch, window, size.height // arch.spatial, size.width // arch.spatial)
    pos, neg = tiny_models.tiny_conditioning(1), tiny_models.tiny_conditioning(2)
    with Peak(cuda) as peak:
        t0 = time.perf_counter()
        if method == "native":
            steps = window * partitions
            noise = torch.randn(lat, generator=torch.Generator().manual_seed(0))
            comfy.sample.sample(model, noise, steps, size.cfg, "euler", "simple", pos, neg, torch.zeros(lat),
                                disable_pbar=True, seed=0)
            frames, calls = window, steps
        else:
            cfg = queue_config(method, window, partitions, size.layers is not None)
            _, sampler = sample_queue(model, cfg, size.frames, torch.zeros(lat), pos, neg, size.cfg)
            frames, calls = size.frames, sampler.model_calls
        if cuda:
            torch.cuda.synchronize()
        sec = time.perf_counter() - t0
    return {"method": method, "frames": frames, "seconds_per_frame": sec / frames, "calls_per_frame": calls / frames,
            "peak_mib": round(peak.mib, 1)}


def decode_seconds(vae, arch: Arch, size: Size, latents: int) -> float:
    """Seconds per video frame of the Video Sink's frame-by-frame decode of ``latents`` random latent frames."""
    import torch

    from infinite_video.nodes.stream_decode import make_decoder

    dec = make_decoder(vae)
    ch = 16 if arch.vae == "wan21" else 48
    z = torch.randn(1, ch, latents, size.height // arch.spatial, size.width // arch.spatial,
                    generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    n = sum(dec.push(z[:, :, i:i + 1]).shape[0] for i in range(latents)) + dec.finish().shape[0]
    return (time.perf_counter() - t0) / max(n, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reduced", action="store_true", help="CPU-sized run: 1 layer, 64x32, window 4, 6 frames")
    ap.add_argument("--models", default=",".join(ARCHS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--frames", type=int, default=None, help="output latent frames per sampler run")
    ap.add_argument("--decode-latents", type=int, default=None, help="latent frames the decode timing covers")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    size = REDUCED if args.reduced else FULL
    if args.frames:
        size = dataclasses.replace(size, frames=args.frames)
    boot_host(cpu=args.reduced)
    import torch

    cuda = torch.cuda.is_available() and not args.reduced
    if not cuda:
        torch.set_num_threads(max(1, torch.get_num_threads()))
    device = torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.processor() or platform.machine()}, " \
                                                         f"{torch.get_num_threads()} threads)"
    dtype = torch.bfloat16 if cuda else torch.float32
    rows: list[dict[str, Any]] = []
    print(f"{'REDUCED' if args.reduced else 'full'} size on {device}: {size.width}x{size.height}, cfg {size.cfg}, "
          f"{size.frames} output latent frames per sampler run, {'1 layer' if size.layers else 'real depth'}")
    if args.reduced:
        print("reduced: each model's real width, but 1 layer, a tiny latent, window 4 x 1 partition and MIGA at 8 "
              "steps without self-reflection; the table's shape and relative costs on this CPU, not real-size or GPU "
              "figures")
    for key in args.models.split(","):
        arch = ARCHS[key]
        window = size.window or arch.window
        partitions = size.partitions or arch.partitions
        t0 = time.perf_counter()
        model = build_model(arch, size.layers, dtype)
        print(f"\n{arch.name} (window {window}, {partitions} partitions = {window * partitions} steps; built in "
              f"{time.perf_counter() - t0:.0f} s)")
        print(f"{'method':16s} {'s/frame':>9s} {'ratio':>6s} {'calls/frame':>11s} {'peak MiB':>9s}")
        res = {}
        for method in args.methods.split(","):
            try:
                res[method] = run_method(model, method, arch, size, window, partitions, cuda)
            except ValueError as e:  # a chain this size cannot take: say why, keep going
                print(f"{method:16s} n/a: {e}")
                continue
            r = res[method]
            ratio = r["seconds_per_frame"] / res["native"]["seconds_per_frame"] if "native" in res else float("nan")
            print(f"{method:16s} {r['seconds_per_frame']:9.3f} {ratio:6.2f} {r['calls_per_frame']:11.2f} "
                  f"{r['peak_mib']:9.0f}", flush=True)
            rows.append(dict(r, model=key, all_in_ratio=ratio, device=device, reduced=args.reduced))
        del model
        vae = build_vae(arch.vae)
        n = args.decode_latents or (2 if args.reduced else 21)
        spf = decode_seconds(vae, arch, size, n)
        print(f"Video Sink decode, real-size {arch.vae} VAE (random weights), {size.width}x{size.height}: "
              f"{spf:.3f} s per video frame ({n} latent frames)")
        rows.append({"model": key, "method": "vae_decode", "seconds_per_video_frame": spf, "device": device,
                     "reduced": args.reduced})
        del vae
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {len(rows)} rows to {args.json}")


if __name__ == "__main__":
    main()
