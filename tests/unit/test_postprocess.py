"""Unit tests for app.core.postprocess: mask normalisation, upscaling, 8-bit alpha,
compositing and PNG encoding, on masks and images of a few pixels.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from app.core import postprocess
from app.core.postprocess import (
    PNG_COMPRESS_LEVEL, clear_hidden, compose_rgba, encode_png, normalise_mask, to_alpha8, upscale_mask,
)
from tests import helpers, photos
from tests.helpers import assert_image_equal, assert_image_similar, encode, gradient_photo


# --------------------------------------------------------------------------------------
# normalise_mask
# --------------------------------------------------------------------------------------
def test_normalise_mask_min_max_exact():
    """Min-max normalisation: min → 0.0, max → 1.0 exactly, others (x - min) / (max - min)."""
    raw = np.array([[0.2, 0.7], [0.45, 0.325]], dtype=np.float32)
    mask = normalise_mask(raw)
    assert mask.dtype == np.float32 and mask.shape == (2, 2)
    assert mask[0, 0] == 0.0 and mask[0, 1] == 1.0
    np.testing.assert_allclose(mask, [[0.0, 1.0], [0.5, 0.25]], rtol=0, atol=1e-6)


def test_normalise_mask_already_full_range_unchanged():
    """A mask already spanning exactly [0, 1] comes back bit-identical."""
    raw = np.array([[0.0, 0.25], [0.5, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(normalise_mask(raw), raw)


def test_normalise_mask_accepts_model_output_shape():
    """A (1, 1, S, S) model output becomes (S, S) with the same normalised values."""
    raw = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) * 2 + 3
    mask = normalise_mask(raw)
    assert mask.shape == (4, 4)
    np.testing.assert_allclose(mask, np.arange(16).reshape(4, 4) / 15, rtol=0, atol=1e-6)


def test_normalise_mask_float64_input_becomes_float32():
    """A float64 input is normalised into float32."""
    mask = normalise_mask(np.array([[-2.0, 2.0]], dtype=np.float64))
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, [[0.0, 1.0]])


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0, -3.0])
def test_normalise_mask_constant_is_zeros(value):
    """A constant output (nothing found) becomes all zeros, not NaN from 0/0."""
    mask = normalise_mask(np.full((1, 1, 3, 3), value, dtype=np.float32))
    np.testing.assert_array_equal(mask, np.zeros((3, 3), dtype=np.float32))
    assert mask.dtype == np.float32


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_normalise_mask_rejects_non_finite(bad):
    """NaN or ±inf anywhere in the output raises ValueError."""
    raw = np.zeros((4, 4), dtype=np.float32)
    raw[2, 1] = bad
    with pytest.raises(ValueError, match="non-finite"):
        normalise_mask(raw)


# --------------------------------------------------------------------------------------
# upscale_mask
# --------------------------------------------------------------------------------------
def test_upscale_mask_non_square_size_is_width_height():
    """size is (width, height): a 4×4 mask to (6, 16) gives a (16, 6) array, top half on."""
    mask = np.zeros((4, 4), dtype=np.float32)
    mask[:2, :] = 1.0                                   # top half
    alpha = upscale_mask(mask, (6, 16))
    assert alpha.shape == (16, 6) and alpha.dtype == np.uint8
    np.testing.assert_array_equal(alpha[:6], 255)
    np.testing.assert_array_equal(alpha[10:], 0)
    np.testing.assert_array_equal(alpha, np.tile(alpha[:, :1], (1, 6)))   # rows are uniform


def test_upscale_mask_step_edge_stays_in_place():
    """Left half 1, right half 0, ×4: columns 0-5 are 255, 10-15 are 0, the ramp is
    centred on the half-way line (column x and 15-x sum to 255) and falls monotonically.
    """
    mask = np.zeros((4, 4), dtype=np.float32)
    mask[:, :2] = 1.0
    alpha = upscale_mask(mask, (16, 16))
    row = alpha[0].astype(int)
    np.testing.assert_array_equal(alpha, np.tile(alpha[:1], (16, 1)))
    np.testing.assert_array_equal(row[:6], 255)
    np.testing.assert_array_equal(row[10:], 0)
    np.testing.assert_array_equal(row + row[::-1], 255)
    assert np.all(np.diff(row) <= 0)
    # Bilinear weights for x = 6..9: 7/8, 5/8, 3/8, 1/8 of 255, rounded.
    np.testing.assert_array_equal(row[6:10], [223, 159, 96, 32])


def test_upscale_mask_values_in_range_and_identity_size():
    """Bilinear never overshoots: a mask in [0.2, 0.6] gives alpha in [51, 153]; at its
    own size the result is exactly to_alpha8 of the mask.
    """
    mask = np.random.default_rng(3).uniform(0.2, 0.6, (8, 8)).astype(np.float32)
    mask[0, 0], mask[7, 7] = 0.2, 0.6
    np.testing.assert_array_equal(upscale_mask(mask, (8, 8)), to_alpha8(mask))
    alpha = upscale_mask(mask, (37, 23))
    assert alpha.shape == (23, 37) and alpha.dtype == np.uint8
    assert 51 <= alpha.min() and alpha.max() <= 153
    assert alpha.max() - alpha.min() > 50             # not flattened


def test_upscale_mask_downscale_also_works():
    """A larger mask shrinks to a smaller photo (a 1024² mask for a 300×200 photo)."""
    mask = np.zeros((1024, 1024), dtype=np.float32)
    mask[:, :512] = 1.0
    alpha = upscale_mask(mask, (300, 200))
    assert alpha.shape == (200, 300)
    np.testing.assert_array_equal(alpha[:, :148], 255)
    np.testing.assert_array_equal(alpha[:, 152:], 0)


# --------------------------------------------------------------------------------------
# to_alpha8
# --------------------------------------------------------------------------------------
def test_to_alpha8_rounds_and_clips():
    """[0, 1] → uint8 rounding half up (0.5 → 128) and clipping outside the range."""
    values = np.array([-0.1, 0.0, 0.001, 0.002, 0.5, 0.998, 1.0, 1.2], dtype=np.float32)
    alpha = to_alpha8(values)
    assert alpha.dtype == np.uint8
    np.testing.assert_array_equal(alpha, [0, 0, 0, 1, 128, 254, 255, 255])


def test_to_alpha8_every_level_round_trips():
    """k/255 maps back to k for every 8-bit level k."""
    levels = np.arange(256)
    np.testing.assert_array_equal(to_alpha8(levels.astype(np.float32) / np.float32(255)), levels)


# --------------------------------------------------------------------------------------
# compose_rgba and encode_png
# --------------------------------------------------------------------------------------
def test_compose_rgba_keeps_rgb_and_sets_alpha():
    """compose_rgba keeps the photo's RGB exactly and uses the given alpha exactly."""
    photo = gradient_photo(5, 3)
    alpha = np.arange(15, dtype=np.uint8).reshape(3, 5) * 17
    rgba = compose_rgba(photo, alpha)
    assert (rgba.mode, rgba.size) == ("RGBA", (5, 3))
    pixels = np.asarray(rgba)
    np.testing.assert_array_equal(pixels[..., :3], np.asarray(photo))
    np.testing.assert_array_equal(pixels[..., 3], alpha)


def test_compose_rgba_does_not_modify_the_photo():
    """The input photo stays an unchanged RGB image."""
    photo = gradient_photo(4, 4)
    before = photo.copy()
    compose_rgba(photo, np.zeros((4, 4), dtype=np.uint8))
    assert photo.mode == "RGB"
    assert_image_equal(photo, before)


@pytest.mark.parametrize("shape", [(5, 3), (3, 4), (3, 5, 1), (15,)])
def test_compose_rgba_size_mismatch(shape):
    """An alpha not shaped (height, width) raises ValueError naming both shapes."""
    with pytest.raises(ValueError, match=r"does not match image \(5, 3\)"):
        compose_rgba(gradient_photo(5, 3), np.zeros(shape, dtype=np.uint8))


def test_encode_png_round_trips():
    """encode_png gives PNG bytes that decode to the same RGBA pixels."""
    rgba = compose_rgba(gradient_photo(7, 5), np.arange(35, dtype=np.uint8).reshape(5, 7) * 7)
    data = encode_png(rgba)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG"
    assert_image_equal(decoded.convert("RGBA"), rgba)
    assert decoded.mode == "RGBA"


def test_encode_png_uses_given_compress_level():
    """encode_png compresses at zlib level 1 by default and at the level asked for: the
    two files differ in bytes (level 9 is smaller) but not in pixels."""
    assert PNG_COMPRESS_LEVEL == 1
    rgba = compose_rgba(gradient_photo(64, 64), np.full((64, 64), 200, dtype=np.uint8))
    fast, small = encode_png(rgba), encode_png(rgba, compress_level=9)
    assert fast != small and len(small) < len(fast)
    assert_image_equal(Image.open(io.BytesIO(small)), Image.open(io.BytesIO(fast)))
    assert_image_equal(Image.open(io.BytesIO(fast)), rgba)


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "P", "1"])
@pytest.mark.parametrize("height", [1, 5, 300, 513])
def test_encode_png_round_trips_every_mode_and_row_block(monkeypatch, mode, height):
    """Written here (8-bit L, LA, RGB, RGBA; rows filtered and compressed a block at a
    time, blocks that end mid-image included) or by Pillow (other modes), the PNG
    decodes to the very pixels, mode and size, and passes Pillow's CRC checks."""
    monkeypatch.setattr(postprocess, "PNG_ROWS", 256)
    rng = np.random.default_rng(height)
    noise = Image.fromarray(rng.integers(0, 256, (height, 37, 4), dtype=np.uint8), "RGBA")
    image = noise.convert(mode)
    decoded = Image.open(io.BytesIO(encode_png(image)))
    decoded.verify()
    decoded = Image.open(io.BytesIO(encode_png(image)))
    assert (decoded.format, decoded.mode, decoded.size) == ("PNG", mode, image.size)
    assert decoded.tobytes() == image.tobytes()


def test_encode_png_is_about_as_small_as_pillows_on_a_photo():
    """On a cutout of a real photo the Up-filtered file is within 10 % of Pillow's at
    level 1 (each row's best filter)."""
    cat = photos.image("cat")
    alpha = np.zeros((cat.height, cat.width), np.uint8)
    alpha[40:-40, 60:-60] = 255
    alpha[30:40, 50:-50] = 128
    rgba = compose_rgba(cat, alpha)
    assert len(encode_png(rgba)) < 1.1 * len(encode(rgba, "PNG", compress_level=1))


# --------------------------------------------------------------------------------------
# tests/helpers.py comparison (so that image tests can fail, and leave evidence)
# --------------------------------------------------------------------------------------
def test_assert_image_similar_fails_and_saves_artifacts(tmp_path, monkeypatch):
    """assert_image_similar passes within epsilon, fails beyond it, and writes a, b and diff."""
    monkeypatch.setattr(helpers, "ARTIFACTS_DIR", tmp_path)
    a = Image.new("RGB", (4, 4), (100, 100, 100))
    b = Image.new("RGB", (4, 4), (104, 100, 100))      # mean difference 4/3 per value
    assert_image_similar(a, b, 1.34)
    with pytest.raises(AssertionError, match=r"mean difference 1\.3333 > epsilon 1"):
        assert_image_similar(a, b, 1)
    (folder,) = tmp_path.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png", "diff.png"]
    with pytest.raises(AssertionError, match="sizes differ"):
        assert_image_similar(a, Image.new("RGB", (4, 5)), 255)
    with pytest.raises(AssertionError, match="modes differ"):
        assert_image_similar(a, a.convert("L"), 255)


def test_compose_rgba_refuses_non_uint8_alpha_naming_its_type():
    """A float alpha (e.g. [0, 1] before to_alpha8) is refused with its dtype named."""
    with pytest.raises(ValueError) as caught:
        compose_rgba(gradient_photo(5, 3), np.zeros((3, 5), dtype=np.float32))
    assert str(caught.value) == "alpha must be uint8, not float32"


@pytest.mark.parametrize("mode", ["L", "P"])
def test_compose_rgba_of_a_greyscale_or_palette_photo_is_rgba(mode):
    """Whatever the photo's mode, the cutout is RGBA with the photo's colours."""
    photo = gradient_photo(6, 4).convert(mode)
    alpha = np.full((4, 6), 77, dtype=np.uint8)
    rgba = compose_rgba(photo, alpha)
    assert rgba.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(rgba)[..., :3], np.asarray(photo.convert("RGB")))
    np.testing.assert_array_equal(np.asarray(rgba)[..., 3], alpha)


def test_normalise_mask_non_finite_message_is_exact():
    """The message for a broken model output is exactly this sentence."""
    with pytest.raises(ValueError, match=r"^the model returned non-finite values$"):
        normalise_mask(np.array([[0.0, np.nan]], dtype=np.float32))


def test_upscale_mask_reads_float64_masks_as_numbers():
    """A float64 mask upscales exactly like the same mask in float32."""
    mask = np.random.default_rng(8).random((6, 9))
    np.testing.assert_array_equal(upscale_mask(mask, (20, 13)), upscale_mask(mask.astype(np.float32), (20, 13)))


def test_encode_png_works_in_strips_without_a_whole_image_copy():
    """Encoding a 2000x2000 RGBA cutout (16 MB of pixels) allocates well under half of
    that beside the image: rows are read, filtered and compressed PNG_ROWS at a time."""
    import tracemalloc

    rgba = compose_rgba(Image.new("RGB", (2000, 2000), (10, 200, 30)), np.full((2000, 2000), 255, np.uint8))
    tracemalloc.start()
    try:
        data = encode_png(rgba)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * 2000 * 2000 * 4
    assert_image_equal(Image.open(io.BytesIO(data)), rgba)


# clear_hidden
def test_clear_hidden_blackens_only_fully_transparent_pixels_in_place():
    """RGB becomes 0 exactly where alpha is 0; every other pixel, alpha 1 included, is
    untouched, and the array itself is changed (no copy)."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    pixels[::3, :, 3] = 0
    pixels[1::3, :, 3] = 1
    before = pixels.copy()
    assert clear_hidden(pixels) is pixels
    hidden = before[..., 3] == 0
    assert not pixels[hidden][:, :3].any() and not pixels[hidden][:, 3].any()
    np.testing.assert_array_equal(pixels[~hidden], before[~hidden])


@pytest.mark.parametrize("pixels", [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.float32),
                                    np.zeros((4, 8, 4), np.uint8)[:, ::2]])
def test_clear_hidden_refuses_what_it_cannot_change_in_place(pixels):
    with pytest.raises(ValueError):
        clear_hidden(pixels)
