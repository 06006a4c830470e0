"""session.json: everything needed to restore the app's inputs and regenerate the same motion.

    {"format": "momadiff-session", "version": 1, "text", "seconds", "num_frames", "seed",
     "keyframes": [key dicts, see keys.py], "root_path": [[frame, x, z(, heading)], ...] (optional),
     "settings": {"cfg_scale", "iterations", "ddim_steps"},
     "segments": [{"text", "start", "end"}, ...] (optional: absent or [] = one text),
     "model": {...}, "created"}

The keys are stored exactly as Generate used them (already rounded by keys.key_dict), so loading
a session and generating again reproduces the motion bit for bit on the same model.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from .. import __version__, userjson
from ..segments import SegmentError, as_segments, parse_segments
from ..pipeline import MAX_CFG_SCALE, MAX_DDIM_STEPS, MAX_ITERATIONS, MAX_SECONDS, MIN_SECONDS, Pipeline
from .. import constraints as cons
from .keys import keys_from_data, keys_json, path_json

FORMAT = "momadiff-session"
VERSION = 1
MAX_SESSION_BYTES = 4 * 1024 * 1024   # a session with 64 keys is ~100 kB
# The server's limits (pipeline.py): a session can't restore a setting Generate would refuse.
SETTING_LIMITS = {"cfg_scale": (0.0, MAX_CFG_SCALE, False), "iterations": (1, MAX_ITERATIONS, True),
                  "ddim_steps": (1, MAX_DDIM_STEPS, True)}


class SessionError(ValueError):
    """A session file that can't be loaded, with a user-facing message."""


def model_info(pipe: Pipeline) -> dict[str, Any]:
    """What identifies the model a session was made with (shown, not enforced, on load)."""
    return {"folder": str(pipe.meta.get("folder", "")), "vae_step": pipe.meta.get("vae_step"),
            "t2m_step": pipe.meta.get("t2m_step"), "text_encoder": getattr(pipe.text_encoder, "name", "")}


def make_session(text: str, seconds: float, seed: int, keys: list[dict[str, Any]], settings: dict[str, Any],
                 num_frames: int, pipe: Pipeline, root_path: list[cons.Waypoint] | None = None,
                 segments: list[Any] | None = None) -> dict[str, Any]:
    """The session dict of a generation: keys are the key dicts Generate used; settings left None
    were the model's defaults, recorded as their values so a later default change can't alter it;
    segments (Segment objects or dicts) the timeline of prompts, if one was used."""
    defaults = asdict(pipe.sampler)
    resolved = {name: (defaults[name] if settings.get(name) is None else settings[name])
                for name in ("cfg_scale", "iterations", "ddim_steps")}
    return {"format": FORMAT, "version": VERSION, "app_version": __version__, "text": text,
            "seconds": float(seconds), "num_frames": int(num_frames), "seed": int(seed),
            "keyframes": list(keys), "root_path": [w.to_list() for w in root_path or []], "settings": resolved,
            "segments": as_segments(segments or []),
            "model": model_info(pipe), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def read_session(data: bytes | str) -> dict[str, Any]:
    """Parse and check a session file. Returns {"text", "seconds", "seed", "keys_json",
    "root_path_json", "cfg_scale", "iterations", "ddim_steps", "segments_json", "model"}; raises
    SessionError (or KeyframeError / ConstraintError for bad keys or path) with a message for the
    user. Sessions written before segments existed have none: segments_json "[]"."""
    if isinstance(data, bytes):
        if len(data) > MAX_SESSION_BYTES:
            raise SessionError(f"this file is {len(data) // 1024} kB; a session is at most "
                               f"{MAX_SESSION_BYTES // 1024 // 1024} MB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SessionError("this file is not a session: it is not UTF-8 text") from None
    doc = userjson.loads(data, "this file", SessionError)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError("this JSON is not a momadiff session (no \"format\": \"momadiff-session\")")
    if doc.get("version") != VERSION:
        raise SessionError(f"session version {repr(doc.get('version'))[:40]} is not supported (this app reads {VERSION})")
    text = doc.get("text")
    if not isinstance(text, str):
        raise SessionError("the session has no text")
    seconds, seed = doc.get("seconds"), doc.get("seed")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise SessionError(f"session duration {str(seconds)[:40]} is not between {MIN_SECONDS:g} and {MAX_SECONDS:g} s")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise SessionError(f"session seed {str(seed)[:40]} is not a whole number from 0 to 2**63 - 1")
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    for name, (lo, hi, whole) in SETTING_LIMITS.items():
        v = settings.get(name)
        # A range check, not isfinite: it is False for NaN and inf and never overflows on huge ints.
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi
                              or whole and v != int(v)):
            raise SessionError(f"session setting {name} = {str(v)[:40]} is not a "
                               f"{'whole ' if whole else ''}number from {lo:g} to {hi:g}")
    keys = keys_from_data(doc.get("keyframes") or [])
    path = cons.parse_path(doc.get("root_path") or [])
    segments = doc.get("segments") or []
    if segments:
        try:
            segments = as_segments(parse_segments(segments, MAX_SECONDS))
        except SegmentError as e:
            raise SessionError(f"the session's timeline: {e}") from None
        if segments[-1]["end"] > seconds + 1e-9:
            raise SessionError(f"the session's last segment ends at {segments[-1]['end']:g} s, after its "
                               f"duration of {seconds:g} s")
    whole = lambda name: None if settings.get(name) is None else int(settings[name])
    return {"text": text, "seconds": float(seconds), "seed": seed, "keys_json": keys_json(keys),
            "root_path_json": path_json(path),
            "cfg_scale": settings.get("cfg_scale"), "iterations": whole("iterations"),
            "ddim_steps": whole("ddim_steps"), "segments_json": json.dumps(segments),
            "model": doc.get("model") or {}}


def session_key_frames(session: dict[str, Any]) -> list[int]:
    """The key frames a session.json records (its "keyframes" list; the videos mark them)."""
    return [int(k["frame"]) for k in session.get("keyframes") or [] if isinstance(k, dict) and "frame" in k]
