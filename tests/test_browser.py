"""The app end to end in headless Chromium (Debian's `chromium`, driven by Playwright), on the tiny
model: type a prompt, add two keys by clicking the timeline, generate, watch the stages stream,
download motion.npy and check the motion passes through the keys. Also the /generate API with
gradio_client. Screenshots go to tests/artifacts/ (git-ignored)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from apphelpers import app_in_process  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def app_url(tiny_pipeline, tmp_path_factory):
    os.environ["MOMADIFF_OUTPUT_DIR"] = str(tmp_path_factory.mktemp("app_outputs"))
    with app_in_process(tiny_pipeline) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def test_api_generate_with_gradio_client(app_url):
    from gradio_client import Client
    from momadiff.ui import keys as K
    from momadiff.ui.poses import load_poses
    pose = load_poses()[0]["joints"]
    keys = K.keys_json([K.key_dict(12, pose), K.key_dict(40, pose)])
    client = Client(app_url, verbose=False)
    out = client.predict("a person walks forward", 3.0, 7, keys, 3.0, 4, 4, api_name="/generate")
    stagebar, strip, status, video, files = out[:5]
    assert "done" in status and "stage 4" in stagebar
    npy = next(f for f in files if str(f).endswith("motion.npy"))
    joints = np.load(npy)
    assert joints.shape == (60, 22, 3)
    from momadiff.keyframes import key_error
    assert key_error(joints, K.to_keyframes(K.parse_keys(keys))).max() < 0.01


def test_timeline_keys_generate_download(app_url, browser, tmp_path):
    from momadiff.keyframes import key_error
    from momadiff.ui import keys as K
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(app_url)
    page.wait_for_selector(".mtl[data-ready='1']", timeout=30_000)
    page.locator("#momadiff-prompt textarea").fill("someone waves with the right hand")
    seconds = page.locator("#momadiff-seconds input[type='number']")
    seconds.fill("10")
    seconds.press("Enter")
    page.wait_for_function("() => document.querySelector('.mtl-info').innerText.includes('200 frames')",
                           timeout=10_000)

    # Two keys by clicking the track at 25% and 70% of its width.
    track = page.locator(".mtl-track")
    box = track.bounding_box()
    for frac in (0.25, 0.7):
        track.click(position={"x": box["width"] * frac, "y": box["height"] * 0.8})
    page.wait_for_selector(".mtl[data-keys='2']", timeout=10_000)
    # A pose from the palette for the selected (second) key.
    page.locator(".mtl-pose[data-name='arms_up']").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#momadiff-keys textarea').value;"
        " try { const k = JSON.parse(v); return k.length === 2 && k[1].label === 'Arms up'; } catch (e) { return false; } }",
        timeout=10_000)
    keys_text = page.locator("#momadiff-keys textarea").input_value()
    keys = K.parse_keys(keys_text)
    assert len(keys) == 2 and 30 < keys[0]["frame"] < keys[1]["frame"] < 200
    page.screenshot(path=str(ARTIFACTS / "app_keys.png"))

    # Stages can follow each other faster than a poll: a MutationObserver notes the first one.
    page.evaluate("""() => { const el = document.querySelector('#momadiff-status');
        window.__firstStage = null;
        new MutationObserver(() => { if (window.__firstStage === null && /stage \\d+ of|done/.test(el.innerText))
            window.__firstStage = performance.now(); }).observe(el, {subtree: true, childList: true, characterData: true}); }""")
    t0 = time.perf_counter()
    t0_page = page.evaluate("() => performance.now()")
    page.locator("#momadiff-generate").click()
    page.wait_for_function("() => window.__firstStage !== null", timeout=30_000)
    t_first = (page.evaluate("() => window.__firstStage") - t0_page) / 1000
    page.wait_for_selector("#momadiff-video video", timeout=60_000)
    t_video = time.perf_counter() - t0
    rows = page.locator("#momadiff-stages .mstage-row").count()
    assert rows >= 2
    print(f"\nfirst stage on screen after {t_first:.2f} s, video after {t_video:.2f} s")
    (ARTIFACTS / "timings.json").write_text(json.dumps({"first_stage_s": t_first, "video_s": t_video}))

    with page.expect_download(timeout=30_000) as dl:
        page.locator("#momadiff-files a[download='motion.npy']").first.click()
    path = tmp_path / "motion.npy"
    dl.value.save_as(str(path))
    joints = np.load(path)
    assert joints.shape == (200, 22, 3)
    assert key_error(joints, K.to_keyframes(keys)).max() < 0.01      # within 1 cm
    page.screenshot(path=str(ARTIFACTS / "app_result.png"))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "app_result_1440.png"), full_page=True)

    # Shortening the motion drops the key that no longer fits, with a message.
    seconds.fill(str(max(1.0, (keys[1]["frame"] - 10) // 10 / 2)))
    seconds.press("Enter")
    seconds.blur()
    page.wait_for_function("() => document.querySelector('#momadiff-notice').innerText.includes('Dropped')",
                           timeout=10_000)
    page.wait_for_selector(".mtl[data-keys='1']", timeout=10_000)
    page.close()
