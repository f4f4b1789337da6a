"""Full-resolution post-processing: from the model's 1024x1024 mask and the photo
to the RGBA cutout (edge refinement, clean-up, user controls, decontamination).

The expensive thinking happens once at a *working resolution* (the photo scaled
to at most WORK_SIDE pixels a side, about the model's own resolution); the full
resolution only sees a cheap per-pixel pass, and only in tiles that touch the
edge band, so a 24 MP photo costs little more memory than its RGBA result:

    prepare      photo and mask at the working resolution
    cleanup      specks and detached islands removed (cleanup.py)
    matte        alpha re-estimated from the colours in the edge band (matting.py)
    edge         the user's shift_edge and feather
    foreground   blur-fusion estimates of foreground/background colour
    compose      per edge tile at full resolution: alpha = a.I + b from the
                 upsampled guided-filter coefficients, F = F^ + alpha (I - alpha F^
                 - (1 - alpha) B^); elsewhere alpha is 0 or 1 and RGB the photo's

Imports: NumPy, Pillow, `app.core` only.

    >>> rgba = refine(image, mask, Options())        # mask: (S, S) float32 in [0, 1]
    >>> timings = {}; refine(image, mask, Options(feather=2), timings); sorted(timings)
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from PIL import Image

from . import cleanup, matting
from .filters import F32, blur, box, dilate, resize
from .options import Options
from .postprocess import compose_rgba, to_alpha8, upscale_mask

WORK_SIDE = 1024          # working resolution, long side in pixels
TILE = 32                 # full-resolution tiles are TILE working pixels a side
FOREGROUND_SIDE = 768     # above this working size, colours are estimated at half of it
EDGE_LEVEL = 0.5 / 255    # alpha further than this from 0 and 1 is an edge pixel
# Everything off: exactly the reference post-processing (bilinear upscale).
_REFERENCE = Options(refine_edges=False, decontaminate=False, remove_specks=False)


class _Clock:
    """Adds the seconds spent in each named stage to a dict (when one is given)."""

    def __init__(self, timings: dict | None):
        self.timings = timings

    @contextmanager
    def __call__(self, name: str):
        started = time.perf_counter()
        yield
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started


def working_size(size: tuple[int, int], side: int = WORK_SIDE) -> tuple[int, int]:
    """(width, height) scaled to at most `side` a side; never enlarged."""
    width, height = size
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def shift_and_feather(alpha: np.ndarray, shift: float, feather: float) -> np.ndarray:
    """Move the edge by `shift` pixels (+ out, - in) and soften it by `feather` pixels."""
    if shift:
        steps = abs(shift)
        whole = int(steps)
        grow = shift > 0
        moved = _grey_morph(alpha, whole, grow)
        if steps > whole:
            further = _grey_morph(moved, 1, grow)
            frac = F32(steps - whole)
            moved = moved * (1 - frac) + further * frac
        alpha = moved
    if feather > 0:
        # Three box passes of radius r approximate a Gaussian of sigma sqrt(r (r + 1)).
        radius = max(1, round(feather / 2))
        if radius <= 8:
            for _ in range(3):
                alpha = box(alpha, radius)
        else:
            alpha = blur(alpha, radius)
    return np.clip(alpha, 0, 1).astype(F32)


def _grey_morph(alpha: np.ndarray, radius: int, grow: bool) -> np.ndarray:
    """Grey-level dilation (grow) or erosion by a (2r+1)^2 square."""
    pick = np.maximum if grow else np.minimum
    out = alpha
    for axis in (0, 1):
        for _ in range(radius):
            padded = np.pad(out, [(1, 1) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
            if axis == 0:
                out = pick(pick(padded[:-2], padded[1:-1]), padded[2:])
            else:
                out = pick(pick(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return out


def refine(image: Image.Image, mask: np.ndarray, options: Options | None = None,
           timings: dict | None = None) -> Image.Image:
    """The RGBA cutout of RGB `image` from the model's (S, S) mask in [0, 1]."""
    options = options or Options()
    clock = _Clock(timings)
    full = image.size
    if options == _REFERENCE:
        with clock("compose"):
            return compose_rgba(image, upscale_mask(mask, full))
    with clock("prepare"):
        size = working_size(full)
        scale = (full[0] / size[0], full[1] / size[1])
        photo = image if size == full else image.resize(size, Image.Resampling.BOX)
        work = np.asarray(photo, dtype=F32) * F32(1 / 255)
        alpha = np.clip(resize(mask, size), 0, 1)
    with clock("cleanup"):
        if options.remove_specks or options.keep_main_subject:
            alpha = cleanup.clean(alpha, options.remove_specks, options.keep_main_subject)
    with clock("matte"):
        if options.refine_edges:
            fg, bg, band = matting.trimap(alpha)
            alpha = matting.solve_alpha(work, alpha, fg, bg, band)
    with clock("edge"):
        if options.shift_edge or options.feather:
            px = (scale[0] + scale[1]) / 2
            alpha = shift_and_feather(alpha, options.shift_edge / px, options.feather / px)
    with clock("foreground"):
        estimates = None
        if options.decontaminate:
            # Smooth colour fields: half the working resolution is plenty for large photos.
            half = max(size) > FOREGROUND_SIDE
            sample = _half(work, alpha) if half else (work, alpha)
            estimates = matting.foreground_estimates(*sample, blocks=(16, 4, 2) if half else (32, 8, 4))
    with clock("guide"):
        upsample = options.refine_edges and size != full
        coefficients = matting.guided_coefficients(work, alpha) if upsample else None
    with clock("compose"):
        return _compose(image, alpha, coefficients, estimates)


def _half(work: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 block means of the working photo and alpha."""
    height, width = alpha.shape
    height, width = height - height % 2, width - width % 2
    reduce = lambda v: v[:height, :width].reshape(height // 2, 2, width // 2, 2, *v.shape[2:]).mean(axis=(1, 3))
    return reduce(work).astype(F32), reduce(alpha).astype(F32)


def _edge_tiles(alpha: np.ndarray) -> np.ndarray:
    """(rows, cols) bool: which TILE x TILE working-resolution tiles touch the edge."""
    edge = dilate((alpha > EDGE_LEVEL) & (alpha < 1 - EDGE_LEVEL), 2)
    height, width = alpha.shape
    rows, cols = -(-height // TILE), -(-width // TILE)
    padded = np.zeros((rows * TILE, cols * TILE), bool)
    padded[:height, :width] = edge
    return padded.reshape(rows, TILE, cols, TILE).any(axis=(1, 3))


class _Planes:
    """Planes at some reduced resolution, read back per full-resolution tile.

    Colour planes travel as 8-bit RGB images (one Pillow resize for three
    channels); others as float 'F' images. At the full size they are sliced.
    """

    def __init__(self, planes: np.ndarray, full: tuple[int, int]):
        height, width = planes.shape[:2]
        self.same = (width, height) == full
        self.scale = (full[0] / width, full[1] / height)
        self.planes = planes
        if self.same:
            self.images = None
        elif planes.ndim == 3 and planes.shape[2] == 3:
            self.images = [Image.fromarray(to_alpha8(planes), mode="RGB")]
        else:
            stack = planes if planes.ndim == 3 else planes[..., None]
            self.images = [Image.fromarray(np.ascontiguousarray(stack[..., c]), mode="F")
                           for c in range(stack.shape[2])]

    def tile(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """The planes over full-resolution pixels [y0:y1, x0:x1], float32."""
        if self.same:
            return self.planes[y0:y1, x0:x1]
        sx, sy = self.scale
        window = (x0 / sx, y0 / sy, x1 / sx, y1 / sy)
        size = (x1 - x0, y1 - y0)
        parts = [np.asarray(i.resize(size, Image.Resampling.BILINEAR, box=window)) for i in self.images]
        if self.images[0].mode == "RGB":
            return parts[0].astype(F32) * F32(1 / 255)
        return parts[0] if self.planes.ndim == 2 else np.stack(parts, axis=-1)


def _compose(image, alpha, coefficients, estimates) -> Image.Image:
    """Full-resolution RGBA: per-pixel work only in the tiles that touch the edge."""
    width, height = image.size
    work_height, work_width = alpha.shape
    sx, sy = width / work_width, height / work_height
    out = np.empty((height, width, 4), np.uint8)
    out[..., :3] = np.asarray(image)
    small = Image.fromarray(to_alpha8(alpha), mode="L")
    out[..., 3] = np.asarray(small if small.size == image.size
                             else small.resize(image.size, Image.Resampling.BILINEAR))
    if coefficients is not None:
        a, b = coefficients
        source = _Planes(np.concatenate([a, b[..., None]], axis=-1), image.size)
    else:
        source = _Planes(alpha, image.size)
    if estimates is not None:
        fore_planes, back_planes = (_Planes(e, image.size) for e in estimates)
    for row, col in zip(*np.nonzero(_edge_tiles(alpha))):
        wy0, wx0 = row * TILE, col * TILE
        wy1, wx1 = min(wy0 + TILE, work_height), min(wx0 + TILE, work_width)
        y0, x0 = round(wy0 * sy), round(wx0 * sx)
        y1, x1 = round(wy1 * sy), round(wx1 * sx)
        if y1 <= y0 or x1 <= x0:
            continue
        pixels = out[y0:y1, x0:x1, :3].astype(F32) * F32(1 / 255)
        planes = source.tile(x0, y0, x1, y1)
        if coefficients is not None:
            tile_alpha = matting.apply_coefficients(pixels, planes[..., :3], planes[..., 3])
        else:
            tile_alpha = np.clip(planes, 0, 1)
        if estimates is not None:
            fore, back = fore_planes.tile(x0, y0, x1, y1), back_planes.tile(x0, y0, x1, y1)
            a3 = tile_alpha[..., None]
            colour = fore + a3 * (pixels - a3 * fore - (1 - a3) * back)
            out[y0:y1, x0:x1, :3] = to_alpha8(colour)
        out[y0:y1, x0:x1, 3] = to_alpha8(tile_alpha)
    return Image.fromarray(out, mode="RGBA")
