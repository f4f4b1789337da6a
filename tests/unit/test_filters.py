"""The small filters behind the refinement, against brute-force references."""
import numpy as np
import pytest

from app.core.filters import blur, box, dilate, erode, resize


def brute_dilate(mask, radius):
    height, width = mask.shape
    out = np.zeros_like(mask)
    for y, x in zip(*np.nonzero(mask)):
        out[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1] = True
    return out


@pytest.mark.parametrize("radius", [1, 2, 3, 4, 5, 7, 9])
def test_dilate_and_erode_match_a_square_structuring_element(radius):
    """dilate = OR over a (2r+1)^2 square (zero outside); erode treats outside as set."""
    rng = np.random.default_rng(radius)
    mask = rng.random((23, 31)) > 0.96
    np.testing.assert_array_equal(dilate(mask, radius), brute_dilate(mask, radius))
    full = rng.random((23, 31)) > 0.04
    np.testing.assert_array_equal(erode(full, radius), ~brute_dilate(~full, radius))


def test_box_is_the_window_mean_with_replicated_edges():
    """box(x, r) equals the mean of the edge-padded (2r+1)^2 neighbourhood."""
    rng = np.random.default_rng(0)
    values = rng.random((9, 12, 2)).astype(np.float32)
    padded = np.pad(values, ((2, 2), (2, 2), (0, 0)), mode="edge")
    expected = np.mean([padded[dy:dy + 9, dx:dx + 12] for dy in range(5) for dx in range(5)], axis=0)
    np.testing.assert_allclose(box(values, 2), expected, atol=1e-6)


def test_blur_keeps_constants_and_smooths_a_step():
    """A constant stays constant; a step becomes a monotone ramp about 2 blocks wide."""
    flat = np.full((40, 50), 0.25, np.float32)
    np.testing.assert_allclose(blur(flat, 8), flat, atol=1e-6)
    step = np.zeros((40, 64), np.float32)
    step[:, 32:] = 1
    row = blur(step, 8)[20]
    assert np.all(np.diff(row) >= -1e-6)
    assert row[:20].max() < 0.05 and row[-20:].min() > 0.95


def test_resize_tiles_line_up_with_the_whole():
    """Resizing a source box gives the same pixels as cropping the resized whole."""
    rng = np.random.default_rng(1)
    small = rng.random((20, 30)).astype(np.float32)
    whole = resize(small, (90, 60))
    tile = resize(small, (30, 21), box=(10, 6, 20, 13))
    np.testing.assert_allclose(tile, whole[18:39, 30:60], atol=1e-5)
