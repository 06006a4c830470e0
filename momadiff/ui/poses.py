"""The named pose library (assets/poses.json) that timeline keys pick their pose from.

File format: {"format": "momadiff-poses", "version": 1, "source", "license",
"poses": [{"name", "label", "source", "joints": [[x, y, z] x 22]}]}; make_poses.py writes it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..motion import skeleton

FORMAT = "momadiff-poses"
VERSION = 1
DEFAULT_POSES = Path(__file__).resolve().parent.parent.parent / "assets" / "poses.json"


def place_pose(joints: np.ndarray) -> list[list[float]]:
    """A pose [22, 3] moved to stand above the origin facing +Z with its lowest joint on the floor,
    so thumbnails and keys look alike whatever clip or frame the pose came from."""
    j = np.asarray(joints, dtype=np.float64).copy()
    angle = float(skeleton.facing_angle(j))
    c, s = np.cos(-angle), np.sin(-angle)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])          # about +Y by -angle
    j[:, [0, 2]] -= j[0, [0, 2]]
    j = j @ rot.T
    j[:, 1] -= j[:, 1].min()
    return j.tolist()


def load_poses(path: str | os.PathLike | None = None) -> list[dict]:
    """The pose library as a list of {"name", "label", "joints"}; just the T-pose if the file is
    missing or unreadable (the app must start anyway; make_poses.py rebuilds the file)."""
    path = Path(path) if path is not None else DEFAULT_POSES
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        poses = [{"name": str(p["name"]), "label": str(p.get("label", p["name"])),
                  "joints": np.asarray(p["joints"], dtype=np.float64).reshape(skeleton.NUM_JOINTS, 3).tolist()}
                 for p in doc["poses"]]
        if poses:
            return poses
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return [{"name": "t_pose", "label": "T-pose", "joints": place_pose(skeleton.rest_pose())}]
