"""The text-motion evaluator: a motion encoder and a text projection into one unit-norm space.

In the spirit of Guo et al. 2022's evaluator and of TMR: a contrastively trained pair of encoders
whose embeddings the benchmark metrics (FID, R-precision, MM-Dist, Diversity, MultiModality) are
computed in. Every metric uses the same unit-norm embedding, so distances lie in [0, 2].

- Motion side: normalised 263-d features [B, T, 263] -> a linear stem, two stride-2 1-D convs
  (T/4 tokens, cheap on CPU), a small transformer with a padding mask, masked mean pooling, a
  linear projection, L2 normalisation.
- Text side: frozen, cached sentence embeddings (MiniLM, 384-d) -> a small MLP -> L2 normalisation.
  The sentence encoder stays outside the model and its checkpoint (as for the t2m model); the
  checkpoint records its name.

Captions here are written from (content, style) labels, so clips sharing a label pair have
near-identical captions. Treating them as negatives would ask the model to separate the
inseparable; `contrastive_loss` masks them out of the InfoNCE denominators instead.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..model import checkpoint
from ..motion.features import FEATURE_DIM
from ..model.text import TextEncoder, embed_captions, get_text_encoder

CHECKPOINT_KIND = "evaluator"


@dataclass
class EvaluatorConfig:
    feature_dim: int = FEATURE_DIM
    text_dim: int = 384          # the sentence encoder's output size
    width: int = 128             # motion encoder width
    layers: int = 2              # transformer layers over the T/4 tokens
    heads: int = 4
    text_hidden: int = 256
    embed_dim: int = 128         # the shared space
    dropout: float = 0.1
    max_frames: int = 196        # longer motions are centre-cropped (HumanML3D's limit)
    temperature: float = 0.07    # initial InfoNCE temperature (learned)


EVALUATOR_PRESETS: dict[str, EvaluatorConfig] = {
    "tiny": EvaluatorConfig(width=32, layers=1, heads=2, text_hidden=32, embed_dim=16, max_frames=64),
    "small": EvaluatorConfig(),
}


def _sinusoid(n: int, d: int) -> torch.Tensor:
    """Fixed positions [n, d]: any length works at test time, whatever crops training used."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    out = torch.zeros(n, d)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return out


class TextMotionEvaluator(nn.Module):
    """Motion encoder + text projection into a shared unit-norm space of size cfg.embed_dim."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.config = cfg
        w = cfg.width
        self.stem = nn.Linear(cfg.feature_dim, w)
        self.down = nn.ModuleList([nn.Conv1d(w, w, kernel_size=4, stride=2, padding=1) for _ in range(2)])
        layer = nn.TransformerEncoderLayer(w, cfg.heads, 2 * w, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.motion_out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, cfg.embed_dim))
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, cfg.text_hidden), nn.GELU(),
                                       nn.Dropout(cfg.dropout), nn.Linear(cfg.text_hidden, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.temperature)))

    def encode_motion(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised features x [B, T, F] with mask [B, T] (True on real frames) -> [B, E] unit rows."""
        h = self.stem(x) * mask[..., None]                                  # [B, T, W]
        h = h.transpose(1, 2)                                               # [B, W, T]
        m = mask.float()[:, None]                                           # [B, 1, T]
        for conv in self.down:
            # Zero the padding before each conv, so a clip's embedding does not depend on how much
            # padding its batch needed.
            h = F.gelu(conv(h * m))
            m = (F.max_pool1d(m, 2, 2, ceil_mode=True)[..., : h.shape[-1]] > 0).float()
        h = h.transpose(1, 2)                                               # [B, T/4, W]
        keep = m[:, 0] > 0                                                  # [B, T/4]
        h = h + _sinusoid(h.shape[1], h.shape[2]).to(h)
        h = self.encoder(h, src_key_padding_mask=~keep)
        pooled = (h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)  # [B, W]
        return F.normalize(self.motion_out(pooled), dim=-1)

    def encode_text(self, emb: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings [B, text_dim] -> [B, E] unit rows."""
        return F.normalize(self.text_proj(emb), dim=-1)


def contrastive_loss(motion: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                     labels: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of matched pairs (motion [B, E], text [B, E], unit rows).

    labels [B] (ints, one per (content, style) pair): off-diagonal pairs with the same label are
    false negatives (their captions say the same thing) and are removed from both denominators.
    """
    logits = logit_scale.exp().clamp(max=100.0) * motion @ text.T         # [B, B]
    if labels is not None:
        same = labels[:, None] == labels[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(motion), device=motion.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def centre_crop(length: int, max_frames: int) -> slice:
    """The middle max_frames rows of a clip of `length` rows (all of them if it is shorter)."""
    start = max(0, (length - max_frames) // 2)
    return slice(start, start + min(length, max_frames))


def pad_batch(clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Clips [T_i, F] -> (padded [B, T_max, F] float32, mask [B, T_max] bool)."""
    width = max(len(c) for c in clips)
    x = np.zeros((len(clips), width, clips[0].shape[-1]), dtype=np.float32)
    mask = np.zeros((len(clips), width), dtype=bool)
    for b, c in enumerate(clips):
        x[b, : len(c)] = c
        mask[b, : len(c)] = True
    return x, mask


class Evaluator:
    """A trained TextMotionEvaluator with what it needs to embed raw data: the feature
    normalisation it was trained with and its sentence encoder (with an on-disk caption cache)."""

    def __init__(self, model: TextMotionEvaluator, mean: np.ndarray, std: np.ndarray,
                 text_encoder: TextEncoder, cache_path: str | os.PathLike | None = None,
                 meta: dict[str, Any] | None = None):
        self.model = model.eval()
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.text_encoder = text_encoder
        self.cache_path = cache_path
        self.meta = meta or {}

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, text_encoder: TextEncoder | None = None,
                        cache_path: str | os.PathLike | None = None) -> "Evaluator":
        """Load an "evaluator" checkpoint (EMA weights when present). The caption cache defaults
        to caption_cache.npz beside the checkpoint, the file training already filled."""
        ckpt = checkpoint.load(path, kind=CHECKPOINT_KIND)
        model = TextMotionEvaluator(EvaluatorConfig(**ckpt["config"]))
        state = ckpt.get("ema") or ckpt["model"]
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        if text_encoder is None:
            text_encoder = get_text_encoder(ckpt["text_encoder"], **ckpt.get("text_encoder_kwargs", {}))
        if text_encoder.name != ckpt["text_encoder"] or text_encoder.dim != model.config.text_dim:
            raise checkpoint.CheckpointError(
                f"this evaluator was trained on {ckpt['text_encoder']!r} ({model.config.text_dim}-d) text embeddings, "
                f"not {text_encoder.name!r} ({text_encoder.dim}-d)")
        if cache_path is None:
            cache_path = Path(path).parent / "caption_cache.npz"
        meta = {"path": str(path), "step": ckpt.get("step"), **ckpt.get("meta", {})}
        return cls(model, ckpt["mean"].numpy(), ckpt["std"].numpy(), text_encoder, cache_path, meta)

    @torch.no_grad()
    def embed_features(self, feats: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Raw (not normalised) features, one [T_i, 263] array per motion -> [N, E] float32 unit rows."""
        out = [np.zeros((0, self.model.config.embed_dim), dtype=np.float32)]
        L = self.model.config.max_frames
        for i in range(0, len(feats), batch_size):
            chunk = [((f - self.mean) / self.std)[centre_crop(len(f), L)] for f in feats[i:i + batch_size]]
            x, mask = pad_batch(chunk)
            out.append(self.model.encode_motion(torch.from_numpy(x), torch.from_numpy(mask)).numpy())
        return np.concatenate(out)

    def sentence_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        """The frozen sentence encoder's [N, text_dim] embeddings, through the caption cache."""
        return embed_captions(list(texts), self.text_encoder, self.cache_path)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Captions -> [N, E] float32 unit rows."""
        emb = torch.from_numpy(self.sentence_embeddings(texts))
        return self.model.encode_text(emb).numpy()
