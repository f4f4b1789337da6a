"""Property-based tests (Hypothesis) of the CPython decode path, `preprocess.decode`:
whatever bytes it is given, random or a real file damaged, it returns an RGB image
within the size limit or raises InputError with a message, nothing else, and it
never hangs.

The real files are made by Pillow here (JPEG with EXIF and GPS, PNG with alpha and a
colour profile, WebP, animated GIF and WebP, TIFF, BMP) and damaged by flipping,
inserting, overwriting and cutting bytes. Examples are derived from the test's name
(`derandomize`), so a run is repeatable, and no database is written; the whole file
takes about 20 s. An alarm fails the test if one example runs for HANG_SECONDS.
Hypothesis's own per-example deadline is off: it times calls that returned, and on a
busy 2-core machine a 1 s example took 4.4 s and failed CI; a hang is the alarm's job.

What these tests found, now fixed in app/core/preprocess.py: a header claiming
3019898912×24 pixels kept `downscaled_size` busy for seconds; a GIF cut inside its
second frame raised TypeError; a damaged EXIF block raised TypeError, struct.error or
SyntaxError from ImageOps.exif_transpose.
"""
from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image, ImageCms

from app.core.errors import InputError
from app.core.preprocess import MAX_PIXELS, decode
from tests.helpers import encode

HANG_SECONDS = 10
FUZZ = settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _photo() -> Image.Image:
    rng = np.random.default_rng(9)
    return Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), "RGB")


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6                                              # Orientation: rotate
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}   # GPS
    return exif


def _seeds() -> dict[str, bytes]:
    photo = _photo()
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(photo.size))
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    frames = [Image.new("RGB", (16, 12), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return {
        "jpeg": encode(photo, "JPEG", quality=80, exif=_exif()),
        "cmyk-jpeg": encode(photo.convert("CMYK"), "JPEG", quality=80),
        "png": encode(rgba, "PNG", icc_profile=profile, exif=_exif()),
        "palette-png": encode(photo.convert("P"), "PNG", transparency=3),
        "webp": encode(photo, "WEBP", quality=80, exif=_exif()),
        "lossless-webp": encode(rgba, "WEBP", lossless=True),
        "gif": encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
        "animated-webp": encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100),
        "tiff": encode(photo, "TIFF", tiffinfo={0x0112: 6}),
        "bmp": encode(photo, "BMP"),
    }


SEEDS = _seeds()
# First bytes of formats Pillow identifies, so random bytes after them reach its parsers.
MAGICS = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x01\x00\x00WEBPVP8 ", b"GIF89a",
          b"II*\x00", b"MM\x00*", b"BM", b"\x00\x00\x00\x18ftypheic"]


class Hang(Exception):
    """decode ran for HANG_SECONDS on one input."""


@contextlib.contextmanager
def hang_alarm(seconds: int = HANG_SECONDS):
    def ring(signum, frame):
        raise Hang(f"decode ran for {seconds} s")
    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def assert_decodes_or_explains(data: bytes, downscale: bool = False) -> None:
    """An RGB image within the limit, or InputError with a sentence for the user."""
    with hang_alarm():
        try:
            image = decode(data, downscale=downscale)
        except InputError as exc:
            message = str(exc)
            assert message[:1].isupper() and message.endswith("."), message
            return
    assert image.mode == "RGB"
    assert 0 < image.width * image.height <= MAX_PIXELS


# A mutation: (what, where as a fraction of the file, bytes).
MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "overwrite", "cut", "cut-before"]),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.binary(min_size=1, max_size=16),
)


def mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for kind, where, payload in mutations:
        at = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[at] ^= payload[0] or 0x80
        elif kind == "insert":
            out[at:at] = payload
        elif kind == "overwrite":
            out[at:at + len(payload)] = payload
        elif kind == "cut":
            del out[at:]
        elif kind == "cut-before":
            del out[:at]
    return bytes(out)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_file_decodes(name):
    """The undamaged files decode (else the mutations below would test only errors)."""
    image = decode(SEEDS[name])
    assert image.mode == "RGB" and image.size in ((32, 24), (24, 32), (16, 12))


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(data):
    """Random bytes: an image (rarely) or InputError, never another exception."""
    assert_decodes_or_explains(data)


@FUZZ
@given(magic=st.sampled_from(MAGICS), rest=st.binary(max_size=2048), downscale=st.booleans())
def test_random_bytes_after_a_real_signature(magic, rest, downscale):
    """Random bytes after a format's first bytes reach that format's parser: still only
    an image or InputError."""
    assert_decodes_or_explains(magic + rest, downscale)


@settings(FUZZ, max_examples=2500)
@given(name=st.sampled_from(sorted(SEEDS)), mutations=st.lists(MUTATION, min_size=1, max_size=4),
       downscale=st.booleans())
def test_damaged_real_files(name, mutations, downscale):
    """A real JPEG, PNG, WebP, GIF, TIFF or BMP with bytes flipped, inserted, overwritten
    or cut: an image or InputError, within the deadline."""
    assert_decodes_or_explains(mutate(SEEDS[name], mutations), downscale)


@settings(FUZZ, max_examples=1000)
@given(name=st.sampled_from(["jpeg", "png", "webp", "tiff"]),
       at=st.integers(min_value=0, max_value=200), payload=st.binary(min_size=1, max_size=4))
def test_damaged_headers_and_metadata(name, at, payload):
    """The first 200 bytes (headers, EXIF with GPS, colour profile) overwritten: header
    fields are where sizes, modes and offsets live."""
    data = bytearray(SEEDS[name])
    data[at:at + len(payload)] = payload
    assert_decodes_or_explains(bytes(data))


EXIF_BLOCK = _exif().tobytes()[6:]          # TIFF header and IFDs, after b"Exif\0\0"


@settings(FUZZ, max_examples=1000)
@given(name=st.sampled_from(["jpeg", "png", "webp"]),
       changes=st.lists(st.tuples(st.floats(min_value=0, max_value=1, allow_nan=False),
                                  st.sampled_from([0, 1, 0xFF, 0x2A, 0x4D])), min_size=1, max_size=3))
def test_damaged_exif(name, changes):
    """Bytes of the EXIF block (orientation, GPS) changed, the image data intact: damaged
    metadata must not cost the photo or raise anything but InputError."""
    data = bytearray(SEEDS[name])
    start = data.find(EXIF_BLOCK[:16])
    assert start > 0
    for where, value in changes:
        data[start + int(where * (len(EXIF_BLOCK) - 1))] = value
    assert_decodes_or_explains(bytes(data))
