"""The 22-joint SMPL skeleton in HumanML3D's order: names, kinematic tree, canonical offsets.

Conventions used everywhere in momadiff: 20 fps, metres, Y up, the body faces +Z at the start of a
canonicalised motion, and the character's left side is +X.
"""
from __future__ import annotations

import numpy as np

FPS = 20
NUM_JOINTS = 22

JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle",
    "spine3", "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder",
    "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# Parent of each joint; -1 for the root. Every parent index is smaller than its child's.
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

# The same tree as chains from the root outwards (HumanML3D's t2m_kinematic_chain).
KINEMATIC_CHAIN: tuple[tuple[int, ...], ...] = (
    (0, 2, 5, 8, 11),          # right leg
    (0, 1, 4, 7, 10),          # left leg
    (0, 3, 6, 9, 12, 15),      # spine and head
    (9, 14, 17, 19, 21),       # right arm
    (9, 13, 16, 18, 20),       # left arm
)

# Joints used to find the facing direction (HumanML3D: r_hip, l_hip, r_shoulder, l_shoulder)
# and the feet used for contacts.
FACE_JOINTS = (2, 1, 17, 16)
LEFT_FOOT = (7, 10)   # l_ankle, l_foot
RIGHT_FOOT = (8, 11)  # r_ankle, r_foot

# Left/right swap permutation, for mirroring.
MIRROR = tuple(JOINT_INDEX[n.replace("l_", "#").replace("r_", "l_").replace("#", "r_")]
               for n in JOINT_NAMES)

# Offsets of each joint from its parent in the canonical rest pose (T-pose, facing +Z, metres):
# close to the mean adult SMPL body. The canonical skeleton that features.canonicalize retargets
# every motion onto ("uniform skeleton" in HumanML3D) takes its bone lengths from here.
_REST_OFFSETS = np.array([
    [0.0000, 0.0000, 0.0000],    # pelvis
    [0.0590, -0.0850, -0.0150],  # l_hip
    [-0.0590, -0.0850, -0.0150],  # r_hip
    [0.0000, 0.1150, -0.0300],   # spine1
    [0.0000, -0.3850, 0.0000],   # l_knee
    [0.0000, -0.3850, 0.0000],   # r_knee
    [0.0000, 0.1350, 0.0250],    # spine2
    [0.0000, -0.4050, -0.0300],  # l_ankle
    [0.0000, -0.4050, -0.0300],  # r_ankle
    [0.0000, 0.0550, 0.0030],    # spine3
    [0.0000, -0.0550, 0.1250],   # l_foot
    [0.0000, -0.0550, 0.1250],   # r_foot
    [0.0000, 0.2100, -0.0300],   # neck
    [0.0750, 0.1150, -0.0200],   # l_collar
    [-0.0750, 0.1150, -0.0200],  # r_collar
    [0.0000, 0.0900, 0.0500],    # head
    [0.1150, 0.0450, -0.0150],   # l_shoulder
    [-0.1150, 0.0450, -0.0150],  # r_shoulder
    [0.2600, 0.0000, -0.0200],   # l_elbow
    [-0.2600, 0.0000, -0.0200],  # r_elbow
    [0.2550, 0.0000, -0.0050],   # l_wrist
    [-0.2550, 0.0000, -0.0050],  # r_wrist
], dtype=np.float32)


def rest_offsets() -> np.ndarray:
    """Canonical offsets [22, 3] of each joint from its parent (a copy; row 0 is zero)."""
    return _REST_OFFSETS.copy()


def rest_pose() -> np.ndarray:
    """Canonical T-pose joint positions [22, 3], feet on the floor (min y = 0), pelvis at x=z=0."""
    pos = np.zeros((NUM_JOINTS, 3), dtype=np.float32)
    for j in range(1, NUM_JOINTS):
        pos[j] = pos[PARENTS[j]] + _REST_OFFSETS[j]
    pos[:, 1] -= pos[:, 1].min()
    return pos


def children(j: int) -> list[int]:
    """Indices of the joints whose parent is j."""
    return [c for c, p in enumerate(PARENTS) if p == j]


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Length of the bone into each joint, [..., 22] (0 for the root)."""
    joints = np.asarray(joints)
    par = np.array([max(p, 0) for p in PARENTS])
    return np.linalg.norm(joints - joints[..., par, :], axis=-1)


def facing_direction(joints: np.ndarray) -> np.ndarray:
    """Unit horizontal direction the body faces, [..., 3], from the hip and shoulder lines
    (left is +X when facing +Z, so forward = across x up)."""
    joints = np.asarray(joints, dtype=np.float64)
    r_hip, l_hip, r_sh, l_sh = FACE_JOINTS
    across = (joints[..., l_hip, :] - joints[..., r_hip, :]) + (joints[..., l_sh, :] - joints[..., r_sh, :])
    fwd = np.cross(across, np.array([0.0, 1.0, 0.0]))
    fwd[..., 1] = 0.0
    return fwd / np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)


def facing_angle(joints: np.ndarray) -> np.ndarray:
    """Heading about +Y in radians, 0 when facing +Z, positive turning towards +X."""
    f = facing_direction(joints)
    return np.arctan2(f[..., 0], f[..., 2])
