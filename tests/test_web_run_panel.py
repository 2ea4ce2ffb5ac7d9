"""A long run driven from the editor, in headless Chromium against the real server and frontend (``web/run_panel.js``).

The starter workflow (the pack's shapes model, fast on the CPU), shortened to a plain FIFO queue and lossless, run as a
user would: Run, watch the live frames and the progress (the bar moves during the warm-up, the node says the time
left), Cancel, pick the checkpoint on the node, Run again, and get one finished video equal to an uninterrupted run's,
with the resume field cleared and no checkpoint or partial file left; a later run clears the earlier run's player.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from infinite_video.tools.ci import frontends
from infinite_video.tools.testing.browser import Browser, BrowserError, find_chromium
from infinite_video.tools.testing.comfy_server import PACK_ROOT, start_server

pytestmark = pytest.mark.host

STARTER = PACK_ROOT / "example_workflows" / "1 Start here, a long video on the CPU with nothing to download.json"
FRAMES = 16


@pytest.fixture(scope="module")
def page(comfy_host, tmp_path_factory, frontend):
    if find_chromium() is None:
        pytest.skip("no Chromium: the web-extension test needs a headless browser (apt-get install chromium, or set "
                    "$CHROMIUM)")
    output = tmp_path_factory.mktemp("run_panel")
    with start_server(comfy_host, custom_nodes={"infinite-video": PACK_ROOT}, frontend=frontend[1],
                      output_dir=output) as server:
        server.request("POST", "/api/settings/Comfy.TutorialCompleted", True)  # no template dialog on first start
        with Browser.start() as browser:
            browser.navigate(server.url)
            browser.wait_for("!!(window.app?.graph && app.extensions.some("
                             "(e) => e.name === 'infinite_video.RunPanel'))")
            browser.server, browser.output, browser.frontend = server, output, frontend[0]
            yield browser
            ours = [e for e in browser.errors if "run_panel" in e or "infinite_video" in e]
            assert not ours, ours


# Load the starter, shorten it, make it lossless (two encodes of the same frames decode alike), and record what the
# page hears: the bar (progress events) and the node's texts, in order.
SETUP_JS = """(async () => {
    const { api } = await import("/scripts/api.js");
    window.__api = api;
    await app.loadGraphData(%s, true, true, null, {showMissingModelsDialog: false});
    const find = (t) => app.graph.nodes.find((n) => n.comfyClass === t);
    const sampler = find("InfiniteVideo_Sampler"), sink = find("InfiniteVideo_VideoSink");
    const set = (node, name, value) => { const w = node.widgets.find((w) => w.name === name); w.value = value;
                                         w.callback?.(value); };
    set(sampler, "frames", %d);
    // a short plain FIFO queue (window 5, 2 partitions): a quick run on a busy CPU
    const fifo = find("InfiniteVideo_FIFOQueueInit");
    set(fifo, "partitions", 2);
    fifo.connect(0, sampler, "queue");
    const latent = find("EmptyHunyuanLatentVideo");
    set(latent, "length", 17);
    set(latent, "width", 64);
    set(latent, "height", 64);
    set(sink, "quality", 0);
    set(sink, "checkpoint_every", 4);
    set(sink, "filename_prefix", "ui/run");
    window.__sampler = sampler; window.__sink = sink;
    window.__heard = [];
    api.addEventListener("progress", ({detail}) => {
        if (String(detail.node) === String(sampler.id)) __heard.push({bar: [detail.value, detail.max]}); });
    api.addEventListener("progress_text", ({detail}) => {
        if (String(detail.nodeId) === String(sampler.id)) __heard.push({text: detail.text}); });
    return sampler.id;
})()"""

NODE_TEXT = "(window.__sampler.widgets.find((w) => w.name === '$$node-text-preview')?.value ?? '')"


def node_text(page, prefix: str) -> str:
    """The sampler node's text that starts with ``prefix``: shown on the node by the pinned frontend; current ones
    clear a node's text when the job ends (Cancel included), so there it is the text the node was sent (the stop
    state stays on the node as the resume button, checked separately)."""
    if page.frontend not in frontends.CURRENT:
        return page.wait_for(f"{NODE_TEXT}.startsWith({json.dumps(prefix)}) && {NODE_TEXT}")
    return page.wait_for(f"window.__heard.map((h) => h.text ?? '').find((t) => t.startsWith({json.dumps(prefix)}))")


def wait(page, expression: str, timeout: float = 900.0):
    """``page.wait_for``, with the server's log when it times out (the run's own error, if any, is there)."""
    try:
        return page.wait_for(expression, timeout=timeout)
    except BrowserError as e:
        raise AssertionError(f"{e}\n{page.server.log_tail(60)}") from None


def shot(page, path) -> None:
    """A screenshot with the sampler node in view (for a person looking at the test's output)."""
    page.evaluate("""(async () => { const n = window.__sampler; app.canvas.ds.scale = 1;
        app.canvas.ds.offset = [-n.pos[0] + 40, -n.pos[1] + 80]; app.graph.setDirtyCanvas(true, true);
        await new Promise((r) => setTimeout(r, 300)); })()""")
    page.screenshot(path)


def files(page, folder: str) -> list[str]:
    return sorted(p.name for p in (page.output / folder).iterdir()) if (page.output / folder).exists() else []


def frames_of(path):
    from infinite_video.nodes.stream_video import read_frames

    return read_frames(str(path))


def test_cancel_pick_checkpoint_resume_one_video_with_live_frames_and_time_left(page, tmp_path):
    page.evaluate(SETUP_JS % (STARTER.read_text(), FRAMES))
    # before Run: what frames costs, in model calls
    cost = page.wait_for("window.__sampler.ivPanel?.cost.textContent.includes('model calls') && "
                         "window.__sampler.ivPanel.cost.textContent")
    assert cost.startswith(f"frames {FRAMES}: about ") and "per frame" in cost, cost

    # Run: live frames appear during the run, then Cancel
    page.evaluate("app.queuePrompt(0).then(() => true)")
    wait(page, "(window.__sampler.ivLiveFrames ?? 0) > 0")
    live = page.evaluate("window.__sampler.ivPanel.img.src")
    assert live.startswith("data:image/jpeg;base64,") and page.evaluate(
        "window.__sampler.ivPanel.img.style.display !== 'none' && window.__sampler.ivPanel.img.naturalWidth >= 0")
    shot(page, tmp_path / "live.png")
    page.evaluate("__api.fetchApi('/interrupt', {method: 'POST'}).then(() => true)")
    stopped = wait(page, "window.__sampler.ivStopped")
    ckpt = stopped["checkpoint"]
    assert ckpt and ckpt.startswith("ui/run_") and ckpt.endswith(".ivckpt") and 0 < stopped["latent_frames"] < FRAMES
    text = node_text(page, "Stopped at")
    assert ckpt in text and f"Stopped at {stopped['latent_frames']} latent frames" in text, text

    # the sampler's button and the Video Sink's picker both offer the checkpoint; pick it in the picker
    label = page.evaluate("window.__sampler.widgets.find((w) => w.name === 'iv_resume_from')?.label")
    assert label and ckpt in label
    rows = page.evaluate("""(async () => {
        const b = window.__sink.widgets.find((w) => w.name === 'iv_pick_checkpoint');
        b.callback(b, app.canvas, window.__sink);
        for (let i = 0; i < 100 && !document.getElementById('iv-checkpoint-menu'); i++)
            await new Promise((r) => setTimeout(r, 50));
        return Array.from(document.querySelectorAll('#iv-checkpoint-menu > div')).map((d) => d.dataset.value);
    })()""")
    assert rows == ["", ckpt], rows
    page.evaluate(f"document.querySelector('#iv-checkpoint-menu > div[data-value={json.dumps(ckpt)}]').click()")
    assert page.evaluate("window.__sink.widgets.find((w) => w.name === 'resume').value") == ckpt

    # Run again: one finished video, shown on the node; the checkpoint is spent and the field cleared
    page.evaluate("app.queuePrompt(0).then(() => true)")
    video = wait(page, "window.__sampler.ivVideo")
    assert video["subfolder"] == "ui" and ckpt.startswith(f"ui/{video['filename'][:-len('.mp4')]}")
    assert page.evaluate("window.__sink.widgets.find((w) => w.name === 'resume').value") == ""
    assert page.evaluate("window.__sampler.widgets.some((w) => w.name === 'iv_resume_from')") is False
    src = page.evaluate("window.__sampler.ivPanel.video.src")
    assert f"filename={video['filename']}" in src and "subfolder=ui" in src, src
    assert page.evaluate("window.__sampler.ivPanel.img.style.display") == "none", "the live frame gives way"
    assert files(page, "ui") == [video["filename"]], "one video: no checkpoint, no part file"
    resumed = frames_of(page.output / "ui" / video["filename"])
    assert resumed.shape[0] == FRAMES
    shot(page, tmp_path / "finished.png")

    # the progress the user saw: the bar above 0 during the warm-up (labelled), then frames with the time left
    heard = page.evaluate("window.__heard")
    texts = [h["text"] for h in heard if "text" in h]
    first_frame = next(i for i, h in enumerate(heard) if "latent frames ·" in h.get("text", ""))
    warm_bar = [h["bar"] for h in heard[:first_frame] if "bar" in h]
    assert warm_bar and warm_bar[0][0] > 0 and warm_bar[-1][0] / warm_bar[-1][1] > 0, heard[:first_frame]
    assert any(t.startswith("warm-up: iteration") for t in texts[:3]), texts
    assert any(" elapsed" in t and " s per output frame" in t and " left" in t for t in texts), texts
    assert node_text(page, "Done: ui/"), "the node's text says where the video is"

    # an uninterrupted run from the editor: the earlier player goes when it starts; its video has the same frames
    page.evaluate("""(() => { const w = window.__sink.widgets.find((w) => w.name === 'filename_prefix');
                            w.value = 'ref/run'; w.callback?.(w.value); })()""")
    page.evaluate("window.__sampler.ivLiveFrames = 0; app.queuePrompt(0).then(() => true)")
    wait(page, "(window.__sampler.ivLiveFrames ?? 0) > 0")
    assert page.evaluate("[window.__sampler.ivVideo, window.__sampler.ivPanel.video.style.display, "
                         "window.__sampler.ivPanel.video.getAttribute('src')]") == [None, "none", None]
    ref = wait(page, "window.__sampler.ivVideo?.subfolder === 'ref' && window.__sampler.ivVideo")
    assert np.array_equal(resumed, frames_of(page.output / "ref" / ref["filename"]))

    # before the next Run: the node prices `frames` at the speed just measured and warns past a day. How many frames
    # that takes depends on this machine's speed (an idle CPU runs the tiny model in tens of ms a call), so the test
    # asks for two days' worth, or the widget's most (a million) where even that is under a day.
    def cost_at(frames: int) -> tuple[str, float]:
        page.evaluate(f"""(() => {{ const w = window.__sampler.widgets.find((w) => w.name === 'frames');
                                  w.value = {frames}; w.callback?.(w.value); }})()""")
        text = page.wait_for(f"window.__sampler.ivPanel.cost.textContent.startsWith('frames {frames}: about ') && "
                             "window.__sampler.ivPanel.cost.textContent", timeout=10)
        assert "at the last measured speed" in text, text
        return text, page.evaluate("window.__sampler.ivCost.seconds")

    _, thousand = cost_at(1000)
    frames = min(1_000_000, -(-2 * 86400 * 1000 // max(int(thousand), 1)))
    cost, seconds = cost_at(frames)
    assert ("WARNING: over a day" in cost) == (seconds > 86400), (cost, seconds)
    assert frames == 1_000_000 or "WARNING: over a day" in cost, (cost, seconds)
