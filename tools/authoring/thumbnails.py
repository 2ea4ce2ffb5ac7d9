"""Writes the template browser's thumbnails: ``example_workflows/<name>.jpg`` next to each ``<name>.json``.

ComfyUI's frontend (1.27) shows a custom node pack's template with ``<name>.jpg`` from the same folder (a card about
256 px wide); without it the card is a grey placeholder. A thumbnail says at a glance what the workflow makes:

- a short title and the model;
- frames: for the starter, frames of the video it makes (the shapes model's consistency-benchmark contact sheet of
  the same chain, ``models/shapes_wan21/bench``); for the real-model FIFO / MIGA workflows, frames of the same method
  on the pack's tiny shapes model, marked as such (a real model cannot run here); for K-Step, the start image the
  workflow makes and a diagram of the search (candidates per chunk, the best one kept, chunk after chunk);
- the chain as a row of boxes, in the order the nodes are wired.

Pure PIL with its built-in font: no browser, no server. Run: python -m tools.authoring.thumbnails
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..pack import PACK_ROOT
from .ui_workflows import MEADOW, SKY, WORKFLOWS

OUT = PACK_ROOT / "example_workflows"
BENCH = PACK_ROOT / "models" / "shapes_wan21" / "bench"
SIZE = (768, 512)
BG, FG, DIM, ACCENT = (32, 32, 32), (240, 240, 240), (170, 170, 170), (255, 183, 77)
BOX = (58, 74, 96)


def _font(px: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=px)


def _tiles(sheet_name: str, count: int = 8) -> list:
    """``count`` frames spread over a long shapes video, from a benchmark contact sheet (15 x 2 tiles, 1 px gaps)."""
    from PIL import Image

    sheet = Image.open(BENCH / f"{sheet_name}.png").convert("RGB")
    cols, rows = 15, 2
    # square tiles of side t with gaps g: cols t + (cols-1) g = width, rows t + (rows-1) g = height
    g = (rows * sheet.width - cols * sheet.height) // (rows * (cols - 1) - cols * (rows - 1))
    t = (sheet.height - (rows - 1) * g) // rows
    every = [(r, c) for r in range(rows) for c in range(cols)]
    picked = [every[round(k * (len(every) - 1) / (count - 1))] for k in range(count)]
    return [sheet.crop((c * (t + g), r * (t + g), c * (t + g) + t, r * (t + g) + t)) for r, c in picked]


def _chain(draw, names: list[str], y: int) -> None:
    """The chain as boxes joined by arrows, centred, at height ``y``."""
    font = _font(19)
    widths = [draw.textlength(n, font=font) + 20 for n in names]
    gap = 26
    x = (SIZE[0] - sum(widths) - gap * (len(names) - 1)) / 2
    for k, (name, w) in enumerate(zip(names, widths)):
        draw.rounded_rectangle((x, y, x + w, y + 38), radius=8, fill=BOX)
        draw.text((x + 10, y + 9), name, font=font, fill=FG)
        if k < len(names) - 1:
            ax = x + w + 4
            draw.line((ax, y + 19, ax + gap - 8, y + 19), fill=DIM, width=3)
            draw.polygon([(ax + gap - 8, y + 13), (ax + gap - 2, y + 19), (ax + gap - 8, y + 25)], fill=DIM)
        x += w + gap


def _frames(image, tiles: list, caption: str, caption_color=DIM) -> None:
    """Two rows of four frames under the title, the caption under them."""
    from PIL import Image, ImageDraw

    side, gap = 150, 8
    x0 = (SIZE[0] - 4 * side - 3 * gap) // 2
    for k, tile in enumerate(tiles[:8]):
        x, y = x0 + (k % 4) * (side + gap), 96 + (k // 4) * (side + gap)
        image.paste(tile.resize((side, side), Image.NEAREST), (x, y))
    draw = ImageDraw.Draw(image)
    font = _font(20)
    draw.text(((SIZE[0] - draw.textlength(caption, font=font)) / 2, 96 + 2 * side + gap + 8), caption, font=font,
              fill=caption_color)


def _kstep(image, width: int, height: int) -> None:
    """The start image the workflow makes, then chunks: 5 candidate previews each, the best one finished."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    small = _font(16)
    # the start image (sky over a meadow), at the video's aspect ratio
    w = 200
    h = round(w * height / width)
    x0, y0 = 30, 110
    sky = ((SKY >> 16) & 255, (SKY >> 8) & 255, SKY & 255)
    meadow = ((MEADOW >> 16) & 255, (MEADOW >> 8) & 255, MEADOW & 255)
    draw.rectangle((x0, y0, x0 + w, y0 + h), fill=sky)
    draw.rectangle((x0, y0 + h - h * 3 // 8, x0 + w, y0 + h), fill=meadow)
    draw.text((x0, y0 + h + 8), "start image (made by", font=small, fill=DIM)
    draw.text((x0, y0 + h + 28), "the workflow; use yours)", font=small, fill=DIM)
    # chunks
    scores = [(3, 0.71, 0.64, 0.82, 0.58, 0.69), (1, 0.77, 0.88, 0.61, 0.70, 0.66), (4, 0.62, 0.69, 0.73, 0.60, 0.85)]
    cx = x0 + w + 40
    cw = (SIZE[0] - cx - 30 - 2 * 24) / 3
    for c, (best, *vals) in enumerate(scores):
        x = cx + c * (cw + 24)
        draw.text((x, y0 - 6), f"chunk {c + 1}: 5 noises", font=small, fill=FG)
        bw = (cw - 4 * 6) / 5
        for i, v in enumerate(vals):
            bx = x + i * (bw + 6)
            top = y0 + 20 + (1 - v) * 110
            draw.rectangle((bx, top, bx + bw, y0 + 130), fill=ACCENT if i == best - 1 else (110, 110, 110))
        draw.text((x, y0 + 138), "3-step previews,", font=small, fill=DIM)
        draw.text((x, y0 + 158), "best one finished", font=small, fill=ACCENT)
        if c < 2:
            draw.polygon([(x + cw + 6, y0 + 60), (x + cw + 18, y0 + 70), (x + cw + 6, y0 + 80)], fill=DIM)
    note = "each chunk starts from the last frame of the one before"
    draw.text(((SIZE[0] - draw.textlength(note, font=small)) / 2, y0 + 200), note, font=small, fill=DIM)


# name -> (title, model line, frames: contact sheet or None for the K-Step drawing, caption, chain)
SHAPES_NOTE = "illustration: the same method on the pack's tiny shapes model"
PLANS: dict[str, tuple] = {
    "1": ("Start here: runs on a CPU", "the pack's tiny shapes model, nothing to download", "miga_dce",
          "frames of the video this workflow makes (240 frames, 30 s)",
          ["FIFO queue", "Self-Reflection", "Long-Range Guidance", "mp4, streamed"]),
    "2": ("FIFO: a long video from a prompt", "Wan 2.1 T2V 1.3B, 832x480", "fifo_lookahead", SHAPES_NOTE,
          ["prompt", "FIFO queue", "Infinite Video Sampler", "mp4"]),
    "3": ("MIGA: a more consistent long video", "Wan 2.1 T2V 1.3B, the paper's config", "miga", SHAPES_NOTE,
          ["FIFO", "Zigzag", "Unified", "Self-Reflection", "Guidance", "mp4"]),
    "4": ("A prompt that changes over time", "Wan 2.1 T2V 1.3B: noon, sunset, night", "fifo_lookahead", SHAPES_NOTE,
          ["3 prompts, frame ranges", "FIFO queue", "sampler", "mp4"]),
    "5": ("FIFO: a 720p long video", "Wan 2.2 TI2V 5B, 1280x704, 24 fps", "fifo_lookahead", SHAPES_NOTE,
          ["prompt", "FIFO queue", "Infinite Video Sampler", "mp4"]),
    "6": ("FIFO: a fast long video", "LTX-Video 2B, 768x512, 25 fps", "fifo_lookahead", SHAPES_NOTE,
          ["prompt", "FIFO queue", "Infinite Video Sampler", "mp4"]),
    "7": ("K-Step: a long video from an image", "Wan 2.1 I2V 14B, 832x480", None, "",
          ["start image", "K-Step Noise Search", "mp4, streamed", "scores"]),
    "8": ("K-Step: a long video from an image", "Wan 2.2 TI2V 5B, 1280x704", None, "",
          ["start image", "K-Step Noise Search", "mp4, streamed", "scores"]),
    "11": ("FIFO: fast, a 4-step LoRA", "Wan 2.1 T2V 14B + LightX2V 4-step LoRA, cfg 1", "fifo_lookahead",
           SHAPES_NOTE, ["4-step LoRA", "FIFO queue, groups of 5", "auto clip start", "mp4"]),
}
KSTEP_SIZE = {"7": (832, 480), "8": (1280, 704)}


def thumbnail(name: str, path: Optional[Path] = None):
    """The thumbnail of the workflow ``name`` (a PIL image; written as JPEG to ``path`` if given)."""
    from PIL import Image, ImageDraw

    key = name.split(" ", 1)[0]
    title, model, sheet, caption, chain = PLANS[key]
    image = Image.new("RGB", SIZE, BG)
    draw = ImageDraw.Draw(image)
    draw.text((24, 14), title, font=_font(34), fill=FG)
    draw.text((24, 56), model, font=_font(20), fill=DIM)
    if sheet is not None:
        _frames(image, _tiles(sheet), caption, ACCENT if key == "1" else DIM)
    else:
        _kstep(image, *KSTEP_SIZE[key])
    _chain(ImageDraw.Draw(image), chain, SIZE[1] - 56)
    if path is not None:
        image.save(path, "JPEG", quality=88)
    return image


def main() -> None:
    for name in WORKFLOWS:
        path = OUT / f"{name}.jpg"
        thumbnail(name, path)
        print(path)


if __name__ == "__main__":
    main()
