"""Compare orders: the same request generated with each of the sampler's orders of filling the
latents (momadiff.sampler.ORDERS), for the studio's side-by-side stage view.

One message per order, as it finishes, with every order done so far (Gradio may deliver only the
latest of quick updates). JSON, the view's numbers as in momadiff/ui/viewdata.py:
    {"run": str, "fps": 20, "down": int, "frames": T, "keys": [...], "total": 3,
     "orders": [{"order": "spread", "label": str, "seconds": float, "jerk": float,
                 "key_error_cm": float | null, "stages": [{"index", "count", "kinds", "joints"}]}, ...]}
or {"run": str, "error": str} for a request that cannot be generated.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterator

from ..evaluate.metrics import jerk
from ..correction import key_error
from ..pipeline import Pipeline
from ..sampler import ORDERS
from . import keys as K
from . import viewdata
from .handlers import GENERIC_ERROR, _as_seed

log = logging.getLogger("momadiff.app")

LABELS = {"spread": "keyframes first (the paper's)", "random": "random (the official code's default)",
          "left_to_right": "left to right"}


def compare_orders(pipe: Pipeline, text: str, seconds: float, seed: Any, keys_text: str, cfg_scale: Any,
                   iterations: Any, ddim_steps: Any, root_path_text: str | None = "") -> Iterator[str]:
    """Generate the request once per order; yield one JSON message per order (see the docstring)."""
    run = viewdata.new_run_id()
    try:
        keys = K.parse_keys(keys_text)
        keyframes = K.to_keyframes(keys)
        path = K.parse_path(root_path_text)
        done: list[dict[str, Any]] = []
        for order in ORDERS:
            t0 = time.perf_counter()
            stages = list(pipe.iter_generate(text, seconds=seconds, seed=_as_seed(seed), keyframes=keyframes,
                                             cfg_scale=cfg_scale, iterations=iterations, ddim_steps=ddim_steps,
                                             root_path=path, order=order))
            took = time.perf_counter() - t0
            joints = stages[-1].joints
            err = float(key_error(joints, keyframes).max()) * 100 if keys else None
            done.append({"order": order, "label": LABELS[order], "seconds": round(took, 3),
                         "jerk": round(jerk(joints), 1), "key_error_cm": None if err is None else round(err, 2),
                         "stages": [{"index": s.index, "count": s.num_stages, "kinds": viewdata.kinds_string(s),
                                     "joints": viewdata.joints_mm(s.joints)} for s in stages]})
            yield viewdata.dumps({
                "run": run, "fps": 20, "down": pipe.down, "frames": int(len(joints)), "total": len(ORDERS),
                "keys": [{"frame": int(k["frame"]), "joints": k["joints"]} for k in keys], "orders": done})
    except ValueError as e:
        yield viewdata.dumps({"run": run, "error": str(e)})
    except Exception:
        log.exception("compare failed")
        yield viewdata.dumps({"run": run, "error": GENERIC_ERROR})
