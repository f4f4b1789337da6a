"""Real photos the tests own, so no test depends on a folder outside the repository.

They come from scikit-image's wheel (a pinned test dependency; pyproject.toml),
which bundles these photos with their licences stated in `skimage.data`:

    astronaut  512×512   Eileen Collins, NASA: public domain
    cat        451×300   "chelsea", Stefan van der Walt: CC0
    coffee     600×400   a cup of coffee, Rachel Michetti: CC0
    rocket     427×640   SpaceX launch: public domain (a JPEG)

Other forms a user brings (camera sizes, EXIF rotation, other formats, damaged
files) are made from them at run time. `../shared/devset` is for benchmarks only.
Imports: Pillow, NumPy, scikit-image's data folder (no network).

    >>> path = save(tmp_path / "cat.png", "cat")            # lossless copy
    >>> big = save(tmp_path / "big.jpg", "coffee", megapixels=12)
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

SOURCES = {
    "astronaut": "astronaut.png",
    "cat": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
}
EXIF_ORIENTATION = 0x0112


def data_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def source(name: str) -> Path:
    """The bundled file of photo `name` (see SOURCES)."""
    path = data_dir() / SOURCES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: scikit-image's wheel bundles it; reinstall .venv")
    return path


def image(name: str, megapixels: float | None = None) -> Image.Image:
    """Photo `name` as RGB; with `megapixels`, enlarged (Lanczos) to about that size:
    a stand-in for a camera photo, which takes the pipeline's large-photo paths."""
    photo = Image.open(source(name)).convert("RGB")
    if megapixels:
        scale = (megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    return photo


def save(target: Path, name: str, megapixels: float | None = None, **params) -> Path:
    """Photo `name` written to `target` in the format its suffix names (PNG is lossless)."""
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[target.suffix.lower()]
    if fmt in ("JPEG", "WEBP"):
        params.setdefault("quality", 92)
    image(name, megapixels).save(target, fmt, **params)
    return target


def encoded(name: str, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image(name).save(buffer, fmt, **params)
    return buffer.getvalue()


def with_exif_orientation(name: str, target: Path, orientation: int) -> Path:
    """Photo `name` stored as a camera does before a viewer applies EXIF
    `orientation` (a JPEG): shown upright, it is the photo itself."""
    photo = image(name)
    inverse = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
               8: Image.Transpose.ROTATE_270}[orientation]
    stored = photo.transpose(inverse) if inverse else photo
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    stored.save(target, "JPEG", quality=95, exif=exif)
    return target


def displayed(path: Path) -> Image.Image:
    """What a viewer shows for `path`: EXIF orientation applied, RGB."""
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")


def truncated_copy(path: Path, target: Path, keep: int) -> Path:
    """The first `keep` bytes of `path`: a download that stopped half-way."""
    target.write_bytes(path.read_bytes()[:keep])
    return target


def noise(target: Path, size: int = 5000, seed: int = 1) -> Path:
    target.write_bytes(np.random.default_rng(seed).bytes(size))
    return target
