"""What the app's events call: plain functions of plain values, testable without a browser.

Every handler catches the user-facing errors (GenerationError, KeyframeError, BVHError, ...: all
ValueErrors with a clear message) at its boundary and turns them into a message; anything else is
logged with its traceback server-side and the user sees a generic message. Messages are returned
for one inline place on the page (the status line for Generate, the notice for everything else),
never shown as toasts: a toast covered the Generate button and repeated the inline text.
"""
from __future__ import annotations

import html
import json
import logging
import os
import random
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..motion import bvh, skeleton
from .. import userjson
from ..pipeline import MAX_SECONDS, MIN_SECONDS, Pipeline
from ..segments import SegmentError
from . import keys as K
from .session import MAX_SESSION_BYTES, SessionError, read_session
from .wording import counted

log = logging.getLogger("momadiff.app")

GENERIC_ERROR = "Something went wrong on the server; the error was logged. Please try again."
PREVIEW_SIZE = 160
MAX_BVH_BYTES = 64 * 1024 * 1024   # tighter than bvh.MAX_FILE_BYTES: an upload, not a local file
# The skeletons the BVH reader knows (motion/retarget.py FAMILIES), as a UI user knows them.
KNOWN_SKELETONS = {
    "bandai": "Bandai Namco research motion (Hips, Spine, Chest, UpperArm_L, LowerLeg_R, ...)",
    "cmu_bvh": "CMU motion capture as BVH (hip, abdomen, chest, lShldr, rThigh, ...)",
    "cmu_asf": "CMU ASF/AMC joint names (root, lowerback, lhumerus, rfemur, ...)",
    "mixamo": "Mixamo rigs and the CMU 'cgspeed' BVHs (Hips, LeftArm, RightUpLeg, ...)",
    "cgspeed_max": "the CMU 'cgspeed' BVHs in 3ds Max naming (Hips, LowerNeck, LeftHip, RightKnee, ...)",
    "smpl": "SMPL names and this app's own motion.bvh (pelvis, left_hip, l_knee, ...)",
}


def shown(message: str) -> str:
    """A message as text inside Markdown/HTML: messages quote user input (prompts, file names,
    file contents), which must be displayed, never rendered as markup."""
    return html.escape(str(message), quote=False)


def known_skeletons_text() -> str:
    """One line naming the skeletons a BVH upload can have (for the upload's label and messages)."""
    return "; ".join(KNOWN_SKELETONS.values())


def _guard(fn: Callable[[], tuple[Any, ...]], fallback: Callable[[str], tuple[Any, ...]]) -> tuple[Any, ...]:
    """Run fn; user errors (ValueError) -> fallback(message); others logged, generic message.
    Every guarded handler returns its message (for a Markdown output) last: it is escaped here."""
    try:
        out = fn()
    except ValueError as e:
        out = fallback(str(e) or type(e).__name__)
    except Exception:
        log.exception("handler failed")
        out = fallback(GENERIC_ERROR)
    return (*out[:-1], shown(out[-1]))


def _no_change() -> Any:
    """'Leave this output as it is' (gr.update() with no arguments)."""
    import gradio as gr
    return gr.update()


def _as_seed(seed: Any) -> Any:
    """Gradio numbers arrive as floats; the pipeline wants an int (and checks the rest)."""
    if isinstance(seed, float) and seed.is_integer():
        return int(seed)
    return 0 if seed is None or seed == "" else seed


def random_seed() -> int:
    """A fresh seed for the 'random' button."""
    return random.randrange(0, 2 ** 31)


# ------------------------------------------------------------------------------------------
# Keys: duration change, pinning a frame of the last motion, a frame of an uploaded BVH.

def clamp_note(value: Any, label: str, lo: float, hi: float, unit: str = "") -> tuple[float | None, str]:
    """(value brought into [lo, hi], '' or the one-line message saying it was); (None, message)
    for something that is not a number. The browser clamps a slider's box the same way on blur."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v):
        return None, f"{label} {str(value)[:20]!r} is not a number ({lo:g} to {hi:g}{unit})"
    c = min(hi, max(lo, v))
    return c, ("" if c == v else f"{label} is {lo:g} to {hi:g}{unit}: {v:g}{unit} was set to {c:g}{unit}.")


def on_range(label: str, lo: float, hi: float) -> Callable[[Any], tuple[Any, str]]:
    """A release handler for a slider with range [lo, hi]: (clamped value or no change, message)."""
    def handler(value: Any) -> tuple[Any, str]:
        c, msg = clamp_note(value, label, lo, hi)
        return (_no_change() if c is None or c == value else c), shown(msg)
    return handler


def on_duration(seconds: Any, keys_text: str) -> tuple[Any, str]:
    """The duration was set (dragged or typed). A value outside the server's range is clamped,
    and said; keys past the new end follow the one rule of keys.beyond_end_message (kept and
    marked, left out by Generate), and are named. Returns (slider value or no change, message)."""
    def run() -> tuple[Any, str]:
        value, note = clamp_note(seconds, "Duration", MIN_SECONDS, MAX_SECONDS, " s")
        if value is None:
            raise ValueError(note)
        _, beyond = K.fit_keys(K.parse_keys(keys_text), K.num_frames(value))
        msg = " ".join(m for m in (note, K.beyond_end_message(beyond, value)) if m)
        return (value if note else _no_change()), msg
    return _guard(run, lambda m: (_no_change(), m))


def _path(f: Any) -> Path:
    """A file input's path, whether Gradio passed a str, a dict or a tempfile wrapper."""
    if isinstance(f, (str, os.PathLike)):
        return Path(f)
    if isinstance(f, dict):
        return Path(f.get("path") or "")
    return Path(getattr(f, "name", "") or "")


def motion_from_files(files: Sequence[Any] | None) -> np.ndarray | None:
    """The joints of the last generated motion, from the download list (motion.npy)."""
    for f in files or []:
        path = _path(f)
        if path.name == "motion.npy" and path.is_file():
            return np.load(path)
    return None


def _frame_index(frame: Any) -> int | None:
    """A slider's frame as an int, or None when it is not a whole number."""
    try:
        f = float(frame)
    except (TypeError, ValueError):
        return None
    return int(f) if np.isfinite(f) and f == int(f) else None


def pose_preview(joints: np.ndarray | None, frame: Any) -> np.ndarray | None:
    """A picture [H, W, 3] of the pose at `frame` of joints [T, 22, 3] (labelled with the frame
    number), to see a pose before taking it as a key; None when there is nothing to show."""
    f = _frame_index(frame)
    if joints is None or f is None or not 0 <= f < len(joints):
        return None
    from ..render.skeleton import filmstrip
    return filmstrip(np.asarray(joints)[f:f + 1], [0], thumb_size=PREVIEW_SIZE, labels=False,
                     captions=[f"frame {f} · {f / skeleton.FPS:.2f} s"])


def pin_range(files: Sequence[Any] | None) -> tuple[Any, Any]:
    """The pin slider's range follows the last generated motion; its preview shows frame 0."""
    import gradio as gr
    joints = motion_from_files(files)
    if joints is None:
        return _no_change(), None
    return gr.update(maximum=len(joints) - 1, value=0), pose_preview(joints, 0)


def pin_preview(files: Sequence[Any] | None, frame: Any) -> np.ndarray | None:
    """The pose at `frame` of the last generated motion (what 'Pin this frame' would take)."""
    return pose_preview(motion_from_files(files), frame)


def pin_frame(files: Sequence[Any] | None, frame: float, keys_text: str, seconds: float) -> tuple[Any, str]:
    """Make frame `frame` of the last generated motion a key at the same frame."""
    def run() -> tuple[Any, str]:
        joints = motion_from_files(files)
        if joints is None:
            raise ValueError("generate a motion first: there is no frame to pin yet")
        f = _frame_index(frame)
        n = min(len(joints), K.num_frames(seconds))
        if f is None or not 0 <= f < n:
            raise ValueError(f"frame {f if f is not None else frame} is outside the motion (frames 0 to {n - 1})")
        keys = K.put_key(K.parse_keys(keys_text), K.key_dict(f, joints[f], False, f"motion f{f}"))
        return K.keys_json(keys), f"Pinned frame {f} ({f / skeleton.FPS:g} s) of the last motion as a key."
    return _guard(run, lambda m: (_no_change(), m))


def _joint_words(names: Sequence[str], limit: int = 6) -> str:
    """'left knee, right knee and 3 more' from 22-layout joint names."""
    words = [n.replace("l_", "left ", 1).replace("r_", "right ", 1).replace("_", " ") if n[:2] in ("l_", "r_")
             else n.replace("_", " ") for n in names]
    more = len(words) - limit
    return ", ".join(words[:limit]) + (f" and {more} more" if more > 0 else "")


def _bvh_guidance(name: str, error: str) -> str:
    """What a UI user can do about a BVH whose skeleton the reader does not know (error: the
    retargeter's message, which lists the joints it could not find and the file's own)."""
    missing = [m.strip() for m in error.partition("missing ")[2].partition(" (")[0].split(",") if m.strip()]
    own = [m.strip() for m in error.partition("The file's joints are: ")[2].partition(". Pass")[0].split(",")
           if m.strip()]
    found = (f"no joint names it knows (the file's: {', '.join(own[:5])}{', ...' if len(own) > 5 else ''})"
             if len(missing) >= 20 or not missing else f"no joint the app can match to its {_joint_words(missing)}")
    return (f"{name}: this skeleton has {found}. The app reads these skeletons: {known_skeletons_text()}. "
            f"Rename the joints in your 3D tool to one of these schemes (in Blender: rename the bones, "
            f"or retarget the clip onto a Mixamo rig) and export the BVH again.")


def load_bvh(file: Any) -> tuple[Any, Any, Any, str]:
    """An uploaded BVH -> (its joints [T, 22, 3] for the state, frame slider update, preview of
    frame 0, message)."""
    import gradio as gr
    from ..motion.retarget import RetargetError, retarget

    def run() -> tuple[Any, Any, Any, str]:
        if file is None:
            return None, gr.update(visible=False), None, ""
        path = _path(file)
        if path.stat().st_size > MAX_BVH_BYTES:
            raise ValueError(f"{path.name} is {path.stat().st_size // 2 ** 20} MB; BVH uploads are limited to "
                             f"{MAX_BVH_BYTES // 2 ** 20} MB")
        try:
            # Read as a BVH whatever the upload's name ends with (this is the BVH tab): a file that
            # is not one is told so by the reader, not refused by its suffix.
            res = retarget(bvh.load(path), name=path.name)
        except ValueError as e:
            if isinstance(e, RetargetError) and str(e).startswith("cannot map this skeleton"):
                raise ValueError(_bvh_guidance(path.name, str(e))) from None
            # The server's temp path means nothing to the user: name the file.
            raise ValueError(str(e).replace(str(path), path.name)) from None
        joints = res.joints
        if len(joints) < 1 or not np.isfinite(joints).all():
            raise ValueError(f"{path.name} has no usable frames")
        msg = (f"Read {path.name}: {counted(len(joints), 'frame')} at 20 fps (0 to {len(joints) - 1}). "
               f"Pick a frame, check its pose, and press 'Use BVH frame'.")
        if res.dropped_first_frame:   # a converter's added T-pose: say so, frame numbers shift by one
            msg += " " + " ".join(res.notes).replace(str(path), path.name) + "."
        return (joints, gr.update(maximum=len(joints) - 1, value=0, visible=True), pose_preview(joints, 0), msg)
    return _guard(run, lambda m: (None, gr.update(visible=False), None, f"Could not read this BVH: {m}"))


def bvh_preview(bvh_joints: np.ndarray | None, frame: Any) -> np.ndarray | None:
    """The pose at `frame` of the uploaded BVH (what 'Use BVH frame' would take)."""
    return pose_preview(bvh_joints, frame)


def use_bvh_frame(bvh_joints: np.ndarray | None, bvh_frame: float, selected: str, keys_text: str,
                  seconds: float) -> tuple[Any, str]:
    """Frame `bvh_frame` of the uploaded BVH becomes the pose of the selected key, or, with no key
    selected, a new key at the same frame number (clipped to the motion)."""
    def run() -> tuple[Any, str]:
        if bvh_joints is None:
            raise ValueError("upload a BVH file first")
        b = _frame_index(bvh_frame)
        if b is None or not 0 <= b < len(bvh_joints):
            raise ValueError(f"BVH frame {b if b is not None else bvh_frame} is outside the file "
                             f"(0 to {len(bvh_joints) - 1})")
        n = K.num_frames(K.clamp_seconds(seconds))
        keys = K.parse_keys(keys_text)
        sel = int(selected) if str(selected or "").strip().lstrip("-").isdigit() else None
        old = next((k for k in keys if k["frame"] == sel), None)
        f = old["frame"] if old else min(b, n - 1)
        key = K.key_dict(f, bvh_joints[b], bool(old and old["fix_root"]), f"bvh f{b}")
        keys = K.put_key(keys, key)
        did = "Set the pose of the key at" if old else "Added a key at"
        return K.keys_json(keys), f"{did} frame {f} from BVH frame {b}."
    return _guard(run, lambda m: (_no_change(), m))


def load_session(file: Any) -> tuple[Any, ...]:
    """An uploaded session.json -> (text, seconds, seed, keys JSON, cfg, iterations, ddim steps,
    segments JSON, message); every input left unchanged if the file is bad. Keys past the
    session's end follow the same rule as after a duration change (kept, marked, left out by
    Generate), and are named."""
    def run() -> tuple[Any, ...]:
        if file is None:
            return (*(_no_change(),) * 8, "")
        path = _path(file)
        if path.stat().st_size > MAX_SESSION_BYTES:
            raise SessionError(f"{path.name} is too large to be a session")
        s = read_session(path.read_bytes())
        keys = K.parse_keys(s["keys_json"])
        _, beyond = K.fit_keys(keys, K.num_frames(s["seconds"]))
        n_seg = len(json.loads(s["segments_json"]))
        msg = (f"Restored the session: \"{s['text'][:60]}\", {s['seconds']:g} s, seed {s['seed']}, "
               f"{counted(len(keys), 'key')}" + (f", {counted(n_seg, 'segment')}" if n_seg else "") + ". Press Generate to make the same motion again.")
        if s["root_path_json"]:
            # The page has no root-path input yet (the API has: root_path_json); say so rather than drop it.
            n = len(json.loads(s["root_path_json"]))
            msg += (f" Its root path ({counted(n, 'waypoint')}) is not restored on this page; send it as "
                    "root_path_json to the /generate API.")
        msg = " ".join(m for m in (msg, K.beyond_end_message(beyond, s["seconds"])) if m)
        opt = lambda v: _no_change() if v is None else v
        return (s["text"], s["seconds"], s["seed"], s["keys_json"], opt(s["cfg_scale"]), opt(s["iterations"]),
                opt(s["ddim_steps"]), s["segments_json"], msg)
    return _guard(run, lambda m: (*(_no_change(),) * 8, f"Could not load this session: {m}"))


# ------------------------------------------------------------------------------------------
# Start-up. (Generate itself streams from momadiff/ui/stream.py.)

def warm_up(pipe: Pipeline) -> None:
    """Pay the first request's one-off costs at start-up (loading the text model, torch's first
    calls, importing the renderers) so the first visitor sees a first stage as fast as the rest."""
    from ..render import skeleton as _skeleton  # noqa: F401
    for _ in pipe.iter_generate("a person walks forward", seconds=1.0, seed=0):
        pass


def parse_segments_json(segments_text: Any) -> list[dict[str, Any]] | None:
    """The timeline's JSON text -> the segments as given (validated by the pipeline), or None for
    no timeline (empty text or an empty list: the prompt box is the one text)."""
    if segments_text is None or not str(segments_text).strip():
        return None
    data = userjson.loads(str(segments_text), "segments", SegmentError)
    if isinstance(data, list) and not data:
        return None
    if not isinstance(data, list):
        raise SegmentError("segments JSON must be a list of {\"text\", \"start\", \"end\"} objects")
    return data
