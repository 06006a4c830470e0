"""The stage bar: one row per sampler stage, one cell per latent, coloured by what it is.

Rows stack up as the stages stream in, so the order is visible at a glance: the user's keys first,
a few spread keyframe latents in stage 1, then the gaps closing stage after stage.
"""
from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from ..sampler import Stage

# kind -> (colour, legend text)
KINDS: dict[str, tuple[str, str]] = {
    "user": ("#f59e0b", "your keyframe"),
    "earlier": ("#60a5fa", "generated in an earlier stage"),
    "new": ("#10b981", "generated in this stage"),
    "masked": ("#e5e7eb", "still [MASK]"),
}


def latent_kinds(stage: Stage) -> list[str]:
    """What each latent is at this stage: user / earlier / new / masked."""
    kinds = np.full(len(stage.user), "masked", dtype=object)
    kinds[stage.known] = "earlier"
    kinds[stage.filled] = "new"
    kinds[stage.user] = "user"
    return list(kinds)


def stage_status(stage: Stage) -> str:
    """'stage 2 of 6: filled 9 latents (31 of 60 known, 29 still masked)'."""
    n = len(stage.user)
    done = int((stage.known | stage.filled).sum())
    return (f"stage {stage.index} of {stage.num_stages}: filled {int(stage.filled.sum())} latent"
            f"{'s' if stage.filled.sum() != 1 else ''} ({done} of {n} known, {int(stage.masked.sum())} still masked)")


def stage_bar_html(stages: Sequence[Stage], frames_per_latent: int = 4, fps: int = 20) -> str:
    """HTML for the stage history: a row per stage so far, a legend, and a time axis."""
    if not stages:
        return ("<div class='mstage-empty' style='color:#6b7280;font-size:13px;padding:6px 0'>"
                "The sampler's stages appear here while the motion is generated.</div>")
    n = len(stages[-1].user)
    rows = []
    for st in stages:
        cells = "".join(
            f"<div class='mstage-cell' data-kind='{k}' title='latent {i} (frames {i * frames_per_latent}-"
            f"{(i + 1) * frames_per_latent - 1}): {KINDS[k][1]}' style='flex:1;height:14px;margin-right:1px;"
            f"background:{KINDS[k][0]};border-radius:2px'></div>"
            for i, k in enumerate(latent_kinds(st)))
        rows.append(f"<div class='mstage-row' data-stage='{st.index}' style='display:flex;align-items:center;"
                    f"margin:2px 0'><div style='width:64px;font-size:12px;color:#374151;flex:none'>stage "
                    f"{st.index}</div><div style='display:flex;flex:1'>{cells}</div></div>")
    seconds = n * frames_per_latent / fps
    ticks = "".join(f"<span style='position:absolute;left:{100 * s / seconds:.2f}%;transform:translateX(-50%)'>"
                    f"{s:g}s</span>" for s in range(0, int(seconds) + 1, 2 if seconds > 6 else 1))
    axis = (f"<div style='display:flex;font-size:11px;color:#6b7280'><div style='width:64px;flex:none'></div>"
            f"<div style='position:relative;flex:1;height:14px'>{ticks}</div></div>")
    legend = "".join(f"<span style='margin-right:12px;white-space:nowrap'><span style='display:inline-block;width:10px;"
                     f"height:10px;background:{c};border-radius:2px;margin-right:4px'></span>{html.escape(t)}</span>"
                     for c, t in KINDS.values())
    return (f"<div class='mstage' data-num-latents='{n}'>{''.join(rows)}{axis}"
            f"<div style='font-size:12px;color:#374151;margin-top:4px'>{legend}</div></div>")
