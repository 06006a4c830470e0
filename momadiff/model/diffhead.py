"""The light MLP diffusion head: denoises one continuous latent given the transformer's condition.

The head follows MAR's SimpleMLPAdaLN and DiT's AdaLN-Zero: the diffusion timestep and the
condition vector from the masked transformer are fused into one vector ``y`` that modulates every
residual block (shift, scale, gate). Every modulation layer and the output layer start at zero,
so an untrained head predicts exactly zero and each block starts as the identity.

The head only maps ``(x_t, t, c)`` to a prediction; what that prediction means (noise, x0 or v)
is fixed by the noise schedule (``momadiff.model.diffusion``), not here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class DiffHeadConfig:
    """Size of the diffusion head.

    Attributes:
        latent_dim: size of one motion latent (the head's input and output).
        cond_dim: size of the condition vector from the masked transformer.
        width: hidden width of the residual MLP.
        depth: number of residual blocks.
        time_freq_dim: size of the sinusoidal timestep embedding before its MLP.
    """

    latent_dim: int = 16
    cond_dim: int = 256
    width: int = 256
    depth: int = 3
    time_freq_dim: int = 256


HEAD_PRESETS: dict[str, DiffHeadConfig] = {
    "tiny": DiffHeadConfig(latent_dim=8, cond_dim=32, width=32, depth=2),
    "small": DiffHeadConfig(),
    # 256 wide for the 64-d latents of the shipped VAE (192 served the earlier 16-d ones).
    "cpu": DiffHeadConfig(cond_dim=192, width=256, depth=3),
}


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) timesteps, as in DiT.

    Args:
        t: timesteps ``[M]``, integer or float.
        dim: embedding size.
        max_period: sets the lowest frequency, 1 / max_period.

    Returns:
        ``[M, dim]`` float tensor ``[cos(t * f), sin(t * f)]``.
    """
    half = dim // 2
    steps = torch.arange(half, dtype=torch.float32, device=t.device)  # [half]
    freqs = torch.exp(-math.log(max_period) * steps / half)  # [half]
    args = t.to(torch.float32)[:, None] * freqs[None]  # [M, half]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # [M, 2 * half]
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    # (1 + scale) so that a zero-initialised modulation leaves the normalised input unchanged.
    return x * (1 + scale) + shift


class ResBlock(nn.Module):
    """LayerNorm modulated by ``y`` -> Linear -> SiLU -> Linear, added back through a gate from ``y``."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.modulation = nn.Linear(width, 3 * width)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``h`` ``[M, W]`` hidden state, ``y`` ``[M, W]`` fused timestep+condition -> ``[M, W]``."""
        shift, scale, gate = self.modulation(y).chunk(3, dim=-1)  # 3 x [M, W]
        return h + gate * self.mlp(_modulate(self.norm(h), shift, scale))


class FinalLayer(nn.Module):
    """Modulated LayerNorm followed by the projection back to the latent size."""

    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Linear(width, 2 * width)
        self.linear = nn.Linear(width, out_dim)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``h`` ``[M, W]``, ``y`` ``[M, W]`` -> ``[M, out_dim]``."""
        shift, scale = self.modulation(y).chunk(2, dim=-1)  # 2 x [M, W]
        return self.linear(_modulate(self.norm(h), shift, scale))


class DiffusionHead(nn.Module):
    """MLP denoiser ``(x_t, t, c) -> prediction`` with AdaLN-Zero conditioning.

    All rows are processed in one batched pass, so the sampler can denoise every latent of every
    sequence at once.
    """

    def __init__(self, config: DiffHeadConfig, generator: torch.Generator | None = None):
        """Build the head; ``generator`` (CPU) makes the initial weights reproducible."""
        super().__init__()
        self.config = config
        w = config.width
        self.time_embed = nn.Sequential(nn.Linear(config.time_freq_dim, w), nn.SiLU(), nn.Linear(w, w))
        self.cond_proj = nn.Linear(config.cond_dim, w)
        self.input_proj = nn.Linear(config.latent_dim, w)
        self.blocks = nn.ModuleList([ResBlock(w) for _ in range(config.depth)])
        self.final = FinalLayer(w, config.latent_dim)
        self._init_weights(generator)

    @property
    def latent_dim(self) -> int:
        """Size of the latents this head denoises."""
        return self.config.latent_dim

    def _init_weights(self, generator: torch.Generator | None) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight, generator=generator)
                nn.init.zeros_(m.bias)
        for m in self.time_embed:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02, generator=generator)
        # AdaLN-Zero: zero modulation makes every block the identity at start, and a zero output
        # layer makes the untrained head predict exactly zero.
        for block in self.blocks:
            nn.init.zeros_(block.modulation.weight)
            nn.init.zeros_(block.modulation.bias)
        nn.init.zeros_(self.final.modulation.weight)
        nn.init.zeros_(self.final.modulation.bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Predict the schedule's target for noisy latents.

        Args:
            x: noisy latents ``[M, latent_dim]``.
            t: timesteps ``[M]`` in ``[0, num_train_timesteps)``, integer or float.
            c: condition vectors ``[M, cond_dim]`` from the masked transformer.

        Returns:
            The model prediction ``[M, latent_dim]``.
        """
        t_emb = self.time_embed(
            timestep_embedding(t, self.config.time_freq_dim).to(x.dtype))  # [M, W]
        y = nn.functional.silu(t_emb + self.cond_proj(c))  # [M, W]
        h = self.input_proj(x)  # [M, W]
        for block in self.blocks:
            h = block(h, y)
        return self.final(h, y)  # [M, latent_dim]
