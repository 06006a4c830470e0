"""Writing frames to an mp4 that browsers play: H.264, yuv420p, moov atom first.

Frames are piped raw into the ffmpeg binary shipped inside the imageio-ffmpeg wheel (no system
ffmpeg needed); ffmpeg encodes on the other core while the next frames are drawn.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary from imageio-ffmpeg (RuntimeError with the fix if missing)."""
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("writing mp4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg)") from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: float, size: tuple[int, int]) -> Path:
    """Encode RGB frames [H, W, 3] uint8 of size (W, H), both even, into an mp4 at path."""
    w, h = size
    if w % 2 or h % 2:
        raise ValueError(f"H.264 in yuv420p needs an even frame size, got {w}x{h}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for frame in frames:
            if frame.shape != (h, w, 3):
                raise ValueError(f"frame of shape {frame.shape}, expected {(h, w, 3)}")
            proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed writing {path}: {err.splitlines()[-1] if err else 'no message'}")
    return path
