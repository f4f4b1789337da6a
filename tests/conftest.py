"""Shared fixtures: repository paths, the built site served cross-origin
isolated, and Debian's Chromium driven by Playwright (never a downloaded browser).

The browser fixtures live in tests/browser/conftest.py.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from .helpers import ARTIFACTS_DIR as ARTIFACTS, REPO_ROOT as ROOT

# Flags this machine needs: no sandbox as root, and no background traffic into
# the closed network (it would be refused, many times over).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from builder import paths, serve, site as site_builder, testenv  # noqa: E402  (needs ROOT on sys.path)

CHROMIUM = str(paths.CHROMIUM)      # Debian's, where `build.py test` installs it


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs the real app in Chromium (slow)")
    config.addinivalue_line("markers", "model: runs the real model under native onnxruntime")


@pytest.fixture(scope="session")
def site() -> Path:
    """The site built from the current tree: the one `build.py test` just built, else a
    build now (a cached build takes about a second)."""
    built = os.environ.get(testenv.BUILT_SITE_ENV)
    return Path(built) if built else site_builder.build()


@pytest.fixture(scope="session")
def server_url(site):
    with serve.serving(site) as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
