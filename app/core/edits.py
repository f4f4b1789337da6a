"""The cutout editor's mask edits: brush strokes that restore or erase, and picks
that keep or drop the region under a click, replayed onto the refined alpha.

The page keeps the list of edits (undo drops the last one, redo puts it back) and
the worker replays it: `apply_edits` from scratch, or a `Replay` that keeps what
it needs to make appending and undoing cost one edit each. Every edit is applied
at the photo's full resolution, but only where it reaches: time and memory follow
the stroke or the region, not the photo.

Stroke (`Stroke`): capsules of `radius` around the segments between consecutive
points (a fast drag stays continuous), anti-aliased by one pixel, with a linear
falloff over the outer (1 - hardness) of the radius. Pixel (row i, column j) has
its centre at (j + 0.5, i + 0.5). Coverage c in [0, 1] moves alpha towards the
target: restore a + c (255 - a), erase a - c a (integers, rounded), so restore
never lowers alpha, erase never raises it, and outside the footprint nothing
changes. A stroke's coverage is the maximum over its segments (it never builds
up where the stroke crosses itself). It is rasterised in runs of at most RUN_SIDE
pixels a side into TILE x TILE tiles, so a diagonal drag across a 48 MP photo
touches a band of tiles, not its bounding box.

Snap (`Stroke.snap`): near a real edge the stroke ends where the photo's colours
do. Within each run's window the stroke's core (within max(1, CORE r) of its
centre line, the part the user is sure about) gives the *target* colours T; the
*other* colours O are pixels unlike T (farther than SNAP_TOL), of a colour the core
itself does not show (`_core_colours`: a pattern under the brush is the target, so an
erase inside a patterned object leaves no speckles), that the stroke could change (for
restore: not yet opaque; for erase: still visible). Both are
local means at scales tied to the radius (`matting.local_colour_at`, as for the
edge refinement), and each pixel gets the compositing-equation solve the
refinement uses (`matting._solve`'s rule: its position on the line from O to T,
pulled towards "the brush applies" where the colours do not fit that line or
cannot tell T from O); a small colour guided filter (`matting.guided_coefficients`)
settles it along the photo's colour lines. The brush's coverage is multiplied by
it, the core is kept whole. With no other colours in reach it is a plain brush.
Limits: it assumes the target side is locally of one colour family, distinct from
the other side; on texture (hair with highlights) parts of the target can count as
other and stay untouched; for radii above SNAP_SIDE the colours are solved at a
reduced scale and the snapped edge is as soft as that scale.

Pick (`Pick`): the region under the click is found at the working resolution
(`refine.working_size`) by `pick.find_region`: a graph cut that weighs, for each pixel
on the click's side, how much it is like the click (its colours, the model's own mask)
against how much it belongs where it is, bounded by the photo's edges and by how deep
the click lies in the wrong side, so a click in a hole changes the hole and a click
near an edge changes a little (see app/core/pick.py). At full resolution the region is
the bilinear upsample of that mask, and across its boundary band each pixel is solved
from the colours of the region's side and the other candidates' side (as for snap), so
the new edge sits on the photo's edge at full resolution. A click whose pixel is
already on the target side (keep: nearly opaque; drop: nearly transparent) changes
nothing.

Imports: NumPy, Pillow, `app.core` only.

    >>> edits = edits_from_json([{"kind": "stroke", "mode": "erase", "points": [[10, 20], [80, 24]],
    ...                           "radius": 12}, {"kind": "pick", "x": 40, "y": 300, "keep": False}])
    >>> alpha = apply_edits(refined_alpha, photo, cutout.mask, edits)
    >>> replay = Replay(refined_alpha, photo, cutout.mask)
    >>> alpha = replay.alpha_for(edits)          # later: alpha_for(edits[:-1]) undoes one
    >>> rgba = apply_to_cutout(cutout.image, photo, alpha)
    >>> rgba = edited_cutout(cutout.image, photo, alpha, box)  # hidden cleared, inside box
"""
from __future__ import annotations

import json
import math
from dataclasses import MISSING, dataclass, fields

import numpy as np
from PIL import Image

from .filters import F32, block_means, box, dilate, erode, grey_dilate, grey_erode, resize
from .matting import (SURE_HIGH, SURE_LOW, Sampler, apply_coefficients, guided_coefficients,
                      local_colour, local_colour_at, planes_of)
from .pick import candidates_of, find_region, scene as pick_scene
from .postprocess import clear_hidden, to_alpha8
from .refine import working_size

MODES = ("restore", "erase")
MIN_RADIUS, MAX_RADIUS = 0.5, 2000.0     # brush radius, full-resolution pixels
MAX_POINTS = 100_000                     # points in one stroke
MAX_COORD = 1e6                          # |x|, |y| of a point (points may lie off the photo)
TILE = 128                               # a stroke's coverage is kept in tiles of this side
RUN_SIDE = 256                           # a stroke is rasterised in runs of points this close
CHANGE_SIDE = 1024                       # what the last edit changed is shown at most this long

# Snap.
CORE = 0.2              # the stroke is sure within max(1, CORE * radius) of its centre line
SNAP_TOL = 0.12         # colours this far (RGB in [0, 1]) from the target's are "other"...
SNAP_SIDE = 64          # ...and radii above this are solved at a scale where they are this big
SNAP_BINS = 8           # colours the core also has (bins a channel, one bin of slack) are never "other"...
CORE_SHARE = 0.02       # ...when seen on at least this share of the core
PRIOR = 0.01            # weight of "the brush applies" (squared colour distance units)...
MISFIT = 10.0           # ...plus this per unit of squared misfit to the line between the colours
CLEAR = 0.03            # solved values within this of 0 or 1 go there (as matting.SNAP)
GUIDE_RADIUS, GUIDE_EPS = 2, 1e-4        # the colour guided filter that settles the result

# Pick (the region: app/core/pick.py).
PICK_BLOCKS = (4, 16)   # scales of the two sides' local colours at the boundary, working pixels
STRIP = 256             # rows of the full-resolution pass done at once
UNSEEN = 100.0          # prior weight where the other side's colour was not seen nearby


def _number(name: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return value


def _points(value) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"points must be a list of [x, y] pairs, not {type(value).__name__}")
    if not 1 <= len(value) <= MAX_POINTS:
        raise ValueError(f"a stroke needs 1 to {MAX_POINTS} points, not {len(value)}")
    points = []
    for index, point in enumerate(value):
        if isinstance(point, (str, bytes)) or not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ValueError(f"point {index} must be an [x, y] pair, not {point!r}")
        points.append((_number(f"point {index} x", point[0], -MAX_COORD, MAX_COORD),
                       _number(f"point {index} y", point[1], -MAX_COORD, MAX_COORD)))
    return tuple(points)


@dataclass(frozen=True)
class Stroke:
    """A brush stroke: `mode` "restore" or "erase"; `points` (x, y) in full-resolution
    photo pixels (one point is a dab); `radius` pixels; `hardness` 1 for a crisp edge,
    lower for a linear falloff over the outer (1 - hardness) of the radius; `snap`:
    end at the photo's own edge (see the module doc)."""

    mode: str
    points: tuple
    radius: float
    hardness: float = 1.0
    snap: bool = False

    kind = "stroke"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        object.__setattr__(self, "points", _points(self.points))
        object.__setattr__(self, "radius", _number("radius", self.radius, MIN_RADIUS, MAX_RADIUS))
        object.__setattr__(self, "hardness", _number("hardness", self.hardness, 0.0, 1.0))
        _flag("snap", self.snap)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "mode": self.mode, "points": [list(p) for p in self.points],
                "radius": self.radius, "hardness": self.hardness, "snap": self.snap}


@dataclass(frozen=True)
class Pick:
    """A click at (`x`, `y`) full-resolution pixels: `keep` makes the region under it
    opaque, else transparent (see the module doc for what the region is)."""

    x: float
    y: float
    keep: bool

    kind = "pick"

    def __post_init__(self):
        object.__setattr__(self, "x", _number("x", self.x, -MAX_COORD, MAX_COORD))
        object.__setattr__(self, "y", _number("y", self.y, -MAX_COORD, MAX_COORD))
        _flag("keep", self.keep)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "x": self.x, "y": self.y, "keep": self.keep}


Edit = Stroke | Pick
KINDS = {cls.kind: cls for cls in (Stroke, Pick)}


def edit_from_dict(values) -> Edit:
    """A `Stroke` or `Pick` from plain values (e.g. the page's JSON), by its "kind";
    unknown kinds and names, missing names and bad values are refused (ValueError)."""
    if not isinstance(values, dict):
        raise ValueError(f"an edit must be an object, not {type(values).__name__}")
    values = dict(values)
    kind = values.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"unknown edit kind {kind!r}; known: {', '.join(KINDS)}")
    cls = KINDS[kind]
    names = [item.name for item in fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"unknown name(s) for a {kind}: {', '.join(unknown)}; known: {', '.join(names)}")
    missing = [item.name for item in fields(cls)
               if item.name not in values and item.default is MISSING]
    if missing:
        raise ValueError(f"a {kind} needs {', '.join(missing)}")
    return cls(**values)


def edits_from_json(values) -> list[Edit]:
    """Edits from a list of dicts (or its JSON text); errors name the edit's index."""
    if isinstance(values, (str, bytes)):
        try:
            values = json.loads(values)
        except ValueError as error:
            raise ValueError(f"edits are not valid JSON: {error}") from None
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"edits must be a list, not {type(values).__name__}")
    edits = []
    for index, item in enumerate(values):
        try:
            edits.append(edit_from_dict(item))
        except ValueError as error:
            raise ValueError(f"edit {index}: {error}") from None
    return edits


def edits_to_json(edits) -> list[dict]:
    """The plain form of `edits` (what `edits_from_json` reads)."""
    return [edit.to_dict() for edit in edits]


# -- applying edits ---------------------------------------------------------------

Patch = tuple[int, int, np.ndarray]       # (top, left, pixels) of the alpha


class _Photo:
    """The photo and model mask an edit list is replayed against, with the working-
    resolution planes that picks share (made on first use)."""

    def __init__(self, photo: Image.Image, model_mask: np.ndarray):
        if photo.mode != "RGB":
            raise ValueError(f"the photo must be RGB, not {photo.mode}")
        self.photo = photo
        self.model_mask = np.asarray(model_mask, dtype=F32)
        self._work = None
        self._scene = None

    def work(self):
        """(working size, the photo's planes in [0, 1], the model mask) at the working size."""
        if self._work is None:
            size = working_size(self.photo.size)
            small = self.photo if size == self.photo.size else self.photo.resize(size, Image.Resampling.BOX)
            planes = [np.asarray(c, dtype=F32) * F32(1 / 255) for c in small.split()]
            mask = np.clip(resize(self.model_mask, size), 0, 1)
            self._work = (size, planes, mask)
        return self._work

    def scene(self):
        """The working planes and mask as picks solve them (`pick.scene`), made once."""
        if self._scene is None:
            _, planes, mask = self.work()
            self._scene = pick_scene(planes, mask)
        return self._scene

    def planes(self, box_: tuple[int, int, int, int]) -> list[np.ndarray]:
        """The photo's planes in [0, 1] inside (left, top, right, bottom)."""
        crop = np.asarray(self.photo.crop(box_), dtype=F32) * F32(1 / 255)
        return planes_of(crop)


def _check(alpha: np.ndarray, photo: Image.Image) -> None:
    if alpha.dtype != np.uint8 or alpha.ndim != 2:
        raise ValueError(f"alpha must be a 2-D uint8 array, not {alpha.dtype} {alpha.shape}")
    if alpha.shape != (photo.height, photo.width):
        raise ValueError(f"alpha {alpha.shape} does not match the photo {photo.size}")


def _blend(alpha: np.ndarray, weight: np.ndarray, raise_: bool) -> np.ndarray:
    """alpha moved by weight/255 (both uint8) towards 255 (`raise_`) or 0, rounded."""
    a = alpha.astype(np.uint16)
    w = weight.astype(np.uint16)
    if raise_:
        return (a + ((255 - a) * w + 127) // 255).astype(np.uint8)
    return (a - (a * w + 127) // 255).astype(np.uint8)


def _apply(alpha: np.ndarray, source: _Photo, edit: Edit) -> list[Patch]:
    """Apply one edit to `alpha` in place; returns what it overwrote."""
    if isinstance(edit, Stroke):
        return _apply_stroke(alpha, source, edit)
    if isinstance(edit, Pick):
        return _apply_pick(alpha, source, edit)
    raise TypeError(f"not an edit: {type(edit).__name__}")


def apply_edits(alpha: np.ndarray, photo: Image.Image, model_mask: np.ndarray, edits) -> np.ndarray:
    """The refined `alpha` (H, W) uint8 with `edits` applied in order (a new array)."""
    _check(alpha, photo)
    out = np.array(alpha)
    source = _Photo(photo, model_mask)
    for edit in edits:
        _apply(out, source, edit)
    return out


class Replay:
    """Replays edit lists that grow and shrink by a few edits at a time.

    It keeps the refined alpha, the current one and an undo log: for each applied
    edit, the pixels it overwrote (its tiles, or the strips of a pick's region), so
    appending an edit costs that edit and undoing restores the exact earlier alpha
    by writing those pixels back. Memory: two copies of the alpha plus the log,
    which holds at most `budget` bytes (default LOG_FACTOR times the alpha's size);
    beyond that the oldest entries are forgotten, and undoing past them replays
    from the refined alpha. Not thread-safe; the photo, mask and alpha must not
    change while it is used.
    """

    LOG_FACTOR = 4

    def __init__(self, alpha: np.ndarray, photo: Image.Image, model_mask: np.ndarray,
                 budget: int | None = None):
        _check(alpha, photo)
        self.base = np.array(alpha)
        self.base.flags.writeable = False
        self.alpha = np.array(alpha)
        self.source = _Photo(photo, model_mask)
        self.budget = self.LOG_FACTOR * alpha.size if budget is None else budget
        self.applied: list[Edit] = []
        self.log: list[list[Patch] | None] = []      # None: forgotten
        self.logged = 0                               # bytes in the log
        self.replayed = 0                             # edits applied so far (for tests, timings)
        self.changed: list[int] | None = None         # [top, left, bottom, right] changed since taken

    def alpha_for(self, edits) -> np.ndarray:
        """The alpha for `edits`, equal to `apply_edits` from scratch. A read-only view of
        this replay's state: valid until the next call (copy it to keep it)."""
        edits = list(edits)
        common = 0
        for old, new in zip(self.applied, edits):
            if old != new:
                break
            common += 1
        if any(entry is None for entry in self.log[common:]):
            self._reset()
            common = 0
        while len(self.applied) > common:
            for top, left, pixels in reversed(self.log.pop()):
                self.alpha[top:top + pixels.shape[0], left:left + pixels.shape[1]] = pixels
                self.logged -= pixels.nbytes
                self._mark(top, left, pixels.shape)
            self.applied.pop()
        for edit in edits[common:]:
            patches = _apply(self.alpha, self.source, edit)
            for top, left, pixels in patches:
                self._mark(top, left, pixels.shape)
            self.replayed += 1
            self.applied.append(edit)
            self.log.append(patches)
            self.logged += sum(p.nbytes for _, _, p in patches)
        self._forget()
        view = self.alpha.view()
        view.flags.writeable = False
        return view

    def last_changed(self) -> bool:
        """Whether the last edit applied changed any pixel (True when none was applied,
        or its undo entry was forgotten)."""
        return not self.log or self.log[-1] is None or bool(self.log[-1])

    def last_change(self, longest: int = CHANGE_SIDE) -> np.ndarray | None:
        """Where the last edit applied changed alpha, as a uint8 mask (255 changed) of
        the photo scaled to at most `longest` pixels long (a cell is marked if any of
        its pixels changed), or None when it changed nothing or is not known."""
        if not self.log or not self.log[-1]:
            return None
        height, width = self.alpha.shape
        scale = min(1.0, longest / max(height, width))
        out = np.zeros((max(1, round(height * scale)), max(1, round(width * scale))), np.uint8)
        for top, left, before in self.log[-1]:
            rows, cols = np.nonzero(before != self.alpha[top:top + before.shape[0], left:left + before.shape[1]])
            out[((rows + top) * scale).astype(np.intp), ((cols + left) * scale).astype(np.intp)] = 255
        return out if out.any() else None

    def take_changed(self) -> tuple[int, int, int, int] | None:
        """The box (left, top, right, bottom) that holds every pixel of alpha changed since
        the last call (or since the replay began), or None if none was; then forgets it."""
        changed, self.changed = self.changed, None
        return None if changed is None else (changed[1], changed[0], changed[3], changed[2])

    def _mark(self, top: int, left: int, shape: tuple[int, int]):
        bottom, right = top + shape[0], left + shape[1]
        if self.changed is None:
            self.changed = [top, left, bottom, right]
        else:
            box = self.changed
            box[:] = min(box[0], top), min(box[1], left), max(box[2], bottom), max(box[3], right)

    def _reset(self):
        self.alpha[:] = self.base
        self._mark(0, 0, self.alpha.shape)
        self.applied, self.log, self.logged = [], [], 0

    def _forget(self):
        index = 0
        while self.logged > self.budget and index < len(self.log):
            if self.log[index] is not None:
                self.logged -= sum(p.nbytes for _, _, p in self.log[index])
                self.log[index] = None
            index += 1


# -- strokes ------------------------------------------------------------------------

def _segment_distance(a, b, left, top, right, bottom) -> np.ndarray:
    """Distance from the centres of pixels [top, bottom) x [left, right) to segment a-b."""
    (ax, ay), (bx, by) = a, b
    xs = (np.arange(left, right) + 0.5 - ax).astype(F32)[None, :]
    ys = (np.arange(top, bottom) + 0.5 - ay).astype(F32)[:, None]
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 > 1e-12:
        t = np.clip(ys * F32(dy / length2) + xs * F32(dx / length2), 0, 1)
        xs = xs - t * F32(dx)
        ys = ys - t * F32(dy)
    return np.sqrt(xs * xs + ys * ys)


def _runs(points: tuple) -> list[tuple]:
    """The points in runs whose bounding boxes are at most RUN_SIDE a side; consecutive
    runs share a point, so no segment is lost."""
    runs, start = [], 0
    low_x = high_x = points[0][0]
    low_y = high_y = points[0][1]
    for index in range(1, len(points)):
        x, y = points[index]
        low_x, high_x = min(low_x, x), max(high_x, x)
        low_y, high_y = min(low_y, y), max(high_y, y)
        if high_x - low_x > RUN_SIDE or high_y - low_y > RUN_SIDE:
            if index - 1 > start:
                runs.append(points[start:index])
                start = index - 1
            low_x, high_x = min(points[start][0], x), max(points[start][0], x)
            low_y, high_y = min(points[start][1], y), max(points[start][1], y)
    runs.append(points[start:])
    return runs


def _window(points, reach: float, width: int, height: int):
    """(left, top, right, bottom) of the pixels within `reach` of the points' box, clipped."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    left = max(0, math.floor(min(xs) - reach))
    top = max(0, math.floor(min(ys) - reach))
    right = min(width, math.ceil(max(xs) + reach) + 1)
    bottom = min(height, math.ceil(max(ys) + reach) + 1)
    return left, top, right, bottom


def _distance(points, window, reach: float) -> np.ndarray:
    """Distance from the pixels of `window` to the polyline, where it is below `reach`
    (each segment is measured only in its own box grown by `reach`; inf elsewhere)."""
    left, top, right, bottom = window
    out = np.full((bottom - top, right - left), np.inf, F32)
    pairs = list(zip(points[:-1], points[1:])) or [(points[0], points[0])]
    for a, b in pairs:
        part = _window((a, b), reach, right, bottom)
        x0, y0, x1, y1 = max(part[0], left), max(part[1], top), part[2], part[3]
        if x1 <= x0 or y1 <= y0:
            continue
        view = out[y0 - top:y1 - top, x0 - left:x1 - left]
        np.minimum(view, _segment_distance(a, b, x0, y0, x1, y1), out=view)
    return out


def _coverage(distance: np.ndarray, radius: float, hardness: float) -> np.ndarray:
    """The brush profile: 1 inside, a linear ramp over max(1, (1 - hardness) radius)
    pixels ending half a pixel past the radius."""
    ramp = max(1.0, (1.0 - hardness) * radius)
    return np.clip((F32(radius + 0.5) - distance) * F32(1 / ramp), 0, 1)


class _Tiles:
    """Sparse (H, W) float32 coverage kept as TILE x TILE tiles; `add` takes the maximum."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.tiles: dict[tuple[int, int], np.ndarray] = {}

    def add(self, top: int, left: int, values: np.ndarray) -> None:
        bottom, right = top + values.shape[0], left + values.shape[1]
        for ty in range(top // TILE, (bottom - 1) // TILE + 1):
            for tx in range(left // TILE, (right - 1) // TILE + 1):
                y0, x0 = max(top, ty * TILE), max(left, tx * TILE)
                y1, x1 = min(bottom, (ty + 1) * TILE), min(right, (tx + 1) * TILE)
                part = values[y0 - top:y1 - top, x0 - left:x1 - left]
                if not part.any():
                    continue
                tile = self.tiles.get((ty, tx))
                if tile is None:
                    h = min(TILE, self.height - ty * TILE)
                    w = min(TILE, self.width - tx * TILE)
                    tile = self.tiles[(ty, tx)] = np.zeros((h, w), F32)
                view = tile[y0 - ty * TILE:y1 - ty * TILE, x0 - tx * TILE:x1 - tx * TILE]
                np.maximum(view, part, out=view)

    def apply(self, alpha: np.ndarray, raise_: bool) -> list[Patch]:
        patches = []
        for (ty, tx), coverage in sorted(self.tiles.items()):
            weight = to_alpha8(coverage)
            if not weight.any():
                continue
            top, left = ty * TILE, tx * TILE
            view = alpha[top:top + weight.shape[0], left:left + weight.shape[1]]
            before = view.copy()
            view[:] = _blend(before, weight, raise_)
            patches.append((top, left, before))
        return patches


def _apply_stroke(alpha: np.ndarray, source: _Photo, stroke: Stroke) -> list[Patch]:
    height, width = alpha.shape
    radius = stroke.radius
    restore = stroke.mode == "restore"
    reach = radius + 1.5
    margin = math.ceil(max(4.0, radius)) if stroke.snap else 0
    tiles = _Tiles(height, width)
    for run in _runs(stroke.points):
        window = _window(run, reach + margin, width, height)
        left, top, right, bottom = window
        if right <= left or bottom <= top:
            continue
        distance = _distance(run, window, reach)
        coverage = _coverage(distance, radius, stroke.hardness)
        if stroke.snap and coverage.any():
            crop = alpha[top:bottom, left:right]
            coverage *= _snap(source.planes(window), crop, distance, radius, restore)
        tiles.add(top, left, coverage)
    return tiles.apply(alpha, restore)


def _between(pixels, target, other, prior, doubt=F32(0)) -> np.ndarray:
    """Where each pixel's colour lies on the line from `other` to `target` (colours on the
    last axis), in [0, 1]: matting's compositing-equation solve, pulled towards `prior`
    by PRIOR, by MISFIT times the squared distance from that line, and by `doubt`; then
    values within CLEAR of 0 or 1 go there."""
    line = target - other
    length2 = (line * line).sum(-1)
    offset = ((pixels - other) * line).sum(-1)
    projected = np.clip(offset / (length2 + F32(1e-4)), 0, 1)
    misfit = pixels - other - projected[..., None] * line
    weight = F32(PRIOR) + F32(MISFIT) * (misfit * misfit).sum(-1) + doubt
    solved = (offset + weight * prior) / (length2 + weight)
    return np.clip((solved - F32(CLEAR)) * F32(1 / (1 - 2 * CLEAR)), 0, 1)


def _blocks(radius: float) -> tuple[int, ...]:
    """Scales of the local colour means for a brush of this radius (pixels)."""
    return tuple(sorted({max(2, round(radius / 4)), max(2, round(radius))}))


def _core_colours(pixels: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Where the window's (H, W, 3) `pixels` have a colour the stroke's `core` also has
    (within one of SNAP_BINS bins a channel, seen on at least CORE_SHARE of the core): a
    pattern under the brush (dots, checks, stripes) is the target, not another side."""
    bins = SNAP_BINS
    quantised = np.minimum((pixels * bins).astype(np.intp), bins - 1)
    index = (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]
    counts = np.bincount(index[core], minlength=bins ** 3).reshape(bins, bins, bins)
    seen = counts >= max(1.0, CORE_SHARE * float(core.sum()))
    padded = np.pad(seen, 1)
    near = np.zeros_like(seen)
    for dr in range(3):
        for dg in range(3):
            for db in range(3):
                near |= padded[dr:dr + bins, dg:dg + bins, db:db + bins]
    return near.reshape(-1)[index] | core


def _snap(planes: list, alpha: np.ndarray, distance: np.ndarray, radius: float, restore: bool) -> np.ndarray:
    """How much the brush applies at each pixel of the window, in [0, 1], from the
    photo's colours (see the module doc); 1 on the stroke's core."""
    factor = math.ceil(radius / SNAP_SIDE)
    height, width = distance.shape
    if factor > 1:           # solve at a scale where the radius is SNAP_SIDE
        size = (max(1, width // factor), max(1, height // factor))
        small = [np.asarray(Image.fromarray(p, "F").resize(size, Image.Resampling.BOX)) for p in planes]
        small_alpha = np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BOX))
        small_distance = np.asarray(Image.fromarray(distance, "F").resize(size, Image.Resampling.BOX))
        small_distance = small_distance * F32(1 / factor)
        solved = _snap(small, small_alpha, small_distance, radius / factor, restore)
        solved = resize(solved, (width, height))
        return np.where(distance <= max(1.0, CORE * radius), F32(1), solved)
    core = distance <= max(1.0, CORE * radius)
    blocks = _blocks(radius)
    pixels = np.stack(planes, axis=-1)
    target = local_colour(planes, core.astype(F32), blocks)
    apart = np.sqrt(np.square(pixels - target).sum(-1))
    changeable = alpha.astype(F32) * F32(1 / 255)
    if restore:
        changeable = 1 - changeable
    other = np.clip((apart - F32(SNAP_TOL)) * F32(1 / SNAP_TOL), 0, 1) * changeable
    other[_core_colours(pixels, core)] = 0
    if float(other.sum()) < 1.0:
        return np.ones_like(distance)
    solved = _between(pixels, target, local_colour(planes, other, blocks), F32(1))
    if min(height, width) > 2 * GUIDE_RADIUS:
        a, b = guided_coefficients(planes, solved, GUIDE_RADIUS, GUIDE_EPS, mean=box)
        solved = apply_coefficients(planes, a, b)
    solved[core] = 1
    return solved


# -- picks ----------------------------------------------------------------------------

def _pick_region(alpha: np.ndarray, source: _Photo, pick: Pick):
    """(region, candidates) bool masks at the working size for `pick` on `alpha`, or
    None when the pixel under the click is already on the target side."""
    height, width = alpha.shape
    if not (0 <= pick.x < width and 0 <= pick.y < height):
        raise ValueError(f"pick ({pick.x:g}, {pick.y:g}) is outside the photo ({width}x{height})")
    size, planes, mask = source.work()
    small = alpha if size == (width, height) else np.asarray(
        Image.fromarray(alpha).resize(size, Image.Resampling.BOX))
    level = small.astype(F32) * F32(1 / 255)
    col = min(size[0] - 1, int(pick.x * size[0] / width))
    row = min(size[1] - 1, int(pick.y * size[1] / height))
    region = find_region(level, planes, mask, row, col, pick.keep, source.scene())
    if region is None:
        return None
    return region, candidates_of(level, pick.keep)


def _apply_pick(alpha: np.ndarray, source: _Photo, pick: Pick) -> list[Patch]:
    found = _pick_region(alpha, source, pick)
    if found is None:
        return []
    region, candidates = found
    height, width = alpha.shape
    size, planes, _ = source.work()
    scale_x, scale_y = width / size[0], height / size[1]
    # Where the region meets the target side there is no edge to find: the seam between
    # them goes with the region. Its edge is solved only against the other candidates.
    covered = region | (dilate(region, 2) & ~candidates)
    # The two sides' colours, on the working pixels near the region's boundary.
    boundary = dilate(covered, 2) & ~erode(covered, 2)
    rows, cols = np.nonzero(boundary)
    inside = erode(region, 1).astype(F32)
    outside = (candidates & ~dilate(region, 1)).astype(F32)
    grids = []
    for weight in (inside, outside):
        grid = np.zeros((4,) + region.shape, F32)
        if len(rows):
            grid[:3, rows, cols] = local_colour_at(planes, weight, rows, cols, PICK_BLOCKS).T
            seen = block_means(weight, PICK_BLOCKS[-1])
            grid[3, rows, cols] = np.clip(Sampler(rows, cols, seen.shape, PICK_BLOCKS[-1],
                                                  PICK_BLOCKS[-1])(seen) * F32(10), 0, 1)
        grids.append(grid)
    # The region's box at full resolution, a strip of rows at a time.
    found_rows, found_cols = np.nonzero(covered)
    left = max(0, math.floor((found_cols.min() - 1) * scale_x))
    right = min(width, math.ceil((found_cols.max() + 2) * scale_x))
    top = max(0, math.floor((found_rows.min() - 1) * scale_y))
    bottom = min(height, math.ceil((found_rows.max() + 2) * scale_y))
    mask_image = Image.fromarray(covered.astype(np.uint8) * 255, "L")
    patches = []
    for y0 in range(top, bottom, STRIP):
        y1 = min(bottom, y0 + STRIP)
        if size == (width, height):
            weight = np.asarray(mask_image.crop((left, y0, right, y1)))
        else:
            weight = np.array(mask_image.resize(
                (right - left, y1 - y0), Image.Resampling.BILINEAR,
                box=(left / scale_x, y0 / scale_y, right / scale_x, y1 / scale_y)))
        if not weight.any():
            continue
        band = np.flatnonzero((weight - np.uint8(1)) < np.uint8(254))
        if len(band):
            weight.reshape(-1)[band] = _snap_band(source, grids, band, (left, y0, right, y1),
                                                  region.shape, (scale_y, scale_x), weight)
        view = alpha[y0:y1, left:right]
        changed = _blend(view, weight, pick.keep)
        if not np.array_equal(changed, view):
            patches.append((y0, left, view.copy()))
            view[:] = changed
    return patches


def _snap_band(source: _Photo, grids, band, box_, work_shape, scales, weight) -> np.ndarray:
    """uint8 weights at the band pixels (flat indices into the strip `box_`): where each
    lies between the region side's colour and the other side's, pulled towards the
    upsampled region where the colours do not tell or the other side was not seen."""
    left, top, right, _ = box_
    rows, cols = np.divmod(band, right - left)
    sample = Sampler(rows + top, cols + left, work_shape, *scales)
    crop = np.asarray(source.photo.crop(box_)).reshape(-1, 3)[band].astype(F32) * F32(1 / 255)
    inside = np.stack([sample(grids[0][c]) for c in range(3)], axis=1)
    outside = np.stack([sample(grids[1][c]) for c in range(3)], axis=1)
    seen = np.clip(sample(grids[1][3]), 0, 1)
    prior = weight.reshape(-1)[band].astype(F32) * F32(1 / 255)
    return to_alpha8(_between(crop, inside, outside, prior, F32(UNSEEN) * (1 - seen)))


# -- views and the cutout ---------------------------------------------------------------

def uncertainty(model_mask: np.ndarray, size: tuple[int, int], low: float = SURE_LOW,
                high: float = SURE_HIGH, thin: int = 1) -> np.ndarray:
    """Where the model was unsure, (H, W) uint8 for `size` (width, height): 0 where its
    mask is at most `low` or at least `high`, rising to 255 at their midpoint.

    The defaults are the levels the edge refinement calls sure (matting.SURE_LOW,
    SURE_HIGH), so the view shows exactly what the refinement had to guess. Undecided
    runs no wider than 2 `thin` + 1 mask pixels (the model's ordinary anti-aliased
    edge, all along every outline) are opened away so that the broad doubts stand out.
    """
    if not 0 <= low < high <= 1:
        raise ValueError(f"need 0 <= low < high <= 1, not low={low!r}, high={high!r}")
    mask = np.clip(np.asarray(model_mask, dtype=F32), 0, 1)
    doubt = np.clip(np.minimum(mask - F32(low), F32(high) - mask) * F32(2 / (high - low)), 0, 1)
    if thin > 0:
        doubt = grey_dilate(grey_erode(doubt, thin), thin)
    image = Image.fromarray(to_alpha8(doubt), "L")
    if image.size != tuple(size):
        image = image.resize(tuple(size), Image.Resampling.BILINEAR)
    return np.asarray(image)


def edited_cutout(cutout_rgba: Image.Image, photo: Image.Image, alpha: np.ndarray,
                  box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """The cutout the user gets after edits: `apply_to_cutout`, then what is fully
    transparent made black (postprocess.clear_hidden); only the part inside `box`
    (left, top, right, bottom) when given: each pixel depends on itself alone, so the
    part equals that part of the whole (an edit remakes only the box it changed)."""
    if box is not None:
        left, top, right, bottom = box
        cutout_rgba, photo, alpha = cutout_rgba.crop(box), photo.crop(box), alpha[top:bottom, left:right]
    pixels = np.array(apply_to_cutout(cutout_rgba, photo, alpha))
    return Image.fromarray(clear_hidden(pixels), "RGBA")


def apply_to_cutout(cutout_rgba: Image.Image, photo: Image.Image, alpha: np.ndarray) -> Image.Image:
    """The refined cutout with the edited `alpha`; where the edits raised alpha above the
    refined one the colour is the photo's (the refined colour of a pixel it made
    transparent means nothing), elsewhere the refined (decontaminated) colour stays."""
    if cutout_rgba.mode != "RGBA":
        raise ValueError(f"the cutout must be RGBA, not {cutout_rgba.mode}")
    _check(alpha, photo)
    if cutout_rgba.size != photo.size:
        raise ValueError(f"the cutout {cutout_rgba.size} does not match the photo {photo.size}")
    refined = np.asarray(cutout_rgba.getchannel("A"))
    raised = alpha > refined
    out = cutout_rgba.copy()
    out.putalpha(Image.fromarray(np.ascontiguousarray(alpha), "L"))
    if raised.any():
        rows = np.flatnonzero(raised.any(1))
        cols = np.flatnonzero(raised.any(0))
        box_ = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        part = np.array(out.crop(box_))
        where = raised[box_[1]:box_[3], box_[0]:box_[2]]
        part[..., :3][where] = np.asarray(photo.crop(box_))[where]
        out.paste(Image.fromarray(part, "RGBA"), box_[:2])
    return out
