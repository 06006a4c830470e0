"""Tests for the frame-level motion VAE (tiny preset, CPU, seeded)."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from momadiff.model.vae import VAE_PRESETS, MotionVAE, VAEConfig, fill_padding, frames_to_latent_mask, num_params, vae_loss

TINY = VAE_PRESETS["tiny"]


pytestmark = pytest.mark.usefixtures("single_thread")


def make_vae(seed: int = 0, **changes) -> MotionVAE:
    torch.manual_seed(seed)
    return MotionVAE(dataclasses.replace(TINY, **changes)).eval()


def smooth_motion(batch: int, frames: int, feat: int, seed: int) -> torch.Tensor:
    """Low-rank sinusoidal sequences [B, T, feat]: learnable, unlike white noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32)[None, :, None]             # [1, T, 1]
    freq = 0.05 + 0.3 * torch.rand(batch, 1, 6, generator=g)
    phase = 2 * math.pi * torch.rand(batch, 1, 6, generator=g)
    basis = torch.sin(freq * t + phase)                                      # [B, T, 6]
    return basis @ torch.randn(6, feat, generator=g) / 6 ** 0.5              # [B, T, feat]


@pytest.mark.parametrize("down", [1, 2, 4])
def test_shapes(down: int) -> None:
    vae = make_vae(down=down)
    x = torch.randn(2, 16, TINY.feat_dim)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (2, 16 // down, TINY.latent_dim)
    assert vae.decode(mu).shape == x.shape
    x_hat, mu2, _ = vae(x, generator=torch.Generator().manual_seed(0))
    assert x_hat.shape == x.shape and torch.equal(mu, mu2)


def test_bad_length_and_bad_config() -> None:
    vae = make_vae(down=4)
    with pytest.raises(ValueError, match="multiple"):
        vae.encode(torch.randn(1, 30, TINY.feat_dim))
    with pytest.raises(ValueError):
        VAEConfig(down=3)


def test_deterministic_given_seed() -> None:
    x = torch.randn(2, 16, TINY.feat_dim)
    a, b = make_vae(seed=3), make_vae(seed=3)
    out_a = a(x, generator=torch.Generator().manual_seed(7))[0]
    out_b = b(x, generator=torch.Generator().manual_seed(7))[0]
    assert torch.equal(out_a, out_b)
    out_c = a(x, generator=torch.Generator().manual_seed(8))[0]
    assert not torch.allclose(out_a, out_c)
    mu, _ = a.encode(x)
    assert torch.equal(a(x, sample=False)[0], a.decode(mu))


@pytest.mark.parametrize("linear_skip", [False, True])
def test_static_pose_has_window_independent_latent(linear_skip: bool) -> None:
    """Replicate padding: one pose repeated `down` frames encodes like a long static stretch."""
    vae = make_vae(seed=1, linear_skip=linear_skip)
    pose = torch.randn(1, 1, TINY.feat_dim)
    short_mu, _ = vae.encode(pose.expand(1, TINY.down, -1))                 # [1, 1, L]
    long_mu, _ = vae.encode(pose.expand(1, 12 * TINY.down, -1))             # [1, 12, L]
    assert torch.allclose(long_mu, short_mu.expand_as(long_mu), atol=1e-5)


@pytest.mark.parametrize("down", [1, 2, 4])
def test_linear_skip_is_a_linear_path(down: int) -> None:
    """With the networks' last layers zeroed, only the skip paths remain: encode and decode are
    affine maps (so they extend to inputs unlike any seen), and window n's latent depends only on
    frames n*down .. n*down+down-1."""
    vae = make_vae(seed=2, down=down, linear_skip=True)
    assert make_vae(down=down).enc_skip is None             # off by default: old checkpoints load
    with torch.no_grad():
        for net in (vae.encoder, vae.decoder):
            net[-1].weight.zero_()
            net[-1].bias.zero_()
    x1, x2 = torch.randn(2, 1, 16, TINY.feat_dim)
    zero = torch.zeros_like(x1)
    enc = lambda x: vae.encode(x)[0]  # noqa: E731
    assert torch.allclose(enc(x1 + 2 * x2) - enc(zero), (enc(x1) - enc(zero)) + 2 * (enc(x2) - enc(zero)), atol=1e-4)
    z1, z2 = enc(x1), enc(x2)
    dec0 = vae.decode(torch.zeros_like(z1))
    assert torch.allclose(vae.decode(z1 - z2) - dec0, (vae.decode(z1) - dec0) - (vae.decode(z2) - dec0), atol=1e-4)
    x3 = x1.clone()
    x3[:, :down] += 5.0                                      # change only the first window
    moved = (enc(x3) - enc(x1)).abs().sum(-1)[0]
    assert moved[0] > 0 and torch.all(moved[1:] == 0)
    # The full model (networks restored to random weights) is not affine.
    full = make_vae(seed=2, down=down, linear_skip=True)
    e = lambda x: full.encode(x)[0]  # noqa: E731
    assert not torch.allclose(e(2 * x1) - e(zero), 2 * (e(x1) - e(zero)), atol=1e-3)


def test_latent_noise_only_while_training() -> None:
    x = torch.randn(2, 16, TINY.feat_dim)
    plain, noisy = make_vae(seed=4), make_vae(seed=4, latent_noise=0.5)
    run = lambda vae: vae(x, generator=torch.Generator().manual_seed(1))[0]  # noqa: E731
    assert torch.equal(run(plain), run(noisy))               # eval mode: no extra noise
    plain.train(), noisy.train()
    assert not torch.allclose(run(plain), run(noisy))
    assert torch.equal(plain(x, sample=False)[0], noisy(x, sample=False)[0])
    # The extra noise has a std of latent_noise x each dimension's spread of the code.
    mu, logvar = noisy.encode(x)
    spread = mu.flatten(0, -2).std(dim=0)
    z_seen = []
    noisy.decode = lambda z, *_: z_seen.append(z) or z  # capture z
    noisy(x, generator=torch.Generator().manual_seed(1))
    eps_post = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    extra = z_seen[0] - (mu + torch.exp(0.5 * logvar) * eps_post)
    ratio = (extra.flatten(0, -2).std(dim=0) / (0.5 * spread)).median()
    assert 0.6 < ratio < 1.4


def test_highpass_latent_noise_only_while_training() -> None:
    # in the model: training-time noise only, as with white noise
    x = torch.randn(2, 16, TINY.feat_dim)
    plain, hpvae = make_vae(seed=4), make_vae(seed=4, latent_noise=0.5, noise_highpass=2.0)
    run = lambda vae: vae(x, generator=torch.Generator().manual_seed(1))[0]  # noqa: E731
    assert torch.equal(run(plain), run(hpvae))
    plain.train(), hpvae.train()
    assert not torch.allclose(run(plain), run(hpvae))


@pytest.mark.parametrize("layers", [1, 5])
def test_noise_conditioned_decoder_starts_as_the_plain_one(layers: int) -> None:
    # Zero-initialised conditioning: an untrained (or freshly added) one decodes every level as 0,
    # exactly as the same decoder without it.
    z = torch.randn(2, 4, TINY.latent_dim)
    plain, cond = make_vae(seed=5, linear_skip=True), make_vae(seed=5, linear_skip=True, noise_cond=layers)
    assert len(cond._film_layers) == layers
    with pytest.raises(ValueError, match="layers to modulate"):
        make_vae(noise_cond=6)                # the tiny decoder has 5 hidden layers
    assert torch.equal(cond.decode(z), plain.decode(z))
    assert torch.equal(cond.decode(z, 0.3), plain.decode(z))
    assert torch.equal(cond.decode(z, torch.tensor([0.0, 0.3])), plain.decode(z))
    # Once its weights move, the level changes the output, per sequence.
    torch.nn.init.normal_(cond.noise_film[-1].weight, std=0.5)
    a, b = cond.decode(z, torch.tensor([0.0, 0.3])), cond.decode(z, 0.0)
    assert torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1])


def test_noise_conditioned_training_draws_a_level_per_window_and_tells_the_decoder() -> None:
    x = smooth_motion(64, 64, TINY.feat_dim, seed=3)
    vae = make_vae(seed=6, latent_noise=0.5, noise_cond=True).train()
    seen = []
    vae.decode = lambda z, level=0.0: seen.append((z, level)) or torch.zeros(len(z), 64, TINY.feat_dim)
    vae(x, generator=torch.Generator().manual_seed(2))
    z, level = seen[0]
    assert level.shape == (64,) and float(level.min()) == 0.0 and float(level.max()) <= 0.5
    assert 8 <= int((level == 0).sum()) <= 28                  # about a quarter exactly clean
    assert float(level.max()) > 0.3 and len(set(level.tolist())) > 20
    # The noise each window got is as large as the level it was told, in units of the code's spread.
    with torch.no_grad():
        mu, logvar = vae.encode(x)
    eps_post = torch.randn(mu.shape, generator=torch.Generator().manual_seed(2))
    spread = mu.flatten(0, -2).std(dim=0)
    extra = ((z.detach() - (mu + torch.exp(0.5 * logvar) * eps_post)) / spread).flatten(1).std(dim=1)   # [B]
    assert torch.all(extra[level == 0] == 0)
    ratio = extra[level > 0.1] / level[level > 0.1]
    assert 0.75 < float(ratio.min()) and float(ratio.max()) < 1.25
    # and the conditioning learns: the loss reaches its weights
    del vae.decode
    x_hat, mu, logvar = vae(x, generator=torch.Generator().manual_seed(2))
    vae_loss(x, x_hat, mu, logvar, vae.log_scale, vae.config)["loss"].backward()
    assert vae.noise_film[-1].weight.grad.abs().sum() > 0


def test_receptive_field_matches_gradient() -> None:
    for down in (1, 2, 4):
        vae = make_vae(down=down)
        x = torch.randn(1, 128, TINY.feat_dim, requires_grad=True)
        mu, _ = vae.encode(x)
        mu[0, mu.shape[1] // 2].sum().backward()
        touched = (x.grad[0].abs().sum(-1) > 0).nonzero().squeeze(-1)
        assert touched.max() - touched.min() + 1 == vae.encoder_receptive_field


def test_kl_zero_for_standard_normal() -> None:
    x = torch.randn(2, 16, TINY.feat_dim)
    mu = torch.zeros(2, 4, TINY.latent_dim)
    out = vae_loss(x, x.clone(), mu, torch.zeros_like(mu), torch.zeros(()), TINY)
    assert out["kl"].item() == 0.0
    assert out["l1"].item() == 0.0 and out["vel"].item() == 0.0
    assert out["loss"].item() == 0.0


def test_loss_terms() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, TINY.feat_dim, generator=g)
    x_hat = torch.randn(2, 16, TINY.feat_dim, generator=g)
    mu = torch.randn(2, 4, TINY.latent_dim, generator=g)
    logvar = torch.randn(2, 4, TINY.latent_dim, generator=g)
    proj = torch.randn(TINY.feat_dim, 22 * 3, generator=g)
    positions = lambda f: (f @ proj).unflatten(-1, (22, 3))                 # noqa: E731
    log_scale = torch.tensor(0.3)
    out = vae_loss(x, x_hat, mu, logvar, log_scale, TINY, positions_fn=positions)
    l1 = (x - x_hat).abs().mean()
    assert torch.allclose(out["l1"], l1)
    assert torch.allclose(out["nll"], ((x - x_hat).abs() * torch.exp(-log_scale) + log_scale).mean())
    assert torch.allclose(out["kl"], (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).mean())
    assert out["vel"] > 0
    pos = (positions(x) - positions(x_hat)).abs().mean()
    assert torch.allclose(out["pos"], pos)
    root = (x - x_hat)[..., :TINY.root_dims].abs().mean()
    assert torch.allclose(out["root"], root)
    expected = (out["nll"] + TINY.kl_weight * out["kl"] + TINY.vel_weight * out["vel"]
                + TINY.pos_weight * pos + TINY.root_weight * root * torch.exp(-log_scale))
    assert torch.allclose(out["loss"], expected)
    assert all(torch.isfinite(v) for v in out.values())


def test_masks_and_padding_fill() -> None:
    valid = torch.tensor([[True] * 5 + [False] * 3, [False, True, True] + [False] * 5])
    assert frames_to_latent_mask(valid, 4).tolist() == [[True, True], [True, False]]
    x = torch.arange(8.0).view(1, 8, 1).repeat(2, 1, 1)
    filled = fill_padding(x, valid)[..., 0]
    assert filled.tolist() == [[0, 1, 2, 3, 4, 4, 4, 4], [1, 1, 2, 2, 2, 2, 2, 2]]


def test_valid_mask_respected() -> None:
    vae = make_vae(seed=2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, TINY.feat_dim, generator=g)
    valid = torch.ones(2, 16, dtype=torch.bool)
    valid[0, 10:] = False
    valid[1, 5:] = False
    garbage = x.clone()
    garbage[~valid] = torch.randn(int((~valid).sum()), TINY.feat_dim, generator=g) * 50
    proj = torch.randn(TINY.feat_dim, 22 * 3, generator=g)
    positions = lambda f: (f @ proj).unflatten(-1, (22, 3))                 # noqa: E731

    def loss_of(inp: torch.Tensor) -> dict[str, torch.Tensor]:
        x_hat, mu, logvar = vae(inp, sample=False, valid=valid)
        return vae_loss(inp, x_hat, mu, logvar, vae.log_scale, TINY, positions, valid)

    clean, dirty = loss_of(x), loss_of(garbage)
    for name in clean:
        assert torch.allclose(clean[name], dirty[name]), name

    # At the loss level alone, even non-finite padding cannot leak.
    x_hat, mu, logvar = vae(x, sample=False, valid=valid)
    bad_hat = x_hat.clone()
    bad_hat[~valid] = float("nan")
    out = vae_loss(x, bad_hat, mu, logvar, vae.log_scale, TINY, positions, valid)
    for name in clean:
        assert torch.allclose(out[name], clean[name]), name


def test_overfit_small_batch() -> None:
    torch.manual_seed(0)
    vae = MotionVAE(TINY).train()
    x = smooth_motion(4, 32, TINY.feat_dim, seed=0)
    proj = torch.randn(TINY.feat_dim, 22 * 3, generator=torch.Generator().manual_seed(1)) / 16
    positions = lambda f: (f @ proj).unflatten(-1, (22, 3))                 # noqa: E731
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    history = []
    for _ in range(150):
        x_hat, mu, logvar = vae(x, generator=g)
        out = vae_loss(x, x_hat, mu, logvar, vae.log_scale, TINY, positions)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        history.append({k: v.item() for k, v in out.items()})
    assert all(math.isfinite(v) for h in history for v in h.values())
    first, last = history[0], history[-1]
    assert last["loss"] < first["loss"] - 0.5
    assert last["l1"] < 0.5 * first["l1"]
    assert last["vel"] < first["vel"]


def test_num_params() -> None:
    vae = make_vae()
    assert num_params(vae) == sum(p.numel() for p in vae.parameters())


def test_config_alias() -> None:
    vae = make_vae()
