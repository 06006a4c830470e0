"""features.py: canonicalisation, the 263-d round trip, torch recovery, contacts, mirroring."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import torch

from momadiff.motion import features as F
from momadiff.motion import kinematics, skeleton
from momadiff.motion.rotation import axis_angle_matrix, matrix_to_quat, qmul, yaw_quat

J = skeleton.JOINT_INDEX
RAW_DIR = os.path.join(os.path.dirname(__file__), "..", "data", "raw")


def _aa(axis: str, angle) -> np.ndarray:
    return matrix_to_quat(axis_angle_matrix(axis, np.asarray(angle, dtype=np.float64)))


def fk_motion(kind: str, T: int = 100, seed: int = 0) -> np.ndarray:
    """A synthetic motion [T, 22, 3] posed by FK on the canonical skeleton: "walk", "walk_turn"
    (walks while turning a full circle), "walk_back", "lie_down" (falls back and lies on the floor),
    "arms_up" (stands raising both arms overhead), "wave_left" (stands, waves the left hand)."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / skeleton.FPS
    phase = 2 * np.pi * t
    q = np.zeros((T, 22, 4))
    q[..., 0] = 1.0
    swing = 0.4 * np.sin(phase)
    heading = np.zeros(T)
    speed = 0.0
    q[:, J["l_shoulder"]] = _aa("Z", np.full(T, -1.2))    # arms down from the T-pose
    q[:, J["r_shoulder"]] = _aa("Z", np.full(T, 1.2))
    if kind in ("walk", "walk_turn", "walk_back"):
        q[:, J["l_hip"]] = _aa("X", -swing)
        q[:, J["r_hip"]] = _aa("X", swing)
        q[:, J["l_knee"]] = _aa("X", 0.4 * (1 + np.sin(phase + 1)))
        q[:, J["r_knee"]] = _aa("X", 0.4 * (1 - np.sin(phase + 1)))
        q[:, J["l_elbow"]] = _aa("X", 0.3 * swing)
        heading = 2 * np.pi * t / t[-1] if kind == "walk_turn" else 0.2 * np.sin(t)
        speed = -0.8 if kind == "walk_back" else 1.2
    elif kind == "arms_up":
        up = np.clip(t / t[-1] * 2, 0, 1) * 2.6
        q[:, J["l_shoulder"]] = _aa("Z", -1.2 + up)
        q[:, J["r_shoulder"]] = _aa("Z", 1.2 - up)
    elif kind == "wave_left":
        q[:, J["l_shoulder"]] = _aa("Z", np.full(T, 0.8))
        q[:, J["l_elbow"]] = _aa("Y", 0.5 + 0.5 * np.sin(3 * phase))
    q[:, 0] = yaw_quat(heading)
    step = np.stack([np.sin(heading), np.zeros(T), np.cos(heading)], -1) * speed / skeleton.FPS
    root = np.cumsum(step, axis=0) + np.array([0.0, 0.93, 0.0])
    root[:, 1] += 0.02 * np.sin(2 * phase)
    if kind == "lie_down":
        # Tip backwards while the pelvis sinks with the legs' height, ending flat on the back.
        tilt = np.clip(t / t[-1] * 1.5, 0, 1) * (np.pi / 2)
        q[:, 0] = qmul(q[:, 0], _aa("X", -tilt))
        root[:, 1] = 0.12 + (0.93 - 0.12) * np.cos(tilt)
        root[:, 2] -= 0.8 * (1 - np.cos(tilt))
    joints = kinematics.forward(q, root, skeleton.rest_offsets())
    return joints + 0.001 * rng.normal(size=joints.shape)


def disguise(joints: np.ndarray, scale: float = 1.13, yaw: float = 2.0,
             shift=(3.0, 0.25, -1.5)) -> np.ndarray:
    """The same motion on a bigger body, turned and moved: what canonicalize must undo."""
    r = axis_angle_matrix("Y", np.asarray(yaw))
    return joints @ r.T * scale + np.asarray(shift)


KINDS = ["walk_turn", "walk_back", "lie_down", "arms_up", "wave_left"]


def test_slices_tile_the_feature_vector():
    parts = [F.ROOT, F.RIC, F.ROT, F.VEL, F.CONTACT]
    assert parts[0].start == 0 and parts[-1].stop == F.FEATURE_DIM == 263
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert sum(g.stop - g.start for g in F.FEATURE_GROUPS) == 263


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_within_a_millimetre(kind):
    joints = disguise(fk_motion(kind))
    feats = F.joints_to_features(joints)
    assert feats.shape == (len(joints) - 1, 263) and feats.dtype == np.float32
    back = F.features_to_joints(feats)
    err = np.linalg.norm(back - F.canonicalize(joints)[:-1], axis=-1)
    assert err.max() < 1e-3, f"{kind}: max error {err.max() * 1000:.3f} mm"


@pytest.mark.parametrize("kind", KINDS)
def test_canonical_form(kind):
    c = F.canonicalize(disguise(fk_motion(kind)))
    assert np.allclose(c[0, 0, [0, 2]], 0.0, atol=1e-9)
    assert abs(F.facing_angles(c[:1])[0]) < 1e-6
    assert abs(c[..., 1].min()) < 1e-9
    target = np.linalg.norm(skeleton.rest_offsets(), axis=-1)
    assert np.allclose(skeleton.bone_lengths(c), target, atol=1e-6)
    assert np.allclose(F.canonicalize(c), c, atol=1e-9)      # idempotent


def test_canonical_walk_heads_forward_and_back_walk_backwards():
    fwd = F.canonicalize(disguise(fk_motion("walk")))
    back = F.canonicalize(disguise(fk_motion("walk_back")))
    assert fwd[-1, 0, 2] > 3.0 and abs(fwd[-1, 0, 0]) < 0.5
    assert back[-1, 0, 2] < -0.5


def test_root_scaled_by_leg_ratio():
    j = fk_motion("walk_turn", T=40)
    big = F.canonicalize(j * 1.5)
    assert np.allclose(big, F.canonicalize(j), atol=1e-6)


def test_torch_recovery_matches_numpy_and_is_differentiable():
    feats = np.stack([F.joints_to_features(fk_motion(k, T=60)) for k in ("walk_turn", "lie_down")])
    ref = F.features_to_joints(feats)                                   # [2, 59, 22, 3]
    x = torch.from_numpy(feats).requires_grad_(True)
    out = F.features_to_joints_torch(x)
    assert out.shape == (2, 59, 22, 3) and out.dtype == torch.float32
    assert np.abs(out.detach().numpy() - ref).max() < 1e-4
    out.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    single = F.features_to_joints_torch(torch.from_numpy(feats[0]).double())
    assert np.abs(single.numpy() - ref[0]).max() < 1e-9


def test_foot_contacts_follow_foot_speed():
    T = 40
    j = np.repeat(skeleton.rest_pose()[None].astype(np.float64), T, axis=0)
    # The left foot sweeps back and forth (10 cm a frame); the right foot stands still.
    j[:, [J["l_ankle"], J["l_foot"]], 2] += 0.1 * (np.arange(T) % 2)[:, None]
    contacts = F.joints_to_features(j)[:, F.CONTACT]                   # l_ankle, l_foot, r_ankle, r_foot
    assert (contacts[:, :2] == 0).all() and (contacts[:, 2:] == 1).all()


def test_mirror_is_an_involution_and_swaps_sides():
    j = fk_motion("wave_left")
    assert np.allclose(F.mirror(F.mirror(j)), j)
    m = F.mirror(j)
    path = lambda w: np.linalg.norm(np.diff(w, axis=0), axis=-1).sum()
    assert path(j[:, J["l_wrist"]]) > 3 * path(j[:, J["r_wrist"]])
    assert path(m[:, J["r_wrist"]]) > 3 * path(m[:, J["l_wrist"]])


@pytest.mark.parametrize("kind", ["walk_turn", "wave_left"])
def test_mirror_features_equal_features_of_mirrored_motion(kind):
    c = F.canonicalize(disguise(fk_motion(kind)))
    direct = F.joints_to_features(F.mirror(c))
    assert np.abs(F.mirror_features(F.joints_to_features(c)) - direct).max() < 1e-5
    assert np.allclose(F.mirror_features(F.mirror_features(direct)), direct)


def test_rotation_features_are_valid_6d():
    rot = F.joints_to_features(fk_motion("arms_up"))[:, F.ROT].reshape(-1, 21, 6)
    a, b = rot[..., :3], rot[..., 3:]
    assert np.allclose(np.linalg.norm(a, axis=-1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(b, axis=-1), 1, atol=1e-5)
    assert np.abs(np.sum(a * b, axis=-1)).max() < 1e-5


REAL = sorted(glob.glob(os.path.join(RAW_DIR, "Bandai-Namco-Research-Motiondataset-*", "data", "*.bvh")))


@pytest.mark.skipif(not REAL, reason="data/raw (Bandai BVH) not unpacked")
def test_round_trip_on_real_clips():
    retarget = pytest.importorskip("momadiff.motion.retarget")
    for path in REAL[::max(1, len(REAL) // 5)][:5]:
        joints = retarget.load_bvh_joints(path)
        back = F.features_to_joints(F.joints_to_features(joints))
        err = np.linalg.norm(back - F.canonicalize(joints)[:-1], axis=-1)
        assert err.max() < 1e-3, f"{os.path.basename(path)}: {err.max() * 1000:.3f} mm"
