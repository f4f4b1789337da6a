"""Playwright driving Debian's Chromium, for the browser tests only.

Package-scoped: Playwright's sync API keeps an asyncio event loop running while it
is open, so it is closed when tests/browser ends, before anything else that needs
`asyncio.run` (the unit tests, the command line).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS


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
