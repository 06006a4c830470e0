"""Build the named pose library (assets/poses.json) from real motion data.

    python -m momadiff.ui.make_poses --data data/bandai --out assets/poses.json
    python -m momadiff.ui.make_poses --raw data/raw --out assets/poses.json   # before the build

Each pose is one frame of a real clip, chosen by the clip's content label and a simple criterion
(the highest right wrist in "raise-up-right-hand", the widest stride in "walk", ...). Only the
T-pose is synthetic (skeleton.rest_pose()): no clip holds one. Every pose is placed the way the
timeline shows keys: pelvis above the origin, facing +Z, feet on the floor.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..motion import skeleton
from ..keyframes import Keyframe, validate
from .poses import FORMAT, VERSION, place_pose

J = skeleton.JOINT_INDEX
CLIPS_PER_CONTENT = 12   # enough variety for a good extreme, few enough to build in seconds


def _height(j: np.ndarray, name: str) -> np.ndarray:
    return j[:, J[name], 1]


def _forward(j: np.ndarray, name: str) -> np.ndarray:
    """How far a joint is in front of the pelvis along the body's facing direction, per frame."""
    fwd = skeleton.facing_direction(j)                                      # [T, 3]
    return np.einsum("ti,ti->t", j[:, J[name]] - j[:, 0], fwd)


def _stride(j: np.ndarray) -> np.ndarray:
    return np.linalg.norm((j[:, J["l_ankle"]] - j[:, J["r_ankle"]])[:, [0, 2]], axis=-1)


def _standing(j: np.ndarray) -> np.ndarray:
    speed = np.r_[np.inf, np.linalg.norm(np.diff(j, axis=0), axis=-1).mean(-1)] * skeleton.FPS   # m/s
    arms = np.maximum(_height(j, "l_wrist"), _height(j, "r_wrist")) - _height(j, "pelvis")
    return _height(j, "head") - 2.0 * speed - 5.0 * np.maximum(arms, 0.0)


@dataclass(frozen=True)
class PoseSpec:
    """A named pose: which clips to search (content labels) and the score to maximise per frame."""
    name: str
    label: str
    contents: tuple[str, ...]
    score: Callable[[np.ndarray], np.ndarray]


SPECS: tuple[PoseSpec, ...] = (
    # Upright (head high), arms down (wrists below the pelvis) and still: a relaxed stance.
    PoseSpec("standing", "Standing", ("bow", "walk"), lambda j: _standing(j)),
    PoseSpec("arms_up", "Arms up", ("raise-up-both-hands",),
             lambda j: np.minimum(_height(j, "l_wrist"), _height(j, "r_wrist"))),
    PoseSpec("right_hand_up", "Right hand up", ("raise-up-right-hand",), lambda j: _height(j, "r_wrist")),
    PoseSpec("left_hand_up", "Left hand up", ("raise-up-left-hand",), lambda j: _height(j, "l_wrist")),
    PoseSpec("wave_right", "Wave (right)", ("wave-right-hand",),
             lambda j: _height(j, "r_wrist") - np.abs(j[:, J["r_wrist"], 0] - j[:, J["r_elbow"], 0])),
    PoseSpec("wave_both", "Wave (both)", ("wave-both-hands",),
             lambda j: _height(j, "l_wrist") + _height(j, "r_wrist")),
    PoseSpec("bow", "Bow", ("bow",), lambda j: _forward(j, "head") - _height(j, "head")),
    PoseSpec("mid_stride", "Mid-stride (walk)", ("walk",), _stride),
    PoseSpec("run_stride", "Run stride", ("run", "dash"), _stride),
    PoseSpec("crouch", "Low stance", ("dance-long", "dance-short", "kick", "slash", "punch", "bow"),
             lambda j: -_height(j, "pelvis")),
    PoseSpec("kick", "Kick", ("kick",),
             lambda j: np.maximum(_height(j, "l_ankle"), _height(j, "r_ankle"))),
    PoseSpec("punch", "Punch", ("punch",),
             lambda j: np.maximum(_forward(j, "l_wrist"), _forward(j, "r_wrist"))),
)


def _clips_from_dataset(root: Path) -> Iterator[tuple[str, str, str, np.ndarray]]:
    from ..data.dataset import MotionDataset
    ds = MotionDataset(root)
    for i, c in enumerate(ds.clips):
        yield c["id"], c["content"], c.get("style", ""), ds.joints(i)


def _clips_from_raw(root: Path, contents: set[str]) -> Iterator[tuple[str, str, str, np.ndarray]]:
    """The raw Bandai BVH files, retargeted like the dataset build does (slower; a few per label)."""
    from ..data.bandai import find_clips, process_clip
    clips, _ = find_clips(root)
    seen: dict[str, int] = {}
    for c in clips:
        if c.content not in contents or seen.get(c.content, 0) >= CLIPS_PER_CONTENT:
            continue
        seen[c.content] = seen.get(c.content, 0) + 1
        try:
            _, joints = process_clip(c.path)
        except ValueError as e:   # one unreadable file only costs that clip
            print(f"warning: {c.id}: {e}", file=sys.stderr)
            continue
        yield c.id, c.content, c.style, joints


def build_poses(clips: Iterator[tuple[str, str, str, np.ndarray]]) -> list[dict]:
    """The best frame per spec over the clips, plus the synthetic T-pose, as pose dicts."""
    best: dict[str, tuple[float, str, int, np.ndarray]] = {}
    for clip_id, content, _, joints in clips:
        for spec in SPECS:
            if content not in spec.contents or len(joints) < 2:
                continue
            score = spec.score(joints.astype(np.float64))
            f = int(np.nanargmax(score))
            if spec.name not in best or score[f] > best[spec.name][0]:
                best[spec.name] = (float(score[f]), clip_id, f, joints[f])
    poses = [{"name": "t_pose", "label": "T-pose", "source": "synthetic: skeleton.rest_pose()",
              "joints": place_pose(skeleton.rest_pose())}]
    for spec in SPECS:
        if spec.name not in best:
            print(f"warning: no clip labelled {'/'.join(spec.contents)}; pose {spec.name!r} left out",
                  file=sys.stderr)
            continue
        _, clip_id, f, joints = best[spec.name]
        poses.append({"name": spec.name, "label": spec.label, "source": f"{clip_id} frame {f} (20 fps)",
                      "joints": place_pose(joints)})
    # Every pose must be usable as a key as it stands.
    for p in poses:
        validate([Keyframe(0, np.asarray(p["joints"]))], 1)
    order = {s.name: i for i, s in enumerate(SPECS)}
    poses.sort(key=lambda p: order.get(p["name"], -1) if p["name"] != "standing" else -2)
    for p in poses:
        p["joints"] = np.round(np.asarray(p["joints"]), 4).tolist()
    return poses


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m momadiff.ui.make_poses", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="a built dataset folder (e.g. data/bandai)")
    src.add_argument("--raw", help="a folder holding the unpacked Bandai-Namco-Research-Motiondataset-* folders")
    p.add_argument("--out", default="assets/poses.json")
    a = p.parse_args(argv)
    if a.data:
        clips = _clips_from_dataset(Path(a.data))
        source = f"dataset {a.data}"
    else:
        clips = _clips_from_raw(Path(a.raw), {c for s in SPECS for c in s.contents})
        source = f"raw Bandai BVH under {a.raw} (first {CLIPS_PER_CONTENT} clips per content label)"
    try:
        poses = build_poses(clips)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "version": VERSION, "source": source,
           "license": "poses from Bandai Namco Research Motion datasets, CC BY-NC 4.0", "poses": poses}
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(poses)} poses to {out}: {', '.join(p['name'] for p in poses)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
