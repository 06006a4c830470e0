"""Tests for the text encoders and the caption-embedding cache."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from momadiff.model.text import ClipEncoder, HashingEncoder, MiniLMEncoder, TextEncoder, embed_captions, get_text_encoder

REPO = Path(__file__).resolve().parents[1]


def _unit_rows(x: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-5))


def test_import_is_cheap():
    code = ("import sys, momadiff.model.text; "
            "print(any(m in sys.modules for m in ('torch', 'transformers', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- hashing


def test_hashing_encoder_shape_norm_and_similarity():
    enc = HashingEncoder(dim=256)
    assert isinstance(enc, TextEncoder) and enc.name == "hash" and enc.dim == 256
    emb = enc.encode(["a person walks forward slowly", "a person walks forward quickly",
                      "someone throws a ball", ""])
    assert emb.shape == (4, 256) and emb.dtype == np.float32 and _unit_rows(emb)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.3
    assert np.array_equal(enc.encode(["A person, walks!"]), enc.encode(["a person walks"]))


def test_hashing_encoder_is_stable_across_processes():
    code = ("import numpy as np; from momadiff.model.text import HashingEncoder; "
            "print(np.array2string(HashingEncoder(dim=32).encode(['a man jumps twice'])[0], precision=6))")
    outs = {subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1
    here = np.array2string(HashingEncoder(dim=32).encode(["a man jumps twice"])[0], precision=6)
    assert outs == {here + "\n"}


# ---------------------------------------------------------------- registry


def test_get_text_encoder():
    enc = get_text_encoder("hash", dim=64)
    assert isinstance(enc, HashingEncoder) and enc.dim == 64
    assert isinstance(get_text_encoder("minilm"), MiniLMEncoder)
    with pytest.raises(ValueError, match="clip.*hash.*minilm"):
        get_text_encoder("bert")


# ---------------------------------------------------------------- cache


class _Counting:
    """Wraps an encoder and records what it was asked to encode."""

    def __init__(self, inner: HashingEncoder):
        self.inner, self.name, self.dim, self.cache_key = inner, inner.name, inner.dim, inner.cache_key
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts)


def test_embed_captions_uses_cache(tmp_path):
    enc = _Counting(HashingEncoder(dim=48))
    cache = tmp_path / "sub" / "captions.npz"
    texts = ["a person walks", "a person runs", "a person walks"]
    first = embed_captions(texts, enc, cache)
    assert first.shape == (3, 48) and first.dtype == np.float32
    assert enc.calls == [["a person walks", "a person runs"]]  # duplicates encoded once
    np.testing.assert_array_equal(first, enc.inner.encode(texts))
    assert cache.exists()

    again = _Counting(HashingEncoder(dim=48))
    second = embed_captions(texts[::-1], again, cache)
    assert again.calls == []
    np.testing.assert_array_equal(second, first[::-1])

    third = embed_captions(["a person jumps", "a person runs"], again, cache)
    assert again.calls == [["a person jumps"]]
    np.testing.assert_array_equal(third, again.inner.encode(["a person jumps", "a person runs"]))


def test_embed_captions_keeps_encoders_apart(tmp_path):
    cache = tmp_path / "captions.npz"
    a, b = _Counting(HashingEncoder(dim=16)), _Counting(HashingEncoder(dim=24))
    ea = embed_captions(["x y"], a, cache)
    eb = embed_captions(["x y"], b, cache)
    assert ea.shape == (1, 16) and eb.shape == (1, 24) and len(b.calls) == 1
    embed_captions(["x y"], a, cache)
    embed_captions(["x y"], b, cache)
    assert len(a.calls) == 1 and len(b.calls) == 1


def test_embed_captions_without_cache_and_empty():
    enc = _Counting(HashingEncoder(dim=8))
    out = embed_captions(["b", "a", "b"], enc)
    assert enc.calls == [["b", "a"]]
    np.testing.assert_array_equal(out[0], out[2])
    assert embed_captions([], enc).shape == (0, 8)


# ---------------------------------------------------------------- MiniLM (bundled weights)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_minilm_encodes_offline(minilm):
    assert isinstance(minilm, TextEncoder) and minilm.name == "minilm" and minilm.dim == 384
    texts = ["a person walks forward", "someone is walking ahead", "a man throws a ball overhand"]
    emb = minilm.encode(texts)
    assert os.environ.get("HF_HUB_OFFLINE") and os.environ.get("TRANSFORMERS_OFFLINE")
    assert emb.shape == (3, 384) and emb.dtype == np.float32 and _unit_rows(emb)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.1
    np.testing.assert_array_equal(minilm.encode(texts), emb)
    np.testing.assert_allclose(minilm.encode(texts[1:2])[0], emb[1], atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_missing_model_dir_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="modules.json"):
        MiniLMEncoder(model_path=tmp_path).encode(["hello"])


# ---------------------------------------------------------------- CLIP (tiny random model, real BPE files)

LETTERS = "abcdefghijklmnopqrstuvwxyz"
MERGES = ["w a", "wa l", "k s</w>", "wal ks</w>", "r u", "ru n</w>", "p e", "pe r", "s o", "so n</w>", "per son</w>"]


def _write_tokenizer(d: Path) -> int:
    """A real byte-level BPE vocabulary over lowercase letters plus a few merges; returns its size."""
    tokens = ["<|startoftext|>", "<|endoftext|>"] + list(LETTERS) + [c + "</w>" for c in LETTERS]
    tokens += ["".join(m.split()) for m in MERGES]
    (d / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    return len(tokens)


def _write_model(d: Path, vocab_size: int) -> None:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    torch.manual_seed(0)
    cfg = CLIPTextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, projection_dim=16,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1)
    CLIPTextModelWithProjection(cfg).save_pretrained(d)


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tiny_clip")
    _write_model(d, _write_tokenizer(d))
    return d


def test_clip_encoder_tiny_model(tiny_clip_dir):
    enc = get_text_encoder("clip", model=tiny_clip_dir)
    assert isinstance(enc, TextEncoder) and enc.name == "clip" and enc.dim == 16
    texts = ["a person walks", "a person runs", "walk"]
    emb = enc.encode(texts)
    assert emb.shape == (3, 16) and emb.dtype == np.float32 and _unit_rows(emb)
    assert not np.allclose(emb[0], emb[1])
    np.testing.assert_array_equal(enc.encode(texts), emb)
    # Padding inside a batch must not change an embedding.
    np.testing.assert_allclose(enc.encode(["walk"])[0], emb[2], atol=1e-5)
    ids = enc.tokenizer("a person walks")["input_ids"]
    assert enc.tokenizer.convert_ids_to_tokens(ids) == ["<|startoftext|>", "a</w>", "person</w>", "walks</w>",
                                                       "<|endoftext|>"]


def test_clip_without_tokenizer_files_raises(tiny_clip_dir, tmp_path):
    for f in ("config.json", "model.safetensors"):
        shutil.copy(tiny_clip_dir / f, tmp_path / f)
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        ClipEncoder(tmp_path)


def test_clip_tokenizer_model_mismatch_raises(tmp_path):
    _write_tokenizer(tmp_path)
    _write_model(tmp_path, vocab_size=10)
    with pytest.raises(ValueError, match="do not match"):
        ClipEncoder(tmp_path)


def test_clip_missing_hub_model_fails_offline():
    with pytest.raises(OSError, match="only local files"):
        ClipEncoder("momadiff-test/no-such-clip-model")
