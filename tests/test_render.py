"""Tests of momadiff.render: skeleton video, mannequin mesh, mesh video, GLB and the render CLI.

Test motions are made here by forward kinematics with sinusoidal joint rotations (a walk, a wave,
a bow), so no data set is needed.
"""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from momadiff.motion import kinematics, skeleton
from momadiff.render import (
    Mannequin,
    MeshRenderUnavailable,
    filmstrip,
    png_bytes,
    pose_thumbnail,
    posed_glb,
    render_cli,
    render_mesh_video,
    render_skeleton_video,
    skeleton_frame,
    write_glb,
)
from momadiff.motion.rotation import qmul, quat_to_matrix


def _axis_q(axis: str, angle: np.ndarray) -> np.ndarray:
    """Quaternions [..., 4] for rotations by angle (radians) about a principal axis."""
    angle = np.asarray(angle, dtype=np.float64)
    q = np.zeros(angle.shape + (4,))
    q[..., 0] = np.cos(angle / 2)
    q[..., "XYZ".index(axis) + 1] = np.sin(angle / 2)
    return q


def _ground(joints: np.ndarray) -> np.ndarray:
    joints = joints.copy()
    joints[..., 1] -= joints[..., 1].min()
    return joints.astype(np.float32)


def _identity(frames: int) -> np.ndarray:
    q = np.zeros((frames, skeleton.NUM_JOINTS, 4))
    q[..., 0] = 1.0
    return q


def _arms_down(q: np.ndarray, swing: np.ndarray | float = 0.0) -> None:
    """Lower both arms from the T-pose to the sides, swinging them forward/back by `swing`."""
    swing = np.broadcast_to(np.asarray(swing, dtype=np.float64), q.shape[:1])
    q[:, 16] = qmul(_axis_q("X", -swing), _axis_q("Z", np.full(len(q), -1.3)))
    q[:, 17] = qmul(_axis_q("X", swing), _axis_q("Z", np.full(len(q), 1.3)))
    q[:, 18] = _axis_q("Y", np.full(len(q), 0.25))
    q[:, 19] = _axis_q("Y", np.full(len(q), -0.25))


def make_walk(frames: int = 200, fps: int = skeleton.FPS) -> np.ndarray:
    """A walk forward (+Z) at about 1.2 m/s: joints [frames, 22, 3]."""
    t = np.arange(frames) / fps
    phase = 2 * np.pi * 0.9 * t
    q = _identity(frames)
    q[:, 1] = _axis_q("X", -0.45 * np.sin(phase))
    q[:, 2] = _axis_q("X", 0.45 * np.sin(phase))
    q[:, 4] = _axis_q("X", 0.55 * np.maximum(0.0, np.sin(phase - 1.2)) + 0.08)
    q[:, 5] = _axis_q("X", 0.55 * np.maximum(0.0, np.sin(phase + np.pi - 1.2)) + 0.08)
    q[:, 7] = _axis_q("X", -0.15 * np.sin(phase))
    q[:, 8] = _axis_q("X", 0.15 * np.sin(phase))
    q[:, 0] = _axis_q("Y", 0.08 * np.sin(phase))
    _arms_down(q, 0.35 * np.sin(phase))
    root = np.stack([np.zeros_like(t), 0.03 * np.cos(2 * phase), 1.2 * t], axis=-1)
    joints = kinematics.forward(q, root, skeleton.rest_offsets())
    return _ground(joints)


def make_wave(frames: int = 80, fps: int = skeleton.FPS) -> np.ndarray:
    """Standing, waving the right hand above the shoulder: joints [frames, 22, 3]."""
    t = np.arange(frames) / fps
    q = _identity(frames)
    _arms_down(q)
    q[:, 17] = _axis_q("Z", np.full(frames, -0.25))
    q[:, 19] = _axis_q("Z", -1.3 + 0.45 * np.sin(2 * np.pi * 1.5 * t))
    joints = kinematics.forward(q, np.zeros((frames, 3)), skeleton.rest_offsets())
    return _ground(joints)


def make_bow(frames: int = 80, fps: int = skeleton.FPS) -> np.ndarray:
    """A bow: the upper body bends forward by ~80 degrees and comes back: joints [frames, 22, 3]."""
    t = np.arange(frames) / fps
    bend = 0.7 * np.sin(np.pi * t / t[-1]) ** 2
    q = _identity(frames)
    _arms_down(q)
    q[:, 0] = _axis_q("X", 0.6 * bend)
    q[:, 1] = _axis_q("X", -0.6 * bend)
    q[:, 2] = _axis_q("X", -0.6 * bend)
    for j in (3, 6, 9):
        q[:, j] = _axis_q("X", 0.25 * bend)
    q[:, 12] = _axis_q("X", 0.2 * bend)
    joints = kinematics.forward(q, np.zeros((frames, 3)), skeleton.rest_offsets())
    return _ground(joints)


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    return make_walk(60)


@pytest.fixture(scope="module")
def mannequin() -> Mannequin:
    return Mannequin.build()


def _read_video(path) -> tuple[dict, np.ndarray]:
    import imageio_ffmpeg
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = np.stack([np.frombuffer(f, dtype=np.uint8).reshape(h, w, 3) for f in gen])
    return meta, frames


def test_mannequin_is_closed_and_sized_for_realtime(mannequin):
    trimesh = pytest.importorskip("trimesh")
    mesh = trimesh.Trimesh(mannequin.vertices, mannequin.faces, process=False)
    edges = np.sort(mesh.edges, axis=1)
    _, uses = np.unique(edges, axis=0, return_counts=True)
    boundary_fraction = float(np.mean(uses == 1))
    assert boundary_fraction == 0.0, f"{boundary_fraction:.4%} of edges are boundary edges"
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0.04, "faces should point outwards and enclose a body-sized volume"
    assert 2000 <= len(mannequin.faces) <= 12000
    height = mannequin.vertices[:, 1].max() - mannequin.vertices[:, 1].min()
    assert 1.6 < height < 1.85


def test_mannequin_skin_weights(mannequin):
    w = mannequin.weights
    assert w.shape == (len(mannequin.vertices), skeleton.NUM_JOINTS)
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
    assert ((w > 0).sum(axis=1) <= 4).all()
    # Every bone drives some of the body (spine joints share the torso), hands follow the wrists.
    assert (w.max(axis=0) > 0.3).all()
    hand = w[:, skeleton.JOINT_INDEX["l_wrist"]] > 0.9
    assert (mannequin.vertices[hand, 0] > mannequin.rest_joints[skeleton.JOINT_INDEX["l_wrist"], 0] - 0.03).all()


def test_rest_pose_gives_rest_mesh(mannequin, walk):
    for man in (mannequin, Mannequin.for_motion(walk)):
        q = _identity(3)
        root = np.repeat(man.rest_joints[None, 0], 3, axis=0)
        np.testing.assert_allclose(man.pose(q, root), np.broadcast_to(man.vertices, (3,) + man.vertices.shape),
                                   atol=1e-5)


def test_other_bone_lengths_keep_topology(mannequin):
    tall = Mannequin.build(skeleton.rest_offsets() * 1.1)
    np.testing.assert_array_equal(tall.faces, mannequin.faces)
    ratio = np.ptp(tall.vertices[:, 1]) / np.ptp(mannequin.vertices[:, 1])
    assert 1.08 < ratio < 1.12


def test_posed_mesh_follows_the_joints(walk):
    man = Mannequin.for_motion(walk)
    verts = man.pose_from_joints(walk)                                     # [T, V, 3]
    assert verts.shape == (len(walk), len(man.vertices), 3)
    for j in ("l_wrist", "r_wrist", "head", "l_ankle", "r_foot"):
        idx = skeleton.JOINT_INDEX[j]
        owned = man.weights[:, idx] > 0.5
        dist = np.linalg.norm(verts[:, owned] - walk[:, None, idx], axis=-1)
        assert dist.max() < 0.3, f"{j}: vertices it carries drift {dist.max():.2f} m from it"


def _glb_arrays(gltf, blob: bytes, accessor: int) -> np.ndarray:
    acc = gltf.accessors[accessor]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}[acc.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    start = view.byteOffset + (acc.byteOffset or 0)
    return np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=start).reshape(acc.count, width)


def test_glb_has_skin_and_animation(tmp_path, walk):
    pygltflib = pytest.importorskip("pygltflib")
    man = Mannequin.for_motion(walk)
    path = write_glb(walk, tmp_path / "motion.glb", mannequin=man)
    gltf = pygltflib.GLTF2().load(str(path))
    blob = gltf.binary_blob()
    skin = gltf.skins[0]
    assert len(skin.joints) == skeleton.NUM_JOINTS
    assert [gltf.nodes[j].name for j in skin.joints] == list(skeleton.JOINT_NAMES)
    prim = gltf.meshes[0].primitives[0]
    assert prim.attributes.JOINTS_0 is not None and prim.attributes.WEIGHTS_0 is not None
    weights = _glb_arrays(gltf, blob, prim.attributes.WEIGHTS_0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    anim = gltf.animations[0]
    times = _glb_arrays(gltf, blob, anim.samplers[0].input)[:, 0]
    assert len(times) == len(walk)
    assert times[-1] == pytest.approx((len(walk) - 1) / skeleton.FPS)
    assert {s.interpolation for s in anim.samplers} == {"LINEAR"}
    paths = sorted((c.target.node, c.target.path) for c in anim.channels)
    assert paths == sorted([(j, "rotation") for j in range(skeleton.NUM_JOINTS)] + [(0, "translation")])

    # Skin the mesh with the file's own data at one key and compare with Mannequin.pose.
    k = 25
    rot = {c.target.node: _glb_arrays(gltf, blob, anim.samplers[c.sampler].output)[k]
           for c in anim.channels if c.target.path == "rotation"}
    root = next(_glb_arrays(gltf, blob, anim.samplers[c.sampler].output)[k]
            for c in anim.channels if c.target.path == "translation")
    glob = [None] * skeleton.NUM_JOINTS
    for j, parent in enumerate(skeleton.PARENTS):
        local = np.eye(4)
        local[:3, :3] = quat_to_matrix(rot[j][[3, 0, 1, 2]].astype(np.float64))
        local[:3, 3] = root if parent < 0 else gltf.nodes[j].translation
        glob[j] = local if parent < 0 else glob[parent] @ local
    ibm = _glb_arrays(gltf, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    skinning = np.stack(glob) @ ibm                                               # [22, 4, 4]
    pos = _glb_arrays(gltf, blob, prim.attributes.POSITION).astype(np.float64)
    joints_idx = _glb_arrays(gltf, blob, prim.attributes.JOINTS_0).astype(int)
    mats = np.einsum("vk,vkab->vab", weights, skinning[joints_idx])
    skinned = np.einsum("vab,vb->va", mats[:, :3, :3], pos) + mats[:, :3, 3]
    np.testing.assert_allclose(skinned, man.pose_from_joints(walk)[k], atol=2e-3)


def test_glb_in_place_keeps_the_root_still(tmp_path, walk):
    pygltflib = pytest.importorskip("pygltflib")
    gltf = pygltflib.GLTF2().load(str(write_glb(walk, tmp_path / "m.glb", in_place=True)))
    blob = gltf.binary_blob()
    anim = gltf.animations[0]
    sampler = next(c.sampler for c in anim.channels if c.target.path == "translation")
    root = _glb_arrays(gltf, blob, anim.samplers[sampler].output)
    np.testing.assert_allclose(root[:, [0, 2]], np.broadcast_to(walk[0, 0, [0, 2]], (len(walk), 2)), atol=1e-5)
    np.testing.assert_allclose(root[:, 1], walk[:, 0, 1], atol=1e-5)


def test_posed_glb_is_a_static_mesh(tmp_path, walk):
    trimesh = pytest.importorskip("trimesh")
    path = posed_glb(walk, 30, tmp_path / "pose.glb")
    scene = trimesh.load(str(path))
    mesh = next(iter(scene.geometry.values()))
    assert len(mesh.faces) == len(Mannequin.build().faces)
    lo, hi = mesh.bounds
    assert (walk[30] > lo - 0.01).all() and (walk[30] < hi + 0.01).all()
    with open(path, "rb") as f:
        magic, version, _ = struct.unpack("<4sII", f.read(12))
        length, kind = struct.unpack("<I4s", f.read(8))
        doc = json.loads(f.read(length))
    assert (magic, version, kind) == (b"glTF", 2, b"JSON")
    assert "skins" not in doc and "animations" not in doc


def test_skeleton_video_frames_and_content(tmp_path, walk):
    path = render_skeleton_video(walk[:40], tmp_path / "skel.mp4", size=(160, 128), highlight_frames=[5], title="walk")
    meta, frames = _read_video(path)
    assert frames.shape == (40, 128, 160, 3)
    assert meta["fps"] == pytest.approx(skeleton.FPS)
    assert frames.std() > 10, "a blank video"
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1, "the figure should move"


def test_skeleton_images(walk):
    plain = skeleton_frame(walk, 10, size=(240, 240))
    marked = skeleton_frame(walk, 10, size=(240, 240), highlight=True)
    assert plain.shape == (240, 240, 3) and plain.dtype == np.uint8
    assert np.abs(plain.astype(int) - marked.astype(int)).sum() > 0
    # The character's left bones (blue) and right bones (red/orange) are both drawn.
    blue = (plain[..., 2] > plain[..., 0] + 60).sum()
    red = (plain[..., 0] > plain[..., 2] + 60).sum()
    assert blue > 50 and red > 50
    strip = filmstrip(walk, [0, 10, 20], thumb_size=96, highlight_frames=[10])
    assert strip.shape == (96, 3 * 96, 3)
    thumb = pose_thumbnail(walk[0], size=64)
    assert thumb.shape == (64, 64, 3) and thumb.std() > 5
    assert png_bytes(thumb)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        skeleton_frame(np.zeros((4, 21, 3)), 0)


def test_mesh_video(tmp_path, walk):
    try:
        path = render_mesh_video(walk[:16], tmp_path / "mesh.mp4", size=(128, 128), side_by_side=True)
    except MeshRenderUnavailable as err:
        pytest.skip(f"no offscreen OpenGL here: {err}")
    _meta, frames = _read_video(path)
    assert frames.shape == (16, 128, 256, 3)
    mesh_half = frames[:, :, :128]
    assert mesh_half.std() > 10, "a blank mesh render"
    # The body is drawn in warm clay colours that neither the floor nor the sky have.
    warm = (mesh_half[..., 0].astype(int) - mesh_half[..., 2]) > 25
    assert warm.mean() > 0.01


def test_cli_writes_all_outputs(tmp_path, walk):
    np.save(tmp_path / "m.npy", walk[:20])
    code = render_cli([str(tmp_path / "m.npy"), "--out", str(tmp_path / "out"), "--size", "96"])
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    if code == 1:  # no OpenGL: everything but the mesh video
        assert written == ["motion.glb", "skeleton.mp4"]
    else:
        assert code == 0 and written == ["mesh.mp4", "motion.glb", "skeleton.mp4"]


@pytest.mark.parametrize("case", ["missing", "shape", "nan", "not_npy", "no_out"])
def test_cli_errors_are_one_line(tmp_path, capsys, case):
    path = tmp_path / "m.npy"
    if case == "shape":
        np.save(path, np.zeros((5, 21, 3)))
    elif case == "nan":
        bad = make_wave(10)
        bad[4, 3, 0] = np.nan
        np.save(path, bad)
    elif case == "not_npy":
        path.write_text("hello")
    argv = [str(path)] + ([] if case == "no_out" else ["--out", str(tmp_path / "out")])
    assert render_cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not (tmp_path / "out").exists()
