"""The browser side of the studio: the keyframe timeline, the 3D view and the stage selector.

Each is a gr.HTML with its own HTML, CSS and JS (the files beside this one). The timeline keeps
the keys in a hidden textbox (KEYS_ID; the selected key's frame in SELECTED_ID); `REFRESH_JS` is
the hook app.py attaches to the keys textbox's and the duration slider's `.change` events,
`GENERATE_JS` the one it runs before Generate (keys past the end left out).

The 3D view (view.js with meshes.js, rig.js, orbit.js, posing.js: ES modules, three.js vendored
under vendor/three/) is loaded from this folder served as static files (`static_paths()`,
gr.set_static_paths). It receives the generation as numbers through a hidden gr.HTML "carrier"
(MOTION_ID, `carrier_kwargs`; the messages are momadiff/ui/viewdata.py's), whose JS hands every
value to the view. The parts talk to each other with window events (see view.js).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ...motion import skeleton
from ...pipeline import MAX_KEYFRAMES

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parents[2] / "assets" / "studio"       # mannequin.json, example.json (make_studio_assets)
KEYS_ID = "momadiff-keys"
SELECTED_ID = "momadiff-selected"
TIMELINE_ID = "momadiff-timeline"
VIEW_ID = "momadiff-view"
STAGE_ID = "momadiff-stage"
MOTION_ID = "momadiff-motion"
COMPARE_ID = "momadiff-compare-data"

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
    """One of the studio's files (timeline.html, view.css, ...) as text."""
    return (HERE / name).read_text(encoding="utf-8")


def static_paths() -> list[Path]:
    """The folders Gradio serves as static files for the view (modules, three.js, mesh, example)."""
    return [HERE, ASSETS]


def file_url(path: Path) -> str:
    """The page-relative URL under which Gradio serves a static file or folder."""
    return "gradio_api/file=" + path.resolve().as_posix()


def timeline_kwargs(poses: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Keyword arguments for gr.HTML that make it the timeline editor."""
    return {"value": "", "html_template": asset("timeline.html"), "css_template": asset("timeline.css"),
            "js_on_load": asset("timeline.js"), "elem_id": TIMELINE_ID, "poses": poses,
            "seconds": float(seconds), "fps": skeleton.FPS, "max_keys": MAX_KEYFRAMES}


def view_kwargs() -> dict[str, Any]:
    """Keyword arguments for gr.HTML that make it the 3D view."""
    return {"value": "", "html_template": asset("view.html"), "css_template": asset("view.css"),
            "js_on_load": asset("view_boot.js"), "elem_id": VIEW_ID, "base": file_url(HERE) + "/",
            "mannequin_url": file_url(ASSETS / "mannequin.json"), "example_url": file_url(ASSETS / "example.json")}


def stage_kwargs() -> dict[str, Any]:
    """Keyword arguments for gr.HTML that make it the stage selector."""
    return {"value": "", "html_template": asset("stage.html"), "css_template": asset("stage.css"),
            "js_on_load": asset("stage.js"), "elem_id": STAGE_ID}


def compare_kwargs() -> dict[str, Any]:
    """Keyword arguments for gr.HTML that make it the order comparison (three views side by side)."""
    return {"value": "", "html_template": asset("compare.html"), "css_template": asset("compare.css"),
            "js_on_load": asset("compare_boot.js"), "elem_id": "momadiff-compare", "base": file_url(HERE) + "/"}


def carrier_kwargs(elem_id: str, queue: str) -> dict[str, Any]:
    """Keyword arguments for a hidden gr.HTML that passes each streamed value (a JSON message)
    to the browser-side queue window[queue] (momadiffViewQueue, momadiffCompareQueue)."""
    return {"value": "", "html_template": "", "js_on_load": asset("carrier.js"), "elem_id": elem_id,
            "queue": queue, "visible": "hidden"}
