"""session.json: everything needed to restore the app's inputs and regenerate the same motion.

    {"format": "momadiff-session", "version": 1, "text", "seconds", "num_frames", "seed",
     "keyframes": [key dicts, see keys.py], "settings": {"cfg_scale", "iterations", "ddim_steps"},
     "model": {...}, "created"}

The keys are stored exactly as Generate used them (already rounded by keys.key_dict), so loading
a session and generating again reproduces the motion bit for bit on the same model.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from typing import Any

from .. import __version__
from ..pipeline import MAX_SECONDS, MIN_SECONDS, Pipeline
from .keys import keys_json, parse_keys

FORMAT = "momadiff-session"
VERSION = 1
MAX_SESSION_BYTES = 4 * 1024 * 1024   # a session with 64 keys is ~100 kB


class SessionError(ValueError):
    """A session file that can't be loaded, with a user-facing message."""


def model_info(pipe: Pipeline) -> dict[str, Any]:
    """What identifies the model a session was made with (shown, not enforced, on load)."""
    return {"folder": str(pipe.meta.get("folder", "")), "vae_step": pipe.meta.get("vae_step"),
            "t2m_step": pipe.meta.get("t2m_step"), "text_encoder": getattr(pipe.text_encoder, "name", "")}


def make_session(text: str, seconds: float, seed: int, keys: list[dict[str, Any]], settings: dict[str, Any],
                 num_frames: int, pipe: Pipeline) -> dict[str, Any]:
    """The session dict of a generation: keys are the key dicts Generate used; settings left None
    were the model's defaults, recorded as their values so a later default change can't alter it."""
    defaults = asdict(pipe.sampler)
    resolved = {name: (defaults[name] if settings.get(name) is None else settings[name])
                for name in ("cfg_scale", "iterations", "ddim_steps")}
    return {"format": FORMAT, "version": VERSION, "app_version": __version__, "text": text,
            "seconds": float(seconds), "num_frames": int(num_frames), "seed": int(seed),
            "keyframes": list(keys), "settings": resolved,
            "model": model_info(pipe), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def read_session(data: bytes | str) -> dict[str, Any]:
    """Parse and check a session file. Returns {"text", "seconds", "seed", "keys_json",
    "cfg_scale", "iterations", "ddim_steps", "model"}; raises SessionError (or KeyframeError
    for bad keys) with a message for the user."""
    if isinstance(data, bytes):
        if len(data) > MAX_SESSION_BYTES:
            raise SessionError(f"this file is {len(data) // 1024} kB; a session is at most "
                               f"{MAX_SESSION_BYTES // 1024 // 1024} MB")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SessionError("this file is not a session: it is not UTF-8 text") from None
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as e:
        raise SessionError(f"this file is not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError("this JSON is not a momadiff session (no \"format\": \"momadiff-session\")")
    if doc.get("version") != VERSION:
        raise SessionError(f"session version {doc.get('version')!r} is not supported (this app reads {VERSION})")
    text = doc.get("text")
    if not isinstance(text, str):
        raise SessionError("the session has no text")
    seconds, seed = doc.get("seconds"), doc.get("seed")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise SessionError(f"session duration {seconds!r} is not between {MIN_SECONDS:g} and {MAX_SECONDS:g} s")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SessionError(f"session seed {seed!r} is not a non-negative whole number")
    settings = doc.get("settings") if isinstance(doc.get("settings"), dict) else {}
    keys = parse_keys(json.dumps(doc.get("keyframes") or []))
    return {"text": text, "seconds": float(seconds), "seed": seed, "keys_json": keys_json(keys),
            "cfg_scale": settings.get("cfg_scale"), "iterations": settings.get("iterations"),
            "ddim_steps": settings.get("ddim_steps"), "model": doc.get("model") or {}}
