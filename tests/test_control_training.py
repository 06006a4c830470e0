"""train_transformer --control=true on a tiny synthetic set: starts from a model without the control
input, resumes, and the control input it learns lowers the constraint error (before correction)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import synthetic_walk
from momadiff.data.constraints import draw_eval
from momadiff.data.dataset import MotionDataset, write_dataset
from momadiff.model import checkpoint
from momadiff.model.control import control_features
from momadiff.motion import features
from momadiff.motion.rotation import axis_angle_matrix
from momadiff.sampler import iter_sample

ROOT = Path(__file__).resolve().parent.parent


def curved_walk(T: int, turn: float, seed: int) -> np.ndarray:
    """synthetic_walk bent into an arc: the body turns `turn` radians a frame and walks where it faces."""
    j = synthetic_walk(T, seed).astype(np.float64)
    root = j[:, :1].copy()
    root[..., 1] = 0
    rot = axis_angle_matrix("Y", turn * np.arange(T))
    step = np.diff(root[:, 0], axis=0)
    path = np.concatenate([np.zeros((1, 3)), np.cumsum(np.einsum("tij,tj->ti", rot[1:], step), axis=0)])
    return (np.einsum("tij,tkj->tki", rot, j - root) + path[:, None]).astype(np.float32)


@pytest.fixture(scope="module")
def curves(tmp_path_factory):
    """Walks that differ only in how they curve, all with the same caption: only a path can tell them apart."""
    out = tmp_path_factory.mktemp("curves")
    clips, feats, joints = [], [], []
    for i, turn in enumerate([-0.03, 0.0, 0.03, 0.015, -0.015, 0.02]):
        f = features.joints_to_features(curved_walk(81, turn, i))
        feats.append(f)
        joints.append(features.features_to_joints(f))
        clips.append({"id": f"c{i}", "source": "synthetic", "dataset": "test", "content": "walk", "style": "normal",
                      "split": "train" if i < 5 else "val", "captions": ["a person walks"], "paraphrases": [],
                      "mirror_captions": ["a person walks"]})
    write_dataset(out, clips, feats, joints, {"name": "curves"})
    return out


def run(script, *args):
    r = subprocess.run([sys.executable, str(ROOT / "train" / script), *args], capture_output=True, text=True,
                       timeout=600, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return r


def raw_error(pipe, ds: MotionDataset, use_control: bool) -> float:
    """Mean constraint error of generated, uncorrected motions (path, hand and foot targets of the
    training clips), with the model's control input or without it."""
    errs = []
    for i in ds.split("train"):
        joints = features.features_to_joints(ds.features(i))
        T = len(joints)
        n = -(-T // pipe.down)
        for seed in range(2):
            for kind in ("path", "hands", "feet"):
                c = draw_eval(joints, np.random.default_rng(seed), kind)
                ctl = torch.from_numpy(control_features(c.targets, c.mask, c.heading, c.heading_mask, pipe.down, n))
                stages = list(iter_sample(pipe.transformer, pipe.head, pipe.schedule, pipe.encode_text("a person walks"),
                                          n, pipe.sampler, torch.Generator().manual_seed(seed),
                                          control=ctl if use_control else None))
                errs.append(c.error(pipe.decode(stages[-1].latents, T, noise=pipe.sampler.decode_noise)).mean())
    return float(np.mean(errs))


@pytest.fixture(scope="module")
def control_run(curves, tmp_path_factory):
    """A plain tiny model, then a control run from it (560 steps, resumed to 600); the checks of
    the training side run here, each test below reads the result."""
    tmp_path = tmp_path_factory.mktemp("control_run")
    vae = tmp_path / "vae"
    r = run("train_vae.py", f"--data={curves}", f"--out={vae}", "--preset=tiny", "--crop=16", "--batch=8",
            "--steps=300", "--threads=1", "--val_every=100000", "--lr=3e-3", "--warmup=10", "--aug_copies=0")
    assert r.returncode == 0, r.stderr[-2000:]
    common = [f"--data={curves}", f"--vae={vae / 'vae.pt'}", "--preset=tiny", "--head_preset=tiny",
              "--text_encoder=hash", "--batch=16", "--threads=1", "--val_every=100000"]
    plain, ctl = tmp_path / "plain", tmp_path / "ctl"
    assert run("train_transformer.py", *common, f"--out={plain}", "--steps=20").returncode == 0
    # From the plain model: the control input is added (at zero), everything else loaded.
    r = run("train_transformer.py", *common, f"--out={ctl}", "--steps=560", "--lr=2e-3", "--warmup=20",
            "--control=true", f"--init_from={plain / 't2m.pt'}", "--val_every=280", "--log_every=20")
    assert r.returncode == 0 and "initialised from" in r.stdout, r.stderr[-2000:]
    # the log shows the validation loss with and without the constraints
    import csv
    rows = [r for r in csv.DictReader(open(ctl / "log.csv")) if r["val_loss"]]
    assert len(rows) == 2 and all(float(r["val_loss_no_control"]) > 0 for r in rows)
    r = run("train_transformer.py", *common, f"--out={ctl}", "--steps=600", "--lr=2e-3", "--warmup=20",
            "--control=true", f"--init_from={plain / 't2m.pt'}", "--resume=true")
    assert r.returncode == 0 and "resumed" in r.stdout, r.stderr[-2000:]
    ck = checkpoint.load(ctl / "t2m.pt")
    down = checkpoint.load(vae / "vae.pt")["config"]["down"]
    assert ck["step"] == 600 and ck["config"]["control_frames"] == down and "control_in.out.weight" in ck["model_ema"]
    # resuming it without --control is refused with a message, not a shape error
    r = run("train_transformer.py", *common, f"--out={ctl}", "--steps=610", "--resume=true")
    assert r.returncode != 0 and "resume it the same way" in r.stdout + r.stderr
    return ctl


@pytest.mark.slow
def test_control_training_starts_from_a_plain_model_and_resumes(control_run):
    assert (control_run / "t2m.pt").is_file()


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the control input is not yet shown to be learnt: it passed with one "
                   "sequence of training draws (0.96 against 1.33 m) and fails with another (1.13 against "
                   "1.08); the Bandai runs showed no effect either (README, What is not good yet)")
def test_control_input_lowers_constraint_error(control_run, curves):
    from momadiff import Pipeline
    torch.set_num_threads(1)
    pipe = Pipeline.from_pretrained(control_run)
    ds = MotionDataset(curves)
    with_control, without = raw_error(pipe, ds, True), raw_error(pipe, ds, False)
    assert with_control < 0.85 * without, (with_control, without)
