"""The control benchmark behind `python -m momadiff.evaluate control`: constraints drawn from real
test clips (momadiff.data.constraints.draw_eval: none, a root path, hand targets, foot targets,
mixed), generated with the model's control input and with the post-hoc correction only (the same
model with its control input absent), scored for constraint error (before and after the
correction), FID, R-precision, foot skating and jerk; and the latency of a 10 s motion with and
without constraints.
"""
from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from tqdm import tqdm

from ..constraints import Waypoint
from ..data.constraints import EVAL_KINDS, draw_eval
from ..data.dataset import MotionDataset
from ..keyframes import Keyframe
from ..motion import features, skeleton
from . import metrics
from .benchmark import PROMPTS, Result, draw, embed_joints, label, retrieval_row, select_clips, time_generation
from .evaluator import Evaluator, centre_crop

VARIANTS = ("control input", "correction only")
HIT = 0.01   # metres: a constraint counts as met within this


def constraint_keys(c) -> tuple[list[Keyframe], list[Waypoint]]:
    """The partial keys and root path a user would type for Constraints c (the inverse of
    constraints.build for partial keys and pelvis x/z waypoints)."""
    keys, path = [], []
    for t in c.frames():
        m = c.mask[t]
        if m[0, 0] and m[0, 2] and not m[0, 1]:
            path.append(Waypoint(int(t), float(c.targets[t, 0, 0]), float(c.targets[t, 0, 2])))
        named = {skeleton.JOINT_NAMES[j]: c.targets[t, j].tolist() for j in range(skeleton.NUM_JOINTS)
                 if m[j].all()}
        if named:
            keys.append(Keyframe(int(t), named))
    return keys, path


def control(pipe, ev: Evaluator | None, ds: MotionDataset, clips: int | None = 48, seed: int = 0,
            split: str = "test", kinds: tuple[str, ...] = EVAL_KINDS, latency_runs: int = 5) -> list[Result]:
    """The control table and the latency table (see the module docstring)."""
    rng = np.random.default_rng(seed)
    idx = select_clips(ds, split, clips, rng)
    max_frames = ev.model.config.max_frames if ev is not None else 196
    crops = [centre_crop(ds.clips[i]["num_frames"], max_frames) for i in idx]
    # The frame generation decodes into: features_to_joints of the crop (origin, facing +Z).
    reals = [features.features_to_joints(ds.features(i)[c]).astype(np.float32) for i, c in zip(idx, crops)]
    labels = [label(ds.clips[i]) for i in idx]
    caps = [draw(ds.clips[i]["captions"], rng) for i in idx]
    seeds = [int(rng.integers(2 ** 31)) for _ in idx]
    has_input = pipe.transformer.control_in is not None
    variants = VARIANTS if has_input else VARIANTS[1:]
    real_emb = embed_joints(ev, reals) if ev is not None else None
    columns = ["constraints", "model", "err (cm)", "max err (cm)", "met (%)", "raw err (cm)",
               "FID", "R@3", "skating", "jerk"]
    result = Result("control", columns, settings={"split": split, "clips": len(idx), "seed": seed,
                                                  "sampler": vars(pipe.sampler), "model": pipe.meta.get("folder"),
                                                  "control_input": has_input,
                                                  "evaluator": ev.meta.get("path") if ev is not None else None})
    real_row: dict[str, Any] = {"constraints": "-", "model": "real",
                                "skating": float(np.mean([metrics.foot_skating_ratio(r) for r in reals])),
                                "jerk": float(np.mean([metrics.jerk(r) for r in reals]))}
    if ev is not None:
        real_row["R@3"] = float(retrieval_row(ev, real_emb, caps, labels, np.random.default_rng(seed))[0][2])
    result.rows.append(real_row)
    bar = tqdm(total=len(kinds) * len(variants) * len(idx), desc="control", dynamic_ncols=True)
    before = pipe.use_control_input
    try:
        for kind in kinds:
            cons = [draw_eval(r, np.random.default_rng([seed, n]), kind) for n, r in enumerate(reals)]
            for variant in variants:
                pipe.use_control_input = variant == "control input"
                motions, errs, raw = [], [], []
                for r, c, text, s in zip(reals, cons, caps, seeds):
                    keys, path = constraint_keys(c)
                    m = pipe.generate(text, num_frames=len(r) + 1, seed=s, keyframes=keys, root_path=path)
                    j = m.joints[:len(r)]
                    motions.append(m.joints)
                    if c.any():
                        errs.append(c.error(j))
                        uncorrected = pipe.decode(m.stages[-1].latents, len(r), noise=pipe.sampler.decode_noise)
                        raw.append(c.error(uncorrected))
                    bar.update(1)
                row: dict[str, Any] = {"constraints": kind, "model": variant,
                                       "skating": float(np.mean([metrics.foot_skating_ratio(x) for x in motions])),
                                       "jerk": float(np.mean([metrics.jerk(x) for x in motions]))}
                if errs:
                    e = np.concatenate(errs)
                    row.update({"err (cm)": 100 * float(e.mean()), "max err (cm)": 100 * float(e.max()),
                                "met (%)": 100 * float((e <= HIT).mean()),
                                "raw err (cm)": 100 * float(np.concatenate(raw).mean())})
                if ev is not None:
                    emb = embed_joints(ev, motions)
                    row["FID"] = metrics.fid(emb, real_emb)
                    row["R@3"] = float(retrieval_row(ev, emb, caps, labels, np.random.default_rng(seed))[0][2])
                result.rows.append(row)
    finally:
        pipe.use_control_input = before
        bar.close()
    result.notes += [
        f"{split} split, {len(idx)} clips (centre crops of up to {max_frames} frames), one sample each, the same seed per clip in every row",
        "constraints from the real clip's own joints in the frame generation uses: path = a pelvis x/z waypoint every "
        "5 frames; hands = one wrist at 2 moments; feet = both ankles at 2 moments; mixed = 4-8 path waypoints + one wrist",
        "control input: the model sees the constraints per latent, then the joint-space correction; correction only: "
        "the same model with its control input absent, then the same correction" if has_input else
        "this model has no control input: correction only (the joint-space correction after generation)",
        f"err: after the correction, over every constrained joint and frame (pelvis: x/z only); met: share within "
        f"{100 * HIT:.0f} cm; raw err: the model's own motion before the correction",
        f"FID and R@3 vs the real crops and their captions (R@3 batches of distinct (content, style) pairs); "
        f"skating: GMD ratio (toe below {metrics.SKATE_HEIGHT * 100:.0f} cm sliding > {metrics.SKATE_SPEED} m/s); jerk in m/s^3",
    ]
    return [result, control_latency(pipe, runs=latency_runs, seed=seed)]


def control_latency(pipe, runs: int = 5, seed: int = 0, seconds: float = 10.0) -> Result:
    """Median time of a motion of `seconds` with no constraints, with a root path (a waypoint every
    5 frames) and with a path plus two hand targets."""
    T = int(round(seconds * skeleton.FPS))
    z = np.linspace(0, 1.2 * seconds, T)
    path = [(f, 0.3 * np.sin(f / 40), float(z[f])) for f in range(0, T, 5)]
    hands = [Keyframe(T // 3, {"r_wrist": [-0.2, 1.5, float(z[T // 3]) + 0.3]}),
             Keyframe(2 * T // 3, {"l_wrist": [0.5, 1.3, float(z[2 * T // 3])]})]
    cases = {"none": {}, "root path": {"root_path": path}, "path + hands": {"root_path": path, "keyframes": hands}}
    columns = ["constraints", "seconds", "total (s)", "transformer (s)", "head (s)", "decode (s)", "x none"]
    result = Result("control_latency", columns, settings={"runs": runs, "seed": seed, "model": pipe.meta.get("folder")})
    pipe.generate(PROMPTS[0], num_frames=2 * skeleton.FPS, seed=seed)        # warm-up, not measured
    base = None
    for name, kw in cases.items():
        times = [time_generation(pipe, f"{PROMPTS[0]} ({n})", T, seed + n, **kw) for n in range(runs)]
        med = {k: statistics.median(t.get(k, 0.0) for t in times) for k in times[0]}
        base = base or med["total"]
        result.rows.append({"constraints": name, "seconds": seconds, "total (s)": med["total"],
                            "transformer (s)": med.get("transformer", 0.0), "head (s)": med.get("head", 0.0),
                            "decode (s)": med.get("decode", 0.0), "x none": med["total"] / base})
    result.notes += [f"medians of {runs} run(s) after a warm-up; decode includes the joint-space correction of every stage",
                     "the model's control input is used when it has one"]
    return result
