// The stage selector (gr.HTML js_on_load): replays the sampler's stages in the 3D view. It shows
// what the view reports ("momadiff-stage"), asks it for another stage ("momadiff-show-stage") or
// to step through them all ("momadiff-play-process"), and highlights the stage bar's row.
const root = element.querySelector(".mst");
const slider = root.querySelector(".mst-slider");
const prev = root.querySelector(".mst-prev");
const next = root.querySelector(".mst-next");
const num = root.querySelector(".mst-num");
const proc = root.querySelector(".mst-process");
const text = root.querySelector(".mst-text");
let state = null;

const ask = (index) => window.dispatchEvent(new CustomEvent("momadiff-show-stage", { detail: { index: index } }));
const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

function describe(s) {
  const c = { u: 0, e: 0, n: 0, m: 0 };
  for (const k of s.kinds || "") c[k] = (c[k] || 0) + 1;
  if (s.count === 1 && s.done && !c.n && !c.m) return "A finished motion (" + plural((s.kinds || "").length, "latent") + ").";
  let t = "After stage " + s.index + " of " + s.count + ": " + plural(c.n, "latent") + " generated in this stage (green)";
  if (c.e) t += ", " + c.e + " earlier (blue)";
  if (c.u) t += ", " + c.u + " from your keys (orange)";
  t += ". ";
  t += c.m ? plural(c.m, "latent") + " still [MASK] (hatched on the timeline): the view draws them interpolated between " +
    "their known neighbours, so the motion looks whole before it is." : "No latent is masked: this is the motion itself.";
  return t;
}

function highlight(index) {
  for (const row of document.querySelectorAll("#momadiff-stages .mstage-row")) {
    const on = Number(row.dataset.stage) === index;
    row.style.outline = on ? "2px solid #111827" : "";
    row.style.borderRadius = "3px";
    row.style.cursor = "pointer";
  }
}

function show(s) {
  state = s;
  const have = (s.received || []).length;
  root.dataset.count = String(s.count);
  root.dataset.index = String(s.index);
  root.dataset.done = s.done ? "1" : "0";
  slider.max = String(Math.max(1, s.count));
  slider.value = String(s.index);
  slider.disabled = s.count < 2;
  prev.disabled = s.index <= 1;
  next.disabled = !(s.received || []).includes(s.index + 1);
  proc.disabled = have < 2;
  num.textContent = s.index + " / " + s.count;
  text.textContent = describe(s);
  highlight(s.index);
}

window.addEventListener("momadiff-stage", (e) => show(e.detail));
slider.addEventListener("input", () => ask(Number(slider.value)));
prev.addEventListener("click", () => state && ask(state.index - 1));
next.addEventListener("click", () => state && ask(state.index + 1));
proc.addEventListener("click", () => window.dispatchEvent(new CustomEvent("momadiff-play-process")));
// A click on a row of the stage bar shows that stage too.
document.addEventListener("click", (e) => {
  const row = e.target.closest && e.target.closest("#momadiff-stages .mstage-row");
  if (row) ask(Number(row.dataset.stage));
});
// The stage bar is re-rendered by Python on every yield: keep the highlight on the new rows.
(function watchBar(tries) {
  const bar = document.querySelector("#momadiff-stages");
  if (bar) new MutationObserver(() => state && highlight(state.index)).observe(bar, { childList: true, subtree: true });
  else if (tries > 0) setTimeout(() => watchBar(tries - 1), 200);
})(50);
