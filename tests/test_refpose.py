"""An added reference pose at the start of a file: detected, dropped and reported (refpose.py),
through every load path (retarget, load_bvh_joints for CLI keys, the app's BVH upload)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from conftest import synthetic_walk
from momadiff.motion import refpose, retarget, skeleton
from momadiff.motion.retarget import ReferencePoseWarning
from motionfiles import walk_bvh

J = skeleton.JOINT_INDEX


def arms_down(joints: np.ndarray) -> np.ndarray:
    """The synthetic walk with its arms hanging (and swinging) instead of held out in a T."""
    j = joints.astype(np.float64).copy()
    swing = 0.1 * np.sin(np.arange(len(j)) / 3.0)
    one = np.ones_like(swing)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        elbow = j[:, J[f"{side}_shoulder"]] + np.stack([0.03 * sign * one, -0.26 * one, sign * swing], -1)
        j[:, J[f"{side}_elbow"]] = elbow
        j[:, J[f"{side}_wrist"]] = elbow + np.stack([0 * one, -0.25 * one, 1.5 * sign * swing], -1)
    return j


def t_pose_at(joints_frame: np.ndarray) -> np.ndarray:
    rest = skeleton.rest_pose().astype(np.float64)
    return rest + (joints_frame[0] - rest[0]) * np.array([1.0, 0.0, 1.0])


def test_is_t_pose():
    assert refpose.is_t_pose(skeleton.rest_pose())
    walk = arms_down(synthetic_walk(10))
    assert not refpose.is_t_pose(walk[0])


def test_far_first_frame_dropped():
    walk = arms_down(synthetic_walk(60))
    walk[..., 2] += 2.7
    far = walk.copy()
    far[0] -= far[0, 0] * np.array([1.0, 0.0, 1.0])     # frame 0 stands at the origin, 2.7 m away
    why = refpose.detect_reference_pose(far)
    gap = np.linalg.norm(far[0, 0] - far[1, 0])
    assert why is not None and f"{gap:.2f} m" in why and gap > 2.7


def test_t_pose_first_frame_dropped_even_in_place():
    walk = arms_down(synthetic_walk(60))
    with_t = np.concatenate([t_pose_at(walk[0])[None], walk])
    assert np.linalg.norm(with_t[0, 0] - with_t[1, 0]) < 0.05     # not far: only its shape tells
    assert "T-pose" in refpose.detect_reference_pose(with_t)


def test_rest_pose_first_frame_dropped():
    """A zero-rotation first frame that is not a T-pose (an A-pose rest) is found through `rest`."""
    walk = arms_down(synthetic_walk(60))
    a_pose = walk[30].copy()
    a_pose[[J["l_wrist"], J["r_wrist"]], 2] += 0.3         # some pose the motion never has at its start
    a_pose[[J["l_elbow"], J["r_elbow"]], 2] += 0.15
    start = a_pose + (walk[0, 0] - a_pose[0])
    with_rest = np.concatenate([start[None], walk])
    assert refpose.detect_reference_pose(with_rest) is None or "unlike" in refpose.detect_reference_pose(with_rest)
    assert "rest pose" in refpose.detect_reference_pose(with_rest, rest=a_pose)


def test_clean_motions_left_alone():
    walk = arms_down(synthetic_walk(60))
    assert refpose.detect_reference_pose(walk) is None
    # A T-pose the actor holds before moving (calibration) is real motion: kept.
    held = np.concatenate([np.repeat(t_pose_at(walk[0])[None], 10, 0), walk])
    assert refpose.detect_reference_pose(held) is None
    # The T-armed synthetic walk: every frame is T-pose-like, nothing jumps.
    assert refpose.detect_reference_pose(synthetic_walk(60)) is None
    assert refpose.detect_reference_pose(walk[:2]) is None            # too short to tell


def test_dropped_through_retarget_and_load_bvh_joints(tmp_path):
    clean, added = tmp_path / "clean.bvh", tmp_path / "added.bvh"
    walk_bvh(clean, seconds=3.0, fps=120.0)
    walk_bvh(added, seconds=3.0, fps=120.0, reference_pose=True)
    res = retarget.load_motion(added)
    assert res.dropped_first_frame and "added.bvh: dropped frame 0" in res.notes[0]
    base = retarget.load_motion(clean)
    assert not base.dropped_first_frame and not base.notes
    np.testing.assert_allclose(res.joints, base.joints, atol=1e-4)   # the same motion after the drop
    with pytest.warns(ReferencePoseWarning, match="dropped frame 0"):
        retarget.load_bvh_joints(added)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        retarget.load_bvh_joints(clean)
    kept = retarget.load_motion(added, drop_reference=False)
    assert len(kept.joints) >= len(res.joints)
    # Without the drop, frame 0 is the T-pose at the origin.
    np.testing.assert_allclose(kept.joints[0, 0, [0, 2]], 0.0, atol=1e-4)


def test_true_fps_override(tmp_path):
    """A 60 fps capture whose header says 120: source_fps stretches it to its real duration."""
    path = tmp_path / "w.bvh"
    walk_bvh(path, seconds=2.0, fps=120.0)
    text = path.read_text()
    as_120 = retarget.load_motion(path)
    assert as_120.source_fps == pytest.approx(120.0)
    as_60 = retarget.load_motion(path, source_fps=60.0)
    assert as_60.source_fps == 60.0 and len(as_60.joints) == 2 * len(as_120.joints) - 1
    assert "Frame Time" in text
    with pytest.raises(ValueError, match="source_fps"):
        retarget.load_motion(path, source_fps=0.0)


def test_cli_keys_and_app_upload_report_it(tmp_path):
    from momadiff.__main__ import _load_keys
    from momadiff.ui import handlers as H
    added = tmp_path / "added.bvh"
    walk_bvh(added, seconds=3.0, fps=30.0, reference_pose=True)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"frame": 5, "bvh": "added.bvh", "bvh_frame": 0}]))
    with pytest.warns(ReferencePoseWarning):
        k = _load_keys(keys)
    # bvh_frame 0 is the first real frame, not the T-pose at the origin.
    assert np.linalg.norm(np.asarray(k[0].joints)[0, [0, 2]]) > 1.0
    joints, _, _, msg = H.load_bvh(str(added))
    assert "dropped frame 0 as an added reference pose" in msg and str(tmp_path) not in msg
    assert len(joints) == len(retarget.load_motion(added).joints)
