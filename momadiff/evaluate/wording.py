"""Everyday wording: the hand-written test prompts, and how well a model (or its text encoder)
handles them.

- prompts_everyday.csv (beside this module): prompts in the words people use, each labelled with
  the content (kind of motion) it asks for. Kept out of training: `near_copies` finds any prompt
  that is (nearly) one of a dataset's captions, and the tests run it on both datasets' captions.
- `caption_retrieval`: for each prompt, the training caption nearest in a text encoder's space;
  the fraction whose nearest caption has the prompt's content (text side only, no model).
  `python -m momadiff.evaluate.wording --data data/bandai` prints it for the captions on disk
  (the captions of the build) against those captions.py writes today.
- `wording` (`python -m momadiff.evaluate wording --model DIR --evaluator FILE`): generates every
  prompt with a few seeds and reports, per content and overall, the fraction whose motion is the
  right kind: judged by the kinematic detectors (kinds.py) where one exists for the content, else
  by the evaluator: the motion's embedding is nearest to the mean embedding of the real clips of
  the right kind (among the real clips of all contents of the datasets given).
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import kinds

PROMPTS = Path(__file__).with_name("prompts_everyday.csv")
CMU_CAPTIONS = Path(__file__).resolve().parent.parent / "data" / "cmu_captions.csv"

# Contents that are the same kind of motion under two datasets' labels: a motion retrieved as
# either counts as the right kind.
SAME_KIND = {"dance-long": "dance", "dance-short": "dance", "slash": "sword", "hop": "jump", "dash": "run"}
_ARTICLES = {"a", "an", "the"}


@dataclass(frozen=True)
class Prompt:
    """One everyday test prompt and the content it asks for."""

    content: str
    text: str


def kind_of(content: str) -> str:
    """The kind a content belongs to (contents of different datasets can share one)."""
    return SAME_KIND.get(content, content)


def _rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if line.strip() and not line.lstrip().startswith("#")))


def load_prompts(path: str | Path = PROMPTS) -> list[Prompt]:
    """The prompts of a prompts CSV (columns content, prompt; # comment lines)."""
    out = []
    for i, r in enumerate(_rows(path)):
        content, text = (r.get("content") or "").strip(), (r.get("prompt") or "").strip()
        if not content or not text:
            raise ValueError(f"{path}: row {i + 1} needs both a content and a prompt")
        out.append(Prompt(content, text))
    return out


def cmu_captions(path: str | Path = CMU_CAPTIONS) -> list[tuple[str, str]]:
    """(content, caption) of every caption of a captions file (data.captionfile format)."""
    from ..data.captionfile import read_captions

    return [(r.content, c) for r in read_captions(path) for c in r.captions]


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _key(text: str) -> tuple[str, ...]:
    return tuple(sorted(w for w in normalise(text).split() if w not in _ARTICLES))


def near_copies(prompts: Iterable[str], captions: Iterable[str]) -> list[tuple[str, str]]:
    """(prompt, caption) pairs where the prompt is a near copy of a caption: the same words in
    any order ignoring case, punctuation and articles, or the whole prompt inside the caption."""
    caps = list(dict.fromkeys(captions))
    by_key = {_key(c): c for c in caps}
    norm = [normalise(c) for c in caps]
    joined = "\n".join(f" {n} " for n in norm)
    hits = []
    for p in prompts:
        if _key(p) in by_key:
            hits.append((p, by_key[_key(p)]))
            continue
        pos = joined.find(f" {normalise(p)} ")
        if pos >= 0:
            hits.append((p, caps[joined.count("\n", 0, pos)]))
    return hits


# ---- text side: nearest training caption ----------------------------------------------------------
def caption_retrieval(prompts: Sequence[Prompt], captions: Sequence[str], contents: Sequence[str],
                      encoder, cache: str | Path | None = None) -> dict[str, float | dict[str, float]]:
    """Fraction of prompts whose nearest caption (cosine, in the encoder's space) is of the
    prompt's kind: {"all": f, "per_content": {content: f}}. Captions are de-duplicated first;
    embeddings are kept in the `cache` file (model.text.embed_captions) when given."""
    from ..model.text import embed_captions

    uniq: dict[str, str] = {}
    for c, k in zip(captions, contents):
        uniq.setdefault(c, k)
    texts = list(uniq)
    cap_emb = embed_captions(texts, encoder, cache)                        # [C, D] unit rows
    p_emb = embed_captions([p.text for p in prompts], encoder, cache)      # [P, D]
    nearest = (p_emb @ cap_emb.T).argmax(axis=1)
    ok = np.array([kind_of(uniq[texts[n]]) == kind_of(p.content) for p, n in zip(prompts, nearest)])
    per = defaultdict(list)
    for p, o in zip(prompts, ok):
        per[p.content].append(o)
    return {"all": float(ok.mean()), "per_content": {c: float(np.mean(v)) for c, v in sorted(per.items())}}


def captions_module_at(rev: str):
    """momadiff/data/captions.py as it was at git revision `rev`, imported as a module (to
    rebuild the captions an older build wrote)."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parent.parent.parent
    src = subprocess.run(["git", "show", f"{rev}:momadiff/data/captions.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    name = f"_captions_at_{rev}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod                    # dataclasses look their module up while defining
    exec(compile(src, f"{rev}:captions.py", "exec"), mod.__dict__)
    return mod


def _bandai_captions(clips: Sequence[dict], module=None, per_clip: int | None = None) -> tuple[list[str], list[str]]:
    """Training captions (and their mirrors) of the train split's clips, written by a captions
    module (default: today's captions.py, as many per clip as the builder writes); module=False
    takes the captions stored in clips.json."""
    from ..data import bandai, captions as C

    module = C if module is None else module
    per_clip = per_clip or bandai.NUM_CAPTIONS
    caps, contents = [], []
    for clip in clips:
        if clip["split"] != "train":
            continue
        if module is not False:
            texts = module.captions(clip["content"], clip["style"], clip["id"], per_clip)
            texts = texts + [module.mirror_caption(t) for t in texts]
        else:
            texts = clip["captions"] + clip.get("mirror_captions", [])
        caps += texts
        contents += [clip["content"]] * len(texts)
    return caps, contents


def text_report(data: str, encoder_name: str = "minilm", cmu: str | Path | None = CMU_CAPTIONS,
                cache: str | Path | None = None, before: str | None = None, before_per_clip: int = 6) -> str:
    """The nearest-caption table: Bandai prompts vs Bandai's training captions before (as stored
    in clips.json, or as captions.py at git revision `before` wrote them, before_per_clip per clip)
    and after (as captions.py writes them today); all prompts vs those plus the CMU captions."""
    import json

    from ..model.text import get_text_encoder

    with open(Path(data) / "clips.json", encoding="utf-8") as fh:
        clips = json.load(fh)
    enc = get_text_encoder(encoder_name)
    prompts = load_prompts()
    bandai_contents = {c["content"] for c in clips}
    bandai_prompts = [p for p in prompts if p.content in bandai_contents]
    extra = cmu_captions(cmu) if cmu else []
    head = f"captions.py at {before}, {before_per_clip}/clip" if before else "clips.json"
    lines = [f"| prompts | captions | before ({head}) | after (captions.py today) |", "|---|---|---|---|"]
    for name, ps, with_cmu in (("Bandai contents", bandai_prompts, False), ("all contents", prompts, True)):
        row = []
        old = (captions_module_at(before), before_per_clip) if before else (False, None)
        for module, per_clip in (old, (None, None)):
            caps, cont = _bandai_captions(clips, module, per_clip)
            if with_cmu:
                caps, cont = caps + [c for _, c in extra], cont + [k for k, _ in extra]
            row.append(caption_retrieval(ps, caps, cont, enc, cache))
        lines.append(f"| {name} ({len(ps)}) | Bandai train{' + CMU' if with_cmu else ''} | "
                     f"{row[0]['all']:.1%} | {row[1]['all']:.1%} |")
    per_before, per_after = row[0]["per_content"], row[1]["per_content"]
    worst = sorted(per_after, key=lambda c: per_after[c])[:8]
    lines.append("")
    lines.append("lowest contents (after): " + ", ".join(f"{c} {per_before[c]:.0%}->{per_after[c]:.0%}" for c in worst))
    return "\n".join(lines)


# ---- generation: is the motion the right kind? --------------------------------------------------
def reference_embeddings(ev, datasets: Sequence[str], max_per_content: int = 60,
                         seed: int = 0) -> tuple[list[str], np.ndarray]:
    """(kinds, mean unit embedding per kind) of real clips of the dataset folders (up to
    max_per_content clips of each content, all splits)."""
    from ..data.dataset import MotionDataset
    from .benchmark import embed_joints

    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[np.ndarray]] = defaultdict(list)
    for root in datasets:
        ds = MotionDataset(root)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(ds.clips):
            if c["num_frames"] >= 40:
                groups[c["content"]].append(i)
        for content, idx in groups.items():
            pick = rng.permutation(idx)[:max_per_content]
            emb = embed_joints(ev, [ds.joints(int(i)) for i in pick])
            by_kind[kind_of(content)].append(emb)
    names = sorted(by_kind)
    cent = np.stack([np.concatenate(by_kind[k]).mean(0) for k in names])
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-9)
    return names, cent


def wording(pipe, ev, prompts: Sequence[Prompt], datasets: Sequence[str], old_contents: set[str],
            seeds: Sequence[int] = (0, 1, 2), seconds: float = 6.0):
    """Generate each prompt with each seed; the fraction of right-kind motions per content, per
    group (old: contents the reference model was trained on; new: the rest) and overall."""
    from .benchmark import Result, embed_joints

    kinds_ref, cent = reference_embeddings(ev, datasets) if ev is not None else ([], np.zeros((0, 1)))
    rows_by_content: dict[str, list[bool]] = defaultdict(list)
    judge_of: dict[str, str] = {}
    failures: dict[str, list[str]] = defaultdict(list)
    for p in prompts:
        det = kinds.CONTENT_DETECTOR.get(p.content)
        judge_of[p.content] = f"detector {det}" if det else "evaluator"
        for seed in seeds:
            joints = pipe.generate(p.text, seconds=seconds, seed=seed).joints
            if det:
                ok = kinds.detect(det, joints).fired
            elif kind_of(p.content) in kinds_ref:
                emb = embed_joints(ev, [joints])[0]
                ok = kinds_ref[int((cent @ emb).argmax())] == kind_of(p.content)
            else:
                judge_of[p.content] = "none (no reference clips)"
                continue
            rows_by_content[p.content].append(bool(ok))
            if not ok:
                failures[p.content].append(f"{p.text!r} seed {seed}")
    res = Result("wording", ["content", "group", "judge", "prompts x seeds", "right kind"])
    for content in sorted(judge_of):
        v = rows_by_content.get(content, [])
        res.rows.append({"content": content, "group": "old" if content in old_contents else "new",
                         "judge": judge_of[content], "prompts x seeds": len(v),
                         "right kind": float(np.mean(v)) if v else float("nan")})
    for group in ("old", "new", "all"):
        v = [x for c, xs in rows_by_content.items() for x in xs
             if group == "all" or (c in old_contents) == (group == "old")]
        res.rows.append({"content": f"== {group} ==", "group": group, "judge": "", "prompts x seeds": len(v),
                         "right kind": float(np.mean(v)) if v else float("nan")})
    res.settings.update(seeds=list(seeds), seconds=seconds, prompts=len(prompts), datasets=list(datasets),
                        failures=dict(failures))
    res.notes += [
        "right kind: the kinematic detector of the content fires (momadiff/evaluate/kinds.py), or, for contents "
        "without one, the evaluator embedding is nearest to the mean embedding of real clips of that kind",
        f"old = contents the reference (Bandai) training split has; kinds retrieved among: {', '.join(kinds_ref)}",
        "kinds shared across datasets count as the same: " + ", ".join(f"{a}={b}" for a, b in SAME_KIND.items()),
    ]
    return res


def run(pipe, ev, ds, seeds: int = 3, references: Sequence[str] | None = None, quick: bool = False,
        prompts_path: str | Path = PROMPTS):
    """The wording benchmark as the evaluate CLI runs it: old contents = the contents of ds's
    (the Bandai folder's) train split; real clips for retrieval from ds and the references
    (default: data/cmu when it has been built). quick: two prompts per content, one seed."""
    prompts = load_prompts(prompts_path)
    if quick:
        kept: dict[str, list[Prompt]] = defaultdict(list)
        for p in prompts:
            if len(kept[p.content]) < 2:
                kept[p.content].append(p)
        prompts = [p for group in kept.values() for p in group]
    if references is None:
        references = [str(Path("data/cmu"))] if (Path("data/cmu") / "clips.json").exists() else []
    old = {c["content"] for c in ds.clips if c["split"] == "train"}
    return wording(pipe, ev, prompts, [str(ds.root)] + list(references), old, seeds=tuple(range(seeds)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m momadiff.evaluate.wording",
                                description="Nearest-training-caption content accuracy of the everyday prompts.")
    p.add_argument("--data", default="data/bandai", help="the Bandai dataset folder (its clips.json)")
    p.add_argument("--encoder", default="minilm", help="text encoder (minilm, clip, hash)")
    p.add_argument("--cmu-captions", default=str(CMU_CAPTIONS))
    p.add_argument("--cache", default="results/wording/caption_cache.npz", help="caption embedding cache")
    p.add_argument("--before", default=None, help="git revision whose captions.py wrote the 'before' captions "
                   "(default: the captions stored in the dataset's clips.json)")
    p.add_argument("--before-per-clip", type=int, default=6, help="captions per clip that revision's builder wrote")
    args = p.parse_args(argv)
    print(text_report(args.data, args.encoder, args.cmu_captions, args.cache, args.before, args.before_per_clip))
    return 0


if __name__ == "__main__":
    sys.exit(main())
