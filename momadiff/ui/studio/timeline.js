// The keyframe timeline: gr.HTML's js_on_load body (`element`, `props` are given by Gradio).
//
// State lives in the hidden keys textbox (#momadiff-keys), the single source of truth: every
// edit here writes the whole JSON list into its textarea and dispatches an `input` event, which is
// how Svelte's bind:value (and so Python) learns of it. Changes made by Python (pinning a frame,
// a session, a duration change) come back through `refresh`, which app.py calls from the
// textbox's and the duration slider's `.change` JS hooks.
const FPS = Number(props.fps) || 20;
const MAX_KEYS = Number(props.max_keys) || 64;
const PAD = 34;   // px kept free at both ends so a key's thumbnail at frame 0 / the end stays visible
const KEY_W = 48;     // px a key's thumbnail takes, border included: closer keys go to another lane
const LANE_H = 74;    // px per lane: time label, thumbnail, gap
const MAX_LANES = 4;  // beyond this, crowded keys overlap (the selected one stays on top)
const TICKS_H = 18;
const KEYS_BOX = "#momadiff-keys textarea";
const SELECTED_BOX = "#momadiff-selected textarea";
const SVG_NS = "http://www.w3.org/2000/svg";
const LEFT = new Set([1, 4, 7, 10, 13, 16, 18, 20]);
const RIGHT = new Set([2, 5, 8, 11, 14, 17, 19, 21]);
const PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19];

const root = element.querySelector(".mtl");
const track = root.querySelector(".mtl-track");
const keysLayer = root.querySelector(".mtl-keys");
const ticks = root.querySelector(".mtl-ticks");
const palette = root.querySelector(".mtl-palette");
const info = root.querySelector(".mtl-info");
const latents = root.querySelector(".mtl-latents");
const playhead = root.querySelector(".mtl-playhead");
const delBtn = root.querySelector(".mtl-delete");
const fixBox = root.querySelector(".mtl-fix");
const poses = Array.isArray(props.poses) ? props.poses : [];

let seconds = Number(props.seconds) || 6;
let keys = [];            // [{frame, joints, fix_root, label}], sorted by frame
let selected = null;      // frame of the selected key
let currentPose = poses.length ? poses[0].name : null;
let lastText = null;      // the keys JSON last read or written, to skip no-op refreshes
let viewFrames = 0;       // frames of the motion in the 3D view (0: none yet)
let lastStage = null;     // the stage on view ("momadiff-stage" event detail)
let announced = null;     // the selected key last sent to the 3D view

const numFrames = () => Math.max(1, Math.round(seconds * FPS));
const poseByName = (name) => poses.find((p) => p.name === name);
const selectedKey = () => keys.find((k) => k.frame === selected) || null;

function poseSVG(joints, w, h) {
  // A slightly turned front view (the body faces +Z, the viewer): x' = x cos a + z sin a, y up.
  const a = 0.35, c = Math.cos(a), s = Math.sin(a);
  const px = joints.map((j) => j[0] * c + j[2] * s);
  const py = joints.map((j) => j[1]);
  const cx = px[0], ymin = Math.min(...py), ymax = Math.max(...py);
  const scale = Math.min((h - 6) / Math.max(1.0, ymax - ymin), (w - 6) / 1.6);
  const X = (i) => (w / 2 + (px[i] - cx) * scale).toFixed(1);
  const Y = (i) => (h - 3 - (py[i] - ymin) * scale).toFixed(1);
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  for (let i = 1; i < joints.length; i++) {
    const line = document.createElementNS(SVG_NS, "line");
    const p = PARENTS[i];
    line.setAttribute("x1", X(p)); line.setAttribute("y1", Y(p));
    line.setAttribute("x2", X(i)); line.setAttribute("y2", Y(i));
    line.setAttribute("stroke", LEFT.has(i) ? "#266ebe" : RIGHT.has(i) ? "#d6372e" : "#464c5c");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke-linecap", "round");
    svg.appendChild(line);
  }
  const head = document.createElementNS(SVG_NS, "circle");
  head.setAttribute("cx", X(15)); head.setAttribute("cy", Y(15)); head.setAttribute("r", "3");
  head.setAttribute("fill", "#464c5c");
  svg.appendChild(head);
  return svg;
}

function parseKeys(text) {
  try {
    const v = JSON.parse(text || "[]");
    return Array.isArray(v) ? v.filter((k) => k && Number.isInteger(k.frame) && Array.isArray(k.joints)) : keys;
  } catch (e) {
    return keys;   // half-typed or broken JSON from elsewhere: keep what we have
  }
}

function writeBox(selector, text) {
  const box = document.querySelector(selector);
  if (!box) return;
  box.value = text;
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

function commit() {
  keys.sort((a, b) => a.frame - b.frame);
  lastText = JSON.stringify(keys);
  writeBox(KEYS_BOX, lastText);
  writeBox(SELECTED_BOX, selected === null ? "" : String(selected));
  render();
  announceSelection();
}

function select(frame) {
  selected = frame;
  writeBox(SELECTED_BOX, selected === null ? "" : String(selected));
  render();
  announceSelection();
}

// The 3D view poses the selected key (posing.js) and sends the edited pose back.
function announceSelection() {
  const k = selectedKey();
  const text = k ? JSON.stringify([k.frame, k.joints]) : null;
  if (text === announced) return;
  announced = text;
  window.dispatchEvent(new CustomEvent("momadiff-key-selected", { detail: { key: k ? Object.assign({}, k) : null } }));
}

function frameAt(clientX) {
  const r = track.getBoundingClientRect();
  const frac = (clientX - r.left - PAD) / Math.max(1, r.width - 2 * PAD);
  return Math.min(numFrames() - 1, Math.max(0, Math.round(frac * (numFrames() - 1))));
}

function xOf(frame) {
  const r = track.getBoundingClientRect();
  const n = Math.max(1, numFrames() - 1);
  return PAD + Math.min(frame, n + 2) / n * Math.max(1, r.width - 2 * PAD);
}

function addKey(frame) {
  if (keys.some((k) => k.frame === frame)) { select(frame); return; }
  if (keys.length >= MAX_KEYS) { info.textContent = "at most " + MAX_KEYS + " keys"; return; }
  const pose = poseByName(currentPose);
  if (!pose) return;
  keys.push({ frame: frame, joints: pose.joints, fix_root: false, label: pose.label });
  selected = frame;
  commit();
}

function deleteSelected() {
  if (selected === null) return;
  keys = keys.filter((k) => k.frame !== selected);
  selected = null;
  commit();
}

function moveSelected(to) {
  const k = selectedKey();
  if (!k || to < 0 || to >= numFrames() || keys.some((o) => o !== k && o.frame === to)) return false;
  k.frame = to;
  selected = to;
  return true;
}

function renderTicks() {
  ticks.textContent = "";
  const step = seconds > 8 ? 2 : 1;
  for (let s = 0; s <= seconds + 1e-6; s += step) {
    const t = document.createElement("span");
    t.className = "mtl-tick";
    t.style.left = xOf(Math.min(s * FPS, numFrames() - 1)) + "px";
    t.textContent = s + " s";
    ticks.appendChild(t);
  }
}

function lanesOf(xs) {
  // Keys sorted by x go to the lowest lane whose last key is a thumbnail's width away, so no two
  // thumbnails (or their time labels, which sit on them) overlap; past MAX_LANES, the lane whose
  // last key is farthest away takes it.
  const last = [];
  return xs.map((x) => {
    let lane = last.findIndex((lx) => x - lx >= KEY_W);
    if (lane < 0 && last.length < MAX_LANES) lane = last.length;
    if (lane < 0) lane = last.indexOf(Math.min(...last));
    last[lane] = x;
    return lane;
  });
}

function render() {
  renderTicks();
  keysLayer.textContent = "";
  const xs = keys.map((k) => xOf(k.frame));
  const lanes = lanesOf(xs);
  const nLanes = Math.max(1, ...lanes.map((l) => l + 1));
  track.style.height = (nLanes * LANE_H + TICKS_H + 8) + "px";
  keys.forEach((k, i) => {
    const out = k.frame >= numFrames();
    const el = document.createElement("div");
    el.className = "mtl-key" + (k.frame === selected ? " mtl-sel" : "") + (out ? " mtl-out" : "") +
      (k.fix_root ? " mtl-fixed" : "");
    el.style.left = xs[i] + "px";
    // Lane 0 sits on the time axis; higher lanes stand above it on longer stems.
    el.style.top = (4 + (nLanes - 1 - lanes[i]) * LANE_H) + "px";
    el.dataset.frame = k.frame;
    el.dataset.lane = lanes[i];
    el.title = (k.label || "key") + " at frame " + k.frame + " (" + (k.frame / FPS).toFixed(2) + " s)" +
      (k.fix_root ? ", position fixed" : "") +
      (out ? ": past the end of the motion, Generate leaves it out" : "");
    const lab = document.createElement("div");
    lab.className = "mtl-flabel";
    lab.textContent = (k.fix_root ? "\u25C6 " : "") + k.frame;
    el.appendChild(lab);
    el.appendChild(poseSVG(k.joints, 40, 54));
    const stem = document.createElement("div");
    stem.className = "mtl-stem";
    stem.style.height = (6 + lanes[i] * LANE_H) + "px";
    el.appendChild(stem);
    el.addEventListener("pointerdown", (e) => startDrag(e, k, el));
    keysLayer.appendChild(el);
  });
  const k = selectedKey();
  delBtn.disabled = !k;
  fixBox.disabled = !k;
  fixBox.checked = !!(k && k.fix_root);
  const pose = poseByName(currentPose);
  const beyond = keys.filter((o) => o.frame >= numFrames()).length;
  info.textContent = keys.length + " key" + (keys.length === 1 ? "" : "s") + " · " + seconds + " s = " +
    numFrames() + " frames (0 to " + (numFrames() - 1) + ")" +
    (beyond ? " · " + beyond + " past the end, left out" : "") +
    (k ? " · selected: frame " + k.frame + " (" + (k.frame / FPS).toFixed(2) + " s) " +
    (k.label || "") : " · new keys use: " + (pose ? pose.label : "?"));
  for (const b of palette.children) b.classList.toggle("mtl-active", b.dataset.name === (k ? null : currentPose) ||
    (k && b.dataset.label === k.label));
  root.dataset.ready = "1";
  root.dataset.keys = String(keys.length);
  renderLatents();
  if (viewFrames) setPlayhead(Number(root.dataset.playhead || 0));
  root.dataset.lanes = String(nLanes);
}

function startDrag(e, k, el) {
  e.preventDefault();
  e.stopPropagation();
  root.focus({ preventScroll: true });
  const start = k.frame;
  selected = k.frame;
  el.setPointerCapture(e.pointerId);
  el.classList.add("mtl-drag");
  const move = (ev) => {
    if (moveSelected(frameAt(ev.clientX))) {
      el.style.left = xOf(k.frame) + "px";
      info.textContent = "frame " + k.frame + " (" + (k.frame / FPS).toFixed(2) + " s)";
    }
  };
  const up = () => {
    el.removeEventListener("pointermove", move);
    el.removeEventListener("pointerup", up);
    el.removeEventListener("pointercancel", up);
    if (k.frame !== start) commit(); else select(k.frame);
  };
  el.addEventListener("pointermove", move);
  el.addEventListener("pointerup", up);
  el.addEventListener("pointercancel", up);
}

function buildPalette() {
  palette.textContent = "";
  for (const p of poses) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "mtl-pose";
    b.dataset.name = p.name;
    b.dataset.label = p.label;
    b.title = p.label;
    b.appendChild(poseSVG(p.joints, 36, 44));
    const s = document.createElement("span");
    s.textContent = p.label;
    b.appendChild(s);
    b.addEventListener("click", () => {
      currentPose = p.name;
      const k = selectedKey();
      if (k) { k.joints = p.joints; k.label = p.label; commit(); } else render();
    });
    palette.appendChild(b);
  }
}

track.addEventListener("click", (e) => {
  if (e.target.closest(".mtl-key")) return;
  root.focus({ preventScroll: true });
  addKey(frameAt(e.clientX));
});
delBtn.addEventListener("click", deleteSelected);
fixBox.addEventListener("change", () => {
  const k = selectedKey();
  if (k) { k.fix_root = fixBox.checked; commit(); }
});
root.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT") return;
  if (e.key === "Delete" || e.key === "Backspace") { e.preventDefault(); deleteSelected(); }
  else if (e.key === "Escape") select(null);
  else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
    const k = selectedKey();
    if (k && moveSelected(k.frame + (e.key === "ArrowLeft" ? -1 : 1))) { e.preventDefault(); commit(); }
  }
});
new ResizeObserver(() => render()).observe(track);

function refresh(keysText, secs) {
  if (secs !== undefined && secs !== null && Number(secs) > 0) seconds = Number(secs);
  if (typeof keysText === "string" && keysText !== lastText) {
    lastText = keysText;
    keys = parseKeys(keysText).map((k) => Object.assign({}, k)).sort((a, b) => a.frame - b.frame);
    if (!selectedKey()) selected = null;
  }
  render();
  announceSelection();
}

// ---- The playhead and the stage on view (shared with the 3D view through window events).

function renderLatents() {
  latents.textContent = "";
  const st = lastStage;
  if (!st || !st.kinds) return;
  const n = st.kinds.length, frames = Math.max(1, numFrames() - 1);
  for (let i = 0; i < n; i++) {
    const a = i * st.down, b = Math.min((i + 1) * st.down, st.frames) - 1;
    if (a > frames) break;
    const cell = document.createElement("div");
    cell.className = "mtl-lat";
    cell.dataset.kind = st.kinds[i];
    cell.style.left = (xOf(a) - 1) + "px";
    cell.style.width = Math.max(1, xOf(Math.min(b + 1, frames)) - xOf(a) - 1) + "px";
    cell.title = "latent " + i + " (frames " + a + "-" + b + "): " + ({ u: "your key", e: "generated earlier",
      n: "generated in this stage", m: "still [MASK]: drawn interpolated between its known neighbours" })[st.kinds[i]];
    latents.appendChild(cell);
  }
  const head = document.createElement("span");
  head.className = "mtl-lathead";
  latents.appendChild(head);
}

function setPlayhead(frame) {
  if (!viewFrames) { playhead.hidden = true; return; }
  playhead.hidden = false;
  playhead.style.left = xOf(frame) + "px";
  root.dataset.playhead = String(frame);
}

function scrubFrom(el) {
  el.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    e.stopPropagation();
    el.setPointerCapture(e.pointerId);
    const seek = (ev) => window.dispatchEvent(new CustomEvent("momadiff-seek", { detail: { frame: frameAt(ev.clientX) } }));
    seek(e);
    const up = () => { el.removeEventListener("pointermove", seek); el.removeEventListener("pointerup", up); };
    el.addEventListener("pointermove", seek);
    el.addEventListener("pointerup", up);
  });
  el.addEventListener("click", (e) => e.stopPropagation());
}
scrubFrom(ticks);
scrubFrom(latents);
window.addEventListener("momadiff-frame", (e) => { viewFrames = e.detail.frames; setPlayhead(e.detail.frame); });
window.addEventListener("momadiff-stage", (e) => { lastStage = e.detail; renderLatents(); });
window.addEventListener("momadiff-pose-edited", (e) => {
  const d = e.detail || {};
  const k = keys.find((o) => o.frame === d.frame);
  if (!k || !Array.isArray(d.joints)) return;
  k.joints = d.joints;
  k.label = "posed";
  commit();
});
window.addEventListener("momadiff-deselect", () => select(null));
new ResizeObserver(() => renderLatents()).observe(latents);

// The keys JSON a Generate request sends: those within a motion of `secs` seconds (frames count
// from 0). Text that does not parse goes as it is, for Python to explain.
function usable(keysText, secs) {
  let all;
  try { all = JSON.parse(keysText || "[]"); } catch (e) { return keysText; }
  if (!Array.isArray(all)) return keysText;
  const n = Math.max(1, Math.round(Number(secs) * FPS));
  if (!(n > 0)) return keysText;
  const kept = all.filter((k) => !(k && Number.isInteger(k.frame) && k.frame >= n));
  return kept.length === all.length ? keysText : JSON.stringify(kept);
}

// Python-side changes arrive through app.py's JS hooks, which find the timeline here.
element.momadiffTimeline = { refresh: refresh, usable: usable };
window.momadiffTimeline = element.momadiffTimeline;
buildPalette();
// The keys textbox may mount after this script runs: read its first value once it exists.
(function initial(tries) {
  const box = document.querySelector(KEYS_BOX);
  if (box) refresh(box.value);
  else if (tries > 0) setTimeout(() => initial(tries - 1), 100);
  else render();
})(50);
