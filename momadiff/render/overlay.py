"""Text and marks drawn over rendered frames: title, frame counter, keyframe border and label."""
from __future__ import annotations

import importlib.util
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..motion import skeleton

HIGHLIGHT = (242, 178, 20)
TEXT = (40, 44, 52)


def _font_files() -> list[Path]:
    """TrueType fonts to draw text with, best first: DejaVu Sans as matplotlib bundles it (a
    requirement, so always there; Latin, Greek, Cyrillic and more), then the system's copy."""
    found = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        found.append(Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf")
    found.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    return [f for f in found if f.is_file()]


@lru_cache(maxsize=1)
def _font_file() -> tuple[Path | None, frozenset[int]]:
    """(the font file text is drawn with, the code points it has glyphs for); (None, ASCII) when
    only Pillow's built-in font is available."""
    for path in _font_files():
        try:
            from fontTools.ttLib import TTFont
            with TTFont(str(path), lazy=True) as tt:
                return path, frozenset(tt.getBestCmap())
        except Exception:   # a broken font file: try the next one
            continue
    return None, frozenset(range(32, 127))


def drawable(text: str) -> str:
    """text with every character the font has no glyph for made drawable: accents the font lacks
    are dropped (NFKD), anything else becomes '?', instead of the font's empty box."""
    _, chars = _font_file()
    out = []
    for ch in text:
        if ord(ch) in chars or ch.isspace():
            out.append(" " if ch.isspace() else ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) in chars for c in base) else "?")
    return "".join(out)


@lru_cache(maxsize=16)
def font(px: int) -> ImageFont.ImageFont:
    """A sans font at px pixels: DejaVu Sans when available (see _font_files), else Pillow's."""
    path, _ = _font_file()
    if path is not None:
        try:
            return ImageFont.truetype(str(path), px)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def counter_text(t: int, n: int, fps: int = skeleton.FPS) -> str:
    """'frame 0 of 0-119   0.00 s': frames count from 0, as in the timeline, sliders and files."""
    return f"frame {t} of 0-{n - 1}   {t / fps:.2f} s"


def annotate(img: Image.Image, t: int, n: int, highlight: bool = False, title: str | None = None,
             counter: bool = True, fps: int = skeleton.FPS) -> None:
    """Draw, in place, a title (top left), "frame t of 0-(n-1)  seconds" (bottom left: frames count
    from 0, as everywhere in the app) and, for a highlighted
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
        draw.text((pad, pad), drawable(title), fill=TEXT, font=font(max(8, int(h * 0.04))))
    if counter and not small:
        size = max(8, int(h * 0.032))
        draw.text((pad, h - pad - int(size * 1.25)), counter_text(t, n, fps), fill=TEXT, font=font(size))


def draw_overlay(frame: np.ndarray, t: int, n: int, highlight: bool = False, title: str | None = None) -> np.ndarray:
    """A copy of frame [H, W, 3] uint8 with annotate()'s overlay."""
    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    annotate(img, t, n, highlight=highlight, title=title)
    return np.asarray(img)
