"""Checks on the motions handed to the renderers, so bad input fails with one clear message."""
from __future__ import annotations

import numpy as np

from ..motion import skeleton


def check_joints(joints: np.ndarray) -> np.ndarray:
    """joints as float32 [T, 22, 3] (a single pose [22, 3] becomes T = 1); ValueError otherwise."""
    arr = np.asarray(joints)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"joint positions must be numbers, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (skeleton.NUM_JOINTS, 3) or arr.shape[0] == 0:
        raise ValueError(f"expected joint positions of shape [T, {skeleton.NUM_JOINTS}, 3] with T >= 1, "
                         f"got {tuple(np.shape(joints))}")
    bad = ~np.isfinite(arr).all(axis=(1, 2))
    if bad.any():
        raise ValueError(f"joint positions contain NaN or inf (first at frame {int(np.argmax(bad))})")
    return arr.astype(np.float32)
