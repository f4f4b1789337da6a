"""Obtaining a file with a known sha256 from the first source that delivers the right bytes.

A source has `.name` and `.fetch(filename) -> bytes` (raising SourceError); verified files
are kept in a cache directory.  Imports builder.files, builder.pins and the standard library.
"""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

from builder.files import BuildError, log, sha256_bytes, sha256_file, write_atomic
from builder.pins import WHEEL_CDN_TIMEOUT


class SourceError(Exception):
    """A wheel source could not deliver a file."""


class UrlSource:
    """A base URL; the whole request must start answering within `timeout` seconds."""

    def __init__(self, base_url: str, timeout: float = WHEEL_CDN_TIMEOUT, read_timeout: float = 120.0):
        self.name = base_url
        self.base_url = base_url
        self.timeout = timeout
        self.read_timeout = read_timeout

    def fetch(self, filename: str) -> bytes:
        # urlopen's timeout does not cover name resolution, so wait in a daemon thread.
        # The socket gets the long read timeout: the first answer is timed by the wait
        # below alone (the same timeout in both places made the reported reason a race).
        result: dict = {}
        answered = threading.Event()

        def run():
            try:
                with urllib.request.urlopen(self.base_url + filename, timeout=self.read_timeout) as response:
                    answered.set()
                    result["data"] = response.read()
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = e
            finally:
                answered.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        if not answered.wait(self.timeout):
            raise SourceError(f"no answer within {self.timeout:g} s")
        thread.join(self.read_timeout)
        if "error" in result:
            raise SourceError(f"{type(result['error']).__name__}: {result['error']}")
        if "data" not in result:
            raise SourceError(f"download not finished within {self.read_timeout:g} s")
        return result["data"]


def obtain_verified(filename: str, expected_sha256: str, cache_dir: Path, sources) -> Path:
    """Return cache_dir/filename with the expected sha256, fetching it if needed.

    The cache is tried first; then each source in order.  Bytes that do not hash to
    `expected_sha256` are refused and the next source is tried.  Raises BuildError naming
    the file, every source and why it failed, and the expected hash.
    """
    cached = cache_dir / filename
    failures = []
    if cached.exists():
        actual = sha256_file(cached)
        if actual == expected_sha256:
            return cached
        failures.append(f"cache {cached}: sha256 {actual} (removed)")
        cached.unlink()
    else:
        failures.append(f"cache {cached}: not there")
    for source in sources:
        try:
            data = source.fetch(filename)
        except SourceError as e:
            failures.append(f"{source.name}: {e}")
            log(f"{filename}: {failures[-1]}; trying the next source")
            continue
        actual = sha256_bytes(data)
        if actual != expected_sha256:
            failures.append(f"{source.name}: got {len(data)} bytes with sha256 {actual}")
            log(f"{filename}: refused, {failures[-1]}")
            continue
        write_atomic(cached, data)
        log(f"{filename}: verified, from {source.name}")
        return cached
    raise BuildError(
        f"could not obtain {filename} with sha256 {expected_sha256}. Tried:\n  "
        + "\n  ".join(failures)
    )
