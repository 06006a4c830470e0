"""Noise schedule and DDIM sampling, kept apart from the denoiser (as in diffusers and MAR).

``NoiseSchedule`` knows the forward process (``add_noise``), the training target for the chosen
prediction type (``target``), how to turn a model output back into ``(x0, eps)`` and one DDIM
update (``step``). It holds no model and computes no loss: the training script draws
``t = schedule.sample_timesteps(n, generator)``, noises the latents, and regresses
``head(x_t, t, c)`` onto ``schedule.target(x0, noise, t)`` itself.

``ddim_sample`` runs the whole deterministic DDIM chain for a batch of conditions. Classifier-free
guidance is not applied here: the project guides the transformer's condition, never the head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

PREDICTION_TYPES = ("epsilon", "x0", "v")
SCHEDULES = ("cosine", "linear")


@dataclass
class ScheduleConfig:
    """Diffusion process settings.

    Attributes:
        num_train_timesteps: number of discrete noise levels ``T``.
        schedule: ``"cosine"`` (Nichol & Dhariwal 2021) or ``"linear"`` (Ho et al. 2020).
        prediction: what the head predicts: ``"v"``, ``"epsilon"`` or ``"x0"``.
    """

    num_train_timesteps: int = 1000
    schedule: str = "cosine"
    prediction: str = "v"


SCHEDULE_PRESETS: dict[str, ScheduleConfig] = {
    "default": ScheduleConfig(),
}


class Denoiser(Protocol):
    """Anything with the diffusion head's call signature and latent size."""

    latent_dim: int

    def __call__(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor: ...


def cosine_alphas_cumprod(num_timesteps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Cosine schedule ``alpha_bar`` ``[T]`` (float64), with betas clipped at ``max_beta``.

    ``alpha_bar(u) = cos((u + s) / (1 + s) * pi / 2)^2`` and ``beta_i = 1 - alpha_bar((i+1)/T) /
    alpha_bar(i/T)``; the clip stops the last step from destroying the signal outright.
    """
    u = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps  # [T + 1]
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # [T + 1]
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)  # [T]
    return torch.cumprod(1 - betas, dim=0)


def linear_alphas_cumprod(num_timesteps: int) -> torch.Tensor:
    """Linear beta schedule ``alpha_bar`` ``[T]`` (float64), betas scaled so T=1000 gives 1e-4..0.02."""
    scale = 1000 / num_timesteps
    betas = torch.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=torch.float64)  # [T]
    return torch.cumprod(1 - betas, dim=0)


class NoiseSchedule:
    """Discrete-time variance-preserving diffusion: ``x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps``.

    Timesteps ``t`` are integers in ``[0, T)``, given as an int or a LongTensor ``[M]`` (one per
    row of ``x``). Tables are kept in float64 on the CPU and cast to ``x``'s dtype and device on use.
    """

    def __init__(self, config: ScheduleConfig | None = None):
        self.config = config or ScheduleConfig()
        if self.config.prediction not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction {self.config.prediction!r}; expected one of {PREDICTION_TYPES}")
        T = self.config.num_train_timesteps
        if self.config.schedule == "cosine":
            self.alphas_cumprod = cosine_alphas_cumprod(T)  # [T]
        elif self.config.schedule == "linear":
            self.alphas_cumprod = linear_alphas_cumprod(T)  # [T]
        else:
            raise ValueError(f"unknown schedule {self.config.schedule!r}; expected one of {SCHEDULES}")
        # A trailing 1.0 so that index -1 means "no noise", the target of the last DDIM step.
        self._abar_table = torch.cat([self.alphas_cumprod, self.alphas_cumprod.new_ones(1)])  # [T + 1]

    @property
    def num_train_timesteps(self) -> int:
        """Number of discrete noise levels ``T``."""
        return self.config.num_train_timesteps

    @property
    def prediction(self) -> str:
        """What the model predicts: ``"v"``, ``"epsilon"`` or ``"x0"``."""
        return self.config.prediction

    def _abar(self, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``alpha_bar_t`` shaped to broadcast against ``like`` ``[M, ...]``; ``t == -1`` gives 1."""
        t = torch.as_tensor(t, dtype=torch.long)
        ab = self._abar_table[t.cpu()].to(device=like.device, dtype=like.dtype)  # [] or [M]
        return ab.reshape(ab.shape + (1,) * (like.dim() - ab.dim()))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """Forward process: ``x_t`` ``[M, D]`` from clean ``x0`` ``[M, D]`` and ``noise`` ``[M, D]``."""
        ab = self._abar(t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """Training target ``[M, D]`` for the configured prediction type."""
        if self.prediction == "epsilon":
            return noise
        if self.prediction == "x0":
            return x0
        ab = self._abar(t, x0)
        return ab.sqrt() * noise - (1 - ab).sqrt() * x0

    def pred_x0_eps(self, model_out: torch.Tensor, x_t: torch.Tensor,
                    t: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Convert a model output into the implied clean sample and noise, each ``[M, D]``."""
        ab = self._abar(t, x_t)
        a, s = ab.sqrt(), (1 - ab).sqrt()
        if self.prediction == "v":
            return a * x_t - s * model_out, s * x_t + a * model_out
        if self.prediction == "epsilon":
            return (x_t - s * model_out) / a, model_out
        # At t = 0 the noise level s is tiny; the floor keeps eps finite (it is then irrelevant).
        return model_out, (x_t - a * model_out) / s.clamp(min=1e-8)

    def ddim_timesteps(self, num_steps: int) -> torch.Tensor:
        """Evenly spaced timesteps, descending, always starting at ``T - 1`` ("trailing" spacing).

        Starting at the noisiest level matters because sampling starts from pure noise
        (Lin et al., WACV 2024, "Common diffusion noise schedules and sample steps are flawed").

        Returns:
            LongTensor ``[num_steps]``, e.g. T=1000, 10 steps -> 999, 899, ..., 99.
        """
        T = self.num_train_timesteps
        if not 1 <= num_steps <= T:
            raise ValueError(f"num_steps must be in [1, {T}], got {num_steps}")
        steps = torch.arange(num_steps, dtype=torch.float64) * (T / num_steps)  # [S]
        return (T - steps).round().long() - 1

    def sample_timesteps(self, n: int, generator: torch.Generator | None = None,
                         device: torch.device | str | None = None) -> torch.Tensor:
        """Uniform training timesteps: LongTensor ``[n]`` in ``[0, T)``, drawn with ``generator``."""
        gen_device = generator.device if generator is not None else "cpu"
        t = torch.randint(0, self.num_train_timesteps, (n,), generator=generator, device=gen_device)
        return t.to(device) if device is not None else t

    def step(self, model_out: torch.Tensor, t: int | torch.Tensor, t_prev: int | torch.Tensor,
             x_t: torch.Tensor, eta: float = 0.0, generator: torch.Generator | None = None,
             temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """One DDIM update from level ``t`` to ``t_prev`` (``-1`` meaning the clean sample).

        Args:
            model_out: head prediction at ``(x_t, t)``, ``[M, D]``.
            t: current timestep (int or LongTensor ``[M]``).
            t_prev: next, less noisy timestep; ``-1`` for the final step to ``x0``.
            x_t: current noisy sample ``[M, D]``.
            eta: 0 gives deterministic DDIM, 1 gives DDPM-like ancestral noise.
            generator: draws the fresh noise when ``eta > 0``.
            temperature: scales that fresh noise.

        Returns:
            ``(x_prev, pred_x0)``, each ``[M, D]``.
        """
        pred_x0, eps = self.pred_x0_eps(model_out, x_t, t)
        ab, ab_prev = self._abar(t, x_t), self._abar(t_prev, x_t)
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).clamp(min=0).sqrt()
        x_prev = ab_prev.sqrt() * pred_x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps
        if eta > 0:
            gen_device = generator.device if generator is not None else "cpu"
            noise = torch.randn(x_t.shape, generator=generator, device=gen_device, dtype=x_t.dtype)
            x_prev = x_prev + sigma * temperature * noise.to(x_t.device)
        return x_prev, pred_x0


@torch.no_grad()
def ddim_sample(head: Denoiser, c: torch.Tensor, schedule: NoiseSchedule, num_steps: int,
                generator: torch.Generator | None = None, temperature: float = 1.0,
                noise: torch.Tensor | None = None) -> torch.Tensor:
    """Deterministic DDIM (eta 0) sampling of one latent per condition row.

    Args:
        head: the diffusion head, called as ``head(x_t, t, c)``.
        c: conditions ``[M, cond_dim]``; their device and dtype set the output's.
        schedule: the noise schedule the head was trained with.
        num_steps: number of DDIM steps.
        generator: draws the starting noise ``N(0, I)``.
        temperature: scales the starting noise; below 1 trades diversity for fidelity.
        noise: the starting noise ``[M, latent_dim]`` (each row ``N(0, I)``), instead of drawing it.

    Returns:
        Clean latents ``[M, latent_dim]``.
    """
    M = c.shape[0]
    if noise is None:
        gen_device = generator.device if generator is not None else "cpu"
        noise = torch.randn((M, head.latent_dim), generator=generator, device=gen_device, dtype=c.dtype)
    x = noise.to(device=c.device, dtype=c.dtype) * temperature  # [M, latent_dim]
    timesteps = schedule.ddim_timesteps(num_steps).tolist()
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        t_batch = torch.full((M,), t, dtype=torch.long, device=c.device)  # [M]
        x, _ = schedule.step(head(x, t_batch, c), t, t_prev, x)
    return x
