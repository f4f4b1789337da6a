"""The model's second look: the photo's mirror image, and the two views merged into one mask
(test-time augmentation), before any refinement.

The model does not see a photo and its mirror image alike: hair, fur and thin parts come
out differently, and now and then a whole part is kept in one view and dropped in the other
(the lower half of a bottle, the gaps between a plant's leaves). Where the two views agree,
their mean is the better mask. Where they disagree (a connected region where they differ by
more than DISPUTED), a plain mean is wrong both ways (half a bottle), so the photo's own
colours referee, sampled where both views are sure of the subject and where both are sure
of the background. Two referees, each with its own blind spot, say how subject-like each
disputed pixel is: the colour between the background's and the subject's local mean colours
(`local_alpha`), and the two samples' colour histograms (`histogram_alpha`). Over a whole
region, each finds the view nearer to its answer; only when both side with the mirror image
does the region take it, else it keeps the photo's own view (the one-look cutout's).
Either referee alone made some hard objects worse than one look; together, none.

`bench/automatic.py --variants ours,mirror` measures it against one view on the devset,
composites and drawn subjects (README, *The mirror image*); `cutout` looks twice unless
told `--no-mirror`.

Imports: NumPy, `app.core` (cleanup, colours, filters, matting).

    >>> tensor = to_tensor(photo, spec)
    >>> own = normalise_mask(await infer(tensor))
    >>> mirrored = flip(normalise_mask(await infer(flip(tensor))))
    >>> mask = merge(colours_of(tensor, spec), own, mirrored)
"""
from __future__ import annotations

import numpy as np

from . import colours as histograms
from .cleanup import label
from .filters import dilate
from .matting import local_colour_at, planes_of

F32 = np.float32
# The two views disagree where they differ by more than this (a fifth of the range).
DISPUTED = 0.2
# Both views sure of the subject (above SURE) or of the background (below 1 - SURE): the
# pixels whose colours say what the subject and the background look like.
SURE = 0.8
# Disputed pixels this close (pixels of the model's mask) are one region.
JOIN = 2
# The colours' vote per pixel is capped at this log-likelihood ratio (a colour one side
# never showed is not infinitely telling).
CAP = 4.0


def flip(values: np.ndarray) -> np.ndarray:
    """The mirror image (left and right swapped) of an (..., H, W) array."""
    return np.ascontiguousarray(values[..., ::-1])


def merge(colours, own: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """One (S, S) float32 mask in [0, 1] from the model's mask of the photo (`own`) and of
    its mirror image, mirrored back (`mirrored`), both (S, S) in [0, 1]. `colours`: the photo
    at the masks' size in [0, 1]: three (S, S) planes (`preprocess.colours_of`) or (S, S, 3)."""
    own = np.asarray(own, dtype=F32)
    mirrored = np.asarray(mirrored, dtype=F32)
    mean = (own + mirrored) * F32(0.5)
    disputed = np.abs(own - mirrored) > DISPUTED
    if not disputed.any():
        return mean
    planes = planes_of(colours)
    regions, count = _regions(disputed)
    ids = regions[disputed]
    rows, cols = np.nonzero(disputed)
    subject = ((own > SURE) & (mirrored > SURE)).astype(F32)
    background = ((own < 1 - SURE) & (mirrored < 1 - SURE)).astype(F32)
    own_here, mirrored_here = own[disputed], mirrored[disputed]
    sides_with_mirror = np.ones(count, bool)      # per region: every referee so far does
    for likely in (local_alpha(planes, subject, background, rows, cols),
                   histogram_alpha(planes, subject, background)[disputed]):
        own_error = np.bincount(ids, np.abs(own_here - likely), count)
        mirrored_error = np.bincount(ids, np.abs(mirrored_here - likely), count)
        sides_with_mirror &= mirrored_error < own_error
    out = mean
    out[disputed] = np.where(sides_with_mirror[ids], mirrored_here, own_here)
    return out


def local_alpha(planes: list, subject: np.ndarray, background: np.ndarray, rows, cols) -> np.ndarray:
    """The alpha the colours imply at the pixels (rows, cols): each one's colour placed on
    the line from the background's mean colour around it to the subject's, in [0, 1] (N,).
    Reaches colours neither side showed (a petal's orange between a brown centre and a
    blue backdrop); misled where the subject nearby has another colour."""
    fore = local_colour_at(planes, subject, rows, cols)
    back = local_colour_at(planes, background, rows, cols)
    here = np.stack([plane[rows, cols] for plane in planes], axis=-1)
    apart = fore - back
    along = ((here - back) * apart).sum(axis=-1) / ((apart * apart).sum(axis=-1) + F32(1e-3))
    return np.clip(along, 0, 1).astype(F32)


def histogram_alpha(planes: list, subject: np.ndarray, background: np.ndarray) -> np.ndarray:
    """How subject-like each pixel's colour is, (S, S) in (0, 1): the colour histograms of
    the subject and the background samples, compared (the log-likelihood ratio within
    CAP, as a probability). Knows a subject of several colours; misled where the
    background sample holds subject that both views missed."""
    index = histograms.colour_index(planes)
    ratio = np.clip(histograms.log_ratio(index, subject, background), -CAP, CAP)
    return (1 / (1 + np.exp(-ratio))).astype(F32)


def _regions(disputed: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected regions of disputed pixels, those within JOIN pixels joined: (ids, -1
    where undisputed; count)."""
    ids, areas = label(dilate(disputed, JOIN))
    return np.where(disputed, ids, -1), len(areas)
