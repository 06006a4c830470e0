"""Retargeting named skeletons onto the 22-joint layout, units, axes, and the BVH round trip."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from momadiff.motion import bvh, kinematics, retarget, skeleton
from momadiff.motion.retarget import RetargetError
from momadiff.motion.rotation import euler_to_matrix, matrix_to_euler, matrix_to_quat

J = skeleton.JOINT_INDEX
REST = {n: p.astype(np.float64) for n, p in zip(skeleton.JOINT_NAMES, skeleton.rest_pose())}
ZXY = "Zrotation Xrotation Yrotation"


def _mid(a: str, b: str, t: float = 0.5) -> np.ndarray:
    return REST[a] + t * (REST[b] - REST[a])


def _sides(rows):
    """Expand rows with '#'/'{S}'/'{Side}' placeholders into left and right rows."""
    out = []
    for name, parent, pos, *end in rows:
        if "#" not in pos and "{" not in name:
            out.append((name, parent, pos, *end))
            continue
        for s, S, Side in (("l", "L", "Left"), ("r", "R", "Right")):
            def f(x):
                if not isinstance(x, str):
                    return x
                return (x.replace("{s}", s).replace("{S}", S).replace("{Side}", Side)
                        .replace("#", s))
            out.append((f(name), f(parent), f(pos), *map(f, end)))
    return out


# Source skeletons: (name, parent, where it sits: a 22-layout joint or a special, [End Site]).
# Positions come from the canonical rest pose, so direct joints have a known answer.
SPECS = {
    "bandai": _sides([
        ("joint_Root", None, "ground"), ("Hips", "joint_Root", "pelvis"),
        ("Spine", "Hips", "mid_spine1_spine2"), ("Chest", "Spine", "spine3"),
        ("Neck", "Chest", "neck"), ("Head", "Neck", "head", True),
        ("Shoulder_{S}", "Chest", "#_collar"), ("UpperArm_{S}", "Shoulder_{S}", "#_shoulder"),
        ("LowerArm_{S}", "UpperArm_{S}", "#_elbow"), ("Hand_{S}", "LowerArm_{S}", "#_wrist", True),
        ("UpperLeg_{S}", "Hips", "#_hip"), ("LowerLeg_{S}", "UpperLeg_{S}", "#_knee"),
        ("Foot_{S}", "LowerLeg_{S}", "#_ankle"), ("Toes_{S}", "Foot_{S}", "#_foot", True),
    ]),
    "cmu_bvh": _sides([
        ("hip", None, "pelvis"), ("abdomen", "hip", "mid_spine1_spine2"),
        ("chest", "abdomen", "spine3"), ("neck", "chest", "neck"), ("head", "neck", "head", True),
        ("{s}Collar", "chest", "#_collar"), ("{s}Shldr", "{s}Collar", "#_shoulder"),
        ("{s}ForeArm", "{s}Shldr", "#_elbow"), ("{s}Hand", "{s}ForeArm", "#_wrist", True),
        ("{s}Thigh", "hip", "#_hip"), ("{s}Shin", "{s}Thigh", "#_knee"),
        ("{s}Foot", "{s}Shin", "#_ankle", "#_foot"),          # toes from the End Site
    ]),
    "cmu_asf": _sides([
        ("root", None, "pelvis"), ("lowerback", "root", "pelvis"),
        ("upperback", "lowerback", "spine1"), ("thorax", "upperback", "spine2"),
        ("lowerneck", "thorax", "neck"), ("upperneck", "lowerneck", "mid_neck_head"),
        ("head", "upperneck", "head", True),
        ("{s}clavicle", "thorax", "#_collar"), ("{s}humerus", "{s}clavicle", "#_shoulder"),
        ("{s}radius", "{s}humerus", "#_elbow"), ("{s}wrist", "{s}radius", "#_wrist", True),
        ("{s}hipjoint", "root", "pelvis"), ("{s}femur", "{s}hipjoint", "#_hip"),
        ("{s}tibia", "{s}femur", "#_knee"), ("{s}foot", "{s}tibia", "#_ankle"),
        ("{s}toes", "{s}foot", "#_foot", True),
    ]),
    "mixamo": _sides([
        ("mixamorig:Hips", None, "pelvis"), ("mixamorig:Spine", "mixamorig:Hips", "spine1"),
        ("mixamorig:Spine1", "mixamorig:Spine", "spine2"),
        ("mixamorig:Spine2", "mixamorig:Spine1", "spine3"),
        ("mixamorig:Neck", "mixamorig:Spine2", "neck"),
        ("mixamorig:Head", "mixamorig:Neck", "head", True),
        ("mixamorig:{Side}Shoulder", "mixamorig:Spine2", "#_collar"),
        ("mixamorig:{Side}Arm", "mixamorig:{Side}Shoulder", "#_shoulder"),
        ("mixamorig:{Side}ForeArm", "mixamorig:{Side}Arm", "#_elbow"),
        ("mixamorig:{Side}Hand", "mixamorig:{Side}ForeArm", "#_wrist", True),
        ("mixamorig:{Side}UpLeg", "mixamorig:Hips", "#_hip"),
        ("mixamorig:{Side}Leg", "mixamorig:{Side}UpLeg", "#_knee"),
        ("mixamorig:{Side}Foot", "mixamorig:{Side}Leg", "#_ankle"),
        ("mixamorig:{Side}ToeBase", "mixamorig:{Side}Foot", "#_foot", True),
    ]),
    "cgspeed_max": _sides([     # CMU's cgspeed "3dsMax-friendly" BVH names
        ("Hips", None, "pelvis"), ("lowerback", "Hips", "pelvis"), ("Chest", "lowerback", "spine1"),
        ("Chest2", "Chest", "spine2"), ("lowerneck", "Chest2", "neck"),
        ("Neck", "lowerneck", "mid_neck_head"), ("Head", "Neck", "head", True),
        ("{Side}Collar", "Chest2", "#_collar"), ("{Side}Shoulder", "{Side}Collar", "#_shoulder"),
        ("{Side}Elbow", "{Side}Shoulder", "#_elbow"), ("{Side}Wrist", "{Side}Elbow", "#_wrist"),
        ("{s}hand", "{Side}Wrist", "#_wrist", True),
        ("{S}HipJoint", "Hips", "pelvis"), ("{Side}Hip", "{S}HipJoint", "#_hip"),
        ("{Side}Knee", "{Side}Hip", "#_knee"), ("{Side}Ankle", "{Side}Knee", "#_ankle"),
        ("{Side}Toe", "{Side}Ankle", "#_foot", True),
    ]),
    "smpl": _sides([
        ("pelvis", None, "pelvis"), ("spine1", "pelvis", "spine1"), ("spine2", "spine1", "spine2"),
        ("spine3", "spine2", "spine3"), ("neck", "spine3", "neck"), ("head", "neck", "head", True),
        ("{Side}_collar", "spine3", "#_collar"), ("{Side}_shoulder", "{Side}_collar", "#_shoulder"),
        ("{Side}_elbow", "{Side}_shoulder", "#_elbow"),
        ("{Side}_wrist", "{Side}_elbow", "#_wrist", True),
        ("{Side}_hip", "pelvis", "#_hip"), ("{Side}_knee", "{Side}_hip", "#_knee"),
        ("{Side}_ankle", "{Side}_knee", "#_ankle"), ("{Side}_foot", "{Side}_ankle", "#_foot", True),
    ]),
}


def _where(key: str) -> np.ndarray:
    if key == "ground":
        return np.array([REST["pelvis"][0], 0.0, REST["pelvis"][2]])
    if key.startswith("mid_"):
        return _mid(*key[4:].split("_", 1))
    return REST[key]


def spec_bvh(spec, frames: int = 6, scale: float = 100.0, axes=np.eye(3), seed: int = 0,
             rotate: bool = True) -> str:
    """BVH text for a source skeleton: rest T-pose from the canonical body, `scale` file units per
    metre, coordinates mapped by `axes` [3, 3]; frame 0 is the rest pose, later frames move the
    root and (if rotate) bend every joint a little."""
    names = [r[0] for r in spec]
    pos = {r[0]: axes @ _where(r[2]) * scale for r in spec}
    kids = {n: [r[0] for r in spec if r[1] == n] for n in names}
    rng = np.random.default_rng(seed)
    lines, order = ["HIERARCHY"], []
    stack = [(spec[0][0], 0, False)]
    while stack:
        n, d, closing = stack.pop()
        pad = "\t" * d
        if closing:
            lines.append(pad + "}")
            continue
        row = spec[names.index(n)]
        off = pos[n] - (pos[row[1]] if row[1] else 0.0)
        lines += [f"{pad}{'JOINT' if row[1] else 'ROOT'} {n}", pad + "{",
                  f"{pad}\tOFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}",
                  f"{pad}\tCHANNELS " + ("6 Xposition Yposition Zposition " if not row[1] else "3 ")
                  + ZXY]
        order.append(n)
        if len(row) > 3:
            end = axes @ (0.05 * np.array([0, 1, 0])) * scale if row[3] is True else \
                axes @ _where(row[3]) * scale - pos[n]
            lines += [f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {end[0]:.6f} "
                      f"{end[1]:.6f} {end[2]:.6f}", f"{pad}\t}}"]
        stack.append((n, d, True))
        stack += [(k, d + 1, False) for k in reversed(kids[n])]
    motion = []
    for f in range(frames):
        root = pos[spec[0][0]] + axes @ np.array([0.1 * f, 0.0, 0.2 * f]) * scale
        rows = [root]
        for n in order:
            ang = rng.uniform(-20, 20, 3) if (rotate and f > 0) else np.zeros(3)
            # The same rotation expressed in the file's axes.
            rows.append(matrix_to_euler(axes @ euler_to_matrix(ang, "ZXY") @ axes.T, "ZXY"))
        motion.append(np.concatenate(rows))
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.05"]
    lines += [" ".join(f"{v:.6f}" for v in m) for m in motion]
    return "\n".join(lines) + "\n"


def _source_of(spec, target: str) -> str | None:
    for r in spec:
        if r[2] == target:
            return r[0]
    return None


# ---------------------------------------------------------------------------------------------
# Name families
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", list(SPECS))
def test_families_map_all_joints(family):
    spec = SPECS[family]
    anim = bvh.loads(spec_bvh(spec))
    mapping = retarget.find_mapping(anim)
    assert mapping.family == family
    out = retarget.to_smpl22(anim)
    assert out.shape == (6, 22, 3) and out.dtype == np.float32
    # Frame 0 is the rest pose: the canonical body (metres, from centimetres).
    derived_tol = {"spine1": 0.03, "spine2": 0.03, "spine3": 0.03}
    for n in skeleton.JOINT_NAMES:
        np.testing.assert_allclose(out[0, J[n]], REST[n], atol=derived_tol.get(n, 1e-5), err_msg=n)
    # Later frames: every joint named in the file lands where the file's FK puts it.
    pos = anim.global_positions() / 100.0
    for n in skeleton.JOINT_NAMES:
        src = _source_of(spec, n)
        if src is not None and n not in mapping.derived:
            np.testing.assert_allclose(out[:, J[n]], pos[:, anim.index(src)], atol=1e-5)


def test_spine_interpolation_follows_the_source_spine():
    """Bandai-style Hips-Spine-Chest-Neck: spine1/2/3 sit on that polyline at the canonical
    arc-length fractions, in every frame."""
    anim = bvh.loads(spec_bvh(SPECS["bandai"]))
    out = retarget.to_smpl22(anim).astype(np.float64)
    pos = anim.global_positions() / 100.0
    poly = pos[:, [anim.index(n) for n in ("Hips", "Spine", "Chest", "Neck")]]
    seg = np.linalg.norm(np.diff(poly, axis=1), axis=-1)
    for k, s in enumerate(("spine1", "spine2", "spine3")):
        # On the polyline: distance to the nearest segment ~0.
        p = out[:, J[s]]
        d = []
        for i in range(3):
            a, b = poly[:, i], poly[:, i + 1]
            t = np.clip(np.einsum("fi,fi->f", p - a, b - a) / seg[:, i] ** 2, 0, 1)
            d.append(np.linalg.norm(a + t[:, None] * (b - a) - p, axis=-1))
        assert np.min(d, axis=0).max() < 1e-5
        # Arc length from the pelvis over the total = the canonical fraction.
        arc = np.linalg.norm(p - poly[:, 0], axis=-1)
        within_first = arc <= seg[:, 0] + 1e-9
        if within_first.all():
            np.testing.assert_allclose(arc / seg.sum(1), retarget._SPINE_FRAC[k], atol=1e-5)


def test_cgspeed_cmu_names_use_the_mixamo_family():
    """The common CMU BVH conversion: Mixamo-like names, LowerBack/Spine/Spine1, no Spine2."""
    spec = _sides([
        ("Hips", None, "pelvis"), ("LowerBack", "Hips", "pelvis"), ("Spine", "LowerBack", "spine1"),
        ("Spine1", "Spine", "spine3"), ("Neck", "Spine1", "neck"),
        ("Neck1", "Neck", "mid_neck_head"),
        ("Head", "Neck1", "head", True),
        ("{Side}Shoulder", "Spine1", "#_collar"), ("{Side}Arm", "{Side}Shoulder", "#_shoulder"),
        ("{Side}ForeArm", "{Side}Arm", "#_elbow"), ("{Side}Hand", "{Side}ForeArm", "#_wrist", True),
        ("{s}HipJoint", "Hips", "pelvis"), ("{Side}UpLeg", "{s}HipJoint", "#_hip"),
        ("{Side}Leg", "{Side}UpLeg", "#_knee"), ("{Side}Foot", "{Side}Leg", "#_ankle"),
        ("{Side}ToeBase", "{Side}Foot", "#_foot", True),
    ])
    anim = bvh.loads(spec_bvh(spec))
    mapping = retarget.find_mapping(anim)
    assert mapping.family == "mixamo" and mapping.derived["spine2"] == "spine"
    out = retarget.to_smpl22(anim)
    np.testing.assert_allclose(out[0], skeleton.rest_pose(), atol=0.03)


def test_collar_at_the_neck_is_derived():
    """CMU's conversions put the collar joint where the neck starts (the clavicle's start): that
    collar is derived on spine3 -> shoulder instead, like a skeleton without collars."""
    spec = [r if r[0] not in ("LeftCollar", "RightCollar") else (r[0], r[1], "neck")
            for r in SPECS["cgspeed_max"]]
    anim = bvh.loads(spec_bvh(spec))
    res = retarget.retarget(anim)
    m = retarget.find_mapping(anim)
    assert "l_collar" in m.direct                     # named, ...
    out = res.joints[0].astype(np.float64)            # ... but placed between spine3 and shoulder
    for side in "lr":
        s3, sh, c = out[J["spine3"]], out[J[f"{side}_shoulder"]], out[J[f"{side}_collar"]]
        np.testing.assert_allclose(c, s3 + retarget._COLLAR_FRAC * (sh - s3), atol=1e-6)
        assert np.linalg.norm(c - out[J["neck"]]) > 0.05


def test_up_rotation_is_proper():
    for up in ("x", "-x", "y", "-y", "z", "-z", "+z"):
        r = retarget.up_rotation(up)
        u = np.zeros(3)
        u["xyz".index(up[-1])] = -1.0 if up.startswith("-") else 1.0
        np.testing.assert_allclose(r @ u, [0, 1, 0], atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_missing_collars_are_derived():
    spec = [r for r in SPECS["mixamo"] if "Shoulder" not in r[0]]
    spec = [(n, "mixamorig:Spine2" if p and "Shoulder" in p else p, *rest) for n, p, *rest in spec]
    out = retarget.to_smpl22(bvh.loads(spec_bvh(spec)))
    f = retarget._COLLAR_FRAC
    for side in "lr":
        expect = out[:, J["spine3"]] + f * (out[:, J[f"{side}_shoulder"]] - out[:, J["spine3"]])
        np.testing.assert_allclose(out[:, J[f"{side}_collar"]], expect, atol=1e-6)


def test_prefixes_and_separators_tolerated():
    spec = [("Character1_" + n.split(":")[-1], p and "Character1_" + p.split(":")[-1], *r)
            for n, p, *r in SPECS["mixamo"]]
    assert retarget.find_mapping(bvh.loads(spec_bvh(spec))).family == "mixamo"
    spec = [(n.upper().replace("_", "-"), p and p.upper().replace("_", "-"), *r)
            for n, p, *r in SPECS["bandai"]]
    assert retarget.find_mapping(bvh.loads(spec_bvh(spec))).family == "bandai"
    spec = [("Armature|" + n, p and "Armature|" + p, *r) for n, p, *r in SPECS["smpl"]]
    assert retarget.find_mapping(bvh.loads(spec_bvh(spec))).family == "smpl"


def test_unmappable_skeleton_error_names_missing_and_file_joints():
    rename = {r[0]: (f"bone{i}" if i else "pelvis") for i, r in enumerate(SPECS["smpl"])}
    spec = [(rename[n], p and rename[p], *r) for n, p, *r in SPECS["smpl"]]
    anim = bvh.loads(spec_bvh(spec))
    with pytest.raises(RetargetError) as e:
        retarget.to_smpl22(anim)
    msg = str(e.value)
    missing, listed = msg.split("(closest")
    assert "missing" in missing and "pelvis" not in missing
    assert all(n in missing for n in skeleton.JOINT_NAMES[1:])
    assert "bone5" in listed and "bone21" in listed and "name_map" in listed
    # The user's name_map fixes it.
    name_map = {f"bone{i}": spec_row[2] for i, spec_row in enumerate(SPECS["smpl"]) if i}
    out = retarget.to_smpl22(anim, name_map=name_map)
    np.testing.assert_allclose(out[0], skeleton.rest_pose(), atol=1e-5)
    with pytest.raises(RetargetError, match="not one of the 22"):
        retarget.to_smpl22(anim, name_map={"bone1": "tail"})
    with pytest.raises(RetargetError, match="not a joint of this file"):
        retarget.to_smpl22(anim, name_map={"nope": "head"})


# ---------------------------------------------------------------------------------------------
# Units and axes
# ---------------------------------------------------------------------------------------------

def test_unit_detection():
    ref = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_bvh"], scale=100.0)))
    for unit, per_metre in (("m", 1.0), ("mm", 1000.0), ("in", 1 / 0.0254), ("ft", 1 / 0.3048)):
        out = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_bvh"], scale=per_metre)))
        np.testing.assert_allclose(out, ref, atol=1e-5, err_msg=unit)
        explicit = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_bvh"], scale=per_metre)),
                                      unit=unit)
        np.testing.assert_allclose(explicit, ref, atol=1e-5)
    num = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_bvh"], scale=100.0)), unit=0.01)
    np.testing.assert_allclose(num, ref, atol=1e-6)
    # A scale no unit explains is normalised to the canonical body size.
    odd = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_bvh"], scale=7.3)))
    assert retarget.body_size(odd) == pytest.approx(retarget._CANONICAL_SIZE, rel=1e-6)
    with pytest.raises(ValueError):
        retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_bvh"])), unit="furlong")


def test_z_up_detected():
    ref = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_asf"])))
    z_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=float)   # Y -> Z, proper rotation
    out = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_asf"], axes=z_up)))
    np.testing.assert_allclose(out, ref, atol=1e-5)
    explicit = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_asf"], axes=z_up)), up="z")
    np.testing.assert_allclose(explicit, ref, atol=1e-5)


def test_mirrored_export_is_unmirrored():
    """Y and Z swapped without a sign change is a reflection: the named-left joints would end up
    on the body's right. The result must be a proper body (here: the reference turned 180 deg)."""
    ref = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_asf"]))).astype(np.float64)
    swap = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=float)
    out = retarget.to_smpl22(bvh.loads(spec_bvh(SPECS["cmu_asf"], axes=swap)))
    assert retarget.handedness(out) > 0
    np.testing.assert_allclose(out, ref * [-1, 1, -1], atol=1e-5)


def test_handedness_sign():
    body = skeleton.rest_pose()[None].astype(np.float64)
    assert retarget.handedness(body) == 1
    assert retarget.handedness(body * [-1, 1, 1]) == -1


def test_resampling_30_to_20_fps():
    text = spec_bvh(SPECS["bandai"], frames=31, rotate=False).replace("Frame Time: 0.05",
                                                                      "Frame Time: 0.0333333")
    anim = bvh.loads(text)
    out = retarget.to_smpl22(anim, fps=20)
    assert len(out) == 21   # one second at 30 fps -> 0..20 at 20 fps
    # The root moves linearly per source frame (0.2 m in z): at 20 fps, 0.3 m per frame.
    np.testing.assert_allclose(np.diff(out[:, 0, 2]), 0.3, atol=1e-4)
    same = retarget.to_smpl22(anim, fps=30)
    assert len(same) == 31


# ---------------------------------------------------------------------------------------------
# save -> load -> to_smpl22 round trip on hard motions
# ---------------------------------------------------------------------------------------------

def hard_motion(t: int = 160, seed: int = 0) -> np.ndarray:
    """Walk forward, turn around and walk backwards, lie down flat on the back (a gimbal-lock
    pitch), then stand with both arms overhead: [T, 22, 3] by FK from the canonical skeleton."""
    rng = np.random.default_rng(seed)
    f = np.arange(t)
    phase = 2 * np.pi * f / 20
    euler = rng.normal(0, 3, (t, 22, 3))                     # [T, 22, 3] ZXY degrees
    lying = (f >= 80) & (f < 120)
    swing = np.where(lying, 0.0, 30 * np.sin(phase))
    euler[:, J["l_hip"], 1] += swing
    euler[:, J["r_hip"], 1] -= swing
    euler[:, J["l_knee"], 1] += np.where(lying, 0.0, 20 * (1 - np.cos(phase)))
    euler[:, J["r_knee"], 1] += np.where(lying, 0.0, 20 * (1 + np.cos(phase)))
    yaw = np.clip((f - 40) / 20, 0, 1) * 180
    euler[:, 0] = 0.0
    euler[:, 0, 2] = yaw
    euler[lying, 0, 1] = -90.0                               # pitch: flat on the back
    raise_arms = np.clip((f - 120) / 20, 0, 1)
    for side, sign in (("l", 1), ("r", -1)):
        # About Z, +90 deg takes the left arm from +X to +Y: straight up.
        euler[:, J[f"{side}_collar"], 0] += sign * 15 * raise_arms
        euler[:, J[f"{side}_shoulder"], 0] += sign * 75 * raise_arms
    q = matrix_to_quat(euler_to_matrix(euler, "ZXY"))
    z = np.cumsum(np.where(f < 40, 0.05, np.where((f >= 60) & (f < 80), 0.03, 0.0)))
    height = np.where(lying, 0.12, 0.93)
    root = np.stack([0.3 * np.sin(f / 30), height, z], axis=-1)
    return kinematics.forward(q, root, skeleton.rest_offsets())


def _stretch(joints: np.ndarray, amount: float = 0.04, seed: int = 1) -> np.ndarray:
    """Bone lengths that change every frame, as a generated motion's do."""
    rng = np.random.default_rng(seed)
    scale = 1 + amount * rng.uniform(-1, 1, joints.shape[:2])   # [T, 22]
    out = joints.copy()
    for j, p in enumerate(skeleton.PARENTS):
        if p >= 0:
            out[:, j] = out[:, p] + scale[:, j, None] * (joints[:, j] - joints[:, p])
    return out


@pytest.mark.parametrize("stretch", [False, True])
def test_round_trip_hard_motion(tmp_path, stretch):
    joints = hard_motion()
    if stretch:
        joints = _stretch(joints)
    # Sanity of the fixture: it really turns around, lies flat and raises the arms overhead.
    up = joints[:, J["head"]] - joints[:, J["pelvis"]]
    assert np.abs(up[100, 1]) < 0.1 and up[10, 1] > 0.5
    assert (joints[150, J["l_wrist"], 1] > joints[150, J["head"], 1] + 0.3
            and joints[150, J["r_wrist"], 1] > joints[150, J["head"], 1] + 0.3)
    p = tmp_path / "hard.bvh"
    bvh.save(p, joints, fps=20)
    out = retarget.to_smpl22(bvh.load(p), fps=20)
    assert out.shape == joints.shape
    per_frame = np.abs(out - joints).max(axis=(1, 2))
    assert per_frame.max() < 1e-3, per_frame.max()


def test_round_trip_other_fps_and_names(tmp_path):
    joints = _stretch(hard_motion(60, seed=3))
    p = tmp_path / "a.bvh"
    bvh.save(p, joints, fps=30)
    np.testing.assert_allclose(retarget.load_bvh_joints(p, fps=30), joints, atol=1e-3)
    # The same motion under Mixamo names is recognised and comes back as well.
    mixamo = {r[2]: r[0].split(":")[-1] for r in SPECS["mixamo"]}
    bvh.save(p, joints, fps=20, names=[mixamo[n] for n in skeleton.JOINT_NAMES])
    assert retarget.find_mapping(bvh.load(p)).family == "mixamo"
    np.testing.assert_allclose(retarget.load_bvh_joints(p), joints, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Real data (skipped when data/raw is absent)
# ---------------------------------------------------------------------------------------------

RAW = os.path.join(os.path.dirname(__file__), "..", "data", "raw")
BANDAI = sorted(glob.glob(os.path.join(RAW, "Bandai-Namco-Research-Motiondataset-*", "data",
                                       "*.bvh")))


def _sample(n: int = 5) -> list[str]:
    walk = [f for f in BANDAI if os.path.basename(f).startswith("dataset-1_walk_")][:1]
    rest = [f for f in BANDAI if f not in walk]
    return walk + [rest[i] for i in np.linspace(0, len(rest) - 1, n - len(walk)).astype(int)]


@pytest.mark.skipif(len(BANDAI) < 5, reason="Bandai data not present under data/raw")
def test_real_bandai_clips(tmp_path):
    for path in _sample():
        anim = bvh.load(path)
        assert retarget.find_mapping(anim).family == "bandai"
        x = retarget.to_smpl22(anim).astype(np.float64)
        assert len(x) == pytest.approx(anim.num_frames * 20 / anim.fps, abs=1.5)
        feet = x[:, [J["l_ankle"], J["r_ankle"], J["l_foot"], J["r_foot"]], 1]
        assert -0.05 < feet.min() < 0.15, path                      # standing on y = 0
        # Stature: the head joint sits at ~87% of standing height.
        stature = np.median(x[:, J["head"], 1] - feet.min(axis=1)) / 0.87
        assert 1.4 < stature < 2.0, (path, stature)
        # Left arm on the body's left: left = up x forward, forward from the toes. (Hands may
        # meet or cross in front, as in a bow; shoulders and elbows do not.)
        fwd = (x[:, J["l_foot"]] - x[:, J["l_ankle"]] + x[:, J["r_foot"]] - x[:, J["r_ankle"]])
        fwd[:, 1] = 0
        left = np.cross([0.0, 1.0, 0.0], fwd)
        for part in ("shoulder", "elbow"):
            side = np.einsum("fi,fi->f", x[:, J[f"l_{part}"]] - x[:, J[f"r_{part}"]], left)
            assert np.mean(side > 0) > 0.9, (path, part)
        if "_walk_" in os.path.basename(path):
            # The walk clips move along +Z, the way the body faces, with its left on +X.
            assert x[-1, 0, 2] - x[0, 0, 2] > 1.0
            assert np.mean(x[:, J["l_hip"], 0] > x[:, J["r_hip"], 0]) > 0.9
            assert np.mean(x[:, J["l_wrist"], 0] > x[:, J["r_wrist"], 0]) > 0.9
        p = tmp_path / "rt.bvh"
        bvh.save(p, x)
        back = retarget.load_bvh_joints(p)
        assert np.abs(back - x).max() < 1e-3, path
