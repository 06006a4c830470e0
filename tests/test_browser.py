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

    # Shortening the motion keeps the key that no longer fits, marks it, and says Generate leaves it out.
    seconds.fill(str(max(1.0, (keys[1]["frame"] - 10) // 10 / 2)))
    seconds.press("Enter")
    seconds.blur()
    page.wait_for_function("() => document.querySelector('#momadiff-notice').innerText.includes('past the end')",
                           timeout=10_000)
    assert page.locator(".mtl").get_attribute("data-keys") == "2" and page.locator(".mtl-key.mtl-out").count() == 1
    # ... and Generate works, with the key that fits (it failed on the key past the end).
    page.locator("#momadiff-generate").click()
    page.wait_for_function("() => /done:.*1 key matched/.test(document.querySelector('#momadiff-status').innerText)",
                           timeout=60_000)
    # Lengthening the motion again brings the key back into use.
    seconds.fill("10")
    seconds.press("Enter")
    seconds.blur()
    page.wait_for_function("() => document.querySelectorAll('.mtl-key.mtl-out').length === 0", timeout=10_000)
    page.close()


def _toasts(page) -> int:
    return page.locator(".toast-body").count()


def test_numbers_out_of_range_answer_in_place(app_url, browser):
    """Duration 50 / 0 and seed -5: one inline message each, no toast, no red Error pills."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(app_url)
    page.wait_for_selector(".mtl[data-ready='1']", timeout=30_000)
    seconds = page.locator("#momadiff-seconds input[type='number']")
    notice = page.locator("#momadiff-notice")
    for typed, clamped in (("50", "12"), ("0", "1")):
        seconds.fill(typed)
        seconds.press("Enter")
        seconds.blur()
        page.wait_for_function(f"() => document.querySelector('#momadiff-notice').innerText.includes('set to {clamped} s')",
                               timeout=10_000)
        assert seconds.input_value() == clamped and _toasts(page) == 0
    seed = page.locator("#momadiff-seed input")
    seed.fill("-5")
    page.locator("#momadiff-generate").click()
    page.wait_for_function("() => document.querySelector('#momadiff-status').innerText.includes('seed')", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "app_seed_message.png"))
    assert "-5" in page.locator("#momadiff-status").inner_text()
    assert _toasts(page) == 0 and page.get_by_text("Error", exact=True).count() == 0
    page.close()


def test_crowded_keys_palette_labels_and_fixed_keys(app_url, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(app_url)
    page.wait_for_selector(".mtl[data-ready='1']", timeout=30_000)
    track = page.locator(".mtl-track")
    box = track.bounding_box()
    # Five keys a few frames apart, clicked on empty track below the keys already there.
    for frac in (0.40, 0.42, 0.44, 0.46, 0.48):
        track.click(position={"x": box["width"] * frac, "y": track.bounding_box()["height"] - 12})
    page.wait_for_selector(".mtl[data-keys='5']", timeout=10_000)
    page.locator(".mtl-fix").check()                                   # the last one, selected
    page.wait_for_selector(".mtl-key.mtl-fixed", timeout=10_000)
    page.locator(".mtl").screenshot(path=str(ARTIFACTS / "timeline_crowded.png"))
    rects = page.evaluate("""() => [...document.querySelectorAll('.mtl-key')].map(el => {
        const r = el.querySelector('svg').getBoundingClientRect(), l = el.querySelector('.mtl-flabel').getBoundingClientRect();
        return {x0: r.left, x1: r.right, y0: Math.min(r.top, l.top), y1: r.bottom, sel: el.classList.contains('mtl-sel'),
                fixed: el.classList.contains('mtl-fixed'), z: Number(getComputedStyle(el).zIndex),
                border: getComputedStyle(el.querySelector('svg')).borderTopStyle}; })""")
    assert len(rects) == 5
    for i, a in enumerate(rects):                      # no thumbnail or label covers another
        for b in rects[i + 1:]:
            assert a["x1"] <= b["x0"] or b["x1"] <= a["x0"] or a["y1"] <= b["y0"] or b["y1"] <= a["y0"], (a, b)
    sel = [r for r in rects if r["sel"]]
    assert len(sel) == 1 and sel[0]["z"] > max(r["z"] for r in rects if not r["sel"])
    assert [r["border"] for r in rects if r["fixed"]] == ["double"]
    assert all(r["border"] != "double" for r in rects if not r["fixed"])
    # Palette labels are shown whole ("Right hand up", not "Right ha...").
    cut = page.evaluate("""() => [...document.querySelectorAll('.mtl-pose span')]
        .filter(s => s.scrollWidth > s.clientWidth + 1 || s.scrollHeight > s.clientHeight + 1).map(s => s.textContent)""")
    assert cut == []
    page.close()


def test_model3d_shows_the_glb_and_a_second_generate_rerenders_the_mannequin(app_url, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(app_url)
    page.wait_for_selector(".mtl[data-ready='1']", timeout=30_000)
    seconds = page.locator("#momadiff-seconds input[type='number']")
    seconds.fill("2")
    seconds.press("Enter")
    seconds.blur()
    page.locator("#momadiff-generate").click()
    page.wait_for_selector("#momadiff-video video", timeout=60_000)
    page.wait_for_selector("#momadiff-glb canvas", timeout=30_000)     # was blank: no canvas at all
    _wait_for_drawn_canvas(page, "#momadiff-glb canvas")
    first_video = page.locator("#momadiff-video video").get_attribute("src")
    page.wait_for_selector("#momadiff-mesh video", timeout=120_000)
    first_mesh = page.locator("#momadiff-mesh video").get_attribute("src")
    # Generate again, then once more while that mannequin renders: the last one must be rendered.
    page.locator("#momadiff-prompt textarea").fill("a person bows")
    page.locator("#momadiff-generate").click()
    page.wait_for_function("(v) => { const e = document.querySelector('#momadiff-video video'); return e && e.src !== v; }",
                           arg=first_video, timeout=60_000)
    second_video = page.locator("#momadiff-video video").get_attribute("src")
    page.locator("#momadiff-prompt textarea").fill("a person waves")
    page.locator("#momadiff-generate").click()
    page.wait_for_function("(v) => { const e = document.querySelector('#momadiff-video video'); return e && e.src !== v; }",
                           arg=second_video, timeout=60_000)
    page.wait_for_function(
        "(m) => { const e = document.querySelector('#momadiff-mesh video'); return e && e.src && e.src !== m; }",
        arg=first_mesh, timeout=180_000)
    files = page.locator("#momadiff-files a[download='motion.npy']").first.get_attribute("href")
    _wait_for_drawn_canvas(page, "#momadiff-glb canvas")               # and again after a third Generate
    page.locator("#momadiff-glb").screenshot(path=str(ARTIFACTS / "app_model3d_view.png"))
    page.screenshot(path=str(ARTIFACTS / "app_model3d.png"), full_page=True)
    assert files
    page.close()


def _wait_for_drawn_canvas(page, selector: str, timeout: float = 30.0) -> None:
    """Wait until the element's pixels are not all one colour (a model was drawn)."""
    import io
    from PIL import Image
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        loc = page.locator(selector).first
        if loc.count() and loc.is_visible():
            img = np.asarray(Image.open(io.BytesIO(loc.screenshot())).convert("RGB"), dtype=np.int16)
            if np.abs(img - img[0, 0]).max() > 40:
                return
        time.sleep(0.5)
    raise AssertionError(f"{selector} stayed blank for {timeout:g} s")
