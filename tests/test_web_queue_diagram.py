"""The queue diagram on FIFO Queue Init: the plan route on the real server, and the extension in a real browser.

The route answers ``plan_fifo(...).to_dict()``, so the drawing, the sampler and the tests share one plan. The browser
test loads ComfyUI's own frontend from a real server in headless Chromium (Debian's ``chromium``; skipped, with the
reason, where there is none), adds the node, changes its widgets, reads the pixels the extension draws, loads a
shipped workflow, and checks that nothing the node saves or queues changed.
"""

from __future__ import annotations

import json

import pytest

from browser import Browser, find_chromium
from comfy_server import PACK_ROOT, start_server
from infinite_video.samplers.plan import plan_fifo

pytestmark = pytest.mark.host

ROUTE = "/api/infinite_video/fifo_plan"


def plan_query(window, partitions, lookahead, init="noise") -> str:
    return f"{ROUTE}?window_length={window}&partitions={partitions}&lookahead={str(lookahead).lower()}&init_mode={init}"


@pytest.mark.parametrize("window,partitions,lookahead,init", [(4, 2, True, "noise"), (5, 3, True, "clip"),
                                                              (21, 2, False, "noise")])
def test_plan_route_answers_the_sampler_plan(comfy_server, window, partitions, lookahead, init):
    status, body = comfy_server.request("GET", plan_query(window, partitions, lookahead, init))
    assert status == 200
    assert body == json.loads(json.dumps(plan_fifo(window, partitions, lookahead, init).to_dict()))


@pytest.mark.parametrize("query,message", [
    ("window_length=4&partitions=0&lookahead=true&init_mode=noise", "partitions must be at least 1"),
    ("window_length=0&partitions=2&lookahead=true&init_mode=noise", "set window_length to draw the queue"),
    ("window_length=four&partitions=2&lookahead=true&init_mode=noise", "window_length must be an integer"),
    ("window_length=4&partitions=2&lookahead=maybe&init_mode=noise", "lookahead must be true or false"),
    ("window_length=4&partitions=2&lookahead=true&init_mode=warp", "Unknown init mode 'warp'"),
    ("window_length=4&partitions=2&lookahead=true", "missing init_mode"),
    ("window_length=4&partitions=2&init_mode=noise", "missing lookahead"),
])
def test_plan_route_names_the_bad_input(comfy_server, query, message):
    status, body = comfy_server.request("GET", f"{ROUTE}?{query}")
    assert status == 400 and message in body["error"]


# -- in the browser --------------------------------------------------------------------------------------------------

# Reads the pixels the node's onDrawForeground draws into an offscreen canvas, at the geometry the extension's own
# layout() gives (imported from the module the frontend loaded: the same instance, nothing registered twice).
PIXELS_JS = """
(async () => {
  const urls = await (await fetch("/api/extensions")).json();  // what the frontend imported, by the same URL
  const { layout } = await import(urls.find((u) => u.endsWith("/queue_diagram.js")));
  if (app.extensions.filter((e) => e.name === "infinite_video.QueueDiagram").length !== 1) throw "loaded twice";
  const node = window.__ivNode;
  const [W, H] = [Math.ceil(node.size[0]), Math.ceil(node.size[1])];
  const canvas = new OffscreenCanvas(W, H);
  const ctx = canvas.getContext("2d");
  node.onDrawForeground(ctx);
  const plan = node.ivQueue.plan;
  const { x, y, cw, barsH, rowsTop, rowH } = layout(node, plan);
  const px = (X, Y) => Array.from(ctx.getImageData(Math.floor(X), Math.floor(Y), 1, 1).data.slice(0, 3));
  const bars = [];
  for (let s = 0; s < plan.slots; s++) {
    const cx = x + (s + 0.5) * cw;
    let top = 0;  // drawn bar height: rows from the bottom of the bar area up to the background
    while (top < barsH && px(cx, y + barsH - 1 - top).join() !== "27,27,27") top++;
    bars.push({bottom: px(cx, y + barsH - 2), height: top});
  }
  const writes = plan.windows.map((win, k) =>
    px(x + (win.write_start + win.write_stop) / 2 * cw, rowsTop + k * rowH + rowH / 2));
  return {bars, writes};
})()
"""


def set_widgets(page, values: dict) -> dict:
    """Set FIFO Queue Init's widgets as a user would (value + callback); returns the diagram's state."""
    return page.evaluate(f"""(async () => {{
        const node = window.__ivNode;
        for (const [name, value] of Object.entries({json.dumps(values)})) {{
            const w = node.widgets.find((w) => w.name === name);
            w.value = value;
            w.callback?.(value);
        }}
        return await node.ivQueueReady;
    }})()""")


@pytest.fixture(scope="module")
def page(comfy_host):
    if find_chromium() is None:
        pytest.skip("no Chromium: the web-extension test needs a headless browser (apt-get install chromium, or set "
                    "$CHROMIUM)")
    with start_server(comfy_host, custom_nodes={"infinite-video": PACK_ROOT}, frontend=True) as server:
        server.request("POST", "/api/settings/Comfy.TutorialCompleted", True)  # no template dialog on first start
        with Browser.start() as browser:
            browser.navigate(server.url)
            browser.wait_for("!!(window.app?.graph && window.LiteGraph?.registered_node_types"
                             "?.InfiniteVideo_FIFOQueueInit && app.extensions.some("
                             "(e) => e.name === 'infinite_video.QueueDiagram'))")
            yield browser
            ours = [e for e in browser.errors if "queue_diagram" in e]
            assert not ours, ours


def test_diagram_follows_the_widgets_and_draws_the_plan(page, tmp_path):
    page.evaluate("""(() => {
        const node = LiteGraph.createNode("InfiniteVideo_FIFOQueueInit");
        node.pos = [60, 60];
        app.graph.add(node);
        window.__ivNode = node;
        return node.id;
    })()""")
    state = set_widgets(page, {"window_length": 4, "partitions": 2, "lookahead": True, "init_mode": "noise"})
    plan = plan_fifo(4, 2, True, "noise")
    assert state["plan"] == json.loads(json.dumps(plan.to_dict()))
    assert state["summary"] == "8 frames in the queue, 8 steps each, 4 model calls per output frame, 8 warm-up frames"

    drawn = page.evaluate(PIXELS_JS)
    bars = drawn["bars"]
    assert [b["bottom"] for b in bars[:plan.pad]] == [[85, 85, 85]] * plan.pad  # padding: finished context, grey
    assert bars[plan.head]["bottom"] == [255, 255, 255]  # the head (leaves next): white
    heights = [b["height"] for b in bars]
    assert heights[plan.head] < heights[-1] and heights[plan.head:] == sorted(heights[plan.head:])  # noise grows
    assert len(set(heights[plan.head:])) == plan.queue  # one level per frame
    for rgb in drawn["writes"]:  # every window's write region is drawn on its row
        assert rgb in ([255, 138, 101], [255, 183, 77])

    # a bad value shows the route's error, naming the input; fixing it brings the diagram back
    state = set_widgets(page, {"partitions": 0})
    assert "partitions must be at least 1" in state["error"] and "plan" not in state
    state = set_widgets(page, {"partitions": 3, "lookahead": False})
    assert state["plan"] == json.loads(json.dumps(plan_fifo(4, 3, False, "noise").to_dict()))
    assert len(page.evaluate(PIXELS_JS)["writes"]) == 3

    # what the node saves and queues is unchanged: four widget values, four inputs
    saved = page.evaluate("app.graph.serialize().nodes.find((n) => n.id === window.__ivNode.id).widgets_values")
    assert saved == [4, 3, False, "noise"]
    inputs = page.evaluate("(async () => (await app.graphToPrompt()).output[String(window.__ivNode.id)].inputs)()")
    assert inputs == {"window_length": 4, "partitions": 3, "lookahead": False, "init_mode": "noise"}
    page.screenshot(tmp_path / "queue_diagram.png")


def load_workflow(page, workflow: dict) -> dict:
    return page.evaluate(f"""(async () => {{
        await app.loadGraphData({json.dumps(workflow)});
        const node = app.graph.nodes.find((n) => n.comfyClass === "InfiniteVideo_FIFOQueueInit");
        window.__ivNode = node;
        return await node.ivQueueReady;
    }})()""")


def test_diagram_of_a_loaded_workflow(page):
    """A shipped workflow keeps the default window_length 0 (the latent's length): a hint, no request; the same
    workflow saved with a window draws that window's plan as soon as it is loaded."""
    workflow = json.loads((PACK_ROOT / "example_workflows" / "fifo_wan21_t2v.json").read_text())
    (node,) = [n for n in workflow["nodes"] if n["type"] == "InfiniteVideo_FIFOQueueInit"]
    assert node["widgets_values"][0] == 0
    state = load_workflow(page, workflow)
    assert "set it to draw the queue" in state["hint"] and "plan" not in state and "error" not in state

    node["widgets_values"][0] = 9
    window, partitions, lookahead, init = node["widgets_values"]
    state = load_workflow(page, workflow)
    assert state["values"] == {"window_length": window, "partitions": partitions, "lookahead": lookahead,
                               "init_mode": init}
    assert state["plan"] == json.loads(json.dumps(plan_fifo(window, partitions, lookahead, init).to_dict()))
    # the workflow was saved before the diagram existed: the node grows to make room under its widgets
    assert node["size"][1] < 150
    room = page.evaluate("window.__ivNode.size[1] - window.__ivNode.computeSize()[1]")
    assert room >= 150
