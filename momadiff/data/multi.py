"""Several dataset folders read as one, and the clip sampling weights training uses.

    ds = open_datasets("data/bandai,data/cmu")              # a MultiDataset (one path: a MotionDataset)
    p = sampling_weights(ds, ds.split("train"), data_weights=[1, 3], balance=0.5)

A MultiDataset has MotionDataset's interface (clips, features(i), joints(i), split(name), mean,
std, normalize, denormalize, meta), with the clips of each folder in turn. Each clip's dict is a
copy with "dataset_root" (the folder) and "source_dataset" (its position in the list) added and
its id prefixed with the folder's name ("cmu:01/01_03"), so ids stay unique.

Normalisation: one mean/std for all, because one model sees every clip. `stats` (e.g. a trained
VAE checkpoint's mean/std) wins: latents of a model being fine-tuned stay valid, and the
transformer must normalise exactly as its VAE did. Without it, the statistics of all the train
splits pooled (frame-weighted, std shared within feature groups as normalization_stats does).

Sampling weights: clip i of dataset d with content c gets data_weights[d] x count(d, c)^-balance,
over the clips in `indices`; so data_weights multiply every clip of a dataset, and balance 1
gives every (dataset, content) group the same total weight (0: clips uniformly).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..motion import features as F
from .dataset import SPLITS, STD_FLOOR, ClipSet, MotionDataset


def _paths(spec: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    if isinstance(spec, (str, os.PathLike)):
        spec = str(spec).split(",")
    out = [str(p).strip() for p in spec if str(p).strip()]
    if not out:
        raise ValueError("no dataset folder given")
    if len(set(out)) != len(out):
        raise ValueError(f"a dataset folder is listed twice: {','.join(out)}")
    return out


def pooled_stats(datasets: Sequence[MotionDataset], split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(mean [263], std [263]) float32 of the `split` features of all datasets pooled, std shared
    within feature groups (dataset.normalization_stats), computed in chunks (no big copy)."""
    n, s1, s2 = 0, np.zeros(F.FEATURE_DIM), np.zeros(F.FEATURE_DIM)
    for ds in datasets:
        for i in ds.split(split):
            f = ds.features(i).astype(np.float64)
            n += len(f)
            s1 += f.sum(0)
            s2 += (f * f).sum(0)
    if n == 0:
        raise ValueError(f"no {split} clips to compute mean/std from")
    mean = s1 / n
    per_dim = np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))
    std = np.empty_like(per_dim)
    for group in F.FEATURE_GROUPS:
        shared = per_dim[group].mean()
        std[group] = shared if shared >= STD_FLOOR else 1.0
    return mean.astype(np.float32), std.astype(np.float32)


class MultiDataset(ClipSet):
    """Several MotionDatasets as one (module docstring)."""

    def __init__(self, datasets: Sequence[MotionDataset],
                 stats: tuple[np.ndarray, np.ndarray] | None = None):
        if not datasets:
            raise ValueError("no datasets")
        self.datasets = list(datasets)
        self.names = [ds.meta.get("name") or ds.root.name for ds in self.datasets]
        if len(set(self.names)) != len(self.names):
            self.names = [ds.root.name for ds in self.datasets]
        self._where: list[tuple[int, int]] = []
        self.clips: list[dict] = []
        for d, ds in enumerate(self.datasets):
            for i, c in enumerate(ds.clips):
                c = dict(c, id=f"{self.names[d]}:{c['id']}", dataset_root=str(ds.root), source_dataset=d)
                self.clips.append(c)
                self._where.append((d, i))
        self._by_id = {c["id"]: i for i, c in enumerate(self.clips)}
        mean, std = stats if stats is not None else pooled_stats(self.datasets)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.root = Path(",".join(str(ds.root) for ds in self.datasets))
        metas = [ds.meta for ds in self.datasets]
        self.meta = {
            "name": "+".join(self.names), "datasets": self.names,
            "contents": sorted({c for m in metas for c in m.get("contents", [])}),
            "license": "; ".join(f"{n}: {m.get('license', '?')}" for n, m in zip(self.names, metas)),
            "attribution": " ".join(m.get("attribution", "") for m in metas).strip(),
            "num_clips": len(self.clips), "num_frames": sum(m.get("num_frames", 0) for m in metas),
            "splits": {s: {k: sum(m["splits"][s][k] for m in metas) for k in metas[0]["splits"][s]}
                       for s in SPLITS},
            "parts": {n: m for n, m in zip(self.names, metas)},
        }

    def __len__(self) -> int:
        return len(self.clips)

    def __repr__(self) -> str:
        return f"MultiDataset({', '.join(map(repr, self.datasets))})"

    def features(self, i: int) -> np.ndarray:
        d, k = self._where[i]
        return self.datasets[d].features(k)

    def joints(self, i: int) -> np.ndarray:
        d, k = self._where[i]
        return self.datasets[d].joints(k)



def open_datasets(spec: str | os.PathLike | Sequence[str | os.PathLike],
                  stats: tuple[np.ndarray, np.ndarray] | None = None) -> MotionDataset | MultiDataset:
    """One folder -> a MotionDataset (its own mean/std unless `stats` is given); several
    ("a,b" or a list) -> a MultiDataset."""
    paths = _paths(spec)
    if len(paths) == 1:
        ds = MotionDataset(paths[0])
        if stats is not None:
            ds.mean, ds.std = (np.asarray(s, dtype=np.float32) for s in stats)
        return ds
    return MultiDataset([MotionDataset(p) for p in paths], stats=stats)


def parse_weights(text: str | Sequence[float] | None, n: int) -> list[float]:
    """"1,3" -> [1.0, 3.0] for n datasets (empty -> all 1); raises ValueError naming the problem."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return [1.0] * n
    vals = text.split(",") if isinstance(text, str) else list(text)
    try:
        w = [float(v) for v in vals]
    except ValueError:
        raise ValueError(f"data_weights must be numbers separated by commas, got {text!r}") from None
    if len(w) != n:
        raise ValueError(f"data_weights has {len(w)} value(s) for {n} dataset(s)")
    if any(not np.isfinite(v) or v < 0 for v in w) or not any(v > 0 for v in w):
        raise ValueError(f"data_weights must be >= 0 and not all 0, got {text!r}")
    return w


def group_weights(groups: Sequence, balance: float = 0.0,
                  scale: Sequence[float] | None = None) -> np.ndarray | None:
    """Probabilities [N] of drawing item k: scale[k] x count(groups[k])^-balance, normalised;
    None when that is uniform (balance 0 and no scale)."""
    if balance == 0 and (scale is None or len(set(scale)) <= 1):
        return None
    counts = Counter(groups)
    w = np.array([counts[g] ** -balance for g in groups], dtype=np.float64)
    if scale is not None:
        w *= np.asarray(scale, dtype=np.float64)
    if not w.sum() > 0:
        raise ValueError("every clip has weight 0: check data_weights")
    return w / w.sum()


def sampling_weights(ds: MotionDataset | MultiDataset, indices: Sequence[int],
                     data_weights: str | Sequence[float] | None = None,
                     balance: float = 0.0) -> np.ndarray | None:
    """Probabilities [len(indices)] of drawing each clip (module docstring); None when uniform."""
    n_sets = len(ds.datasets) if isinstance(ds, MultiDataset) else 1
    w_set = parse_weights(data_weights, n_sets)
    groups = [(ds.clips[i].get("source_dataset", 0), ds.clips[i]["content"]) for i in indices]
    return group_weights(groups, balance, [w_set[g[0]] for g in groups])


def describe_weights(ds: MotionDataset | MultiDataset, indices: Sequence[int], p: np.ndarray | None) -> str:
    """"bandai 62% of draws, cmu 38%": each dataset's share of the drawn clips."""
    if not isinstance(ds, MultiDataset):
        return ""
    p = np.full(len(indices), 1 / max(len(indices), 1)) if p is None else p
    share = Counter()
    for i, q in zip(indices, p):
        share[ds.clips[i]["source_dataset"]] += q
    return ", ".join(f"{n} {100 * share[d]:.0f}%" for d, n in enumerate(ds.names)) + " of drawn clips"
