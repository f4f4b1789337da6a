"""Colour histograms of a photo, for telling a part's colours from another's: which bin
each pixel's colour falls in, weighted histograms, and how much likelier each pixel's
colour is under one weighting than under another. Used by Keep/Drop part (`pick`) and by
the second look's referee (`mirror`).

Imports: NumPy only.

    >>> index = colour_index(planes)                  # planes: three (H, W) arrays in [0, 1]
    >>> ratio = log_ratio(index, subject, background) # (H, W): > 0 where subject-like
"""
from __future__ import annotations

import numpy as np

BINS = 16            # bins per channel
FLOOR = 1e-5         # added to every share before the logarithm (a colour never seen)


def colour_index(planes) -> np.ndarray:
    """Each pixel's histogram bin (BINS per channel) from three planes in [0, 1]."""
    quantised = [np.clip((np.asarray(p) * BINS).astype(np.intp), 0, BINS - 1) for p in planes]
    return (quantised[0] * BINS + quantised[1]) * BINS + quantised[2]


def histogram(index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """A smoothed (1-2-1 along each channel), normalised histogram (flat, BINS^3) of
    `weight` at `index`."""
    counts = np.bincount(index.ravel(), weights=np.asarray(weight).ravel(), minlength=BINS ** 3)
    counts = counts.reshape(BINS, BINS, BINS)
    for axis in range(3):
        counts = (np.roll(counts, 1, axis) + 2 * counts + np.roll(counts, -1, axis)) / 4
    counts = counts.ravel()
    return counts / max(float(counts.sum()), 1e-9)


def log_ratio(index: np.ndarray, liked: np.ndarray, unliked: np.ndarray) -> np.ndarray:
    """log P(colour | liked) - log P(colour | unliked) at every pixel of `index`, the two
    histograms made from the weights `liked` and `unliked` (arrays of `index`'s shape)."""
    like, unlike = histogram(index, liked), histogram(index, unliked)
    return np.log(like[index] + FLOOR) - np.log(unlike[index] + FLOOR)
