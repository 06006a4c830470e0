"""Several dataset folders as one (momadiff/data/multi.py) and the training scripts on them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import synthetic_walk
from momadiff.data import MotionDataset, MultiDataset, normalization_stats, open_datasets, sampling_weights
from momadiff.data.dataset import write_dataset
from momadiff.data.multi import describe_weights, parse_weights
from momadiff.model import checkpoint
from momadiff.motion import features

ROOT = Path(__file__).resolve().parent.parent


def _dataset(out: Path, name: str, contents: list[str], splits: list[str], seed: int, speed: float = 1.0):
    clips, feats, joints = [], [], []
    for k, (content, split) in enumerate(zip(contents, splits)):
        j = synthetic_walk(40 + 8 * k, seed=seed + k)
        j[..., 2] *= speed
        f = features.joints_to_features(j)
        feats.append(f)
        joints.append(features.features_to_joints(f))
        clips.append({"id": f"c{k}", "source": "synthetic", "dataset": name, "content": content, "style": "",
                      "split": split, "captions": [f"a person does {content}"], "paraphrases": [],
                      "mirror_captions": [f"a person does {content}"]})
    write_dataset(out, clips, feats, joints, {"name": name, "contents": sorted(set(contents)),
                                              "license": f"{name} licence", "attribution": f"{name} people"})
    return out


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    a = _dataset(root / "a", "a", ["walk"] * 6 + ["bow"] * 2, ["train"] * 7 + ["val"], seed=0)
    b = _dataset(root / "b", "b", ["walk", "kick", "kick", "kick"], ["train", "train", "train", "test"],
                 seed=50, speed=2.0)
    return a, b


def test_open_one_or_several(two):
    a, b = two
    single = open_datasets(str(a))
    assert isinstance(single, MotionDataset) and len(single) == 8
    ds = open_datasets(f"{a},{b}")
    assert isinstance(ds, MultiDataset) and len(ds) == 12 and ds.names == ["a", "b"]
    da, db = MotionDataset(a), MotionDataset(b)
    assert ds.clips[8]["id"] == "b:c0" and ds.index("b:c0") == 8 and ds.clips[8]["source_dataset"] == 1
    np.testing.assert_array_equal(ds.features(9), db.features(1))
    np.testing.assert_array_equal(ds.joints(2), da.joints(2))
    assert ds.split("train") == list(range(7)) + [8, 9, 10] and ds.split("test") == [11]
    assert ds.meta["splits"]["train"]["clips"] == 10 and "a licence" in ds.meta["license"]
    assert "a people" in ds.meta["attribution"] and "b people" in ds.meta["attribution"]
    with pytest.raises(ValueError, match="twice"):
        open_datasets(f"{a},{a}")


def test_pooled_and_given_stats(two):
    a, b = two
    da, db = MotionDataset(a), MotionDataset(b)
    train = np.concatenate([da.features(i) for i in da.split("train")] + [db.features(i) for i in db.split("train")])
    mean, std = normalization_stats(train)
    ds = open_datasets([a, b])
    np.testing.assert_allclose(ds.mean, mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds.std, std, rtol=1e-4, atol=1e-6)
    assert not np.allclose(ds.mean, da.mean, atol=1e-3)      # b's faster walks moved the pooled mean
    given = (np.full(263, 0.5, np.float32), np.full(263, 2.0, np.float32))
    ds = open_datasets([a, b], stats=given)
    np.testing.assert_array_equal(ds.mean, given[0])
    np.testing.assert_allclose(ds.normalize(ds.features(0)), (ds.features(0) - 0.5) / 2.0)
    one = open_datasets(str(a), stats=given)
    np.testing.assert_array_equal(one.std, given[1])


def test_sampling_weights(two):
    ds = open_datasets(two)
    tr = ds.split("train")                                  # a: 6 walk + 1 bow; b: 1 walk + 2 kick
    assert sampling_weights(ds, tr) is None                 # uniform
    p = sampling_weights(ds, tr, "1,3")
    assert np.isclose(p.sum(), 1) and np.isclose(p[-1] / p[0], 3.0)
    # balance 1: every (dataset, content) group the same total, times its dataset's weight.
    p = sampling_weights(ds, tr, "1,3", balance=1.0)
    group = {}
    for i, q in zip(tr, p):
        key = (ds.clips[i]["source_dataset"], ds.clips[i]["content"])
        group[key] = group.get(key, 0) + q
    assert np.isclose(group[(0, "walk")], group[(0, "bow")])
    assert np.isclose(group[(1, "kick")], 3 * group[(0, "walk")])
    assert "a 25%, b 75%" in describe_weights(ds, tr, p)     # groups: a 1 + 1, b 3 + 3
    p = sampling_weights(ds, tr, "0,1")
    assert np.allclose(p[:7], 0)
    for bad, msg in (("1", "1 value"), ("1,x", "numbers"), ("0,0", "not all 0"), ("1,-1", ">= 0")):
        with pytest.raises(ValueError, match=msg):
            parse_weights(bad, 2)


def _run(script, *args):
    r = subprocess.run([sys.executable, str(ROOT / "train" / script), *args], capture_output=True,
                       text=True, timeout=300, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


def test_train_vae_on_two_datasets_keeps_a_finetuned_vaes_stats(two, tmp_path):
    a, b = two
    common = [f"--data={a},{b}", "--data_weights=1,3", "--balance=0.5", "--preset=tiny", "--crop=16",
              "--batch=4", "--threads=1", "--val_every=100000", "--log_every=5", "--aug_copies=1"]
    r = _run("train_vae.py", *common, f"--out={tmp_path / 'v1'}", "--steps=5")
    assert "of drawn clips" in r.stdout
    v1 = checkpoint.load(tmp_path / "v1" / "vae.pt", kind="vae")
    pooled = open_datasets([a, b])
    np.testing.assert_allclose(v1["mean"].numpy(), pooled.mean, atol=1e-6)    # a fresh VAE: pooled stats
    # Fine-tuning on other data keeps the starting VAE's normalisation, so its latents stay valid.
    _run("train_vae.py", f"--data={b}", "--crop=16", "--batch=4", "--threads=1", "--val_every=100000",
         "--aug_copies=0", f"--out={tmp_path / 'v2'}", "--steps=3", f"--init_from={tmp_path / 'v1' / 'vae.pt'}")
    v2 = checkpoint.load(tmp_path / "v2" / "vae.pt", kind="vae")
    assert torch.equal(v2["mean"], v1["mean"]) and torch.equal(v2["std"], v1["std"])
    assert not np.allclose(v2["mean"].numpy(), MotionDataset(b).mean, atol=1e-3)
    bad = subprocess.run([sys.executable, str(ROOT / "train" / "train_vae.py"), f"--data={a},{b}",
                          "--data_weights=1", f"--out={tmp_path / 'v3'}", "--steps=1"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert bad.returncode != 0 and "data_weights has 1 value(s) for 2 dataset(s)" in bad.stderr


def test_export_records_every_datasets_terms(two):
    sys.path.insert(0, str(ROOT / "train"))
    from export import ATTRIBUTION, data_terms
    a, b = two
    attribution, licence = data_terms({"dataset_meta": open_datasets([a, b]).meta})
    assert "a: a people." in attribution and "b: b people." in attribution
    assert licence == "a: a licence; b: b licence"
    assert data_terms({}) == (ATTRIBUTION, "CC BY-NC 4.0")        # older checkpoints: Bandai's terms
    nc, _ = data_terms({"dataset_meta": {"name": "x", "attribution": "X Inc.", "license": "CC BY-NC 4.0"}})
    assert nc.startswith("Trained on: x: X Inc.") and "Non-commercial" in nc
