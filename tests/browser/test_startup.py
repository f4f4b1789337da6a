"""Opening the page: progress while it starts, the unseen warm-up, a photo given before
the model is ready, the model named in the address, and a model download that fails.
Each test opens the app in its own fresh browser profile.
"""
from __future__ import annotations

import os
import re

import pytest

from app.core.spec import DEFAULT_MODELS, get_spec
from tests import photos
from tests.browser.app_page import AppPage
from tests.browser.reference import assert_same_cutout, native_cutout
from tests.browser.site_copy import linked_copy, replace
from app.ui.text import format_bytes
from builder.serve import serving

pytestmark = pytest.mark.browser


def test_boot_shows_real_progress_then_names_the_engine(open_app):
    """While starting, the page names its stages, counts the model's megabytes (the page
    downloads it while Python starts, or the worker does), and once the download ends says
    what happens next (never a stale 100 %); then it names the model and the engine (threads
    as many as this machine offers, up to 4) and says it is ready."""
    app = open_app()
    app.wait_ready()
    log = app.status_log()
    size = format_bytes(get_spec(DEFAULT_MODELS["wasm"]).bytes)
    pattern = re.compile(r"(?:Downloading the model: |· model )([\d.]+) (\w+) of " + re.escape(size))
    downloads = [line for line in log if pattern.search(line)]
    assert downloads, f"no model download progress shown; status lines: {log}"
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    received = [float(number) * units[unit] for number, unit in (pattern.search(line).groups() for line in downloads)]
    assert received == sorted(received), downloads
    assert not any("(100%)" in line for line in log), log
    assert log.index(downloads[0]) > 0, f"nothing said before the download: {log}"
    # Once the last byte is in, the line says what happens now: the model is on this device
    # (kept while Python starts), being looked for, checked and opened, or ready. Which of
    # these a visit shows depends on how fast the page's early open is against Python's
    # start, so none of the transient ones is required; a download line is never left up.
    after = log[log.index(downloads[-1]) + 1:]
    assert after, f"the download's line stayed up: {log}"
    next_words = ("Looking for the model on this device…", "Checking and opening the model…", "Ready.")
    assert after[0].endswith("· model on this device") or after[0].startswith(next_words), after
    assert not any("Downloading" in line or pattern.search(line) for line in after), after
    threads = app.expected_threads()
    assert app.page.evaluate("crossOriginIsolated") is True
    label = get_spec(DEFAULT_MODELS["wasm"]).label
    # This machine has no graphics card: the page says so, on WebAssembly.
    assert app.engine == (f"{label} · WebAssembly, {threads} thread{'s' if threads > 1 else ''}. "
                          "Not on WebGPU: WebGPU found no usable graphics adapter."), app.engine
    assert app.status.startswith("Ready."), app.status


def test_while_the_user_chooses_the_page_warms_up_unseen_and_the_first_cutout_is_unchanged(open_app, tmp_path):
    """Once ready and idle, the worker runs every stage once on a made-up photo: the page
    shows nothing of it (the status still says ready, no result, no download, no busy
    state, nothing fetched), and the first real photo's cutout is the command line's."""
    app = open_app()
    app.wait_ready()
    requests = []
    app.page.on("request", lambda request: requests.append(request.url))
    app.page.wait_for_function("() => document.documentElement.dataset.warmedUp === 'yes'", timeout=60_000)
    assert app.status.startswith("Ready."), app.status
    assert app.details == "" and not app.busy and not app.download_link.is_visible()
    assert requests == []
    path = photos.save(tmp_path / "coffee.png", "coffee")
    cutout = app.cutout(path, tmp_path / "download.png")
    assert_same_cutout(cutout, native_cutout(path, tmp_path))


def test_a_photo_picked_before_the_model_is_ready_is_cut_out(open_app, tmp_path):
    """A person picks a photo as soon as the page reacts, while the model is still
    downloading: the page works on it once the model is there, and the result is
    the command line's cutout of that photo."""
    app = open_app()
    app.wait_wired()
    assert app.engine == "", "the model was ready before the pick: this test needs an earlier pick"
    path = photos.save(tmp_path / "coffee.png", "coffee")
    app.pick(path)
    cutout = app.cutout_after_pick(tmp_path / "download.png")
    assert app.last_download_name == "coffee-cutout.png"
    assert_same_cutout(cutout, native_cutout(path, tmp_path))


@pytest.mark.parametrize("how", ["pick", "drop", "paste"])
def test_a_photo_given_the_moment_the_page_appears_is_not_lost(open_app, tmp_path, how):
    """A person picks, drops or pastes a photo while the page still says it is loading,
    before its Python listens for files: the photo is taken once the page is ready, and
    cut out (a drop never makes the browser open the file in the app's place).
    (On a slow connection that window lasts seconds; here the UI's interpreter is held
    back until the photo is given, so it is early however fast or busy this machine is.)"""
    path = photos.save(tmp_path / "astronaut.png", "astronaut")
    held, released = [], []

    def hold_micropython(route):
        route.continue_() if released else held.append(route)

    app = open_app(wait_until="commit",
                   setup=lambda context: context.route("**/micropython.wasm", hold_micropython))
    app.page.wait_for_selector("#file-input", state="attached")
    app.page.evaluate("""() => {
        const zone = document.querySelector('#drop-zone');
        document.addEventListener('change', () => { window.__pickedAt = performance.now(); }, true);
        new MutationObserver(() => { if (!zone.classList.contains('booting')) window.__listeningAt ??= performance.now(); })
          .observe(zone, {attributes: true});
    }""")
    if how == "pick":
        app.pick(path)
    else:
        app.deliver(how, path.name, "image/png", path.read_bytes())
    app.page.wait_for_function("window.__pickedAt !== undefined")
    released.append(True)
    for route in held:
        route.continue_()
    app.wait_wired()
    picked, listening = app.page.evaluate("[window.__pickedAt, window.__listeningAt]")
    assert picked < listening, f"picked at {picked} ms, after the page listened at {listening} ms: not early"
    cutout = app.cutout_after_pick(tmp_path / "download.png")
    assert app.last_download_name == "astronaut-cutout.png"
    assert_same_cutout(cutout, native_cutout(path, tmp_path))


def test_the_model_named_in_the_address_is_used(open_app, tmp_path):
    """`?model=isnet-fp16` loads the 16-bit model (Settings shows it) and cuts out
    with it: the result is the command line's `--model isnet-fp16` cutout, which
    differs clearly from the default 8-bit one."""
    app = open_app("?model=isnet-fp16")
    app.wait_ready()
    assert app.engine.startswith("ISNet, 16-bit"), app.engine
    assert app.page.get_by_label("Model").input_value() == "isnet-fp16"
    path = photos.save(tmp_path / "astronaut.png", "astronaut")
    cutout = app.cutout(path, tmp_path / "download.png")
    assert app.requested(f"/models/{get_spec('isnet-fp16').file}") and not app.requested(f"/models/{get_spec('isnet-int8').file}")
    assert_same_cutout(cutout, native_cutout(path, tmp_path, "isnet-fp16"))


@pytest.fixture
def broken_site(site, tmp_path):
    """A copy of the built site (hard links) whose model file the test can break and
    repair, served on its own port: what a host with a bad upload looks like."""
    copy = linked_copy(site, tmp_path / "site")
    model = copy / "models" / get_spec(DEFAULT_MODELS["wasm"]).file
    original = site / "models" / get_spec(DEFAULT_MODELS["wasm"]).file

    def break_model(kind: str):
        data = original.read_bytes()
        if kind == "missing":
            model.unlink()
        elif kind == "short":
            replace(model, data[: len(data) // 3])
        elif kind == "damaged":
            replace(model, data[:1000] + bytes(255 - b for b in data[1000:1100]) + data[1100:])

    def repair():
        model.unlink(missing_ok=True)
        os.link(original, model)

    with serving(copy) as url:
        yield url, break_model, repair


@pytest.mark.parametrize("kind, reason", [
    ("missing", "HTTP 404"),
    ("short", rf"ended after \d+ of {get_spec(DEFAULT_MODELS['wasm']).bytes} bytes"),
    ("damaged", r"is damaged: SHA-256 [0-9a-f]{64}, expected " + get_spec(DEFAULT_MODELS["wasm"]).sha256),
])
def test_a_failed_model_download_is_explained_and_recovers(browser, broken_site, tmp_path, kind, reason):
    """The model's download fails (not on the server, cut short, damaged): the page
    says so in plain words with the reason and what to do; once the site is
    repaired, the next photo downloads the model again and is cut out."""
    url, break_model, repair = broken_site
    break_model(kind)
    app = AppPage(browser, url)
    try:
        status = app.wait_status("text.startsWith('The model could not be loaded')")
        assert app.status_is_error
        assert re.search(reason, status), status
        assert "JsException" not in status and "Error:" not in status, status
        assert status.endswith("Try again: choose a photo, or reload the page."), status
        repair()
        path = photos.save(tmp_path / "coffee.png", "coffee")
        cutout = app.cutout(path, tmp_path / "download.png")
        assert_same_cutout(cutout, native_cutout(path, tmp_path))
        assert app.engine.startswith(get_spec(DEFAULT_MODELS["wasm"]).label), app.engine
    finally:
        app.close()
