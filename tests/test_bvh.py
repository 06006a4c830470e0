"""BVH reading (real-world syntax, malformed input, limits) and writing."""
from __future__ import annotations

import time

import numpy as np
import pytest

from momadiff.motion import bvh, kinematics, skeleton
from momadiff.motion.bvh import BVHError
from momadiff.motion.rotation import euler_to_matrix

# A tiny skeleton: (name, parent, offset, channels, end-site offset or None), depth-first order.
POS = "Xposition Yposition Zposition"
ZXY = "Zrotation Xrotation Yrotation"
TINY = [
    ("Hips", -1, (0.0, 0.0, 0.0), f"{POS} {ZXY}", None),
    ("Spine", 0, (0.0, 10.0, 0.0), ZXY, None),
    ("Head", 1, (0.0, 20.0, 0.0), ZXY, (0.0, 5.0, 0.0)),
    ("Leg", 0, (5.0, -10.0, 0.0), "Xrotation Yrotation Zrotation", (0.0, -40.0, 0.0)),
]


def bvh_text(joints=TINY, motion=None, frame_time="0.0333333", eol="\n", indent="  ",
             frames: int | None = None) -> str:
    """BVH text for a joint list like TINY; `motion` rows default to two frames of zeros."""
    n_ch = sum(len(j[3].split()) for j in joints)
    if motion is None:
        motion = np.zeros((2, n_ch))
    kids = {i: [k for k, j in enumerate(joints) if j[1] == i] for i in range(len(joints))}
    out = ["HIERARCHY"]
    stack = [(i, 0, False) for i, j in enumerate(joints) if j[1] < 0][::-1]
    while stack:
        i, depth, closing = stack.pop()
        pad = indent * depth
        if closing:
            out.append(pad + "}")
            continue
        name, parent, off, chans, end = joints[i]
        out += [f"{pad}{'ROOT' if parent < 0 else 'JOINT'} {name}", pad + "{",
                f"{pad}{indent}OFFSET {off[0]} {off[1]} {off[2]}"]
        if chans:
            out.append(f"{pad}{indent}CHANNELS {len(chans.split())} {chans}")
        if end is not None:
            out += [f"{pad}{indent}End Site", f"{pad}{indent}{{",
                    f"{pad}{indent * 2}OFFSET {end[0]} {end[1]} {end[2]}", f"{pad}{indent}}}"]
        stack.append((i, depth, True))
        stack += [(k, depth + 1, False) for k in reversed(kids[i])]
    out += ["MOTION", f"Frames: {len(motion) if frames is None else frames}",
            f"Frame Time: {frame_time}"]
    out += [" ".join(repr(float(v)) for v in row) for row in motion]
    return eol.join(out) + eol


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing needle."""
    for i, line in enumerate(text.splitlines()):
        if needle in line:
            return i + 1
    raise AssertionError(needle)


# ---------------------------------------------------------------------------------------------
# Parsing well-formed files
# ---------------------------------------------------------------------------------------------

def test_parse_structure():
    a = bvh.loads(bvh_text())
    assert a.names == ["Hips", "Spine", "Head", "Leg"]
    assert a.parents == [-1, 0, 1, 0]
    np.testing.assert_allclose(a.offsets[3], [5, -10, 0])
    assert a.channels[0] == POS.split() + ZXY.split()
    assert a.rotation_orders == ["ZXY", "ZXY", "ZXY", "XYZ"]
    assert a.channel_start == [0, 6, 9, 12]
    assert a.motion.shape == (2, 15) and a.num_frames == 2
    assert a.frame_time == pytest.approx(1 / 30, rel=1e-5)
    assert set(a.end_sites) == {2, 3}
    np.testing.assert_allclose(a.end_sites[3], [0, -40, 0])


def test_fk_matches_channel_order_semantics():
    rng = np.random.default_rng(0)
    motion = rng.uniform(-90, 90, (5, 15))
    a = bvh.loads(bvh_text(motion=motion))
    pos, rot = a.forward_kinematics()
    r_hips = euler_to_matrix(motion[:, 3:6], "ZXY")
    r_spine = r_hips @ euler_to_matrix(motion[:, 6:9], "ZXY")
    r_leg = r_hips @ euler_to_matrix(motion[:, 12:15], "XYZ")
    np.testing.assert_allclose(pos[:, 0], motion[:, :3])
    np.testing.assert_allclose(pos[:, 1], motion[:, :3] + r_hips @ [0, 10, 0], atol=1e-9)
    np.testing.assert_allclose(pos[:, 2], pos[:, 1] + r_spine @ [0, 20, 0], atol=1e-9)
    np.testing.assert_allclose(rot[:, 3], r_leg, atol=1e-12)
    ends = a.end_site_positions()
    np.testing.assert_allclose(ends[3], pos[:, 3] + r_leg @ [0, -40, 0], atol=1e-9)


def test_known_rotation():
    motion = np.zeros((1, 15))
    motion[0, :3] = [1, 2, 3]
    motion[0, 5] = 90.0   # Hips Yrotation: +X goes to -Z
    joints = [("Hips", -1, (0, 0, 0), f"{POS} {ZXY}", None),
              ("Spine", 0, (0, 10, 0), ZXY, None), ("Head", 1, (0, 20, 0), ZXY, None),
              ("Arm", 0, (10, 0, 0), ZXY, None)]
    pos = bvh.loads(bvh_text(joints=joints, motion=motion)).global_positions()
    np.testing.assert_allclose(pos[0, 3], [1, 2, -7], atol=1e-9)


def test_positions_after_rotations_and_on_child_joints():
    """Channel order is free; position channels on any joint replace its OFFSET."""
    rng = np.random.default_rng(1)
    motion = rng.uniform(-45, 45, (3, 15))
    ref = bvh.loads(bvh_text(motion=motion)).global_positions()
    reordered = [("Hips", -1, (0, 0, 0), f"{ZXY} {POS}", None)] + TINY[1:]
    m2 = np.concatenate([motion[:, 3:6], motion[:, :3], motion[:, 6:]], axis=1)
    np.testing.assert_allclose(bvh.loads(bvh_text(reordered, m2)).global_positions(), ref)

    six = TINY[:1] + [("Spine", 0, (0.0, 10.0, 0.0), f"{ZXY} {POS}", None)] + TINY[2:]
    m3 = np.concatenate([motion[:, :9], np.tile([1.0, 2.0, 3.0], (3, 1)), motion[:, 9:]], axis=1)
    a = bvh.loads(bvh_text(six, m3))
    pos, rot = a.forward_kinematics()
    np.testing.assert_allclose(pos[:, 1], pos[:, 0] + rot[:, 0] @ [1.0, 2.0, 3.0], atol=1e-9)


def test_partial_and_zero_channels():
    joints = [("Root", -1, (1, 2, 3), "Yposition Yrotation", None),
              ("Child", 0, (0, 1, 0), "", (0, 1, 0))]
    a = bvh.loads(bvh_text(joints, np.array([[5.0, 90.0]])))
    pos = a.global_positions()
    np.testing.assert_allclose(pos[0, 0], [1, 5, 3])
    np.testing.assert_allclose(pos[0, 1], [1, 6, 3])
    assert a.channels[1] == []


def test_crlf_tabs_spellings_and_layout():
    text = bvh_text(eol="\r\n", indent="\t")
    text = text.replace("Frame Time:", "Frame   Time :").replace("Frames:", "FRAMES:")
    text = text.replace("ROOT Hips\r\n{", "ROOT   Hips {").replace("OFFSET", "OFFSET\t ")
    text = "\ufeff" + text.replace("Zrotation", "zrotation") + "\r\n\r\n"
    a = bvh.loads(text.encode("utf-8"))
    assert a.names == ["Hips", "Spine", "Head", "Leg"]
    assert a.channels[1] == ["Zrotation", "Xrotation", "Yrotation"]
    assert a.motion.shape == (2, 15)
    other = bvh.loads(text.replace("Frame   Time :", "FrameTime:"))
    assert other.frame_time == pytest.approx(0.0333333)


def test_joint_names_with_spaces_and_namespaces():
    joints = [("mixamorig:Hips", -1, (0, 0, 0), f"{POS} {ZXY}", None),
              ("Bip01 L Thigh", 0, (0, -1, 0), ZXY, (0, -1, 0))]
    assert bvh.loads(bvh_text(joints)).names == ["mixamorig:Hips", "Bip01 L Thigh"]


def test_zero_frames():
    a = bvh.loads(bvh_text(motion=np.zeros((0, 15))))
    assert a.motion.shape == (0, 15)


def test_load_from_path(tmp_path):
    p = tmp_path / "a.bvh"
    p.write_bytes(bvh_text(eol="\r\n").encode())
    assert bvh.load(p).names[0] == "Hips"


# ---------------------------------------------------------------------------------------------
# Malformed input: a clear BVHError, with the line number where one applies
# ---------------------------------------------------------------------------------------------

GOOD = bvh_text(motion=np.arange(30, dtype=float).reshape(2, 15))


def _err(text: str | bytes) -> str:
    with pytest.raises(BVHError) as e:
        bvh.loads(text)
    return str(e.value)


def test_empty():
    assert "empty" in _err("")
    assert "empty" in _err(b"  \n\t\r\n")


def test_not_a_bvh():
    msg = _err("hello world\n1 2 3\n")
    assert "line 1" in msg and "HIERARCHY" in msg


def test_binary_garbage():
    rng = np.random.default_rng(0)
    junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes() + b"\x00"
    assert "binary" in _err(junk)
    assert "binary" in _err(GOOD.replace("Spine", "Sp\x00ine"))


def test_truncated_hierarchy():
    text = GOOD[:GOOD.index("JOINT Leg")]
    msg = _err(text)
    assert "end of file" in msg and f"line {len(text.splitlines())}" in msg


def test_truncated_motion_line():
    text = GOOD[:-10]
    msg = _err(text)
    assert f"line {len(text.splitlines())}" in msg and "expected 15 values" in msg
    assert "truncated" in msg


def test_wrong_value_count():
    lines = GOOD.splitlines()
    lines[-2] += " 7.0"
    msg = _err("\n".join(lines))
    assert f"line {len(lines) - 1}" in msg and "found 16" in msg


def test_non_numeric_value():
    lines = GOOD.splitlines()
    lines[-1] = lines[-1].replace("16.0", "abc")
    msg = _err("\n".join(lines))
    assert f"line {len(lines)}" in msg and "abc" in msg


def test_missing_motion():
    text = GOOD[:GOOD.index("MOTION")] + GOOD[GOOD.index("Frames"):]
    msg = _err(text)
    assert "MOTION" in msg and f"line {line_of(text, 'Frames')}" in msg
    assert "MOTION" in _err(GOOD[:GOOD.index("MOTION")])


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_motion(bad):
    lines = GOOD.splitlines()
    lines[-1] = lines[-1].replace("20.0", bad)
    msg = _err("\n".join(lines))
    assert f"line {len(lines)}" in msg and "finite" in msg


def test_non_finite_offset():
    text = GOOD.replace("OFFSET 5.0 -10.0 0.0", "OFFSET 5.0 nan 0.0")
    assert f"line {line_of(text, 'nan')}" in _err(text)


def test_unbalanced_braces():
    # One '}' too few: MOTION arrives with a joint still open.
    i = GOOD.rindex("}")
    msg = _err(GOOD[:i] + GOOD[i + 1:])
    assert "unbalanced" in msg and "line" in msg
    # One '}' too many.
    text = GOOD.replace("MOTION", "}\nMOTION")
    msg = _err(text)
    assert "unbalanced" in msg and f"line {line_of(text, 'MOTION') - 1}" in msg
    # A stray '{'.
    text = GOOD.replace("OFFSET 0.0 20.0", "{ OFFSET 0.0 20.0")
    assert f"line {line_of(text, '{ OFFSET')}" in _err(text)


def test_unknown_channel():
    text = GOOD.replace("Xrotation Yrotation Zrotation", "Xrotation Wrotation Zrotation")
    msg = _err(text)
    assert "Wrotation" in msg and f"line {line_of(text, 'Wrotation')}" in msg


def test_frame_count_mismatch():
    more = GOOD.replace("Frames: 2", "Frames: 1")
    msg = _err(more)
    assert "mismatch" in msg and "Frames: 1" in msg and f"line {len(more.splitlines())}" in msg
    fewer = GOOD.replace("Frames: 2", "Frames: 5")
    msg = _err(fewer)
    assert "mismatch" in msg and "Frames: 5" in msg and "only 2" in msg
    assert "whole number" in _err(GOOD.replace("Frames: 2", "Frames: 2.5"))
    assert "positive" in _err(GOOD.replace("Frame Time: 0.0333333", "Frame Time: 0"))


def test_file_size_limit(tmp_path):
    """A 2 GB (sparse) file is refused from its size alone, without reading it."""
    p = tmp_path / "huge.bvh"
    with open(p, "wb") as f:
        f.truncate(2 * 1024 ** 3)
    t = time.perf_counter()
    with pytest.raises(BVHError, match="limit"):
        bvh.load(p)
    assert time.perf_counter() - t < 1.0


def test_missing_file(tmp_path):
    with pytest.raises(BVHError, match="cannot read"):
        bvh.load(tmp_path / "nope.bvh")


def _deep_chain(depth: int) -> str:
    out = ["HIERARCHY"]
    for i in range(depth):
        out += [f"{'ROOT' if i == 0 else 'JOINT'} j{i}", "{", "OFFSET 0 1 0",
                f"CHANNELS {6 if i == 0 else 3} " + (f"{POS} " if i == 0 else "") + ZXY]
    out += ["}"] * depth
    n_ch = 3 * depth + 3
    out += ["MOTION", "Frames: 1", "Frame Time: 0.05", " ".join(["0"] * n_ch)]
    return "\n".join(out)


def test_deep_hierarchy_refused_fast():
    text = _deep_chain(10_000)
    t = time.perf_counter()
    msg = _err(text)
    assert time.perf_counter() - t < 2.0
    assert f"more than {bvh.MAX_JOINTS} joints" in msg
    assert f"line {line_of(text, f'JOINT j{bvh.MAX_JOINTS}')}" in msg


def test_deep_hierarchy_under_limit_parses():
    a = bvh.loads(_deep_chain(bvh.MAX_JOINTS))   # far deeper than Python's recursion limit allows
    assert len(a.names) == bvh.MAX_JOINTS and a.parents[-1] == bvh.MAX_JOINTS - 2
    assert a.global_positions()[0, -1, 1] == pytest.approx(bvh.MAX_JOINTS - 1)


def test_large_motion_parses_fast():
    """100k frames of a 22-joint, 6-channel skeleton with 4 decimals (~120 MB of text, the size
    of a Bandai file that long) parse in a couple of seconds."""
    joints = [("J0", -1, (0, 0, 0), f"{POS} {ZXY}", None)]
    joints += [(f"J{i}", i - 1, (0, 1, 0), f"{POS} {ZXY}", None) for i in range(1, 22)]
    values = np.round(np.random.default_rng(0).uniform(-180, 180, (1000, 132)), 4)
    block = bvh_text(joints, values)
    head, rows = block.split("Frame Time: 0.0333333\n")
    text = head.replace("Frames: 1000", "Frames: 100000") + "Frame Time: 0.0333333\n" + rows * 100
    t = time.perf_counter()
    a = bvh.loads(text)
    elapsed = time.perf_counter() - t
    assert a.motion.shape == (100_000, 132)
    assert elapsed < 8.0, elapsed


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _motion(t: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = skeleton.rest_pose().astype(np.float64)
    wobble = rng.normal(0, 0.02, (t, 22, 3)).cumsum(0) * 0.2
    return base + wobble + np.linspace([0, 0, 0], [1, 0, 2], t)[:, None]


def test_save_format(tmp_path):
    joints = _motion()
    p = tmp_path / "out.bvh"
    bvh.save(p, joints, fps=20)
    text = p.read_text()
    assert text.startswith("HIERARCHY\nROOT pelvis\n{\n\tOFFSET")
    assert "\r" not in text and "Frame Time: 0.05000000" in text and "Frames: 30" in text
    a = bvh.load(p)
    assert a.names[0] == "pelvis" and sorted(a.names) == sorted(skeleton.JOINT_NAMES)
    assert all(ch == list(bvh.WRITE_CHANNELS) for ch in a.channels)
    assert {a.names[j] for j in a.end_sites} == {"head", "l_foot", "r_foot", "l_wrist", "r_wrist"}
    assert len(text.split("MOTION")[1].strip().splitlines()) == 2 + 30   # one line per frame
    # Centimetres: the joints come back x100, in the file's own joint order.
    pos = a.global_positions() / 100.0
    order = [skeleton.JOINT_INDEX[n] for n in a.names]
    np.testing.assert_allclose(pos, joints[:, order], atol=1e-6)


def test_save_rotations_alone_pose_a_rigid_skeleton():
    """With rigid bones, the rotations (no position channels) already reproduce the motion, so
    the armature a viewer builds from OFFSETs + rotations looks right."""
    joints = _motion()
    # Rigid bones in canonical directions, posed by the solved rotations themselves.
    offsets = kinematics.offsets_for(joints)
    q, root = kinematics.solve_rotations(joints, offsets)
    rigid = kinematics.forward(q, root, offsets)
    a = bvh.loads(bvh.dumps(rigid))
    for j, start in enumerate(a.channel_start):
        if a.parents[j] >= 0:
            a.motion[:, start:start + 3] = a.offsets[j]
    order = [skeleton.JOINT_INDEX[n] for n in a.names]
    np.testing.assert_allclose(a.global_positions() / 100.0, rigid[:, order], atol=1e-5)


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        bvh.save(tmp_path / "x.bvh", np.zeros((5, 21, 3)))
    bad = _motion()
    bad[3, 4, 1] = np.nan
    with pytest.raises(ValueError):
        bvh.save(tmp_path / "x.bvh", bad)
    with pytest.raises(ValueError):
        bvh.save(tmp_path / "x.bvh", _motion(), names=["a"] * 21 + ["b c"])
