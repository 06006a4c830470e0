"""The captions file format (CSV and JSON, segments, fps override, every error) and the folder
builder on small BVH and ASF/AMC fixtures."""
from __future__ import annotations

import json

import numpy as np
import pytest

from momadiff.data import MotionDataset
from momadiff.data.__main__ import main as data_cli
from momadiff.data.captionfile import CaptionsError, parse_csv, parse_json, read_captions
from momadiff.data.folder import SplitRule, assign_splits, build_folder, subject_of
from momadiff.motion import skeleton
from motionfiles import amc_text, asf_text, walk_bvh

HEADER = "file,start,end,fps,content,captions"


def _err(text: str, parse=parse_csv) -> str:
    with pytest.raises(CaptionsError) as e:
        parse(text, "c.csv")
    return str(e.value)


def test_csv_rows_segments_fps_and_comments():
    rows = parse_csv("# made by hand\n\n" + HEADER + "\n"
                     "01/01_01.bvh,0,2.5,60,walk,a person walks | someone strolls\n"
                     "# a comment between rows\n"
                     '01/01_01.bvh,2.5,,60,,"he stops, then waves"\n')
    assert len(rows) == 2
    a, b = rows
    assert (a.file, a.start, a.end, a.fps, a.content) == ("01/01_01.bvh", 0.0, 2.5, 60.0, "walk")
    assert a.captions == ["a person walks", "someone strolls"] and a.where == "line 4"
    assert b.end is None and b.content == "unlabelled" and b.captions == ["he stops, then waves"]
    assert b.where == "line 6"
    # Any column order; only file and captions are required.
    (c,) = parse_csv("captions,file\nhi there,x.bvh\n")
    assert c.file == "x.bvh" and c.start is None and c.fps is None


def test_csv_errors_name_their_lines():
    assert "line 1: unknown column(s) 'speed'" in _err("file,captions,speed\nx.bvh,hi,2\n")
    assert "line 1: missing column(s) captions" in _err("file,start\nx.bvh,1\n")
    err = _err(HEADER + "\n"
               "a.bvh,2,1,,walk,hi\n"             # end before start
               "b.bvh,,,,walk,  |  \n"            # empty captions
               "c.bvh,x,,,walk,hi\n"              # start not a number
               "d.bvh,,,-5,walk,hi\n"             # negative fps
               "e.bvh,,,,walk\n"                  # a field short
               ",,,,walk,hi\n")                   # no file
    for needle in ("line 2: end (1 s) must be after start (2 s)", "line 3: empty captions",
                   "line 4: start must be a number (seconds), found 'x'", "line 5: fps must be a finite number",
                   "line 6: 5 field(s), the header has 6", "line 7: no file named"):
        assert needle in err, needle
    assert err.startswith("c.csv: 6 problem(s)")
    assert "no rows" in _err(HEADER + "\n# only comments\n")
    assert "no header" in _err("# nothing\n")


def test_json_format_and_errors():
    rows = parse_json(json.dumps([
        {"file": "a.bvh", "captions": ["one", "two"], "start": 1, "end": 2.5, "fps": 60, "content": "kick"},
        {"file": "b.amc", "captions": "x | y"}]))
    assert rows[0].captions == ["one", "two"] and rows[0].fps == 60 and rows[0].where == "entry 0"
    assert rows[1].captions == ["x", "y"] and rows[1].content == "unlabelled"
    err = _err(json.dumps([{"file": "a.bvh", "captions": []}, {"file": "b.bvh", "captions": "hi", "speed": 1},
                           {"file": "c.bvh", "captions": [1]}, "x",
                           {"file": "d.bvh", "captions": "hi", "start": True}]), parse_json)
    for needle in ("entry 0: empty captions", "entry 1: unknown key(s) 'speed'", "entry 2: captions must be",
                   "entry 3: expected an object", "entry 4: start must be a number"):
        assert needle in err, needle
    assert "line 1: not valid JSON" in _err("[{", parse_json)
    assert "expected a JSON list" in _err("{}", parse_json)


def test_read_captions_files(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps([{"file": "a.bvh", "captions": ["hi"]}]))
    assert read_captions(tmp_path / "c.json")[0].file == "a.bvh"
    (tmp_path / "c.csv").write_bytes(HEADER.encode() + b"\na.bvh,,,,,caf\xe9\n")
    with pytest.raises(CaptionsError, match="line 2: not UTF-8"):
        read_captions(tmp_path / "c.csv")
    with pytest.raises(CaptionsError, match="cannot read"):
        read_captions(tmp_path / "none.csv")


def test_subjects_and_splits():
    assert subject_of("bvh/05/05_02.bvh") == "05" and subject_of("07_01.bvh") == "07"
    rows = parse_csv(HEADER + "\n" + "\n".join(
        f"s{k}/s{k}_01.bvh,,,,{'dribble' if k == 3 else 'walk'},hi" for k in range(10)) + "\n")
    rule = SplitRule(test_subjects=("s1",), val_subjects=("s2",), ood_contents=("dribble",))
    assert assign_splits(rows, rule) == ["train", "test", "val", "ood"] + ["train"] * 6
    auto = assign_splits(rows, SplitRule())
    assert auto.count("test") == 1 and auto.count("val") == 1     # 10% of 10 subjects each


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A motion folder: two BVH performers (one file with an added reference pose, 120 fps
    headers, one trial really at 60 fps) and one ASF/AMC performer."""
    root = tmp_path_factory.mktemp("mocap")
    for sub in ("01", "02", "03"):
        (root / sub).mkdir()
    walk_bvh(root / "01" / "01_01.bvh", seconds=6.0, fps=120.0, reference_pose=True)
    walk_bvh(root / "01" / "01_02.bvh", seconds=3.0, fps=120.0, seed=1)
    walk_bvh(root / "02" / "02_01.bvh", seconds=3.0, fps=120.0, seed=2)     # header says 120, was 60
    (root / "03" / "03.asf").write_text(asf_text())
    frames = [{"lfemur": [30 * np.sin(k / 10), 0, 0], "rfemur": [-30 * np.sin(k / 10), 0, 0]} for k in range(240)]
    (root / "03" / "03_01.amc").write_text(amc_text(frames))
    return root


CAPTIONS = HEADER + """
01/01_01.bvh,0,3,,walk,a person walks forward | someone walks ahead
01/01_01.bvh,3,,,walk,the person keeps walking
01/01_02.bvh,,,,walk,a person walks
02/02_01.bvh,,,60,walk,a slow walk
03/03_01.amc,,,,kick,a person swings the legs
"""


def test_build_folder_bvh_and_asfamc(folder, tmp_path):
    cap = tmp_path / "captions.csv"
    cap.write_text(CAPTIONS)
    meta = build_folder(folder, cap, tmp_path / "out", rule=SplitRule(val_subjects=("02",), test_subjects=("03",)),
                        workers=1)
    ds = MotionDataset(tmp_path / "out")
    assert [c["id"] for c in ds.clips] == ["01/01_01#1", "01/01_01#2", "01/01_02", "02/02_01", "03/03_01"]
    assert [c["split"] for c in ds.clips] == ["train", "train", "train", "val", "test"]
    assert meta["reference_frames_dropped"] and "01_01.bvh" in meta["reference_frames_dropped"][0]
    fps = skeleton.FPS
    a, b = ds.clips[0], ds.clips[1]
    # Segments: 0-3 s and 3 s to the end (6 s), each T frames -> T-1 feature rows.
    assert a["num_frames"] == 3 * fps and b["num_frames"] == 3 * fps
    assert a["segment"] == [0.0, 3.0] and b["segment"] == [3.0, 6.0]
    assert a["captions"] == ["a person walks forward", "someone walks ahead"]
    assert a["mirror_captions"] and a["subject"] == "01" and a["content"] == "walk"
    # fps override: 3 s in the file's 120 fps are 6 s at the true 60 fps.
    assert ds.clips[3]["num_frames"] == 6 * fps and ds.clips[3]["source_fps"] == 60.0
    # The ASF/AMC trial: 240 frames at 120 fps = 2 s.
    assert ds.clips[4]["num_frames"] == 2 * fps - 1 and ds.clips[4]["content"] == "kick"
    assert np.isfinite(ds.features(4)).all() and ds.joints(4).shape == (2 * fps - 1, 22, 3)
    # The dropped reference pose left no 3 m jump at the start of the first clip.
    step = np.linalg.norm(np.diff(ds.joints(0)[:, 0], axis=0), axis=-1)
    assert step.max() < 1.5 * np.median(step)


def test_build_folder_errors(folder, tmp_path):
    cap = tmp_path / "bad.csv"
    cap.write_text(HEADER + "\n01/01_01.bvh,0,9,,walk,too long\n01/missing.bvh,,,,walk,hi\n"
                   "01/01_02.bvh,5,,,walk,starts after the end\n01/01_01.bvh,,,60,walk,fps differs\n")
    with pytest.raises(CaptionsError) as e:
        build_folder(folder, cap, tmp_path / "o", workers=1)
    msg = str(e.value)
    assert "line 3: missing file '01/missing.bvh'" in msg and "line 5: fps 60.0 differs" in msg
    cap.write_text(HEADER + "\n01/01_01.bvh,0,9,,walk,too long\n01/01_02.bvh,5,,,walk,starts after the end\n")
    with pytest.raises(CaptionsError) as e:
        build_folder(folder, cap, tmp_path / "o", workers=1)
    msg = str(e.value)
    assert "line 2: segment ends at 9 s, past the end of 01/01_01.bvh (6.00 s)" in msg
    assert "line 3: segment starts at 5 s, past the end of 01/01_02.bvh" in msg
    assert not (tmp_path / "o" / "clips.json").exists()


def test_cli_build_bvh_folder(folder, tmp_path, capsys):
    cap = tmp_path / "c.json"
    cap.write_text(json.dumps([{"file": "01/01_02.bvh", "captions": ["a walk"], "content": "walk"},
                               {"file": "02/02_01.bvh", "captions": ["another walk"], "content": "walk"}]))
    assert data_cli(["build", "bvh-folder", "--source", str(folder), "--captions", str(cap),
                     "--out", str(tmp_path / "d"), "--val-subjects", "02", "--workers", "1"]) == 0
    ds = MotionDataset(tmp_path / "d")
    assert [c["split"] for c in ds.clips] == ["train", "val"] and ds.meta["name"] == "d"
    cap.write_text("[{}]")
    assert data_cli(["build", "bvh-folder", "--source", str(folder), "--captions", str(cap),
                     "--out", str(tmp_path / "e")]) == 2
    assert "entry 0: no file named" in capsys.readouterr().err
