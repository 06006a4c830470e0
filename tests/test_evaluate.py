"""Evaluation: metrics against known answers, evaluator training, benchmark CLIs end to end."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from momadiff.motion import features, skeleton
from momadiff.data.dataset import MotionDataset, write_dataset
from momadiff.evaluate import benchmark, metrics
from momadiff.evaluate.__main__ import main as evaluate_main
from momadiff.evaluate.evaluator import Evaluator
from momadiff.keyframes import Keyframe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "train"))


# -- metrics -------------------------------------------------------------------------------------
def test_fid_identical_and_shifted_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 4))
    assert metrics.fid(a, a) < 1e-6
    # Same covariance, mean shifted by d: FID = |d|^2 exactly in closed form.
    shift = np.array([1.0, 2.0, 0.0, 0.0])
    assert metrics.fid(a, a + shift) == pytest.approx(5.0, rel=1e-6)
    # Closed form for N(0, I) vs N(0, s^2 I) in k dims: k (1 - s)^2.
    mu, cov = np.zeros(3), np.eye(3)
    assert metrics.frechet_distance(mu, cov, mu, 4 * cov) == pytest.approx(3.0)


def test_r_precision_aligned_and_shuffled():
    rng = np.random.default_rng(0)
    text = rng.normal(size=(640, 16))
    motion = text + 0.01 * rng.normal(size=text.shape)
    r, size = metrics.r_precision(motion, text, rng=rng)
    assert size == 32 and np.allclose(r, 1.0)
    shuffled = motion[rng.permutation(len(motion))]
    r, _ = metrics.r_precision(shuffled, text, rng=rng)
    assert np.allclose(r, [1 / 32, 2 / 32, 3 / 32], atol=0.03)


def test_distinct_label_batches():
    labels = ["a"] * 10 + ["b"] * 10 + ["c"] * 5 + [f"x{i}" for i in range(5)]
    batches = metrics.distinct_label_batches(labels, batch_size=3, rng=np.random.default_rng(0))
    assert batches and all(len(b) == 3 and len({labels[i] for i in b}) == 3 for b in batches)
    used = np.concatenate(batches)
    assert len(set(used.tolist())) == len(used)
    assert len(used) >= 27            # nearly everything fits in some batch
    # Fewer labels than the batch size: the batch shrinks to the number of labels.
    small = metrics.distinct_label_batches(["a", "b", "a", "b"], batch_size=32)
    assert [len(b) for b in small] == [2, 2]


def test_diversity_multimodality_matching():
    same = np.ones((50, 8))
    assert metrics.diversity(same) == 0.0
    assert metrics.multimodality(np.ones((4, 3, 8))) == 0.0
    pts = np.eye(4)   # all pairwise distances sqrt(2)
    assert metrics.diversity(pts) == pytest.approx(np.sqrt(2))
    assert metrics.matching_score(pts, pts) == 0.0


def _walk(T: int, slide: bool) -> np.ndarray:
    """A planted-foot walk (feet step and stop) or the same body gliding with feet on the floor."""
    rest = skeleton.rest_pose().astype(np.float64)
    j = np.repeat(rest[None], T, axis=0)
    t = np.arange(T)
    speed = 1.2 / skeleton.FPS              # 1.2 m/s
    j[:, :, 2] += speed * t[:, None]
    if not slide:
        # Each toe stays fixed while on the floor and swings (lifted) to catch up.
        for k, toe in enumerate(metrics.SKATE_JOINTS):
            phase = (t + 10 * k) % 20
            planted = phase < 10
            anchor = np.where(planted, t - phase, t - phase + 10)
            j[:, toe, 2] = rest[toe, 2] + speed * np.where(planted, anchor, t)
            j[:, toe, 1] = np.where(planted, 0.0, 0.15)
    return j


def test_foot_skating_and_jerk():
    assert metrics.foot_skating_ratio(_walk(80, slide=True)) > 0.9
    assert metrics.foot_skating_ratio(_walk(80, slide=False)) < 0.1
    line = np.linspace(0, 1, 30)[:, None, None] * np.ones((1, 22, 3))
    assert metrics.jerk(line) == pytest.approx(0.0, abs=1e-9)
    assert metrics.jerk(line ** 3) > 0


def test_linear_interpolation_baseline_hits_keys():
    walk = features.canonicalize(_walk(41, slide=False)).astype(np.float32)
    keys = [Keyframe(0, walk[0], True), Keyframe(40, walk[40], True)]
    lerp = benchmark.interpolate_keys(keys, 41)
    assert np.allclose(lerp[[0, 40]], walk[[0, 40]], atol=1e-6)
    assert np.allclose(lerp[20], 0.5 * (walk[0] + walk[40]), atol=1e-5)


def _parabolas(n: int, T: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Motions [T, 22, 3] in which every coordinate follows its own random quadratic in time."""
    t = np.arange(T, dtype=np.float64)[:, None, None] / T
    return [rng.normal(size=(22, 3)) + rng.normal(size=(22, 3)) * t + rng.normal(size=(22, 3)) * t ** 2
            for _ in range(n)]


def test_train_fit_kernel_learns_the_timing_linear_interpolation_misses():
    rng = np.random.default_rng(0)
    weights = benchmark.fit_interpolation_kernel(_parabolas(20, 101, rng))
    assert weights.shape == (3, benchmark.KEY_STRIDE - 1)
    real = _parabolas(1, 101, rng)[0]
    keys = benchmark.dense_keys(real.astype(np.float32))
    fitted = benchmark.kernel_interpolate(keys, 101, weights)
    lerp = benchmark.interpolate_keys(keys, 101)
    assert np.allclose(fitted[[k.frame for k in keys]], real[[k.frame for k in keys]], atol=1e-5)
    inner = slice(21, 80)     # gaps with a key on both sides of their neighbours: exact for a quadratic
    assert np.abs(fitted[inner] - real[inner]).max() < 1e-4 < np.abs(lerp[inner] - real[inner]).max()
    # The first and last gaps lack a neighbour: filled linearly.
    ends = np.r_[0:21, 80:101]
    assert np.allclose(fitted[ends], lerp[ends], atol=1e-6)


def test_kernel_interpolation_holds_after_the_last_key_and_needs_regular_keys():
    walk = features.canonicalize(_walk(100, slide=False)).astype(np.float32)
    weights = benchmark.fit_interpolation_kernel([walk, walk[::-1]])
    keys = benchmark.dense_keys(walk[:85])                  # keys at 0, 20, ..., 80
    out = benchmark.kernel_interpolate(keys, 100, weights)
    assert out.shape == (100, 22, 3) and np.allclose(out[80:], walk[80], atol=1e-6)
    assert np.allclose(out[[k.frame for k in keys]], walk[[k.frame for k in keys]], atol=1e-6)
    with pytest.raises(ValueError, match="every 20"):
        benchmark.kernel_interpolate([keys[0], keys[2]], 100, weights)
    with pytest.raises(ValueError, match="no motion"):
        benchmark.fit_interpolation_kernel([walk[:60]])     # no gap with a key on both sides


# -- a tiny labelled dataset and evaluator ---------------------------------------------------------
CONTENTS = {"walk": "walks forward", "wave": "waves the right hand", "jump": "jumps up and down"}
STYLES = {"slow": "slowly", "fast": "quickly"}


def _clip(content: str, style: str, T: int, rng: np.random.Generator) -> np.ndarray:
    rest = skeleton.rest_pose().astype(np.float64)
    t = np.arange(T)[:, None]
    rate = 0.5 if style == "slow" else 1.0
    j = np.repeat(rest[None], T, axis=0)
    if content in ("walk", "kick"):
        j[:, [7, 10], 2] += 0.12 * np.sin(rate * t / 2)
        j[:, [8, 11], 2] -= 0.12 * np.sin(rate * t / 2)
        j[:, :, 2] += (0.07 if content == "walk" else 0.0) * rate * t
    elif content == "wave":
        j[:, [19, 21], 1] += 0.3 + 0.15 * np.sin(rate * t)
        j[:, [21], 0] += 0.1 * np.cos(rate * t)
    else:
        j[:, :, 1] += 0.2 * np.abs(np.sin(rate * t / 3))
    j += 0.003 * rng.normal(size=j.shape)
    return j


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    clips, feats, joints = [], [], []
    pairs = [(c, s) for c in CONTENTS for s in STYLES] + [("kick", "slow")]
    for content, style in pairs:
        for k in range(6):
            split = "ood" if content == "kick" else (["train"] * 4 + ["val", "test"])[k]
            j = _clip(content, style, int(rng.integers(50, 90)), rng)
            verb = CONTENTS.get(content, "kicks")
            clips.append({"id": f"{content}_{style}_{k}", "source": "synthetic", "dataset": "synthetic",
                          "content": content, "style": style, "split": split,
                          "captions": [f"a person {verb} {STYLES[style]}", f"someone {verb} {STYLES[style]}"],
                          "paraphrases": [f"a figure is seen as it {verb} {STYLES[style]}"],
                          "mirror_captions": [], "notes": ""})
            feats.append(features.joints_to_features(j))
            joints.append(features.canonicalize(j)[:-1].astype(np.float32))
    out = tmp_path_factory.mktemp("tiny_data")
    write_dataset(out, clips, feats, joints, {"name": "synthetic"})
    return out


@pytest.fixture(scope="module")
def tiny_evaluator(tiny_data, tmp_path_factory) -> Path:
    import train_evaluator
    run = tmp_path_factory.mktemp("evaluator")
    train_evaluator.main([f"--data={tiny_data}", f"--out={run}", "--preset=tiny", "--text_encoder=hash",
                          "--steps=90", "--batch=16", "--lr=3e-3", "--warmup=10", "--log_every=30",
                          "--val_every=90", "--min_frames=20", "--dropout=0.0"])
    return run


def test_evaluator_training_loss_falls(tiny_evaluator, tiny_data):
    rows = list(csv.DictReader(open(tiny_evaluator / "log.csv")))
    losses = [float(r["loss"]) for r in rows]
    assert losses[-1] < 0.7 * losses[0]
    ev = Evaluator.from_checkpoint(tiny_evaluator / "evaluator.pt")
    ds = MotionDataset(tiny_data)
    idx = ds.split("train")
    m = ev.embed_features([ds.features(i) for i in idx])
    assert m.shape == (len(idx), 16) and np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)
    t = ev.embed_texts([ds.clips[i]["captions"][0] for i in idx])
    r, size = metrics.r_precision(m, t, [benchmark.label(ds.clips[i]) for i in idx])
    assert size == 6 and r[2] > 0.6    # chance is 3/6
    # Embeddings do not depend on how much padding a batch needed.
    alone = ev.embed_features([ds.features(idx[0])])
    assert np.allclose(alone, m[:1], atol=1e-5)


# -- benchmarks end to end -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["t2m", "keyframes", "vae", "latency"])
def test_benchmark_cli_quick(name, tiny_model_dir, tiny_evaluator, tiny_data, tmp_path, capsys):
    args = [name, "--model", str(tiny_model_dir), "--evaluator", str(tiny_evaluator / "evaluator.pt"),
            "--data", str(tiny_data), "--quick", "--out", str(tmp_path)]
    if name == "vae":
        bvh = tmp_path / "bvh"
        bvh.mkdir()
        (bvh / "broken.bvh").write_text("not a bvh file")
        args += ["--bvh-dir", str(bvh)]
    if name == "latency":
        args += ["--runs", "1", "--seconds", "2", "3"]
    if name == "t2m":
        args += ["--temperature", "0.5"]
    assert evaluate_main(args) == 0
    doc = json.loads((tmp_path / f"{name}.json").read_text())
    assert doc["rows"] and doc["table"] in capsys.readouterr().out
    if name == "t2m":
        rows = {r["motions"]: r for r in doc["rows"]}
        assert set(rows) >= {"real", "generated", "generated (paraphrases)", "unconditional (cfg 0)"}
        assert rows["real"]["R@3"]["mean"] > 0.6 and rows["generated"]["MModality"]["mean"] >= 0
        assert "distinct (content, style)" in doc["table"]
        assert doc["settings"]["sampler"]["temperature"] == 0.5
        assert rows["real"]["Jerk"]["mean"] > 0 and rows["generated"]["Jerk"]["mean"] > 0
    if name == "keyframes":
        methods = {(r["split"], r["keys"], r["method"]) for r in doc["rows"]}
        assert ("test", "every 20", "linear interp.") in methods and ("ood", "sparse", "model, no keys") in methods
        assert ("ood", "every 20", "train-fit interp.") in methods and ("ood", "sparse", "train-fit interp.") not in methods
        dense = next(r for r in doc["rows"] if r["keys"] == "every 20" and r["method"] == "model")
        assert dense["key err (mm)"] < 10
    if name == "vae":
        assert doc["rows"][-1]["skipped"] == 1 and doc["rows"][0]["MPJPE (mm)"] > 0
    if name == "latency":
        assert len(doc["rows"]) == 4 and all(r["total (s)"] > 0 for r in doc["rows"])


def test_pop_rate_sees_a_jump_at_a_key_and_not_a_smooth_motion():
    from momadiff.evaluate import metrics as M
    t = np.arange(60, dtype=np.float64)
    smooth = np.zeros((60, 22, 3))
    smooth[:, :, 2] = 0.05 * t[:, None]                     # constant velocity: zero acceleration
    jumped = smooth.copy()
    jumped[30:, :, 0] += 0.1                                 # 10 cm step at frame 30
    assert M.peak_acceleration(smooth).max() < 1e-9
    assert M.pop_rate(smooth, [30], threshold=5.0) == 0.0
    assert M.pop_rate(jumped, [30], threshold=5.0) == 1.0   # 0.1 m * 20^2 = 40 m/s^2 at the step
    assert M.pop_rate(jumped, [5, 30], threshold=5.0) == 0.5


def test_segments_benchmark_cli(tiny_model_dir, tiny_evaluator, tiny_data, tmp_path, capsys):
    args = ["segments", "--model", str(tiny_model_dir), "--evaluator", str(tiny_evaluator / "evaluator.pt"),
            "--data", str(tiny_data), "--timelines", "2", "--long-timelines", "2", "--runs", "1", "--out", str(tmp_path)]
    assert evaluate_main(args) == 0
    doc = json.loads((tmp_path / "segments.json").read_text())
    rows = {r["motions"]: r for r in doc["rows"]}
    assert {"segments of timelines", "single prompts, same lengths", "separate + linear cross-fade",
            "60 s timelines (windows)"} <= set(rows) and doc["table"] in capsys.readouterr().out
    assert 0 <= rows["segments of timelines"]["R@3"] <= 1 and rows["separate + linear cross-fade"]["jerk"] > 0
    assert len(doc["settings"]["fid_windows"]) == 6 and rows["60 s timelines (windows)"]["total (s)"] > 0


def test_crossfade_join_aligns_and_blends():
    from momadiff.evaluate.timeline import CROSSFADE, crossfade_join
    from momadiff.motion import skeleton
    rest = skeleton.rest_pose().astype(np.float64)
    a = np.repeat(rest[None], 30 + CROSSFADE, axis=0)
    a[:, :, 2] += np.arange(len(a))[:, None] * 0.05               # walks along +Z
    b = np.repeat(rest[None], 20, axis=0) + np.array([5.0, 0.0, -3.0])   # elsewhere, standing
    out = crossfade_join([a, b], [30, 20])
    assert out.shape == (50, 22, 3)
    assert np.allclose(out[:30], a[:30], atol=1e-5)
    # b is moved to where a stands at the boundary, so the join has no jump in position
    assert np.abs(out[30 + CROSSFADE:, 0, [0, 2]] - a[30, 0, [0, 2]]).max() < 1e-5
    assert np.linalg.norm(np.diff(out[:, 0], axis=0), axis=-1).max() < 0.051
