"""The CMU motion-capture subset (../shared/data/cmu-mocap-subset.tar.xz) -> a dataset folder.

    python -m momadiff.data build cmu --source ../shared/data/cmu-mocap-subset.tar.xz --out data/cmu

This is folder.build_folder on the unpacked cmu-mocap-subset/ with the project's captions file
for it (CAPTIONS, momadiff/data/cmu_captions.csv; --captions to use another). The subset mixes
three cgspeed BVH conversions (MotionBuilder-, Daz- and 3dsMax-friendly) and original ASF/AMC
files; the retargeter reads them all and drops the reference T-pose the conversions add as
frame 0. The captions file carries the true capture rate of trials whose BVH header is wrong.

Splits, by performer (CMU subject = the folder: bvh/05/05_02.bvh -> "05"):
- test (unseen performers doing kinds of motion other, train, performers also do):
  03 (walks on uneven terrain) and 09 (walks forward, backward, sideways): walks are all over
  Bandai, and 01 walks between climbs; 11 (a soccer kick: subject 10 kicks a ball too, 135 does
  karate kicks).
- val: 131 (start, walk, stop; a hop: 01 hops, many walk) and 35 (a walk, ASF/AMC).
- ood, a kind of motion no clip of any dataset shows: basketball dribbling, all of subject 06.
- train: everyone else (01 playground, 02 punch / swordplay / scoop / wash, 05 ballet, 10 soccer kick, 14 laugh, 49 balance on one leg, 94 Indian dance, 135 karate).
"Unseen kind of motion" has two meanings now that CMU has kicks, punches, sword swings and dances:
Bandai's ood contents (kick, punch, slash, dance) stay out of Bandai's training split, and the
model learns those kinds only from CMU's capture (different performers, markers, studio), so
Bandai ood measures transfer of a kind across capture systems; CMU ood (basketball dribbling) is
a kind nothing in training shows.

Terms (CMU): free for research and commercial use; the data itself may not be resold. CMU asks
for the acknowledgement in ATTRIBUTION wherever the data is used; every build records it in
meta.json.
"""
from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from .folder import FolderSpec, SplitRule, build_folder

FOLDER = "cmu-mocap-subset"
CAPTIONS = Path(__file__).with_name("cmu_captions.csv")
SPLIT = SplitRule(test_subjects=("03", "09", "11"), val_subjects=("131", "35"), ood_subjects=("06",))
SPLIT_NOTES = ("CMU test = unseen performers 03, 09 (walks), 11 (soccer kick), kinds other train performers "
               "also do; val = 131, 35 (walks, a hop); ood = subject 06, basketball dribbling, a kind no "
               "dataset trains on. Bandai's ood contents (kick, punch, slash, dance) are learnt from CMU only: "
               "transfer of a kind across capture systems.")
LICENSE = "CMU Graphics Lab Motion Capture Database terms: free for research and commercial use, no resale of the data"
ATTRIBUTION = ("The data used in this project was obtained from mocap.cs.cmu.edu. "
               "The database was created with funding from NSF EIA-0196217.")


def _find(root: Path) -> Path | None:
    for cand in (root, root / FOLDER):
        if (cand / "trials.csv").is_file() and ((cand / "bvh").is_dir() or (cand / "asfamc").is_dir()):
            return cand
    return None


def resolve_source(source: str | Path, cache: str | Path) -> Path:
    """The cmu-mocap-subset folder: source itself (or its child of that name), else the archive
    unpacked into cache (reused when already there)."""
    source, cache = Path(source), Path(cache)
    if source.is_dir():
        found = _find(source)
        if found is None:
            raise FileNotFoundError(f"no {FOLDER} (trials.csv with bvh/ or asfamc/) in {source}")
        return found
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist")
    if (found := _find(cache)) is not None:
        print(f"reusing the unpacked data in {found}")
        return found
    print(f"unpacking {source} into {cache} ...")
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / (FOLDER + ".partial")
    partial.mkdir(exist_ok=True)
    with tarfile.open(source, "r:*") as tar:
        tar.extractall(partial, filter="data")   # refuses absolute paths and links out of the tree
    inner = _find(partial)
    if inner is None:
        raise FileNotFoundError(f"{source} holds no {FOLDER} folder")
    inner.rename(cache / FOLDER)
    shutil.rmtree(partial, ignore_errors=True)
    return cache / FOLDER


def build_cmu(source: str | Path, out: str | Path, captions: str | Path | None = None,
              workdir: str | Path | None = None, workers: int = 2) -> dict:
    """Build data/cmu (see the module docstring); returns the meta."""
    out = Path(out)
    root = resolve_source(source, Path(workdir) if workdir else out.parent / "raw")
    captions = Path(captions) if captions else CAPTIONS
    if not captions.is_file():
        raise FileNotFoundError(f"{captions}: no captions file for the CMU subset (pass --captions)")
    spec = FolderSpec(name="cmu", license=LICENSE, attribution=ATTRIBUTION,
                      extra_meta={"unpacked": str(root), "split_notes": SPLIT_NOTES})
    return build_folder(root, captions, out, rule=SPLIT, spec=spec, workers=workers)
