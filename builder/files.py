"""The build's error type, its log line, hashing and small file helpers.

Imports only the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path


class BuildError(Exception):
    """A build step failed; the message says what, where, and what was expected."""


def log(message: str) -> None:
    print(f"build.py: {message}", flush=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_key(path: Path) -> tuple:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_file(path: Path) -> str:
    """sha256 of a file, always read from disk (what verification uses)."""
    key = _file_key(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


def sha256_file_listed(path: Path) -> str:
    """sha256 for build-info.json: reuses a hash read earlier in this run for the same inode.

    Big artifacts are hard links to files just verified in .cache/, so they are not read
    twice.  Verification itself never uses this.
    """
    return _HASHED.get(_file_key(path)) or sha256_file(path)


_HASHED: dict[tuple, str] = {}


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def link_or_copy(src: Path, dst: Path) -> None:
    """Place a big read-only artifact: a hard link when possible (instant), else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def copy_file(src: Path, dst: Path) -> None:
    """Copy a source file the project edits (never a link: editing dist must not edit src)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"{path} is missing") from None
    except json.JSONDecodeError as e:
        raise BuildError(f"{path} is not valid JSON: {e}") from None
