"""Detect a reference pose added as the first frame of a motion file.

Converters often prepend a calibration frame to the capture: the cgspeed CMU BVH conversions put a
T-pose first ("Every BVH file has a T-pose added as its new first frame"), sometimes standing at
the origin metres away from where the capture starts; other tools write the skeleton's rest pose
(every rotation zero). Kept, that frame becomes a pop of the whole body (or a 3 m jump) in the
first 1/20 s of every clip.

`detect_reference_pose` looks at retargeted joints [F, 22, 3] (metres, Y up, source frame rate)
and says whether frame 0 is such a frame. Two neighbouring frames of a capture differ little, so
the test is how frame 0 -> 1 compares with the file's other frame-to-frame changes (the 99th
percentile of the mean root-relative joint distance between neighbours, "usual change" below).
Frame 0 is dropped when
- its root stands over FAR_METRES from frame 1's and over 5x the largest root step elsewhere
  (no body moves that far in one frame at any usual rate), or
- it is a T-pose (arms straight, horizontal and out to the sides, legs straight) or the file's
  rest pose (all rotations zero), and its pose differs from frame 1's by over MIN_CHANGE and over
  3x the usual change, or
- whatever its shape, its pose differs from frame 1's by over 2 x MIN_CHANGE and over 10x the
  usual change.
A motion that starts in a T-pose the actor actually held (a calibration pose) is left alone: its
frame 1 is nearly the same pose. On the 78 CMU BVH files of the subset the ratio is 5-55 for the
74 with an added frame and under 0.3 for the 3dsMax-friendly ones, which have none.
"""
from __future__ import annotations

import numpy as np

from . import skeleton

J = skeleton.JOINT_INDEX
FAR_METRES = 0.5     # a root jump between frames 0 and 1 that no capture makes
MIN_CHANGE = 0.05    # metres of mean joint distance (root-relative): two clearly different poses
T_RATIO, ANY_RATIO = 3.0, 10.0
MIN_FRAMES = 3


def _root_relative(p: np.ndarray) -> np.ndarray:
    return p - p[..., :1, :]


def _pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean root-relative joint distance of two poses [22, 3] (metres)."""
    return float(np.linalg.norm(_root_relative(a) - _root_relative(b), axis=-1).mean())


def is_t_pose(p: np.ndarray, tol: float = 0.25) -> bool:
    """Whether a pose [22, 3] (Y up) is a T-pose: arms straight, horizontal and pointing away from
    the body to its sides; legs straight. tol: allowed slope / bend as a fraction of limb length."""
    up = np.array([0.0, 1.0, 0.0])
    across = p[J["l_shoulder"]] - p[J["r_shoulder"]]
    across = across / max(np.linalg.norm(across), 1e-9)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        sh, el, wr = p[J[f"{side}_shoulder"]], p[J[f"{side}_elbow"]], p[J[f"{side}_wrist"]]
        arm = wr - sh
        reach = np.linalg.norm(arm)
        length = np.linalg.norm(el - sh) + np.linalg.norm(wr - el)
        if length < 1e-6 or reach < (1 - tol * 0.4) * length:
            return False                                   # bent elbow
        if abs(arm @ up) > tol * reach:
            return False                                   # arm not horizontal
        if sign * (arm @ across) < (1 - tol) * reach:
            return False                                   # arm not out to the side
        hip, knee, ankle = p[J[f"{side}_hip"]], p[J[f"{side}_knee"]], p[J[f"{side}_ankle"]]
        leg = np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)
        if np.linalg.norm(ankle - hip) < (1 - tol * 0.2) * leg:
            return False                                   # bent knee
    return True


def detect_reference_pose(joints: np.ndarray, rest: np.ndarray | None = None) -> str | None:
    """Why frame 0 of joints [F, 22, 3] (metres, Y up) is an added reference pose, or None when it
    is not one. rest [22, 3]: the file's rest pose (all rotations zero) in the same space."""
    joints = np.asarray(joints, dtype=np.float64)
    if len(joints) < MIN_FRAMES:
        return None
    rel = _root_relative(joints)
    change = np.linalg.norm(np.diff(rel, axis=0), axis=-1).mean(-1)          # [F-1]
    usual = max(float(np.percentile(change[1:], 99)), 1e-6)
    root_step = np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1)       # [F-1]
    if root_step[0] > FAR_METRES and root_step[0] > 5 * root_step[1:].max():
        return f"its root stands {root_step[0]:.2f} m from the next frame's"
    ratio = change[0] / usual
    what = f"(mean joint change to the next frame {100 * change[0]:.0f} cm, {ratio:.0f}x the usual)"
    if change[0] > MIN_CHANGE and ratio > T_RATIO:
        if is_t_pose(joints[0]):
            return f"it is a T-pose unlike the next frame {what}"
        if rest is not None and _pose_distance(joints[0], np.asarray(rest, np.float64)) < 0.02:
            return f"it is the skeleton's rest pose (all rotations zero) {what}"
    if change[0] > 2 * MIN_CHANGE and ratio > ANY_RATIO:
        return f"its pose is unlike the next frame's {what}"
    return None
