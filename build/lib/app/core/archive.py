"""A ZIP archive written as it goes, for "Download all": each photo's file is added and
its bytes handed out at once, so the worker never holds more than one photo's file.

The standard library's `zipfile` writes to a sink that cannot seek (sizes go in data
descriptors after each file); the caller appends each returned piece to a Blob.
Images are stored as they are: PNG, WebP and JPEG are compressed already.
Imports: standard library only.

    >>> archive = ZipStream()
    >>> pieces = [archive.add("cat-cutout.png", png), archive.add("report.txt", b"...")]
    >>> pieces.append(archive.close())          # b"".join(pieces) is the whole ZIP
"""
from __future__ import annotations

import io
import zipfile


class _Sink(io.RawIOBase):
    """Collects what zipfile writes until `take`; counts it for `tell` and never seeks."""

    def __init__(self):
        self._pieces: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pieces.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        data, self._pieces = b"".join(self._pieces), []
        return data


class ZipStream:
    def __init__(self):
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_STORED)
        self._names: set[str] = set()

    def add(self, name: str, data: bytes) -> bytes:
        """Add `data` as `name` (made unique: `cat-cutout (2).png`); returns the bytes to append."""
        self._zip.writestr(self._unique(name), data)
        return self._sink.take()

    def close(self) -> bytes:
        """The archive's end (its central directory); returns the last bytes to append."""
        self._zip.close()
        return self._sink.take()

    def _unique(self, name: str) -> str:
        stem, dot, extension = name.rpartition(".")
        if not dot:
            stem, extension = name, ""
        candidate, number = name, 1
        while candidate.lower() in self._names:
            number += 1
            candidate = f"{stem} ({number}){dot}{extension}"
        self._names.add(candidate.lower())
        return candidate
