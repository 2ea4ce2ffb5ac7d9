"""Cost of the k-step noise search (arXiv 2411.18668) against brute force and no search, in one run on CPU.

Runs the K-Step Noise Search node three times on the same tiny random-weight image-to-video model, start image and
seed, counting diffusion-model calls with a keyed ``APPLY_MODEL`` wrapper on a model clone (one call = one batched
cond + uncond evaluation) and timing them:

- **k-step search**: ``m`` previews of ``k`` steps + one full run of ``full`` steps per chunk (``m·k + full``);
- **brute force**: every candidate fully denoised, the best kept (the node with ``k = full``: ``m·full``);
- **no search**: one full run per chunk (the node with ``m = 1``: ``full``).

Not a test. Run with the pack's virtualenv from the repository root::

    python tests/tools/bench_kstep.py                      # tiny Wan 2.1 (in_dim 36) + random full-size Wan VAE
    python tests/tools/bench_kstep.py --family ltxv        # tiny LTX-Video + tiny LTXV VAE (faster)
    python tests/tools/bench_kstep.py --m 5 --k 3 --full 30 --chunks 2

The helpers (``count_model_calls``, the random VAEs) are shared with ``tests/test_kstep_host.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from benchmark import boot_host  # noqa: E402  (same in-process host start-up as the FIFO benchmark)

COUNT_KEY = "infinite_video_bench_count"


# --- helpers shared with the host tests ---------------------------------------------------------------------------


class CallCounter:
    """Diffusion-model calls seen by a keyed ``APPLY_MODEL`` wrapper: ``calls``, batch ``rows`` and ``seconds``."""

    def __init__(self, on_call: Optional[Any] = None) -> None:
        self.calls = 0
        self.rows = 0
        self.seconds = 0.0
        self.on_call = on_call

    def __call__(self, executor, x, *args, **kwargs):
        self.calls += 1
        self.rows += int(x.shape[0])
        start = time.perf_counter()
        try:
            return executor(x, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start
            if self.on_call is not None:
                self.on_call(self)


def count_model_calls(model: Any, on_call: Optional[Any] = None) -> tuple[Any, CallCounter]:
    """A clone of ``model`` whose every ``apply_model`` call is counted (the original is untouched)."""
    import comfy.patcher_extension

    counter = CallCounter(on_call)
    clone = model.clone()
    clone.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.APPLY_MODEL, COUNT_KEY, counter)
    return clone, counter


def _fill_random(module: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            param.copy_(torch.randn(param.shape, generator=gen).mul_(0.02).to(param.dtype))


def write_random_wan21_vae(path: Path, seed: int = 0) -> Path:
    """A random full-size Wan 2.1 VAE (the only size ComfyUI 0.3.64 builds: ~127 M parameters) in bf16 safetensors.

    ``VAELoader`` / ``comfy.sd.VAE`` detect it as the Wan 2.1 VAE (16 channels, 8x spatial, 4x temporal).
    """
    import safetensors.torch
    from comfy.ldm.wan.vae import WanVAE

    path = Path(path)
    if path.is_file():
        return path
    net = WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True], dropout=0.0)
    _fill_random(net, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.to(torch.bfloat16).contiguous() for k, v in net.state_dict().items()},
                                str(path))
    return path


def load_vae(path: Path) -> Any:
    """Load a VAE file the way ``VAELoader`` does."""
    import comfy.sd
    import comfy.utils

    return comfy.sd.VAE(sd=comfy.utils.load_torch_file(str(path)))


TINY_LTXV_VAE_CONFIG = {
    "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128,
    "blocks": [["compress_all", 1], ["compress_all", 1], ["compress_all", 1], ["res_x", 1]],
    "patch_size": 4, "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
}


def tiny_ltxv_vae(seed: int = 0) -> Any:
    """A real ``comfy.sd.VAE`` for LTX-Video (128 channels, 32x spatial, 8x temporal) at ~15 M parameters.

    Built through ComfyUI's own constructor: an LTXV VAE takes its architecture from the ``config`` metadata entry
    (as all-in-one LTXV checkpoints carry it), so three ``compress_all`` blocks and one ``res_x`` give the real
    compression with a small network. The per-channel statistics are the identity.
    """
    import comfy.sd
    from comfy.ldm.lightricks.vae.causal_video_autoencoder import VideoVAE

    net = VideoVAE(config=TINY_LTXV_VAE_CONFIG)
    _fill_random(net, seed)
    sd = net.state_dict()
    for key in sd:
        if key.startswith("per_channel_statistics."):
            sd[key] = torch.ones(128) if "std" in key else torch.zeros(128)
    return comfy.sd.VAE(sd=sd, metadata={"config": json.dumps({"vae": TINY_LTXV_VAE_CONFIG})})


class SmallWan22VAE:
    """A narrow stand-in for ``comfy.sd.VAE`` around a real, narrow ``comfy.ldm.wan.vae2_2.WanVAE`` (48 channels).

    ComfyUI 0.3.64 only builds the full Wan 2.2 VAE (~705 M parameters, far too slow on CPU) and reads no config
    for it, so the test wraps the same network class at ``dim = dec_dim = 16``. It exposes exactly the members the
    node uses: ``latent_channels``, ``spacial_compression_encode``, ``temporal_compression_decode``, ``encode``
    (``[F, H, W, 3]`` in [0, 1] -> ``[1, 48, T, H/16, W/16]``) and ``decode`` (-> ``[1, F, H, W, 3]``).
    """

    latent_channels = 48

    def __init__(self, seed: int = 0) -> None:
        from comfy.ldm.wan.vae2_2 import WanVAE

        self.net = WanVAE(dim=16, dec_dim=16, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                          temperal_downsample=[False, True, True], dropout=0.0).eval()
        _fill_random(self.net, seed)

    def spacial_compression_encode(self) -> int:
        return 16

    def temporal_compression_decode(self) -> int:
        return 4

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels[..., :3].movedim(-1, 0).unsqueeze(0) * 2.0 - 1.0  # [1, 3, F, H, W]
        return self.net.encode(x.float()).float()

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        out = self.net.decode(latent.float()).float()
        return ((out + 1.0) / 2.0).clamp(0.0, 1.0).movedim(1, -1)


def start_image(size: tuple[int, int], seed: int = 5) -> torch.Tensor:
    """A smooth random RGB image ``[1, H, W, 3]`` in [0, 1], quantised to 8 bits (it survives a PNG round trip)."""
    h, w = size
    gen = torch.Generator("cpu").manual_seed(seed)
    coarse = torch.rand(1, 3, 4, 4, generator=gen)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return (img.movedim(1, -1) * 255).round() / 255


# --- the benchmark ------------------------------------------------------------------------------------------------


def _setup(family: str, folder: Path):
    import tiny_models

    if family == "ltxv":
        model = tiny_models.load_tiny(tiny_models.write_tiny_ltxv(folder / "tiny_ltxv.safetensors"))
        cond = [tiny_models.tiny_conditioning(s, attention_mask=True) for s in (1, 2)]
        return model, tiny_ltxv_vae(), cond, (64, 64), 9
    if family == "wan22":
        model = tiny_models.load_tiny(tiny_models.write_tiny_wan22(folder / "tiny_wan22.safetensors"))
        cond = [tiny_models.tiny_conditioning(s) for s in (1, 2)]
        return model, SmallWan22VAE(), cond, (32, 32), 5
    model = tiny_models.load_tiny(tiny_models.write_tiny_wan21_i2v36(folder / "tiny_wan21_i2v36.safetensors"))
    vae = load_vae(write_random_wan21_vae(folder / "wan21_vae_random.safetensors"))
    cond = [tiny_models.tiny_conditioning(s) for s in (1, 2)]
    return model, vae, cond, (32, 32), 5


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=["wan21", "wan22", "ltxv"], default="wan21")
    parser.add_argument("--m", type=int, default=5, help="candidates per chunk")
    parser.add_argument("--k", type=int, default=3, help="preview steps")
    parser.add_argument("--full", type=int, default=30, help="full steps")
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--cfg", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2, help="interleaved repeats; the fastest of each is kept")
    args = parser.parse_args(argv)

    boot_host()
    from infinite_video.nodes.kstep import KStepNoiseSearch

    folder = Path(tempfile.mkdtemp(prefix="iv-bench-kstep-"))
    model, vae, (positive, negative), size, length = _setup(args.family, folder)
    image = start_image(size)
    configs = [
        ("k-step search", args.m, args.k, f"m*k + full = {args.m}*{args.k} + {args.full}"),
        ("brute force", args.m, args.full, f"m*full = {args.m}*{args.full}"),
        ("no search", 1, args.k, f"full = {args.full}"),
    ]
    print(f"family {args.family} ({type(model.model).__name__}), image {size[1]}x{size[0]}, chunk_length {length}, "
          f"{args.chunks} chunks, m={args.m}, k={args.k}, full={args.full}, cfg {args.cfg}, euler/simple, CPU, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    # Warm-up (model load, first-call allocations), not measured.
    KStepNoiseSearch.execute(model, positive, negative, vae, image, length, 1, 1, 1, 1, "euler", "simple",
                             args.cfg, args.seed)
    best: dict[str, tuple] = {}
    for _ in range(args.repeat):  # interleaved repeats; the fastest of each is kept (noisy machines)
        for name, m, k, theory in configs:
            counted, counter = count_model_calls(model)
            start = time.perf_counter()
            out = KStepNoiseSearch.execute(counted, positive, negative, vae, image, length, args.chunks, m, k,
                                           args.full, "euler", "simple", args.cfg, args.seed)
            total = time.perf_counter() - start
            row = (name, counter.calls / args.chunks, theory, counter.seconds / args.chunks, total / args.chunks,
                   out.args[0].shape[0])
            if name not in best or row[4] < best[name][4]:
                best[name] = row
    rows = [best[name] for name, *_ in configs]
    base_calls, base_model_s, base_total_s = rows[-1][1], rows[-1][3], rows[-1][4]
    print(f"{'mode':<15}{'calls/chunk':>12}  {'theory':<26}{'x calls':>8}{'model s/chunk':>15}{'x model s':>10}"
          f"{'total s/chunk':>15}{'x total':>9}{'frames':>8}")
    for name, calls, theory, model_s, total_s, frames in rows:
        print(f"{name:<15}{calls:>12.1f}  {theory:<26}{calls / base_calls:>8.2f}{model_s:>15.3f}"
              f"{model_s / base_model_s:>10.2f}{total_s:>15.2f}{total_s / base_total_s:>9.2f}{frames:>8}")
    kstep, brute = rows[0], rows[1]
    print(f"k-step search costs {kstep[1] / brute[1]:.2f}x the model calls of brute force "
          f"({kstep[3] / brute[3]:.2f}x its model seconds); total seconds include VAE encode/decode, which dominate "
          "on a tiny model.")


if __name__ == "__main__":
    main()
