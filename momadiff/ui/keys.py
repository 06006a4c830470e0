"""The timeline's keys as JSON: the one format the browser, the handlers and sessions share.

A key is {"frame": int, "joints": [[x, y, z] x 22], "fix_root": bool, "label": str}, or a partial
key {"frame": int, "joints": {joint name: [x, y, z], ...}, "label": str} (world positions, see
momadiff.keyframes.Keyframe). The hidden keys textbox holds a JSON list of them; it is the single
source of truth: the timeline JS draws from it and writes to it, and Generate reads it.
A root path is a JSON list of [frame, x, z] or [frame, x, z, heading_degrees] waypoints.
"""
from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from ..motion import skeleton
from .. import constraints as cons, userjson
from ..keyframes import Keyframe, KeyframeError, keyframes_from_data, parse_json, validate
from ..pipeline import MAX_KEYFRAMES, MAX_SECONDS, MIN_SECONDS
from .wording import counted

def key_dict(frame: int, joints: np.ndarray | dict, fix_root: bool = False, label: str = "") -> dict[str, Any]:
    """One key in the JSON format (joints rounded the way Keyframe.to_dict rounds them); joints a
    whole pose [22, 3] or a partial key's {name: [x, y, z]}."""
    d = Keyframe(int(frame), joints if isinstance(joints, dict) else np.asarray(joints), bool(fix_root)).to_dict()
    d["label"] = str(label)[:80]
    return d


def parse_keys(text: str | None) -> list[dict[str, Any]]:
    """The keys JSON -> key dicts (labels kept), checked for shape and sorted by frame.
    Raises KeyframeError with a user-facing message. Empty text means no keys."""
    return keys_from_data(parse_json(text or ""))


def keys_from_data(data: Any) -> list[dict[str, Any]]:
    """parse_keys on already parsed JSON (a list of key objects, or {"keyframes": [...]})."""
    keys = keyframes_from_data(data)
    if len(keys) > MAX_KEYFRAMES:
        raise KeyframeError(f"{len(keys)} keyframes is more than the {MAX_KEYFRAMES} allowed")
    if isinstance(data, dict):
        data = data.get("keyframes", [])
    labels = [d.get("label") if isinstance(d, dict) and isinstance(d.get("label"), str) else "" for d in data]
    # Frame range is checked later against the duration; here only the pose itself.
    validate(keys, max(k.frame for k in keys) + 1 if keys else 1)
    out = [key_dict(k.frame, k.joints, k.fix_root, lab) for k, lab in zip(keys, labels)]
    return sorted(out, key=lambda d: d["frame"])


def parse_path(text: str | None) -> list[cons.Waypoint]:
    """The root path JSON -> waypoints, rounded the way they are saved (so a session restores the
    exact path). Empty text means no path. Raises ConstraintError with a user-facing message."""
    if not text or not text.strip():
        return []
    path = cons.parse_path(userjson.loads(text, "root path", cons.ConstraintError))
    return [cons.Waypoint.from_any(w.to_list()) for w in path]


def path_json(path: Sequence[cons.Waypoint]) -> str:
    """Waypoints -> the compact JSON the root path textbox holds ("" for none)."""
    return json.dumps([w.to_list() for w in path], separators=(",", ":")) if path else ""


def keys_json(keys: Sequence[dict[str, Any]]) -> str:
    """Key dicts -> the compact JSON the textbox holds."""
    return json.dumps(sorted(keys, key=lambda d: d["frame"]), separators=(",", ":"))


def to_keyframes(keys: Sequence[dict[str, Any]]) -> list[Keyframe]:
    """Key dicts -> Keyframes for the pipeline (labels are UI-only)."""
    return [Keyframe.from_dict(d) for d in keys]


def num_frames(seconds: float) -> int:
    """Frames in a motion of this duration, as the pipeline counts them."""
    return int(round(float(seconds) * skeleton.FPS))


def fit_keys(keys: Sequence[dict[str, Any]], frames: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split keys into those that fit a motion of `frames` frames and those that don't."""
    kept = [k for k in keys if 0 <= k["frame"] < frames]
    dropped = [k for k in keys if not 0 <= k["frame"] < frames]
    return kept, dropped


def put_key(keys: Sequence[dict[str, Any]], key: dict[str, Any]) -> list[dict[str, Any]]:
    """Keys with `key` added, replacing any key already at its frame."""
    out = [k for k in keys if k["frame"] != key["frame"]] + [key]
    if len(out) > MAX_KEYFRAMES:
        raise KeyframeError(f"at most {MAX_KEYFRAMES} keyframes; delete one first")
    return sorted(out, key=lambda d: d["frame"])


def clamp_seconds(seconds: float) -> float:
    """A duration brought into the server's range [MIN_SECONDS, MAX_SECONDS]."""
    return min(MAX_SECONDS, max(MIN_SECONDS, float(seconds)))


def beyond_end_message(beyond: Sequence[dict[str, Any]], seconds: float) -> str:
    """The one rule for keys past the end of the motion, whatever changed the duration (the
    slider, the number box, a restored session): they stay on the timeline, marked, and the page's
    Generate leaves them out (studio.GENERATE_JS) until the motion is long enough again; the API
    refuses them. '' if there are none."""
    if not beyond:
        return ""
    n = num_frames(seconds)
    one = len(beyond) == 1
    return (f"The {'key' if one else counted(len(beyond), 'key')} at {describe_frames(beyond)} "
            f"{'is' if one else 'are'} past the end of the {float(seconds):g} s motion (frames 0 to {n - 1}): "
            f"{'it stays' if one else 'they stay'} on the timeline, marked red, and Generate leaves "
            f"{'it' if one else 'them'} out until the motion is long enough.")


def describe_frames(keys: Sequence[dict[str, Any]]) -> str:
    """'frames 130 and 150 (6.5 s, 7.5 s)' for messages."""
    frames = [k["frame"] for k in keys]
    secs = ", ".join(f"{f / skeleton.FPS:g} s" for f in frames)
    names = ", ".join(str(f) for f in frames[:-1]) + (" and " if len(frames) > 1 else "") + str(frames[-1])
    return f"frame{'s' if len(frames) > 1 else ''} {names} ({secs})"
