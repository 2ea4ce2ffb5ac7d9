// Queue diagram on "FIFO Queue Init": the FIFO-Diffusion queue its widgets describe, drawn under the widgets.
//
// The plan comes from the server (GET /api/infinite_video/fifo_plan, nodes/routes.py), which answers
// samplers/plan.py's FifoPlan.to_dict(): the same plan the sampler runs and the tests check, so nothing here
// re-derives the schedule. Left is the clean end: grey slots are finished context (lookahead padding), the white
// one is the head (it leaves next), the tail on the right is fresh noise; each bar's height is the slot's noise level. Under the bars, one row per model call of an iteration, in processing order:
// the thin line is what the window reads, the thick bar what it writes back.
//
// Drawn with onDrawForeground, not a widget: nothing is added to the node's widgets_values, so saved workflows and
// API prompts are unchanged.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const NODE_CLASS = "InfiniteVideo_FIFOQueueInit";
const WIDGETS = ["window_length", "partitions", "lookahead", "init_mode"];
const HEIGHT = 150; // px under the widgets
const PAD = 10;
const TEXT = 20; // px of the summary line above the drawing

/** One line of text for a plan (FifoPlan.to_dict()). */
export function summarize(plan) {
  const calls = plan.windows.length;
  return (
    `${plan.queue} frames in the queue, ${plan.steps} steps each, ${calls} model call${calls === 1 ? "" : "s"} ` +
    `per output frame, ${plan.warmup} warm-up frames`
  );
}

/**
 * Where the drawing of `plan` sits on `node`, in node-local px: the box (x, y, w, h), the bar area's height `barsH`
 * (bars stand on its bottom), the column width `cw` of one slot, and the window rows (`rowsTop`, `rowH`).
 */
export function layout(node, plan) {
  const x = PAD;
  const y = node.size[1] - HEIGHT + TEXT;
  const w = node.size[0] - 2 * PAD;
  const h = HEIGHT - TEXT - 8;
  const barsH = h * 0.55;
  const rowsTop = y + barsH + 4;
  return { x, y, w, h, barsH, cw: w / plan.slots, rowsTop, rowH: (y + h - rowsTop) / Math.max(plan.windows.length, 1) };
}

/** Draw `plan` into a 2D context at the box of `layout`. */
export function drawQueue(ctx, plan, box) {
  const { x, y, w, h, barsH, cw, rowsTop, rowH } = box;
  const slots = plan.slots;
  ctx.save();
  ctx.fillStyle = "#1b1b1b";
  ctx.fillRect(x, y, w, h);
  for (let s = 0; s < slots; s++) {
    const noise = 1 - plan.levels[s] / plan.steps; // 0 = clean, 1 = pure noise
    const bh = Math.max(3, noise * barsH); // clean slots still show
    const padding = s < plan.pad;
    ctx.fillStyle = padding ? "#555" : s === plan.head ? "#fff" : `hsl(${210 - 170 * noise}, 70%, 55%)`;
    ctx.fillRect(x + s * cw + 0.5, y + barsH - bh, Math.max(1, cw - 1), bh);
  }
  plan.windows.forEach((win, k) => {
    const ry = rowsTop + k * rowH + rowH / 2;
    ctx.fillStyle = "#888";
    ctx.fillRect(x + win.start * cw, ry - 0.5, (win.stop - win.start) * cw, 1);
    ctx.fillStyle = k % 2 ? "#ffb74d" : "#ff8a65";
    ctx.fillRect(x + win.write_start * cw, ry - Math.max(1, rowH * 0.3), (win.write_stop - win.write_start) * cw,
                 Math.max(2, rowH * 0.6));
  });
  ctx.restore();
}

function widgetValues(node) {
  const values = {};
  for (const name of WIDGETS) {
    const widget = node.widgets?.find((w) => w.name === name);
    if (widget) values[name] = widget.value;
  }
  return values;
}

/** Fetch the plan for the node's current widget values; keeps only the newest answer. */
async function refresh(node) {
  const token = (node.ivQueueToken = (node.ivQueueToken ?? 0) + 1);
  const values = widgetValues(node);
  if (values.window_length === 0) {
    // the default: the window is the sampler latent's frame count, unknown here
    node.ivQueue = { hint: "window_length 0 = the sampler latent's frame count; set it to draw the queue", values };
    node.setDirtyCanvas(true, true);
    return node.ivQueue;
  }
  const query = new URLSearchParams(
    Object.entries(values).map(([k, v]) => [k, String(v)])
  ).toString();
  let state;
  try {
    const res = await api.fetchApi(`/infinite_video/fifo_plan?${query}`);
    const body = await res.json();
    state = res.ok ? { plan: body, summary: summarize(body) } : { error: body.error ?? `HTTP ${res.status}` };
  } catch (e) {
    state = { error: `queue diagram unavailable: ${e}` };
  }
  if (token !== node.ivQueueToken) return node.ivQueue; // a newer refresh is on its way
  node.ivQueue = { ...state, values };
  node.setDirtyCanvas(true, true);
  return node.ivQueue;
}

function minHeight(node) {
  return node.computeSize()[1] + HEIGHT;
}

/** Keep room for the diagram under the widgets (new nodes, workflows saved before it existed). */
function fit(node) {
  node.setSize([Math.max(node.size[0], 340), Math.max(node.size[1], minHeight(node))]);
}

function setUp(node) {
  fit(node);
  const redraw = () => {
    node.ivQueueReady = refresh(node);
  };
  for (const widget of node.widgets ?? []) {
    if (!WIDGETS.includes(widget.name)) continue;
    const callback = widget.callback;
    widget.callback = function (...args) {
      const out = callback?.apply(this, args);
      redraw();
      return out;
    };
  }
  const onConfigure = node.onConfigure;
  node.onConfigure = function (...args) {
    const out = onConfigure?.apply(this, args);
    fit(this); // the saved size may predate the diagram
    redraw(); // widget values restored from a saved workflow
    return out;
  };
  const onResize = node.onResize;
  node.onResize = function (size) {
    const out = onResize?.apply(this, arguments);
    size[1] = Math.max(size[1], minHeight(this));
    return out;
  };
  const onDrawForeground = node.onDrawForeground;
  node.onDrawForeground = function (ctx) {
    const out = onDrawForeground?.apply(this, arguments);
    if (this.flags?.collapsed) return out;
    const state = this.ivQueue;
    ctx.save();
    ctx.font = "11px sans-serif";
    ctx.fillStyle = state?.error ? "#ff7961" : "#bbb";
    const text = state?.error ?? state?.summary ?? state?.hint ?? "queue: loading...";
    ctx.fillText(text, PAD, this.size[1] - HEIGHT + 12, this.size[0] - 2 * PAD);
    if (state?.plan) drawQueue(ctx, state.plan, layout(this, state.plan));
    ctx.restore();
    return out;
  };
  redraw();
}

app.registerExtension({
  name: "infinite_video.QueueDiagram",
  nodeCreated(node) {
    if (node.comfyClass === NODE_CLASS) setUp(node);
  },
});
