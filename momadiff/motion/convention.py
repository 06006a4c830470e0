"""Where a skeleton puts its pelvis and collars, made the same for every source.

Skeletons disagree about joints that no bone length pins down: CMU's root sits up and behind the
hip joints (pelvis -> hip points down 45 degrees and forward), Daz's sits below them, Bandai's
between them just above the hip line; CMU has no collar joint at all. features.canonicalize keeps
each bone's direction, so these conventions survive into the features, where a model sees them as
different bodies: the VAE trained on Bandai gives CMU walks back at 60-70 mm root-relative, 60 mm
of it at the hips. Retargeting therefore moves them to one convention, Bandai's (the data the
bundled model learnt, which stays bit-identical):

- pelvis: PELVIS_HEIGHT hip widths above the hip midpoint in the rest pose (all rotations zero,
  upright), and wherever the source's pelvis joint turns the rest offset in each frame (the hips of
  these skeletons hang rigidly from it), so its tilt over time (hip flexion, a bow) is the
  source's. A source already within PELVIS_TOLERANCE of the convention is left untouched.
- a collar the file does not have (or puts at the neck base) is derived from spine3 and the
  shoulder as Bandai's sit: at the shoulder's height along the chest (neck - spine2) and
  COLLAR_SIDE of the way out to it.
"""
from __future__ import annotations

import numpy as np

from . import skeleton

J = skeleton.JOINT_INDEX
PELVIS_HEIGHT = 0.169      # Bandai: hip midpoint -> pelvis, in hip widths (its rest pose and motion)
PELVIS_TOLERANCE = 0.02    # hip widths of difference that are left alone
COLLAR_SIDE = 0.28         # Bandai: the collar's share of spine3 -> shoulder across the chest


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def pelvis_correction(rest: np.ndarray, up: np.ndarray) -> np.ndarray | None:
    """The offset [3] to add to the rest pose's pelvis (rest [22, 3], the file's up direction
    `up` [3], file units) to put it on the convention; None when it is there already."""
    mid = 0.5 * (rest[J["l_hip"]] + rest[J["r_hip"]])
    across = rest[J["l_hip"]] - rest[J["r_hip"]]
    width = float(np.linalg.norm(across))
    if width < 1e-9:
        return None
    x = across / width
    vertical = up - (up @ x) * x
    if np.linalg.norm(vertical) < 1e-9:
        return None
    target = mid + PELVIS_HEIGHT * width * vertical / np.linalg.norm(vertical)
    offset = target - rest[J["pelvis"]]
    return offset if np.linalg.norm(offset) > PELVIS_TOLERANCE * width else None


def derive_collar(joints: np.ndarray, side: str) -> np.ndarray:
    """The collar [F, 3] of joints [F, 22, 3] from spine3, spine2, neck and the shoulder."""
    s3 = joints[:, J["spine3"]]
    to_shoulder = joints[:, J[f"{side}_shoulder"]] - s3
    chest = _unit(joints[:, J["neck"]] - joints[:, J["spine2"]])
    rise = (to_shoulder * chest).sum(-1, keepdims=True) * chest
    return s3 + rise + COLLAR_SIDE * (to_shoulder - rise)
