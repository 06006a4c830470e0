"""Bandai Namco Research motion datasets 1 and 2 -> our dataset format (see dataset.py).

Source: the archive ../shared/data/bandai-namco-motion.tar.xz or a folder holding the unpacked
Bandai-Namco-Research-Motiondataset-{1,2} folders (each with data/dataset-{k}_{content}_{style}_{id}
.bvh + .json and cfg/). An archive is unpacked once into a cache folder (--workdir, default
<out>/../raw) and reused when already there.

Every clip is retargeted to the 22-joint skeleton at 20 fps (retarget.load_bvh_joints),
canonicalised and turned into features; a clip that fails is skipped with a warning, never stops
the build. Clips under 1 s after resampling are kept and listed in meta.json; clips over 10 s are
kept whole (the training sampler crops).

Splits, deterministic (clip order from a SHA-256 of the id, never from file-system order):
- ood: dataset-1's kick, punch, slash, dance-short, dance-long, all of them (contents no training
  clip shows; they exist only in the normal style).
- every other clip: by clip within its (dataset, content, style) group, 10% test, 10% val (rounded,
  at least 1 each once a group has 5 clips), the rest train. Groups under 5 clips (nearly all of
  dataset-1, one or two clips per pair) are pooled per dataset and that pool is split the same way,
  so val/test also hold dataset-1 styles, as unseen (content, style) pairs.

License: CC BY-NC 4.0, Bandai Namco Research Inc.; every build records the attribution in meta.json.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import re
import sys
import tarfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..motion import features as F
from ..motion import skeleton
from .captions import captions, mirror_caption, paraphrases
from .dataset import SPLITS, format_summary, write_dataset

DATASET_DIRS = ("Bandai-Namco-Research-Motiondataset-1", "Bandai-Namco-Research-Motiondataset-2")
OOD_CONTENTS = frozenset({"kick", "punch", "slash", "dance-short", "dance-long"})
LICENSE = "CC BY-NC 4.0"
ATTRIBUTION = "Bandai Namco Research Inc., CC BY-NC 4.0"
SHORT_FRAMES = skeleton.FPS        # under 1 s: kept, listed in meta
LONG_FRAMES = 10 * skeleton.FPS    # over 10 s: kept whole, counted in meta
MIN_GROUP = 5                      # smaller (content, style) groups are split as one pool
HOLDOUT = 0.1                      # fraction of a group for val, and again for test
NUM_CAPTIONS, NUM_PARAPHRASES = 10, 3

_NAME = re.compile(r"^dataset-(\d+)_([a-z0-9-]+)_([a-z0-9-]+)_(\d+)$")


@dataclass(frozen=True)
class ClipSource:
    """One BVH file and the labels its name carries."""

    id: str          # file stem, e.g. "dataset-2_walk_active_001"
    path: Path
    dataset: str     # "bandai-1" or "bandai-2"
    content: str
    style: str


def _has_clips(folder: Path) -> bool:
    return (folder / "data").is_dir() and any((folder / "data").glob("dataset-*.bvh"))


def find_dataset_dirs(root: Path) -> list[Path]:
    """The Bandai dataset folders (Bandai-Namco-Research-Motiondataset-*): root itself, its
    children or its grandchildren."""
    is_one = root.name.startswith("Bandai-Namco-Research-Motiondataset-") and _has_clips(root)
    found = [root] if is_one else []
    for cand in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        found += [d for d in sorted(cand.glob("Bandai-Namco-Research-Motiondataset-*")) if _has_clips(d)]
    return sorted(set(found))


def resolve_source(source: str | Path, cache: str | Path) -> Path:
    """A folder holding the dataset folders: source itself when it is a folder, else the archive
    unpacked into cache (skipped when cache already holds them)."""
    source, cache = Path(source), Path(cache)
    if source.is_dir():
        if not find_dataset_dirs(source):
            raise FileNotFoundError(
                f"no Bandai-Namco-Research-Motiondataset-* folder with data/*.bvh in {source}")
        return source
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist")
    if cache.is_dir() and find_dataset_dirs(cache):
        print(f"reusing the unpacked data in {cache}")
        return cache
    partial = cache.with_name(cache.name + ".partial")
    print(f"unpacking {source} into {cache} ...")
    partial.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source, "r:*") as tar:
        # filter="data" refuses absolute paths, links out of the tree and device files.
        tar.extractall(partial, filter="data")
    if cache.exists():
        for item in partial.iterdir():
            item.rename(cache / item.name)
        partial.rmdir()
    else:
        partial.rename(cache)
    if not find_dataset_dirs(cache):
        raise FileNotFoundError(f"{source} holds no Bandai dataset folders")
    return cache


def _labels(dataset_dir: Path, kind: str) -> list[str]:
    path = dataset_dir / "cfg" / f"{kind}_label.txt"
    if not path.exists():
        return []
    # Labels are "dataset-1_walk"; some cfg files lack the final newline, so split on whitespace.
    return [lab.split("_", 1)[-1] for lab in path.read_text().split()]


def find_clips(root: Path) -> tuple[list[ClipSource], list[str]]:
    """Every BVH clip under the dataset folders in root, sorted by id, and warnings (label files
    disagreeing with a file name, label files without motion, names that do not parse)."""
    clips, warnings = [], []
    for ddir in find_dataset_dirs(root):
        contents, styles = _labels(ddir, "content"), _labels(ddir, "style")
        bvh_stems = {p.stem for p in (ddir / "data").glob("*.bvh")}
        for js in sorted((ddir / "data").glob("*.json")):
            if js.stem not in bvh_stems:
                warnings.append(f"{js.name}: labels without a BVH (clip absent from the release)")
        for path in sorted((ddir / "data").glob("*.bvh")):
            m = _NAME.match(path.stem)
            if not m:
                warnings.append(f"{path.name}: name does not follow dataset-K_content_style_id; skipped")
                continue
            k, content, style, _ = m.groups()
            js = path.with_suffix(".json")
            if js.exists() and contents and styles:
                try:
                    lab = json.loads(js.read_text())
                    named = (contents[lab["content"]], styles[lab["style"]])
                    if named != (content, style):
                        warnings.append(f"{path.name}: json labels {named} differ from the name; "
                                        "using the name")
                except (ValueError, KeyError, IndexError, TypeError) as e:
                    warnings.append(f"{js.name}: unreadable labels ({e})")
            clips.append(ClipSource(path.stem, path, f"bandai-{k}", content, style))
    return sorted(clips, key=lambda c: c.id), warnings


def _order_key(clip_id: str) -> str:
    return hashlib.sha256(clip_id.encode()).hexdigest()


def _split_pool(ids: list[str]) -> dict[str, str]:
    ids = sorted(ids, key=_order_key)
    n = len(ids)
    k = max(1, int(n * HOLDOUT + 0.5)) if n >= MIN_GROUP else 0
    return {cid: ("test" if i < k else "val" if i < 2 * k else "train") for i, cid in enumerate(ids)}


def assign_splits(clips: list[ClipSource]) -> dict[str, str]:
    """id -> "train" / "val" / "test" / "ood" (rules in the module docstring)."""
    out: dict[str, str] = {}
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for c in clips:
        if c.dataset == "bandai-1" and c.content in OOD_CONTENTS:
            out[c.id] = "ood"
        else:
            groups[(c.dataset, c.content, c.style)].append(c.id)
    pools: dict[str, list[str]] = defaultdict(list)
    for (dataset, _, _), ids in groups.items():
        if len(ids) >= MIN_GROUP:
            out.update(_split_pool(ids))
        else:
            pools[dataset] += ids
    for ids in pools.values():
        out.update(_split_pool(ids))
    return out


def process_clip(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(features [T-1, 263] float32, canonical joints [T-1, 22, 3] float32) of one BVH file."""
    from ..motion import retarget

    joints = retarget.load_bvh_joints(path, fps=skeleton.FPS)               # [T, 22, 3]
    if len(joints) < 2:
        raise ValueError(f"{len(joints)} frame(s) after resampling to {skeleton.FPS} fps")
    if not np.isfinite(joints).all():
        raise ValueError("non-finite joint positions")
    feats = F.joints_to_features(joints)
    canon = F.canonicalize(joints)[:-1].astype(np.float32)
    if not np.isfinite(feats).all():
        raise ValueError("non-finite features")
    return feats, canon


def _work(item: tuple[str, str]) -> tuple[str, object]:
    clip_id, path = item
    try:
        return clip_id, process_clip(path)
    except Exception as e:  # one broken file must never end the build
        return clip_id, f"{type(e).__name__}: {e}"


def build_bandai(source: str | Path, out: str | Path, workdir: str | Path | None = None,
                 workers: int = 2, limit: int | None = None) -> dict:
    """Build the dataset folder `out` from the Bandai data; prints a summary, returns the meta."""
    t0 = time.time()
    out = Path(out)
    root = resolve_source(source, Path(workdir) if workdir else out.parent / "raw")
    sources, warnings = find_clips(root)
    if limit:
        sources = sources[:limit]
    if not sources:
        raise SystemExit(f"no clips found under {root}")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    split_of = assign_splits(sources)
    by_id = {s.id: s for s in sources}

    results: dict[str, object] = {}
    items = [(s.id, str(s.path)) for s in sources]
    bar = tqdm(total=len(items), desc="clips", unit="clip", file=sys.stderr)
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for clip_id, res in pool.imap_unordered(_work, items, chunksize=4):
                results[clip_id] = res
                bar.update()
    else:
        for item in items:
            clip_id, res = _work(item)
            results[clip_id] = res
            bar.update()
    bar.close()

    clips, feats, joints, skipped, short = [], [], [], [], []
    for s in sources:
        res = results[s.id]
        if isinstance(res, str):
            print(f"warning: skipped {s.path.name}: {res}", file=sys.stderr)
            skipped.append({"id": s.id, "error": res})
            continue
        f, j = res
        notes = []
        if len(f) < SHORT_FRAMES:
            notes.append("short")
            short.append(s.id)
        if len(f) > LONG_FRAMES:
            notes.append("long")
        caps = captions(s.content, s.style, s.id, NUM_CAPTIONS)
        clips.append({
            "id": s.id, "source": str(s.path.relative_to(root)), "dataset": s.dataset,
            "content": s.content, "style": s.style, "split": split_of[s.id],
            "captions": caps, "paraphrases": paraphrases(s.content, s.style, s.id, NUM_PARAPHRASES),
            "mirror_captions": [mirror_caption(c) for c in caps], "notes": notes,
        })
        feats.append(f)
        joints.append(j)
    if not any(c["split"] == "train" for c in clips):
        raise SystemExit("no train clip was processed; nothing to build")

    meta = {
        "name": "bandai", "source": str(source), "unpacked": str(root),
        "license": LICENSE, "attribution": ATTRIBUTION,
        "datasets": sorted({by_id[c["id"]].dataset for c in clips}),
        "contents": sorted({c["content"] for c in clips}),
        "styles": sorted({c["style"] for c in clips}),
        "ood_contents": sorted(OOD_CONTENTS),
        "split_rule": f"per (dataset, content, style) group by SHA-256 of the id, {HOLDOUT:.0%} val "
                      f"and test; groups < {MIN_GROUP} pooled per dataset; "
                      f"ood = dataset-1 {sorted(OOD_CONTENTS)}",
        "stats": "train split; std shared within feature groups (HumanML3D)",
        "captions_per_clip": NUM_CAPTIONS, "paraphrases_per_clip": NUM_PARAPHRASES,
        "skipped": skipped, "warnings": warnings, "short_clips": short,
        "long_clips": sum("long" in c["notes"] for c in clips),
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S"), "workers": workers,
    }
    meta["build_seconds"] = round(time.time() - t0, 1)
    meta = write_dataset(out, clips, feats, joints, meta)
    elapsed = time.time() - t0
    print(format_summary({k: meta["splits"][k] for k in SPLITS}))
    print(f"{len(clips)} clips written, {len(skipped)} skipped, {len(short)} under 1 s (kept), "
          f"{meta['long_clips']} over 10 s (kept whole); built in {elapsed:.1f} s -> {out}")
    print(f"data: {ATTRIBUTION}")
    return meta
