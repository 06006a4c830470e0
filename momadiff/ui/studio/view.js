// The 3D view: a motion drawn from numbers (joints per stage, momadiff/ui/viewdata.py) with
// three.js: floor grid, root path, skeleton, the project's mannequin (linear blend skinning with
// rotations solved from the joints, rig.js), playback, stage replay and key posing (posing.js).
//
// It talks to the other studio parts through window events, so none needs to know the others:
//   out: "momadiff-frame" {frame, frames}         the playhead moved (the timeline draws it)
//        "momadiff-stage" {index, count, kinds, down, frames, done, live, summary}
//   in:  "momadiff-seek" {frame}                  the timeline was clicked
//        "momadiff-show-stage" {index}            the stage selector moved
//        "momadiff-play-process"                  step through the stages, about a second each
//        "momadiff-key-selected" {key or null}    pose this key (posing.js)
import * as THREE from "./vendor/three/three.module.js";
import { NUM_JOINTS } from "./rig.js";
import { MannequinMesh, SkeletonMesh, hasWebGL, makeScene, softwareGL } from "./meshes.js";
import { Orbit } from "./orbit.js";
import { PoseEditor } from "./posing.js";

const LIVE_DWELL_MS = 100;     // a streamed stage stays at least this long, so each one is seen,
const LIVE_BUDGET_MS = 500;    // ...or less with many stages: all of them within about this
const PROCESS_STEP_MS = 1000;  // "Play the process": one stage per second
const MAX_FPS = 20;            // the motion's frame rate
const SOFT_FPS = 15;           // with software WebGL: leave the CPU to the page and the server
const HOLD_MS = 8000;          // after Generate is pressed, draw nothing until the first stage (or this)
const COLORS = { key: 0xf59e0b, path: 0x2563eb };

export class View {
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.canvas = root.querySelector(".mv-canvas");
    this.wrap = root.querySelector(".mv-stage");
    this.caption = root.querySelector(".mv-caption");
    this.flash = root.querySelector(".mv-keyflash");
    this.scrub = root.querySelector(".mv-scrub");
    this.timeLabel = root.querySelector(".mv-time");
    this.playBtn = root.querySelector(".mv-play");
    this.loopBox = root.querySelector(".mv-loop");
    this.speedSel = root.querySelector(".mv-speed");
    this.showSel = root.querySelector(".mv-show");
    this.followBox = root.querySelector(".mv-follow");
    this.run = null;          // {id, fps, down, frames, keys, stages: Map, count, done, summary}
    this.shown = 0;           // stage on screen
    this.shownAt = 0;         // when it was first drawn
    this.live = true;         // follow the stream (false once the user picks a stage)
    this.process = null;      // "Play the process" timer state
    this.t = 0;               // playhead, in frames (fractional while playing)
    this.playing = true;
    this.lastFrame = -1;
    this.dirty = true;
    this.times = {};          // performance.now() of first draws, for the browser test
    this.init3d();
    this.bindControls();
    this.posing = new PoseEditor(this);
    for (const [name, fn] of [["momadiff-seek", (d) => this.seek(d.frame)],
      ["momadiff-show-stage", (d) => this.showStage(d.index, false)],
      ["momadiff-play-process", () => this.playProcess()],
      // Generate was pressed: the old motion needs no frames until the new one comes.
      ["momadiff-generate-click", () => { this.hold = performance.now() + HOLD_MS; }]]) {
      window.addEventListener(name, (e) => fn(e.detail || {}));
    }
    // Off screen (scrolled away) nothing is drawn; the clock still runs.
    this.onScreen = true;
    new IntersectionObserver((es) => { this.onScreen = es[es.length - 1].isIntersecting; if (this.onScreen) this.dirty = true; })
      .observe(this.wrap);
    let last = 0;
    const loop = (now) => {
      requestAnimationFrame(loop);
      if (now - last < 1000 / (this.soft ? SOFT_FPS : MAX_FPS) - 1) return;
      const dt = Math.min(0.1, (now - last) / 1000);
      last = now;
      this.tick(now, dt);
    };
    requestAnimationFrame(loop);
  }

  init3d() {
    const soft = softwareGL();
    this.soft = soft;
    this.root.dataset.software = soft ? "1" : "0";
    this.renderer = new THREE.WebGLRenderer({ canvas: this.canvas, antialias: !soft });
    this.renderer.setPixelRatio(soft ? 0.75 : Math.min(2, window.devicePixelRatio || 1));
    this.scene = makeScene();
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.05, 100);
    this.orbit = new Orbit(this.camera, this.canvas, () => { this.dirty = true; });
    this.skeleton = new SkeletonMesh(this.scene);
    this.ghost = new SkeletonMesh(this.scene, { color: COLORS.key, opacity: 0.55, radius: 0.014, depthTest: false, renderOrder: 2 });
    this.ghost.visible = false;
    const shadow = new THREE.Mesh(new THREE.CircleGeometry(0.28, 32),
      new THREE.MeshBasicMaterial({ color: 0x000000, transparent: true, opacity: 0.12, depthWrite: false }));
    shadow.rotation.x = -Math.PI / 2;
    shadow.position.y = 0.002;
    this.shadow = shadow;
    this.scene.add(shadow);
    this.path = new THREE.Line(new THREE.BufferGeometry(), new THREE.LineBasicMaterial({ color: COLORS.path }));
    this.path.frustumCulled = false;
    this.scene.add(this.path);
    this.keyMarks = new THREE.Group();
    this.scene.add(this.keyMarks);
    this.head = new THREE.Mesh(new THREE.RingGeometry(0.05, 0.08, 24), new THREE.MeshBasicMaterial({ color: COLORS.path }));
    this.head.rotation.x = -Math.PI / 2;
    this.scene.add(this.head);
    new ResizeObserver(() => this.resize()).observe(this.wrap);
    this.resize();
  }

  loadMannequin(data) {
    this.mannequin = new MannequinMesh(this.scene, data);
    this.applyShow();
    this.dirty = true;
  }

  resize() {
    const w = Math.max(100, this.wrap.clientWidth), h = Math.max(100, this.wrap.clientHeight);
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  bindControls() {
    this.playBtn.addEventListener("click", () => this.setPlaying(!this.playing));
    this.scrub.addEventListener("input", () => { this.setPlaying(false); this.seek(Number(this.scrub.value)); });
    this.showSel.addEventListener("change", () => this.applyShow());
    this.speedSel.addEventListener("change", () => { this.dirty = true; });
  }

  applyShow() {
    const v = this.showSel.value, posing = this.posing && this.posing.active;
    this.skeleton.visible = v !== "mannequin" || posing;
    if (this.mannequin) this.mannequin.visible = v !== "skeleton";
    if (this.mannequin) {
      const m = this.mannequin.mesh.material;
      m.opacity = posing ? 0.45 : 1;
      m.transparent = posing;
      m.depthWrite = !posing;
      m.needsUpdate = true;
    }
    this.dirty = true;
  }

  setPlaying(on) {
    this.playing = on;
    this.playBtn.textContent = on ? "❚❚ Pause" : "▶ Play";
    this.root.dataset.playing = on ? "1" : "0";
  }

  // ---------------------------------------------------------------- messages from the server
  /** A message (momadiff/ui/viewdata.py), as JSON text or an object. */
  push(msg) {
    if (typeof msg === "string") {
      if (!msg.trim()) return;
      try { msg = JSON.parse(msg); } catch (e) { return; }
    }
    if (!msg || !msg.run) return;
    if (msg.stage && !Array.isArray(msg.stage.joints)) return;
    if (!this.run || this.run.id !== msg.run) {
      this.run = { id: msg.run, fps: msg.fps || 20, down: msg.down || 4, frames: msg.frames, keys: msg.keys || [],
        stages: new Map(), count: msg.stage ? msg.stage.count : msg.count, done: false, summary: "",
        asked: new Set(), waitSince: 0 };
      this.shown = 0;
      this.live = true;
      this.stopProcess();
      this.times[msg.run] = { received: performance.now() };
      this.hold = 0;
      // A new motion is what the user wants to see: stop posing (the key stays as posed).
      if (this.posing.active && msg.run !== "example") window.dispatchEvent(new CustomEvent("momadiff-deselect"));
      this.setPlaying(true);
    }
    const r = this.run;
    if (!msg.stage) {   // the end of the run, without joints: fetch what the stream skipped
      r.done = true;
      if (msg.summary) r.summary = msg.summary;
      if (msg.count) r.count = msg.count;
      for (let i = 1; i <= r.count; i++) if (!r.stages.has(i)) this.fetchStage(i);   // for replay
      this.announce();
      return;
    }
    const st = msg.stage;
    const joints = new Float32Array(st.joints.length);
    for (let i = 0; i < joints.length; i++) joints[i] = st.joints[i] / 1000;
    r.stages.set(st.index, { index: st.index, count: st.count, kinds: st.kinds, joints });
    r.count = st.count;
    r.done = r.done || !!msg.done;
    if (msg.summary) r.summary = msg.summary;
    if (this.live && this.shown === 0 && st.index === 1) {
      this.showStage(1, true);
      this.draw(performance.now());   // now, not at the next animation frame
    }
    this.announce();
  }

  /** Ask the server for a stage the stream did not deliver (a safety net; see stream.py). */
  fetchStage(index) {
    const r = this.run, server = this.opts.server;
    if (!r || !server || !server.view_stage || r.asked.has(index)) return;
    r.asked.add(index);
    Promise.resolve(server.view_stage(r.id + ":" + index)).then((text) => {
      if (text && this.run === r) this.push(text);
    }).catch((e) => console.warn("stage " + index + " not fetched", e));
  }

  /** The stage the stream should show next: the one after the shown one, fetched if it was
   * skipped; after a while without it, the next one that did arrive. */
  nextLive(now) {
    const r = this.run, want = this.shown + 1;
    if (r.stages.has(want)) return want;
    const later = [...r.stages.keys()].filter((i) => i > this.shown);
    if (r.done && want <= r.count) this.fetchStage(want);
    if (!later.length) return undefined;
    this.fetchStage(want);
    if (!r.waitSince) r.waitSince = now;
    if (now - r.waitSince < 2000) return undefined;
    r.waitSince = 0;
    return Math.min(...later);
  }

  /** Stage `index` of the current run on screen; live = chosen by the stream, not the user. */
  showStage(index, live) {
    const r = this.run;
    if (!r || !r.stages.has(index)) return;
    if (!live) { this.live = false; this.stopProcess(); }
    this.shown = index;
    this.shownAt = 0;
    const st = r.stages.get(index);
    this.frames = Math.round(st.joints.length / (3 * NUM_JOINTS));
    this.motion = st.joints;
    this.scrub.max = String(this.frames - 1);
    this.updatePath();
    this.lastFrame = -1;
    this.dirty = true;
    this.announce();
  }

  announce() {
    const r = this.run;
    if (!r) return;
    const st = r.stages.get(this.shown);
    this.root.dataset.run = r.id;
    this.root.dataset.stage = String(this.shown);
    this.root.dataset.count = String(r.count);
    this.root.dataset.received = String(r.stages.size);
    this.root.dataset.done = r.done ? "1" : "0";
    this.caption.textContent = (r.summary ? r.summary + " · " : "") +
      (r.count > 1 || !r.done ? "stage " + this.shown + " of " + r.count : "");
    window.dispatchEvent(new CustomEvent("momadiff-stage", { detail: {
      index: this.shown, count: r.count, kinds: st ? st.kinds : "", down: r.down, frames: this.frames,
      done: r.done, live: this.live, received: [...r.stages.keys()], summary: r.summary, run: r.id } }));
  }

  playProcess() {
    const r = this.run;
    if (!r || r.stages.size === 0) return;
    this.stopProcess();
    this.live = false;
    this.process = { next: performance.now() + PROCESS_STEP_MS };
    this.showStage(Math.min(...r.stages.keys()), true);
    this.setPlaying(true);
    this.root.dataset.process = "1";
  }

  stopProcess() {
    this.process = null;
    this.root.dataset.process = "0";
  }

  // ---------------------------------------------------------------- playback
  seek(frame) {
    if (!this.frames) return;
    this.t = Math.min(this.frames - 1, Math.max(0, Number(frame) || 0));
    this.scrub.value = String(Math.round(this.t));
    this.dirty = true;
  }

  poseAt(t) {
    const f0 = Math.floor(t), f1 = Math.min(this.frames - 1, f0 + 1), a = t - f0, n = 3 * NUM_JOINTS;
    const out = new Float32Array(n), m = this.motion;
    for (let i = 0; i < n; i++) out[i] = m[f0 * n + i] * (1 - a) + m[f1 * n + i] * a;
    return out;
  }

  updatePath() {
    const n = 3 * NUM_JOINTS, pts = [];
    for (let f = 0; f < this.frames; f++) pts.push(this.motion[f * n], 0.003, this.motion[f * n + 2]);
    this.path.geometry.dispose();
    this.path.geometry = new THREE.BufferGeometry();
    this.path.geometry.setAttribute("position", new THREE.Float32BufferAttribute(pts, 3));
    for (const c of [...this.keyMarks.children]) { c.geometry.dispose(); this.keyMarks.remove(c); }
    for (const k of (this.run && this.run.keys) || []) {
      if (k.frame >= this.frames) continue;
      const m = new THREE.Mesh(new THREE.CircleGeometry(0.045, 16), new THREE.MeshBasicMaterial({ color: COLORS.key }));
      m.rotation.x = -Math.PI / 2;
      m.position.set(this.motion[k.frame * n], 0.004, this.motion[k.frame * n + 2]);
      this.keyMarks.add(m);
    }
  }

  tick(now, dt) {
    if (this.hold) {
      if (now < this.hold) return;
      this.hold = 0;
    }
    const r = this.run;
    if (r && this.live && this.shown === 0) {
      const first = this.nextLive(now);
      if (first !== undefined) this.showStage(first, true);
    }
    if (r && this.shownAt > 0) {
      // The stream moves on only once the stage on screen has been seen for a moment.
      if (this.live && now - this.shownAt >= Math.min(LIVE_DWELL_MS, LIVE_BUDGET_MS / Math.max(1, r.count))) {
        const next = this.nextLive(now);
        if (next !== undefined) this.showStage(next, true);
      }
      if (this.process && now >= this.process.next) {
        const next = [...r.stages.keys()].filter((i) => i > this.shown).sort((a, b) => a - b)[0];
        if (next !== undefined) { this.showStage(next, true); this.process.next = now + PROCESS_STEP_MS; }
        else if (r.done) this.stopProcess();
      }
    }
    if (this.posing.active) { if (this.dirty) this.draw(now); return; }
    if (!this.motion || !this.shown) return;
    if (this.playing) {
      this.t += dt * r.fps * Number(this.speedSel.value || 1);
      if (this.t > this.frames - 1) {
        if (this.loopBox.checked || this.process) this.t = 0;
        else { this.t = this.frames - 1; this.setPlaying(false); }
      }
      this.dirty = true;
    }
    if (this.dirty) this.draw(now);
  }

  draw(now) {
    if (!this.onScreen && this.shownAt > 0) return;
    this.dirty = false;
    const p = this.posing.active ? this.posing.pose : this.poseAt(this.t);
    this.skeleton.update(p);
    if (this.mannequin) this.mannequin.update(p);
    this.shadow.position.set(p[0], 0.002, p[2]);
    if (this.followBox.checked && !this.posing.active) {
      const tx = p[0], tz = p[2];
      this.orbit.target.x += (tx - this.orbit.target.x) * 0.2;
      this.orbit.target.z += (tz - this.orbit.target.z) * 0.2;
      this.orbit.update();
      // Keep drawing until the camera has caught up with the body (after a seek while paused).
      this.dirty = this.playing || Math.hypot(tx - this.orbit.target.x, tz - this.orbit.target.z) > 0.01;
    }
    if (!this.posing.active) this.frameChanged();
    this.renderer.render(this.scene, this.camera);
    if (this.run && this.shownAt === 0) {
      this.shownAt = now || performance.now();
      const t = this.times[this.run.id];
      const key = "stage" + this.shown;
      if (t && !(key in t)) t[key] = performance.now();
      if (t && this.shown === this.run.count && !("final" in t)) t.final = performance.now();
    }
  }

  frameChanged() {
    const f = Math.round(this.t);
    this.head.position.set(this.motion[f * 66], 0.004, this.motion[f * 66 + 2]);
    if (f === this.lastFrame) return;
    const prev = this.lastFrame;
    this.lastFrame = f;
    this.scrub.value = String(f);
    const r = this.run;
    this.timeLabel.textContent = "frame " + f + " / " + (this.frames - 1) + " · " + (f / r.fps).toFixed(2) + " s";
    this.root.dataset.frame = String(f);
    // A key is marked while the playhead crosses it: its pose as an orange ghost, for a moment.
    const crossed = (r.keys || []).find((k) => (prev < f ? k.frame > prev && k.frame <= f : k.frame === f));
    if (crossed) {
      // A partial key (some joints by name) has no whole pose to draw: only its frame is flashed.
      if (Array.isArray(crossed.joints)) {
        this.ghost.update(Float32Array.from(crossed.joints.flat()));
        this.ghost.visible = true;
      }
      this.flash.textContent = "key at frame " + crossed.frame;
      this.flash.hidden = false;
      this.ghostUntil = performance.now() + 700;
    } else if (this.ghostUntil && performance.now() > this.ghostUntil) {
      this.ghost.visible = false;
      this.flash.hidden = true;
      this.ghostUntil = 0;
    }
    window.dispatchEvent(new CustomEvent("momadiff-frame", { detail: { frame: f, frames: this.frames } }));
  }
}

/** Build the view inside `element` (the gr.HTML's root). opts: {mannequinUrl, exampleUrl}. */
export async function mount(element, opts) {
  const root = element.querySelector(".mv");
  if (!hasWebGL()) {
    window.momadiffNoGL = true;
    root.dataset.gl = "none";
    root.querySelector(".mv-nogl").hidden = false;
    root.querySelector(".mv-stage").hidden = true;
    root.querySelector(".mv-controls").hidden = true;
    window.dispatchEvent(new CustomEvent("momadiff-no-webgl"));
    return null;
  }
  const view = new View(root, opts);
  root.dataset.gl = "1";
  window.momadiffView = view;
  const pending = window.momadiffViewQueue || [];
  window.momadiffViewQueue = { push: (m) => view.push(m) };
  fetch(opts.mannequinUrl).then((r) => r.json()).then((d) => view.loadMannequin(d))
    .catch((e) => console.warn("mannequin not loaded", e));
  if (pending.length) pending.forEach((m) => view.push(m));
  else if (opts.exampleUrl) {
    fetch(opts.exampleUrl).then((r) => r.json()).then((m) => { if (!view.run) view.push(m); })
      .catch((e) => console.warn("example not loaded", e));
  }
  root.dataset.ready = "1";
  return view;
}
