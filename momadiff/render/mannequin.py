"""A license-free, procedurally built, skinned body mesh for the 22-joint skeleton.

The body is an implicit surface: tapered capsules, ellipsoids and rounded boxes laid out around
the canonical T-pose (skeleton.rest_pose), joined with smooth unions so joints are rounded and
the torso, pelvis, head, hands and feet are shaped. It is polygonised once with marching cubes,
decimated to a few thousand faces and cached; a motion with other bone lengths gets the same
mesh (same topology) warped bone by bone onto its rest skeleton. Linear blend skinning weights
come from inverse distances to the bones near each vertex's body part, smoothed over the surface.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..motion import kinematics, skeleton
from ..motion.rotation import qbetween, quat_to_matrix
from .sdf import Ellipsoid, RoundBox, RoundCone, Squashed, segment_frame, smooth_min

Primitive = Ellipsoid | RoundBox | RoundCone | Squashed

_J = skeleton.JOINT_INDEX
_VOXEL = 0.007          # marching-cubes cell (m): fine enough for the thumb and the nose
_TARGET_FACES = 9000    # after decimation
_INFLUENCES = 4         # bones per vertex, as glTF's JOINTS_0 holds
_FAR = 1e3              # field value where no primitive reaches

BODY_COLOUR = (0.78, 0.64, 0.50, 1.0)   # linear RGBA: a warm clay that stands out from grey floors


@dataclass(frozen=True)
class _Part:
    owner: int          # joint whose rotation carries this part
    group: str          # parts blend smoothly inside a group; limbs blend only with the torso
    blend: float        # fillet size (m) when joining its group
    shape: Primitive


def _v(*xyz: float) -> np.ndarray:
    return np.array(xyz, dtype=np.float64)


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + (b - a) * t


def _body_parts(p: np.ndarray) -> list[_Part]:
    """The body's primitives around canonical rest joints p [22, 3] (T-pose, facing +Z)."""
    v = _v
    parts = [
        # Torso: pelvis, abdomen, waist, rib cage; then neck and head (skull, jaw, back of the
        # skull, brow, nose). Big fillets make one smooth trunk of them.
        _Part(0, "torso", 0.06, Ellipsoid(p[0] + v(0, -0.015, -0.01), v(0.160, 0.115, 0.110))),
        _Part(3, "torso", 0.06, Ellipsoid(p[3] + v(0, 0.0, 0.022), v(0.132, 0.120, 0.098))),
        _Part(6, "torso", 0.06, Ellipsoid(p[6] + v(0, 0.02, 0.01), v(0.138, 0.120, 0.100))),
        _Part(9, "torso", 0.06, Ellipsoid(p[9] + v(0, 0.07, -0.005), v(0.170, 0.150, 0.108))),
        _Part(12, "torso", 0.035, RoundCone(p[12] + v(0, -0.04, 0.0), p[15] + v(0, 0.0, -0.012), 0.058, 0.050)),
        _Part(15, "torso", 0.035, Ellipsoid(p[15] + v(0, 0.078, 0.008), v(0.077, 0.105, 0.094))),
        _Part(15, "torso", 0.03, Ellipsoid(p[15] + v(0, 0.025, 0.038), v(0.058, 0.055, 0.062))),
        _Part(15, "torso", 0.04, Ellipsoid(p[15] + v(0, 0.098, -0.012), v(0.079, 0.088, 0.088))),
        _Part(15, "torso", 0.02, Ellipsoid(p[15] + v(0, 0.103, 0.072), v(0.058, 0.020, 0.024))),
        _Part(15, "torso", 0.012, Ellipsoid(p[15] + v(0, 0.066, 0.100), v(0.012, 0.024, 0.020))),
    ]
    for side, (hip, knee, ankle, foot, collar, shoulder, elbow, wrist) in (
        (1.0, (1, 4, 7, 10, 13, 16, 18, 20)), (-1.0, (2, 5, 8, 11, 14, 17, 19, 21))):
        leg, arm = ("l_leg", "l_arm") if side > 0 else ("r_leg", "r_arm")
        out = v(side, 0, 0)
        parts += [
            # Torso details of one side: buttock, latissimus, chest, trapezius to the shoulder, ear.
            _Part(0, "torso", 0.05, Ellipsoid(v(side * 0.068, p[0][1] - 0.055, -0.060), v(0.080, 0.090, 0.070))),
            _Part(9, "torso", 0.05, Ellipsoid(v(side * 0.100, p[9][1] + 0.02, -0.025), v(0.060, 0.130, 0.070))),
            _Part(9, "torso", 0.05, Ellipsoid(v(side * 0.072, p[9][1] + 0.085, 0.055), v(0.075, 0.060, 0.050))),
            _Part(collar, "torso", 0.05, RoundCone(v(side * 0.03, p[12][1] - 0.035, p[12][2]),
                                                   p[shoulder] + v(-side * 0.015, 0.01, 0.0), 0.055, 0.048)),
            _Part(15, "torso", 0.01, Ellipsoid(p[15] + v(side * 0.076, 0.068, 0.005), v(0.012, 0.027, 0.018))),
            # Leg: thigh, knee cap, shin with calf, heel, instep, sole, toes. The skeleton's hips and
            # knees are close to the midline, so the leg shapes lean outwards to keep a gap
            # between the legs (touching legs would join into one surface).
            _Part(hip, leg, 0.04, RoundCone(p[hip] + out * 0.030, p[knee] + out * 0.008 + v(0, 0.02, 0),
                                            0.078, 0.050)),
            _Part(hip, leg, 0.05, Ellipsoid(_lerp(p[hip], p[knee], 0.40) + out * 0.020 + v(0, 0, 0.012),
                                            v(0.062, 0.160, 0.070))),
            _Part(knee, leg, 0.03, Ellipsoid(p[knee] + out * 0.005 + v(0, -0.005, 0.010), v(0.045, 0.056, 0.050))),
            _Part(knee, leg, 0.03, RoundCone(p[knee] + out * 0.005 + v(0, -0.01, 0), p[ankle] + v(0, 0.025, 0),
                                             0.045, 0.033)),
            _Part(knee, leg, 0.05, Ellipsoid(_lerp(p[knee], p[ankle], 0.30) + out * 0.010 + v(0, 0, -0.022),
                                             v(0.044, 0.115, 0.050))),
            _Part(ankle, leg, 0.03, Ellipsoid(p[ankle] + v(0, -0.038, -0.022), v(0.034, 0.040, 0.038))),
            _Part(ankle, leg, 0.035, Ellipsoid(_lerp(p[ankle], p[foot], 0.45) + out * 0.004,
                                               v(0.040, 0.085, 0.030), segment_frame(p[ankle], p[foot]))),
            _Part(ankle, leg, 0.03, RoundBox(v(p[ankle][0] + side * 0.006, p[foot][1] + 0.0065,
                                               0.5 * (p[ankle][2] + p[foot][2]) - 0.002),
                                             v(0.045, 0.0285, 0.105), 0.025)),
            _Part(foot, leg, 0.025, Ellipsoid(p[foot] + v(side * 0.008, -0.002, 0.040), v(0.046, 0.020, 0.040))),
            # Arm: deltoid, upper arm with biceps, forearm, palm, fingers, thumb.
            _Part(shoulder, arm, 0.035, Ellipsoid(p[shoulder] + v(side * 0.030, 0.004, 0.0), v(0.070, 0.060, 0.062))),
            _Part(shoulder, arm, 0.03, RoundCone(p[shoulder], p[elbow], 0.050, 0.039)),
            _Part(shoulder, arm, 0.03, Ellipsoid(_lerp(p[shoulder], p[elbow], 0.5) + v(0, 0.0, 0.008),
                                                 v(0.042, 0.115, 0.044), segment_frame(p[shoulder], p[elbow]))),
            _Part(elbow, arm, 0.03, RoundCone(p[elbow], p[wrist], 0.038, 0.027)),
            _Part(elbow, arm, 0.04, Ellipsoid(_lerp(p[elbow], p[wrist], 0.28), v(0.040, 0.090, 0.045),
                                              segment_frame(p[elbow], p[wrist]))),
        ]
        along = (p[wrist] - p[elbow]) / np.linalg.norm(p[wrist] - p[elbow])
        down = v(0, -1, 0)
        finger_dir = along * np.cos(0.2) + down * np.sin(0.2)   # fingers curl gently, as when relaxed
        knuckles = p[wrist] + along * 0.085 + down * 0.004
        parts += [
            # Palm: a round cone flattened top to bottom (the palm faces down in the T-pose).
            _Part(wrist, arm, 0.02, Squashed(RoundCone(p[wrist] + along * 0.012, knuckles - along * 0.01,
                                                       0.034, 0.043), p[wrist], v(0, 1, 0), 0.42)),
        ] + [
            # Four fingers held together, the middle one longest, thumb side towards +Z.
            _Part(wrist, arm, 0.007, RoundCone(knuckles + v(0, 0, z),
                                               knuckles + v(0, 0, z * 1.1) + finger_dir * length, 0.0105, 0.0088))
            for z, length in ((0.027, 0.072), (0.009, 0.080), (-0.009, 0.075), (-0.027, 0.060))
        ] + [
            # Thumb, forwards (+Z) and a little below the palm.
            _Part(wrist, arm, 0.015, RoundCone(p[wrist] + along * 0.022 + v(0, -0.010, 0.024),
                                               p[wrist] + along * 0.090 + v(0, -0.020, 0.060), 0.015, 0.010)),
        ]
    return parts


# Fillet size where each limb meets the torso; limbs never blend with each other, so legs and
# arms stay separate surfaces where they come close.
_ATTACH = {"l_leg": 0.045, "r_leg": 0.045, "l_arm": 0.035, "r_arm": 0.035}


def _bone_segments(p: np.ndarray) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """For each joint, the segments [(a, b)] its rotation carries: towards each child, or along
    the body part it ends in for the leaves (head, wrists, feet)."""
    segs: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(skeleton.NUM_JOINTS)]
    for j in range(skeleton.NUM_JOINTS):
        for c in skeleton.children(j):
            segs[j].append((p[j], p[c]))
    segs[_J["head"]].append((p[_J["head"]], p[_J["head"]] + np.array([0.0, 0.15, 0.02])))
    for wrist, elbow in ((20, 18), (21, 19)):
        along = (p[wrist] - p[elbow]) / np.linalg.norm(p[wrist] - p[elbow])
        segs[wrist].append((p[wrist], p[wrist] + along * 0.14))
    for foot in (10, 11):
        segs[foot].append((p[foot], p[foot] + np.array([0.0, 0.0, 0.06])))
    return segs


def _segment_distance(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance [N] from points x [N, 3] to the segment a-b."""
    ab = b - a
    t = np.clip((x - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(x - (a + t[:, None] * ab), axis=-1)


def _chain_neighbours(j: int, up: int = 2, down: int = 1) -> set[int]:
    """j with its ancestors up to `up` links away and descendants up to `down` links: no siblings,
    so the two legs never borrow each other's bones, and no grandchildren, so the chest does not
    follow the upper arms."""
    out, a = {j}, j
    for _ in range(up):
        a = skeleton.PARENTS[a]
        if a < 0:
            break
        out.add(a)
    frontier = [j]
    for _ in range(down):
        frontier = [c for f in frontier for c in skeleton.children(f)]
        out.update(frontier)
    return out


def _vertex_neighbours(faces: np.ndarray, n: int):
    """Row-normalised vertex adjacency (scipy sparse [V, V]) for smoothing along the surface."""
    from scipy import sparse
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 1], faces[:, 2], faces[:, 0]])
    k = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0], faces[:, 0], faces[:, 1], faces[:, 2]])
    adj = sparse.coo_matrix((np.ones(len(i)), (i, k)), shape=(n, n)).tocsr()
    adj.data[:] = 1.0
    deg = np.asarray(adj.sum(axis=1)).ravel()
    return sparse.diags(1.0 / np.maximum(deg, 1)) @ adj


def _taubin(verts: np.ndarray, faces: np.ndarray, iters: int = 6, lam: float = 0.5,
            mu: float = -0.53) -> np.ndarray:
    """Taubin smoothing: removes the facets decimation leaves without shrinking the body."""
    avg = _vertex_neighbours(faces, len(verts))
    for _ in range(iters):
        verts = verts + lam * (avg @ verts - verts)
        verts = verts + mu * (avg @ verts - verts)
    return verts


def _skin_weights(verts: np.ndarray, faces: np.ndarray, labels: np.ndarray, p: np.ndarray,
                  power: float = 4.0, smooth_iters: int = 4) -> np.ndarray:
    """Dense LBS weights [V, 22], at most _INFLUENCES non-zero per row, rows summing to 1."""
    segs = _bone_segments(p)
    dist = np.stack([np.min([_segment_distance(verts, a, b) for a, b in segs[j]], axis=0) if segs[j]
                     else np.full(len(verts), np.inf) for j in range(skeleton.NUM_JOINTS)], axis=1)  # [V, 22]
    allowed = np.zeros((skeleton.NUM_JOINTS, skeleton.NUM_JOINTS), dtype=bool)
    for j in range(skeleton.NUM_JOINTS):
        allowed[j, list(_chain_neighbours(j))] = True
    w = np.where(allowed[labels], 1.0 / np.maximum(dist, 0.01) ** power, 0.0)
    w /= w.sum(axis=1, keepdims=True)
    # Part labels switch abruptly from one vertex to the next; averaging over the surface a few
    # times removes the seams this would leave in the weights.
    avg = _vertex_neighbours(faces, len(verts))
    for _ in range(smooth_iters):
        w = 0.5 * w + 0.5 * (avg @ w)
    return _keep_top(w, _INFLUENCES)


def _keep_top(w: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the k largest weights of each row and renormalise rows to sum to 1."""
    order = np.argsort(-w, axis=1)
    out = np.zeros_like(w)
    rows = np.arange(len(w))[:, None]
    out[rows, order[:, :k]] = w[rows, order[:, :k]]
    return out / out.sum(axis=1, keepdims=True)


def _sample_field(parts: list[_Part], voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """The body's signed distance sampled on a grid: (field [X, Y, Z], grid origin [3])."""
    los, his = zip(*(pt.shape.bounds() for pt in parts), strict=True)
    origin = np.min(los, axis=0) - 0.05
    shape = np.ceil((np.max(his, axis=0) + 0.05 - origin) / voxel).astype(int) + 1
    axes = [origin[i] + voxel * np.arange(shape[i]) for i in range(3)]
    groups: dict[str, np.ndarray] = {}
    for pt in parts:
        field = groups.setdefault(pt.group, np.full(shape, _FAR))
        lo, hi = pt.shape.bounds()
        # Outside its box grown by twice the fillet, a primitive cannot change the zero set.
        margin = 2 * pt.blend + 2 * voxel
        sl = tuple(slice(max(0, int((lo[i] - margin - origin[i]) / voxel)),
                         min(shape[i], int(np.ceil((hi[i] + margin - origin[i]) / voxel)) + 1))
                   for i in range(3))
        pts = np.stack(np.meshgrid(*(axes[i][sl[i]] for i in range(3)), indexing="ij"), axis=-1)
        d = pt.shape.distance(pts.reshape(-1, 3)).reshape(pts.shape[:3])
        field[sl] = smooth_min(field[sl], d, pt.blend)
    torso = groups.pop("torso")
    body = torso.copy()
    for name, limb in groups.items():
        body = np.minimum(body, smooth_min(torso, limb, _ATTACH[name]))
    return body, origin


@lru_cache(maxsize=1)
def _canonical_mesh() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices [V, 3], faces [F, 3], weights [V, 22]) of the body on the canonical rest pose."""
    import fast_simplification
    from skimage.measure import marching_cubes

    p = skeleton.rest_pose().astype(np.float64)
    parts = _body_parts(p)
    field, origin = _sample_field(parts, _VOXEL)
    verts, faces, _, _ = marching_cubes(field, level=0.0, spacing=(_VOXEL,) * 3, gradient_direction="descent")
    verts = verts + origin
    verts, faces = fast_simplification.simplify(verts.astype(np.float32), faces.astype(np.int32),
                                                target_count=_TARGET_FACES, agg=3)
    faces = faces.astype(np.int32)
    verts = _taubin(verts.astype(np.float64), faces)
    labels = np.array([pt.owner for pt in parts])[
        np.argmin(np.stack([pt.shape.distance(verts) for pt in parts], axis=1), axis=1)]
    weights = _skin_weights(verts, faces, labels, p)
    return verts, faces, weights


def rest_joints_for(offsets: np.ndarray) -> np.ndarray:
    """Rest (T-pose) joint positions [22, 3] for rest offsets: pelvis at x = z = 0, lowest joint
    at y = 0, as skeleton.rest_pose() does for the canonical offsets."""
    ident = np.zeros((skeleton.NUM_JOINTS, 4))
    ident[:, 0] = 1.0
    pos = kinematics.forward(ident, np.zeros(3), offsets)
    pos[:, 1] -= pos[:, 1].min()
    return pos


def _bone_maps(p_old: np.ndarray, p_new: np.ndarray) -> np.ndarray:
    """Per-joint linear maps [22, 3, 3] taking the canonical skeleton's bones onto new ones: each
    one-child bone is rotated onto its new direction and stretched along itself to its new length,
    with the body's overall (median) scale across it; other joints just scale."""
    lengths_old = skeleton.bone_lengths(p_old)
    lengths_new = skeleton.bone_lengths(p_new)
    scale = float(np.median(lengths_new[1:] / np.maximum(lengths_old[1:], 1e-9)))
    maps = np.tile(np.eye(3) * scale, (skeleton.NUM_JOINTS, 1, 1))
    for j in range(skeleton.NUM_JOINTS):
        kids = skeleton.children(j)
        if len(kids) != 1:
            continue
        c = kids[0]
        d_old, d_new = p_old[c] - p_old[j], p_new[c] - p_new[j]
        u = d_old / np.linalg.norm(d_old)
        ratio = np.linalg.norm(d_new) / np.linalg.norm(d_old)
        stretch = scale * (np.eye(3) - np.outer(u, u)) + ratio * np.outer(u, u)
        maps[j] = quat_to_matrix(qbetween(d_old, d_new)) @ stretch
    return maps


@dataclass
class Mannequin:
    """A skinned body mesh on a rest skeleton. Same faces and vertex count for every skeleton.

    vertices: rest-pose vertices [V, 3]; faces [F, 3] (counter-clockwise seen from outside);
    weights: LBS weights [V, 22] (<= 4 non-zero per row, rows sum to 1); offsets: rest offsets
    [22, 3]; rest_joints: T-pose joint positions [22, 3] that the vertices were built around.
    """
    vertices: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    offsets: np.ndarray
    rest_joints: np.ndarray

    @classmethod
    def build(cls, offsets: np.ndarray | None = None) -> Mannequin:
        """The mannequin for rest offsets [22, 3] (default: the canonical skeleton.rest_offsets())."""
        offsets = skeleton.rest_offsets() if offsets is None else offsets
        offsets = np.asarray(offsets, dtype=np.float64)
        verts, faces, weights = _canonical_mesh()
        p_old = skeleton.rest_pose().astype(np.float64)
        p_new = rest_joints_for(offsets)
        maps = _bone_maps(p_old, p_new)
        # Each bone carries its vertices with its own map; the skin weights blend the results.
        per_bone = p_new[None] + np.einsum("jab,vjb->vja", maps, verts[:, None] - p_old[None])  # [V, 22, 3]
        verts_new = np.einsum("vj,vja->va", weights, per_bone)
        return cls(verts_new.astype(np.float32), faces.copy(), weights.astype(np.float32),
                   offsets.astype(np.float32), p_new.astype(np.float32))

    @classmethod
    def for_motion(cls, joints: np.ndarray) -> Mannequin:
        """The mannequin with a motion's median bone lengths (kinematics.offsets_for)."""
        return cls.build(kinematics.offsets_for(joints))

    def skin_influences(self, k: int = _INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
        """(joint indices [V, k], weights [V, k]) of each vertex's k largest weights, renormalised."""
        idx = np.argsort(-self.weights, axis=1)[:, :k]
        w = np.take_along_axis(self.weights, idx, axis=1)
        idx = np.where(w > 0, idx, 0)  # unused slots point at joint 0, as glTF validators expect
        return idx.astype(np.uint16), (w / w.sum(axis=1, keepdims=True)).astype(np.float32)

    def pose(self, local_q: np.ndarray, root_pos: np.ndarray, chunk: int = 64) -> np.ndarray:
        """Vertices [T, V, 3] posed by local rotations [T, 22, 4] and root positions [T, 3] (LBS)."""
        local_q = np.asarray(local_q, dtype=np.float64)
        root_pos = np.asarray(root_pos, dtype=np.float64)
        squeeze = local_q.ndim == 2
        if squeeze:
            local_q, root_pos = local_q[None], root_pos[None]
        rot = quat_to_matrix(kinematics.global_rotations(local_q))              # [T, 22, 3, 3]
        pos = kinematics.forward(local_q, root_pos, self.offsets)               # [T, 22, 3]
        trans = pos - np.einsum("tjab,jb->tja", rot, self.rest_joints.astype(np.float64))
        mats = np.concatenate([rot, trans[..., None]], axis=-1).reshape(len(rot), skeleton.NUM_JOINTS, 12)
        w = self.weights.astype(np.float64)
        v = self.vertices.astype(np.float64)
        out = np.empty((len(rot), len(v), 3), dtype=np.float32)
        for s in range(0, len(rot), chunk):
            blended = np.einsum("vj,tjk->tvk", w, mats[s:s + chunk]).reshape(-1, len(v), 3, 4)  # [t, V, 3, 4]
            out[s:s + chunk] = np.einsum("tvab,vb->tva", blended[..., :3], v) + blended[..., 3]
        return out[0] if squeeze else out

    def pose_from_joints(self, joints: np.ndarray) -> np.ndarray:
        """Vertices [T, V, 3] following joint positions [T, 22, 3] (rotations solved by
        kinematics.solve_rotations on this mannequin's offsets)."""
        local_q, root_pos = kinematics.solve_rotations(joints, self.offsets)
        return self.pose(local_q, root_pos)

    def vertex_normals(self, vertices: np.ndarray) -> np.ndarray:
        """Unit area-weighted vertex normals [..., V, 3] of vertices [..., V, 3] in this topology."""
        tri = vertices[..., self.faces, :]                                        # [..., F, 3, 3]
        fn = np.cross(tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :])
        flat = fn.reshape(-1, *fn.shape[-2:])                                     # [B, F, 3]
        vn = np.stack([self._incidence @ f for f in flat]).reshape(vertices.shape)
        return vn / np.maximum(np.linalg.norm(vn, axis=-1, keepdims=True), 1e-12)

    @cached_property
    def _incidence(self):
        """Sparse vertex-face incidence [V, F]: summing face normals per vertex is one product."""
        from scipy import sparse
        rows = self.faces.ravel()
        cols = np.repeat(np.arange(len(self.faces)), 3)
        return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.vertices), len(self.faces)))
