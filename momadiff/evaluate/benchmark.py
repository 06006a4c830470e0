"""The benchmarks behind `python -m momadiff.evaluate {t2m,keyframes,vae,latency}`.

Each returns a result dict {"name", "settings", "rows": [...], "notes": [...]} that `report`
prints as a table and writes to <out>/<name>.json. A row's metric is either a number or, for
repeated runs, {"mean", "ci95", "runs"} (95% interval half-width 1.96 * std / sqrt(runs)).

Conventions shared by every benchmark:
- Motions are compared in the evaluator's embedding space from their 263-d features
  (features.joints_to_features of the joints, so generated and real go through the same code).
- R-precision batches hold distinct (content, style) pairs (see metrics.distinct_label_batches);
  the batch size used is reported, since a split with fewer pairs than 32 gets smaller batches.
- Randomness (captions drawn, seeds, batches) comes from the --seed, so a run is repeatable.
"""
from __future__ import annotations

import json
import os
import re
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from ..motion import features, skeleton
from ..data.dataset import MotionDataset
from ..correction import key_error
from ..keyframes import Keyframe
from . import metrics
from .evaluator import Evaluator, centre_crop

MIN_CLIP_FRAMES = skeleton.FPS            # shorter clips are skipped (the pipeline generates >= 1 s)
KEY_STRIDE = 20                           # the paper's keyframe spacing (frames)
LATENCY_SECONDS = (2.0, 5.0, 10.0)
PAPER_SCHEDULE = {"iterations": 9, "ddim_steps": 100}


@dataclass
class Result:
    """What a benchmark measured: a table's rows plus settings and notes, all JSON-ready."""
    name: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -- reporting -----------------------------------------------------------------------------------
def summarize(values: Sequence[float]) -> dict[str, Any]:
    """{"mean", "ci95", "runs"} of repeated measurements."""
    mean, ci = metrics.mean_interval(values)
    return {"mean": mean, "ci95": ci, "runs": len(values)}


def _cell(v: Any) -> str:
    if isinstance(v, dict) and "mean" in v:
        m, ci = v["mean"], v["ci95"]
        return f"{m:.3f}" if not np.isfinite(ci) else f"{m:.3f}±{ci:.3f}"
    if isinstance(v, float):
        return "-" if not np.isfinite(v) else f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return "-" if v is None else str(v)


def format_table(result: Result) -> str:
    """A fixed-width text table of result.rows over result.columns, notes underneath."""
    cells = [[_cell(r.get(c)) for c in result.columns] for r in result.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    line = lambda xs: "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(xs, widths)))
    out = [f"== {result.name} ==", line(result.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    out += [f"  * {n}" for n in result.notes]
    return "\n".join(out)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


def report(result: Result, out: str | os.PathLike | None) -> str:
    """Print the table and write <out>/<name>.json (table text included); returns the table."""
    table = format_table(result)
    print(table, flush=True)
    if out is not None:
        path = Path(out) / f"{result.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"name": result.name, "settings": result.settings, "columns": result.columns,
               "rows": result.rows, "notes": result.notes, "table": table}
        path.write_text(json.dumps(_jsonable(doc), indent=1))
    return table


# -- shared helpers ------------------------------------------------------------------------------
def select_clips(ds: MotionDataset, split: str, limit: int | None, rng: np.random.Generator,
                 min_frames: int = MIN_CLIP_FRAMES) -> list[int]:
    """Indices (sorted) of a split's clips with at least min_frames rows; with a limit, a random
    subset that covers as many (content, style) pairs as it can (one clip per pair first), so
    a small subset still fills R-precision batches of distinct pairs."""
    idx = [i for i in ds.split(split) if ds.clips[i]["num_frames"] >= min_frames]
    if limit is not None and len(idx) > limit:
        order = rng.permutation(idx).tolist()
        # Rank of each clip within its pair, in a random order: every pair's first clip sorts
        # before any pair's second.
        counts: dict[tuple[str, str], int] = {}
        rank = []
        for i in order:
            rank.append(counts.get(label(ds.clips[i]), 0))
            counts[label(ds.clips[i])] = rank[-1] + 1
        idx = sorted(order[j] for j in np.argsort(rank, kind="stable")[:limit])
    return idx


def label(clip: dict) -> tuple[str, str]:
    """The (content, style) pair a clip's captions were written from."""
    return clip["content"], clip["style"]


def draw(options: Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def embed_joints(ev: Evaluator, motions: Iterable[np.ndarray]) -> np.ndarray:
    """Evaluator embeddings [N, E] of motions given as joints [T_i, 22, 3]."""
    return ev.embed_features([features.joints_to_features(j) for j in motions])


def retrieval_row(ev: Evaluator, motion_emb: np.ndarray, captions: Sequence[str], labels: Sequence,
                  rng: np.random.Generator) -> tuple[np.ndarray, float, int]:
    """(R-precision top-1..3, MM-Dist, batch size) of motion rows against their captions."""
    text = ev.embed_texts(captions)
    r, size = metrics.r_precision(motion_emb, text, labels, rng=rng)
    return r, metrics.matching_score(motion_emb, text), size


# -- t2m -----------------------------------------------------------------------------------------
def t2m(pipe, ev: Evaluator, ds: MotionDataset, clips: int | None = None, repeats: int = 3,
        mm_texts: int = 20, mm_samples: int = 5, seed: int = 0, split: str = "test") -> Result:
    """FID, R-precision, MM-Dist, Diversity, MultiModality on a split, for real clips and for
    motions generated from their captions (same lengths), from held-out paraphrases, and with
    the text dropped (cfg_scale 0: the sampler's guided condition uncond + s (cond - uncond)
    is then exactly the unconditional one)."""
    rng = np.random.default_rng(seed)
    idx = select_clips(ds, split, clips, rng)
    max_frames = ev.model.config.max_frames
    # Real motions as the evaluator sees them (centre crop); generated ones get the same length,
    # one frame more because T frames of joints give T-1 feature rows.
    crops = [centre_crop(ds.clips[i]["num_frames"], max_frames) for i in idx]
    real_feats = [ds.features(i)[c] for i, c in zip(idx, crops)]
    real_jerk = float(np.mean([metrics.jerk(ds.joints(i)[c]) for i, c in zip(idx, crops)]))
    lengths = [len(f) for f in real_feats]
    real = ev.embed_features(real_feats)
    labels = [label(ds.clips[i]) for i in idx]
    conditions = [("generated", "captions", None), ("generated (paraphrases)", "paraphrases", None),
                  ("unconditional (cfg 0)", "captions", 0.0)]
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in ["real", "real (paraphrase captions)"] + [c[0] for c in conditions]}
    total = repeats * (len(conditions) * len(idx) + min(mm_texts, len(idx)) * mm_samples)
    bar = tqdm(total=total, desc="t2m", dynamic_ncols=True)
    batch_size = 0

    def scores(emb: np.ndarray, caps: list[str], r_rng: np.random.Generator) -> dict[str, float]:
        nonlocal batch_size
        r, mm_dist, batch_size = retrieval_row(ev, emb, caps, labels, r_rng)
        return {"FID": metrics.fid(emb, real), "R@1": r[0], "R@2": r[1], "R@3": r[2], "MM-Dist": mm_dist,
                "Diversity": metrics.diversity(emb, rng=r_rng)}

    for rep in range(repeats):
        rr = np.random.default_rng([seed, rep])
        caps = [draw(ds.clips[i]["captions"], rr) for i in idx]
        paras = [draw(ds.clips[i].get("paraphrases") or ds.clips[i]["captions"], rr) for i in idx]
        # The real row's FID: a bootstrap resample against the full set, i.e. what sampling noise
        # alone gives at this set size (FID of the set with itself is exactly 0).
        boot = real[rr.integers(len(real), size=len(real))]
        row = scores(real, caps, rr)
        row["FID"] = metrics.fid(boot, real)
        row["Jerk"] = real_jerk
        runs["real"].append(row)
        runs["real (paraphrase captions)"].append(scores(real, paras, rr) | {"FID": float("nan")})
        for name, source, cfg_scale in conditions:
            prompts = caps if source == "captions" else paras
            motions = []
            for text, n in zip(prompts, lengths):
                m = pipe.generate(text, num_frames=n + 1, seed=int(rr.integers(2 ** 31)), cfg_scale=cfg_scale)
                motions.append(m.joints)
                bar.update(1)
            # Paraphrase-prompted motions are scored against a training-family caption of the same
            # clip, so the row measures the generator's generalisation, not the evaluator's.
            runs[name].append(scores(embed_joints(ev, motions), caps, rr)
                              | {"Jerk": float(np.mean([metrics.jerk(m) for m in motions]))})
        # MultiModality: several samples of the same caption, for a subset of clips.
        pick = rr.choice(len(idx), size=min(mm_texts, len(idx)), replace=False)
        groups = []
        for p in pick:
            samples = []
            for _ in range(mm_samples):
                samples.append(pipe.generate(caps[p], num_frames=lengths[p] + 1, seed=int(rr.integers(2 ** 31))).joints)
                bar.update(1)
            groups.append(embed_joints(ev, samples))
        runs["generated"][-1]["MModality"] = metrics.multimodality(np.stack(groups)) if mm_samples >= 2 else float("nan")
    bar.close()

    columns = ["motions", "FID", "R@1", "R@2", "R@3", "MM-Dist", "Diversity", "MModality", "Jerk"]
    result = Result("t2m", columns, settings={
        "split": split, "clips": len(idx), "repeats": repeats, "mm_texts": len(pick), "mm_samples": mm_samples,
        "seed": seed, "sampler": vars(pipe.sampler), "evaluator": ev.meta.get("path"),
        "r_precision_batch": batch_size, "model": pipe.meta.get("folder")})
    for name, reps in runs.items():
        row: dict[str, Any] = {"motions": name}
        for c in columns[1:]:
            vals = [r[c] for r in reps if c in r]
            if vals and any(np.isfinite(vals)):
                row[c] = summarize(vals)
        result.rows.append(row)
    result.notes += [
        f"{split} split, {len(idx)} clips, {repeats} run(s): mean ± 95% interval; embeddings: evaluator's unit-norm space",
        f"R-precision in batches of {batch_size} with distinct (content, style) pairs "
        "(same-pair captions are interchangeable, so same-pair clips never share a batch)",
        "real: FID of a bootstrap resample vs the full real set (the noise floor at this size)",
        "paraphrase rows: prompted with held-out paraphrases (or, for real, retrieved by them); generated ones scored against training captions",
        "unconditional: cfg_scale 0, i.e. the text-dropped condition; scored against the clip's caption",
        "Jerk: mean norm of the third difference of joint positions, m/s^3 (real: the same centre crops)",
    ]
    return result


# -- keyframes -----------------------------------------------------------------------------------
def dense_keys(real: np.ndarray, stride: int = KEY_STRIDE) -> list[Keyframe]:
    """A fix_root key every `stride` frames from the real motion's own poses (the paper's setting)."""
    return [Keyframe(f, real[f], fix_root=True) for f in range(0, len(real), stride)]


def sparse_keys(real: np.ndarray) -> list[Keyframe]:
    """Three fix_root keys (start, middle, end), two for motions under 2 s."""
    T = len(real)
    frames = [0, T // 2, T - 1] if T >= 2 * skeleton.FPS else [0, T - 1]
    return [Keyframe(f, real[f], fix_root=True) for f in frames]


def interpolate_keys(keys: Sequence[Keyframe], num_frames: int) -> np.ndarray:
    """The baseline: every joint (root included, in world coordinates) moves linearly from key
    to key, held still before the first and after the last -> [num_frames, 22, 3]."""
    frames = np.array([k.frame for k in keys], dtype=np.float64)
    poses = np.stack([np.asarray(k.joints, dtype=np.float64) for k in keys]).reshape(len(keys), -1)
    t = np.arange(num_frames, dtype=np.float64)
    out = np.stack([np.interp(t, frames, poses[:, d]) for d in range(poses.shape[1])], axis=-1)
    return out.reshape(num_frames, skeleton.NUM_JOINTS, 3).astype(np.float32)


def _kernel_rows(poses: np.ndarray, gaps: Iterable[int]) -> np.ndarray:
    """The three key differences the kernel weighs in each gap a (keys a -> a + 1, with keys on
    both sides) of poses [K, D]: [len(gaps) * D, 3], keys a - 1, a + 1 and a + 2 minus key a."""
    return np.concatenate([np.stack([poses[a - 1] - poses[a], poses[a + 1] - poses[a], poses[a + 2] - poses[a]],
                                    axis=-1) for a in gaps])


def fit_interpolation_kernel(motions: Iterable[np.ndarray], stride: int = KEY_STRIDE) -> np.ndarray:
    """In-between weights [3, stride - 1] fitted by least squares to real motions [T, 22, 3] keyed
    every `stride` frames: frame o of a gap is k1 + w[:, o] . (k0 - k1, k2 - k1, k3 - k1), for the
    keys k0, k1 | k2, k3 around it. One set of weights for every joint and coordinate: the timing
    between keys the motions share, whatever the motion."""
    A, Y = [], []
    for m in motions:
        m = np.asarray(m, dtype=np.float64).reshape(len(m), -1)
        frames = np.arange(0, len(m), stride)
        gaps = range(1, len(frames) - 2)
        if not gaps:
            continue
        A.append(_kernel_rows(m[frames], gaps))
        Y.append(np.concatenate([(m[frames[a] + 1:frames[a] + stride] - m[frames[a]]).T for a in gaps]))
    if not A:
        raise ValueError(f"no motion of more than {3 * stride} frames to fit the kernel on")
    return np.linalg.lstsq(np.concatenate(A), np.concatenate(Y), rcond=None)[0]


def kernel_interpolate(keys: Sequence[Keyframe], num_frames: int, weights: np.ndarray) -> np.ndarray:
    """Keys placed every `stride` frames from frame 0, filled in with a fitted kernel's weights
    [3, stride - 1] where a gap has a key on both sides, and linearly in the first and last gaps
    (and held after the last key), as interpolate_keys -> [num_frames, 22, 3]."""
    stride = weights.shape[1] + 1
    frames = np.array([k.frame for k in keys])
    if not np.array_equal(frames, np.arange(0, len(keys) * stride, stride)):
        raise ValueError(f"the kernel needs keys every {stride} frames from frame 0")
    out = interpolate_keys(keys, num_frames).reshape(num_frames, -1).astype(np.float64)
    poses = out[frames]
    gaps = range(1, len(keys) - 2)
    if gaps:
        fill = (_kernel_rows(poses, gaps) @ weights).reshape(len(gaps), -1, stride - 1)   # [gaps, D, o]
        for n, a in enumerate(gaps):
            out[frames[a] + 1:frames[a] + stride] = poses[a] + fill[n].T
    return out.reshape(num_frames, skeleton.NUM_JOINTS, 3).astype(np.float32)


def motion_scores(joints: np.ndarray, real: np.ndarray, keys: Sequence[Keyframe],
                  pop_threshold: float) -> dict[str, float]:
    """Key error and MPJPE at non-key frames (mm), foot-skating ratio, jerk (m/s^3), and the
    fraction of keys with a pop (peak acceleration near the key above pop_threshold)."""
    free = np.ones(len(real), dtype=bool)
    free[[k.frame for k in keys]] = False
    return {"key err (mm)": 1000 * float(key_error(joints, keys).mean()),
            "MPJPE (mm)": 1000 * metrics.mpjpe(joints, real, free),
            "skating": metrics.foot_skating_ratio(joints), "jerk": metrics.jerk(joints),
            "pops": metrics.pop_rate(joints, [k.frame for k in keys], pop_threshold)}


def real_acceleration_percentile(ds: MotionDataset, q: float = 99.0, limit: int = 300) -> float:
    """The q-th percentile of real motion's per-frame peak joint acceleration (train clips)."""
    idx = ds.split("train")[:limit]
    return float(np.percentile(np.concatenate([metrics.peak_acceleration(ds.joints(i)) for i in idx]), q))


def keyframes(pipe, ev: Evaluator | None, ds: MotionDataset, clips: int | None = 32, seed: int = 0,
              splits: Sequence[str] = ("test", "ood"), max_frames: int = 200) -> Result:
    """Keyframe-conditioned generation on test and ood clips: dense keys (every 20 frames) and
    sparse keys (2-3), against linear interpolation of the same keys and the model without keys."""
    rng = np.random.default_rng(seed)
    picked = {s: select_clips(ds, s, clips, rng) for s in splits}
    bar = tqdm(total=3 * sum(len(v) for v in picked.values()), desc="keyframes", dynamic_ncols=True)
    columns = ["split", "keys", "method", "key err (mm)", "MPJPE (mm)", "skating", "jerk", "pops", "R@1", "R@3"]
    pop_threshold = real_acceleration_percentile(ds)
    # A content-free baseline: the in-between timing that the train split's motions share.
    kernel = fit_interpolation_kernel(features.canonicalize(ds.joints(i)[:max_frames]) for i in ds.split("train"))
    result = Result("keyframes", columns, settings={"clips": {s: len(v) for s, v in picked.items()},
                                                    "seed": seed, "max_frames": max_frames,
                                                    "sampler": vars(pipe.sampler), "model": pipe.meta.get("folder"),
                                                    "pop_threshold_m_s2": pop_threshold})
    for split, idx in picked.items():
        acc: dict[tuple[str, str], list[dict[str, float]]] = {}
        motions: dict[str, list[np.ndarray]] = {"real": [], "sparse keys": [], "no keys": []}
        caps, labels = [], []
        for i in idx:
            clip = ds.clips[i]
            # The motion's own frame: first frame at the origin facing +Z, as generated motions start.
            real = features.canonicalize(ds.joints(i)[:max_frames]).astype(np.float32)
            T = len(real)
            text = draw(clip["captions"], rng)
            caps.append(text)
            labels.append(label(clip))
            s = int(rng.integers(2 ** 31))
            free = pipe.generate(text, num_frames=T, seed=s).joints
            bar.update(1)
            motions["real"].append(real)
            motions["no keys"].append(free)
            for keyset, keys in (("every 20", dense_keys(real)), ("sparse", sparse_keys(real))):
                gen = pipe.generate(text, num_frames=T, seed=s, keyframes=keys).joints
                bar.update(1)
                if keyset == "sparse":
                    motions["sparse keys"].append(gen)
                methods = [("model", gen), ("linear interp.", interpolate_keys(keys, T)), ("model, no keys", free)]
                if keyset == "every 20":
                    methods.insert(2, ("train-fit interp.", kernel_interpolate(keys, T, kernel)))
                for method, j in methods:
                    acc.setdefault((keyset, method), []).append(motion_scores(j, real, keys, pop_threshold))
            acc.setdefault(("-", "real"), []).append({"skating": metrics.foot_skating_ratio(real),
                                                      "jerk": metrics.jerk(real)})
        retrieval: dict[str, np.ndarray] = {}
        if ev is not None and len(idx) >= 2:
            for name, ms in motions.items():
                retrieval[name] = retrieval_row(ev, embed_joints(ev, ms), caps, labels, np.random.default_rng(seed))[0]
        for (keyset, method), vals in acc.items():
            row: dict[str, Any] = {"split": split, "keys": keyset, "method": method}
            for c in columns[3:8]:
                if c in vals[0]:
                    row[c] = float(np.mean([v[c] for v in vals]))
            name = {("-", "real"): "real", ("sparse", "model"): "sparse keys",
                    ("sparse", "model, no keys"): "no keys"}.get((keyset, method))
            if name in retrieval:
                row["R@1"], row["R@3"] = float(retrieval[name][0]), float(retrieval[name][2])
            result.rows.append(row)
        result.rows.sort(key=lambda r: (r["split"], r["keys"] != "-", r["keys"]))
    bar.close()
    result.notes += [
        f"keys: fix_root poses of the real clip (first {max_frames} frames), every {KEY_STRIDE} frames or "
        "sparse (start/middle/end); MPJPE over non-key frames vs the real clip, world coordinates",
        f"train-fit interp.: each in-between frame a fixed weighting of the 4 nearest keys, the weights "
        f"least-squares fitted to the train split's clips (first {max_frames} frames) keyed the same way",
        f"skating: GMD ratio (toe below {metrics.SKATE_HEIGHT * 100:.0f} cm sliding > {metrics.SKATE_SPEED} m/s); "
        "jerk in m/s^3",
        f"pops: fraction of keys whose +-5 frames reach a peak joint acceleration above {pop_threshold:.1f} m/s^2, "
        "the 99th percentile of real training motion",
        "R@k: the sparse-key and no-key motions (and the real clips) vs their captions, batches of distinct "
        "(content, style) pairs (as many as the split holds, up to 32); ood contents are unseen by the evaluator",
    ]
    return result


# -- vae -----------------------------------------------------------------------------------------
def _reconstruction_row(pipe, ev: Evaluator | None, name: str, motions: Iterable[np.ndarray], n: int) -> dict[str, Any]:
    errs, root_rel, real_f, rec_f = [], [], [], []
    for joints in tqdm(motions, total=n, desc=f"vae {name}", dynamic_ncols=True, leave=False):
        target = features.canonicalize(joints)[:-1]          # what reconstruct() reproduces
        rec = pipe.reconstruct(joints)
        errs.append(metrics.mpjpe(rec, target))
        root_rel.append(metrics.mpjpe(rec - rec[:, :1], target - target[:, :1]))
        if len(target) >= 3:
            real_f.append(features.joints_to_features(target))
            rec_f.append(features.joints_to_features(rec))
    row: dict[str, Any] = {"motions": name, "clips": len(errs)}
    if errs:
        row["MPJPE (mm)"] = 1000 * float(np.mean(errs))
        row["root-rel. MPJPE (mm)"] = 1000 * float(np.mean(root_rel))
    if ev is not None and len(real_f) >= 2:
        row["FID"] = metrics.fid(ev.embed_features(rec_f), ev.embed_features(real_f))
    return row


def load_bvh_folder(folder: str | os.PathLike, limit: int | None = None) -> tuple[list[np.ndarray], int]:
    """(motions [T, 22, 3] of the readable .bvh and .amc (+ .asf) files under folder, number
    skipped). An added reference pose at a file's start is dropped (retarget.load_motion)."""
    from ..motion.retarget import MOTION_SUFFIXES, load_motion
    files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in MOTION_SUFFIXES)[:limit]
    out, skipped = [], 0
    for f in tqdm(files, desc=f"load {Path(folder).name}", dynamic_ncols=True, leave=False):
        try:
            j = load_motion(f).joints
        except Exception:  # any unreadable or unretargetable file is counted, never fatal
            skipped += 1
            continue
        if len(j) < 3 or not np.isfinite(j).all():
            skipped += 1
            continue
        out.append(j)
    return out, skipped


def vae(pipe, ev: Evaluator | None, ds: MotionDataset | None, clips: int | None = None, seed: int = 0,
        splits: Sequence[str] = ("test", "ood"), bvh_dirs: Sequence[str] = ()) -> Result:
    """VAE round trip (pipe.reconstruct): MPJPE and FID of reconstructions vs originals, per split
    and per BVH folder."""
    rng = np.random.default_rng(seed)
    columns = ["motions", "clips", "MPJPE (mm)", "root-rel. MPJPE (mm)", "FID"]
    result = Result("vae", columns, settings={"seed": seed, "clips_limit": clips, "model": pipe.meta.get("folder")})
    if ds is not None:
        for split in splits:
            idx = select_clips(ds, split, clips, rng, min_frames=8)
            result.rows.append(_reconstruction_row(pipe, ev, split, (ds.joints(i) for i in idx), len(idx)))
    for folder in bvh_dirs:
        motions, skipped = load_bvh_folder(folder, clips)
        row = _reconstruction_row(pipe, ev, str(folder), motions, len(motions))
        row["skipped"] = skipped
        result.rows.append(row)
        if skipped:
            result.notes.append(f"{folder}: {skipped} unreadable file(s) skipped")
    result.notes.append("MPJPE: world coordinates of the canonicalised clip; FID: reconstructions vs originals "
                        "in the evaluator space (centre crops of up to "
                        f"{ev.model.config.max_frames if ev else '-'} frames)")
    return result


# -- latency -------------------------------------------------------------------------------------
_VM = re.compile(r"VmHWM:\s+(\d+) kB")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter for this process (Linux >= 4.0); False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Peak resident memory since the last reset (VmHWM), else since start (getrusage)."""
    try:
        m = _VM.search(Path("/proc/self/status").read_text())
        if m:
            return int(m.group(1)) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_generation(pipe, text: str, num_frames: int, seed: int, **settings) -> dict[str, float]:
    """One generation through iter_generate: seconds per component, until the first stage, total."""
    t0 = time.perf_counter()
    first = None
    parts: dict[str, float] = {}
    for stage in pipe.iter_generate(text, num_frames=num_frames, seed=seed, **settings):
        if first is None:
            first = time.perf_counter() - t0
        for k, v in stage.seconds.items():
            parts[k] = parts.get(k, 0.0) + v
    parts["first stage"] = first or 0.0
    parts["total"] = time.perf_counter() - t0
    return parts


PROMPTS = ("a person walks forward", "someone waves with the right hand", "a man runs in a circle",
           "a person jumps on the spot", "a woman sits down slowly", "a person turns around and walks back")


def latency(pipe, runs: int = 5, seconds: Sequence[float] = LATENCY_SECONDS, seed: int = 0,
            schedules: dict[str, dict[str, int]] | None = None) -> Result:
    """Median sampling time per component for each motion length and schedule (default and the
    paper's 9 x 100), time until the first stage, ms per frame and peak memory."""
    schedules = schedules or {"default": {}, "paper 9x100": dict(PAPER_SCHEDULE)}
    comps = ["text", "transformer", "head", "decode"]
    columns = ["schedule", "seconds", "first stage (s)", "total (s)"] + [f"{c} (s)" for c in comps] + ["ms/frame", "peak RSS (MB)"]
    result = Result("latency", columns, settings={"runs": runs, "seed": seed, "threads": _threads(),
                                                  "sampler": vars(pipe.sampler), "model": pipe.meta.get("folder")})
    # Warm-up: loads the text encoder and lets torch pick its kernels; not measured.
    pipe.generate(PROMPTS[0], num_frames=2 * skeleton.FPS, seed=seed)
    counter = 0
    bar = tqdm(total=len(schedules) * len(seconds) * runs, desc="latency", dynamic_ncols=True)
    for sched, settings in schedules.items():
        for s in seconds:
            T = int(round(s * skeleton.FPS))
            resettable = _reset_peak_rss()
            times = []
            for _ in range(runs):
                # A caption never seen before, so the pipeline's text cache can't hide the encoding.
                counter += 1
                text = f"{PROMPTS[counter % len(PROMPTS)]} ({counter})"
                times.append(time_generation(pipe, text, T, seed + counter, **settings))
                bar.update(1)
            med = {k: statistics.median(t.get(k, 0.0) for t in times) for k in times[0]}
            row = {"schedule": sched, "seconds": s, "first stage (s)": med["first stage"], "total (s)": med["total"],
                   "ms/frame": 1000 * med["total"] / T, "peak RSS (MB)": _peak_rss_mb() if resettable else None}
            row.update({f"{c} (s)": med.get(c, 0.0) for c in comps})
            result.rows.append(row)
    bar.close()
    result.settings["peak_rss_mb_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sched_desc = ", ".join(f"{k}: {v or {k2: getattr(pipe.sampler, k2) for k2 in PAPER_SCHEDULE}}" for k, v in schedules.items())
    result.notes += [f"medians of {runs} run(s) after a warm-up; {sched_desc}; torch threads {_threads()}",
                     "first stage: time until iter_generate yields its first decoded stage; components summed over stages",
                     "peak RSS: the process's peak resident memory during that row's runs (VmHWM, reset per row)"]
    return result


def _threads() -> int:
    import torch
    return torch.get_num_threads()
