"""Writes the template browser's thumbnails: ``example_workflows/<name>.jpg`` next to each ``<name>.json``.

ComfyUI's frontend (1.27) shows a custom node pack's template with ``<name>.jpg`` from the same folder; without it the
card is a grey placeholder. The real-model workflows get a picture of the workflow itself as the editor draws it
(headless Chromium against a real server with this pack, queue diagram included); the starter gets frames of the
video it makes (the shapes model's consistency-benchmark contact sheet of the same chain).

Run: python -m tools.authoring.thumbnails   (needs the host and Chromium, like tests/test_web_queue_diagram.py)
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

from ..ci.find_host import find_host
from ..testing.browser import Browser
from ..testing.comfy_server import PACK_ROOT, start_server

OUT = PACK_ROOT / "example_workflows"
STARTER = "1 Start here, a long video on the CPU with nothing to download"
SHEET = PACK_ROOT / "models" / "shapes_wan21" / "bench" / "miga_dce.png"  # the starter's chain
SIZE = (768, 512)


def starter_thumbnail(path: Path) -> None:
    """Eight frames spread over a long shapes video (4 x 2), from the benchmark's contact sheet (15 x 2 tiles)."""
    from PIL import Image

    sheet = Image.open(SHEET).convert("RGB")
    cols, rows = 15, 2
    # square tiles of side t with gaps g: cols t + (cols-1) g = width, rows t + (rows-1) g = height
    g = (rows * sheet.width - cols * sheet.height) // (rows * (cols - 1) - cols * (rows - 1))
    t = (sheet.height - (rows - 1) * g) // rows
    tiles = [sheet.crop((c * (t + g), r * (t + g), c * (t + g) + t, r * (t + g) + t)) for r in range(rows)
             for c in range(0, cols, 4)][:8]
    w = h = SIZE[0] // 4
    out = Image.new("RGB", (4 * w, 2 * h), (255, 255, 255))
    for k, tile in enumerate(tiles):
        out.paste(tile.resize((w - 4, h - 4), Image.NEAREST), ((k % 4) * w + 2, (k // 4) * h + 2))
    out.save(path, "JPEG", quality=85)


TOP, LEFT = 78, 40  # px of menu bar and workflow tabs above the canvas, and of the side bar, cropped off

FIT_JS = """(async () => {
    const [TOP, LEFT] = [%d, %d];
    await app.loadGraphData(%s);
    const ns = app.graph.nodes;
    await new Promise((r) => setTimeout(r, 1500));  // the queue diagram's answer, node sizes settled
    const x0 = Math.min(...ns.map((n) => n.pos[0])), y0 = Math.min(...ns.map((n) => n.pos[1] - 30));
    const x1 = Math.max(...ns.map((n) => n.pos[0] + n.size[0])), y1 = Math.max(...ns.map((n) => n.pos[1] + n.size[1]));
    const el = app.canvas.canvas, W = el.clientWidth - LEFT, H = el.clientHeight - TOP;
    const scale = Math.min(W / (x1 - x0 + 40), H / (y1 - y0 + 40));
    app.canvas.ds.scale = scale;
    app.canvas.ds.offset = [-x0 + 20 + LEFT / scale + (W / scale - (x1 - x0 + 40)) / 2,
                            -y0 + 20 + TOP / scale + (H / scale - (y1 - y0 + 40)) / 2];
    app.canvas.min_font_size_for_lod = 1;  // draw titles and widgets at thumbnail scale too
    app.canvas.show_info = false;
    app.graph.setDirtyCanvas(true, true);
    await new Promise((r) => setTimeout(r, 800));
    return [W, H];
})()"""


def main() -> None:
    from PIL import Image

    starter_thumbnail(OUT / f"{STARTER}.jpg")
    print(OUT / f"{STARTER}.jpg")
    host, how = find_host()
    if host is None:
        raise SystemExit(f"no ComfyUI host: {how}")
    with start_server(host, custom_nodes={"infinite-video": PACK_ROOT}, frontend=True) as server:
        server.request("POST", "/api/settings/Comfy.TutorialCompleted", True)
        server.request("POST", "/api/settings/Comfy.Workflow.ShowMissingModelsWarning", False)
        with Browser.start() as page:
            page.navigate(server.url)
            page.wait_for("!!(window.app?.graph && app.extensions.some((e) => e.name === "
                          "'infinite_video.QueueDiagram'))")
            page.evaluate("app.extensionManager.setting.set('Comfy.Minimap.Visible', false)")
            time.sleep(1)
            for path in sorted(OUT.glob("*.json")):
                if path.stem == STARTER:
                    continue
                page.evaluate(FIT_JS % (TOP, LEFT, json.dumps(json.loads(path.read_text()))))
                shot = page.call("Page.captureScreenshot", {"format": "png"})["data"]
                image = Image.open(io.BytesIO(base64.b64decode(shot))).convert("RGB")
                image = image.crop((LEFT, TOP, image.width, image.height))
                image.thumbnail((SIZE[0] * 2, SIZE[1] * 2))
                image.save(path.with_suffix(".jpg"), "JPEG", quality=85)
                print(path.with_suffix(".jpg"))


if __name__ == "__main__":
    main()
