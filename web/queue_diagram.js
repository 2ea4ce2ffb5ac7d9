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
// writes and takes as guidance), with the count. Drawn with onDrawForeground on a dark panel of its own (legible in the light and dark palettes; text at
// 14 px stays above the editor's 8 px readability threshold at 60% zoom); nothing is added to widgets_values, so
// saved workflows and API prompts are unchanged.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

export const START = "InfiniteVideo_FIFOQueueInit";
export const PARTS = ["InfiniteVideo_ZigzagStage", "InfiniteVideo_UnifiedStage", "InfiniteVideo_SelfReflection",
                      "InfiniteVideo_LongRangeGuidance"];
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

function upstream(node, name) {
  const input = node.inputs?.find((i) => i.name === name);
  const link = input?.link != null ? app.graph.links[input.link] ?? app.graph.links.get?.(input.link) : null;
  return link ? app.graph.getNodeById(link.origin_id) : null;
}

function downstream(node) {
  const ids = node.outputs?.[0]?.links ?? [];
  return ids.map((id) => app.graph.links[id] ?? app.graph.links.get?.(id)).filter(Boolean)
    .map((l) => app.graph.getNodeById(l.target_id)).filter(Boolean);
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
    if (w.name && w.type !== "button" && !w.name.startsWith("control_after")) values[w.name] = w.value;
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
  if (p.kind === "fifo") {
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
      const leaving = plan.kind === "fifo" ? s >= plan.head && s < plan.head + plan.group : s < plan.group;
      ctx.fillStyle = finished ? COLORS.clean : leaving ? COLORS.head : `hsl(${210 - 170 * noise}, 75%, 58%)`;
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
    ctx.fillText(`${n} call${n > 1 ? "s" : ""} per sweep: all writes, ${n > first ? `first ${first}` : "each"} in full`,
                 x0, box.rows.caption);
    LEGEND.forEach((row, r) => {
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

function measureHeight(node, view) {
  const ctx = document.createElement("canvas").getContext("2d");
  return layout(node, view, ctx).h + 8;
}

/** Keep room for the diagram under the widgets (new nodes, saved workflows, a plan that grew). */
function fit(node) {
  const view = node.ivQueue;
  const room = view ? measureHeight(node, view) : 2 * LINE + 2 * PAD;
  node.ivRoom = room;
  const base = node.computeSize()[1];
  node.setSize([Math.max(node.size[0], WIDTH), Math.max(node.size[1], base + room)]);
}

function drawsHere(node) {
  return node.ivQueue && node.comfyClass === START; // one diagram per chain
}

function setUp(node) {
  if (node.comfyClass === START) fit(node);
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
  const onResize = node.onResize;
  node.onResize = function (size) {
    const out = onResize?.apply(this, arguments);
    if (drawsHere(this)) size[1] = Math.max(size[1], this.computeSize()[1] + (this.ivRoom ?? 0));
    return out;
  };
  const onDrawForeground = node.onDrawForeground;
  node.onDrawForeground = function (ctx) {
    const out = onDrawForeground?.apply(this, arguments);
    schedule(this); // links, the latent and other chain nodes change without telling this node; cheap when unchanged
    if (this.flags?.collapsed || !drawsHere(this)) return out;
    this.ivDraws = (this.ivDraws ?? 0) + 1;
    draw(ctx, this, this.ivQueue);
    return out;
  };
  schedule(node, 0);
}

app.registerExtension({
  name: "infinite_video.QueueDiagram",
  nodeCreated(node) {
    if (isPart(node)) setUp(node);
  },
});
