"""The app's handlers (momadiff/ui) on the tiny model: keys JSON, duration changes, pinning,
BVH upload, sessions (save -> load reproduces the motion exactly), bad input -> messages."""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from momadiff.motion import skeleton  # noqa: E402
from momadiff.keyframes import KeyframeError, key_error  # noqa: E402
from momadiff.pipeline import MAX_KEYFRAMES  # noqa: E402
from momadiff.model.vae import MotionVAE  # noqa: E402
from momadiff.ui import handlers as H  # noqa: E402
from momadiff.ui import keys as K  # noqa: E402
from momadiff.ui.outputs import prune  # noqa: E402
from momadiff.ui.poses import load_poses, place_pose  # noqa: E402
from momadiff.ui.session import SessionError, read_session  # noqa: E402
from momadiff.ui.stagebar import stage_bar_html  # noqa: E402


@pytest.fixture(autouse=True)
def _outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("MOMADIFF_OUTPUT_DIR", str(tmp_path / "outputs"))


def _pose(name: str = "standing") -> list:
    return next(p for p in load_poses() if p["name"] == name)["joints"]


def _keys(*frames: int) -> str:
    return K.keys_json([K.key_dict(f, _pose(), False, "standing") for f in frames])


def _run(pipe, text="a person walks forward", seconds=3.0, seed=0, keys="[]", cfg=None, it=None, ddim=None):
    return list(H.generate(pipe, text, seconds, seed, keys, cfg, it, ddim))


def _is_update(v) -> bool:
    return isinstance(v, dict) and v.get("__type__") == "update"


# --- keys JSON -------------------------------------------------------------------------------

def test_keys_json_round_trip_keeps_labels_and_sorts():
    text = json.dumps([{"frame": 30, "joints": _pose(), "label": "b"},
                       {"frame": 5, "joints": _pose("arms_up"), "fix_root": True, "label": "a"}])
    keys = K.parse_keys(text)
    assert [k["frame"] for k in keys] == [5, 30]
    assert keys[0]["label"] == "a" and keys[0]["fix_root"] is True
    assert K.parse_keys(K.keys_json(keys)) == keys
    assert K.parse_keys("") == [] and K.parse_keys("[]") == []


@pytest.mark.parametrize("text, match", [
    ("{not json", "not valid JSON"),
    ('[{"frame": 3}]', "needs 'frame' and 'joints'"),
    ('[{"frame": 3, "joints": [[0, 0, 0]]}]', r"shape \[22, 3\]"),
    ('[{"frame": 1.5, "joints": []}]', "whole number"),
])
def test_bad_keys_json_raise_clear_errors(text, match):
    with pytest.raises(KeyframeError, match=match):
        K.parse_keys(text)


def test_too_many_keys_refused():
    with pytest.raises(KeyframeError, match="allowed"):
        K.parse_keys(_keys(*range(MAX_KEYFRAMES + 1)))


def test_pose_library_poses_are_valid_keys():
    poses = load_poses()
    names = {p["name"] for p in poses}
    assert {"standing", "t_pose", "arms_up", "bow", "mid_stride"} <= names
    for p in poses:
        j = np.asarray(p["joints"])
        assert j.shape == (22, 3) and abs(j[:, 1].min()) < 1e-3 and np.allclose(j[0, [0, 2]], 0, atol=1e-3)
        K.parse_keys(K.keys_json([K.key_dict(0, j)]))
    placed = np.asarray(place_pose(skeleton.rest_pose() + np.array([3.0, 1.0, -2.0])))
    assert np.allclose(placed, place_pose(skeleton.rest_pose()), atol=1e-6)


# --- duration, pin, BVH ----------------------------------------------------------------------

def test_duration_change_keeps_fitting_keys_and_says_which_were_dropped():
    text = _keys(10, 100, 130, 150)
    new, msg = H.on_duration(6.0, text)                  # 120 frames: 130 and 150 no longer fit
    assert [k["frame"] for k in json.loads(new)] == [10, 100]
    assert "130" in msg and "150" in msg and "6.5 s" in msg and "Dropped" in msg
    same, msg = H.on_duration(10.0, text)
    assert _is_update(same) and msg == ""


def test_duration_change_with_broken_keys_gives_message():
    new, msg = H.on_duration(6.0, "{oops")
    assert _is_update(new) and "not valid JSON" in msg


def test_pinned_frame_becomes_a_key(tiny_pipeline):
    out = _run(tiny_pipeline, keys=_keys(50))
    files = out[-1][4]
    motion = np.load(files[0])
    new, msg = H.pin_frame(files, 20, _keys(50), 3.0)
    keys = json.loads(new)
    assert [k["frame"] for k in keys] == [20, 50] and "Pinned frame 20" in msg
    assert np.allclose(keys[0]["joints"], motion[20], atol=1e-5) and keys[0]["label"] == "motion f20"
    # Outside the motion, or nothing generated yet: a message, keys unchanged.
    new, msg = H.pin_frame(files, 70, _keys(50), 3.0)
    assert _is_update(new) and "outside the motion" in msg
    new, msg = H.pin_frame(None, 3, "[]", 3.0)
    assert _is_update(new) and "generate a motion first" in msg


def test_bvh_frame_becomes_a_key(tmp_path):
    from momadiff.motion import bvh
    from conftest import synthetic_walk
    path = tmp_path / "walk.bvh"
    bvh.save(path, synthetic_walk(40))
    joints, slider, msg = H.load_bvh(str(path))
    assert joints.shape[1:] == (22, 3) and "Read walk.bvh" in msg and slider["maximum"] == len(joints) - 1
    new, msg = H.use_bvh_frame(joints, 12, "", _keys(5), 3.0)        # no selection: new key at frame 12
    assert [k["frame"] for k in json.loads(new)] == [5, 12] and "Added" in msg
    new, msg = H.use_bvh_frame(joints, 30, "5", _keys(5), 3.0)       # selection: its pose replaced
    keys = json.loads(new)
    assert [k["frame"] for k in keys] == [5] and np.allclose(keys[0]["joints"], joints[30], atol=1e-5)


def test_unreadable_bvh_gives_message(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    state, slider, msg = H.load_bvh(str(bad))
    assert state is None and msg.startswith("Could not read this BVH:") and "Traceback" not in msg
    new, msg = H.use_bvh_frame(None, 0, "", "[]", 3.0)
    assert _is_update(new) and "upload a BVH" in msg


# --- generate ----------------------------------------------------------------------------------

def test_generate_streams_stages_then_files_and_video(tiny_pipeline):
    out = _run(tiny_pipeline, seconds=4.0, keys=_keys(10, 60))
    stages = out[:-2]
    assert len(stages) == tiny_pipeline.sampler.iterations
    for n, (bar, strip, status, *_rest) in enumerate(stages, start=1):
        assert f"stage {n} of {len(stages)}" in status
        assert bar.count("class='mstage-row'") == n and "data-kind='user'" in bar
        assert strip.ndim == 3 and strip.dtype == np.uint8
    assert "data-kind='masked'" in stages[0][0] and "data-kind='new'" in stages[-1][0]
    last_row = stages[-1][0].split("class='mstage-row'")[-1]
    assert "data-kind='masked'" not in last_row
    *_, status, video, files, preview = out[-1]
    assert Path(video).stat().st_size > 1000 and "done" in status
    assert [Path(f).name for f in files] == ["motion.npy", "motion.bvh", "session.json", "motion.glb"]
    assert Path(preview).name == "preview.glb" and Path(preview).stat().st_size > 10000
    joints = np.load(files[0])
    assert joints.shape == (80, 22, 3)
    assert key_error(joints, K.to_keyframes(K.parse_keys(_keys(10, 60)))).max() < 0.01
    mesh = H.mesh_video(files)                   # chained after generate in the app
    assert mesh and Path(mesh).stat().st_size > 1000


def test_session_round_trip_reproduces_the_motion_exactly(tiny_pipeline):
    keys = K.keys_json([K.key_dict(7, np.asarray(_pose("arms_up")) + 1e-7, True, "arms up"),
                        K.key_dict(33, _pose("bow"), False, "bow")])
    first = _run(tiny_pipeline, "  someone waves   with the right hand ", 2.5, 1234, keys, 2.5, 3, 5)[-1]
    session_path = first[4][2]
    text, seconds, seed, keys2, cfg, it, ddim, segs, msg = H.load_session(session_path)
    assert "Restored" in msg and (text, seconds, seed, cfg, it, ddim) == (
        "someone waves with the right hand", 2.5, 1234, 2.5, 3, 5)
    second = _run(tiny_pipeline, text, seconds, seed, keys2, cfg, it, ddim)[-1]
    a, b = np.load(first[4][0]), np.load(second[4][0])
    assert np.array_equal(a, b)


def test_session_records_model_defaults(tiny_pipeline):
    out = _run(tiny_pipeline)[-1]
    doc = json.loads(Path(out[4][2]).read_text())
    assert doc["settings"] == {"cfg_scale": tiny_pipeline.sampler.cfg_scale,
                               "iterations": tiny_pipeline.sampler.iterations,
                               "ddim_steps": tiny_pipeline.sampler.ddim_steps}
    assert doc["model"]["text_encoder"] == "hash" and doc["format"] == "momadiff-session"


@pytest.mark.parametrize("content, match", [
    (b"{broken", "not valid JSON"),
    (b"\xff\xfe\x00", "not UTF-8"),
    (b'{"hello": 1}', "not a momadiff session"),
    (b'{"format": "momadiff-session", "version": 1, "text": "x", "seconds": 99, "seed": 0}', "between"),
    (b'{"format": "momadiff-session", "version": 1, "text": "x", "seconds": 3, "seed": -1}', "seed"),
    (b'{"format": "momadiff-session", "version": 1, "text": "x", "seconds": 3, "seed": 0, '
     b'"keyframes": [{"frame": 1}]}', "joints"),
])
def test_malformed_session_gives_message(tmp_path, content, match):
    path = tmp_path / "session.json"
    path.write_bytes(content)
    out = H.load_session(str(path))
    assert all(_is_update(v) for v in out[:8])
    assert out[-1].startswith("Could not load this session:")
    with pytest.raises((SessionError, KeyframeError), match=match):
        read_session(content)


@pytest.mark.parametrize("kwargs, match", [
    ({"text": ""}, "describe the motion"),
    ({"text": "walk " * 400}, "characters long"),
    ({"keys": _keys(10, 70)}, "outside the motion"),          # 3 s = 60 frames
    ({"keys": "[{]"}, "not valid JSON"),
    ({"seconds": 90}, "between"),
    ({"seed": -3}, "seed"),
    ({"it": 0}, "iterations"),
])
def test_bad_generate_input_gives_one_message(tiny_pipeline, kwargs, match):
    out = _run(tiny_pipeline, **kwargs)
    assert len(out) == 1
    status = out[0][2]
    assert status.startswith("⚠️") and match in status
    assert all(_is_update(v) for i, v in enumerate(out[0]) if i != 2)


def test_unexpected_error_is_generic_and_logged(tiny_pipeline, monkeypatch, caplog):
    def boom(*a, **k):
        raise RuntimeError("internal detail")
        yield
    monkeypatch.setattr(tiny_pipeline, "iter_generate", boom)
    out = _run(tiny_pipeline)
    assert H.GENERIC_ERROR in out[0][2] and "internal detail" not in out[0][2]
    assert "internal detail" in caplog.text


def test_stage_bar_html_empty_and_legend(tiny_pipeline):
    assert "appear here" in stage_bar_html([])
    stages = list(tiny_pipeline.iter_generate("a person bows", seconds=2.0, seed=0))
    html = stage_bar_html(stages)
    assert html.count("class='mstage-cell'") == len(stages) * len(stages[0].user)
    for word in ("your keyframe", "this stage", "[MASK]"):
        assert word in html


def test_old_output_folders_are_pruned(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    for n in range(5):
        (root / f"req-{n}").mkdir()
        os.utime(root / f"req-{n}", (time.time() - n * 1000, time.time() - n * 1000))
    (root / "keep-me").mkdir()
    assert prune(root, max_age=3500, keep=10) == 1          # req-4 is older than the max age
    assert prune(root, max_age=3500, keep=2) == 2           # then only the newest two stay
    assert sorted(p.name for p in root.iterdir()) == ["keep-me", "req-0", "req-1"]


def test_how_it_works_counts_this_models_latents(tiny_pipeline):
    from apphelpers import load_app_module
    text = load_app_module().how_it_works(tiny_pipeline)
    d = tiny_pipeline.down
    assert f"every {d} frames" in text and f"a 6 s motion is {120 // d} latents" in text
    # the head's noise is described as the model draws it
    assert ("changes smoothly" in text) == (tiny_pipeline.sampler.noise_corr > 0)
    correlated = copy.copy(tiny_pipeline)
    correlated.sampler = dataclasses.replace(tiny_pipeline.sampler, noise_corr=8.0)
    assert "changes smoothly from one latent to the next" in load_app_module().how_it_works(correlated)
    # and the decoder: told about generated latents only when it is noise-conditioned and so used
    assert "slightly off" not in text
    told = copy.copy(tiny_pipeline)
    told.vae = MotionVAE(dataclasses.replace(tiny_pipeline.vae.config, noise_cond=1))
    assert "slightly off" not in load_app_module().how_it_works(told)
    told.sampler = dataclasses.replace(tiny_pipeline.sampler, decode_noise=0.3)
    assert "told that generated latents are slightly off" in load_app_module().how_it_works(told)
