"""The matting Laplacian operator and its conjugate-gradient refinement (app/core/laplacian.py):
exact window sums, the operator's defining properties, tiles that give exactly the
whole-image answer, and a refinement that moves a wrong edge towards the truth."""
import numpy as np
import pytest

from app.core import laplacian
from app.core.filters import window_sum
from app.core.laplacian import MattingLaplacian, Tiles

from tests.helpers import composite, disc_alpha

RNG = np.random.default_rng(7)


def random_planes(height, width, rng=RNG):
    return [rng.random((height, width)).astype(np.float32) for _ in range(3)]


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_window_sum_matches_a_brute_force_sum_truncated_at_the_border(radius):
    values = RNG.random((2, 9, 13)).astype(np.float32)
    expected = np.zeros_like(values)
    for y in range(9):
        for x in range(13):
            window = values[:, max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1]
            expected[:, y, x] = window.sum(axis=(1, 2))
    np.testing.assert_allclose(window_sum(values, radius), expected, rtol=1e-5)
    np.testing.assert_allclose(window_sum(values[0], radius), expected[0], rtol=1e-5)


def test_laplacian_is_symmetric_positive_semidefinite_and_blind_to_constants():
    planes = random_planes(40, 50)
    operator = MattingLaplacian(planes)
    u, v = (RNG.random((40, 50)).astype(np.float32) for _ in range(2))
    lu, lv = operator(u), operator(v)
    assert abs(np.vdot(lu, v) - np.vdot(u, lv)) < 1e-3 * abs(np.vdot(lu, v))
    assert np.vdot(lu, u) > 0 and np.vdot(lv, v) > 0
    assert np.abs(operator(np.full((40, 50), 0.7, np.float32))).max() < 1e-4


def test_a_matte_linear_in_the_colours_costs_almost_nothing():
    """alpha = a.I + b is what every window fits: L of it is tiny next to L of noise."""
    planes = random_planes(40, 50)
    operator = MattingLaplacian(planes, eps=1e-7)
    linear = 0.3 * planes[0] - 0.2 * planes[1] + 0.5 * planes[2] + 0.1
    noise = RNG.random((40, 50)).astype(np.float32)
    assert np.abs(operator(linear)).mean() < 0.01 * np.abs(operator(noise)).mean()


@pytest.mark.parametrize("region", [
    (slice(40, 45), slice(10, 120)),        # a band across the middle
    (slice(0, 3), slice(0, 5)),             # a corner of the image
    (slice(97, None), slice(125, None)),    # the far corner, in a cell cut by the border
])
def test_tiles_give_exactly_the_whole_image_operator(region):
    height, width = 100, 130
    planes = random_planes(height, width)
    selected = np.zeros((height, width), bool)
    selected[region] = True
    p = (RNG.random((height, width)) * selected).astype(np.float32)
    whole = MattingLaplacian(planes)(p)
    tiles = Tiles(selected, margin=2 * laplacian.RADIUS)
    stacked = MattingLaplacian([tiles.with_margin(c) for c in planes],
                               valid=tiles.with_margin(np.ones((height, width), np.float32)))
    real = tiles.cells(np.ones((height, width), np.float32)) > 0
    np.testing.assert_allclose(tiles.core(stacked(tiles.spread(tiles.cells(p))))[real],
                               tiles.cells(whole)[real], atol=1e-3)
    assert len(tiles) < tiles.ny * tiles.nx                 # only the cells that are needed


def test_tiles_put_writes_back_only_the_selected_cells():
    selected = np.zeros((70, 90), bool)
    selected[5, 5] = selected[60, 80] = True
    tiles = Tiles(selected, margin=4, tile=16)
    values = RNG.random((70, 90)).astype(np.float32)
    out = np.zeros_like(values)
    tiles.put(out, tiles.cells(values))
    assert len(tiles) == 2
    assert np.array_equal(out[:16, :16], values[:16, :16])
    assert np.array_equal(out[48:64, 80:], values[48:64, 80:])
    assert np.count_nonzero(out) == np.count_nonzero(values[:16, :16]) + np.count_nonzero(values[48:64, 80:])


def test_refine_moves_a_wrong_soft_edge_towards_the_truth_and_nothing_else():
    """A crisp disc on a two-colour scene, started from a too-wide, too-soft guess:
    after the default ten steps the band is ten times closer to the truth; outside it nothing moved."""
    truth = disc_alpha((96, 96), 28, 2)
    planes = [np.ascontiguousarray(c) for c in np.moveaxis(composite(truth), -1, 0)]
    start = disc_alpha((96, 96), 30, 12)
    band = (start > 0.02) & (start < 0.98)
    weight = np.full(truth.shape, 0.01, np.float32)
    refined = laplacian.refine(planes, start, band, weight)
    before = np.abs(start - truth)[band].mean()
    after = np.abs(refined - truth)[band].mean()
    assert after < 0.1 * before                 # measured: 0.25 -> 0.0045
    assert np.array_equal(refined[~band], start[~band])
    assert refined.min() >= 0 and refined.max() <= 1


def test_refine_with_nothing_movable_returns_the_start():
    planes = random_planes(20, 20)
    start = RNG.random((20, 20)).astype(np.float32)
    out = laplacian.refine(planes, start, np.zeros((20, 20), bool), np.ones((20, 20), np.float32))
    assert np.array_equal(out, start) and out is not start


def test_refine_survives_flat_colours():
    """A flat photo makes every covariance singular but for eps: no NaN, no change."""
    planes = [np.full((30, 30), 0.5, np.float32)] * 3
    start = disc_alpha((30, 30), 8, 6)
    out = laplacian.refine(planes, start, (start > 0) & (start < 1), np.full((30, 30), 0.3, np.float32))
    assert np.isfinite(out).all()
