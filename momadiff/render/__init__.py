"""Rendering motions (joint positions [T, 22, 3]): stick-figure videos and thumbnails, a procedural
skinned mannequin, mesh videos (pyrender on EGL) and animated GLB export.

pyrender is imported only when a mesh video is made, so the rest works without OpenGL.
"""
from .camera import FollowCamera
from .cli import render_cli
from .glb import posed_glb, write_glb
from .mannequin import Mannequin
from .mesh_video import MeshRenderUnavailable, mesh_frame, render_mesh_video
from .skeleton import filmstrip, png_bytes, pose_thumbnail, render_skeleton_video, skeleton_frame
from .validate import check_joints

__all__ = [
    "FollowCamera", "Mannequin", "MeshRenderUnavailable", "check_joints", "filmstrip", "mesh_frame",
    "png_bytes", "pose_thumbnail", "posed_glb", "render_cli", "render_mesh_video", "render_skeleton_video",
    "skeleton_frame", "write_glb",
]
