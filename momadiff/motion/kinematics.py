"""Forward kinematics and rotations solved from joint positions, for any tree of joints.

Used by BVH export, the HumanML3D features (rotation part and the uniform skeleton) and GLB export.
Local rotations are unit quaternions (w, x, y, z); a joint's global rotation is its parent's global
rotation times its local one, and a child sits at parent + global_rot(parent) * offset(child).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import skeleton
from .rotation import qbetween, qinv, qmul, qnormalize, qrot, matrix_to_quat


def forward(local_q: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray,
            parents: Sequence[int] = skeleton.PARENTS) -> np.ndarray:
    """Joint positions [..., J, 3] from local rotations [..., J, 4], root positions [..., 3] and
    rest offsets [J, 3] (offsets[0] is ignored: the root sits at root_pos)."""
    offsets = np.asarray(offsets, dtype=np.float64)
    glob = [None] * len(parents)
    pos = [None] * len(parents)
    for j, p in enumerate(parents):
        if p < 0:
            glob[j] = local_q[..., j, :]
            pos[j] = np.asarray(root_pos, dtype=np.float64)
        else:
            glob[j] = qmul(glob[p], local_q[..., j, :])
            pos[j] = pos[p] + qrot(glob[p], np.broadcast_to(offsets[j], pos[p].shape))
    return np.stack(pos, axis=-2)


def _kabsch(rest: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Rotations [..., 4] that best map the rest vectors [K, 3] onto actual vectors [..., K, 3]
    (directions only: every vector is normalised so each child counts the same)."""
    r = rest / np.maximum(np.linalg.norm(rest, axis=-1, keepdims=True), 1e-12)
    a = actual / np.maximum(np.linalg.norm(actual, axis=-1, keepdims=True), 1e-12)
    h = np.einsum("ki,...kj->...ij", r, a)          # [..., 3, 3]
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.ones(h.shape[:-2] + (3,))
    fix[..., 2] = np.where(d == 0, 1.0, d)
    rot = np.swapaxes(vt, -1, -2) @ (fix[..., :, None] * np.swapaxes(u, -1, -2))
    return matrix_to_quat(rot)


def solve_rotations(joints: np.ndarray, offsets: np.ndarray,
                    parents: Sequence[int] = skeleton.PARENTS) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations that pose a skeleton with rest offsets [J, 3] like the positions
    joints [..., J, 3]. Returns (local_q [..., J, 4], root_pos [..., 3]).

    A joint with one child gets the shortest-arc rotation, in its parent's frame, from the rest
    bone direction to the observed one (its twist follows the parent, as in HumanML3D); a joint
    with several children gets the rotation that best aligns all child directions (Kabsch); a leaf
    keeps the identity. Bone directions are reproduced exactly wherever a joint has one child.
    """
    joints = np.asarray(joints, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.float64)
    batch = joints.shape[:-2]
    kids = [[c for c, p in enumerate(parents) if p == j] for j in range(len(parents))]
    local = np.zeros(batch + (len(parents), 4))
    local[..., 0] = 1.0
    glob = [None] * len(parents)
    ident = np.zeros(batch + (4,))
    ident[..., 0] = 1.0
    for j, p in enumerate(parents):
        parent_q = glob[p] if p >= 0 else ident
        ch = kids[j]
        if len(ch) >= 2:
            actual = joints[..., ch, :] - joints[..., j:j + 1, :]
            g = _kabsch(offsets[ch], actual)
            local[..., j, :] = qmul(qinv(parent_q), g)
        elif len(ch) == 1:
            c = ch[0]
            actual = qrot(qinv(parent_q), joints[..., c, :] - joints[..., j, :])
            local[..., j, :] = qbetween(np.broadcast_to(offsets[c], actual.shape), actual)
        glob[j] = qnormalize(qmul(parent_q, local[..., j, :]))
    return local, joints[..., 0, :].copy()


def global_rotations(local_q: np.ndarray, parents: Sequence[int] = skeleton.PARENTS) -> np.ndarray:
    """Global rotations [..., J, 4] from local ones."""
    out = np.empty_like(local_q)
    for j, p in enumerate(parents):
        out[..., j, :] = local_q[..., j, :] if p < 0 else qmul(out[..., p, :], local_q[..., j, :])
    return out


def offsets_for(joints: np.ndarray, parents: Sequence[int] = skeleton.PARENTS,
                directions: np.ndarray | None = None) -> np.ndarray:
    """Rest offsets [J, 3] for a motion: the canonical rest directions (or the given ones) scaled
    to the motion's median bone lengths."""
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, len(parents), 3)
    dirs = skeleton.rest_offsets().astype(np.float64) if directions is None else np.asarray(directions, dtype=np.float64)
    par = np.array([max(p, 0) for p in parents])
    lengths = np.median(np.linalg.norm(joints - joints[:, par], axis=-1), axis=0)
    norms = np.maximum(np.linalg.norm(dirs, axis=-1), 1e-12)
    out = dirs / norms[:, None] * lengths[:, None]
    out[0] = 0.0
    return out
