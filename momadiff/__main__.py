"""Command line: `python -m momadiff generate ...` and `python -m momadiff render ...`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _load_path(path: str):
    """path.json: a list of [frame, x, z] or [frame, x, z, heading_degrees] pelvis waypoints."""
    from . import constraints as cons, userjson
    try:
        data = userjson.loads(Path(path).read_text(), str(path), cons.ConstraintError)
    except OSError as e:
        raise cons.ConstraintError(f"can't read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise cons.ConstraintError(f"{path} is not UTF-8 text") from None
    return cons.parse_path(data)


def _load_keys(path: str):
    """keys.json: a list of {"frame", "joints": [[x, y, z] x 22]}, {"frame", "joints": {name: [x, y, z]}}
    (a partial key) or {"frame", "bvh", "bvh_frame"}."""
    from . import userjson
    from .keyframes import Keyframe, KeyframeError
    try:
        data = userjson.loads(Path(path).read_text(), str(path), KeyframeError)
    except OSError as e:
        raise KeyframeError(f"can't read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise KeyframeError(f"{path} is not UTF-8 text") from None
    if not isinstance(data, list):
        raise KeyframeError(f"{path} must hold a JSON list of keyframes")
    keys = []
    for n, d in enumerate(data):
        if isinstance(d, dict) and "bvh" in d:
            from .motion.retarget import load_bvh_joints
            bvh_path = Path(path).parent / d["bvh"] if not Path(d["bvh"]).is_absolute() else Path(d["bvh"])
            joints = load_bvh_joints(bvh_path)
            i = d.get("bvh_frame", 0)
            if not isinstance(i, int) or not 0 <= i < len(joints):
                raise KeyframeError(f"keyframe {n}: bvh_frame {i!r} is outside {bvh_path.name} (0 to {len(joints) - 1} at 20 fps)")
            d = {"frame": d.get("frame"), "joints": joints[i].tolist(), "fix_root": d.get("fix_root", False)}
        keys.append(Keyframe.from_dict(d))
    return keys


def _generate(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m momadiff generate", description="Generate a motion from text.")
    p.add_argument("text", nargs="?", default=None, help="the prompt (or give --segment instead)")
    p.add_argument("--segment", action="append", default=None, metavar="START:END:TEXT",
                   help="a timeline segment in seconds, e.g. 0:4:a person walks forward (repeatable)")
    p.add_argument("--seconds", type=float, default=None,
                   help="duration (default: 6, or the last segment's end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keyframes", help="keys.json (see README)")
    p.add_argument("--path", help="path.json: root-path waypoints [[frame, x, z(, heading)], ...]")
    p.add_argument("--model", help="model folder (default: the bundled one)")
    p.add_argument("--cfg-scale", type=float)
    p.add_argument("--iterations", type=int)
    p.add_argument("--ddim-steps", type=int)
    p.add_argument("--out", default="out")
    a = p.parse_args(argv)
    from .motion import bvh
    from .model.checkpoint import CheckpointError
    from .keyframes import KeyframeError
    from .pipeline import GenerationError, Pipeline
    from .segments import parse_cli_segment, parse_segments
    from .ui.wording import counted
    try:
        segments = None
        if a.segment:
            segments = parse_segments([parse_cli_segment(s) for s in a.segment])
        elif a.text is None:
            raise GenerationError("give a TEXT or at least one --segment START:END:TEXT")
        keys = _load_keys(a.keyframes) if a.keyframes else []
        path = _load_path(a.path) if a.path else []
        pipe = Pipeline.from_pretrained(a.model)
        motion = pipe.generate(a.text, seconds=a.seconds, seed=a.seed, keyframes=keys, cfg_scale=a.cfg_scale,
                               iterations=a.iterations, ddim_steps=a.ddim_steps, root_path=path,
                               segments=segments)
    except (GenerationError, KeyframeError, CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "motion.npy", motion.joints)
    bvh.save(out / "motion.bvh", motion.joints, fps=motion.fps)
    secs = sum(motion.seconds.values())
    print(f"{motion.num_frames} frames ({motion.num_frames / motion.fps:.1f} s) in {counted(len(motion.stages), 'stage')}, "
          f"{secs:.2f} s; wrote {out / 'motion.npy'} and {out / 'motion.bvh'}")
    for w in motion.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m momadiff {generate,render} ...\n"
              "  generate TEXT [--seconds S] [--seed N] [--keyframes keys.json] [--path path.json] [--out DIR]\n"
              "  generate --segment START:END:TEXT [--segment ...] [--seconds S] [--seed N] [--out DIR]\n"
              "  render motion.npy --out DIR")
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "generate":
        return _generate(rest)
    if cmd == "render":
        from .render import render_cli
        return render_cli(rest)
    print(f"error: unknown command {cmd!r} (generate or render)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
