"""Encoding the composed image (`compose.render`'s) for download: PNG, WebP, JPEG,
or the mask alone, and the file's name.

`FORMATS` is the one table of what each format is (label, MIME type, extension,
whether the file keeps transparency, the name's suffix); the page's menu and the
download link read it. No format ever carries EXIF, GPS, XMP, text or comments:
only the colour profile passed as `icc_profile` (never one from `image.info`).

Imports: Pillow, `app.core` only.

    >>> data = encode(image, "webp", icc_profile=cutout.icc_profile)
    >>> FORMATS["webp"].mime, filename("holiday.photo.JPG", "webp")
    ('image/webp', 'holiday.photo-cutout.webp')
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from .postprocess import PNG_COMPRESS_LEVEL, encode_png


@dataclass(frozen=True)
class Format:
    """One way to save the result."""

    label: str            # what the page's menu says
    short: str            # its download button: "Download PNG"
    mime: str
    extension: str        # of the file name, without the dot
    keeps_alpha: bool     # the file itself can be transparent
    suffix: str           # added to the photo's name: "holiday-cutout.png"


FORMATS = {
    "png": Format("PNG (transparent)", "PNG", "image/png", "png", True, "-cutout"),
    "webp": Format("WebP (transparent, smaller)", "WebP", "image/webp", "webp", True, "-cutout"),
    "jpeg": Format("JPEG (on the background)", "JPEG", "image/jpeg", "jpg", False, "-cutout"),
    "mask": Format("Mask (black and white PNG)", "mask", "image/png", "png", False, "-mask"),
}

DEFAULT_QUALITY = 92
# WebP: lossy at `quality`, alpha kept losslessly (libwebp's default for lossy).
# Lossless WebP of a photo is 10x the size (9 MB against 0.8 MB on a 12 MP
# cutout); method 2 is a third faster than libwebp's usual 4 for a file 2-3 %
# larger (method 6 takes 7x as long for 5 % less).
WEBP_METHOD = 2
# `exact=False` lets libwebp flatten the colour under fully transparent blocks: a
# cutout's invisible pixels still hold the photo's old background, which would
# cost a third of the file (0.79 MB against 0.26 MB) and hand out what the user
# cut away. No visible pixel changes, and alpha stays exact.
WEBP_EXACT = False
WEBP_MAX_SIDE = 16383     # the WebP format's limit
JPEG_MAX_SIDE = 65535
JPEG_FLATTEN_ON = (255, 255, 255)


def _format(fmt: str) -> Format:
    try:
        return FORMATS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}") from None


def encode(image: Image.Image, fmt: str, icc_profile: bytes | None = None, quality: int = DEFAULT_QUALITY) -> bytes:
    """The file's bytes for `image` (RGB or RGBA, as `compose.render` makes it) in `fmt`.

    png   `postprocess.encode_png` (the cutout's own writer): IHDR, iCCP, IDAT, IEND
    webp  lossy at `quality`, with alpha (losslessly); see WEBP_METHOD, WEBP_EXACT
    jpeg  at `quality`; an RGBA image is flattened on white first (the page
          normally renders on the chosen colour before)
    mask  the alpha channel alone, an 8-bit greyscale PNG (all white for an image
          without alpha); no colour profile (an RGB profile cannot describe grey)

    `icc_profile` (an RGB profile, e.g. `Cutout.icc_profile`) is embedded as
    given; nothing else from the image's file ever is.
    """
    spec = _format(fmt)
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be a whole number from 1 to 100, not {quality!r}")
    if fmt == "mask":
        alpha = image.getchannel("A") if "A" in image.getbands() else Image.new("L", image.size, 255)
        return encode_png(alpha, PNG_COMPRESS_LEVEL)
    if fmt == "png":
        return encode_png(_rgb_or_rgba(image), PNG_COMPRESS_LEVEL, icc_profile)
    if fmt == "webp":
        _check_side(image, WEBP_MAX_SIDE, spec)
        return _save(_rgb_or_rgba(image), "WEBP", quality=quality, method=WEBP_METHOD, exact=WEBP_EXACT,
                     icc_profile=icc_profile or None, exif=b"", xmp=b"")
    _check_side(image, JPEG_MAX_SIDE, spec)
    return _save(_flatten(image), "JPEG", quality=quality, icc_profile=icc_profile or None, exif=b"",
                 comment=b"")


def filename(original_name: str, fmt: str) -> str:
    """The download's name: `holiday.photo.JPG` -> `holiday.photo-cutout.webp` (or
    `-mask.png`); the directory (/ or \\) dropped; no stem -> `image-cutout.png`.
    The page's names come from here too (the worker's `export` reply)."""
    spec = _format(fmt)
    base = original_name.replace("\\", "/").split("/")[-1]
    dot = base.rfind(".")
    stem = base[:dot] if dot > 0 else base
    stem = stem.strip() or "image"
    return f"{stem}{spec.suffix}.{spec.extension}"


def _rgb_or_rgba(image: Image.Image) -> Image.Image:
    """RGB or RGBA: those stay as they are; other modes are converted, keeping
    transparency when they have any."""
    if image.mode in ("RGB", "RGBA"):
        return image
    transparent = "A" in image.getbands() or "transparency" in image.info
    return image.convert("RGBA" if transparent else "RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """RGB: an image with transparency laid on JPEG_FLATTEN_ON."""
    image = _rgb_or_rgba(image)
    if image.mode == "RGB":
        return image
    flat = Image.new("RGB", image.size, JPEG_FLATTEN_ON)
    flat.paste(image, (0, 0), image)
    return flat


def _check_side(image: Image.Image, limit: int, spec: Format) -> None:
    if max(image.size) > limit:
        raise ValueError(f"{spec.label} holds at most {limit} pixels a side, and this image is "
                         f"{image.width} x {image.height}; choose PNG")


def _save(image: Image.Image, fmt: str, **params) -> bytes:
    """Pillow's encoder; metadata only as `params` say (the callers pass empty EXIF,
    XMP and comment explicitly, as Pillow would copy a comment from `image.info`)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()
