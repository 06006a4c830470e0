"""Gaussian noise shaped over time (the latent axis), for the two places where independent
per-latent noise is the wrong thing:

- sampling: the head's starting noise, correlated between neighbouring latents (`smooth`), so the
  samples' deviations from their means change slowly over time instead of latent by latent;
- training the decoder: latent noise with its slow part removed (`highpass`), so the decoder learns
  to ignore fast latent changes (jitter) and still follows slow ones (the motion itself).

Both keep every element's variance at 1.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kernel(length: float, dtype: torch.dtype = torch.float32, device=None) -> Tensor:
    """A Gaussian of std `length` samples, cut at 3 std, summing to 1: [2r + 1]."""
    r = max(1, math.ceil(3 * length))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=dtype, device=device) / length) ** 2)
    return k / k.sum()


def smooth(num: int, dim: int, length: float, generator: torch.Generator | None = None) -> Tensor:
    """[num, dim] noise, N(0, 1) per element, with rows correlated exp(-lag^2 / (4 length^2)):
    white noise filtered by a Gaussian of `length` rows."""
    k = gaussian_kernel(length)
    k = k / k.norm()
    white = torch.randn(dim, 1, num + len(k) - 1, generator=generator)
    return F.conv1d(white, k.view(1, 1, -1))[:, 0].T.contiguous()


def highpass(eps: Tensor, length: float) -> Tensor:
    """Noise eps [B, N, D] minus its Gaussian blur over N (std `length`), rescaled to unit variance
    (for white eps). A constant or slowly changing eps gives (nearly) zero."""
    k = gaussian_kernel(length, eps.dtype, eps.device)
    r = (len(k) - 1) // 2
    b, n, d = eps.shape
    x = eps.transpose(1, 2).reshape(b * d, 1, n)
    blur = F.conv1d(F.pad(x, (r, r), mode="replicate"), k.view(1, 1, -1))
    delta = torch.zeros_like(k)
    delta[r] = 1.0
    return ((x - blur) / (delta - k).norm()).reshape(b, d, n).transpose(1, 2)
