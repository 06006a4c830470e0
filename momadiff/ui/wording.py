"""How the app words numbers for people: counts with the right plural, and the frame convention.

Frames count from 0 everywhere the app shows one (timeline, sliders, filmstrip, videos, messages):
a motion of n frames has frames 0 to n - 1, and frame f is at f / fps seconds.
"""
from __future__ import annotations

FRAME_CONVENTION = "frames count from 0"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 key', '2 keys', '0 stages' (plural defaults to noun + 's')."""
    n = int(n)
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
