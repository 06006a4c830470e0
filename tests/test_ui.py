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
from momadiff.keyframes import KeyframeError  # noqa: E402
from momadiff.pipeline import MAX_KEYFRAMES  # noqa: E402
from momadiff.model.vae import MotionVAE  # noqa: E402
from momadiff.ui import handlers as H  # noqa: E402
from momadiff.ui import keys as K  # noqa: E402
from momadiff.ui import stream  # noqa: E402
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
    """The app's generate (momadiff.ui.stream): (stage bar, view message, status, skeleton video,
    files, mannequin video) per stage, then once with the files."""
    return list(stream.generate(pipe, text, seconds, seed, keys, cfg, it, ddim))


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

def test_duration_change_names_keys_past_the_end_and_keeps_them():
    text = _keys(10, 100, 130, 150)
    value, msg = H.on_duration(6.0, text)                # 120 frames: 130 and 150 no longer fit
    assert _is_update(value)                             # in range: the slider is left alone
    assert "130" in msg and "150" in msg and "6.5 s" in msg and "past the end" in msg
    assert "Generate leaves them out" in msg and "frames 0 to 119" in msg
    value, msg = H.on_duration(10.0, text)
    assert _is_update(value) and msg == ""


@pytest.mark.parametrize("typed, clamped", [(90, 60.0), (0, 1.0), (-3, 1.0), (60.5, 60.0)])
def test_duration_out_of_range_is_clamped_with_one_message(typed, clamped):
    value, msg = H.on_duration(typed, _keys(10, 200))
    assert value == clamped and f"was set to {clamped:g} s" in msg
    if clamped < 10:                                     # and the keys past the new end are named
        assert "past the end" in msg


def test_duration_change_with_broken_keys_gives_message():
    new, msg = H.on_duration(6.0, "{oops")
    assert _is_update(new) and "not valid JSON" in msg


def test_other_sliders_clamp_with_one_message():
    value, msg = H.on_range("Guidance scale", 0, 20)(25)
    assert value == 20 and msg == "Guidance scale is 0 to 20: 25 was set to 20."
    value, msg = H.on_range("DDIM steps", 1, 100)(10)
    assert _is_update(value) and msg == ""


def test_number_fields_reach_the_handlers_unrefused():
    """Gradio's own Slider / Number refuse an out-of-range value before any handler runs (an
    Error toast and red pills on every output); the app's fields let the handler answer."""
    import gradio as gr
    from momadiff.ui.fields import FreeNumber, FreeSlider
    with pytest.raises(gr.Error):
        gr.Slider(1, 12).preprocess(50)
    with pytest.raises(gr.Error):
        gr.Number(minimum=0).preprocess(-5)
    assert FreeSlider(1, 12).preprocess(50) == 50 and FreeSlider(1, 12).get_block_name() == "slider"
    assert FreeNumber(minimum=0).preprocess(-5) == -5 and FreeNumber().get_block_name() == "number"


def test_app_uses_unrefusing_fields_and_a_new_generate_stops_the_render(tiny_pipeline):
    from apphelpers import load_app_module
    from momadiff.ui.fields import FreeNumber, FreeSlider
    demo = load_app_module().build_demo(tiny_pipeline)
    by_label = {getattr(b, "label", None): b for b in demo.blocks.values()}
    for label in ("Duration (s)", "Guidance scale", "Transformer iterations", "DDIM steps", "Frame (from 0)",
                  "BVH frame (from 0)"):
        assert isinstance(by_label[label], FreeSlider), label
    assert isinstance(by_label["Seed"], FreeNumber)
    # Videos are rendered on request; a Generate pressed while they render cancels that render
    # (its videos would land on the new motion), and its message goes too.
    deps = demo.config["dependencies"]
    outs = lambda d: {demo.blocks[o].elem_id for o in d["outputs"]}
    render = [d["id"] for d in deps if "momadiff-mesh" in outs(d) and "momadiff-render-msg" in outs(d)]
    generate = next(d for d in deps if d.get("api_name") == "generate")
    # (Gradio adds the cancelling as a dependency of its own on the same trigger.)
    assert len(render) == 1 and any(d["types"]["cancel"] and d["targets"] == generate["targets"]
                                    and render[0] in d["cancels"] for d in deps)
    assert any(outs(d) == {"momadiff-render-msg"} and d["js"] and not d.get("backend_fn") for d in deps)
    assert not [b for b in demo.blocks.values() if type(b).__name__ == "Model3D"]


def test_handlers_show_no_toasts(tiny_pipeline, monkeypatch, tmp_path):
    """Messages go to one inline place; a toast covered Generate and repeated them."""
    import gradio as gr
    def toast(*a, **k):
        raise AssertionError("a handler showed a toast")
    monkeypatch.setattr(gr, "Warning", toast)
    monkeypatch.setattr(gr, "Info", toast)
    H.on_duration(3.0, _keys(10, 100))
    H.on_duration(3.0, "{oops")
    out = _run(tiny_pipeline, keys=_keys(10))
    H.pin_frame(out[-1][4], 5, "[]", 3.0)
    H.pin_frame(None, 5, "[]", 3.0)
    H.load_session(out[-1][4][2])
    _run(tiny_pipeline, seed=-5)


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
    joints, slider, preview, msg = H.load_bvh(str(path))
    assert joints.shape[1:] == (22, 3) and "Read walk.bvh" in msg and slider["maximum"] == len(joints) - 1
    assert preview.shape == (H.PREVIEW_SIZE, H.PREVIEW_SIZE, 3)        # frame 0 shown before taking it
    assert not np.array_equal(H.bvh_preview(joints, 10), H.bvh_preview(joints, 0))
    assert H.bvh_preview(joints, len(joints)) is None and H.bvh_preview(None, 0) is None
    new, msg = H.use_bvh_frame(joints, 12, "", _keys(5), 3.0)        # no selection: new key at frame 12
    assert [k["frame"] for k in json.loads(new)] == [5, 12] and "Added" in msg
    new, msg = H.use_bvh_frame(joints, 30, "5", _keys(5), 3.0)       # selection: its pose replaced
    keys = json.loads(new)
    assert [k["frame"] for k in keys] == [5] and np.allclose(keys[0]["joints"], joints[30], atol=1e-5)


def test_unreadable_bvh_gives_message(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    state, slider, preview, msg = H.load_bvh(str(bad))
    assert state is None and preview is None and msg.startswith("Could not read this BVH:") and "Traceback" not in msg
    new, msg = H.use_bvh_frame(None, 0, "", "[]", 3.0)
    assert _is_update(new) and "upload a BVH" in msg


# --- generate ----------------------------------------------------------------------------------

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
    ({"keys": _keys(10, 70)}, "outside the motion"),          # 3 s = 60 frames (the page leaves it out)
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


# --- the newcomer test's findings ---------------------------------------------------------------

def test_videos_on_request_mark_the_keys(tiny_pipeline, monkeypatch):
    """session.json stores the keys under "keyframes"; the mannequin video read "keys" (none)."""
    import momadiff.render.mesh_video as mv
    import momadiff.render.skeleton as sk
    seen = {}
    def spy(name):
        def render(joints, path, **kw):
            seen[name] = kw
            Path(path).write_bytes(b"x" * 2000)
            return Path(path)
        return render
    monkeypatch.setattr(mv, "render_mesh_video", spy("mesh"))
    monkeypatch.setattr(sk, "render_skeleton_video", spy("skeleton"))
    files = _run(tiny_pipeline, seconds=4.0, keys=_keys(10, 60))[-1][4]
    *_, (video, mesh, files_after, msg) = list(stream.render_files(files))
    assert list(seen["mesh"]["highlight_frames"]) == [10, 60] == list(seen["skeleton"]["highlight_frames"])
    assert mesh.endswith("mannequin.mp4") and "ready" in msg
    assert [Path(f).name for f in files_after] == ["motion.npy", "motion.bvh", "session.json", "skeleton.mp4",
                                                   "motion.glb", "mannequin.mp4"]


def test_restored_session_names_keys_past_its_end(tmp_path):
    doc = {"format": "momadiff-session", "version": 1, "text": "a person bows", "seconds": 2.0, "seed": 0,
           "keyframes": json.loads(_keys(5, 60))}
    path = tmp_path / "session.json"
    path.write_text(json.dumps(doc))
    out = H.load_session(str(path))
    assert [k["frame"] for k in json.loads(out[3])] == [5, 60]          # kept, as after a duration change
    assert "2 keys" in out[-1] and "frame 60" in out[-1] and "past the end of the 2 s motion" in out[-1]
    doc["keyframes"] = doc["keyframes"][:1]
    path.write_text(json.dumps(doc))
    assert "1 key." in H.load_session(str(path))[-1]


def test_pin_shows_the_pose_before_taking_it(tiny_pipeline):
    files = _run(tiny_pipeline)[-1][4]
    slider, preview = H.pin_range(files)
    assert slider["maximum"] == 59 and preview.shape == (H.PREVIEW_SIZE, H.PREVIEW_SIZE, 3)
    assert not np.array_equal(H.pin_preview(files, 40), preview)
    assert H.pin_preview(files, 60) is None and H.pin_preview(None, 3) is None and H.pin_preview(files, 2.5) is None


def test_unknown_bvh_skeleton_gets_guidance_a_user_can_follow(tmp_path):
    import re
    from momadiff.motion import bvh
    from momadiff.motion.retarget import FAMILIES
    from conftest import synthetic_walk
    smpl = tmp_path / "smpl.bvh"
    bvh.save(smpl, synthetic_walk(10))
    path = tmp_path / "robot.bvh"
    names = iter(range(100))
    path.write_text(re.sub(r"(ROOT|JOINT) \S+", lambda m: f"{m.group(1)} part{next(names)}", smpl.read_text()))
    state, _, _, msg = H.load_bvh(str(path))
    assert state is None and "name_map" not in msg and "robot.bvh" in msg
    assert "Mixamo" in msg and "Bandai" in msg and "CMU" in msg and "Rename the joints" in msg
    assert "part0, part1" in msg                             # what the file has, for comparison
    assert set(H.KNOWN_SKELETONS) == set(FAMILIES)          # every skeleton the reader knows is named
    # A skeleton that lacks a few joints: those are named in words.
    path.write_text(re.sub(r"JOINT (l|r)_knee", r"JOINT \1_shinbone", smpl.read_text()))
    msg = H.load_bvh(str(path))[3]
    assert "no joint the app can match to its left knee, right knee." in msg


def test_video_text_draws_non_ascii_and_counts_frames_from_0():
    from momadiff.render.overlay import counter_text, drawable, font
    assert drawable("Ein Mensch läuft – Ωμέγα") == "Ein Mensch läuft – Ωμέγα"   # DejaVu has these
    assert drawable("人が歩く") == "????"                                  # not an empty box per letter
    assert Path(font(20).path).name == "DejaVuSans.ttf"
    assert counter_text(0, 120) == "frame 0 of 0-119   0.00 s"


def test_counts_read_naturally():
    from momadiff.ui.wording import counted
    assert (counted(1, "key"), counted(2, "key"), counted(0, "stage")) == ("1 key", "2 keys", "0 stages")
