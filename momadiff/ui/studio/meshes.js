// What the 3D views draw, built from numbers: the floor, a skeleton (instanced cylinders and
// spheres), the project's mannequin (a SkinnedMesh posed from joint positions), and the checks
// for WebGL and for software rendering. Used by view.js and compare.js.
import * as THREE from "./vendor/three/three.module.js";
import { LEFT, NUM_JOINTS, PARENTS, RIGHT, globalRotations } from "./rig.js";

const COLORS = { left: 0x266ebe, right: 0xd6372e, mid: 0x464c5c };

/** The floor: a large plane with a 0.5 m grid texture (triangles, which every WebGL draws well;
 * thin GL lines vanish on some software renderers). */
export function makeFloor() {
  const c = document.createElement("canvas");
  c.width = c.height = 128;
  const g = c.getContext("2d");
  g.fillStyle = "#eceef2"; g.fillRect(0, 0, 128, 128);
  g.strokeStyle = "#b8bec9"; g.lineWidth = 2;
  g.strokeRect(0, 0, 128, 128);
  const tex = new THREE.CanvasTexture(c);
  tex.wrapS = tex.wrapT = THREE.RepeatWrapping;
  tex.repeat.set(80, 80);
  tex.anisotropy = 4;
  tex.colorSpace = THREE.SRGBColorSpace;
  const floor = new THREE.Mesh(new THREE.PlaneGeometry(40, 40), new THREE.MeshBasicMaterial({ map: tex }));
  floor.rotation.x = -Math.PI / 2;
  return floor;
}

/** A scene with the studio's background, lights and floor (the main view and the comparison). */
export function makeScene() {
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xf3f4f6);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x9ca3af, 1.6));
  const sun = new THREE.DirectionalLight(0xffffff, 1.8);
  sun.position.set(2, 4, 3);
  scene.add(sun);
  scene.add(makeFloor());
  return scene;
}

function b64(text, Type) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

/** True when WebGL is drawn by the CPU (SwiftShader, llvmpipe): then no multisampling, pixel
 * ratio 1, so the view leaves the page (and a server on the same machine) some CPU. */
export function softwareGL() {
  try {
    const gl = document.createElement("canvas").getContext("webgl2") || document.createElement("canvas").getContext("webgl");
    const ext = gl && gl.getExtension("WEBGL_debug_renderer_info");
    const name = ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : "";
    return /swiftshader|llvmpipe|software/i.test(name);
  } catch (e) {
    return false;
  }
}

export function hasWebGL() {
  try {
    const c = document.createElement("canvas");
    return !!(c.getContext("webgl2") || c.getContext("webgl"));
  } catch (e) {
    return false;
  }
}

/** Bones as cylinders and joints as spheres, one instanced mesh each. */
export class SkeletonMesh {
  constructor(scene, opts = {}) {
    const n = NUM_JOINTS;
    const mat = new THREE.MeshStandardMaterial({ roughness: 0.6, transparent: !!opts.opacity,
      opacity: opts.opacity || 1, depthTest: opts.depthTest !== false });
    this.bones = new THREE.InstancedMesh(new THREE.CylinderGeometry(1, 1, 1, 8), mat, n - 1);
    this.joints = new THREE.InstancedMesh(new THREE.SphereGeometry(1, 10, 8), mat.clone(), n);
    for (const m of [this.bones, this.joints]) { m.frustumCulled = false; m.renderOrder = opts.renderOrder || 0; scene.add(m); }
    const col = new THREE.Color();
    for (let j = 0; j < n; j++) {
      col.setHex(opts.color ?? (LEFT.has(j) ? COLORS.left : RIGHT.has(j) ? COLORS.right : COLORS.mid));
      this.joints.setColorAt(j, col);
      if (j > 0) this.bones.setColorAt(j - 1, col);
    }
    this.radius = opts.radius || 0.018;
    this.m = new THREE.Matrix4(); this.q = new THREE.Quaternion(); this.s = new THREE.Vector3();
    this.a = new THREE.Vector3(); this.b = new THREE.Vector3(); this.up = new THREE.Vector3(0, 1, 0);
  }

  set visible(v) { this.bones.visible = v; this.joints.visible = v; }

  update(p) {
    const { m, q, s, a, b } = this;
    for (let j = 0; j < NUM_JOINTS; j++) {
      a.set(p[3 * j], p[3 * j + 1], p[3 * j + 2]);
      const r = j === 15 ? this.radius * 3.2 : this.radius * 1.35;
      this.joints.setMatrixAt(j, m.compose(a, q.identity(), s.set(r, r, r)));
      if (j === 0) continue;
      const pj = PARENTS[j];
      b.set(p[3 * pj], p[3 * pj + 1], p[3 * pj + 2]);
      const len = a.distanceTo(b);
      const dir = b.clone().sub(a).normalize();
      q.setFromUnitVectors(this.up, len > 1e-9 ? dir : this.up);
      this.bones.setMatrixAt(j - 1, m.compose(a.clone().add(b).multiplyScalar(0.5), q, s.set(this.radius, len, this.radius)));
    }
    this.bones.instanceMatrix.needsUpdate = true;
    this.joints.instanceMatrix.needsUpdate = true;
  }
}

/** The mannequin: a SkinnedMesh whose 22 bones sit flat under one group; each frame a bone gets
 * its joint's position and its solved global rotation, so skinning follows the joints exactly. */
export class MannequinMesh {
  constructor(scene, data) {
    const g = new THREE.BufferGeometry();
    g.setAttribute("position", new THREE.BufferAttribute(b64(data.positions, Float32Array), 3));
    g.setIndex(new THREE.BufferAttribute(b64(data.index, Uint16Array), 1));
    g.setAttribute("skinIndex", new THREE.BufferAttribute(b64(data.skin_index, Uint8Array), 4));
    g.setAttribute("skinWeight", new THREE.BufferAttribute(b64(data.skin_weight, Float32Array), 4));
    g.computeVertexNormals();
    this.rest = Float32Array.from(data.rest_joints.flat());
    const mat = new THREE.MeshStandardMaterial({ color: new THREE.Color().setRGB(0.78, 0.64, 0.50), roughness: 0.65 });
    this.mesh = new THREE.SkinnedMesh(g, mat);
    this.mesh.frustumCulled = false;
    this.bones = [];
    const inverses = [];
    for (let j = 0; j < NUM_JOINTS; j++) {
      const bone = new THREE.Bone();
      this.mesh.add(bone);
      this.bones.push(bone);
      inverses.push(new THREE.Matrix4().makeTranslation(-this.rest[3 * j], -this.rest[3 * j + 1], -this.rest[3 * j + 2]));
    }
    this.mesh.bind(new THREE.Skeleton(this.bones, inverses), new THREE.Matrix4());
    this.q = Array.from({ length: NUM_JOINTS }, () => new THREE.Quaternion());
    scene.add(this.mesh);
  }

  set visible(v) { this.mesh.visible = v; }

  update(p) {
    globalRotations(p, this.rest, this.q);
    for (let j = 0; j < NUM_JOINTS; j++) {
      this.bones[j].position.set(p[3 * j], p[3 * j + 1], p[3 * j + 2]);
      this.bones[j].quaternion.copy(this.q[j]);
    }
  }
}

