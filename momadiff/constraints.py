"""One representation of every spatial constraint: per-frame joint targets with a per-coordinate mask.

Whole-pose keys that fix the root, partial keys (some joints by name) and root paths (pelvis x/z
waypoints, optionally with a facing angle) all become a Constraints: the sampler turns it into the
transformer's control input (momadiff.model.control), the joint-space correction (momadiff.keyframes)
makes the motion hit it, the JSON formats and the UI read and write it through Keyframe / Waypoint.

Coordinates are the output motion's world frame: metres, Y up, the motion starts with its pelvis
at x = z = 0 facing +Z (what features_to_joints of the generated features gives).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .motion import skeleton

MAX_COORD = 100.0          # metres: farther from the origin is a unit mistake, not a target
MAX_PATH_SPEED = 10.0      # m/s between root waypoints: faster than a sprint
# A target this much beyond what the bones allow is refused; less than that is met as closely as
# the body can, with a warning saying how far off (see ConstraintError / Motion.warnings).
REACH_SLACK = 0.15         # metres
JUMP_HEIGHT = 0.8          # metres a target may sit above what the standing body reaches
FLOOR_SLACK = 0.1          # metres a target may sit below the floor (y = 0)
ROOT_XZ = (0, 2)


class ConstraintError(ValueError):
    """A constraint that can't be used, with a one-line message meant for the user."""


@dataclass
class Waypoint:
    """Where the pelvis should be on the ground plane at a frame, optionally facing a direction.

    heading: degrees about +Y, 0 = facing +Z, 90 = facing +X (None = any)."""
    frame: int
    x: float
    z: float
    heading: float | None = None

    def to_list(self) -> list:
        out = [int(self.frame), round(float(self.x), 5), round(float(self.z), 5)]
        return out + [round(float(self.heading), 5)] if self.heading is not None else out

    @classmethod
    def from_any(cls, w: Any) -> "Waypoint":
        """From (frame, x, z[, heading]) or {"frame", "x", "z"[, "heading"]}."""
        if isinstance(w, Waypoint):
            return w
        if isinstance(w, dict):
            if not {"frame", "x", "z"} <= set(w):
                raise ConstraintError("a root-path waypoint needs 'frame', 'x' and 'z'")
            w = [w["frame"], w["x"], w["z"]] + ([w["heading"]] if w.get("heading") is not None else [])
        if isinstance(w, (str, bytes)) or not isinstance(w, Sequence) or len(w) not in (3, 4):
            raise ConstraintError(f"a root-path waypoint must be [frame, x, z] or [frame, x, z, heading], "
                                  f"got {repr(w)[:60]}")
        frame = _whole(w[0], "root-path waypoint frame")
        vals = [_number(v, f"root-path waypoint at frame {frame}") for v in w[1:]]
        return cls(frame, vals[0], vals[1], vals[2] if len(vals) == 3 else None)


def _whole(v: Any, what: str) -> int:
    # JSON integers are unbounded: check ints as ints (float() of a 400-digit int overflows).
    if isinstance(v, bool) or not (isinstance(v, (int, np.integer)) or isinstance(v, float) and v.is_integer()):
        raise ConstraintError(f"{what} must be a whole number, got {repr(v)[:40]}")
    if v < 0:
        raise ConstraintError(f"{what} must be 0 or more, got {int(v)}")
    return int(v)


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool):
        raise ConstraintError(f"{what}: expected a number, got {v!r}")
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise ConstraintError(f"{what}: expected a number, got {repr(v)[:40]}") from None
    if not math.isfinite(f):
        raise ConstraintError(f"{what}: NaN or infinite value")
    if abs(f) > MAX_COORD:
        raise ConstraintError(f"{what}: {f:.3g} is more than {MAX_COORD:g} m from the origin; positions are in metres")
    return f


def parse_path(data: Any) -> list[Waypoint]:
    """A root path from parsed JSON: a list of waypoints, or {"root_path": [...]}."""
    if isinstance(data, dict) and "root_path" in data:
        data = data["root_path"]
    if data is None:
        return []
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise ConstraintError("a root path must be a list of [frame, x, z] or [frame, x, z, heading] waypoints")
    return [Waypoint.from_any(w) for w in data]


def joint_index(name: Any) -> int:
    """Index of a joint given by its name in momadiff.motion.skeleton.JOINT_NAMES."""
    if not isinstance(name, str) or name not in skeleton.JOINT_INDEX:
        raise ConstraintError(f"unknown joint name {repr(name)[:40]}; joints are: {', '.join(skeleton.JOINT_NAMES)}")
    return skeleton.JOINT_INDEX[name]


@dataclass
class Constraints:
    """Per-frame targets of a motion of T frames.

    targets [T, 22, 3] float32 metres (world frame of the output motion); mask [T, 22, 3] bool,
    per coordinate (a root path sets the pelvis x and z only); heading [T] radians (0 = facing +Z)
    with heading_mask [T] bool; whole [T] bool marks frames pinned by a whole-pose fix_root key."""
    targets: np.ndarray
    mask: np.ndarray
    heading: np.ndarray
    heading_mask: np.ndarray
    whole: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.whole is None:
            self.whole = np.zeros(len(self.targets), dtype=bool)

    @classmethod
    def empty(cls, num_frames: int) -> "Constraints":
        T, J = int(num_frames), skeleton.NUM_JOINTS
        return cls(np.zeros((T, J, 3), np.float32), np.zeros((T, J, 3), bool),
                   np.zeros(T, np.float32), np.zeros(T, bool))

    @property
    def num_frames(self) -> int:
        return len(self.targets)

    def any(self) -> bool:
        """True if anything is constrained."""
        return bool(self.mask.any() or self.heading_mask.any())

    def frames(self) -> np.ndarray:
        """Frames with any constraint, sorted."""
        return np.flatnonzero(self.mask.any(axis=(1, 2)) | self.heading_mask)

    def set(self, frame: int, joint: int, xyz: Sequence[float], coords: Sequence[int] = (0, 1, 2),
            what: str = "") -> None:
        """Constrain some coordinates of a joint at a frame; a different target already there is an error."""
        name = skeleton.JOINT_NAMES[joint]
        for c in coords:
            v = float(xyz[c])
            if self.mask[frame, joint, c] and abs(self.targets[frame, joint, c] - v) > 1e-4:
                raise ConstraintError(f"two different targets for {name} at frame {frame}"
                                      f"{' (' + what + ')' if what else ''}; keep one")
            self.targets[frame, joint, c] = v
            self.mask[frame, joint, c] = True

    def set_heading(self, frame: int, radians: float) -> None:
        if self.heading_mask[frame] and abs(np.angle(np.exp(1j * (self.heading[frame] - radians)))) > 1e-3:
            raise ConstraintError(f"two different facing angles at frame {frame}; keep one")
        self.heading[frame] = radians
        self.heading_mask[frame] = True

    def error(self, joints: np.ndarray) -> np.ndarray:
        """Distance (metres) between joints [T, 22, 3] and each constrained (frame, joint), over
        its constrained coordinates only: [K] for the K constrained pairs."""
        m = self.mask.any(-1)                                                    # [T, 22]
        d = (np.asarray(joints, np.float64) - self.targets) * self.mask
        return np.linalg.norm(d, axis=-1)[m]

    def heading_error(self, joints: np.ndarray) -> np.ndarray:
        """Absolute facing-angle error (radians) at each frame with a heading target."""
        have = skeleton.facing_angle(np.asarray(joints)[self.heading_mask])
        return np.abs(np.angle(np.exp(1j * (have - self.heading[self.heading_mask]))))


# -- reach ------------------------------------------------------------------------------------
def _tree_distances() -> np.ndarray:
    """[22, 22] length of the bone path between two joints on the canonical skeleton."""
    lengths = np.linalg.norm(skeleton.rest_offsets().astype(np.float64), axis=-1)
    J = skeleton.NUM_JOINTS

    def up(j: int) -> list[int]:
        out = [j]
        while skeleton.PARENTS[out[-1]] >= 0:
            out.append(skeleton.PARENTS[out[-1]])
        return out

    d = np.zeros((J, J))
    for a in range(J):
        for b in range(J):
            pa, pb = up(a), up(b)
            common = next(j for j in pa if j in pb)
            d[a, b] = sum(lengths[j] for j in pa[:pa.index(common)]) + sum(lengths[j] for j in pb[:pb.index(common)])
    return d


TREE_DISTANCE = _tree_distances()
# Highest a joint can be with the body standing on one foot's toes (the foot joint on the floor):
# the other foot can go as high as the legs reach (a kick), so the longer of the two chains counts.
MAX_HEIGHT = np.maximum(TREE_DISTANCE[skeleton.JOINT_INDEX["l_foot"]], TREE_DISTANCE[skeleton.JOINT_INDEX["r_foot"]])


def reach_problems(c: Constraints, frames: Iterable[int] | None = None) -> list[tuple[float, str]]:
    """How far (metres) each target lies beyond what the canonical bones allow, judged against the
    other targets of the same frame and the floor: a list of (excess, description), excess > 0."""
    out: list[tuple[float, str]] = []
    names = skeleton.JOINT_NAMES
    for t in (c.frames() if frames is None else frames):
        m = c.mask[t]
        joints = np.flatnonzero(m.any(-1))
        for i, a in enumerate(joints):
            if m[a, 1]:
                y = float(c.targets[t, a, 1])
                over = y - (MAX_HEIGHT[a] + JUMP_HEIGHT)
                if over > 0:
                    out.append((over, f"{names[a]} at frame {t} is {y:.2f} m high, out of reach"))
                if y < -FLOOR_SLACK:
                    out.append((-y, f"{names[a]} at frame {t} is {-y:.2f} m below the floor"))
            for b in joints[i + 1:]:
                both = m[a] & m[b]                     # compare on the coordinates both constrain
                if not both.any():
                    continue
                dist = float(np.linalg.norm((c.targets[t, a] - c.targets[t, b]) * both))
                over = dist - TREE_DISTANCE[a, b]
                if over > 0:
                    out.append((over, f"{names[a]} and {names[b]} at frame {t} are {dist:.2f} m apart; "
                                      f"the body allows {TREE_DISTANCE[a, b]:.2f} m"))
    return out


# -- building ----------------------------------------------------------------------------------
def build(num_frames: int, keyframes: Sequence[Any] = (), root_path: Sequence[Waypoint] = ()) -> Constraints:
    """The Constraints of validated keyframes (momadiff.keyframes.Keyframe) and waypoints.

    Whole-pose keys with fix_root constrain all joints and the facing; partial keys the joints they
    name; whole-pose keys without fix_root constrain nothing here (they are key-encoder latents
    and the pose blend of momadiff.keyframes). Raises ConstraintError for conflicting targets,
    frames outside the motion, a path faster than a sprint, or a target far out of reach."""
    c = Constraints.empty(num_frames)
    for k in keyframes:
        if getattr(k, "partial", False):
            for name, xyz in k.joints.items():
                c.set(k.frame, joint_index(name), xyz, what="keyframes")
        elif k.fix_root:
            j = np.asarray(k.joints, np.float64)
            for i in range(skeleton.NUM_JOINTS):
                c.set(k.frame, i, j[i], what="keyframes")
            c.set_heading(k.frame, float(skeleton.facing_angle(j)))
            c.whole[k.frame] = True
    add_path(c, root_path)
    # A whole pose's bones are checked by keyframes.validate; its joints were reached by a body.
    bad = [p for p in reach_problems(c, [t for t in c.frames() if not c.whole[t]]) if p[0] > REACH_SLACK]
    if bad:
        raise ConstraintError(f"unreachable target: {max(bad)[1]}")
    return c


def add_path(c: Constraints, root_path: Sequence[Waypoint]) -> None:
    """Root-path waypoints into c (pelvis x/z and optional facing); validated here."""
    path = sorted(root_path, key=lambda w: w.frame)
    T = c.num_frames
    for a, b in zip(path[:-1], path[1:]):
        if a.frame == b.frame:
            if (a.x, a.z) != (b.x, b.z) or a.heading != b.heading:
                raise ConstraintError(f"two different root-path waypoints at frame {a.frame}; keep one")
    for w in path:
        if not 0 <= w.frame < T:
            raise ConstraintError(f"root-path waypoint at frame {w.frame} is outside the motion (frames 0 to {T - 1})")
        c.set(w.frame, 0, (w.x, 0.0, w.z), coords=ROOT_XZ, what="root path")
        if w.heading is not None:
            c.set_heading(w.frame, math.radians(w.heading))
    # Speed between consecutive pelvis targets (a path, or keys that fix the pelvis).
    frames = np.flatnonzero(c.mask[:, 0, 0] & c.mask[:, 0, 2])
    for a, b in zip(frames[:-1], frames[1:]):
        dist = float(np.linalg.norm(c.targets[b, 0, [0, 2]] - c.targets[a, 0, [0, 2]]))
        speed = dist / ((b - a) / skeleton.FPS)
        if speed > MAX_PATH_SPEED:
            raise ConstraintError(f"the root path moves {dist:.2f} m from frame {a} to frame {b}, {speed:.1f} m/s; "
                                  f"faster than a sprint ({MAX_PATH_SPEED:g} m/s)")
