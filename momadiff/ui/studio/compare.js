// The order comparison: three motions of the same request (keyframes first, random, left to
// right; momadiff/ui/compare.py) in one canvas, three viewports side by side, one stage slider
// for all, each with its latent strip and a line of numbers (jerk, key error, time).
import * as THREE from "./vendor/three/three.module.js";
import { NUM_JOINTS } from "./rig.js";
import { Orbit } from "./orbit.js";
import { SkeletonMesh, makeScene, softwareGL } from "./meshes.js";

const STEP_MS = 1000;

class Panel {
  constructor() {
    this.scene = makeScene();
    this.skeleton = new SkeletonMesh(this.scene);
    this.path = new THREE.Line(new THREE.BufferGeometry(), new THREE.LineBasicMaterial({ color: 0x2563eb }));
    this.path.frustumCulled = false;
    this.scene.add(this.path);
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.05, 100);
    this.data = null;
  }

  setStage(index) {
    const st = this.data && (this.data.stages.find((s) => s.index === index) || this.data.stages[this.data.stages.length - 1]);
    if (!st) return null;
    if (!st.f32) st.f32 = Float32Array.from(st.joints, (v) => v / 1000);
    this.motion = st.f32;
    this.frames = Math.round(st.f32.length / (3 * NUM_JOINTS));
    const pts = [];
    for (let f = 0; f < this.frames; f++) pts.push(st.f32[f * 66], 0.003, st.f32[f * 66 + 2]);
    this.path.geometry.dispose();
    this.path.geometry = new THREE.BufferGeometry();
    this.path.geometry.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
    return st;
  }
}

export function mount(element) {
  const root = element.querySelector(".mc");
  const canvas = root.querySelector(".mc-canvas");
  const stageEl = root.querySelector(".mc-stage");
  const slider = root.querySelector(".mc-slider");
  const num = root.querySelector(".mc-num");
  const errEl = root.querySelector(".mc-error");
  const panelsEl = [...root.querySelectorAll(".mc-panel")];
  let renderer = null;
  const soft = softwareGL();
  try {
    renderer = new THREE.WebGLRenderer({ canvas, antialias: !soft });
  } catch (e) {
    errEl.textContent = "No WebGL in this browser: the comparison needs it.";
    errEl.hidden = false;
    return;
  }
  renderer.setScissorTest(true);
  const panels = [new Panel(), new Panel(), new Panel()];
  const master = new THREE.PerspectiveCamera(40, 1, 0.05, 100);
  let dirty = true;
  const orbit = new Orbit(master, canvas, () => { dirty = true; });
  orbit.radius = 4.6;
  let run = null, stage = 1, count = 1, t = 0, process = null;

  function resize() {
    const w = Math.max(100, stageEl.clientWidth), h = Math.max(100, stageEl.clientHeight);
    renderer.setPixelRatio(soft ? 1 : Math.min(2, window.devicePixelRatio || 1));
    renderer.setSize(w, h, false);
    dirty = true;
  }
  new ResizeObserver(resize).observe(stageEl);

  function showStage(i) {
    stage = Math.max(1, Math.min(count, i));
    slider.value = String(stage);
    num.textContent = stage + " / " + count;
    root.dataset.stage = String(stage);
    panels.forEach((p, k) => {
      const st = p.setStage(stage);
      const lat = panelsEl[k].querySelector(".mc-lat");
      lat.textContent = "";
      for (const c of (st && st.kinds) || "") { const s = document.createElement("span"); s.dataset.kind = c; lat.appendChild(s); }
    });
    dirty = true;
  }

  function accept(msg) {
    if (typeof msg === "string") { if (!msg.trim()) return; msg = JSON.parse(msg); }
    if (msg.error) { errEl.textContent = msg.error; errEl.hidden = false; return; }
    errEl.hidden = true;
    if (!run || run.id !== msg.run) run = { id: msg.run, orders: [] };
    // Each message has every order finished so far: (re)fill the panels from it.
    run.orders = msg.orders || [];
    run.orders.forEach((o, k) => {
      if (panels[k].data !== o && (!panels[k].data || panels[k].data.order !== o.order || panels[k].run !== run.id)) {
        panels[k].data = o;
        panels[k].run = run.id;
      }
      panelsEl[k].querySelector(".mc-title").textContent = o.label;
      panelsEl[k].querySelector(".mc-nums").textContent = "jerk " + o.jerk.toFixed(0) + " m/s³ · key error " +
        (o.key_error_cm === null ? "– (no keys)" : o.key_error_cm.toFixed(2) + " cm") + " · " + o.seconds.toFixed(2) + " s";
    });
    for (let k = run.orders.length; k < 3; k++) {
      panels[k].data = null;
      panels[k].motion = null;
      panelsEl[k].querySelector(".mc-title").textContent = "…";
      panelsEl[k].querySelector(".mc-nums").textContent = "";
      panelsEl[k].querySelector(".mc-lat").textContent = "";
    }
    count = Math.max(1, ...run.orders.map((r) => r.stages.length));
    slider.max = String(count);
    root.querySelector(".mc-empty").hidden = true;
    stageEl.hidden = false;
    root.querySelector(".mc-controls").hidden = false;
    root.dataset.orders = String(run.orders.length);
    showStage(run.orders.length === 1 ? 1 : stage);
    resize();
  }

  slider.addEventListener("input", () => { process = null; showStage(Number(slider.value)); });
  root.querySelector(".mc-process").addEventListener("click", () => { showStage(1); process = performance.now() + STEP_MS; });

  let last = 0;
  function loop(now) {
    requestAnimationFrame(loop);
    if (now - last < 33) return;
    const dt = Math.min(0.1, (now - last) / 1000);
    last = now;
    if (process && now > process) {
      if (stage < count) { showStage(stage + 1); process = now + STEP_MS; } else process = null;
    }
    const live = panels.filter((p) => p.motion);
    if (!live.length) return;
    t += dt * 20;
    const W = stageEl.clientWidth, H = stageEl.clientHeight, w = W / 3;
    panels.forEach((p, k) => {
      if (!p.motion) return;
      const f = Math.floor(t) % p.frames;
      p.skeleton.update(p.motion.subarray(f * 66, f * 66 + 66));
      // Every panel's camera: the master orbit's offset, around its own pelvis.
      const off = master.position.clone().sub(orbit.target);
      const target = new THREE.Vector3(p.motion[f * 66], 0.9, p.motion[f * 66 + 2]);
      p.camera.aspect = w / H;
      p.camera.updateProjectionMatrix();
      p.camera.position.copy(target).add(off);
      p.camera.lookAt(target);
      renderer.setViewport(k * w, 0, w, H);
      renderer.setScissor(k * w, 0, w, H);
      renderer.render(p.scene, p.camera);
    });
    dirty = false;
    root.dataset.ready = "1";
  }
  requestAnimationFrame(loop);
  const pending = window.momadiffCompareQueue || [];
  window.momadiffCompareQueue = { push: accept };
  pending.forEach(accept);
  root.dataset.ready = "1";
}
