"""Masked autoregressive sampling over motion latents, one Stage per transformer iteration.

Every latent starts as [MASK] except the user's keyframe latents, which are put in place and never
masked. Stage 1 generates a few latents spread over the motion (keyframes first); each later stage
fills the masked latents that are farthest from anything known, so the gaps close recursively
(coarse to fine). Each stage runs the transformer once (twice the batch with guidance), guides the
per-latent condition (classifier-free guidance on the transformer only), then the diffusion head
denoises just the latents chosen for that stage with DDIM. The head is never guided.

A timeline of prompts (momadiff.segments) gives each latent its own text: the transformer has one
text token, so each stage runs it once per segment over that segment's latents (and once over each
boundary, seeing both sides), and each latent takes its condition from its own pass. Motions
longer than the transformer's max_latents run it over overlapping windows of that length, all in
the same stages, so stage 1 still spreads over the whole motion.
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
from .segments import NULL_TEXT, plan_passes


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
    window: int = 0              # latents per transformer window for long motions; 0 = the transformer's max_latents
    window_overlap: float = 0.5  # fraction of a window its neighbour shares (momadiff.segments.plan_windows)
    gap_text: str = "null"       # condition of latents between segments: "null" (text dropped) or "nearest" segment's
    segment_context: int = 16    # latents each side of a segment boundary that its transition passes see
    segment_blend: int = 1       # latents each side of a boundary conditioned by a transition pass (0 = none)

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if self.gap_text not in ("null", "nearest"):
            raise ValueError(f"gap_text must be 'null' or 'nearest', got {self.gap_text!r}")
        if not 0.0 <= self.window_overlap < 1.0:
            raise ValueError(f"window_overlap must be in [0, 1), got {self.window_overlap!r}")


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
    # Distance of every latent to the nearest known one, kept up to date pick by pick (O(N) per
    # pick, so a 60 s motion's 600 latents plan in milliseconds).
    near = np.full(num_latents, np.inf)
    for p in idx[known]:
        near = np.minimum(near, np.abs(idx - p))
    for c in counts:
        chosen: list[int] = []
        for _ in range(c):
            if known.any():
                dist = near.astype(np.float64)
            else:
                # Nothing known yet: measure from just outside both ends, so the first pick is central.
                dist = np.minimum(idx + 1, num_latents - idx).astype(np.float64)
            dist = np.where(known, -np.inf, dist + jitter)
            j = int(np.argmax(dist))
            chosen.append(j)
            known[j] = True
            near = np.minimum(near, np.abs(idx - j))
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


def pass_plan(transformer: torch.nn.Module, text_index: np.ndarray, config: SamplerConfig
              ) -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """The transformer passes (start, end, text) and each latent's owner pass, for the config's
    window size, overlap and segment context (momadiff.segments.plan_passes)."""
    window = min(config.window or transformer.config.max_latents, transformer.config.max_latents)
    return plan_passes(text_index, window, min(window - 1, int(round(config.window_overlap * window))),
                       config.segment_context, config.segment_blend)


def conditions(transformer: torch.nn.Module, latents: torch.Tensor, known: np.ndarray, user: np.ndarray,
               texts: torch.Tensor, chosen: np.ndarray, passes: list[tuple[int, int, int]],
               owner: np.ndarray, cfg_scale: float, control: torch.Tensor | None = None) -> torch.Tensor:
    """The guided condition [len(chosen), C] of the chosen latents.

    The transformer has one text token, so each latent's condition comes from the pass that owns
    it: its own text (a row of texts [K, text_dim], or NULL_TEXT) over its span of latents. The
    passes needed, each with a null-text twin for guidance, run as one batch, shorter spans padded
    at the end as in training. One text within max_latents is the plain sampler: [text] or
    [text, null] over all latents. control [N, control_dim]: per-latent constraints, the same in
    every pass's guided and unguided rows (guidance is on text only)."""
    guided = cfg_scale != 1.0
    need = sorted(set(owner[chosen].tolist()))
    rows: list[tuple[int, bool]] = []                  # (pass, null text?)
    for p in need:
        rows.append((p, passes[p][2] == NULL_TEXT))
        if guided and passes[p][2] != NULL_TEXT:
            rows.append((p, True))
    row = {r: n for n, r in enumerate(rows)}
    width = max(passes[p][1] - passes[p][0] for p, _ in rows)
    B, D = len(rows), latents.shape[1]
    lat = torch.zeros(B, width, D)
    masked = torch.ones(B, width, dtype=torch.bool)
    key = torch.zeros(B, width, dtype=torch.bool)
    pad = torch.ones(B, width, dtype=torch.bool)
    text = torch.stack([texts[max(passes[p][2], 0)] for p, _ in rows])
    ctl = None if control is None else torch.zeros(B, width, control.shape[1])
    for n, (p, _) in enumerate(rows):
        a, b = passes[p][:2]
        lat[n, :b - a] = latents[a:b]
        if ctl is not None:
            ctl[n, :b - a] = control[a:b]
        masked[n, :b - a] = torch.from_numpy(~known[a:b])
        key[n, :b - a] = torch.from_numpy(user[a:b])
        pad[n, :b - a] = False
    cond = transformer(lat, masked, text, pad=pad if pad.any() else None,
                       drop_text=torch.tensor([d for _, d in rows]), key=key, control=ctl)   # [B, W, C]
    # Gather every chosen latent's row and position at once (no Python loop over latents).
    own = owner[chosen]
    pos = torch.from_numpy(chosen - np.array([passes[p][0] for p in own]))
    null = np.array([passes[p][2] == NULL_TEXT for p in own])
    c = cond[torch.tensor([row[(p, bool(n))] for p, n in zip(own, null)]), pos]      # [len(chosen), C]
    if guided and not null.all():
        u = cond[torch.tensor([row[(p, True)] for p in own]), pos]
        mix = u + cfg_scale * (c - u)
        c = torch.where(torch.from_numpy(null)[:, None], c, mix)
    return c


@torch.no_grad()
def iter_sample(transformer: torch.nn.Module, head: torch.nn.Module, schedule: NoiseSchedule,
                text: torch.Tensor, num_latents: int, config: SamplerConfig,
                generator: torch.Generator, user_latents: dict[int, torch.Tensor] | None = None,
                decode: Callable[[torch.Tensor], np.ndarray] | None = None,
                control: torch.Tensor | None = None,
                text_index: np.ndarray | None = None, context: dict[int, torch.Tensor] | None = None,
                ) -> Iterator[Stage]:
    """Yield one Stage per transformer iteration.

    text: the caption embedding [text_dim], or one per segment text [K, text_dim] with
    text_index [num_latents] saying which each latent is conditioned on (NULL_TEXT: the null
    text; see momadiff.segments). user_latents: {latent index: [D] latent} from keyframes.
    decode: maps latents [N, D] to joints, called once per stage for display and the result.
    control [N, control_dim]: per-latent constraints (momadiff.model.control) for a transformer
    with a control input; the same in the guided and unguided halves (guidance is on text only).
    context: {latent index: [D] latent} known from elsewhere (e.g. a window generated before):
    fixed like keys, but not flagged to the transformer as keys encoded from a static pose.
    Motions longer than the transformer's max_latents run it over overlapping windows.
    """
    user_latents = user_latents or {}
    texts = text.reshape(-1, text.shape[-1])                                  # [K, text_dim]
    if text_index is None:
        text_index = np.zeros(num_latents, dtype=np.int64)
    latent_dim = head.config.latent_dim
    latents = torch.zeros(num_latents, latent_dim)
    user = np.zeros(num_latents, dtype=bool)
    for i, z in user_latents.items():
        latents[i] = z
        user[i] = True
    known = user.copy()
    for i, z in (context or {}).items():
        latents[i] = z
        known[i] = True
    plan = plan_stages(num_latents, known, config.iterations, config.keyframe_stride, generator,
                       config.order)
    passes, owner = pass_plan(transformer, text_index, config)
    # Correlated starting noise (momadiff.model.noise.smooth): each latent's is still N(0, I), so each
    # sample's distribution is unchanged, but errors vary smoothly over time rather than as jitter.
    start = noise.smooth(num_latents, latent_dim, config.noise_corr, generator) if config.noise_corr > 0 else None
    for s, chosen in enumerate(plan, start=1):
        t0 = time.perf_counter()
        c = conditions(transformer, latents, known, user, texts, chosen, passes, owner, config.cfg_scale,
                       control)
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
