"""The app end to end in headless Chromium (Debian's `chromium`, driven by Playwright, WebGL by
SwiftShader), on the tiny model: type a prompt, add two keys by clicking the timeline, generate,
watch the stages stream, download motion.npy and check the motion passes through the keys; the 3D
view (renders, scrubs, replays stages), posing a key by dragging a handle, the order comparison,
the phone layout and the no-WebGL fallback. Also the /generate API with gradio_client.
Screenshots go to tests/artifacts/ (git-ignored)."""
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
# WebGL by SwiftShader (software), as on a CI machine without a GPU.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
                 "--ignore-gpu-blocklist", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="module")
def app_pipeline(tiny_pipeline):
    """The tiny model; MOMADIFF_TEST_MODEL=DIR (e.g. assets/model) runs these tests, and their
    timings, on a real model instead."""
    folder = os.environ.get("MOMADIFF_TEST_MODEL")
    if not folder:
        return tiny_pipeline
    from momadiff import Pipeline
    from momadiff.ui.handlers import warm_up
    pipe = Pipeline.from_pretrained(folder)
    warm_up(pipe)
    return pipe


@pytest.fixture(scope="module")
def app_url(app_pipeline, tmp_path_factory):
    os.environ["MOMADIFF_OUTPUT_DIR"] = str(tmp_path_factory.mktemp("app_outputs"))
    with app_in_process(app_pipeline) as url:
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
    stagebar, view_message, status, video, files = out[:5]
    assert "done" in status and "stage 4" in stagebar
    assert json.loads(view_message)["count"] == 4
    npy = next(f for f in files if str(f).endswith("motion.npy"))
    joints = np.load(npy)
    assert joints.shape == (60, 22, 3)
    from momadiff.correction import key_error
    assert key_error(joints, K.to_keyframes(K.parse_keys(keys))).max() < 0.01


def test_timeline_keys_generate_download(app_url, browser, tmp_path):
    from momadiff.correction import key_error
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
        track.click(position={"x": box["width"] * frac, "y": box["height"] * 0.5})
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
    page.wait_for_selector("#momadiff-files a[download='motion.npy']", timeout=60_000)
    t_files = time.perf_counter() - t0
    rows = page.locator("#momadiff-stages .mstage-row").count()
    assert rows >= 2
    print(f"\nfirst stage status after {t_first:.2f} s, files after {t_files:.2f} s")

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


# ------------------------------------------------------------------------------------------
# The 3D view, stage replay, key posing, order comparison, phone layout, no WebGL.

def _canvas(page, selector: str = ".mv-canvas") -> np.ndarray:
    """The canvas as pixels [H, W, 3] (a screenshot of the element)."""
    import io
    from PIL import Image
    png = page.locator(selector).screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _assert_drawn(img: np.ndarray) -> None:
    """Not blank: many distinct colours and a body-coloured or bone-coloured area."""
    assert img.std() > 8 and len(np.unique(img.reshape(-1, 3), axis=0)) > 200


def _differs(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a - b).sum(-1) > 30).mean())


def _open_page(browser, app_url, width=1366, height=768):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_selector(".mv[data-ready='1'][data-gl='1']", timeout=60_000)
    page.wait_for_selector(".mtl[data-ready='1']", timeout=30_000)
    return page, errors


def _generate_and_wait(page, previous: str | None = None) -> dict:
    """Press Generate; wait until the view shows the new run's last stage. Returns the view's
    first-draw times of that run (seconds from the click event in the page)."""
    page.evaluate("() => { window.__clickAt = null; document.querySelector('#momadiff-generate').addEventListener("
                  "'click', () => { window.__clickAt = performance.now(); }, {capture: true, once: true}); }")
    page.locator("#momadiff-generate").click()
    page.wait_for_function(
        "(prev) => { const d = document.querySelector('.mv').dataset; return d.run && d.run !== 'example'"
        " && d.run !== prev && d.done === '1' && d.stage === d.count; }", arg=previous, timeout=60_000)
    times = page.evaluate("() => { const v = window.momadiffView; return Object.assign({run: v.run.id}, v.times[v.run.id]); }")
    t0 = page.evaluate("() => window.__clickAt")
    return {"run": times.pop("run"), **{k: (v - t0) / 1000 for k, v in times.items()}}


def _pause(page):
    if page.locator(".mv").get_attribute("data-playing") == "1":
        page.locator(".mv-play").click()
    page.wait_for_selector(".mv[data-playing='0']")


def _seek_on_timeline(page, frac: float) -> int:
    ticks = page.locator(".mtl-ticks")
    box = ticks.bounding_box()
    before = page.locator(".mv").get_attribute("data-frame")
    ticks.click(position={"x": box["width"] * frac, "y": box["height"] / 2})
    page.wait_for_function("(b) => document.querySelector('.mv').dataset.frame !== b", arg=before, timeout=10_000)
    page.wait_for_timeout(300)
    return int(page.locator(".mv").get_attribute("data-frame"))


def test_view_renders_scrubs_and_replays_stages(app_url, browser, app_pipeline):
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = _open_page(browser, app_url)
    page.wait_for_selector(".mv[data-run='example']", timeout=30_000)   # the first-load example
    page.wait_for_timeout(800)
    _assert_drawn(_canvas(page))
    page.screenshot(path=str(ARTIFACTS / "view_first_load.png"))
    page.locator("#momadiff-prompt textarea").fill("a person walks forward")
    seconds = page.locator("#momadiff-seconds input[type='number']")
    seconds.fill("10")
    seconds.press("Enter")
    page.wait_for_function("() => document.querySelector('.mtl-info').innerText.includes('200 frames')")

    runs, prev = [], None
    for seed in range(3):                   # medians of 3 (the first is warm: the app warmed up)
        page.locator("#momadiff-generate").scroll_into_view_if_needed()
        runs.append(_generate_and_wait(page, prev))
        prev = runs[-1]["run"]
    stage1 = float(np.median([r["stage1"] for r in runs]))
    final = float(np.median([r["final"] for r in runs]))
    load = os.getloadavg()[0]
    print(f"\n10 s motion, view: stage 1 drawn after {stage1:.2f} s, final after {final:.2f} s (medians of 3; "
          f"load average {load:.1f})")
    (ARTIFACTS / "view_timings.json").write_text(json.dumps({"stage1_s": stage1, "final_s": final, "runs": runs,
                                                            "load_average": load}))
    count = int(page.locator(".mv").get_attribute("data-count"))
    assert count == app_pipeline.sampler.iterations and page.locator(".mv").get_attribute("data-received") == str(count)

    # Scrubbing from the timeline moves the view and the timeline's playhead.
    _pause(page)
    f1 = _seek_on_timeline(page, 0.1)
    a = _canvas(page)
    f2 = _seek_on_timeline(page, 0.85)
    b = _canvas(page)
    assert f2 > f1 + 100 and page.locator(".mtl").get_attribute("data-playhead") == str(f2)
    _assert_drawn(b)
    assert _differs(a, b) > 0.002
    page.screenshot(path=str(ARTIFACTS / "view_scrubbed.png"))

    # The stage selector: stage 1 of the same frame looks different; the bar's row is marked and
    # the timeline's latent strip shows masked (interpolated) latents.
    slider = page.locator(".mst-slider")
    slider.evaluate("(el) => { el.value = '1'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.wait_for_selector(".mv[data-stage='1']", timeout=10_000)
    page.wait_for_timeout(300)
    c = _canvas(page)
    assert page.locator(".mv").get_attribute("data-frame") == str(f2)
    assert _differs(b, c) > 0.002
    assert page.locator("#momadiff-stages .mstage-row[data-stage='1']").evaluate("(r) => r.style.outline").find("2px") >= 0
    assert page.locator(".mtl-lat[data-kind='m']").count() > 0
    assert "still [MASK]" in page.locator(".mst-text").inner_text()
    page.screenshot(path=str(ARTIFACTS / "view_stage1.png"))

    # Play the process: the stages step forward by themselves.
    page.locator(".mst-process").click()
    page.wait_for_selector(".mv[data-process='1']", timeout=5_000)
    page.wait_for_selector(".mv[data-stage='2']", timeout=10_000)
    assert not errors, errors
    page.close()


def test_dragging_a_hand_handle_poses_the_key_and_the_motion_passes_through_it(app_url, browser, tmp_path):
    from momadiff.correction import key_error
    from momadiff.ui import keys as K
    page, errors = _open_page(browser, app_url)
    page.locator("#momadiff-prompt textarea").fill("someone raises the right hand")
    track = page.locator(".mtl-track")
    box = track.bounding_box()
    track.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.4})
    page.wait_for_selector(".mtl[data-keys='1']")
    page.wait_for_function("() => document.querySelector('.mv').dataset.posing !== ''", timeout=10_000)
    page.wait_for_timeout(500)
    page.locator(".mv").scroll_into_view_if_needed()
    read = lambda: K.parse_keys(page.locator("#momadiff-keys textarea").input_value())[0]
    before = np.asarray(read()["joints"])
    h = page.evaluate("() => window.momadiffView.posing.handleScreen(21)")
    page.mouse.move(h["x"], h["y"])
    page.mouse.down()
    page.mouse.move(h["x"] + 25, h["y"] - 70, steps=6)
    page.mouse.up()
    page.wait_for_function("() => JSON.parse(document.querySelector('#momadiff-keys textarea').value)[0].label === 'posed'",
                           timeout=10_000)
    key = read()
    after = np.asarray(key["joints"])
    assert np.linalg.norm(after[21] - before[21]) > 0.05            # the right hand moved
    for a, b in ((17, 19), (19, 21)):                                 # arm bones kept their lengths
        assert abs(np.linalg.norm(after[a] - after[b]) - np.linalg.norm(before[a] - before[b])) < 0.002
    assert np.abs(np.delete(after, [19, 21], axis=0) - np.delete(before, [19, 21], axis=0)).max() < 1e-3
    page.screenshot(path=str(ARTIFACTS / "posing.png"))

    # Undo and redo.
    page.locator(".mv-undo").click()
    page.wait_for_timeout(300)
    assert np.abs(np.asarray(read()["joints"]) - before).max() < 1e-3
    page.locator(".mv-redo").click()
    page.wait_for_timeout(300)
    assert np.abs(np.asarray(read()["joints"]) - after).max() < 1e-3

    # The pelvis handle moves the body on the floor (height unchanged).
    h0 = page.evaluate("() => window.momadiffView.posing.handleScreen(0)")
    page.mouse.move(h0["x"], h0["y"])
    page.mouse.down()
    page.mouse.move(h0["x"] + 60, h0["y"] + 10, steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    moved = np.asarray(read()["joints"])
    shift = moved - after
    assert np.abs(shift[:, 1]).max() < 1e-3 and np.linalg.norm(shift[0, [0, 2]]) > 0.05
    assert np.abs(shift - shift[0]).max() < 1e-3                      # the whole body, rigidly

    # The ring turns the body about the pelvis: heights and the pelvis stay, the facing changes.
    hr = page.evaluate("() => window.momadiffView.posing.handleScreen(-1)")
    page.mouse.move(hr["x"], hr["y"])
    page.mouse.down()
    page.mouse.move(hr["x"] - 40, hr["y"] + 50, steps=6)
    page.mouse.up()
    page.wait_for_timeout(300)
    turned = np.asarray(read()["joints"])
    assert np.abs(turned[:, 1] - moved[:, 1]).max() < 1e-3 and np.abs(turned[0] - moved[0]).max() < 1e-3
    across = lambda j: (j[1] - j[2])[[0, 2]]                          # hip line, seen from above
    cos = across(turned) @ across(moved) / np.linalg.norm(across(turned)) / np.linalg.norm(across(moved))
    assert cos < np.cos(np.radians(10))                               # turned by more than 10 degrees
    page.screenshot(path=str(ARTIFACTS / "posing_turned.png"))

    keys = [read()]
    page.locator(".mv-done").click()
    page.wait_for_function("() => document.querySelector('.mv').dataset.posing === ''", timeout=5_000)
    _generate_and_wait(page)
    page.wait_for_selector("#momadiff-files a[download='motion.npy']", timeout=60_000)
    with page.expect_download(timeout=30_000) as dl:
        page.locator("#momadiff-files a[download='motion.npy']").first.click()
    path = tmp_path / "motion.npy"
    dl.value.save_as(str(path))
    assert key_error(np.load(path), K.to_keyframes(keys)).max() < 0.01      # within 1 cm
    assert not errors, errors
    page.close()


def test_order_comparison_renders_three_views(app_url, browser):
    page, errors = _open_page(browser, app_url)
    page.get_by_text("Compare orders: keyframes first").click()
    page.locator("#momadiff-compare-go").click()
    page.wait_for_selector(".mc[data-orders='3']", timeout=60_000)
    page.locator(".mc-canvas").scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    img = _canvas(page, ".mc-canvas")
    w = img.shape[1] // 3
    for k in range(3):                                   # each third has a skeleton drawn
        _assert_drawn(img[:, k * w:(k + 1) * w])
    titles = page.locator(".mc-title").all_inner_texts()
    assert titles[0].startswith("keyframes first") and titles[1].startswith("random") and titles[2] == "left to right"
    assert all("jerk" in t for t in page.locator(".mc-nums").all_inner_texts())
    page.locator(".mc-slider").evaluate("(el) => { el.value = '1'; el.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.wait_for_selector(".mc[data-stage='1']")
    page.screenshot(path=str(ARTIFACTS / "compare.png"))
    assert not errors, errors
    page.close()


def test_phone_layout_keeps_generate_near_the_prompt_and_shows_the_view(app_url, browser):
    page, errors = _open_page(browser, app_url, 390, 844)
    prompt = page.locator("#momadiff-prompt").bounding_box()
    go = page.locator("#momadiff-generate").bounding_box()
    assert go["y"] + go["height"] < 844 and go["y"] - (prompt["y"] + prompt["height"]) < 120
    assert go["x"] + go["width"] <= 390
    page.screenshot(path=str(ARTIFACTS / "phone_before.png"))
    _generate_and_wait(page)
    page.wait_for_timeout(1200)                      # the smooth scroll
    view = page.locator("#momadiff-view").evaluate("(el) => { const r = el.getBoundingClientRect(); return [r.top, r.bottom]; }")
    assert -40 < view[0] < 844 / 2, view             # the view's top is in the upper half of the screen
    _assert_drawn(_canvas(page))
    page.screenshot(path=str(ARTIFACTS / "phone_after.png"))
    assert not errors, errors
    page.close()


def test_without_webgl_a_message_and_the_skeleton_video(app_url, browser):
    args = [a for a in CHROMIUM_ARGS if "swiftshader" not in a] + ["--disable-webgl", "--disable-3d-apis"]
    b = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        page = b.new_page(viewport={"width": 1366, "height": 768})
        page.goto(app_url)
        page.wait_for_selector(".mv[data-gl='none']", timeout=60_000)
        assert "no WebGL" in page.locator(".mv-nogl").inner_text()
        page.locator("#momadiff-generate").click()
        page.wait_for_selector("#momadiff-video video", timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "no_webgl.png"))
    finally:
        b.close()


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
    for typed, clamped in (("90", "60"), ("0", "1")):
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
    # Five keys a few frames apart (about 12 px at this width, a thumbnail is 48), written into the
    # keys box the way the timeline commits (the track's free strip below the keys is now the
    # playhead's scrub area, so they cannot all be clicked in there).
    from momadiff.ui import keys as K
    from momadiff.ui.poses import load_poses
    pose = load_poses()[0]["joints"]
    text = K.keys_json([K.key_dict(f, pose, label="crowded") for f in (48, 51, 54, 57, 62)])
    page.evaluate("(t) => { const box = document.querySelector('#momadiff-keys textarea'); box.value = t;"
                  " box.dispatchEvent(new Event('input', {bubbles: true})); }", text)
    page.wait_for_selector(".mtl[data-keys='5']", timeout=10_000)
    page.locator(".mtl-key[data-frame='62'] svg").click()               # select the last one
    page.wait_for_selector(".mtl-key.mtl-sel[data-frame='62']", timeout=10_000)
    page.locator(".mtl-fix").check()
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


@pytest.mark.xfail(strict=True, reason="known bug: after Generate cancels a running render (cancels=[render_evt]), "
                   "pressing the render button again shows Gradio's 'Error' in its message and renders nothing; "
                   "the cancelled render's thread still finishes in the background")
def test_videos_on_request_and_a_new_generate_clears_them(app_url, browser):
    """The videos are rendered when asked for; Generate during a render cancels it and clears the
    old videos and message at once; asking again renders the new motion."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(app_url)
    page.wait_for_selector(".mtl[data-ready='1']", timeout=30_000)
    seconds = page.locator("#momadiff-seconds input[type='number']")
    seconds.fill("2")
    seconds.press("Enter")
    seconds.blur()
    page.locator("#momadiff-generate").click()
    page.wait_for_selector("#momadiff-files a[download='motion.npy']", timeout=60_000)
    page.locator("#momadiff-render").click()
    page.wait_for_selector("#momadiff-video video", timeout=60_000)
    first_video = page.locator("#momadiff-video video").get_attribute("src")
    # Generate while the mannequin renders: the old videos and the render message go at once.
    page.locator("#momadiff-prompt textarea").fill("a person bows")
    page.locator("#momadiff-generate").click()
    page.wait_for_function("() => !document.querySelector('#momadiff-video video') && "
                           "!document.querySelector('#momadiff-mesh video') && "
                           "document.querySelector('#momadiff-render-msg').innerText.trim() === ''", timeout=60_000)
    page.wait_for_function("() => /done:/.test(document.querySelector('#momadiff-status').innerText)", timeout=60_000)
    page.locator("#momadiff-render").click()
    page.wait_for_function("(v) => { const e = document.querySelector('#momadiff-video video'); return e && e.src !== v; }",
                           arg=first_video, timeout=60_000)
    page.wait_for_function("() => /ready/.test(document.querySelector('#momadiff-render-msg').innerText)",
                           timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / "app_videos_on_request.png"), full_page=True)
    assert _toasts(page) == 0
    page.close()
