// A small orbit camera: drag to turn around the target, wheel or pinch to zoom, shift-drag or
// right-drag to pan. The target can follow the body (view.js moves it); nothing else is needed,
// so three's OrbitControls addon (and an import map for it) is not.
import * as THREE from "./vendor/three/three.module.js";

export class Orbit {
  constructor(camera, dom, onChange) {
    this.camera = camera;
    this.dom = dom;
    this.onChange = onChange || (() => {});
    this.target = new THREE.Vector3(0, 0.9, 0);
    this.theta = 0.6;       // around +Y, 0 = camera on +Z looking at the body's front
    this.phi = 1.25;        // from +Y down
    this.radius = 4.2;
    this.enabled = true;
    this.pointers = new Map();
    this.pinch = 0;
    dom.addEventListener("pointerdown", (e) => this.down(e));
    dom.addEventListener("pointermove", (e) => this.move(e));
    dom.addEventListener("pointerup", (e) => this.up(e));
    dom.addEventListener("pointercancel", (e) => this.up(e));
    dom.addEventListener("wheel", (e) => {
      e.preventDefault();
      this.zoom(Math.exp(e.deltaY * 0.001));
    }, { passive: false });
    dom.addEventListener("contextmenu", (e) => e.preventDefault());
    this.update();
  }

  down(e) {
    if (!this.enabled || e.defaultPrevented) return;
    this.dom.setPointerCapture(e.pointerId);
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY, pan: e.shiftKey || e.button === 2 });
    if (this.pointers.size === 2) this.pinch = this.spread();
  }

  spread() {
    const [a, b] = [...this.pointers.values()];
    return Math.hypot(a.x - b.x, a.y - b.y);
  }

  move(e) {
    const p = this.pointers.get(e.pointerId);
    if (!p) return;
    const dx = e.clientX - p.x, dy = e.clientY - p.y;
    p.x = e.clientX; p.y = e.clientY;
    if (this.pointers.size === 2) {
      const s = this.spread();
      if (this.pinch > 0 && s > 0) this.zoom(this.pinch / s);
      this.pinch = s;
      return;
    }
    if (p.pan) {
      const k = this.radius / Math.max(200, this.dom.clientHeight);
      const right = new THREE.Vector3().setFromMatrixColumn(this.camera.matrix, 0);
      const up = new THREE.Vector3().setFromMatrixColumn(this.camera.matrix, 1);
      this.target.addScaledVector(right, -dx * k).addScaledVector(up, dy * k);
    } else {
      this.theta -= dx * 0.008;
      this.phi = Math.min(Math.PI / 2 - 0.02, Math.max(0.15, this.phi - dy * 0.008));
    }
    this.update();
  }

  up(e) {
    this.pointers.delete(e.pointerId);
    this.pinch = 0;
  }

  zoom(f) {
    this.radius = Math.min(20, Math.max(1.2, this.radius * f));
    this.update();
  }

  update() {
    const s = Math.sin(this.phi);
    this.camera.position.set(this.target.x + this.radius * s * Math.sin(this.theta),
      this.target.y + this.radius * Math.cos(this.phi), this.target.z + this.radius * s * Math.cos(this.theta));
    this.camera.lookAt(this.target);
    this.camera.updateMatrixWorld();
    this.onChange();
  }
}
