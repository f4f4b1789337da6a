"""Decode a photo the way the user sees it, and turn it into the model's input.

Imports: NumPy, Pillow, `app.core` only.

    >>> from app.core.spec import get_spec
    >>> image = decode(open("photo.jpg", "rb").read())   # RGB, EXIF orientation applied
    >>> tensor = to_tensor(image, get_spec())             # (1, 3, 1024, 1024) float32
    >>> photo = decode_photo(data, downscale=True)        # + the file's own alpha, colour
    >>> photo.image, photo.alpha, photo.icc_profile, photo.notes    # profile and notes

`decode` raises only `InputError` (its subclass `TooLargeError` for a photo over
MAX_PIXELS) for bytes it cannot use: tests/unit/test_decode_fuzz.py feeds it random
bytes and damaged real files.
"""
from __future__ import annotations

import io
import math
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from .errors import InputError, TooLargeError
from .spec import ModelSpec

# Largest photo we accept. 50 MP needs ~1 GB of working memory in the browser
# worker; above that the tab risks running out of memory.
MAX_PIXELS = 50_000_000
# Most pixels decoded at once to downscale a larger photo to MAX_PIXELS (with the
# user's consent): JPEGs decode at 1/2, 1/4 or 1/8 size first (`Image.draft`), so
# almost any JPEG fits; a larger PNG or WebP is refused even with consent.
MAX_DECODE_PIXELS = 2 * MAX_PIXELS
# The filter that downscales a photo over MAX_PIXELS (with consent).
DOWNSCALE_RESAMPLE = Image.Resampling.LANCZOS

# Resampling used to make the model input. Pinned by tests/unit/test_preprocess.py:
# the 8-bit model's mask changes a lot with small input differences, so the page
# and the command line must use exactly this.
INPUT_RESAMPLE = Image.Resampling.BILINEAR

# What Pillow raises for bytes it cannot make sense of. Its format plugins parse the
# file in Python, so besides the OSError / SyntaxError / ValueError it documents, a
# damaged file surfaces as struct.error, EOFError, IndexError or TypeError (e.g. a GIF
# cut inside its second frame; all seen by tests/unit/test_decode_fuzz.py), and a frame
# larger than its header said as DecompressionBombError. Only Pillow's reading of the
# user's bytes (open, load, EXIF) runs under this catch, never our own code, so it turns
# faults of the file into a message without hiding faults of ours.
PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError,
                 Image.DecompressionBombError)

# Messages for files we cannot read; `_what_it_is` picks the one that fits.
EMPTY = "The file is empty."
NOT_AN_IMAGE = "This file is not an image we can read (JPEG, PNG or WebP)."
DAMAGED = "The image data is damaged or incomplete ({})."
OUT_OF_MEMORY = ("There is not enough memory to open this {}×{} photo here. Close other tabs "
                 "or apps and try again, or make the photo smaller first.")
NOT_READABLE_HERE = {
    "heic": ("This is a HEIC/HEIF photo (the iPhone's format), which can't be read here yet. "
             "Export it as JPEG (on the iPhone: share it, or set Settings → Camera → Formats "
             "to Most Compatible) and try again."),
    "avif": "This is an AVIF image, which can't be read here yet. Save it as JPEG, PNG or WebP and try again.",
    "svg": ("This is an SVG drawing (a vector image); only photos and other pixel images can be cut out. "
            "Export it as PNG and try again."),
    "pdf": "This is a PDF document, not an image. Choose a JPEG, PNG or WebP photo.",
    "zip": "This is a ZIP archive, not an image. Unpack it and choose a JPEG, PNG or WebP photo.",
}
# Notes for a photo that was read, but not quite as the file has it.
NOTE_ANIMATED = "Animated image: the first frame was used."
NOTE_DOWNSCALED = "Downscaled from {}×{} to {}×{} to fit the {:.0f} MP limit."
NOTE_BAD_EXIF = "The photo's EXIF data is damaged, so its orientation is unknown: it is shown as stored."

# ISO base media file brands (the `ftyp` box): HEIF/HEIC stills and sequences, AVIF.
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}

# EXIF Orientation → the transposition that shows the stored pixels upright
# (as ImageOps.exif_transpose, which also rewrites the EXIF block and fails on a damaged one).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class Photo:
    """A decoded photo, and what the cutout keeps of the file besides its pixels."""

    image: Image.Image                  # RGB, display orientation, no metadata left to rotate it again
    alpha: np.ndarray | None = None     # (H, W) uint8: the file's own transparency; None if all opaque
    icc_profile: bytes | None = None    # the file's RGB colour profile (its pixels are in that space)
    notes: tuple[str, ...] = ()         # for the user: how the file was read, if not quite as it is


def decode(data: bytes, downscale: bool = False) -> Image.Image:
    """Decode image bytes to an RGB image in its display orientation (`decode_photo`'s image)."""
    return decode_photo(data, downscale).image


def decode_photo(data: bytes, downscale: bool = False) -> Photo:
    """Decode image bytes: RGB pixels in display orientation, the file's own alpha and
    colour profile, and notes (first frame of an animation, downscaled, damaged EXIF).

    Raises InputError with a message for the user when the bytes are not a readable
    image, and TooLargeError for a photo over MAX_PIXELS, checked before any pixel is
    decoded; with `downscale` (the user's consent) such a photo is downscaled to fit
    instead, when it can be decoded within MAX_DECODE_PIXELS.
    """
    if not data:
        raise InputError(EMPTY)
    try:
        image, animated = _open_unchecked(data)
    except UnidentifiedImageError:
        raise InputError(_what_it_is(data)) from None
    except PILLOW_ERRORS as exc:
        raise InputError(DAMAGED.format(exc)) from None
    size = image.size
    target = downscaled_size(*size, MAX_PIXELS)
    if target != size:
        image.draft(None, target)       # JPEG: decode at 1/2, 1/4 or 1/8 size; other formats: no-op
        downscalable = image.width * image.height <= MAX_DECODE_PIXELS
        if not (downscale and downscalable):
            raise TooLargeError(*size, MAX_PIXELS, downscalable)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # Pillow's warnings about damaged metadata
            image.load()
            orientation = _orientation(image)
    except MemoryError:
        raise InputError(OUT_OF_MEMORY.format(*size)) from None
    except PILLOW_ERRORS as exc:
        raise InputError(DAMAGED.format(exc)) from None
    try:
        photo = _finish(image, orientation, target)
    except MemoryError:
        raise InputError(OUT_OF_MEMORY.format(*size)) from None
    notes = [NOTE_ANIMATED] if animated else []
    if target != size:
        notes.append(NOTE_DOWNSCALED.format(*size, *target, MAX_PIXELS / 1e6))
    photo.notes = tuple(notes) + photo.notes
    return photo


def from_image(image: Image.Image) -> Photo:
    """A Pillow image someone decoded already, made what `decode_photo` would make of it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        orientation = _orientation(image)
    return _finish(image, orientation, image.size)


def downscaled_size(width: int, height: int, limit: int) -> tuple[int, int]:
    """The largest size of the same shape within `limit` pixels (the size itself if within)."""
    if width * height <= limit:
        return width, height
    scale = math.sqrt(limit / (width * height))
    fit_height = max(1, int(height * scale))
    fit_width = max(1, min(int(width * scale), limit // fit_height))     # the min: rounding, or a 1-pixel side
    return fit_width, min(fit_height, limit // fit_width)


def _finish(image: Image.Image, orientation: int | None, size: tuple[int, int]) -> Photo:
    """RGB at `size`, upright, and the alpha treated the same; the profile if it is RGB."""
    icc_profile = rgb_profile(image.info.get("icc_profile"))
    image, alpha = _split_alpha(image)
    image = to_rgb(image)
    if image.size != size:
        image = image.resize(size, DOWNSCALE_RESAMPLE)
        alpha = alpha.resize(size, DOWNSCALE_RESAMPLE) if alpha is not None else None
    if orientation in UPRIGHT:
        image = image.transpose(UPRIGHT[orientation])
        alpha = alpha.transpose(UPRIGHT[orientation]) if alpha is not None else None
    # EXIF (GPS...), XMP, profile: nothing left to rotate it twice or to leak into an export.
    image.info = {}
    image.getexif().clear()             # the EXIF Pillow parsed already, if `image` is the file
    return Photo(image=image, alpha=None if alpha is None else np.asarray(alpha),
                 icc_profile=icc_profile, notes=() if orientation is not None else (NOTE_BAD_EXIF,))


def _open_unchecked(data: bytes) -> tuple[Image.Image, bool]:
    """(image, whether it is animated), opened (header only) without Pillow's
    decompression-bomb check: `decode_photo` applies its own, lower limit with a
    message that names the size."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # DecompressionBombWarning; damaged metadata
            image = Image.open(io.BytesIO(data))
            return image, bool(getattr(image, "is_animated", False))
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _orientation(image: Image.Image) -> int | None:
    """The EXIF (or XMP) Orientation, 1 if there is none or it is not one of the 8;
    None if the metadata is too damaged to read (the photo itself may be fine)."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except PILLOW_ERRORS:
        return None
    return value if isinstance(value, int) and value in UPRIGHT else 1


def _split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(image, its alpha as an L image, or None when every pixel is opaque). A palette,
    grey or RGB image with a transparent colour becomes RGBA first."""
    if "transparency" in image.info and image.mode in ("P", "L", "RGB"):
        image = image.convert("RGBA")
    if "A" not in image.getbands():
        return image, None
    alpha = image.getchannel("A")
    return image, None if alpha.getextrema()[0] == 255 else alpha


def rgb_profile(profile: bytes | None) -> bytes | None:
    """`profile` if it is an ICC profile for RGB data (the only kind an RGB PNG may carry;
    a CMYK JPEG's profile no longer fits its RGB pixels), else None."""
    if profile and len(profile) >= 128 and profile[36:40] == b"acsp" and profile[16:20] == b"RGB ":
        return bytes(profile)
    return None


def _what_it_is(data: bytes) -> str:
    """The message for bytes Pillow cannot identify: what they are when their first bytes
    say so plainly (HEIC, AVIF, SVG, PDF, ZIP), else the general one."""
    head = data[:4096]
    if head[4:8] == b"ftyp":
        box = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[at:at + 4] for at in range(16, box - 3, 4)}
        if brands & AVIF_BRANDS:
            return NOT_READABLE_HERE["avif"]
        if brands & HEIF_BRANDS:
            return NOT_READABLE_HERE["heic"]
    if head.startswith(b"%PDF-"):
        return NOT_READABLE_HERE["pdf"]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return NOT_READABLE_HERE["zip"]
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype", b"<!--")) and b"<svg" in text:
        return NOT_READABLE_HERE["svg"]
    return NOT_AN_IMAGE


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB view of any Pillow mode (palette, greyscale, 16-bit, CMYK, with alpha)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float32)        # 16-bit samples
        image = Image.fromarray(np.clip(pixels * np.float32(255 / 65535) + 0.5, 0, 255).astype(np.uint8))
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def colours_of(tensor: np.ndarray, spec: ModelSpec) -> list[np.ndarray]:
    """The photo's colours at the model's input size, from its input `tensor` (`to_tensor`):
    three (S, S) float32 planes in [0, 1]."""
    return [(tensor[0, c] * np.float32(spec.std[c]) + np.float32(spec.mean[c])).astype(np.float32) for c in range(3)]


def to_tensor(image: Image.Image, spec: ModelSpec) -> np.ndarray:
    """The model input: (1, 3, S, S) float32, `(x / 255 - mean) / std` per channel."""
    size = spec.input_size
    resized = image.resize((size, size), INPUT_RESAMPLE)
    pixels = np.asarray(resized, dtype=np.float32)            # (S, S, 3)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    normalised = (pixels / np.float32(255) - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis])
