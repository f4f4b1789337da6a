"""The small filters behind the refinement, against brute-force references."""
import numpy as np
import pytest

from app.core import filters
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


# --------------------------------------------------------------------------------------
# Exact answers for the paths the refinement takes less often (found by mutation
# testing, bench/mutation.py): several channels, float64 input, radius 1, windows
# wider than the array, the grey morphology and singular 3x3 matrices.
# --------------------------------------------------------------------------------------
from app.core.filters import block_means, grey_dilate, grey_erode, inverse_sym3, window_sum  # noqa: E402


def brute_box(values, radius):
    """Mean of the edge-padded (2r+1)^2 window, one window at a time (float64)."""
    height, width = values.shape[:2]
    pad = [(radius, radius), (radius, radius)] + [(0, 0)] * (values.ndim - 2)
    padded = np.pad(np.asarray(values, np.float64), pad, mode="edge")
    side = 2 * radius + 1
    out = np.empty(values.shape, np.float64)
    for y in range(height):
        for x in range(width):
            out[y, x] = padded[y:y + side, x:x + side].mean(axis=(0, 1))
    return out


def brute_reach(values, radius, pick):
    """`pick` (np.max or np.min) of the image's own values in each (2r+1)^2 window."""
    height, width = values.shape
    return np.array([[pick(values[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1])
                      for x in range(width)] for y in range(height)], np.float32)


def checkerboard(height, width):
    return (np.indices((height, width)).sum(axis=0) % 2).astype(np.float32)


@pytest.mark.parametrize("shape, radius", [
    ((5, 7), 1),          # the smallest window
    ((4, 4), 3),          # side = radius + 1: every shift reaches across the array
    ((2, 9), 3),          # rows fewer than the radius: padded and summed directly
    ((4, 6), 4),          # rows exactly the radius: still the direct path
    ((3, 11, 2), 2),      # two channels, rows within the radius
])
def test_box_matches_brute_force_on_small_arrays_and_radii(shape, radius):
    """box(x, r) is the mean of the edge-padded window also for radius 1 and for arrays
    no wider than the window, with channels, and returns float32 for float64 input."""
    values = np.random.default_rng(radius).random(shape)          # float64
    out = box(values, radius)
    assert out.dtype == np.float32 and out.shape == shape
    np.testing.assert_allclose(out, brute_box(values, radius), atol=1e-6)


def test_box_radius_zero_is_the_input():
    """box(x, 0) is x (a 1x1 window)."""
    values = np.random.default_rng(0).random((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(box(values, 0), values)


def test_window_sum_truncates_windows_wider_than_the_array():
    """window_sum adds the values inside the array only, for radii up to and past its size."""
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    for radius in (1, 2, 3, 5):
        expected = [[values[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1].sum()
                     for x in range(4)] for y in range(3)]
        np.testing.assert_array_equal(window_sum(values, radius), expected)


@pytest.mark.parametrize("width", [1, 2, 5, 40, 63, 64, 100])
def test_window_sum_over_short_rows_adds_the_same_values_in_the_same_order(monkeypatch, width):
    """Stacks of short rows (the Laplacian's tiles) are summed as one flat array with
    zeros between rows: bit for bit what summing each row in turn gives, for rows
    shorter and longer than the radius and on both sides of SHORT_ROWS."""
    values = np.random.default_rng(width).normal(size=(3, 7, width)).astype(np.float32)
    fast = window_sum(values, 2)
    monkeypatch.setattr(filters, "SHORT_ROWS", 0)          # every row on its own
    slow = window_sum(values, 2)
    assert fast.flags.c_contiguous and fast.dtype == np.float32
    assert fast.tobytes() == slow.tobytes()


def test_block_means_exact_with_partial_blocks():
    """block_means averages each block, a partial last block over its own pixels; float64
    input is read as numbers (not bytes); block 1 gives the values back."""
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.testing.assert_array_equal(block_means(values, 2), [[2.5, 4.5], [8.5, 10.5]])
    np.testing.assert_array_equal(block_means(values, 3), [[5, 7]])
    np.testing.assert_array_equal(block_means(values, 1), values)


def test_blur_block_one_is_the_input_and_block_two_averages_a_checkerboard():
    """blur(x, 1) changes nothing (but is float32); blur(x, 2) of a one-pixel checkerboard
    is 0.5 everywhere (every 2x2 block mean is 0.5)."""
    board = checkerboard(8, 10)
    np.testing.assert_array_equal(blur(board, 1), board)
    assert blur(board.astype(np.float64), 1).dtype == np.float32
    np.testing.assert_array_equal(blur(board, 2), np.full((8, 10), 0.5, np.float32))


def test_blur_and_resize_of_channels_are_per_channel_and_float32():
    """A (H, W, 3) float64 array is blurred / resized channel by channel into (h, w, 3)
    float32, equal to the single-channel results."""
    rng = np.random.default_rng(4)
    values = rng.random((12, 17, 3))                                 # float64
    blurred = blur(values, 4)
    assert blurred.dtype == np.float32 and blurred.shape == (12, 17, 3)
    resized = resize(values, (9, 5))
    assert resized.dtype == np.float32 and resized.shape == (5, 9, 3)
    boxed = resize(values, (6, 4), box=(2, 3, 14, 11))
    assert boxed.shape == (4, 6, 3)
    for c in range(3):
        plane = values[..., c].astype(np.float32)
        np.testing.assert_array_equal(blurred[..., c], blur(plane, 4))
        np.testing.assert_array_equal(resized[..., c], resize(plane, (9, 5)))
        np.testing.assert_array_equal(boxed[..., c], resize(plane, (6, 4), box=(2, 3, 14, 11)))
    np.testing.assert_allclose(resize(values[..., 0], (9, 5)), resized[..., 0], atol=1e-6)


@pytest.mark.parametrize("radius", [1, 2, 3, 6])
def test_grey_dilate_and_erode_use_only_the_images_own_values(radius):
    """Maximum / minimum over the (2r+1)^2 window, the border windows truncated (never a
    0 from outside: values are all negative for the maximum, all positive for the
    minimum); integer input gives float32."""
    rng = np.random.default_rng(radius)
    negative = -1 - rng.random((9, 13)).astype(np.float32)
    positive = 1 + rng.random((9, 13)).astype(np.float32)
    np.testing.assert_array_equal(grey_dilate(negative, radius), brute_reach(negative, radius, np.max))
    np.testing.assert_array_equal(grey_erode(positive, radius), brute_reach(positive, radius, np.min))
    levels = rng.integers(1, 255, (9, 13)).astype(np.uint8)
    for pick, op in ((np.max, grey_dilate), (np.min, grey_erode)):
        out = op(levels, radius)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, brute_reach(levels.astype(np.float32), radius, pick))


def test_dilate_and_erode_take_any_truthy_mask_and_return_bool():
    """A 0/1 or 0/255 uint8 mask gives the same bool result as the bool mask (a sparse
    mask to dilate, a dense one to erode, so that neither answer is empty)."""
    rng = np.random.default_rng(5)
    noise = rng.random((15, 18))
    for op, mask in ((dilate, noise > 0.8), (erode, noise > 0.05)):
        expected = op(mask, 1)
        assert expected.any() and not expected.all()
        for levels in (mask.astype(np.uint8), mask.astype(np.uint8) * 255):
            out = op(levels, 1)
            assert out.dtype == bool
            np.testing.assert_array_equal(out, expected)


def test_inverse_sym3_inverts_and_zeroes_singular_matrices():
    """Per pixel, the six entries of the inverse of a symmetric positive-definite matrix
    (as numpy.linalg.inv); a singular or indefinite matrix gives exactly 0."""
    rng = np.random.default_rng(6)
    basis = rng.normal(size=(6, 7, 3, 3))
    matrices = basis @ basis.transpose(0, 1, 3, 2) + 0.1 * np.eye(3)    # SPD
    matrices[::2, ::3] = [[1, 0, 1], [0, 1, 1], [1, 1, 2]]             # singular
    matrices[1::2, 1::3] = [[1, 0, 2], [0, 1, 0], [2, 0, 1]]           # determinant -3
    singular = np.zeros((6, 7), bool)
    singular[::2, ::3] = singular[1::2, 1::3] = True
    m = matrices.astype(np.float32)
    entries = inverse_sym3(m[..., 0, 0], m[..., 0, 1], m[..., 0, 2], m[..., 1, 1], m[..., 1, 2], m[..., 2, 2])
    inverse = np.linalg.inv(np.where(singular[..., None, None], np.eye(3), matrices))
    for value, (i, j) in zip(entries, [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]):
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value[singular], 0)
        np.testing.assert_allclose(value[~singular], inverse[..., i, j][~singular], rtol=2e-3, atol=1e-4)
