"""Small image filters for the refinement stages, fast in NumPy and Pillow alone.

Everything takes and returns float32 (H, W) or (H, W, C) arrays, or bool masks.
The large blurs go through Pillow (`reduce` to block means, bilinear back up),
which costs about the same as two resizes whatever the radius; the small exact
box means and the binary morphology are a handful of shifted NumPy operations.

Imports: NumPy, Pillow only.

    >>> smooth = blur(values, 16)                # ~16-pixel blur, any channel count
    >>> mean = box(values, 2)                    # exact 5x5 mean, edges replicated
    >>> grown = dilate(mask, 5)                  # 11x11 square structuring element
"""
from __future__ import annotations

import numpy as np
from PIL import Image

F32 = np.float32


def resize(values: np.ndarray, size: tuple[int, int], box=None) -> np.ndarray:
    """Bilinear resize of a float (H, W) or (H, W, C) array to `size` (width, height).

    `box` (x0, y0, x1, y1) in source pixels picks the source region, so tiles of a
    large output line up exactly with a resize of the whole.
    """
    values = np.asarray(values, dtype=F32)
    if values.ndim == 2:
        return np.asarray(
            Image.fromarray(values, mode="F").resize(size, Image.Resampling.BILINEAR, box=box)
        )
    return np.stack([resize(values[..., c], size, box) for c in range(values.shape[2])], axis=-1)


def blur(values: np.ndarray, block: int) -> np.ndarray:
    """Block means of `block`x`block` pixels, bilinearly interpolated back to full size.

    A smooth low-pass with a support of about 2 * block pixels, at the cost of one
    Pillow `reduce` and one resize per channel whatever the block size.
    """
    values = np.asarray(values, dtype=F32)
    if block <= 1:
        return values
    if values.ndim == 3:
        return np.stack([blur(values[..., c], block) for c in range(values.shape[2])], axis=-1)
    height, width = values.shape
    small = Image.fromarray(np.ascontiguousarray(values), mode="F").reduce(block)
    # Block means sit at block centres: map the output's extent onto the reduced grid.
    box = (0.0, 0.0, width / block, height / block)
    return np.asarray(small.resize((width, height), Image.Resampling.BILINEAR, box=box))


def _axis_sum(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sum over the 2r+1 values around each one along `axis`, truncated at the border."""
    total = values.copy()
    length = values.shape[axis]
    for shift in range(1, min(radius, length - 1) + 1):
        ahead = [slice(None)] * values.ndim
        behind = [slice(None)] * values.ndim
        ahead[axis], behind[axis] = slice(shift, None), slice(None, length - shift)
        total[tuple(behind)] += values[tuple(ahead)]
        total[tuple(ahead)] += values[tuple(behind)]
    return total


def window_sum(values: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the (2r+1)^2 window around every pixel of the last two axes, truncated
    at their border (a few in-place shifted additions, no padding)."""
    return _axis_sum(_axis_sum(values, radius, values.ndim - 2), radius, values.ndim - 1)


def box(values: np.ndarray, radius: int) -> np.ndarray:
    """Exact mean over (2r+1)^2 windows, edges replicated; for small radii."""
    values = np.asarray(values, dtype=F32)
    if radius <= 0:
        return values
    out = values
    for axis in (0, 1):
        length = values.shape[axis]
        if length <= radius:                  # tiny: pad and sum directly
            pad = [(0, 0)] * values.ndim
            pad[axis] = (radius, radius)
            padded = np.pad(out, pad, mode="edge")
            total = sum(np.take(padded, range(k, k + length), axis=axis) for k in range(2 * radius + 1))
        else:
            total = _axis_sum(out, radius, axis)
            # The part of a window past the border repeats the edge value.
            edge_first = np.take(out, [0], axis=axis)
            edge_last = np.take(out, [length - 1], axis=axis)
            for k in range(radius):
                near = [slice(None)] * values.ndim
                far = [slice(None)] * values.ndim
                near[axis], far[axis] = slice(k, k + 1), slice(length - 1 - k, length - k)
                total[tuple(near)] += F32(radius - k) * edge_first
                total[tuple(far)] += F32(radius - k) * edge_last
        out = total
    return out * F32(1.0 / (2 * radius + 1) ** 2)


def _dilate_axis(mask: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """OR over a window of 2r+1 along one axis, by doubling the reach each step."""
    # Padding keeps windows that straddle the border whole while the reach doubles.
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    out = np.pad(mask, pad)
    reach = 0
    while reach < radius:
        step = min(2 * reach + 1, radius - reach)
        prev = out.copy()
        if axis == 0:
            out[step:] |= prev[:-step]
            out[:-step] |= prev[step:]
        else:
            out[:, step:] |= prev[:, :-step]
            out[:, :-step] |= prev[:, step:]
        reach += step
    return out[radius:-radius] if axis == 0 else out[:, radius:-radius]


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2r+1)^2 square; outside the image counts as False."""
    mask = np.asarray(mask, dtype=bool)
    if radius <= 0:
        return mask.copy()
    return _dilate_axis(_dilate_axis(mask, radius, 0), radius, 1)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion by a (2r+1)^2 square; outside the image counts as True,
    so a subject cut by the frame is not eaten from the frame's side."""
    return ~dilate(~np.asarray(mask, dtype=bool), radius)
