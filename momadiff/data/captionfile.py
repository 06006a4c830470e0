"""The captions file of a motion folder: which file (or which segment of it) says what.

CSV, with a header row naming the columns (any order; `file` and `captions` are required):

    file,start,end,fps,content,captions
    01/01_03.bvh,0,12.5,,climb,a person climbs a ladder | someone climbs up the bars
    01/01_03.bvh,12.5,,,hang,a person hangs from a bar and swings
    35/35_01.amc,,,60,walk,a man walks forward

- file: path of a .bvh or .amc file, relative to the source folder (an .amc reads the .asf beside
  it; asfamc.find_asf).
- start, end: seconds of a segment of the motion (after a dropped reference frame, at the true
  frame rate); empty start = 0, empty end = the end of the file. Several rows may cut one file.
- fps: the true capture rate when the file's own is wrong; empty = the file's. Every row of one
  file must agree.
- content: a short kind label (kick, climb, walk), used for per-content weighting, splits and
  evaluation; empty = "unlabelled".
- captions: one or more sentences separated by " | ".
Lines starting with # are comments; blank lines are skipped.

JSON: a list of objects with the same keys; captions a list of strings (or one " | "-separated
string); start/end/fps numbers or null.

`read_captions` checks the file's own format (columns, numbers, empty captions, end <= start);
`check_rows` checks it against the motion files (missing file, segment past the file's end).
Every error names the line (CSV: the line in the file; JSON: the list entry) and all errors are
reported at once (up to MAX_ERRORS).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("file", "start", "end", "fps", "content", "captions")
REQUIRED = ("file", "captions")
SEPARATOR = "|"
MAX_ERRORS = 20
MAX_BYTES = 32 * 2 ** 20
UNLABELLED = "unlabelled"
END_SLACK = 0.1   # seconds an end may pass the file's end (rounding of hand-written times)


class CaptionsError(ValueError):
    """A captions file that cannot be used; the message lists each problem with its line."""


@dataclass
class CaptionRow:
    """One row: a file or a segment of it, with its captions."""

    file: str
    captions: list[str]
    start: float | None = None
    end: float | None = None
    fps: float | None = None
    content: str = UNLABELLED
    where: str = ""          # "line 7" (CSV) or "entry 3" (JSON), for messages
    extra: dict = field(default_factory=dict)


def _raise(errors: list[str], source: str) -> None:
    if errors:
        more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise CaptionsError(f"{source}: {len(errors)} problem(s):\n" + "\n".join(errors[:MAX_ERRORS]) + more)


def _number(value, what: str, where: str, errors: list[str]) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        errors.append(f"{where}: {what} must be a number, found {value!r}")
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        unit = "frames per second" if what == "fps" else "seconds"
        errors.append(f"{where}: {what} must be a number ({unit}), found {str(value)[:40]!r}")
        return None
    if not math.isfinite(v) or v < 0:
        errors.append(f"{where}: {what} must be a finite number >= 0, found {str(value)[:40]!r}")
        return None
    if what == "fps" and v == 0:
        errors.append(f"{where}: fps must be positive, found {str(value)[:40]!r}")
        return None
    return v


def _split_captions(value) -> list[str] | None:
    if isinstance(value, str):
        return [c.strip() for c in value.split(SEPARATOR) if c.strip()]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()]
    return None


def _row(d: dict, where: str, errors: list[str]) -> CaptionRow | None:
    n_before = len(errors)
    file = d.get("file")
    if not isinstance(file, str) or not file.strip():
        errors.append(f"{where}: no file named")
    caps = _split_captions(d.get("captions"))
    if caps is None:
        errors.append(f"{where}: captions must be text (sentences separated by ' | ') or a list of strings")
    elif not caps:
        errors.append(f"{where}: empty captions: give at least one sentence")
    start = _number(d.get("start"), "start", where, errors)
    end = _number(d.get("end"), "end", where, errors)
    fps = _number(d.get("fps"), "fps", where, errors)
    if start is not None and end is not None and end <= start:
        errors.append(f"{where}: end ({end:g} s) must be after start ({start:g} s)")
    content = d.get("content")
    if content is not None and not isinstance(content, str):
        errors.append(f"{where}: content must be a short text label, found {str(content)[:40]!r}")
    if len(errors) > n_before:
        return None
    return CaptionRow(file=file.strip().replace("\\", "/"), captions=caps, start=start, end=end, fps=fps,
                      content=(content or "").strip() or UNLABELLED, where=where)


def parse_csv(text: str, source: str = "captions") -> list[CaptionRow]:
    """Rows of a captions CSV (see the module docstring); raises CaptionsError."""
    lines = text.lstrip("\ufeff").splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise CaptionsError(f"{source}: no header row: expected the columns {','.join(COLUMNS)}")
    # Parse all kept lines in one go (quoted fields may hold commas); a quoted field spanning lines
    # is not supported, so each record is exactly one line and keeps its line number.
    records = list(csv.reader(io.StringIO("\n".join(ln for _, ln in numbered))))
    header_line, header = numbered[0][0], [h.strip().lower() for h in records[0]]
    errors: list[str] = []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        errors.append(f"line {header_line}: unknown column(s) {', '.join(map(repr, unknown))}; "
                      f"the columns are {','.join(COLUMNS)}")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append(f"line {header_line}: missing column(s) {', '.join(missing)}")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        errors.append(f"line {header_line}: column(s) named twice: {', '.join(dup)}")
    _raise(errors, source)
    rows = []
    for (line_no, _), rec in zip(numbered[1:], records[1:]):
        where = f"line {line_no}"
        if len(rec) != len(header):
            errors.append(f"{where}: {len(rec)} field(s), the header has {len(header)} "
                          "(quote a caption holding a comma)")
            continue
        row = _row(dict(zip(header, rec)), where, errors)
        if row is not None:
            rows.append(row)
    _raise(errors, source)
    if not rows:
        raise CaptionsError(f"{source}: no rows after the header")
    return rows


def parse_json(text: str, source: str = "captions") -> list[CaptionRow]:
    """Rows of a captions JSON list (see the module docstring); raises CaptionsError."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CaptionsError(f"{source}: line {e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, list):
        raise CaptionsError(f"{source}: expected a JSON list of objects with keys {', '.join(COLUMNS)}")
    errors: list[str] = []
    rows = []
    for k, d in enumerate(data):
        where = f"entry {k}"
        if not isinstance(d, dict):
            errors.append(f"{where}: expected an object, found {type(d).__name__}")
            continue
        unknown = [key for key in d if key not in COLUMNS]
        if unknown:
            errors.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"the keys are {', '.join(COLUMNS)}")
            continue
        row = _row(d, where, errors)
        if row is not None:
            rows.append(row)
    _raise(errors, source)
    if not rows:
        raise CaptionsError(f"{source}: the list is empty")
    return rows


def read_captions(path: str | os.PathLike) -> list[CaptionRow]:
    """Read a captions file (.json, else CSV). Raises CaptionsError naming each bad line."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise CaptionsError(f"{path}: above the {MAX_BYTES // 2 ** 20} MiB limit for captions files")
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise CaptionsError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[:e.start].count(b"\n") + 1
        raise CaptionsError(f"{path}: line {line}: not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        return parse_json(text, str(path))
    return parse_csv(text, str(path))


def check_files(rows: list[CaptionRow], root: str | os.PathLike, source: str = "captions") -> None:
    """Every row's file exists under root and is a motion file; rows of one file agree on fps."""
    from ..motion.retarget import MOTION_SUFFIXES
    root = Path(root).resolve()
    errors: list[str] = []
    fps_of: dict[str, tuple[float | None, str]] = {}
    for r in rows:
        p = (root / r.file).resolve()
        if root not in p.parents:
            errors.append(f"{r.where}: {r.file!r} is outside the source folder")
        elif p.suffix.lower() not in MOTION_SUFFIXES:
            errors.append(f"{r.where}: {r.file!r} is not a motion file ({' or '.join(MOTION_SUFFIXES)})")
        elif not p.is_file():
            errors.append(f"{r.where}: missing file {r.file!r} (under {root})")
        if r.file in fps_of and fps_of[r.file][0] != r.fps:
            errors.append(f"{r.where}: fps {r.fps} differs from {fps_of[r.file][1]}'s "
                          f"{fps_of[r.file][0]} for the same file")
        fps_of.setdefault(r.file, (r.fps, r.where))
    _raise(errors, source)


def segment_frames(row: CaptionRow, num_frames: int, fps: float) -> tuple[int, int] | str:
    """[first, last) frames of the row's segment in a motion of num_frames at fps, or the reason
    it does not fit (a message naming the row's line)."""
    duration = (num_frames - 1) / fps
    start = row.start or 0.0
    end = duration if row.end is None else row.end
    if start >= duration:
        return (f"{row.where}: segment starts at {start:g} s, past the end of {row.file} "
                f"({duration:.2f} s)")
    if end > duration + END_SLACK:
        return f"{row.where}: segment ends at {end:g} s, past the end of {row.file} ({duration:.2f} s)"
    first = int(round(start * fps))
    last = min(num_frames, int(round(min(end, duration) * fps)) + 1)
    if last - first < 2:
        return f"{row.where}: segment {start:g}-{end:g} s of {row.file} is under 2 frames"
    return first, last
