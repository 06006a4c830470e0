"""The training scripts on a 4-clip synthetic dataset: loss falls, resume continues, DDP runs."""
import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import synthetic_walk
from momadiff.model import checkpoint
from momadiff.motion import features
from momadiff.data.dataset import write_dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "train"))   # the training scripts' helpers, imported by some tests


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    clips, feats, joints = [], [], []
    for i, (n, cap) in enumerate([(61, "a person walks forward"), (81, "someone walks quickly"),
                                  (49, "a person walks slowly"), (73, "a man strolls ahead")]):
        j = synthetic_walk(n, seed=i)
        f = features.joints_to_features(j)
        feats.append(f)
        joints.append(features.features_to_joints(f))
        clips.append({"id": f"c{i}", "source": "synthetic", "dataset": "test", "content": "walk",
                      "style": "normal", "split": "train" if i < 3 else "val",
                      "captions": [cap, cap + " in a line"], "paraphrases": [cap], "mirror_captions": [cap]})
    clips[3]["split"] = "val"
    write_dataset(out, clips, feats, joints, {"name": "tiny"})
    return out


def run(script, *args, env=None):
    cmd = [sys.executable, str(ROOT / "train" / script), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


def losses(run_dir, key="loss"):
    return [float(r[key]) for r in csv.DictReader(open(run_dir / "log.csv")) if r[key]]


def test_vae_overfits_and_resumes(tiny_data, tmp_path):
    out = tmp_path / "vae"
    common = [f"--data={tiny_data}", f"--out={out}", "--preset=tiny", "--crop=16", "--batch=8",
              "--log_every=10", "--val_every=100000", "--threads=1", "--lr=3e-3", "--warmup=10",
              "--aug_copies=0"]   # overfitting three clips: no limb-turned copies to dilute them
    run("train_vae.py", *common, "--steps=200")
    # The total can go negative (Laplace NLL); reconstruction error in joint space must fall.
    pos, l1 = losses(out, "pos"), losses(out, "l1")
    assert np.mean(pos[-3:]) < 0.5 * pos[0] and np.mean(l1[-3:]) < l1[0]
    ck = checkpoint.load(out / "vae.pt", kind="vae")
    assert ck["step"] == 200 and "model_ema" in ck and ck["mean"].shape == (263,)
    r = run("train_vae.py", *common, "--steps=220", "--resume")
    assert "resumed" in r.stdout and checkpoint.load(out / "vae.pt")["step"] == 220

    # Decoder-only fine-tuning from that checkpoint: encoder and key encoder stay bit-identical (so
    # latents, and a transformer trained on them, stay valid); the decoder moves; overrides apply.
    tuned = tmp_path / "tuned"
    run("train_vae.py", *[c for c in common if not c.startswith("--out")], f"--out={tuned}", "--steps=30",
        f"--init_from={out / 'vae.pt'}", "--decoder_only=true", "--latent_noise=0.3")
    a, b = checkpoint.load(out / "vae.pt"), checkpoint.load(tuned / "vae.pt")
    assert b["config"]["latent_noise"] == 0.3 and b["step"] == 30
    frozen = [k for k in a["model_ema"] if k.startswith("encoder.")]
    assert frozen and all(torch.equal(a["model_ema"][k], b["model_ema"][k]) for k in frozen)
    assert all(torch.equal(v, b["key_encoder_ema"][k]) for k, v in a["key_encoder_ema"].items())
    assert not all(torch.equal(v, b["model_ema"][k]) for k, v in a["model_ema"].items() if k.startswith("decoder."))
    # so the transformer's latent cache is still valid for it, and only for it
    from train_transformer import encoder_fingerprint
    assert encoder_fingerprint(a) == encoder_fingerprint(b)
    moved = {**a, "model_ema": {**a["model_ema"], frozen[0]: a["model_ema"][frozen[0]] + 1e-4}}
    assert encoder_fingerprint(moved) != encoder_fingerprint(a)
    assert encoder_fingerprint({**a, "std": a["std"] * 1.01}) != encoder_fingerprint(a)
    with pytest.raises(AssertionError):
        run("train_vae.py", *common, "--steps=5", "--decoder_only=true")   # needs --init_from

    # Noise conditioning on a decoder that has one of fewer layers: it starts from the other
    # weights, and resumes from its own checkpoint (not the starting one's smaller conditioning).
    base = [c for c in common if not c.startswith("--out")] + ["--decoder_only=true"]
    run("train_vae.py", *base, f"--out={tmp_path / 'nc1'}", "--steps=5", f"--init_from={out / 'vae.pt'}", "--noise_cond=1")
    deeper = [*base, f"--out={tmp_path / 'nc2'}", f"--init_from={tmp_path / 'nc1' / 'vae.pt'}", "--noise_cond=2"]
    run("train_vae.py", *deeper, "--steps=5")
    r = run("train_vae.py", *deeper, "--steps=8", "--resume")
    nc2 = checkpoint.load(tmp_path / "nc2" / "vae.pt")
    assert "resumed" in r.stdout and nc2["step"] == 8 and nc2["config"]["noise_cond"] == 2


def test_transformer_overfits_and_loads_as_pipeline(tiny_data, tmp_path):
    vae = tmp_path / "vae"
    run("train_vae.py", f"--data={tiny_data}", f"--out={vae}", "--preset=tiny", "--crop=16", "--batch=8",
        "--steps=60", "--threads=1", "--val_every=100000")
    out = tmp_path / "t2m"
    run("train_transformer.py", f"--data={tiny_data}", f"--vae={vae / 'vae.pt'}", f"--out={out}",
        "--preset=tiny", "--head_preset=tiny", "--text_encoder=hash", "--batch=16", "--steps=300",
        "--log_every=20", "--threads=1", "--lr=2e-3", "--warmup=20", "--val_every=100")
    l = losses(out)
    assert np.mean(l[-3:]) < 0.7 * np.mean(l[:2])
    # Validation loss: fixed batches of the held-out clip, EMA weights, every 100 steps. (Three
    # training clips overfit, so its direction here says nothing; it must be there and move.)
    val = losses(out, "val_loss")
    assert len(val) == 3 and np.isfinite(val).all() and len(set(val)) == 3
    # --init_from: a new run starting from those weights (fresh optimizer, step 0) starts where
    # the first run ended, not where it began
    moved = tmp_path / "moved"
    r = run("train_transformer.py", f"--data={tiny_data}", f"--vae={vae / 'vae.pt'}", f"--out={moved}",
            "--preset=tiny", "--head_preset=tiny", "--text_encoder=hash", "--batch=16", "--steps=4",
            "--log_every=1", "--threads=1", "--lr=1e-5", "--warmup=1", "--val_every=100000",
            f"--init_from={out / 't2m.pt'}")
    assert "initialised from" in r.stdout and checkpoint.load(moved / "t2m.pt")["step"] == 4
    assert np.mean(losses(moved)) < 0.8 * np.mean(l[:2])
    # A decoder-only fine-tuning of the VAE (same encoder): the cached latents are kept (no
    # re-encoding) and the run folder's vae.pt becomes the new one, which the model folder decodes with.
    ck = checkpoint.load(vae / "vae.pt")
    name = next(k for k in ck["model_ema"] if k.startswith("decoder."))
    ck["model_ema"] = {**ck["model_ema"], name: ck["model_ema"][name] + 0.01}
    checkpoint.save(tmp_path / "vae_dec.pt", ck)
    r = run("train_transformer.py", f"--data={tiny_data}", f"--vae={tmp_path / 'vae_dec.pt'}", f"--out={moved}",
            "--preset=tiny", "--head_preset=tiny", "--text_encoder=hash", "--batch=16", "--steps=5",
            "--threads=1", "--val_every=100000", "--resume=true")
    assert "resumed" in r.stdout and "encoding clips" not in r.stderr
    assert torch.equal(checkpoint.load(moved / "vae.pt")["model_ema"][name], ck["model_ema"][name])
    from momadiff import Pipeline
    pipe = Pipeline.from_pretrained(out)
    m = pipe.generate("a person walks forward", seconds=2.0, seed=0)
    assert m.joints.shape == (40, 22, 3) and np.isfinite(m.joints).all()
    # the shipped form: EMA weights in float16, no optimizer; generates nearly the same motion
    ship = tmp_path / "ship"
    run("export.py", f"--vae={vae / 'vae.pt'}", f"--t2m={out / 't2m.pt'}", f"--out={ship}", "--cfg_scale=2.5",
        "--noise_corr=2")
    assert (ship / "t2m.pt").stat().st_size < 0.5 * (out / "t2m.pt").stat().st_size
    assert "optimizer" not in checkpoint.load(ship / "t2m.pt")
    # an exported vae.pt (EMA weights only, as "model") can be trained on too: its own fingerprint
    from train_transformer import encoder_fingerprint
    shipped_vae = checkpoint.load(ship / "vae.pt")
    assert "model_ema" not in shipped_vae
    assert encoder_fingerprint(shipped_vae) != encoder_fingerprint(checkpoint.load(vae / "vae.pt"))
    p16 = Pipeline.from_pretrained(ship)
    assert p16.sampler.cfg_scale == 2.5 != pipe.sampler.cfg_scale
    assert p16.sampler.noise_corr == 2.0 != pipe.sampler.noise_corr
    p16.sampler = dataclasses.replace(p16.sampler, noise_corr=pipe.sampler.noise_corr)
    m16 = p16.generate("a person walks forward", seconds=2.0, seed=0, cfg_scale=pipe.sampler.cfg_scale)
    assert np.abs(m16.joints - m.joints).mean() < 0.05


def test_ddp_two_processes(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           str(ROOT / "train" / "train_vae.py"), f"--data={tiny_data}", f"--out={out}", "--preset=tiny",
           "--crop=16", "--batch=4", "--steps=20", "--log_every=10", "--threads=1", "--val_every=100000"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    ck = checkpoint.load(out / "vae.pt", kind="vae")
    assert ck["step"] == 20
    rows = list(csv.DictReader(open(out / "log.csv")))
    # clips/s counts both processes' batches
    assert rows and float(rows[-1]["clips_per_s"]) > 0


def test_content_balanced_sampling():
    import train_transformer as tt
    from momadiff.data.multi import group_weights
    contents = ["wave"] * 90 + ["bow"] * 10
    assert group_weights(contents, 0.0) is None
    w = group_weights(contents, 1.0)
    assert np.isclose(w.sum(), 1) and np.isclose(w[:90].sum(), 0.5)           # every content equally often
    w = group_weights(contents, 0.5)
    assert np.isclose(w[:90].sum() / w[90:].sum(), 3.0)                          # sqrt(90/10)
    # make_batch draws by those weights
    clips = [{"mu": torch.zeros(4 if c == "bow" else 6, 2), "keys": torch.zeros(4 if c == "bow" else 6, 2, 2)}
             for c in contents]
    caps = [np.zeros((1, 3), np.float32)] * len(clips)
    cfg = tt.Config(batch=2000)
    pad = tt.make_batch(clips, caps, cfg, 128, np.random.default_rng(0), group_weights(contents, 1.0))[3]
    bows = float(((~pad).sum(1) == 4).float().mean())
    assert 0.45 < bows < 0.55
    pad = tt.make_batch(clips, caps, cfg, 128, np.random.default_rng(0))[3]
    assert 0.07 < float(((~pad).sum(1) == 4).float().mean()) < 0.13            # uniform: 10%


def test_a_checkpoint_config_from_when_noise_cond_was_a_flag_takes_a_layer_count():
    # The shipped vae.pt was written when noise_cond was a bool: its True is one layer, and
    # --noise_cond=4 on top of it (train_vae.py --init_from) must parse as a count.
    from common import parse_overrides
    from momadiff.model.vae import VAEConfig
    old = VAEConfig(**{**dataclasses.asdict(VAEConfig()), "noise_cond": True})
    assert old.noise_cond == 1 and type(old.noise_cond) is int
    new, extra = parse_overrides(old, ["--noise_cond=4"])
    assert new.noise_cond == 4 and not extra
