"""Python virtual environments the project makes for itself from pyproject.toml: .venv (the
project itself, editable, with its `test` group: tests, benchmarks, the `cutout` command) and
the build's own venv (its `build` group: model preparation, icons). Every install is held to
constraints.txt; pip runs only when what a venv should hold changed.

Imports builder.files, builder.paths, builder.shell and the standard library.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from builder.files import sha256_bytes
from builder.paths import CONSTRAINTS, PYPROJECT, ROOT
from builder.shell import apt_install, run

STAMP_NAME = ".cutout-requirements.sha256"  # in each venv: what it was installed from


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def group(name: str) -> list[str]:
    """The requirements of pyproject.toml's dependency group `name` (PEP 735)."""
    return list(pyproject()["dependency-groups"][name])


def project_dependencies() -> list[str]:
    return list(pyproject()["project"]["dependencies"])


def requirements_key(name: str) -> bytes:
    """What a venv made from group `name` holds, as bytes: for keys of caches whose content
    depends on those versions (the prepared models' probe, the icons)."""
    return json.dumps([group(name), CONSTRAINTS.read_text()]).encode()


def has_venv_support() -> bool:
    """Whether this python3 can make a venv with pip (Debian's needs python3-venv)."""
    return subprocess.call([sys.executable, "-c", "import ensurepip, venv"], stderr=subprocess.DEVNULL) == 0


def create(venv: Path) -> Path:
    """`venv` made if missing (installing Debian's python3-venv first if needed); its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        if not has_venv_support():
            apt_install("python3-venv")
        run([sys.executable, "-m", "venv", str(venv)])
    return python


def ensure(venv: Path, group_name: str, with_project: bool = False) -> Path:
    """`venv` with dependency group `group_name` installed, and this project too (editable,
    with its dependencies and console commands) if `with_project`; returns its python."""
    python = create(venv)
    requirements = group(group_name)
    stamp = venv / STAMP_NAME
    wanted = sha256_bytes(json.dumps([
        requirements, project_dependencies() if with_project else None,
        pyproject()["project"].get("scripts") if with_project else None,
        CONSTRAINTS.read_text(), str(python.resolve()),
    ]).encode())
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    project = ["--editable", str(ROOT)] if with_project else []
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check",
         "--constraint", str(CONSTRAINTS), *project, *requirements])
    stamp.write_text(wanted + "\n")
    return python
