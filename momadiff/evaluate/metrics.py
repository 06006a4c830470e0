"""Motion-generation metrics, pure numpy (scipy for one matrix square root).

Embedding metrics take rows of the evaluator's shared space (unit norm, so distances lie in
[0, 2]; absolute values are not comparable with HumanML3D's 512-d unnormalised evaluator):

- fid: Frechet distance between Gaussians fitted to two embedding sets (Heusel et al. 2017).
- r_precision: per batch of motions and their captions, how often the motion's own caption is
  among the k nearest captions (Guo et al. 2022: top-1/2/3 in batches of 32). Batches are drawn
  with distinct (content, style) labels (`distinct_label_batches`): captions written from the same
  label are interchangeable, and counting a motion's retrieval of its label-twin's caption as a
  miss would cap R-precision for reasons no model can fix.
- matching_score (MM-Dist): mean distance between each motion and its caption.
- diversity: mean distance between random pairs of motions (300 pairs as in Guo et al.).
- multimodality: mean distance between motions generated from the same text.

Motion metrics take joints [T, 22, 3] (metres, Y up, 20 fps):

- mpjpe: mean per-joint position error.
- foot_skating_ratio: GMD's (Karunratanakul et al. 2023) fraction of frames in which a toe in
  contact with the floor (below 5 cm on this and the next frame) slides faster than 0.5 m/s, both
  on that frame and in a 5-frame average.
- jerk: mean magnitude of the third time derivative of joint positions (m/s^3).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import linalg
from scipy.ndimage import uniform_filter1d

from ..motion import skeleton

R_PRECISION_BATCH = 32
DIVERSITY_PAIRS = 300
TOP_K = 3

# GMD's skating thresholds (calculate_skating_ratio): toes only, since the ankles of a planted
# foot roll forward over the toes in normal walking.
SKATE_JOINTS = (skeleton.LEFT_FOOT[1], skeleton.RIGHT_FOOT[1])   # l_foot, r_foot (toes)
SKATE_HEIGHT = 0.05        # m: a toe lower than this is in contact
SKATE_SPEED = 0.5          # m/s horizontal: faster while in contact is skating (2.5 cm per frame)
SKATE_WINDOW = 5           # frames of the speed average that must also exceed SKATE_SPEED


# -- distributions -------------------------------------------------------------------------------
def gaussian_stats(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [E], covariance [E, E]) of embeddings [N, E], float64."""
    emb = np.asarray(emb, dtype=np.float64)
    if len(emb) < 2:
        raise ValueError(f"need at least 2 embeddings for a covariance, got {len(emb)}")
    return emb.mean(axis=0), np.cov(emb, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)), the Frechet distance of two
    Gaussians. A singular product (fewer samples than dimensions) gets eps on the diagonal."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(cov1)) * eps
        covmean = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    covmean = np.real(covmean)   # numerical error leaves tiny imaginary parts
    return float(max(0.0, diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(covmean)))


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between embedding sets a [N, E] and b [M, E]."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def diversity(emb: np.ndarray, num_pairs: int = DIVERSITY_PAIRS, rng: np.random.Generator | None = None) -> float:
    """Mean distance between num_pairs random pairs of distinct rows of emb [N, E]; a set smaller
    than num_pairs uses N pairs (each row once as the first of a pair)."""
    emb = np.asarray(emb, dtype=np.float64)
    n = len(emb)
    if n < 2:
        return float("nan")
    rng = rng or np.random.default_rng(0)
    k = min(num_pairs, n)
    first = rng.choice(n, size=k, replace=False)
    # A uniform non-zero shift keeps each pair's two rows distinct.
    second = (first + rng.integers(1, n, size=k)) % n
    return float(np.linalg.norm(emb[first] - emb[second], axis=-1).mean())


def multimodality(groups: np.ndarray) -> float:
    """Mean distance between samples generated from the same text: groups [M, K, E] (M texts, K
    samples each, K >= 2), averaged over all K(K-1)/2 pairs of each group."""
    groups = np.asarray(groups, dtype=np.float64)
    if groups.ndim != 3 or groups.shape[1] < 2:
        raise ValueError(f"expected groups [M, K>=2, E], got {groups.shape}")
    d = np.linalg.norm(groups[:, :, None] - groups[:, None, :], axis=-1)   # [M, K, K]
    iu = np.triu_indices(groups.shape[1], k=1)
    return float(d[:, iu[0], iu[1]].mean())


# -- retrieval -----------------------------------------------------------------------------------
def distinct_label_batches(labels: Sequence, batch_size: int = R_PRECISION_BATCH,
                           rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Split indices 0..N-1 into batches of batch_size whose labels are all different.

    Each batch takes one item from each of the batch_size labels with the most items left (ties
    broken at random), which leaves as few items unused as possible; items that can't fill a
    whole batch are dropped, as Guo et al. drop the last partial batch. With fewer distinct labels
    than batch_size the batch shrinks to the number of labels (check len(batch) in the result).
    """
    rng = rng or np.random.default_rng(0)
    pools: dict = {}
    for i in rng.permutation(len(labels)):
        pools.setdefault(labels[i], []).append(int(i))
    size = min(batch_size, len(pools))
    batches = []
    keys = list(pools)
    while size >= 2:
        left = np.array([len(pools[k]) for k in keys])
        if (left > 0).sum() < size:
            break
        order = np.lexsort((rng.random(len(keys)), -left))[:size]
        batches.append(np.array([pools[keys[j]].pop() for j in order]))
    return batches


def r_precision_batch(motion: np.ndarray, text: np.ndarray, top_k: int = TOP_K) -> np.ndarray:
    """For one batch of matched rows motion [B, E] / text [B, E]: [top_k] fraction of motions whose
    own caption ranks within the 1..top_k nearest captions (Euclidean distance)."""
    d = np.linalg.norm(motion[:, None] - text[None, :], axis=-1)        # [B, B]
    # Rank of the matching caption; ties count against the motion (the strict reading).
    rank = (d < np.diag(d)[:, None]).sum(axis=1) + (d == np.diag(d)[:, None]).sum(axis=1) - 1
    return np.array([(rank < k).mean() for k in range(1, top_k + 1)])


def r_precision(motion: np.ndarray, text: np.ndarray, labels: Sequence | None = None,
                batch_size: int = R_PRECISION_BATCH, rng: np.random.Generator | None = None,
                top_k: int = TOP_K) -> tuple[np.ndarray, int]:
    """R-precision top-1..top_k [top_k] over batches of matched (motion, caption) rows, and the
    batch size used. labels (one per row): batches hold distinct labels (see
    distinct_label_batches); None treats every row as its own label (plain random batches)."""
    labels = list(range(len(motion))) if labels is None else list(labels)
    batches = distinct_label_batches(labels, batch_size, rng)
    if not batches:
        return np.full(top_k, np.nan), 0
    scores = np.stack([r_precision_batch(motion[b], text[b], top_k) for b in batches])
    return scores.mean(axis=0), len(batches[0])


def matching_score(motion: np.ndarray, text: np.ndarray) -> float:
    """MM-Dist: mean distance between each motion row and its caption row."""
    return float(np.linalg.norm(np.asarray(motion) - np.asarray(text), axis=-1).mean())


# -- motion quality ------------------------------------------------------------------------------
def mpjpe(a: np.ndarray, b: np.ndarray, frames: np.ndarray | None = None) -> float:
    """Mean per-joint position error (metres) of joints a, b [T, J, 3], over `frames` (a boolean
    mask or index array over T; default all)."""
    err = np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)   # [T, J]
    if frames is not None:
        err = err[frames]
    return float(err.mean()) if err.size else float("nan")


def foot_skating_ratio(joints: np.ndarray, fps: float = skeleton.FPS, height: float = SKATE_HEIGHT,
                       speed: float = SKATE_SPEED, window: int = SKATE_WINDOW) -> float:
    """Fraction of the T-1 frame transitions of joints [T, 22, 3] in which either toe skates:
    below `height` on both frames, moving horizontally faster than `speed` (m/s) now and on
    average over `window` frames (GMD's definition; see the module docstring)."""
    feet = np.asarray(joints, dtype=np.float64)[:, list(SKATE_JOINTS)]       # [T, 2, 3]
    if len(feet) < 2:
        return 0.0
    vel = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=0), axis=-1) * fps  # [T-1, 2]
    avg = uniform_filter1d(vel, size=window, axis=0, mode="constant")
    low = feet[..., 1] < height                                              # [T, 2]
    contact = low[:-1] & low[1:]
    skating = contact & (vel > speed) & (avg > speed)
    return float(skating.any(axis=1).mean())


def jerk(joints: np.ndarray, fps: float = skeleton.FPS) -> float:
    """Mean norm of the third finite difference of joint positions [T, J, 3], in m/s^3 (0 for any
    motion with constant acceleration, e.g. constant velocity)."""
    j = np.asarray(joints, dtype=np.float64)
    if len(j) < 4:
        return 0.0
    third = np.diff(j, n=3, axis=0) * fps ** 3
    return float(np.linalg.norm(third, axis=-1).mean())


def peak_acceleration(joints: np.ndarray, fps: float = skeleton.FPS) -> np.ndarray:
    """Per frame, the largest joint acceleration (m/s^2) of joints [T, J, 3] -> [T] (the first and
    last frames, which have no second difference, repeat their neighbours)."""
    j = np.asarray(joints, dtype=np.float64)
    if len(j) < 3:
        return np.zeros(len(j))
    acc = np.linalg.norm(np.diff(j, n=2, axis=0), axis=-1).max(axis=-1) * fps ** 2     # [T-2]
    return np.concatenate([acc[:1], acc, acc[-1:]])


def pop_rate(joints: np.ndarray, key_frames: Sequence[int], threshold: float, window: int = 10,
             fps: float = skeleton.FPS) -> float:
    """Fraction of keys around which (within +-window/2 frames) the peak joint acceleration goes
    above threshold (m/s^2): a visible pop where the motion is pulled onto a key. The threshold
    is meant to be a high percentile of real motion's peak_acceleration."""
    if not len(key_frames):
        return 0.0
    acc = peak_acceleration(joints, fps)
    half = window // 2
    pops = [acc[max(0, f - half): f + half + 1].max() > threshold for f in key_frames]
    return float(np.mean(pops))


# -- summaries -----------------------------------------------------------------------------------
def mean_interval(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% interval 1.96 * std / sqrt(n)) over repeated runs, as Guo et
    al. report; the half-width is nan for a single run."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), float("nan")
    return float(v.mean()), float(1.96 * v.std(ddof=1) / np.sqrt(len(v)))
