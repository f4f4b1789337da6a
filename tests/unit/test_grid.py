"""app.core.grid: the minimum cut agrees with an exact max-flow, and the geodesic
distance with a shortest-path search, on grids small enough to solve exactly."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, dijkstra, maximum_flow

from app.core.grid import geodesic_distance, min_cut


def exact_cut(cost, weight_x, weight_y, scale=10_000):
    """The minimum cut's x = 1 side by scipy's exact max-flow (integer capacities)."""
    height, width = cost.shape
    count = height * width
    source, sink = count, count + 1
    index = np.arange(count).reshape(height, width)
    rows, cols, caps = [], [], []

    def edges(a, b, capacity):
        rows.append(np.ravel(a)), cols.append(np.ravel(b)), caps.append(np.ravel(capacity))

    edges(np.full(count, source), index, np.maximum(-cost, 0))     # cut when x = 0
    edges(index, np.full(count, sink), np.maximum(cost, 0))        # cut when x = 1
    for a, b, w in ((index[:, :-1], index[:, 1:], weight_x), (index[:-1], index[1:], weight_y)):
        edges(a, b, w)
        edges(b, a, w)
    capacity = np.round(np.concatenate(caps) * scale).astype(np.int32)
    keep = capacity > 0
    graph = csr_matrix((capacity[keep], (np.concatenate(rows)[keep], np.concatenate(cols)[keep])),
                       shape=(count + 2, count + 2))
    graph.sum_duplicates()
    residual = (graph - maximum_flow(graph, source, sink, method="dinic").flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    side = np.zeros(count + 2, bool)
    side[breadth_first_order(residual, source, directed=True, return_predecessors=False)] = True
    return side[:count].reshape(height, width)


def energy(x, cost, weight_x, weight_y):
    x = x.astype(np.float64)
    return float((cost * x).sum() + (weight_x * np.abs(np.diff(x, axis=1))).sum()
                 + (weight_y * np.abs(np.diff(x, axis=0))).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_min_cut_reaches_the_exact_minimum(seed):
    """On noisy costs with a hidden rectangle and contrast-like weights, the cut's energy
    is within 0.1 % of the exact minimum and its labels differ on under 1 % of pixels."""
    rng = np.random.default_rng(seed)
    cost = rng.normal(0.2, 1.5, (60, 80)).astype(np.float32)
    cost[20:40, 25:55] -= 1.0
    image = rng.uniform(0, 1, (60, 80)).astype(np.float32)
    weight_x = (0.8 * np.exp(-5 * np.diff(image, axis=1) ** 2)).astype(np.float32)
    weight_y = (0.8 * np.exp(-5 * np.diff(image, axis=0) ** 2)).astype(np.float32)
    cut = min_cut(cost, weight_x, weight_y, iterations=1000) > 0.5
    exact = exact_cut(cost, weight_x, weight_y)
    best = energy(exact, cost, weight_x, weight_y)
    assert energy(cut, cost, weight_x, weight_y) <= best + 1e-3 * abs(best)
    assert (cut != exact).mean() < 0.01


def test_min_cut_follows_a_cheap_boundary_over_a_short_one():
    """Unaries too weak to decide alone: the cut takes the whole square whose border is
    cheap to cut (an edge in the photo), not the disc of the strong unaries inside it."""
    cost = np.full((50, 50), 0.05, np.float32)
    cost[20:30, 20:30] = -1.0
    weight_x = np.full((50, 49), 1.0, np.float32)
    weight_y = np.full((49, 50), 1.0, np.float32)
    weight_x[10:40, [9, 39]] = 0.01          # a square edge from (10, 10) to (40, 40)
    weight_y[[9, 39], 10:40] = 0.01
    cost[10:40, 10:40] = np.minimum(cost[10:40, 10:40], -0.02)
    cut = min_cut(cost, weight_x, weight_y) > 0.5
    inside = np.zeros((50, 50), bool)
    inside[10:40, 10:40] = True
    assert np.array_equal(cut, inside)


def test_geodesic_distance_is_the_shortest_path():
    """Against Dijkstra on the same 4-connected grid with random step costs and a wall
    with one gap (the shortest paths turn at many pixels)."""
    rng = np.random.default_rng(3)
    height, width = 30, 40
    step_x = rng.uniform(0.1, 2, (height, width - 1))
    step_y = rng.uniform(0.1, 2, (height - 1, width))
    step_x[:, 19] = 1e6
    step_x[25, 19] = 0.5
    seed = np.zeros((height, width), bool)
    seed[3, 2] = seed[20, 5] = True
    index = np.arange(height * width).reshape(height, width)
    a = np.concatenate([index[:, :-1].ravel(), index[:-1].ravel()])
    b = np.concatenate([index[:, 1:].ravel(), index[1:].ravel()])
    w = np.concatenate([step_x.ravel(), step_y.ravel()])
    graph = csr_matrix((np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                       shape=(height * width,) * 2)
    expected = dijkstra(graph, indices=np.flatnonzero(seed), min_only=True).reshape(height, width)
    # Every value is a real path's length, so never below the shortest...
    assert (geodesic_distance(seed, step_x, step_y, rounds=2) >= expected - 1e-3).all()
    # ...and with rounds enough for the turns these random steps make, it is the shortest.
    np.testing.assert_allclose(geodesic_distance(seed, step_x, step_y, rounds=40), expected, rtol=1e-5)
