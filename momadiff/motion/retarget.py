"""Any named BVH skeleton -> the 22-joint layout (skeleton.JOINT_NAMES): metres, Y up, `fps`.

Joints are matched by name, case-insensitively, ignoring separators ("_", "-", ".", spaces), a
namespace ("mixamorig:", "Armature|"), a "mixamorig"/"Bip01" prefix and a prefix shared by every
joint ("Character1_"). Built-in name families, tried in turn (the one covering the file wins):

- bandai:  the Bandai-Namco research set (Hips, Spine, Chest, Neck, Head, Shoulder_L, UpperArm_L,
           LowerArm_L, Hand_L, UpperLeg_L, LowerLeg_L, Foot_L, Toes_L, ..._R).
- cmu_bvh: CMU-style BVH (hip, abdomen, chest, neck, head, lCollar, lShldr, lForeArm, lHand,
           lThigh, lShin, lFoot, optional lToe).
- cmu_asf: the original CMU ASF names (root/hips, lowerback, upperback, thorax, lowerneck,
           upperneck, head, lclavicle, lhumerus, lradius, lwrist, lfemur, ltibia, lfoot, ltoes).
- mixamo:  Mixamo (Hips, Spine, Spine1, Spine2, Neck, Head, LeftShoulder, LeftArm, LeftForeArm,
           LeftHand, LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase); also the CMU "cgspeed"
           MotionBuilder-friendly BVHs (LHipJoint, LowerBack, Spine, Spine1, Neck, Neck1).
- cgspeed_max: the CMU "cgspeed" 3dsMax-friendly BVHs (Hips, LeftHip, LeftKnee, LeftAnkle,
           LeftToe, lowerback, Chest, Chest2, lowerneck, Neck, Head, LeftCollar, LeftShoulder,
           LeftElbow, LeftWrist, lhand): here "Shoulder" is the upper arm, not the collar.
- smpl:    SMPL names (pelvis, left_hip, ..., right_wrist) and momadiff's own (l_hip, ...), so a
           BVH written by bvh.save loads back exactly.

Joints a skeleton lacks are derived, so every family yields all 22:
- spine1/2/3: unless all three are named, all three are placed along the source's spine polyline
  (the chain of joints from pelvis to neck in the file) at the arc-length fractions the canonical
  SMPL body has (about 0.23, 0.49, 0.60 of pelvis -> neck). Bandai's Hips-Spine-Chest-Neck thus
  gives spine3 almost exactly at Chest, where its shoulders branch, as SMPL's collars branch at
  spine3; sources with 1, 2 or 3 spine joints of any proportions are handled the same way.
- l_foot/r_foot (toes): the ankle's End Site, else its only child joint.
- l_collar/r_collar: on the segment spine3 -> shoulder at the canonical fraction; also when the
  file names a collar joint that sits where the neck starts (the clavicle's start, as in CMU's
  ASF and its cgspeed conversions): a collar bone of no length would turn into one pointing up
  the neck in the canonical skeleton, where other datasets have a collar pointing sideways.

Units: unless `unit` is given, the body's size (median over frames of leg + spine + neck-to-head
bone lengths, compared with the canonical body) picks metres, centimetres, millimetres, inches,
feet or CMU units (inches / 0.45, as the CMU ASF files and their MotionBuilder BVH conversions use), whichever makes the body closest to the canonical height (~1.7 m); a body that no standard
unit puts within 0.65-1.55x the canonical size is scaled to the canonical size instead (so a small
child's clip comes out adult-sized unless `unit` is given).

Axes: the up axis is auto-detected among +/-X, +/-Y, +/-Z: from the rest pose (all channels zero)
when that is an upright straight pose (a T- or A-pose, as CMU and Mixamo files have), else from the
animation (mean direction ankles -> head over frames); pass `up` to override (needed for a clip
that lies down throughout and has no upright rest pose). The motion is rotated so that axis becomes
+Y (a proper rotation: the facing is otherwise kept; features.canonicalize turns it to +Z later).
Names are trusted over coordinates: if the joints named left sit on the body's right (a mirrored
export, e.g. Y and Z swapped without a sign change), X is negated. The test is rotation-invariant:
the sign of det[up, forward, left] with up = pelvis -> neck, forward = ankle -> toe, left = r_hip ->
l_hip, summed over frames.

Reference pose: a first frame that a converter added (a T-pose, or the rest pose, often standing
far from the motion; refpose.py) is dropped, and `Retargeted.notes` / a ReferencePoseWarning say so.

Time: positions are linearly interpolated to `fps` (frame times k / fps from the first frame, as
long as they fall within the clip); a source within 0.01% of `fps` is copied frame for frame.
`source_fps` overrides the file's own rate (the cgspeed CMU BVHs all say 120 fps, some trials
were captured at 60).

Entry points: `retarget(anim)` (a parsed BVHAnimation; ASF/AMC files parse into one too) returns
joints and notes; `load_motion(path)` reads a .bvh, or an .amc with its .asf, and retargets it;
`to_smpl22` and `load_bvh_joints` return the joints alone and raise the notes as warnings.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import skeleton
from .bvh import BVHAnimation, load
from .refpose import detect_reference_pose

J = skeleton.JOINT_INDEX
_SPINE = ("spine1", "spine2", "spine3")


class RetargetError(ValueError):
    """A skeleton that cannot be mapped onto the 22-joint layout."""


class ReferencePoseWarning(UserWarning):
    """A file's first frame was an added reference pose and was dropped (the message says why)."""


def _lr(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Expand "{s}" entries into left and right targets: {s} -> l / left, {S} -> L / Left ..."""
    out: dict[str, tuple[str, ...]] = {}
    for target, cands in table.items():
        if "#" not in target:
            out[target] = cands
            continue
        for side, short, long in (("l", "l", "left"), ("r", "r", "right")):
            out[target.replace("#", side)] = tuple(
                c.replace("{s}", short).replace("{side}", long) for c in cands)
    return out


# Candidates are normalised names (lower case, letters and digits only), best first.
FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "bandai": _lr({
        "pelvis": ("hips",), "neck": ("neck",), "head": ("head",),
        "#_hip": ("upperleg{s}",), "#_knee": ("lowerleg{s}",), "#_ankle": ("foot{s}",),
        "#_foot": ("toes{s}", "toe{s}"), "#_collar": ("shoulder{s}",),
        "#_shoulder": ("upperarm{s}",), "#_elbow": ("lowerarm{s}",), "#_wrist": ("hand{s}",),
    }),
    "cmu_bvh": _lr({
        "pelvis": ("hip", "hips"), "neck": ("neck",), "head": ("head",),
        "#_hip": ("{s}thigh",), "#_knee": ("{s}shin",), "#_ankle": ("{s}foot",),
        "#_foot": ("{s}toe", "{s}toes"), "#_collar": ("{s}collar",),
        "#_shoulder": ("{s}shldr",), "#_elbow": ("{s}forearm",), "#_wrist": ("{s}hand",),
    }),
    "cmu_asf": _lr({
        "pelvis": ("root", "hips", "hip"), "neck": ("lowerneck", "neck"), "head": ("head",),
        "#_hip": ("{s}femur",), "#_knee": ("{s}tibia",), "#_ankle": ("{s}foot",),
        "#_foot": ("{s}toes",), "#_collar": ("{s}clavicle",),
        "#_shoulder": ("{s}humerus",), "#_elbow": ("{s}radius",), "#_wrist": ("{s}wrist",),
    }),
    "mixamo": _lr({
        "pelvis": ("hips",), "spine1": ("spine",), "spine2": ("spine1",), "spine3": ("spine2",),
        "neck": ("neck",), "head": ("head",),
        "#_hip": ("{side}upleg",), "#_knee": ("{side}leg",), "#_ankle": ("{side}foot",),
        "#_foot": ("{side}toebase", "{side}toe"), "#_collar": ("{side}shoulder",),
        "#_shoulder": ("{side}arm",), "#_elbow": ("{side}forearm",), "#_wrist": ("{side}hand",),
    }),
    "cgspeed_max": _lr({
        "pelvis": ("hips", "hip"), "neck": ("lowerneck", "neck"), "head": ("head",),
        "#_hip": ("{side}hip",), "#_knee": ("{side}knee",), "#_ankle": ("{side}ankle",),
        "#_foot": ("{side}toe", "{side}toes"), "#_collar": ("{side}collar",),
        "#_shoulder": ("{side}shoulder",), "#_elbow": ("{side}elbow",), "#_wrist": ("{side}wrist",),
    }),
    "smpl": _lr({
        "pelvis": ("pelvis",), "spine1": ("spine1",), "spine2": ("spine2",),
        "spine3": ("spine3",), "neck": ("neck",), "head": ("head",),
        "#_hip": ("{side}hip", "{s}hip"), "#_knee": ("{side}knee", "{s}knee"),
        "#_ankle": ("{side}ankle", "{s}ankle"), "#_foot": ("{side}foot", "{s}foot"),
        "#_collar": ("{side}collar", "{s}collar"), "#_shoulder": ("{side}shoulder", "{s}shoulder"),
        "#_elbow": ("{side}elbow", "{s}elbow"), "#_wrist": ("{side}wrist", "{s}wrist"),
    }),
}

UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "ft": 0.3048,
                          "cmu": 0.0254 / 0.45}
_UNIT_ALIASES = {"metre": "m", "meter": "m", "metres": "m", "meters": "m", "centimetre": "cm",
                 "centimeter": "cm", "millimetre": "mm", "millimeter": "mm", "inch": "in",
                 "inches": "in", "foot": "ft", "feet": "ft"}

_REST = skeleton.rest_offsets().astype(np.float64)
_BONE = np.linalg.norm(_REST, axis=-1)                                     # [22]
# Arc-length fractions of spine1/2/3 along pelvis -> neck in the canonical body.
_SPINE_BONES = _BONE[[J["spine1"], J["spine2"], J["spine3"], J["neck"]]]
_SPINE_FRAC = np.cumsum(_SPINE_BONES)[:3] / _SPINE_BONES.sum()
_COLLAR_FRAC = _BONE[J["l_collar"]] / (_BONE[J["l_collar"]] + _BONE[J["l_shoulder"]])


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _name_keys(names: list[str]) -> dict[str, int]:
    """Normalised lookup keys -> joint index, with namespaces and shared prefixes removed."""
    bare = [re.split(r"[:|]", n)[-1] for n in names]
    bare = [re.sub(r"^(mixamorig\d*|bip0*1)[_\-. ]*", "", b, flags=re.IGNORECASE) or b
            for b in bare]
    prefix = os.path.commonprefix(bare) if len(bare) > 1 else ""
    cut = max((prefix.rfind(c) for c in "_-. "), default=-1)
    keys: dict[str, int] = {}
    # Fuller names first, so stripping a shared prefix never shadows a real name.
    for forms in (names, bare, [b[cut + 1:] for b in bare] if cut >= 0 else []):
        for i, f in enumerate(forms):
            keys.setdefault(_normalise(f), i)
    return keys


@dataclass
class Mapping:
    """How each of the 22 joints is obtained from a source skeleton."""

    family: str
    direct: dict[str, int]          # target -> source joint index
    derived: dict[str, str]         # target -> how it is derived ("spine", "end_site", ...)
    spine_path: list[int]           # source joints from pelvis to neck (for "spine")
    toe_source: dict[str, tuple[str, int]]   # "l_foot" -> ("end_site" | "child", joint)


def _resolve(anim: BVHAnimation, family: str, table: dict[str, tuple[str, ...]],
             keys: dict[str, int]) -> tuple[Mapping, list[str]]:
    direct = {t: keys[c] for t, cands in table.items() for c in cands[::-1] if c in keys}
    return _complete(anim, family, direct)


def _complete(anim: BVHAnimation, family: str, direct: dict[str, int]) -> tuple[Mapping, list[str]]:
    """Fill in derivable joints; return the mapping and the 22-layout joints still missing."""
    derived: dict[str, str] = {}
    spine_path: list[int] = []
    toe_source: dict[str, tuple[str, int]] = {}
    if not all(s in direct for s in _SPINE) and "pelvis" in direct and "neck" in direct:
        path = [direct["neck"]]
        while path[-1] >= 0 and path[-1] != direct["pelvis"]:
            path.append(anim.parents[path[-1]])
        if path[-1] == direct["pelvis"]:
            spine_path = path[::-1]
            for s in _SPINE:
                direct.pop(s, None)
                derived[s] = "spine"
    for side in "lr":
        toe, ankle = f"{side}_foot", f"{side}_ankle"
        if toe not in direct and ankle in direct:
            a = direct[ankle]
            kids = [c for c, p in enumerate(anim.parents) if p == a]
            if a in anim.end_sites and np.linalg.norm(anim.end_sites[a]) > 0:
                toe_source[toe] = ("end_site", a)
            elif len(kids) == 1:
                toe_source[toe] = ("child", kids[0])
            if toe in toe_source:
                derived[toe] = toe_source[toe][0]
        collar = f"{side}_collar"
        if collar not in direct and f"{side}_shoulder" in direct:
            derived[collar] = "collar"
    have = set(direct) | set(derived)
    missing = [n for n in skeleton.JOINT_NAMES if n not in have]
    return Mapping(family, direct, derived, spine_path, toe_source), missing


def find_mapping(anim: BVHAnimation, name_map: dict[str, str] | None = None) -> Mapping:
    """The name family that covers `anim` (most directly named joints wins), with `name_map`
    ({source name: 22-layout name}) applied on top. Raises RetargetError if joints are missing."""
    keys = _name_keys(anim.names)
    best: tuple[Mapping, list[str]] | None = None
    for family, table in FAMILIES.items():
        m, missing = _resolve(anim, family, table, keys)
        score = (len(missing), -len(m.direct))
        if best is None or score < (len(best[1]), -len(best[0].direct)):
            best = (m, missing)
    assert best is not None
    if name_map:
        direct = dict(best[0].direct)
        for src, target in name_map.items():
            if target not in J:
                raise RetargetError(f"name_map target {target!r} is not one of the 22 joints: "
                                    f"{', '.join(skeleton.JOINT_NAMES)}")
            idx = anim.names.index(src) if src in anim.names else keys.get(_normalise(src))
            if idx is None:
                raise RetargetError(f"name_map source {src!r} is not a joint of this file; its "
                                    f"joints are: {', '.join(anim.names)}")
            direct[target] = idx
        best = _complete(anim, "custom", direct)
    mapping, missing = best
    if missing:
        raise RetargetError(
            f"cannot map this skeleton onto the 22-joint layout: missing {', '.join(missing)} "
            f"(closest name family: {mapping.family}). The file's joints are: "
            f"{', '.join(anim.names)}. Pass name_map={{source_name: smpl22_name}} for these.")
    return mapping


def apply_mapping(mapping: Mapping, pos: np.ndarray,
                  end_sites: dict[int, np.ndarray]) -> np.ndarray:
    """Source joint positions [F, J, 3] (+ End Site positions {joint: [F, 3]}) -> [F, 22, 3]."""
    out = np.zeros(pos.shape[:1] + (skeleton.NUM_JOINTS, 3))
    for target, src in mapping.direct.items():
        out[:, J[target]] = pos[:, src]
    if mapping.spine_path:
        out[:, [J[s] for s in _SPINE]] = _along(pos[:, mapping.spine_path], _SPINE_FRAC)
    for toe, (kind, src) in mapping.toe_source.items():
        out[:, J[toe]] = end_sites[src] if kind == "end_site" else pos[:, src]
    for side in "lr":
        if mapping.derived.get(f"{side}_collar") == "collar":
            s3, sh = out[:, J["spine3"]], out[:, J[f"{side}_shoulder"]]
            out[:, J[f"{side}_collar"]] = s3 + _COLLAR_FRAC * (sh - s3)
    return out


def _derive_collars_at_neck(mapping: Mapping, pos: np.ndarray) -> None:
    """Turn a directly named collar into a derived one when it sits where the neck starts (within
    15% of the neck -> shoulder distance, median over frames of source positions [F, J, 3])."""
    neck = mapping.direct.get("neck")
    for side in "lr":
        collar, shoulder = mapping.direct.get(f"{side}_collar"), mapping.direct.get(f"{side}_shoulder")
        if neck is None or collar is None or shoulder is None:
            continue
        gap = np.median(np.linalg.norm(pos[:, collar] - pos[:, neck], axis=-1))
        reach = np.median(np.linalg.norm(pos[:, shoulder] - pos[:, neck], axis=-1))
        if gap < 0.15 * reach:
            del mapping.direct[f"{side}_collar"]
            mapping.derived[f"{side}_collar"] = "collar"


def _along(poly: np.ndarray, fracs: np.ndarray) -> np.ndarray:
    """Points at arc-length fractions [K] along polylines [F, P, 3] -> [F, K, 3]."""
    seg = np.linalg.norm(np.diff(poly, axis=1), axis=-1)                   # [F, P-1]
    cum = np.concatenate([np.zeros((len(poly), 1)), np.cumsum(seg, axis=1)], axis=1)  # [F, P]
    target = cum[:, -1:] * fracs[None]                                     # [F, K]
    if poly.shape[1] < 2:
        return np.repeat(poly[:, :1], len(fracs), axis=1)
    # The segment holding each target: how many segment ends come at or before it.
    idx = (cum[:, None, 1:] <= target[..., None]).sum(-1)                  # [F, K]
    idx = np.clip(idx, 0, poly.shape[1] - 2)
    a = np.take_along_axis(poly, idx[..., None], axis=1)
    b = np.take_along_axis(poly, idx[..., None] + 1, axis=1)
    length = np.take_along_axis(seg, idx, axis=1)
    w = np.where(length > 1e-12, (target - np.take_along_axis(cum, idx, axis=1))
                 / np.maximum(length, 1e-12), 0.0)
    return a + np.clip(w, 0.0, 1.0)[..., None] * (b - a)


def body_size(joints: np.ndarray) -> float:
    """Median over frames of leg + spine + neck-to-head bone lengths of [F, 22, 3] positions
    (rotation invariant), in the positions' units."""
    chain = [(J["l_hip"], J["l_knee"]), (J["l_knee"], J["l_ankle"]),
             (J["r_hip"], J["r_knee"]), (J["r_knee"], J["r_ankle"]),
             (J["pelvis"], J["spine1"]), (J["spine1"], J["spine2"]), (J["spine2"], J["spine3"]),
             (J["spine3"], J["neck"]), (J["neck"], J["head"])]
    a, b = zip(*chain)
    per_frame = np.linalg.norm(joints[:, list(a)] - joints[:, list(b)], axis=-1)
    weights = np.array([0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1])   # average the two legs
    return float(np.median(per_frame @ weights))


_CANONICAL_SIZE = body_size(skeleton.rest_pose()[None].astype(np.float64))


def detect_unit(joints: np.ndarray) -> float:
    """Metres per file unit for mapped positions [F, 22, 3] in file units (see module doc)."""
    size = body_size(joints)
    if not np.isfinite(size) or size <= 0:
        raise RetargetError("cannot detect units: the skeleton has zero size")
    ratios = {u: size * s / _CANONICAL_SIZE for u, s in UNITS.items()}
    unit = min(ratios, key=lambda u: abs(np.log(ratios[u])))
    # The nearest units differ by 2.2x (in vs cmu); the nearest one wins, and outside the window
    # no unit explains the body.
    if 0.65 <= ratios[unit] <= 1.55:
        return UNITS[unit]
    return _CANONICAL_SIZE / size


def _unit_scale(unit: float | str | None) -> float | None:
    if unit is None or (isinstance(unit, str) and unit.lower() == "auto"):
        return None
    if isinstance(unit, str):
        key = _UNIT_ALIASES.get(unit.lower(), unit.lower())
        if key not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; use a number (metres per file unit) or one "
                             f"of {', '.join(UNITS)}")
        return UNITS[key]
    if not (np.isfinite(unit) and unit > 0):
        raise ValueError(f"unit must be a positive number of metres per file unit, got {unit}")
    return float(unit)


_AXES = {"x": 0, "y": 1, "z": 2}


def up_rotation(up: str) -> np.ndarray:
    """A proper rotation [3, 3] taking the axis `up` ("y", "z", "-z", "x", ...) to +Y."""
    up = up.lower().strip().lstrip("+")
    sign = -1.0 if up.startswith("-") else 1.0
    axis = up.lstrip("-")
    if axis not in _AXES:
        raise ValueError(f"up must be one of x, y, z, -x, -y, -z; got {up!r}")
    u = np.zeros(3)
    u[_AXES[axis]] = sign
    y = np.array([0.0, 1.0, 0.0])
    if abs(u @ y - 1) < 1e-9:
        return np.eye(3)
    if abs(u @ y + 1) < 1e-9:
        return np.diag([1.0, -1.0, -1.0])    # half turn about X
    k = np.cross(u, y)                       # quarter turn about u x y
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + kx + kx @ kx


def _upright_axis(vec: np.ndarray, min_cos: float) -> str | None:
    n = np.linalg.norm(vec)
    if n < 1e-12:
        return None
    v = vec / n
    a = int(np.argmax(np.abs(v)))
    if abs(v[a]) < min_cos:
        return None
    return ("-" if v[a] < 0 else "") + "xyz"[a]


def detect_up(rest: np.ndarray, joints: np.ndarray) -> str:
    """The up axis ("y", "z", "-y", ...) from the mapped rest pose [22, 3] and motion [F, 22, 3]."""
    def body_up(p: np.ndarray) -> np.ndarray:
        return p[..., J["head"], :] - 0.5 * (p[..., J["l_ankle"], :] + p[..., J["r_ankle"], :])

    straight = np.linalg.norm(body_up(rest)) / max(body_size(rest[None]), 1e-12)
    if straight > 0.8:   # an upright straight rest pose: its designer's up axis
        axis = _upright_axis(body_up(rest), 0.9)
        if axis is not None:
            return axis
    v = body_up(joints)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    return _upright_axis(v.mean(axis=0), 0.5) or "y"


def handedness(joints: np.ndarray) -> float:
    """Sum over frames of sign(det[up, forward, left]) of [F, 22, 3] positions: > 0 when the
    joints named left are on the body's left (a proper, unmirrored body)."""
    up = joints[:, J["neck"]] - joints[:, J["pelvis"]]
    fwd = (joints[:, J["l_foot"]] - joints[:, J["l_ankle"]]
           + joints[:, J["r_foot"]] - joints[:, J["r_ankle"]])
    left = joints[:, J["l_hip"]] - joints[:, J["r_hip"]]
    return float(np.sign(np.einsum("fi,fi->f", np.cross(up, fwd), left)).sum())


def resample(x: np.ndarray, src_fps: float, fps: float) -> np.ndarray:
    """Linear interpolation in time of [F, ...] sampled at src_fps onto k / fps, k = 0, 1, ...
    A sample within 0.1% of a frame past the end is kept (frame times like 0.0333333 are
    rounded in files) and clamped to the last frame."""
    if abs(src_fps / fps - 1) < 1e-4 or len(x) < 2:
        return x.copy()
    step = src_fps / fps                                      # source frames per output frame
    n_out = int(np.floor((len(x) - 1) / step + 1e-3)) + 1
    t = np.minimum(np.arange(n_out) * step, len(x) - 1)      # [T] in source frames
    i0 = np.clip(np.floor(t).astype(int), 0, len(x) - 2)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return (1 - w) * x[i0] + w * x[i0 + 1]


@dataclass
class Retargeted:
    """A motion on the 22-joint layout and what happened on the way."""

    joints: np.ndarray                 # [T, 22, 3] float32, metres, Y up, at `fps`
    fps: float
    source_fps: float                  # the rate the source frames were taken at
    dropped_first_frame: bool = False  # an added reference pose was removed
    notes: list[str] = field(default_factory=list)


def retarget(anim: BVHAnimation, fps: float = skeleton.FPS, name_map: dict[str, str] | None = None,
             unit: float | str | None = None, up: str | None = None,
             source_fps: float | None = None, drop_reference: bool = True,
             name: str = "the file") -> Retargeted:
    """The 22-joint motion of a parsed animation (see the module docstring). `unit`: metres per
    file unit (number) or "m"/"cm"/"mm"/"in"/"ft"/"cmu"; None detects it. `up`: the file's up axis
    ("y", "z", "-z", ...); None detects it. `source_fps`: the true capture rate when the file's own
    is wrong. `drop_reference`: drop a first frame that is an added reference pose. `name` is
    used in notes."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if source_fps is not None and not (np.isfinite(source_fps) and source_fps > 0):
        raise ValueError(f"source_fps must be a positive number, got {source_fps}")
    if anim.num_frames == 0:
        raise RetargetError("the animation has no frames")
    mapping = find_mapping(anim, name_map)
    pos, rot = anim.forward_kinematics()                                   # [F, J, 3], [F, J, 3, 3]
    ends = {j: pos[:, j] + rot[:, j] @ off for j, off in anim.end_sites.items()}
    _derive_collars_at_neck(mapping, pos)
    joints = apply_mapping(mapping, pos, ends)                             # [F, 22, 3]
    rest_pos = anim.rest_positions()                                       # [J, 3]
    rest_ends = {j: rest_pos[None, j] + off for j, off in anim.end_sites.items()}
    rest = apply_mapping(mapping, rest_pos[None], rest_ends)[0]            # [22, 3]

    r = up_rotation(up if up is not None else detect_up(rest, joints))
    joints, rest = joints @ r.T, rest @ r.T
    if handedness(joints) < 0:
        joints[..., 0] *= -1.0
        rest[..., 0] *= -1.0
    scale = _unit_scale(unit)
    scale = scale if scale is not None else detect_unit(joints)
    joints, rest = joints * scale, rest * scale
    src_fps = float(source_fps) if source_fps is not None else anim.fps
    out = Retargeted(joints=joints, fps=float(fps), source_fps=src_fps)
    if drop_reference and (why := detect_reference_pose(joints, rest)) is not None:
        out.joints = joints[1:]
        out.dropped_first_frame = True
        out.notes.append(f"{name}: dropped frame 0 as an added reference pose: {why}")
    out.joints = resample(out.joints, src_fps, fps).astype(np.float32)
    return out


def to_smpl22(anim: BVHAnimation, fps: float = skeleton.FPS, name_map: dict[str, str] | None = None,
              unit: float | str | None = None, up: str | None = None, **kw) -> np.ndarray:
    """Joint positions [T, 22, 3] float32 in metres, Y up, at `fps`, in skeleton.JOINT_NAMES
    order: retarget(...).joints, its notes raised as ReferencePoseWarning."""
    res = retarget(anim, fps=fps, name_map=name_map, unit=unit, up=up, **kw)
    for note in res.notes:
        warnings.warn(note, ReferencePoseWarning, stacklevel=2)
    return res.joints


MOTION_SUFFIXES = (".bvh", ".amc")


def load_motion(path: str | os.PathLike, fps: float = skeleton.FPS, asf: str | os.PathLike | None = None,
                **kw) -> Retargeted:
    """Read and retarget a motion file: a .bvh, or an .amc with its skeleton (`asf`, default: the
    .asf beside it, see asfamc.find_asf). Other keywords as retarget()."""
    path = Path(path)
    suffix = path.suffix.lower()
    kw.setdefault("name", path.name)
    if suffix == ".bvh":
        return retarget(load(path), fps=fps, **kw)
    if suffix in (".amc", ".asf"):
        from . import asfamc
        if suffix == ".asf":
            raise RetargetError(f"{path.name} is a skeleton (.asf) without motion: pass its .amc file")
        skel = asfamc.load_asf(asf if asf is not None else asfamc.find_asf(path))
        return retarget(asfamc.to_bvh_animation(skel, asfamc.load_amc(path, skel)), fps=fps, **kw)
    raise RetargetError(f"{path.name}: unknown motion file type {path.suffix!r}; expected "
                        f"{' or '.join(MOTION_SUFFIXES)}")


def load_bvh_joints(path: str | os.PathLike, fps: float = skeleton.FPS, **kw) -> np.ndarray:
    """A motion file (.bvh, or .amc beside its .asf) as [T, 22, 3] float32 metres, Y up, at `fps`;
    a dropped reference pose is raised as a ReferencePoseWarning."""
    res = load_motion(path, fps=fps, **kw)
    for note in res.notes:
        warnings.warn(note, ReferencePoseWarning, stacklevel=2)
    return res.joints
