"""The joint-space correction that makes a motion meet its keys and constraints exactly.

A key (momadiff.keyframes) is a whole 22-joint pose, or a partial key: some joints by name at a
frame, in the output motion's world frame. The sampler puts a latent for every whole-pose key in
place (see KeyEncoder), and a model with a control input also sees every constraint
(momadiff.constraints: fix_root poses, partial keys, root paths) per latent, which brings the
generated motion close to them. Latents live
in the VAE's space, so they can't pin a pose to the millimetre: the last step here is a smooth
correction in joint space, exact at the constraints. Which part does what (`correct`):

1. root: the facing (fix_root keys, waypoint headings) turns the body about its pelvis along a
   curve through the constrained frames, and the trajectory is re-integrated so the body still walks
   where it faces; then the pelvis x/z (root-path waypoints, fix_root keys, pelvis keys) is moved
   by a smooth curve through the offsets (monotone cubic, held constant outside). Exact at every
   waypoint; the whole body moves with the pelvis, so no limb is stretched. A path without facing
   angles also turns the walking body by as much as the path turned its direction of travel.
2. reach: at each frame with partial keys, limb IK (momadiff.motion.ik: bone lengths kept) from
   the motion's pose; a target the limbs can't reach from where the body is moves the whole body
   toward it (at most MAX_BODY_SHIFT, never lifting it, never sideways at a root-path frame),
   along a smooth curve that is zero at the other constrained frames.
3. pose: at each whole-pose key's frame the key's pose, at each partial key's frame the IK pose;
   the differences are blended in per joint over +-BLEND_RADIUS frames (a monotone cubic through
   the frames that pin that joint), exact there, never moving the pelvis x/z.
Whole-pose keys alone keep the original correction (`apply`: root part, then a radial basis blend).
A target the body can't reach is met as closely as it allows; `correct` says how far off.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .constraints import Constraints, joint_index
from .motion import ik, skeleton
from .motion.rotation import axis_angle_matrix

if TYPE_CHECKING:
    from .keyframes import Keyframe

BLEND_RADIUS = 24          # frames: how far a key's correction reaches on each side
MISS_WARNING = 0.01        # metres: a constraint missed by more than this is reported
MAX_BODY_SHIFT = 0.5       # metres the correction may move the whole body toward a target beyond the limbs' reach


def _wendland(d: np.ndarray, radius: float) -> np.ndarray:
    """Wendland's C2 compact kernel: positive definite, so interpolation through keys is exact."""
    r = np.clip(np.abs(d) / radius, 0.0, 1.0)
    return (1.0 - r) ** 4 * (4.0 * r + 1.0)


def _interpolate(frames: np.ndarray, values: np.ndarray, num_frames: int, radius: float) -> np.ndarray:
    """Smooth field over time [T, ...] equal to values[k] at frames[k], zero farther than radius."""
    t = np.arange(num_frames, dtype=np.float64)
    phi = _wendland(frames[:, None] - frames[None, :], radius)          # [K, K]
    coef = np.linalg.solve(phi, values.reshape(len(frames), -1))         # [K, D]
    basis = _wendland(t[:, None] - frames[None, :], radius)              # [T, K]
    return (basis @ coef).reshape((num_frames,) + values.shape[1:])


def _spline(frames: np.ndarray, values: np.ndarray, num_frames: int) -> np.ndarray:
    """C1 monotone-preserving interpolation through keys, held constant before the first and after
    the last (a whole-trajectory correction, for keys that fix where the body stands)."""
    t = np.arange(num_frames, dtype=np.float64)
    if len(frames) == 1:
        return np.broadcast_to(values[0], (num_frames,) + values.shape[1:]).copy()
    from scipy.interpolate import PchipInterpolator
    f = PchipInterpolator(frames.astype(np.float64), values, axis=0, extrapolate=False)(t)
    f[t < frames[0]] = values[0]
    f[t > frames[-1]] = values[-1]
    return f


def _rotate_about_root(joints: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate each frame's pose [T, 22, 3] about the vertical through its pelvis by angle [T]."""
    rot = axis_angle_matrix("Y", angle)                                   # [T, 3, 3]
    root = joints[:, :1, :] * np.array([1.0, 0.0, 1.0])
    return np.einsum("tij,tkj->tki", rot, joints - root) + root


def _root_layer(out: np.ndarray, head_frames: np.ndarray, heading: np.ndarray,
                xz_frames: np.ndarray, xz: np.ndarray) -> np.ndarray:
    """Part 1 of the correction on joints [T, 22, 3] (float64): turn the body to the facing angles
    `heading` [K] (radians) at head_frames and move the pelvis to `xz` [M, 3] (y ignored) at
    xz_frames, along curves through those frames that span the motion."""
    T = len(out)
    if len(head_frames):
        have = skeleton.facing_angle(out[head_frames])
        dtheta = np.unwrap(np.angle(np.exp(1j * (heading - have))))
        turn = _spline(head_frames.astype(np.float64), dtheta, T)           # [T]
        # Turning the body also turns the direction it travels: re-integrate the root path.
        step = np.diff(out[:, 0, :] * np.array([1.0, 0.0, 1.0]), axis=0)
        rot = axis_angle_matrix("Y", turn[1:])
        path = np.concatenate([out[:1, 0, :] * np.array([1.0, 0.0, 1.0]),
                               out[:1, 0, :] * np.array([1.0, 0.0, 1.0]) + np.cumsum(np.einsum("tij,tj->ti", rot, step), axis=0)])
        out = _rotate_about_root(out, turn)
        out[:, :, [0, 2]] += (path - out[:, 0, :] * np.array([1.0, 0.0, 1.0]))[:, None, [0, 2]]
    if len(xz_frames):
        shift = (xz - out[xz_frames, 0]) * np.array([1.0, 0.0, 1.0])
        before = out[:, 0].copy()
        out += _spline(xz_frames.astype(np.float64), shift, T)[:, None, :]
        if not len(head_frames) and len(xz_frames) > 1:
            out = _rotate_about_root(out, _travel_turn(before, out[:, 0]))
    return out


def _travel_turn(before: np.ndarray, after: np.ndarray, sigma: float = 4.0, walking: float = 0.3) -> np.ndarray:
    """How much [T] (radians) a moved pelvis path after [T, 3] turns the direction of travel of the
    path before [T, 3], where the body is walking (faster than `walking` m/s on both), fading to
    zero where it stands, so a body bent onto a curved path faces along it instead of sidling."""
    from scipy.ndimage import gaussian_filter1d
    v0, v1 = (gaussian_filter1d(np.gradient(p[:, [0, 2]], axis=0), sigma, axis=0) for p in (before, after))
    speed = np.minimum(np.linalg.norm(v0, axis=-1), np.linalg.norm(v1, axis=-1)) * skeleton.FPS
    turn = np.angle(np.exp(1j * (np.arctan2(v1[:, 0], v1[:, 1]) - np.arctan2(v0[:, 0], v0[:, 1]))))
    weight = np.clip(speed / walking - 1.0, 0.0, 1.0)              # 0 below `walking`, 1 from twice it
    return gaussian_filter1d(np.unwrap(turn) * weight, sigma)


def _placed(target: np.ndarray, body: np.ndarray) -> np.ndarray:
    """A whole pose that does not fix the root, turned and moved to where the body is and faces."""
    target = np.asarray(target, dtype=np.float64)
    d = skeleton.facing_angle(body) - skeleton.facing_angle(target)
    target = _rotate_about_root(target[None], np.array([d]))[0]
    target[:, [0, 2]] += body[0, [0, 2]] - target[0, [0, 2]]
    return target


def apply(joints: np.ndarray, keys: Sequence[Keyframe], radius: float = BLEND_RADIUS) -> np.ndarray:
    """Make joints [T, 22, 3] pass exactly through whole-pose keys (already validated) with smooth
    changes (the correction of motions with whole-pose keys only; see `correct` for the rest).

    Keys that fix the root first bend the whole trajectory: the heading and the pelvis x/z are
    corrected by curves through the keys that span the motion. Then each key's remaining pose
    difference is blended in over +-radius frames.
    """
    out = np.asarray(joints, dtype=np.float64).copy()
    if not keys:
        return out.astype(np.float32)
    T = len(out)
    fixed = [k for k in keys if k.fix_root]
    if fixed:
        f = np.array([k.frame for k in fixed])
        out = _root_layer(out, f, np.array([skeleton.facing_angle(k.joints) for k in fixed]),
                          f, np.stack([k.joints[0] for k in fixed]))
    residual = []
    for k in keys:
        target = np.asarray(k.joints, dtype=np.float64) if k.fix_root else _placed(k.joints, out[k.frame])
        residual.append(target - out[k.frame])
    frames = np.array([k.frame for k in keys], dtype=np.float64)
    out += _interpolate(frames, np.stack(residual), T, radius)
    return out.astype(np.float32)


def _blend(frames: np.ndarray, deltas: np.ndarray, num_frames: int, radius: float) -> np.ndarray:
    """Smooth field over time [T, ...] equal to deltas[k] at frames[k] (sorted), fading to zero
    within radius frames of the nearest constrained frame: a monotone cubic through the deltas
    and zero anchors in gaps wider than 2 * radius and beyond the ends. Unlike the radial basis of
    `apply` it stays well conditioned for a constraint at every frame (a drawn path, a held hand)."""
    anchors, values = [], []
    zero = np.zeros_like(deltas[0])
    if frames[0] - radius >= 0:
        anchors.append(frames[0] - radius)
        values.append(zero)
    for n, f in enumerate(frames):
        anchors.append(f)
        values.append(deltas[n])
        if n + 1 < len(frames) and frames[n + 1] - f > 2 * radius:
            anchors += [f + radius, frames[n + 1] - radius]
            values += [zero, zero]
    if frames[-1] + radius <= num_frames - 1:
        anchors.append(frames[-1] + radius)
        values.append(zero)
    return _spline(np.asarray(anchors, dtype=np.float64), np.stack(values), num_frames)


def _reach(pose: np.ndarray, want: dict[int, np.ndarray], lock_xz: bool, lock_y: bool,
           iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """IK for targets, moving the whole body (up to MAX_BODY_SHIFT, never up off the floor, not
    sideways at a root-path frame) toward targets the limbs alone can't reach.
    Returns (pose, body shift [3])."""
    shift = np.zeros(3)
    out, err = ik.solve(pose, want)
    for _ in range(iterations):
        if max(err.values()) < 1e-5:
            break
        step = np.mean([want[j] - out[j] for j in want], axis=0)
        step[1] = 0.0 if lock_y else min(step[1], 0.0)
        if lock_xz:
            step[[0, 2]] = 0.0
        new = shift + step
        if np.linalg.norm(new) > MAX_BODY_SHIFT:
            new *= MAX_BODY_SHIFT / np.linalg.norm(new)
        if np.linalg.norm(new - shift) < 1e-6:
            break
        shift = new
        out, err = ik.solve(pose + shift, want)
    return out, shift


def correct(joints: np.ndarray, keys: Sequence[Keyframe], constraints: Constraints,
            radius: float = BLEND_RADIUS) -> tuple[np.ndarray, list[str]]:
    """Make joints [T, 22, 3] meet the validated keys and their constraints (momadiff.constraints.build
    of them and the root path) exactly where the body allows: part 1 (root) then part 2 (pose),
    as the module docstring says. Returns (joints, warnings): one line per target still missed by
    more than MISS_WARNING (a target just out of reach), saying by how much. Parts 1-3 of the
    module docstring."""
    c = constraints
    out = np.asarray(joints, dtype=np.float64).copy()
    T = len(out)
    hf = np.flatnonzero(c.heading_mask)
    xf = np.flatnonzero(c.mask[:, 0, 0] & c.mask[:, 0, 2])
    out = _root_layer(out, hf, c.heading[hf].astype(np.float64), xf, c.targets[xf, 0].astype(np.float64))
    whole = {k.frame: k for k in keys if not k.partial}
    rest = c.mask.copy()
    rest[:, 0, [0, 2]] = False                       # the pelvis x/z is part 1's
    frames = sorted(set(whole) | set(np.flatnonzero(rest.any(axis=(1, 2))).tolist()))
    locked = set(xf.tolist())
    plans, shifts = [], []
    for t in frames:
        desired = out[t].copy()
        shift = np.zeros(3)
        pin = np.zeros(skeleton.NUM_JOINTS, dtype=bool)
        if t in whole:
            pin[:] = True
            k = whole[t]
            desired = np.asarray(k.joints, dtype=np.float64).copy() if k.fix_root else _placed(k.joints, out[t])
        if not c.whole[t]:
            m, tg = c.mask[t], c.targets[t].astype(np.float64)
            if m[0, 1]:
                desired[:, 1] += tg[0, 1] - desired[0, 1]   # a pelvis height lifts or lowers the body
            want = {j: np.where(m[j], tg[j], desired[j]) for j in range(1, skeleton.NUM_JOINTS) if m[j].any()}
            if want:
                desired, shift = _reach(desired, want, t in locked, bool(m[0, 1]))
            for j in np.flatnonzero(m.any(-1)):      # a target and the chain that holds it up
                while j >= 0:
                    pin[j] = True
                    j = skeleton.PARENTS[j]
        plans.append((desired, pin))
        shifts.append(shift)
    if any(s.any() for s in shifts):
        # The body moves as a whole toward far targets, along a smooth curve held at zero at the
        # other constrained frames and at the root path's.
        s = np.stack(shifts)
        xz = sorted(set(frames) | locked)
        vals = np.stack([s[frames.index(t)] if t in frames else np.zeros(3) for t in xz]) * np.array([1.0, 0.0, 1.0])
        field = _blend(np.asarray(xz, dtype=np.float64), vals, T, radius)
        field[:, 1] = _blend(np.asarray(frames, dtype=np.float64), s[:, 1], T, radius)
        out += field[:, None, :]
    deltas, pinned = [], []
    for t, (desired, pin) in zip(frames, plans):
        pin |= np.abs(desired - out[t]).max(-1) > 1e-9
        deltas.append(desired - out[t])
        pinned.append(pin)
    if frames:
        # Each joint is held only at the frames that pin it, so a hand's correction at one frame
        # is not cut short by a foot target at the next.
        f, d, p = np.asarray(frames, dtype=np.float64), np.stack(deltas), np.stack(pinned)   # [F], [F, 22, 3], [F, 22]
        groups: dict[bytes, list[int]] = {}
        for j in range(skeleton.NUM_JOINTS):
            if p[:, j].any():
                groups.setdefault(p[:, j].tobytes(), []).append(j)
        for js in groups.values():          # joints pinned at the same frames share one curve
            rows = p[:, js[0]]
            out[:, js] += _blend(f[rows], d[rows][:, js], T, radius)
    return out.astype(np.float32), misses(out, c)


def misses(joints: np.ndarray, constraints: Constraints, tolerance: float = MISS_WARNING) -> list[str]:
    """One line per constrained joint and frame that joints [T, 22, 3] miss by more than tolerance."""
    c = constraints
    d = np.linalg.norm((np.asarray(joints, np.float64) - c.targets) * c.mask, axis=-1)   # [T, 22]
    out = []
    for t, j in zip(*np.nonzero(d > tolerance)):
        what = "root path" if j == 0 and not c.mask[t, 0, 1] else skeleton.JOINT_NAMES[j]
        out.append(f"{what} at frame {t} is {100 * d[t, j]:.1f} cm from its target (out of reach)")
    return out


def key_error(joints: np.ndarray, keys: Sequence[Keyframe]) -> np.ndarray:
    """Mean joint error (metres) at each key's frame, measured the way `apply` matches keys:
    in the world for fix_root and partial keys, else after placing the key where the body is."""
    errs = []
    for k in keys:
        g = np.asarray(joints[k.frame], dtype=np.float64)
        if k.partial:   # named joints, where they say
            errs.append(np.mean([np.linalg.norm(g[joint_index(n)] - np.asarray(v, np.float64)) for n, v in k.joints.items()]))
            continue
        t = np.asarray(k.joints, dtype=np.float64)
        if not k.fix_root:
            d = skeleton.facing_angle(g) - skeleton.facing_angle(t)
            t = _rotate_about_root(t[None], np.array([d]))[0]
            t[:, [0, 2]] += g[0, [0, 2]] - t[0, [0, 2]]
        errs.append(np.linalg.norm(g - t, axis=-1).mean())
    return np.array(errs)
