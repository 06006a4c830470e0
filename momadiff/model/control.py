"""The constraint encoder: per latent, an embedding of its frames' targets and masks for the transformer.

Input layout (control_features): a latent covers `down` frames; for each of them the 22 joints'
target x, y, z (zero where unconstrained), their 66 mask bits, and the facing target as (sin, cos)
with its mask bit: down * (66 + 66 + 3) numbers per latent.

Normalisation. Targets stay in the output motion's world frame (pelvis at x = z = 0 facing +Z at
frame 0), with x and z divided by POS_SCALE. That is the frame the generated latents are decoded
into (features_to_joints integrates the root from the origin), so every constraint of every kind
means the same thing in it; positions relative to the latent's own pelvis would need the pelvis
of a latent that is not generated yet. The transformer attends over all latents, so it can relate
a target to what comes before it (how far the body still has to travel). Heights stay in metres
(0 to ~2); the mask bits tell a target of 0 from no target.

The last projection starts at zero, so a transformer fine-tuned with this input from one trained
without it starts exactly where that one was.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..motion import skeleton

POS_SCALE = 2.0          # metres per unit for x and z
PER_FRAME = skeleton.NUM_JOINTS * 3 * 2 + 3


def control_dim(down: int) -> int:
    """Size of one latent's control input for latents of `down` frames."""
    return down * PER_FRAME


def control_features(targets: np.ndarray, mask: np.ndarray, heading: np.ndarray, heading_mask: np.ndarray,
                     down: int, num_latents: int) -> np.ndarray:
    """Per-latent control input [num_latents, control_dim(down)] float32 from per-frame targets
    [T, 22, 3], mask [T, 22, 3] bool, heading [T] radians, heading_mask [T] bool. Frames beyond
    T (the last latent's padding) are unconstrained; frames beyond num_latents * down are dropped."""
    F = num_latents * down
    T = min(len(targets), F)
    pos = np.zeros((F, skeleton.NUM_JOINTS, 3), np.float32)
    m = np.zeros((F, skeleton.NUM_JOINTS, 3), np.float32)
    m[:T] = mask[:T]
    pos[:T] = np.where(mask[:T], targets[:T], 0.0)
    pos[..., [0, 2]] /= POS_SCALE
    hm = np.zeros(F, np.float32)
    hm[:T] = heading_mask[:T]
    h = np.zeros((F, 2), np.float32)
    h[:T, 0] = np.sin(heading[:T]) * hm[:T]
    h[:T, 1] = np.cos(heading[:T]) * hm[:T]
    per_frame = np.concatenate([pos.reshape(F, -1), m.reshape(F, -1), h, hm[:, None]], axis=1)
    return per_frame.reshape(num_latents, down * PER_FRAME)


class ControlEncoder(nn.Module):
    """control input [..., control_dim] -> an embedding [..., d_model] added to the latent's token."""

    def __init__(self, in_dim: int, d_model: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, d_model), nn.GELU(), nn.Linear(d_model, d_model), nn.GELU())
        self.out = nn.Linear(d_model, d_model)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, control: Tensor) -> Tensor:
        return self.out(self.net(control))
