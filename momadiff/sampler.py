"""Masked autoregressive sampling over motion latents, one Stage per transformer iteration.

Every latent starts as [MASK] except the user's keyframe latents, which are put in place and never
masked. Stage 1 generates a few latents spread over the motion (keyframes first); each later stage
fills the masked latents that are farthest from anything known, so the gaps close recursively
(coarse to fine). Each stage runs the transformer once (twice the batch with guidance), guides the
per-latent condition (classifier-free guidance on the transformer only), then the diffusion head
denoises just the latents chosen for that stage with DDIM. The head is never guided.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from .model import noise
from .model.diffusion import NoiseSchedule, ddim_sample


@dataclass
class SamplerConfig:
    iterations: int = 6          # transformer iterations = stages
    ddim_steps: int = 10         # DDIM steps of the head per stage
    cfg_scale: float = 3.0       # guidance on the transformer's condition; 1 = none
    temperature: float = 1.0     # scale of the head's starting noise
    keyframe_stride: int = 8     # stage 1 places about one latent every this many
    noise_corr: float = 0.0      # correlation length (latents) of the head's starting noise over time; 0 = independent
    decode_noise: float = 0.0    # noise level a noise-conditioned VAE decoder is told generated latents have
    order: str = "spread"        # which masked latents a stage fills: see ORDERS

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")


# How a stage picks the latents it fills (the count per stage is the same cosine schedule for all):
#   spread         the paper's: keyframe latents spread over the motion first, then each stage the
#                  masked latents farthest from anything known (recursive in-fill, coarse to fine)
#   random         uniformly random masked latents (MAR's and the official code's default order)
#   left_to_right  the leftmost masked latents (autoregressive in time)
ORDERS = ("spread", "random", "left_to_right")


@dataclass
class Stage:
    """What one transformer iteration did. Boolean arrays are over latents [N]."""
    index: int                  # 1-based
    num_stages: int
    user: np.ndarray            # latents given by the user's keyframes
    known: np.ndarray           # latents known before this stage (user keys + earlier stages)
    filled: np.ndarray          # latents generated in this stage
    latents: torch.Tensor       # [N, D] current values (masked ones interpolated for display)
    joints: np.ndarray | None = None   # decoded motion so far [T, 22, 3]
    seconds: dict[str, float] = field(default_factory=dict)   # time spent per component

    @property
    def masked(self) -> np.ndarray:
        """Latents still masked after this stage."""
        return ~(self.known | self.filled)


def plan_stages(num_latents: int, known: np.ndarray, iterations: int, keyframe_stride: int,
                generator: torch.Generator, order: str = "spread") -> list[np.ndarray]:
    """The latent indices to fill at each stage: stage 1 a few latents, then a cosine schedule of
    counts. Which latents, by `order` (see ORDERS): by default stage 1's are spread over the motion
    and each later stage takes the masked latents farthest from known ones."""
    known = known.copy()
    free = int((~known).sum())
    if free == 0:
        return []
    iterations = max(1, min(iterations, free))
    first = max(1, min(free, math.ceil(num_latents / keyframe_stride)))
    if iterations == 1:
        counts = [free]
    else:
        # Masked fraction after stage k of the remaining iterations follows cos(pi/2 * k / K).
        rest = free - first
        k = iterations - 1
        left = [round(rest * math.cos(math.pi / 2 * (i + 1) / k)) for i in range(k)]
        counts = [first] + [max(0, (rest if i == 0 else left[i - 1]) - left[i]) for i in range(k)]
        counts[-1] += free - sum(counts)
    jitter = torch.rand(num_latents, generator=generator).numpy() * 0.5
    plan = []
    idx = np.arange(num_latents)
    if order != "spread":
        # random: a random permutation of the masked latents; left_to_right: in time order.
        free_idx = idx[~known]
        if order == "random":
            free_idx = free_idx[torch.randperm(len(free_idx), generator=generator).numpy()]
        start = np.cumsum([0] + counts)
        return [np.sort(free_idx[a:b]) for a, b in zip(start[:-1], start[1:]) if b > a]
    for c in counts:
        chosen: list[int] = []
        for _ in range(c):
            if known.any():
                pos = idx[known]
                dist = np.abs(idx[:, None] - pos[None, :]).min(axis=1).astype(np.float64)
            else:
                # Nothing known yet: measure from just outside both ends, so the first pick is central.
                dist = np.minimum(idx + 1, num_latents - idx).astype(np.float64)
            dist = np.where(known, -np.inf, dist + jitter)
            j = int(np.argmax(dist))
            chosen.append(j)
            known[j] = True
        if chosen:
            plan.append(np.array(sorted(chosen)))
    return plan


def fill_for_display(latents: torch.Tensor, known: np.ndarray) -> torch.Tensor:
    """Masked latents replaced by linear interpolation between the nearest known ones, so a
    partly generated sequence can be decoded and watched."""
    if known.all() or not known.any():
        return latents.clone() if known.all() else torch.zeros_like(latents)
    idx = np.arange(len(known))
    out = latents.clone()
    pos = idx[known]
    for d in range(latents.shape[1]):
        out[:, d] = torch.from_numpy(np.interp(idx, pos, latents[known, d].numpy())).to(latents.dtype)
    return out


@torch.no_grad()
def iter_sample(transformer: torch.nn.Module, head: torch.nn.Module, schedule: NoiseSchedule,
                text: torch.Tensor, num_latents: int, config: SamplerConfig,
                generator: torch.Generator, user_latents: dict[int, torch.Tensor] | None = None,
                decode: Callable[[torch.Tensor], np.ndarray] | None = None,
                control: torch.Tensor | None = None,
                ) -> Iterator[Stage]:
    """Yield one Stage per transformer iteration.

    text [text_dim]: the caption embedding. user_latents: {latent index: [D] latent} from keyframes.
    decode: maps latents [N, D] to joints, called once per stage for display and the result.
    control [N, control_dim]: per-latent constraints (momadiff.model.control) for a transformer
    with a control input; the same in the guided and unguided halves (guidance is on text only).
    """
    user_latents = user_latents or {}
    latent_dim = head.config.latent_dim
    latents = torch.zeros(num_latents, latent_dim)
    user = np.zeros(num_latents, dtype=bool)
    for i, z in user_latents.items():
        latents[i] = z
        user[i] = True
    known = user.copy()
    plan = plan_stages(num_latents, known, config.iterations, config.keyframe_stride, generator,
                       config.order)
    guided = config.cfg_scale != 1.0
    batch = 2 if guided else 1
    text_b = text.reshape(1, -1).expand(batch, -1)
    drop = torch.tensor([False, True][:batch])
    key = torch.from_numpy(user)[None].expand(batch, -1)
    ctl = None if control is None else control[None].expand(batch, -1, -1)
    # Correlated starting noise (momadiff.model.noise.smooth): each latent's is still N(0, I), so each
    # sample's distribution is unchanged, but errors vary smoothly over time rather than as jitter.
    start = noise.smooth(num_latents, latent_dim, config.noise_corr, generator) if config.noise_corr > 0 else None
    for s, chosen in enumerate(plan, start=1):
        t0 = time.perf_counter()
        masked = torch.from_numpy(~known)[None].expand(batch, -1)
        cond = transformer(latents[None].expand(batch, -1, -1), masked, text_b,
                           pad=None, drop_text=drop, key=key, control=ctl)        # [B, N, C]
        c = cond[0, chosen]
        if guided:
            c = cond[1, chosen] + config.cfg_scale * (cond[0, chosen] - cond[1, chosen])
        t1 = time.perf_counter()
        z = ddim_sample(head, c, schedule, config.ddim_steps, generator, temperature=config.temperature,
                        noise=None if start is None else start[chosen])
        t2 = time.perf_counter()
        filled = np.zeros(num_latents, dtype=bool)
        filled[chosen] = True
        latents[chosen] = z
        stage = Stage(index=s, num_stages=len(plan), user=user.copy(), known=known.copy(),
                      filled=filled, latents=fill_for_display(latents, known | filled),
                      seconds={"transformer": t1 - t0, "head": t2 - t1})
        known = known | filled
        if decode is not None:
            stage.joints = decode(stage.latents)
            stage.seconds["decode"] = time.perf_counter() - t2
        yield stage
