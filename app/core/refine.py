"""Full-resolution post-processing: from the model's 1024x1024 mask and the photo
to the RGBA cutout (edge refinement, clean-up, user controls, decontamination).

The expensive thinking happens once at a *working resolution* (the photo scaled
to at most WORK_SIDE pixels a side, about the model's own resolution, and to at
most WORK_FRACTION of its own size, so small photos too are solved a little
coarser and carried back by the guided coefficients); the full
resolution only sees a cheap per-pixel pass, and only on the pixels of the soft
edge, so a 24 MP photo costs little more memory than two copies of its RGBA result:

    prepare      photo and mask at the working resolution
    cleanup      specks and detached islands removed (cleanup.py)
    matte        alpha re-estimated from the colours in the edge band and settled on
                 the matting Laplacian where they are trusted, as guided-filter
                 coefficients alpha = a.I + b (matting.py, laplacian.py)
    edge         the user's shift_edge and feather
    foreground   blur-fusion estimates of foreground/background colour
    guide        after shift_edge/feather only: guided-filter coefficients of the
                 moved edge
    compose      a strip of rows at a time, straight into the one full-size RGBA
                 array: the bilinear upscale of the matte, then per-pixel work only where
                 it is strictly between 0 and 1 (flat indices, in chunks): alpha
                 = a.I + b from bilinear samples of the guided-filter coefficients,
                 F = F^ + alpha (I - alpha F^ - (1 - alpha) B^); elsewhere alpha is
                 0 or 1 and RGB the photo's;
                 then the alpha capped by the file's own, if any, and RGB made
                 black where alpha is 0 (postprocess.clear_hidden, in place)

A `Reuse` keeps one photo's working-resolution results (prepare to matte, the
colour estimates, the moved edge's coefficients) with the options each depends
on, so a change of feather, shift or decontamination redoes only what it changes.

Imports: NumPy, Pillow, `app.core` only.

    >>> rgba = refine(image, mask, Options())        # mask: (S, S) float32 in [0, 1]
    >>> timings = {}; refine(image, mask, Options(feather=2), timings); sorted(timings)
    >>> reuse = Reuse(); refine(image, mask, Options(), reuse=reuse)
    >>> refine(image, mask, Options(feather=2), reuse=reuse)  # no second matte
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np
from PIL import Image

from . import cleanup, matting
from .matting import Sampler
from .filters import F32, block_means, blur, box, grey_dilate, grey_erode, resize
from .options import Options
from .postprocess import clear_hidden, compose_rgba, to_alpha8, upscale_mask

WORK_SIDE = 1024          # working resolution, long side in pixels, at most...
WORK_FRACTION = 2 / 3     # ...and at most this fraction of the photo's: the solve is steadier a
                          # little coarser than the photo, the guided upsampling restores its detail
CHUNK = 1 << 20           # full-resolution edge pixels handled at once
FOREGROUND_SIDE = 768     # above this working size, colours are estimated at half of it
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


def working_size(size: tuple[int, int], side: int | None = None) -> tuple[int, int]:
    """(width, height) scaled to at most `side` a side (default: WORK_SIDE, and WORK_FRACTION
    of the long side); never enlarged."""
    width, height = size
    side = side or min(WORK_SIDE, max(1, round(WORK_FRACTION * max(width, height))))
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def shift_and_feather(alpha: np.ndarray, shift: float, feather: float) -> np.ndarray:
    """Move the edge by `shift` pixels (+ out, - in) and soften it by `feather` pixels."""
    if shift:
        steps = abs(shift)
        whole = int(steps)
        grow = shift > 0
        morph = grey_dilate if grow else grey_erode
        moved = morph(alpha, whole)
        if steps > whole:
            further = morph(moved, 1)
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


class Reuse:
    """One photo's working-resolution results, kept for its next post-processing with
    other options (`pipeline.restyle`): a stage's result is reused while the options it
    depends on are unchanged, so a new feather, shift or decontamination setting does
    not redo prepare, cleanup and matte. Bound to the first photo and mask it sees;
    another pair empties it. Its arrays are read-only."""

    def __init__(self):
        self.source: tuple | None = None
        self.saved: dict[str, tuple] = {}

    def bind(self, image: Image.Image, mask: np.ndarray) -> None:
        if self.source is None or self.source[0] is not image or self.source[1] is not mask:
            self.source, self.saved = (image, mask), {}

    def get(self, stage: str, key: tuple):
        """The result `stage` saved for `key`, or None."""
        saved = self.saved.get(stage)
        return saved[1] if saved is not None and saved[0] == key else None

    def put(self, stage: str, key: tuple, result):
        for array in _arrays(result):
            array.flags.writeable = False
        self.saved[stage] = (key, result)
        return result


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays(item)


def refine(image: Image.Image, mask: np.ndarray, options: Options | None = None,
           timings: dict | None = None, reuse: Reuse | None = None,
           ceiling: np.ndarray | None = None) -> Image.Image:
    """The RGBA cutout of RGB `image` from the model's (S, S) mask in [0, 1], black
    wherever it is fully transparent (postprocess.clear_hidden); `reuse` keeps working
    results for the same image and mask with other options; `ceiling`, an (H, W) uint8
    alpha (the file's own), caps the cutout's alpha."""
    options = options or Options()
    clock = _Clock(timings)
    full = image.size
    if options == _REFERENCE:
        with clock("compose"):
            return _finish(np.array(compose_rgba(image, upscale_mask(mask, full))), ceiling)
    reuse = reuse or Reuse()
    reuse.bind(image, mask)
    matte_key = (options.remove_specks, options.keep_main_subject, options.refine_edges)
    if (state := reuse.get("matte", matte_key)) is None:
        state = reuse.put("matte", matte_key, _matte(image, mask, options, clock))
    size, work, alpha, coefficients = state
    edge_key = matte_key + (options.shift_edge, options.feather)
    with clock("edge"):
        if options.shift_edge or options.feather:
            px = (full[0] / size[0] + full[1] / size[1]) / 2
            alpha = shift_and_feather(alpha, options.shift_edge / px, options.feather / px)
            coefficients = None
    with clock("foreground"):
        estimates = None
        if options.decontaminate and (estimates := reuse.get("foreground", edge_key)) is None:
            # Smooth colour fields: half the working resolution is plenty for large photos.
            half = max(size) > FOREGROUND_SIDE
            sample = _half(work, alpha) if half else (work, alpha)
            estimates = matting.foreground_planes(*sample, blocks=(16, 4, 2) if half else (32, 8, 4))
            if half:        # back on the working grid: one set of taps serves every plane
                estimates = tuple([resize(p, size) for p in planes] for planes in estimates)
            estimates = reuse.put("foreground", edge_key, estimates)
    with clock("guide"):
        if not options.refine_edges or size == full:
            coefficients = None
        elif coefficients is None:      # the edge was moved or softened: follow the new one
            if (coefficients := reuse.get("guide", edge_key)) is None:
                coefficients = reuse.put("guide", edge_key, matting.guided_coefficients(work, alpha))
    with clock("compose"):
        return _finish(_compose(image, alpha, coefficients, estimates), ceiling)


def _matte(image: Image.Image, mask: np.ndarray, options: Options, clock: _Clock):
    """(working size, working photo planes, alpha, guided coefficients or None): the
    stages prepare, cleanup and matte."""
    with clock("prepare"):
        size = working_size(image.size)
        photo = image if size == image.size else image.resize(size, Image.Resampling.BOX)
        work = [np.asarray(channel, dtype=F32) * F32(1 / 255) for channel in photo.split()]
        alpha = np.clip(resize(mask, size), 0, 1)
    with clock("cleanup"):
        if options.remove_specks or options.keep_main_subject:
            alpha = cleanup.clean(alpha, options.remove_specks, options.keep_main_subject)
    with clock("matte"):
        coefficients = None
        if options.refine_edges:
            coefficients = matting.matte(work, alpha)
            alpha = matting.apply_coefficients(work, *coefficients)
    return size, work, alpha, coefficients


def _half(work: list, alpha: np.ndarray) -> tuple[list, np.ndarray]:
    """2x2 block means of the working photo's planes and alpha."""
    return [block_means(p, 2) for p in work], block_means(alpha, 2)


def _finish(pixels: np.ndarray, ceiling: np.ndarray | None) -> Image.Image:
    """The (H, W, 4) RGBA array, its alpha capped by `ceiling`, cleared where hidden, as
    an image (sharing its memory: no copy)."""
    if ceiling is not None:
        np.minimum(pixels[:, :, 3], ceiling, out=pixels[:, :, 3])
    return Image.fromarray(clear_hidden(pixels), mode="RGBA")


def _compose(image: Image.Image, alpha: np.ndarray, coefficients, estimates) -> np.ndarray:
    """Full-resolution RGBA, an (H, W, 4) uint8 array: the bilinear upscale of `alpha`
    with the photo's RGB, then per-pixel work only where that alpha is strictly between
    0 and 1. Made a strip of rows at a time, straight into the one full-size array: no
    full-size RGBA image or byte copy besides it."""
    width, height = image.size
    small = Image.fromarray(to_alpha8(alpha), mode="L")
    big = small if small.size == image.size else small.resize(image.size, Image.Resampling.BILINEAR)
    out = np.empty((height, width, 4), dtype=np.uint8)
    flat = out.reshape(-1).view(np.uint32)                               # little-endian RGBA
    refined = coefficients is not None or estimates is not None
    rows = max(1, CHUNK // width)
    for top in range(0, height, rows):
        box = (0, top, width, min(height, top + rows))
        strip = image.crop(box).convert("RGBA")
        level = big.crop(box)
        strip.putalpha(level)
        out[box[1]:box[3]] = np.frombuffer(strip.tobytes(), dtype=np.uint8).reshape(-1, width, 4)
        if refined:
            level = np.frombuffer(level.tobytes(), dtype=np.uint8)
            edge = np.flatnonzero((level - np.uint8(1)) < np.uint8(254)) + top * width   # 0 < alpha < 255
            for start in range(0, len(edge), CHUNK):
                _refine_pixels(flat, edge[start:start + CHUNK], width, height, alpha.shape, coefficients, estimates)
    return out


def _refine_pixels(flat: np.ndarray, index: np.ndarray, width: int, height: int, work_shape: tuple[int, int],
                   coefficients, estimates) -> None:
    """In place on `flat`, the full-resolution RGBA as 32-bit words: the pixels at flat
    `index` get alpha = a.I + b from the guided-filter coefficients (or keep theirs) and,
    with colour estimates, the decontaminated foreground colour."""
    if work_shape == (height, width):
        sample = lambda plane: plane.reshape(-1)[index]
    else:
        rows, cols = np.divmod(index, width)
        sample = Sampler(rows, cols, work_shape, height / work_shape[0], width / work_shape[1])
    pixels = flat[index]
    channels = pixels.view(np.uint8).reshape(-1, 4)
    photo = [channels[:, c].astype(F32) * F32(1 / 255) for c in range(3)]
    if coefficients is not None:
        a, b = coefficients
        value = sample(b)
        for c in range(3):
            value += sample(a[c]) * photo[c]
        value = np.clip(value, 0, 1, out=value)
    else:
        value = channels[:, 3].astype(F32) * F32(1 / 255)
    packed = to_alpha8(value).astype(np.uint32) << np.uint32(24)
    if estimates is not None:
        fore, back = estimates
        beta = 1 - value
        for c in range(3):
            fore_hat = sample(fore[c])
            colour = fore_hat + value * (photo[c] - value * fore_hat - beta * sample(back[c]))
            packed |= to_alpha8(colour).astype(np.uint32) << np.uint32(8 * c)
    else:
        packed |= pixels & np.uint32(0xFFFFFF)
    flat[index] = packed
