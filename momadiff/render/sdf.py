"""Signed distance primitives and smooth unions: the modelling kit of the procedural mannequin.

Every primitive is a small object with `distance(points [N, 3]) -> [N]` (negative inside) and
`bounds() -> (lo [3], hi [3])`, so that a field sampled on a grid is only evaluated where the
primitive can matter. Formulas follow Inigo Quilez's well-known distance functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: min(a, b) with a fillet of size k where the two are close
    (k = 0 gives the hard minimum). Far from each other it is exactly min(a, b), which lets a
    field untouched by a primitive (at +inf) stay untouched."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


_FORWARD = np.array([0.0, 0.0, 1.0])


def _frame(axis_y: np.ndarray, hint_z: np.ndarray = _FORWARD) -> np.ndarray:
    """An orthonormal basis [3, 3] (rows x, y, z) whose y row is along axis_y and whose z row is
    as close as possible to hint_z: the local frame of a segment-aligned primitive."""
    y = axis_y / np.linalg.norm(axis_y)
    z = hint_z - np.dot(hint_z, y) * y
    if np.linalg.norm(z) < 1e-6:
        z = np.array([1.0, 0.0, 0.0]) - y[0] * y
    z = z / np.linalg.norm(z)
    x = np.cross(y, z)
    return np.stack([x, y, z])


@dataclass
class Ellipsoid:
    """An ellipsoid with semi-axes `radii` along the rows of `basis` (default: world axes)."""
    center: np.ndarray
    radii: np.ndarray
    basis: np.ndarray = field(default_factory=lambda: np.eye(3))

    def distance(self, p: np.ndarray) -> np.ndarray:
        q = (p - self.center) @ self.basis.T                    # [N, 3] local coordinates
        r = np.asarray(self.radii, dtype=np.float64)
        k0 = np.linalg.norm(q / r, axis=-1)
        k1 = np.maximum(np.linalg.norm(q / (r * r), axis=-1), 1e-12)
        return k0 * (k0 - 1.0) / k1

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        ext = np.abs(self.basis.T) @ np.asarray(self.radii)
        return self.center - ext, self.center + ext


@dataclass
class RoundCone:
    """A capsule whose radius tapers linearly from r1 at a to r2 at b (a "round cone")."""
    a: np.ndarray
    b: np.ndarray
    r1: float
    r2: float

    def distance(self, p: np.ndarray) -> np.ndarray:
        ba = self.b - self.a
        l2 = float(ba @ ba)
        rr = self.r1 - self.r2
        a2 = l2 - rr * rr
        il2 = 1.0 / l2
        pa = p - self.a                                          # [N, 3]
        y = pa @ ba
        z = y - l2
        x2 = np.sum((pa * l2 - y[:, None] * ba) ** 2, axis=-1)
        y2 = y * y * l2
        z2 = z * z * l2
        k = np.sign(rr) * rr * rr * x2
        d_b = np.sqrt(x2 + z2) * il2 - self.r2
        d_a = np.sqrt(x2 + y2) * il2 - self.r1
        d_side = (np.sqrt(np.maximum(x2 * a2 * il2, 0.0)) + y * rr) * il2 - self.r1
        return np.where(np.sign(z) * a2 * z2 > k, d_b, np.where(np.sign(y) * a2 * y2 < k, d_a, d_side))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        r = max(self.r1, self.r2)
        return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r


@dataclass
class RoundBox:
    """A box with half-extents `half` (before rounding) and edges rounded by `rounding`, oriented
    by the rows of `basis`."""
    center: np.ndarray
    half: np.ndarray
    rounding: float
    basis: np.ndarray = field(default_factory=lambda: np.eye(3))

    def distance(self, p: np.ndarray) -> np.ndarray:
        q = np.abs((p - self.center) @ self.basis.T) - (np.asarray(self.half) - self.rounding)
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
        inside = np.minimum(q.max(axis=-1), 0.0)
        return outside + inside - self.rounding

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        ext = np.abs(self.basis.T) @ np.asarray(self.half)
        return self.center - ext, self.center + ext


@dataclass
class Squashed:
    """Another primitive flattened by `factor` (< 1) along the unit `axis` through `center`: a palm
    from a round cone, say. The distance is approximate (exact on the zero set, scaled elsewhere)."""
    inner: object
    center: np.ndarray
    axis: np.ndarray
    factor: float

    def distance(self, p: np.ndarray) -> np.ndarray:
        along = (p - self.center) @ self.axis                    # [N]
        q = p + np.outer(along * (1.0 / self.factor - 1.0), self.axis)
        return self.inner.distance(q) * self.factor

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.bounds()


def segment_frame(a: np.ndarray, b: np.ndarray, hint_z: np.ndarray = _FORWARD) -> np.ndarray:
    """Basis [3, 3] whose y row points from a to b (for boxes and ellipsoids laid along a bone)."""
    return _frame(np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64),
                  np.asarray(hint_z, dtype=np.float64))
