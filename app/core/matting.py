"""Alpha and foreground colour from the photo, in the band around the model's edge.

The model's mask knows *what* the subject is but draws hair and fur too opaque
and too smooth, and leaves a faint haze of alpha over the whole background and
a faint doubt over the whole subject. Near its edge we re-estimate alpha from
the compositing equation I = alpha F + (1 - alpha) B; elsewhere we trust it, crisply:

1. `trimap`: sure foreground / sure background from the mask, and the band to
   solve: pixels within a few percent of the image size of the mask's 0.5
   contour that are neither sure.
2. `local_colour_at`: F and B at the band's pixels, as the mean colour of nearby
   sure foreground (background) pixels (block means at growing scales, sampled
   bilinearly at the band pixels only).
3. `solve_alpha`: per pixel, the alpha that best explains I on the line from B
   to F, pulled towards the model's alpha by a prior whose weight grows where
   the colours do not fit that line (textured or look-alike backgrounds), so
   the colour wins on hair against a sky and the model wins on clutter. Outside
   the band the model's alpha is `crisp`: its haze below CRISP_LOW is 0, its
   doubt above CRISP_HIGH is 1 (the edge band stays where it was).
4. `matte`: a colour guided filter (He et al.) of the result smooths it along the
   photo's colour lines where the colours explained the band well, the crisp model
   alpha elsewhere; its linear coefficients, upsampled, carry the matte to full
   resolution ("fast guided filter"; `guided_coefficients`).
5. `matte`, last: where the colours are trusted, a few conjugate-gradient steps
   on the matting Laplacian (laplacian.py) settle the smoothed matte along the
   photo's colour lines at the working pixel scale; the result's small-window
   guided-filter coefficients carry it to full resolution.
6. `foreground_planes`: blur-fusion foreground / background estimates
   (Germer et al., "Fast multi-level foreground estimation", ICPR 2020), used at
   full resolution as F = F^ + alpha (I - alpha F^ - (1 - alpha) B^).

Colour images travel as *planes*: a list of three contiguous (H, W) float32
arrays in [0, 1] (`planes_of` makes them from an (H, W, 3) array; every public
function takes either). Alpha is (H, W) float32 in [0, 1]. All at the working
resolution. Imports: NumPy, Pillow, `app.core` only.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from . import laplacian
from .filters import F32, block_means, blur, box, dilate, erode, inverse_sym3

SURE_LOW, SURE_HIGH = 0.05, 0.95     # model alpha beyond these is sure background / foreground
SURE_MARGIN = 0.0025                 # sure regions shrink by this fraction of the long side
BAND = 0.01                          # every pixel this close to the 0.5 contour is solved
UNSURE_BAND = 0.05                   # ...and unsure pixels (between SURE_LOW and SURE_HIGH) this close
MIN_BAND = 4                         # bands are at least this wide, pixels
SOFT_BLOCK = 8                       # neighbourhood for `softness`, pixels
CRISP = 1.0                          # extra prior weight where the model's edge is crisp
CRISP_LEVEL = 0.4                    # softness at which the extra weight is gone
CRISP_LOW, CRISP_HIGH = 0.1, 0.9     # outside the band, model alpha is stretched from this range to [0, 1]
SNAP = 0.03                          # solved alpha within this of 0 or 1 snaps there
COLOUR_BLOCKS = (8, 32, 128)         # scales of the local colour means, pixels
PRIOR = 0.01                         # weight of the model's alpha (squared colour distance units)
MISFIT = 10.0                        # extra prior weight per unit of squared colour misfit
GUIDE_RADIUS = 2                     # guided filter window radius, working pixels
GUIDE_EPS = 1e-4                     # guided filter regulariser
MATTE_RADIUS = 20                    # the solved band is smoothed along the photo's colour lines by a
MATTE_EPS = 1e-4                     # guided filter of this radius (block means) and regulariser...
TRUST_BLOCK = 8                      # ...where the colours explained the band around (this many pixels)
TRUST_LOW, TRUST_HIGH = 0.25, 0.55   # well: colour share of the solve, from no trust to full trust
FADE_LOW, FADE_HIGH = 0.25, 0.75     # trust fades as the band covers less of the neighbourhood
WIDE_BLOCK = 16                      # where the model left this neighbourhood (pixels) widely unsure,
WIDE_LOW, WIDE_HIGH = 0.3, 0.7       # from this fraction to that, the band keeps its soft alpha uncrisped
SETTLE_TRUST = 0.5                   # band pixels trusted this much settle on the matting Laplacian,
SETTLE_PRIOR = 0.3                   # held to the smoothed matte by this weight, and by this much
SETTLE_DOUBT = 10.0                  # more as trust falls (units of the Laplacian's diagonal, ~25)


def planes_of(image) -> list[np.ndarray]:
    """Three contiguous (H, W) float32 planes from an (H, W, 3) array (or planes as they are)."""
    if isinstance(image, (list, tuple)):
        return [np.asarray(p, dtype=F32) for p in image]
    image = np.asarray(image, dtype=F32)
    return [np.ascontiguousarray(image[..., c]) for c in range(image.shape[2])]


class Sampler:
    """Bilinear samples of grids of one shape at given pixels of a finer image.

    Grid cell centres sit at (i + 0.5) * scale - 0.5 in image pixels (as for a
    Pillow resize of the grid to the image, and for `blur`'s block means); the
    taps are clamped at the grid's border. One Sampler serves many grids.
    """

    def __init__(self, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int],
                 scale_y: float, scale_x: float):
        height, width = shape
        y0, y1, wy = self._taps(rows, height, scale_y, width)
        x0, x1, wx = self._taps(cols, width, scale_x, 1)
        self.index = (y0 + x0, y0 + x1, y1 + x0, y1 + x1)
        uy, ux = 1 - wy, 1 - wx
        self.weight = (uy * ux, uy * wx, wy * ux, wy * wx)

    @staticmethod
    def _taps(pixels, size, scale, stride):
        """(low tap * stride, high tap * stride, weight of the high tap) per pixel, from
        a table over 0..max(pixels) (one gather each instead of per-pixel arithmetic)."""
        count = int(pixels.max()) + 1 if len(pixels) else 0
        coord = (np.arange(count, dtype=F32) + F32(0.5)) * F32(1 / scale) - F32(0.5)
        np.clip(coord, 0, size - 1, out=coord)
        low = coord.astype(np.intp)            # floor: coord >= 0
        high = np.minimum(low + 1, size - 1)
        weight = coord - low.astype(F32)
        return (low * stride)[pixels], (high * stride)[pixels], weight[pixels]

    def __call__(self, grid: np.ndarray) -> np.ndarray:
        flat = grid.reshape(-1)
        (i0, i1, i2, i3), (w0, w1, w2, w3) = self.index, self.weight
        out = flat[i0] * w0
        out += flat[i1] * w1
        out += flat[i2] * w2
        out += flat[i3] * w3
        return out


def trimap(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sure foreground, sure background, band to solve) bool masks from the model's alpha.

    The band holds every pixel within BAND of the model's 0.5 contour (the model
    is often sure, and wrong, about hair: too opaque) and the unsure pixels outside
    the contour within UNSURE_BAND of it (wisps of hair and fur the model only
    half saw); unsure regions inside the subject or far from any edge are the
    model's doubt about *what* the subject is, which colours cannot settle (a
    patterned skirt against a wooden wall), so they keep its alpha, made `crisp`.
    The sure regions used to sample colours shrink by SURE_MARGIN, except where the
    model is sure of a structure thinner than that (a mesh's wires, a fence's slats):
    shrunk away, its colour would come from far off and the solve would fade it, so
    such a structure is its own sample.
    """
    side = max(alpha.shape)
    margin = max(1, round(SURE_MARGIN * side))
    confident = alpha >= SURE_HIGH
    fg = erode(confident, margin)
    fg |= confident & ~dilate(fg, margin + 1)      # thinner than the margin: its own sample
    bg = erode(alpha <= SURE_LOW, margin)
    half = alpha >= 0.5

    def near_contour(fraction):
        width = max(MIN_BAND, round(fraction * side))
        return dilate(half, width) & ~erode(half, width)

    unsure = (alpha > SURE_LOW) & (alpha < SURE_HIGH)
    band = near_contour(BAND) | (unsure & ~half & near_contour(UNSURE_BAND))
    return fg, bg, band


def crisp(alpha: np.ndarray) -> np.ndarray:
    """The model's alpha without its haze and doubt: [CRISP_LOW, CRISP_HIGH] stretched to [0, 1]."""
    scale = F32(1 / (CRISP_HIGH - CRISP_LOW))
    return np.clip((alpha - F32(CRISP_LOW)) * scale, 0, 1).astype(F32)


def softness(alpha: np.ndarray, block: int = SOFT_BLOCK) -> np.ndarray:
    """How much of the neighbourhood the model left unsure, in [0, 1]: about 0.1 along
    a crisp edge, well above on hair and fur."""
    unsure = ((alpha > SURE_LOW) & (alpha < SURE_HIGH)).astype(F32)
    return np.clip(blur(unsure, block), 0, 1)


def local_colour(image, weight: np.ndarray, blocks=COLOUR_BLOCKS) -> np.ndarray:
    """Weighted mean colour around every pixel, (H, W, 3); see `local_colour_at`."""
    height, width = weight.shape
    rows, cols = np.divmod(np.arange(height * width), width)
    return local_colour_at(image, weight, rows, cols, blocks).reshape(height, width, 3)


def local_colour_at(image, weight: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                    blocks=COLOUR_BLOCKS) -> np.ndarray:
    """Weighted mean colour around the pixels (rows, cols): (N, 3).

    From the coarsest scale to the finest, each scale's mean replaces the coarser
    estimate in proportion to how much weight it saw (full trust from a tenth of
    its window), so the result is as local as the data allows and has no seams.
    Only the block means are computed over the whole image.
    """
    planes = planes_of(image)
    weight = np.asarray(weight, dtype=F32)
    weighted = [p * weight for p in planes]
    total = max(float(weight.sum()), 1e-6)
    out = np.empty((len(rows), 3), F32)
    out[:] = np.array([float(w.sum()) / total for w in weighted], F32)
    for block in sorted(blocks, reverse=True):
        grid = block_means(weight, block)
        sample = Sampler(rows, cols, grid.shape, block, block)
        seen = sample(grid)
        trust = np.clip(seen * F32(10), 0, 1)
        inverse = F32(1) / np.maximum(seen, F32(1e-6))
        for c, plane in enumerate(weighted):
            mean = sample(block_means(plane, block)) * inverse
            out[:, c] += trust * (mean - out[:, c])
    return out


def solve_alpha(image, model_alpha, fg, bg, band) -> np.ndarray:
    """Alpha in the band from the colours, elsewhere the model's made `crisp` (see the module doc)."""
    return _solve(planes_of(image), model_alpha, fg, bg, band, crisp(model_alpha))[0]


def _solve(planes, model_alpha, fg, bg, band, crisp_alpha):
    """(alpha, share): `solve_alpha`'s result (`crisp_alpha` outside the band) and, in the
    band, the colours' share of each pixel's answer (length^2 / (length^2 + prior
    weight); 0 elsewhere)."""
    alpha = crisp_alpha.copy()
    share = np.zeros_like(alpha)
    if not band.any():
        return alpha, share
    rows, cols = np.nonzero(band)
    fore = local_colour_at(planes, fg, rows, cols)
    back = local_colour_at(planes, bg, rows, cols)
    pixel = np.stack([p[rows, cols] for p in planes], axis=1)
    prior = model_alpha[rows, cols]
    line = fore - back
    length2 = (line * line).sum(1)
    offset = ((pixel - back) * line).sum(1)
    projected = np.clip(offset / (length2 + F32(1e-4)), 0, 1)
    misfit = pixel - back - projected[:, None] * line
    weight = F32(PRIOR) + F32(MISFIT) * (misfit * misfit).sum(1)
    unsure = ((model_alpha > SURE_LOW) & (model_alpha < SURE_HIGH)).astype(F32)
    grid = block_means(unsure, SOFT_BLOCK)
    soft = np.clip(Sampler(rows, cols, grid.shape, SOFT_BLOCK, SOFT_BLOCK)(grid), 0, 1)
    weight = weight + F32(CRISP) * np.clip(1 - soft / F32(CRISP_LEVEL), 0, 1)
    solved = (offset + weight * prior) / (length2 + weight)
    solved = (solved - F32(SNAP)) / F32(1 - 2 * SNAP)
    alpha[rows, cols] = np.clip(solved, 0, 1)
    share[rows, cols] = length2 / (length2 + weight)
    return alpha, share


def matte(image, model_alpha) -> tuple[list, np.ndarray]:
    """The refined matte as guided-filter coefficients (a: three planes, b): alpha = a . I + b.

    The band's colour solution (`solve_alpha`) is smoothed along the photo's colour
    lines by a guided filter of radius MATTE_RADIUS (it keeps strands that differ in
    colour from their background and drops the solve's pixel noise), and blended
    with the crisp model alpha by trust: the colours' share of the solve, averaged
    over TRUST_BLOCK pixels of band (in the band, where the model itself was unsure
    over a wide area, as over a mass of fur, its soft alpha is kept uncrisped). Where
    the background is clutter or looks like the subject (a leopard in branches) the
    crisp model edge stays. Where trust is at least SETTLE_TRUST, the matte then
    settles on the matting Laplacian (`laplacian.refine`, held to the smoothed matte
    more firmly as trust falls). The result is returned as small-window guided-filter
    coefficients, weighted by trust (outside the trusted band a = 0 and b is the
    matte itself), which carry it to full resolution when upsampled.
    """
    planes = planes_of(image)
    fg, bg, band = trimap(model_alpha)
    base = crisp(model_alpha)
    solved, share = _solve(planes, model_alpha, fg, bg, band, base)
    if not band.any():
        return [np.zeros_like(solved) for _ in planes], solved
    wide = np.clip((softness(model_alpha, WIDE_BLOCK) - F32(WIDE_LOW)) * F32(1 / (WIDE_HIGH - WIDE_LOW)), 0, 1)
    base = np.where(band, base + wide * (model_alpha - base), base)
    a, b = guided_coefficients(planes, solved, MATTE_RADIUS, MATTE_EPS, mean=blur)
    coverage = blur(band.astype(F32), TRUST_BLOCK)
    confidence = blur(share, TRUST_BLOCK) / np.maximum(coverage, F32(1e-3))
    # Fade out over a few pixels past the band (not at its square-cornered edge, which
    # would show as a staircase in the upsampled matte).
    fade = np.clip((coverage - F32(FADE_LOW)) * F32(1 / (FADE_HIGH - FADE_LOW)), 0, 1)
    trust = np.clip((confidence - F32(TRUST_LOW)) * F32(1 / (TRUST_HIGH - TRUST_LOW)), 0, 1) * fade
    smoothed = apply_coefficients(planes, [trust * c for c in a], base + trust * (b - base))
    settled = laplacian.refine(planes, smoothed, band & (trust >= F32(SETTLE_TRUST)),
                               F32(SETTLE_PRIOR) + F32(SETTLE_DOUBT) * (1 - trust))
    a, b = guided_coefficients(planes, settled)
    return [trust * c for c in a], settled + trust * (b - settled)


def guided_coefficients(image, alpha, radius=GUIDE_RADIUS, eps=GUIDE_EPS, mean=box):
    """Colour guided filter of `alpha` by `image`: (a: three (H, W) planes, b (H, W)),
    output = a . I + b. `mean(values, radius)` is the window mean: the exact `box`
    or the cheaper `blur` (block means, any radius at the same cost)."""
    box = mean
    r, g, b = planes_of(image)
    mr, mg, mb = (box(p, radius) for p in (r, g, b))
    mean_p = box(alpha, radius)
    cr = box(r * alpha, radius) - mr * mean_p
    cg = box(g * alpha, radius) - mg * mean_p
    cb = box(b * alpha, radius) - mb * mean_p
    eps = F32(eps)
    rr = box(r * r, radius) - mr * mr + eps
    rg = box(r * g, radius) - mr * mg
    rb = box(r * b, radius) - mr * mb
    gg = box(g * g, radius) - mg * mg + eps
    gb = box(g * b, radius) - mg * mb
    bb = box(b * b, radius) - mb * mb + eps
    irr, irg, irb, igg, igb, ibb = inverse_sym3(rr, rg, rb, gg, gb, bb)
    ar = irr * cr + irg * cg + irb * cb
    ag = irg * cr + igg * cg + igb * cb
    ab = irb * cr + igb * cg + ibb * cb
    offset = mean_p - ar * mr - ag * mg - ab * mb
    return [box(ar, radius), box(ag, radius), box(ab, radius)], box(offset, radius)


def apply_coefficients(image, a, b) -> np.ndarray:
    """a . I + b, clipped to [0, 1] (image and a as planes or (..., 3) arrays)."""
    image, a = planes_of(image), planes_of(a)
    out = image[0] * a[0] + b
    out += image[1] * a[1]
    out += image[2] * a[2]
    return np.clip(out, 0, 1, out=out)


def foreground_planes(image, alpha, blocks=(32, 8, 4)) -> tuple[list, list]:
    """Blur-fusion estimates (F^, B^) of foreground and background colour, as planes.

    Germer et al.'s passes from coarse to fine, with the blur weights sharpened to
    alpha^4 and (1 - alpha)^4 so that mixed pixels barely count (on a soft disc
    this cuts the colour error about fourfold). The caller combines the estimates
    with the photo at any resolution: F = F^ + alpha (I - alpha F^ - (1 - alpha) B^).
    """
    planes = planes_of(image)
    alpha = np.asarray(alpha, dtype=F32)
    fore_weight = np.square(np.square(alpha))
    back_weight = np.square(np.square(1 - alpha))
    fore, back = planes, planes
    beta = 1 - alpha
    for index, block in enumerate(blocks):
        fore_norm = F32(1) / (blur(fore_weight, block) + F32(1e-5))
        back_norm = F32(1) / (blur(back_weight, block) + F32(1e-5))
        fore_hat = [blur(f * fore_weight, block) * fore_norm for f in fore]
        back_hat = [blur(b * back_weight, block) * back_norm for b in back]
        if index == len(blocks) - 1:
            break                    # the finest estimates are the answer
        fore = [np.clip(fh + alpha * (i - alpha * fh - beta * bh), 0, 1)
                for fh, bh, i in zip(fore_hat, back_hat, planes)]
        back = back_hat
    return [np.clip(f, 0, 1) for f in fore_hat], [np.clip(b, 0, 1) for b in back_hat]


def foreground_estimates(image, alpha, blocks=(32, 8, 4)):
    """`foreground_planes` as two (H, W, 3) arrays."""
    fore, back = foreground_planes(image, alpha, blocks)
    return np.stack(fore, axis=-1), np.stack(back, axis=-1)
