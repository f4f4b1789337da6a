"""The npm packages: package.json agrees with the pins, node_modules comes from the lock.

Imports builder.files, builder.paths, builder.pins and the standard library.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from builder.files import BuildError, log, read_json, sha256_file
from builder.paths import NPM_STAMP_NAME, ROOT
from builder.pins import NPM_PACKAGES, NPM_TEST_PACKAGES


def check_package_json(package_json: Path, expected: dict[str, str] = NPM_PACKAGES) -> None:
    """package.json must pin exactly the versions in builder/pins.py."""
    deps = read_json(package_json).get("dependencies", {})
    problems = [
        f"{name}: builder/pins.py wants {version}, package.json has {deps.get(name, 'nothing')}"
        for name, version in expected.items()
        if deps.get(name) != version
    ]
    problems += [f"{name}: in package.json but not in builder/pins.py" for name in deps if name not in expected]
    if problems:
        raise BuildError(
            f"{package_json} disagrees with the versions in builder/pins.py:\n  "
            + "\n  ".join(problems)
            + "\nEdit both, then run `npm install --package-lock-only` and commit the lock."
        )


def check_test_packages(package_json: Path, expected: dict[str, str] = NPM_TEST_PACKAGES) -> None:
    """package.json's devDependencies must pin the tests' packages at the versions in
    builder/pins.py (its other devDependencies are bench/speed.py's, pinned only there)."""
    deps = read_json(package_json).get("devDependencies", {})
    problems = [
        f"{name}: builder/pins.py wants {version}, package.json's devDependencies have {deps.get(name, 'nothing')}"
        for name, version in expected.items()
        if deps.get(name) != version
    ]
    if problems:
        raise BuildError(
            f"{package_json} disagrees with the versions in builder/pins.py:\n  " + "\n  ".join(problems)
            + "\nEdit both, then run `npm install --package-lock-only` and commit the lock."
        )


def check_installed_versions(node_modules: Path, expected: dict[str, str] = NPM_PACKAGES) -> None:
    for name, version in expected.items():
        found = read_json(node_modules / name / "package.json").get("version")
        if found != version:
            raise BuildError(f"node_modules/{name} is version {found}, builder/pins.py wants {version}")


def ensure_node_modules(root: Path = ROOT) -> None:
    """Run `npm ci` when node_modules is missing or was installed from another lock."""
    lock = root / "package-lock.json"
    node_modules = root / "node_modules"
    stamp = node_modules / NPM_STAMP_NAME
    check_package_json(root / "package.json")
    check_test_packages(root / "package.json")
    everything = {**NPM_PACKAGES, **NPM_TEST_PACKAGES}
    if not lock.exists():
        raise BuildError(f"{lock} is missing; run `npm install --package-lock-only` and commit it")
    wanted = sha256_file(lock)
    if stamp.exists() and stamp.read_text().strip() == wanted:
        check_installed_versions(node_modules, everything)
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not installed (Node 20+ with npm is needed to fetch the vendored packages)")
    log("npm ci (node_modules is missing or stale)")
    command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
    if subprocess.call(command, cwd=root) != 0:
        raise BuildError("`npm ci` failed (see its output above)")
    check_installed_versions(node_modules, everything)
    stamp.write_text(wanted + "\n")
