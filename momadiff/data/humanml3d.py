"""HumanML3D-format folders -> our dataset format.

A HumanML3D-format folder holds new_joint_vecs/<id>.npy ([T, 263] features, 20 fps),
texts/<id>.txt (one "caption#tokens#start#end" line per caption; start/end in seconds, both 0.0
meaning the whole clip), train.txt / val.txt / test.txt (ids, one a line), and optionally
Mean.npy / Std.npy. HumanML3D's own loader (Text2MotionDataset) is followed:

- a caption with a sub-range (start or end non-zero; NaN counts as 0) describes only rows
  [int(start * 20), int(end * 20)) and becomes its own clip, id "<id>@<start>-<end>" (HumanML3D
  names it with a random letter; ours is deterministic), holding every caption of that range;
- a motion shorter than min_frames (40) or of max_frames (200) rows or more is dropped with all
  its captions, and so is a sub-range outside those bounds, as HumanML3D does for its t2m data
  (pass None to keep them);
- an id with no features file, or a NaN in its features, is skipped.

Joints are recovered from the features (features_to_joints), which is what HumanML3D's new_joints
are. Mean.npy / Std.npy are used when present (HumanML3D's published statistics cover all its
data); otherwise they are computed from our train split.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..motion import features as F
from .captions import mirror_caption
from .dataset import SPLITS, format_summary, write_dataset

_SPLIT_FILES = {"train": "train.txt", "val": "val.txt", "test": "test.txt"}


def parse_text_line(line: str) -> tuple[str, list[str], float, float] | None:
    """(caption, tokens, start_s, end_s) of one texts/*.txt line, None for a blank line."""
    line = line.strip()
    if not line:
        return None
    parts = line.split("#")
    caption = parts[0].strip()
    tokens = parts[1].split(" ") if len(parts) > 1 and parts[1] else []

    def seconds(i: int) -> float:
        try:
            v = float(parts[i]) if len(parts) > i else 0.0
        except ValueError:
            return 0.0
        return 0.0 if math.isnan(v) else v

    return caption, tokens, seconds(2), seconds(3)


def read_split_ids(root: Path) -> dict[str, str]:
    """id -> split from train/val/test.txt (a later file wins if an id is listed twice)."""
    out: dict[str, str] = {}
    for split, name in _SPLIT_FILES.items():
        path = root / name
        if path.exists():
            for line in path.read_text().split():
                out[line.strip()] = split
    return out


def load_humanml3d(root: str | Path, min_frames: int | None = 40, max_frames: int | None = 200,
                   fps: int = 20) -> tuple[list[dict], list[np.ndarray], dict]:
    """Read a HumanML3D-format folder: (clips, features list, report dict). Clips follow
    dataset.write_dataset's schema (no content/style labels, no paraphrases)."""
    root = Path(root)
    vec_dir, text_dir = root / "new_joint_vecs", root / "texts"
    if not vec_dir.is_dir():
        raise FileNotFoundError(f"{vec_dir} not found: not a HumanML3D-format folder")
    split_of = read_split_ids(root)
    if not split_of:
        raise FileNotFoundError(f"no train.txt / val.txt / test.txt in {root}")

    def keep(n: int) -> bool:
        return (min_frames is None or n >= min_frames) and (max_frames is None or n < max_frames)

    clips, feats = [], []
    report = {"missing": 0, "nan": 0, "too_short_or_long": 0, "subranges": 0}
    for clip_id in sorted(split_of):
        path = vec_dir / f"{clip_id}.npy"
        if not path.exists():
            report["missing"] += 1
            continue
        motion = np.load(path).astype(np.float32)
        if motion.ndim != 2 or motion.shape[1] != F.FEATURE_DIM or np.isnan(motion).any():
            report["nan"] += 1
            continue
        if not keep(len(motion)):
            report["too_short_or_long"] += 1
            continue
        whole: list[str] = []
        ranges: dict[tuple[float, float], list[str]] = {}
        text_path = text_dir / f"{clip_id}.txt"
        lines = text_path.read_text(encoding="utf-8").splitlines() if text_path.exists() else []
        for line in lines:
            parsed = parse_text_line(line)
            if parsed is None:
                continue
            caption, _, start, end = parsed
            if start == 0.0 and end == 0.0:
                whole.append(caption)
            else:
                ranges.setdefault((start, end), []).append(caption)
        base = {"source": str(path.relative_to(root)), "dataset": "humanml3d", "content": None,
                "style": None, "split": split_of[clip_id], "paraphrases": [], "notes": []}
        for (start, end), caps in sorted(ranges.items()):
            part = motion[int(start * fps):int(end * fps)]
            if not keep(len(part)):
                report["too_short_or_long"] += 1
                continue
            report["subranges"] += 1
            clips.append({**base, "id": f"{clip_id}@{start:g}-{end:g}", "captions": caps,
                          "mirror_captions": [mirror_caption(c) for c in caps]})
            feats.append(part)
        if whole:
            clips.append({**base, "id": clip_id, "captions": whole,
                          "mirror_captions": [mirror_caption(c) for c in whole]})
            feats.append(motion)
    return clips, feats, report


def build_humanml3d(source: str | Path, out: str | Path, min_frames: int | None = 40,
                    max_frames: int | None = 200) -> dict:
    """Convert a HumanML3D-format folder into our dataset folder `out`; prints a summary and
    returns the meta written."""
    t0 = time.time()
    source = Path(source)
    clips, feats, report = load_humanml3d(source, min_frames, max_frames)
    if not clips:
        raise SystemExit(f"no usable clips in {source}")
    joints = [F.features_to_joints(f).astype(np.float32) for f in feats]
    stats = None
    if (source / "Mean.npy").exists() and (source / "Std.npy").exists():
        stats = (np.load(source / "Mean.npy"), np.load(source / "Std.npy"))
    meta = {"name": "humanml3d", "source": str(source), "report": report,
            "stats": "HumanML3D Mean.npy/Std.npy" if stats is not None else "train split, grouped std",
            "license": "see the source dataset (HumanML3D: its own license; AMASS motions: AMASS license)",
            "built_at": time.strftime("%Y-%m-%d %H:%M:%S"), "build_seconds": round(time.time() - t0, 2)}
    meta = write_dataset(out, clips, feats, joints, meta, stats=stats)
    print(format_summary({k: meta["splits"][k] for k in SPLITS}))
    print(f"skipped: {report}; took {time.time() - t0:.1f} s -> {out}")
    return meta
