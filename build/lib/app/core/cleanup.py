"""Clean-up of the model mask: drop background specks and islands away from the
main subject, never fill holes (a cup's handle, gaps between fingers stay open).

Connected components without SciPy: `label` alternates a minimum over the
8 neighbours (also handed to the pixel each label points to) with pointer jumping (each pixel's label is the index of a pixel of
its component, so `labels[labels]` halves chains at every round); it runs on a
mask of at most LABEL_SIDE pixels a side, which keeps it to a few milliseconds.

Imports: NumPy, Pillow, `app.core` only.

    >>> ids, areas = label(mask > 0.5)           # ids: -1 background, 0..n-1 components
    >>> alpha = clean(alpha, remove_specks=True, keep_main_subject=False)
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .filters import dilate

# The mask is labelled at this size at most (long side, pixels).
LABEL_SIDE = 512
# Alpha above this counts as subject when finding components.
SUBJECT_LEVEL = 0.25
# An island smaller than this fraction of the main subject is a speck, unless it
# lies within NEAR_FRACTION of the image's long side from the main subject
# (strands of hair, a tail tip, fingers cut off by an occluder stay).
SPECK_FRACTION = 0.02
NEAR_FRACTION = 0.02


def label(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a bool mask: (ids (H, W) int32, -1 off the mask; areas)."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    count = height * width
    if not mask.any():
        return np.full(mask.shape, -1, np.int32), np.zeros(0, np.int64)
    sentinel = count
    labels = np.where(mask, np.arange(count, dtype=np.int32).reshape(mask.shape), np.int32(sentinel))
    inside = mask.ravel()
    for _ in range(count):          # converges in O(log n) rounds on real masks
        padded = np.pad(labels, 1, constant_values=sentinel)
        low = labels.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                if dy != 1 or dx != 1:
                    np.minimum(low, padded[dy:dy + height, dx:dx + width], out=low)
        low = np.where(mask, low, np.int32(sentinel))
        flat = np.append(low.ravel(), np.int32(sentinel))
        # Hooking: the pixel a label points to learns the smaller label too.
        np.minimum.at(flat, labels.ravel()[inside], low.ravel()[inside])
        for _ in range(4):
            flat = flat[flat]
        low = flat[:count].reshape(mask.shape)
        if np.array_equal(low, labels):
            break
        labels = low
    _, ids, areas = np.unique(labels[mask], return_inverse=True, return_counts=True)
    out = np.full(mask.shape, -1, np.int32)
    out[mask] = ids.astype(np.int32)
    return out, areas


def _any_pool(mask: np.ndarray, factor: int) -> np.ndarray:
    """Downsample a bool mask so that any True pixel keeps its block True."""
    if factor <= 1:
        return mask
    small = Image.fromarray(mask.astype(np.uint8) * 255, mode="L").reduce(factor)
    return np.asarray(small) > 0


def islands_to_remove(alpha: np.ndarray, remove_specks: bool, keep_main_subject: bool) -> np.ndarray:
    """Bool (H, W) mask of the components to drop from `alpha` (H, W) float in [0, 1]."""
    height, width = alpha.shape
    subject = alpha > SUBJECT_LEVEL
    factor = max(1, -(-max(height, width) // LABEL_SIDE))
    ids, areas = label(_any_pool(subject, factor))
    if len(areas) <= 1 or not (remove_specks or keep_main_subject):
        return np.zeros(alpha.shape, bool)
    main = int(np.argmax(areas))
    near = dilate(ids == main, max(1, round(NEAR_FRACTION * max(ids.shape))))
    touching = np.zeros(len(areas), bool)
    touching[np.unique(ids[near & (ids >= 0)])] = True
    drop = np.zeros(len(areas), bool)
    if keep_main_subject:
        drop |= ~touching
    if remove_specks:
        drop |= ~touching & (areas < SPECK_FRACTION * areas[main])
    drop[main] = False
    if not drop.any():
        return np.zeros(alpha.shape, bool)
    small = np.where(ids >= 0, drop[np.maximum(ids, 0)], False)
    kept = (ids >= 0) & ~small
    # Back to full size; grow by a block so an island's faint rim goes with it,
    # but never into a kept component.
    big = np.repeat(np.repeat(small, factor, 0), factor, 1)[:height, :width]
    keep = np.repeat(np.repeat(kept, factor, 0), factor, 1)[:height, :width]
    return dilate(big, factor + 1) & ~dilate(keep, 1)


def clean(alpha: np.ndarray, remove_specks: bool = True, keep_main_subject: bool = False) -> np.ndarray:
    """`alpha` without specks (and, if asked, without everything but the main subject)."""
    drop = islands_to_remove(alpha, remove_specks, keep_main_subject)
    if not drop.any():
        return alpha
    return np.where(drop, np.float32(0), alpha).astype(np.float32)
