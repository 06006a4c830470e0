"""Fast stick-figure rendering of joint motions with PIL: video frames, filmstrips, thumbnails.

A frame is a precomputed background (sky gradient and a floor fading towards the horizon: the
camera only slides, so these never change), a floor grid that moves with the world, the figure's
shadow, the bones far-to-near with widths from perspective, and text overlays. Everything is drawn
at twice the size and halved, which is cheaper than anti-aliased primitives and looks as good.
"""
from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..motion import skeleton
from .camera import FollowCamera
from .overlay import HIGHLIGHT, TEXT, annotate, font
from .validate import check_joints
from .video import write_mp4

_SS = 2  # supersampling factor

# Bone colours by chain: the character's left in blues, right in reds/oranges, spine in slate.
_CHAIN_COLOURS = {
    (0, 2, 5, 8, 11): (214, 55, 46),       # right leg
    (0, 1, 4, 7, 10): (38, 110, 190),      # left leg
    (0, 3, 6, 9, 12, 15): (70, 76, 92),    # spine and head
    (9, 14, 17, 19, 21): (240, 138, 50),   # right arm
    (9, 13, 16, 18, 20): (70, 170, 225),   # left arm
}
_BONES: list[tuple[int, int, tuple[int, int, int]]] = [
    (a, b, colour) for chain, colour in _CHAIN_COLOURS.items() for a, b in itertools.pairwise(chain)]
_JOINT_COLOUR = [(70, 76, 92)] * skeleton.NUM_JOINTS
for _chain, _colour in _CHAIN_COLOURS.items():
    for _j in _chain[1:]:
        _JOINT_COLOUR[_j] = _colour

_SKY_TOP, _SKY_BOTTOM = np.array([206, 216, 230.0]), np.array([243, 245, 248.0])
_FLOOR_NEAR, _FLOOR_FAR = np.array([226, 224, 218.0]), np.array([238, 239, 240.0])
_GRID = np.array([178, 178, 172.0])
_SHADOW = (196, 194, 188)
_KEY_TEXT = (176, 110, 0)   # a darker HIGHLIGHT: key captions stay readable on the light floor
_BONE_RADIUS = 0.022     # m, sets line widths through the perspective
_HEAD_RADIUS = 0.095     # m
_GRID_STEP = 0.5         # m
_GRID_REACH = 4.0        # m around the camera target; the grid fades out towards it


class SkeletonPainter:
    """Draws frames of one motion (joints [T, 22, 3]) through a FollowCamera at size (W, H)."""

    def __init__(self, joints: np.ndarray, size: tuple[int, int] = (480, 480),
                 camera: FollowCamera | None = None, grid: bool = True):
        self.joints = check_joints(joints).astype(np.float64)
        self.size = (int(size[0]), int(size[1]))
        self.big = (self.size[0] * _SS, self.size[1] * _SS)
        self.camera = camera or FollowCamera.for_motion(self.joints, aspect=self.size[0] / self.size[1])
        self.grid = grid
        self.focal = self.camera.focal(self.big[1])
        # Thumbnails get thicker bones and no joint dots, which would only be clutter there.
        self.detailed = self.size[1] >= 200
        self.bone_radius = _BONE_RADIUS * (1.0 if self.detailed else 1.8)
        self.background = self._background()

    def _background(self) -> Image.Image:
        """Sky gradient above the horizon, floor shaded by distance below it (per pixel row)."""
        w, h = self.big
        cam = self.camera
        rot = cam.rotation()
        eye_h = cam.offset[1] + cam.targets[0, 1] - cam.floor_y
        ys = (0.5 * h - (np.arange(h) + 0.5)) / self.focal                  # [H] camera-space ray y
        rays = rot @ np.stack([np.zeros(h), ys, -np.ones(h)])                 # [3, H] world ray per row (x=0)
        hit = rays[1] < -1e-6
        dist = np.where(hit, eye_h / np.maximum(-rays[1], 1e-6), np.inf) * np.linalg.norm(rays, axis=0)
        fade = np.clip((dist - 2.0) / 10.0, 0, 1)[:, None]
        floor = _FLOOR_NEAR * (1 - fade) + _FLOOR_FAR * fade
        u = np.linspace(0, 1, h)[:, None]
        sky = _SKY_TOP * (1 - u) + _SKY_BOTTOM * u
        rows = np.where(hit[:, None], floor, sky)                             # [H, 3]
        img = np.broadcast_to(rows[:, None, :], (h, w, 3)).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(img))

    def _segments(self, a: np.ndarray, b: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Clip world segments a, b [N, 3] to the near plane; returns pixel ends [M, 2] x2 and keep mask [N]."""
        ca, cb = self.camera.to_camera(a, t), self.camera.to_camera(b, t)
        near = -0.05
        za, zb = ca[:, 2], cb[:, 2]
        keep = (za < near) | (zb < near)
        denom = np.where(np.abs(zb - za) < 1e-9, 1e-9, zb - za)
        cut = ca + (cb - ca) * np.clip((near - za) / denom, 0, 1)[:, None]   # where the segment meets the near plane
        ca = np.where((za >= near)[:, None], cut, ca)
        cb = np.where((zb >= near)[:, None], cut, cb)
        return self.camera.pixels(ca, self.big), self.camera.pixels(cb, self.big), keep

    def _draw_grid(self, draw: ImageDraw.ImageDraw, t: int) -> None:
        target = self.camera.targets[t]
        y = self.camera.floor_y
        c = np.round(target[[0, 2]] / _GRID_STEP) * _GRID_STEP
        ticks = np.arange(-_GRID_REACH, _GRID_REACH + 1e-9, _GRID_STEP)
        # Lines are cut into pieces two cells long, each shaded by its distance to the target.
        lines, cells = np.meshgrid(ticks, ticks[:-1:2], indexing="ij")        # [L, C]
        a_x = np.stack([c[0] + lines, np.full_like(lines, y), c[1] + cells], -1).reshape(-1, 3)
        a_z = np.stack([c[0] + cells, np.full_like(lines, y), c[1] + lines], -1).reshape(-1, 3)
        a = np.concatenate([a_x, a_z])
        piece = 2 * _GRID_STEP
        b = a + np.concatenate([np.tile([0, 0, piece], (len(a_x), 1)), np.tile([piece, 0, 0], (len(a_z), 1))])
        mid = 0.5 * (a + b)
        fade = np.clip(np.linalg.norm(mid[:, [0, 2]] - target[[0, 2]], axis=1) / _GRID_REACH, 0, 1) ** 1.5
        pa, pb, keep = self._segments(a, b, t)
        colours = (_GRID * (1 - fade[:, None]) + _FLOOR_NEAR * fade[:, None]).astype(int)
        width = max(1, _SS)
        for i in np.flatnonzero(keep & (fade < 0.98)):
            draw.line([tuple(pa[i]), tuple(pb[i])], fill=tuple(colours[i]), width=width)

    def _ring(self, draw: ImageDraw.ImageDraw, t: int, colour: tuple[int, int, int]) -> None:
        """A ring on the floor around the root: marks a user keyframe."""
        ang = np.linspace(0, 2 * np.pi, 41)
        root = self.joints[t, 0]
        pts = np.stack([root[0] + 0.55 * np.cos(ang), np.full_like(ang, self.camera.floor_y + 0.003),
                        root[2] + 0.55 * np.sin(ang)], -1)
        pa, pb, keep = self._segments(pts[:-1], pts[1:], t)
        for i in np.flatnonzero(keep):
            draw.line([tuple(pa[i]), tuple(pb[i])], fill=colour, width=4 * _SS)

    def _draw_figure(self, draw: ImageDraw.ImageDraw, t: int) -> None:
        pose = self.joints[t]
        cam = self.camera
        shadow = pose.copy()
        shadow[:, 1] = cam.floor_y + 0.002
        sxy, sdepth = cam.project(shadow, t, self.big)
        xy, depth = cam.project(pose, t, self.big)
        if (depth <= 0.05).any():
            return
        for a, b, _ in _BONES:
            if sdepth[a] > 0.05 and sdepth[b] > 0.05:
                wid = max(1, int(self.focal * 2 * self.bone_radius / max(sdepth[a], sdepth[b])))
                draw.line([tuple(sxy[a]), tuple(sxy[b])], fill=_SHADOW, width=wid)
        head = pose[15] + np.array([0.0, 0.075, 0.0])
        hxy, hdepth = cam.project(head, t, self.big)
        items = [(0.5 * (depth[a] + depth[b]), "bone", (a, b, col)) for a, b, col in _BONES]
        items.append((float(hdepth) + 0.05, "head", None))
        for d, kind, data in sorted(items, key=lambda it: -it[0]):
            if kind == "bone":
                a, b, col = data
                wid = max(2 * _SS, int(self.focal * 2 * self.bone_radius / d))
                draw.line([tuple(xy[a]), tuple(xy[b])], fill=col, width=wid)
                if not self.detailed:
                    for j in (a, b):  # round caps, so bones join without gaps
                        r = 0.5 * wid
                        draw.ellipse([xy[j][0] - r, xy[j][1] - r, xy[j][0] + r, xy[j][1] + r], fill=col)
                    continue
                for j in (a, b):
                    r = 0.5 * wid + _SS
                    draw.ellipse([xy[j][0] - r, xy[j][1] - r, xy[j][0] + r, xy[j][1] + r],
                                 fill=(250, 250, 250), outline=_JOINT_COLOUR[j], width=max(1, _SS))
            else:
                self._draw_head(draw, pose, t, hxy, float(hdepth))

    def _draw_head(self, draw: ImageDraw.ImageDraw, pose: np.ndarray, t: int, hxy: np.ndarray, hdepth: float) -> None:
        r = self.focal * _HEAD_RADIUS / hdepth
        draw.ellipse([hxy[0] - r, hxy[1] - r, hxy[0] + r, hxy[1] + r], fill=(250, 250, 250),
                     outline=_CHAIN_COLOURS[(0, 3, 6, 9, 12, 15)], width=max(2, int(r * 0.18)))
        # A nose mark shows where the figure faces (across the hips and shoulders, turned 90 degrees).
        across = (pose[1] - pose[2]) + (pose[16] - pose[17])
        facing = np.cross(across, np.array([0.0, 1.0, 0.0]))
        facing[1] = 0.0
        n = np.linalg.norm(facing)
        if n > 1e-6:
            tip = pose[15] + np.array([0.0, 0.075, 0.0]) + facing / n * _HEAD_RADIUS * 1.35
            txy, tdepth = self.camera.project(tip, t, self.big)
            if tdepth > 0.05:
                draw.line([tuple(hxy), tuple(txy)], fill=_CHAIN_COLOURS[(0, 3, 6, 9, 12, 15)],
                          width=max(2, int(r * 0.22)))

    def frame(self, t: int, highlight: bool = False, title: str | None = None,
              counter: bool = True) -> np.ndarray:
        """RGB frame [H, W, 3] uint8 of frame t."""
        img = self.background.copy()
        draw = ImageDraw.Draw(img)
        if self.grid:
            self._draw_grid(draw, t)
        if highlight:
            self._ring(draw, t, HIGHLIGHT)
        self._draw_figure(draw, t)
        small = img.reduce(_SS)
        annotate(small, t, len(self.joints), highlight=highlight, title=title, counter=counter)
        return np.asarray(small)


def skeleton_frame(joints: np.ndarray, t: int, size: tuple[int, int] = (480, 480), highlight: bool = False,
                   title: str | None = None) -> np.ndarray:
    """One frame [H, W, 3] uint8 of the skeleton video of joints [T, 22, 3] at frame t."""
    painter = SkeletonPainter(joints, size)
    if not 0 <= t < len(painter.joints):
        raise IndexError(f"frame {t} out of range for a motion of {len(painter.joints)} frames")
    return painter.frame(t, highlight=highlight, title=title)


def render_skeleton_video(joints: np.ndarray, path: str | Path, fps: int = skeleton.FPS,
                          size: tuple[int, int] = (480, 480), highlight_frames: Iterable[int] = (),
                          title: str | None = None) -> Path:
    """Write the skeleton animation of joints [T, 22, 3] to an mp4 (H.264, yuv420p) and return its path.
    Frames in highlight_frames (e.g. user keyframes) get a ring on the floor and a label."""
    painter = SkeletonPainter(joints, size)
    marked = {int(f) for f in highlight_frames}
    frames = (painter.frame(t, highlight=t in marked, title=title) for t in range(len(painter.joints)))
    return write_mp4(frames, path, fps, painter.size)


def filmstrip(joints: np.ndarray, frames: Sequence[int], thumb_size: int = 128,
              highlight_frames: Iterable[int] = (), labels: bool = True,
              captions: Sequence[str] | None = None) -> np.ndarray:
    """A row of stick-figure thumbnails [thumb_size, len(frames) * thumb_size, 3] of the given frames,
    each centred on its own pose, all seen from the same angle and distance. Each tile is labelled
    with its frame number (counted from 0), or with its entry of `captions`; highlighted frames get
    a border and their label in the highlight colour."""
    joints = check_joints(joints)
    frames = [int(f) for f in frames]
    if not frames:
        raise ValueError("filmstrip needs at least one frame")
    if captions is not None and len(captions) != len(frames):
        raise ValueError(f"filmstrip got {len(captions)} captions for {len(frames)} frames")
    for f in frames:
        if not 0 <= f < len(joints):
            raise IndexError(f"frame {f} out of range for a motion of {len(joints)} frames")
    marked = {int(f) for f in highlight_frames}
    centred = joints[frames].astype(np.float64)                                # [N, 22, 3]
    centred[..., [0, 2]] -= centred[:, :1, [0, 2]]
    cam = FollowCamera.for_motion(centred, follow=False)
    painter = SkeletonPainter(centred, (thumb_size, thumb_size), camera=cam, grid=False)
    tiles = []
    for i, f in enumerate(frames):
        tile = painter.frame(i, highlight=f in marked, counter=False)
        if labels or captions is not None:
            img = Image.fromarray(tile)
            size = max(8, thumb_size // 9)
            text = captions[i] if captions is not None else f"{f}"
            colour = _KEY_TEXT if f in marked else TEXT
            ImageDraw.Draw(img).text((4, thumb_size - 4 - size), text, fill=colour, font=font(size))
            tile = np.asarray(img)
        tiles.append(tile)
    return np.concatenate(tiles, axis=1)


def pose_thumbnail(pose: np.ndarray, size: int = 64) -> np.ndarray:
    """A small picture [size, size, 3] uint8 of one pose [22, 3] (see png_bytes to encode it)."""
    pose = check_joints(pose)
    if len(pose) != 1:
        raise ValueError(f"pose_thumbnail takes one pose [22, 3], got {len(pose)} frames")
    return filmstrip(pose, [0], thumb_size=size, labels=False)


def png_bytes(image: np.ndarray) -> bytes:
    """PNG encoding of an RGB image [H, W, 3] uint8."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
