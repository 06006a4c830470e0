"""momadiff.data: captions, splits, the Bandai builder end to end (CLI), the HumanML3D-format
loader, and the dataset / window sampler API. Fixtures are synthetic and written here."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from momadiff.motion import bvh
from momadiff.motion import features as F
from momadiff.data import MotionDataset, WindowSampler, crop_length, normalization_stats
from momadiff.data import captions as C
from momadiff.data.bandai import OOD_CONTENTS, ClipSource, assign_splits, build_bandai
from momadiff.data.humanml3d import build_humanml3d, parse_text_line
from test_features import fk_motion

ROOT = Path(__file__).resolve().parent.parent

# Every content and style label of the two Bandai datasets.
BANDAI_CONTENTS = [
    "walk", "run", "dash", "walk-back", "walk-left", "walk-right", "bow", "bye", "guide", "byebye",
    "respond", "call", "punch", "kick", "slash", "dance-long", "dance-short", "walk-turn-left",
    "walk-turn-right", "wave-both-hands", "wave-left-hand", "wave-right-hand", "raise-up-both-hands",
    "raise-up-left-hand", "raise-up-right-hand",
]
BANDAI_STYLES = [
    "normal", "happy", "sad", "angry", "proud", "not-confident", "masculinity", "feminine",
    "childish", "old", "tired", "active", "musical", "giant", "chimpira", "elderly", "exhausted",
    "masculine", "youthful",
]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "momadiff.data", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


# -- captions ------------------------------------------------------------------------------

def test_every_label_has_phrases_and_enough_distinct_captions():
    for content in BANDAI_CONTENTS:
        for style in BANDAI_STYLES:
            clip_id = f"dataset-x_{content}_{style}_001"
            caps = C.captions(content, style, clip_id)
            assert len(caps) >= 5 and len(set(caps)) == len(caps), (content, style, caps)
            assert all(c[0].isupper() and c.endswith(".") for c in caps)
            assert len(set(C.paraphrases(content, style, clip_id))) >= 3


def test_captions_are_deterministic_per_clip_and_vary_across_clips():
    a = C.captions("walk", "happy", "dataset-2_walk_happy_001")
    assert a == C.captions("walk", "happy", "dataset-2_walk_happy_001")
    others = {tuple(C.captions("walk", "happy", f"dataset-2_walk_happy_{i:03d}")) for i in range(10)}
    assert len(others) > 5


def test_paraphrase_family_is_disjoint_from_training_templates():
    assert not set(C.TRAIN_TEMPLATES) & set(C.PARAPHRASE_TEMPLATES)
    gerunds = {g for phrases in C.CONTENT_PHRASES.values() for _, g in phrases}
    for content in BANDAI_CONTENTS:
        for style in ("normal", "sad", "giant"):
            cid = f"{content}-{style}"
            train, para = C.captions(content, style, cid, 10), C.paraphrases(content, style, cid, 6)
            assert not set(train) & set(para)
            # The paraphrase structures (progressive, "we see", "the motion shows") never reach training.
            for cap in train:
                low = cap.lower()
                assert not low.startswith(("we see", "the motion shows"))
                assert not any(f" is {g}" in low for g in gerunds), cap


def test_mirror_caption_swaps_sides():
    assert C.mirror_caption("Left, a person waves the right hand.") == "Right, a person waves the left hand."
    assert C.mirror_caption("A person bows politely.") == "A person bows politely."


# -- splits --------------------------------------------------------------------------------

def _fake_sources() -> list[ClipSource]:
    out = []
    for content in ("walk", "bow", "kick", "punch", "dance-short"):
        for style in ("normal", "sad", "giant"):
            for i in range(1 if content != "walk" else 2):
                out.append(ClipSource(f"dataset-1_{content}_{style}_{i:03d}", Path("x"), "bandai-1", content, style))
    for content in ("walk", "wave-left-hand"):
        for style in ("active", "elderly"):
            for i in range(23):
                out.append(ClipSource(f"dataset-2_{content}_{style}_{i:03d}", Path("x"), "bandai-2", content, style))
    return out


def test_splits_are_disjoint_covering_and_hold_out_ood_contents():
    sources = _fake_sources()
    split = assign_splits(sources)
    assert set(split) == {s.id for s in sources}                  # every clip exactly once
    assert set(split.values()) <= {"train", "val", "test", "ood"}
    for s in sources:
        if s.dataset == "bandai-1" and s.content in OOD_CONTENTS:
            assert split[s.id] == "ood"
        else:
            assert split[s.id] != "ood"
    # Big groups hold out about 10% each for val and test.
    group = [s.id for s in sources if s.content == "wave-left-hand" and s.style == "active"]
    counts = {k: sum(split[i] == k for i in group) for k in ("train", "val", "test")}
    assert counts == {"train": 19, "val": 2, "test": 2}
    assert split == assign_splits(list(reversed(sources)))         # order-independent


# -- dataset API ---------------------------------------------------------------------------

def test_crop_length_rules():
    assert crop_length(300, 196) == 196
    assert crop_length(83, 196) == 80
    assert crop_length(3, 196) == 3


def test_normalization_stats_share_std_within_groups():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(500, F.FEATURE_DIM)).astype(np.float32)
    feats[:, F.RIC] *= np.linspace(0.5, 2.0, F.RIC.stop - F.RIC.start)
    feats[:, F.CONTACT] = 0.0                                   # a constant group
    mean, std = normalization_stats(feats)
    assert np.allclose(std[F.RIC], std[F.RIC][0]) and 1.0 < std[F.RIC][0] < 1.5
    assert np.all(std[F.CONTACT] == 1.0)
    assert np.allclose(mean, feats.mean(0), atol=1e-5)


# -- the Bandai builder, end to end ---------------------------------------------------------

FAKE_CLIPS = [  # (dataset, content, style, id, motion kind, frames at 30 fps)
    (1, "walk", "normal", 1, "walk", 90),
    (1, "walk-back", "sad", 1, "walk_back", 90),
    (1, "kick", "normal", 1, "arms_up", 60),
    *[(2, "wave-left-hand", "active", i, "wave_left", 60 + 6 * i) for i in range(1, 6)],
    (2, "raise-up-both-hands", "active", 1, "arms_up", 15),   # 0.5 s: kept, noted short
]


def make_fake_bandai(root: Path) -> Path:
    """Two Bandai-like dataset folders of synthetic 30 fps BVH clips, plus one broken file."""
    for k in (1, 2):
        ddir = root / f"Bandai-Namco-Research-Motiondataset-{k}"
        (ddir / "data").mkdir(parents=True)
        (ddir / "cfg").mkdir()
        mine = [c for c in FAKE_CLIPS if c[0] == k]
        contents = sorted({c[1] for c in mine} | ({"bow"} if k == 1 else set()))
        styles = sorted({c[2] for c in mine} | ({"happy"} if k == 1 else set()))
        (ddir / "cfg" / "content_label.txt").write_text("\n".join(f"dataset-{k}_{c}" for c in contents))
        (ddir / "cfg" / "style_label.txt").write_text("\n".join(f"dataset-{k}_{s}" for s in styles))
        for _, content, style, i, kind, frames in mine:
            stem = ddir / "data" / f"dataset-{k}_{content}_{style}_{i:03d}"
            # Synthesised at 20 fps then written as 30 fps: the builder's resampling gets work.
            bvh.save(stem.with_suffix(".bvh"), fk_motion(kind, T=frames, seed=i), fps=30)
            stem.with_suffix(".json").write_text(json.dumps(
                {"content": contents.index(content), "style": styles.index(style)}))
    (root / "Bandai-Namco-Research-Motiondataset-1" / "data" / "dataset-1_bow_happy_001.bvh").write_text(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition\n")
    return root


@pytest.fixture(scope="module")
def fake_bandai(tmp_path_factory) -> Path:
    return make_fake_bandai(tmp_path_factory.mktemp("bandai_src"))


@pytest.fixture(scope="module")
def built(fake_bandai, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("built") / "bandai"
    proc = run_cli("build", "bandai", "--source", str(fake_bandai), "--out", str(out))
    return out, proc.stdout + proc.stderr


def test_bandai_build_writes_a_consistent_dataset(built):
    out, log = built
    assert "1 skipped" in log and "dataset-1_bow_happy_001" in log
    ds = MotionDataset(out)
    assert len(ds) == len(FAKE_CLIPS)
    assert ds.meta["attribution"] == "Bandai Namco Research Inc., CC BY-NC 4.0"
    assert [s["id"] for s in ds.meta["skipped"]] == ["dataset-1_bow_happy_001"]
    assert ds.meta["short_clips"] == ["dataset-2_raise-up-both-hands_active_001"]
    assert ds.mean.shape == ds.std.shape == (F.FEATURE_DIM,) and (ds.std > 0).all()
    for i, clip in enumerate(ds.clips):
        feats, joints = ds.features(i), ds.joints(i)
        assert feats.shape == (clip["num_frames"], F.FEATURE_DIM) and joints.shape == (clip["num_frames"], 22, 3)
        assert np.abs(F.features_to_joints(feats) - joints).max() < 1e-3
        assert len(clip["captions"]) >= 5 and len(clip["paraphrases"]) >= 3
        assert len(clip["mirror_captions"]) == len(clip["captions"])
    walk = ds.joints(ds.index("dataset-1_walk_normal_001"))
    assert walk[-1, 0, 2] > 2.0                                  # canonical walks head to +Z
    assert abs(walk[..., 1].min()) < 1e-6
    wave = ds.index("dataset-2_wave-left-hand_active_001")
    assert ds.clips[wave]["content"] == "wave-left-hand" and "left" in " ".join(ds.clips[wave]["captions"])
    assert "right" in " ".join(ds.clips[wave]["mirror_captions"])
    splits = {name: set(ds.split(name)) for name in ("train", "val", "test", "ood")}
    assert sum(map(len, splits.values())) == len(ds)
    assert {ds.clips[i]["content"] for i in splits["ood"]} == {"kick"}
    assert not any(ds.clips[i]["content"] in OOD_CONTENTS for i in splits["train"])
    info = run_cli("info", str(out)).stdout
    assert "total" in info and "Bandai Namco" in info


def test_bandai_build_from_an_archive_unpacks_once(fake_bandai, tmp_path, capsys):
    archive = tmp_path / "bandai.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for d in sorted(fake_bandai.iterdir()):
            tar.add(d, arcname=d.name)
    out = tmp_path / "data" / "bandai"
    build_bandai(archive, out, workers=1)
    assert "unpacking" in capsys.readouterr().out
    assert (tmp_path / "data" / "raw" / "Bandai-Namco-Research-Motiondataset-2" / "data").is_dir()
    build_bandai(archive, out, workers=1)
    assert "reusing" in capsys.readouterr().out
    assert len(MotionDataset(out)) == len(FAKE_CLIPS)


def test_window_sampler(built):
    ds = MotionDataset(built[0])
    sampler = WindowSampler(ds, ds.split("train") + ds.split("val") + ds.split("test"),
                            max_frames=32, mirror_prob=1.0)
    batch = sampler.sample(8, np.random.default_rng(0))
    assert batch.features.shape == (8, 32, F.FEATURE_DIM) and batch.mask.shape == (8, 32)
    assert (batch.mask.sum(1) == batch.lengths).all()
    for b in range(8):
        n = ds.clips[batch.indices[b]]["num_frames"]
        assert batch.lengths[b] == crop_length(n, 32)
        assert batch.captions[b] in ds.clips[batch.indices[b]]["mirror_captions"]
        raw = ds.features(batch.indices[b])[batch.starts[b]:batch.starts[b] + batch.lengths[b]]
        assert np.allclose(batch.features[b, :batch.lengths[b]], ds.normalize(F.mirror_features(raw)), atol=1e-5)
        assert not batch.features[b, batch.lengths[b]:].any()
    again = sampler.sample(8, np.random.default_rng(0))
    assert np.array_equal(again.features, batch.features) and again.captions == batch.captions


# -- HumanML3D-format folders ----------------------------------------------------------------

def make_humanml3d(root: Path, with_stats: bool) -> Path:
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    motions = {"000001": ("walk", 101), "000002": ("wave_left", 81), "000003": ("arms_up", 31),
               "000004": ("walk_back", 241), "M000001": ("walk", 101)}
    for i, (name, (kind, T)) in enumerate(motions.items()):
        np.save(root / "new_joint_vecs" / f"{name}.npy", F.joints_to_features(fk_motion(kind, T=T, seed=i)))
    texts = {
        "000001": ["a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0",
                   "someone strolls ahead#someone/PRON stroll/VERB#0.0#0.0",
                   "a person starts walking#a/DET person/NOUN#0.5#3.0",
                   "the walk begins#the/DET walk/NOUN#0.5#3.0",
                   "too short a piece#x#0.0#1.0"],
        "000002": ["a person waves the left hand.#x#nan#nan", ""],
        "000003": ["too short to keep#x#0.0#0.0"],
        "000004": ["too long to keep#x#0.0#0.0"],
        "M000001": ["a person walks forward.#x#0.0#0.0"],
    }
    for name, lines in texts.items():
        (root / "texts" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    (root / "train.txt").write_text("000001\n000003\n000004\nM000001\n")
    (root / "val.txt").write_text("000002\n")
    (root / "test.txt").write_text("000005\n")          # listed but absent: skipped
    if with_stats:
        np.save(root / "Mean.npy", np.full(F.FEATURE_DIM, 0.5, np.float32))
        np.save(root / "Std.npy", np.full(F.FEATURE_DIM, 2.0, np.float32))
    return root


def test_parse_text_line():
    assert parse_text_line("a man runs.#a/DET man/NOUN#1.5#nan") == ("a man runs.", ["a/DET", "man/NOUN"], 1.5, 0.0)
    assert parse_text_line("   ") is None


@pytest.mark.parametrize("with_stats", [True, False])
def test_humanml3d_folder_converts(tmp_path, with_stats):
    src = make_humanml3d(tmp_path / "hml", with_stats)
    out = tmp_path / "hml_out"
    if with_stats:
        run_cli("build", "humanml3d", "--source", str(src), "--out", str(out))
    else:
        build_humanml3d(src, out)
    ds = MotionDataset(out)
    ids = {c["id"]: c for c in ds.clips}
    assert set(ids) == {"000001", "000001@0.5-3", "000002", "M000001"}
    assert ids["000001"]["captions"] == ["a person walks forward.", "someone strolls ahead"]
    sub = ids["000001@0.5-3"]
    assert sub["captions"] == ["a person starts walking", "the walk begins"] and sub["num_frames"] == 50
    whole = np.load(src / "new_joint_vecs" / "000001.npy")
    assert np.array_equal(ds.features(ds.index("000001@0.5-3")), whole[10:60])
    assert ids["000002"]["split"] == "val" and ids["000001"]["split"] == "train"
    for i in range(len(ds)):
        assert np.abs(F.features_to_joints(ds.features(i)) - ds.joints(i)).max() < 1e-5
    if with_stats:
        assert np.all(ds.mean == 0.5) and np.all(ds.std == 2.0)
    else:
        assert ds.std.shape == (F.FEATURE_DIM,) and (ds.std > 0).all()
