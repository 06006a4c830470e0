"""Time-shaped noise: correlated for sampling, high-passed for training the decoder."""
import numpy as np
import torch

from momadiff.model import noise


def lag_correlation(x, lag=1):
    """Correlation between rows i and i+lag of [N, D], each dim an independent draw; mean over i."""
    a, b = x[:-lag], x[lag:]
    return float(((a * b).mean(1) / (a.std(1) * b.std(1))).mean())


def test_smooth_noise_unit_variance_and_correlated_over_time():
    g = torch.Generator().manual_seed(0)
    x = noise.smooth(60, 2000, 2.0, g)
    assert x.shape == (60, 2000)
    # every latent's starting noise is still N(0, I), the first and last rows included
    std = x.std(dim=1)
    assert torch.all((std > 0.95) & (std < 1.05)), std
    assert abs(float(x.mean())) < 0.02
    # Gaussian-filtered white noise: correlation exp(-lag^2 / (4 L^2)) between rows lag apart
    for lag in (1, 2, 4):
        assert abs(lag_correlation(x, lag) - np.exp(-lag ** 2 / 16)) < 0.03
    assert abs(lag_correlation(torch.randn(60, 2000, generator=g))) < 0.03


def test_highpass_noise_keeps_only_fast_changes() -> None:
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(8, 200, 64, generator=g)
    hp = noise.highpass(eps, 2.0)
    assert hp.shape == eps.shape
    assert 0.95 < float(hp.std()) < 1.05                    # unit variance, as latent_noise assumes
    # neighbouring latents get opposite-leaning noise (white noise: uncorrelated)...
    lag1 = lambda x: float((x[:, 1:] * x[:, :-1]).mean() / x.var())  # noqa: E731
    assert lag1(hp) < -0.1 and abs(lag1(eps)) < 0.02
    # ...and noise that is constant or slow over time (a shift of the whole code) is removed
    slow = torch.linspace(-1, 1, 200)[None, :, None].expand(2, 200, 3)
    assert float(noise.highpass(slow, 2.0)[:, 5:-5].abs().max()) < 1e-4
    assert float(noise.highpass(torch.ones(2, 50, 3), 2.0).abs().max()) < 1e-5
