"""Turn training runs into a small model folder to ship: EMA weights only, stored as float16.

    python train/export.py --vae=runs/vae/vae.pt --t2m=runs/t2m/t2m.pt --out=assets/model

Optimizer states and the raw (non-EMA) weights are dropped; the pipeline loads the result with
Pipeline.from_pretrained(out) and casts the weights back to float32.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import common  # noqa: F401  (puts the repo on sys.path)
from momadiff.model import checkpoint

ATTRIBUTION = ("Trained on the Bandai Namco Research Motion datasets 1 and 2 "
               "(Bandai Namco Research Inc., CC BY-NC 4.0); non-commercial use only.")


def data_terms(meta: dict) -> tuple[str, str]:
    """(attribution, license) of the data a checkpoint was trained on, from its dataset_meta
    (one dataset's meta, or a MultiDataset's with its "parts"); Bandai's when none is recorded."""
    dm = meta.get("dataset_meta") or {}
    parts = dm.get("parts") or ({dm.get("name", "data"): dm} if dm.get("attribution") else {})
    if not parts:
        return ATTRIBUTION, "CC BY-NC 4.0"
    attribution = "Trained on: " + " ".join(
        f"{name}: {p['attribution'].rstrip('.')}." for name, p in parts.items() if p.get("attribution"))
    licence = "; ".join(f"{name}: {p.get('license', 'unknown')}" for name, p in parts.items())
    if any("NC" in str(p.get("license", "")) for p in parts.values()):
        attribution += " Non-commercial use only (the model inherits CC BY-NC)."
    return attribution, licence


def _half(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}


def slim(ckpt: dict, parts: list[str]) -> dict:
    """Keep config and metadata; for each part keep only its EMA weights, as float16."""
    out = {k: v for k, v in ckpt.items()
           if k not in ("optimizer", "format_version") and not any(k in (p, f"{p}_ema") for p in parts)}
    for p in parts:
        out[p] = _half(ckpt.get(f"{p}_ema") or ckpt[p])
    attribution, licence = data_terms(ckpt.get("meta", {}))
    out["meta"] = {**ckpt.get("meta", {}), "attribution": attribution, "license": licence}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vae", required=True)
    ap.add_argument("--t2m", required=True)
    ap.add_argument("--out", default="assets/model")
    ap.add_argument("--cfg_scale", type=float, default=None,
                    help="the model's default guidance scale (chosen on the val split)")
    ap.add_argument("--noise_corr", type=float, default=None,
                    help="the model's default correlation length of the head's starting noise (val split)")
    ap.add_argument("--decode_noise", type=float, default=None,
                    help="the noise level a noise-conditioned decoder is told generated latents have (val split)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    checkpoint.save(out / "vae.pt", slim(checkpoint.load(a.vae, kind="vae"), ["model", "key_encoder"]))
    t2m = slim(checkpoint.load(a.t2m, kind="t2m"), ["model", "head"])
    for name in ("cfg_scale", "noise_corr", "decode_noise"):
        if getattr(a, name) is not None:
            t2m["sampler_config"] = {**t2m.get("sampler_config", {}), name: getattr(a, name)}
    checkpoint.save(out / "t2m.pt", t2m)
    for f in ("vae.pt", "t2m.pt"):
        print(f"{out / f}: {(out / f).stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
