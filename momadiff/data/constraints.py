"""Constraints drawn from a motion's own joints, the way people give them: for training the control
input (train_transformer --control) and for the control evaluation.

People ask for an end effector at a moment (a hand here at 2 s), where the feet plant, a path for
the body to walk (a few waypoints, or a drawn path with one per frame), or a mix; often nothing.
draw() picks one of those kinds at random (TRAIN_KINDS) or the one asked for (also EVAL_KINDS).
"""
from __future__ import annotations

import numpy as np

from ..constraints import ROOT_XZ, Constraints
from ..motion import skeleton

J = skeleton.JOINT_INDEX
HANDS = (J["l_wrist"], J["r_wrist"])
FEET = (J["l_ankle"], J["r_ankle"], J["l_foot"], J["r_foot"])
# Joints people pin alone, wrists most often.
EFFECTORS = (J["l_wrist"], J["r_wrist"], J["l_wrist"], J["r_wrist"], J["l_ankle"], J["r_ankle"], J["l_foot"],
             J["r_foot"], J["head"], J["l_elbow"], J["r_elbow"], J["l_knee"], J["r_knee"], J["pelvis"])

# Training mixture (probabilities); "none" about a third of the time, so the model still
# generates from text alone as well as before.
TRAIN_KINDS = {"none": 0.33, "effector": 0.2, "feet": 0.1, "path": 0.2, "mixed": 0.12, "pose": 0.05}
EVAL_KINDS = ("none", "path", "hands", "feet", "mixed")
XZ = np.array([True, False, True])


def _frames(T: int, rng: np.random.Generator, lo: int = 1, hi: int = 3) -> np.ndarray:
    return np.sort(rng.choice(T, size=min(T, int(rng.integers(lo, hi + 1))), replace=False))


def _pin(c: Constraints, joints: np.ndarray, frames, which) -> None:
    for t in frames:
        for j in which:
            c.targets[t, j] = joints[t, j]
            c.mask[t, j] = True


def _path(c: Constraints, joints: np.ndarray, rng: np.random.Generator, dense: bool | None = None) -> None:
    T = len(joints)
    if dense is None:
        dense = rng.random() < 0.5
    if dense:
        # A drawn path: one waypoint every few frames over the whole crop or a stretch of it.
        stride = int(rng.choice([1, 1, 2, 3, 5]))
        a = 0 if rng.random() < 0.6 else int(rng.integers(T))
        b = T if rng.random() < 0.6 else int(rng.integers(a, T)) + 1
        frames = np.arange(a, b, stride)
    else:
        frames = _frames(T, rng, 2, 8)
    for t in frames:
        c.targets[t, 0, list(ROOT_XZ)] = joints[t, 0, list(ROOT_XZ)]
        c.mask[t, 0, list(ROOT_XZ)] = True
    if rng.random() < 0.3:
        some = frames[rng.random(len(frames)) < (0.3 if dense else 0.7)]
        c.heading[some] = skeleton.facing_angle(joints[some])
        c.heading_mask[some] = True


def draw(joints: np.ndarray, rng: np.random.Generator, kind: str | None = None) -> Constraints:
    """Constraints on a motion joints [T, 22, 3] that it meets exactly: kind one of TRAIN_KINDS or
    EVAL_KINDS, or None for a random training kind."""
    joints = np.asarray(joints, np.float32)
    T = len(joints)
    if kind is None:
        kind = str(rng.choice(list(TRAIN_KINDS), p=np.array(list(TRAIN_KINDS.values())) / sum(TRAIN_KINDS.values())))
    c = Constraints.empty(T)
    if kind == "none":
        pass
    elif kind == "effector":
        which = {int(rng.choice(EFFECTORS)) for _ in range(1 if rng.random() < 0.7 else 2)}
        _pin(c, joints, _frames(T, rng), which)
    elif kind == "feet":
        which = [FEET[:2], FEET[2:], FEET][int(rng.integers(3))]
        _pin(c, joints, _frames(T, rng), which)
    elif kind == "path":
        _path(c, joints, rng)
    elif kind == "mixed":
        _path(c, joints, rng)
        _pin(c, joints, _frames(T, rng, 1, 2), [int(rng.choice(EFFECTORS))] if rng.random() < 0.6 else FEET[:2])
    elif kind == "pose":
        frames = _frames(T, rng, 1, 2)
        _pin(c, joints, frames, range(skeleton.NUM_JOINTS))
        c.heading[frames] = skeleton.facing_angle(joints[frames])
        c.heading_mask[frames] = True
        c.whole[frames] = True
    # The evaluation's fixed kinds: what a user would typically give for each.
    elif kind == "hands":
        _pin(c, joints, _frames(T, rng, 2, 2), [HANDS[int(rng.integers(2))]])
    elif kind == "eval_feet":
        _pin(c, joints, _frames(T, rng, 2, 2), FEET[:2])
    else:
        raise ValueError(f"unknown constraint kind {kind!r}")
    return c


def draw_eval(joints: np.ndarray, rng: np.random.Generator, kind: str) -> Constraints:
    """The evaluation's constraint of a kind in EVAL_KINDS: path = a pelvis waypoint every 5
    frames (a drawn path); hands = one wrist at two moments; feet = both ankles at two moments;
    mixed = 4 to 8 path waypoints and one wrist at one moment."""
    if kind not in EVAL_KINDS:
        raise ValueError(f"unknown evaluation kind {kind!r}; one of {', '.join(EVAL_KINDS)}")
    joints = np.asarray(joints, np.float32)
    T = len(joints)
    c = Constraints.empty(T)
    if kind == "path":
        f = np.arange(0, T, 5)
        c.targets[f, 0] = joints[f, 0]
        c.mask[f, 0] = XZ
        return c
    if kind == "mixed":
        f = _frames(T, rng, 4, 8)
        c.targets[f, 0] = joints[f, 0]
        c.mask[f, 0] = XZ
        _pin(c, joints, _frames(T, rng, 1, 1), [HANDS[int(rng.integers(2))]])
        return c
    return draw(joints, rng, {"none": "none", "hands": "hands", "feet": "eval_feet"}[kind])
