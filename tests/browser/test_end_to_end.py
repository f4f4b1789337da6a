"""The app as a person uses it, in Debian's Chromium with the real model.

One page (fresh browser profile) is shared by the tests of this module, in
order: boot, a photo, a newer photo superseding it, bad files, responsiveness.
Every request the page makes is recorded; none may leave its origin.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.browser.app_page import AppPage
from tests.browser.photos import displayed, photo, truncated_copy, with_exif_orientation

pytestmark = pytest.mark.browser

STATUS_LOG = """
window.__statusLog = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.querySelector("#status");
  new MutationObserver(() => window.__statusLog.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
});
"""


@pytest.fixture(scope="module")
def app(browser, server_url):
    context_page = AppPage(browser, server_url, init_scripts=[STATUS_LOG])
    yield context_page
    context_page.close()


def test_boot_shows_real_progress_then_names_the_engine(app):
    """While booting, the page reports stages and the model's bytes; then which engine runs."""
    app.wait_ready()
    log = app.page.evaluate("window.__statusLog")
    downloads = [line for line in log if line.startswith("Downloading the model:")]
    assert downloads, f"no model download progress shown; status lines: {log}"
    assert downloads[-1].endswith("(100%)"), downloads[-1]
    assert " of 88.2 MB " in downloads[0], downloads[0]
    engine = app.page.locator("#engine").text_content()
    assert "ISNet, 16-bit" in engine and "WebAssembly, 2 threads" in engine, engine
    assert app.page.evaluate("crossOriginIsolated") is True
    assert app.status.startswith("Ready."), app.status


def test_picked_photo_becomes_a_full_resolution_cutout(app, tmp_path, artifacts):
    """Pick a photo with EXIF orientation 6: busy while working, then an upright RGBA
    PNG at full resolution named after the photo, its opaque pixels the photo's own."""
    source = photo("people/sod_15004.jpg")
    rotated = with_exif_orientation(source, tmp_path / "portrait.jpg", 6)
    upright = displayed(rotated)
    assert upright.size == displayed(source).size      # the fixture itself is right

    app.pick(rotated)
    app.page.wait_for_function("document.querySelector('#result').getAttribute('aria-busy') === 'true'")
    assert app.download_link.is_hidden()
    cutout = app.cutout_after_pick(tmp_path / "download.png")

    assert app.last_download_name == "portrait-cutout.png"
    assert cutout.mode == "RGBA"
    assert cutout.size == upright.size
    alpha = np.asarray(cutout.getchannel("A"))
    opaque, clear = (alpha == 255).mean(), (alpha == 0).mean()
    assert 0.05 < opaque < 0.9 and clear > 0.05, (opaque, clear)
    rgb = np.asarray(cutout.convert("RGB"), dtype=np.int16)
    photo_rgb = np.asarray(upright, dtype=np.int16)
    assert np.abs(rgb - photo_rgb)[alpha == 255].mean() < 1.0
    assert app.page.locator("#result").get_attribute("aria-busy") == "false"
    timings = app.timings()
    assert set(timings) >= {"decode", "preprocess", "inference", "postprocess", "encode", "total"}
    app.page.screenshot(path=str(artifacts / "end-to-end-result.png"), full_page=True)
    app.page.get_by_label("black").check()
    assert app.page.locator("#result .stage").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 0)"
    app.page.screenshot(path=str(artifacts / "end-to-end-result-on-black.png"), full_page=True)
    app.page.get_by_label("checkerboard").check()
    assert app.foreign_requests() == []


def test_a_newer_photo_supersedes_the_older_one(app, tmp_path):
    """Two photos in quick succession: no stale download is offered, only the newer result arrives."""
    first = photo("animals/sod_100080.jpg")
    second = photo("objects/am_GT01.jpg")
    app.pick(first)
    app.page.wait_for_function("document.querySelector('#result').getAttribute('aria-busy') === 'true'")
    assert app.download_link.is_hidden()
    app.pick(second)
    cutout = app.cutout_after_pick(tmp_path / "second.png")
    assert app.last_download_name == "am_GT01-cutout.png"
    assert cutout.size == displayed(second).size
    assert app.status.startswith("Done"), app.status


def test_cancel_stops_waiting_and_brings_back_the_previous_cutout(app):
    """Cancel while a photo is worked on: the page is idle at once, says so, and offers
    the previous cutout again; the cancelled photo's result never shows up."""
    app.pick(photo("people/sod_181079.jpg"))
    app.page.wait_for_function("document.querySelector('#result').getAttribute('aria-busy') === 'true'")
    app.page.get_by_role("button", name="Cancel").click()
    app.page.wait_for_function("document.querySelector('#status').textContent === 'Cancelled.'", timeout=5000)
    assert app.page.locator("#result").get_attribute("aria-busy") == "false"
    assert app.page.get_by_role("button", name="Cancel").is_hidden()
    assert app.download_link.get_attribute("download") == "am_GT01-cutout.png"
    assert app.download_link.is_visible()
    app.page.wait_for_timeout(3000)
    assert app.page.locator("#details").text_content().startswith("am_GT01.jpg · ")


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("notes.txt", lambda path: path.write_text("not a photo"), "is not an image"),
        ("empty.png", lambda path: path.write_bytes(b""), "The file is empty"),
        ("noise.png", lambda path: path.write_bytes(np.random.default_rng(1).bytes(5000)), "not an image we can read"),
        ("cut.jpg", lambda path: truncated_copy(photo("objects/am_GT01.jpg"), path, 3000), "damaged or incomplete"),
        ("huge.jpg", lambda path: Image.new("RGB", (9000, 6000), (90, 120, 160)).save(path, quality=80),
         "The photo is 9000×6000 (54 MP); the largest we can process is 50 MP."),
    ],
)
def test_a_bad_file_gets_a_clear_message(app, tmp_path, name, make, message):
    """Each kind of bad file is named in the page with what is wrong, and the cutout
    already on screen (from the test before) stays there, downloadable: no lost work."""
    path = tmp_path / name
    make(path)
    app.pick(path)
    status = app.wait_result()
    assert message in status, status
    assert name in status, status
    assert app.page.locator("#status").get_attribute("class") == "error"
    assert app.download_link.is_visible()
    assert app.download_link.get_attribute("download") == "am_GT01-cutout.png"
    assert app.page.locator("#details").text_content().startswith("am_GT01.jpg · ")
    assert app.page.locator("#result").get_attribute("aria-busy") == "false"


def test_the_page_still_works_after_bad_files(app, tmp_path):
    """After the bad files, a good photo is cut out as usual."""
    cutout = app.cutout(photo("fur_soft/am_GT05.jpg"), tmp_path / "after.png")
    assert cutout.mode == "RGBA" and cutout.size == displayed(photo("fur_soft/am_GT05.jpg")).size


@pytest.mark.parametrize("how, name, mime, fmt", [("drop", "dropped.webp", "image/webp", "WEBP"),
                                                  ("paste", "image.png", "image/png", "PNG")])
def test_dropping_or_pasting_a_photo_works_like_picking(app, tmp_path, how, name, mime, fmt):
    """A WebP dropped on the drop zone, or a PNG pasted, is cut out and offered for download."""
    source = displayed(photo("animals/sod_106025.jpg"))
    buffer = io.BytesIO()
    source.save(buffer, fmt, **({"quality": 90} if fmt == "WEBP" else {}))
    app.deliver(how, name, mime, buffer.getvalue())
    cutout = app.cutout_after_pick(tmp_path / "delivered.png")
    assert app.last_download_name == name.rsplit(".", 1)[0] + "-cutout.png"
    assert cutout.mode == "RGBA" and cutout.size == source.size


def test_edge_settings_redo_the_cutout_without_inference(app, tmp_path):
    """Moving "Shift edge" inwards redoes the photo on screen from its stored mask
    (no second inference): same photo, fewer opaque pixels, and the setting is remembered."""
    before = app.cutout(photo("objects/sod_12003.jpg"), tmp_path / "before.png")
    app.open_settings()
    app.mark()
    app.page.get_by_label("Shift edge").fill("-6")
    after = app.cutout_after_pick(tmp_path / "after.png")
    assert app.last_download_name == "sod_12003-cutout.png"
    assert after.size == before.size
    timings = app.timings()
    assert "postprocess" in timings and "inference" not in timings, timings
    opaque_before = (np.asarray(before.getchannel("A")) > 127).sum()
    opaque_after = (np.asarray(after.getchannel("A")) > 127).sum()
    assert opaque_after < 0.97 * opaque_before, (opaque_before, opaque_after)
    assert app.page.locator("#shift_edge-value").text_content() == "-6 px"
    saved = app.page.evaluate("JSON.parse(localStorage.getItem('cutout.options'))")
    assert saved["shift_edge"] == -6
    app.mark()
    app.page.get_by_role("button", name="Reset edges").click()
    app.cutout_after_pick(tmp_path / "reset.png")
    assert app.page.evaluate("JSON.parse(localStorage.getItem('cutout.options'))")["shift_edge"] == 0


def test_the_ui_thread_is_never_blocked_for_long(app):
    """Decoding, NumPy and inference run in the worker: after start-up no main-thread
    task comes near the worker's work. Compared within this run (load stretches both
    alike): the longest task is under a quarter of the slowest inference; exact
    figures are bench/browser_speed.py's."""
    ready_at = app.page.evaluate("window.__readyAt || 0")
    tasks = [task for task in app.long_tasks() if task["start"] > ready_at]
    longest = max((task["duration"] for task in tasks), default=0) / 1000
    slowest_inference = max(timings.get("inference", 0) for timings in app.all_timings)
    assert slowest_inference > 0, app.all_timings
    assert longest < 0.25 * slowest_inference, (longest, slowest_inference, tasks)


def test_nothing_left_the_origin(app):
    """Over the whole session (boot, model, photos, bad files) every request stayed on the origin."""
    assert app.requests, "no requests recorded"
    assert app.foreign_requests() == []
