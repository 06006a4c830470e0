"""Tests for the masked transformer (tiny preset, CPU, seeded)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from momadiff.model.transformer import TRANSFORMER_PRESETS, MaskedTransformer, TransformerConfig

TINY = TRANSFORMER_PRESETS["tiny"]
B, N = 3, 10


pytestmark = pytest.mark.usefixtures("single_thread")


def make_model(seed: int = 0, **changes) -> MaskedTransformer:
    torch.manual_seed(seed)
    return MaskedTransformer(dataclasses.replace(TINY, **changes)).eval()


def inputs(seed: int = 0, n: int = N) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(B, n, TINY.latent_dim, generator=g)
    masked = torch.rand(B, n, generator=g) < 0.5
    masked[:, 0] = True
    masked[:, 1] = False
    text = torch.randn(B, TINY.text_dim, generator=g)
    return latents, masked, text


def test_output_shape_and_cond_dim() -> None:
    model = make_model()
    latents, masked, text = inputs()
    out = model(latents, masked, text)
    assert out.shape == (B, N, TINY.d_model)
    assert model.cond_dim == TINY.d_model
    assert torch.isfinite(out).all()


def test_too_many_latents() -> None:
    model = make_model()
    latents, masked, text = inputs(n=TINY.max_latents + 1)
    with pytest.raises(ValueError, match="max_latents"):
        model(latents, masked, text)
    assert model(*inputs(n=TINY.max_latents)).shape[1] == TINY.max_latents


def test_bad_config() -> None:
    with pytest.raises(ValueError):
        TransformerConfig(d_model=30, n_heads=4)


def test_masked_values_do_not_leak() -> None:
    model = make_model()
    latents, masked, text = inputs()
    other = latents.clone()
    other[masked] = torch.randn(int(masked.sum()), TINY.latent_dim) * 100
    nan = latents.clone()
    nan[masked] = float("nan")
    ref = model(latents, masked, text)
    assert torch.equal(ref, model(other, masked, text))
    assert torch.equal(ref, model(nan, masked, text))
    # Sanity: a visible latent's value does matter.
    changed = latents.clone()
    changed[:, 1] += 1.0
    assert not torch.allclose(ref, model(changed, masked, text))


def test_padding_does_not_leak() -> None:
    model = make_model()
    latents, masked, text = inputs()
    ref = model(latents, masked, text)
    extra = 6
    g = torch.Generator().manual_seed(5)
    padded = torch.cat([latents, 1e3 * torch.randn(B, extra, TINY.latent_dim, generator=g)], dim=1)
    padded[:, -1] = float("nan")
    masked_p = torch.cat([masked, torch.rand(B, extra, generator=g) < 0.5], dim=1)
    pad = torch.zeros(B, N + extra, dtype=torch.bool)
    pad[:, N:] = True
    key = torch.zeros(B, N + extra, dtype=torch.bool)
    key[:, N + 1] = True
    out = model(padded, masked_p, text, pad=pad, key=key)
    assert torch.allclose(out[:, :N], ref, atol=1e-5)
    assert torch.isfinite(out).all()


def test_padding_is_per_sample() -> None:
    """Each sample's padding hides only its own tail; a shorter sample matches running it alone."""
    model = make_model()
    latents, masked, text = inputs()
    pad = torch.zeros(B, N, dtype=torch.bool)
    pad[0, 6:] = True
    out = model(latents, masked, text, pad=pad)
    alone = model(latents[:1, :6], masked[:1, :6], text[:1])
    assert torch.allclose(out[0, :6], alone[0], atol=1e-5)
    assert torch.allclose(out[1:], model(latents[1:], masked[1:], text[1:]), atol=1e-5)


def test_drop_text() -> None:
    model = make_model()
    latents, masked, text = inputs()
    ref = model(latents, masked, text)
    none_dropped = model(latents, masked, text, drop_text=torch.zeros(B, dtype=torch.bool))
    assert torch.equal(ref, none_dropped)
    drop = torch.tensor([True, False, True])
    out = model(latents, masked, text, drop_text=drop)
    assert not torch.allclose(out[0], ref[0]) and not torch.allclose(out[2], ref[2])
    assert torch.allclose(out[1], ref[1], atol=1e-6)
    # A dropped text is ignored entirely.
    out2 = model(latents, masked, torch.randn(B, TINY.text_dim), drop_text=torch.ones(B, dtype=torch.bool))
    assert torch.allclose(model(latents, masked, text, drop_text=torch.ones(B, dtype=torch.bool)), out2)


def test_key_embedding_changes_output() -> None:
    model = make_model()
    latents, masked, text = inputs()
    ref = model(latents, masked, text)
    assert torch.equal(ref, model(latents, masked, text, key=torch.zeros(B, N, dtype=torch.bool)))
    key = torch.zeros(B, N, dtype=torch.bool)
    key[:, 1] = True
    assert not torch.allclose(ref, model(latents, masked, text, key=key))


def test_gradients_reach_embeddings() -> None:
    model = make_model().train()
    latents, masked, text = inputs()
    key = torch.zeros(B, N, dtype=torch.bool)
    key[:, 1] = True
    out = model(latents, masked, text, drop_text=torch.tensor([True, False, False]), key=key)
    out.pow(2).mean().backward()
    for name in ("mask_emb", "null_text", "key_emb", "pos_emb"):
        grad = getattr(model, name).grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert all(p.grad is not None for p in model.parameters())


def test_deterministic_init() -> None:
    a, b = make_model(seed=4), make_model(seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert 0.01 < a.mask_emb.std().item() < 0.04


def test_padding_and_masking_under_inference_mode() -> None:
    """The sampler runs under inference_mode, where PyTorch takes its fused encoder fast path."""
    with torch.inference_mode():
        test_masked_values_do_not_leak()
        test_padding_does_not_leak()
        test_padding_is_per_sample()


def test_config_alias() -> None:
    model = make_model()
