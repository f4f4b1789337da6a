"""Small image filters for the refinement stages, fast in NumPy and Pillow alone.

Everything takes and returns float32 (H, W) or (H, W, C) arrays, or bool masks.
The large blurs go through Pillow (`reduce` to block means, bilinear back up),
which costs about the same as two resizes whatever the radius; the small exact
box means and the binary morphology are a handful of shifted NumPy operations.

Imports: NumPy, Pillow only.

    >>> smooth = blur(values, 16)                # ~16-pixel blur, any channel count
    >>> mean = box(values, 2)                    # exact 5x5 mean, edges replicated
    >>> grown = dilate(mask, 5)                  # 11x11 square structuring element
    >>> thinner = grey_erode(alpha, 1)           # minimum over 3x3
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
    # Block means sit at block centres: map the output's extent onto the reduced grid.
    box = (0.0, 0.0, width / block, height / block)
    return resize(block_means(values, block), (width, height), box)


def block_means(values: np.ndarray, block: int) -> np.ndarray:
    """Means of `block` x `block` blocks (Pillow `reduce`): shape ceil(H / block), ceil(W / block)."""
    image = Image.fromarray(np.ascontiguousarray(values, dtype=F32), mode="F")
    return np.asarray(image.reduce(block)) if block > 1 else np.asarray(image)


SHORT_ROWS = 64      # last axes shorter than this are window-summed as one flat array


def _axis_sum(values: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sum over the 2r+1 values around each one along `axis`, truncated at the border."""
    length = values.shape[axis]
    if axis == values.ndim - 1 and values.ndim > 1 and length < SHORT_ROWS:
        return _row_sum(values, radius)
    total = values.copy()
    for shift in range(1, min(radius, length - 1) + 1):
        ahead = [slice(None)] * values.ndim
        behind = [slice(None)] * values.ndim
        ahead[axis], behind[axis] = slice(shift, None), slice(None, length - shift)
        total[tuple(behind)] += values[tuple(ahead)]
        total[tuple(ahead)] += values[tuple(behind)]
    return total


def _row_sum(values: np.ndarray, radius: int) -> np.ndarray:
    """`_axis_sum` along the last axis, for short rows: the rows are laid end to end with
    `radius` zeros after each, so every shifted addition is one pass over one flat array
    (NumPy runs an inner loop per row otherwise, which for rows of a few dozen values
    costs up to 20x more under WebAssembly); what crosses a row's end adds an exact 0."""
    width = values.shape[-1]
    reach = min(radius, width - 1)
    padded = np.zeros(values.shape[:-1] + (width + reach,), values.dtype)
    padded[..., :width] = values
    flat = padded.reshape(-1)
    total = flat.copy()
    count = flat.size
    for shift in range(1, reach + 1):
        total[:count - shift] += flat[shift:]
        total[shift:] += flat[:count - shift]
    return np.ascontiguousarray(total.reshape(padded.shape)[..., :width])


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


def _reach_axis(values: np.ndarray, radius: int, axis: int, pick, neutral) -> np.ndarray:
    """`pick` (e.g. np.maximum) over a window of 2r+1 along one axis (0 or 1), by doubling
    the reach each step; outside the array counts as `neutral`."""
    # Padding keeps windows that straddle the border whole while the reach doubles.
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    out = np.pad(values, pad, constant_values=neutral)
    reach = 0
    while reach < radius:
        step = min(2 * reach + 1, radius - reach)
        prev = out.copy()
        if axis == 0:
            pick(out[step:], prev[:-step], out=out[step:])
            pick(out[:-step], prev[step:], out=out[:-step])
        else:
            pick(out[:, step:], prev[:, :-step], out=out[:, step:])
            pick(out[:, :-step], prev[:, step:], out=out[:, :-step])
        reach += step
    return out[radius:-radius] if axis == 0 else out[:, radius:-radius]


def _reach(values: np.ndarray, radius: int, pick, neutral) -> np.ndarray:
    """`pick` over the (2r+1)^2 square around every pixel."""
    if radius <= 0:
        return values.copy()
    return _reach_axis(_reach_axis(values, radius, 0, pick, neutral), radius, 1, pick, neutral)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2r+1)^2 square; outside the image counts as False."""
    return _reach(np.asarray(mask, dtype=bool), radius, np.logical_or, False)


def grey_dilate(values: np.ndarray, radius: int) -> np.ndarray:
    """Maximum over the (2r+1)^2 square around every pixel (the image's own values only)."""
    return _reach(np.asarray(values, dtype=F32), radius, np.maximum, -np.inf)


def grey_erode(values: np.ndarray, radius: int) -> np.ndarray:
    """Minimum over the (2r+1)^2 square around every pixel (the image's own values only)."""
    return _reach(np.asarray(values, dtype=F32), radius, np.minimum, np.inf)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion by a (2r+1)^2 square; outside the image counts as True,
    so a subject cut by the frame is not eaten from the frame's side."""
    return ~dilate(~np.asarray(mask, dtype=bool), radius)


def inverse_sym3(xx, xy, xz, yy, yz, zz) -> list[np.ndarray]:
    """Per-pixel inverse of the symmetric 3x3 matrices [[xx, xy, xz], [xy, yy, yz],
    [xz, yz, zz]] by cofactors, as its six entries (xx, xy, xz, yy, yz, zz); where a
    matrix is singular (determinant <= 0) the entries are 0."""
    ixx, ixy, ixz = yy * zz - yz * yz, yz * xz - xy * zz, xy * yz - yy * xz
    iyy, iyz, izz = xx * zz - xz * xz, xz * xy - xx * yz, xx * yy - xy * xy
    determinant = xx * ixx + xy * ixy + xz * ixz
    scale = np.divide(F32(1), determinant, out=np.zeros_like(determinant), where=determinant > 0)
    return [v * scale for v in (ixx, ixy, ixz, iyy, iyz, izz)]
