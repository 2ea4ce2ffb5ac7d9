"""Procedural short videos with known content, and their Wan 2.1 latents.

A clip is a few saturated coloured shapes (discs and squares) moving at constant velocity and bouncing off the frame
borders, over a grey, low-saturation texture that pans slowly. Everything is drawn directly at *latent* resolution
(one RGB pixel per latent pixel, one RGB frame per latent frame) and mapped into Wan 2.1's normalised 16-channel
latent space with the pseudo-inverse of the latent-to-RGB factors ComfyUI uses for previews
(``comfy.latent_formats.Wan21.latent_rgb_factors``). Hence ``rgb = latent @ F + b`` holds exactly: the host's preview
shows the clip, and ``decode`` below is the same map.

Shapes: ``[B, F, H, W, 3]`` RGB in [-1, 1]; ``[B, 16, F, H, W]`` latents (the model's sampling space, i.e. after the
latent format's ``process_in``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# comfy/latent_formats.py, class Wan21 (ComfyUI 0.3.64): latent [16] -> RGB [3], applied to process_in() latents.
WAN21_RGB_FACTORS = torch.tensor([
    [-0.1299, -0.1692, 0.2932], [0.0671, 0.0406, 0.0442], [0.3568, 0.2548, 0.1747], [0.0372, 0.2344, 0.1420],
    [0.0313, 0.0189, -0.0328], [0.0296, -0.0956, -0.0665], [-0.3477, -0.4059, -0.2925], [0.0166, 0.1902, 0.1975],
    [-0.0412, 0.0267, -0.1364], [-0.1293, 0.0740, 0.1636], [0.0680, 0.3019, 0.1128], [0.0032, 0.0581, 0.0639],
    [-0.1251, 0.0927, 0.1699], [0.0060, -0.0633, 0.0005], [0.3477, 0.2275, 0.2950], [0.1984, 0.0913, 0.1861],
])
WAN21_RGB_BIAS = torch.tensor([-0.1835, -0.0868, -0.3360])

# Saturated colours the shapes are drawn in (RGB in [-1, 1]); the background never reaches this saturation.
PALETTE = torch.tensor([
    [0.9, -0.8, -0.8],   # red
    [-0.8, 0.85, -0.8],  # green
    [-0.7, -0.6, 0.95],  # blue
    [0.9, 0.85, -0.8],   # yellow
    [0.9, -0.7, 0.9],    # magenta
    [-0.8, 0.9, 0.9],    # cyan
])
PALETTE_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan")


def encode(rgb: torch.Tensor) -> torch.Tensor:
    """RGB ``[B, F, H, W, 3]`` in [-1, 1] -> latents ``[B, 16, F, H, W]``.

    The minimum-norm solution of ``l @ F + b = rgb``.
    """
    pinv = torch.linalg.pinv(WAN21_RGB_FACTORS.double()).float()  # [3, 16]
    lat = (rgb - WAN21_RGB_BIAS.to(rgb)) @ pinv.to(rgb)
    return lat.permute(0, 4, 1, 2, 3).contiguous()


def decode(latent: torch.Tensor) -> torch.Tensor:
    """Latents ``[B, 16, F, H, W]`` (sampling space) -> RGB ``[B, F, H, W, 3]``, clamped to [-1, 1] like the preview."""
    rgb = latent.permute(0, 2, 3, 4, 1).float() @ WAN21_RGB_FACTORS.to(latent.device) + WAN21_RGB_BIAS.to(latent.device)
    return rgb.clamp(-1.0, 1.0)


@dataclass
class ClipSpec:
    """Size of the clips: latent frames and latent height/width; shapes per clip; motion scales in pixels/frame."""

    frames: int = 9
    height: int = 16
    width: int = 16
    min_shapes: int = 2
    max_shapes: int = 3
    min_radius: float = 1.6
    max_radius: float = 2.6
    min_speed: float = 0.35
    max_speed: float = 0.9
    pan_speed: float = 0.25
    texture: float = 1.0  # scale of the background's waves and tint (0: a plain grey of random level)
    colors: tuple[int, ...] = ()  # palette indices the shapes may take ((): all of ``PALETTE``)
    separate: bool = False  # redraw paths until no two shapes touch within the clip (no occlusion)


DEFAULT_SPEC = ClipSpec()

# Named clip specs, one per trained model (``tools/authoring/train_shapes.py --spec``):
# - "shapes": 2-3 small shapes over a panning grey texture (models/shapes_wan21);
# - "bouncing": one big, slow shape (radius 6-7 of 16, half the frame) of one colour and size over a plain grey, an
#   easier world in which a tiny model draws a shape in every clip and keeps it through its window
#   (models/bouncing_wan21; with 2-3 shapes of radius 2.4-3.2 it drew none in half of its clips, and with one of
#   radius 4.5-5.5 none in one clip of six, see the model card).
SPECS = {
    "shapes": DEFAULT_SPEC,
    "bouncing": ClipSpec(min_shapes=1, max_shapes=1, min_radius=6.0, max_radius=7.0, min_speed=0.15, max_speed=0.35,
                         pan_speed=0.0, texture=0.0, separate=True),
}


def _background(gen: torch.Generator, spec: ClipSpec, batch: int, t: torch.Tensor) -> torch.Tensor:
    """Grey texture (sum of 4 low-frequency plane waves, slight tint) panning at ``pan_speed``: ``[B, F, H, W, 3]``."""
    waves = 4
    ang = torch.rand(batch, waves, generator=gen) * 2 * math.pi
    freq = 0.25 + torch.rand(batch, waves, generator=gen) * 0.45  # radians per pixel
    phase = torch.rand(batch, waves, generator=gen) * 2 * math.pi
    amp = (0.08 + torch.rand(batch, waves, generator=gen) * 0.1) * spec.texture
    pan_ang = torch.rand(batch, generator=gen) * 2 * math.pi
    level = -0.35 + torch.rand(batch, generator=gen) * 0.3
    tint = (torch.rand(batch, 3, generator=gen) - 0.5) * 0.12 * spec.texture
    ys = torch.arange(spec.height, dtype=torch.float32).view(1, 1, -1, 1)
    xs = torch.arange(spec.width, dtype=torch.float32).view(1, 1, 1, -1)
    ox = (spec.pan_speed * torch.cos(pan_ang)).view(batch, 1, 1, 1) * t.view(1, -1, 1, 1)
    oy = (spec.pan_speed * torch.sin(pan_ang)).view(batch, 1, 1, 1) * t.view(1, -1, 1, 1)
    field = torch.zeros(batch, t.numel(), spec.height, spec.width)
    for k in range(waves):
        kx = (freq[:, k] * torch.cos(ang[:, k])).view(batch, 1, 1, 1)
        ky = (freq[:, k] * torch.sin(ang[:, k])).view(batch, 1, 1, 1)
        wave = torch.sin(kx * (xs + ox) + ky * (ys + oy) + phase[:, k].view(batch, 1, 1, 1))
        field = field + amp[:, k].view(batch, 1, 1, 1) * wave
    grey = level.view(batch, 1, 1, 1) + field
    return grey.unsqueeze(-1) + tint.view(batch, 1, 1, 1, 3)


def _bounce(p0: torch.Tensor, v: torch.Tensor, t: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Positions of points moving at velocity ``v`` reflected elastically inside ``[lo, hi]`` (closed form)."""
    span = (hi - lo).clamp_min(1e-3)
    u = (p0 - lo).unsqueeze(1) + v.unsqueeze(1) * t.view(1, -1, 1)  # [B, F, n]
    u = torch.remainder(u, 2 * span.unsqueeze(1))
    return lo.unsqueeze(1) + torch.where(u > span.unsqueeze(1), 2 * span.unsqueeze(1) - u, u)


def _motion(gen: torch.Generator, spec: ClipSpec, batch: int, t: torch.Tensor):
    """Sizes, kinds and bouncing paths of ``max_shapes`` shapes: ``radius [B, n]``, ``square [B, n]`` (bool),
    ``centers [B, F, n, 2]`` (x, y in pixels)."""
    n = spec.max_shapes
    radius = spec.min_radius + torch.rand(batch, n, generator=gen) * (spec.max_radius - spec.min_radius)
    square = torch.rand(batch, n, generator=gen) < 0.5
    speed = spec.min_speed + torch.rand(batch, n, generator=gen) * (spec.max_speed - spec.min_speed)
    ang = torch.rand(batch, n, generator=gen) * 2 * math.pi
    centers = []
    for size, comp in ((spec.width, torch.cos), (spec.height, torch.sin)):
        lo, hi = radius - 0.5, size - 0.5 - radius
        p0 = lo + torch.rand(batch, n, generator=gen) * (hi - lo)
        centers.append(_bounce(p0, speed * comp(ang), t, lo, hi))
    return radius, square, torch.stack(centers, dim=-1)


def _touching(radius: torch.Tensor, square: torch.Tensor, centers: torch.Tensor, present: torch.Tensor):
    """bool ``[B]``: two present shapes come within one pixel of each other in some frame (each shape counted as
    its bounding square, so the test holds for discs and squares alike)."""
    dist = (centers.unsqueeze(3) - centers.unsqueeze(2)).abs().amax(-1).amin(1)  # [B, n, n] Chebyshev
    both = present.unsqueeze(2) & present.unsqueeze(1) & ~torch.eye(present.shape[1], dtype=torch.bool)
    return (both & (dist < radius.unsqueeze(2) + radius.unsqueeze(1) + 1.0)).flatten(1).any(1)


def make_clips(batch: int, spec: ClipSpec = DEFAULT_SPEC, seed: int = 0, start: float = 0.0):
    """Draw ``batch`` clips from ``seed``. Returns ``(rgb [B, F, H, W, 3], meta)``.

    ``meta`` holds ``colors [B, n]`` (palette indices, -1 for absent shapes), ``radius [B, n]``, ``square [B, n]``
    and ``centers [B, F, n, 2]`` (x, y in pixels) so tests can check what was drawn. ``start`` offsets time (frames),
    so consecutive calls with the same seed continue the same motion.
    """
    gen = torch.Generator("cpu").manual_seed(seed)
    n = spec.max_shapes
    t = torch.arange(spec.frames, dtype=torch.float32) + start
    rgb = _background(gen, spec, batch, t)
    count = torch.randint(spec.min_shapes, spec.max_shapes + 1, (batch,), generator=gen)
    allowed = torch.tensor(spec.colors or range(len(PALETTE)))
    colors = torch.stack([allowed[torch.randperm(len(allowed), generator=gen)[:n]] for _ in range(batch)])
    present = torch.arange(n).view(1, n) < count.view(batch, 1)
    colors = torch.where(present, colors, torch.full_like(colors, -1))
    radius, square, centers = _motion(gen, spec, batch, t)
    if spec.separate:  # redraw the motion of clips whose shapes would touch (16 rounds), then drop shapes
        for _ in range(16):
            bad = _touching(radius, square, centers, present)
            if not bool(bad.any()):
                break
            r2, s2, c2 = _motion(gen, spec, batch, t)
            radius, square = torch.where(bad[:, None], r2, radius), torch.where(bad[:, None], s2, square)
            centers = torch.where(bad[:, None, None, None], c2, centers)
        while bool((bad := _touching(radius, square, centers, present)).any()):
            count = count - bad.long()
            present = torch.arange(n).view(1, n) < count.view(batch, 1)
        colors = torch.where(present, colors, torch.full_like(colors, -1))
    ys = torch.arange(spec.height, dtype=torch.float32).view(1, 1, -1, 1)
    xs = torch.arange(spec.width, dtype=torch.float32).view(1, 1, 1, -1)
    for j in range(n):  # later shapes are drawn on top
        dx = xs - centers[:, :, j, 0].view(batch, -1, 1, 1)
        dy = ys - centers[:, :, j, 1].view(batch, -1, 1, 1)
        r = radius[:, j].view(batch, 1, 1, 1)
        dist = torch.where(square[:, j].view(batch, 1, 1, 1), torch.maximum(dx.abs(), dy.abs()),
                           torch.sqrt(dx * dx + dy * dy))
        cover = (r - dist + 0.5).clamp(0, 1) * present[:, j].view(batch, 1, 1, 1)  # anti-aliased edge
        col = PALETTE[colors[:, j].clamp_min(0)].view(batch, 1, 1, 1, 3)
        rgb = rgb * (1 - cover.unsqueeze(-1)) + col * cover.unsqueeze(-1)
    meta = {"colors": colors, "radius": radius, "square": square, "centers": centers}
    return rgb.clamp(-1, 1), meta


def make_latents(batch: int, spec: ClipSpec = DEFAULT_SPEC, seed: int = 0) -> torch.Tensor:
    """``[B, 16, F, H, W]`` latents of ``make_clips(batch, spec, seed)``."""
    return encode(make_clips(batch, spec, seed)[0])
