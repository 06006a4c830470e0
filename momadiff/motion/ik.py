"""Inverse kinematics on one pose of the 22-joint skeleton that keeps every bone length (numpy).

solve(pose, targets) moves joints onto target positions by rotating bones, never stretching them:

- a wrist or ankle: two-bone IK (shoulder-elbow-wrist, hip-knee-ankle), analytic, the elbow or knee
  staying in the plane it bends in now; the foot (toe) joint follows its ankle rigidly;
- an elbow, knee or foot (toe) joint: its parent bone turns to point at it, carrying what hangs
  from it (a wrist or ankle with its own target is then solved from there);
- a foot (toe) joint alone: the leg places the ankle so that the foot lands on the target;
- the head, neck, spine, collars and shoulders: FABRIK on the chain up to the first spine joint.

The pelvis is not moved (the root path correction in momadiff.keyframes places it). A target out
of reach gives the closest pose; solve reports how far each target is still off. Used by the
joint-space correction (momadiff.correction.correct) and meant for the studio's posing.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from . import skeleton

J = skeleton.JOINT_INDEX
LIMBS = {  # end joint -> (root, middle) of its two-bone chain
    J["l_wrist"]: (J["l_shoulder"], J["l_elbow"]), J["r_wrist"]: (J["r_shoulder"], J["r_elbow"]),
    J["l_ankle"]: (J["l_hip"], J["l_knee"]), J["r_ankle"]: (J["r_hip"], J["r_knee"]),
}
ONE_BONE = (J["l_elbow"], J["r_elbow"], J["l_knee"], J["r_knee"])
TOES = {J["l_foot"]: J["l_ankle"], J["r_foot"]: J["r_ankle"]}
SPINE_ROOT = J["spine1"]
FABRIK_ITERATIONS = 30


def descendants(j: int) -> list[int]:
    """j and every joint below it in the tree."""
    out = [j]
    for c in range(j + 1, skeleton.NUM_JOINTS):
        if skeleton.PARENTS[c] in out:
            out.append(c)
    return out


def _rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The shortest rotation matrix [3, 3] turning direction a onto direction b."""
    a = a / max(np.linalg.norm(a), 1e-12)
    b = b / max(np.linalg.norm(b), 1e-12)
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-9:   # opposite: turn half a circle about any perpendicular axis
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def _turn(pose: np.ndarray, pivot: int, child: int, toward: np.ndarray) -> None:
    """Rotate the subtree of `child` about joint `pivot` so that pivot->child points at `toward`."""
    p = pose[pivot]
    r = _rotation(pose[child] - p, toward - p)
    idx = descendants(child)
    pose[idx] = (pose[idx] - p) @ r.T + p


def two_bone(pose: np.ndarray, end: int, target: np.ndarray) -> None:
    """Place `end` (a wrist or ankle) at target by turning its two bones, in place; the middle joint
    stays on the side it bends to now. Out of reach: the limb stretches straight toward it."""
    root, mid = LIMBS[end]
    a = np.linalg.norm(pose[mid] - pose[root])
    b = np.linalg.norm(pose[end] - pose[mid])
    to = target - pose[root]
    d = float(np.linalg.norm(to))
    if d < 1e-9:
        return
    u = to / d
    d = float(np.clip(d, abs(a - b) + 1e-6, a + b - 1e-9))
    x = (a * a - b * b + d * d) / (2 * d)         # along root->target, where the middle joint projects
    h = np.sqrt(max(a * a - x * x, 0.0))
    bend = pose[mid] - pose[root]
    bend = bend - np.dot(bend, u) * u
    if np.linalg.norm(bend) < 1e-6:
        # Straight limb: bend knees forward and elbows down and back, as bodies do.
        fwd = skeleton.facing_direction(pose)
        bend = fwd if end in (J["l_ankle"], J["r_ankle"]) else -fwd - np.array([0.0, 0.5, 0.0])
        bend = bend - np.dot(bend, u) * u
    bend /= max(np.linalg.norm(bend), 1e-12)
    _turn(pose, root, mid, pose[root] + x * u + h * bend)
    _turn(pose, mid, end, pose[root] + d * u)


def _fabrik(pose: np.ndarray, j: int, target: np.ndarray) -> None:
    """FABRIK on the chain from the first spine joint (fixed) to j, then each bone of the chain
    turned onto its new direction carrying its branches (collars, arms, head)."""
    chain = [j]
    while chain[-1] != SPINE_ROOT:
        chain.append(skeleton.PARENTS[chain[-1]])
        if chain[-1] < 0:
            return
    chain = chain[::-1]                                     # spine1 ... j
    pts = pose[chain].copy()
    lengths = np.linalg.norm(np.diff(pts, axis=0), axis=-1)
    base = pts[0].copy()
    for _ in range(FABRIK_ITERATIONS):
        pts[-1] = target
        for i in range(len(pts) - 2, -1, -1):
            d = pts[i] - pts[i + 1]
            pts[i] = pts[i + 1] + d / max(np.linalg.norm(d), 1e-12) * lengths[i]
        pts[0] = base
        for i in range(1, len(pts)):
            d = pts[i] - pts[i - 1]
            pts[i] = pts[i - 1] + d / max(np.linalg.norm(d), 1e-12) * lengths[i - 1]
        if np.linalg.norm(pts[-1] - target) < 1e-6:
            break
    for i in range(len(chain) - 1):
        _turn(pose, chain[i], chain[i + 1], pts[i + 1])


def solve(pose: np.ndarray, targets: Mapping[int, np.ndarray]) -> tuple[np.ndarray, dict[int, float]]:
    """Move a pose [22, 3] so that joints reach targets {joint index: [3]} with bone lengths kept.

    Spine-side targets are solved first, then elbows and knees, then wrists and ankles, then the
    feet, so a later step never undoes an earlier one on the same chain. The pelvis is left where
    it is (a pelvis target only counts in the returned errors). Returns (new pose, {joint: metres
    still off})."""
    out = np.asarray(pose, np.float64).copy()
    tg = {int(j): np.asarray(t, np.float64) for j, t in targets.items()}
    for j, t in tg.items():
        if j not in LIMBS and j not in ONE_BONE and j not in TOES and j != 0:
            _fabrik(out, j, t)
    for j in ONE_BONE:
        if j in tg:
            _turn(out, skeleton.PARENTS[j], j, tg[j])
    for end, (_, mid) in LIMBS.items():
        toe = next((f for f, a in TOES.items() if a == end), None)
        want = tg.get(end)
        if want is None and toe in tg:
            want = tg[toe] - (out[toe] - out[end])      # land the toe: put the ankle where it must be
        if want is None:
            continue
        if mid in tg:
            _turn(out, mid, end, want)                  # the middle joint is pinned: turn the lower bone only
        else:
            two_bone(out, end, want)
    for toe, ankle in TOES.items():
        if toe in tg:
            _turn(out, ankle, toe, tg[toe])
    return out, {j: float(np.linalg.norm(out[j] - t)) for j, t in tg.items()}
