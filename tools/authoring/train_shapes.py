"""Train the pack's tiny Wan 2.1 "shapes" model on procedural clips (flow matching, as Wan is trained).

The network is ComfyUI's own ``comfy.ldm.wan.model.WanModel`` with its state-dict layout, so ``UNETLoader`` detects
the saved file as Wan 2.1 T2V (``WAN21``, flow sampling, shift 8) and every node of the pack runs on it unchanged.
It is trained unconditionally: the text context is all zeros (``[B, 1, 4096]``), which is what the pack's
"Empty Conditioning" node produces.

Objective (rectified flow, Wan 2.1 / SD3 convention, ComfyUI ``CONST`` model type): for a clean clip ``x0``
``[B, 16, F, H, W]``, noise ``e`` and one noise level ``s`` per clip (training never mixes levels inside a clip,
which is the training-inference gap FIFO / MIGA have to bridge), ``x_s = (1 - s) x0 + s e``, the model sees
``timestep = 1000 s`` and predicts the velocity ``e - x0``. Half of the levels are uniform, half follow the
shift-8 schedule ComfyUI samples Wan with, so both the low-noise detail and the high-noise layout are learned.

Run with the pack's virtualenv (CPU, 2 threads: ~30 min for the committed 5000 steps)::

    python -m tools.authoring.train_shapes --out models/shapes_wan21/shapes_wan21.safetensors

``--spec`` picks the clips (``clips.SPECS``: "shapes", the default, or "bouncing" for models/bouncing_wan21, whose
card gives its command); ``--init`` starts from a committed checkpoint instead of a fresh network. ``--device cuda``
trains on a GPU (the network is small, so a step costs about the same up to a batch of a few hundred clips: raise
``--batch`` there). A GPU machine without ComfyUI's full requirements can train with ``--no-load-check``; then check
the file where the host runs::

    python -m tools.authoring.train_shapes --verify models/bouncing_wan21/bouncing_wan21.safetensors
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch

from ..ci.find_host import find_host
from ..testing.host import prepare_host
from ..testing.shapes.clips import SPECS, make_latents

# Architecture of the committed model (WanModel keyword arguments). Everything ComfyUI's detection does not read
# from the weights is fixed to what it assumes (comfy/model_detection.py, Wan 2.1): num_heads = dim // 128,
# qk_norm, cross_attn_norm, eps 1e-6, freq_dim 256, patch (1, 2, 2); training with anything else would make a
# file that loads but computes a different function.
ARCH = dict(model_type="t2v", in_dim=16, out_dim=16, dim=128, ffn_dim=384, freq_dim=256, text_dim=4096,
            num_heads=1, num_layers=4, patch_size=(1, 2, 2), window_size=(-1, -1), qk_norm=True,
            cross_attn_norm=True, eps=1e-6)
SHIFT = 8.0  # ComfyUI's WAN21 sampling shift


def arch(dim: int = ARCH["dim"], layers: int = ARCH["num_layers"]) -> dict:
    """``ARCH`` at another width / depth, as ComfyUI's detection will read it back: one head per 128 channels,
    feed-forward 3x the width."""
    if dim % 128:
        raise ValueError(f"--dim {dim}: ComfyUI reads Wan's heads as dim // 128, so the width must be a multiple "
                         "of 128")
    return {**ARCH, "dim": dim, "ffn_dim": 3 * dim, "num_heads": dim // 128, "num_layers": layers}


def build_model(spec: dict = ARCH):
    """A fresh ``WanModel`` with ``spec`` (default ``ARCH``), initialised as the official Wan code does (zero output
    head)."""
    host, why = find_host()
    if host is None:
        sys.exit(why)
    prepare_host(host, cpu=not torch.cuda.is_available())  # comfy.model_management probes the device on import
    import comfy.ops
    from comfy.ldm.wan.model import WanModel

    model = WanModel(operations=comfy.ops.disable_weight_init, dtype=torch.float32, **spec)
    gen = torch.Generator("cpu").manual_seed(0)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name.endswith("modulation"):
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(spec["dim"]))
            elif name.endswith("bias"):
                p.zero_()
            elif p.ndim == 1:  # norm weights
                p.fill_(1.0)
            else:  # Linear / Conv3d: Xavier uniform over the flattened fan-in
                fan_out, fan_in = p.shape[0], p[0].numel()
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
        model.head.head.weight.zero_()
    return model


def sample_levels(batch: int, gen: torch.Generator) -> torch.Tensor:
    """One flow level in (0, 1) per clip: half uniform, half shifted like ComfyUI's Wan schedule."""
    u = torch.rand(batch, generator=gen).clamp(1e-3, 1 - 1e-3)
    shifted = SHIFT * u / (1 + (SHIFT - 1) * u)
    return torch.where(torch.arange(batch) % 2 == 0, u, shifted)


class Clips(torch.utils.data.Dataset):
    """Step ``i``'s batch of clips (``[batch, 16, F, H, W]`` latents), drawn from a seed fixed by ``seed`` and ``i``,
    so the same run draws the same clips whether they are made in the loop or by DataLoader workers."""

    def __init__(self, steps: int, batch: int, spec, seed: int):
        self.steps, self.batch, self.spec, self.seed = steps, batch, spec, seed

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int) -> torch.Tensor:
        return make_latents(self.batch, self.spec, seed=self.seed * 1_000_003 + i + 1)


def save(model, path: Path, meta: dict) -> None:
    import safetensors.torch

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state, str(path), metadata={k: json.dumps(v) for k, v in meta.items()})


def check_loads_as_trained(model, path: Path) -> float:
    """Load ``path`` the way ``UNETLoader`` does and compare its output with ``model``'s on one input; the largest
    difference must be fp16 rounding, else the saved file would not be the model that was trained."""
    import comfy.sd

    loaded = comfy.sd.load_diffusion_model(str(path))
    if type(loaded.model).__name__ != "WAN21":
        raise RuntimeError(f"{path} loads as {type(loaded.model).__name__}, not WAN21")
    gen = torch.Generator("cpu").manual_seed(1)
    x = torch.randn(1, 16, 9, 16, 16, generator=gen)
    t, ctx = torch.tensor([500.0]), torch.zeros(1, 1, ARCH["text_dim"])
    with torch.no_grad():
        ref = copy.deepcopy(model).float().cpu()(x, t, ctx)  # a copy: .cpu() moves a module in place
        got = loaded.model.diffusion_model(x, t, ctx)
    err = float((ref - got).abs().max())
    if err > 0.05 * float(ref.abs().max()):
        raise RuntimeError(f"{path} computes a different function once loaded by ComfyUI (max diff {err:.3g}); "
                           "the architecture must match comfy/model_detection.py's assumptions")
    return err


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="where the EMA weights go (required unless --verify)")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=0,
                    help="processes drawing the clips ahead of the training loop (for a GPU, whose steps outrun one "
                         "CPU core drawing big batches); the clips are the same for any count")
    ap.add_argument("--save-every", type=int, default=500)
    ap.add_argument("--spec", choices=sorted(SPECS), default="shapes",
                    help="the clips to learn (tools/testing/shapes/clips.py SPECS)")
    ap.add_argument("--init", type=Path, default=None,
                    help="start from this checkpoint (same ARCH, e.g. the shapes model) instead of a fresh network")
    ap.add_argument("--dim", type=int, default=ARCH["dim"], help="width (a multiple of 128; the committed models: 128)")
    ap.add_argument("--layers", type=int, default=ARCH["num_layers"], help="blocks (the committed models: 4)")
    ap.add_argument("--snapshots", action="store_true",
                    help="also keep each save as <out>.step<N>.safetensors beside --out")
    ap.add_argument("--no-load-check", action="store_true",
                    help="skip loading the saved file through comfy.sd (it needs the host's full requirements); run "
                         "--verify FILE later where the host runs")
    ap.add_argument("--verify", type=Path, default=None,
                    help="train nothing: check that ComfyUI loads this checkpoint as the ARCH network computes it")
    args = ap.parse_args(argv)
    if args.verify is not None:
        import safetensors.torch

        state = safetensors.torch.load_file(str(args.verify))
        model = build_model(arch(state["head.head.weight"].shape[1], 1 + max(
            int(k.split(".")[1]) for k in state if k.startswith("blocks."))))
        model.load_state_dict({k: v.float() for k, v in state.items()})
        print(f"loaded by ComfyUI: max output difference {check_loads_as_trained(model, args.verify):.2e}")
        return
    if args.out is None:
        ap.error("--out is required (where the trained weights go)")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    spec = SPECS[args.spec]
    spec_arch = arch(args.dim, args.layers)
    model = build_model(spec_arch)
    if args.init is not None:
        import safetensors.torch

        model.load_state_dict({k: v.float() for k, v in safetensors.torch.load_file(str(args.init)).items()})
    model = model.to(args.device)
    ema = copy.deepcopy(model).requires_grad_(False)
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    warmup = 200
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup)
        * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps))))
    gen = torch.Generator("cpu").manual_seed(args.seed)
    ctx = torch.zeros(args.batch, 1, ARCH["text_dim"], device=args.device)
    meta = {"arch": spec_arch, "clip_spec": spec.__dict__, "spec": args.spec,
            "init": args.init.name if args.init else None, "batch": args.batch, "lr": args.lr, "ema": args.ema,
            "seed": args.seed, "shift": SHIFT, "device": torch.device(args.device).type}
    log, t0, running = [], time.time(), None
    clips = torch.utils.data.DataLoader(Clips(args.steps, args.batch, spec, args.seed), batch_size=None,
                                        num_workers=args.workers, prefetch_factor=4 if args.workers else None)
    for step, x0 in enumerate(clips, start=1):
        x0 = x0.to(args.device)
        noise = torch.randn(x0.shape, generator=gen).to(args.device)
        s = sample_levels(args.batch, gen).to(args.device)
        sv = s.view(-1, 1, 1, 1, 1)
        xs = (1 - sv) * x0 + sv * noise
        pred = model(xs, s * 1000.0, ctx)
        loss = (pred.float() - (noise - x0)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, model_params, 1 - decay)  # one fused update, not ~80 small kernels
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 50 == 0:
            log.append({"step": step, "loss": round(running, 5), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(log[-1]), flush=True)
        if step % args.save_every == 0 or step == args.steps:
            save(ema, args.out, {**meta, "steps": step, "loss": round(running, 5),
                                 "train_seconds": round(time.time() - t0, 1)})
            if args.snapshots:
                shutil.copyfile(args.out, args.out.with_name(f"{args.out.stem}.step{step}{args.out.suffix}"))
            (args.out.parent / "train_log.json").write_text(json.dumps(log, indent=0))
            if not args.no_load_check and (step == args.save_every or step == args.steps):
                print(f"loaded by ComfyUI: max output difference {check_loads_as_trained(ema, args.out):.2e}",
                      flush=True)


if __name__ == "__main__":
    main()
