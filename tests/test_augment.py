"""Limb-turning augmentation for the VAE (momadiff.data.augment)."""
from __future__ import annotations

import numpy as np

from momadiff.motion import features, skeleton
from momadiff.data.augment import PIVOTS, turn_limbs

from conftest import synthetic_walk


def test_bone_lengths_kept_and_pose_changed():
    j = synthetic_walk(120, seed=3)
    a = turn_limbs(j, np.random.default_rng(0), prob=1.0)
    assert a.shape == j.shape and a.dtype == j.dtype
    np.testing.assert_allclose(skeleton.bone_lengths(a), skeleton.bone_lengths(j), atol=1e-5)
    moved = np.linalg.norm(a - j, axis=-1).max(axis=0)          # [22] largest displacement per joint
    assert moved[[10, 11, 20, 21]].min() > 0.1                    # feet and hands really move
    # Joints above every pivot never move: the pelvis, the spine below the upper spine, the hips.
    np.testing.assert_allclose(a[:, [0, 1, 2, 3, 6, 9]], j[:, [0, 1, 2, 3, 6, 9]], atol=1e-6)


def test_turns_are_smooth_in_time():
    j = synthetic_walk(200, seed=1)
    a = turn_limbs(j, np.random.default_rng(5), prob=1.0)
    acc_real = np.abs(np.diff(j, 2, axis=0)).max()
    acc_aug = np.abs(np.diff(a, 2, axis=0)).max()
    # The added motion is a slow drift (periods of 0.6-4 s), not per-frame jitter.
    assert acc_aug < acc_real + 0.05


def test_prob_zero_is_identity_and_seed_decides():
    j = synthetic_walk(60)
    np.testing.assert_array_equal(turn_limbs(j, np.random.default_rng(0), prob=0.0), j)
    a1 = turn_limbs(j, np.random.default_rng(7))
    a2 = turn_limbs(j, np.random.default_rng(7))
    a3 = turn_limbs(j, np.random.default_rng(8))
    np.testing.assert_array_equal(a1, a2)
    assert np.abs(a1 - a3).max() > 1e-3


def test_augmented_motion_has_finite_features():
    j = synthetic_walk(80, seed=2)
    for s in range(5):
        f = features.joints_to_features(turn_limbs(j, np.random.default_rng(s), prob=1.0))
        assert f.shape == (79, features.FEATURE_DIM) and np.isfinite(f).all()


def test_pivots_are_real_joints_with_children():
    for j, limit in PIVOTS.items():
        assert 0 < j < skeleton.NUM_JOINTS and skeleton.children(j) and 0 < limit <= np.pi
