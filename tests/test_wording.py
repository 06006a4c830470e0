"""The CMU captions file, the everyday prompt set (coverage, kept out of training) and the
nearest-caption measure."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from momadiff.data import captions as C
from momadiff.data.captionfile import read_captions
from momadiff.evaluate import wording as W
from momadiff.model.text import HashingEncoder
from test_data import BANDAI_CONTENTS, BANDAI_STYLES

ROOT = Path(__file__).resolve().parent.parent
TRIALS = Path(__file__).with_name("fixtures") / "cmu_trials.csv"
REAL_TRIALS = ROOT / "data" / "raw" / "cmu-mocap-subset" / "trials.csv"


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


# -- the CMU captions file ------------------------------------------------------------------------

def test_cmu_captions_file_has_the_agreed_format():
    text = W.CMU_CAPTIONS.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("#"), "the file starts with comments saying how it was made"
    header = next(ln for ln in lines if not ln.startswith("#"))
    assert header == "file,start,end,fps,content,captions"
    trials = {r["file"]: r for r in _csv(TRIALS)}
    rows = _csv(W.CMU_CAPTIONS)
    assert {r["file"] for r in rows} == set(trials), "every trial is captioned, and only those"
    segments: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        t = trials[r["file"]]
        assert r["fps"] == t["true_fps"], r["file"]
        dur = float(t["duration_s"])
        start = float(r["start"]) if r["start"] else 0.0
        end = float(r["end"]) if r["end"] else dur
        assert 0.0 <= start < end <= dur + 1e-6, (r["file"], start, end, dur)
        caps = [c.strip() for c in r["captions"].split(" | ")]
        assert len(caps) >= 3 and all(caps) and len(set(caps)) == len(caps), r["file"]
        assert r["content"] and r["content"] == r["content"].strip().lower() and " " not in r["content"]
        segments.setdefault(r["file"], []).append((start, end))
    for f, segs in segments.items():
        segs.sort()
        assert all(a[1] <= b[0] + 1e-6 for a, b in zip(segs, segs[1:])), f"overlapping segments in {f}"
    # the long multi-part trials are cut into segments
    assert len(segments["bvh/01/01_03.bvh"]) >= 3
    # and the builder's reader takes the file as it is
    parsed = read_captions(W.CMU_CAPTIONS)
    assert len(parsed) == len(rows) and all(len(r.captions) >= 3 for r in parsed)


@pytest.mark.skipif(not REAL_TRIALS.exists(), reason="the CMU subset is not unpacked under data/raw")
def test_trials_fixture_matches_the_subset():
    real = {r["file"]: (r["true_fps"], r["duration_s"]) for r in _csv(REAL_TRIALS)}
    assert real == {r["file"]: (r["true_fps"], r["duration_s"]) for r in _csv(TRIALS)}


# -- the everyday prompts -------------------------------------------------------------------------

def test_prompts_cover_every_content_of_both_datasets():
    prompts = W.load_prompts()
    assert len(prompts) >= 150
    assert len({p.text.lower() for p in prompts}) == len(prompts), "no duplicate prompts"
    contents = {p.content for p in prompts}
    cmu_contents = {c for c, _ in W.cmu_captions()}
    assert set(BANDAI_CONTENTS) <= contents
    assert cmu_contents <= contents
    assert contents <= set(BANDAI_CONTENTS) | cmu_contents, "every prompt asks for a content some dataset has"


def _training_captions() -> list[str]:
    """Every short caption captions.py can write (the style-free and style-subject templates,
    enumerated), a sample of the longer ones, their mirrors, and the CMU captions."""
    caps = []
    subjects = set(C.GENERIC_SUBJECTS) | {s for st in C.STYLE_PHRASES.values() for s in st.subjects}
    for content in BANDAI_CONTENTS:
        for action, _ in C.CONTENT_PHRASES[content]:
            caps += [f"{s} {action}." for s in subjects]
        for style in BANDAI_STYLES:
            for i in range(4):
                caps += C.captions(content, style, f"clip-{content}-{style}-{i}", 10)
    caps += [C.mirror_caption(c) for c in caps]
    return caps + [c for _, c in W.cmu_captions()]


def test_prompts_are_kept_out_of_training():
    prompts = [p.text for p in W.load_prompts()]
    hits = W.near_copies(prompts, _training_captions())
    assert not hits, f"prompts that are (near) training captions: {hits[:5]}"


def test_near_copies_ignore_case_punctuation_order_and_articles():
    caps = ["A person walks forward happily.", "A ballerina does a pirouette and bows."]
    assert W.near_copies(["a person walks forward happily"], caps)
    assert W.near_copies(["Happily, person walks forward!"], caps)          # order and articles
    assert W.near_copies(["ballerina does a pirouette"], caps)              # inside a caption
    assert not W.near_copies(["a person walks forward sadly", "a dancer does a pirouette"], caps)
    assert not W.near_copies(["walks forward happily today"], caps)


def test_caption_retrieval_scores_the_nearest_caption_content():
    enc = HashingEncoder(dim=256)
    caps = ["a person walks forward", "a person kicks with the leg", "someone waves the hand"]
    contents = ["walk", "kick", "wave-right-hand"]
    prompts = [W.Prompt("walk", "walks forward slowly"), W.Prompt("kick", "kicks with the leg hard"),
               W.Prompt("dance", "someone waves the hand")]
    out = W.caption_retrieval(prompts, caps, contents, enc)
    assert out["per_content"] == {"dance": 0.0, "kick": 1.0, "walk": 1.0}
    assert np.isclose(out["all"], 2 / 3)


def test_same_kind_across_datasets():
    assert W.kind_of("dance-long") == W.kind_of("dance") and W.kind_of("slash") == W.kind_of("sword")
    assert W.kind_of("walk") == "walk"


# -- the wording benchmark end to end (tiny model, tiny evaluator) ---------------------------------
from test_evaluate import tiny_data, tiny_evaluator  # noqa: E402,F401  (module fixtures)


def test_wording_benchmark_judges_each_prompt_and_groups_old_and_new(tiny_pipeline, tiny_evaluator, tiny_data):
    from momadiff.data.dataset import MotionDataset
    from momadiff.evaluate.evaluator import Evaluator

    ev = Evaluator.from_checkpoint(tiny_evaluator / "evaluator.pt")
    prompts = [W.Prompt("walk", "someone strolls"), W.Prompt("wave", "hand flapping about"),
               W.Prompt("kick", "boot the ball"), W.Prompt("laugh", "cracking up")]
    res = W.wording(tiny_pipeline, ev, prompts, [str(tiny_data)], old_contents={"walk", "wave"},
                    seeds=(0, 1), seconds=2.0)
    rows = {r["content"]: r for r in res.rows}
    assert rows["walk"]["judge"] == "detector walk" and rows["kick"]["judge"] == "detector kick"
    assert rows["wave"]["judge"] == "evaluator"                    # no detector named "wave": retrieval
    assert rows["laugh"]["judge"].startswith("none")               # no detector, no real laugh clips
    assert rows["walk"]["group"] == "old" and rows["kick"]["group"] == "new"
    assert rows["== all =="]["prompts x seeds"] == 6 and rows["== old =="]["prompts x seeds"] == 4
    assert all(0.0 <= rows[c]["right kind"] <= 1.0 for c in ("walk", "wave", "kick", "== all =="))
    fails = res.settings["failures"]
    assert sum(len(v) for v in fails.values()) == round(6 * (1 - rows["== all =="]["right kind"]))
    # the CLI entry: old contents from the dataset's train split, quick = two prompts per content
    quick = W.run(tiny_pipeline, ev, MotionDataset(tiny_data), seeds=1, references=[], quick=True)
    assert quick.rows[-1]["prompts x seeds"] <= 2 * len({p.content for p in W.load_prompts()})
