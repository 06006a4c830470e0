"""The studio's Python side on the tiny model: the view's messages (joints as numbers per stage),
the streamed generate, stages fetched after the stream skipped them, videos on request, the order
comparison, the static assets and 'How it works'."""
from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from momadiff.correction import key_error  # noqa: E402
from momadiff.sampler import ORDERS  # noqa: E402
from momadiff.ui import keys as K  # noqa: E402
from momadiff.ui import stream, viewdata  # noqa: E402
from momadiff.ui.compare import compare_orders  # noqa: E402
from momadiff.ui.poses import load_poses  # noqa: E402
from momadiff.ui.studio import ASSETS, static_paths, view_kwargs  # noqa: E402


@pytest.fixture(autouse=True)
def _outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("MOMADIFF_OUTPUT_DIR", str(tmp_path / "outputs"))


def _keys(*frames: int) -> str:
    pose = load_poses()[0]["joints"]
    return K.keys_json([K.key_dict(f, pose, False, "standing") for f in frames])


def test_joints_travel_as_millimetres_and_come_back_within_half_a_millimetre():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(7, 22, 3)).astype(np.float32)
    mm = viewdata.joints_mm(joints)
    assert len(mm) == 7 * 22 * 3 and all(isinstance(v, int) for v in mm[:5])
    back = np.asarray(mm, dtype=np.float64).reshape(7, 22, 3) / 1000
    assert np.abs(back - joints).max() <= 0.0005 + 1e-9
    with pytest.raises(ValueError, match=r"\[T, 22, 3\]"):
        viewdata.joints_mm(np.zeros((4, 21, 3)))
    with pytest.raises(ValueError, match="finite"):
        viewdata.joints_mm(np.full((2, 22, 3), np.nan))


def test_stream_yields_one_view_message_per_stage_then_the_files(tiny_pipeline):
    out = list(stream.generate(tiny_pipeline, "a person walks", 3.0, 5, _keys(10, 40), None, None, None))
    stage_msgs = [json.loads(o[1]) for o in out[:-1]]
    assert len(stage_msgs) == tiny_pipeline.sampler.iterations
    run = stage_msgs[0]["run"]
    assert all(m["run"] == run for m in stage_msgs)
    n_lat = -(-60 // tiny_pipeline.down)
    for i, m in enumerate(stage_msgs, start=1):
        st = m["stage"]
        assert st["index"] == i and st["count"] == len(stage_msgs)
        assert len(st["kinds"]) == n_lat and set(st["kinds"]) <= set("uenm")
        assert len(st["joints"]) == 60 * 22 * 3
        assert [k["frame"] for k in m["keys"]] == [10, 40]
    # Keys' latents are 'u' from the start; masked latents only shrink; the last stage has none.
    assert stage_msgs[0]["stage"]["kinds"].count("u") == 2
    masked = [m["stage"]["kinds"].count("m") for m in stage_msgs]
    assert masked == sorted(masked, reverse=True) and masked[-1] == 0 and masked[0] > 0
    bar, done, status, video, files, mesh = out[-1]
    done = json.loads(done)
    assert done["run"] == run and done["done"] and done["count"] == len(stage_msgs) and "stage" not in done
    assert "done" in status and "keys matched within" in status
    assert [os.path.basename(f) for f in files] == ["motion.npy", "motion.bvh", "session.json"]
    assert video is None and mesh is None          # a new motion clears the old videos
    joints = np.load(files[0])
    last = np.asarray(stage_msgs[-1]["stage"]["joints"]).reshape(60, 22, 3) / 1000
    assert np.abs(joints - last).max() <= 0.0005 + 1e-6
    assert key_error(joints, K.to_keyframes(K.parse_keys(_keys(10, 40)))).max() < 0.01
    # Any stage can be fetched again by run and index (the stream may have skipped it).
    assert json.loads(stream.view_stage(f"{run}:2"))["stage"]["index"] == 2
    assert stream.view_stage(f"{run}:99") == "" and stream.view_stage("nonsense") == ""


def test_stream_bad_input_is_one_message_not_an_exception(tiny_pipeline):
    out = list(stream.generate(tiny_pipeline, "", 3.0, 0, "[]", None, None, None))
    assert len(out) == 1 and out[0][2].startswith("⚠️") and "describe" in out[0][2]
    out = list(stream.generate(tiny_pipeline, "walk", 3.0, 0, "{broken", None, None, None))
    assert len(out) == 1 and "JSON" in out[0][2]


def test_old_runs_are_forgotten():
    for i in range(stream.KEEP_RUNS + 2):
        stream._remember(f"run{i}", 1, "x")
    assert stream.view_stage("run0:1") == "" and stream.view_stage(f"run{stream.KEEP_RUNS + 1}:1") == "x"


def test_videos_are_rendered_on_request(tiny_pipeline):
    assert next(stream.render_files(None))[-1].startswith("Generate a motion first")
    files = list(stream.generate(tiny_pipeline, "a person walks", 2.0, 0, _keys(10), None, None, None))[-1][4]
    first = next(stream.render_files(files))      # the skeleton video comes first, alone
    video, mesh, _, msg = first
    assert video.endswith("skeleton.mp4") and os.path.getsize(video) > 1000 and mesh is None
    assert "Skeleton video" in msg


def test_compare_orders_same_request_three_orders(tiny_pipeline):
    msgs = [json.loads(m) for m in compare_orders(tiny_pipeline, "a person walks", 3.0, 2, _keys(30), None, 4, None)]
    assert [len(m["orders"]) for m in msgs] == [1, 2, 3]         # each message has all orders so far
    assert [o["order"] for o in msgs[-1]["orders"]] == list(ORDERS)
    assert len({m["run"] for m in msgs}) == 1 and all(m["total"] == 3 for m in msgs)
    firsts = []
    for o in msgs[-1]["orders"]:
        assert len(o["stages"]) == 4 and o["jerk"] >= 0 and o["seconds"] > 0
        assert o["key_error_cm"] is not None and o["key_error_cm"] < 1.0
        firsts.append(o["stages"][0]["kinds"])
    assert firsts[2].startswith("n")                    # left to right fills latent 0 first
    assert len(set(firsts)) == 3                         # three different first stages
    bad = [json.loads(m) for m in compare_orders(tiny_pipeline, "a person walks", 99.0, 2, "[]", None, 4, None)]
    assert len(bad) == 1 and "duration" in bad[0]["error"]


def test_static_assets_are_served_from_the_studio_folders():
    kw = view_kwargs()
    paths = static_paths()
    assert kw["base"].startswith("gradio_api/file=") and kw["base"].endswith("/")
    for name in ("view.js", "meshes.js", "rig.js", "posing.js", "orbit.js", "compare.js", "carrier.js", "vendor/three/three.module.js",
                 "vendor/three/three.core.js", "vendor/three/LICENSE"):
        assert (paths[0] / name).is_file(), name
    assert "${" not in kw["html_template"]          # Gradio fills ${...} in templates


def test_bundled_mannequin_numbers_match_the_mannequin():
    from momadiff.render.mannequin import Mannequin
    data = json.loads((ASSETS / "mannequin.json").read_text())
    man = Mannequin.build()
    pos = np.frombuffer(base64.b64decode(data["positions"]), dtype="<f4").reshape(-1, 3)
    idx = np.frombuffer(base64.b64decode(data["index"]), dtype="<u2").reshape(-1, 3)
    sj = np.frombuffer(base64.b64decode(data["skin_index"]), dtype="u1").reshape(-1, 4)
    sw = np.frombuffer(base64.b64decode(data["skin_weight"]), dtype="<f4").reshape(-1, 4)
    assert np.allclose(pos, man.vertices, atol=1e-6) and (idx == man.faces).all()
    assert sj.max() < 22 and np.allclose(sw.sum(1), 1, atol=1e-5)
    assert np.allclose(data["rest_joints"], man.rest_joints, atol=1e-4)


def test_example_motion_is_a_view_message():
    m = json.loads((ASSETS / "example.json").read_text())
    assert m["done"] and m["stage"]["count"] == 1 and m["frames"] * 66 == len(m["stage"]["joints"])
    assert (ASSETS / "example.json").stat().st_size < 100_000


def test_how_it_works_counts_the_stages_of_64_iterations(tiny_pipeline):
    from apphelpers import load_app_module
    text = load_app_module().how_it_works(tiny_pipeline)
    import re
    assert "interpolation" in text
    n = -(-120 // tiny_pipeline.down)
    stages = int(re.search(r"64 iterations give\s+(\d+) stages", text).group(1))
    assert 1 <= stages <= n
