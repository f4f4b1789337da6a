"""Alpha and foreground colour from the photo, in the band around the model's edge.

The model's mask knows *what* the subject is but draws hair and fur too opaque
and too smooth. Near its edge we re-estimate alpha from the compositing equation
I = alpha F + (1 - alpha) B:

1. `trimap`: sure foreground / sure background from the mask, and the band to
   solve: pixels within a few percent of the image size of the mask's 0.5
   contour that are neither sure.
2. `local_colour`: F and B at every pixel, as the mean colour of nearby sure
   foreground (background) pixels (normalised blur at growing scales).
3. `solve_alpha`: per pixel, the alpha that best explains I on the line from B
   to F, pulled towards the model's alpha by a prior whose weight grows where
   the colours do not fit that line (textured or look-alike backgrounds), so
   the colour wins on hair against a sky and the model wins on clutter.
4. `guided_coefficients`: a colour guided filter (He et al.) of the result; its
   linear coefficients, upsampled, carry the matte to full resolution
   ("fast guided filter").
5. `foreground_estimates`: blur-fusion foreground / background estimates
   (Germer et al., "Fast multi-level foreground estimation", ICPR 2020), used at
   full resolution as F = F^ + alpha (I - alpha F^ - (1 - alpha) B^).

All arrays are float32 at the working resolution: I (H, W, 3) in [0, 1],
alpha (H, W) in [0, 1]. Imports: NumPy, Pillow, `app.core` only.
"""
from __future__ import annotations

import numpy as np

from .filters import F32, blur, box, dilate, erode

SURE_LOW, SURE_HIGH = 0.05, 0.95     # model alpha beyond these is sure background / foreground
SURE_MARGIN = 0.0025                 # sure regions shrink by this fraction of the long side
BAND = 0.01                          # every pixel this close to the 0.5 contour is solved
UNSURE_BAND = 0.05                   # ...and unsure pixels (between SURE_LOW and SURE_HIGH) this close
SOFT_BLOCK = 8                       # neighbourhood for `softness`, pixels
CRISP = 1.0                          # extra prior weight where the model's edge is crisp
CRISP_LEVEL = 0.4                    # softness at which the extra weight is gone
SNAP = 0.03                          # solved alpha within this of 0 or 1 snaps there
COLOUR_BLOCKS = (8, 32, 128)         # scales of the local colour means, pixels
PRIOR = 0.01                         # weight of the model's alpha (squared colour distance units)
MISFIT = 30.0                        # extra prior weight per unit of squared colour misfit
GUIDE_RADIUS = 2                     # guided filter window radius, working pixels
GUIDE_EPS = 1e-4                     # guided filter regulariser


def trimap(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sure foreground, sure background, band to solve) bool masks from the model's alpha.

    The band holds every pixel within BAND of the model's 0.5 contour (the model
    is often sure, and wrong, about hair: too opaque) and the unsure pixels within
    UNSURE_BAND of it; unsure regions far from any edge are the model's doubt about
    *what* the subject is, which colours cannot settle, so they keep its alpha.
    The sure regions used to sample colours shrink by SURE_MARGIN.
    """
    side = max(alpha.shape)
    margin = max(1, round(SURE_MARGIN * side))
    fg = erode(alpha >= SURE_HIGH, margin)
    bg = erode(alpha <= SURE_LOW, margin)
    half = alpha >= 0.5

    def near_contour(fraction):
        width = max(1, round(fraction * side))
        return dilate(half, width) & ~erode(half, width)

    unsure = (alpha > SURE_LOW) & (alpha < SURE_HIGH)
    band = near_contour(BAND) | (unsure & near_contour(UNSURE_BAND))
    return fg, bg, band


def softness(alpha: np.ndarray, block: int = SOFT_BLOCK) -> np.ndarray:
    """How much of the neighbourhood the model left unsure, in [0, 1]: about 0.1 along
    a crisp edge, well above on hair and fur."""
    unsure = ((alpha > SURE_LOW) & (alpha < SURE_HIGH)).astype(F32)
    return np.clip(blur(unsure, block), 0, 1)


def local_colour(image: np.ndarray, weight: np.ndarray, blocks=COLOUR_BLOCKS) -> np.ndarray:
    """Weighted mean colour around every pixel.

    From the coarsest scale to the finest, each scale's mean replaces the coarser
    estimate in proportion to how much weight it saw (full trust from a tenth of
    its window), so the result is as local as the data allows and has no seams.
    """
    weight = weight.astype(F32)
    weighted = image * weight[..., None]
    total = max(float(weight.sum()), 1e-6)
    out = np.broadcast_to(weighted.reshape(-1, 3).sum(0) / F32(total), image.shape).astype(F32)
    for block in sorted(blocks, reverse=True):
        seen = blur(weight, block)
        mean = blur(weighted, block) / np.maximum(seen, F32(1e-6))[..., None]
        trust = np.clip(seen * F32(10), 0, 1)[..., None]
        out = out + trust * (mean - out)
    return out


def solve_alpha(image, model_alpha, fg, bg, band) -> np.ndarray:
    """Alpha in the band from the colours, elsewhere the model's (see the module doc)."""
    if not band.any():
        return model_alpha
    rows, cols = np.nonzero(band)
    fore = local_colour(image, fg)[rows, cols]
    back = local_colour(image, bg)[rows, cols]
    pixel = image[rows, cols]
    prior = model_alpha[rows, cols]
    line = fore - back
    length2 = (line * line).sum(1)
    offset = ((pixel - back) * line).sum(1)
    projected = np.clip(offset / (length2 + F32(1e-4)), 0, 1)
    misfit = pixel - back - projected[:, None] * line
    weight = F32(PRIOR) + F32(MISFIT) * (misfit * misfit).sum(1)
    if CRISP:
        crisp = np.clip(1 - softness(model_alpha)[rows, cols] / F32(CRISP_LEVEL), 0, 1)
        weight = weight + F32(CRISP) * crisp
    alpha = model_alpha.copy()
    solved = (offset + weight * prior) / (length2 + weight)
    if SNAP:
        solved = (solved - F32(SNAP)) / F32(1 - 2 * SNAP)
    alpha[rows, cols] = np.clip(solved, 0, 1)
    return alpha


def guided_coefficients(image, alpha, radius=GUIDE_RADIUS, eps=GUIDE_EPS):
    """Colour guided filter of `alpha` by `image`: (a (H, W, 3), b (H, W)), output = a.I + b."""
    mean_i = box(image, radius)
    mean_p = box(alpha, radius)
    cov_ip = box(image * alpha[..., None], radius) - mean_i * mean_p[..., None]
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    products = np.stack([r * r, r * g, r * b, g * g, g * b, b * b], axis=-1)
    m = box(products, radius)
    mr, mg, mb = mean_i[..., 0], mean_i[..., 1], mean_i[..., 2]
    eps = F32(eps)
    rr = m[..., 0] - mr * mr + eps
    rg = m[..., 1] - mr * mg
    rb = m[..., 2] - mr * mb
    gg = m[..., 3] - mg * mg + eps
    gb = m[..., 4] - mg * mb
    bb = m[..., 5] - mb * mb + eps
    # Inverse of the symmetric 3x3 covariance by cofactors.
    irr = gg * bb - gb * gb
    irg = gb * rb - rg * bb
    irb = rg * gb - gg * rb
    igg = rr * bb - rb * rb
    igb = rb * rg - rr * gb
    ibb = rr * gg - rg * rg
    det = rr * irr + rg * irg + rb * irb
    cr, cg, cb = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.stack([
        (irr * cr + irg * cg + irb * cb) / det,
        (irg * cr + igg * cg + igb * cb) / det,
        (irb * cr + igb * cg + ibb * cb) / det,
    ], axis=-1)
    offset = mean_p - (a * mean_i).sum(-1)
    return box(a, radius), box(offset, radius)


def apply_coefficients(image, a, b) -> np.ndarray:
    """a.I + b, clipped to [0, 1]."""
    out = image[..., 0] * a[..., 0] + b
    out += image[..., 1] * a[..., 1]
    out += image[..., 2] * a[..., 2]
    return np.clip(out, 0, 1, out=out)


def foreground_estimates(image, alpha, blocks=(32, 8, 4)):
    """Blur-fusion estimates (F^, B^) of foreground and background colour.

    Germer et al.'s passes from coarse to fine, with the blur weights sharpened to
    alpha^4 and (1 - alpha)^4 so that mixed pixels barely count (on a soft disc
    this cuts the colour error about fourfold). The caller combines the estimates
    with the photo at any resolution: F = F^ + alpha (I - alpha F^ - (1 - alpha) B^).
    """
    a = alpha[..., None]
    fore_weight = np.square(np.square(alpha))
    back_weight = np.square(np.square(1 - alpha))
    fore_norm = [blur(fore_weight, block)[..., None] + F32(1e-5) for block in blocks]
    back_norm = [blur(back_weight, block)[..., None] + F32(1e-5) for block in blocks]
    fore, back = image, image
    for block, fn, bn in zip(blocks, fore_norm, back_norm):
        fore_hat = blur(fore * fore_weight[..., None], block) / fn
        back_hat = blur(back * back_weight[..., None], block) / bn
        fore = np.clip(fore_hat + a * (image - a * fore_hat - (1 - a) * back_hat), 0, 1)
        back = back_hat
    return np.clip(fore_hat, 0, 1), np.clip(back_hat, 0, 1)
