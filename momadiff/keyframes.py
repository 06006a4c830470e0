"""User keyframes: validation, and the joint-space correction that makes a motion pass through them.

The sampler puts a latent for every key in place (see KeyEncoder), which brings the generated motion
close to the key poses. Latents live in the VAE's space, so they can't pin a pose to the
millimetre: the last step here adds a smooth correction in joint space, exact at the keys and
fading out around them (a compactly supported C2 radial basis interpolation over time), so the
motion passes through each key without a visible pop.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .motion import skeleton
from . import userjson
from .motion.rotation import axis_angle_matrix

MAX_COORD = 100.0          # metres: anything farther from the origin is a unit mistake, not a pose
BONE_RANGE = (0.02, 0.8)   # metres: the shortest / longest plausible bone of the 22-joint body
BLEND_RADIUS = 24          # frames: how far a key's correction reaches on each side


class KeyframeError(ValueError):
    """A keyframe that can't be used, with a message meant for the user."""


@dataclass
class Keyframe:
    """A full-body pose the motion must pass through.

    frame: index in the motion (20 fps). joints: [22, 3] metres, Y up, in the 22-joint layout.
    fix_root: if True the key also fixes where the body stands and which way it faces (its pelvis
    x/z and heading, in the motion's frame: the motion starts at the origin facing +Z); otherwise
    only the pose itself counts and it is placed where the generated motion is at that frame.
    """
    frame: int
    joints: np.ndarray
    fix_root: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"frame": int(self.frame), "joints": np.round(np.asarray(self.joints, dtype=np.float64), 5).tolist(),
                "fix_root": bool(self.fix_root)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Keyframe":
        if not isinstance(d, dict):
            raise KeyframeError(f"a keyframe must be an object with 'frame' and 'joints', got {type(d).__name__}")
        if "frame" not in d or "joints" not in d:
            raise KeyframeError("a keyframe needs 'frame' and 'joints'")
        frame = d["frame"]
        # JSON integers are unbounded: check ints as ints (float() of a 400-digit int overflows).
        if isinstance(frame, bool) or not (isinstance(frame, int) or isinstance(frame, float) and frame.is_integer()):
            raise KeyframeError(f"keyframe frame must be a whole number, got {repr(frame)[:40]}")
        if frame < 0:
            raise KeyframeError(f"keyframe frame must be 0 or more, got {int(frame)}")
        try:
            joints = np.asarray(d["joints"], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise KeyframeError(f"keyframe at frame {int(frame)}: 'joints' must be 22 [x, y, z] numbers") from None
        return cls(frame=int(frame), joints=joints, fix_root=bool(d.get("fix_root", False)))


def keyframes_from_json(text: str) -> list[Keyframe]:
    """Parse a JSON list of {"frame", "joints", "fix_root"?} objects (no BVH references here)."""
    return keyframes_from_data(parse_json(text))


def parse_json(text: str) -> Any:
    """The keyframes' JSON text parsed (empty text is an empty list); KeyframeError if it isn't JSON."""
    return userjson.loads(text, "keyframes", KeyframeError) if text and text.strip() else []


def keyframes_from_data(data: Any) -> list[Keyframe]:
    """Keyframes from parsed JSON: a list of keyframe objects, or {"keyframes": [...]}."""
    if isinstance(data, dict) and "keyframes" in data:
        data = data["keyframes"]
    if not isinstance(data, list):
        raise KeyframeError("keyframes JSON must be a list of keyframe objects")
    return [Keyframe.from_dict(d) for d in data]


def validate(keys: Iterable[Keyframe], num_frames: int, max_keys: int | None = None) -> list[Keyframe]:
    """Check keys against a motion of num_frames frames; return them sorted by frame, as float32."""
    keys = list(keys)
    if max_keys is not None and len(keys) > max_keys:
        raise KeyframeError(f"{len(keys)} keyframes is more than the {max_keys} allowed")
    if len(keys) > num_frames:
        raise KeyframeError(f"{len(keys)} keyframes for a motion of only {num_frames} frames")
    out = []
    seen: set[int] = set()
    for k in keys:
        j = np.asarray(k.joints, dtype=np.float64)
        where = f"keyframe at frame {k.frame}"
        if not 0 <= k.frame < num_frames:
            raise KeyframeError(f"{where} is outside the motion (frames 0 to {num_frames - 1})")
        if k.frame in seen:
            raise KeyframeError(f"two keyframes at frame {k.frame}; keep one")
        seen.add(k.frame)
        if j.shape != (skeleton.NUM_JOINTS, 3):
            raise KeyframeError(f"{where}: joints must have shape [22, 3], got {list(j.shape)}")
        if not np.all(np.isfinite(j)):
            raise KeyframeError(f"{where}: joints contain NaN or infinite values")
        if np.abs(j).max() > MAX_COORD:
            raise KeyframeError(f"{where}: a joint lies {np.abs(j).max():.0f} m from the origin; "
                                "joints must be in metres")
        bones = skeleton.bone_lengths(j)[1:]
        lo, hi = BONE_RANGE
        if bones.min() < lo or bones.max() > hi:
            bad = int(np.argmax((bones < lo) | (bones > hi))) + 1
            raise KeyframeError(f"{where}: the bone into {skeleton.JOINT_NAMES[bad]} is {bones[bad - 1]:.3f} m long, "
                                f"outside {lo}-{hi} m; is this a 22-joint pose in metres?")
        out.append(Keyframe(int(k.frame), j.astype(np.float32), bool(k.fix_root)))
    return sorted(out, key=lambda k: k.frame)


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


def apply(joints: np.ndarray, keys: Sequence[Keyframe], radius: float = BLEND_RADIUS) -> np.ndarray:
    """Make joints [T, 22, 3] pass exactly through the keys (already validated) with smooth changes.

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
        f = np.array([k.frame for k in fixed], dtype=np.float64)
        want = np.array([skeleton.facing_angle(k.joints) for k in fixed])
        have = skeleton.facing_angle(out[[k.frame for k in fixed]])
        dtheta = np.unwrap(np.angle(np.exp(1j * (want - have))))
        turn = _spline(f, dtheta, T)                                      # [T]
        # Turning the body also turns the direction it travels: re-integrate the root path.
        step = np.diff(out[:, 0, :] * np.array([1.0, 0.0, 1.0]), axis=0)
        rot = axis_angle_matrix("Y", turn[1:])
        path = np.concatenate([out[:1, 0, :] * np.array([1.0, 0.0, 1.0]),
                               out[:1, 0, :] * np.array([1.0, 0.0, 1.0]) + np.cumsum(np.einsum("tij,tj->ti", rot, step), axis=0)])
        out = _rotate_about_root(out, turn)
        out[:, :, [0, 2]] += (path - out[:, 0, :] * np.array([1.0, 0.0, 1.0]))[:, None, [0, 2]]
        shift = np.stack([k.joints[0] - out[k.frame, 0] for k in fixed]) * np.array([1.0, 0.0, 1.0])
        out += _spline(f, shift, T)[:, None, :]
    residual = []
    for k in keys:
        target = np.asarray(k.joints, dtype=np.float64)
        if not k.fix_root:
            d = skeleton.facing_angle(out[k.frame]) - skeleton.facing_angle(target)
            target = _rotate_about_root(target[None], np.array([d]))[0]
            target[:, [0, 2]] += out[k.frame, 0, [0, 2]] - target[0, [0, 2]]
        residual.append(target - out[k.frame])
    frames = np.array([k.frame for k in keys], dtype=np.float64)
    out += _interpolate(frames, np.stack(residual), T, radius)
    return out.astype(np.float32)


def key_error(joints: np.ndarray, keys: Sequence[Keyframe]) -> np.ndarray:
    """Mean joint error (metres) at each key's frame, measured the way `apply` matches keys:
    in the world for fix_root keys, else after placing the key where the body is."""
    errs = []
    for k in keys:
        g = np.asarray(joints[k.frame], dtype=np.float64)
        t = np.asarray(k.joints, dtype=np.float64)
        if not k.fix_root:
            d = skeleton.facing_angle(g) - skeleton.facing_angle(t)
            t = _rotate_about_root(t[None], np.array([d]))[0]
            t[:, [0, 2]] += g[0, [0, 2]] - t[0, [0, 2]]
        errs.append(np.linalg.norm(g - t, axis=-1).mean())
    return np.array(errs)
