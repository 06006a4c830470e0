"""A timeline of prompts: parsing and validation, per-latent text, windows, the pipeline, CLI,
session JSON and the app handler."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from momadiff import GenerationError
from momadiff import segments as sg
from momadiff.__main__ import main as cli
from momadiff.sampler import SamplerConfig, conditions, pass_plan
from momadiff.ui import handlers as H
from momadiff.ui import stream
from momadiff.ui.session import SessionError, read_session

WALK, WAVE, BOW = "a person walks forward", "a person waves the right hand", "a person bows"
TWO = [{"text": WALK, "start": 0, "end": 4}, {"text": WAVE, "start": 4, "end": 7}]


@pytest.fixture(autouse=True)
def _outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("MOMADIFF_OUTPUT_DIR", str(tmp_path / "outputs"))


# --- parsing and validation ------------------------------------------------------------------

def test_parse_sorts_out_of_order_and_normalises_text():
    segs = sg.parse_segments([{"text": "  a person\n waves ", "start": 5, "end": 8}, {"text": WALK, "start": 0, "end": 5}])
    assert [s.start for s in segs] == [0, 5] and segs[1].text == "a person waves"
    assert sg.parse_segments({"segments": TWO}) == sg.parse_segments(TWO)


@pytest.mark.parametrize("data, match", [
    ([{"text": WALK, "start": 0, "end": 4}, {"text": WAVE, "start": 3, "end": 6}], "overlap"),
    ([{"text": WALK, "start": 2, "end": 2}], "not after its start"),
    ([{"text": WALK, "start": 3, "end": 1}], "not after its start"),
    ([{"text": WALK, "start": 0, "end": 0.2}], "at least"),
    ([{"text": WALK, "start": -1, "end": 2}], "before the motion's start"),
    ([{"text": "", "start": 0, "end": 2}], "empty text"),
    ([{"text": " \t\n", "start": 0, "end": 2}], "empty text"),
    ([{"text": None, "start": 0, "end": 2}], "empty text"),
    ([{"text": "x" * 5000, "start": 0, "end": 2}], "under"),
    ([{"text": WALK, "start": 0, "end": 61}], "maximum is 60"),
    ([{"text": WALK, "start": i, "end": i + 1} for i in range(3000)], "more than the 32"),
    ([{"text": WALK, "start": "zero", "end": 2}], "start must be a number"),
    ([{"text": WALK, "start": 0, "end": None}], "end must be a number"),
    ([{"text": WALK, "start": 0, "end": True}], "end must be a number"),
    ([{"text": WALK, "start": 0, "end": float("nan")}], "finite"),
    ([{"text": WALK, "start": 0, "end": float("inf")}], "finite"),
    ([{"text": WALK, "start": 0, "end": 10 ** 400}], "number"),
    ([{"text": WALK, "start": 0}], "no 'end'"),
    ([["walk", 0, 2]], "must be an object"),
    ([], "no segments"),
    ("walk", "must be a list"),
])
def test_bad_timelines_get_one_line_messages(data, match):
    with pytest.raises(sg.SegmentError, match=match) as e:
        sg.parse_segments(data)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("spec, want", [
    ("0:4:a person walks", {"text": "a person walks", "start": 0.0, "end": 4.0}),
    ("1.5:3:note: colons stay in the text", {"text": "note: colons stay in the text", "start": 1.5, "end": 3.0}),
])
def test_cli_segment_spec(spec, want):
    assert sg.parse_cli_segment(spec) == want


@pytest.mark.parametrize("spec, match", [("0:4", "START:END:TEXT"), ("a:4:walk", "start 'a'"), ("0:b:walk", "end 'b'")])
def test_cli_segment_spec_errors(spec, match):
    with pytest.raises(sg.SegmentError, match=match):
        sg.parse_cli_segment(spec)


# --- per-latent text and windows -------------------------------------------------------------

def test_latent_texts_follow_segments_and_gaps_are_null():
    segs = sg.parse_segments([{"text": WALK, "start": 0, "end": 2}, {"text": WAVE, "start": 3, "end": 4},
                              {"text": WALK, "start": 4, "end": 5}])
    idx = sg.latent_texts(segs, 50, 2, 20.0)            # latent i covers frames 2i, 2i+1 (0.1 s)
    assert sg.texts_of(segs) == [WALK, WAVE]
    assert (idx[:20] == 0).all() and (idx[20:30] == sg.NULL_TEXT).all()
    assert (idx[30:40] == 1).all() and (idx[40:50] == 0).all()
    # A last latent reaching past the motion's end still belongs to the last segment.
    one = sg.parse_segments([{"text": WALK, "start": 0, "end": 3.05}])
    assert sg.latent_texts(one, 16, 4, 20.0)[-1] == sg.NULL_TEXT
    assert (sg.latent_texts(one, 16, 4, 20.0, num_frames=61) == 0).all()
    assert sg.boundaries(segs) == [2, 3, 4]


@pytest.mark.parametrize("n, window, overlap", [(600, 128, 64), (129, 128, 64), (300, 64, 16), (50, 64, 32)])
def test_windows_cover_and_owners_see_context(n, window, overlap):
    wins, owner = sg.plan_windows(n, window, overlap)
    assert wins[0][0] == 0 and wins[-1][1] == n
    assert all(b - a == min(n, window) for a, b in wins)
    assert all(b1 - a2 >= overlap for (_, b1), (a2, _) in zip(wins, wins[1:]))
    for j in range(n):
        a, b = wins[owner[j]]
        assert a <= j < b
        # the owner leaves at least half an overlap of context on every side that isn't the motion's end
        if a > 0:
            assert j - a >= overlap // 2
        if b < n:
            assert b - 1 - j >= overlap // 2 - 1


def test_passes_keep_each_segment_to_itself_and_blend_at_boundaries():
    tidx = np.r_[np.zeros(100, int), np.full(30, sg.NULL_TEXT), np.ones(20, int)]
    passes, owner = sg.plan_passes(tidx, window=64, overlap=32, context=8, blend=2)
    for j in range(len(tidx)):
        a, b, t = passes[owner[j]]
        assert a <= j < b and t == tidx[j]
        near = min(c - j if j < c else j - c + 1 for c in (100, 130))      # 1 = next to a boundary
        if near > 2 and tidx[j] != sg.NULL_TEXT:   # away from a boundary a segment's pass sees only itself
            assert (tidx[a:b] == tidx[j]).all() and b - a <= 64
        elif near > 2:                                # a gap's pass sees its neighbours' edges
            assert (a, b) == (100 - 8, 130 + 8)
        else:          # next to one, a transition pass sees both sides
            assert len(set(tidx[a:b].tolist())) == 2 and b - a == 16
    # one text: the passes are plain windows
    passes, owner = sg.plan_passes(np.zeros(50, int), 64, 32, 8, 2)
    assert passes == [(0, 50, 0)] and (owner == 0).all()


def test_conditions_take_each_latents_own_pass_and_text(tiny_pipeline):
    tr = tiny_pipeline.transformer
    n = 150                                               # > max_latents = 64: several windows
    cfg = SamplerConfig(cfg_scale=2.0, segment_context=6, segment_blend=2)
    tidx = np.where(np.arange(n) < 100, 0, 1)
    tidx[110:120] = sg.NULL_TEXT
    passes, owner = pass_plan(tr, tidx, cfg)
    assert len({p[:2] for p in passes}) > 4
    g = torch.Generator().manual_seed(0)
    lat = torch.randn(n, tr.config.latent_dim, generator=g)
    known = np.zeros(n, dtype=bool)
    known[::3] = True
    user = np.zeros(n, dtype=bool)
    texts = torch.randn(2, tr.config.text_dim, generator=g)
    chosen = np.array([j for j in range(n) if not known[j]][::2])
    got = conditions(tr, lat, known, user, texts, chosen, passes, owner, cfg.cfg_scale)
    for k, j in enumerate(chosen):
        a, b, t = passes[owner[j]]
        args = (lat[a:b][None], torch.from_numpy(~known[a:b])[None])
        u = tr(*args, texts[:1], drop_text=torch.tensor([True]))[0, j - a]
        if t == sg.NULL_TEXT:
            want = u
        else:
            c = tr(*args, texts[t][None], drop_text=torch.tensor([False]))[0, j - a]
            want = u + cfg.cfg_scale * (c - u)
        assert torch.allclose(got[k], want, atol=1e-5), j


# --- pipeline --------------------------------------------------------------------------------

def test_generate_with_segments(tiny_pipeline):
    m = tiny_pipeline.generate(segments=TWO, seed=1)
    assert m.joints.shape == (140, 22, 3) and np.isfinite(m.joints).all()
    assert [s.text for s in m.segments] == [WALK, WAVE] and WALK in m.text
    assert not m.stages[-1].masked.any()
    again = list(tiny_pipeline.iter_generate(segments=list(reversed(TWO)), seed=1))
    assert np.array_equal(again[-1].joints, m.joints)     # out of order is the same timeline
    # The second segment's text reaches its latents: another text there changes the motion.
    other = tiny_pipeline.generate(segments=[TWO[0], dict(TWO[1], text=BOW)], seed=1)
    assert not np.allclose(other.joints[90:], m.joints[90:])


def test_one_segment_is_the_text_case(tiny_pipeline):
    a = tiny_pipeline.generate(WALK, seconds=3.05, seed=4, cfg_scale=2.0)
    b = tiny_pipeline.generate(segments=[{"text": WALK, "start": 0, "end": 3.05}], seed=4, cfg_scale=2.0)
    assert np.array_equal(a.joints, b.joints)


def test_long_motion_streams_one_process_over_windows(tiny_pipeline):
    # 40 s = 200 latents of 4 frames with the tiny model, whose transformer takes 64.
    segs = [{"text": WALK, "start": 0, "end": 15}, {"text": WAVE, "start": 16, "end": 30},
            {"text": BOW, "start": 30, "end": 40}]
    stages = list(tiny_pipeline.iter_generate(segments=segs, seed=0))
    assert stages[-1].joints.shape == (800, 22, 3) and np.isfinite(stages[-1].joints).all()
    # Stage 1 places latents over the whole length, not just the first window.
    first = np.flatnonzero(stages[0].filled)
    assert first.min() < 40 and first.max() > 160
    assert sum(s.filled.sum() for s in stages) == 200


def test_segments_with_keys_and_a_tail_gap(tiny_pipeline):
    from momadiff import Keyframe
    from momadiff.motion import skeleton
    m = tiny_pipeline.generate(segments=TWO, seconds=9.0, seed=0, keyframes=[Keyframe(170, skeleton.rest_pose())])
    assert m.joints.shape == (180, 22, 3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(text=WALK, segments=TWO), "either a text or segments"),
    (dict(segments=TWO, seconds=5.0), "last segment ends at 7"),
    (dict(segments=[{"text": WALK, "start": 0, "end": 2}, {"text": WAVE, "start": 1, "end": 3}]), "overlap"),
    (dict(segments=[{"text": WALK, "start": 0, "end": 70}]), "maximum is 60"),
    (dict(segments=[{"text": "", "start": 0, "end": 2}]), "empty text"),
    (dict(segments=[{"text": WALK, "start": "0", "end": 2}]), "number"),
    (dict(segments=[{"text": WALK, "start": 0, "end": 0.5}]), "duration must be between"),
    (dict(segments=[]), "no segments"),
])
def test_pipeline_refuses_bad_timelines(tiny_pipeline, kwargs, match):
    with pytest.raises(GenerationError, match=match):
        tiny_pipeline.generate(**kwargs)
    with pytest.raises(GenerationError, match=match):
        next(tiny_pipeline.iter_generate(**kwargs))


# --- CLI, session, app handler ---------------------------------------------------------------

def test_cli_segments(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli(["generate", "--segment", f"0:2:{WALK}", "--segment", f"2.5:4:{WAVE}", "--model", str(tiny_model_dir),
              "--out", str(out)])
    assert rc == 0 and np.load(out / "motion.npy").shape == (80, 22, 3)
    rc = cli(["generate", "--segment", f"0:2:{WALK}", "--segment", f"1:4:{WAVE}", "--model", str(tiny_model_dir)])
    err = capsys.readouterr().err
    assert rc == 2 and "overlap" in err and "Traceback" not in err


def _handler(pipe, segments_json, seconds=7.0, text="ignored prompt"):
    return list(stream.generate(pipe, text, seconds, 3, "[]", None, None, None, segments_text=segments_json))


def test_session_round_trip_with_segments(tiny_pipeline):
    first = _handler(tiny_pipeline, json.dumps(TWO))[-1]
    files = first[4]
    doc = json.loads(Path(files[2]).read_text())
    assert doc["segments"] == sg.as_segments(sg.parse_segments(TWO)) and doc["text"] == f"{WALK} / {WAVE}"
    text, seconds, seed, keys, cfg, it, ddim, segs, msg = H.load_session(files[2])
    assert "2 segments" in msg and json.loads(segs) == doc["segments"]
    second = list(stream.generate(tiny_pipeline, text, seconds, seed, keys, cfg, it, ddim, segments_text=segs))[-1]
    assert np.array_equal(np.load(files[0]), np.load(second[4][0]))
    assert np.array_equal(np.load(files[0]), tiny_pipeline.generate(segments=TWO, seed=3).joints)


def test_old_sessions_without_segments_still_load():
    old = {"format": "momadiff-session", "version": 1, "text": WALK, "seconds": 3.0, "seed": 0, "keyframes": []}
    assert read_session(json.dumps(old))["segments_json"] == "[]"
    assert read_session(json.dumps(old | {"segments": []}))["segments_json"] == "[]"
    bad = old | {"segments": [{"text": WALK, "start": 0, "end": 4}]}
    with pytest.raises(SessionError, match="after its duration"):
        read_session(json.dumps(bad))
    with pytest.raises(SessionError, match="timeline: .*overlap"):
        read_session(json.dumps(old | {"seconds": 9.0, "segments": TWO + [{"text": BOW, "start": 6, "end": 8}]}))


@pytest.mark.parametrize("segments_json, match", [
    ("{oops", "not valid JSON"),
    ('{"text": "walk"}', "must be a list"),
    (json.dumps([TWO[0], dict(TWO[1], start=3)]), "overlap"),
])
def test_handler_bad_segments_json_gives_a_message(tiny_pipeline, segments_json, match):
    out = _handler(tiny_pipeline, segments_json)
    assert len(out) == 1 and match in out[0][2] and H.GENERIC_ERROR not in out[0][2]


def test_handler_empty_segments_json_uses_the_prompt(tiny_pipeline):
    for empty in ("", "[]", "  "):
        out = _handler(tiny_pipeline, empty, seconds=2.0, text=WALK)[-1]
        assert json.loads(Path(out[4][2]).read_text())["text"] == WALK
