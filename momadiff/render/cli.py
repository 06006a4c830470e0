"""`python -m momadiff render motion.npy --out DIR [--fps 20] [--size 480]`: skeleton.mp4,
mesh.mp4 and motion.glb for a motion saved as joint positions [T, 22, 3]."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..motion import skeleton
from .glb import write_glb
from .mesh_video import MeshRenderUnavailable, render_mesh_video
from .skeleton import render_skeleton_video
from .validate import check_joints

EXIT_BAD_INPUT = 2
EXIT_PARTIAL = 1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> None:
        self.exit(EXIT_BAD_INPUT, f"momadiff render: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m momadiff render",
                description="Render a motion (.npy of joint positions [T, 22, 3], metres, Y up) to "
                            "skeleton.mp4, mesh.mp4 and motion.glb.")
    p.add_argument("motion", type=Path, help="a .npy file holding joint positions [T, 22, 3]")
    p.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    p.add_argument("--fps", type=int, default=skeleton.FPS, help="frame rate of the motion and videos (default 20)")
    p.add_argument("--size", type=int, default=480, help="video frame size in pixels, square (default 480)")
    p.add_argument("--no-mesh", action="store_true", help="skip mesh.mp4 (no OpenGL needed)")
    return p


def _load(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # corrupt or not a .npy file
        raise ValueError(f"cannot read {path} as a .npy array: {err}") from err
    return check_joints(data)


def render_cli(argv: list[str]) -> int:
    """Run the render command on argv (without the program name); returns the exit code:
    0 all written, 1 mesh.mp4 impossible here (the rest written), 2 bad arguments or input."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error already reported on stderr
        return int(stop.code or 0)
    if args.fps <= 0 or args.size < 16 or args.size % 2:
        print("momadiff render: error: --fps must be positive and --size an even number >= 16", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        joints = _load(args.motion)
    except ValueError as err:
        print(f"momadiff render: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out: Path = args.out
    size = (args.size, args.size)
    written = [render_skeleton_video(joints, out / "skeleton.mp4", fps=args.fps, size=size),
               write_glb(joints, out / "motion.glb", fps=args.fps)]
    code = 0
    if not args.no_mesh:
        try:
            written.append(render_mesh_video(joints, out / "mesh.mp4", fps=args.fps, size=size))
        except MeshRenderUnavailable as err:
            print(f"momadiff render: mesh.mp4 not written: {err}", file=sys.stderr)
            code = EXIT_PARTIAL
    for path in written:
        print(path)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(render_cli(sys.argv[1:]))
