// Run panel: what a long run shows on its sampler node, and resuming it from the editor.
//
// - Live frames: the server sends the newest decoded video frame of a streamed run ("infinite_video.preview", see
//   nodes/run_status.py) whatever the Video Sink's decode mode; the panel shows it as it comes.
// - The finished video: the sampler's ui output "iv_video" (not the frontend's own "images" + "animated" preview:
//   once a node has shown a video the frontend treats its live previews as video sources and keeps the earlier run's
//   player), shown as a <video> in the same panel, replacing the live frame. A new run ("infinite_video.started")
//   clears the panel, so no earlier run's player stays.
// - Stop and resume: a stopped run ("infinite_video.stopped") adds a button on the sampler that puts its checkpoint
//   into the Video Sink's resume; the Video Sink gets a "pick checkpoint" button listing the checkpoints in the output
//   folder (GET /api/infinite_video/checkpoints, newest first, and "none"). After a resumed run finishes (its ui
//   "iv_spent") the resume field is cleared. A typed path keeps working: resume stays a text field.
// - Cost before Run: under the sampler, what `frames` costs in model calls (the queue diagram's plan, on the node
//   wired to the sampler's queue input) and, at the last measured speed (GET /api/infinite_video/speed), how long;
//   a warning past a day.
// The progress text (phase, elapsed, seconds per output frame, time left) is the server's own node text.
// Added widgets are not serialized: saved workflows and API prompts are unchanged.

import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const SAMPLER = "InfiniteVideo_Sampler";
const SINK = "InfiniteVideo_VideoSink";
const DAY_S = 86400;

const graph = () => app.rootGraph ?? app.graph;
const nodeById = (id) => (id == null ? null : graph()?.getNodeById(String(id).split(":")[0]) ?? null);
const redraw = (node) => node?.setDirtyCanvas?.(true, true);

function clock(seconds) {
  let s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / DAY_S); s -= d * DAY_S;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const t = h || d ? `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : `${m}:${String(s).padStart(2, "0")}`;
  return d ? `${d} d ${t}` : t;
}

// -- the panel on a sampler node -----------------------------------------------------------------------------------

function panel(node) {
  if (node.ivPanel) return node.ivPanel;
  const root = document.createElement("div");
  root.style.cssText = "display:flex;flex-direction:column;gap:4px;width:100%;height:100%;font:12px sans-serif;"
    + "color:var(--input-text, #ddd);overflow:hidden";
  const cost = document.createElement("div");
  cost.className = "iv-cost";
  const img = document.createElement("img");
  img.className = "iv-live";
  img.style.cssText = "display:none;width:100%;min-height:0;flex:1;object-fit:contain;image-rendering:pixelated";
  const video = document.createElement("video");
  video.className = "iv-video";
  Object.assign(video, { controls: true, loop: true, muted: true, autoplay: true, playsInline: true });
  video.style.cssText = "display:none;width:100%;min-height:0;flex:1;object-fit:contain";
  root.append(cost, img, video);
  const p = { root, cost, img, video, media: false };
  const widget = node.addDOMWidget("iv_run_panel", "iv_run_panel", root, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => (p.media ? 220 : 24),
  });
  widget.serialize = false;
  p.widget = widget;
  node.ivPanel = p;
  return p;
}

function grow(node) {
  const want = node.computeSize?.();
  if (want && (node.size[1] < want[1] || node.size[0] < want[0])) {
    node.setSize([Math.max(node.size[0], want[0]), Math.max(node.size[1], want[1])]);
  }
  redraw(node);
}

function showFrame(node, url, frames) {
  const p = panel(node);
  p.video.pause?.();
  p.video.removeAttribute("src");
  p.video.style.display = "none";
  p.img.src = url;
  p.img.style.display = "";
  p.img.title = `live: ${frames} latent frames so far`;
  node.ivLiveFrames = (node.ivLiveFrames ?? 0) + 1;
  if (!p.media) { p.media = true; grow(node); } else redraw(node);
}

function showVideo(node, item) {
  const p = panel(node);
  const q = new URLSearchParams({ filename: item.filename, subfolder: item.subfolder ?? "", type: item.type ?? "output",
                                  t: String(Date.now()) });
  p.img.style.display = "none";
  p.img.removeAttribute("src");
  p.video.src = api.apiURL(`/view?${q}`);
  p.video.style.display = "";
  node.ivVideo = item;
  if (!p.media) { p.media = true; grow(node); } else redraw(node);
}

function clearPanel(node) {
  const p = node.ivPanel;
  if (!p) return;
  p.video.pause?.();
  p.video.removeAttribute("src");
  p.video.style.display = "none";
  p.img.removeAttribute("src");
  p.img.style.display = "none";
  node.ivVideo = null;
  redraw(node);
}

// -- stop and resume -------------------------------------------------------------------------------------------------

/** The Video Sink wired to a sampler's sink input (or null). */
export function sinkOf(node) {
  const slot = node.findInputSlot?.("sink");
  if (slot == null || slot < 0) return null;
  const sink = node.getInputNode(slot);
  return sink?.comfyClass === SINK ? sink : null;
}

function setResume(sink, value) {
  const w = sink?.widgets?.find((w) => w.name === "resume");
  if (!w) return false;
  w.value = value;
  w.callback?.(value);
  redraw(sink);
  return true;
}

function removeWidget(node, name) {
  const i = node.widgets?.findIndex((w) => w.name === name) ?? -1;
  if (i < 0) return;
  const [w] = node.widgets.splice(i, 1);
  w.onRemove?.();
  redraw(node);
}

const RESUME_BUTTON = "iv_resume_from";

function stopped(node, detail) {
  node.ivStopped = detail;
  removeWidget(node, RESUME_BUTTON);
  if (!detail.checkpoint) return;
  const label = `resume from ${detail.checkpoint} (${detail.latent_frames} latent frames done)`;
  const button = node.addWidget("button", RESUME_BUTTON, null, () => {
    if (!setResume(sinkOf(node), detail.checkpoint)) return;
    button.label = `resume = ${detail.checkpoint}: press Run`;
    node.ivResumePicked = detail.checkpoint;
    redraw(node);
  }, { serialize: false });
  button.label = label;
  button.serialize = false;
  grow(node);
}

function finished(node, output) {
  node.ivStopped = null;
  removeWidget(node, RESUME_BUTTON);
  const spent = output.iv_spent?.[0];
  const sink = sinkOf(node);
  const w = sink?.widgets?.find((w) => w.name === "resume");
  if (spent && w && String(w.value).trim() === spent) setResume(sink, "");
}

// -- the Video Sink's checkpoint picker ----------------------------------------------------------------------------

let pointer = [80, 80];
document.addEventListener("pointerdown", (e) => { pointer = [e.clientX, e.clientY]; }, true);

function closeMenu() {
  document.getElementById("iv-checkpoint-menu")?.remove();
}

/** The checkpoints the server lists, newest first, as a menu at the pointer; picking one sets resume. */
export async function pickCheckpoint(sink) {
  closeMenu();
  const answer = await (await api.fetchApi("/infinite_video/checkpoints")).json();
  const menu = document.createElement("div");
  menu.id = "iv-checkpoint-menu";
  menu.style.cssText = `position:fixed;left:${pointer[0]}px;top:${pointer[1]}px;z-index:10000;background:#222;`
    + "color:#eee;border:1px solid #555;border-radius:4px;font:13px sans-serif;padding:4px 0;max-height:60vh;"
    + "overflow:auto;box-shadow:0 4px 12px #0008";
  const item = (text, value, title) => {
    const row = document.createElement("div");
    row.textContent = text;
    row.title = title ?? "";
    row.dataset.value = value ?? "";
    row.style.cssText = `padding:4px 12px;white-space:nowrap;${value == null ? "opacity:0.5" : "cursor:pointer"}`;
    if (value != null) {
      row.onmouseenter = () => { row.style.background = "#444"; };
      row.onmouseleave = () => { row.style.background = ""; };
      row.onclick = () => { setResume(sink, value); closeMenu(); };
    }
    menu.append(row);
  };
  item("none (a new run)", "");
  for (const c of answer.checkpoints ?? []) {
    const when = new Date(c.mtime * 1000).toLocaleString();
    if (c.error) item(`${c.path} (unreadable)`, null, c.error);
    else item(`${c.path}: ${c.latent_frames} latent frames, ${when}`, c.path, `continues ${c.video}`);
  }
  if (!answer.checkpoints?.length) item("(no checkpoint in the output folder)", null);
  document.body.append(menu);
  setTimeout(() => document.addEventListener("pointerdown", function away(e) {
    if (!menu.contains(e.target)) { closeMenu(); document.removeEventListener("pointerdown", away, true); }
  }, true), 0);
  return menu;
}

// -- cost before Run -------------------------------------------------------------------------------------------------

let speed = null; // the server's last measured speed
async function refreshSpeed() {
  try { speed = await (await api.fetchApi("/infinite_video/speed")).json(); } catch { speed = null; }
}

/** The text under the sampler before Run: model calls for `frames`, and the time at the last measured speed. */
export function costText(node) {
  const frames = Number(node.widgets?.find((w) => w.name === "frames")?.value);
  if (!Number.isFinite(frames)) return "";
  const slot = node.findInputSlot?.("queue");
  const chainEnd = slot != null && slot >= 0 ? node.getInputNode(slot) : null;
  const perFrame = chainEnd?.ivQueue?.plan?.calls?.expected ?? speed?.calls_per_frame ?? null;
  if (perFrame == null) return `frames ${frames}: the model-call count shows once the queue chain is wired`;
  const calls = Math.round(perFrame * frames);
  let text = `frames ${frames}: about ${calls.toLocaleString("en")} model calls (${perFrame.toFixed(1)} per frame)`;
  node.ivCost = { frames, calls, seconds: null };
  if (speed?.s_per_call) {
    const seconds = speed.s_per_call * calls;
    node.ivCost.seconds = seconds;
    text += `, about ${clock(seconds)} at the last measured speed`;
    if (seconds > DAY_S) text += ` — WARNING: over a day; lower frames or check the settings`;
  }
  return text;
}

function updateCost(node) {
  if (!node.ivPanel) return;
  const text = costText(node);
  if (node.ivPanel.cost.textContent !== text) {
    node.ivPanel.cost.textContent = text;
    node.ivPanel.cost.style.color = node.ivCost?.seconds > DAY_S ? "#ffd54f" : "";
  }
}

// -- wiring ----------------------------------------------------------------------------------------------------------

api.addEventListener("infinite_video.started", ({ detail }) => {
  const node = nodeById(detail.node);
  if (!node) return;
  node.ivLiveFrames = 0;
  node.ivStopped = null;
  node.ivResumePicked = null;
  removeWidget(node, RESUME_BUTTON);
  clearPanel(node);
});
api.addEventListener("infinite_video.preview", ({ detail }) => {
  const node = nodeById(detail.node);
  if (node) showFrame(node, detail.image, detail.frames);
});
api.addEventListener("infinite_video.stopped", ({ detail }) => {
  const node = nodeById(detail.node);
  if (node) stopped(node, detail);
});
api.addEventListener("executed", ({ detail }) => {
  const node = nodeById(detail?.display_node ?? detail?.node);
  const output = detail?.output;
  if (!node || !output?.iv_video) return;
  finished(node, output);
  showVideo(node, output.iv_video[0]);
  refreshSpeed().then(() => updateCost(node));
});

app.registerExtension({
  name: "infinite_video.RunPanel",
  async setup() {
    await refreshSpeed();
  },
  nodeCreated(node) {
    if (node.comfyClass === SINK) {
      const b = node.addWidget("button", "iv_pick_checkpoint", null, () => { pickCheckpoint(node); },
                               { serialize: false });
      b.label = "pick checkpoint to resume";
      b.serialize = false;
    } else if (node.comfyClass === SAMPLER) {
      panel(node);
      const tick = () => { if (node.graph) updateCost(node); };
      node.ivCostTimer = setInterval(tick, 1000);
      const onRemoved = node.onRemoved;
      node.onRemoved = function (...args) {
        clearInterval(node.ivCostTimer);
        return onRemoved?.apply(this, args);
      };
      setTimeout(tick, 0);
    }
  },
});
