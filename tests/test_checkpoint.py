"""Checkpoints load only as plain tensors: a crafted pickle is refused without running it."""
import pickle

import numpy as np
import pytest
import torch

from momadiff.model import checkpoint
from momadiff.model.checkpoint import CheckpointError
from momadiff.pipeline import Pipeline


class Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_round_trip(tmp_path):
    ck = {"kind": "vae", "config": {"a": 1}, "model": {"w": torch.ones(3)}, "step": 7}
    checkpoint.save(tmp_path / "c.pt", ck)
    back = checkpoint.load(tmp_path / "c.pt", kind="vae")
    assert back["step"] == 7 and torch.equal(back["model"]["w"], torch.ones(3))
    assert back["format_version"] == checkpoint.FORMAT_VERSION
    with pytest.raises(CheckpointError, match="expected 't2m'"):
        checkpoint.load(tmp_path / "c.pt", kind="t2m")


def test_crafted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.pt"
    # torch.save pickles arbitrary objects; weights_only loading must refuse them.
    torch.save({"format_version": 1, "kind": "vae", "model": Payload(str(marker))}, bad)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refusing"):
        checkpoint.load(bad)
    assert not marker.exists()


def test_plain_pickle_file_is_refused(tmp_path):
    marker = tmp_path / "pwned2"
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps(Payload(str(marker))))
    with pytest.raises(CheckpointError):
        checkpoint.load(bad)
    assert not marker.exists()


def test_garbage_and_truncated_files(tmp_path):
    # Random bytes, half of them behind a pickle header (how torch's legacy format starts): the
    # unpickler fails in many ways (IndexError, KeyError, ...), every one must become CheckpointError.
    rng = np.random.default_rng(0)
    for i in range(200):
        junk = rng.bytes(int(rng.integers(10, 3000)))
        (tmp_path / "g.pt").write_bytes(b"\x80\x02" + junk if i % 2 else junk)
        with pytest.raises(CheckpointError):
            checkpoint.load(tmp_path / "g.pt")
    checkpoint.save(tmp_path / "ok.pt", {"kind": "vae", "x": torch.zeros(1000)})
    data = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "t.pt")


def test_pipeline_refuses_a_poisoned_model_folder(tiny_model_dir, tmp_path):
    folder = tmp_path / "poisoned"
    folder.mkdir()
    (folder / "vae.pt").write_bytes((tiny_model_dir / "vae.pt").read_bytes())
    marker = tmp_path / "pwned3"
    torch.save({"format_version": 1, "kind": "t2m", "model": Payload(str(marker))}, folder / "t2m.pt")
    with pytest.raises(CheckpointError):
        Pipeline.from_pretrained(folder)
    assert not marker.exists()


def test_weights_prefer_ema_and_come_back_as_float32():
    raw = {"w": torch.zeros(2), "n": torch.tensor([3])}
    ema = {"w": torch.ones(2, dtype=torch.float16), "n": torch.tensor([3])}
    got = checkpoint.weights({"model": raw, "model_ema": ema}, "model")
    assert got["w"].dtype == torch.float32 and torch.equal(got["w"], torch.ones(2))
    assert got["n"].dtype == torch.int64
    # an exported folder keeps only the EMA weights, under the plain name (and a run without EMA has None)
    assert torch.equal(checkpoint.weights({"model": ema}, "model")["w"], torch.ones(2))
    assert torch.equal(checkpoint.weights({"model": raw, "model_ema": None}, "model")["w"], torch.zeros(2))
