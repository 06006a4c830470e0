"""Frame-level continuous motion VAE: normalised 263-d features <-> a short sequence of latents.

No quantisation: each latent is a Gaussian over a `down`-frame window, which the masked
transformer and the diffusion head then model as a continuous token.

Every convolution pads by replicating the edge value. One consequence the sampler relies on: a
constant input (a single static pose repeated for any multiple of `down` frames) encodes to the
same latent as the interior of an arbitrarily long static sequence, so a keyframe pose has one
well-defined latent whatever window it is encoded in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import noise


@dataclass
class VAEConfig:
    """Sizes of the motion VAE and the weights of its loss terms."""

    feat_dim: int = 263
    latent_dim: int = 16
    hidden: int = 256
    down: int = 4             # frames per latent: 1, 2 or 4
    depth: int = 2            # residual blocks per temporal stage
    kernel: int = 3
    dilation_growth: int = 1  # dilation of block i is growth**i; 1 keeps the receptive field small
    dropout: float = 0.0
    kl_weight: float = 1e-4
    vel_weight: float = 20.0  # joint velocities, metres per frame (small numbers: a large weight)
    pos_weight: float = 2.0   # joint positions within the window, metres, root path included
    root_weight: float = 4.0  # extra weight on the root features (the first root_dims)
    root_dims: int = 4
    linear_skip: bool = False  # a linear path beside each network (see MotionVAE)
    latent_noise: float = 0.0  # training only: noise on z, as a fraction of each dimension's batch std
    noise_highpass: float = 0.0  # > 0: that noise is high-passed over time (white noise minus its Gaussian
                                 # blur of this many latents), so only fast latent changes are trained away
    noise_cond: int = 0        # > 0: the decoder is told the size of the noise on its latents (MotionVAE.decode),
                               # which modulates this many of its hidden layers (1 = the first, then the next
                               # residual block or convolution); training draws it per window from [0, latent_noise],
                               # 0 for a quarter

    def __post_init__(self) -> None:
        # Checkpoints written while this field was a flag hold True for one layer.
        self.noise_cond = int(self.noise_cond)
        if self.down not in (1, 2, 4):
            raise ValueError(f"VAEConfig.down must be 1, 2 or 4, got {self.down}")
        if self.kernel % 2 != 1:
            raise ValueError(f"VAEConfig.kernel must be odd so frames stay centred, got {self.kernel}")
        if self.depth < 1 or self.dilation_growth < 1:
            raise ValueError("VAEConfig.depth and dilation_growth must be >= 1")


VAE_PRESETS: dict[str, VAEConfig] = {
    "tiny": VAEConfig(hidden=32, latent_dim=8, depth=1, down=4),
    "small": VAEConfig(),
    # What ships: trains in 40 min on 2 cores (README). 32 dimensions per frame because a linear PCA
    # of training poses needs about 24 per frame to reach 3 cm on the held-out kinds of motion.
    # The linear skip paths: after the same 10,000 steps, unseen kinds of motion (the ood split)
    # come back at 27 mm root-relative with them vs 55 mm without, and val at 5.4 vs 13.2 mm.
    # The price: small latent errors pass to the motion more directly (unit-scale latent noise of
    # 0.2 raises the jerk of decoded val clips to 200 m/s^3, against 133 without them). So the
    # shipped decoder is then fine-tuned alone with latent noise, and then noise-conditioned
    # (noise_cond=1, latent_noise=0.3): exact on real codes, smooth on generated ones (README "Training").
    "cpu": VAEConfig(hidden=192, latent_dim=64, down=2, kl_weight=1e-5, linear_skip=True),
}


NOISE_REF = 0.2   # noise levels are fed to the decoder's conditioning divided by this (order 1)


def num_params(module: nn.Module) -> int:
    """Number of trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1,
          padding: int | None = None) -> nn.Conv1d:
    pad = dilation * (kernel - 1) // 2 if padding is None else padding
    return nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=pad, dilation=dilation,
                     padding_mode="replicate")


class _ResBlock(nn.Module):
    """x + Conv1x1(SiLU(DilatedConv(SiLU(x)))) on [B, C, T]."""

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(x))
        h = self.conv2(F.silu(h))
        return x + self.drop(h)


def _blocks(cfg: VAEConfig) -> list[nn.Module]:
    return [_ResBlock(cfg.hidden, cfg.kernel, cfg.dilation_growth ** i, cfg.dropout)
            for i in range(cfg.depth)]


def frames_to_latent_mask(valid: Tensor, down: int) -> Tensor:
    """Latent-level validity [B, T//down] from frame-level validity [B, T]: a latent is real
    if any frame of its window is (a motion's last partial window still describes real frames)."""
    b, t = valid.shape
    return valid.reshape(b, t // down, down).any(dim=-1)


def fill_padding(x: Tensor, valid: Tensor) -> Tensor:
    """Replace padded frames of x [B, T, D] by the nearest earlier real frame (or the first real
    frame for leading padding), so the content of padding cannot influence the encoder."""
    t = x.shape[1]
    idx = torch.arange(t, device=x.device).expand_as(valid)                  # [B, T]
    last_real = torch.where(valid, idx, torch.full_like(idx, -1)).cummax(dim=1).values
    first_real = torch.where(valid, idx, torch.full_like(idx, t)).min(dim=1, keepdim=True).values
    src = torch.where(last_real >= 0, last_real, first_real).clamp(0, t - 1)  # [B, T]
    return torch.gather(x, 1, src.unsqueeze(-1).expand_as(x))


class MotionVAE(nn.Module):
    """1-D convolutional VAE: x [B, T, feat_dim] <-> z [B, T//down, latent_dim]."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        n_stages = int(math.log2(config.down))
        h, k = config.hidden, config.kernel

        enc: list[nn.Module] = [_conv(config.feat_dim, h, k)]
        for _ in range(n_stages):
            # Kernel 4, stride 2, padding 1: output n is centred on input frames 2n and 2n+1.
            enc += [nn.SiLU(), _conv(h, h, 4, stride=2, padding=1), *_blocks(config)]
        if n_stages == 0:
            enc += _blocks(config)
        enc += [nn.SiLU(), _conv(h, 2 * config.latent_dim, k)]
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [_conv(config.latent_dim, h, k)]
        if n_stages == 0:
            dec += _blocks(config)
        for _ in range(n_stages):
            dec += [*_blocks(config), nn.Upsample(scale_factor=2, mode="nearest"), _conv(h, h, k)]
        dec += [nn.SiLU(), _conv(h, config.feat_dim, k)]
        self.decoder = nn.Sequential(*dec)

        # Linear paths from a window of frames to its latent and back, added to the networks'
        # outputs. A linear code (like PCA) extends to poses unlike the training data; the
        # networks' SiLUs alone do not.
        self.enc_skip = self.dec_skip = None
        if config.linear_skip:
            d = config.down
            self.enc_skip = nn.Conv1d(config.feat_dim, 2 * config.latent_dim, d, stride=d)
            self.dec_skip = nn.ConvTranspose1d(config.latent_dim, config.feat_dim, d, stride=d)

        # Noise conditioning (as in cascaded diffusion's conditioning augmentation): the noise level
        # sets a per-channel scale and shift of some of the decoder's hidden layers and a per-feature
        # gain of the linear path, so one decoder is exact on clean latents (reconstruction) and
        # smooth on the slightly wrong ones a generator makes. Zero-initialised: until trained,
        # every level decodes as level 0.
        self.noise_film = None
        layers = [i for i, m in enumerate(self.decoder[:-1]) if isinstance(m, (_ResBlock, nn.Conv1d))]
        if config.noise_cond > len(layers):
            raise ValueError(f"VAEConfig.noise_cond={config.noise_cond}: this decoder has {len(layers)} layers to modulate")
        self._film_layers = layers[:config.noise_cond]   # indices into self.decoder
        if config.noise_cond:
            width = 2 * h * len(self._film_layers) + (config.feat_dim if config.linear_skip else 0)
            self.noise_film = nn.Sequential(nn.Linear(1, 64), nn.SiLU(), nn.Linear(64, width))
            nn.init.zeros_(self.noise_film[-1].weight)
            nn.init.zeros_(self.noise_film[-1].bias)

        # Log-scale of the Laplace likelihood of the reconstruction (the paper's learnable variance).
        self.log_scale = nn.Parameter(torch.zeros(()))

    @property
    def encoder_receptive_field(self) -> int:
        """How many input frames can influence one latent."""
        config = self.config
        rf, jump = 1 + (config.kernel - 1), 1
        blocks = sum((config.kernel - 1) * config.dilation_growth ** i for i in range(config.depth))
        n_stages = int(math.log2(config.down))
        for _ in range(n_stages):
            rf += 3 * jump
            jump *= 2
            rf += blocks * jump
        if n_stages == 0:
            rf += blocks
        return rf + (config.kernel - 1) * jump

    def encode(self, x: Tensor, valid: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Normalised features x [B, T, feat_dim] -> (mu, logvar), each [B, T//down, latent_dim].

        valid [B, T] (True = real frame), if given, makes padded frames irrelevant: they are
        replaced by the last real frame before encoding.
        """
        t = x.shape[1]
        if t % self.config.down != 0:
            raise ValueError(f"sequence length {t} is not a multiple of the VAE's down={self.config.down}")
        if valid is not None:
            x = fill_padding(x, valid)
        h = self.encoder(x.transpose(1, 2))                   # [B, 2*latent, N]
        if self.enc_skip is not None:
            h = h + self.enc_skip(x.transpose(1, 2))
        mu, logvar = h.transpose(1, 2).chunk(2, dim=-1)       # [B, N, latent] each
        # Bounded so exp() in sampling and the KL cannot overflow early in training.
        return mu, logvar.clamp(-20.0, 10.0)

    def decode(self, z: Tensor, noise: float | Tensor = 0.0) -> Tensor:
        """Latents z [B, N, latent_dim] -> normalised features [B, N*down, feat_dim].

        noise: for a noise-conditioned decoder (config.noise_cond), how far z may be from a real
        motion's code, as a fraction of each latent dimension's spread (a float, or one per
        sequence [B]): 0 for encoded motion, about the training latent_noise for generated
        latents. Ignored by other decoders.
        """
        zt = z.transpose(1, 2)                                            # [B, latent, N]
        gain, film = None, {}
        if self.noise_film is not None:
            level = torch.as_tensor(noise, dtype=z.dtype, device=z.device).reshape(-1, 1).expand(len(z), 1)
            mod = self.noise_film(level / NOISE_REF)                      # [B, 2*hidden*layers (+ feat)]
            c = self.config.hidden
            film = {i: (mod[:, 2 * c * n:2 * c * n + c, None], mod[:, 2 * c * n + c:2 * c * (n + 1), None])
                    for n, i in enumerate(self._film_layers)}             # decoder index -> (scale, shift) [B, hidden, 1]
            gain = mod[:, 2 * c * len(self._film_layers):]
        out = zt
        for i, layer in enumerate(self.decoder):
            out = layer(out)
            if i in film:
                out = out * (1 + film[i][0]) + film[i][1]
        if self.dec_skip is not None:
            skip = self.dec_skip(zt)
            out = out + (skip if gain is None else skip * (1 + gain[..., None]))
        return out.transpose(1, 2)

    def forward(self, x: Tensor, sample: bool = True, generator: torch.Generator | None = None,
                valid: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, sample z = mu + sigma * eps (or take mu if sample=False), decode.
        Returns (x_hat [B, T, feat_dim], mu, logvar [B, T//down, latent_dim])."""
        mu, logvar = self.encode(x, valid)
        z = mu
        level: float | Tensor = 0.0
        if sample:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps
            if self.training and self.config.latent_noise > 0:
                # Generated latents are never exact: teach the decoder to tolerate independent
                # errors per latent, at a size relative to the code's own spread (a fixed size would
                # just be outgrown by the encoder scaling its code up).
                spread = mu.detach().flatten(0, -2).std(dim=0)
                eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
                if self.config.noise_highpass > 0:
                    eps = noise.highpass(eps, self.config.noise_highpass)
                level = torch.full((len(mu),), self.config.latent_noise, device=mu.device, dtype=mu.dtype)
                if self.config.noise_cond:
                    # A level per window, told to the decoder; a quarter exactly clean, so level 0 stays exact.
                    u = torch.rand(len(mu), generator=generator, device=mu.device, dtype=mu.dtype)
                    clean = torch.rand(len(mu), generator=generator, device=mu.device, dtype=mu.dtype) < 0.25
                    level = torch.where(clean, torch.zeros_like(u), u * self.config.latent_noise)
                z = z + level[:, None, None] * spread * eps
        return self.decode(z, level), mu, logvar


def _masked_mean(v: Tensor, mask: Tensor | None) -> Tensor:
    """Mean of v [B, L, ...] over the positions where mask [B, L] is True (all if None)."""
    if mask is None:
        return v.mean()
    m = mask.to(v.dtype).reshape(mask.shape + (1,) * (v.dim() - mask.dim()))
    per_pos = v[0, 0].numel()
    return (v * m).sum() / (m.sum() * per_pos).clamp_min(1.0)


def vae_loss(x: Tensor, x_hat: Tensor, mu: Tensor, logvar: Tensor, log_scale: Tensor,
             cfg: VAEConfig, positions_fn: Callable[[Tensor], Tensor] | None = None,
             valid: Tensor | None = None) -> dict[str, Tensor]:
    """The VAE's training losses.

    x, x_hat: normalised features [B, T, feat_dim]; mu, logvar: [B, T//down, latent_dim];
    log_scale: the model's scalar Laplace log-scale; positions_fn maps normalised features
    [B, T, feat_dim] to joint positions [B, T, J, 3]; valid [B, T] marks real frames (padding
    contributes to no term). Returns "loss", "nll", "l1", "kl" and "vel" (scalars).
    """
    # torch.where, not a product with the mask, so that NaN or inf in padding cannot leak.
    err = (x - x_hat).abs()                                            # [B, T, D]
    if valid is not None:
        err = torch.where(valid.unsqueeze(-1), err, torch.zeros_like(err))
    l1 = _masked_mean(err, valid)
    nll = l1 * torch.exp(-log_scale) + log_scale

    kl_el = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)            # [B, N, latent]
    lat_valid = None if valid is None else frames_to_latent_mask(valid, cfg.down)
    kl = _masked_mean(kl_el, lat_valid)

    if positions_fn is not None and x.shape[1] > 1:
        pos, pos_hat = positions_fn(x), positions_fn(x_hat)            # [B, T, J, 3]
        dv = ((pos[:, 1:] - pos[:, :-1]) - (pos_hat[:, 1:] - pos_hat[:, :-1])).abs()  # [B, T-1, J, 3]
        pair_valid = None if valid is None else valid[:, 1:] & valid[:, :-1]
        if pair_valid is not None:
            dv = torch.where(pair_valid[..., None, None], dv, torch.zeros_like(dv))
        vel = _masked_mean(dv, pair_valid)
        # Positions within the window, root path included: the root's velocities are 4 of 263
        # features, yet their errors integrate into drift of the whole body.
        dp = (pos - pos_hat).abs()
        if valid is not None:
            dp = torch.where(valid[..., None, None], dp, torch.zeros_like(dp))
        pos_l1 = _masked_mean(dp, valid)
    else:
        vel = pos_l1 = torch.zeros((), device=x.device, dtype=l1.dtype)
    root = _masked_mean(err[..., : cfg.root_dims], valid)

    loss = (nll + cfg.kl_weight * kl + cfg.vel_weight * vel + cfg.pos_weight * pos_l1
            + cfg.root_weight * root * torch.exp(-log_scale.detach()))
    return {"loss": loss, "nll": nll, "l1": l1, "kl": kl, "vel": vel, "pos": pos_l1, "root": root}
