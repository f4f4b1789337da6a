"""A static host that cannot send the cross-origin isolation headers: no
SharedArrayBuffer, so no WebAssembly threads. The app must still work,
single-threaded, and say why it is slower.
"""
from __future__ import annotations

import pytest

from tests import photos
from tests.browser.app_page import AppPage
from tests.browser.reference import assert_same_cutout, native_cutout
from builder.serve import serving

pytestmark = pytest.mark.browser


@pytest.fixture
def plain_url(site):
    """The site served with the right MIME types but no isolation headers."""
    with serving(site, isolated=False) as url:
        yield url


def test_without_isolation_the_app_works_single_threaded(browser, plain_url, tmp_path):
    """Not cross-origin isolated: the engine says it runs one thread and why, and a
    photo is still cut out (the command line's cutout), with every request on the origin."""
    app = AppPage(browser, plain_url)
    try:
        app.wait_ready()
        assert app.page.evaluate("crossOriginIsolated") is False
        assert "WebAssembly, 1 thread (single-threaded: this page is not cross-origin isolated)." in app.engine
        path = photos.save(tmp_path / "coffee.png", "coffee")
        cutout = app.cutout(path, tmp_path / "cutout.png")
        assert_same_cutout(cutout, native_cutout(path, tmp_path))
        assert app.foreign_requests() == []
    finally:
        app.close()


def test_on_such_a_host_the_service_worker_isolates_the_app(browser, plain_url):
    """Once the service worker runs, it adds the isolation headers itself: from the next
    load on, the page is cross-origin isolated and ONNX Runtime gets its threads."""
    app = AppPage(browser, plain_url)
    try:
        app.wait_ready()
        assert app.page.evaluate("crossOriginIsolated") is False
        app.page.wait_for_selector("#offline[data-state=ready]")
        app.page.reload()
        app.wait_ready()
        assert app.page.evaluate("crossOriginIsolated") is True
        assert f"{app.expected_threads()} thread" in app.engine and "single-threaded" not in app.engine
    finally:
        app.close()
