"""`python -m momadiff.evaluate segments`: long motions from a timeline of prompts.

Timelines are built from test-split captions, one (content, style) pair per segment, so a
segment's caption is retrievable among the others'. Four measurements (issue 20's targets):

- text: R-precision of every segment (the motion cut at its bounds) against its caption, beside
  single-prompt generations of the same captions and lengths (target: >= 90% of their R@3);
- transitions: within +-0.5 s of each boundary, the peak joint acceleration (against real
  motion's 99th percentile: a "pop"), jerk and foot skating, beside a baseline of the same
  segments generated separately and joined by a linear cross-fade, and real motion (random
  windows of test clips);
- decay: FID of each 10 s window of 60 s timelines against the real test clips; the last
  window's within 20% of the first's;
- cost: a 60 s, four-segment motion's total time, time to the first stage and peak memory.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..data.dataset import MotionDataset
from ..motion import skeleton
from ..motion.rotation import axis_angle_matrix
from ..sampler import iter_sample
from .. import segments as sg
from . import benchmark as B
from . import metrics
from .evaluator import Evaluator, centre_crop

HALF_WINDOW = skeleton.FPS // 2        # +-0.5 s around a boundary
CROSSFADE = skeleton.FPS // 2          # the baseline's blend: 0.5 s
SEGMENT_SECONDS = (3.0, 8.0)           # segment lengths drawn uniformly (the evaluator sees up to 9.8 s)
LONG_SEGMENTS = 4                      # a long timeline: 4 segments of 15 s
LONG_SECONDS = 60.0
FID_WINDOW = 10 * skeleton.FPS


def make_timeline(captions: Sequence[str], lengths: Sequence[float], gap: float = 0.0) -> list[dict[str, Any]]:
    """Segments with the given captions and lengths (s), back to back or `gap` seconds apart."""
    out, t = [], 0.0
    for text, length in zip(captions, lengths):
        out.append({"text": text, "start": round(t, 2), "end": round(t + length, 2)})
        t = out[-1]["end"] + gap
    return out


def _frames(seconds: float) -> int:
    return int(round(seconds * skeleton.FPS))


def align(motion: np.ndarray, to: np.ndarray) -> np.ndarray:
    """motion [T, 22, 3] turned about +Y and moved on the floor so that its first frame stands
    where pose `to` [22, 3] stands, facing the same way (how separately generated pieces join)."""
    turn = float(skeleton.facing_angle(to) - skeleton.facing_angle(motion[0]))
    rot = axis_angle_matrix("Y", np.array([turn]))[0]
    root = motion[:1, :1] * np.array([1.0, 0.0, 1.0])
    out = np.einsum("ij,tkj->tki", rot, motion - root)
    return out + to[0] * np.array([1.0, 0.0, 1.0])


def crossfade_join(pieces: Sequence[np.ndarray], lengths: Sequence[int], fade: int = CROSSFADE) -> np.ndarray:
    """The baseline: separate generations joined end to end. Piece k [lengths[k] + fade, 22, 3]
    (the last: lengths[-1]) is aligned to where the motion so far stands at its boundary, then
    blended in linearly over the `fade` frames after it -> [sum(lengths), 22, 3]."""
    out = np.asarray(pieces[0], dtype=np.float64)
    b = lengths[0]
    for piece, n in zip(pieces[1:], lengths[1:]):
        nxt = align(np.asarray(piece, dtype=np.float64), out[b])
        tail = out[b:]                                                # the previous piece's extra frames
        w = (np.arange(len(tail)) + 1.0)[:, None, None] / (len(tail) + 1.0)
        out = np.concatenate([out[:b], (1 - w) * tail + w * nxt[:len(tail)], nxt[len(tail):]])
        b += n
    return out[:b].astype(np.float32)


def boundary_scores(joints: np.ndarray, frames: Sequence[int], threshold: float) -> list[dict[str, float]]:
    """Per boundary frame: peak joint acceleration (m/s^2) within +-0.5 s, whether it passes
    threshold (a pop), jerk and foot skating over that window."""
    acc = metrics.peak_acceleration(joints)
    out = []
    for f in frames:
        a, b = max(0, f - HALF_WINDOW), min(len(joints), f + HALF_WINDOW + 1)
        out.append({"peak acc": float(acc[a:b].max()), "pops": float(acc[a:b].max() > threshold),
                    "jerk": metrics.jerk(joints[a:b]), "skating": metrics.foot_skating_ratio(joints[a:b])})
    return out


def _mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def sequential(pipe, segments: Sequence[dict], seed: int, overlap: float = 0.5) -> tuple[np.ndarray, float]:
    """The other scheme for long motions: windows of max_latents generated one after another,
    each with the latents it shares with the previous one given as known latents.
    Returns (joints [T, 22, 3], seconds until the first window's first stage was decoded)."""
    t0 = time.perf_counter()
    segs = sg.parse_segments(segments)
    T = _frames(segs[-1].end)
    n = math.ceil(T / pipe.down)
    cfg = pipe.sampler
    emb = torch.stack([pipe.encode_text(t) for t in sg.texts_of(segs)])
    tidx = sg.latent_texts(segs, n, pipe.down, skeleton.FPS, T, cfg.gap_text)
    W = pipe.transformer.config.max_latents
    wins, _ = sg.plan_windows(n, W, min(W - 1, int(round(overlap * W))))
    gen = torch.Generator().manual_seed(seed)
    latents = torch.zeros(n, pipe.head.config.latent_dim)
    done, first = 0, None
    for a, b in wins:
        context = {i - a: latents[i] for i in range(a, min(done, b))}
        for stage in iter_sample(pipe.transformer, pipe.head, pipe.schedule, emb, b - a, cfg, gen,
                                 text_index=tidx[a:b], context=context):
            if first is None:   # what a viewer would see first: this window decoded
                pipe.decode(stage.latents, min(T, (b - a) * pipe.down), noise=cfg.decode_noise)
                first = time.perf_counter() - t0
        latents[a:b] = stage.latents
        done = b
    return pipe.decode(latents, T, noise=cfg.decode_noise), first or 0.0


def segments_benchmark(pipe, ev: Evaluator, ds: MotionDataset, timelines: int = 32, long_timelines: int = 32,
                       runs: int = 3, seed: int = 0, gap: float = 0.0, scheme: str = "windows") -> B.Result:
    """The table of `python -m momadiff.evaluate segments` (see the module docstring).
    scheme: "windows" (the sampler's: one masked process over overlapping windows) or
    "sequential" (the baseline scheme for the long timelines: window after window)."""
    rng = np.random.default_rng(seed)
    idx = B.select_clips(ds, "test", None, rng)
    by_label: dict[tuple[str, str], list[int]] = {}
    for i in idx:
        by_label.setdefault(B.label(ds.clips[i]), []).append(i)
    labels = sorted(by_label)
    threshold = B.real_acceleration_percentile(ds)
    total = timelines * (1 + 2 * 4) + long_timelines
    bar = tqdm(total=total, desc="segments", dynamic_ncols=True)

    def draw_segments(k: int) -> tuple[list[str], list[tuple[str, str]]]:
        pick = rng.choice(len(labels), size=k, replace=False)
        labs = [labels[p] for p in pick]
        caps = [B.draw(ds.clips[int(rng.choice(by_label[lab]))]["captions"], rng) for lab in labs]
        return caps, labs

    # -- text and transitions: timelines of 4 segments of 3-8 s
    seg_motion, single_motion, seg_caps, seg_labels = [], [], [], []
    ours, fade = [], []
    for _ in range(timelines):
        caps, labs = draw_segments(4)
        lengths = [_frames(s) for s in rng.uniform(*SEGMENT_SECONDS, size=4)]
        timeline = make_timeline(caps, [n / skeleton.FPS for n in lengths], gap)
        s = int(rng.integers(2 ** 31))
        m = pipe.generate(segments=timeline, seed=s).joints
        bar.update(1)
        bounds = [_frames(t) for t in sg.boundaries(sg.parse_segments(timeline))]
        ours += boundary_scores(m, bounds, threshold)
        pieces = []
        for k, (seg, n, cap) in enumerate(zip(timeline, lengths, caps)):
            a = _frames(seg["start"])
            seg_motion.append(m[a:a + n])
            seg_caps.append(cap)
            seg_labels.append(labs[k])
            single_motion.append(pipe.generate(cap, num_frames=n, seed=s + k).joints)
            extra = CROSSFADE if k < 3 else 0
            pieces.append(pipe.generate(cap, num_frames=n + extra, seed=s + 100 + k).joints)
            bar.update(2)
        if gap == 0:
            joined = crossfade_join(pieces, lengths)
            fade += boundary_scores(joined, np.cumsum(lengths)[:-1].tolist(), threshold)

    def retrieval(motions: list[np.ndarray]) -> np.ndarray:
        return B.retrieval_row(ev, B.embed_joints(ev, motions), seg_caps, seg_labels, np.random.default_rng(seed))[0]

    nan3 = np.full(3, np.nan)   # timelines=0: only the long part (and the cost) is measured
    r_seg, r_single = (retrieval(seg_motion), retrieval(single_motion)) if timelines else (nan3, nan3)
    # Real motion's windows of the same size, at random places in test clips.
    real_rows = []
    for i in idx:
        j = ds.joints(i)
        if len(j) > 2 * HALF_WINDOW + 1:
            f = int(rng.integers(HALF_WINDOW, len(j) - HALF_WINDOW))
            real_rows += boundary_scores(j, [f], threshold)

    # -- decay and cost: 60 s timelines of 4 segments
    real_emb = ev.embed_features([ds.features(i)[centre_crop(ds.clips[i]["num_frames"], ev.model.config.max_frames)]
                                  for i in idx])
    windows: list[list[np.ndarray]] = [[] for _ in range(int(LONG_SECONDS * skeleton.FPS) // FID_WINDOW)]
    long_bounds = []
    for _ in range(long_timelines):
        caps, _ = draw_segments(LONG_SEGMENTS)
        timeline = make_timeline(caps, [LONG_SECONDS / LONG_SEGMENTS] * LONG_SEGMENTS)
        s = int(rng.integers(2 ** 31))
        m = (pipe.generate(segments=timeline, seed=s).joints if scheme == "windows"
             else sequential(pipe, timeline, s, pipe.sampler.window_overlap)[0])
        bar.update(1)
        long_bounds += boundary_scores(m, [_frames(t) for t in sg.boundaries(sg.parse_segments(timeline))], threshold)
        for w in range(len(windows)):
            windows[w].append(m[w * FID_WINDOW:(w + 1) * FID_WINDOW])
    bar.close()
    fids = [metrics.fid(B.embed_joints(ev, ws), real_emb) for ws in windows] if long_timelines >= 2 else []

    # Cost of one 60 s, four-segment motion, through iter_generate (the app's path).
    caps, _ = draw_segments(LONG_SEGMENTS)
    timeline = make_timeline(caps, [LONG_SECONDS / LONG_SEGMENTS] * LONG_SEGMENTS)
    resettable = B._reset_peak_rss()
    times = []
    for r in range(runs):   # runs=0 (and long_timelines=0) leave the long rows out: a quicker sweep
        t = B.time_generation(pipe, None, _frames(LONG_SECONDS), seed + r, segments=timeline) if scheme == "windows" \
            else _time_sequential(pipe, timeline, seed + r)
        times.append(t)
    peak = B._peak_rss_mb() if resettable else None

    columns = ["motions", "R@1", "R@3", "peak acc", "pops", "jerk", "skating", "FID 0-10 s", "FID 50-60 s",
               "first stage (s)", "total (s)", "peak RSS (MB)"]
    result = B.Result("segments", columns, settings={
        "timelines": timelines, "long_timelines": long_timelines, "runs": runs, "seed": seed, "gap": gap,
        "scheme": scheme, "sampler": vars(pipe.sampler), "model": pipe.meta.get("folder"),
        "evaluator": ev.meta.get("path"), "pop_threshold_m_s2": threshold, "fid_windows": fids,
        "threads": torch.get_num_threads()})
    result.rows.append({"motions": "real (test, random 1 s windows)", **_mean_rows(real_rows)})
    if timelines:
        result.rows += [{"motions": "segments of timelines", "R@1": r_seg[0], "R@3": r_seg[2], **_mean_rows(ours)},
                        {"motions": "single prompts, same lengths", "R@1": r_single[0], "R@3": r_single[2]}]
    if fade:
        result.rows.append({"motions": "separate + linear cross-fade", **_mean_rows(fade)})
    if fids or times:
        result.rows.append({"motions": f"60 s timelines ({scheme})", **_mean_rows(long_bounds),
                            "FID 0-10 s": fids[0] if fids else None, "FID 50-60 s": fids[-1] if fids else None,
                            "first stage (s)": statistics.median(t["first stage"] for t in times) if times else None,
                            "total (s)": statistics.median(t["total"] for t in times) if times else None,
                            "peak RSS (MB)": peak if times else None})
    result.notes += [
        f"{timelines} timelines of 4 test captions (distinct (content, style) pairs), segments of "
        f"{SEGMENT_SECONDS[0]:g}-{SEGMENT_SECONDS[1]:g} s" + (f" {gap:g} s apart" if gap else " back to back")
        + f"; R@k of each segment cut at its bounds, batches of distinct pairs; R@3 ratio segments/single "
        f"= {r_seg[2] / r_single[2]:.3f} (target >= 0.9)",
        f"peak acc (m/s^2), jerk (m/s^3), skating (GMD ratio): within +-{HALF_WINDOW / skeleton.FPS:g} s of each "
        f"boundary; pops: fraction of boundaries whose peak passes {threshold:.1f} m/s^2, real motion's 99th percentile",
        f"cross-fade baseline: each segment generated alone ({CROSSFADE} frames longer), aligned to where the "
        f"motion stands at the boundary and blended linearly over {CROSSFADE / skeleton.FPS:g} s",
        f"FID: each 10 s window of {long_timelines} 60 s timelines ({LONG_SEGMENTS} x 15 s) vs the real test "
        f"clips; all windows: {', '.join(f'{f:.3f}' for f in fids)}; last/first = "
        f"{fids[-1] / fids[0] if fids else float('nan'):.2f} (target <= 1.2); its other columns are at the 3 boundaries",
        f"cost: median of {runs} run(s) of one 60 s four-segment motion, torch threads {torch.get_num_threads()}; "
        "peak RSS: the process's peak resident memory during them (VmHWM reset before)",
    ]
    return result


def _time_sequential(pipe, timeline: Sequence[dict], seed: int) -> dict[str, float]:
    t0 = time.perf_counter()
    first = sequential(pipe, timeline, seed, pipe.sampler.window_overlap)[1]
    return {"first stage": first, "total": time.perf_counter() - t0}
