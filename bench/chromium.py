"""Shared helpers for the browser benchmarks: Debian's Chromium, the site server, photos at
camera sizes, memory of a browser's process tree, and medians.

- `launch(playwright, profile)`: Debian's Chromium (never a downloaded one) with the tests'
  flags, in a persistent context on `profile` (a fresh directory is a first visit; the same
  directory again is a repeat visit with the browser's caches on disk).
- `serving(directory)` and `build_site()`: `builder`'s site server (the cross-origin
  isolation headers the app is served with) and build.
- `camera_photos(folder, source, megapixels)`: one devset photo enlarged (Lanczos, as
  `photoscale` does) to each size and saved as JPEG, so large-photo paths really run.
- `TreeMemory`: samples the summed resident set (and proportional set) of every process in
  each launched browser's process tree, four times a second, so peaks over any time window
  can be read afterwards.

Imports: Pillow, the repository's `builder`, `tests.conftest` for the flags.
"""
from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

from PIL import Image

import photoscale
from devset import REPO  # noqa: F401  (puts the repository on sys.path)

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from builder import serve as _serve, site as _site  # noqa: E402


def serving(directory: Path, csp: bool = True):
    """`with serving(dist) as url:` the directory served cross-origin isolated (and with the
    app's Content-Security-Policy unless `csp` is false: a page that is not the app)."""
    return _serve.serving(directory, csp=csp)


def build_site() -> Path:
    """dist/ built from the current tree (about a second when nothing changed)."""
    return Path(_site.build())


def launch(playwright, profile: Path, viewport=(1200, 900), service_workers: str = "allow"):
    """Debian's Chromium on `profile` (created if missing) as a persistent context;
    `service_workers="block"` keeps pages from registering one."""
    profile.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, accept_downloads=True,
        viewport={"width": viewport[0], "height": viewport[1]}, service_workers=service_workers,
    )


def chromium_version() -> str:
    import subprocess

    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def camera_photos(folder: Path, source: Path, megapixels: list[float], quality: int = 92) -> dict[float, Path]:
    """`source` enlarged to about each of `megapixels` (same aspect ratio), saved as JPEG."""
    photo = Image.open(source).convert("RGB")
    paths = {}
    for mp in megapixels:
        size = photoscale.camera_size(photo.size, mp)
        path = folder / f"{source.stem}-{mp:g}mp.jpg"
        photo.resize(size, photoscale.RESAMPLE).save(path, quality=quality)
        paths[mp] = path
    return paths


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


# -- memory ---------------------------------------------------------------------------
def process_table() -> dict[int, tuple[int, bytes]]:
    """{pid: (parent pid, command line)} of every process we can read."""
    table = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            parent = int(stat[stat.rindex(")") + 2:].split()[1])
            table[int(proc.name)] = (parent, (proc / "cmdline").read_bytes())
        except (OSError, ValueError):
            continue
    return table


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of `pid` in bytes; (0, 0) if it is gone."""
    try:
        rss = pss = 0
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
        return rss, pss
    except (OSError, ValueError):
        return 0, 0


def tree_pids(marker: bytes, table: dict[int, tuple[int, bytes]]) -> list[int]:
    """The process whose command line holds `marker` (and whose parent's does not),
    with all its descendants."""
    roots = [pid for pid, (parent, cmd) in table.items()
             if marker in cmd and not (parent in table and marker in table[parent][1])]
    return descendants(roots, table)


def descendants(roots: list[int], table: dict[int, tuple[int, bytes]]) -> list[int]:
    """`roots` and every process below them in `table` (`process_table()`)."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _cmd) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = [], list(roots)
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


class Sampler:
    """Calls `sample()` every `interval` seconds in a background thread, from entering the
    `with` block to leaving it."""

    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class TreeMemory(Sampler):
    """Samples each watched browser's process tree (found by its --user-data-dir) in a
    background thread; `peak(name, start, end)` is the highest summed RSS and PSS seen
    between two `time.monotonic()` instants."""

    def __init__(self, interval: float = 0.25):
        super().__init__(interval)
        self.watched: dict[str, bytes] = {}
        self.samples: dict[str, list[tuple[float, int, int, int]]] = {}   # (time, rss, pss, processes)

    def watch(self, name: str, profile: Path):
        self.watched[name] = f"--user-data-dir={profile}".encode()
        self.samples.setdefault(name, [])

    def sample(self):
        table = process_table()
        now = time.monotonic()
        for name, marker in list(self.watched.items()):
            pids = tree_pids(marker, table)
            if pids:
                usage = [_memory(pid) for pid in pids]
                self.samples[name].append((now, sum(u[0] for u in usage), sum(u[1] for u in usage), len(pids)))

    def peak(self, name: str, start: float, end: float) -> dict:
        window = [s for s in self.samples.get(name, ()) if start <= s[0] <= end]
        if not window:
            return {"rss": None, "pss": None, "processes": None}
        return {"rss": max(s[1] for s in window), "pss": max(s[2] for s in window),
                "processes": max(s[3] for s in window)}
