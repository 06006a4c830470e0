"""Checkpoints as plain dicts of tensors and builtins, loaded only with weights_only=True.

A checkpoint: {"format_version", "kind", "config": asdict(cfg), "model": state_dict,
"ema": state_dict or None, "step", "mean", "std", "text_encoder", "meta"} plus any extra plain keys.
Nothing in it is unpickled as code, so a crafted file cannot run anything on load.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that can't be used: unreadable, unsafe, or of the wrong kind or version."""


def save(path: str | os.PathLike, ckpt: dict[str, Any]) -> None:
    """Write atomically (a temp file then rename), so a run killed mid-write loses nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"format_version": FORMAT_VERSION, **ckpt}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Load with weights_only=True; refuse anything else (pickled code, wrong kind, newer format)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged file can make the unpickler fail in any way (KeyError, IndexError...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"refusing to load {path}: not a plain tensor checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(f"{path} is not a momadiff checkpoint")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {ckpt['format_version']}; this momadiff reads up to {FORMAT_VERSION}")
    if kind is not None and ckpt.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {ckpt.get('kind')!r} checkpoint, expected {kind!r}")
    return ckpt


def weights(ckpt: dict[str, Any], name: str) -> dict[str, torch.Tensor]:
    """The state dict to use for part `name` ("model", "head", ...): its EMA weights when the
    checkpoint has them (what we evaluate and ship; an exported folder keeps only those, as
    `name`), floating-point tensors as float32."""
    sd = ckpt.get(f"{name}_ema") or ckpt[name]
    return {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
