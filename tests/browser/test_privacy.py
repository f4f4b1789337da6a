"""Privacy, checked on what really crossed the network: over a whole session every
request stays on the page's own origin, and none carries the user's photo.
"""
from __future__ import annotations

import pytest

from app.core.spec import DEFAULT_MODELS, get_spec
from tests import photos

pytestmark = pytest.mark.browser

# Files the page and its worker must have fetched: if these are missing from the
# log, the log is not seeing the worker and proves nothing.
EXPECTED_DOWNLOADS = (
    "/index.html",
    "/vendor/pyodide/pyodide.asm.wasm",
    "/vendor/pyodide/python_stdlib.zip",
    "/vendor/pyodide/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "/vendor/pyodide/pillow-10.2.0-cp312-cp312-pyodide_2024_0_wasm32.whl",
    "/vendor/micropython/micropython.wasm",
    "/vendor/ort/ort.wasm.min.mjs",
    "/vendor/ort/ort-wasm-simd-threaded.wasm",
    "/static/ort-bridge.js",
    "/static/inference-worker.js",
    "/app.zip",
    f"/models/{get_spec(DEFAULT_MODELS['wasm']).file}",
)


def test_nothing_leaves_the_origin_and_no_photo_is_sent(open_app, tmp_path):
    """Boot, a photo, its download, an edge-setting change, a reload, then the network cut
    and another reload and photo: the request log holds the page's, the worker's and the
    service worker's downloads (the model, the WebAssembly), every request goes to the
    origin, every one is a plain GET with no body, and the page's own privacy check agrees."""
    app = open_app()
    app.wait_ready()
    path = photos.save(tmp_path / "private-photo.png", "astronaut")
    app.cutout(path, tmp_path / "download.png")
    app.move_slider("Soften edge", 2)
    app.cutout_after_pick(tmp_path / "softened.png")
    app.page.reload()
    app.wait_ready()
    app.page.wait_for_selector("#offline[data-state=ready]")
    app.context.set_offline(True)
    app.page.reload()
    app.wait_ready()
    app.cutout(path, tmp_path / "offline.png")
    privacy = app.page.locator("#privacy")
    assert (privacy.get_attribute("data-elsewhere"), privacy.get_attribute("data-uploads")) == ("0", "0")

    seen = {url.split("?")[0][len(app.origin):] for url in app.urls() if url.startswith(app.origin)}
    if "/" in seen:
        seen.add("/index.html")
    missing = [path for path in EXPECTED_DOWNLOADS if path not in seen]
    assert not missing, f"the request log misses {missing}; it saw {sorted(seen)}"
    assert app.foreign_requests() == []
    sent = [(r.method, r.url) for r in app.requests if r.method != "GET" or r.post_data_buffer]
    assert sent == [], sent
    assert not any("private-photo" in url for url in app.urls())
