"""Tests for the MLP diffusion head (AdaLN-Zero)."""
from __future__ import annotations

import torch

from momadiff.model.diffhead import HEAD_PRESETS, DiffHeadConfig, DiffusionHead, timestep_embedding


def _inputs(cfg: DiffHeadConfig, m: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(m, cfg.latent_dim, generator=g)
    t = torch.randint(0, 1000, (m,), generator=g)
    c = torch.randn(m, cfg.cond_dim, generator=g)
    return x, t, c


def _perturbed_head(cfg: DiffHeadConfig, seed: int = 0) -> DiffusionHead:
    """A head with every weight random, so zero-init does not hide bugs."""
    g = torch.Generator().manual_seed(seed)
    head = DiffusionHead(cfg, generator=g)
    with torch.no_grad():
        for p in head.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return head


def test_presets():
    tiny = HEAD_PRESETS["tiny"]
    assert (tiny.width, tiny.depth, tiny.latent_dim, tiny.cond_dim) == (32, 2, 8, 32)
    assert HEAD_PRESETS["small"] == DiffHeadConfig()


def test_untrained_head_outputs_exact_zeros():
    for cfg in HEAD_PRESETS.values():
        head = DiffusionHead(cfg)
        x, t, c = _inputs(cfg, 17)
        out = head(x, t, c)
        assert out.shape == (17, cfg.latent_dim)
        assert torch.equal(out, torch.zeros_like(out))


def test_modulation_layers_zero_initialised():
    head = DiffusionHead(HEAD_PRESETS["tiny"])
    zero = [b.modulation for b in head.blocks] + [head.final.modulation, head.final.linear]
    for layer in zero:
        assert torch.count_nonzero(layer.weight) == 0 and torch.count_nonzero(layer.bias) == 0
    assert torch.count_nonzero(head.input_proj.weight) > 0


def test_one_step_of_training_makes_output_nonzero_and_reaches_all_layers():
    cfg = HEAD_PRESETS["tiny"]
    head = DiffusionHead(cfg, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    x, t, c = _inputs(cfg, 32)
    target = torch.randn(32, cfg.latent_dim, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        opt.zero_grad()
        ((head(x, t, c) - target) ** 2).mean().backward()
        opt.step()
    assert head(x, t, c).abs().sum() > 0
    # After a few steps the gradient has reached the zero-initialised gates too.
    assert all(torch.count_nonzero(b.modulation.weight) > 0 for b in head.blocks)


def test_rows_are_independent_and_depend_on_t_and_c():
    cfg = HEAD_PRESETS["tiny"]
    head = _perturbed_head(cfg)
    x, t, c = _inputs(cfg, 8)
    out = head(x, t, c)
    single = torch.cat([head(x[i:i + 1], t[i:i + 1], c[i:i + 1]) for i in range(8)])
    torch.testing.assert_close(out, single, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(head(x, t, torch.zeros_like(c)), out)
    assert not torch.allclose(head(x, (t + 300) % 1000, c), out)


def test_float_and_integer_timesteps_agree():
    cfg = HEAD_PRESETS["tiny"]
    head = _perturbed_head(cfg)
    x, t, c = _inputs(cfg, 5)
    torch.testing.assert_close(head(x, t, c), head(x, t.float(), c))


def test_generator_makes_init_reproducible():
    cfg = HEAD_PRESETS["tiny"]
    a = DiffusionHead(cfg, generator=torch.Generator().manual_seed(3))
    b = DiffusionHead(cfg, generator=torch.Generator().manual_seed(3))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_timestep_embedding():
    t = torch.tensor([0, 10, 999])
    emb = timestep_embedding(t, 64)
    assert emb.shape == (3, 64)
    # t = 0: cos part is 1, sin part is 0.
    torch.testing.assert_close(emb[0], torch.cat([torch.ones(32), torch.zeros(32)]))
    assert timestep_embedding(t, 7).shape == (3, 7)
    assert not torch.allclose(emb[1], emb[2])
