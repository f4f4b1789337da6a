"""The `cutout` command: cut out every photo given (files or folders) with native onnxruntime.

    cutout PHOTO_OR_FOLDER... --out DIR [--model isnet-fp16] [--downscale]
        [--no-colour-profile] [edge options]

Edge options are the fields of `app.core.options.Options`, e.g. `--no-decontaminate`,
`--keep-main-subject`, `--shift-edge -1.5`, `--feather 2`.

Writes `<stem>-cutout.png` per photo into DIR, with the photo's colour profile (unless
`--no-colour-profile`) and no other metadata; says how a photo was read when not quite as
the file has it (first frame of an animation, downscaled). A photo over the size limit
is skipped unless `--downscale`. Uses the same `app.core` code as
the page, so its results are the reference the browser is tested against.
Imports: `app.core`, `app.runtime.ort_native`.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from pathlib import Path

from app.core import pipeline
from app.core.errors import InputError, ModelError, TooLargeError
from app.core.options import Options
from app.core.spec import DEFAULT_MODEL, get_spec, load_specs
from app.runtime.ort_native import DEFAULT_MODEL_DIR, NativeSession

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


# Said after the size message of a photo that `--downscale` would let through.
DOWNSCALE_HINT = " Run again with --downscale to downscale it to fit."


def _downscalable(exc: Exception) -> bool:
    return isinstance(exc, TooLargeError) and exc.downscalable


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


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per `Options` field: --name/--no-name for switches, --name PX for numbers."""
    group = parser.add_argument_group("edge options (defaults as in the page)")
    for item in dataclasses.fields(Options):
        flag = "--" + item.name.replace("_", "-")
        if isinstance(item.default, bool):
            group.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, default=item.default)
        else:
            group.add_argument(flag, dest=item.name, type=float, default=item.default, metavar="PX")


def options_from(args: argparse.Namespace) -> Options:
    return Options(**{item.name: getattr(args, item.name) for item in dataclasses.fields(Options)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cutout", description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+", type=Path, help="photo files or folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for the cutouts")
    parser.add_argument("--model", default=DEFAULT_MODEL, choices=sorted(load_specs()))
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--threads", type=int, default=None, help="inference threads")
    parser.add_argument("--downscale", action="store_true",
                        help="downscale a photo over the size limit to fit, instead of skipping it")
    parser.add_argument("--colour-profile", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the photo's colour profile in the PNG (default: keep)")
    add_option_flags(parser)
    args = parser.parse_args(argv)
    try:
        options = options_from(args)
    except ValueError as exc:
        parser.error(str(exc))

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
            cutout = asyncio.run(pipeline.remove_background(photo.read_bytes(), session, spec, options,
                                                            downscale=args.downscale))
            png = pipeline.encode(cutout, keep_colour_profile=args.colour_profile)
        except (InputError, OSError) as exc:
            failures += 1
            print(f"{photo}: skipped: {exc}{DOWNSCALE_HINT if _downscalable(exc) else ''}", file=sys.stderr)
            continue
        target = args.out / output_name(photo)
        target.write_bytes(png)
        stages = ", ".join(f"{k} {v:.2f}s" for k, v in cutout.timings.items())
        print(f"{photo} -> {target} ({time.perf_counter() - started:.1f}s: {stages})")
        for note in cutout.notes:
            print(f"{photo}: note: {note}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
