"""Any folder of motion files (.bvh, or .amc beside their .asf) with a captions file -> a dataset.

    python -m momadiff.data build bvh-folder --source DIR --captions FILE --out data/X

The captions file (captionfile.py) lists the files, or segments of them, with their captions and
a content label. Every listed file is read and retargeted once (retarget.load_motion: 20 fps, a
converter's added reference frame dropped, the captions file's fps override applied), each row's
segment cut from it, canonicalised and turned into features (the same as the Bandai builder). The
captions file is checked before any motion is read; a motion file that cannot be read or a
segment that does not fit stops the build with every such problem listed, because a captions file
that names a broken file is a mistake to fix, not a clip to skip silently.

Splits (SplitRule) are by performer ("subject"): the folder holding the file, or, for a file
at the top of the source folder, its name up to the first "_" (CMU's bvh/01/01_03.bvh -> "01"). Named subjects go to test / val / ood, named contents to ood; with no subject named, the
subjects in SHA-256 order give about 10% each to test and val (at least one each once there are
5 subjects), so that test means unseen performers.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from ..motion import features as F
from ..motion import skeleton
from .captionfile import CaptionRow, CaptionsError, check_files, read_captions, segment_frames
from .captions import mirror_caption
from .dataset import SPLITS, format_summary, write_dataset

HOLDOUT = 0.1
MIN_SUBJECTS = 5


@dataclass
class SplitRule:
    """Which clips go to val / test / ood (see the module docstring)."""

    test_subjects: tuple[str, ...] = ()
    val_subjects: tuple[str, ...] = ()
    ood_subjects: tuple[str, ...] = ()
    ood_contents: tuple[str, ...] = ()

    def describe(self) -> str:
        if not (self.test_subjects or self.val_subjects):
            rule = f"by subject in SHA-256 order, {HOLDOUT:.0%} test and val"
        else:
            rule = f"test subjects {list(self.test_subjects)}, val subjects {list(self.val_subjects)}"
        return (rule + f"; ood subjects {list(self.ood_subjects)}, ood contents "
                f"{list(self.ood_contents)}; every other clip train")


def subject_of(file: str) -> str:
    """The performer of a file path relative to the source folder (module docstring)."""
    p = PurePosixPath(file)
    return p.parent.name if len(p.parts) > 1 else p.stem.split("_")[0]


def _order(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def assign_splits(rows: list[CaptionRow], rule: SplitRule) -> list[str]:
    """The split of each row."""
    subjects = sorted({subject_of(r.file) for r in rows})
    split_of: dict[str, str] = {}
    if rule.test_subjects or rule.val_subjects:
        split_of.update({s: "test" for s in rule.test_subjects})
        split_of.update({s: "val" for s in rule.val_subjects})
    else:
        pool = sorted((s for s in subjects if s not in rule.ood_subjects), key=_order)
        k = max(1, int(len(pool) * HOLDOUT + 0.5)) if len(pool) >= MIN_SUBJECTS else 0
        split_of.update({s: "test" for s in pool[:k]})
        split_of.update({s: "val" for s in pool[k:2 * k]})
    split_of.update({s: "ood" for s in rule.ood_subjects})
    out = []
    for r in rows:
        s = split_of.get(subject_of(r.file), "train")
        out.append("ood" if r.content in rule.ood_contents else s)
    return out


def _read(item: tuple[str, str, float | None]) -> tuple[str, object]:
    """(file, (joints [T, 22, 3] at 20 fps, notes, source fps) or an error message)."""
    from ..motion.retarget import load_motion
    rel, path, fps = item
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = load_motion(path, fps=skeleton.FPS, source_fps=fps, name=rel)
        if not np.isfinite(res.joints).all():
            raise ValueError("non-finite joint positions")
        return rel, (res.joints, res.notes, res.source_fps)
    except Exception as e:  # reported with the row's line by the caller
        return rel, f"{type(e).__name__}: {e}"


def _clip_ids(rows: list[CaptionRow]) -> list[str]:
    per_file: dict[str, int] = defaultdict(int)
    for r in rows:
        per_file[r.file] += 1
    seen: dict[str, int] = defaultdict(int)
    ids = []
    for r in rows:
        stem = str(PurePosixPath(r.file).with_suffix(""))
        seen[r.file] += 1
        ids.append(stem if per_file[r.file] == 1 else f"{stem}#{seen[r.file]}")
    return ids


@dataclass
class FolderSpec:
    """What a folder build writes into meta.json besides the counts."""

    name: str = "folder"
    license: str = "unknown (see the source)"
    attribution: str = ""
    extra_meta: dict = field(default_factory=dict)


def build_folder(source: str | Path, captions: str | Path, out: str | Path,
                 rule: SplitRule | None = None, spec: FolderSpec | None = None,
                 workers: int = 2, stats: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Build the dataset folder `out` from the motion files under `source` listed in `captions`.
    Prints a summary and returns the meta. Raises CaptionsError for a bad captions file or motion
    files that do not read / segments that do not fit."""
    t0 = time.time()
    source, out = Path(source), Path(out)
    rule, spec = rule or SplitRule(), spec or FolderSpec()
    if not source.is_dir():
        raise CaptionsError(f"{source} is not a folder")
    rows = read_captions(captions)
    check_files(rows, source, str(captions))
    files: dict[str, float | None] = {}
    for r in rows:
        files.setdefault(r.file, r.fps)
    items = [(rel, str(source / rel), fps) for rel, fps in files.items()]
    if workers > 1 and len(items) > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            loaded = dict(pool.imap_unordered(_read, items, chunksize=2))
    else:
        loaded = dict(map(_read, items))

    errors, notes = [], []
    for rel, res in loaded.items():
        if isinstance(res, str):
            first = next(r for r in rows if r.file == rel)
            errors.append(f"{first.where}: cannot read {rel}: {res}")
        else:
            notes += res[1]
    segs = []
    for r in rows:
        res = loaded[r.file]
        if isinstance(res, str):
            continue
        cut = segment_frames(r, len(res[0]), skeleton.FPS)
        if isinstance(cut, str):
            errors.append(cut)
        segs.append(cut)
    if errors:
        raise CaptionsError(f"{captions}: {len(errors)} problem(s):\n" + "\n".join(errors[:20]))
    for n in notes:
        print(f"note: {n}", file=sys.stderr)

    splits = assign_splits(rows, rule)
    clips, feats, joints = [], [], []
    for r, cid, split, (first, last) in zip(rows, _clip_ids(rows), splits, segs):
        j, _, src_fps = loaded[r.file]
        seg = j[first:last]
        feats.append(F.joints_to_features(seg))
        joints.append(F.canonicalize(seg)[:-1].astype(np.float32))
        clips.append({
            "id": cid, "source": r.file, "dataset": spec.name, "subject": subject_of(r.file),
            "content": r.content, "style": "", "split": split,
            "segment": [round(first / skeleton.FPS, 3), round((last - 1) / skeleton.FPS, 3)],
            "source_fps": src_fps, "captions": r.captions, "paraphrases": [],
            "mirror_captions": [mirror_caption(c) for c in r.captions],
            "notes": ["long"] if len(seg) - 1 > 10 * skeleton.FPS else [],
        })
    if not any(c["split"] == "train" for c in clips) and stats is None:
        raise CaptionsError("no clip is in the train split; name fewer val/test/ood subjects")
    meta = {
        "name": spec.name, "source": str(source), "captions_file": str(captions),
        "license": spec.license, "attribution": spec.attribution,
        "datasets": [spec.name], "contents": sorted({c["content"] for c in clips}),
        "styles": [], "subjects": sorted({c["subject"] for c in clips}),
        "split_rule": rule.describe(), "ood_contents": sorted(rule.ood_contents),
        "ood_subjects": sorted(rule.ood_subjects),
        "stats": "train split; std shared within feature groups (HumanML3D)",
        "reference_frames_dropped": notes,
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S"), **spec.extra_meta,
    }
    meta["build_seconds"] = round(time.time() - t0, 1)
    meta = write_dataset(out, clips, feats, joints, meta, stats=stats)
    print(format_summary({k: meta["splits"][k] for k in SPLITS}))
    print(f"{len(clips)} clips from {len(files)} files ({len(notes)} added reference frames "
          f"dropped); built in {time.time() - t0:.1f} s -> {out}")
    if spec.attribution:
        print(f"data: {spec.attribution}")
    return meta
