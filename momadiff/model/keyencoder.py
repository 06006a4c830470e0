"""The keyframe encoder: a single pose -> the latent the VAE would give the window around it.

A user keyframe is one pose, with no velocities and no neighbouring frames, so the VAE encoder
can't see what it needs. This small MLP is trained (beside the VAE, on the VAE's own posterior
means as targets) to predict a latent from the pose part of one frame's features plus where that
frame sits inside the latent's window. Its output is the conditional mean of the latent given the
pose: a value from the distribution the transformer was trained on, not a static-pose encoding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..motion import features


def pose_slice_indices() -> np.ndarray:
    """Feature indices that describe a single pose: root height, root-relative joints, rotations."""
    return np.concatenate([[features.ROOT.start + 3],
                           np.arange(features.RIC.start, features.RIC.stop),
                           np.arange(features.ROT.start, features.ROT.stop)])


@dataclass
class KeyEncoderConfig:
    latent_dim: int = 16
    down: int = 4
    width: int = 256
    depth: int = 3


class KeyEncoder(nn.Module):
    """pose features (normalised, [M, P]) + offset in window [M] -> latent [M, latent_dim]."""

    def __init__(self, config: KeyEncoderConfig):
        super().__init__()
        self.config = config
        self.pose_dim = len(pose_slice_indices())
        layers: list[nn.Module] = [nn.Linear(self.pose_dim + config.down, config.width), nn.SiLU()]
        for _ in range(config.depth - 1):
            layers += [nn.Linear(config.width, config.width), nn.SiLU()]
        layers.append(nn.Linear(config.width, config.latent_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, pose: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        onehot = nn.functional.one_hot(offset.long(), self.config.down).to(pose.dtype)   # [M, down]
        return self.net(torch.cat([pose, onehot], dim=-1))


def training_pairs(feats: torch.Tensor, mu: torch.Tensor, down: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """From normalised features [B, T, F] and the VAE's means [B, T/down, D], pick one random frame
    in every latent's window: returns (pose [B*N, P], offset [B*N], target latent [B*N, D])."""
    B, N, D = mu.shape
    offset = torch.randint(0, down, (B, N), generator=generator)
    frame = torch.arange(N)[None] * down + offset                                  # [B, N]
    idx = torch.from_numpy(pose_slice_indices())
    pose = torch.gather(feats, 1, frame[..., None].expand(-1, -1, feats.shape[-1]))[..., idx]
    return pose.reshape(B * N, -1), offset.reshape(-1), mu.reshape(B * N, D)
