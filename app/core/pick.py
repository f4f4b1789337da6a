"""Where a Keep part / Drop part click reaches: the region the click is about, found
from the evidence around it, so that a click in a hole changes the hole, a click near
an edge changes a little, and nothing floods through a colour the subject shares with
its background.

A click says one thing: the pixel under it belongs on the other side (keep: subject,
drop: background). The *candidates* are the pixels on the click's current side
(working alpha below 0.5 for keep, at least 0.5 for drop); the region is a connected
set of candidates around the click, chosen by a graph cut (`grid.min_cut`) that weighs,
for each candidate, the evidence that it is like the click against the evidence that
it belongs where it is, and charges for separating neighbours of similar colour (the
contrast-sensitive weights of Boykov and Jolly, exp(-beta |dI|^2), beta from the
photo's own mean contrast), so the region's border follows the photo's edges:

- *Colour*: histograms (`colours`) of the click's own colour sample
  (candidates within SAMPLE_RADIUS of it and within SAMPLE_TOL of its colour), mixed
  with NEAR_SHARE of the candidates near the click and SIDE_SHARE of the target side's
  colours, against the colours of the candidates far from the click, the vote capped
  at COLOUR_CAP. "Near" and "far" are geodesic (`grid.geodesic_distance`, each step
  costing a little per pixel plus the colour change beyond the photo's noise and the
  model's change it crosses), so a part of several colours bounded by edges (a spoon's
  reflections) is one part, and the region's own colours are not counted against it.
- *The model's mask*, as log-odds for the target side (`evidence`): when the click's
  value stands well above the candidates' typical one (by EVIDENCE) and the far
  candidates rarely reach it (fewer than CONFUSED), the model saw something there
  that it did not dare call the subject (faint leaves, a dark sweater, a half-kept
  fringe): candidates down to a level halfway between the click and the far
  candidates' upper tail (FAR_QUANTILE of those unlike the click) count as like it,
  with MASK_WEIGHT. Otherwise the mask says nothing and
  every pixel pays NO_EVIDENCE_COST, so colour alone must carry the region: it stays
  small unless the colours are clear. Such a region is cut twice, the second time with
  the colours of the first cut (as GrabCut does), and closed at CLOSE of its size, so a
  part of many colours (a spoon's reflections) goes whole, not as scattered patches.
- *Reach*: beyond REACH times the click's depth (its distance from the target side),
  each pixel pays more with the square of its distance: a click a few pixels from the
  subject's edge changes that stretch of edge, not the whole outline.

The click's own neighbourhood is always included; of the cut, only the part connected
to the click is kept, its connection found without the candidates within RIM pixels
of the target side (the model's ordinary soft edge, all along every outline, must not
join a region to distant parts of the outline); the candidates the region encloses
that the model saw as it saw the region go with it (a spoon's highlights). Photos whose
working size is above PICK_SIDE are solved at that size and the region resized back.

Limits: one click carries one colour family and one level of the model's belief; a
part the model missed entirely (log-odds as low as the background's) whose colours
the background also has is found only near the click; parts thinner than a pixel at
PICK_SIDE are missed. Measured with bench/clicks.py.

Imports: NumPy, Pillow, `app.core` only.

    >>> region = find_region(level, planes, mask, row, col, keep=True)   # bool (H, W) or None
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from . import colours
from .cleanup import label
from .filters import F32, box, dilate, erode
from .grid import geodesic_distance, min_cut

PICK_SIDE = 384           # the region is solved at most this long, working pixels
SAMPLE_RADIUS = 0.015     # the click's colour sample: within this fraction of the long side (>= 3 px)...
SAMPLE_TOL = 0.1          # ...and this close (RGB in [0, 1]) to the click's colour
NEAR_SHARE = 0.2          # the click's colour model: this share from the candidates geodesically near...
SIDE_SHARE = 0.3          # ...this share from the target side, the rest from the sample
COLOUR_CAP = 2.0          # the colours vote at most this (log-likelihood ratio): the mask can outvote them
NEAR = 0.05               # geodesic distance scale of "near the click", fraction of the long side
STEP = 0.02               # geodesic step cost: this per pixel, plus...
EDGE_STEP = 10.0          # ...this x (squared colour change beyond twice the photo's median) / its mean...
MASK_STEP = 2.0           # ...plus this x the change of the model's log-odds
EVIDENCE = 3.0            # the mask counts when the click's log-odds exceed the candidates' median by this...
CONFUSED = 0.5            # ...and fewer than this share of the far candidates reach the level
FAR_QUANTILE = 0.9        # the far candidates' level: this quantile of those unlike the click
MARGIN = 1.0              # the level is at least this far below the click's log-odds
SPAN = 2.0                # log-odds over which the mask's vote goes from "like" to "unlike" (at least)
MASK_WEIGHT = 2.0         # the mask's vote, in units of the colour log-likelihood ratio
NO_EVIDENCE_COST = 0.5    # what each pixel pays when the mask says nothing
REACH = 8.0               # free reach in multiples of the click's depth (at least MIN_REACH px)...
MIN_REACH = 4.0
REACH_COST = 1.0          # ...then this times (distance / reach)^2 - 1
BOUNDARY = 1.0            # weight of separating two pixels of the same colour
CLOSE = 0.1               # a colour-only region is closed at this x the square root of its area
RIM = 2                   # candidates this close to the target side do not connect a region
SEED = 50.0               # the click's own pixels: taken whatever they cost
LOGIT_FLOOR = 1e-5        # the mask's log-odds are taken within [floor, 1 - floor]
WALL = 1e9                # a geodesic step into the target side (finite: the scans subtract sums)


def evidence(mask: np.ndarray, keep: bool) -> np.ndarray:
    """The model's log-odds that a pixel belongs on the target side (subject for keep)."""
    clipped = np.clip(mask, LOGIT_FLOOR, 1 - LOGIT_FLOOR)
    odds = np.log(clipped / (1 - clipped)).astype(F32)
    return odds if keep else -odds


def _smaller(values: list, side: int) -> list:
    """(H, W) arrays resized (box filter) so their long side is at most `side`."""
    height, width = values[0].shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return [np.asarray(Image.fromarray(np.asarray(a, F32), "F").resize(size, Image.Resampling.BOX)) for a in values]


def scene(planes: list, mask: np.ndarray) -> tuple[list, np.ndarray]:
    """The photo's planes and the model's mask as `find_region` solves them (at most
    PICK_SIDE long): the same for every click on a photo, so a caller may keep them."""
    if max(mask.shape) <= PICK_SIDE:
        return planes, mask
    *small_planes, small_mask = _smaller(list(planes) + [mask], PICK_SIDE)
    return small_planes, small_mask


def candidates_of(level: np.ndarray, keep: bool) -> np.ndarray:
    """The pixels a click may change: for keep those under half opaque, for drop the rest."""
    return level < 0.5 if keep else level >= 0.5


def _changeable(value: float, keep: bool) -> bool:
    """Whether a click on a pixel at `value` has something to change (keep: below 0.9;
    drop: above 0.1)."""
    return value < 0.9 if keep else value > 0.1


def find_region(level: np.ndarray, planes: list, mask: np.ndarray, row: int, col: int,
                keep: bool, solved_scene: tuple[list, np.ndarray] | None = None) -> np.ndarray | None:
    """The bool (H, W) region a click at (`row`, `col`) changes, all at the working
    resolution: `level` the current alpha in [0, 1], `planes` the photo's three colour
    planes in [0, 1], `mask` the model's mask resized to them (`solved_scene`: their
    `scene`, if kept); None when the pixel under the click is already on the target
    side (keep: at least 0.9; drop: at most 0.1)."""
    if not _changeable(level[row, col], keep):
        return None
    height, width = level.shape
    small_planes, small_mask = solved_scene or scene(planes, mask)
    if max(height, width) <= PICK_SIDE:
        return _solve(level, small_planes, small_mask, row, col, keep)
    small_level, = _smaller([level], PICK_SIDE)
    small_h, small_w = small_level.shape
    small_row = min(small_h - 1, int(row * small_h / height))
    small_col = min(small_w - 1, int(col * small_w / width))
    if not _changeable(small_level[small_row, small_col], keep):
        small_level = small_level.copy()
        small_level[small_row, small_col] = level[row, col]
    region = _solve(small_level, small_planes, small_mask, small_row, small_col, keep)
    grown = np.asarray(Image.fromarray(region.astype(np.uint8) * 255, "L").resize(
        (width, height), Image.Resampling.BILINEAR)) >= 128
    grown &= candidates_of(level, keep)
    grown[row, col] = True
    return grown


def _solve(level, planes, mask, row, col, keep) -> np.ndarray:
    height, width = level.shape
    side = max(height, width)
    candidates = candidates_of(level, keep)
    target = ~candidates
    odds = evidence(mask, keep)
    # Contrast: squared colour steps between neighbours, and their mean.
    step_x = sum(np.square(p[:, 1:] - p[:, :-1]) for p in planes)
    step_y = sum(np.square(p[1:] - p[:-1]) for p in planes)
    mean_step = max(float((step_x.sum() + step_y.sum()) / (step_x.size + step_y.size)), 1e-6)
    weight_x = (BOUNDARY * np.exp(step_x * F32(-0.5 / mean_step))).astype(F32)
    weight_y = (BOUNDARY * np.exp(step_y * F32(-0.5 / mean_step))).astype(F32)
    # Near and far from the click: geodesic, within the candidates; colour steps count
    # beyond the photo's noise (twice its median step), so a flat area is one place.
    noise = F32(2 * np.median(np.concatenate([step_x.ravel(), step_y.ravel()])))
    walk_x = (STEP + EDGE_STEP / mean_step * np.maximum(step_x - noise, 0)
              + MASK_STEP * np.abs(odds[:, 1:] - odds[:, :-1]))
    walk_y = (STEP + EDGE_STEP / mean_step * np.maximum(step_y - noise, 0)
              + MASK_STEP * np.abs(odds[1:] - odds[:-1]))
    walk_x[target[:, 1:] | target[:, :-1]] = WALL
    walk_y[target[1:] | target[:-1]] = WALL
    seed = np.zeros((height, width), bool)
    seed[row, col] = True
    distance = geodesic_distance(seed, walk_x, walk_y)
    near = np.exp(-distance / F32(NEAR * side)) * candidates
    far = (1 - near) * candidates
    if far.sum() < 0.05 * candidates.sum():
        far = candidates.astype(F32)
    # The click's colour sample.
    colour = [float(box(p, 1)[row, col]) for p in planes]
    apart = np.sqrt(sum(np.square(p - F32(c)) for p, c in zip(planes, colour)))
    rows, cols = np.ogrid[:height, :width]
    reach = np.sqrt(np.square(rows - row) + np.square(cols - col)).astype(F32)
    radius = max(3.0, SAMPLE_RADIUS * side)
    sample = candidates & (reach <= radius) & (apart < SAMPLE_TOL) & (distance < 3 * radius)
    sample[row, col] = True
    # Colour: the click's sample (and the target side's colours) against the far candidates.
    index = colours.colour_index(planes)
    liked = (sample / max(float(sample.sum()), 1.0) * (1 - SIDE_SHARE - NEAR_SHARE)
             + near / max(float(near.sum()), 1e-6) * NEAR_SHARE
             + target / max(float(target.sum()), 1.0) * SIDE_SHARE)
    colour_cost = _colour_cost(index, liked, far)
    cost = colour_cost.copy()
    # The model's mask, where it tells the click's part from the rest.
    at_click = float(np.median(odds[sample]))
    unlike_click = (far > 0.5) & (odds < at_click - MARGIN)
    far_level = float(np.quantile(odds[unlike_click], FAR_QUANTILE)) if unlike_click.any() else at_click - 2 * MARGIN
    level_cut = min(at_click - MARGIN, (at_click + far_level) / 2)
    reached = float((far * (odds >= level_cut)).sum() / max(float(far.sum()), 1e-6))
    typical = float(np.median(odds[candidates])) if candidates.any() else at_click
    has_evidence = at_click - typical >= EVIDENCE and reached < CONFUSED
    if has_evidence:
        span = max(SPAN, (at_click - level_cut) / 2)
        cost += MASK_WEIGHT * np.clip((level_cut - odds) / F32(span), -1, 1)
    else:
        cost += F32(NO_EVIDENCE_COST)
    # Reach: a click near the target side reaches about as far as it is deep.
    if target.any():
        depth = float(geodesic_distance(target, np.ones((height, width - 1)), np.ones((height - 1, width)), 2)[row, col])
    else:
        depth = float(side)
    cost += REACH_COST * np.maximum(np.square(reach / F32(max(MIN_REACH, REACH * depth))) - 1, 0)
    cost[~candidates] = -SEED
    close = sample & (distance < radius)
    cost[close] = np.minimum(cost[close], -1)
    region = _cut(cost, weight_x, weight_y, candidates, row, col)
    if not has_evidence:
        # Colour alone carries the region: learn its colours from the first cut and cut
        # again (as GrabCut does), then close it at CLOSE of its size: a reflective
        # spoon's highlights and reflections go with the spoon, not a scatter of patches.
        refit = _colour_cost(index, region / max(float(region.sum()), 1.0) * (1 - SIDE_SHARE)
                             + target / max(float(target.sum()), 1.0) * SIDE_SHARE, far * ~region)
        region = _cut(cost - colour_cost + refit, weight_x, weight_y, candidates, row, col, region)
        closing = max(1, round(CLOSE * np.sqrt(region.sum())))
        region |= erode(dilate(region, closing), closing) & candidates
    return _fill_enclosed(region, candidates, odds, float(np.median(odds[region])))


def _colour_cost(index, liked, unliked) -> np.ndarray:
    """Each pixel's cost of joining the region by colour: minus the log-likelihood ratio
    of the `liked` weights' colour histogram to the `unliked` ones', within COLOUR_CAP."""
    return -np.clip(colours.log_ratio(index, liked, unliked), -COLOUR_CAP, COLOUR_CAP).astype(F32)


def _cut(cost, weight_x, weight_y, candidates, row, col, start=None) -> np.ndarray:
    """The minimum cut of `cost` (the click's own pixels always in), connected to the
    click; `start`: a region to begin the solve from (a previous cut's)."""
    cost = cost.copy()
    cost[max(0, row - 1):row + 2, max(0, col - 1):col + 2] = -SEED
    cut = (min_cut(cost, weight_x, weight_y, start=start) > 0.5) & candidates
    cut[row, col] = True
    return _connected(cut, candidates, row, col)


def _connected(cut: np.ndarray, candidates: np.ndarray, row: int, col: int) -> np.ndarray:
    """The part of `cut` connected to (row, col) without the rim (candidates within RIM
    of the target side), then the rim next to it and not next to other candidates (the
    seam between the region and the target side)."""
    rim = dilate(~candidates, RIM) & candidates
    core = cut & ~rim
    core[row, col] = True
    ids, _ = label(core)
    region = ids == ids[row, col]
    others = candidates & ~rim & ~region
    return region | (dilate(region, RIM + 1) & rim & ~dilate(others, RIM))


def _fill_enclosed(region: np.ndarray, candidates: np.ndarray, odds: np.ndarray, level: float) -> np.ndarray:
    """`region` with the candidates it encloses (touching nothing else, not the photo's
    border) that the model saw as it saw the region (mean log-odds at least `level` -
    MARGIN): the highlights on a spoon go with the spoon; a ring's hole the model saw as
    background stays."""
    rest = candidates & ~region
    if not rest.any():
        return region
    ids, _ = label(rest)
    outside = ~(region | rest)
    outside[0, :] = outside[-1, :] = outside[:, 0] = outside[:, -1] = True
    open_ids = np.unique(ids[dilate(outside, 1) & rest])
    enclosed = rest & ~np.isin(ids, open_ids)
    if not enclosed.any():
        return region
    count = np.bincount(ids[enclosed], minlength=ids.max() + 1)
    total = np.bincount(ids[enclosed], weights=odds[enclosed], minlength=ids.max() + 1)
    alike = (count > 0) & (total >= (level - MARGIN) * np.maximum(count, 1))
    return region | (enclosed & alike[np.maximum(ids, 0)])
