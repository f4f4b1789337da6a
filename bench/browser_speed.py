"""Speed of the real app in Debian's Chromium: prints a table.

    .venv/bin/python bench/browser_speed.py [--models isnet-uint8,isnet-fp16] [--repeat 2]

For each model, in one run (machines are noisy: compare ratios within a run):
cold start in a fresh browser profile (page interactive, engine + model ready,
first cutout), then warm per-image times for a ~1 MP and a ~12 MP photo split
by stage, how long the main (UI) thread was blocked while a photo was processed
(sum and longest of its tasks over 50 ms), and the
browser's peak memory (resident set of all its processes). Native onnxruntime
on the same photos is printed for reference. Photos are made from
../shared/devset at run time.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from devset import DEFAULT_DEVSET  # noqa: E402  (the benchmarks' own devset path, not the tests')
from builder import serve, site  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SOURCE = DEFAULT_DEVSET / "fur_soft" / "am_GT05.jpg"
SIZES = {"1 MP": (1224, 816), "12 MP": (4240, 2832)}
STAGES = ("decode", "preprocess", "inference", "postprocess", "transfer", "encode", "total")


def make_photos(folder: Path) -> dict[str, Path]:
    photos = {}
    for label, size in SIZES.items():
        path = folder / f"photo-{label.replace(' ', '')}.jpg"
        Image.open(SOURCE).convert("RGB").resize(size, Image.Resampling.LANCZOS).save(path, quality=92)
        photos[label] = path
    return photos


class MemorySampler:
    """Peak summed RSS of the processes whose command line mentions `marker`."""

    def __init__(self, marker: str):
        self.marker = marker
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss_now(self) -> int:
        total = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if self.marker.encode() not in (proc / "cmdline").read_bytes():
                    continue
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss_now())
            time.sleep(0.25)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def measure_model(playwright, url: str, model: str, photos: dict[str, Path], repeat: int, work: Path) -> dict:
    from tests.browser.app_page import AppPage

    profile = Path(tempfile.mkdtemp(prefix="cutout-profile-", dir=work))
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
        accept_downloads=True, viewport={"width": 1200, "height": 900},
    )
    row: dict = {"model": model}
    with MemorySampler(str(profile)) as memory:
        started = time.monotonic()
        app = AppPage.in_context(context, url + f"?model={model}")
        app.page.wait_for_function("!document.querySelector('#drop-zone').classList.contains('booting')",
                                   timeout=120_000)
        row["interactive"] = time.monotonic() - started
        app.wait_ready()
        row["ready"] = time.monotonic() - started
        app.cutout(photos["1 MP"], work / "first.png")
        row["first cutout"] = time.monotonic() - started
        for label, path in photos.items():
            runs = []
            for index in range(repeat):
                tasks_before = len(app.long_tasks())
                app.cutout(path, work / f"{model}-{index}.png")
                timings = app.timings()
                blocked = [task["duration"] / 1000 for task in app.long_tasks()[tasks_before:]]
                timings["UI blocked (sum)"] = sum(blocked)
                timings["UI blocked (longest)"] = max(blocked, default=0.0)
                runs.append(timings)
            row[label] = {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[0]}
    row["peak memory"] = memory.peak
    context.close()
    return row


def native_row(model: str, photos: dict[str, Path]) -> dict:
    import asyncio

    from app.core import pipeline
    from app.core.spec import get_spec
    from app.runtime.ort_native import DEFAULT_MODEL_DIR, NativeSession

    spec = get_spec(model)
    session = NativeSession.from_dir(DEFAULT_MODEL_DIR, spec)
    row = {"model": model + " (native)"}
    for label, path in photos.items():
        cutout = asyncio.run(pipeline.remove_background(path.read_bytes(), session, spec))
        pipeline.encode(cutout)
        cutout.timings["total"] = sum(cutout.timings.values())
        row[label] = cutout.timings
    return row


def print_table(rows: list[dict]) -> None:
    print("\nCold start (fresh profile), seconds since navigation")
    print(f"{'model':<28}{'interactive':>12}{'model ready':>13}{'first cutout':>14}{'peak memory':>14}")
    for row in rows:
        if "ready" in row:
            print(f"{row['model']:<28}{row['interactive']:>12.1f}{row['ready']:>13.1f}"
                  f"{row['first cutout']:>14.1f}{row['peak memory'] / 2**20:>11.0f} MB")
    for label in SIZES:
        print(f"\nWarm, {label} photo, seconds per stage (median)")
        columns = STAGES + ("UI blocked (sum)", "UI blocked (longest)")
        print(f"{'model':<28}" + "".join(f"{name.replace('UI blocked ', 'UI ')[:12]:>13}" for name in columns))
        for row in rows:
            cells = row[label]
            print(f"{row['model']:<28}" + "".join(
                f"{cells[name]:>13.2f}" if name in cells else f"{'-':>13}" for name in columns))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="isnet-uint8,isnet-fp16")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    dist = site.build()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = make_photos(work)
        with serve.serving(dist) as url, sync_playwright() as playwright:
            for model in args.models.split(","):
                rows.append(measure_model(playwright, url, model, photos, args.repeat, work))
                print(f"measured {model} in the browser", file=sys.stderr, flush=True)
        # After Playwright has closed: its event loop would refuse asyncio.run.
        for model in args.models.split(","):
            rows.append(native_row(model, photos))
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
