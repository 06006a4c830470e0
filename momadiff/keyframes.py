"""User keyframes: whole 22-joint poses or partial keys (some joints by name), their JSON form and
their validation. The joint-space correction that makes a motion meet them is momadiff.correction
(apply, correct, key_error and misses are re-exported here)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from .motion import skeleton
from . import userjson
from .constraints import MAX_COORD, ConstraintError, joint_index

BONE_RANGE = (0.02, 0.8)   # metres: the shortest / longest plausible bone of the 22-joint body


class KeyframeError(ConstraintError):
    """A keyframe that can't be used, with a message meant for the user."""


@dataclass
class Keyframe:
    """A pose, whole or partial, the motion must pass through.

    frame: index in the motion (20 fps). joints: either a whole pose [22, 3] (metres, Y up, the
    22-joint layout) or a partial key {joint name: [x, y, z]} for any subset of the joints by
    their names in momadiff.motion.skeleton, in the output motion's world frame (it starts with
    the pelvis at x = z = 0 facing +Z).
    fix_root (whole poses): if True the key also fixes where the body stands and which way it
    faces; otherwise only the pose itself counts and it is placed where the generated motion is at
    that frame. Partial keys are always where they say.
    """
    frame: int
    joints: Any
    fix_root: bool = False

    @property
    def partial(self) -> bool:
        """True for a key on some joints by name."""
        return isinstance(self.joints, dict)

    def to_dict(self) -> dict[str, Any]:
        if self.partial:
            return {"frame": int(self.frame),
                    "joints": {n: np.round(np.asarray(v, dtype=np.float64), 5).tolist() for n, v in self.joints.items()}}
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
        if isinstance(d["joints"], dict):
            return cls(frame=int(frame), joints=_partial_joints(d["joints"], f"keyframe at frame {int(frame)}"))
        try:
            joints = np.asarray(d["joints"], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise KeyframeError(f"keyframe at frame {int(frame)}: 'joints' must be 22 [x, y, z] numbers") from None
        return cls(frame=int(frame), joints=joints, fix_root=bool(d.get("fix_root", False)))


def _partial_joints(joints: dict, where: str) -> dict[str, list[float]]:
    """A partial key's {name: [x, y, z]} checked: known names, three finite numbers in metres."""
    if not joints:
        raise KeyframeError(f"{where}: the joints object is empty; name at least one joint")
    out = {}
    for name, v in joints.items():
        try:
            joint_index(name)
        except ConstraintError as e:
            raise KeyframeError(f"{where}: {e}") from None
        try:
            xyz = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            xyz = None
        if xyz is None or xyz.shape != (3,):
            raise KeyframeError(f"{where}: {name} must be [x, y, z] numbers, got {repr(v)[:40]}")
        if not np.all(np.isfinite(xyz)):
            raise KeyframeError(f"{where}: {name} has NaN or infinite values")
        if np.abs(xyz).max() > MAX_COORD:
            raise KeyframeError(f"{where}: {name} lies {np.abs(xyz).max():.3g} m from the origin; positions are in metres")
        out[name] = xyz.tolist()
    return out


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
        where = f"keyframe at frame {k.frame}"
        if not 0 <= k.frame < num_frames:
            raise KeyframeError(f"{where} is outside the motion (frames 0 to {num_frames - 1})")
        if k.partial:
            # Several partial keys may share a frame; conflicting targets are found by constraints.build.
            out.append(Keyframe(int(k.frame), _partial_joints(k.joints, where)))
            continue
        j = np.asarray(k.joints, dtype=np.float64)
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
    return sorted(out, key=lambda k: (k.frame, k.partial))

