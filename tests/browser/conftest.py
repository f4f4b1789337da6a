"""Playwright driving Debian's Chromium, and the fixtures every browser test builds on.

Every test gets its own browser context (a fresh profile), so each test sets up
what it needs and passes alone or in any order (`build.py test` shuffles them).
A failing test leaves a screenshot and the page's console in test-artifacts/.

Package-scoped Playwright: its sync API keeps an asyncio event loop running while
it is open, so it is closed when tests/browser ends.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.app_page import AppPage
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import save_artifacts
from tests import photos


@pytest.fixture(scope="package")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `python3 build.py test` installs Debian's chromium")
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def open_app(browser, server_url, request):
    """open_app(query="", viewport=..., setup=None): the app in a fresh context, not
    waited for; closed after the test (with a screenshot and console log on failure)."""
    opened: list[AppPage] = []

    def open_(query: str = "", **kwargs) -> AppPage:
        page = AppPage(browser, server_url, query, **kwargs)
        opened.append(page)
        return page

    yield open_
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for index, page in enumerate(opened):
        if failed:
            folder = save_artifacts()
            try:
                page.page.screenshot(path=str(folder / f"page-{index}.png"), full_page=True)
            except Exception as exc:  # the page may be gone: the log still helps
                page.console.append(f"[screenshot failed] {exc}")
            try:
                status_lines = page.status_log()
            except Exception as exc:
                status_lines = [f"(not available: {exc})"]
            (folder / f"console-{index}.txt").write_text(
                "\n".join(page.console) + "\n\nstatus lines:\n" + "\n".join(status_lines)
            )
        page.close()


@pytest.fixture
def app(open_app) -> AppPage:
    """The app in a fresh context with the engine and default model ready."""
    page = open_app()
    page.wait_ready()
    return page


@pytest.fixture
def first_cutout(app, tmp_path):
    """A photo's cutout already on screen and downloadable (a precondition of tests
    about what happens next): the cat, 451×300. Returns (app, its download)."""
    path = photos.save(tmp_path / "cat.png", "cat")
    image = app.cutout(path, tmp_path / "cat-download.png")
    assert app.details.startswith("cat.png · "), app.details
    return app, image
