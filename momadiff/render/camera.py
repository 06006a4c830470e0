"""The camera every render uses: a fixed 3/4 perspective view that follows the motion's root.

The camera never rotates; it only slides with a Gaussian-smoothed root track, so the view has no
jitter from gait sway and the floor's horizon stays put. Conventions are OpenGL's (and pyrender's):
the camera looks along its local -Z with +Y up, so the skeleton painter and the mesh renderer
see the very same picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..motion import skeleton


def look_rotation(back: np.ndarray) -> np.ndarray:
    """Rotation [3, 3] (columns: right, up, back) of a camera or light looking along -back, kept
    upright (its right vector level)."""
    back = np.asarray(back, dtype=np.float64)
    back = back / np.linalg.norm(back)
    right = np.cross(np.array([0.0, 1.0, 0.0]), back)
    right /= np.linalg.norm(right)
    return np.stack([right, np.cross(back, right), back], axis=1)


@dataclass
class FollowCamera:
    """targets: look-at points [T, 3]; offset: eye minus target [3] (constant); yfov in radians;
    floor_y: height of the floor under the motion."""
    targets: np.ndarray
    offset: np.ndarray
    yfov: float
    floor_y: float

    @classmethod
    def for_motion(cls, joints: np.ndarray, azimuth_deg: float = 35.0, elevation_deg: float = 14.0,
                   yfov_deg: float = 38.0, aspect: float = 1.0, smooth_s: float = 0.6,
                   fps: int = skeleton.FPS, follow: bool = True) -> FollowCamera:
        """A camera framing joints [T, 22, 3] from the front-left (azimuth measured from +Z towards
        +X, the character's left), following the root track smoothed over smooth_s seconds
        (follow=False: a fixed camera framing the whole motion)."""
        joints = np.asarray(joints, dtype=np.float64)
        floor_y = float(joints[..., 1].min())
        root = joints[:, 0]
        if follow:
            track = gaussian_filter1d(root[:, [0, 2]], sigma=max(smooth_s * fps, 1e-3), axis=0, mode="nearest") \
                if len(root) > 1 else root[:, [0, 2]]
        else:
            track = np.repeat(0.5 * (root[:, [0, 2]].min(0) + root[:, [0, 2]].max(0))[None], len(root), axis=0)
        # Frame the body's height and its horizontal reach around the track, with a margin.
        height = max(float(np.percentile(joints[..., 1].max(axis=1), 98)) - floor_y, 1.0)
        reach = np.linalg.norm(joints[..., [0, 2]] - track[:, None], axis=-1).max()
        tan = np.tan(np.radians(yfov_deg) / 2)
        dist = max(0.5 * height / 0.66 / tan, (reach + 0.25) / 0.9 / (tan * aspect))
        targets = np.stack([track[:, 0], np.full(len(track), floor_y + 0.52 * height), track[:, 1]], axis=-1)
        az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
        offset = dist * np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
        return cls(targets, offset, float(np.radians(yfov_deg)), floor_y)

    @cached_property
    def _rotation(self) -> np.ndarray:
        return look_rotation(self.offset)

    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation [3, 3] (columns: right, up, back)."""
        return self._rotation

    def eye(self, t: int) -> np.ndarray:
        return self.targets[t] + self.offset

    def pose(self, t: int) -> np.ndarray:
        """Camera-to-world matrix [4, 4] at frame t (what pyrender takes as a camera node pose)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation()
        m[:3, 3] = self.eye(t)
        return m

    def focal(self, height_px: int) -> float:
        """Focal length in pixels for an image height_px tall."""
        return 0.5 * height_px / np.tan(self.yfov / 2)

    def to_camera(self, points: np.ndarray, t: int) -> np.ndarray:
        """Camera-space coordinates [..., 3] of world points [..., 3] (visible points have z < 0)."""
        return (np.asarray(points, dtype=np.float64) - self.eye(t)) @ self.rotation()

    def project(self, points: np.ndarray, t: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates [..., 2] and depths [...] (distance along the view axis) of world points
        [..., 3] in an image of size (width, height). Points behind the camera get depth <= 0."""
        cam = self.to_camera(points, t)
        depth = -cam[..., 2]
        return self.pixels(cam, size), depth

    def pixels(self, cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Pixel coordinates [..., 2] of camera-space points [..., 3] in front of the camera."""
        w, h = size
        f = self.focal(h)
        depth = np.maximum(-cam[..., 2], 1e-6)
        return np.stack([0.5 * w + f * cam[..., 0] / depth, 0.5 * h - f * cam[..., 1] / depth], axis=-1)
