"""Consistency metrics for long videos of the "shapes" clips, computed on decoded frames with no downloaded weights.

VBench (Huang et al., CVPR 2024, https://github.com/Vchitect/VBench) scores temporal quality with pretrained networks
(CLIP, DINO, AMT frame interpolation). The shapes world is simple enough to measure the same properties directly:
the background is a grey, low-saturation texture, the subjects are shapes painted in the known saturated ``PALETTE``
colours (``clips.py``). Each function names the VBench dimension it follows and says where it departs from it.

Shapes: a video is ``rgb [F, H, W, 3]`` in [-1, 1] (one item of ``clips.decode(latent)``, ``[B, F, H, W, 3]``).
Scores are plain floats. Frames are taken as floats without VBench's uint8 rounding; where VBench measures on the
0..255 scale (flicker, smoothness) the frames are mapped there with ``(rgb + 1) * 127.5``.
"""

from __future__ import annotations

import math

import torch

from .clips import PALETTE

# Rec. ITU-R BT.601 luma weights (also PIL's ``convert("L")`` and OpenCV's ``COLOR_RGB2GRAY``).
LUMA_601 = (0.299, 0.587, 0.114)

# A pixel whose channel spread max(rgb) - min(rgb) (in [-1, 1] units) exceeds this shows a shape: the background
# texture stays below 0.12 (tint of +-0.06 per channel), palette colours are at >= 1.6, so a shape edge pixel counts
# from ~20 % coverage on. (0.6 masks the same background in clips; 0.3 keeps more of each shape's anti-aliased rim.)
SATURATION_THRESHOLD = 0.3


def _half_min_hue_angle() -> float:
    """Half the smallest angle (degrees) between two palette chroma vectors ``c - mean(c)`` (~57 deg, blue-cyan)."""
    p = PALETTE - PALETTE.mean(-1, keepdim=True)
    p = p / p.norm(dim=-1, keepdim=True)
    cos = (p @ p.T - 3 * torch.eye(len(PALETTE))).amax()  # the diagonal (1) pushed out of the way
    return 0.5 * math.degrees(math.acos(float(cos)))


# A shape pixel is given the palette colour nearest in hue when within this angle: no pixel can be near two colours.
MAX_HUE_ANGLE = _half_min_hue_angle()

# Components of one pixel are noise (a stray saturated pixel), not a shape: shapes have radius >= 1.6 pixels.
MIN_COMPONENT_PIXELS = 2

# A colour is present in a frame when it covers at least this many pixels.
MIN_COLOR_PIXELS = 2


def _check_video(rgb: torch.Tensor, min_frames: int) -> torch.Tensor:
    """Validate ``[F, H, W, 3]`` with ``F >= min_frames``; return it as float32 on its device."""
    if rgb.ndim != 4 or rgb.shape[-1] != 3:
        raise ValueError(f"expected a video [F, H, W, 3], got shape {tuple(rgb.shape)}")
    if rgb.shape[0] < min_frames:
        raise ValueError(f"needs at least {min_frames} frames, got {rgb.shape[0]}")
    return rgb.float()


def _to_255(rgb: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> VBench's 0..255 pixel scale (unrounded)."""
    return (rgb + 1.0) * 127.5


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    """Rec.601 luma of ``[..., 3]`` -> ``[...]`` (same scale as the input)."""
    w = torch.tensor(LUMA_601, dtype=rgb.dtype, device=rgb.device)
    return rgb @ w


# ---------------------------------------------------------------------------------------------------------------------
# 1. Temporal flickering


def temporal_flicker(rgb: torch.Tensor) -> dict[str, float]:
    """VBench "temporal flickering" of ``rgb [F, H, W, 3]`` (F >= 2).

    ``flicker_mad`` = mean over the F-1 consecutive pairs and all pixels and channels of ``|x_{t+1} - x_t|`` on the
    0..255 scale; ``temporal_flicker`` = ``(255 - flicker_mad) / 255`` (1 = static). Source: VBench
    ``vbench/temporal_flickering.py`` (``cal_score``: mean of ``cv2.absdiff`` over consecutive frames, then the same
    normalisation). VBench scores only static-camera videos; the shapes clips always move, so compare methods with
    each other rather than against 1.
    """
    x = _to_255(_check_video(rgb, 2))
    mad = float((x[1:] - x[:-1]).abs().mean())
    return {"temporal_flicker": (255.0 - mad) / 255.0, "flicker_mad": mad}


# ---------------------------------------------------------------------------------------------------------------------
# 2. Motion smoothness


def motion_smoothness(rgb: torch.Tensor) -> float:
    """Motion smoothness of ``rgb [F, H, W, 3]`` (F >= 3): ``(255 - MAE) / 255``, 1 = perfectly smooth.

    Every odd frame ``t`` with two neighbours is predicted as ``(x_{t-1} + x_{t+1}) / 2`` and MAE is the mean
    absolute error of that prediction on the 0..255 scale over those frames, pixels and channels.

    Departure from VBench (``vbench/motion_smoothness.py``): VBench drops the odd frames, re-creates them from the even
    frames with the AMT frame-interpolation network, and scores the same ``(255 - MAE) / 255``. Linear blending needs
    no weights but is exact only for brightness that changes linearly in time; a moving shape is predicted as two
    half-strength ghosts, so this score also falls with speed, not only with jerkiness. Use it to compare methods on
    the same clips, not as an absolute smoothness.
    """
    x = _to_255(_check_video(rgb, 3))
    odd = torch.arange(1, x.shape[0] - 1, 2, device=x.device)
    pred = 0.5 * (x[odd - 1] + x[odd + 1])
    mae = float((pred - x[odd]).abs().mean())
    return (255.0 - mae) / 255.0


# ---------------------------------------------------------------------------------------------------------------------
# 3. Background consistency


def shape_mask(rgb: torch.Tensor, threshold: float = SATURATION_THRESHOLD) -> torch.Tensor:
    """``[..., 3]`` in [-1, 1] -> bool ``[...]``: True where ``max(rgb) - min(rgb) > threshold`` (a shape pixel)."""
    return (rgb.amax(-1) - rgb.amin(-1)) > threshold


def background_features(rgb: torch.Tensor, threshold: float = SATURATION_THRESHOLD) -> torch.Tensor:
    """Translation-invariant background descriptors: ``rgb [F, H, W, 3]`` -> ``[F, H * (W // 2 + 1)]``.

    Per frame: Rec.601 luma; shape pixels (``shape_mask``) are filled with the mean luma of the remaining background
    pixels; that mean is subtracted (so the DC term is 0 and a global brightness change does not count); the feature is
    ``|rfft2|`` flattened. The magnitude spectrum is unchanged by circular shifts, so a slowly panning texture keeps
    (nearly) the same feature; the frame edges are not periodic, so a pan changes it slightly. A frame with no
    background pixel gets the zero feature.
    """
    x = _check_video(rgb, 1)
    grey = _luma(x)  # [F, H, W]
    bg = ~shape_mask(x, threshold)
    count = bg.sum((1, 2)).clamp_min(1)
    mean = (grey * bg).sum((1, 2)) / count  # [F]
    filled = torch.where(bg, grey, mean.view(-1, 1, 1)) - mean.view(-1, 1, 1)
    return torch.fft.rfft2(filled).abs().flatten(1)


def _cosine(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity along the last dim; two zero vectors count as identical (1), one zero vector as unlike (0)."""
    na, nb = a.norm(dim=-1), b.norm(dim=-1)
    cos = (a * b).sum(-1) / (na * nb).clamp_min(eps)
    both_zero = (na < eps) & (nb < eps)
    return torch.where(both_zero, torch.ones_like(cos), cos)


def background_consistency(
    rgb: torch.Tensor, reference_frames: int = 8, threshold: float = SATURATION_THRESHOLD
) -> float:
    """Background consistency of ``rgb [F, H, W, 3]``: mean over all F frames of the cosine similarity between the
    frame's ``background_features`` and the mean feature of the first ``reference_frames`` frames (1 = unchanged).

    Follows VBench "background consistency" (``vbench/background_consistency.py``), which compares CLIP features of
    each frame with the first and the previous frame. Departures: a hand-made feature instead of CLIP (the FFT
    magnitude ignores where the panning texture is, but sees what it is), shapes masked out explicitly, and only the
    comparison to a reference (the mean of several frames, steadier than one frame); a drift that happens slowly
    still shows, which the previous-frame term of VBench would hide.

    Resolution is coarse at 16x16, where a texture holds under two periods: the score separates a panning texture
    from a replaced one on average, not clip by clip (figures: ``docs/benchmarks.md``, how the metrics were
    checked). A Hann window, masked autocovariance, gradient-orientation histograms and centred (Pearson) similarity
    separated them no better. Compare means over seeds, not single videos.
    """
    feats = background_features(rgb, threshold)
    r = max(1, min(reference_frames, feats.shape[0]))
    ref = feats[:r].mean(0, keepdim=True)
    return float(_cosine(feats, ref).mean())


# ---------------------------------------------------------------------------------------------------------------------
# 4. Subject consistency from the known shapes


def palette_coverage(
    rgb: torch.Tensor, threshold: float = SATURATION_THRESHOLD, max_angle: float = MAX_HUE_ANGLE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which palette colour each pixel shows, and how much of the pixel it covers.

    ``rgb [..., 3]`` in [-1, 1] -> ``(labels, coverage)``, both ``[...]``: ``labels`` (long) is the index into
    ``PALETTE`` for shape pixels, -1 elsewhere; ``coverage`` (float, 0 where ``labels`` is -1) is in [0, 1].

    A pixel drawn as ``(1 - a) * grey + a * colour`` has the chroma vector ``u = rgb - mean(rgb)`` equal to
    ``a * p`` with ``p = colour - mean(colour)``: its direction says which colour (hue), its length how much of the
    pixel the shape covers. So: a shape pixel (``shape_mask``) takes the palette colour whose ``p`` is nearest in
    angle to ``u``, if within ``max_angle`` degrees (else -1: blends of two colours, invented hues), and coverage
    ``a = <u, p> / |p|^2`` clipped to [0, 1]. Summing coverage instead of counting pixels keeps a shape's area
    steady while its anti-aliased edge moves across pixels (compared with counting pixels: ``docs/benchmarks.md``,
    how the metrics were checked).

    The palette is the hue hexagon, so an even blend of two colours 120 deg apart has exactly half the chroma of
    the colour between them: where a red and a green shape meet, the edge pixel reads as half a yellow pixel. Such a
    rim adds a little area and, along a long shared edge, can form a spurious component.
    """
    pal = PALETTE.to(device=rgb.device, dtype=torch.float32)
    p = pal - pal.mean(-1, keepdim=True)  # [P, 3]
    x = rgb.float()
    u = x - x.mean(-1, keepdim=True)
    proj = u @ p.T  # [..., P]
    cos = proj / (u.norm(dim=-1, keepdim=True) * p.norm(dim=-1)).clamp_min(1e-8)
    best, idx = cos.max(-1)
    keep = shape_mask(x, threshold) & (best >= math.cos(math.radians(max_angle)))
    cover = (proj.gather(-1, idx.unsqueeze(-1)).squeeze(-1) / p.norm(dim=-1)[idx].square()).clamp(0.0, 1.0)
    labels = torch.where(keep, idx, torch.full_like(idx, -1))
    return labels, torch.where(keep, cover, torch.zeros_like(cover))


def label_components(mask: torch.Tensor) -> torch.Tensor:
    """4-connected component labels of bool ``mask [N, H, W]`` -> long ``[N, H, W]``: 0 off the mask, else the
    smallest ``1 + flat pixel index`` in the pixel's component (labels are unique per image, not consecutive).

    Pure torch label propagation: every mask pixel repeatedly takes the minimum label of itself and its 4 neighbours
    until nothing changes (iterations = the longest in-component path; fine at latent resolution). Same partition as
    ``scipy.ndimage.label`` with its default 4-connected structure, which the pack does not depend on.
    """
    if mask.ndim != 3:
        raise ValueError(f"expected a mask [N, H, W], got shape {tuple(mask.shape)}")
    n, h, w = mask.shape
    big = h * w + 1  # larger than any label; off-mask pixels hold it so they never win the minimum
    init = torch.arange(1, h * w + 1, device=mask.device).view(1, h, w).expand(n, h, w)
    labels = torch.where(mask, init, torch.full_like(init, big))
    while True:
        p = torch.nn.functional.pad(labels, (1, 1, 1, 1), value=big)
        nxt = torch.stack([labels, p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]]).amin(0)
        nxt = torch.where(mask, nxt, labels)
        if torch.equal(nxt, labels):
            break
        labels = nxt
    return torch.where(mask, labels, torch.zeros_like(labels))


def count_components(mask: torch.Tensor, min_size: int = MIN_COMPONENT_PIXELS) -> torch.Tensor:
    """Number of 4-connected components with at least ``min_size`` pixels in each image of ``mask [N, H, W]`` ->
    long ``[N]``."""
    n, h, w = mask.shape
    labels = label_components(mask).flatten(1)  # [N, H*W], values in 0..H*W
    keys = labels + torch.arange(n, device=mask.device).view(n, 1) * (h * w + 1)
    sizes = torch.bincount(keys.flatten(), minlength=n * (h * w + 1)).view(n, h * w + 1)[:, 1:]
    return (sizes >= min_size).sum(1)


def subject_metrics(
    rgb: torch.Tensor,
    reference_frames: int = 8,
    threshold: float = SATURATION_THRESHOLD,
    max_angle: float = MAX_HUE_ANGLE,
) -> dict[str, float]:
    """Subject consistency of ``rgb [F, H, W, 3]`` from the palette-coloured shapes.

    Per frame ``t``: ``area_t [P]`` = summed coverage per palette colour (``palette_coverage``; pixel units), and
    the number of 4-connected components of >= ``MIN_COMPONENT_PIXELS`` labelled pixels per colour. Reference
    (first ``R = reference_frames`` frames): ``area_ref`` = per-colour lower median (``torch.median``) of the areas;
    the reference colour set = colours with ``area_ref >= MIN_COLOR_PIXELS``; the reference count = lower median of
    the per-frame total component counts (an observed count). Returns, all means over the F frames:

    - ``subject_consistency``: ``max(0, 1 - |area_t - area_ref|_1 / |area_ref|_1)`` (1 = every colour keeps its
      area; 0 for every frame when the reference frames hold no shape: an empty video keeps nothing).
    - ``shape_presence``: fraction of frames with at least 2 shapes (every clip the model learned has 2 or 3), so
      a video whose shapes fade away cannot look consistent. Clean clips score below 1 where shapes
      overlap: the shape drawn later hides part of the other.
    - ``shape_count``: components per frame.
    - ``shape_count_change``: fraction of frames whose total component count differs from the reference count
      (a shape that splits, merges or vanishes; overlapping shapes of one colour merge).
    - ``colors_lost`` / ``colors_new``: number of reference colours absent / other colours present
      (present = area >= ``MIN_COLOR_PIXELS``).

    Stands in for VBench "subject consistency" (DINO features of each frame vs the first and the previous frame,
    ``vbench/subject_consistency.py``): here the subjects are known, so identity and size are measured directly.
    """
    x = _check_video(rgb, 1)
    f = x.shape[0]
    p = len(PALETTE)
    r = max(1, min(reference_frames, f))
    area, per_color = _color_areas(x, threshold, max_angle)
    comps = count_components(per_color.flatten(0, 1)).view(f, p)  # [F, P]
    area_ref = area[:r].median(0).values  # [P]
    score = _area_scores(area, area_ref)

    total = comps.sum(1)  # [F]
    ref_count = total[:r].median()
    present = area >= MIN_COLOR_PIXELS  # [F, P]
    ref_set = area_ref >= MIN_COLOR_PIXELS  # [P]
    return {
        "subject_consistency": float(score.mean()),
        "shape_count": float(total.float().mean()),
        "shape_presence": float((total >= 2).float().mean()),
        "shape_count_change": float((total != ref_count).float().mean()),
        "colors_lost": float((ref_set & ~present).sum(1).float().mean()),
        "colors_new": float((~ref_set & present).sum(1).float().mean()),
    }


def _color_areas(x: torch.Tensor, threshold: float, max_angle: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``x [F, H, W, 3]`` -> ``(area [F, P], per_color [F, P, H, W])``: summed coverage per palette colour."""
    p = len(PALETTE)
    labels, cover = palette_coverage(x, threshold, max_angle)  # [F, H, W] each
    per_color = labels.unsqueeze(1) == torch.arange(p, device=x.device).view(1, p, 1, 1)  # [F, P, H, W]
    return (per_color * cover.unsqueeze(1)).sum((2, 3)), per_color


def _area_scores(area: torch.Tensor, area_ref: torch.Tensor) -> torch.Tensor:
    """Per frame ``max(0, 1 - |area_t - area_ref|_1 / |area_ref|_1)`` ``[F]``; all 0 when the reference is empty
    (every clip the models learned has shapes, so an empty opening is a failure, not a pass)."""
    ref_l1 = area_ref.sum()
    if ref_l1 <= 0:
        return torch.zeros(area.shape[0], device=area.device)
    return (1.0 - (area - area_ref).abs().sum(1) / ref_l1).clamp_min(0.0)


def subject_end(
    rgb: torch.Tensor, frames: int, threshold: float = SATURATION_THRESHOLD, max_angle: float = MAX_HUE_ANGLE
) -> float:
    """Subject consistency of the last ``frames`` frames of ``rgb [F, H, W, 3]`` against its first ``frames``: the
    ``subject_consistency`` score of ``subject_metrics`` (reference = per-colour median area of the first frames),
    averaged over the last frames only. On a long video with ``frames`` = one window it asks whether the video
    ends with the shapes it began with; on one short clip (e.g. 3 of 9 frames) whether the clip keeps them."""
    x = _check_video(rgb, 1)
    k = max(1, min(frames, x.shape[0]))
    area, _ = _color_areas(x, threshold, max_angle)
    return float(_area_scores(area[-k:], area[:k].median(0).values).mean())


# ---------------------------------------------------------------------------------------------------------------------
# 5. Colour drift


def color_stats(rgb: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-frame colour statistics of ``rgb [F, H, W, 3]`` on 0..1 values (``(rgb + 1) / 2``), each ``[F]``:
    ``brightness`` = mean Rec.601 luma, ``contrast`` = population std of luma, ``saturation`` = mean over pixels of
    ``max - min`` over channels (the HSV chroma)."""
    x = (_check_video(rgb, 1) + 1.0) * 0.5
    luma = _luma(x).flatten(1)  # [F, H*W]
    return {
        "brightness": luma.mean(1),
        "contrast": luma.std(1, unbiased=False),
        "saturation": (x.amax(-1) - x.amin(-1)).flatten(1).mean(1),
    }


def drift_and_creep(values: torch.Tensor, reference_frames: int = 8) -> tuple[float, float]:
    """``values [F]`` -> ``(drift, creep)``: drift = mean of the last ``R`` values - mean of the first ``R`` (signed;
    ``R = min(reference_frames, F)``); creep = least-squares slope against the frame index, per 100 frames."""
    v = values.double()
    f = v.shape[0]
    r = max(1, min(reference_frames, f))
    drift = float(v[-r:].mean() - v[:r].mean())
    if f < 2:
        return drift, 0.0
    t = torch.arange(f, dtype=torch.float64, device=v.device)
    tc = t - t.mean()
    slope = float((tc * (v - v.mean())).sum() / (tc * tc).sum())
    return drift, 100.0 * slope


def color_drift(rgb: torch.Tensor, reference_frames: int = 8) -> dict[str, float]:
    """``<name>_drift`` and ``<name>_creep`` (``drift_and_creep``) for brightness, contrast and saturation
    (``color_stats``), in 0..1 units. The slow loss or gain of contrast and saturation over a long generation is the
    usual user complaint about long-video methods; no VBench dimension measures it."""
    out: dict[str, float] = {}
    for name, values in color_stats(rgb).items():
        out[f"{name}_drift"], out[f"{name}_creep"] = drift_and_creep(values, reference_frames)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# All together


METRIC_KEYS = (
    "temporal_flicker", "flicker_mad", "motion_smoothness", "background_consistency",
    "subject_consistency", "shape_count", "shape_presence", "shape_count_change", "colors_lost", "colors_new",
    "brightness_drift", "brightness_creep", "contrast_drift", "contrast_creep", "saturation_drift", "saturation_creep",
)


def video_metrics(rgb: torch.Tensor, reference_frames: int = 8) -> dict[str, float]:
    """Every metric above for one video ``rgb [F, H, W, 3]`` in [-1, 1] (F >= 3), keyed as in ``METRIC_KEYS``.

    ``reference_frames`` is how many leading frames define the reference (background, shapes) and the window at
    each end for colour drift.
    """
    x = _check_video(rgb, 3)
    out = dict(temporal_flicker(x))
    out["motion_smoothness"] = motion_smoothness(x)
    out["background_consistency"] = background_consistency(x, reference_frames)
    out.update(subject_metrics(x, reference_frames))
    out.update(color_drift(x, reference_frames))
    return {k: out[k] for k in METRIC_KEYS}


def sequence_metrics(videos: list[torch.Tensor], reference_frames: int = 8) -> dict[str, tuple[float, float]]:
    """``video_metrics`` over several videos (e.g. seeds) -> ``{key: (mean, sample std)}``; the std uses ``n - 1``
    and is NaN for a single video (no spread can be estimated from one seed)."""
    if not videos:
        raise ValueError("sequence_metrics needs at least one video")
    rows = [video_metrics(v, reference_frames) for v in videos]
    out = {}
    for k in METRIC_KEYS:
        vals = [row[k] for row in rows]
        mean = sum(vals) / len(vals)
        std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else math.nan
        out[k] = (mean, std)
    return out
