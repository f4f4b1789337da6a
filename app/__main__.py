"""Command line: cut out every photo given (files or folders) with native onnxruntime.

    python -m app PHOTO_OR_FOLDER... --out DIR [--model isnet-fp16]

Writes `<stem>-cutout.png` per photo into DIR. Uses the same `app.core` code as
the page, so its results are the reference the browser is tested against.
Imports: `app.core`, `app.runtime.ort_native`.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from app.core import pipeline
from app.core.errors import InputError, ModelError
from app.core.spec import DEFAULT_MODEL, get_spec, load_specs
from app.runtime.ort_native import DEFAULT_MODEL_DIR, NativeSession

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def find_photos(paths: list[Path]) -> list[Path]:
    """The given files, plus the photos inside given folders (sorted, not recursive)."""
    photos = []
    for path in paths:
        if path.is_dir():
            photos += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
        else:
            photos.append(path)
    return photos


def output_name(photo: Path) -> str:
    return f"{photo.stem}-cutout.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path, help="photo files or folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for the cutouts")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(load_specs()))
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--threads", type=int, default=None, help="inference threads")
    args = parser.parse_args(argv)

    spec = get_spec(args.model)
    try:
        session = NativeSession.from_dir(args.model_dir, spec, args.threads)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in find_photos(args.photos):
        started = time.perf_counter()
        try:
            cutout = asyncio.run(pipeline.remove_background(photo.read_bytes(), session, spec))
            png = pipeline.encode(cutout)
        except (InputError, OSError) as exc:
            failures += 1
            print(f"{photo}: skipped: {exc}", file=sys.stderr)
            continue
        target = args.out / output_name(photo)
        target.write_bytes(png)
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in cutout.timings.items())
        print(f"{photo} -> {target} ({time.perf_counter() - started:.1f}s: {stages})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
