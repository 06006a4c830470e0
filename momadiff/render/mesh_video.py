"""Offscreen mp4 of the mannequin mesh following a motion, rendered with pyrender on EGL.

On a machine without a GPU, EGL is Mesa's software rasteriser (llvmpipe), from the Debian packages
libegl1, libegl-mesa0 and libgl1-mesa-dri. There every pixel OpenGL touches costs CPU time, so
OpenGL draws only a window around the body and its shadow (the body flattened onto the floor
along the key light, in a green the body never has) on a transparent background; the floor and
sky come from numpy (floor.CheckerFloor) and the shadow is laid on them softened. The camera is
the same FollowCamera as the skeleton view, so both can be shown side by side and match.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

import numpy as np
from scipy.ndimage import gaussian_filter

from ..motion import skeleton
from .camera import FollowCamera, look_rotation
from .floor import CheckerFloor
from .mannequin import BODY_COLOUR, Mannequin
from .overlay import draw_overlay
from .skeleton import SkeletonPainter
from .validate import check_joints
from .video import write_mp4

_KEY_LIGHT = np.array([-0.45, -1.0, -0.55]) / np.linalg.norm([-0.45, -1.0, -0.55])  # direction it shines
_SHADOW_STRENGTH = 0.42
_SHADOW_BLUR = 1.2   # px
_SHADOW_FACES = 1500  # the shadow comes from a coarse copy of the body: on a CPU rasteriser
                      # triangles cost more than pixels, and a blurred shadow loses no detail


class MeshRenderUnavailable(RuntimeError):
    """Raised when no OpenGL (EGL) context can be had for offscreen mesh rendering."""


_HELP = ("offscreen mesh rendering needs pyrender (pip) and EGL with Mesa's software renderer "
         "(Debian: libegl1 libegl-mesa0 libgl1-mesa-dri)")


def _import_pyrender():
    """pyrender, imported the way that works headless: EGL platform, numpy 2 alias restored."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    if not hasattr(np, "infty"):
        np.infty = np.inf  # pyrender still uses the alias that numpy 2 removed
    try:
        import pyrender
    except Exception as err:  # ImportError, or OpenGL failing to load its platform library
        raise MeshRenderUnavailable(f"{_HELP}; importing pyrender failed: {err}") from err
    return pyrender


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """Pose [4, 4] of a directional light shining along `direction` (lights shine along local -Z)."""
    m = np.eye(4)
    m[:3, :3] = look_rotation(-np.asarray(direction, dtype=np.float64))
    return m


def _shadow_proxy(man: Mannequin) -> tuple[np.ndarray, np.ndarray]:
    """A coarse version of the body for casting the shadow: (vertex indices [Vc] into the fine
    mesh, faces [Fc, 3] over those), so it follows any pose of the fine mesh for free."""
    import fast_simplification
    coarse, _, collapses = fast_simplification.simplify(man.vertices, man.faces, target_count=_SHADOW_FACES,
                                                        return_collapses=True)
    _, faces, owner = fast_simplification.replay_simplification(man.vertices, man.faces, collapses)
    # Each coarse vertex borrows the fine vertex nearest to it among those that collapsed into it.
    gap = np.linalg.norm(man.vertices - coarse[owner], axis=1)
    order = np.lexsort((gap, owner))
    firsts = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    rep = np.empty(len(coarse), dtype=np.int64)
    rep[owner[firsts]] = firsts
    return rep, faces.astype(np.uint32)


def _flatten(vertices: np.ndarray, floor_y: float) -> np.ndarray:
    """Vertices [..., 3] projected along the key light onto the floor (a planar shadow)."""
    lift = (vertices[..., 1:2] - floor_y) / _KEY_LIGHT[1]                          # <= 0
    out = vertices - lift * _KEY_LIGHT
    out[..., 1] = floor_y + 1e-3
    return out.astype(np.float32)


class MeshPainter:
    """Renders frames of the mannequin following joints [T, 22, 3] at size (W, H).

    OpenGL renders only a window around the body and its shadow (the same size for every frame,
    placed per frame through the camera's principal point): the rest of the picture is floor.
    Holds an EGL context: call close() (or use it as a context manager) when done."""

    def __init__(self, joints: np.ndarray, size: tuple[int, int] = (480, 480),
                 camera: FollowCamera | None = None, shadows: bool = True):
        pyrender = _import_pyrender()
        self.joints = check_joints(joints).astype(np.float64)
        self.size = (int(size[0]), int(size[1]))
        self.camera = camera or FollowCamera.for_motion(self.joints, aspect=self.size[0] / self.size[1])
        self.mannequin = Mannequin.for_motion(self.joints)
        self.vertices = self.mannequin.pose_from_joints(self.joints)                 # [T, V, 3]
        self.normals = self.mannequin.vertex_normals(self.vertices).astype(np.float32)
        self.floor_y = float(self.vertices[..., 1].min())
        self.shadows = shadows
        self._shadow_rep, self._shadow_faces = _shadow_proxy(self.mannequin)
        self.shadow_vertices = _flatten(self.vertices[:, self._shadow_rep], self.floor_y) if shadows else None
        self.floor = CheckerFloor(self.camera, self.size, self.floor_y)
        self._windows, win_size = self._plan_windows()
        self._pyrender = pyrender
        self._faces = self.mannequin.faces.astype(np.uint32)
        self._body_material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=BODY_COLOUR, metallicFactor=0.0, roughnessFactor=0.65)
        # The shadow is drawn in glowing green, a colour the warm body never has, so the two can
        # be told apart in the one render (black would not do: the shader always adds a little
        # specular light).
        self._shadow_material = pyrender.MetallicRoughnessMaterial(
            baseColorFactor=(0.0, 0.0, 0.0, 1.0), metallicFactor=0.0, roughnessFactor=1.0,
            emissiveFactor=(0.0, 1.0, 0.0))
        self._shadow_normals = np.tile(np.float32([0.0, -1.0, 0.0]), (len(self._shadow_rep), 1))
        scene = pyrender.Scene(bg_color=(0.0, 0.0, 0.0, 0.0), ambient_light=(0.24, 0.24, 0.26))
        scene.add(pyrender.DirectionalLight(intensity=2.8), pose=_light_pose(_KEY_LIGHT))
        # The fill light rides with the camera, from its upper right.
        self._fill_offset = np.array([1.2, 0.6, 0.8]) * np.linalg.norm(self.camera.offset)
        self._fill_node = scene.add(pyrender.PointLight(intensity=0.7 * float(self._fill_offset @ self._fill_offset)))
        f = self.camera.focal(self.size[1])
        self._cam = pyrender.IntrinsicsCamera(fx=f, fy=f, cx=0.0, cy=0.0, znear=0.05, zfar=100.0)
        self._cam_node = scene.add(self._cam, pose=self.camera.pose(0))
        self._scene = scene
        self._nodes: list = []
        try:
            self._renderer = pyrender.OffscreenRenderer(*win_size)
        except Exception as err:
            raise MeshRenderUnavailable(f"{_HELP}; creating the offscreen context failed: {err}") from err

    def _plan_windows(self) -> tuple[np.ndarray, tuple[int, int]]:
        """Top-left corners [T, 2] of a fixed-size window (w, h) that holds the body and shadow."""
        w, h = self.size
        pad = int(np.ceil(3 * _SHADOW_BLUR)) + 3
        boxes = []
        for t in range(len(self.vertices)):
            pts = self.vertices[t] if self.shadow_vertices is None else \
                np.concatenate([self.vertices[t], self.shadow_vertices[t]])
            xy, depth = self.camera.project(pts[::3], t, self.size)   # every third vertex is plenty
            xy = xy[depth > 0.05]
            boxes.append(np.concatenate([xy.min(0) - pad, xy.max(0) + pad]) if len(xy) else [0, 0, w, h])
        boxes = np.asarray(boxes)                                                    # [T, 4]
        size = np.minimum(np.ceil((boxes[:, 2:] - boxes[:, :2]).max(0) / 8) * 8, [w, h]).astype(int)
        centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        corner = np.clip(np.round(centre - size / 2), 0, [w - size[0], h - size[1]]).astype(int)
        return corner, (int(size[0]), int(size[1]))

    def _set_meshes(self, t: int) -> None:
        pr = self._pyrender
        for node in self._nodes:
            self._scene.remove_node(node)
        prims = [pr.Primitive(positions=self.vertices[t], normals=self.normals[t], indices=self._faces,
                              material=self._body_material)]
        if self.shadows:
            # Of a closed body, the faces turned to the light alone cover its whole shadow.
            tri = self.vertices[t][self._shadow_rep][self._shadow_faces]               # [Fc, 3, 3]
            lit = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]) @ _KEY_LIGHT < 0
            prims.append(pr.Primitive(positions=self.shadow_vertices[t], normals=self._shadow_normals,
                                      indices=self._shadow_faces[lit], material=self._shadow_material))
        self._nodes = [self._scene.add(pr.Mesh([p])) for p in prims]

    def frame(self, t: int, background: np.ndarray | None = None) -> np.ndarray:
        """RGB frame [H, W, 3] uint8 of frame t (background: floor.image(t) if already made)."""
        self._set_meshes(t)
        x0, y0 = self._windows[t]
        w, h = self.size
        # The window sees what the full view sees there: shift the principal point.
        self._cam.cx, self._cam.cy = 0.5 * w - x0, 0.5 * h - y0
        self._scene.set_pose(self._cam_node, self.camera.pose(t))
        fill = np.eye(4)
        fill[:3, 3] = self.camera.targets[t] + self._fill_offset
        self._scene.set_pose(self._fill_node, fill)
        rgba, _ = self._renderer.render(self._scene, flags=self._pyrender.RenderFlags.RGBA)
        rgb = rgba[..., :3].astype(np.float32)                                         # premultiplied by coverage
        alpha = rgba[..., 3:].astype(np.float32) / 255.0
        shadow = np.clip((rgb[..., 1:2] - rgb[..., 0:1]) / 255.0, 0.0, alpha)          # green excess = shadow cover
        rgb[..., 1:2] = np.maximum(rgb[..., 1:2] - 255.0 * shadow, 0.0)
        rgb *= alpha > shadow                                                          # drop the shadow's own tint
        out = self.floor.image(t) if background is None else background
        ch, cw = rgba.shape[:2]
        under = out[y0:y0 + ch, x0:x0 + cw]
        if self.shadows:
            soft = gaussian_filter(shadow[..., 0], _SHADOW_BLUR)[..., None]
            under = under * (1.0 - _SHADOW_STRENGTH * soft)
        out[y0:y0 + ch, x0:x0 + cw] = rgb + under * (1.0 - (alpha - shadow))
        return np.clip(out, 0, 255).astype(np.uint8)

    def frames(self) -> Iterator[np.ndarray]:
        """All frames in order; each frame's floor is drawn on another thread while OpenGL renders."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            nxt = pool.submit(self.floor.image, 0)
            for t in range(len(self.vertices)):
                background = nxt.result()
                if t + 1 < len(self.vertices):
                    nxt = pool.submit(self.floor.image, t + 1)
                yield self.frame(t, background)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.delete()
            self._renderer = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _mesh_frames(joints: np.ndarray, size: tuple[int, int], side_by_side: bool, marked: set[int],
                 title: str | None, shadows: bool) -> Iterator[np.ndarray]:
    with MeshPainter(joints, size, shadows=shadows) as mesh:
        skel = SkeletonPainter(mesh.joints, size, camera=mesh.camera) if side_by_side else None
        for t, img in enumerate(mesh.frames()):
            img = draw_overlay(img, t, len(mesh.joints), highlight=t in marked, title=title)
            if skel is not None:
                img = np.concatenate([img, skel.frame(t, highlight=t in marked)], axis=1)
            yield img


def render_mesh_video(joints: np.ndarray, path: str | Path, fps: int = skeleton.FPS,
                      size: tuple[int, int] = (480, 480), side_by_side: bool = False,
                      highlight_frames: Iterable[int] = (), title: str | None = None,
                      shadows: bool = True) -> Path:
    """Write an mp4 of the mannequin following joints [T, 22, 3] and return its path; with
    side_by_side the skeleton view is placed on the right (the video is then twice as wide).
    Raises MeshRenderUnavailable (with the packages to install) when OpenGL/EGL is missing."""
    joints = check_joints(joints)
    width = size[0] * (2 if side_by_side else 1)
    frames = _mesh_frames(joints, size, side_by_side, {int(f) for f in highlight_frames}, title, shadows)
    # Start the generator before ffmpeg, so a missing EGL fails before an empty file is written.
    first = next(frames)
    return write_mp4(itertools.chain([first], frames), path, fps, (width, size[1]))


def mesh_frame(joints: np.ndarray, t: int, size: tuple[int, int] = (480, 480)) -> np.ndarray:
    """One frame [H, W, 3] uint8 of the mesh video of joints [T, 22, 3] at frame t."""
    with MeshPainter(joints, size) as painter:
        if not 0 <= t < len(painter.joints):
            raise IndexError(f"frame {t} out of range for a motion of {len(painter.joints)} frames")
        return painter.frame(t)
