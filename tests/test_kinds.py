"""The kind detectors: each fires on a small synthetic motion of its kind, not on standing or walking."""
from __future__ import annotations

import numpy as np
import pytest

from momadiff.evaluate import kinds
from momadiff.motion import skeleton

J = skeleton.JOINT_INDEX
FPS = skeleton.FPS
LEG = {"l": [J["l_knee"], J["l_ankle"], J["l_foot"]], "r": [J["r_knee"], J["r_ankle"], J["r_foot"]]}


def standing(T: int = 60) -> np.ndarray:
    """The rest pose with the arms hanging down, held for T frames (facing +Z)."""
    pose = skeleton.rest_pose().astype(np.float64)
    for s in "lr":
        sh = pose[J[f"{s}_shoulder"]]
        pose[J[f"{s}_elbow"]] = sh + [0.0, -0.26, 0.0]
        pose[J[f"{s}_wrist"]] = sh + [0.0, -0.51, 0.02]
    return np.repeat(pose[None], T, axis=0)


def walking(T: int = 80, speed: float = 1.2, direction: float = 1.0) -> np.ndarray:
    """Steps along +Z (direction -1: backwards) at `speed` m/s, feet lifting in turn."""
    j = standing(T)
    t = np.arange(T)
    phase = np.sin(2 * np.pi * t / 20)                    # a stride per second
    for s, sign in (("l", 1.0), ("r", -1.0)):
        lift = np.clip(sign * phase, 0, None) * 0.08
        j[:, LEG[s][1:], 1] += lift[:, None]
        j[:, LEG[s], 2] += direction * 0.2 * sign * phase[:, None]
    j[:, :, 2] += direction * speed * t[:, None] / FPS
    return j


def spinning() -> np.ndarray:
    j = standing(60)
    ang = np.clip((np.arange(60) - 10) / 30, 0, 1) * 2 * np.pi      # a full turn in 1.5 s
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    x, z = j[..., 0].copy(), j[..., 2].copy()
    j[..., 0], j[..., 2] = c * x + s * z, -s * x + c * z
    return j


def jumping() -> np.ndarray:
    j = standing(60)
    t = np.arange(60)
    hop = np.where((t >= 20) & (t < 28), 0.3 * np.sin(np.pi * (t - 20) / 8), 0.0)   # 0.4 s of flight
    j[..., 1] += hop[:, None]
    return j


def kicking() -> np.ndarray:
    j = standing(60)
    rest = j[0].copy()
    up = np.array([0.0, 0.55, 0.6])                       # ankle travel to the top of the kick
    for t in range(60):
        w = np.interp(t, [20, 24, 28], [0, 1, 0])        # 0.2 s up, 0.2 s down
        j[t, J["r_knee"]] = rest[J["r_knee"]] + w * np.array([0.0, 0.2, 0.35])
        j[t, [J["r_ankle"], J["r_foot"]]] = rest[[J["r_ankle"], J["r_foot"]]] + w * up
    return j


def climbing() -> np.ndarray:
    j = standing(90)
    rise = np.interp(np.arange(90), [20, 30, 60, 70], [0, 0.5, 0.5, 0])   # 1.5 s up on a 50 cm box
    j[..., 1] += rise[:, None]
    return j


def lift_leg(j: np.ndarray, side: str, degrees: np.ndarray) -> None:
    """Swing one leg forward and up about its hip, rigidly, by degrees [T] (in place)."""
    hip = j[:, J[f"{side}_hip"]].copy()
    a = np.radians(degrees)[:, None]
    d = j[:, LEG[side]] - hip[:, None]                                     # [T, 3, 3]
    y, z = d[..., 1].copy(), d[..., 2].copy()
    j[:, LEG[side], 1] = hip[:, None, 1] + np.cos(a) * y - np.sin(a) * z
    j[:, LEG[side], 2] = hip[:, None, 2] + np.sin(a) * y + np.cos(a) * z


def balancing() -> np.ndarray:
    j = standing(80)
    lift_leg(j, "l", np.interp(np.arange(80), [10, 15, 60, 65], [0, 50, 50, 0]))   # 2.25 s on the right foot
    return j


def sword_swinging() -> np.ndarray:
    j = standing(60)
    chest = j[0, J["spine3"]]
    top, low = chest + [0.0, 0.55, 0.15], chest + [0.0, -0.35, 0.55]
    for t in range(60):
        w = np.interp(t % 20, [0, 8, 12, 20], [0, 0, 1, 1])   # a cut every second, 0.2 s long
        hands = (1 - w) * top + w * low
        j[t, J["l_wrist"]] = hands + [0.05, 0.0, 0.0]
        j[t, J["r_wrist"]] = hands - [0.05, 0.0, 0.0]
        for s in "lr":
            j[t, J[f"{s}_elbow"]] = 0.5 * (j[t, J[f"{s}_shoulder"]] + j[t, J[f"{s}_wrist"]]) + [0, -0.05, 0]
    return j


def punching() -> np.ndarray:
    j = standing(60)
    sh = j[0, J["r_shoulder"]]
    guard_e, guard_w = sh + [0.0, -0.25, 0.05], sh + [0.0, -0.05, 0.2]
    hit_e, hit_w = sh + [0.0, -0.02, 0.26], sh + [0.0, -0.02, 0.51]
    for t in range(60):
        w = np.interp(t, [10, 12, 16, 30, 32, 36], [0, 1, 0, 0, 1, 0])
        j[t, J["r_elbow"]] = (1 - w) * guard_e + w * hit_e
        j[t, J["r_wrist"]] = (1 - w) * guard_w + w * hit_w
    return j


def waving(side: str) -> np.ndarray:
    j = standing(60)
    sh = j[0, J[f"{side}_shoulder"]]
    out = 1.0 if side == "l" else -1.0
    for t in range(60):
        j[t, J[f"{side}_elbow"]] = sh + [out * 0.2, 0.15, 0.0]
        j[t, J[f"{side}_wrist"]] = sh + [out * (0.25 + 0.12 * np.sin(2 * np.pi * t / 10)), 0.4, 0.0]
    return j


def raising(side: str) -> np.ndarray:
    j = standing(60)
    sh = j[0, J[f"{side}_shoulder"]]
    w = np.interp(np.arange(60), [10, 20, 40, 50], [0, 1, 1, 0])[:, None]
    j[:, J[f"{side}_elbow"]] = (1 - w) * j[:, J[f"{side}_elbow"]] + w * (sh + [0, 0.26, 0])
    j[:, J[f"{side}_wrist"]] = (1 - w) * j[:, J[f"{side}_wrist"]] + w * (sh + [0, 0.51, 0])
    return j


def bowing() -> np.ndarray:
    j = standing(60)
    pel = j[0, 0]
    ang = np.radians(np.interp(np.arange(60), [10, 20, 35, 45], [0, 40, 40, 0]))
    upper = [J[n] for n in skeleton.JOINT_NAMES if n not in
             ("pelvis", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_foot", "r_foot")]
    for t in range(60):
        c, s = np.cos(ang[t]), np.sin(ang[t])
        d = j[t, upper] - pel
        j[t, upper, 1] = pel[1] + c * d[:, 1] - s * d[:, 2]
        j[t, upper, 2] = pel[2] + s * d[:, 1] + c * d[:, 2]
    return j


def turning(sign: float) -> np.ndarray:
    j = walking(100)
    ang = sign * np.radians(np.interp(np.arange(100), [30, 60], [0, 90]))
    out = np.empty_like(j)
    root = j[:, 0].copy()
    for t in range(100):
        c, s = np.cos(ang[t]), np.sin(ang[t])
        d = j[t] - root[t]
        out[t, :, 0], out[t, :, 1], out[t, :, 2] = c * d[:, 0] + s * d[:, 2], d[:, 1], -s * d[:, 0] + c * d[:, 2]
    # the root path turns with the body: integrate the step along the current heading
    step = 1.2 / FPS
    pos = np.zeros((100, 2))
    for t in range(1, 100):
        pos[t] = pos[t - 1] + step * np.array([np.sin(ang[t]), np.cos(ang[t])])
    out[..., 0] += pos[:, :1]
    out[..., 2] += pos[:, 1:]
    return out


CASES = {
    "spin": spinning, "jump": jumping, "kick": kicking, "climb": climbing, "balance": balancing,
    "sword": sword_swinging, "punch": punching, "walk": walking, "run": lambda: walking(80, speed=3.5),
    "walk_back": lambda: walking(80, direction=-1.0), "turn_left": lambda: turning(1.0),
    "turn_right": lambda: turning(-1.0), "wave_left": lambda: waving("l"), "wave_right": lambda: waving("r"),
    "raise_left": lambda: raising("l"), "raise_right": lambda: raising("r"), "bow": bowing,
}


def test_every_detector_has_a_case():
    assert set(CASES) | {"wave_both", "raise_both"} == set(kinds.DETECTORS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_detector_fires_on_its_kind(kind):
    v = kinds.detect(kind, CASES[kind]())
    assert v.fired, f"{kind} did not fire: {v}"


@pytest.mark.parametrize("kind", sorted(set(kinds.DETECTORS) - {"walk"}))
@pytest.mark.parametrize("motion", ["standing", "walking"])
def test_detector_silent_on_standing_and_walking(kind, motion):
    joints = standing(80) if motion == "standing" else walking(80)
    v = kinds.detect(kind, joints)
    assert not v.fired, f"{kind} fired on {motion}: {v}"


def test_walk_fires_on_walking_only():
    assert kinds.detect("walk", walking()).fired
    assert not kinds.detect("walk", standing()).fired
    assert not kinds.detect("walk", walking(80, speed=3.5)).fired


def test_side_specific_detectors_tell_left_from_right():
    assert not kinds.detect("wave_right", waving("l")).fired
    assert not kinds.detect("raise_left", raising("r")).fired
    assert not kinds.detect("turn_right", turning(1.0)).fired


def test_verdict_reports_where_and_bad_input_is_refused():
    v = kinds.detect("jump", jumping())
    assert 0.9 <= v.at <= 1.3 and 0.15 <= v.value <= 0.8
    with pytest.raises(KeyError, match="no detector 'fly'"):
        kinds.detect("fly", standing())
    with pytest.raises(ValueError, match="expected joints"):
        kinds.detect("jump", np.zeros((10, 21, 3)))
    bad = standing()
    bad[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kinds.detect("jump", bad)


def test_content_detector_names_exist():
    assert set(kinds.CONTENT_DETECTOR.values()) <= set(kinds.DETECTORS)
