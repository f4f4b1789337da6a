"""A copy of the built site that a test may change (a bad upload, a deploy, a wrong
probe), made of hard links so that it costs nothing.

Never write into a linked file: that would change the build itself. `replace` unlinks
the file first.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def linked_copy(site: Path, target: Path) -> Path:
    shutil.copytree(site, target, copy_function=os.link)
    return target


def replace(path: Path, data: bytes | str) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
