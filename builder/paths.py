"""Where things are: the checkout, dist/, the caches and venvs, Debian's Chromium.

Imports only the standard library.
"""

from __future__ import annotations

from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
CACHE = ROOT / ".cache"  # gitignored: verified wheels and models, the staging dir, a lock
VENV = ROOT / ".venv"  # tests, benchmarks and the CLI (requirements-dev.txt)
BUILD_VENV = CACHE / "build-venv"  # model preparation (requirements-build.txt)
REQUIREMENTS_DEV = ROOT / "requirements-dev.txt"
REQUIREMENTS_BUILD = ROOT / "requirements-build.txt"
CHROMIUM = Path("/usr/bin/chromium")
NPM_STAMP_NAME = ".cutout-package-lock.sha256"  # in node_modules: hash of the lock it came from
