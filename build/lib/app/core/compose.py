"""What the exported image looks like: the cutout on a background (transparent, a
colour, the photo itself blurred, or a picture the user brings), with an optional
soft shadow, framed as the whole photo, the subject with a margin, or a square
canvas with the subject centred. Encoding the result is `export.py`'s job.

One `Layout` (a frozen dataclass that checks its own values, like `Options`) says
all of it; `render` makes the image. Everything expensive (the blurred photo, the
shadow) is computed on a reduced copy and scaled up, so a 48 MP photo costs a few
full-size passes in Pillow, never a Python loop over pixels or a float64 copy.

For a batch drawn at one scale, `common_scale` gives the scale at which the
largest subject of the batch fits the square; pass it to every `render`.

Imports: NumPy, Pillow, `app.core` only (never `js` or `pyodide`).

    >>> layout = Layout(background="colour", colour="#ff0000", shadow=True, frame="square", size=1000)
    >>> image = render(cutout.image, cutout.photo, layout)        # RGB, 1000 x 1000
    >>> render(cutout.image, cutout.photo, Layout()).mode        # transparent: RGBA
    'RGBA'
    >>> boxes = [subject_box(c.alpha) for c in cutouts]
    >>> scale = common_scale(boxes, layout)                       # same pixel scale for all
    >>> images = [render(c.image, c.photo, layout, scale=scale) for c in cutouts]
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields

import numpy as np
from PIL import Image, ImageFilter

from .errors import InputError
from .options import from_plain
from .preprocess import decode_photo

# The choices and limits, used by `Layout`'s checks (and for the page's controls).
BACKGROUNDS = ("transparent", "colour", "blur", "image")
FRAMES = ("photo", "subject", "square")
MIN_MARGIN, MAX_MARGIN = 0.0, 40.0        # percent
MIN_SIZE, MAX_SIZE = 64, 8000              # square canvas side, pixels
SQUARE_SIZES = (1000, 1600, 2000)          # the page's presets
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")

# Alpha below this (of 255, about 3 %) does not count as subject for its box: the
# bilinear upscale of the model's mask and a feathered edge leave a faint haze and
# long tails that no background shows noticeably (at most 8 levels of one pixel),
# but one such speck in a corner would stretch the box to the photo's edge.
HAZE_LEVEL = 8

# Reductions are Lanczos (sharp; its ringing is a pixel wide at the output's
# scale, as in any photo reduced for the web). Enlargements are Hamming: Pillow's
# has no negative lobe, so it never overshoots. Lanczos enlarging an opaque square
# 16x left a halo of alpha 8-10 some 30 px wide outside it, and bicubic a rim 7-15 %
# brighter inside (the colour against transparency overshoots, the clipped alpha
# cannot); Hamming is crisper than bilinear, with neither.
# Large reductions go by an integer factor first (Pillow `reducing_gap`), which
# Pillow documents as indistinguishable from a full resample from 3 on.
REDUCING_GAP = 3.0
FILTER_SUPPORT = 3                         # Lanczos's reach in output pixels (Hamming's is 1)

# Blurred photo behind the subject: a Gaussian with a standard deviation of
# BLUR_FRACTION of the output's longer side (50 px on a 2000 px square: the scene
# is still recognisable, its detail gone), computed on a copy BLUR_WORK_SIDE
# pixels long (the blur is then 8 of its pixels, smooth enough for a bilinear
# upscale to show no steps), whatever the output's size.
BLUR_FRACTION = 0.025
BLUR_WORK_SIDE = 320

# Shadow, in fractions of the subject's larger side as drawn: a soft drop shadow
# (light, wide, a little below) and a contact shadow (darker, tight, only from the
# subject's lowest rows: where it would stand on the ground). Computed on a copy
# whose subject is SHADOW_WORK_SIDE pixels long, then scaled up.
SHADOW_WORK_SIDE = 400
DROP_OPACITY, DROP_BLUR, DROP_OFFSET = 0.35, 0.03, 0.02
CONTACT_OPACITY, CONTACT_BLUR, CONTACT_OFFSET = 0.55, 0.01, 0.005
CONTACT_BAND = 0.06                        # the bottom 6 % of the subject's height
SHADOW_REACH = 3                           # the blurs' reach, in standard deviations

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Layout:
    """How the exported image looks.

    background  "transparent"; "colour" (`colour`); "blur": the photo itself,
                blurred, framed like the subject; "image": a picture the user
                brings, scaled to cover the output (CSS `object-fit: cover`)
    colour      "#rrggbb": the "colour" background (and under a transparent
                background picture)
    shadow      a soft shadow under the subject (semi-transparent on "transparent")
    frame       "photo": the photo's own size; "subject": cropped to the subject's
                box plus `margin` (within the photo); "square": a `size` x `size`
                canvas, the subject centred and scaled to fit inside the margin
    margin      percent: for "subject", of the box's larger side, added on each
                side; for "square", of the canvas side, kept free on each side
    size        the square's side in pixels (`SQUARE_SIZES` are the presets)
    """

    background: str = "transparent"
    colour: str = "#ffffff"
    shadow: bool = False
    frame: str = "photo"
    margin: float = 5.0
    size: int = 2000

    def __post_init__(self):
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, not {self.background!r}")
        if not isinstance(self.colour, str) or not _COLOUR.fullmatch(self.colour):
            raise ValueError(f"colour must be #rrggbb, not {self.colour!r}")
        if not isinstance(self.shadow, bool):
            raise ValueError(f"shadow must be true or false, not {self.shadow!r}")
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {', '.join(FRAMES)}, not {self.frame!r}")
        if (isinstance(self.margin, bool) or not isinstance(self.margin, (int, float))
                or not MIN_MARGIN <= self.margin <= MAX_MARGIN):
            raise ValueError(f"margin must be between {MIN_MARGIN:g} and {MAX_MARGIN:g} percent, not {self.margin!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ValueError(f"size must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, not {self.size!r}")

    @property
    def rgb(self) -> tuple[int, int, int]:
        """`colour` as (red, green, blue)."""
        return tuple(int(self.colour[at:at + 2], 16) for at in (1, 3, 5))

    @classmethod
    def from_dict(cls, values: dict | None) -> "Layout":
        """A layout from plain values (e.g. sent by the page); unknown names are refused."""
        return from_plain(cls, values, "layout setting")

    def to_dict(self) -> dict:
        return asdict(self)


def read_background(data: bytes) -> Image.Image:
    """The user's background picture (the "image" background) from its file, upright; one
    over the size limit is downscaled (it is only a background). An InputError naming it
    if it cannot be read."""
    try:
        return decode_photo(data, downscale=True).image
    except InputError as exc:
        raise InputError(f"The background picture: {exc}") from None


def subject_box(alpha: "np.ndarray | Image.Image", level: int = HAZE_LEVEL) -> Box | None:
    """(left, top, right, bottom) of the pixels with alpha >= `level`, right and
    bottom exclusive (like Pillow's `getbbox`); None when there are none.

    `alpha` is (H, W) uint8, or an "L" image (e.g. `cutout.getchannel("A")`),
    which is measured in Pillow without a NumPy copy (0.3 s less on 48 MP)."""
    if isinstance(alpha, Image.Image):
        if alpha.mode != "L":
            raise ValueError(f"alpha must be an L image, not {alpha.mode}")
        return alpha.point([0] * level + [255] * (256 - level)).getbbox()
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be (height, width), not {alpha.shape}")
    rows = np.flatnonzero(alpha.max(axis=1) >= level)    # one reduction per axis,
    if rows.size == 0:                                   # no full-size temporary
        return None
    cols = np.flatnonzero(alpha.max(axis=0) >= level)
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def fit_scale(box: Box, layout: Layout) -> float:
    """The scale at which `box` fits the square canvas of `layout` inside its margin:
    its larger side becomes size * (1 - 2 * margin / 100)."""
    left, top, right, bottom = box
    longest = max(right - left, bottom - top)
    if longest <= 0:
        raise ValueError(f"box {box} is empty")
    return layout.size * (1 - 2 * layout.margin / 100) / longest


def common_scale(boxes, layout: Layout) -> float:
    """One scale for a batch of square renders: the smallest of the boxes' fit
    scales, i.e. the one at which the largest subject (relative to its photo's
    pixels) just fits and every other one fits with room to spare. Every subject
    is then drawn at the same pixel scale, so photos taken alike keep their
    relative sizes. Empty masks (None) are skipped; none at all gives 1.0."""
    scales = [fit_scale(box, layout) for box in boxes if box is not None]
    return min(scales) if scales else 1.0


@dataclass(frozen=True)
class _Frame:
    """Where the photo lands in the output: output = scale * photo + (dx, dy)."""

    scale: float
    dx: float
    dy: float
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def placed(self, box) -> tuple[float, float, float, float]:
        """A photo box in output coordinates."""
        left, top, right, bottom = box
        s = self.scale
        return left * s + self.dx, top * s + self.dy, right * s + self.dx, bottom * s + self.dy


def _frame(layout: Layout, box: Box | None, photo_size: tuple[int, int], scale: float | None) -> _Frame:
    width, height = photo_size
    if layout.frame == "photo":
        return _Frame(1.0, 0.0, 0.0, width, height)
    if box is None:                      # nothing found: frame the whole photo
        box = (0, 0, width, height)
    left, top, right, bottom = box
    if layout.frame == "subject":
        pad = round(layout.margin / 100 * max(right - left, bottom - top))
        left, top = max(0, left - pad), max(0, top - pad)
        right, bottom = min(width, right + pad), min(height, bottom + pad)
        return _Frame(1.0, float(-left), float(-top), right - left, bottom - top)
    fit = fit_scale(box, layout)
    s = fit if scale is None else min(scale, fit)
    centre = layout.size / 2
    return _Frame(s, centre - s * (left + right) / 2, centre - s * (top + bottom) / 2, layout.size, layout.size)


def render(cutout: Image.Image, photo: Image.Image, layout: Layout,
           background_image: Image.Image | None = None, scale: float | None = None) -> Image.Image:
    """The exported image: RGBA on a transparent background, else RGB.

    `cutout` is the RGBA cutout, `photo` the RGB photo it was cut from (same size;
    the "blur" background). `background_image` is the user's picture for the
    "image" background, already upright (e.g. from `preprocess.decode`); one with
    transparency is first laid on `layout.colour`. `scale` (square frames only,
    e.g. `common_scale`'s) draws the subject at that scale instead of its own fit,
    but never larger than its own fit: a subject never leaves the canvas. The
    result is always a new image (never `cutout` itself).
    """
    if cutout.mode != "RGBA":
        raise ValueError(f"the cutout must be RGBA, not {cutout.mode}")
    if photo.size != cutout.size:
        raise ValueError(f"photo {photo.size} and cutout {cutout.size} differ in size")
    if layout.background == "image" and background_image is None:
        raise ValueError('the "image" background needs background_image')
    if scale is not None and not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    box = subject_box(cutout.getchannel("A"))
    frame = _frame(layout, box, cutout.size, scale)
    subject, at = _place(cutout, frame)
    shadow = _shadow(subject, at, frame.placed(box), frame.size) if layout.shadow and box else None

    if layout.background == "transparent":
        if subject is cutout:
            result = cutout.copy()
        elif at == (0, 0) and subject.size == frame.size:
            result = subject                # a crop: already a new image
        else:
            result = Image.new("RGBA", frame.size, (0, 0, 0, 0))
            result.paste(subject, at)
        if shadow is not None:
            mask, corner = shadow
            region = corner + (corner[0] + mask.width, corner[1] + mask.height)
            under = Image.new("RGBA", mask.size, (0, 0, 0, 0))
            under.putalpha(mask)
            result.paste(Image.alpha_composite(under, result.crop(region)), corner)
        return result

    if layout.background == "colour":
        result = Image.new("RGB", frame.size, layout.rgb)
    elif layout.background == "image":
        result = _cover(_flatten(background_image, layout.rgb), frame.size)
    else:
        result = _blurred_photo(photo, frame)
    if shadow is not None:
        mask, corner = shadow
        result.paste((0, 0, 0), corner + (corner[0] + mask.width, corner[1] + mask.height), mask)
    result.paste(subject, at, subject)      # straight alpha over an opaque background
    return result


def _place(cutout: Image.Image, frame: _Frame) -> tuple[Image.Image, tuple[int, int]]:
    """The cutout as drawn in the output, and where its top-left corner goes; outside
    it the output has no subject. The photo's own frame is the cutout itself (not
    a copy: read it, never change it), other whole-pixel frames a crop, square ones a
    premultiplied resample (Pillow resamples RGBA premultiplied) of just the part of
    the photo that lands on the canvas."""
    if frame.scale == 1 and float(frame.dx).is_integer() and float(frame.dy).is_integer():
        left, top = -int(frame.dx), -int(frame.dy)
        if (left, top) == (0, 0) and frame.size == cutout.size:
            return cutout, (0, 0)
        return cutout.crop((left, top, left + frame.width, top + frame.height)), (0, 0)
    target, source = _visible(frame, cutout.size, 1.0, 1.0)
    if target is None:
        return Image.new("RGBA", (1, 1), (0, 0, 0, 0)), (0, 0)
    # Crop with room for the filter's reach, so the resample sees what the whole would.
    reach = math.ceil(FILTER_SUPPORT / min(frame.scale, 1.0)) + 1
    crop = (max(0, math.floor(source[0]) - reach), max(0, math.floor(source[1]) - reach),
            min(cutout.width, math.ceil(source[2]) + reach), min(cutout.height, math.ceil(source[3]) + reach))
    local = (source[0] - crop[0], source[1] - crop[1], source[2] - crop[0], source[3] - crop[1])
    size = (target[2] - target[0], target[3] - target[1])
    drawn = cutout.crop(crop).resize(size, _resampling(frame.scale), box=local, reducing_gap=REDUCING_GAP)
    return drawn, target[:2]


def _visible(frame: _Frame, photo_size, x_ratio: float, y_ratio: float):
    """Where the photo lands on the output scaled by (x_ratio, y_ratio), as
    (whole-pixel target box in that grid, the photo box that maps onto it), or
    (None, None) if it misses the canvas."""
    width, height = photo_size
    canvas = (round(frame.width * x_ratio), round(frame.height * y_ratio))
    left, top, right, bottom = frame.placed((0, 0, width, height))
    target = (max(0, round(left * x_ratio)), max(0, round(top * y_ratio)),
              min(canvas[0], round(right * x_ratio)), min(canvas[1], round(bottom * y_ratio)))
    if target[2] <= target[0] or target[3] <= target[1]:
        return None, None
    s = frame.scale

    def back(value, offset, ratio, limit):
        return min(max((value / ratio - offset) / s, 0.0), float(limit))

    source = (back(target[0], frame.dx, x_ratio, width), back(target[1], frame.dy, y_ratio, height),
              back(target[2], frame.dx, x_ratio, width), back(target[3], frame.dy, y_ratio, height))
    return target, source


def _flatten(image: Image.Image, rgb: tuple[int, int, int]) -> Image.Image:
    """RGB; an image with transparency laid on `rgb` first."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, rgb)
        flat.paste(rgba, (0, 0), rgba)
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` scaled to cover `size` and centred, the overflow cut off (CSS cover)."""
    cover = max(size[0] / image.width, size[1] / image.height)
    width, height = min(image.width, size[0] / cover), min(image.height, size[1] / cover)
    left, top = max(0.0, (image.width - width) / 2), max(0.0, (image.height - height) / 2)
    return image.resize(size, _resampling(cover), box=(left, top, left + width, top + height),
                        reducing_gap=REDUCING_GAP)


def _resampling(scale: float) -> Image.Resampling:
    return Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.HAMMING


def _blurred_photo(photo: Image.Image, frame: _Frame) -> Image.Image:
    """The photo framed like the subject and blurred (BLUR_FRACTION), on a copy at
    most BLUR_WORK_SIDE pixels long, scaled up to the output; where the photo does
    not reach (a square wider than it), its edge pixels are carried on."""
    longest = max(frame.size)
    ratio = min(1.0, BLUR_WORK_SIDE / longest)
    work = (max(1, round(frame.width * ratio)), max(1, round(frame.height * ratio)))
    x_ratio, y_ratio = work[0] / frame.width, work[1] / frame.height
    target, source = _visible(frame, photo.size, x_ratio, y_ratio)
    if target is None:            # cannot happen for a subject's frame; a grey canvas if it did
        return Image.new("RGB", frame.size, (128, 128, 128))
    rgb = photo if photo.mode == "RGB" else photo.convert("RGB")
    part = rgb.resize((target[2] - target[0], target[3] - target[1]), Image.Resampling.BILINEAR,
                      box=source, reducing_gap=REDUCING_GAP)
    pad = ((target[1], work[1] - target[3]), (target[0], work[0] - target[2]), (0, 0))
    small = Image.fromarray(np.pad(np.asarray(part), pad, mode="edge"), mode="RGB")
    small = small.filter(ImageFilter.GaussianBlur(BLUR_FRACTION * longest * ratio))
    return small.resize(frame.size, Image.Resampling.BILINEAR)


def _shadow(subject: Image.Image, at: tuple[int, int], box, size: tuple[int, int]):
    """(opacity of black as an L image, its top-left corner in the output) under the
    subject: the drop and contact shadows, combined as two layers of black would be."""
    left, top, right, bottom = box
    longest = max(right - left, bottom - top)
    reach = SHADOW_REACH * DROP_BLUR * longest + DROP_OFFSET * longest + 2
    region = (max(0, math.floor(left - reach)), max(0, math.floor(top - reach)),
              min(size[0], math.ceil(right + reach)), min(size[1], math.ceil(bottom + reach)))
    extent = (region[2] - region[0], region[3] - region[1])
    if extent[0] <= 0 or extent[1] <= 0:
        return None
    # The subject's alpha over the region (transparent where `subject` does not reach).
    alpha = subject.crop((region[0] - at[0], region[1] - at[1],
                          region[2] - at[0], region[3] - at[1])).getchannel("A")
    ratio = min(1.0, SHADOW_WORK_SIDE / longest)
    work = (max(1, round(extent[0] * ratio)), max(1, round(extent[1] * ratio)))
    small = np.asarray(alpha.resize(work, Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP))
    drawn = longest * ratio              # the subject's larger side in working pixels
    base = (bottom - region[1]) * work[1] / extent[1]
    band = np.zeros_like(small)
    band_top = max(0, math.floor(base - CONTACT_BAND * (bottom - top) * ratio))
    band[band_top:] = small[band_top:]
    drop = _soft(small, DROP_OFFSET * drawn, DROP_BLUR * drawn)
    contact = _soft(band, CONTACT_OFFSET * drawn, CONTACT_BLUR * drawn)
    clear = (1 - DROP_OPACITY * drop) * (1 - CONTACT_OPACITY * contact)
    opacity = np.clip((1 - clear) * 255 + 0.5, 0, 255).astype(np.uint8)
    mask = Image.fromarray(opacity, mode="L").resize(extent, Image.Resampling.BILINEAR)
    return mask, region[:2]


def _soft(alpha: np.ndarray, down: float, blur: float) -> np.ndarray:
    """uint8 `alpha` moved `down` pixels and blurred (Gaussian, standard deviation
    `blur`), as float32 in [0, 1]."""
    shift = round(down)
    moved = np.zeros_like(alpha)
    if shift < alpha.shape[0]:
        moved[shift:] = alpha[:alpha.shape[0] - shift]
    soft = Image.fromarray(moved, mode="L").filter(ImageFilter.GaussianBlur(max(blur, 0.5)))
    return np.asarray(soft, dtype=np.float32) / np.float32(255)
