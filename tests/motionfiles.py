"""Small motion files written by tests: an ASF skeleton of the canonical body with CMU's bone
names and conventions, AMC motion for it, and BVH files of a synthetic walk."""
from __future__ import annotations

import numpy as np

from momadiff.motion import bvh, skeleton

CMU_UNIT = 0.0254 / 0.45            # metres per CMU ASF length unit
REST = {n: p.astype(np.float64) for n, p in zip(skeleton.JOINT_NAMES, skeleton.rest_pose())}


def _pt(key: str) -> np.ndarray:
    if key.startswith("mid:"):
        a, b = key[4:].split(",")
        return 0.5 * (REST[a] + REST[b])
    if key.endswith("+toe"):
        return REST[key[:-4]] + np.array([0.0, 0.0, 0.04])
    if key.endswith("+hand"):
        side = 1.0 if key.startswith("l_") else -1.0
        return REST[key[:-5]] + np.array([side * 0.06, 0.0, 0.0])
    if key == "top":
        return REST["head"] + np.array([0.0, 0.1, 0.0])
    return REST[key]


# (bone, parent bone, start point, end point, dof, axis); the start of a bone is its parent's end.
def _side(s: str) -> list[tuple]:
    return [
        (f"{s}hipjoint", "root", "pelvis", f"{s}_hip", "", (0, 0, 0)),
        (f"{s}femur", f"{s}hipjoint", f"{s}_hip", f"{s}_knee", "rx ry rz", (0, 0, 20)),
        (f"{s}tibia", f"{s}femur", f"{s}_knee", f"{s}_ankle", "rx", (0, 0, 20)),
        (f"{s}foot", f"{s}tibia", f"{s}_ankle", f"{s}_foot", "rx rz", (-90, 0, 20)),
        (f"{s}toes", f"{s}foot", f"{s}_foot", f"{s}_foot+toe", "rx", (-90, 0, 20)),
        (f"{s}clavicle", "thorax", "neck", f"{s}_shoulder", "ry rz", (0, 0, 0)),
        (f"{s}humerus", f"{s}clavicle", f"{s}_shoulder", f"{s}_elbow", "rx ry rz", (0, 0, 90 if s == "l" else -90)),
        (f"{s}radius", f"{s}humerus", f"{s}_elbow", f"{s}_wrist", "rx", (0, 0, 90 if s == "l" else -90)),
        (f"{s}wrist", f"{s}radius", f"{s}_wrist", f"{s}_wrist+hand", "ry", (0, 0, 90 if s == "l" else -90)),
    ]


BONES = ([("lowerback", "root", "pelvis", "spine1", "rx ry rz", (0, 0, 0)),
          ("upperback", "lowerback", "spine1", "spine2", "rx ry rz", (0, 0, 0)),
          ("thorax", "upperback", "spine2", "neck", "rx ry rz", (0, 0, 0)),
          ("lowerneck", "thorax", "neck", "mid:neck,head", "rx ry rz", (0, 0, 0)),
          ("upperneck", "lowerneck", "mid:neck,head", "head", "rx ry rz", (0, 0, 0)),
          ("head", "upperneck", "head", "top", "rx ry rz", (0, 0, 0))]
         + _side("l") + _side("r"))


def asf_text(bones=BONES, unit: float = CMU_UNIT, extra_bone_fields: str = "") -> str:
    """An ASF of the canonical body in CMU units (length 0.45) and degrees."""
    out = [":version 1.10", ":name test", ":units", "  mass 1.0", "  length 0.45", "  angle deg",
           ":documentation", "  made by tests", ":root", "   order TX TY TZ RX RY RZ",
           "   axis XYZ", "   position 0 0 0", "   orientation 0 0 0", ":bonedata"]
    for k, (name, _, a, b, dof, axis) in enumerate(bones, 1):
        v = (_pt(b) - _pt(a)) / unit
        length = np.linalg.norm(v)
        d = v / length
        out += ["  begin", f"     id {k}", f"     name {name}",
                f"     direction {d[0]:.9f} {d[1]:.9f} {d[2]:.9f}", f"     length {length:.9f}",
                f"     axis {axis[0]} {axis[1]} {axis[2]}  XYZ"]
        if dof:
            out.append(f"    dof {dof}")
            lims = ["(-180.0 180.0)"] * len(dof.split())
            out.append("    limits " + lims[0])
            out += ["           " + x for x in lims[1:]]
        if extra_bone_fields:
            out.append(extra_bone_fields)
        out.append("  end")
    out += [":hierarchy", "  begin"]
    parents: dict[str, list[str]] = {}
    for name, parent, *_ in bones:
        parents.setdefault(parent, []).append(name)
    out += [f"    {p} {' '.join(kids)}" for p, kids in parents.items()]
    out += ["  end"]
    return "\n".join(out) + "\n"


def amc_text(frames: list[dict[str, list[float]]], bones=BONES, first: int = 1) -> str:
    """AMC text: per frame {bone: values}; root defaults to (0, pelvis height, 0, 0, 0, 0) in CMU
    units, every other bone with dof to zeros."""
    root_default = [0.0, REST["pelvis"][1] / CMU_UNIT, 0.0, 0.0, 0.0, 0.0]
    out = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for k, values in enumerate(frames):
        out.append(str(first + k))
        out.append("root " + " ".join(f"{v:.6f}" for v in values.get("root", root_default)))
        for name, _, _, _, dof, _ in bones:
            if dof:
                vals = values.get(name, [0.0] * len(dof.split()))
                out.append(name + " " + " ".join(f"{v:.6f}" for v in vals))
    return "\n".join(out) + "\n"


def walk_bvh(path, seconds: float = 3.0, fps: float = 20.0, seed: int = 0, reference_pose: bool = False) -> None:
    """A BVH of a synthetic walk (conftest.synthetic_walk) at fps; with reference_pose, a T-pose at
    the origin is put first, as the cgspeed CMU conversions do."""
    from conftest import synthetic_walk
    joints = synthetic_walk(int(round(seconds * fps)) + 1, seed=seed)
    joints[..., 2] += 3.0          # the walk starts away from the origin
    if reference_pose:
        joints = np.concatenate([skeleton.rest_pose()[None], joints])
    bvh.save(path, joints, fps=fps)
