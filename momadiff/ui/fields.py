"""Number inputs whose values reach the handlers unchecked, so the handlers can answer in place.

Gradio's Slider and Number refuse a value outside their minimum / maximum before any handler
runs: the event fails with an "Error" toast over the page and red "Error" pills on its outputs,
while the browser clamps the box (a typed 50 s became 12 s after the toast). These versions pass
the value through (rounded as usual); the handlers clamp or refuse it with one inline message.
Each keeps the look of its base component (is_template: the browser draws a Slider / Number).
"""
from __future__ import annotations

from typing import Any

import gradio as gr


class FreeSlider(gr.Slider):
    """gr.Slider whose out-of-range values reach the handler (which must check them)."""
    is_template = True

    def preprocess(self, payload: float) -> float:
        return gr.Number.round_to_precision(payload, self.precision)


class FreeNumber(gr.Number):
    """gr.Number whose out-of-range values reach the handler (which must check them)."""
    is_template = True

    def preprocess(self, payload: float | None) -> Any:
        return None if payload is None else self.round_to_precision(payload, self.precision)
