"""Text and marks drawn over rendered frames: title, frame counter, keyframe border and label."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..motion import skeleton

HIGHLIGHT = (242, 178, 20)
TEXT = (40, 44, 52)


@lru_cache(maxsize=16)
def font(px: int) -> ImageFont.ImageFont:
    """The default sans font at px pixels (Pillow's bundled font: no system fonts needed)."""
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def annotate(img: Image.Image, t: int, n: int, highlight: bool = False, title: str | None = None,
             counter: bool = True, fps: int = skeleton.FPS) -> None:
    """Draw, in place, a title (top left), "frame t/n  seconds" (bottom left) and, for a highlighted
    frame, a border and a KEYFRAME label (top right). Sizes follow the image height."""
    draw = ImageDraw.Draw(img)
    w, h = img.size
    pad = max(2, h // 60)
    small = h < 200  # thumbnails: text would be unreadable clutter
    if highlight:
        draw.rectangle([0, 0, w - 1, h - 1], outline=HIGHLIGHT, width=max(2, h // 96))
        if not small:
            label_font = font(max(8, int(h * 0.036)))
            label = "KEYFRAME"
            draw.text((w - pad - draw.textlength(label, font=label_font), pad), label, fill=HIGHLIGHT,
                      font=label_font, stroke_width=max(1, h // 480), stroke_fill=(255, 255, 255))
    if title and not small:
        draw.text((pad, pad), title, fill=TEXT, font=font(max(8, int(h * 0.04))))
    if counter and not small:
        size = max(8, int(h * 0.032))
        draw.text((pad, h - pad - int(size * 1.25)), f"frame {t + 1}/{n}   {t / fps:.2f} s", fill=TEXT, font=font(size))


def draw_overlay(frame: np.ndarray, t: int, n: int, highlight: bool = False, title: str | None = None) -> np.ndarray:
    """A copy of frame [H, W, 3] uint8 with annotate()'s overlay."""
    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    annotate(img, t, n, highlight=highlight, title=title)
    return np.asarray(img)
