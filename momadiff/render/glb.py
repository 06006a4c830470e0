"""GLB (binary glTF 2.0) export: the skinned mannequin with the motion as a skeletal animation,
and a static mesh posed at one frame.

The file is written directly (a JSON chunk and a binary chunk), with no glTF library. The skin's
joints are the 22 skeleton bones, nodes laid out in the rest (T) pose with the mannequin's
offsets; the animation has one rotation channel per joint (kinematics.solve_rotations) and a
translation channel for the root, sampled at the motion's frame rate with LINEAR interpolation.
"""
from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np

from ..motion import kinematics, skeleton
from .mannequin import BODY_COLOUR, Mannequin
from .validate import check_joints

_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_MATERIALS = [{"name": "mannequin", "pbrMetallicRoughness": {
    "baseColorFactor": list(BODY_COLOUR), "metallicFactor": 0.0, "roughnessFactor": 0.65}}]


class _GltfBuilder:
    """Collects accessors into one binary buffer and assembles the GLB container."""

    def __init__(self) -> None:
        self.doc: dict = {"asset": {"version": "2.0", "generator": "momadiff"},
                          "buffers": [], "bufferViews": [], "accessors": []}
        self.blob = bytearray()

    def accessor(self, data: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        """Append data (its dtype decides the component type) and return the accessor index."""
        comp = {np.dtype(np.float32): _FLOAT, np.dtype(np.uint8): _UBYTE,
                np.dtype(np.uint16): _USHORT, np.dtype(np.uint32): _UINT}[data.dtype]
        raw = np.ascontiguousarray(data).tobytes()
        self.blob += b"\0" * (-len(self.blob) % 4)   # accessors must be aligned to their component size
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self.blob += raw
        self.doc["bufferViews"].append(view)
        count = data.shape[0]
        acc = {"bufferView": len(self.doc["bufferViews"]) - 1, "componentType": comp, "count": int(count), "type": kind}
        if bounds:
            flat = data.reshape(count, -1)
            acc["min"] = [float(v) for v in flat.min(axis=0)]
            acc["max"] = [float(v) for v in flat.max(axis=0)]
        self.doc["accessors"].append(acc)
        return len(self.doc["accessors"]) - 1

    def write(self, path: str | Path) -> Path:
        self.blob += b"\0" * (-len(self.blob) % 4)
        self.doc["buffers"] = [{"byteLength": len(self.blob)}]
        text = json.dumps(self.doc, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + len(self.blob)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(struct.pack("<4sII", b"glTF", 2, total))
            f.write(struct.pack("<I4s", len(text), b"JSON") + text)
            f.write(struct.pack("<I4s", len(self.blob), b"BIN\0") + bytes(self.blob))
        return path


def _mesh_primitive(gb: _GltfBuilder, man: Mannequin, vertices: np.ndarray, skinned: bool) -> dict:
    """The mannequin's triangle primitive (material 0) with vertices [V, 3], and its skin
    attributes when skinned."""
    normals = man.vertex_normals(vertices).astype(np.float32)
    index_type = np.uint16 if len(vertices) < 65536 else np.uint32
    attrs = {"POSITION": gb.accessor(vertices.astype(np.float32), "VEC3", _ARRAY_BUFFER, bounds=True),
             "NORMAL": gb.accessor(normals, "VEC3", _ARRAY_BUFFER)}
    if skinned:
        idx, w = man.skin_influences(4)
        attrs["JOINTS_0"] = gb.accessor(idx.astype(np.uint8), "VEC4", _ARRAY_BUFFER)
        attrs["WEIGHTS_0"] = gb.accessor(w.astype(np.float32), "VEC4", _ARRAY_BUFFER)
    indices = gb.accessor(man.faces.reshape(-1).astype(index_type), "SCALAR", _ELEMENT_ARRAY_BUFFER, bounds=True)
    return {"attributes": attrs, "indices": indices, "material": 0, "mode": 4}


def _continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs [T, J, 4] so consecutive keys lie on the same hemisphere (no 360 degree
    spins when a viewer interpolates linearly)."""
    q = q.copy()
    for t in range(1, len(q)):
        flip = np.sum(q[t] * q[t - 1], axis=-1) < 0
        q[t, flip] *= -1
    return q


def write_glb(joints: np.ndarray, path: str | Path, fps: int = skeleton.FPS,
              mannequin: Mannequin | None = None, in_place: bool = False) -> Path:
    """Write joints [T, 22, 3] as an animated, skinned GLB at path and return the path.

    Nodes 0..21 are the joints (named as skeleton.JOINT_NAMES), node 22 the skinned mesh; one
    animation "motion" with T keys at 1/fps spacing (duration (T - 1) / fps). in_place keeps the
    root over its first-frame floor position (a treadmill): web viewers frame the model once, at
    load, so a figure that walks away would leave their view."""
    joints = check_joints(joints)
    if in_place:
        joints = joints.copy()
        joints[..., [0, 2]] -= joints[:, :1, [0, 2]] - joints[:1, :1, [0, 2]]
    man = mannequin or Mannequin.for_motion(joints)
    local_q, root_pos = kinematics.solve_rotations(joints, man.offsets)          # [T, 22, 4], [T, 3]
    gb = _GltfBuilder()
    rest = man.rest_joints.astype(np.float64)
    nodes = []
    for j, name in enumerate(skeleton.JOINT_NAMES):
        node = {"name": name,
                "translation": [float(v) for v in (rest[0] if j == 0 else man.offsets[j])]}
        kids = skeleton.children(j)
        if kids:
            node["children"] = kids
        nodes.append(node)
    nodes.append({"name": "mannequin", "mesh": 0, "skin": 0})
    gb.doc["nodes"] = nodes
    gb.doc["scenes"] = [{"name": "motion", "nodes": [0, len(nodes) - 1]}]
    gb.doc["scene"] = 0
    gb.doc["meshes"] = [{"name": "mannequin", "primitives": [_mesh_primitive(gb, man, man.vertices, skinned=True)]}]
    gb.doc["materials"] = _MATERIALS
    # Bind pose = rest pose with identity rotations, so each inverse bind matrix is a translation.
    ibm = np.tile(np.eye(4, dtype=np.float32), (skeleton.NUM_JOINTS, 1, 1))
    ibm[:, :3, 3] = -rest
    gb.doc["skins"] = [{"name": "skeleton", "joints": list(range(skeleton.NUM_JOINTS)), "skeleton": 0,
                        "inverseBindMatrices": gb.accessor(np.ascontiguousarray(ibm.transpose(0, 2, 1)), "MAT4")}]
    times = gb.accessor((np.arange(len(joints)) / fps).astype(np.float32), "SCALAR", bounds=True)
    quats = _continuous(local_q)[..., [1, 2, 3, 0]].astype(np.float32)          # glTF wants x, y, z, w
    samplers = [{"input": times, "output": gb.accessor(np.ascontiguousarray(quats[:, j]), "VEC4"),
                 "interpolation": "LINEAR"} for j in range(skeleton.NUM_JOINTS)]
    channels = [{"sampler": j, "target": {"node": j, "path": "rotation"}} for j in range(skeleton.NUM_JOINTS)]
    samplers.append({"input": times, "output": gb.accessor(root_pos.astype(np.float32), "VEC3"),
                     "interpolation": "LINEAR"})
    channels.append({"sampler": len(samplers) - 1, "target": {"node": 0, "path": "translation"}})
    gb.doc["animations"] = [{"name": "motion", "samplers": samplers, "channels": channels}]
    return gb.write(path)


def posed_glb(joints: np.ndarray, frame: int, path: str | Path | None = None,
              mannequin: Mannequin | None = None) -> Path:
    """Write a static (unskinned) mannequin mesh posed like joints [T, 22, 3] at `frame` and return
    its path (a new temporary .glb when path is None). For viewers that do not play animations."""
    joints = check_joints(joints)
    if not 0 <= frame < len(joints):
        raise IndexError(f"frame {frame} out of range for a motion of {len(joints)} frames")
    man = mannequin or Mannequin.for_motion(joints)
    verts = man.pose_from_joints(joints[frame:frame + 1])[0]
    if path is None:
        with tempfile.NamedTemporaryFile(prefix="momadiff_pose_", suffix=".glb", delete=False) as f:
            path = f.name
    gb = _GltfBuilder()
    gb.doc["meshes"] = [{"name": "mannequin", "primitives": [_mesh_primitive(gb, man, verts, skinned=False)]}]
    gb.doc["materials"] = _MATERIALS
    gb.doc["nodes"] = [{"name": "mannequin", "mesh": 0}]
    gb.doc["scenes"] = [{"nodes": [0]}]
    gb.doc["scene"] = 0
    return gb.write(path)
