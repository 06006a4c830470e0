"""Write the 3D view's static files: the mannequin mesh as numbers and the first-load example.

    python -m momadiff.ui.make_studio_assets [--model DIR] [--out assets/studio]

- mannequin.json: the project's own skinned mesh (momadiff.render.mannequin) in its rest T-pose:
  positions (float32), triangle indices (uint16), 4 skin joints (uint8) and weights (float32) per
  vertex, base64 little-endian, and the 22 rest joints the vertices were built around. The view
  poses it per frame by linear blend skinning with rotations it solves from the joints.
- example.json: a motion of the bundled model (a view message, momadiff.ui.viewdata), shown in the
  view before anything is generated.
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "assets" / "studio"
EXAMPLE_TEXT = "a person walks forward and waves with the right hand"
EXAMPLE_SECONDS = 6.0
EXAMPLE_SEED = 0


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii")


def mannequin_numbers() -> dict:
    """The canonical mannequin as JSON-ready numbers (see the module docstring)."""
    from ..render.mannequin import Mannequin
    man = Mannequin.build()
    idx, w = man.skin_influences(4)
    if len(man.vertices) >= 65536:
        raise ValueError("the mannequin has too many vertices for uint16 indices")
    return {"format": 1, "vertices": int(len(man.vertices)), "faces": int(len(man.faces)),
            "rest_joints": np.round(man.rest_joints.astype(np.float64), 5).tolist(),
            "positions": _b64(man.vertices.astype(np.float32)), "index": _b64(man.faces.astype(np.uint16)),
            "skin_index": _b64(idx.astype(np.uint8)), "skin_weight": _b64(w.astype(np.float32))}


def example_message(model: str | None) -> dict:
    """The first-load example: the bundled model's motion for EXAMPLE_TEXT."""
    from ..pipeline import Pipeline
    from .viewdata import motion_message
    pipe = Pipeline.from_pretrained(model)
    motion = pipe.generate(EXAMPLE_TEXT, seconds=EXAMPLE_SECONDS, seed=EXAMPLE_SEED)
    msg = motion_message("example", motion.joints, EXAMPLE_TEXT, pipe.down)
    msg["summary"] = f"Example: \"{EXAMPLE_TEXT}\", {EXAMPLE_SECONDS:g} s, seed {EXAMPLE_SEED}"
    return msg


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: the bundled one)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    a = p.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mannequin.json").write_text(json.dumps(mannequin_numbers(), separators=(",", ":")), encoding="utf-8")
    (out / "example.json").write_text(json.dumps(example_message(a.model), separators=(",", ":")), encoding="utf-8")
    for name in ("mannequin.json", "example.json"):
        print(f"{out / name}: {(out / name).stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
