"""HumanML3D's 263-d motion features: joints <-> features as pure functions (numpy, plus torch recovery).

Per frame t (T frames of joints give T-1 frames of features):

    ROOT_ROT_VEL  [0:1]     half the change of the root's facing angle about +Y from t to t+1 (radians)
    ROOT_LIN_VEL  [1:3]     root displacement t -> t+1 (x, z), expressed in the facing frame of t+1
    ROOT_Y        [3:4]     root height
    RIC           [4:67]    joints 1..21 relative to the root's xz, in the facing frame of t (y absolute)
    ROT           [67:193]  joints 1..21 rotations, continuous 6D (HumanML3D's chain IK, see below)
    VEL           [193:259] all 22 joints' displacement t -> t+1, in the facing frame of t
    CONTACT       [259:263] l_ankle, l_foot, r_ankle, r_foot: 1 where the joint moves less than
                            sqrt(0.002) m (~4.5 cm) from t to t+1

The facing frame at t is the yaw that turns the (Gaussian-smoothed, sigma 20 frames) forward
direction onto +Z, except at the first frame, which keeps the identity as HumanML3D does
(`root_quat[0] = identity` in its inverse kinematics). Because canonicalize() makes the first
frame's raw facing +Z, recovery is exact: features_to_joints(joints_to_features(j)) equals
canonicalize(j)[:-1] to float precision.

Two deliberate departures from HumanML3D's script, both no-ops wherever it is correct:
the per-frame facing change is wrapped to (-pi, pi] (HumanML3D's arcsin of an unfixed quaternion
product flips sign when the facing crosses 180 degrees, breaking turning motions), and source bone
lengths are the median over frames rather than the first frame's (identical for rigid skeletons,
robust for noisy or generated joints).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from . import skeleton
from .rotation import matrix_to_cont6d, qbetween, qinv, qmul, quat_to_matrix, yaw_quat

FEATURE_DIM = 263
NUM_JOINTS = skeleton.NUM_JOINTS

ROOT_ROT_VEL = slice(0, 1)
ROOT_LIN_VEL = slice(1, 3)
ROOT_Y = slice(3, 4)
ROOT = slice(0, 4)
RIC = slice(4, 4 + (NUM_JOINTS - 1) * 3)
ROT = slice(RIC.stop, RIC.stop + (NUM_JOINTS - 1) * 6)
VEL = slice(ROT.stop, ROT.stop + NUM_JOINTS * 3)
CONTACT = slice(VEL.stop, VEL.stop + 4)
assert CONTACT.stop == FEATURE_DIM

# The groups inside which HumanML3D shares one std when normalising (see data.dataset).
FEATURE_GROUPS: tuple[slice, ...] = (ROOT_ROT_VEL, ROOT_LIN_VEL, ROOT_Y, RIC, ROT, VEL, CONTACT)

FOOT_VELOCITY_THRESHOLD = 0.002  # squared metres per frame (HumanML3D's feet_thre)
FACING_SMOOTH_SIGMA = 20.0       # frames; HumanML3D smooths the forward direction for the features
_FOOT_JOINTS = skeleton.LEFT_FOOT + skeleton.RIGHT_FOOT

# HumanML3D's raw offsets (t2m_raw_offsets): the rest direction of each bone that its chain IK
# measures rotations from. They only shape the ROT features, which recovery never uses, but they
# must match HumanML3D so features from HumanML3D-format folders and ours mean the same thing.
_HML_BONE_DIRECTIONS = np.array([
    [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
    [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1],
    [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
], dtype=np.float64)

# HumanML3D scales the root trajectory by the ratio of these two bones (r_hip->r_knee, r_knee->r_ankle).
_LEG_BONES = (5, 8)

# Mirroring: joint permutation restricted to joints 1..21 (RIC / ROT rows), the sign flips of a
# reflected rotation's 6D (M R M with M = diag(-1, 1, 1)), and the contact order after a swap.
_MIRROR = np.array(skeleton.MIRROR)
_MIRROR_NONROOT = _MIRROR[1:] - 1
_MIRROR_6D = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])
_MIRROR_CONTACT = np.array([2, 3, 0, 1])
_MIRROR_X = np.array([-1.0, 1.0, 1.0])


def facing_angles(joints: np.ndarray, smooth_sigma: float = 0.0) -> np.ndarray:
    """Facing angle [T] of each frame of joints [T, 22, 3]: the rotation about +Y taking +Z to the
    forward direction (0 faces +Z, pi/2 faces +X). Forward is up x across, where across sums the
    hip and shoulder right-to-left vectors (HumanML3D); smooth_sigma > 0 Gaussian-smooths forward
    over time first, as HumanML3D does for the features."""
    forward = skeleton.facing_direction(joints)                                 # [T, 3]
    if smooth_sigma > 0:
        forward = gaussian_filter1d(forward, smooth_sigma, axis=0, mode="nearest")
    return np.arctan2(forward[:, 0], forward[:, 2])


def _rotate_y(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate vectors v [..., 3] about +Y by angle (broadcast over the leading axes of v)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([x * c + z * s, y, -x * s + z * c], axis=-1)


def _uniform_skeleton(joints: np.ndarray) -> np.ndarray:
    """Re-pose joints [T, 22, 3] on the canonical bone lengths, keeping every bone's direction.

    This is what HumanML3D's inverse-then-forward kinematics onto its target skeleton reduces to:
    its chain IK reproduces each bone direction exactly, so the bones can be rebuilt directly.
    The root trajectory is scaled by the leg-length ratio, as HumanML3D does.
    """
    target = np.linalg.norm(skeleton.rest_offsets().astype(np.float64), axis=-1)  # [22]
    source = np.median(skeleton.bone_lengths(joints), axis=0)                    # [22]
    scale = target[list(_LEG_BONES)].sum() / max(source[list(_LEG_BONES)].sum(), 1e-9)
    rest_dirs = skeleton.rest_offsets().astype(np.float64) / np.maximum(target[:, None], 1e-12)
    out = np.empty_like(joints)
    out[:, 0] = joints[:, 0] * scale
    for j in range(1, NUM_JOINTS):
        p = skeleton.PARENTS[j]
        bone = joints[:, j] - joints[:, p]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        # A collapsed bone has no direction: give it the rest one rather than a NaN.
        direction = np.where(norm > 1e-9, bone / np.maximum(norm, 1e-12), rest_dirs[j])
        out[:, j] = out[:, p] + direction * target[j]
    return out


def canonicalize(joints: np.ndarray) -> np.ndarray:
    """HumanML3D's canonical form of a motion [T, 22, 3] (metres, Y up) -> [T, 22, 3] float64.

    Uniform skeleton (canonical bone lengths, directions kept, root trajectory scaled by the leg
    ratio), lowest joint over the whole clip on the floor (y = 0; HumanML3D uses every joint, not
    only the feet, which keeps lying-down motions above ground), first frame's root at x = z = 0,
    first frame facing +Z. Idempotent.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"expected joints [T, {NUM_JOINTS}, 3], got {joints.shape}")
    pos = _uniform_skeleton(joints)
    pos[..., 1] -= pos[..., 1].min()
    pos -= pos[0, 0] * np.array([1.0, 0.0, 1.0])
    return _rotate_y(pos, -facing_angles(pos[:1])[0])


def foot_contacts(joints: np.ndarray) -> np.ndarray:
    """Contacts [T-1, 4] (l_ankle, l_foot, r_ankle, r_foot) of joints [T, 22, 3]: 1 where the joint
    moves less than HumanML3D's threshold between t and t+1. Velocity only, as HumanML3D."""
    step = joints[1:, list(_FOOT_JOINTS)] - joints[:-1, list(_FOOT_JOINTS)]  # [T-1, 4, 3]
    return (np.sum(step ** 2, axis=-1) < FOOT_VELOCITY_THRESHOLD).astype(np.float64)


def _chain_rotations(joints: np.ndarray, root_angle: np.ndarray) -> np.ndarray:
    """HumanML3D's per-joint rotations [T, 22, 4] from positions: along each kinematic chain,
    joint c gets inv(R) * (shortest arc from its rest direction to the observed bone), where R is
    the previous bone's shortest arc, or the root's facing rotation for a chain's first bone.
    (This is not a proper local rotation, and not invariant to the global yaw; we keep it because
    it is what the HumanML3D features contain.)"""
    quats = np.zeros(joints.shape[:-1] + (4,))
    quats[..., 0] = 1.0
    root_q = yaw_quat(root_angle)                       # [T, 4]
    quats[:, 0] = root_q
    for chain in skeleton.KINEMATIC_CHAIN:
        r = root_q
        for parent, child in zip(chain[:-1], chain[1:]):
            bone = joints[:, child] - joints[:, parent]
            arc = qbetween(np.broadcast_to(_HML_BONE_DIRECTIONS[child], bone.shape), bone)
            quats[:, child] = qmul(qinv(r), arc)
            r = qmul(r, quats[:, child])
    return quats


def joints_to_features(joints: np.ndarray) -> np.ndarray:
    """The 263-d features [T-1, 263] float32 of a motion [T, 22, 3] (T >= 2); canonicalises first."""
    pos = canonicalize(joints)
    if len(pos) < 2:
        raise ValueError("need at least two frames of joints")
    # The root's facing rotation: the yaw turning the smoothed forward onto +Z, identity at frame 0.
    angle = -facing_angles(pos, FACING_SMOOTH_SIGMA)     # [T]
    angle[0] = 0.0
    dangle = np.angle(np.exp(1j * (angle[1:] - angle[:-1])))  # wrapped to (-pi, pi]
    root_step = pos[1:, 0] - pos[:-1, 0]                 # [T-1, 3]
    lin_vel = _rotate_y(root_step, angle[1:])[:, [0, 2]]
    local = pos - pos[:, :1] * np.array([1.0, 0.0, 1.0])
    ric = _rotate_y(local, angle[:, None])[:-1, 1:]      # [T-1, 21, 3]
    rot = matrix_to_cont6d(quat_to_matrix(_chain_rotations(pos, angle)))[:-1, 1:]  # [T-1, 21, 6]
    vel = _rotate_y(pos[1:] - pos[:-1], angle[:-1, None])  # [T-1, 22, 3]
    n = len(pos) - 1
    return np.concatenate([
        dangle[:, None] / 2.0, lin_vel, pos[:-1, 0, 1:2],
        ric.reshape(n, -1), rot.reshape(n, -1), vel.reshape(n, -1), foot_contacts(pos),
    ], axis=-1).astype(np.float32)


def features_to_joints(feats: np.ndarray) -> np.ndarray:
    """Joints [..., T, 22, 3] from features [..., T, 263] by HumanML3D's recover_from_ric: integrate
    the facing angle and the root's xz from zero, then place the RIC positions around the root."""
    feats = np.asarray(feats, dtype=np.float64)
    half = np.concatenate([np.zeros_like(feats[..., :1, 0]),
                           np.cumsum(feats[..., :-1, 0], axis=-1)], axis=-1)  # [..., T]
    c, s = np.cos(2.0 * half), np.sin(2.0 * half)
    # Root step t-1 -> t was stored in the facing frame of t: undo that frame's yaw, then sum.
    vx = np.concatenate([np.zeros_like(feats[..., :1, 1]), feats[..., :-1, 1]], axis=-1)
    vz = np.concatenate([np.zeros_like(feats[..., :1, 2]), feats[..., :-1, 2]], axis=-1)
    root_x = np.cumsum(vx * c - vz * s, axis=-1)
    root_z = np.cumsum(vx * s + vz * c, axis=-1)
    ric = feats[..., RIC].reshape(feats.shape[:-1] + (NUM_JOINTS - 1, 3))
    c, s = c[..., None], s[..., None]
    x = ric[..., 0] * c - ric[..., 2] * s + root_x[..., None]
    z = ric[..., 0] * s + ric[..., 2] * c + root_z[..., None]
    joints = np.stack([x, ric[..., 1], z], axis=-1)                      # [..., T, 21, 3]
    root = np.stack([root_x, feats[..., 3], root_z], axis=-1)[..., None, :]
    return np.concatenate([root, joints], axis=-2)


def features_to_joints_torch(feats: torch.Tensor) -> torch.Tensor:
    """Differentiable features_to_joints: [..., T, 263] -> [..., T, 22, 3] in feats' dtype/device."""
    zero = torch.zeros_like(feats[..., :1, 0])
    half = torch.cat([zero, torch.cumsum(feats[..., :-1, 0], dim=-1)], dim=-1)  # [..., T]
    c, s = torch.cos(2.0 * half), torch.sin(2.0 * half)
    vx = torch.cat([zero, feats[..., :-1, 1]], dim=-1)
    vz = torch.cat([zero, feats[..., :-1, 2]], dim=-1)
    root_x = torch.cumsum(vx * c - vz * s, dim=-1)
    root_z = torch.cumsum(vx * s + vz * c, dim=-1)
    ric = feats[..., RIC].reshape(feats.shape[:-1] + (NUM_JOINTS - 1, 3))
    c, s = c.unsqueeze(-1), s.unsqueeze(-1)
    x = ric[..., 0] * c - ric[..., 2] * s + root_x.unsqueeze(-1)
    z = ric[..., 0] * s + ric[..., 2] * c + root_z.unsqueeze(-1)
    joints = torch.stack([x, ric[..., 1], z], dim=-1)                    # [..., T, 21, 3]
    root = torch.stack([root_x, feats[..., 3], root_z], dim=-1).unsqueeze(-2)
    return torch.cat([root, joints], dim=-2)


def mirror(joints: np.ndarray) -> np.ndarray:
    """Reflect a motion [..., 22, 3] across the YZ plane (x -> -x) and swap left and right joints,
    so a left-hand wave becomes a right-hand wave. Its own inverse."""
    joints = np.asarray(joints)
    return joints[..., _MIRROR, :] * _MIRROR_X.astype(joints.dtype)


def mirror_features(feats: np.ndarray) -> np.ndarray:
    """The features [..., T, 263] of the mirrored motion, computed in feature space: equals
    joints_to_features(mirror(canonicalize(j))) for feats = joints_to_features(j)."""
    feats = np.asarray(feats)
    lead = feats.shape[:-1]
    out = np.empty_like(feats)
    out[..., 0] = -feats[..., 0]
    out[..., 1] = -feats[..., 1]
    out[..., 2:4] = feats[..., 2:4]
    ric = feats[..., RIC].reshape(lead + (NUM_JOINTS - 1, 3))
    out[..., RIC] = (ric[..., _MIRROR_NONROOT, :] * _MIRROR_X).reshape(lead + (-1,))
    rot = feats[..., ROT].reshape(lead + (NUM_JOINTS - 1, 6))
    out[..., ROT] = (rot[..., _MIRROR_NONROOT, :] * _MIRROR_6D).reshape(lead + (-1,))
    vel = feats[..., VEL].reshape(lead + (NUM_JOINTS, 3))
    out[..., VEL] = (vel[..., _MIRROR, :] * _MIRROR_X).reshape(lead + (-1,))
    out[..., CONTACT] = feats[..., CONTACT][..., _MIRROR_CONTACT]
    return out
