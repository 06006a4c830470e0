"""The parsers of user-supplied text, fuzzed with hypothesis: arbitrary text and bytes, and inputs
that are structured but wrong, raise only their documented errors (BVHError, KeyframeError,
SessionError: ValueErrors with a message), never anything else, each within a deadline.

- BVH text: bvh.loads, and what it gives to retarget.to_smpl22 (the upload path).
- Keys JSON: keyframes.keyframes_from_json (+ validate) and the UI's keys.parse_keys.
- Session JSON: session.read_session and the upload handler handlers.load_session.
"""
from __future__ import annotations

import json
import os
from datetime import timedelta

import gradio  # noqa: F401  (imported before the tests: it raises the recursion limit on import)
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from conftest import synthetic_walk  # noqa: E402
from momadiff.motion import bvh, skeleton  # noqa: E402
from momadiff.motion.bvh import BVHError  # noqa: E402
from momadiff.keyframes import KeyframeError, keyframes_from_json, validate  # noqa: E402
from momadiff.motion.retarget import to_smpl22  # noqa: E402
from momadiff.ui import handlers as H  # noqa: E402
from momadiff.ui.keys import parse_keys  # noqa: E402
from momadiff.ui.session import SessionError, read_session  # noqa: E402

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=3), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

VALID_BVH = bvh.dumps(synthetic_walk(4))
VALID_LINES = VALID_BVH.splitlines()
REST = np.round(skeleton.rest_pose().astype(float), 4).tolist()


def _message(e: Exception) -> str:
    msg = str(e)
    assert msg and "Traceback" not in msg, repr(e)
    return msg


# ------------------------------------------------------------------------------------------
# BVH

BVH_TOKENS = ["HIERARCHY", "ROOT", "JOINT", "End", "Site", "{", "}", "OFFSET", "CHANNELS", "MOTION",
              "Frames:", "Frame Time:", "Xposition", "Yrotation", "Zrotation", "hip", "l_knee", "0", "3", "6",
              "-1", "1e308", "nan", "inf", "0.0333", "²", "٣", "１", "9" * 30, "\n", "\t", " ", "\r\n", "\x00",
              "\ufeff", "\x0b", "\u2028"]
bvh_like = st.lists(st.sampled_from(BVH_TOKENS), max_size=80).map(" ".join)


@st.composite
def mutated_bvh(draw) -> str:
    """A valid BVH with a few lines deleted, duplicated, replaced or cut short."""
    lines = list(VALID_LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "cut", "token"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "replace":
            lines[i] = draw(st.text(max_size=40))
        elif op == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
            if draw(st.booleans()):
                lines = lines[: i + 1]
        else:
            toks = lines[i].split() or [""]
            toks[draw(st.integers(0, len(toks) - 1))] = draw(st.sampled_from(BVH_TOKENS))
            lines[i] = " ".join(toks)
        if not lines:
            break
    return "\n".join(lines)


def _parse_bvh(data) -> None:
    try:
        anim = bvh.loads(data)
    except BVHError as e:
        _message(e)
        return
    try:                       # what the upload handler does next
        to_smpl22(anim)
    except ValueError as e:    # RetargetError and friends
        _message(e)


@FUZZ
@given(st.text(max_size=2000))
def test_bvh_arbitrary_text(text):
    _parse_bvh(text)


@FUZZ
@given(st.binary(max_size=2000))
def test_bvh_arbitrary_bytes(data):
    _parse_bvh(data)


# What a count or number field of a BVH may hold instead of a plain number.
weird_numbers = st.one_of(st.sampled_from(["²", "٣", "１", "9" * 5000, "0" * 5000 + "1", "-1", "+3", "nan", "inf",
                                           "1e400", "-1e400", "0x10", "1_0", "", "1.5", "0"]), st.text(max_size=6))
FIELDS = [i for i, ln in enumerate(VALID_LINES)
          if ln.split() and ln.split()[0] in ("CHANNELS", "OFFSET", "Frames:", "Frame")]


@st.composite
def bvh_with_wrong_fields(draw) -> str:
    """A valid BVH with the values of a few CHANNELS / OFFSET / Frames / Frame Time lines replaced."""
    lines = list(VALID_LINES)
    for i in draw(st.lists(st.sampled_from(FIELDS + [len(VALID_LINES) - 1]), min_size=1, max_size=3)):
        toks = lines[i].split()
        if not toks:                                    # an earlier draw emptied this line ("" for its value)
            continue
        first = 2 if toks[0] == "Frame" else 1          # "Frame Time:" is two tokens
        k = draw(st.integers(first, max(first, len(toks) - 1)))
        toks[min(k, len(toks) - 1)] = draw(weird_numbers)
        lines[i] = " ".join(toks)
    return "\n".join(lines)


@FUZZ
@given(st.one_of(bvh_like, mutated_bvh(), bvh_with_wrong_fields()))
def test_bvh_structured_but_wrong(text):
    _parse_bvh(text)


# ------------------------------------------------------------------------------------------
# Keys JSON

# Scalars that break naive number handling: huge JSON integers (float() overflows), NaN, inf, ...
weird_scalars = st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 63, 2 ** 1000, -1, 0, 2.5, float("nan"), float("inf"),
                                 -float("inf"), 1e308, True, None, "3", "²", "", [], {}])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | weird_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30)
coordinate = st.one_of(st.floats(), st.integers(-10 ** 30, 10 ** 30), st.text(max_size=5), weird_scalars)


@st.composite
def key_object(draw) -> dict:
    """Something shaped like a key, with any part of it wrong."""
    joints = draw(st.one_of(
        st.just(REST),
        st.lists(st.lists(coordinate, min_size=3, max_size=3), min_size=20, max_size=23),
        st.just([[c * draw(st.floats(-1e6, 1e6)) for c in j] for j in REST]),
        json_values))
    key = {"frame": draw(st.one_of(st.integers(-5, 60), weird_scalars, st.integers(), st.floats(), json_values)),
           "joints": joints}
    if draw(st.booleans()):
        key["fix_root"] = draw(json_values)
    if draw(st.booleans()):
        key["label"] = draw(json_values)
    if draw(st.booleans()):
        del key[draw(st.sampled_from(["frame", "joints"]))]
    return key


keys_documents = st.one_of(
    st.lists(key_object(), max_size=4),
    st.builds(lambda ks: {"keyframes": ks}, st.lists(key_object(), max_size=3)),
    json_values)


def _keys_text(doc, allow_nan: bool) -> str:
    return json.dumps(doc, allow_nan=allow_nan)


def _parse_keys_both_ways(text: str) -> None:
    try:
        validate(keyframes_from_json(text), 40)
    except KeyframeError as e:
        _message(e)
    try:
        parse_keys(text)
    except KeyframeError as e:
        _message(e)


@FUZZ
@given(st.text(max_size=1000))
def test_keys_arbitrary_text(text):
    _parse_keys_both_ways(text)


@FUZZ
@given(keys_documents)
def test_keys_structured_but_wrong(doc):
    _parse_keys_both_ways(json.dumps(doc))


@FUZZ
@given(st.integers(1, 50_000), st.sampled_from(["[", '{"keyframes": ', '[{"frame": 1, "joints": ']))
def test_keys_deeply_nested(depth, prefix):
    _parse_keys_both_ways(prefix + "[" * depth + "]" * depth)


# ------------------------------------------------------------------------------------------
# Session JSON

@st.composite
def session_document(draw) -> dict:
    """A session with the right format marker and any field wrong or missing."""
    doc = {"format": "momadiff-session", "version": 1, "text": "a person walks", "seconds": 2.0, "seed": 0,
           "keyframes": [{"frame": 3, "joints": REST}],
           "settings": {"cfg_scale": 2.0, "iterations": 2, "ddim_steps": 3}}
    for field in draw(st.lists(st.sampled_from(sorted(doc)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del doc[field]
        elif field == "keyframes":
            doc[field] = draw(keys_documents)
        elif field == "settings":
            doc[field] = draw(st.dictionaries(st.sampled_from(["cfg_scale", "iterations", "ddim_steps", "x"]),
                                              st.one_of(weird_scalars, json_values), max_size=3))
        else:
            doc[field] = draw(st.one_of(weird_scalars, json_values))
    return doc


def _read_session(data) -> None:
    try:
        read_session(data)
    except (SessionError, KeyframeError) as e:
        _message(e)


@FUZZ
@given(st.one_of(st.text(max_size=1000), st.binary(max_size=1000)))
def test_session_arbitrary_text_and_bytes(data):
    _read_session(data)


@FUZZ
@given(session_document(), st.booleans())
def test_session_structured_but_wrong(doc, as_bytes):
    text = json.dumps(doc)
    _read_session(text.encode() if as_bytes else text)


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_sessions")


@settings(FUZZ, max_examples=100)
@given(st.one_of(session_document().map(lambda d: json.dumps(d).encode()), st.binary(max_size=500)))
def test_session_upload_handler_never_fails_unexpectedly(session_dir, data):
    path = session_dir / "session.json"
    path.write_bytes(data)
    *inputs, msg = H.load_session(str(path))
    assert msg and H.GENERIC_ERROR not in msg, msg       # only user errors, each with its message
    assert msg.startswith(("Restored", "Could not load this session:"))
