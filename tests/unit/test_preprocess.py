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
from app.core.errors import InputError
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
