"""The studio's generate: stream each sampler stage to the 3D view as numbers, then the files.

No image or video is rendered while generating: the browser draws every stage from its joints
(momadiff/ui/viewdata.py), so stage 1 is on screen as soon as it is sampled. The skeleton and
mannequin videos and motion.glb are rendered only when asked for (`render_files`).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Iterator, Sequence

import numpy as np

from ..correction import key_error
from ..motion import bvh, skeleton
from ..pipeline import MAX_SECONDS, Pipeline
from ..segments import parse_segments, texts_of
from . import keys as K
from . import viewdata
from .handlers import GENERIC_ERROR, _as_seed, _path, motion_from_files, parse_segments_json, shown
from .outputs import new_request_dir
from .session import make_session, session_key_frames
from .stagebar import stage_bar_html, stage_status
from .wording import counted

log = logging.getLogger("momadiff.app")

# The stage messages of the last few runs, for the view to fetch any it did not receive (a
# safety net: the carrier delivers every streamed value, but a page that loses its connection or
# mounts late should still be able to replay every stage). JSON: about 60 kB per stage of 10 s.
KEEP_RUNS = 8
_runs: OrderedDict[str, dict[int, str]] = OrderedDict()
_runs_lock = threading.Lock()


def _remember(run: str, index: int, message: str) -> None:
    with _runs_lock:
        _runs.setdefault(run, {})[index] = message
        _runs.move_to_end(run)
        while len(_runs) > KEEP_RUNS:
            _runs.popitem(last=False)


def view_stage(ref: str) -> str:
    """The view's server function: "RUN:INDEX" -> that stage's message, or "" if it is gone."""
    run, _, index = str(ref).partition(":")
    if not index.isdigit():
        return ""
    with _runs_lock:
        return _runs.get(run, {}).get(int(index), "")


def generate(pipe: Pipeline, text: str, seconds: float, seed: Any, keys_text: str, cfg_scale: Any,
             iterations: Any, ddim_steps: Any, root_path_text: str | None = "",
             segments_text: str | None = "[]") -> Iterator[tuple[Any, ...]]:
    """Stream a generation. keys_text may hold partial keys; root_path_text a JSON list of
    [frame, x, z(, heading)] waypoints ("" for none); segments_text a JSON timeline
    [{"text", "start", "end"}, ...] in seconds ("[]" for none): when it holds any segment, they
    replace the prompt. Yields (stage bar HTML, view message JSON, status, skeleton video,
    files, mannequin video): once per stage, then once with the files [motion.npy, motion.bvh,
    session.json]. The videos of the previous motion are cleared at once (they are rendered on
    request). Bad input yields one message in the status instead; nothing raises.
    (Status at index 2 and files at 4, where the /generate API has always had them.)"""
    from gradio import update
    keep = update
    t_start = time.perf_counter()
    run = viewdata.new_run_id()
    try:
        keys = K.parse_keys(keys_text)
        path = K.parse_path(root_path_text)
        segments = parse_segments_json(segments_text)
        stream = pipe.iter_generate(None if segments else text, seconds=seconds, seed=_as_seed(seed),
                                    keyframes=K.to_keyframes(keys), cfg_scale=cfg_scale, iterations=iterations,
                                    ddim_steps=ddim_steps, root_path=path, segments=segments)
        stages = []
        for stage in stream:   # the first next() validates the request: errors surface here
            stages.append(stage)
            status = f"**{stage_status(stage)}** · {time.perf_counter() - t_start:.2f} s"
            msg = viewdata.dumps(viewdata.stage_message(run, stage, pipe.down, keys))
            _remember(run, stage.index, msg)
            bar = stage_bar_html(stages, pipe.down)
            yield bar, msg, status, None, keep(), None
    except ValueError as e:
        yield keep(), keep(), f"⚠️ {shown(e)}", keep(), keep(), keep()
        return
    except Exception:
        log.exception("generation failed")
        yield keep(), keep(), f"⚠️ {GENERIC_ERROR}", keep(), keep(), keep()
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
        session = make_session(clean_text, len(joints) / skeleton.FPS if segs and not seconds else float(seconds),
                               int(_as_seed(seed)), keys, settings, len(joints), pipe, root_path=path, segments=segs)
        (out / "session.json").write_text(json.dumps(session, indent=1), encoding="utf-8")
        files = [str(out / n) for n in ("motion.npy", "motion.bvh", "session.json")]
        err = key_error(joints, K.to_keyframes(keys)) if keys else np.zeros(0)
        missed = pipe.constraint_warnings(joints, K.to_keyframes(keys), path) if keys or path else []
        summary = (f"{counted(len(joints), 'frame')} ({len(joints) / skeleton.FPS:g} s) in "
                   f"{counted(len(stages), 'stage')}, sampled in {t_sample:.2f} s"
                   + (f"; {counted(len(keys), 'key')} matched within {100 * err.max():.2f} cm" if keys else "")
                   + (f"; {counted(len(missed), 'target')} out of reach, e.g. {missed[0]}" if missed else ""))
        done = viewdata.dumps(viewdata.done_message(run, stages[-1], pipe.down, keys,
                                                    f"\"{clean_text[:60]}\" · {summary}"))
        yield bar, done, f"**done:** {shown(summary)}", None, files, None
    except ValueError as e:
        yield keep(), keep(), f"⚠️ {shown(e)}", keep(), keep(), keep()
    except Exception:
        log.exception("writing the outputs failed")
        yield keep(), keep(), f"⚠️ {GENERIC_ERROR}", keep(), keep(), keep()


def _session_of(files: Sequence[Any] | None) -> dict[str, Any]:
    paths = {p.name: p for p in map(_path, files or [])}
    if "session.json" not in paths:
        return {}
    return json.loads(paths["session.json"].read_text(encoding="utf-8"))


def render_files(files: Sequence[Any] | None) -> Iterator[tuple[Any, ...]]:
    """On request: the skeleton video, then the mannequin video and motion.glb, of the last motion.
    Yields (skeleton video, mannequin video, files, message)."""
    from gradio import update
    from ..render.glb import write_glb
    from ..render.mesh_video import MeshRenderUnavailable, render_mesh_video
    from ..render.skeleton import render_skeleton_video
    joints = motion_from_files(files)
    if joints is None:
        yield update(), update(), update(), "Generate a motion first: there is nothing to render yet."
        return
    try:
        session = _session_of(files)
        marks = session_key_frames(session)
        title = str(session.get("text", ""))[:60]
        out = new_request_dir()
        t0 = time.perf_counter()
        video = render_skeleton_video(joints, out / "skeleton.mp4", fps=skeleton.FPS, size=(480, 480),
                                      highlight_frames=marks, title=title)
        msg = f"Skeleton video in {time.perf_counter() - t0:.1f} s; rendering the mannequin…"
        yield str(video), None, update(), msg
        files = [str(_path(f)) for f in files or [] if _path(f).name not in ("motion.glb", "skeleton.mp4", "mannequin.mp4")]
        files.append(str(video))
        glb = write_glb(joints, out / "motion.glb", fps=skeleton.FPS)
        files.append(str(glb))
        t1 = time.perf_counter()
        try:
            mesh = render_mesh_video(joints, out / "mannequin.mp4", fps=skeleton.FPS, size=(400, 400),
                                     highlight_frames=marks, title=title)
        except MeshRenderUnavailable as e:
            yield str(video), None, files, f"Skeleton video and motion.glb ready; no mannequin video: {shown(e)}"
            return
        files.append(str(mesh))
        yield str(video), str(mesh), files, (f"Videos and motion.glb ready (mannequin in "
                                             f"{time.perf_counter() - t1:.1f} s).")
    except Exception:
        log.exception("rendering failed")
        yield update(), update(), update(), GENERIC_ERROR
