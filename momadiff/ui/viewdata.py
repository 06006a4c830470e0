"""What the browser's 3D view is sent: motions as numbers, one message per sampler stage.

The view (momadiff/ui/studio/view.js) draws joints itself, so a stage reaches the screen as soon
as its numbers arrive; no video is rendered for it. A message is a JSON object:

    {"run": str, "fps": 20, "down": frames per latent, "frames": T,
     "keys": [{"frame": f, "joints": [[x, y, z] x 22]}],
     "stage": {"index": i, "count": K, "kinds": "uuennmm...", "joints": [T*22*3 ints, mm]},
     "done": bool, "summary": str}

The last message of a run has no "stage" but "count" and "done": true; the view fetches any stage
it did not receive by run and index (momadiff/ui/stream.py: view_stage).

`kinds` has one letter per latent: u = given by a key, e = generated in an earlier stage,
n = generated in this stage, m = still masked (drawn interpolated between its known neighbours).
Joints travel as whole millimetres: a 10 s motion is about 60 kB of JSON per stage.
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Sequence

import numpy as np

from ..motion import skeleton
from ..sampler import Stage
from .stagebar import latent_kinds

KIND_LETTERS = {"user": "u", "earlier": "e", "new": "n", "masked": "m"}


def new_run_id() -> str:
    """An id the browser uses to tell one generation's stages from the next one's."""
    return uuid.uuid4().hex[:12]


def joints_mm(joints: np.ndarray) -> list[int]:
    """Joints [T, 22, 3] in metres -> a flat list of whole millimetres."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.NUM_JOINTS, 3) or not np.isfinite(joints).all():
        raise ValueError(f"a motion must be finite joints [T, 22, 3], got {list(joints.shape)}")
    return np.rint(joints * 1000.0).astype(np.int64).ravel().tolist()


def kinds_string(stage: Stage) -> str:
    """One letter per latent (see the module docstring)."""
    return "".join(KIND_LETTERS[k] for k in latent_kinds(stage))


def stage_message(run: str, stage: Stage, down: int, keys: Sequence[dict[str, Any]], done: bool = False,
                  summary: str = "") -> dict[str, Any]:
    """The view's message for one stage (keys: the timeline's key dicts, for marking them)."""
    return {"run": run, "fps": skeleton.FPS, "down": int(down), "frames": int(len(stage.joints)),
            "keys": [{"frame": int(k["frame"]), "joints": k["joints"]} for k in keys],
            "stage": {"index": int(stage.index), "count": int(stage.num_stages), "kinds": kinds_string(stage),
                      "joints": joints_mm(stage.joints)},
            "done": bool(done), "summary": summary}


def done_message(run: str, last: Stage, down: int, keys: Sequence[dict[str, Any]], summary: str) -> dict[str, Any]:
    """The end of a run, without joints: the view fetches any stage it has not received."""
    return {"run": run, "fps": skeleton.FPS, "down": int(down), "frames": int(len(last.joints)),
            "keys": [{"frame": int(k["frame"]), "joints": k["joints"]} for k in keys],
            "count": int(last.num_stages), "done": True, "summary": summary}


def motion_message(run: str, joints: np.ndarray, text: str = "", down: int = 4,
                   keys: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A finished motion as a one-stage message (the first-load example, a restored motion)."""
    n = -(-len(joints) // down)
    return {"run": run, "fps": skeleton.FPS, "down": int(down), "frames": int(len(joints)),
            "keys": [{"frame": int(k["frame"]), "joints": k["joints"]} for k in keys],
            "stage": {"index": 1, "count": 1, "kinds": "e" * n, "joints": joints_mm(joints)},
            "done": True, "summary": text}


def dumps(message: dict[str, Any]) -> str:
    """Compact JSON for the hidden textbox the view listens to."""
    return json.dumps(message, separators=(",", ":"))
