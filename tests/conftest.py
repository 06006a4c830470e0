"""Shared fixtures: a tiny random-weight model folder (hashing text encoder), built in seconds."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from momadiff.model import checkpoint
from momadiff.motion import features, skeleton
from momadiff.model.diffhead import HEAD_PRESETS, DiffusionHead
from momadiff.model.diffusion import ScheduleConfig
from momadiff.model.keyencoder import KeyEncoder, KeyEncoderConfig
from momadiff.sampler import SamplerConfig
from momadiff.model.text import HashingEncoder
from momadiff.model.transformer import TRANSFORMER_PRESETS, MaskedTransformer
from momadiff.model.vae import VAE_PRESETS, MotionVAE


def synthetic_walk(T: int = 80, seed: int = 0) -> np.ndarray:
    """The canonical rest pose walking forward along +Z with swinging arms and legs; the seed
    varies the pace, the stride and the phase (smoothly: no per-frame noise, which no model
    could learn)."""
    rng = np.random.default_rng(seed)
    pace, swing, phase = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2), rng.uniform(0, 2 * np.pi)
    rest = skeleton.rest_pose().astype(np.float64)
    t = np.arange(T)[:, None]
    s = np.sin(pace * t / 3 + phase)
    j = np.repeat(rest[None], T, axis=0)
    j[:, [18, 20], 2] += 0.15 * swing * s
    j[:, [19, 21], 2] -= 0.15 * swing * s
    j[:, [7, 10], 2] += 0.1 * swing * s
    j[:, [8, 11], 2] -= 0.1 * swing * s
    j[:, :, 2] += 0.05 * pace * t
    j[:, :, 1] += 0.01 * np.abs(s)
    return j.astype(np.float32)


def make_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A model folder (vae.pt + t2m.pt) with tiny random weights and the hashing text encoder."""
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    feats = features.joints_to_features(synthetic_walk(120, seed))
    mean = feats.mean(0).astype(np.float32)
    std = np.maximum(feats.std(0), 0.05).astype(np.float32)
    vcfg = VAE_PRESETS["tiny"]
    vae = MotionVAE(vcfg)
    kcfg = KeyEncoderConfig(latent_dim=vcfg.latent_dim, down=vcfg.down, width=32, depth=2)
    kenc = KeyEncoder(kcfg)
    checkpoint.save(folder / "vae.pt", {
        "kind": "vae", "config": asdict(vcfg), "model": vae.state_dict(), "key_encoder_config": asdict(kcfg),
        "key_encoder": kenc.state_dict(), "mean": torch.from_numpy(mean), "std": torch.from_numpy(std),
        "step": 0, "meta": {"note": "random weights for tests"}})
    text = HashingEncoder(dim=32)
    tcfg = dataclasses.replace(TRANSFORMER_PRESETS["tiny"], latent_dim=vcfg.latent_dim, text_dim=text.dim)
    hcfg = dataclasses.replace(HEAD_PRESETS["tiny"], latent_dim=vcfg.latent_dim, cond_dim=tcfg.d_model)
    model, head = MaskedTransformer(tcfg), DiffusionHead(hcfg)
    for p in head.parameters():   # AdaLN-Zero would make a random head output zeros
        torch.nn.init.normal_(p, std=0.05)
    checkpoint.save(folder / "t2m.pt", {
        "kind": "t2m", "config": asdict(tcfg), "model": model.state_dict(), "head_config": asdict(hcfg),
        "head": head.state_dict(), "schedule_config": asdict(ScheduleConfig()),
        "sampler_config": asdict(SamplerConfig(iterations=4, ddim_steps=4)), "text_encoder": "hash",
        "text_encoder_kwargs": {"dim": text.dim},
        "latent_mean": torch.zeros(vcfg.latent_dim), "latent_std": torch.ones(vcfg.latent_dim) * 0.5,
        "step": 0, "meta": {}})
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_model_dir):
    from momadiff import Pipeline
    return Pipeline.from_pretrained(tiny_model_dir)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes tens of seconds (still part of the default run)")


@pytest.fixture(scope="module")
def single_thread():
    """Tiny models gain nothing from threads, and two threads stall badly on a busy 2-core box:
    modules of tiny-model tests use it with pytestmark = pytest.mark.usefixtures("single_thread")."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
