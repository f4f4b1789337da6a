"""Where things are: the checkout, dist/, the caches and venvs, Debian's Chromium.

Imports only the standard library.
"""

from __future__ import annotations

from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
CACHE = ROOT / ".cache"  # gitignored: verified wheels and models, the staging dir, a lock
VENV = ROOT / ".venv"  # the project (editable) and its tests and benchmarks (pyproject.toml)
BUILD_VENV = CACHE / "build-venv"  # model preparation (pyproject.toml's `build` group)
PYPROJECT = ROOT / "pyproject.toml"  # the one source of Python dependencies
CONSTRAINTS = ROOT / "constraints.txt"  # their pinned dependencies (the lock)
CHROMIUM = Path("/usr/bin/chromium")
NPM_STAMP_NAME = ".cutout-package-lock.sha256"  # in node_modules: hash of the lock it came from
