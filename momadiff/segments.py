"""A timeline of prompts: segments of a long motion, each with its own text.

    [{"text": "a person walks forward", "start": 0, "end": 4},
     {"text": "a person waves the right hand", "start": 4, "end": 7}]      (seconds)

Three things live here, none of them touching a network:
- parsing and validation (`parse_segments`, `parse_cli_segment`): every bad timeline gets one
  clear line (SegmentError). Segments given out of order are sorted by start time, not refused:
  a timeline editor hands them over in whatever order the bars were made, and the order carries
  no meaning of its own. Overlaps are refused: two texts for one instant is a contradiction the
  model can't resolve and the user should see.
- the per-latent condition (`latent_texts`): which text each latent takes its condition from.
  A gap between segments (or before the first, or after the last) is free in-fill under the
  null text (the model's text-dropped condition): the motion there is shaped by the known
  latents on both sides, not pulled towards either neighbour's text (SamplerConfig.gap_text;
  measured in the README).
- passes (`plan_passes`, `plan_windows`): each segment's latents take their condition from a
  transformer pass over that segment plus a little of its neighbours (see plan_passes for why
  not the whole timeline). The transformer was trained on at most max_latents latents, so a
  longer span is covered by overlapping windows of that length, all run on the same latents at
  every stage; each latent takes its condition from the window in which it lies most centrally,
  so it always sees at least half an overlap of context on both sides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

MAX_TOTAL_SECONDS = 60.0      # the end of the last segment (latency measured in the README)
MIN_SEGMENT_SECONDS = 0.5     # 5 latents: shorter than this a text can't show in the motion
MAX_SEGMENTS = 32             # a 60 s timeline of the shortest segments would be 120; 32 is plenty
MAX_TEXT_CHARS = 1000
NULL_TEXT = -1                # latent_texts' value for a latent under the null (text-dropped) condition


class SegmentError(ValueError):
    """A timeline of segments that can't be generated, with a one-line message for the user."""


@dataclass(frozen=True)
class Segment:
    """One prompt over [start, end) seconds of the motion."""
    text: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": self.start, "end": self.end}


def _number(value: Any, what: str) -> float:
    """A finite float from a JSON/Python number; bools, strings and NaN are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SegmentError(f"{what} must be a number of seconds, got {repr(value)[:40]}")
    try:
        v = float(value)
    except OverflowError:
        raise SegmentError(f"{what} must be a number of seconds, got {str(value)[:40]}") from None
    if not math.isfinite(v):
        raise SegmentError(f"{what} must be a finite number of seconds, got {v}")
    return v


def _one(item: Any, n: int) -> Segment:
    where = f"segment {n + 1}"
    if isinstance(item, Segment):
        item = item.to_dict()
    if not isinstance(item, dict):
        raise SegmentError(f"{where} must be an object with 'text', 'start' and 'end', got {type(item).__name__}")
    missing = [k for k in ("text", "start", "end") if k not in item]
    if missing:
        raise SegmentError(f"{where} has no {' or '.join(repr(k) for k in missing)}")
    text = item["text"]
    if not isinstance(text, str) or not text.strip():
        raise SegmentError(f"{where} has an empty text; describe its motion")
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_CHARS:
        raise SegmentError(f"{where}'s text is {len(text)} characters long; keep it under {MAX_TEXT_CHARS}")
    start, end = _number(item["start"], f"{where}'s start"), _number(item["end"], f"{where}'s end")
    if start < 0:
        raise SegmentError(f"{where} starts at {start:g} s, before the motion's start (0 s)")
    if end <= start:
        raise SegmentError(f"{where} ends at {end:g} s, not after its start at {start:g} s")
    if end - start < MIN_SEGMENT_SECONDS:
        raise SegmentError(f"{where} lasts {end - start:g} s; a segment needs at least {MIN_SEGMENT_SECONDS:g} s")
    return Segment(text, start, end)


def parse_segments(data: Any, max_seconds: float = MAX_TOTAL_SECONDS) -> list[Segment]:
    """Segments from a list of {"text", "start", "end"} dicts (or Segment objects), validated and
    sorted by start. Raises SegmentError naming the first problem."""
    if isinstance(data, dict) and "segments" in data:
        data = data["segments"]
    if not isinstance(data, (list, tuple)):
        raise SegmentError("segments must be a list of {\"text\", \"start\", \"end\"} objects")
    if not data:
        raise SegmentError("the timeline has no segments; add at least one")
    if len(data) > MAX_SEGMENTS:
        raise SegmentError(f"{len(data)} segments is more than the {MAX_SEGMENTS} allowed")
    segs = sorted((_one(d, n) for n, d in enumerate(data)), key=lambda s: (s.start, s.end))
    for a, b in zip(segs, segs[1:]):
        if b.start < a.end - 1e-9:
            raise SegmentError(f"segments \"{a.text[:30]}\" ({a.start:g}-{a.end:g} s) and \"{b.text[:30]}\" "
                               f"({b.start:g}-{b.end:g} s) overlap; a moment can have only one text")
    if segs[-1].end > max_seconds + 1e-9:
        raise SegmentError(f"the timeline ends at {segs[-1].end:g} s; the maximum is {max_seconds:g} s")
    return segs


def parse_cli_segment(spec: str) -> dict[str, Any]:
    """`START:END:TEXT` (seconds; the text may hold colons) -> a segment dict (not yet validated
    against the others: parse_segments does that)."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise SegmentError(f"--segment {spec[:40]!r} must look like START:END:TEXT, e.g. 0:4:a person walks")
    out: dict[str, Any] = {"text": parts[2]}
    for name, s in (("start", parts[0]), ("end", parts[1])):
        try:
            out[name] = float(s)
        except ValueError:
            raise SegmentError(f"--segment {spec[:40]!r}: {name} {s.strip()[:20]!r} is not a number of seconds") from None
    return out


def texts_of(segments: Sequence[Segment]) -> list[str]:
    """The distinct texts of the segments, in order of first appearance."""
    return list(dict.fromkeys(s.text for s in segments))


def latent_texts(segments: Sequence[Segment], num_latents: int, frames_per_latent: int, fps: float,
                 num_frames: int | None = None, gap: str = "null") -> np.ndarray:
    """Per latent [num_latents] int: the index into texts_of(segments) whose condition it takes,
    or NULL_TEXT for a latent in a gap (gap="null"; "nearest": the nearest segment's text). A
    latent belongs to the segment holding its window's middle frame (so a boundary splits
    latents, never a latent); the last latent's window may reach past the motion's num_frames,
    so its middle is taken within the motion."""
    texts = texts_of(segments)
    mid = np.arange(num_latents) * frames_per_latent + (frames_per_latent - 1) / 2      # frames
    if num_frames is not None:
        mid = np.minimum(mid, num_frames - 1)
    mid = mid / fps                                                                      # seconds
    out = np.full(num_latents, NULL_TEXT, dtype=np.int64)
    for s in segments:
        out[(mid >= s.start) & (mid < s.end)] = texts.index(s.text)
    if gap == "nearest":
        # Distance in seconds from each latent to each segment (0 inside it).
        d = np.stack([np.maximum(s.start - mid, 0) + np.maximum(mid - s.end, 0) for s in segments])
        near = np.array([texts.index(s.text) for s in segments])[d.argmin(axis=0)]
        out = np.where(out == NULL_TEXT, near, out)
    return out


def boundaries(segments: Sequence[Segment]) -> list[float]:
    """The times (s) where the condition changes: starts and ends of segments inside the motion,
    excluding 0 and the motion's end."""
    end = max(s.end for s in segments)
    return sorted({t for s in segments for t in (s.start, s.end) if 0 < t < end})


def plan_windows(num_latents: int, window: int, overlap: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Windows [(start, end)) of `window` latents covering num_latents, neighbours sharing at least
    `overlap`, the last one ending at num_latents; and owner [num_latents]: the window each latent
    takes its condition from (the one in which it is farthest from an edge that is not the
    motion's own start or end)."""
    if num_latents <= window:
        return [(0, num_latents)], np.zeros(num_latents, dtype=np.int64)
    if not 0 <= overlap < window:
        raise ValueError(f"overlap {overlap} must be from 0 to window - 1 = {window - 1}")
    stride = window - overlap
    count = math.ceil((num_latents - window) / stride) + 1
    # Spread the starts evenly so every overlap is about the same size (>= the one asked for).
    starts = np.round(np.linspace(0, num_latents - window, count)).astype(int)
    wins = [(int(s), int(s) + window) for s in starts]
    idx = np.arange(num_latents)
    margin = np.full((len(wins), num_latents), -np.inf)
    for w, (a, b) in enumerate(wins):
        inside = (idx >= a) & (idx < b)
        left = np.where(a == 0, np.inf, idx - a)
        right = np.where(b == num_latents, np.inf, b - 1 - idx)
        margin[w, inside] = np.minimum(left, right)[inside]
    return wins, margin.argmax(axis=0)


def plan_passes(text_index: np.ndarray, window: int, overlap: int, context: int, blend: int
                ) -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """The transformer passes that give every latent its condition: (start, end, text) spans of
    latents, and owner [N]: the pass each latent takes its condition from.

    The transformer infers much of a motion from the latents it sees, and a training crop never
    holds two kinds of motion: a pass that shows a walk's text some hands-up latents stops the
    walk during in-fill (measured: 1.2 m/s after stage 1, 0.2 m/s at the end, even with only 8
    such latents in view). So each run of latents under one text (a segment, or a gap under
    NULL_TEXT) takes its condition from passes over itself alone, cut into overlapping windows
    when longer than `window`; and the `blend` latents on each side of a boundary take theirs
    from a transition pass with their own text over `context` latents on both sides, so the
    transition is in-filled with both neighbours known. A gap's passes see `context` latents of
    its neighbours too: a gap is the in-fill from one segment into the next."""
    n = len(text_index)
    owner = np.zeros(n, dtype=np.int64)
    passes: list[tuple[int, int, int]] = []
    cuts = np.flatnonzero(np.diff(text_index)) + 1
    starts, ends = np.r_[0, cuts].astype(int), np.r_[cuts, n].astype(int)
    for a, b in zip(starts, ends):
        # A gap is free in-fill between its neighbours: its passes see `context` latents of each.
        pad = min(context, window // 4) if text_index[a] == NULL_TEXT else 0
        lo, hi = max(0, int(a) - pad), min(n, int(b) + pad)
        wins, own = plan_windows(hi - lo, window, overlap)
        first = len(passes)
        passes += [(lo + wa, lo + wb, int(text_index[a])) for wa, wb in wins]
        owner[a:b] = first + own[a - lo:b - lo]
    if blend > 0 and context > 0:
        half = min(context, window // 2)
        for r, c in enumerate(cuts):
            lo, hi = max(0, int(c) - half), min(n, int(c) + half)
            for side, (x, y) in ((r, (max(starts[r], c - blend), c)), (r + 1, (c, min(ends[r + 1], c + blend)))):
                passes.append((lo, hi, int(text_index[starts[side]])))
                owner[x:y] = len(passes) - 1
    return passes, owner


def as_segments(items: Iterable[Segment | dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments as plain dicts (JSON-ready)."""
    return [s.to_dict() if isinstance(s, Segment) else dict(s) for s in items]
