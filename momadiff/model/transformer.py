"""Bidirectional masked transformer over frame latents, with the text token first.

It sees the known latents (and user keyframes), a [MASK] embedding wherever a latent is hidden,
and one text token; it outputs a condition vector per latent for the diffusion head.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .control import ControlEncoder, control_dim


@dataclass
class TransformerConfig:
    """Sizes of the masked transformer."""

    latent_dim: int = 16
    text_dim: int = 384
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 4
    ff_mult: int = 4
    dropout: float = 0.1
    max_latents: int = 128   # longest latent sequence (the text token comes on top)
    # Frames per latent of the control input (momadiff.model.control: joint targets and masks per
    # latent); 0 = no control input, as in models trained before it existed.
    control_frames: int = 0

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")


TRANSFORMER_PRESETS: dict[str, TransformerConfig] = {
    "tiny": TransformerConfig(d_model=32, n_layers=2, n_heads=2, max_latents=64),
    "small": TransformerConfig(),
    # What ships: ~1.3 M parameters, ~0.8 s per batch of 32 on one busy CPU core (measured).
    "cpu": TransformerConfig(d_model=192, n_layers=4, n_heads=4, ff_mult=2, max_latents=128),
}


class MaskedTransformer(nn.Module):
    """Text token + N latent tokens -> a condition [B, N, d_model] per latent."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.latent_in = nn.Linear(config.latent_dim, d)
        self.text_in = nn.Linear(config.text_dim, d)
        self.mask_emb = nn.Parameter(torch.empty(d))
        self.null_text = nn.Parameter(torch.empty(d))
        self.key_emb = nn.Parameter(torch.empty(d))
        self.pos_emb = nn.Parameter(torch.empty(config.max_latents + 1, d))   # slot 0 is the text
        for p in (self.mask_emb, self.null_text, self.key_emb, self.pos_emb):
            nn.init.normal_(p, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d, config.n_heads, config.ff_mult * d, config.dropout, activation="gelu",
            batch_first=True, norm_first=True)
        # Nested tensors would drop padded positions from the output; we want a dense [B, N, D].
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.control_in = (ControlEncoder(control_dim(config.control_frames), d)
                           if config.control_frames else None)

    @property
    def cond_dim(self) -> int:
        """Size of the per-latent condition vector (the diffusion head's input)."""
        return self.config.d_model

    def forward(self, latents: Tensor, masked: Tensor, text: Tensor, pad: Tensor | None = None,
                drop_text: Tensor | None = None, key: Tensor | None = None,
                control: Tensor | None = None) -> Tensor:
        """Condition vectors for every latent position.

        latents [B, N, latent_dim]; masked [B, N] bool, True = hidden, to be predicted (its value
        is never read); text [B, text_dim]; pad [B, N] bool, True = beyond the motion's end (never
        attended to); drop_text [B] bool, True = use the learned null text (classifier-free
        guidance); key [B, N] bool, True = a user keyframe encoded from a static pose (the key
        embedding is added on top of the latent's token, or of [MASK] if also masked);
        control [B, N, control_dim] the constraints of each latent's frames (model.control), used
        only by a model with control_frames > 0 (None = no constraints: nothing is added).
        Returns cond [B, N, d_model].
        """
        b, n, _ = latents.shape
        if n > self.config.max_latents:
            raise ValueError(f"{n} latents exceed max_latents={self.config.max_latents}")

        h = self.latent_in(latents)                                         # [B, N, D]
        # torch.where rather than arithmetic masking: hidden or padded values (even NaN) never leak.
        h = torch.where(masked.unsqueeze(-1), self.mask_emb.to(h.dtype), h)
        if key is not None:
            h = h + key.unsqueeze(-1).to(h.dtype) * self.key_emb
        if control is not None and self.control_in is not None:
            h = h + self.control_in(control.to(h.dtype))
        if pad is not None:
            h = torch.where(pad.unsqueeze(-1), torch.zeros_like(h), h)

        t = self.text_in(text).unsqueeze(1)                                 # [B, 1, D]
        if drop_text is not None:
            t = torch.where(drop_text.view(b, 1, 1), self.null_text.to(t.dtype), t)

        x = torch.cat([t, h], dim=1) + self.pos_emb[: n + 1]                # [B, 1+N, D]
        kpm = None
        if pad is not None:
            kpm = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=pad.device), pad], dim=1)
        x = self.encoder(x, src_key_padding_mask=kpm)                       # [B, 1+N, D]
        return self.norm(x[:, 1:])
