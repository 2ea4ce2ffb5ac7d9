"""The queue diagram: the plan route on the real server, and the extension in a real browser.

``/chain_plan`` answers the whole chain's ``samplers.chain_plan.plan_chain``, so the drawing, the samplers and the
tests share one plan. The browser tests load ComfyUI's own frontend from a real server in headless Chromium (Debian's
``chromium``; skipped, with the reason, where there is none), build chains as a user would, read the pixels the
extension draws, load the shipped workflows, and check that nothing the nodes save or queue changed.
"""

from __future__ import annotations

import json

import pytest

from infinite_video.samplers.chain_plan import plan_chain
from infinite_video.samplers.config import (
    ContinuationConfig,
    GuidanceConfig,
    QueueConfig,
    ReflectionConfig,
    UnifiedConfig,
    ZigzagConfig,
)
from infinite_video.samplers.continuation import TRACK_GAIN
from infinite_video.samplers.plan import plan_fifo
from infinite_video.tools.testing.browser import Browser, find_chromium
from infinite_video.tools.testing.comfy_server import PACK_ROOT, start_server

pytestmark = pytest.mark.host

CHAIN_ROUTE = "/api/infinite_video/chain_plan"
UI_WORKFLOWS = sorted((PACK_ROOT / "example_workflows").glob("*.json"))
STARTER = "1 Start here, a long video on the CPU with nothing to download"
CONTINUATION_WAN21 = "2 Wan 2.1 1.3B, long video from a prompt (chunked continuation)"


def jsonable(d):
    return json.loads(json.dumps(d))


OFFICIAL_WAN = dict(zigzag=ZigzagConfig(54, 7, 44, 0), unified=UnifiedConfig(10, True, 44),
                    reflection=ReflectionConfig(3, 0.01, "pairwise_denoised", 10),
                    guidance=GuidanceConfig(4, "queue", 64))
OFFICIAL_WAN_CHAIN = [
    {"type": "InfiniteVideo_FIFOQueueInit",
     "inputs": {"window_length": 21, "partitions": 2, "lookahead": True, "init_mode": "noise"}},
    {"type": "InfiniteVideo_ZigzagStage", "inputs": {"steps": 54, "group_size": 7, "end_step": 44, "slide": 0}},
    {"type": "InfiniteVideo_UnifiedStage", "inputs": {"steps": 10, "re_denoise": True, "re_noise_step": 44}},
    {"type": "InfiniteVideo_SelfReflection",
     "inputs": {"candidates": 3, "threshold": 0.01, "metric": "pairwise_denoised", "judged_level": 10}},
    {"type": "InfiniteVideo_LongRangeGuidance",
     "inputs": {"guidance_latents": 4, "source": "queue", "history_span": 64}},
]


def test_chain_route_answers_the_chain_plan(comfy_server):
    status, body = comfy_server.request("POST", CHAIN_ROUTE, {"chain": OFFICIAL_WAN_CHAIN, "latent_frames": 21})
    assert status == 200
    assert body["plan"] == jsonable(plan_chain(QueueConfig(21, 2, True, "noise", **OFFICIAL_WAN), 21))
    fifo = OFFICIAL_WAN_CHAIN[:1]
    status, body = comfy_server.request("POST", CHAIN_ROUTE, {"chain": fifo, "latent_frames": None})
    assert status == 200 and body["plan"] == jsonable(plan_chain(QueueConfig(21, 2, True, "noise"), 21))


def test_chain_route_warns_only_about_ignored_settings_changed_from_their_default(comfy_server):
    """The official chain keeps FIFO Queue Init's partitions / lookahead and the guidance's history_span at their
    defaults: ignored by the run (the plan says so) but not worth a warning; a changed one is."""
    status, body = comfy_server.request("POST", CHAIN_ROUTE, {"chain": OFFICIAL_WAN_CHAIN, "latent_frames": 21})
    assert {i["input"] for i in body["plan"]["ignored"]} == {"partitions", "lookahead", "history_span"}
    assert body["warnings"] == []
    changed = json.loads(json.dumps(OFFICIAL_WAN_CHAIN))
    changed[0]["inputs"]["lookahead"] = False
    changed[4]["inputs"]["history_span"] = 16
    status, body = comfy_server.request("POST", CHAIN_ROUTE, {"chain": changed, "latent_frames": 21})
    assert status == 200 and [(w["node"], w["input"]) for w in body["warnings"]] == [
        ("InfiniteVideo_FIFOQueueInit", "lookahead"), ("InfiniteVideo_LongRangeGuidance", "history_span")]


@pytest.mark.parametrize("chain,frames,message", [
    # the run's own errors, as 200 answers (the editor asks while the user types)
    ([OFFICIAL_WAN_CHAIN[0], OFFICIAL_WAN_CHAIN[2]], 21, "Unified Stage needs a Zigzag Stage before it"),
    (OFFICIAL_WAN_CHAIN, 13, "window_length 21 is longer than the latent's 13 frames"),
    ([{"type": "InfiniteVideo_FIFOQueueInit",
       "inputs": {"window_length": 0, "partitions": 2, "lookahead": True, "init_mode": "noise"}}], None,
     "connect one (or set window_length)"),
])
def test_chain_route_answers_the_engines_error(comfy_server, chain, frames, message):
    status, body = comfy_server.request("POST", CHAIN_ROUTE, {"chain": chain, "latent_frames": frames})
    assert status == 200 and message in body["error"] and "plan" not in body


def fifo_link(**inputs):
    return {"type": "InfiniteVideo_FIFOQueueInit",
            "inputs": {"window_length": 4, "partitions": 2, "lookahead": True, "init_mode": "noise", **inputs}}


@pytest.mark.parametrize("inputs,message", [
    ({"partitions": 0}, "partitions 0 is below its minimum 1"),
    ({"partitions": 65}, "partitions 65 is above its maximum 64"),
    ({"window_length": 2000}, "window_length 2000 is above its maximum 1024"),
    ({"init_mode": "warp"}, "init_mode 'warp' is not one of its options"),
])
def test_chain_route_applies_fifo_queue_inits_limits(comfy_server, inputs, message):
    status, body = comfy_server.request("POST", CHAIN_ROUTE, {"chain": [fifo_link(**inputs)], "latent_frames": 8})
    assert status == 200 and message in body["error"] and "plan" not in body, body


@pytest.mark.parametrize("body,message", [
    ({"chain": []}, "expected a JSON object"),
    ({"chain": [{"type": "InfiniteVideo_FIFOQueueInit", "inputs": {"window_length": 4, "partitions": 2,
                                                                    "lookahead": True}}]}, "init_mode"),
    ({"chain": [OFFICIAL_WAN_CHAIN[1]]}, "starts with InfiniteVideo_FIFOQueueInit"),
    ({"chain": [{"type": "KSampler", "inputs": {}}]}, "chain[0] must be"),
    ({"chain": OFFICIAL_WAN_CHAIN[:1], "latent_frames": "many"}, "latent_frames must be an integer"),
])
def test_chain_route_rejects_what_is_not_a_chain(comfy_server, body, message):
    status, answer = comfy_server.request("POST", CHAIN_ROUTE, body)
    assert status == 400 and message in answer["error"]


# -- in the browser --------------------------------------------------------------------------------------------------

# Reads the pixels of node `window.__ivNode`'s diagram from the canvas the editor shows (its DOM widget's) at the
# geometry the extension's own layout() gives (imported from the module the frontend loaded: the same instance).
PIXELS_JS = """
(async () => {
  const urls = await (await fetch("/api/extensions")).json();
  const { layout, panelNode, COLORS, SCALE, WIDGET } = await import(urls.find((u) => u.endsWith("/queue_diagram.js")));
  if (app.extensions.filter((e) => e.name === "infinite_video.QueueDiagram").length !== 1) throw "loaded twice";
  const node = window.__ivNode;
  const canvas = node.widgets.find((w) => w.name === WIDGET).element.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const view = node.ivQueue;
  const box = layout(panelNode(node, canvas.width / SCALE, ctx), view, ctx);
  const px = (X, Y) => Array.from(ctx.getImageData(Math.floor(X * SCALE), Math.floor(Y * SCALE), 1, 1).data)
    .slice(0, 3);
  const hex = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  const panel = hex(COLORS.panel);
  // text: the brightest pixel of each text row against the panel
  const text = box.text.map((_, k) => {
    let best = 0;
    for (let X = box.x + 8; X < box.x + box.w - 8; X += 1) {
      for (let Y = box.textTop + k * 18 + 2; Y < box.textTop + (k + 1) * 18 - 2; Y += 2) {
        const [r, g, b] = px(X, Y);
        best = Math.max(best, (r + g + b) / 3);
      }
    }
    return best;
  });
  const out = { panel: px(box.x + 2, box.y + box.h / 2), panelColor: panel, text, lines: box.text.map((t) => t[0]) };
  const plan = box.plan;
  if (plan) {
    const x0 = box.x + 8, cw = box.cw, barsTop = box.y + box.bars.y, BARS = box.bars.h;
    out.bars = [];
    for (let s = 0; s < plan.slots; s++) {
      const cx = x0 + (s + 0.5) * cw;
      let top = 0;  // drawn bar height: rows from the bottom of the bar area up to the panel
      while (top < BARS && px(cx, barsTop + BARS - 1 - top).join() !== panel.join()) top++;
      out.bars.push({ bottom: px(cx, barsTop + BARS - 2), height: top });
    }
    const mid = (win) => x0 + (win.write[0] + win.write[1]) / 2 * cw;
    out.writes = plan.windows.map((win) => px(mid(win), box.rows.all));  // the row of every call's writes
    out.shownWrites = box.rows.shown.map(({ k, y }) => px(mid(plan.windows[k]), y));  // the first calls in full
    out.writeColors = COLORS.write.map(hex);
  }
  return out;
})()
"""


def set_widgets(page, values: dict, node: str = "window.__ivNode") -> dict:
    """Set a node's widgets as a user would (value + callback); returns the diagram's state once it is answered."""
    return page.evaluate(f"""(async () => {{
        const node = {node};
        for (const [name, value] of Object.entries({json.dumps(values)})) {{
            const w = node.widgets.find((w) => w.name === name);
            w.value = value;
            w.callback?.(value);
        }}
        return await node.ivQueueReady;
    }})()""")


@pytest.fixture(scope="module")
def page(comfy_host, frontend):
    """The editor in headless Chromium, once per frontend (conftest's ``frontend``: the pinned one and 1.58)."""
    if find_chromium() is None:
        pytest.skip("no Chromium: the web-extension test needs a headless browser (apt-get install chromium, or set "
                    "$CHROMIUM)")
    version, web_root = frontend
    with start_server(comfy_host, custom_nodes={"infinite-video": PACK_ROOT}, frontend=web_root) as server:
        server.request("POST", "/api/settings/Comfy.TutorialCompleted", True)  # no template dialog on first start
        with Browser.start() as browser:
            browser.navigate(server.url)
            browser.wait_for("!!(window.app?.graph && window.LiteGraph?.registered_node_types"
                             "?.InfiniteVideo_FIFOQueueInit && app.extensions.some("
                             "(e) => e.name === 'infinite_video.QueueDiagram'))")
            browser.server = server
            browser.frontend = version
            # report every deprecated-API use, not only the first of each kind in the session (current frontends)
            browser.evaluate("LiteGraph.alwaysRepeatWarnings = true")
            yield browser
            ours = [e for e in browser.errors if "queue_diagram" in e or "chain_plan" in e]
            assert not ours, ours
            warned = [text for text, stack in browser.warnings if any("queue_diagram" in url for url in stack)]
            assert not warned, warned  # e.g. a deprecated API (input.link, output.links in current frontends)


def add_fifo(page) -> int:
    return page.evaluate("""(() => {
        app.graph.clear();
        const node = LiteGraph.createNode("InfiniteVideo_FIFOQueueInit");
        node.pos = [60, 60];
        app.graph.add(node);
        window.__ivNode = node;
        return node.id;
    })()""")


def test_diagram_follows_the_widgets_and_draws_the_plan(page, tmp_path):
    add_fifo(page)
    state = set_widgets(page, {"window_length": 4, "partitions": 2, "lookahead": True, "init_mode": "noise"})
    plan = plan_fifo(4, 2, True, "noise")
    assert state["plan"] == jsonable(plan_chain(QueueConfig(4, 2, True, "noise"), 4))
    drawn = page.evaluate(PIXELS_JS)
    assert drawn["lines"][:2] == ["FIFO: 8 latents in the queue, 8 steps, window 4",
                                  "4 model calls per output frame, 8 warm-up frames discarded"]
    bars = drawn["bars"]
    assert [b["bottom"] for b in bars[:plan.pad]] == [[138, 138, 138]] * plan.pad  # finished context, grey
    assert bars[plan.head]["bottom"] == [255, 255, 255]  # the head (leaves next): white
    heights = [b["height"] for b in bars]
    assert heights[plan.head] < heights[-1] and heights[plan.head:] == sorted(heights[plan.head:])  # noise grows
    assert len(set(heights[plan.head:])) == plan.queue  # one level per frame
    assert all(rgb in drawn["writeColors"] for rgb in drawn["writes"])  # every window's write region is drawn
    assert drawn["shownWrites"] and all(rgb in drawn["writeColors"] for rgb in drawn["shownWrites"])

    # a bad value shows the engine's error, naming the input; fixing it brings the diagram back
    state = set_widgets(page, {"partitions": 0})
    assert "partitions 0 is below its minimum 1" in state["error"] and "plan" not in state
    state = set_widgets(page, {"partitions": 3, "lookahead": False})
    assert state["plan"] == jsonable(plan_chain(QueueConfig(4, 3, False, "noise"), 4))
    assert len(page.evaluate(PIXELS_JS)["writes"]) == 3

    # what the node saves and queues is its widgets' values only (the optional group_size at its default)
    saved = page.evaluate("app.graph.serialize().nodes.find((n) => n.id == window.__ivNode.id).widgets_values")
    assert saved == [4, 3, False, "noise", 1]
    inputs = page.evaluate("(async () => (await app.graphToPrompt()).output[String(window.__ivNode.id)].inputs)()")
    assert inputs == {"window_length": 4, "partitions": 3, "lookahead": False, "init_mode": "noise", "group_size": 1}
    page.screenshot(tmp_path / "queue_diagram.png")


def test_typing_does_not_spam_the_server(page):
    """Intermediate values while typing (1, 12, 120 on the way to 12) make one request, and no 400 reaches the
    console: the debounce keeps the last value only, and impossible settings are answers, not failed requests."""
    add_fifo(page)
    set_widgets(page, {"window_length": 4})
    page.evaluate("performance.setResourceTimingBufferSize(100000), performance.clearResourceTimings()")
    count = "performance.getEntriesByType('resource').filter((e) => e.name.includes('chain_plan'))"
    before = page.evaluate(f"{count}.length")
    state = page.evaluate("""(async () => {
        const node = window.__ivNode, w = node.widgets.find((w) => w.name === "window_length");
        for (const v of [1, 12, 120, 12]) { w.value = v; w.callback?.(v); }
        return await node.ivQueueReady;
    })()""")
    assert state["plan"]["window"] == 12
    assert page.evaluate(f"{count}.length") - before == 1
    assert page.evaluate(f"{count}.every((e) => e.responseStatus === 200)")
    state = set_widgets(page, {"partitions": 0})  # impossible: the error is shown, the request still succeeded
    assert "partitions 0 is below its minimum 1" in state["error"]
    assert page.evaluate(f"{count}.every((e) => e.responseStatus === 200)")


BUILD_MIGA_JS = """(() => {
    app.graph.clear();
    const add = (type, x, y) => { const n = LiteGraph.createNode(type); n.pos = [x, y]; app.graph.add(n); return n; };
    const fifo = add("InfiniteVideo_FIFOQueueInit", 40, 40);
    const parts = ["InfiniteVideo_ZigzagStage", "InfiniteVideo_UnifiedStage", "InfiniteVideo_SelfReflection",
                   "InfiniteVideo_LongRangeGuidance"].map((t, k) => add(t, 560 + 480 * (k % 2), 40 + 420 * (k >> 1)));
    const latent = add("EmptyHunyuanLatentVideo", 40, 700);
    const sampler = add("InfiniteVideo_Sampler", 1560, 40);
    [fifo, ...parts].reduce((a, b) => (a.connect(0, b, "queue"), b));
    parts[3].connect(0, sampler, "queue");
    latent.connect(0, sampler, "latent_image");
    latent.widgets.find((w) => w.name === "length").value = 81;  // 21 latent frames
    fifo.widgets.find((w) => w.name === "window_length").value = 0;  // the latent's length
    window.__ivNode = fifo;
    window.__ivEnd = parts[3];
    window.__ivMiddle = parts[1];
    return [fifo.id, parts[3].id];
})()"""


def test_miga_chain_draws_the_whole_plan_once(page, tmp_path):
    """FIFO Queue Init -> Zigzag -> Unified -> Self-Reflection -> Long-Range Guidance -> sampler, window 0 read from
    the wired 81-frame latent: one diagram for the chain (under FIFO Queue Init) draws MIGA's plan (not FIFO's), with
    the sampler's figures; the FIFO settings the Zigzag Stage overrides are named once changed from their defaults,
    and not before."""
    page.evaluate(BUILD_MIGA_JS)
    state = page.evaluate("(async () => { window.__ivNode.widgets[0].callback?.(0); "
                          "return await window.__ivNode.ivQueueReady; })()")
    want = jsonable(plan_chain(QueueConfig(0, 2, True, "noise", **OFFICIAL_WAN), 21))
    assert state["plan"] == want and state["latentFrom"]
    assert page.evaluate("window.__ivEnd.ivQueue.plan") == want
    drawn = page.evaluate(PIXELS_JS)
    calls = want["calls"]
    text = " ".join(drawn["lines"])
    assert text.startswith("MIGA: 308 latents (44 groups of 7), 54 steps, slide 17, window 21 (from")
    assert "ignored" not in text  # every node at its defaults: nothing the user chose is ignored
    assert f" {calls['expected']:.1f} model calls per output frame (stage 1 {calls['queue']:.1f} + unified " in text
    assert f"self-reflection: up to {calls['worst']:.1f} if every judgment triggers" in text
    state = set_widgets(page, {"partitions": 3})
    assert [w["input"] for w in state["warnings"]] == ["partitions"]
    text = " ".join(page.evaluate(PIXELS_JS)["lines"])
    assert "ignored: partitions (the Zigzag Stage sets the steps" in text
    set_widgets(page, {"partitions": 2})
    memory = page.evaluate("window.__ivNode.ivQueue.plan.windows.filter((w) => w.memory.length).length")
    assert memory > 0  # guidance latents are part of the drawing

    # only FIFO Queue Init draws: not the end of the chain, not the nodes in between
    page.evaluate("(async () => { app.canvas.ds.offset = [0, 0]; app.canvas.ds.scale = 0.5; "
                  "app.graph.setDirtyCanvas(true, true); await new Promise((r) => setTimeout(r, 500)); })()")
    draws = page.evaluate("[window.__ivNode.ivDraws ?? 0, window.__ivEnd.ivDraws ?? 0, window.__ivMiddle.ivDraws ?? 0]")
    assert draws[0] > 0 and draws[1] == 0 and draws[2] == 0

    # changing a MIGA widget redraws the diagram with the new plan
    state = set_widgets(page, {"slide": 10}, node="app.graph.nodes.find((n) => n.comfyClass === "
                                                   "'InfiniteVideo_ZigzagStage')")
    assert state["plan"]["slide"] == 10 and page.evaluate("window.__ivEnd.ivQueue.plan.slide") == 10
    # an impossible chain shows the sampler's error
    state = set_widgets(page, {"end_step": 60}, node="app.graph.nodes.find((n) => n.comfyClass === "
                                                     "'InfiniteVideo_ZigzagStage')")
    assert "end_step 60 is past the last step 54" in state["error"]
    page.screenshot(tmp_path / "miga_chain.png")


def version(page) -> tuple[int, ...]:
    return tuple(int(x) for x in page.frontend.split(".")[:2])


# Where the diagram's canvas is on the page: on screen, on top (not under another element), and inside its node's own
# element when nodes are Vue components.
PLACE_JS = """(() => {
    const node = window.__ivNode, canvas = node.ivWidget.element.querySelector("canvas");
    const r = canvas.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(20, r.height / 2));
    return { width: r.width, height: r.height, onTop: hit === canvas,
             vueNode: canvas.closest("[data-node-id]")?.dataset.nodeId ?? null, node: String(node.id) };
})()"""


@pytest.mark.parametrize("vue_nodes", [False, True], ids=["classic", "vue-nodes"])
def test_diagram_drawn_and_following_edits_in_both_node_modes(page, vue_nodes, tmp_path):
    """With the classic canvas and with "Nodes 2.0" (Vue nodes, which never call a node's onDrawForeground), the MIGA
    chain's diagram is drawn on screen (pixels of the plan on the canvas the editor shows, inside the node's own
    element in Vue mode), and follows edits made away from FIFO Queue Init: a wire removed and put back further down
    the chain, and the latent's length changed in its own widget (the editor reports the edit when the mouse is
    released)."""
    if vue_nodes and version(page) < (1, 58):
        pytest.skip(f"frontend {page.frontend}: Vue nodes are a hidden experiment there, without DOM widgets")
    page.evaluate(f"app.extensionManager.setting.set('Comfy.VueNodes.Enabled', {json.dumps(vue_nodes)})")
    try:
        page.evaluate(BUILD_MIGA_JS)
        # the editor records the built graph when the mouse is released (as after building it by hand)
        state = page.evaluate("(async () => { window.dispatchEvent(new MouseEvent('mouseup')); "
                              "window.__ivNode.widgets[0].callback?.(0); "
                              "return await window.__ivNode.ivQueueReady; })()")
        assert state["plan"]["window"] == 21
        page.evaluate("(async () => { app.canvas.ds.offset = [0, 60]; app.canvas.ds.scale = 1; "
                      "app.graph.setDirtyCanvas(true, true); await new Promise((r) => setTimeout(r, 800)); })()")
        place = page.evaluate(PLACE_JS)
        assert place["width"] > 300 and place["height"] > 200 and place["onTop"], place
        assert place["vueNode"] == (place["node"] if vue_nodes else None), place
        drawn = page.evaluate(PIXELS_JS)
        assert drawn["panel"] == drawn["panelColor"] and min(drawn["text"]) > 150
        assert drawn["lines"][0].startswith("MIGA: 308 latents (44 groups of 7)")
        assert len(drawn["bars"]) == state["plan"]["slots"] and all(b["height"] > 0 for b in drawn["bars"])
        assert all(rgb in drawn["writeColors"] for rgb in drawn["writes"])
        page.screenshot(tmp_path / f"miga_{'vue' if vue_nodes else 'classic'}.png")

        unwire = """(async () => {
            const [refl, guid] = ["InfiniteVideo_SelfReflection", "InfiniteVideo_LongRangeGuidance"]
                .map((t) => app.graph.nodes.find((n) => n.comfyClass === t));
            %s;
            return await window.__ivNode.ivQueueReady;
        })()"""
        state = page.evaluate(unwire % "refl.disconnectOutput(0)")
        assert "connect the chain to Infinite Video Sampler's queue input" in state["hint"]
        state = page.evaluate(unwire % "refl.connect(0, guid, 'queue')")
        assert state["plan"]["window"] == 21

        page.evaluate("""(() => {
            const latent = app.graph.nodes.find((n) => n.comfyClass === "EmptyHunyuanLatentVideo");
            latent.widgets.find((w) => w.name === "length").value = 57;  // 15 latent frames
            window.dispatchEvent(new MouseEvent("mouseup"));
        })()""")
        page.wait_for("window.__ivNode.ivQueue?.plan?.window === 15", timeout=10)
        assert page.evaluate(PIXELS_JS)["lines"][0].startswith("MIGA: ")
    finally:
        page.evaluate("app.extensionManager.setting.set('Comfy.VueNodes.Enabled', false)")


BUILD_CONTINUATION_JS = """(() => {
    app.graph.clear();
    const add = (type, x, y) => { const n = LiteGraph.createNode(type); n.pos = [x, y]; app.graph.add(n); return n; };
    const fifo = add("InfiniteVideo_FIFOQueueInit", 40, 40);
    const cont = add("InfiniteVideo_Continuation", 560, 40);
    const sampler = add("InfiniteVideo_Sampler", 1000, 40);
    fifo.connect(0, cont, "queue");
    cont.connect(0, sampler, "queue");
    const set = (n, name, v) => { n.widgets.find((w) => w.name === name).value = v; };
    set(fifo, "window_length", 21);
    set(cont, "chunk", 12);
    set(cont, "anchors", 3);
    window.__ivNode = fifo;
    window.__ivCont = cont;
})()"""


def test_continuation_chain_draws_its_window(page, tmp_path):
    """FIFO Queue Init -> Chunked Continuation -> sampler: one diagram (under FIFO Queue Init) draws the chunk's window
    (anchors in the guidance colour, the newest finished latents grey, the new chunk at fresh noise), says what fills
    the window and the calls per output latent; a change on the continuation node redraws it, and a chunk that does
    not fit shows the node's own error."""
    page.evaluate(BUILD_CONTINUATION_JS)
    state = page.evaluate("(async () => { window.__ivNode.widgets[0].callback?.(21); "
                          "return await window.__ivNode.ivQueueReady; })()")
    # the node's defaults: tracked context, later chunks over the last half of the ladder
    want = jsonable(plan_chain(QueueConfig(21, 2, True, "noise", continuation=ContinuationConfig(
        12, 3, 24, track=TRACK_GAIN, denoise=0.5)), 21))
    assert state["plan"] == want and state["warnings"] == []
    drawn = page.evaluate(PIXELS_JS)
    text = " ".join(drawn["lines"])
    assert text.startswith("Chunked Continuation: window 21 = 3 anchors + 6 newest finished + 12 new latents, 42 "
                           "steps per chunk"), text
    assert "1.8 model calls per output frame (21 steps / chunk 12)" in text
    assert "later chunks start from the newest finished latent at step 21 of 42 (denoise: they run the last 21)" in text
    assert "tracked context: every frame at the chunk's level" in text
    assert "anchors: output latents 0, 24, 48" in text
    bars = drawn["bars"]
    assert [b["bottom"] for b in bars[:3]] == [[128, 222, 234]] * 3  # anchors: the guidance colour
    assert [b["bottom"] for b in bars[3:9]] == [[138, 138, 138]] * 6  # newest finished: grey, like FIFO's context
    assert len({b["height"] for b in bars[9:]}) == 1 and bars[9]["height"] > 4 * bars[0]["height"]  # noise, one level
    assert drawn["writes"] == [drawn["writeColors"][0]] and drawn["shownWrites"] == [drawn["writeColors"][0]]
    page.screenshot(tmp_path / "continuation.png")

    state = set_widgets(page, {"anchors": 5}, node="window.__ivCont")
    assert state["plan"]["anchors"] == [0, 24, 48, 72, 96] and state["plan"]["recent"] == 4
    state = set_widgets(page, {"chunk": 16}, node="window.__ivCont")
    assert "Chunked Continuation: continuation anchors 5 must be in [0, window - chunk - 1 = 4]" in state["error"]
    # what the node saves and queues: its widget values, nothing of the diagram's
    saved = page.evaluate("app.graph.serialize().nodes.find((n) => n.id == window.__ivCont.id).widgets_values")
    assert saved == [16, 5, 24, 1, "tracked", 0.5]
    state = set_widgets(page, {"chunk": 12, "anchors": 3, "context": "clean", "denoise": 1.0}, node="window.__ivCont")
    assert state["plan"] == jsonable(plan_chain(QueueConfig(21, 2, True, "noise", continuation=ContinuationConfig(
        12, 3, 24)), 21))
    text = " ".join(page.evaluate(PIXELS_JS)["lines"])
    assert "3.5 model calls per output frame (42 steps / chunk 12)" in text and "tracked" not in text
    # two chunks in flight (the node option): the older one half way down the ladder (a shorter bar)
    state = set_widgets(page, {"chunk": 5, "anchors": 4, "in_flight": 2}, node="window.__ivCont")
    assert state["plan"] == jsonable(plan_chain(QueueConfig(21, 2, True, "noise", continuation=ContinuationConfig(
        5, 4, 24, in_flight=2)), 21)) and state["plan"]["levels"][-10:] == [21] * 5 + [0] * 5
    drawn = page.evaluate(PIXELS_JS)
    text = " ".join(drawn["lines"])
    assert "window 21 = 4 anchors + 7 newest finished + 2 chunks of 5 in flight" in text, text
    assert "4.2 model calls per output frame (a chunk of 5 leaves every 21 calls: 42 steps, 2 in flight)" in text
    heights = [b["height"] for b in drawn["bars"][11:]]
    assert len(set(heights[:5])) == len(set(heights[5:])) == 1 and heights[0] < heights[5]  # older: less noise


def test_window_zero_says_which_latent_it_waits_for(page):
    add_fifo(page)
    state = set_widgets(page, {"window_length": 0})
    assert "connect the chain to Infinite Video Sampler" in state["hint"]
    state = page.evaluate("""(async () => {
        const fifo = window.__ivNode;
        const sampler = LiteGraph.createNode("InfiniteVideo_Sampler"); sampler.pos = [600, 60]; app.graph.add(sampler);
        fifo.connect(0, sampler, "queue");
        const custom = LiteGraph.createNode("EmptyLatentImage"); custom.pos = [60, 400]; app.graph.add(custom);
        custom.title = "My latent";
        custom.connect(0, sampler, "latent_image");
        fifo.widgets[0].callback?.(0);
        return await fifo.ivQueueReady;
    })()""")
    assert 'waiting for the latent from "My latent"' in state["hint"]


def test_legible_at_60_percent_zoom_and_in_the_light_theme(page, tmp_path):
    """The panel's text is at least the editor's readability threshold at 60% zoom (the frontend's own
    min_font_size_for_lod, below which it stops drawing text), the node still draws at that zoom, and in the light
    palette the text keeps its contrast on the diagram's own panel."""
    page.evaluate(BUILD_MIGA_JS)
    page.evaluate("(async () => { window.__ivNode.widgets[0].callback?.(0); await window.__ivNode.ivQueueReady; })()")
    font = page.evaluate("""(async () => {
        const urls = await (await fetch("/api/extensions")).json();
        return (await import(urls.find((u) => u.endsWith("/queue_diagram.js")))).FONT_PX;
    })()""")
    assert font * 0.6 >= page.evaluate("app.canvas.min_font_size_for_lod")
    page.evaluate("(async () => { app.canvas.ds.offset = [20, 20]; app.canvas.ds.scale = 0.6; "
                  "app.canvas.ds.onChanged?.(0.6, app.canvas.ds.offset); app.graph.setDirtyCanvas(true, true); "
                  "await new Promise((r) => setTimeout(r, 500)); })()")
    assert page.evaluate("app.canvas.low_quality") is False
    # the diagram's canvas is on screen at that zoom, its text scaled with the node
    shown = page.evaluate("""(() => {
        const canvas = window.__ivNode.ivWidget.element.querySelector("canvas"), r = canvas.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + 10);
        return { scale: r.width / canvas.offsetWidth, onTop: hit === canvas, visible: r.width > 0 && r.height > 0 };
    })()""")
    assert shown["visible"] and shown["onTop"] and abs(shown["scale"] - 0.6) < 0.01, shown
    page.screenshot(tmp_path / "zoom_60.png")

    page.evaluate("(async () => { await app.extensionManager.setting.set('Comfy.ColorPalette', 'light'); "
                  "app.graph.setDirtyCanvas(true, true); await new Promise((r) => setTimeout(r, 500)); })()")
    assert page.evaluate("app.extensionManager.setting.get('Comfy.ColorPalette')") == "light"
    drawn = page.evaluate(PIXELS_JS)
    assert drawn["panel"] == drawn["panelColor"]
    assert min(drawn["text"]) > 150  # light text on the dark panel, whatever the palette's node colours
    page.screenshot(tmp_path / "light_theme.png")
    page.evaluate("app.extensionManager.setting.set('Comfy.ColorPalette', 'dark')")


def load_workflow(page, workflow: dict) -> dict:
    return page.evaluate(f"""(async () => {{
        // no missing-models dialog here (the server has no model files): it would stay open over later tests
        await app.loadGraphData({json.dumps(workflow)}, true, true, null, {{showMissingModelsDialog: false}});
        const node = app.graph.nodes.find((n) => n.comfyClass === "InfiniteVideo_FIFOQueueInit");
        window.__ivNode = node;
        return node ? await node.ivQueueReady : null;
    }})()""")


RECTS_JS = """(() => app.graph.nodes.map((n) => {
    const [w, h] = [Math.max(n.size[0], n.computeSize()[0]), Math.max(n.size[1], n.computeSize()[1])];
    return {id: n.id, title: n.title, x: n.pos[0], y: n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT, w,
            h: h + LiteGraph.NODE_TITLE_HEIGHT};
}))()"""


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=lambda p: p.stem)
def test_shipped_workflow_loads_draws_its_plan_and_no_nodes_overlap(page, path):
    """Every UI workflow opens with its queue diagram drawn (no hint, no error) and no node covering another, at the
    sizes the editor gives the nodes (the saved size, or larger where the widgets or the diagram need it)."""
    workflow = json.loads(path.read_text())
    state = load_workflow(page, workflow)
    if state is not None:
        assert "plan" in state, state
    rects = page.evaluate(RECTS_JS)
    overlaps = [(a["title"], b["title"]) for i, a in enumerate(rects) for b in rects[i + 1:]
                if a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"]
                and b["y"] < a["y"] + a["h"]]
    assert not overlaps, overlaps


# The Note as the user meets it: its textarea's font size times the zoom the workflow opens at (the frontend scales the
# DOM widget layer with the canvas), and whether its first line is on top where it is drawn (not under the tabs or
# another element).
NOTE_JS = """(async () => {
    await new Promise((r) => setTimeout(r, 300));  // DOM widgets follow the canvas on the next frames
    const notes = app.graph.nodes.filter((n) => n.type === "Note");
    const w = notes[0].widgets[0], ta = w.element ?? w.inputEl;
    const r = ta.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + 24, r.top + 8);
    return { count: notes.length, text: ta.value, zoom: app.canvas.ds.scale,
             px: parseFloat(getComputedStyle(ta).fontSize) * r.width / ta.offsetWidth,
             onTop: hit === ta, top: r.top, left: r.left, viewport: [innerWidth, innerHeight] };
})()"""

# What the pack's diagram says on a node, with the colours it draws each line in (the extension's own layout).
DIAGRAM_LINES_JS = """(async () => {
    const urls = await (await fetch("/api/extensions")).json();
    const { layout, COLORS } = await import(urls.find((u) => u.endsWith("/queue_diagram.js")));
    const ctx = new OffscreenCanvas(8, 8).getContext("2d");
    return app.graph.nodes.filter((n) => n.ivQueue && n.comfyClass === "InfiniteVideo_FIFOQueueInit").map((n) => ({
        view: n.ivQueue,
        lines: layout(n, n.ivQueue, ctx).text.map(([t, color]) => ({ t,
            warning: color === COLORS.ignored || color === COLORS.error }))
    }));
})()"""


@pytest.mark.parametrize("path", UI_WORKFLOWS, ids=lambda p: p.stem)
def test_template_opens_on_a_readable_note_that_says_what_to_do_and_no_warning(page, path):
    """Every template opens (at its saved zoom) on one Note whose text is at least 11 px on screen, whose first line
    is in view, and whose first lines are numbered steps in plain words: press Run, and where the video is written;
    the pack's diagram shows a plan with no warning (no error, no ignored setting the template set)."""
    workflow = json.loads(path.read_text())
    load_workflow(page, workflow)
    note = page.evaluate(NOTE_JS)
    assert note["count"] == 1
    assert note["zoom"] == workflow["extra"]["ds"]["scale"]
    assert note["px"] >= 11, f"Note text is {note['px']:.1f} px on screen at zoom {note['zoom']}"
    assert note["onTop"] and 0 <= note["left"] and 0 <= note["top"] < note["viewport"][1] / 3, note
    head = note["text"].split("-- Details --")[0]
    steps = [line for line in head.splitlines() if line.strip()]
    assert steps[0].startswith("1. ") and len(steps) <= 5, steps
    assert any(line.split(". ", 1)[1].startswith("Press Run") for line in steps[:2]), steps
    assert "ComfyUI/output/infinite-video/" in head and "-- Details --" in note["text"]
    for diagram in page.evaluate(DIAGRAM_LINES_JS):
        assert "plan" in diagram["view"] and not diagram["view"]["warnings"], diagram["view"]
        assert not [line["t"] for line in diagram["lines"] if line["warning"]]


def test_starter_diagram_names_what_runs_once_per_chain(page, tmp_path):
    """The starter (FIFO Queue Init -> Self-Reflection -> Long-Range Guidance -> sampler) runs MIGA's parts on FIFO's
    diagonal queue: the diagram says so (not "MIGA ... groups of 1"), and it is drawn once, under FIFO Queue Init,
    not again at the end of the chain, with every node of the chain on screen."""
    load_workflow(page, json.loads((PACK_ROOT / "example_workflows" / f"{STARTER}.json").read_text()))
    (diagram,) = page.evaluate(DIAGRAM_LINES_JS)
    text = " ".join(line["t"] for line in diagram["lines"])  # the panel wraps long lines
    assert text.startswith("FIFO + Self-Reflection + Long-Range Guidance: 27 latents, 27 steps"), text
    assert "groups of" not in text and "MIGA" not in text
    draws = page.evaluate("""(async () => {
        const chain = ["InfiniteVideo_FIFOQueueInit", "InfiniteVideo_SelfReflection", "InfiniteVideo_LongRangeGuidance"]
            .map((t) => app.graph.nodes.find((n) => n.comfyClass === t));
        const x0 = Math.min(...chain.map((n) => n.pos[0])), y0 = Math.min(...chain.map((n) => n.pos[1]));
        const y1 = Math.max(...chain.map((n) => n.pos[1] + n.size[1]));
        const el = app.canvas.canvas, scale = Math.min(0.6, (el.clientHeight - 120) / (y1 - y0 + 60));
        app.canvas.ds.scale = scale;
        app.canvas.ds.offset = [-x0 + 80 / scale, -y0 + 100 / scale];
        app.graph.setDirtyCanvas(true, true);
        await new Promise((r) => setTimeout(r, 600));
        return chain.map((n) => [n.comfyClass, n.ivDraws ?? 0, n.isPointInside?.(n.pos[0] + 1, n.pos[1] + 1)]);
    })()""")
    page.screenshot(tmp_path / "starter_diagram.png")
    assert [(t, d > 0) for t, d, _ in draws] == [("InfiniteVideo_FIFOQueueInit", True),
                                                 ("InfiniteVideo_SelfReflection", False),
                                                 ("InfiniteVideo_LongRangeGuidance", False)], draws


def test_missing_models_dialog_offers_the_official_downloads(page):
    """A real-model workflow opened on a server without its files gets the editor's missing-models report, listing
    each file with its folder and a download of the loaders' ``properties.models`` URL, not only "Value not in list"
    at Run: a dialog with links in the pinned frontend, the issues panel's Missing Models list in 1.58 (opened from
    the "issues found" notice), whose Download buttons open those URLs."""
    wf = json.loads((PACK_ROOT / "example_workflows" / f"{CONTINUATION_WAN21}.json").read_text())
    models = [m for n in wf["nodes"] for m in n.get("properties", {}).get("models", [])]
    assert len(models) == 3
    page.evaluate(f"app.loadGraphData({json.dumps(wf)}).then(() => true)")
    if version(page) < (1, 58):
        text = page.wait_for("(() => { const t = document.body.innerText; "
                             f"return t.includes({json.dumps(models[0]['name'])}) && t; }})()", timeout=30)
        for m in models:
            assert f"{m['directory']} / {m['name']}" in text
        links = page.evaluate("Array.from(document.querySelectorAll('[title^=\"https://huggingface.co/\"]'))"
                              ".map((e) => e.title)")
        assert set(links) == {m["url"] for m in models}
        page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
        return
    page.wait_for("[...document.querySelectorAll('button')].some((b) => b.innerText.trim() === 'View details')",
                  timeout=30)
    page.evaluate("[...document.querySelectorAll('button')].find((b) => b.innerText.trim() === 'View details').click()")
    text = page.wait_for("""(() => {
        const t = document.body.innerText;
        const buttons = document.querySelectorAll('[data-testid="missing-model-download"]');
        return buttons.length && t.includes("Missing Models") && t;
    })()""", timeout=30)
    for m in models:  # each file, with its folder on the line under it
        assert f"{m['name']}\n{m['directory']}\nDownload" in text, (m, text)
    # Download opens the URL (as a link the browser follows): capture the links instead of following them
    opened = page.evaluate("""(async () => {
        const opened = [], click = HTMLAnchorElement.prototype.click;
        HTMLAnchorElement.prototype.click = function () { opened.push(this.href); };
        try {
            for (const b of document.querySelectorAll('[data-testid="missing-model-download"]')) b.click();
            await new Promise((r) => setTimeout(r, 300));
        } finally { HTMLAnchorElement.prototype.click = click; }
        return opened;
    })()""")
    assert sorted(opened) == sorted(m["url"] for m in models)
    page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
