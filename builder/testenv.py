"""`build.py test`: Debian packages, .venv, a build, then the pytest runs.

Imports builder.* and the standard library.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from builder.files import BuildError, log
from builder import venvs
from builder.paths import CHROMIUM, ROOT, VENV
from builder.shell import apt_install
from builder.site import build


def missing_debian_packages(browser: bool = True) -> list[str]:
    """Debian packages `test` needs that are not installed (checked by what they provide);
    chromium only for the browser tests."""
    missing = []
    if not (VENV / "bin" / "python").exists() and not venvs.has_venv_support():
        missing.append("python3-venv")  # Debian's python3 has venv without ensurepip
    if shutil.which("npm") is None:
        missing.append("npm")
    if browser and not CHROMIUM.exists():
        missing.append("chromium")
    return missing


def test(pytest_args: list[str], use_cdn: bool) -> int:
    """Everything the suite needs, then each pytest run in turn; returns the worst exit code."""
    runs = pytest_runs(pytest_args)
    browser = any(runs_browser_tests(arguments) for arguments in runs)
    missing = missing_debian_packages(browser)
    if missing:
        apt_install(*missing)
    if browser and not CHROMIUM.exists():
        raise BuildError(f"{CHROMIUM} is still missing after installing Debian's chromium")
    python = venvs.ensure(VENV, "test", with_project=True)
    dist = build(ROOT, use_cdn)
    worst = 0
    for arguments in runs:
        command = [str(python), "-m", "pytest", *arguments]
        log("$ " + " ".join(command[2:]))
        # The tests' `site` fixture uses this build instead of building again.
        code = subprocess.call(command, cwd=ROOT, env={**os.environ, BUILT_SITE_ENV: str(dist)})
        worst = max(worst, code)
    return worst


# The fast CPython tier first, so a broken core fails in seconds, then the command line end
# to end (real processes, Dask clusters), then the browser; each in its own pytest run
# (Playwright's event loop stays out of the others).
DEFAULT_TEST_PATHS = ("tests/unit", "tests/cli", "tests/browser")
BROWSER_TESTS = ROOT / "tests" / "browser"
BUILT_SITE_ENV = "CUTOUT_BUILT_SITE"      # set by `test`: dist/ is already built
# Every test must stand alone, so every run is shuffled (pytest-random-order prints the
# seed; `--random-order-seed=N` repeats an order, `-p no:random_order` turns it off).
SHUFFLE = ("--random-order-bucket=global",)


def pytest_runs(pytest_args: list[str]) -> list[list[str]]:
    """The pytest runs of `build.py test`: one per default test path unless the caller
    named paths (then one run of those), each shuffled unless the caller chose an order."""
    chose_order = any(arg.startswith("--random-order") or arg in ("no:random_order", "-pno:random_order")
                      for arg in pytest_args)
    shuffle = [] if chose_order else list(SHUFFLE)
    if names_test_paths(pytest_args):
        return [[*pytest_args, *shuffle]]
    return [[path, *pytest_args, *shuffle] for path in DEFAULT_TEST_PATHS]


def runs_browser_tests(arguments: list[str]) -> bool:
    """Whether pytest `arguments` (as from `pytest_command_args`) include tests/browser."""
    for arg in arguments:
        if arg.startswith("-"):
            continue
        path = (ROOT / arg.split("::")[0]).resolve()
        if path == BROWSER_TESTS or BROWSER_TESTS in path.parents or path in BROWSER_TESTS.parents:
            return True
    return False


def names_test_paths(pytest_args: list[str]) -> bool:
    """Whether the caller named test paths (files, folders, node ids) for pytest."""
    return any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in pytest_args)


def pytest_command_args(pytest_args: list[str]) -> list[str]:
    """pytest's arguments: the default test paths unless the caller named some."""
    return list(pytest_args) if names_test_paths(pytest_args) else [*DEFAULT_TEST_PATHS, *pytest_args]
