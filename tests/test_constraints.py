"""Constraints beyond whole poses: the representation, limb IK, the correction, the API and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import synthetic_walk
from momadiff import GenerationError, Keyframe
from momadiff import constraints as cons
from momadiff import correction, keyframes as kf
from momadiff.data.constraints import EVAL_KINDS, TRAIN_KINDS, draw, draw_eval
from momadiff.model.control import ControlEncoder, control_dim, control_features
from momadiff.model.transformer import TRANSFORMER_PRESETS, MaskedTransformer
from momadiff.motion import features, ik, skeleton

J = skeleton.JOINT_INDEX


pytestmark = pytest.mark.usefixtures("single_thread")


def walk(T: int = 60, seed: int = 0) -> np.ndarray:
    """A synthetic walk in the frame generation decodes into (features_to_joints)."""
    return features.features_to_joints(features.joints_to_features(synthetic_walk(T + 1, seed))).astype(np.float32)


# -- representation and training draws ----------------------------------------------------------
@pytest.mark.parametrize("kind", list(TRAIN_KINDS) + ["hands", "eval_feet"])
def test_drawn_constraints_are_met_by_their_own_motion(kind):
    j = walk()
    c = draw(j, np.random.default_rng(3), kind)
    assert (c.any() or c.heading_mask.any()) == (kind != "none")
    assert np.allclose(c.error(j), 0, atol=1e-6) and np.allclose(c.heading_error(j), 0, atol=1e-6)
    if kind == "path":
        assert not c.mask[:, 1:].any() and not c.mask[:, 0, 1].any()       # pelvis x and z only


def test_eval_kinds():
    j = walk(80)
    for kind in EVAL_KINDS:
        c = draw_eval(j, np.random.default_rng(0), kind)
        assert np.allclose(c.error(j), 0, atol=1e-6)
    path = draw_eval(j, np.random.default_rng(0), "path")
    assert list(np.flatnonzero(path.mask[:, 0, 0])) == list(range(0, 80, 5))


def test_control_features_layout():
    c = cons.Constraints.empty(7)
    c.set(5, J["r_wrist"], [0.4, 1.5, -2.0])
    c.set_heading(2, np.pi / 2)
    x = control_features(c.targets, c.mask, c.heading, c.heading_mask, down=2, num_latents=4)
    assert x.shape == (4, control_dim(2))
    per = x.reshape(8, -1)                          # frame 7 is the last latent's padding: empty
    assert per[7].sum() == 0 and np.count_nonzero(per[5]) == 3 + 3
    assert np.allclose(per[5, 21 * 3:21 * 3 + 3], [0.2, 1.5, -1.0])   # x and z over POS_SCALE
    assert np.allclose(per[2, -3:], [1.0, 0.0, 1.0], atol=1e-6)         # sin, cos, mask


def test_control_input_starts_at_zero_and_old_configs_load():
    cfg = TRANSFORMER_PRESETS["tiny"]
    torch.manual_seed(0)
    plain = MaskedTransformer(cfg).eval()
    with_ctl = MaskedTransformer(type(cfg)(**{**cfg.__dict__, "control_frames": 2})).eval()
    missing, unexpected = with_ctl.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("control_in.") for k in missing)
    g = torch.Generator().manual_seed(1)
    z, text = torch.randn(2, 6, cfg.latent_dim, generator=g), torch.randn(2, cfg.text_dim, generator=g)
    masked = torch.tensor([[True, False] * 3] * 2)
    ctl = torch.randn(2, 6, control_dim(2), generator=g)
    a = plain(z, masked, text)
    assert torch.equal(a, with_ctl(z, masked, text, control=ctl))      # zero-initialised projection
    assert torch.equal(a, plain(z, masked, text, control=ctl))         # a model without it ignores it
    enc = ControlEncoder(control_dim(2), 8)
    torch.nn.init.normal_(enc.out.weight)
    assert enc(ctl).abs().sum() > 0


# -- IK -------------------------------------------------------------------------------------------
def test_ik_hits_reachable_targets_and_keeps_bones():
    pose = walk()[10].astype(np.float64)
    bones = skeleton.bone_lengths(pose)
    targets = {J["r_wrist"]: pose[J["r_shoulder"]] + [-0.1, 0.3, 0.25],
               J["l_foot"]: pose[J["l_foot"]] + [0.05, 0.04, 0.1],
               J["l_elbow"]: pose[J["l_shoulder"]] + bones[J["l_elbow"]] * np.array([0.6, -0.6, 0.52]) / np.linalg.norm([0.6, -0.6, 0.52])}
    out, err = ik.solve(pose, targets)
    assert max(err.values()) < 1e-6
    out, err = ik.solve(pose, {J["head"]: pose[J["head"]] + [0.05, -0.1, 0.05]})   # a bow: up the spine
    assert err[J["head"]] < 1e-5
    assert np.abs(skeleton.bone_lengths(out) - bones).max() < 1e-9
    assert np.allclose(out[0], pose[0])                                 # the pelvis stays


def test_ik_out_of_reach_gives_the_closest_pose():
    pose = walk()[10].astype(np.float64)
    far = pose[J["r_shoulder"]] + [0.0, 0.0, 3.0]
    out, err = ik.solve(pose, {J["r_wrist"]: far})
    arm = np.linalg.norm(pose[J["r_wrist"]] - pose[J["r_elbow"]]) + np.linalg.norm(pose[J["r_elbow"]] - pose[J["r_shoulder"]])
    assert err[J["r_wrist"]] == pytest.approx(3.0 - arm, abs=1e-6)
    assert np.abs(skeleton.bone_lengths(out) - skeleton.bone_lengths(pose)).max() < 1e-9


# -- correction ------------------------------------------------------------------------------------
def test_correction_is_exact_smooth_and_keeps_other_constraints():
    j = walk(100, 1)
    goal = walk(100, 2)
    goal[:, :, 0] += 0.3 * np.sin(np.arange(100) / 20)[:, None]      # another walk, swaying sideways
    path = [cons.Waypoint(f, float(goal[f, 0, 0]), float(goal[f, 0, 2])) for f in range(0, 100, 4)]
    keys = [Keyframe(30, {"r_wrist": (goal[30, J["r_wrist"]] + [0, 0.1, 0.05]).tolist()}),
            Keyframe(31, {"l_ankle": goal[31, J["l_ankle"]].tolist()}),
            Keyframe(70, {"r_wrist": goal[70, J["r_wrist"]].tolist(), "l_foot": goal[70, J["l_foot"]].tolist()})]
    keys = kf.validate(keys, 100)
    c = cons.build(100, keys, path)
    out, warnings = correction.correct(j, keys, c)
    assert not warnings and c.error(out).max() < 1e-4
    # smooth: no frame-to-frame acceleration spike beyond the motion's own
    acc = lambda x: np.abs(np.diff(x, 2, axis=0)).max()
    assert acc(out) < 3 * acc(j) + 0.02
    # a target just out of reach: the closest motion, and a warning saying how far
    shoulder = out[50, J["r_shoulder"]]
    reach = [Keyframe(50, {"r_wrist": (shoulder + [0, 0.6, 0]).tolist()})]
    c2 = cons.build(100, reach)
    out2, warnings = correction.correct(j, reach, c2)
    assert len(warnings) == 1 and "r_wrist at frame 50" in warnings[0] and "cm" in warnings[0]


def test_whole_pose_keys_keep_their_correction():
    j, goal = walk(80, 1), walk(80, 2)
    keys = kf.validate([Keyframe(10, goal[30], True), Keyframe(50, goal[60])], 80)
    c = cons.build(80, keys)
    out, warnings = correction.correct(j, keys, c)
    assert not warnings and np.allclose(out[10], goal[30], atol=1e-4)
    assert correction.key_error(correction.apply(j, keys), keys).max() < 1e-4


# -- API -------------------------------------------------------------------------------------------
def test_generate_with_partial_keys_and_a_path(tiny_pipeline):
    path = [(f, 0.02 * f, 0.03 * f, 10.0) for f in range(0, 40, 2)]
    keys = [Keyframe(20, {"r_wrist": [0.3, 1.3, 0.8]}), Keyframe(35, {"l_ankle": [0.1, 0.1, 1.0]})]
    m = tiny_pipeline.generate("a person walks", seconds=2.0, seed=1, keyframes=keys, root_path=path)
    assert m.joints.shape == (40, 22, 3)
    c = cons.build(40, m.keyframes, m.root_path)
    err = c.error(m.joints)
    assert err.max() < 0.01 or m.warnings                          # met, or says how far off
    assert np.allclose(m.joints[path[3][0], 0, [0, 2]], path[3][1:3], atol=1e-4)
    assert np.allclose(np.degrees(skeleton.facing_angle(m.joints[[p[0] for p in path]])), 10.0, atol=0.1)
    stages = list(tiny_pipeline.iter_generate("a person walks", seconds=2.0, seed=1, keyframes=keys, root_path=path))
    assert np.array_equal(stages[-1].joints, m.joints)


def test_a_model_with_control_input_gets_it(tiny_model_dir, tmp_path):
    from momadiff import Pipeline
    pipe = Pipeline.from_pretrained(tiny_model_dir)
    cfg = pipe.transformer.config
    ctl = MaskedTransformer(type(cfg)(**{**cfg.__dict__, "control_frames": pipe.down}))
    ctl.load_state_dict(pipe.transformer.state_dict(), strict=False)
    torch.nn.init.normal_(ctl.control_in.out.weight, std=0.5)
    pipe.transformer = ctl.eval()
    kw = dict(seconds=2.0, seed=0, root_path=[(0, 0, 0), (39, 0.5, 1.5)])
    a = pipe.generate("walk", **kw)
    pipe.use_control_input = False
    b = pipe.generate("walk", **kw)
    assert not np.array_equal(a.stages[0].latents, b.stages[0].latents)
    for m in (a, b):
        assert np.allclose(m.joints[39, 0, [0, 2]], [0.5, 1.5], atol=1e-4)


BAD = [
    (dict(keyframes=[Keyframe(10, {"r_hand": [0, 1, 0]})]), "unknown joint name 'r_hand'"),
    (dict(keyframes=[Keyframe(10, {})]), "joints object is empty"),
    (dict(keyframes=[Keyframe(10, {"r_wrist": [3.0, 1.4, 0.0], "r_shoulder": [0.0, 1.4, 0.0]})]),
     "unreachable target: r_shoulder and r_wrist at frame 10 are 3.00 m apart"),
    (dict(keyframes=[Keyframe(10, {"r_wrist": [0, 1, 0]}), Keyframe(10, {"r_wrist": [0, 1.2, 0]})]),
     "two different targets for r_wrist at frame 10"),
    (dict(root_path=[(0, 0, 0), (10, 0, 8)]), "faster than a sprint"),
    (dict(keyframes=[Keyframe(10, {"r_wrist": [float("nan"), 1, 0]})]), "r_wrist has NaN or infinite values"),
    (dict(keyframes=[Keyframe(10, {"r_wrist": [1e9, 1, 0]})]), "positions are in metres"),
    (dict(root_path=[(0, 0, 0), (5, float("inf"), 0)]), "NaN or infinite"),
    (dict(root_path=[(0, 0, 0), (5, 1e7, 0)]), "positions are in metres"),
    (dict(keyframes=[Keyframe(60, {"r_wrist": [0, 1, 0]})]), "keyframe at frame 60 is outside the motion"),
    (dict(root_path=[(0, 0, 0), (45, 1, 1)]), "waypoint at frame 45 is outside the motion"),
    (dict(root_path=[(0, 0, 0), (5, 0.1, 0.1), (5, 0.2, 0.1)]), "two different root-path waypoints at frame 5"),
    (dict(root_path=[(0, 0)]), "a root-path waypoint must be"),
    (dict(keyframes=[Keyframe(10, {"r_wrist": [0, 5, 0]})]), "r_wrist at frame 10 is 5.00 m high"),
    (dict(keyframes=[Keyframe(10, {"pelvis": [0, 1, 0]})], root_path=[(10, 1, 0)]), "two different targets for pelvis"),
]


@pytest.mark.parametrize("kwargs,message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_clear_line(tiny_pipeline, kwargs, message):
    with pytest.raises(GenerationError) as e:
        tiny_pipeline.generate("a person walks", seconds=2.0, **kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_partial_keys_json_round_trip():
    data = [{"frame": 40, "joints": {"r_wrist": [0.1234567, 1.5, 0.2], "l_ankle": [0, 0.1, 0.3]}},
            {"frame": 12, "joints": skeleton.rest_pose().tolist(), "fix_root": True}]
    keys = kf.keyframes_from_json(json.dumps(data))
    assert keys[0].partial and not keys[1].partial
    again = kf.keyframes_from_json(json.dumps([k.to_dict() for k in keys]))
    assert [k.to_dict() for k in again] == [k.to_dict() for k in keys]
    assert again[0].to_dict()["joints"]["r_wrist"] == [0.12346, 1.5, 0.2]
    path = cons.parse_path(json.loads(json.dumps([[0, 0, 0], {"frame": 10, "x": 0.5, "z": 1, "heading": 45}])))
    assert [w.to_list() for w in path] == [[0, 0.0, 0.0], [10, 0.5, 1.0, 45.0]]
    assert [w.to_list() for w in cons.parse_path([w.to_list() for w in path])] == [w.to_list() for w in path]


# -- CLI, session, app handler ----------------------------------------------------------------------
def test_cli_takes_partial_keys_and_a_path(tiny_model_dir, tmp_path, capsys):
    from momadiff.__main__ import main
    (tmp_path / "keys.json").write_text(json.dumps([{"frame": 20, "joints": {"r_wrist": [0.2, 1.2, 0.7]}}]))
    (tmp_path / "path.json").write_text(json.dumps([[0, 0, 0], [39, 0.4, 1.6, 20]]))
    base = ["generate", "a person walks", "--seconds", "2", "--model", str(tiny_model_dir),
            "--keyframes", str(tmp_path / "keys.json")]
    assert main(base + ["--path", str(tmp_path / "path.json"), "--out", str(tmp_path / "out")]) == 0
    j = np.load(tmp_path / "out" / "motion.npy")
    assert np.allclose(j[39, 0, [0, 2]], [0.4, 1.6], atol=1e-4)
    assert np.linalg.norm(j[20, J["r_wrist"]] - [0.2, 1.2, 0.7]) < 0.01 or "r_wrist" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text(json.dumps([[0, 0, 0], [5, 9, 9]]))
    capsys.readouterr()
    assert main(base + ["--path", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the root path moves") and "\n" not in err


def test_session_round_trip_with_partial_keys_and_a_path(tiny_pipeline, tmp_path):
    from momadiff.ui import handlers as H
    from momadiff.ui import stream
    from momadiff.ui.session import read_session
    keys = json.dumps([{"frame": 12, "joints": {"l_ankle": [0.1123456, 0.1, 0.5], "r_wrist": [-0.2, 1.1, 0.6]}}])
    path = json.dumps([[0, 0, 0], [20, 0.3, 0.9, 15.123456], {"frame": 39, "x": 0.5, "z": 1.8}])
    out = list(stream.generate(tiny_pipeline, "a person walks", 2.0, 5, keys, 1.0, 2, 2, path))
    assert out[-1][2].startswith("**done:**"), out[-1][2]
    files = out[-1][4]
    session = json.loads(open(next(f for f in files if f.endswith("session.json"))).read())
    s = read_session(json.dumps(session))
    assert json.loads(s["keys_json"])[0]["joints"]["l_ankle"] == [0.11235, 0.1, 0.5]
    assert json.loads(s["root_path_json"]) == [[0, 0.0, 0.0], [20, 0.3, 0.9, 15.12346], [39, 0.5, 1.8]]
    again = list(stream.generate(tiny_pipeline, s["text"], s["seconds"], s["seed"], s["keys_json"], s["cfg_scale"],
                            s["iterations"], s["ddim_steps"], s["root_path_json"]))
    first = np.load(next(f for f in files if f.endswith("motion.npy")))
    second = np.load(next(f for f in again[-1][4] if f.endswith("motion.npy")))
    assert np.array_equal(first, second)
    # a session's root path is not dropped silently by the page's restore
    p = tmp_path / "session.json"
    p.write_text(json.dumps(session))
    assert "root path (3 waypoints) is not restored" in H.load_session(str(p))[-1]
    # bad path JSON: one message, no traceback
    bad = list(stream.generate(tiny_pipeline, "a person walks", 2.0, 5, "[]", 1.0, 2, 2, "[[0, 0]]"))
    assert len(bad) == 1 and "a root-path waypoint must be" in bad[0][2]


def test_a_target_beyond_the_arm_moves_the_body_toward_it():
    j = walk(80, 1)
    far = j[40, J["r_shoulder"]] + [0.0, -0.2, 0.75]        # 0.77 m ahead: the arm reaches 0.51
    keys = kf.validate([Keyframe(40, {"r_wrist": far.tolist()})], 80)
    out, warnings = correction.correct(j, keys, cons.build(80, keys))
    assert not warnings and np.linalg.norm(out[40, J["r_wrist"]] - far) < 1e-4
    assert 0.2 < out[40, 0, 2] - j[40, 0, 2] < correction.MAX_BODY_SHIFT + 1e-6 and out[40, 0, 1] <= j[40, 0, 1] + 1e-6
    assert np.allclose(out[0], j[0], atol=1e-6)                # far from the key nothing moves
    # at a root-path frame the body may not step sideways: the closest pose and a warning instead
    keys = kf.validate([Keyframe(40, {"r_wrist": far.tolist()})], 80)
    c = cons.build(80, keys, [cons.Waypoint(40, float(j[40, 0, 0]), float(j[40, 0, 2]))])
    out, warnings = correction.correct(j, keys, c)
    assert len(warnings) == 1 and "r_wrist at frame 40" in warnings[0]


@pytest.mark.parametrize("joints, message", [
    ({"r_wrist": "abc"}, "r_wrist must be [x, y, z] numbers"),
    ({"r_wrist": [1, 2]}, "r_wrist must be [x, y, z] numbers"),
    ({"r_wrist": [[1, 2, 3]]}, "r_wrist must be [x, y, z] numbers"),
    ({"r_wrist": [1e400, 0, 0]}, "r_wrist has NaN or infinite values"),
    ({"R_WRIST": [0, 1, 0]}, "unknown joint name 'R_WRIST'"),
    ({}, "the joints object is empty"),
])
def test_bad_partial_key_json_is_one_clear_line(joints, message):
    text = json.dumps([{"frame": 3, "joints": joints}]).replace("Infinity", "1e400")
    with pytest.raises(kf.KeyframeError) as e:
        kf.keyframes_from_json(text)
    assert message in str(e.value) and str(e.value).startswith("keyframe at frame 3") and "\n" not in str(e.value)


def test_a_kick_keeps_its_foot_high_and_a_whole_kick_pose_is_accepted():
    # A real kick lifts a foot 1.1 m: reachable standing on the other foot (refused before: the
    # height limit measured from the foot itself), and a whole fix_root pose is never judged by it.
    from momadiff.keyframes import Keyframe, validate
    c = cons.build(60, validate([Keyframe(40, {"r_foot": [0.3, 1.1, 0.6]})], 60))
    assert c.mask[40, cons.joint_index("r_foot")].all()
    with pytest.raises(cons.ConstraintError, match="out of reach"):
        cons.build(60, validate([Keyframe(40, {"r_foot": [0.3, 3.5, 0.6]})], 60))
