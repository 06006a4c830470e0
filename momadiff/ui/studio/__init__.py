"""The keyframe timeline editor: gr.HTML with its own HTML, CSS and JS (the files beside this one).

How it talks to Python: see timeline.js. The keys live in a hidden textbox (elem_id KEYS_ID), the
selected key's frame in another (SELECTED_ID); the duration slider is SECONDS_ID. `REFRESH_JS`
is the JS hook app.py attaches to the keys textbox's and the slider's `.change` events,
`GENERATE_JS` the one it runs before Generate.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ...motion import skeleton
from ...pipeline import MAX_KEYFRAMES

HERE = Path(__file__).resolve().parent
KEYS_ID = "momadiff-keys"
SELECTED_ID = "momadiff-selected"
TIMELINE_ID = "momadiff-timeline"

# JS for `.change(fn=None, inputs=[keys, seconds], js=REFRESH_JS)`: redraw from Python's values.
REFRESH_JS = "(keys, seconds) => { if (window.momadiffTimeline) window.momadiffTimeline.refresh(keys, seconds); }"
# JS run by the page's Generate before the request (its return value is what Python gets): keys
# past the end of the motion stay on the timeline, marked, and are left out of the request, so a
# shorter duration never makes Generate fail, however it was set. Inputs: text, seconds, seed,
# keys, then the rest unchanged. API calls do not run it: there such keys are refused.
GENERATE_JS = ("(text, seconds, seed, keys, ...rest) => [text, seconds, seed, window.momadiffTimeline ? "
               "window.momadiffTimeline.usable(keys, seconds) : keys, ...rest]")


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """One of the editor's files (timeline.html / .css / .js) as text."""
    return (HERE / name).read_text(encoding="utf-8")


def timeline_kwargs(poses: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Keyword arguments for gr.HTML that make it the timeline editor."""
    return {"value": "", "html_template": asset("timeline.html"), "css_template": asset("timeline.css"),
            "js_on_load": asset("timeline.js"), "elem_id": TIMELINE_ID, "poses": poses,
            "seconds": float(seconds), "fps": skeleton.FPS, "max_keys": MAX_KEYFRAMES}
