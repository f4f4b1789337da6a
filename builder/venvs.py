"""Python virtual environments the project makes for itself: .venv (tests, the CLI) and the
build's own venv (model preparation); pip runs only when a requirements file changed.

Imports builder.files, builder.shell and the standard library.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builder.files import sha256_bytes
from builder.shell import apt_install, run

STAMP_NAME = ".cutout-requirements.sha256"  # in each venv: what it was installed from


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


def ensure(venv: Path, requirements: Path) -> Path:
    """`venv` with `requirements` installed; returns its python."""
    python = create(venv)
    stamp = venv / STAMP_NAME
    wanted = sha256_bytes(requirements.read_bytes() + str(python.resolve()).encode())
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(requirements)])
    stamp.write_text(wanted + "\n")
    return python
