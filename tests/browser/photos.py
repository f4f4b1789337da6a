"""Test photos made at run time from ../shared/devset (never committed)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from tests.conftest import devset_photo

EXIF_ORIENTATION = 0x0112


def with_exif_orientation(source: Path, target: Path, orientation: int) -> Path:
    """`source` stored rotated so that EXIF `orientation` shows it upright again."""
    image = Image.open(source).convert("RGB")
    # Store the pixels as a camera would before the viewer applies `orientation`.
    inverse = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
               8: Image.Transpose.ROTATE_270}[orientation]
    stored = image.transpose(inverse) if inverse else image
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    stored.save(target, "JPEG", quality=95, exif=exif)
    return target


def displayed(path: Path) -> Image.Image:
    """What a viewer shows for `path`: EXIF orientation applied, RGB."""
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def truncated_copy(source: Path, target: Path, keep: int) -> Path:
    target.write_bytes(source.read_bytes()[:keep])
    return target


def photo(relative: str) -> Path:
    return devset_photo(relative)
