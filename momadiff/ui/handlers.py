"""What the app's events call: plain functions of plain values, testable without a browser.

Every handler catches the user-facing errors (GenerationError, KeyframeError, BVHError, ...: all
ValueErrors with a clear message) at its boundary and turns them into a message; anything else is
logged with its traceback server-side and the user sees a generic message. Messages are returned
(for the status line) and shown as a toast with `notify`.
"""
from __future__ import annotations

import html
import json
import logging
import os
import random
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..motion import bvh, skeleton
from ..keyframes import key_error
from .. import userjson
from ..pipeline import MAX_SECONDS, Pipeline
from ..segments import SegmentError, parse_segments, texts_of
from . import keys as K
from .outputs import new_request_dir
from .session import MAX_SESSION_BYTES, SessionError, make_session, read_session
from .stagebar import stage_bar_html, stage_status

log = logging.getLogger("momadiff.app")

GENERIC_ERROR = "Something went wrong on the server; the error was logged. Please try again."
FILMSTRIP_FRAMES = 8
MAX_BVH_BYTES = 64 * 1024 * 1024   # tighter than bvh.MAX_FILE_BYTES: an upload, not a local file


def shown(message: str) -> str:
    """A message as text inside Markdown/HTML: messages quote user input (prompts, file names,
    file contents), which must be displayed, never rendered as markup."""
    return html.escape(str(message), quote=False)


def notify(message: str, level: str = "warning") -> None:
    """Show a toast in the browser (a no-op outside a Gradio request, e.g. in tests)."""
    import gradio as gr
    with warnings.catch_warnings():   # outside an event Gradio falls back to warnings.warn
        warnings.simplefilter("ignore")
        (gr.Warning if level == "warning" else gr.Info)(shown(message))   # toasts render HTML


def _guard(fn: Callable[[], tuple[Any, ...]], fallback: Callable[[str], tuple[Any, ...]]) -> tuple[Any, ...]:
    """Run fn; user errors (ValueError) -> fallback(message) with a toast; others logged too.
    Every guarded handler returns its message (for a Markdown output) last: it is escaped here."""
    try:
        out = fn()
    except ValueError as e:
        msg = str(e) or type(e).__name__
        notify(msg)
        out = fallback(msg)
    except Exception:
        log.exception("handler failed")
        notify(GENERIC_ERROR)
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

def on_duration(seconds: float, keys_text: str) -> tuple[Any, str]:
    """The duration changed: keep the keys that still fit, drop the others and say which.
    Returns (new keys JSON or no change, message)."""
    def run() -> tuple[Any, str]:
        keys = K.parse_keys(keys_text)
        kept, dropped = K.fit_keys(keys, K.num_frames(seconds))
        if not dropped:
            return _no_change(), ""
        msg = (f"Dropped the key{'s' if len(dropped) > 1 else ''} at {K.describe_frames(dropped)}: "
               f"beyond the end of the {float(seconds):g} s motion.")
        notify(msg)
        return K.keys_json(kept), msg
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


def pin_range(files: Sequence[Any] | None) -> Any:
    """The pin slider's range follows the last generated motion."""
    import gradio as gr
    joints = motion_from_files(files)
    return _no_change() if joints is None else gr.update(maximum=len(joints) - 1)


def pin_frame(files: Sequence[Any] | None, frame: float, keys_text: str, seconds: float) -> tuple[Any, str]:
    """Make frame `frame` of the last generated motion a key at the same frame."""
    def run() -> tuple[Any, str]:
        joints = motion_from_files(files)
        if joints is None:
            raise ValueError("generate a motion first: there is no frame to pin yet")
        f = int(frame)
        n = min(len(joints), K.num_frames(seconds))
        if not 0 <= f < n:
            raise ValueError(f"frame {f} is outside the motion (frames 0 to {n - 1})")
        keys = K.put_key(K.parse_keys(keys_text), K.key_dict(f, joints[f], False, f"motion f{f}"))
        msg = f"Pinned frame {f} ({f / skeleton.FPS:g} s) of the last motion as a key."
        notify(msg, "info")
        return K.keys_json(keys), msg
    return _guard(run, lambda m: (_no_change(), m))


def load_bvh(file: Any) -> tuple[Any, Any, str]:
    """An uploaded BVH -> (its joints [T, 22, 3] for the state, frame slider update, message)."""
    import gradio as gr
    from ..motion.retarget import load_motion

    def run() -> tuple[Any, Any, str]:
        if file is None:
            return None, gr.update(visible=False), ""
        path = _path(file)
        if path.stat().st_size > MAX_BVH_BYTES:
            raise ValueError(f"{path.name} is {path.stat().st_size // 2 ** 20} MB; BVH uploads are limited to "
                             f"{MAX_BVH_BYTES // 2 ** 20} MB")
        try:
            res = load_motion(path)
        except ValueError as e:   # the server's temp path means nothing to the user: name the file
            raise ValueError(str(e).replace(str(path), path.name)) from None
        joints = res.joints
        if len(joints) < 1 or not np.isfinite(joints).all():
            raise ValueError(f"{path.name} has no usable frames")
        msg = f"Read {path.name}: {len(joints)} frames at 20 fps. Pick a frame and press 'Use BVH frame'."
        if res.dropped_first_frame:   # a converter's added T-pose: say so, frame numbers shift by one
            msg += " " + " ".join(res.notes).replace(str(path), path.name) + "."
        return joints, gr.update(maximum=len(joints) - 1, value=0, visible=True), msg
    return _guard(run, lambda m: (None, gr.update(visible=False), f"Could not read this BVH: {m}"))


def use_bvh_frame(bvh_joints: np.ndarray | None, bvh_frame: float, selected: str, keys_text: str,
                  seconds: float) -> tuple[Any, str]:
    """Frame `bvh_frame` of the uploaded BVH becomes the pose of the selected key, or, with no key
    selected, a new key at the same frame number (clipped to the motion)."""
    def run() -> tuple[Any, str]:
        if bvh_joints is None:
            raise ValueError("upload a BVH file first")
        b = int(bvh_frame)
        if not 0 <= b < len(bvh_joints):
            raise ValueError(f"BVH frame {b} is outside the file (0 to {len(bvh_joints) - 1})")
        n = K.num_frames(seconds)
        keys = K.parse_keys(keys_text)
        sel = int(selected) if str(selected or "").strip().lstrip("-").isdigit() else None
        old = next((k for k in keys if k["frame"] == sel), None)
        f = old["frame"] if old else min(b, n - 1)
        key = K.key_dict(f, bvh_joints[b], bool(old and old["fix_root"]), f"bvh f{b}")
        keys = K.put_key(keys, key)
        msg = f"{'Set the pose of the key at' if old else 'Added a key at'} frame {f} from BVH frame {b}."
        notify(msg, "info")
        return K.keys_json(keys), msg
    return _guard(run, lambda m: (_no_change(), m))


def load_session(file: Any) -> tuple[Any, ...]:
    """An uploaded session.json -> (text, seconds, seed, keys JSON, cfg, iterations, ddim steps,
    segments JSON, message); every input left unchanged if the file is bad."""
    def run() -> tuple[Any, ...]:
        if file is None:
            return (*(_no_change(),) * 8, "")
        path = _path(file)
        if path.stat().st_size > MAX_SESSION_BYTES:
            raise SessionError(f"{path.name} is too large to be a session")
        s = read_session(path.read_bytes())
        n_seg = len(json.loads(s["segments_json"]))
        msg = (f"Restored the session: \"{s['text'][:60]}\", {s['seconds']:g} s, seed {s['seed']}, "
               f"{len(json.loads(s['keys_json']))} keys" + (f", {n_seg} segments" if n_seg else "") +
               ". Press Generate to make the same motion again.")
        if s["root_path_json"]:
            # The page has no root-path input yet (the API has: root_path_json); say so rather than drop it.
            msg += (f" Its root path ({len(json.loads(s['root_path_json']))} waypoints) is not restored on this "
                    "page; send it as root_path_json to the /generate API.")
        notify(msg, "info")
        opt = lambda v: _no_change() if v is None else v
        return (s["text"], s["seconds"], s["seed"], s["keys_json"], opt(s["cfg_scale"]), opt(s["iterations"]),
                opt(s["ddim_steps"]), s["segments_json"], msg)
    return _guard(run, lambda m: (*(_no_change(),) * 8, f"Could not load this session: {m}"))


# ------------------------------------------------------------------------------------------
# Generate: stream the stages, then write the files and the video.

def warm_up(pipe: Pipeline) -> None:
    """Pay the first request's one-off costs at start-up (loading the text model, torch's first
    calls, importing the renderers) so the first visitor sees a first stage as fast as the rest."""
    from ..render import skeleton as _skeleton  # noqa: F401
    for _ in pipe.iter_generate("a person walks forward", seconds=1.0, seed=0):
        pass


def render_glbs(joints: np.ndarray, out_dir: Path) -> tuple[str, str]:
    """(motion.glb: the skinned mannequin with the motion, for downloads; preview.glb: the same
    in place, for gr.Model3D, whose camera frames the model once and would lose a walker)."""
    from ..render.glb import write_glb
    full = write_glb(joints, out_dir / "motion.glb", fps=skeleton.FPS)
    preview = write_glb(joints, out_dir / "preview.glb", fps=skeleton.FPS, in_place=True)
    return str(full), str(preview)


def mesh_video(files: Sequence[Any] | None) -> Any:
    """The mannequin video of the last generated motion. Chained after generate rather than part
    of it: it takes several seconds more, and the skeleton video and downloads should not wait."""
    from ..render.mesh_video import MeshRenderUnavailable, render_mesh_video
    joints = motion_from_files(files)
    paths = {p.name: p for p in map(_path, files or [])}
    if joints is None or "session.json" not in paths:
        return None
    try:
        session = json.loads(paths["session.json"].read_text(encoding="utf-8"))
        out = new_request_dir() / "mesh.mp4"
        return str(render_mesh_video(joints, out, fps=skeleton.FPS, size=(400, 400),
                                     highlight_frames=[k["frame"] for k in session.get("keys", [])],
                                     title=str(session.get("text", ""))[:60]))
    except MeshRenderUnavailable as e:
        notify(str(e))
    except Exception:
        log.exception("mesh video failed")
        notify(GENERIC_ERROR)
    return None


def _filmstrip(joints: np.ndarray, key_frames: Sequence[int]) -> np.ndarray:
    from ..render.skeleton import filmstrip
    n = len(joints)
    frames = np.unique(np.linspace(0, n - 1, min(FILMSTRIP_FRAMES, n)).round().astype(int))
    return filmstrip(joints, frames.tolist(), thumb_size=112, highlight_frames=key_frames)


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


def generate(pipe: Pipeline, text: str, seconds: float, seed: Any, keys_text: str, cfg_scale: Any,
             iterations: Any, ddim_steps: Any, root_path_text: str | None = "",
             segments_text: str = "[]") -> Iterator[tuple[Any, ...]]:
    """Stream a generation. Yields (stage bar HTML, filmstrip image, status, video path, files,
    GLB preview): once per sampler stage, once with the files, once with the video and GLB.
    keys_text may hold partial keys; root_path_text a JSON list of [frame, x, z(, heading)];
    segments_text a JSON timeline [{"text", "start", "end"}, ...] (seconds): when it holds any
    segment, they replace the prompt. Bad input yields a single message instead; nothing raises."""
    keep = _no_change
    t_start = time.perf_counter()
    try:
        keys = K.parse_keys(keys_text)
        path = K.parse_path(root_path_text)
        segments = parse_segments_json(segments_text)
        stream = pipe.iter_generate(None if segments else text, seconds=seconds, seed=_as_seed(seed),
                                    keyframes=K.to_keyframes(keys), cfg_scale=cfg_scale, iterations=iterations,
                                    ddim_steps=ddim_steps, root_path=path, segments=segments)
        stages = []
        key_frames = [k["frame"] for k in keys]
        for stage in stream:   # the first next() validates the request: errors surface here
            stages.append(stage)
            status = f"**{stage_status(stage)}** · {time.perf_counter() - t_start:.2f} s"
            bar, strip = stage_bar_html(stages, pipe.down), _filmstrip(stage.joints, key_frames)
            yield bar, strip, status, keep(), keep(), keep()
    except ValueError as e:
        notify(str(e))
        yield (keep(), keep(), f"⚠️ {shown(e)}", keep(), keep(), keep())
        return
    except Exception:
        log.exception("generation failed")
        notify(GENERIC_ERROR)
        yield (keep(), keep(), f"⚠️ {GENERIC_ERROR}", keep(), keep(), keep())
        return
    t_sample = time.perf_counter() - t_start
    try:
        joints = stages[-1].joints
        out = new_request_dir()
        np.save(out / "motion.npy", joints)
        bvh.save(out / "motion.bvh", joints, fps=skeleton.FPS)
        segs = parse_segments(segments, MAX_SECONDS) if segments else []
        clean_text = " / ".join(texts_of(segs)) if segs else " ".join(text.split())
        settings = {"cfg_scale": cfg_scale, "iterations": iterations, "ddim_steps": ddim_steps}
        session = make_session(clean_text, float(seconds), int(_as_seed(seed)), keys, settings, len(joints), pipe,
                               root_path=path, segments=segs)
        (out / "session.json").write_text(json.dumps(session, indent=1), encoding="utf-8")
        files = [str(out / n) for n in ("motion.npy", "motion.bvh", "session.json")]
        err = key_error(joints, K.to_keyframes(keys)) if keys else np.zeros(0)
        missed = pipe.constraint_warnings(joints, K.to_keyframes(keys), path) if keys or path else []
        summary = (f"{len(joints)} frames ({len(joints) / skeleton.FPS:g} s) in {len(stages)} stages, "
                   f"sampled in {t_sample:.2f} s" + (f"; keys matched within {100 * err.max():.2f} cm" if keys else "")
                   + (f"; {len(missed)} target(s) out of reach, e.g. {missed[0]}" if missed else ""))
        # The last stage's bar and strip are repeated so an API caller's final result has them.
        yield bar, strip, f"**done:** {summary} · rendering the video…", keep(), files, keep()
        from ..render.skeleton import render_skeleton_video
        t0 = time.perf_counter()
        video = render_skeleton_video(joints, out / "skeleton.mp4", fps=skeleton.FPS, size=(480, 480),
                                      highlight_frames=key_frames, title=clean_text[:60])
        t_video = time.perf_counter() - t0
        glb, preview = render_glbs(joints, out)
        files.append(glb)
        yield bar, strip, f"**done:** {summary}; video in {t_video:.2f} s.", str(video), files, preview
    except ValueError as e:
        notify(str(e))
        yield (keep(), keep(), f"⚠️ {shown(e)}", keep(), keep(), keep())
    except Exception:
        log.exception("writing the outputs failed")
        notify(GENERIC_ERROR)
        yield (keep(), keep(), f"⚠️ {GENERIC_ERROR}", keep(), keep(), keep())
