// Key posing in the 3D view. Selecting a key on the timeline ("momadiff-key-selected") shows its
// pose with handles: a hand or foot moves its limb by two-bone IK (bone lengths kept), an elbow or
// knee swings its limb about the shoulder or hip, the pelvis moves the body on the floor and the
// ring turns its facing. Every finished drag sends "momadiff-pose-edited" {frame, joints}; the
// timeline makes that the key's pose. Undo / redo: the buttons, Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y.
//
// Hook for per-joint pins (when the partial-key API lands): `pinned` holds the joints the user
// pinned; it is sent with every edit but nothing sets it yet.
import * as THREE from "./vendor/three/three.module.js";
import { HANDLES, dragJoint, moveBody, turnBody } from "./rig.js";

const RING = -1;   // the facing ring's handle id

export class PoseEditor {
  constructor(view) {
    this.view = view;
    this.active = false;
    this.pose = null;
    this.frame = null;
    this.undo = [];
    this.redo = [];
    this.pinned = new Set();
    this.drag = null;
    this.bar = view.root.querySelector(".mv-posebar");
    this.barText = this.bar.querySelector(".mv-posetext");
    this.undoBtn = this.bar.querySelector(".mv-undo");
    this.redoBtn = this.bar.querySelector(".mv-redo");
    this.group = new THREE.Group();
    this.group.visible = false;
    this.handles = new Map();
    for (const j of Object.keys(HANDLES).map(Number)) {
      const big = j === 0;
      const m = new THREE.Mesh(new THREE.SphereGeometry(big ? 0.06 : 0.045, 16, 12),
        new THREE.MeshBasicMaterial({ color: big ? 0x7c3aed : 0x16a34a, transparent: true, opacity: 0.85, depthTest: false }));
      m.renderOrder = 5;
      m.userData.joint = j;
      this.handles.set(j, m);
      this.group.add(m);
    }
    const ring = new THREE.Mesh(new THREE.TorusGeometry(0.42, 0.018, 8, 64),
      new THREE.MeshBasicMaterial({ color: 0x7c3aed, transparent: true, opacity: 0.8 }));
    ring.rotation.x = Math.PI / 2;
    ring.userData.joint = RING;
    this.ring = ring;
    this.group.add(ring);
    view.scene.add(this.group);
    this.raycaster = new THREE.Raycaster();
    const wrap = view.wrap;
    wrap.addEventListener("pointerdown", (e) => this.down(e), { capture: true });
    wrap.addEventListener("pointermove", (e) => this.move(e), { capture: true });
    wrap.addEventListener("pointerup", (e) => this.up(e), { capture: true });
    wrap.addEventListener("pointercancel", (e) => this.up(e), { capture: true });
    this.undoBtn.addEventListener("click", () => this.step(this.undo, this.redo));
    this.redoBtn.addEventListener("click", () => this.step(this.redo, this.undo));
    this.bar.querySelector(".mv-done").addEventListener("click", () =>
      window.dispatchEvent(new CustomEvent("momadiff-deselect")));
    view.root.addEventListener("keydown", (e) => {
      if (!this.active || !(e.ctrlKey || e.metaKey)) return;
      const k = e.key.toLowerCase();
      if (k === "z" && !e.shiftKey) { e.preventDefault(); this.step(this.undo, this.redo); }
      else if (k === "y" || (k === "z" && e.shiftKey)) { e.preventDefault(); this.step(this.redo, this.undo); }
    });
    window.addEventListener("momadiff-key-selected", (e) => this.select((e.detail || {}).key || null));
  }

  /** Pose the key {frame, joints: 22 x [x, y, z], label}, or stop posing (null). */
  select(key) {
    const same = key && this.active && key.frame === this.frame;
    if (!key) {
      this.active = false;
      this.group.visible = false;
      this.bar.hidden = true;
      this.view.root.dataset.posing = "";
    } else {
      const joints = Float32Array.from(key.joints.flat());
      if (!same) { this.undo = []; this.redo = []; }
      this.pose = joints;
      this.frame = key.frame;
      this.active = true;
      this.group.visible = true;
      this.bar.hidden = false;
      this.view.root.dataset.posing = String(key.frame);
      if (!same) {
        this.view.orbit.target.set(joints[0], 0.9, joints[2]);
        this.view.orbit.update();
        this.view.setPlaying(false);
        this.view.seek(key.frame);   // the playhead (and the timeline's) at the key being posed
      }
    }
    this.view.applyShow();
    this.refresh();
  }

  refresh() {
    if (this.active) {
      for (const [j, m] of this.handles) m.position.set(this.pose[3 * j], this.pose[3 * j + 1], this.pose[3 * j + 2]);
      this.ring.position.set(this.pose[0], 0.02, this.pose[2]);
      this.barText.textContent = "Posing the key at frame " + this.frame + ": drag a green handle (hands, feet, elbows, " +
        "knees), the purple pelvis to move, the ring to turn.";
      this.undoBtn.disabled = this.undo.length === 0;
      this.redoBtn.disabled = this.redo.length === 0;
      this.view.root.dataset.undo = String(this.undo.length);
    }
    this.view.dirty = true;
  }

  ray(e) {
    const r = this.view.canvas.getBoundingClientRect();
    const ndc = new THREE.Vector2(((e.clientX - r.left) / r.width) * 2 - 1, -((e.clientY - r.top) / r.height) * 2 + 1);
    this.raycaster.setFromCamera(ndc, this.view.camera);
    return this.raycaster.ray;
  }

  down(e) {
    if (!this.active || e.button > 0) return;
    const ray = this.ray(e);
    const hits = this.raycaster.intersectObjects([...this.handles.values(), this.ring], false);
    if (!hits.length) return;
    e.preventDefault();
    e.stopPropagation();
    const j = hits[0].object.userData.joint;
    const at = j === RING || j === 0 ? new THREE.Vector3(this.pose[0], j === RING ? 0.02 : this.pose[1], this.pose[2])
      : new THREE.Vector3(this.pose[3 * j], this.pose[3 * j + 1], this.pose[3 * j + 2]);
    const normal = j === RING || j === 0 ? new THREE.Vector3(0, 1, 0)
      : this.view.camera.getWorldDirection(new THREE.Vector3()).negate();
    const plane = new THREE.Plane().setFromNormalAndCoplanarPoint(normal, at);
    const hit = ray.intersectPlane(plane, new THREE.Vector3());
    if (!hit) return;
    this.view.wrap.setPointerCapture(e.pointerId);
    this.drag = { j, plane, start: Float32Array.from(this.pose), grab: hit.clone(), at, id: e.pointerId };
    this.view.root.dataset.dragging = String(j);
  }

  move(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    e.stopPropagation();
    const hit = this.ray(e).intersectPlane(d.plane, new THREE.Vector3());
    if (!hit) return;
    if (d.j === RING) {
      const a0 = Math.atan2(d.grab.x - d.start[0], d.grab.z - d.start[2]);
      const a1 = Math.atan2(hit.x - d.start[0], hit.z - d.start[2]);
      this.pose = turnBody(d.start, a1 - a0);
    } else if (d.j === 0) {
      this.pose = moveBody(d.start, hit.x - d.grab.x, hit.z - d.grab.z);
    } else {
      this.pose = dragJoint(d.start, d.j, d.at.clone().add(hit.sub(d.grab)));
    }
    this.refresh();
  }

  up(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    e.stopPropagation();
    this.drag = null;
    this.view.root.dataset.dragging = "";
    if (d.start.some((v, i) => Math.abs(v - this.pose[i]) > 1e-6)) {
      this.undo.push(d.start);
      this.redo = [];
      this.emit();
    }
    this.refresh();
  }

  step(from, to) {
    if (!this.active || !from.length) return;
    to.push(this.pose);
    this.pose = from.pop();
    this.emit();
    this.refresh();
  }

  emit() {
    const joints = [];
    for (let j = 0; j < 22; j++) joints.push([0, 1, 2].map((c) => Math.round(this.pose[3 * j + c] * 1e4) / 1e4));
    window.dispatchEvent(new CustomEvent("momadiff-pose-edited", { detail: {
      frame: this.frame, joints, pinned: [...this.pinned] } }));
  }

  /** Where joint j's handle is on the page (client pixels), for tests and tours. */
  handleScreen(j) {
    const m = j === RING ? this.ring : this.handles.get(j);
    const v = j === RING ? new THREE.Vector3(this.pose[0] + 0.42, 0.02, this.pose[2]) : m.position.clone();
    v.project(this.view.camera);
    const r = this.view.canvas.getBoundingClientRect();
    return { x: r.left + (v.x + 1) / 2 * r.width, y: r.top + (1 - v.y) / 2 * r.height };
  }
}
