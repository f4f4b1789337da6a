"""Running commands: logged subprocesses, root via sudo, Debian packages via apt-get.

Imports builder.files and the standard library.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from builder.files import BuildError, log


def run(command: list[str], **kwargs) -> None:
    log("$ " + " ".join(command))
    if subprocess.call(command, **kwargs) != 0:
        raise BuildError(f"command failed: {' '.join(command)}")


def as_root(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return command
    if shutil.which("sudo"):
        return ["sudo", *command]
    raise BuildError(f"need root for: {' '.join(command)}")


def apt_install(*packages: str) -> None:
    if shutil.which("apt-get") is None:
        raise BuildError(f"apt-get not found; install {' '.join(packages)} by hand")
    noninteractive = ["env", "DEBIAN_FRONTEND=noninteractive"]  # survives sudo
    run(as_root([*noninteractive, "apt-get", "update"]))
    run(as_root([*noninteractive, "apt-get", "install", "-y", *packages]))
