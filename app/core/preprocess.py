"""Decode a photo the way the user sees it, and turn it into the model's input.

Imports: NumPy, Pillow, `app.core` only.

    >>> from app.core.spec import get_spec
    >>> image = decode(open("photo.jpg", "rb").read())   # RGB, EXIF orientation applied
    >>> tensor = to_tensor(image, get_spec())             # (1, 3, 1024, 1024) float32
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError
from .spec import ModelSpec

# Largest photo we accept. 50 MP needs ~1 GB of working memory in the browser
# worker; above that the tab risks running out of memory.
MAX_PIXELS = 50_000_000

# Resampling used to make the model input. Pinned by tests/unit/test_preprocess.py:
# the 8-bit model's mask changes a lot with small input differences, so the page
# and the command line must use exactly this.
INPUT_RESAMPLE = Image.Resampling.BILINEAR


def decode(data: bytes) -> Image.Image:
    """Decode image bytes to an RGB image in its display orientation.

    Raises InputError with a message for the user when the bytes are not a
    readable image or the image is too large.
    """
    if not data:
        raise InputError("The file is empty.")
    try:
        image = _open_unchecked(data)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise InputError(
                f"The photo is {width}×{height} ({width * height / 1e6:.0f} MP); "
                f"the largest we can process is {MAX_PIXELS / 1e6:.0f} MP."
            )
        image.load()
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError("This file is not an image we can read (JPEG, PNG or WebP).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"The image data is damaged or incomplete ({exc}).") from None
    image = ImageOps.exif_transpose(image)
    return to_rgb(image)


def _open_unchecked(data: bytes) -> Image.Image:
    """Open (header only) without Pillow's decompression-bomb check: `decode`
    applies its own, lower limit with a message that names the size."""
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    finally:
        Image.MAX_IMAGE_PIXELS = limit


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


def to_tensor(image: Image.Image, spec: ModelSpec) -> np.ndarray:
    """The model input: (1, 3, S, S) float32, `(x / 255 - mean) / std` per channel."""
    size = spec.input_size
    resized = image.resize((size, size), INPUT_RESAMPLE)
    pixels = np.asarray(resized, dtype=np.float32)            # (S, S, 3)
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    normalised = (pixels / np.float32(255) - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[np.newaxis])
