"""Two graph tools on the pixel grid, in NumPy alone: a minimum cut and a geodesic
distance. Each pixel is a node joined to its four neighbours.

`min_cut` minimises  sum_p cost_p x_p + sum_(p,q) w_pq |x_p - x_q|  over x in {0, 1}
(a graph cut: x = 1 where paying cost_p is cheaper than separating p from its
neighbours). It is solved as the continuous max-flow problem of Yuan, Bae and Tai
("A study on continuous max-flow and min-cut approaches", CVPR 2010) by their
augmented-Lagrangian iteration, whose multiplier converges to the exact minimum cut's
labels: a few array operations per iteration, no per-pixel Python. Checked against
an exact max-flow (tests/unit/test_grid.py).

`geodesic_distance` is the cheapest path cost from seed pixels, each step between
neighbours costing what the caller says (e.g. 1 plus the colour change): raster
passes along rows and columns in both directions, each a cumulative sum and a running
minimum, repeated until paths with that many turns are found.

Imports: NumPy only.

    >>> x = min_cut(cost, weight_x, weight_y) > 0.5       # weights: (H, W-1) and (H-1, W)
    >>> d = geodesic_distance(seed, step_x, step_y)       # (H, W) float32
"""
from __future__ import annotations

import numpy as np

F32 = np.float32

CUT_ITERATIONS = 300      # at most; stops earlier once the labels settle
CUT_TOLERANCE = 1e-4      # mean change of the multiplier per iteration that counts as settled
_CC, _STEP = 0.3, 0.16    # the augmented Lagrangian's penalty and the flow's step (Yuan et al.)


def min_cut(cost: np.ndarray, weight_x: np.ndarray, weight_y: np.ndarray,
            iterations: int = CUT_ITERATIONS, start: np.ndarray | None = None) -> np.ndarray:
    """The relaxed labels x in [0, 1] (H, W) of the minimum cut (threshold at 0.5):
    `cost` (H, W) is what x = 1 costs at each pixel (negative: a gain), `weight_x`
    (H, W-1) and `weight_y` (H-1, W) (>= 0) what separating horizontal and vertical
    neighbours costs. `start`: labels to begin from (e.g. a previous cut's)."""
    cost = np.asarray(cost, dtype=F32)
    sink = np.maximum(cost, 0)                 # paid where x = 1
    source = np.maximum(-cost, 0)              # paid where x = 0
    height, width = cost.shape
    flow_s = np.minimum(source, sink)
    flow_t = flow_s.copy()
    x = (source >= sink).astype(F32) if start is None else np.array(start, dtype=F32)
    px = np.zeros((height, width - 1), F32)
    py = np.zeros((height - 1, width), F32)
    cap_x, cap_y = np.asarray(weight_x, F32), np.asarray(weight_y, F32)
    low_x, low_y = -cap_x, -cap_y
    divergence = np.zeros((height, width), F32)
    work = np.empty((height, width), F32)
    step_x, step_y = np.empty_like(px), np.empty_like(py)
    inverse, cc, step = F32(1 / _CC), F32(_CC), F32(_STEP)
    for index in range(iterations):
        # The spatial flow climbs the gradient of the constraint's residual, within capacity.
        np.subtract(divergence, flow_s, out=work)
        work += flow_t
        work -= x * inverse
        np.subtract(work[:, 1:], work[:, :-1], out=step_x)
        step_x *= step
        px += step_x
        np.subtract(work[1:], work[:-1], out=step_y)
        step_y *= step
        py += step_y
        np.minimum(px, cap_x, out=px)
        np.maximum(px, low_x, out=px)
        np.minimum(py, cap_y, out=py)
        np.maximum(py, low_y, out=py)
        divergence.fill(0)
        divergence[:, :-1] += px
        divergence[:, 1:] -= px
        divergence[:-1] += py
        divergence[1:] -= py
        # Source and sink flows, each at most its capacity.
        np.add(divergence, flow_t, out=flow_s)
        flow_s -= x * inverse
        flow_s += inverse
        np.minimum(flow_s, source, out=flow_s)
        np.subtract(flow_s, divergence, out=flow_t)
        flow_t += x * inverse
        np.minimum(flow_t, sink, out=flow_t)
        # The multiplier (the labels) moves by the flow's imbalance.
        np.add(divergence, flow_t, out=work)
        work -= flow_s
        work *= cc
        x -= work
        if index % 10 == 9 and float(np.abs(work).mean()) < CUT_TOLERANCE:
            break
    return x


def _scan_rows(distance: np.ndarray, step: np.ndarray) -> None:
    """In place: distance[:, j] = min over k of distance[:, k] + the steps between k and j
    along each row, both directions (step (H, W-1) between columns j and j+1)."""
    height, width = distance.shape
    walked = np.zeros((height, width), np.float64)
    np.cumsum(step, axis=1, out=walked[:, 1:])
    np.minimum(distance, np.minimum.accumulate(distance - walked, axis=1) + walked, out=distance)
    backward = np.minimum.accumulate((distance + walked)[:, ::-1], axis=1)[:, ::-1] - walked
    np.minimum(distance, backward, out=distance)


def geodesic_distance(seed: np.ndarray, step_x: np.ndarray, step_y: np.ndarray,
                      rounds: int = 3) -> np.ndarray:
    """(H, W) float32 cost of the cheapest path from any `seed` pixel (bool (H, W)),
    a step between horizontal (vertical) neighbours costing `step_x` (H, W-1) (`step_y`
    (H-1, W)), >= 0; inf where no seed is reached. Paths with up to about 2 `rounds`
    turns between rows and columns are exact."""
    distance = np.where(np.asarray(seed, bool), 0.0, np.inf)
    across = np.ascontiguousarray(np.asarray(step_y, np.float64).T)
    along = np.asarray(step_x, np.float64)
    for _ in range(rounds):
        _scan_rows(distance, along)
        turned = np.ascontiguousarray(distance.T)
        _scan_rows(turned, across)
        distance = np.ascontiguousarray(turned.T)
    return distance.astype(F32)
