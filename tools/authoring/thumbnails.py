"""Writes the template browser's thumbnails: ``example_workflows/<name>.jpg`` next to each ``<name>.json``.

ComfyUI's frontend (1.27) shows a custom node pack's template with ``<name>.jpg`` from the same folder (a card about
256 px wide); without it the card is a grey placeholder. A thumbnail says at a glance what the workflow makes:

- a short title and the model;
- frames: for the starter, frames of the video it makes (the shapes model's consistency-benchmark contact sheet of
  the same chain, ``models/shapes_wan21/bench``); for the real-model FIFO / MIGA workflows, frames of the same method
  on the pack's tiny shapes model, marked as such (a real model cannot run here); for K-Step, the start image the
  workflow makes and a diagram of the search (candidates per chunk, the best one kept, chunk after chunk); for
  Chunked Continuation, its window (anchors, newest finished latents, the new chunk), as the queue diagram draws it;
- the chain as a row of boxes, in the order the nodes are wired.

Pure PIL with its built-in font: no browser, no server. Run: python -m tools.authoring.thumbnails
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..pack import PACK_ROOT
from .ui_workflows import CONT_WAN21, CONT_WAN22, MEADOW, SKY, WORKFLOWS

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


def _conditioned(image, key: str) -> None:
    """What the conditioning gives the video's frames, drawn as eight frames: for the start image (9) the image
    the workflow makes at frame 1 and free frames after it; for the control video (10) the control video the
    workflow makes (a white square crossing a grey background). Under them, two windows of the queue, each taking
    its own frames' slice."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    small = _font(18)
    side, gap = 86, 8
    x0, y0 = (SIZE[0] - 8 * side - 7 * gap) // 2, 130
    h = side * 480 // 832
    for k in range(8):
        x = x0 + k * (side + gap)
        if key == "10":
            draw.rectangle((x, y0, x + side, y0 + h), fill=(128, 128, 128))
            sq = side * 12 // 104
            sx = x + k * (side - sq) // 7
            draw.rectangle((sx, y0 + (h - sq) // 2, sx + sq, y0 + (h + sq) // 2), fill=(255, 255, 255))
        elif k == 0:
            sky = ((SKY >> 16) & 255, (SKY >> 8) & 255, SKY & 255)
            meadow = ((MEADOW >> 16) & 255, (MEADOW >> 8) & 255, MEADOW & 255)
            draw.rectangle((x, y0, x + side, y0 + h), fill=sky)
            draw.rectangle((x, y0 + h - h * 3 // 8, x + side, y0 + h), fill=meadow)
        else:
            draw.rectangle((x, y0, x + side, y0 + h), outline=DIM, width=2)
            draw.text((x + side / 2 - 6, y0 + h / 2 - 10), "?", font=small, fill=DIM)
    label = "control video (made by the workflow)" if key == "10" else "start image at frame 1, free frames after"
    draw.text(((SIZE[0] - draw.textlength(label, font=small)) / 2, y0 + h + 10), label, font=small, fill=FG)
    for w, (a, b) in enumerate([(0, 4), (3, 7)]):
        y = y0 + h + 50 + w * 34
        xa, xb = x0 + a * (side + gap), x0 + (b + 1) * (side + gap) - gap
        draw.rounded_rectangle((xa, y, xb, y + 24), radius=6, outline=ACCENT, width=2)
        draw.text((xa + 8, y + 3), f"window {w + 1}: the conditioning at its own frames", font=_font(15), fill=ACCENT)
    note = "conditioning built for the whole video; the queue slides over it"
    draw.text(((SIZE[0] - draw.textlength(note, font=small)) / 2, y0 + h + 130), note, font=small, fill=DIM)


def _continuation(image, settings: tuple, window: int) -> None:
    """The window of every chunk after the first: anchors, the newest finished latents, the new chunk."""
    from PIL import ImageDraw

    from .ui_workflows import continuation_config

    chunk, anchors, every = settings[:3]
    start = "all steps, from noise" if continuation_config(settings).denoise == 1 else "from the newest, part way"
    recent = window - chunk - anchors
    draw = ImageDraw.Draw(image)
    font, small = _font(20), _font(16)
    cyan, grey = (128, 222, 234), (138, 138, 138)
    cw, x0, y0, h = (SIZE[0] - 60) / window, 30, 150, 120
    slots = [cyan] * anchors + [grey] * recent + [ACCENT] * chunk
    for k, color in enumerate(slots):
        x = x0 + k * cw
        draw.rectangle((x + 1, y0, x + cw - 2, y0 + h), fill=color)
    groups = [(0, anchors, f"{anchors} anchors", "latents " + ", ".join(str(j * every) for j in range(anchors))),
              (anchors, anchors + recent, f"{recent} newest", "finished"),
              (anchors + recent, window, f"{chunk} new latents", start)]
    for a, b, line1, line2 in groups:
        cx = x0 + (a + b) / 2 * cw
        for j, (text, f) in enumerate([(line1, font), (line2, small)]):
            left = min(max(8, cx - draw.textlength(text, font=f) / 2), SIZE[0] - 8 - draw.textlength(text, font=f))
            draw.text((left, y0 + h + 12 + 26 * j), text, font=f,
                      fill=FG if j == 0 else DIM)
    head = f"one window of {window} latent frames per chunk"
    draw.text(((SIZE[0] - draw.textlength(head, font=font)) / 2, y0 - 40), head, font=font, fill=DIM)


# name -> (title, model line, frames: contact sheet or None for the K-Step drawing, caption, chain)
SHAPES_NOTE = "illustration: the same method on the pack's tiny shapes model"
PLANS: dict[str, tuple] = {
    "1": ("Start here: runs on a CPU", "the pack's tiny shapes model, nothing to download", "miga_dce",
          "frames of the video this workflow makes (240 frames, 30 s)",
          ["FIFO queue", "Self-Reflection", "Long-Range Guidance", "mp4, streamed"]),
    "2": ("A long video that keeps its subject", "Wan 2.1 T2V 1.3B, 832x480", None, "",
          ["prompt", "FIFO Queue Init", "Chunked Continuation", "sampler", "mp4"]),
    "3": ("MIGA: a more consistent long video", "Wan 2.1 T2V 1.3B, the paper's config", "miga", SHAPES_NOTE,
          ["FIFO", "Zigzag", "Unified", "Self-Reflection", "Guidance", "mp4"]),
    "4": ("A prompt that changes over time", "Wan 2.1 T2V 1.3B: noon, sunset, night", "fifo_lookahead", SHAPES_NOTE,
          ["3 prompts, frame ranges", "FIFO queue", "sampler", "mp4"]),
    "5": ("A 720p long video that keeps its subject", "Wan 2.2 TI2V 5B, 1280x704, 24 fps", None, "",
          ["prompt", "FIFO Queue Init", "Chunked Continuation", "sampler", "mp4"]),
    "6": ("FIFO: a fast long video", "LTX-Video 2B, 768x512, 25 fps", "fifo_lookahead", SHAPES_NOTE,
          ["prompt", "FIFO queue", "Infinite Video Sampler", "mp4"]),
    "7": ("K-Step: a long video from an image", "Wan 2.1 I2V 14B, 832x480", None, "",
          ["start image", "K-Step Noise Search", "mp4, streamed", "scores"]),
    "8": ("K-Step: a long video from an image", "Wan 2.2 TI2V 5B, 1280x704", None, "",
          ["start image", "K-Step Noise Search", "mp4, streamed", "scores"]),
    "9": ("FIFO: a long video from a start image", "Wan 2.1 I2V 14B, 832x480", None, "",
          ["start image", "WanImageToVideo", "FIFO queue", "mp4, streamed"]),
    "10": ("FIFO: a long video that follows a control", "Wan 2.1 Fun Control 1.3B, 832x480", None, "",
           ["control video", "Fun Control", "FIFO queue", "mp4, streamed"]),
    "11": ("FIFO: fast, a 4-step LoRA", "Wan 2.1 T2V 14B + LightX2V 4-step LoRA, cfg 1", "fifo_lookahead",
           SHAPES_NOTE, ["4-step LoRA", "FIFO queue, groups of 5", "auto clip start", "mp4"]),
}
KSTEP_SIZE = {"7": (832, 480), "8": (1280, 704)}
CONTINUATION = {"2": (CONT_WAN21, 21), "5": (CONT_WAN22, 31)}  # settings, window


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
    elif key in CONTINUATION:
        _continuation(image, *CONTINUATION[key])
    elif key in KSTEP_SIZE:
        _kstep(image, *KSTEP_SIZE[key])
    else:
        _conditioned(image, key)
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
