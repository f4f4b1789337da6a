"""A seller's batch in the real page: N camera-size photos dropped at once, cut out one by
one, then "Download all (ZIP)". Prints one table: time per photo, how the page's estimate
of the time left compared with the truth, and the browser's peak memory over the first
and the last photos of the batch (bounded memory means the two are alike however long the
queue), and what the ZIP cost.

    .venv/bin/python bench/batch.py [--photos 16] [--megapixels 12]

Imports: Playwright, Pillow, `bench.chromium`.
"""
from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from chromium import TreeMemory, build_site, camera_photos, chromium_version, launch, serving
from devset import DEFAULT_DEVSET

JOBS_JS = "[...document.querySelectorAll('#jobs li')].map(item => item.dataset.state)"


def parse_seconds(summary: str):
    """'2 of 16 done · about 3 min 10 s left' -> 190.0, else None."""
    match = re.search(r"about (?:(\d+) h )?(?:(\d+) min ?)?(?:(\d+) s)? left", summary)
    if not match:
        return None
    hours, minutes, seconds = (int(part) if part else 0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--megapixels", type=float, default=12)
    args = parser.parse_args()
    sources = sorted(Path(DEFAULT_DEVSET).glob("*/*.jpg"))[: args.photos]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        photos = []
        for index in range(args.photos):
            source = sources[index % len(sources)]
            path = camera_photos(folder, source, [args.megapixels])[args.megapixels]
            photos.append(path.rename(folder / f"{index:03d}-{path.name}"))
        site = build_site()
        with serving(site) as url, sync_playwright() as playwright, TreeMemory() as memory:
            profile = folder / "profile"
            memory.watch("page", profile)
            context = launch(playwright, profile)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(url)
            page.wait_for_function("document.querySelector('#engine').textContent.length > 0", timeout=300_000)
            started = time.monotonic()
            page.set_input_files("#file-input", [str(path) for path in photos])
            finished_at: dict[int, float] = {}
            estimates = []                      # (time, the page's estimate of the time left)
            while len(finished_at) < args.photos:
                states = page.evaluate(JOBS_JS)
                now = time.monotonic()
                for index, state in enumerate(states):
                    if state in ("done", "failed") and index not in finished_at:
                        finished_at[index] = now
                left = parse_seconds(page.locator("#queue-summary").text_content() or "")
                if left is not None:
                    estimates.append((now, left))
                time.sleep(0.25)
            ended = time.monotonic()
            failed = page.evaluate(JOBS_JS).count("failed")
            times = sorted(finished_at.values())
            per_photo = [b - a for a, b in zip([started] + times[:-1], times)]
            quarter = max(1, args.photos // 4)
            first = memory.peak("page", started, times[quarter - 1])
            last = memory.peak("page", times[-quarter - 1], ended)
            # The estimate made right after the first photo, against the real time left then.
            after_first = [(at, left) for at, left in estimates if at >= times[0]]
            estimate_error = None
            if after_first:
                at, left = after_first[0]
                estimate_error = left / max(ended - at, 1e-6)
            zip_started = time.monotonic()
            with page.expect_download(timeout=1_200_000) as download:
                page.get_by_role("button", name="Download all (ZIP)").click()
            zip_path = folder / "cutouts.zip"
            download.value.save_as(zip_path)
            zip_ended = time.monotonic()
            zip_memory = memory.peak("page", zip_started, zip_ended)
            entries = len(zipfile.ZipFile(zip_path).namelist())
            zip_bytes = zip_path.stat().st_size
            context.close()
    mb = 1 / 1e6
    print(f"Batch of {args.photos} photos at {args.megapixels:g} MP, {chromium_version()}, one run")
    print(f"  photos done / failed                 {args.photos - failed} / {failed}")
    print(f"  total, seconds                       {ended - started:8.1f}")
    print(f"  per photo, median (first, last)      {statistics.median(per_photo):8.1f}"
          f"   ({per_photo[0]:.1f}, {per_photo[-1]:.1f})")
    if estimate_error is not None:
        print(f"  estimate after photo 1 / real left   {estimate_error:8.2f}")
    print(f"  peak PSS, first {quarter} photos, MB        {first['pss'] * mb:8.0f}")
    print(f"  peak PSS, last {quarter} photos, MB         {last['pss'] * mb:8.0f}   ratio {last['pss'] / first['pss']:.2f}")
    print(f"  Download all: seconds, entries       {zip_ended - zip_started:8.1f}   {entries}")
    print(f"  Download all: peak PSS, MB           {zip_memory['pss'] * mb:8.0f}   ZIP {zip_bytes * mb:.0f} MB")


if __name__ == "__main__":
    main()
