"""The one on-disk motion dataset format, its writer, its loader and a training-window sampler.

A dataset folder (every builder writes the same thing):

    features.npy  [N, 263] float32   HumanML3D features of all clips, concatenated
    joints.npy    [N, 22, 3] float32 canonical joints (metres, Y up), row t of a clip <-> feature row t
                                     (= features.features_to_joints of that clip's rows, exactly
                                     canonicalize(joints)[:-1]: T frames of input give T-1 rows)
    clips.json    list, one dict per clip: id, source, dataset, content, style, split, start
                  (first row in the arrays), num_frames (rows), captions, paraphrases,
                  mirror_captions (captions of the left/right mirrored motion), notes
    mean.npy, std.npy [263] float32   normalisation statistics of the TRAIN split's features
    meta.json     counts per split, fps, feature dim, license and attribution, build info

Plain .npy (not .npz) so the arrays memory-map: opening a dataset costs nothing until a clip is read.

Normalisation: std follows HumanML3D (cal_mean_variance): one std shared by every dimension of a
feature group (root angular velocity, root linear velocity, root height, RIC, ROT, VEL, contacts),
the mean of that group's per-dimension stds. Sharing keeps relative scales inside a group (x vs y
of a joint position) and means a nearly constant dimension is never divided by ~0; a group whose
shared std is still below STD_FLOOR (all-constant, e.g. a dataset with no foot contact at all)
gets std 1, so it is only centred.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..motion import features as F
from ..motion import skeleton

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test", "ood")
STD_FLOOR = 1e-6


def normalization_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [263], std [263]) float32 of features [N, 263], std shared within feature groups."""
    feats = np.asarray(feats, dtype=np.float64)
    mean = feats.mean(axis=0)
    per_dim = feats.std(axis=0)
    std = np.empty_like(per_dim)
    for group in F.FEATURE_GROUPS:
        shared = per_dim[group].mean()
        std[group] = shared if shared >= STD_FLOOR else 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def summarize(clips: Sequence[dict], fps: int = skeleton.FPS) -> dict[str, dict]:
    """Per split: clips, frames, hours, captions (training captions; paraphrases apart)."""
    out: dict[str, dict] = {}
    for name in SPLITS:
        sel = [c for c in clips if c["split"] == name]
        frames = sum(c["num_frames"] for c in sel)
        out[name] = {"clips": len(sel), "frames": frames, "hours": round(frames / fps / 3600, 4),
                     "captions": sum(len(c["captions"]) for c in sel),
                     "paraphrases": sum(len(c.get("paraphrases", [])) for c in sel)}
    return out


def format_summary(summary: dict[str, dict]) -> str:
    """A small table of summarize()'s output."""
    lines = [f"{'split':<6} {'clips':>6} {'frames':>8} {'hours':>7} {'captions':>9} {'paraphr.':>9}"]
    total = {k: 0.0 for k in ("clips", "frames", "hours", "captions", "paraphrases")}
    for name, s in summary.items():
        lines.append(f"{name:<6} {s['clips']:>6} {s['frames']:>8} {s['hours']:>7.3f} "
                     f"{s['captions']:>9} {s['paraphrases']:>9}")
        for k in total:
            total[k] += s[k]
    lines.append(f"{'total':<6} {int(total['clips']):>6} {int(total['frames']):>8} "
                 f"{total['hours']:>7.3f} {int(total['captions']):>9} {int(total['paraphrases']):>9}")
    return "\n".join(lines)


def write_dataset(out: str | os.PathLike, clips: list[dict], feats: list[np.ndarray],
                  joints: list[np.ndarray], meta: dict,
                  stats: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Write a dataset folder. clips[i] describes feats[i] [T_i, 263] and joints[i] [T_i, 22, 3]
    (start and num_frames are filled in here). stats defaults to normalization_stats of the train
    split. Returns the meta dict written (meta plus format info and per-split counts)."""
    if not (len(clips) == len(feats) == len(joints)):
        raise ValueError("clips, feats and joints must have the same length")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = 0
    for c, f, j in zip(clips, feats, joints):
        if f.shape[1:] != (F.FEATURE_DIM,) or j.shape != (len(f), skeleton.NUM_JOINTS, 3):
            raise ValueError(f"clip {c.get('id')}: features {f.shape} / joints {j.shape} mismatch")
        if c.get("split") not in SPLITS:
            raise ValueError(f"clip {c.get('id')}: split {c.get('split')!r} not in {SPLITS}")
        c["start"], c["num_frames"] = start, len(f)
        start += len(f)
    all_feats = (np.concatenate(feats).astype(np.float32) if feats
                 else np.zeros((0, F.FEATURE_DIM), np.float32))
    all_joints = (np.concatenate(joints).astype(np.float32) if joints
                  else np.zeros((0, skeleton.NUM_JOINTS, 3), np.float32))
    if stats is None:
        train = [f for c, f in zip(clips, feats) if c["split"] == "train"]
        if not train:
            raise ValueError("no train clips to compute mean/std from")
        stats = normalization_stats(np.concatenate(train))
    mean, std = (np.asarray(s, dtype=np.float32) for s in stats)
    meta = dict(meta)
    meta.update({"format_version": FORMAT_VERSION, "fps": skeleton.FPS,
                 "feature_dim": F.FEATURE_DIM, "num_joints": skeleton.NUM_JOINTS,
                 "num_clips": len(clips), "num_frames": int(start),
                 "splits": summarize(clips)})
    # Write to temporary names and rename, so a crash never leaves a half-written dataset that loads.
    for name, arr in (("features", all_feats), ("joints", all_joints), ("mean", mean), ("std", std)):
        np.save(out / f"{name}.tmp.npy", arr)
        os.replace(out / f"{name}.tmp.npy", out / f"{name}.npy")
    for name, obj in (("clips", clips), ("meta", meta)):
        with open(out / f"{name}.json.tmp", "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1 if name == "meta" else None, ensure_ascii=False)
        os.replace(out / f"{name}.json.tmp", out / f"{name}.json")
    return meta


class ClipSet:
    """What every set of clips offers over its clips [dicts], _by_id and mean / std [263]."""

    clips: list[dict]
    mean: np.ndarray
    std: np.ndarray
    _by_id: dict[str, int]

    def index(self, clip_id: str) -> int:
        """Position of the clip with this id."""
        return self._by_id[clip_id]

    def split(self, name: str) -> list[int]:
        """Indices of the clips in a split ("train", "val", "test" or "ood")."""
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; expected one of {SPLITS}")
        return [i for i, c in enumerate(self.clips) if c["split"] == name]

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        """(feats - mean) / std."""
        return (feats - self.mean) / self.std

    def denormalize(self, feats: np.ndarray) -> np.ndarray:
        """feats * std + mean."""
        return feats * self.std + self.mean


class MotionDataset(ClipSet):
    """A dataset folder written by write_dataset. Torch-free; arrays are memory-mapped.

    ds.clips[i] is clip i's metadata dict; ds.features(i) [T, 263] and ds.joints(i) [T, 22, 3] are
    its rows (raw, not normalised); ds.split("train") lists clip indices; ds.mean / ds.std [263].
    """

    def __init__(self, root: str | os.PathLike, mmap: bool = True):
        self.root = Path(root)
        if not (self.root / "clips.json").exists():
            raise FileNotFoundError(f"{self.root} is not a motion dataset folder (no clips.json); "
                                    "build one with `python -m momadiff.data build ...`")
        mode = "r" if mmap else None
        self._features = np.load(self.root / "features.npy", mmap_mode=mode)
        self._joints = np.load(self.root / "joints.npy", mmap_mode=mode)
        self.mean: np.ndarray = np.load(self.root / "mean.npy")
        self.std: np.ndarray = np.load(self.root / "std.npy")
        with open(self.root / "clips.json", encoding="utf-8") as fh:
            self.clips: list[dict] = json.load(fh)
        with open(self.root / "meta.json", encoding="utf-8") as fh:
            self.meta: dict = json.load(fh)
        self._by_id = {c["id"]: i for i, c in enumerate(self.clips)}

    def __len__(self) -> int:
        return len(self.clips)

    def __repr__(self) -> str:
        return (f"MotionDataset({str(self.root)!r}: {len(self)} clips, "
                f"{self.meta.get('num_frames')} frames)")

    def _rows(self, i: int) -> slice:
        c = self.clips[i]
        return slice(c["start"], c["start"] + c["num_frames"])

    def features(self, i: int) -> np.ndarray:
        """Features [T, 263] float32 of clip i (not normalised)."""
        return np.asarray(self._features[self._rows(i)])

    def joints(self, i: int) -> np.ndarray:
        """Canonical joints [T, 22, 3] float32 of clip i, aligned with its feature rows."""
        return np.asarray(self._joints[self._rows(i)])



@dataclass
class Batch:
    """Padded training windows. Padding rows are zero and mask is False there."""

    features: np.ndarray   # [B, L, 263] float32 (normalised unless the sampler says otherwise)
    mask: np.ndarray       # [B, L] bool, True on real frames
    lengths: np.ndarray    # [B] int64
    captions: list[str]    # [B]
    indices: np.ndarray    # [B] clip indices
    starts: np.ndarray     # [B] first row of each window within its clip
    mirrored: np.ndarray   # [B] bool


def crop_length(num_frames: int, max_frames: int, multiple: int = 4) -> int:
    """Window length for a clip: min(num_frames, max_frames) rounded DOWN to a multiple of
    `multiple` (a VAE that downsamples time by 4 then never sees a partial latent). A clip shorter
    than `multiple` is taken whole (the window then ends on a partial latent; mask it)."""
    n = min(num_frames, max_frames)
    return n - n % multiple if n >= multiple else n


class WindowSampler:
    """Random training windows: a clip uniformly from `indices`, a crop of crop_length() frames at a
    uniform start, one of its captions uniformly, and (with mirror_prob) the left/right mirrored
    motion with the mirrored captions. Batches pad to max_frames (or to the longest window with
    pad_to_max=False)."""

    def __init__(self, ds: MotionDataset, indices: Sequence[int], max_frames: int = 196,
                 multiple: int = 4, mirror_prob: float = 0.0, normalize: bool = True,
                 pad_to_max: bool = True):
        if not len(indices):
            raise ValueError("no clips to sample from")
        if max_frames < multiple:
            raise ValueError(f"max_frames={max_frames} must be at least multiple={multiple}")
        self.ds = ds
        self.indices = np.asarray(indices, dtype=np.int64)
        self.max_frames, self.multiple = max_frames, multiple
        self.mirror_prob, self.normalize, self.pad_to_max = mirror_prob, normalize, pad_to_max

    def window(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """(features [L, 263] raw, start) of a random crop of clip i."""
        n = self.ds.clips[i]["num_frames"]
        length = crop_length(n, self.max_frames, self.multiple)
        start = int(rng.integers(n - length + 1))
        return self.ds.features(i)[start:start + length], start

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """One batch of batch_size windows."""
        picks = rng.choice(self.indices, size=batch_size)
        wins, starts, caps, mirrored = [], [], [], []
        for i in picks:
            f, s = self.window(int(i), rng)
            clip = self.ds.clips[int(i)]
            # A clip without mirrored captions is never flipped: its text could not follow.
            flip = bool(self.mirror_prob > 0 and clip.get("mirror_captions")
                        and rng.random() < self.mirror_prob)
            if flip:
                f = F.mirror_features(f)
            pool = clip["mirror_captions"] if flip else clip["captions"]
            caps.append(pool[int(rng.integers(len(pool)))] if pool else "")
            wins.append(self.ds.normalize(f) if self.normalize else f)
            starts.append(s)
            mirrored.append(flip)
        lengths = np.array([len(w) for w in wins], dtype=np.int64)
        width = self.max_frames if self.pad_to_max else int(lengths.max())
        feats = np.zeros((batch_size, width, F.FEATURE_DIM), dtype=np.float32)
        mask = np.zeros((batch_size, width), dtype=bool)
        for b, w in enumerate(wins):
            feats[b, :len(w)] = w
            mask[b, :len(w)] = True
        return Batch(feats, mask, lengths, caps, picks, np.array(starts), np.array(mirrored))
