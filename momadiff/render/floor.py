"""A checkerboard floor and sky drawn per pixel with numpy, seen through a FollowCamera.

The camera only slides, so each pixel's viewing ray, where it meets the floor relative to the
eye, its distance (for fog) and its footprint (for anti-aliasing) are computed once; a frame is
then the box-filtered checker pattern at those points shifted by the eye's position.
"""
from __future__ import annotations

import numpy as np

from .camera import FollowCamera

TILE = 0.5                                   # m
TILE_A = np.array([212.0, 213.0, 210.0])
TILE_B = np.array([190.0, 192.0, 192.0])
SKY_TOP = np.array([205.0, 214.0, 228.0])
HAZE = np.array([236.0, 239.0, 243.0])       # the horizon: distant floor and low sky fade into it
FOG_START, FOG_END = 5.0, 11.0               # m from the eye


class CheckerFloor:
    """Background images [H, W, 3] (float32, 0..255) of the floor at floor_y and the sky."""

    def __init__(self, camera: FollowCamera, size: tuple[int, int], floor_y: float):
        w, h = size
        f = camera.focal(h)
        xs = (np.arange(w) + 0.5 - 0.5 * w) / f
        ys = (0.5 * h - (np.arange(h) + 0.5)) / f
        rays = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], -np.ones((h, w))), -1) @ camera.rotation().T
        self.eyes = (camera.targets + camera.offset)[:, [0, 2]] / TILE               # [T, 2] in tiles
        eye_height = camera.targets[0, 1] + camera.offset[1] - floor_y
        self.hit = rays[..., 1] < -1e-4                                               # [H, W]
        s = np.where(self.hit, eye_height / np.maximum(-rays[..., 1], 1e-4), 0.0)    # ray parameter
        self.offset = (rays[..., [0, 2]] * s[..., None] / TILE).astype(np.float32)    # [H, W, 2] in tiles
        # Footprint of a pixel on the floor, in tiles, for a box-filtered (alias-free) checker.
        gy, gx = np.gradient(self.offset, axis=(0, 1))
        self.footprint = np.minimum(np.abs(gx) + np.abs(gy) + 1e-3, 1.0).astype(np.float32)
        dist = s * np.linalg.norm(rays, axis=-1)
        fog = np.where(self.hit, np.clip((dist - FOG_START) / (FOG_END - FOG_START), 0.0, 1.0), 1.0)
        horizon = int(np.argmax(self.hit.any(axis=1))) if self.hit.any() else h
        u = np.clip(np.arange(h) / max(horizon, 1), 0.0, 1.0)[:, None]
        sky = SKY_TOP * (1 - u) + HAZE * u                                           # [H, 3]
        # What does not change: the sky, and the haze share of every floor pixel.
        self.static = (np.where(self.hit[..., None], HAZE, sky[:, None, :]) * fog[..., None]).astype(np.float32)
        # Only floor pixels not lost in the haze are shaded per frame.
        self.live = np.flatnonzero((self.hit & (fog < 1.0)).ravel())
        self.offset = self.offset.reshape(-1, 2)[self.live]
        self.footprint = self.footprint.reshape(-1, 2)[self.live]
        self.clear = (1.0 - fog).ravel()[self.live, None].astype(np.float32)

    def image(self, t: int) -> np.ndarray:
        """The background at frame t: [H, W, 3] float32."""
        p = self.offset + self.eyes[t].astype(np.float32)                            # [N, 2]
        wdt = self.footprint
        # Box-filtered checker: the difference of the square wave's integral across the footprint.
        a, b = (p - 0.5 * wdt) * 0.5, (p + 0.5 * wdt) * 0.5
        lo = np.abs(a - np.floor(a) - 0.5)
        hi = np.abs(b - np.floor(b) - 0.5)
        i = 2.0 * (lo - hi) / wdt
        checker = 0.5 - 0.5 * i[:, 0:1] * i[:, 1:2]                                  # [N, 1]
        out = self.static.copy()
        flat = out.reshape(-1, 3)
        flat[self.live] += (TILE_A + (TILE_B - TILE_A) * checker).astype(np.float32) * self.clear
        return out
