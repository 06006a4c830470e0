"""ASF/AMC reading: conventions, retargeting like BVH, malformed files, limits."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from momadiff.motion import asfamc, retarget, skeleton
from momadiff.motion.asfamc import ASFAMCError
from momadiff.motion.rotation import axis_angle_matrix
from motionfiles import BONES, CMU_UNIT, REST, amc_text, asf_text

J = skeleton.JOINT_INDEX


def _anim(frames, **kw):
    skel = asfamc.parse_asf(asf_text(**kw))
    values, _ = asfamc.parse_amc(amc_text(frames), skel)
    return asfamc.to_bvh_animation(skel, values, fps=120.0)


def test_parse_skeleton():
    skel = asfamc.parse_asf(asf_text())
    assert skel.bones[0].name == "root" and skel.parents[0] == -1
    assert len(skel.bones) == len(BONES) + 1
    assert skel.degrees and skel.length_unit == 0.45
    femur = skel.bones[skel.index("lfemur")]
    assert femur.dof == ["rx", "ry", "rz"] and femur.axis_order == "XYZ" and len(femur.limits) == 3
    assert skel.bones[skel.parents[skel.index("lfemur")]].name == "lhipjoint"
    # Parents come before children, as BVH needs.
    assert all(p < k for k, p in enumerate(skel.parents))


def test_rest_frame_retargets_to_the_canonical_body():
    anim = _anim([{}, {}, {}])
    out = retarget.retarget(anim, fps=120.0, convention=False)   # the pelvis convention aside
    assert not out.dropped_first_frame
    tol = {"spine1": 0.03, "spine2": 0.03, "spine3": 0.03, "l_collar": 0.05, "r_collar": 0.05}
    for n in skeleton.JOINT_NAMES:
        np.testing.assert_allclose(out.joints[0, J[n]], REST[n], atol=tol.get(n, 1e-4), err_msg=n)
    # CMU units (inches / 0.45) were detected: the body is its true size.
    assert retarget.detect_unit(retarget.apply_mapping(
        retarget.find_mapping(anim), anim.forward_kinematics()[0], {})) == pytest.approx(CMU_UNIT)


def test_dof_rotates_about_the_bone_axis_frame():
    """rx of a femur whose axis is (0, 0, 20) XYZ turns the leg about Rz(20) x, the bone's local
    x axis, not about the world x axis (C M C^-1)."""
    theta = 40.0
    anim = _anim([{}, {"lfemur": [theta, 0.0, 0.0]}])
    pos = anim.global_positions() * CMU_UNIT
    hip, knee, ankle = (pos[1, anim.index(n)] for n in ("lfemur", "ltibia", "lfoot"))
    axis = axis_angle_matrix("Z", np.deg2rad(20.0)) @ np.array([1.0, 0.0, 0.0])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(np.deg2rad(theta)) * k + (1 - np.cos(np.deg2rad(theta))) * k @ k
    rest_hip, rest_knee, rest_ankle = (pos[0, anim.index(n)] for n in ("lfemur", "ltibia", "lfoot"))
    np.testing.assert_allclose(knee - hip, rot @ (rest_knee - rest_hip), atol=1e-9)
    np.testing.assert_allclose(ankle - hip, rot @ (rest_ankle - rest_hip), atol=1e-9)
    # The world-x rotation would put the knee elsewhere: the test can tell the two apart.
    wrong = axis_angle_matrix("X", np.deg2rad(theta)) @ (rest_knee - rest_hip)
    assert np.linalg.norm(wrong - (knee - hip)) > 0.01


def test_dof_order_is_applied_first_listed_first():
    """dof "rx ry rz" is Rz @ Ry @ Rx (x applied first, about fixed axes)."""
    a = np.array([30.0, -50.0, 70.0])
    anim = _anim([{}, {"lowerback": list(a)}])
    pos = anim.global_positions()
    v0 = pos[0, anim.index("upperback")] - pos[0, anim.index("lowerback")]
    v1 = pos[1, anim.index("upperback")] - pos[1, anim.index("lowerback")]
    r = np.deg2rad(a)
    expected = axis_angle_matrix("Z", r[2]) @ axis_angle_matrix("Y", r[1]) @ axis_angle_matrix("X", r[0]) @ v0
    np.testing.assert_allclose(v1, expected, atol=1e-9)


def test_root_translation_and_file_roundtrip(tmp_path):
    root = [10.0, REST["pelvis"][1] / CMU_UNIT, -5.0, 0.0, 30.0, 0.0]
    (tmp_path / "07.asf").write_text(asf_text())
    (tmp_path / "07_02.amc").write_text(amc_text([{"root": root}] * 4))
    assert asfamc.find_asf(tmp_path / "07_02.amc") == tmp_path / "07.asf"
    res = retarget.load_motion(tmp_path / "07_02.amc", fps=120.0, convention=False)   # as BVH
    np.testing.assert_allclose(res.joints[:, J["pelvis"], [0, 2]],
                               np.tile([10.0 * CMU_UNIT, -5.0 * CMU_UNIT], (4, 1)), atol=1e-5)
    # Turned 30 degrees about Y: the facing follows.
    assert np.rad2deg(skeleton.facing_angle(res.joints[0])) == pytest.approx(30.0, abs=0.5)
    # load_bvh_joints takes .amc too, at 20 fps: 4 frames at 120 fps span 0.025 s -> 1 frame.
    assert retarget.load_bvh_joints(tmp_path / "07_02.amc").shape == (1, 22, 3)


def test_radians_header_converted(tmp_path):
    skel = asfamc.parse_asf(asf_text())
    deg = amc_text([{}, {"lfemur": [40.0, 0.0, 0.0]}])
    rad = deg.replace(":DEGREES", ":RADIANS").replace("lfemur 40.000000", f"lfemur {float(np.deg2rad(40.0))!r}")
    (tmp_path / "a.amc").write_text(deg)
    (tmp_path / "b.amc").write_text(rad)
    np.testing.assert_allclose(asfamc.load_amc(tmp_path / "a.amc", skel),
                               asfamc.load_amc(tmp_path / "b.amc", skel), atol=1e-9)


def _asf_error(text: str) -> str:
    with pytest.raises(ASFAMCError) as e:
        asfamc.parse_asf(text)
    return str(e.value)


def _amc_error(text: str) -> str:
    with pytest.raises(ASFAMCError) as e:
        asfamc.parse_amc(text, asfamc.parse_asf(asf_text()))
    return str(e.value)


def _line(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_asf_truncated():
    text = asf_text()
    cut = text[: text.index("name ltibia")]
    err = _asf_error(cut)
    assert err.startswith(f"line {len(cut.splitlines())}:") and "truncated" in err
    assert "no :hierarchy section" in _asf_error(text[: text.index(":hierarchy")])


def test_asf_bad_number_unknown_bone_and_dof():
    text = asf_text().replace("length 0.45", "length zero")
    assert _asf_error(text).startswith(f"line {_line(text, 'length zero')}:")
    text = asf_text().replace("direction", "direction 1 nan", 1)
    assert f"line {_line(text, 'direction 1 nan')}" in _asf_error(text)
    text = asf_text().replace("lfemur ltibia", "lfemur ltibia lknee")
    assert _asf_error(text) == f"line {_line(text, 'lfemur ltibia lknee')}: unknown bone 'lknee' in the hierarchy"
    text = asf_text().replace("dof rx ry rz", "dof tx ry rz", 1)
    assert "unsupported dof" in _asf_error(text) and f"line {_line(text, 'dof tx')}" in _asf_error(text)


def test_asf_too_many_bones_refused_fast():
    block = "  begin\n name b{k}\n direction 0 1 0\n length 1\n axis 0 0 0 XYZ\n  end\n"
    text = ":units\n length 1\n:bonedata\n" + "".join(block.format(k=k) for k in range(200_000))
    t = time.perf_counter()
    assert "more than" in _asf_error(text)
    assert time.perf_counter() - t < 2.0


def test_amc_truncated_bad_numbers_unknown_bones():
    text = amc_text([{}, {}])
    cut = text[: text.rindex("rtibia")] + "rtibia\n"
    err = _amc_error(cut)
    assert err.startswith(f"line {len(cut.splitlines())}:") and "needs 1 values, found 0" in err
    cut = text[: text.rindex("ltibia")]
    assert "lacks bone(s)" in _amc_error(cut)
    bad = text.replace("ltibia 0.000000", "ltibia 0.0.0", 1)
    assert _amc_error(bad) == f"line {_line(bad, 'ltibia 0.0.0')}: '0.0.0' is not a number"
    bad = text.replace("ltibia 0.000000", "ltibia inf", 1)
    assert "finite" in _amc_error(bad)
    bad = text.replace("ltibia 0.000000", "lknee 0.000000", 1)
    assert _amc_error(bad).startswith(f"line {_line(bad, 'lknee')}: unknown bone 'lknee'")
    bad = text.replace("\n2\n", "\n5\n")
    assert "frame 5 follows frame 1" in _amc_error(bad)
    assert "no frames" in _amc_error(":FULLY-SPECIFIED\n:DEGREES\n")


def test_amc_huge_frame_numbers_allocate_nothing():
    text = amc_text([{}, {}], first=999_999_999_998)
    values, _ = asfamc.parse_amc(text, asfamc.parse_asf(asf_text()))
    assert values.shape[0] == 2
    assert "before the first frame number" in _amc_error(amc_text([{}]).replace("\n1\n", "\n1234567890123\n"))


def test_file_limits_and_binary(tmp_path, monkeypatch):
    (tmp_path / "s.asf").write_text(asf_text())
    monkeypatch.setattr(asfamc, "MAX_FILE_BYTES", 100)
    with pytest.raises(ASFAMCError, match="limit"):
        asfamc.load_asf(tmp_path / "s.asf")
    monkeypatch.undo()
    (tmp_path / "b.asf").write_bytes(b":units\n\x00\x01")
    with pytest.raises(ASFAMCError, match="line 2: NUL"):
        asfamc.load_asf(tmp_path / "b.asf")
    with pytest.raises(ASFAMCError, match="cannot read"):
        asfamc.load_asf(tmp_path / "missing.asf")
    (tmp_path / "x_01.amc").write_text(amc_text([{}]))
    with pytest.raises(ASFAMCError, match="no skeleton file"):
        asfamc.find_asf(tmp_path / "x_01.amc")


def test_real_cmu_asf_amc_if_present():
    import glob
    files = sorted(glob.glob("data/raw/cmu-mocap-subset/asfamc/*/*.amc"))
    if not files:
        pytest.skip("no CMU data here")
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no reference pose in the original files
        j = retarget.load_bvh_joints(files[0])
    lengths = skeleton.bone_lengths(j).mean(0)
    assert 0.3 < lengths[J["l_knee"]] < 0.55 and 0.3 < lengths[J["l_ankle"]] < 0.55


def test_evaluate_bvh_dir_reads_amc_too(tmp_path):
    from momadiff.evaluate.benchmark import load_bvh_folder
    from motionfiles import walk_bvh
    (tmp_path / "07").mkdir()
    (tmp_path / "07" / "07.asf").write_text(asf_text())
    (tmp_path / "07" / "07_01.amc").write_text(amc_text([{}] * 30))
    walk_bvh(tmp_path / "walk.bvh", seconds=2.0, fps=30.0, reference_pose=True)
    (tmp_path / "broken.bvh").write_text("not a bvh file")
    motions, skipped = load_bvh_folder(tmp_path)
    assert skipped == 1 and sorted(len(m) for m in motions) == [5, 41]


def test_limits_parsed_and_checked():
    text = asf_text().replace("limits (-180.0 180.0)", "limits (-inf inf)", 1)
    femur = asfamc.parse_asf(text).bones[1:]
    assert any(b.limits and b.limits[0] == (float("-inf"), float("inf")) for b in femur)
    bad = asf_text().replace("limits (-180.0 180.0)", "limits (-180.0 x)", 1)
    assert _asf_error(bad).startswith(f"line {_line(bad, 'limits (-180.0 x)')}: a limit is (min max) numbers")
