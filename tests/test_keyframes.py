import json

import numpy as np
import pytest

from momadiff import correction, keyframes as kf
from momadiff.motion import skeleton
from momadiff.keyframes import Keyframe, KeyframeError


def walking(T=120, seed=0):
    """A synthetic walk: the rest pose translated forward with swinging limbs and a slow turn."""
    rng = np.random.default_rng(seed)
    rest = skeleton.rest_pose().astype(np.float64)
    t = np.arange(T)[:, None]
    joints = np.repeat(rest[None], T, axis=0)
    joints[:, [18, 20], 2] += 0.15 * np.sin(t / 3)
    joints[:, [19, 21], 2] -= 0.15 * np.sin(t / 3)
    joints[:, :, 2] += 0.06 * t
    joints[:, :, 0] += 0.01 * rng.normal(size=(T, 1))
    return joints


def accel(j):
    return np.linalg.norm(j[2:] - 2 * j[1:-1] + j[:-2], axis=-1)


def test_apply_hits_keys_exactly_and_smoothly():
    motion = walking()
    pose = skeleton.rest_pose().copy()
    pose[[16, 18, 20], 1] += np.array([0.1, 0.3, 0.5])   # left arm raised
    keys = kf.validate([Keyframe(30, pose), Keyframe(80, pose, fix_root=True)], len(motion))
    out = correction.apply(motion, keys)
    err = correction.key_error(out, keys)
    assert err.max() < 1e-4
    # fix_root key: world position is the key's own
    assert np.abs(out[80] - pose).max() < 1e-4
    # no pop: acceleration near the keys stays of the order of the original motion's
    a0, a1 = accel(motion).max(), accel(out)[20:40].max()
    assert a1 < a0 + 0.02
    # far from any key the motion is untouched (the pose blend is compact, root fix only shifts)
    assert np.allclose(out[0, :, 1], motion[0, :, 1], atol=1e-5)


def test_apply_without_keys_is_identity():
    m = walking(40)
    assert np.allclose(correction.apply(m, []), m, atol=1e-6)


@pytest.mark.parametrize("bad, msg", [
    (Keyframe(200, skeleton.rest_pose()), "outside the motion"),
    (Keyframe(5, np.full((22, 3), np.nan)), "NaN"),
    (Keyframe(5, skeleton.rest_pose() * 1000), "metres"),
    (Keyframe(5, np.zeros((21, 3))), "shape"),
])
def test_validate_rejects(bad, msg):
    with pytest.raises(KeyframeError, match=msg):
        kf.validate([bad], 100)


def test_validate_duplicates_and_count():
    p = skeleton.rest_pose()
    with pytest.raises(KeyframeError, match="two keyframes"):
        kf.validate([Keyframe(3, p), Keyframe(3, p)], 100)
    with pytest.raises(KeyframeError, match="more than"):
        kf.validate([Keyframe(i, p) for i in range(10)], 100, max_keys=5)
    absurd = p.copy()
    absurd[20] += 3.0
    with pytest.raises(KeyframeError, match="bone"):
        kf.validate([Keyframe(3, absurd)], 100)


def test_json_round_trip_and_errors():
    keys = [Keyframe(10, skeleton.rest_pose(), fix_root=True)]
    text = json.dumps([k.to_dict() for k in keys])
    back = kf.keyframes_from_json(text)
    assert back[0].frame == 10 and back[0].fix_root and np.allclose(back[0].joints, keys[0].joints, atol=1e-5)
    with pytest.raises(KeyframeError, match="not valid JSON"):
        kf.keyframes_from_json("[{")
    with pytest.raises(KeyframeError, match="whole number"):
        kf.keyframes_from_json('[{"frame": 1.5, "joints": []}]')
    assert kf.keyframes_from_json("") == []
