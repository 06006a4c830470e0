// The 22-joint skeleton in the browser: bone rotations solved from joint positions (to pose the
// mannequin) and the edits of key posing (two-bone IK with bone lengths kept, moving and turning
// the body). Pure functions over flat joint arrays [22 * 3] (metres, Y up), no DOM.
import * as THREE from "./vendor/three/three.module.js";

export const NUM_JOINTS = 22;
// momadiff.motion.skeleton.PARENTS (HumanML3D order).
export const PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19];
export const LEFT = new Set([1, 4, 7, 10, 13, 16, 18, 20]);
export const RIGHT = new Set([2, 5, 8, 11, 14, 17, 19, 21]);
export const CHILDREN = PARENTS.map((_, j) => PARENTS.flatMap((p, c) => (p === j ? [c] : [])));

// Joints with several children get their rotation from two directions (across, up) instead of one
// bone: the pelvis from the hip line and the spine, the upper chest from the collar line and neck.
const FRAMES = { 0: { across: [1, 2], up: [0, 3] }, 9: { across: [13, 14], up: [9, 12] } };

// What a drag on each handle does: IK chains end at the dragged joint; `swing` rotates a limb
// about its root so the dragged joint follows; `carry` joints move rigidly with the dragged one.
export const HANDLES = {
  20: { name: "left hand", ik: [16, 18, 20], carry: [] },
  21: { name: "right hand", ik: [17, 19, 21], carry: [] },
  7: { name: "left foot", ik: [1, 4, 7], carry: [10] },
  8: { name: "right foot", ik: [2, 5, 8], carry: [11] },
  18: { name: "left elbow", swing: [16, 18], carry: [20] },
  19: { name: "right elbow", swing: [17, 19], carry: [21] },
  4: { name: "left knee", swing: [1, 4], carry: [7, 10] },
  5: { name: "right knee", swing: [2, 5], carry: [8, 11] },
  0: { name: "pelvis", move: true },
};

const v3 = (a, j) => new THREE.Vector3(a[3 * j], a[3 * j + 1], a[3 * j + 2]);
const put = (a, j, v) => { a[3 * j] = v.x; a[3 * j + 1] = v.y; a[3 * j + 2] = v.z; };

function basis(across, up) {
  const x = across.clone().normalize();
  const z = new THREE.Vector3().crossVectors(x, up).normalize();
  const y = new THREE.Vector3().crossVectors(z, x);
  return new THREE.Matrix4().makeBasis(x, y, z);
}

/** Global rotations [22] (THREE.Quaternion) that turn the rest skeleton `rest` [66] into the pose
 * `p` [66]: the rest pose's bones are the mannequin's bind pose (identity rotations). */
export function globalRotations(p, rest, out) {
  const q = out || Array.from({ length: NUM_JOINTS }, () => new THREE.Quaternion());
  const tmp = new THREE.Quaternion();
  for (let j = 0; j < NUM_JOINTS; j++) {
    const parentQ = PARENTS[j] < 0 ? new THREE.Quaternion() : q[PARENTS[j]];
    const kids = CHILDREN[j];
    if (FRAMES[j]) {
      const f = FRAMES[j];
      const d = (a, b, s) => v3(s, b).sub(v3(s, a));
      const mAct = basis(d(f.across[1], f.across[0], p), d(f.up[0], f.up[1], p));
      const mRest = basis(d(f.across[1], f.across[0], rest), d(f.up[0], f.up[1], rest));
      q[j].setFromRotationMatrix(mAct.multiply(mRest.transpose()));
    } else if (kids.length === 1) {
      const c = kids[0];
      const restDir = v3(rest, c).sub(v3(rest, j)).applyQuaternion(parentQ).normalize();
      const actDir = v3(p, c).sub(v3(p, j));
      if (actDir.lengthSq() < 1e-12) { q[j].copy(parentQ); continue; }
      tmp.setFromUnitVectors(restDir, actDir.normalize());
      q[j].multiplyQuaternions(tmp, parentQ);
    } else {
      q[j].copy(parentQ);   // a leaf turns with its parent
    }
  }
  return q;
}

export function boneLength(p, a, b) { return v3(p, a).distanceTo(v3(p, b)); }

/** Two-bone IK: joints [root, mid, end] of pose p [66] so that `end` reaches `target` (as near as
 * the bone lengths allow), bending in the plane it bends in now. Returns a new array. */
export function twoBoneIK(p, chain, target, carry) {
  const out = Float32Array.from(p);
  const [r, m, e] = chain;
  const root = v3(p, r), mid = v3(p, m), end = v3(p, e);
  const a = root.distanceTo(mid), b = mid.distanceTo(end);
  const toT = target.clone().sub(root);
  const d = Math.min(a + b - 1e-4, Math.max(Math.abs(a - b) + 1e-4, toT.length()));
  const dir = toT.lengthSq() > 1e-12 ? toT.normalize() : end.clone().sub(root).normalize();
  // Bend direction: the current mid joint's offset from the root-end line, kept if it exists.
  const rel = mid.clone().sub(root);
  let bend = rel.sub(dir.clone().multiplyScalar(rel.dot(dir)));
  if (bend.lengthSq() < 1e-10) bend = new THREE.Vector3(0, 0, 1).cross(dir).cross(dir).negate();
  if (bend.lengthSq() < 1e-10) bend = new THREE.Vector3(0, 0, 1);
  bend.normalize();
  const x = (a * a - b * b + d * d) / (2 * d);
  const h = Math.sqrt(Math.max(0, a * a - x * x));
  const newMid = root.clone().addScaledVector(dir, x).addScaledVector(bend, h);
  const newEnd = root.clone().addScaledVector(dir, d);
  put(out, m, newMid);
  put(out, e, newEnd);
  const shift = newEnd.clone().sub(end);
  for (const c of carry || []) put(out, c, v3(p, c).add(shift));
  return out;
}

/** Turn a limb about its root joint so that its next joint points at `target` (lengths kept);
 * the joints in `carry` turn with it. */
export function swingLimb(p, [r, m], target, carry) {
  const out = Float32Array.from(p);
  const root = v3(p, r);
  const from = v3(p, m).sub(root), to = target.clone().sub(root);
  if (to.lengthSq() < 1e-10 || from.lengthSq() < 1e-10) return out;
  const q = new THREE.Quaternion().setFromUnitVectors(from.clone().normalize(), to.normalize());
  for (const j of [m, ...(carry || [])]) put(out, j, v3(p, j).sub(root).applyQuaternion(q).add(root));
  return out;
}

/** The whole pose moved on the floor by (dx, dz). */
export function moveBody(p, dx, dz) {
  const out = Float32Array.from(p);
  for (let j = 0; j < NUM_JOINTS; j++) { out[3 * j] += dx; out[3 * j + 2] += dz; }
  return out;
}

/** The whole pose turned by `angle` radians about the vertical line through the pelvis. */
export function turnBody(p, angle) {
  const out = Float32Array.from(p);
  const c = Math.cos(angle), s = Math.sin(angle), cx = p[0], cz = p[2];
  for (let j = 0; j < NUM_JOINTS; j++) {
    const x = p[3 * j] - cx, z = p[3 * j + 2] - cz;
    out[3 * j] = cx + c * x + s * z;
    out[3 * j + 2] = cz - s * x + c * z;
  }
  return out;
}

/** Apply one handle drag to pose p: joint j dragged to `target` (THREE.Vector3). */
export function dragJoint(p, j, target) {
  const h = HANDLES[j];
  if (!h) return Float32Array.from(p);
  if (h.ik) return twoBoneIK(p, h.ik, target, h.carry);
  if (h.swing) return swingLimb(p, h.swing, target, h.carry);
  return moveBody(p, target.x - p[0], target.z - p[2]);
}

export { v3 as jointVector };
