"""The model is downloaded once (the page starts it while Python boots, the worker takes
it over) and kept on the device for the next visit (static/model-store.js); a full
storage quota costs the cache, never the model. Each test opens its own fresh profile.
"""
from __future__ import annotations

import hashlib
import re

import pytest

from app.core.spec import DEFAULT_MODELS, get_spec
from tests import photos
from tests.browser.reference import assert_same_cutout, native_cutout

pytestmark = pytest.mark.browser

MODEL_PATH = f"/models/{get_spec(DEFAULT_MODELS['wasm']).file}"


def model_downloads(app) -> int:
    return sum(1 for url in app.urls() if url.split("?")[0] == app.origin + MODEL_PATH)


def test_the_model_is_downloaded_once_and_kept_for_the_next_visit(open_app, tmp_path):
    """A first visit: the page and the worker both want the model, one download happens
    (shown while Python starts), and a photo is cut out. A reload: no download at all,
    the model is read from this device, and while the next photo is worked on the page
    says how long finding the subject took here last time."""
    app = open_app()
    app.wait_ready()
    assert model_downloads(app) == 1, app.urls()
    assert any(" · model " in line for line in app.status_log()), app.status_log()
    app.cutout(photos.save(tmp_path / "coffee.png", "coffee"), tmp_path / "first.png")
    last = app.timings()["inference"]
    app.page.reload()
    app.wait_ready()
    assert model_downloads(app) == 1, "the reload downloaded the model again"
    path = photos.save(tmp_path / "cat.png", "cat")
    cutout = app.cutout(path, tmp_path / "download.png")
    assert_same_cutout(cutout, native_cutout(path, tmp_path))
    said = [re.fullmatch(r"Finding the subject… \(about (\d+) s on this device last time\)", line)
            for line in app.status_log()]
    seconds = [int(m.group(1)) for m in said if m]
    assert seconds and abs(seconds[0] - last) <= 1, (last, app.status_log())


FULL_STORAGE = """
Cache.prototype.put = async () => { throw new DOMException("the quota is full", "QuotaExceededError"); };
navigator.storage.estimate = async () => ({ quota: 1000000, usage: 990000 });
"""


def test_a_full_storage_quota_costs_the_cache_not_the_model(browser, server_url):
    """static/model-store.js in a page whose storage is full (every Cache.put refused, as
    Chromium does when the quota is reached): the model still arrives whole each time it
    is asked for (downloaded again, as nothing could be kept). Chromium gives no way to
    shrink a quota for a test context, and the refusal cannot be injected into the
    inference worker, so the store is driven here directly, as that worker calls it."""
    spec = get_spec(DEFAULT_MODELS["wasm"])
    context = browser.new_context()
    try:
        context.add_init_script(FULL_STORAGE)
        page = context.new_page()
        requests = []
        context.on("request", lambda request: requests.append(request.url))
        page.goto(server_url + "licenses.txt")
        sizes = page.evaluate("""async ([path, bytes, sha256]) => {
            const store = await import("./static/model-store.js");
            const first = await store.loadModel(path, bytes, sha256, () => {});
            const second = await store.loadModel(path, bytes, sha256, () => {});
            return [first.length, second.length];
        }""", [f"models/{spec.file}", spec.bytes, spec.sha256])
        assert sizes == [spec.bytes, spec.bytes]
        assert sum(url.endswith(MODEL_PATH) for url in requests) == 2, requests
    finally:
        context.close()


DAMAGE_CACHED_MODEL = """async (path) => {
    const cache = await caches.open("cutout-models");
    const key = (await cache.keys()).find((request) => new URL(request.url).pathname === path);
    const bytes = new Uint8Array(await (await cache.match(key)).arrayBuffer());
    bytes[bytes.length >> 1] ^= 0xff;          // one weight byte: the model still opens
    await cache.put(key, new Response(bytes));
    return bytes.length;
}"""


def test_a_damaged_copy_on_this_device_is_found_and_downloaded_again(open_app, tmp_path):
    """The kept model is checked on every visit while it opens: a copy damaged on this
    device (one byte flipped, same size, so ONNX Runtime opens it) is dropped on the
    next visit, downloaded again, and the photo comes out as the command line's."""
    app = open_app()
    app.wait_ready()
    assert model_downloads(app) == 1, app.urls()
    assert app.page.evaluate(DAMAGE_CACHED_MODEL, MODEL_PATH) == get_spec(DEFAULT_MODELS["wasm"]).bytes
    app.page.reload()
    app.wait_ready()
    assert model_downloads(app) == 2, "the damaged copy was used, not downloaded again"
    path = photos.save(tmp_path / "cat.png", "cat")
    assert_same_cutout(app.cutout(path, tmp_path / "download.png"), native_cutout(path, tmp_path))


OPEN_EARLY_THEN_ASK = """async ([early, asked, side]) => {
    // As the page does: start the inference worker and have it open a model at once...
    const name = "cutout-inference-test-" + Math.random();
    const worker = new Worker("static/inference-worker.js", {type: "module", name});
    const opened = await new Promise((resolve) => {
        worker.onmessage = ({data}) => { if (data.ok !== undefined) resolve(data); };
        worker.postMessage({id: "early", op: "open", args: [...early, "wasm"]});
    });
    // ...then, as the Pyodide worker does, reach it by name and ask for a model.
    const bridge = await import(new URL("static/ort-bridge.js", location.href).href);
    bridge.useInferenceWorker(name);
    const handle = await bridge.openModel(...asked, () => {}, "wasm");
    const input = new Float32Array(3 * side * side).fill(0.25);
    const ran = async (session) => bridge.run(session, "input", "output", input, [1, 3, side, side])
        .then(() => "ran", (error) => error.message);
    return {early: opened.result.session, asked: handle.session, earlyRuns: await ran(opened.result),
            askedRuns: await ran(handle)};
}"""


def probe_file(site, name):
    data = (site / "models" / "probe" / name).read_bytes()
    return [f"models/probe/{name}", len(data), hashlib.sha256(data).hexdigest()]


def test_the_model_opened_early_is_taken_over_and_another_one_frees_it(browser, server_url, site):
    """The inference worker opens the page's early model while Python starts: asked for the
    same file, the worker's bridge gets that very session (not a second one); asked for
    another file, it gets a new session and the early one, which nobody will use, is closed."""
    side = round(((site / "models" / "probe" / "probe-input.bin").stat().st_size / 4 / 3) ** 0.5)
    model = probe_file(site, "probe-float32.onnx")
    spec = get_spec(DEFAULT_MODELS["wasm"])
    context = browser.new_context()
    try:
        results = []
        for asked in (model, [f"models/{spec.file}", spec.bytes, spec.sha256]):
            page = context.new_page()       # a page of its own: its own bridge
            page.goto(server_url + "licenses.txt")
            results.append(page.evaluate(OPEN_EARLY_THEN_ASK, [model, asked, side]))
        same, other = results
    finally:
        context.close()
    assert same == {"early": same["asked"], "asked": same["asked"], "earlyRuns": "ran", "askedRuns": "ran"}, same
    assert other["asked"] != other["early"], other
    assert other["earlyRuns"] == "the model was closed", other
