"""The matting Laplacian (Levin et al., "A closed-form solution to natural image
matting", 2008) as an operator, and a short conjugate-gradient solve with it.

Within every small window an alpha matte is close to a linear function of the
colour, alpha = a . I + b; the Laplacian L measures how far a matte is from that,
summed over all windows. `refine` starts from a matte, lets only the pixels of a
given region move, and lowers x^T L x + sum(weight (x - start)^2): strands and
soft edges settle along the photo's colour lines, with the start as a prior.

L is never built: L p = N p - sum over the windows k holding each pixel of
(a_k . I + b_k), where (a_k, b_k) is the guided filter's linear fit of p in window
k (He et al., "Fast matting using large kernel matting Laplacian matrices", 2010).
Windows are truncated at the image border, so L is exactly symmetric and positive
semi-definite, which conjugate gradients need.

The region to solve is a thin band, so the work is done on `Tiles`: the TILE x TILE
cells of the image that hold a movable pixel, each with a margin of two window
radii, stacked into one array (a pixel's L p depends on nothing farther away, so
the cells' results are exact). Colour covariances are inverted once; each step
costs eight window sums and a 3x3 product over the stack.

Colour images are planes: three (H, W) float32 arrays in [0, 1]. Imports: NumPy,
`app.core.filters`.

    >>> matte = refine(planes, start, movable, weight)      # iterations=ITERATIONS
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .filters import inverse_sym3, window_sum

F32 = np.float32
RADIUS = 2            # windows are (2 RADIUS + 1)^2 pixels
EPS = 4e-6            # regulariser added to each window's colour covariance
ITERATIONS = 10       # conjugate-gradient steps (from the start, a few settle the edge)
TILE = 32             # cells of this many pixels a side are solved together


def _capped(covariance, variance_1, variance_2, limit=0.999):
    bound = F32(limit) * np.sqrt(variance_1 * variance_2)
    return np.clip(covariance, -bound, bound)


class MattingLaplacian:
    """L p for one image (or a stack of cells); the window statistics are computed once.

    `valid` marks real pixels (1) against padding (0; the planes must be 0 there too):
    windows are centred on real pixels and count only real pixels.
    """

    def __init__(self, planes, radius: int = RADIUS, eps: float = EPS, valid=None):
        self.planes = [np.asarray(p, dtype=F32) for p in planes]
        self.radius = radius
        valid = np.ones_like(self.planes[0]) if valid is None else np.asarray(valid, dtype=F32)
        self.count = window_sum(valid, radius)
        # Window means are taken at real pixels only (zero elsewhere, so a window
        # centred on padding fits nothing): the windows are those of the image.
        self.inverse_count = np.divide(F32(1), self.count, out=np.zeros_like(self.count),
                                       where=valid > 0)
        self.means = [self.mean(p) for p in self.planes]
        r, g, b = self.planes
        mr, mg, mb = self.means
        eps = F32(eps)
        rr = np.maximum(self.mean(r * r) - mr * mr, 0) + eps
        gg = np.maximum(self.mean(g * g) - mg * mg, 0) + eps
        bb = np.maximum(self.mean(b * b) - mb * mb, 0) + eps
        # Rounding may leave a covariance a hair short of positive definite: the
        # correlations are capped below 1 (Cauchy-Schwarz holds exactly in theory).
        rg = _capped(self.mean(r * g) - mr * mg, rr, gg)
        rb = _capped(self.mean(r * b) - mr * mb, rr, bb)
        gb = _capped(self.mean(g * b) - mg * mb, gg, bb)
        # Where a covariance is still singular, the window's fit is its mean (a = 0): L stays PSD.
        self.inverse = inverse_sym3(rr, rg, rb, gg, gb, bb)

    def mean(self, values: np.ndarray) -> np.ndarray:
        return window_sum(values, self.radius) * self.inverse_count

    def __call__(self, p: np.ndarray) -> np.ndarray:
        (r, g, b), (mr, mg, mb) = self.planes, self.means
        mean_p = self.mean(p)
        cr = self.mean(r * p) - mr * mean_p
        cg = self.mean(g * p) - mg * mean_p
        cb = self.mean(b * p) - mb * mean_p
        irr, irg, irb, igg, igb, ibb = self.inverse
        ar = irr * cr + irg * cg + irb * cb
        ag = irg * cr + igg * cg + igb * cb
        ab = irb * cr + igb * cg + ibb * cb
        offset = mean_p - ar * mr - ag * mg - ab * mb
        fitted = window_sum(ar, self.radius) * r
        fitted += window_sum(ag, self.radius) * g
        fitted += window_sum(ab, self.radius) * b
        fitted += window_sum(offset, self.radius)
        return self.count * p - fitted


class Tiles:
    """The TILE x TILE cells of an (H, W) grid that hold a selected pixel, as a stack.

    `cells(values)` gives each cell's pixels, (n, TILE, TILE); `with_margin(values)`
    each cell with `margin` pixels around it, (n, TILE + 2 margin, ...), zero past
    the grid; `spread(cells)` the same for a grid that is `cells` there and zero
    elsewhere; `core(stack)` cuts the margin off again; `put(grid, cells)` writes
    cells back into an (H, W) array.
    """

    def __init__(self, selected: np.ndarray, margin: int, tile: int = TILE):
        self.shape, self.margin, self.tile = selected.shape, margin, tile
        height, width = selected.shape
        self.ny, self.nx = -(-height // tile), -(-width // tile)
        occupied = self._blocks(self._padded(selected.astype(bool), 0)).any(axis=(2, 3))
        self.ty, self.tx = np.nonzero(occupied)

    def __len__(self) -> int:
        return len(self.ty)

    def _padded(self, values, margin):
        """values placed at (margin, margin) in zeros of (ny TILE + 2m, nx TILE + 2m)."""
        height, width = self.shape
        out = np.zeros((self.ny * self.tile + 2 * margin, self.nx * self.tile + 2 * margin),
                       values.dtype)
        out[margin:margin + height, margin:margin + width] = values
        return out

    def _blocks(self, padded, margin=0):
        """View of `padded` as (ny, nx, TILE + 2m, TILE + 2m) overlapping blocks."""
        side = self.tile + 2 * margin
        s0, s1 = padded.strides
        return as_strided(padded, (self.ny, self.nx, side, side),
                          (self.tile * s0, self.tile * s1, s0, s1), writeable=False)

    def cells(self, values: np.ndarray) -> np.ndarray:
        return self._blocks(self._padded(values, 0))[self.ty, self.tx]

    def with_margin(self, values: np.ndarray) -> np.ndarray:
        return self._blocks(self._padded(values, self.margin), self.margin)[self.ty, self.tx]

    def spread(self, cells: np.ndarray) -> np.ndarray:
        m = self.margin
        padded = np.zeros((self.ny * self.tile + 2 * m, self.nx * self.tile + 2 * m), F32)
        inner = padded[m:m + self.ny * self.tile, m:m + self.nx * self.tile]
        inner.reshape(self.ny, self.tile, self.nx, self.tile)[self.ty, :, self.tx, :] = cells
        return self._blocks(padded, m)[self.ty, self.tx]

    def core(self, stack: np.ndarray) -> np.ndarray:
        m = self.margin
        return stack[:, m:m + self.tile, m:m + self.tile]

    def put(self, grid: np.ndarray, cells: np.ndarray) -> None:
        height, width = self.shape
        padded = self._padded(grid, 0)
        blocks = padded.reshape(self.ny, self.tile, self.nx, self.tile)
        blocks[self.ty, :, self.tx, :] = cells
        grid[...] = padded[:height, :width]


def refine(planes, start: np.ndarray, movable: np.ndarray, weight: np.ndarray,
           iterations: int = ITERATIONS, radius: int = RADIUS, eps: float = EPS) -> np.ndarray:
    """The matte x, equal to `start` outside `movable`, after `iterations` conjugate-
    gradient steps on x^T L x + sum(weight (x - start)^2) over the movable pixels;
    clipped to [0, 1]. Only the cells around movable pixels are computed."""
    start = np.asarray(start, dtype=F32)
    movable = np.asarray(movable, dtype=bool)
    if not movable.any() or iterations <= 0:
        return start.copy()
    tiles = Tiles(movable, 2 * radius)
    # L does not change when a constant is added to a colour; centred colours lose
    # less to rounding in float32, where variances are found as E[x^2] - E[x]^2.
    centred = [np.asarray(p, dtype=F32) - F32(np.mean(p)) for p in planes]
    laplacian = MattingLaplacian([tiles.with_margin(p) for p in centred], radius, eps,
                                 valid=tiles.with_margin(np.ones(movable.shape, F32)))
    inside = tiles.cells(movable).astype(F32)
    weight = tiles.cells(np.asarray(weight, dtype=F32)) * inside
    step = np.zeros_like(inside)
    residual = -inside * tiles.core(laplacian(tiles.with_margin(start)))
    direction = residual.copy()
    norm = float(np.vdot(residual, residual))
    for _ in range(iterations):
        if norm <= 1e-12:
            break
        applied = inside * (tiles.core(laplacian(tiles.spread(inside * direction)))
                             + weight * direction)
        curvature = float(np.vdot(direction, applied))
        if curvature <= 0:
            break
        rate = F32(norm / curvature)
        step += rate * direction
        residual -= rate * applied
        new_norm = float(np.vdot(residual, residual))
        direction = residual + F32(new_norm / norm) * direction
        norm = new_norm
    out = start.copy()
    tiles.put(out, np.clip(tiles.cells(start) + step, 0, 1))
    return out
