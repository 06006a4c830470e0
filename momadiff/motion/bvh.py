"""Read and write BVH motion files.

Reading (`load`, `loads`) accepts real-world files: any channel order per joint, 0/3/6 (or any
number of) channels, End Sites, CRLF line endings, tabs or spaces, braces on their own line or not,
several "Frame Time:" spellings. Position channels on any joint REPLACE the matching component of
that joint's OFFSET as its local translation (components without a channel keep the offset);
rotation channels compose in the order listed (channels "Zrotation Xrotation Yrotation" give
R = Rz @ Rx @ Ry). Malformed input raises `BVHError` with the line number where one applies.

Limits, so that hostile input costs bounded time and memory: files above `MAX_FILE_BYTES` are
refused before reading, hierarchies above `MAX_JOINTS` joints are refused while parsing (the parser
is iterative, so depth never hits Python's recursion limit), and the motion block is parsed by
numpy in one pass.

Writing (`save`, `dumps`) turns joint positions [T, 22, 3] (metres, Y up) into a BVH of the
22-joint skeleton in CENTIMETRES (the de-facto BVH unit: Bandai, CMU conversions, Mixamo,
MotionBuilder; import into Blender with scale 0.01 for a metre-sized armature). Every joint gets six
channels "Xposition Yposition Zposition Zrotation Xrotation Yrotation": the rotations are solved
from the positions (kinematics.solve_rotations on canonical T-pose directions scaled to the
motion's median bone lengths) so the armature looks right in a viewer, and the position channels
carry each joint's exact local translation, so bone lengths that vary per frame (as generated
motion's do) still come back exactly: load + retarget.to_smpl22 reproduces the input to ~1e-7 m.
Rotation-only joints could not do that, since the OFFSET is one length per bone for the whole clip.
Blender's importer honours position channels on every joint the same way (pose location = channel
value - OFFSET), so bones whose length varies just move their heads slightly.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import kinematics, skeleton
from .rotation import axis_angle_matrix, euler_to_matrix, matrix_to_euler, quat_to_matrix

MAX_FILE_BYTES = 256 * 1024 * 1024   # refuse larger files before reading a byte of them
MAX_JOINTS = 1000                    # real skeletons have < 300 joints (with fingers and face)

CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_LOOKUP = {c.lower(): c for c in CHANNEL_NAMES}
_AXIS = {"X": 0, "Y": 1, "Z": 2}
_FRAMES_RE = re.compile(r"^\s*frames\s*:?\s*(\S*)\s*$", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"^\s*frame[\s_-]*time\s*:?\s*(\S*)\s*$", re.IGNORECASE)
# A count in the file: ASCII digits only (str.isdigit also accepts '²', which int() refuses) and
# short enough for int() (Python refuses > 4300 digits; no file holds 10**12 of anything).
_COUNT_RE = re.compile(r"[0-9]{1,12}")

WRITE_ORDER = "ZXY"
WRITE_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
WRITE_SCALE = 100.0   # file units (cm) per metre
_DECIMALS = 6


class BVHError(ValueError):
    """A BVH file that cannot be read; the message names the line where that applies."""


@dataclass
class BVHAnimation:
    """A parsed BVH file, in the file's own units and axes.

    Joints are listed in file (depth-first) order, so every parent index is smaller than its
    child's; a root has parent -1. `motion[f, channel_start[j] + k]` is the value of
    `channels[j][k]` at frame f.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray                  # [J, 3]
    channels: list[list[str]]            # per joint, e.g. ["Xposition", ..., "Yrotation"]
    frame_time: float                    # seconds per frame
    motion: np.ndarray                   # [F, C]
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)  # joint index -> offset [3]

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def rotation_orders(self) -> list[str]:
        """Per joint, the axes of its rotation channels in listed order ("ZXY"; "" if none)."""
        return [rotation_order(ch) for ch in self.channels]

    @property
    def channel_start(self) -> list[int]:
        """Index into a motion row of each joint's first channel."""
        starts, n = [], 0
        for ch in self.channels:
            starts.append(n)
            n += len(ch)
        return starts

    def index(self, name: str) -> int:
        """Index of the joint with this exact name."""
        return self.names.index(name)

    def forward_kinematics(self, frames: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Global joint positions [F, J, 3] and rotations [F, J, 3, 3] (file units and axes)."""
        motion = self.motion if frames is None else self.motion[frames]
        return _forward(self, np.asarray(motion, dtype=np.float64))

    def global_positions(self) -> np.ndarray:
        """Global joint positions [F, J, 3] by forward kinematics."""
        return self.forward_kinematics()[0]

    def end_site_positions(self) -> dict[int, np.ndarray]:
        """Global End Site positions {joint index: [F, 3]} for the joints that have one."""
        pos, rot = self.forward_kinematics()
        return {j: pos[:, j] + rot[:, j] @ off for j, off in self.end_sites.items()}

    def rest_positions(self) -> np.ndarray:
        """Joint positions [J, 3] from the OFFSETs alone (all channels ignored): the rest pose."""
        pos = np.zeros((len(self.names), 3))
        for j, p in enumerate(self.parents):
            pos[j] = self.offsets[j] + (pos[p] if p >= 0 else 0.0)
        return pos


def rotation_order(channels: Sequence[str]) -> str:
    """The axes of the rotation channels in listed order, e.g. "ZXY"."""
    return "".join(c[0] for c in channels if c.endswith("rotation"))


def _forward(anim: BVHAnimation, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_frames = motion.shape[0]
    # Per-joint contiguous arrays: batched 3x3 products on strided slices are several times slower.
    pos: list[np.ndarray] = []   # [F, 3] each
    rot: list[np.ndarray] = []   # [F, 3, 3] each
    for j, (p, chans, start) in enumerate(zip(anim.parents, anim.channels, anim.channel_start)):
        trans = np.repeat(anim.offsets[j][None], n_frames, axis=0)          # [F, 3]
        local = None                                                         # [F, 3, 3]
        for k, ch in enumerate(chans):
            values = motion[:, start + k]
            if ch.endswith("position"):
                trans[:, _AXIS[ch[0]]] = values
            else:
                m = axis_angle_matrix(ch[0], np.deg2rad(values))
                local = m if local is None else local @ m
        if local is None:
            local = np.repeat(np.eye(3)[None], n_frames, axis=0)
        if p < 0:
            pos.append(trans)
            rot.append(local)
        else:
            pos.append(pos[p] + (rot[p] @ trans[..., None])[..., 0])
            rot.append(rot[p] @ local)
    return np.stack(pos, axis=1), np.stack(rot, axis=1)


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def load(path: str | os.PathLike) -> BVHAnimation:
    """Parse a BVH file. Raises BVHError for malformed files and files above MAX_FILE_BYTES."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise BVHError(f"{path}: cannot read: {e}") from e
    if size > MAX_FILE_BYTES:
        raise BVHError(f"{path}: file is {size / 2**20:.0f} MiB, above the "
                       f"{MAX_FILE_BYTES / 2**20:.0f} MiB limit for BVH files (bvh.MAX_FILE_BYTES)")
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)   # a file that grew since getsize is still bounded
    try:
        return loads(data)
    except BVHError as e:
        raise BVHError(f"{path}: {e}") from None


def loads(text: str | bytes) -> BVHAnimation:
    """Parse BVH text (str or bytes). Raises BVHError for malformed input."""
    if len(text) > MAX_FILE_BYTES:
        raise BVHError(f"input is {len(text) / 2**20:.0f} MiB, above the "
                       f"{MAX_FILE_BYTES / 2**20:.0f} MiB limit (bvh.MAX_FILE_BYTES)")
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text))
    elif "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise BVHError(f"line {line}: NUL character: this is binary data, not a BVH text file")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise BVHError("empty file: expected a BVH starting with HIERARCHY")
    lines = text.splitlines()
    anim, next_line = _parse_hierarchy(lines)
    frames, frame_time, data_start, frames_line = _parse_motion_header(lines, next_line)
    anim.frame_time = frame_time
    anim.motion = _parse_motion(lines, data_start, sum(len(c) for c in anim.channels),
                                frames, frames_line)
    return anim


def _is_count(tok: str) -> bool:
    return _COUNT_RE.fullmatch(tok) is not None


def _decode(data: bytes) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise BVHError(f"line {line}: NUL byte: this is binary data, not a BVH text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Joint names from older tools are often Latin-1/cp1252; the structure is ASCII anyway.
        return data.decode("latin-1")


def _tokens(lines: list[str]):
    """Yield (token, line number) over the hierarchy, stopping after the MOTION keyword."""
    for i, line in enumerate(lines):
        toks = line.replace("{", " { ").replace("}", " } ").split()
        for t in toks:
            yield t, i + 1
        if toks and toks[0].upper() == "MOTION":
            return


class _Stream:
    """A token cursor that remembers line numbers for error messages."""

    def __init__(self, lines: list[str]):
        self._it = _tokens(lines)
        self._peeked: tuple[str, int] | None = None
        self.line = 1
        self.last_line = len(lines)

    def next(self, what: str) -> str:
        if self._peeked is not None:
            tok, self.line = self._peeked
            self._peeked = None
            return tok
        try:
            tok, self.line = next(self._it)
        except StopIteration:
            raise BVHError(f"line {self.last_line}: unexpected end of file while expecting {what} "
                           "(truncated file?)") from None
        return tok

    def peek(self) -> tuple[str, int] | None:
        if self._peeked is None:
            try:
                self._peeked = next(self._it)
            except StopIteration:
                return None
        return self._peeked

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            v = float(tok)
        except ValueError:
            raise BVHError(f"line {self.line}: expected a number for {what}, "
                           f"found {tok[:40]!r}") from None
        if not np.isfinite(v):
            raise BVHError(f"line {self.line}: {what} is {tok[:40]!r}; values must be finite")
        return v

    def expect(self, keyword: str) -> None:
        tok = self.next(repr(keyword))
        if tok.upper() != keyword.upper():
            raise BVHError(f"line {self.line}: expected {keyword!r}, found {tok[:40]!r}")


def _parse_hierarchy(lines: list[str]) -> tuple[BVHAnimation, int]:
    """Parse HIERARCHY ... MOTION without recursion. Returns the animation (no motion yet) and the
    index of the line after MOTION."""
    s = _Stream(lines)
    first = s.next("'HIERARCHY'")
    if first.upper() != "HIERARCHY":
        raise BVHError(f"line {s.line}: expected 'HIERARCHY' at the start of a BVH file, found "
                       f"{first[:40]!r} (not a BVH file?)")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str] | None] = []
    opened_at: list[int] = []
    end_sites: dict[int, np.ndarray] = {}
    stack: list[int] = []   # open joints, innermost last
    while True:
        if names and not stack:
            tok = s.next("'MOTION' (missing MOTION section?)")
            if tok.upper() not in ("ROOT", "MOTION"):
                raise BVHError(f"line {s.line}: expected 'MOTION' after the hierarchy, found "
                               f"{tok[:40]!r} (missing MOTION section or unbalanced braces?)")
        else:
            tok = s.next("a joint, 'End Site' or '}'" if stack else "'ROOT'")
        key = tok.upper()
        if key in ("ROOT", "JOINT"):
            if key == "ROOT" and stack:
                raise BVHError(f"line {s.line}: ROOT inside joint {names[stack[-1]]!r} "
                               f"(opened at line {opened_at[stack[-1]]}): unbalanced braces?")
            if key == "JOINT" and not stack:
                raise BVHError(f"line {s.line}: JOINT outside any ROOT: unbalanced braces?")
            if len(names) >= MAX_JOINTS:
                raise BVHError(f"line {s.line}: more than {MAX_JOINTS} joints (bvh.MAX_JOINTS); "
                               "refusing this hierarchy")
            line = s.line
            parts = []
            while (nxt := s.peek()) is not None and nxt[1] == line and nxt[0] != "{":
                parts.append(s.next("a joint name"))
            if not parts:
                raise BVHError(f"line {line}: {key} without a joint name")
            s.expect("{")
            names.append(" ".join(parts))
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(None)
            opened_at.append(line)
            stack.append(len(names) - 1)
        elif key in ("END", "ENDSITE"):
            if not stack:
                raise BVHError(f"line {s.line}: End Site outside any joint")
            if key == "END" and (tok2 := s.next("'Site'")).upper() != "SITE":
                raise BVHError(f"line {s.line}: expected 'End Site', found 'End {tok2}'")
            s.expect("{")
            s.expect("OFFSET")
            end_sites[stack[-1]] = np.array([s.number("an End Site OFFSET") for _ in range(3)])
            s.expect("}")
        elif key == "OFFSET":
            if not stack:
                raise BVHError(f"line {s.line}: OFFSET outside any joint")
            offsets[stack[-1]] = [s.number("an OFFSET value") for _ in range(3)]
        elif key == "CHANNELS":
            if not stack:
                raise BVHError(f"line {s.line}: CHANNELS outside any joint")
            j = stack[-1]
            if channels[j] is not None:
                raise BVHError(f"line {s.line}: second CHANNELS line for joint {names[j]!r}")
            count_tok = s.next("a channel count")
            if not _is_count(count_tok) or int(count_tok) > 64:
                raise BVHError(f"line {s.line}: bad channel count {count_tok[:40]!r} for joint "
                               f"{names[j]!r}")
            chans = []
            for _ in range(int(count_tok)):
                c = s.next("a channel name")
                if c.lower() not in _CHANNEL_LOOKUP:
                    raise BVHError(f"line {s.line}: unknown channel {c[:40]!r} for joint {names[j]!r}; "
                                   f"expected one of {', '.join(CHANNEL_NAMES)}")
                chans.append(_CHANNEL_LOOKUP[c.lower()])
            channels[j] = chans
        elif tok == "}":
            if not stack:
                raise BVHError(f"line {s.line}: '}}' without a matching '{{' (unbalanced braces)")
            stack.pop()
        elif key == "MOTION":
            if stack:
                j = stack[-1]
                raise BVHError(f"line {s.line}: MOTION while joint {names[j]!r} opened at line "
                               f"{opened_at[j]} is still open: unbalanced braces (missing '}}')")
            break
        elif tok == "{":
            raise BVHError(f"line {s.line}: unexpected '{{' (unbalanced braces)")
        else:
            raise BVHError(f"line {s.line}: unexpected {tok[:40]!r} in the HIERARCHY section")
    if not names:
        raise BVHError(f"line {s.line}: MOTION before any ROOT joint")
    anim = BVHAnimation(names=names, parents=parents, offsets=np.array(offsets, dtype=np.float64),
                        channels=[c or [] for c in channels], frame_time=0.0,
                        motion=np.zeros((0, 0)), end_sites=end_sites)
    return anim, s.line


def _parse_motion_header(lines: list[str], start: int) -> tuple[int, float, int, int]:
    """Read "Frames:" and "Frame Time:" (either order) after MOTION. Returns (frames, frame_time,
    index of the first motion line, line number of Frames:)."""
    frames = frame_time = None
    frames_line = 0
    i = start
    while i < len(lines) and (frames is None or frame_time is None):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if frames is None and (m := _FRAMES_RE.match(line)):
            tok = m.group(1)
            if not _is_count(tok):
                raise BVHError(f"line {i}: 'Frames:' needs a whole number, found {tok[:40]!r}")
            frames, frames_line = int(tok), i
        elif frame_time is None and (m := _FRAME_TIME_RE.match(line)):
            try:
                frame_time = float(m.group(1))
            except ValueError:
                raise BVHError(f"line {i}: 'Frame Time:' needs a number, found "
                               f"{m.group(1)[:40]!r}") from None
            if not (np.isfinite(frame_time) and frame_time > 0):
                raise BVHError(f"line {i}: 'Frame Time:' must be a positive number of seconds, "
                               f"found {m.group(1)[:40]!r}")
        else:
            want = "'Frames:'" if frames is None else "'Frame Time:'"
            raise BVHError(f"line {i}: expected {want} after MOTION, found {line.strip()[:40]!r}")
    if frames is None or frame_time is None:
        missing = "'Frames:'" if frames is None else "'Frame Time:'"
        raise BVHError(f"line {len(lines)}: unexpected end of file: missing {missing} after MOTION "
                       "(truncated file?)")
    return frames, frame_time, i, frames_line


def _parse_motion(lines: list[str], start: int, n_channels: int, frames: int,
                  frames_line: int) -> np.ndarray:
    """The motion block [F, C] parsed with numpy; errors name the offending line."""
    rows = [i for i in range(start, len(lines)) if lines[i].strip()]
    if len(rows) > frames:
        raise BVHError(f"line {rows[frames] + 1}: frame count mismatch: 'Frames: {frames}' "
                       f"(line {frames_line}) but {len(rows)} motion lines follow")
    if n_channels == 0:
        if rows:
            raise BVHError(f"line {rows[0] + 1}: motion values but no CHANNELS in the hierarchy")
        if frames:
            raise BVHError(f"line {frames_line}: 'Frames: {frames}' but the file has no channels "
                           "and no motion lines")
        return np.zeros((0, 0))
    if not rows:
        if frames:
            raise BVHError(f"line {frames_line}: frame count mismatch: 'Frames: {frames}' but no "
                           "motion lines follow (truncated file?)")
        return np.zeros((0, n_channels))
    try:
        motion = np.loadtxt([lines[i] for i in rows], dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        _diagnose(lines, rows, n_channels)
        raise
    if motion.shape[1] != n_channels:
        _diagnose(lines, rows, n_channels)
    if len(rows) < frames:
        raise BVHError(f"line {rows[-1] + 1}: frame count mismatch: 'Frames: {frames}' "
                       f"(line {frames_line}) but only {len(rows)} motion lines (truncated file?)")
    bad = ~np.isfinite(motion)
    if bad.any():
        f, c = np.argwhere(bad)[0]
        raise BVHError(f"line {rows[f] + 1}: non-finite value {motion[f, c]} in channel {c + 1}; "
                       "motion values must be finite numbers")
    return motion.reshape(len(rows), n_channels)


def _diagnose(lines: list[str], rows: list[int], n_channels: int) -> None:
    """Slow scan, only after numpy rejected the block: raise BVHError at the first bad line."""
    for i in rows:
        toks = lines[i].split()
        if len(toks) != n_channels:
            hint = " (truncated file?)" if i == rows[-1] and len(toks) < n_channels else ""
            raise BVHError(f"line {i + 1}: expected {n_channels} values (the channels declared "
                           f"in the hierarchy), found {len(toks)}{hint}")
        for k, t in enumerate(toks):
            try:
                float(t)
            except ValueError:
                raise BVHError(f"line {i + 1}: value {k + 1} is {t[:40]!r}, not a number") from None
    raise BVHError(f"line {rows[0] + 1 if rows else 0}: unreadable motion block")


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def _end_site(name: str, scale: float) -> np.ndarray:
    """A short End Site offset (metres, in the joint's rest frame) for the 22-joint leaves."""
    if name == "head":
        return np.array([0.0, 0.10, 0.0]) * scale
    if name.endswith("foot"):
        return np.array([0.0, 0.0, 0.06]) * scale
    side = 1.0 if name.startswith("l_") else -1.0   # the character's left is +X at rest
    return np.array([0.08 * side, 0.0, 0.0]) * scale


def dumps(joints: np.ndarray, fps: float = skeleton.FPS,
          names: Sequence[str] | None = None) -> str:
    """BVH text (centimetres, Y up) for positions [T, 22, 3] in metres; see `save`."""
    joints = np.asarray(joints, dtype=np.float64)
    parents = skeleton.PARENTS
    n = len(parents)
    if joints.ndim != 3 or joints.shape[1:] != (n, 3) or joints.shape[0] < 1:
        raise ValueError(f"joints must be [T, {n}, 3] with T >= 1, got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN or inf")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    names = list(skeleton.JOINT_NAMES if names is None else names)
    if len(names) != n or any(not nm or any(ch.isspace() for ch in nm) for nm in names):
        raise ValueError(f"names must be {n} non-empty names without whitespace")

    offsets = kinematics.offsets_for(joints, parents)                     # [22, 3]
    local_q, _ = kinematics.solve_rotations(joints, offsets, parents)      # [T, 22, 4]
    euler = matrix_to_euler(quat_to_matrix(local_q), WRITE_ORDER)          # [T, 22, 3] degrees
    euler = np.round(euler, _DECIMALS)
    # The position channels are computed against the rotations exactly as a reader rebuilds them
    # from the rounded angles, so rounding never accumulates down the chain.
    local_r = euler_to_matrix(euler, WRITE_ORDER)                          # [T, 22, 3, 3]
    glob = np.empty_like(local_r)
    trans = np.empty_like(joints)                                          # [T, 22, 3]
    for j, p in enumerate(parents):
        if p < 0:
            glob[:, j] = local_r[:, j]
            trans[:, j] = joints[:, j]
        else:
            glob[:, j] = glob[:, p] @ local_r[:, j]
            trans[:, j] = np.einsum("tji,tj->ti", glob[:, p], joints[:, j] - joints[:, p])

    rest = np.zeros((n, 3))
    for j, p in enumerate(parents):
        if p >= 0:
            rest[j] = rest[p] + offsets[j]
    root_offset = np.array([0.0, -rest[:, 1].min(), 0.0])   # rest pose stands on the floor
    body_scale = np.linalg.norm(offsets, axis=-1).sum() / np.linalg.norm(
        skeleton.rest_offsets(), axis=-1).sum()
    kids = [skeleton.children(j) for j in range(n)]

    def fmt(v: np.ndarray) -> str:
        return " ".join(f"{x * WRITE_SCALE:.{_DECIMALS}f}" for x in v)

    out = ["HIERARCHY"]
    order: list[int] = []   # joints in the depth-first order written, which motion rows follow
    # An explicit stack keeps the writer iterative like the reader: (joint, depth, closing?)
    stack: list[tuple[int, int, bool]] = [(0, 0, False)]
    while stack:
        j, depth, closing = stack.pop()
        tabs = "\t" * depth
        if closing:
            out.append(f"{tabs}}}")
            continue
        order.append(j)
        out.append(f"{tabs}{'ROOT' if j == 0 else 'JOINT'} {names[j]}")
        out.append(f"{tabs}{{")
        out.append(f"{tabs}\tOFFSET {fmt(root_offset if j == 0 else offsets[j])}")
        out.append(f"{tabs}\tCHANNELS {len(WRITE_CHANNELS)} {' '.join(WRITE_CHANNELS)}")
        if not kids[j]:
            out += [f"{tabs}\tEnd Site", f"{tabs}\t{{",
                    f"{tabs}\t\tOFFSET {fmt(_end_site(skeleton.JOINT_NAMES[j], body_scale))}",
                    f"{tabs}\t}}"]
        stack.append((j, depth, True))
        stack += [(c, depth + 1, False) for c in reversed(kids[j])]
    out += ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / fps:.8f}"]

    row = np.concatenate([trans[:, order] * WRITE_SCALE, euler[:, order]], axis=-1)  # [T, 22, 6]
    fmt_row = " ".join([f"%.{_DECIMALS}f"] * row.shape[1] * row.shape[2])
    out += [fmt_row % tuple(r) for r in row.reshape(len(joints), -1)]
    return "\n".join(out) + "\n"


def save(path: str | os.PathLike, joints: np.ndarray, fps: float = skeleton.FPS,
         names: Sequence[str] | None = None) -> None:
    """Write positions [T, 22, 3] (metres, Y up, skeleton.JOINT_NAMES order) as a BVH in
    centimetres with six channels per joint (exact local translations + ZXY rotations solved from
    the positions). `names` renames the joints in the file (default skeleton.JOINT_NAMES)."""
    text = dumps(joints, fps=fps, names=names)
    with open(path, "w", newline="\n") as f:
        f.write(text)
