"""Unit tests for app.core.preprocess: decoding (formats, modes, EXIF orientation,
errors, size limit) and the model input tensor (normalisation, layout, resampling).

All images are made by code and are a few pixels large.
"""
from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from app.core import preprocess
from app.core.errors import InputError, TooLargeError
from app.core.preprocess import decode, to_rgb, to_tensor
from app.core.spec import ModelSpec
from tests.helpers import (
    BLUE, CYAN, GREEN, MAGENTA, RED, YELLOW,
    assert_image_equal, block_colours, encode, grid_image,
)


def make_spec(size: int, mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0)) -> ModelSpec:
    return ModelSpec(
        name=f"test-{size}", file="test.onnx", sha256="0" * 64, bytes=1, label="test",
        input_name="input", output_name="output", input_size=size, mean=mean, std=std,
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`×`height` (the pixel data is never read)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------------------
# to_tensor: normalisation, layout, resampling
# --------------------------------------------------------------------------------------
PATTERN_2X2 = np.array(
    [[[0, 64, 255], [10, 20, 30]],
     [[128, 200, 1], [255, 0, 77]]],
    dtype=np.uint8,
)   # (rows, cols, RGB)


def test_to_tensor_normalises_exactly():
    """A 2×2 image at input_size 2 becomes exactly float32 x/255 - 0.5, RGB → CHW."""
    tensor = to_tensor(Image.fromarray(PATTERN_2X2, "RGB"), make_spec(2))
    expected = (PATTERN_2X2.astype(np.float32) / np.float32(255) - np.float32(0.5)).transpose(2, 0, 1)
    np.testing.assert_array_equal(tensor, expected[np.newaxis])
    # The same numbers written out: channel R, then G, then B; rows then columns.
    np.testing.assert_allclose(
        tensor[0],
        [[[-0.5, 10 / 255 - 0.5], [128 / 255 - 0.5, 0.5]],
         [[64 / 255 - 0.5, 20 / 255 - 0.5], [200 / 255 - 0.5, -0.5]],
         [[0.5, 30 / 255 - 0.5], [1 / 255 - 0.5, 77 / 255 - 0.5]]],
        rtol=0, atol=1e-7,
    )


def test_to_tensor_layout():
    """The tensor is (1, 3, S, S) float32 and C-contiguous (one copy across to JS)."""
    tensor = to_tensor(Image.fromarray(PATTERN_2X2, "RGB"), make_spec(2))
    assert tensor.shape == (1, 3, 2, 2)
    assert tensor.dtype == np.float32
    assert tensor.flags["C_CONTIGUOUS"]


def test_to_tensor_applies_mean_and_std_per_channel():
    """mean[i] and std[i] apply to channel i (R, G, B): (x/255 - mean) / std."""
    spec = make_spec(1, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))
    tensor = to_tensor(Image.new("RGB", (1, 1), (255, 0, 51)), spec)
    np.testing.assert_allclose(tensor.ravel(), [1.8, -0.8, -0.05], rtol=0, atol=1e-6)


def test_input_resample_is_bilinear():
    """The resampling filter is pinned to Pillow BILINEAR (page and CLI must agree)."""
    assert preprocess.INPUT_RESAMPLE == Image.Resampling.BILINEAR


def test_to_tensor_downscale_uses_bilinear_triangle_filter():
    """4×4 → 2×2 gives the triangle filter's values, not nearest/box/bicubic/lanczos ones.

    Pillow's BILINEAR when halving is a triangle of support 2 centred at input
    x = 1.0 and 3.0: output 0 = (3·p0 + 3·p1 + 1·p2) / 7, output 1 = (p1 + 3·p2 + 3·p3) / 7.
    Row [0, 0, 70, 140] → [10, 90] (integers, so no rounding ambiguity). R varies along x,
    G along y, B is one pixel of 196 at (x=3, y=0): horizontally [0, 84], vertically
    84·3/7 = 36. NEAREST would give R [0, 140], BOX [0, 105], BICUBIC [3, 96].
    """
    ramp = np.array([0, 0, 70, 140], dtype=np.uint8)
    red = np.tile(ramp, (4, 1))
    blue = np.zeros((4, 4), dtype=np.uint8)
    blue[0, 3] = 196
    image = Image.fromarray(np.dstack([red, red.T, blue]), "RGB")
    tensor = to_tensor(image, make_spec(2))
    expected_uint8 = np.array(
        [[[10, 90], [10, 90]],     # R
         [[10, 10], [90, 90]],     # G
         [[0, 36], [0, 0]]],       # B
        dtype=np.float32,
    )
    np.testing.assert_array_equal(tensor[0], expected_uint8 / np.float32(255) - np.float32(0.5))


def test_to_tensor_stretches_without_letterbox():
    """A 40×20 photo fills the whole square input (stretched, no padding rows or columns).

    Left half red, right half blue: every input row is the same, the outer columns are
    pure red and pure blue, and the two middle columns mix symmetrically (red + blue = 1).
    """
    image = grid_image([[RED, BLUE]], block=20)          # 40 wide, 20 high
    tensor = to_tensor(image, make_spec(4))[0] + np.float32(0.5)
    red, green, blue = tensor
    np.testing.assert_array_equal(green, np.zeros((4, 4)))
    np.testing.assert_array_equal(red, np.tile(red[0], (4, 1)))
    np.testing.assert_array_equal(red[0, [0, 3]], [1, 0])
    np.testing.assert_array_equal(blue[0, [0, 3]], [0, 1])
    np.testing.assert_allclose(red + blue, np.ones((4, 4)), atol=1e-6)
    np.testing.assert_allclose(red[0, 1], 1 - red[0, 2], atol=1e-6)
    assert red[0, 1] > 0.5


# --------------------------------------------------------------------------------------
# decode: formats and modes
# --------------------------------------------------------------------------------------
def test_decode_png_is_exact():
    """A PNG decodes to the same RGB pixels."""
    image = Image.fromarray(PATTERN_2X2, "RGB")
    decoded = decode(encode(image, "PNG"))
    assert decoded.mode == "RGB"
    assert_image_equal(decoded, image)


def test_decode_lossless_webp_is_exact():
    """A lossless WebP is accepted and decodes to the same RGB pixels."""
    image = grid_image([[RED, GREEN], [BLUE, YELLOW]], block=4)
    decoded = decode(encode(image, "WEBP", lossless=True))
    assert decoded.mode == "RGB"
    assert_image_equal(decoded, image)


def test_decode_jpeg_is_close():
    """A JPEG is accepted: RGB, same size, colours within JPEG error."""
    image = grid_image([[RED, GREEN, BLUE]], block=16)
    decoded = decode(encode(image, "JPEG", quality=95))
    assert (decoded.mode, decoded.size) == ("RGB", (48, 16))
    np.testing.assert_allclose(block_colours(decoded, 16), [[RED, GREEN, BLUE]], atol=8)


def test_decode_greyscale_l():
    """An L (8-bit grey) PNG becomes RGB with R = G = B = the grey value."""
    grey = np.array([[0, 50], [128, 255]], dtype=np.uint8)
    decoded = decode(encode(Image.fromarray(grey, "L"), "PNG"))
    assert decoded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded), np.dstack([grey] * 3))


def test_decode_greyscale_with_alpha_la():
    """An LA PNG becomes RGB grey; the alpha is dropped, not multiplied in."""
    grey = np.array([[10, 200]], dtype=np.uint8)
    alpha = np.array([[0, 255]], dtype=np.uint8)
    image = Image.merge("LA", [Image.fromarray(grey, "L"), Image.fromarray(alpha, "L")])
    decoded = decode(encode(image, "PNG"))
    assert decoded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded), [[[10] * 3, [200] * 3]])


def test_decode_rgba_keeps_colour_of_transparent_pixels():
    """An RGBA PNG becomes RGB with the stored colours, even under alpha 0."""
    pixels = np.array([[[255, 0, 0, 0], [0, 0, 255, 128], [9, 8, 7, 255]]], dtype=np.uint8)
    decoded = decode(encode(Image.fromarray(pixels, "RGBA"), "PNG"))
    assert decoded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded), pixels[..., :3])


@pytest.mark.parametrize("transparency", [1, b"\xff\x00\x80"], ids=["index", "alpha-bytes"])
def test_decode_palette_with_transparency(transparency):
    """A palette PNG with transparency (one index, or per-entry alpha bytes) becomes RGB
    with the palette colours, without Pillow's 'convert to RGBA first' warning.
    """
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2])
    data = encode(image, "PNG", transparency=transparency)
    assert Image.open(io.BytesIO(data)).info["transparency"] == transparency
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = decode(data)
    assert decoded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded), [[RED, GREEN, BLUE]])


def test_decode_16_bit_png_scales_to_8_bit():
    """A 16-bit grey PNG is scaled by 255/65535 and rounded: 32896 → 128, 1000 → 4."""
    values = np.array([[0, 32896], [65535, 1000]], dtype=np.uint16)
    decoded = decode(encode(Image.fromarray(values), "PNG"))
    assert decoded.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(decoded)[..., 0], [[0, 128], [255, 4]])
    np.testing.assert_array_equal(np.asarray(decoded)[..., 0], np.asarray(decoded)[..., 2])


def test_decode_dark_16_bit_png_stays_dark():
    """A 16-bit PNG whose values are all <= 255 (of 65535) is near black, not full range."""
    values = np.array([[0, 128], [255, 64]], dtype=np.uint16)
    decoded = decode(encode(Image.fromarray(values), "PNG"))
    np.testing.assert_array_equal(np.asarray(decoded)[..., 0], [[0, 0], [1, 0]])


def test_to_rgb_16_bit_mode_i16():
    """to_rgb of a native I;16 image scales by 255/65535 with rounding."""
    image = Image.frombytes("I;16", (3, 1), np.array([0, 65535, 32768], "<u2").tobytes())
    assert image.mode == "I;16"
    np.testing.assert_array_equal(np.asarray(to_rgb(image))[0], [[0] * 3, [255] * 3, [128] * 3])


def test_to_rgb_returns_rgb_unchanged():
    """to_rgb of an RGB image returns that very image (no copy)."""
    image = Image.new("RGB", (2, 2), RED)
    assert to_rgb(image) is image


def test_decode_cmyk_jpeg():
    """A CMYK JPEG becomes RGB with the right colour (C=0, M=Y=100 % → red)."""
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=100)
    decoded = decode(data)
    assert (decoded.mode, decoded.size) == ("RGB", (16, 16))
    np.testing.assert_allclose(np.asarray(decoded)[8, 8], RED, atol=3)


# --------------------------------------------------------------------------------------
# decode: EXIF orientation
# --------------------------------------------------------------------------------------
STORED = [[RED, GREEN, BLUE],
          [CYAN, MAGENTA, YELLOW]]                  # 3 wide, 2 high, every cell distinct
R, G, B, C, M, Y = RED, GREEN, BLUE, CYAN, MAGENTA, YELLOW
# How a viewer shows STORED for each EXIF orientation (TIFF 6.0 / EXIF 2.3 definitions:
# the value says where the stored 0th row and 0th column are in the displayed picture).
DISPLAYED = {
    1: [[R, G, B], [C, M, Y]],                      # as stored
    2: [[B, G, R], [Y, M, C]],                      # mirrored left-right
    3: [[Y, M, C], [B, G, R]],                      # rotated 180°
    4: [[C, M, Y], [R, G, B]],                      # mirrored top-bottom
    5: [[R, C], [G, M], [B, Y]],                    # transposed (stored top-left stays)
    6: [[C, R], [M, G], [Y, B]],                    # rotated 90° clockwise
    7: [[Y, B], [M, G], [C, R]],                    # transverse (top-left → bottom-right)
    8: [[B, Y], [G, M], [R, C]],                    # rotated 90° anticlockwise
}
BLOCK = 8


def with_orientation(fmt: str, orientation: int, **params) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(grid_image(STORED, BLOCK), fmt, exif=exif, **params)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_applies_exif_orientation_png(orientation):
    """A PNG with EXIF Orientation n decodes exactly to what a viewer displays."""
    decoded = decode(with_orientation("PNG", orientation))
    assert_image_equal(decoded, grid_image(DISPLAYED[orientation], BLOCK))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_decode_applies_exif_orientation_jpeg(orientation):
    """A JPEG with EXIF Orientation n decodes to the displayed size and colour layout."""
    data = with_orientation("JPEG", orientation, quality=100, subsampling=0)
    decoded = decode(data)
    rows, cols = len(DISPLAYED[orientation]), len(DISPLAYED[orientation][0])
    assert decoded.size == (cols * BLOCK, rows * BLOCK)
    assert (decoded.size[0] < decoded.size[1]) == (orientation >= 5)
    np.testing.assert_allclose(block_colours(decoded, BLOCK), DISPLAYED[orientation], atol=6)


def test_decode_removes_orientation_tag():
    """After decoding, the EXIF orientation is gone, so nothing rotates the pixels twice."""
    decoded = decode(with_orientation("JPEG", 6, quality=100, subsampling=0))
    assert decoded.getexif().get(0x0112) in (None, 1)


# --------------------------------------------------------------------------------------
# decode: errors
# --------------------------------------------------------------------------------------
def test_decode_empty_bytes():
    """Empty input raises InputError 'The file is empty.'"""
    with pytest.raises(InputError) as caught:
        decode(b"")
    assert str(caught.value) == "The file is empty."


def test_decode_random_bytes():
    """Bytes that are no image raise InputError naming the formats we read."""
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(InputError) as caught:
        decode(noise)
    assert str(caught.value) == "This file is not an image we can read (JPEG, PNG or WebP)."


def test_decode_text_file():
    """A text file raises the same 'not an image' InputError."""
    with pytest.raises(InputError, match=r"^This file is not an image we can read"):
        decode(b"hello, this is a text file\n" * 10)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_decode_truncated_file(fmt):
    """A file cut in half raises InputError saying the data is damaged or incomplete."""
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise, "RGB"), fmt)
    with pytest.raises(InputError, match=r"^The image data is damaged or incomplete \(.+\)\.$"):
        decode(data[: len(data) // 2])


def test_decode_refuses_photo_over_max_pixels(monkeypatch):
    """A photo over MAX_PIXELS raises InputError giving its size and the limit."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 2_000_000)
    data = png_header_only(2000, 1001)
    with pytest.raises(InputError) as caught:
        decode(data)
    assert str(caught.value) == (
        "The photo is 2000×1001 (2 MP); the largest we can process is 2 MP."
    )


def test_decode_accepts_photo_at_max_pixels(monkeypatch):
    """A photo of exactly MAX_PIXELS is accepted."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 200)
    assert decode(encode(Image.new("RGB", (20, 10), RED), "PNG")).size == (20, 10)
    with pytest.raises(InputError, match="20×11"):
        decode(encode(Image.new("RGB", (20, 11), RED), "PNG"))


def test_decode_size_check_happens_before_pixels_are_read():
    """A header claiming 8000×8000 (64 MP) is refused as too large without decoding pixels."""
    with pytest.raises(InputError, match=r"^The photo is 8000×8000 \(64 MP\)"):
        decode(png_header_only(8000, 8000))


@pytest.mark.parametrize("width, height", [(10_000, 10_000), (20_000, 20_000)])
def test_decode_huge_photo_says_too_large(width, height):
    """A 100 MP or 400 MP photo is refused as too large, not as 'not an image'."""
    with pytest.raises(InputError, match=rf"^The photo is {width}×{height} "):
        decode(png_header_only(width, height))


# --------------------------------------------------------------------------------------
# Exact answers at the edges (found by mutation testing, bench/mutation.py)
# --------------------------------------------------------------------------------------
def test_to_rgb_16_bit_every_value_rounds_half_up():
    """Every 16-bit value v becomes round(v * 255 / 65535), halves up, in all three channels."""
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    rgb = np.asarray(to_rgb(Image.fromarray(values)))
    expected = (values.astype(np.int64) * 255 + 32767) // 65535
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], expected)


@pytest.mark.parametrize("mode, dtype", [("I;16B", ">u2"), ("I;16L", "<u2"), ("I;16", "<u2")])
def test_to_rgb_16_bit_byte_orders_scale_to_8_bit(mode, dtype):
    """Big- and little-endian 16-bit images are scaled like I;16 (not clipped to white)."""
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    image = Image.frombytes(mode, (4, 1), values.astype(dtype).tobytes())
    assert image.mode == mode
    np.testing.assert_array_equal(np.asarray(to_rgb(image))[0], [[0] * 3, [1] * 3, [128] * 3, [255] * 3])


def test_to_rgb_32_bit_integers_outside_16_bits_are_clipped():
    """Mode I values below 0 or above 65535 become 0 and 255 (no wrap-around)."""
    image = Image.fromarray(np.array([[-70000, -5, 0, 65535, 70000, 1_000_000]], np.int32))
    assert image.mode == "I"
    np.testing.assert_array_equal(np.asarray(to_rgb(image))[0, :, 0], [0, 0, 0, 255, 255, 255])


def test_decode_size_message_rounds_megapixels():
    """The size message rounds to whole megapixels: 10300×5000 is 51.5 MP, shown as 52."""
    with pytest.raises(InputError) as caught:
        decode(png_header_only(10300, 5000))
    assert str(caught.value) == "The photo is 10300×5000 (52 MP); the largest we can process is 50 MP."


def test_decode_leaves_pillows_own_size_limit_in_place():
    """decode lifts Pillow's decompression-bomb limit only while it opens the file: the
    limit is back afterwards, for a photo it accepts and for one it refuses."""
    before = Image.MAX_IMAGE_PIXELS
    assert before is not None
    decode(encode(grid_image([[RED, GREEN]]), "PNG"))
    assert Image.MAX_IMAGE_PIXELS == before
    with pytest.raises(InputError):
        decode(png_header_only(20_000, 20_000))
    assert Image.MAX_IMAGE_PIXELS == before


# --------------------------------------------------------------------------------------
# decode: messy input (issue 9): bombs, downscaling with consent, animations, files that
# are not what their name says, YCCK, the file's own alpha and colour profile, bad EXIF
# --------------------------------------------------------------------------------------
def gif_header_only(width: int, height: int) -> bytes:
    """A GIF whose logical screen is `width`×`height`, with one 1×1 frame."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
            + b",\0\0\0\0\1\0\1\0\0" + b"\x02\x02\x44\x01\0" + b";")


@pytest.mark.parametrize("data, size", [
    (png_header_only(100_000, 100_000), "100000×100000"),
    (gif_header_only(65_535, 65_535), "65535×65535"),
], ids=["png", "gif"])
def test_decompression_bomb_gets_the_size_message_before_any_pixel(data, size, monkeypatch):
    """A file of a few dozen bytes declaring 10 or 4.3 gigapixels: the size message, too large
    even to downscale, and no pixel decoded (load is never called)."""
    loads = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(self) or None)
    with pytest.raises(TooLargeError) as caught:
        decode(data, downscale=True)
    assert str(caught.value).startswith(f"The photo is {size} (")
    assert "too large even to downscale" in str(caught.value)
    assert not caught.value.downscalable and loads == []


def test_pixel_data_that_expands_a_thousandfold_within_the_limit_still_decodes():
    """A flat 4000×4000 PNG (48 MB of pixels from about 50 kB) is a photo, not a bomb."""
    data = encode(Image.new("RGB", (4000, 4000), (30, 60, 90)), "PNG")
    assert len(data) < 100_000
    decoded = decode(data)
    assert decoded.size == (4000, 4000)
    assert decoded.getextrema() == ((30, 30), (60, 60), (90, 90))


def test_downscaled_size_keeps_the_shape_within_the_limit():
    """The largest size of the same shape within the limit; a 1-pixel side stays 1."""
    assert preprocess.downscaled_size(9000, 6000, 50_000_000) == (8660, 5773)
    assert preprocess.downscaled_size(4000, 3000, 50_000_000) == (4000, 3000)
    assert preprocess.downscaled_size(3_019_898_912, 24, 50_000_000) == (50_000_000, 1)


def test_too_large_error_says_the_size_and_offers_to_downscale(monkeypatch):
    """Over the limit: TooLargeError with the size, the limit, and that it can be downscaled."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 2_000)
    with pytest.raises(TooLargeError) as caught:
        decode(encode(Image.new("RGB", (60, 40), RED), "PNG"))
    error = caught.value
    assert (error.width, error.height, error.limit, error.downscalable) == (60, 40, 2_000, True)
    assert isinstance(error, InputError)
    assert str(error) == "The photo is 60×40 (0 MP); the largest we can process is 0 MP."


def test_with_consent_a_photo_over_the_limit_is_downscaled_to_fit(monkeypatch):
    """downscale=True: the photo comes back at the largest size of its shape within the
    limit, upright, its colours kept, with a note saying so."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 300)
    photo = preprocess.decode_photo(with_orientation("PNG", 6), downscale=True)   # 24×16 stored
    assert photo.image.size == (14, 21)                  # upright: 21×14 stored
    np.testing.assert_allclose(np.asarray(photo.image)[2, 2], CYAN, atol=2)          # top-left displayed
    assert photo.notes == ("Downscaled from 24×16 to 21×14 to fit the 0 MP limit.",)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_when_downscaled(monkeypatch):
    """A JPEG far over the limit is decoded at 1/2, 1/4 or 1/8 size (Image.draft), never at
    full size, then resized to fit."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 1_200)
    data = encode(grid_image([[RED, BLUE]], block=160), "JPEG", quality=95)
    decoded_sizes = []
    load = Image.Image.load

    def spy(self):
        decoded_sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    image = decode(data, downscale=True)
    assert decoded_sizes[0] == (80, 40)                  # 320×160 decoded at 1/4
    assert image.size == (48, 24)
    np.testing.assert_allclose(np.asarray(image)[12, [6, 42]], [RED, BLUE], atol=12)


def test_a_photo_too_large_to_downscale_is_refused_even_with_consent():
    """A 400 MP PNG cannot be decoded within MAX_DECODE_PIXELS: refused, without the offer."""
    with pytest.raises(TooLargeError) as caught:
        decode(png_header_only(20_000, 20_000), downscale=True)
    assert not caught.value.downscalable


def _frames(fmt: str, **params) -> bytes:
    frames = [Image.new("RGB", (8, 6), colour) for colour in (GREEN, RED, BLUE)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_image_gives_its_first_frame_and_says_so(fmt):
    """An animated GIF, WebP or PNG: the first frame, and the note that says so."""
    photo = preprocess.decode_photo(_frames(fmt))
    assert photo.image.size == (8, 6)
    np.testing.assert_allclose(np.asarray(photo.image)[3, 4], GREEN, atol=2)
    assert photo.notes == ("Animated image: the first frame was used.",)


def test_a_still_gif_has_no_note():
    """A single-frame GIF decodes without a note."""
    assert preprocess.decode_photo(encode(Image.new("P", (4, 4)), "GIF")).notes == ()


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    """The start of an ISO base media file (HEIC, AVIF, MP4): its ftyp box, then junk."""
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0\0\0\x08mdat" + bytes(200)


@pytest.mark.parametrize("data, start", [
    (iso_media(b"heic", b"mif1", b"heic"), "This is a HEIC/HEIF photo (the iPhone's format)"),
    (iso_media(b"mif1", b"heic"), "This is a HEIC/HEIF photo"),
    (iso_media(b"avif", b"mif1", b"miaf"), "This is an AVIF image"),
    (iso_media(b"mif1", b"avif"), "This is an AVIF image"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "This is an SVG drawing"),
    (b"\xef\xbb\xbf  <svg viewBox='0 0 1 1'></svg>", "This is an SVG drawing"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "This is a PDF document, not an image."),
    (b"PK\x03\x04\x14\0\0\0\x08\0" + bytes(40), "This is a ZIP archive, not an image."),
    (iso_media(b"isom", b"mp41"), "This file is not an image we can read (JPEG, PNG or WebP)."),
    (b"<?xml version='1.0'?><html/>", "This file is not an image we can read"),
], ids=["heic", "heic-mif1", "avif", "avif-mif1", "svg", "svg-bom", "pdf", "zip", "mp4", "xml"])
def test_a_file_that_is_not_a_photo_is_named_when_its_first_bytes_say_what_it_is(data, start):
    """HEIC/HEIF, AVIF, SVG, PDF and ZIP (e.g. renamed to .jpg) get a message naming what
    they are and what to do; anything else the general one."""
    with pytest.raises(InputError) as caught:
        decode(data)
    assert str(caught.value).startswith(start), str(caught.value)
    assert type(caught.value) is InputError


def test_heic_message_says_how_to_get_a_jpeg():
    with pytest.raises(InputError, match=r"can't be read here yet\. Export it as JPEG"):
        decode(iso_media(b"heix", b"mif1"))


def ycck_jpeg(cmyk: np.ndarray) -> bytes:
    """A YCCK JPEG (Adobe APP14 transform 2) of `cmyk`, (H, W, 4) CMYK as Pillow reads it.

    Pillow cannot write YCCK, so: the YCbCr of (C, M, Y) and 255 - K are written as a
    4-channel JPEG (Pillow writes CMYK inverted, as Adobe does), and the Adobe marker's
    transform byte is changed from 0 (CMYK) to 2 (YCCK).
    """
    c, m, y = (cmyk[..., i].astype(np.float64) for i in range(3))
    stored = np.dstack([0.299 * c + 0.587 * m + 0.114 * y,
                        -0.168736 * c - 0.331264 * m + 0.5 * y + 128,
                        0.5 * c - 0.418688 * m - 0.081312 * y + 128,
                        255 - cmyk[..., 3]])
    pixels = (255 - np.clip(np.round(stored), 0, 255)).astype(np.uint8)
    data = bytearray(encode(Image.fromarray(pixels, "CMYK"), "JPEG", quality=100))
    adobe = data.find(b"Adobe\0")
    assert adobe > 0 and data[adobe + 11] == 0
    data[adobe + 11] = 2
    return bytes(data)


def test_decode_ycck_jpeg_gives_the_right_colours():
    """A YCCK JPEG's red, green, blue, 50 % grey (K only) and a mixed colour come out as
    Pillow converts the same CMYK values (red = C 0, M 100 %, Y 100 %)."""
    colours = [(0, 255, 255, 0), (255, 0, 255, 0), (255, 255, 0, 0), (0, 0, 0, 128), (40, 90, 10, 20)]
    cmyk = np.repeat(np.asarray(colours, np.uint8)[:, None, :], 16, axis=1).repeat(16, axis=0)
    data = ycck_jpeg(cmyk)
    assert Image.open(io.BytesIO(data)).info["adobe_transform"] == 2
    decoded = decode(data)
    got = np.asarray(decoded, np.int32)[8::16, 8]
    np.testing.assert_allclose(got[:3], [RED, GREEN, BLUE], atol=3)
    np.testing.assert_allclose(got, np.asarray(Image.fromarray(cmyk, "CMYK").convert("RGB"))[8::16, 8], atol=3)


def test_the_files_own_alpha_is_kept_beside_the_rgb():
    """An RGBA PNG with transparent pixels: RGB as stored, and its alpha in Photo.alpha."""
    pixels = np.array([[[255, 0, 0, 0], [0, 0, 255, 128], [9, 8, 7, 255]]], dtype=np.uint8)
    photo = preprocess.decode_photo(encode(Image.fromarray(pixels, "RGBA"), "PNG"))
    np.testing.assert_array_equal(np.asarray(photo.image), pixels[..., :3])
    np.testing.assert_array_equal(photo.alpha, [[0, 128, 255]])


@pytest.mark.parametrize("transparency", [1, b"\xff\x00\x80"], ids=["index", "alpha-bytes"])
def test_palette_transparency_becomes_the_alpha(transparency):
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    image.putdata([0, 1, 2])
    photo = preprocess.decode_photo(encode(image, "PNG", transparency=transparency))
    expected = [[255, 0, 255]] if transparency == 1 else [[255, 0, 128]]
    np.testing.assert_array_equal(photo.alpha, expected)


def test_an_opaque_alpha_channel_is_no_alpha():
    """An RGBA PNG whose every pixel is opaque has nothing to keep: alpha is None."""
    assert preprocess.decode_photo(encode(Image.new("RGBA", (4, 4), RED + (255,)), "PNG")).alpha is None


def test_the_alpha_turns_with_the_photo():
    """EXIF orientation 6 (rotate 90° clockwise) turns the alpha as it turns the pixels."""
    alpha = np.zeros((2, 3), np.uint8)
    alpha[0, 0] = 200                                  # stored top-left
    image = Image.new("RGB", (3, 2), RED)
    image.putalpha(Image.fromarray(alpha, "L"))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = preprocess.decode_photo(encode(image, "PNG", exif=exif))
    assert photo.image.size == (2, 3)
    np.testing.assert_array_equal(photo.alpha, [[0, 200], [0, 0], [0, 0]])   # now top-right


def srgb_profile() -> bytes:
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def test_an_rgb_colour_profile_is_kept_for_the_png():
    """A JPEG with an embedded RGB profile: the pixels as stored, the profile's bytes kept."""
    profile = srgb_profile()
    photo = preprocess.decode_photo(encode(Image.new("RGB", (8, 8), RED), "JPEG", icc_profile=profile))
    assert photo.icc_profile == profile


def test_a_cmyk_profile_is_not_kept():
    """A CMYK JPEG's profile describes ink, not the RGB pixels decode returns: dropped."""
    profile = bytearray(srgb_profile())
    profile[16:20] = b"CMYK"
    data = encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", icc_profile=bytes(profile))
    assert preprocess.decode_photo(data).icc_profile is None


def test_damaged_exif_costs_the_orientation_not_the_photo():
    """A WebP whose EXIF block is not valid TIFF (which made ImageOps.exif_transpose raise
    SyntaxError, found by tests/unit/test_decode_fuzz.py): decoded as stored, with a note."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = bytearray(encode(grid_image(STORED, BLOCK), "WEBP", lossless=True, exif=exif))
    at = data.find(b"MM\0*")
    data[at] = 0
    photo = preprocess.decode_photo(bytes(data))
    assert_image_equal(photo.image, grid_image(STORED, BLOCK))
    assert photo.notes == ("The photo's EXIF data is damaged, so its orientation is unknown: it is shown as stored.",)


def test_decoded_image_carries_no_metadata():
    """EXIF (with GPS), XMP and the profile are not left on the decoded image."""
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.5)}
    image = decode(encode(Image.new("RGB", (8, 8), RED), "JPEG", exif=exif, icc_profile=srgb_profile()))
    assert image.info == {}
    assert dict(image.getexif()) == {}


def test_running_out_of_memory_is_a_message(monkeypatch):
    """MemoryError while decoding (a 32-bit browser tab) is an InputError that says what to do."""
    def no_memory(self):
        raise MemoryError
    data = encode(Image.new("RGB", (8, 8), RED), "PNG")
    monkeypatch.setattr(Image.Image, "load", no_memory)
    with pytest.raises(InputError, match=r"^There is not enough memory to open this 8×8 photo here\."):
        decode(data)
