"""What a run of `cutout` works on: the photos among the files and folders given (folders
walked to any depth), and where each one's output goes. The output tree mirrors the input
tree below the inputs' common folder, and no two photos ever share an output name.

Pure path logic, no image is opened: the decoder says what a file really is when the photo
is cut out (a HEIC, a PDF or an SVG among the photos gets its own message there).

Imports: the standard library and `app.core.export` (the page's file names).

    >>> plan = plan_run([Path("shop")], Path("cutouts"), "png")
    >>> plan.photos[0].source, plan.photos[0].output
    (PosixPath('shop/shoes/red.jpg'), PosixPath('cutouts/shoes/red-cutout.png'))
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from app.core import export

# Files a folder's walk takes as photos: what the decoder reads, and images it cannot read
# but that people keep among their photos (it says why for each: HEIC, AVIF, SVG, PDF).
# Any other file in a folder is listed in the report as not a photo, never opened.
PHOTO_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".bmp", ".gif", ".tif", ".tiff",
    ".heic", ".heif", ".avif", ".svg", ".pdf",
})
# Where an interrupted write may leave its half-written file: the final name, hidden and
# marked, in the same folder (so the rename that finishes it never crosses file systems).
PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class Photo:
    """One photo to cut out and where its output goes."""

    source: Path
    output: Path


@dataclass
class Plan:
    """A run's photos in order (folder by folder, names sorted), and the other files found
    in the folders given, which are not photos (listed, never opened)."""

    photos: list[Photo] = field(default_factory=list)
    not_photos: list[Path] = field(default_factory=list)


def plan_run(inputs: list[Path], out: Path, fmt: str) -> Plan:
    """The photos in `inputs` (files as given, folders walked) with their outputs in `out`
    as format `fmt` (`export.FORMATS`). Files given by name are always taken as photos.
    Hidden files and folders, and `out` itself when it lies inside an input, are skipped;
    a photo found twice (given, and in a folder given) is taken once."""
    plan = Plan()
    sources = []
    for given in inputs:
        if given.is_dir():
            found, others = walk(given, skip=out)
            sources += found
            plan.not_photos += others
        else:
            sources.append(given)     # a missing file is reported when its turn comes
    first_of_each: dict[str, Path] = {}
    for path in sources:
        first_of_each.setdefault(os.path.realpath(path), path)
    sources = list(first_of_each.values())
    root = common_folder(inputs)
    outputs = output_names(sources, root, fmt)
    plan.photos = [Photo(source, out / relative) for source, relative in zip(sources, outputs)]
    return plan


def walk(folder: Path, skip: Path | None = None) -> tuple[list[Path], list[Path]]:
    """(photos, other files) below `folder`, each folder's files in name order before its
    sub-folders in name order; hidden names and the folder `skip` left out."""
    skip_real = os.path.realpath(skip) if skip is not None else None
    photos, others = [], []
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith(".")
                            and os.path.realpath(os.path.join(parent, name)) != skip_real)
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(parent, name)
            (photos if path.suffix.lower() in PHOTO_SUFFIXES else others).append(path)
    return photos, others


def common_folder(inputs: list[Path]) -> Path:
    """The deepest folder holding every input: a folder given alone is the root of its own
    tree, a file given alone sits in its folder, and inputs side by side in their parent."""
    if not inputs:
        return Path(".")
    folders = [os.path.abspath(path) if path.is_dir() else os.path.dirname(os.path.abspath(path)) for path in inputs]
    return Path(os.path.commonpath(folders))


def output_names(sources: list[Path], root: Path, fmt: str) -> list[Path]:
    """Each source's output path relative to the output folder: its folder below `root`, and
    the page's name for it (`export.filename`). Where names would clash in one folder
    (compared as a case-insensitive file system would: photo.gif and photo.webp, or
    Photo.jpg and photo.JPG), each of them keeps its own suffix in the name
    (photo-gif-cutout.png); a clash left after that is numbered (-2, -3...), in order."""
    folders = [Path(os.path.relpath(os.path.dirname(os.path.abspath(path)), root)) for path in sources]
    names = [export.filename(path.name, fmt) for path in sources]
    clashing = _clashes(folders, names)
    for index in clashing:
        path = sources[index]
        suffix = path.suffix.lstrip(".").lower()
        names[index] = export.filename(f"{path.stem}-{suffix}{path.suffix}" if suffix else path.name, fmt)
    taken = {_key(folder, name) for folder, name in zip(folders, names)}
    seen: set[tuple[str, str]] = set()
    for index, (folder, name) in enumerate(zip(folders, names)):
        if _key(folder, name) in seen:
            stem, dot, extension = name.rpartition(".")
            number = 2
            while _key(folder, f"{stem}-{number}.{extension}") in taken:
                number += 1
            names[index] = f"{stem}-{number}.{extension}"
            taken.add(_key(folder, names[index]))
        seen.add(_key(folder, names[index]))
    return [folder / name for folder, name in zip(folders, names)]


def _key(folder: Path, name: str) -> tuple[str, str]:
    return str(folder).casefold(), name.casefold()


def _clashes(folders: list[Path], names: list[str]) -> list[int]:
    """Indices of outputs that share their folder and name with another."""
    counts: dict[tuple[str, str], int] = {}
    for folder, name in zip(folders, names):
        counts[_key(folder, name)] = counts.get(_key(folder, name), 0) + 1
    return [index for index, (folder, name) in enumerate(zip(folders, names)) if counts[_key(folder, name)] > 1]


def partial_name(output: Path, writer: str) -> Path:
    """Where `writer` (a process id) writes `output` before renaming it into place."""
    return output.with_name(f".{output.name}.{writer}{PARTIAL_SUFFIX}")


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)


def leftover_partials(out: Path) -> list[Path]:
    """Half-written files under `out` that an interrupted or killed run left behind."""
    if not out.is_dir():
        return []
    return [Path(parent, name) for parent, _, files in os.walk(out) for name in files if is_partial(Path(name))]
