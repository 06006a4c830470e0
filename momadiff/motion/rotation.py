"""Rotation utilities on numpy arrays: quaternions (w, x, y, z), matrices, Euler angles, 6D.

Matrices act on column vectors (v' = R @ v). Quaternions are unit, scalar first.
"""
from __future__ import annotations

import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


def qnormalize(q: np.ndarray) -> np.ndarray:
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)


def qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b (apply b first, then a)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def qinv(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def qrot(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v [..., 3] by quaternions q [..., 4] (broadcasting)."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def qbetween(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The shortest-arc rotation taking direction u to direction v ([..., 3] -> [..., 4])."""
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    w = 1.0 + np.sum(u * v, axis=-1, keepdims=True)
    xyz = np.cross(u, v)
    # Opposite vectors: any axis perpendicular to u will do.
    opposite = (w[..., 0] < 1e-7)
    if np.any(opposite):
        uo = u[opposite]
        perp = np.cross(uo, np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(perp, axis=-1) < 1e-6
        perp[small] = np.cross(uo[small], np.array([0.0, 0.0, 1.0]))
        xyz = xyz.copy()
        w = w.copy()
        xyz[opposite] = perp
        w[opposite] = 0.0
    return qnormalize(np.concatenate([w, xyz], axis=-1))


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = qnormalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1)
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] to unit quaternions with w >= 0 (numerically stable branch)."""
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([
        1 + tr, 1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2],
        1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], 1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2],
    ], axis=-1)
    k = np.argmax(cand, axis=-1)
    q = np.empty((m.shape[0], 4))
    s = np.sqrt(np.maximum(cand[np.arange(len(k)), k], 1e-12)) * 2.0
    r = m
    for case in range(4):
        i = k == case
        if not np.any(i):
            continue
        rr, ss = r[i], s[i]
        if case == 0:
            q[i] = np.stack([0.25 * ss, (rr[:, 2, 1] - rr[:, 1, 2]) / ss,
                             (rr[:, 0, 2] - rr[:, 2, 0]) / ss, (rr[:, 1, 0] - rr[:, 0, 1]) / ss], -1)
        elif case == 1:
            q[i] = np.stack([(rr[:, 2, 1] - rr[:, 1, 2]) / ss, 0.25 * ss,
                             (rr[:, 0, 1] + rr[:, 1, 0]) / ss, (rr[:, 0, 2] + rr[:, 2, 0]) / ss], -1)
        elif case == 2:
            q[i] = np.stack([(rr[:, 0, 2] - rr[:, 2, 0]) / ss, (rr[:, 0, 1] + rr[:, 1, 0]) / ss,
                             0.25 * ss, (rr[:, 1, 2] + rr[:, 2, 1]) / ss], -1)
        else:
            q[i] = np.stack([(rr[:, 1, 0] - rr[:, 0, 1]) / ss, (rr[:, 0, 2] + rr[:, 2, 0]) / ss,
                             (rr[:, 1, 2] + rr[:, 2, 1]) / ss, 0.25 * ss], -1)
    q = qnormalize(q)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(shape + (4,))


def axis_angle_matrix(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] about a principal axis "X", "Y" or "Z" (angle in radians)."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    if axis == "X":
        rows = [o, z, z, z, c, -s, z, s, c]
    elif axis == "Y":
        rows = [c, z, s, z, o, z, -s, z, c]
    elif axis == "Z":
        rows = [c, -s, z, s, c, z, z, z, o]
    else:
        raise ValueError(f"unknown axis {axis!r}")
    return np.stack(rows, axis=-1).reshape(np.shape(angle) + (3, 3))


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """BVH-style Euler angles to matrices: for order "ZXY", R = Rz @ Rx @ Ry (intrinsic, in the
    order the channels are listed). angles_deg [..., 3] lists the angles in that same order."""
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    m = axis_angle_matrix(order[0], a[..., 0])
    for i in (1, 2):
        m = m @ axis_angle_matrix(order[i], a[..., i])
    return m


def matrix_to_euler(m: np.ndarray, order: str) -> np.ndarray:
    """Inverse of euler_to_matrix for a Tait-Bryan order (all three axes distinct): [..., 3] degrees."""
    i, j, k = (_AXES[c] for c in order)
    if len({i, j, k}) != 3:
        raise ValueError(f"order {order!r} must name three distinct axes")
    # Parity of the permutation decides the signs of the closed form.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    m = np.asarray(m, dtype=np.float64)
    b = np.arcsin(np.clip(sign * m[..., i, k], -1.0, 1.0))
    gimbal = np.abs(m[..., i, k]) > 1 - 1e-9
    a = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    c = np.arctan2(-sign * m[..., i, j], m[..., i, i])
    # At gimbal lock only a + c (or a - c) is defined: put it all in a.
    a_g = np.arctan2(sign * m[..., k, j], m[..., j, j])
    a = np.where(gimbal, a_g, a)
    c = np.where(gimbal, 0.0, c)
    return np.rad2deg(np.stack([a, b, c], axis=-1))


def matrix_to_cont6d(m: np.ndarray) -> np.ndarray:
    """The continuous 6D representation: the first two columns of the matrix, [..., 6]."""
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def cont6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Gram-Schmidt of the two stored columns back to a rotation matrix [..., 3, 3]."""
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-12)
    b2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=-1, keepdims=True), 1e-12)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def yaw_quat(angle: np.ndarray) -> np.ndarray:
    """Quaternions for rotations about +Y by angle (radians)."""
    angle = np.asarray(angle, dtype=np.float64)
    return np.stack([np.cos(angle / 2), np.zeros_like(angle), np.sin(angle / 2),
                     np.zeros_like(angle)], axis=-1)
