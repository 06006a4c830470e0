"""Read Acclaim ASF skeletons and AMC motions (the original CMU mocap format).

ASF: `:units` (mass, length, angle deg|rad), `:root` (order of the AMC root channels, axis order
and orientation), `:bonedata` (per bone: name, direction in the rest pose's world axes, length,
`axis a b c ORDER` = the bone's local frame, `dof` among rx ry rz, `limits`), `:hierarchy`
(lines "parent child child ..."). AMC: an optional header (`:FULLY-SPECIFIED`, `:DEGREES` or
`:RADIANS`, # comments), then per frame its number and one line per bone with a value per dof.

Conventions (Acclaim's, as the CMU tools apply them): the rotations named by a dof list or an
axis order are applied in the listed order about fixed axes, so "rx ry rz" is Rz @ Ry @ Rx; a
bone's rotation relative to its parent is C @ M @ C^-1 with C its `axis` frame and M its dof
rotation; its end is its start + length x (global rotation @ direction).

The result is a bvh.BVHAnimation of the same skeleton (a joint per bone, at the bone's start; the
root's children start at the root; a bone without children gets an End Site at its end; local
rotations as Euler channels "Zrotation Yrotation Xrotation"), so ASF/AMC motion is retargeted,
drawn and saved exactly like BVH (retarget.load_motion reads .amc files). Lengths stay in the
file's units; retarget detects them (CMU's are inches / 0.45, the "cmu" unit).

Malformed input raises ASFAMCError naming the line. Limits, as bvh.py: files above
bvh.MAX_FILE_BYTES are refused before reading, skeletons above bvh.MAX_JOINTS bones while
parsing, and AMC values are gathered in a flat float array (8 bytes a value) with no allocation
sized by a number in the file.
"""
from __future__ import annotations

import os
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bvh import MAX_FILE_BYTES, MAX_JOINTS, BVHAnimation, _decode
from .rotation import axis_angle_matrix, matrix_to_euler

_DOFS = ("rx", "ry", "rz")
_ROOT_CHANNELS = ("tx", "ty", "tz", "rx", "ry", "rz")
_BVH_ORDER = "ZYX"
_FRAME_RE = re.compile(r"[0-9]{1,12}")


class ASFAMCError(ValueError):
    """An ASF or AMC file that cannot be read; the message names the line."""


@dataclass
class Bone:
    name: str
    direction: np.ndarray          # [3] unit vector, rest pose, world axes
    length: float
    axis: np.ndarray               # [3] angles of the bone's local frame (degrees)
    axis_order: str                # e.g. "XYZ"
    dof: list[str]                 # subset of rx ry rz, in listed order
    limits: list[tuple[float, float]] = field(default_factory=list)
    line: int = 0


@dataclass
class ASFSkeleton:
    """A parsed ASF file: bones (the root first) and their parents."""

    name: str
    length_unit: float             # :units length (CMU: 0.45, i.e. a file unit = inch / 0.45)
    degrees: bool                  # :units angle
    root_order: list[str]          # AMC root channels, e.g. tx ty tz rx ry rz
    root_axis_order: str
    root_orientation: np.ndarray   # [3]
    root_position: np.ndarray      # [3]
    bones: list[Bone]              # bones[0] is the root (zero length)
    parents: list[int]             # -1 for the root

    def index(self, name: str) -> int:
        return [b.name for b in self.bones].index(name)


def _read_text(path: str | os.PathLike, kind: str) -> str:
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise ASFAMCError(f"{path}: cannot read: {e.strerror or e}") from None
    if size > MAX_FILE_BYTES:
        raise ASFAMCError(f"{path}: file is {size / 2**20:.0f} MiB, above the "
                          f"{MAX_FILE_BYTES / 2**20:.0f} MiB limit for {kind} files (bvh.MAX_FILE_BYTES)")
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    try:
        return _decode(data)
    except ValueError as e:   # BVHError from the NUL check: same words, this format's error
        raise ASFAMCError(f"{path}: {e}".replace("BVH", kind)) from None


def _floats(toks: list[str], n: int, what: str, line: int) -> np.ndarray:
    if len(toks) < n:
        raise ASFAMCError(f"line {line}: {what} needs {n} numbers, found {len(toks)}")
    try:
        v = np.array([float(t) for t in toks[:n]])
    except ValueError:
        bad = next(t for t in toks[:n] if not _is_float(t))
        raise ASFAMCError(f"line {line}: {what}: {bad[:40]!r} is not a number") from None
    if not np.isfinite(v).all():
        raise ASFAMCError(f"line {line}: {what} must be finite numbers")
    return v


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _limit(text: str, line: int) -> tuple[float, float]:
    """"(-160.0 20.0)" -> (-160.0, 20.0); "inf" / "-inf" allowed (no limit)."""
    pair = text.replace("(", " ").replace(")", " ").split()
    if len(pair) != 2:
        raise ASFAMCError(f"line {line}: a limit is (min max), found {text[:40]!r}")
    try:
        lo, hi = (float(t) for t in pair)
    except ValueError:
        raise ASFAMCError(f"line {line}: a limit is (min max) numbers, found {text[:40]!r}") from None
    if lo != lo or hi != hi:
        raise ASFAMCError(f"line {line}: a limit must not be nan")
    return lo, hi


def _order(tok: str, line: int) -> str:
    o = tok.upper()
    if len(o) != 3 or sorted(o) != ["X", "Y", "Z"]:
        raise ASFAMCError(f"line {line}: axis order {tok[:40]!r} must be a permutation of XYZ")
    return o


def parse_asf(text: str) -> ASFSkeleton:
    """Parse ASF text; raises ASFAMCError."""
    lines = text.lstrip("\ufeff").splitlines()
    section = None
    units = {"length": 1.0, "angle": "deg"}
    name = ""
    root = {"order": list(_ROOT_CHANNELS), "axis": "XYZ", "orientation": np.zeros(3), "position": np.zeros(3)}
    bones: list[Bone] = []
    by_name: dict[str, int] = {}
    cur: Bone | None = None
    limits_left = 0
    children: dict[str, tuple[list[str], int]] = {}
    hierarchy_open = False
    for i, raw in enumerate(lines, 1):
        s = raw.split("#", 1)[0].strip()
        if not s:
            continue
        toks = s.split()
        key = toks[0].lower()
        if s.startswith(":"):
            if cur is not None:
                raise ASFAMCError(f"line {i}: section {toks[0]} inside the bone opened at line "
                                  f"{cur.line} (missing 'end')")
            section = key
            if key == ":name" and len(toks) > 1:
                name = " ".join(toks[1:])
            elif key not in (":version", ":name", ":units", ":documentation", ":root",
                             ":bonedata", ":hierarchy", ":skin"):
                raise ASFAMCError(f"line {i}: unknown ASF section {toks[0][:40]!r}")
            continue
        if section == ":units":
            if key == "length":
                units["length"] = float(_floats(toks[1:], 1, "units length", i)[0])
                if not units["length"] > 0:
                    raise ASFAMCError(f"line {i}: units length must be positive")
            elif key == "angle":
                if len(toks) < 2 or toks[1].lower() not in ("deg", "rad"):
                    raise ASFAMCError(f"line {i}: units angle must be 'deg' or 'rad'")
                units["angle"] = toks[1].lower()
        elif section == ":root":
            if key == "order":
                order = [t.lower() for t in toks[1:]]
                if sorted(order) != sorted(_ROOT_CHANNELS):
                    raise ASFAMCError(f"line {i}: root order must list tx ty tz rx ry rz, found "
                                      f"{' '.join(toks[1:])[:60]!r}")
                root["order"] = order
            elif key == "axis":
                root["axis"] = _order(toks[1] if len(toks) > 1 else "", i)
            elif key in ("position", "orientation"):
                root[key] = _floats(toks[1:], 3, f"root {key}", i)
        elif section == ":bonedata":
            if limits_left and s.startswith("("):
                cur.limits.append(_limit(s, i))
                limits_left -= 1
                continue
            if limits_left:
                raise ASFAMCError(f"line {i}: bone {cur.name!r} has {len(cur.dof)} dof but "
                                  f"{len(cur.dof) - limits_left} limits")
            if key == "begin":
                if cur is not None:
                    raise ASFAMCError(f"line {i}: 'begin' inside the bone opened at line {cur.line}")
                if len(bones) + 1 >= MAX_JOINTS:
                    raise ASFAMCError(f"line {i}: more than {MAX_JOINTS} bones (bvh.MAX_JOINTS)")
                cur = Bone("", np.zeros(3), 0.0, np.zeros(3), "XYZ", [], line=i)
            elif cur is None:
                raise ASFAMCError(f"line {i}: {toks[0][:40]!r} outside a begin/end bone block")
            elif key == "end":
                if not cur.name:
                    raise ASFAMCError(f"line {cur.line}: bone without a name")
                if cur.name in by_name or cur.name == "root":
                    raise ASFAMCError(f"line {cur.line}: bone {cur.name!r} defined twice")
                by_name[cur.name] = len(bones) + 1
                bones.append(cur)
                cur = None
            elif key == "name":
                cur.name = toks[1] if len(toks) > 1 else ""
            elif key == "direction":
                d = _floats(toks[1:], 3, "direction", i)
                n = np.linalg.norm(d)
                cur.direction = d / n if n > 0 else d
            elif key == "length":
                cur.length = float(_floats(toks[1:], 1, "length", i)[0])
                if cur.length < 0:
                    raise ASFAMCError(f"line {i}: negative bone length")
            elif key == "axis":
                cur.axis = _floats(toks[1:], 3, "axis", i)
                cur.axis_order = _order(toks[4] if len(toks) > 4 else "", i)
            elif key == "dof":
                dof = [t.lower() for t in toks[1:]]
                bad = [d for d in dof if d not in _DOFS]
                if bad or len(set(dof)) != len(dof):
                    raise ASFAMCError(f"line {i}: unsupported dof {' '.join(toks[1:])[:60]!r} "
                                      "(rotations rx, ry, rz each at most once)")
                cur.dof = dof
            elif key == "limits":
                if not cur.dof:
                    raise ASFAMCError(f"line {i}: limits before dof")
                limits_left = len(cur.dof)
                rest = s[len(toks[0]):].strip()
                if rest:
                    cur.limits.append(_limit(rest, i))
                    limits_left -= 1
            elif key not in ("id", "bodymass", "cofmass"):
                raise ASFAMCError(f"line {i}: unknown bone field {toks[0][:40]!r}")
        elif section == ":hierarchy":
            if key == "begin":
                hierarchy_open = True
            elif key == "end":
                hierarchy_open = False
            elif not hierarchy_open:
                raise ASFAMCError(f"line {i}: hierarchy line outside begin/end")
            else:
                if toks[0] in children:
                    raise ASFAMCError(f"line {i}: {toks[0]!r} listed twice as a parent")
                children[toks[0]] = (toks[1:], i)
    if cur is not None:
        raise ASFAMCError(f"line {len(lines)}: unexpected end of file inside the bone opened at "
                          f"line {cur.line} (truncated file?)")
    if hierarchy_open:
        raise ASFAMCError(f"line {len(lines)}: unexpected end of file inside :hierarchy (truncated file?)")
    if not children:
        raise ASFAMCError(f"line {len(lines)}: no :hierarchy section (truncated file?)")
    # Order bones parent-first from the root, as BVH needs.
    all_bones = [Bone("root", np.zeros(3), 0.0, root["orientation"], root["axis"], [])] + bones
    by_name["root"] = 0
    order, parents, seen = [0], [-1], {0}
    k = 0
    while k < len(order):
        parent = all_bones[order[k]].name
        for c in children.get(parent, ([], 0))[0]:
            if c not in by_name:
                raise ASFAMCError(f"line {children[parent][1]}: unknown bone {c[:40]!r} in the hierarchy")
            if by_name[c] in seen:
                raise ASFAMCError(f"line {children[parent][1]}: bone {c!r} has two parents (a cycle?)")
            seen.add(by_name[c])
            order.append(by_name[c])
            parents.append(k)
        k += 1
    for p, (_, line) in children.items():
        if p not in by_name:
            raise ASFAMCError(f"line {line}: unknown bone {p[:40]!r} in the hierarchy")
    return ASFSkeleton(name=name, length_unit=units["length"], degrees=units["angle"] == "deg",
                       root_order=root["order"], root_axis_order=root["axis"],
                       root_orientation=root["orientation"], root_position=root["position"],
                       bones=[all_bones[o] for o in order], parents=parents)


def load_asf(path: str | os.PathLike) -> ASFSkeleton:
    """Parse an ASF file; raises ASFAMCError naming the file and line."""
    try:
        return parse_asf(_read_text(path, "ASF"))
    except ASFAMCError as e:
        msg = str(e)
        raise ASFAMCError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def find_asf(amc: str | os.PathLike) -> Path:
    """The skeleton of an .amc: <subject>.asf beside it (CMU: 35_01.amc -> 35.asf), else the only
    .asf in its folder."""
    amc = Path(amc)
    cand = amc.with_name(amc.stem.split("_")[0] + ".asf")
    if cand.is_file():
        return cand
    found = sorted(amc.parent.glob("*.asf")) + sorted(amc.parent.glob("*.ASF"))
    if len(set(found)) == 1:
        return found[0]
    raise ASFAMCError(f"{amc}: no skeleton file: expected {cand.name} (or a single .asf) beside it")


def parse_amc(text: str, skel: ASFSkeleton) -> tuple[np.ndarray, bool | None]:
    """AMC text -> (values [F, C] in the channel layout of `channel_layout(skel)`, degrees flag
    from the header or None). Raises ASFAMCError."""
    names = [b.name for b in skel.bones]
    layout = channel_layout(skel)
    slot = {n: (start, len(ch)) for n, start, ch in layout}
    width = sum(len(ch) for _, _, ch in layout)
    values = array("d")
    row: np.ndarray | None = None
    filled: set[str] = set()
    degrees = None
    frame_no, frame_line = None, 0
    frames = 0

    def close(line: int) -> None:
        missing = [n for n, _, ch in layout if ch and n not in filled]
        if missing:
            raise ASFAMCError(f"line {line}: frame {frame_no} (line {frame_line}) lacks bone(s) "
                              f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        values.extend(row)

    lines = text.lstrip("\ufeff").splitlines()
    for i, raw in enumerate(lines, 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith(":"):
            if frame_no is not None:
                raise ASFAMCError(f"line {i}: header keyword {s[:40]!r} after the first frame")
            if s.upper().startswith(":DEGREES"):
                degrees = True
            elif s.upper().startswith(":RADIANS"):
                degrees = False
            continue
        toks = s.split()
        if len(toks) == 1 and _FRAME_RE.fullmatch(toks[0]):
            n = int(toks[0])
            if frame_no is not None:
                close(i)
                if n != frame_no + 1:
                    raise ASFAMCError(f"line {i}: frame {n} follows frame {frame_no}; frames must "
                                      "be numbered one after another")
            frame_no, frame_line = n, i
            frames += 1
            row, filled = np.zeros(width), set()
            continue
        if frame_no is None:
            raise ASFAMCError(f"line {i}: {toks[0][:40]!r} before the first frame number")
        bone = toks[0]
        if bone not in slot:
            known = "" if bone in names else " (not a bone of the skeleton)"
            raise ASFAMCError(f"line {i}: unknown bone {bone[:40]!r}{known or ' (it has no dof)'}")
        if bone in filled:
            raise ASFAMCError(f"line {i}: bone {bone!r} given twice in frame {frame_no}")
        start, n_ch = slot[bone]
        if len(toks) - 1 != n_ch:
            hint = " (truncated file?)" if i == len(lines) and len(toks) - 1 < n_ch else ""
            raise ASFAMCError(f"line {i}: bone {bone!r} needs {n_ch} values, found {len(toks) - 1}{hint}")
        try:
            v = [float(t) for t in toks[1:]]
        except ValueError:
            bad = next(t for t in toks[1:] if not _is_float(t))
            raise ASFAMCError(f"line {i}: {bad[:40]!r} is not a number") from None
        if not np.isfinite(v).all():
            raise ASFAMCError(f"line {i}: values must be finite numbers")
        row[start:start + n_ch] = v
        filled.add(bone)
    if frame_no is None:
        raise ASFAMCError(f"line {len(lines)}: no frames (empty or truncated file?)")
    close(len(lines))
    return np.frombuffer(values, dtype=np.float64).reshape(frames, width).copy(), degrees


def channel_layout(skel: ASFSkeleton) -> list[tuple[str, int, list[str]]]:
    """(bone, first column, AMC channels) per bone in skeleton order: the root's in root_order,
    every other bone's in its dof order."""
    out, start = [], 0
    for k, b in enumerate(skel.bones):
        ch = list(skel.root_order) if k == 0 else list(b.dof)
        out.append((b.name, start, ch))
        start += len(ch)
    return out


def load_amc(path: str | os.PathLike, skel: ASFSkeleton) -> np.ndarray:
    """An AMC file's values [F, C] (channel_layout order; angles in the ASF's unit unless the
    AMC header says otherwise, then converted to it). Raises ASFAMCError naming the file."""
    try:
        values, degrees = parse_amc(_read_text(path, "AMC"), skel)
    except ASFAMCError as e:
        msg = str(e)
        raise ASFAMCError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None
    if degrees is not None and degrees != skel.degrees:
        conv = np.rad2deg if skel.degrees else np.deg2rad
        for name, start, ch in channel_layout(skel):
            for k, c in enumerate(ch):
                if c.startswith("r"):
                    values[:, start + k] = conv(values[:, start + k])
    return values


def _fixed_axes(angles: np.ndarray, order: str) -> np.ndarray:
    """Rotation [..., 3, 3] applying angles [..., 3] (radians, listed in `order`) about fixed axes
    in that order: "XYZ" -> Rz @ Ry @ Rx."""
    m = axis_angle_matrix(order[0], angles[..., 0])
    for k in (1, 2):
        m = axis_angle_matrix(order[k], angles[..., k]) @ m
    return m


def to_bvh_animation(skel: ASFSkeleton, values: np.ndarray, fps: float = 120.0) -> BVHAnimation:
    """The skeleton and AMC values as a BVHAnimation (see the module docstring). CMU captured at
    120 fps (some subjects at 60: pass the true rate to retarget as source_fps)."""
    to_rad = np.deg2rad if skel.degrees else (lambda a: np.asarray(a, dtype=np.float64))
    n_frames = len(values)
    names = [b.name for b in skel.bones]
    offsets, channels, end_sites = [], [], {}
    layout = channel_layout(skel)
    has_child = {p for p in skel.parents if p >= 0}
    for k, b in enumerate(skel.bones):
        p = skel.parents[k]
        # A joint sits at its bone's start = its parent bone's end (the root's children: the root).
        if k == 0:
            offsets.append(np.asarray(skel.root_position, dtype=np.float64))
        elif p == 0:
            offsets.append(np.zeros(3))
        else:
            offsets.append(skel.bones[p].length * skel.bones[p].direction)
        if k not in has_child and b.length > 0:
            end_sites[k] = b.length * b.direction
    motion_cols = []
    for k, (name, start, ch) in enumerate(layout):
        b = skel.bones[k]
        if k == 0:
            c = _fixed_axes(to_rad(b.axis), b.axis_order)
            ang = np.zeros((n_frames, 3))
            for j, axis in enumerate("xyz"):
                ang[:, j] = to_rad(values[:, start + ch.index("r" + axis)])
            rot_order = "".join(x[1].upper() for x in ch if x.startswith("r"))
            ang = np.stack([ang[:, "XYZ".index(a)] for a in rot_order], -1)
            m = _fixed_axes(ang, rot_order)
            trans = np.stack([values[:, start + ch.index("t" + a)] for a in "xyz"], -1)
            local = c @ m @ c.T
            channels.append(["Xposition", "Yposition", "Zposition"] + [f"{a}rotation" for a in _BVH_ORDER])
            motion_cols += [trans, matrix_to_euler(local, _BVH_ORDER)]
            continue
        if not ch:
            channels.append([])
            continue
        c = _fixed_axes(to_rad(b.axis), b.axis_order)
        ang = np.stack([to_rad(values[:, start + j]) for j in range(len(ch))], -1)
        m = axis_angle_matrix(ch[0][1].upper(), ang[:, 0])
        for j in range(1, len(ch)):
            m = axis_angle_matrix(ch[j][1].upper(), ang[:, j]) @ m
        local = c @ m @ c.T
        channels.append([f"{a}rotation" for a in _BVH_ORDER])
        motion_cols.append(matrix_to_euler(local, _BVH_ORDER))
    motion = np.concatenate(motion_cols, axis=1) if motion_cols else np.zeros((n_frames, 0))
    return BVHAnimation(names=names, parents=list(skel.parents), offsets=np.array(offsets, dtype=np.float64),
                        channels=channels, frame_time=1.0 / fps, motion=motion, end_sites=end_sites)


def load(asf: str | os.PathLike, amc: str | os.PathLike, fps: float = 120.0) -> BVHAnimation:
    """load_asf + load_amc + to_bvh_animation."""
    skel = load_asf(asf)
    return to_bvh_animation(skel, load_amc(amc, skel), fps=fps)
