// Queue diagram: the plan of the whole queue chain (FIFO Queue Init -> [Zigzag Stage] -> [Unified Stage] ->
// [Self-Reflection] -> [Long-Range Guidance] -> sampler), drawn once per chain, under the widgets of its FIFO Queue
// Init.
//
// The plan comes from the server (POST /api/infinite_video/chain_plan, nodes/chain_route.py), which builds the chain
// with the nodes' own execute() and lays it out with samplers/chain_plan.py, from the functions the samplers run: the
// picture, the figures and the run cannot disagree, and an impossible setting shows the engine's own error text.
// With window_length 0 the window is the frame count of the latent wired to the sampler: read from that latent's
// node when it is a known empty/image-to-video latent, otherwise the diagram says which latent it waits for.
//
// Requests are debounced and the server answers impossible settings with 200 {"error"}: typing does not spam the
// console. The first line names what runs (the plan's title: FIFO, FIFO + Self-Reflection, MIGA, ...); a setting
// the run ignores is named in yellow only when it was changed from its default (the route's `warnings`), so a
// workflow that keeps the defaults opens without a warning. The model calls of one sweep are drawn as one row of
// the ranges they write (together they cover the queue) and, below it, the first calls in full (what each reads,
// writes and takes as guidance), with the count. Drawn on a canvas of its own (a DOM widget: both node renderers
// show it), on a dark panel (legible in the light and dark palettes; text at 14 px stays above the editor's 8 px
// readability threshold at 60% zoom); nothing is added to widgets_values, so saved workflows and API prompts are
// unchanged.
// A Chunked Continuation chain (FIFO Queue Init -> Chunked Continuation -> sampler) is drawn as its one window: the
// anchors (cyan), the newest finished latents (grey), the chunks in flight (the oldest furthest down the ladder, the
// newest at fresh noise), and the calls that read the whole window and step every chunk.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

export const START = "InfiniteVideo_FIFOQueueInit";
export const PARTS = ["InfiniteVideo_Continuation", "InfiniteVideo_ZigzagStage", "InfiniteVideo_UnifiedStage",
                      "InfiniteVideo_SelfReflection", "InfiniteVideo_LongRangeGuidance"];
const SAMPLERS = ["InfiniteVideo_Sampler"]; // takes the queue and the latent
// latent nodes whose frame count is known from their widgets: temporal compression of the model family
const LATENTS = { EmptyHunyuanLatentVideo: 4, Wan22ImageToVideoLatent: 4, WanImageToVideo: 4,
                  EmptyLTXVLatentVideo: 8, LTXVImgToVideo: 8, EmptyCosmosLatentVideo: 8,
                  CosmosPredict2ImageToVideoLatent: 4, EmptyMochiLatentVideo: 6 };
export const FONT_PX = 14;
const LINE = 18;
const PAD = 8;
const WIDTH = 460;
const DEBOUNCE_MS = 250;
export const COLORS = { panel: "#1b1b1b", text: "#e8e8e8", error: "#ff8a80", ignored: "#ffd54f", clean: "#8a8a8a",
                        head: "#ffffff", read: "#9e9e9e", write: ["#ff8a65", "#ffb74d"], memory: "#80deea" };

// -- the chain in the graph ------------------------------------------------------------------------------------------

const isPart = (node) => node && (node.comfyClass === START || PARTS.includes(node.comfyClass));

// Links are read through the node's own methods (in 1.27 and current frontends alike): the slots' `link` / `links`
// fields are deprecated in current frontends and warn in the console.
function upstream(node, name) {
  const slot = node.inputs?.findIndex((i) => i.name === name) ?? -1;
  return slot >= 0 && node.graph ? node.getInputNode(slot) : null;
}

function downstream(node) {
  return (node.outputs?.length && node.graph ? node.getOutputNodes(0) : null) ?? [];
}

/** {start, parts: [nodes in wire order], end, sampler} for the chain `node` belongs to, or null. */
export function findChain(node) {
  let start = node;
  for (let guard = 0; start && start.comfyClass !== START && guard < 32; guard++) start = upstream(start, "queue");
  if (!start || start.comfyClass !== START) return null;
  const parts = [start];
  let sampler = null;
  for (let guard = 0; guard < 32; guard++) {
    const next = downstream(parts[parts.length - 1]);
    sampler ??= next.find((n) => SAMPLERS.includes(n.comfyClass)) ?? null;
    const part = next.find((n) => PARTS.includes(n.comfyClass));
    if (!part || parts.includes(part)) break;
    parts.push(part);
  }
  return { start, parts, end: parts[parts.length - 1], sampler };
}

function widgetValues(node) {
  const values = {};
  for (const w of node.widgets ?? []) {
    if (w.name && w.type !== "button" && !w.name.startsWith("control_after") && w.options?.serialize !== false) {
      values[w.name] = w.value; // what the prompt carries (not the diagram's own widget)
    }
  }
  return values;
}

/** The latent wired to the sampler: {frames} when its node tells, else {waiting: text}. */
function latentFrames(chain) {
  if (!chain.sampler) return { waiting: "connect the chain to Infinite Video Sampler's queue input" };
  const latent = upstream(chain.sampler, "latent_image");
  if (!latent) return { waiting: "connect a latent to Infinite Video Sampler's latent_image" };
  const stride = LATENTS[latent.comfyClass];
  const length = latent.widgets?.find((w) => w.name === "length")?.value;
  if (!stride || typeof length !== "number") {
    return { waiting: `waiting for the latent from "${latent.title}": its frame count is known only when it runs` };
  }
  return { frames: Math.floor((length - 1) / stride) + 1, from: latent.title };
}

/** The request for a chain: {body} for the server, or {hint} when the window cannot be known yet. */
export function chainRequest(chain) {
  const body = { chain: chain.parts.map((n) => ({ type: n.comfyClass, inputs: widgetValues(n) })),
                 latent_frames: null };
  const latent = latentFrames(chain);
  if (latent.frames) body.latent_frames = latent.frames;
  if (body.chain[0].inputs.window_length === 0 && !latent.frames) {
    return { hint: `window_length 0 = the frame count of the latent wired to the sampler: ${latent.waiting}` };
  }
  return { body, latentFrom: latent.from };
}

// -- fetching, debounced, shared by the nodes of one chain -----------------------------------------------------------

const chains = new WeakMap(); // start node -> {sig, view, viewSig, timer, waiters}

async function fetchPlan(req) {
  if (req.hint) return { hint: req.hint };
  try {
    const res = await api.fetchApi("/infinite_video/chain_plan", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req.body) });
    const body = await res.json();
    return body.plan ? { plan: body.plan, warnings: body.warnings ?? [], latentFrom: req.latentFrom }
      : { error: body.error ?? `HTTP ${res.status}` };
  } catch (e) {
    return { error: `queue diagram unavailable: ${e}` };
  }
}

/** Ask for the plan of `node`'s chain if its settings changed (debounced); resolves with the chain's view. */
export function schedule(node, delay = DEBOUNCE_MS) {
  const chain = findChain(node);
  if (!chain) return Promise.resolve(null);
  const req = chainRequest(chain);
  const sig = JSON.stringify(req);
  const st = chains.get(chain.start) ?? { waiters: [] };
  chains.set(chain.start, st);
  const ready = new Promise((resolve) => st.waiters.push(resolve));
  for (const n of chain.parts) n.ivQueueReady = ready;
  if (st.sig === sig) {
    if (st.viewSig === sig) st.waiters.splice(0).forEach((r) => r(st.view));
    return ready; // else: the request for these settings is on its way and resolves `ready`
  }
  st.sig = sig;
  clearTimeout(st.timer);
  st.timer = setTimeout(async () => {
    // the graph as it is now (a workflow being loaded wires its links after creating the nodes)
    const now = findChain(chain.start) ?? chain;
    const nowReq = chainRequest(now);
    const nowSig = JSON.stringify(nowReq);
    st.sig = nowSig;
    const view = await fetchPlan(nowReq);
    if (st.sig !== nowSig) return; // a newer request is on its way; its answer resolves the waiters
    st.view = view;
    st.viewSig = nowSig;
    for (const n of now.parts) n.ivQueue = view;
    fit(now.start);
    app.graph.setDirtyCanvas(true, true);
    st.waiters.splice(0).forEach((r) => r(view));
  }, delay);
  return ready;
}

// -- drawing ---------------------------------------------------------------------------------------------------------

function lines(view) {
  const out = []; // [text, color]
  if (view.error) return [[view.error, COLORS.error]];
  if (view.hint) return [[view.hint, COLORS.text]];
  const p = view.plan;
  const c = p.calls;
  const f1 = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  const window = `window ${p.window}${view.latentFrom ? ` (from "${view.latentFrom}")` : ""}`;
  const title = p.title ?? p.kind.toUpperCase();
  if (p.kind === "continuation") {
    const from = view.latentFrom ? ` (window from "${view.latentFrom}")` : "";
    const flight = p.in_flight > 1 ? `${p.in_flight} chunks of ${p.chunk} in flight` : `${p.chunk} new latents`;
    out.push([`${title}: window ${p.window} = ${p.anchors.length} anchors + ${p.recent} newest finished + ` +
              `${flight}, ${p.steps} steps per chunk${from}`, COLORS.text]);
    const per = p.in_flight > 1
      ? `a chunk of ${p.chunk} leaves every ${p.per_tick} calls: ${p.steps} steps, ${p.in_flight} in flight`
      : `${p.per_tick} steps / chunk ${p.chunk}`;
    out.push([`${f1(c.expected)} model calls per output frame (${per}); the first chunk ` +
              `is the whole window (${p.first_chunk} new latents)`, COLORS.text]);
    if (p.skip) {
      out.push([`later chunks start from the newest finished latent at step ${p.skip} of ${p.steps} ` +
                `(denoise: they run the last ${p.per_tick})`, COLORS.text]);
    }
    if (p.context === "tracked") {
      out.push(["tracked context: every frame at the chunk's level, the context's noise following the model's " +
                "reading of it", COLORS.text]);
    }
    if (p.anchors.length) {
      out.push([`anchors: output latents ${p.anchors.join(", ")}, kept in every window at their true distance`,
                COLORS.text]);
    }
  } else if (p.kind === "fifo") {
    const fifoGroups = p.group > 1 ? ` (groups of ${p.group})` : "";
    out.push([`${title}: ${p.queue} latents in the queue${fifoGroups}, ${p.steps} steps, ${window}`, COLORS.text]);
    out.push([`${f1(c.expected)} model calls per output frame, ${p.warmup} warm-up frames discarded`, COLORS.text]);
  } else {
    const groups = p.group > 1 ? ` (${p.queue / p.group} groups of ${p.group})` : "";
    out.push([`${title}: ${p.queue} latents${groups}, ${p.steps} steps, slide ${p.slide}, ${window}`, COLORS.text]);
    const parts = [`stage 1 ${f1(c.queue)}`];
    if (p.unified) parts.push(`unified ${f1(c.unified)}`);
    out.push([`${f1(c.expected)} model calls per output frame (${parts.join(" + ")}), ${p.warmup} warm-up`,
              COLORS.text]);
    if (p.unified) {
      out.push([`unified stage: ${p.unified.sweeps} sweeps over the whole video, ${p.unified.slide} latents ` +
                `written per window`, COLORS.text]);
    }
    if (c.reflection_worst > 0) {
      out.push([`self-reflection: up to ${f1(c.worst)} if every judgment triggers`, COLORS.text]);
    }
  }
  const ignored = view.warnings ?? [];
  if (ignored.length) {
    const byWhy = new Map();
    for (const i of ignored) byWhy.set(i.why, [...(byWhy.get(i.why) ?? []), i.input]);
    for (const [why, names] of byWhy) out.push([`ignored: ${names.join(", ")} (${why})`, COLORS.ignored]);
  }
  if (p.too_large) out.push([`${p.slots} latents: too many to draw`, COLORS.text]);
  return out;
}

function wrap(ctx, text, width) {
  const words = text.split(" ");
  const out = [];
  let line = "";
  for (const w of words) {
    const next = line ? `${line} ${w}` : w;
    if (line && ctx.measureText(next).width > width) {
      out.push(line);
      line = w;
    } else line = next;
  }
  if (line) out.push(line);
  return out;
}

const CONTINUATION_LEGEND = [
  [[COLORS.memory, "anchor"], [COLORS.clean, "newest finished"], ["noise", "new chunk (noise)"]],
  [[COLORS.write[0], "written by each call"], [COLORS.read, "read"]],
];
const LEGEND = [
  [[COLORS.clean, "finished"], [COLORS.head, "leaves next"], ["noise", "noise level (bar height)"]],
  [[COLORS.write[0], "written by a call"], [COLORS.read, "read"], [COLORS.memory, "guidance latent"]],
];

/** Text rows of the panel (measured with the panel's font), for the height and for drawing. */
function textRows(ctx, view, width) {
  ctx.font = `${FONT_PX}px sans-serif`;
  return lines(view).flatMap(([t, color]) => wrap(ctx, t, width).map((s) => [s, color]));
}

const BARS = 56;
const ALL_ROW = 12; // the writes of every call of one sweep
const CALL_ROW = 11; // one call in full
const SHOWN_CALLS = 3;

/**
 * Where the drawing of `view` sits on `node`, in node-local px: the panel, the text rows' baselines, the bar area
 * (bars stand on its bottom, one column of width `cw` per latent), the model calls (`rows.all`: the centre line of
 * the row of every call's writes; `rows.shown`: [{k, y}] the first calls, one row each; `rows.caption`: its
 * baseline) and the legend.
 */
export function layout(node, view, ctx) {
  const w = node.size[0] - 2 * PAD;
  const text = textRows(ctx, view, w - 2 * PAD);
  const plan = view.plan && !view.plan.too_large ? view.plan : null;
  let h = PAD + text.length * LINE;
  const box = { x: PAD, w, text, textTop: 0, plan };
  if (plan) {
    box.bars = { y: h + 4, h: BARS };
    box.cw = (w - 2 * PAD) / plan.slots;
    h += 4 + BARS + 4;
    const shown = plan.windows.slice(0, SHOWN_CALLS).map((_, k) => k);
    box.rows = { all: h + ALL_ROW / 2, shown: [] };
    h += ALL_ROW + 3;
    for (const k of shown) {
      box.rows.shown.push({ k, y: h + CALL_ROW / 2 });
      h += CALL_ROW;
    }
    box.rows.caption = h + LINE - 4;
    h += LINE;
    box.legend = { y: h + 2 };
    h += 2 * LINE + 2;
  }
  box.h = h + PAD;
  box.y = node.size[1] - box.h - 4;
  box.textTop = box.y + PAD;
  if (box.rows) {
    box.rows.all += box.y;
    box.rows.caption += box.y;
    for (const r of box.rows.shown) r.y += box.y;
  }
  return box;
}

function draw(ctx, node, view) {
  const box = layout(node, view, ctx);
  const x0 = box.x + PAD;
  ctx.save();
  ctx.fillStyle = COLORS.panel;
  ctx.beginPath();
  ctx.roundRect ? ctx.roundRect(box.x, box.y, box.w, box.h, 6) : ctx.rect(box.x, box.y, box.w, box.h);
  ctx.fill();
  ctx.font = `${FONT_PX}px sans-serif`;
  ctx.textBaseline = "alphabetic";
  box.text.forEach(([t, color], k) => {
    ctx.fillStyle = color;
    ctx.fillText(t, x0, box.textTop + (k + 1) * LINE - 5);
  });
  const plan = box.plan;
  if (plan) {
    const cw = box.cw;
    const barsTop = box.y + box.bars.y;
    for (let s = 0; s < plan.slots; s++) {
      const noise = 1 - plan.levels[s] / plan.steps; // 0 = clean, 1 = fresh noise
      const bh = Math.max(3, noise * BARS);
      const finished = s < plan.pad || plan.levels[s] >= plan.steps;
      // FIFO: the head frame leaves after this iteration; MIGA: the front group (it reaches the end step)
      const leaving = plan.kind === "fifo" ? s >= plan.head && s < plan.head + plan.group
        : plan.kind === "miga" && s < plan.group;
      const anchor = plan.roles?.[s] === "anchor";
      const noisy = `hsl(${210 - 170 * noise}, 75%, 58%)`;
      ctx.fillStyle = anchor ? COLORS.memory : finished ? COLORS.clean : leaving ? COLORS.head : noisy;
      ctx.fillRect(x0 + s * cw + (cw > 3 ? 0.5 : 0), barsTop + BARS - bh, Math.max(1, cw - (cw > 3 ? 1 : 0)), bh);
    }
    const writeRect = (win, k, y, h) => {
      ctx.fillStyle = COLORS.write[k % 2];
      ctx.fillRect(x0 + win.write[0] * cw, y - h / 2, Math.max(1, (win.write[1] - win.write[0]) * cw), h);
    };
    // every call of one sweep: the ranges they write, side by side (alternating colours)
    plan.windows.forEach((win, k) => writeRect(win, k, box.rows.all, ALL_ROW - 2));
    // the first calls in full: what each reads (grey line), writes (block) and takes as guidance (dots)
    for (const { k, y } of box.rows.shown) {
      const win = plan.windows[k];
      ctx.fillStyle = COLORS.read;
      ctx.fillRect(x0 + win.read[0] * cw, y - 1, (win.read[1] - win.read[0]) * cw, 2);
      writeRect(win, k, y, CALL_ROW - 5);
      ctx.fillStyle = COLORS.memory;
      for (const m of win.memory) {
        ctx.beginPath();
        ctx.arc(x0 + (m + 0.5) * cw, y, 2.5, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    const n = plan.windows.length;
    const first = box.rows.shown.length;
    ctx.fillStyle = COLORS.text;
    const caption = plan.kind === "continuation"
      ? (plan.in_flight > 1
        ? `${plan.per_tick} calls per chunk leaving: each reads the window, steps every chunk in flight`
        : `1 call per step, ${plan.per_tick} steps per chunk: each reads the window, writes the chunk`)
      : `${n} call${n > 1 ? "s" : ""} per sweep: all writes, ${n > first ? `first ${first}` : "each"} in full`;
    ctx.fillText(caption, x0, box.rows.caption);
    (plan.kind === "continuation" ? CONTINUATION_LEGEND : LEGEND).forEach((row, r) => {
      let lx = x0;
      const ly = box.y + box.legend.y + r * LINE;
      for (const [color, label] of row) {
        if (color === "noise") {
          const grad = ctx.createLinearGradient(lx, 0, lx + 14, 0);
          grad.addColorStop(0, "hsl(210, 75%, 58%)");
          grad.addColorStop(1, "hsl(40, 75%, 58%)");
          ctx.fillStyle = grad;
        } else ctx.fillStyle = color;
        ctx.fillRect(lx, ly + 4, 14, 10);
        ctx.fillStyle = COLORS.text;
        ctx.fillText(label, lx + 18, ly + 14);
        lx += 18 + ctx.measureText(label).width + 14;
      }
    });
  }
  ctx.restore();
  return box;
}

// -- the drawing hook: a canvas in a DOM widget -----------------------------------------------------------------------
// Both node renderers show a DOM widget: the classic canvas places its element over the node (1.27 and current
// frontends), and "Nodes 2.0" (Vue nodes, Comfy.VueNodes.Enabled), which never calls onDrawForeground, mounts it in
// the node. The widget holds a canvas of its own, painted when the plan arrives or the widget's width changes; it
// saves nothing (serialize: false) and sits last, after the node's own widgets.

export const WIDGET = "queue_diagram";
export const SCALE = 2; // canvas pixels per CSS pixel: sharp when the editor zooms in

/** `node` as its diagram's canvas sees it: the same node, `width` wide and as high as the panel, which fills it. */
export function panelNode(node, width, ctx) {
  const h = layout(Object.create(node, { size: { value: [width, 0] } }), node.ivQueue, ctx).h;
  return Object.create(node, { size: { value: [width, h + 4] } });
}

function paint(node) {
  const canvas = node.ivWidget?.ivCanvas;
  if (!canvas || !node.ivQueue) return;
  const width = node.ivWidget.element.clientWidth || node.size[0];
  const ctx = canvas.getContext("2d");
  const at = panelNode(node, width, ctx);
  canvas.width = Math.round(width * SCALE);
  canvas.height = Math.round(at.size[1] * SCALE);
  canvas.style.height = `${at.size[1]}px`;
  ctx.scale(SCALE, SCALE);
  draw(ctx, at, node.ivQueue);
  node.ivDraws = (node.ivDraws ?? 0) + 1;
}

/** Keep room for the diagram under the widgets (new nodes, saved workflows, a plan that grew), then paint it. */
function fit(node) {
  const width = Math.max(node.size[0], WIDTH);
  const ctx = document.createElement("canvas").getContext("2d");
  node.ivRoom = node.ivQueue ? panelNode(node, width, ctx).size[1] : 2 * LINE + 2 * PAD;
  node.setSize([width, Math.max(node.size[1], node.computeSize()[1])]); // computeSize counts the widget's room
  paint(node);
}

function addPanel(node) {
  const element = document.createElement("div");
  const canvas = document.createElement("canvas");
  canvas.style.cssText = "display: block; width: 100%";
  element.append(canvas);
  const room = () => node.ivRoom ?? 0;
  const widget = node.addDOMWidget(WIDGET, "infinite_video_diagram", element, {
    serialize: false, hideOnZoom: false, margin: 0, getMinHeight: room, getMaxHeight: room });
  widget.serialize = false;
  widget.ivCanvas = canvas;
  node.ivWidget = widget;
  let width = 0; // repaint when the node is resized (wrapped text) or its renderer changes
  new ResizeObserver(() => {
    if (element.clientWidth && element.clientWidth !== width) {
      width = element.clientWidth;
      paint(node);
    }
  }).observe(element);
}

function setUp(node) {
  if (node.comfyClass === START) {
    addPanel(node); // one diagram per chain, on its FIFO Queue Init
    fit(node);
  }
  for (const widget of node.widgets ?? []) {
    const callback = widget.callback;
    widget.callback = function (...args) {
      const out = callback?.apply(this, args);
      schedule(node);
      return out;
    };
  }
  const onConfigure = node.onConfigure;
  node.onConfigure = function (...args) {
    const out = onConfigure?.apply(this, args);
    if (this.comfyClass === START) fit(this); // the saved size may predate the diagram
    return out;
  };
  watchLinks(node);
  schedule(node, 0);
}

/** A link of `node` changed: ask again for the chain it belongs to (a sampler: the chain wired to its queue). */
function watchLinks(node) {
  const onConnectionsChange = node.onConnectionsChange;
  node.onConnectionsChange = function (...args) {
    const out = onConnectionsChange?.apply(this, args);
    const part = isPart(this) ? this : upstream(this, "queue");
    if (part) schedule(part);
    return out;
  };
}

app.registerExtension({
  name: "infinite_video.QueueDiagram",
  setup() {
    // what the editor reports as an edit (a wire dragged, a latent's length typed, a node deleted), in either renderer
    api.addEventListener("graphChanged", () => {
      for (const node of app.graph?.nodes ?? []) if (node.comfyClass === START) schedule(node);
    });
  },
  nodeCreated(node) {
    if (isPart(node)) setUp(node);
    else if (SAMPLERS.includes(node.comfyClass)) watchLinks(node);
  },
});
