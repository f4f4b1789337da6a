"""Mask edits (app/core/edits.py): brush strokes, snap, picks, replay and undo, the
page's JSON. Small synthetic photos made here; the whole file runs in a few seconds."""
import json

import numpy as np
import pytest
from PIL import Image

from app.core.edits import (Pick, Replay, Stroke, apply_edits, apply_to_cutout, edit_from_dict,
                            edits_from_json, edits_to_json, uncertainty)
from tests.helpers import BACK, FORE, save_artifacts

NO_MASK = np.zeros((32, 32), np.float32)


def photo_of(pixels, seed=0, noise=0.02):
    """An RGB photo from float (H, W, 3) colours in [0, 1], with a little sensor noise."""
    rng = np.random.default_rng(seed)
    pixels = pixels + rng.normal(0, noise, pixels.shape)
    return Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def flat_photo(height, width, colour=(0.5, 0.5, 0.5)):
    return Image.new("RGB", (width, height), tuple(round(c * 255) for c in colour))


def polyline_distance(points, height, width):
    """Distance from every pixel centre to the polyline, brute force in float64."""
    y, x = np.mgrid[:height, :width] + 0.5
    best = np.full((height, width), np.inf)
    pairs = list(zip(points[:-1], points[1:])) or [(points[0], points[0])]
    for (ax, ay), (bx, by) in pairs:
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / length2, 0, 1) if length2 else 0
        best = np.minimum(best, np.hypot(x - ax - t * dx, y - ay - t * dy))
    return best


def half_and_half(height=200, width=200, edge=100):
    """Subject colour left of column `edge`, background colour right of it."""
    pixels = np.empty((height, width, 3), np.float32)
    pixels[:] = BACK
    pixels[:, :edge] = FORE
    return photo_of(pixels)


def plant_and_pot(height=300, width=240):
    """A green 'plant' disc above an attached terracotta 'pot' on grey, both in the
    cutout (alpha 255) and in the model's mask: (photo, alpha, mask, plant, pot)."""
    y, x = np.mgrid[:height, :width] + 0.5
    plant = np.hypot(x - 120, y - 110) < 70
    pot = (y >= 170) & (y < 260) & (np.abs(x - 120) < 45 - (y - 170) * 0.15) & ~plant
    pixels = np.empty((height, width, 3), np.float32)
    pixels[:] = (0.6, 0.6, 0.62)
    pixels[plant] = (0.2, 0.55, 0.2)
    pixels[pot] = (0.75, 0.4, 0.25)
    subject = plant | pot
    mask = model_mask(subject.astype(np.float32))
    return photo_of(pixels), (subject * 255).astype(np.uint8), mask, plant, pot


def model_mask(values):
    """`values` (H, W) as the model's mask: 1024 x 1024 like ISNet's, finer than the
    working resolution of these small photos (as for every photo the app sees)."""
    return np.asarray(Image.fromarray(np.asarray(values, np.float32), "F").resize((1024, 1024), Image.Resampling.BILINEAR))


def near(mask, pixels):
    """`mask` grown by `pixels` (square), for 'within n pixels of' checks."""
    from app.core.filters import dilate
    return dilate(mask, pixels)


def test_stroke_changes_alpha_only_inside_its_footprint():
    """A hard restore stroke leaves every pixel at least radius + 0.5 from its centre line
    bit-exact, makes every pixel within radius - 0.5 opaque, and never lowers alpha;
    an erase stroke mirrors it."""
    rng = np.random.default_rng(1)
    alpha = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    points = ((20.3, 30.7), (70.0, 42.5), (110.9, 95.2))
    distance = polyline_distance(points, *alpha.shape)
    photo = flat_photo(*alpha.shape)
    restored = apply_edits(alpha, photo, NO_MASK, [Stroke("restore", points, 12.5)])
    outside = distance >= 13.0
    assert np.array_equal(restored[outside], alpha[outside])
    assert (restored[distance <= 12.0] == 255).all()
    assert (restored >= alpha).all()
    erased = apply_edits(alpha, photo, NO_MASK, [Stroke("erase", points, 12.5)])
    assert np.array_equal(erased[outside], alpha[outside])
    assert (erased[distance <= 12.0] == 0).all()
    assert (erased <= alpha).all()


def test_erase_then_undo_restores_exactly():
    """Erasing and then undoing (a shorter edit list) gives back the earlier alpha
    bit for bit, by writing back what the erase overwrote, not by replaying."""
    rng = np.random.default_rng(2)
    alpha = rng.integers(0, 256, (90, 110), dtype=np.uint8)
    photo = flat_photo(*alpha.shape)
    first = Stroke("restore", ((10, 10), (60, 50)), 8, hardness=0.5)
    erase = Stroke("erase", ((15, 70), (100, 20)), 15)
    replay = Replay(alpha, photo, NO_MASK)
    before = replay.alpha_for([first]).copy()
    after = replay.alpha_for([first, erase]).copy()
    assert not np.array_equal(after, before)
    undone = replay.alpha_for([first])
    assert np.array_equal(undone, before)
    assert replay.replayed == 2                    # the undo applied nothing
    assert np.array_equal(replay.alpha_for([]), alpha)


def test_restore_fills_a_hole():
    """A restore dab over a hole in the subject makes the hole opaque and leaves the
    subject around it as it was."""
    alpha = np.full((80, 80), 255, np.uint8)
    y, x = np.mgrid[:80, :80] + 0.5
    hole = np.hypot(x - 40, y - 40) < 6
    alpha[hole] = 0
    out = apply_edits(alpha, flat_photo(80, 80), NO_MASK, [Stroke("restore", ((40, 40),), 9)])
    assert (out == 255).all()


def test_hard_stroke_is_crisp_at_full_resolution():
    """On a 2400x1800 photo a hard dab is anti-aliased by one pixel along its whole
    circle: every partly covered pixel lies within a pixel of the radius, in every
    direction (a mask painted at a coarser resolution and upsampled would have a wide
    or stepped edge), and the partly covered pixels form a closed ring."""
    height, width = 1800, 2400
    alpha = np.zeros((height, width), np.uint8)
    centre, radius = (1234.3, 876.6), 37.25
    out = apply_edits(alpha, flat_photo(height, width), NO_MASK, [Stroke("restore", (centre,), radius)])
    top, left = 800, 1150
    window = out[top:top + 160, left:left + 170]
    distance = polyline_distance([(centre[0] - left, centre[1] - top)], *window.shape)
    partial = (window > 0) & (window < 255)
    assert partial.any()
    assert np.abs(distance[partial] - (radius + 0.5)).max() <= 1.0
    assert (window[distance <= radius - 0.5] == 255).all() and (window[distance >= radius + 0.5] == 0).all()
    angle = np.degrees(np.arctan2(*np.nonzero(partial) - np.array([[centre[1] - top], [centre[0] - left]])))
    assert len(np.unique(np.floor(angle / 10))) == 36        # no gap in the ring


def test_soft_stroke_falls_off_over_the_outer_part():
    """hardness 0.5: opaque within half the radius, then alpha falls steadily to 0 at the
    radius (plus the half pixel of anti-aliasing): a wide soft edge, not a hard one."""
    alpha = np.zeros((100, 100), np.uint8)
    out = apply_edits(alpha, flat_photo(100, 100), NO_MASK, [Stroke("restore", ((50, 50),), 40, hardness=0.5)])
    profile = out[49, 50:100].astype(int)          # pixel centres at distance 0.5 .. 49.5
    assert (profile[:21] == 255).all()
    assert (np.diff(profile[20:41]) < 0).all() and profile[30] in range(100, 160)
    assert (profile[40:] == 0).all()


def test_fast_drag_with_two_far_points_paints_the_line_between():
    """A drag sampled at only two points 600 px apart still paints every pixel along the
    segment between them (capsules, not dabs at the points)."""
    alpha = np.zeros((400, 700), np.uint8)
    out = apply_edits(alpha, flat_photo(400, 700), NO_MASK, [Stroke("restore", ((40, 50), (640, 350)), 4)])
    t = np.linspace(0, 1, 2000)
    cols, rows = (40 + 600 * t).astype(int), (50 + 300 * t).astype(int)
    assert (out[rows, cols] == 255).all()
    distance = polyline_distance([(40, 50), (640, 350)], *alpha.shape)
    assert (out[distance >= 4.5] == 0).all()


def test_snap_restore_ends_at_the_colour_edge():
    """A restore stroke with snap whose brush straddles a real colour edge (subject left of
    column 100, background right; the model missed both) stops at the edge within 2 px,
    while the same stroke without snap reaches its circle 12 px past it."""
    photo = half_and_half()
    alpha = np.zeros((200, 200), np.uint8)
    points = tuple((92.0, float(y)) for y in range(40, 161, 20))
    plain = apply_edits(alpha, photo, NO_MASK, [Stroke("restore", points, 20)])
    snapped = apply_edits(alpha, photo, NO_MASK, [Stroke("restore", points, 20, snap=True)])
    rows = slice(50, 150)
    assert (plain[rows, 100:112] == 255).all()
    assert (snapped[rows, 73:98] >= 235).all(), "the subject side is restored up to the edge"
    assert (snapped[rows, 102:] <= 20).all(), "the background side is not"
    assert (snapped[:, :72] == 0).all() and (snapped <= plain).all(), "never beyond the brush"


def test_snap_erase_ends_at_the_colour_edge_and_never_raises():
    """An erase stroke with snap over an opaque subject whose leftover background strip
    (right of column 100) it should remove: the strip goes, the subject stays to within
    2 px of the edge, and no pixel gains alpha."""
    photo = half_and_half()
    rng = np.random.default_rng(3)
    alpha = np.full((200, 200), 255, np.uint8)
    alpha[:, 150:] = rng.integers(0, 40, (200, 50), dtype=np.uint8)
    points = tuple((110.0, float(y)) for y in range(40, 161, 20))
    out = apply_edits(alpha, photo, NO_MASK, [Stroke("erase", points, 20, snap=True)])
    rows = slice(50, 150)
    assert (out[rows, 102:128] <= 20).all()
    assert (out[rows, 88:98] >= 235).all()
    assert (out <= alpha).all()


def test_snap_in_a_plain_area_is_a_plain_brush():
    """Where the brush meets no other colour, snap changes nothing: the stroke equals the
    plain one."""
    photo = photo_of(np.full((100, 100, 3), 0.4, np.float32))
    alpha = np.zeros((100, 100), np.uint8)
    points = ((30.0, 30.0), (70.0, 60.0))
    plain = apply_edits(alpha, photo, NO_MASK, [Stroke("restore", points, 15)])
    snapped = apply_edits(alpha, photo, NO_MASK, [Stroke("restore", points, 15, snap=True)])
    assert np.array_equal(plain, snapped)


@pytest.mark.parametrize("pattern", ["dots", "checks"])
def test_snap_erase_inside_a_patterned_object_is_clean(pattern):
    """An erase stroke with snap well inside an opaque object printed with a two-colour
    pattern (dots, or small checks), no edge of the cutout in reach: everything under the
    brush goes, no speckles of the pattern stay behind."""
    y, x = np.mgrid[:200, :200] + 0.5
    if pattern == "dots":
        ink = np.hypot((x % 12) - 6, (y % 12) - 6) < 3
    else:
        ink = ((x // 6) + (y // 6)) % 2 == 1
    pixels = np.where(ink[..., None], (0.9, 0.85, 0.2), (0.15, 0.2, 0.55)).astype(np.float32)
    alpha = np.full((200, 200), 255, np.uint8)
    points = tuple((float(px), 100.0) for px in range(60, 141, 10))
    out = apply_edits(alpha, photo_of(pixels), NO_MASK, [Stroke("erase", points, 15, snap=True)])
    under = polyline_distance(points, 200, 200) <= 14
    assert (out[under] <= 20).all(), f"{(out[under] > 20).sum()} pixels left under the brush"


def test_pick_drop_removes_the_pot_and_keeps_the_plant():
    """A drop click on the pot (another colour, attached below the plant, one component
    of the mask) makes the pot transparent to within 2 px of where it meets the plant,
    keeps the plant opaque, and changes no pixel farther than 4 px from the pot."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    out = apply_edits(alpha, photo, mask, [Pick(120, 230, keep=False)])
    seam = near(plant, 2) & near(pot, 2)
    if (out[pot & ~seam] > 20).any() or (out[plant & ~seam] < 235).any():
        save_artifacts(before=Image.fromarray(alpha), after=Image.fromarray(out), photo=photo)
    assert (out[pot & ~seam] <= 20).all()
    assert (out[plant & ~seam] >= 235).all()
    assert np.array_equal(out[~near(pot, 4)], alpha[~near(pot, 4)])


def test_pick_drop_takes_a_shiny_part_whole():
    """A spoon on a saucer, both opaque and sure in the model's mask: a dark bowl full of
    white highlights and reflections of the saucer's red (colours the saucer shows too).
    A drop click on the bowl's dark metal takes the bowl whole (no scatter of highlights
    left behind) and leaves the saucer as it was."""
    y, x = np.mgrid[:240, :240] + 0.5
    saucer = np.hypot(x - 120, y - 120) < 110
    bowl = np.hypot((x - 140) / 28, (y - 140) / 36) < 1
    rng = np.random.default_rng(3)
    pixels = np.where(saucer[..., None], (0.62, 0.14, 0.08), (0.45, 0.3, 0.18)).astype(np.float32)
    # The bowl: dark metal, a light rim, streaks of white and of the saucer's red.
    pixels[bowl] = (0.18, 0.18, 0.2)
    pixels[bowl & ~(np.hypot((x - 140) / 25, (y - 140) / 33) < 1)] = (0.8, 0.8, 0.82)
    inner = np.hypot((x - 140) / 20, (y - 140) / 27) < 1
    streak = lambda a, b, c, width: inner & (np.abs(a * x + b * y + c) / np.hypot(a, b) < width)
    pixels[streak(1, 1, -262, 3) | streak(1, -0.3, -106, 2)] = (0.95, 0.95, 0.95)
    pixels[streak(1, 0.2, -175, 4) | streak(0, 1, -160, 3)] = (0.5, 0.12, 0.07)
    for cx, cy, r in ((60, 90, 6), (90, 200, 5), (175, 70, 8)):
        pixels[np.hypot(x - cx, y - cy) < r] = (0.95, 0.95, 0.95)     # highlights on the saucer too
    alpha = np.where(saucer, 255, 0).astype(np.uint8)
    photo = photo_of(pixels, seed=int(rng.integers(100)))
    out = apply_edits(alpha, photo, model_mask(saucer), [Pick(140, 136, keep=False)])
    inside = bowl & ~near(~bowl, 3)
    if (out[inside] > 40).any():
        save_artifacts(before=Image.fromarray(alpha), after=Image.fromarray(out), photo=photo)
    assert (out[inside] <= 40).all(), f"{(out[inside] > 40).sum()} pixels of the bowl left"
    assert np.array_equal(out[~near(bowl, 4)], alpha[~near(bowl, 4)])


def test_pick_drop_on_the_plant_removes_the_plant_only():
    """The same rule the other way round: a drop click on the plant keeps the pot."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    out = apply_edits(alpha, photo, mask, [Pick(120, 80, keep=False)])
    seam = near(plant, 2) & near(pot, 2)
    assert (out[plant & ~seam] <= 20).all()
    assert (out[pot & ~seam] >= 235).all()


def test_pick_keep_restores_a_region_the_model_gave_0_3():
    """A keep click on a blob the model gave 0.3 (and the refinement dropped) makes the
    whole blob opaque and leaves the background around it transparent."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    y, x = np.mgrid[:300, :240] + 0.5
    blob = np.hypot(x - 200, y - 40) < 25
    pixels = np.asarray(photo, np.float32) / 255
    pixels[blob] = (0.9, 0.85, 0.2)
    photo = photo_of(pixels, noise=0.0)
    model = np.where(blob, 0.3, (plant | pot).astype(np.float32)).astype(np.float32)
    mask = model_mask(model)
    alpha[blob] = 0
    out = apply_edits(alpha, photo, mask, [Pick(200, 40, keep=True)])
    assert (out[blob] == 255).all()
    background = ~(plant | pot | near(blob, 2))
    assert (out[background] == 0).all()
    assert np.array_equal(out[plant | pot], alpha[plant | pot])


def test_pick_keep_follows_the_model_where_colours_cannot_tell():
    """A part the model gave 0.3 that has the background's own colour (glass, a pale
    shadow): a keep click there keeps that part, not the whole background, because the
    model's mask is one of the region's features."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    y, x = np.mgrid[:300, :240] + 0.5
    blob = np.hypot(x - 200, y - 40) < 25
    model = np.where(blob, 0.3, (plant | pot).astype(np.float32)).astype(np.float32)
    mask = model_mask(model)
    out = apply_edits(alpha, photo, mask, [Pick(200, 40, keep=True)])
    inner = np.hypot(x - 200, y - 40) < 21
    assert (out[inner] == 255).all()
    assert (out[~(plant | pot | near(blob, 5))] == 0).all()


def test_pick_on_nothing_to_change_changes_nothing():
    """A drop click on the transparent background, and a keep click on the opaque subject,
    change no pixel."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    assert np.array_equal(apply_edits(alpha, photo, mask, [Pick(10, 10, keep=False)]), alpha)
    assert np.array_equal(apply_edits(alpha, photo, mask, [Pick(120, 80, keep=True)]), alpha)
    with pytest.raises(ValueError, match="outside the photo"):
        apply_edits(alpha, photo, mask, [Pick(240, 10, keep=False)])


def ring_on_texture(height=240, width=320, seed=4):
    """A brown ring (outer radius 70, inner 35) on a busy multi-colour texture that also
    holds the ring's own brown: (photo, ring, hole, texture pixels) and the model's mask
    (the ring at 1, its hole at 0.8: the model kept the background inside the ring)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width] + 0.5
    radius = np.hypot(x - 160, y - 120)
    ring, hole = (radius < 70) & (radius >= 35), radius < 35
    cells = rng.uniform(0, 1, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    cells[rng.random(cells.shape[:2]) < 0.2] = (0.45, 0.3, 0.15)        # the ring's brown, here and there
    texture = np.repeat(np.repeat(cells, 8, 0), 8, 1)[:height, :width]
    pixels = texture.copy()
    pixels[ring] = (0.45, 0.3, 0.15)
    model = np.where(ring, 1.0, np.where(hole, 0.8, 0.0)).astype(np.float32)
    return photo_of(pixels), ring, hole, model_mask(model)


def test_pick_drop_in_a_hole_changes_the_hole():
    """The model kept the textured background inside a ring: a drop click in the hole
    makes the hole transparent (all of it farther than 8 px from the ring; by the ring,
    texture cells of the ring's own colour may stay with it) and keeps every pixel of
    the ring (away from its inner edge) opaque."""
    photo, ring, hole, mask = ring_on_texture()
    alpha = ((ring | hole) * 255).astype(np.uint8)
    out = apply_edits(alpha, photo, mask, [Pick(160, 120, keep=False)])
    edge = near(hole, 2) & near(ring, 2)
    assert (out[hole & ~edge] <= 20).mean() > 0.95     # brown cells by the ring may stay with it
    assert (out[hole & ~near(ring, 8)] <= 20).all()
    assert (out[ring & ~edge] == 255).all()


def test_pick_keep_near_an_edge_changes_a_little():
    """The cutout lost an 8-pixel strip all round a square, which the model gave 0.3 (a
    dark object on a dark background): a keep click in the strip on the left brings
    back that stretch of it, not the whole outline."""
    height, width = 240, 320
    y, x = np.mgrid[:height, :width] + 0.5
    square = (np.abs(x - 160) < 60) & (np.abs(y - 120) < 60)
    outline = (np.abs(x - 160) < 68) & (np.abs(y - 120) < 68) & ~square
    pixels = np.full((height, width, 3), 0.25, np.float32)
    pixels[square | outline] = 0.18
    mask = model_mask(np.where(square, 1.0, np.where(outline, 0.3, 0.0)))
    alpha = (square * 255).astype(np.uint8)
    out = apply_edits(alpha, photo_of(pixels), mask, [Pick(96, 120, keep=True)])
    changed = out != alpha
    assert changed[100:140, 93:99].mean() > 0.9           # the strip by the click
    far_side = outline & (x > 200)
    assert not changed[far_side].any()                     # the opposite side of the outline
    assert changed.sum() < 0.5 * outline.sum()


def test_pick_keep_on_a_faint_part_does_not_flood_a_background_of_its_colour():
    """A part the model gave 0.2 (the refinement dropped it) on a texture that holds the
    part's colour elsewhere: a keep click on it restores the part, and no background
    farther than 4 px from it."""
    photo, ring, hole, _ = ring_on_texture()
    y, x = np.mgrid[:240, :320] + 0.5
    part = np.hypot(x - 160, y - 120) < 40
    pixels = np.asarray(photo, np.float32) / 255
    pixels[part] = (0.45, 0.3, 0.15)
    mask = model_mask(np.where(part, 0.2, 0.0))
    alpha = np.zeros((240, 320), np.uint8)
    out = apply_edits(alpha, photo_of(pixels, noise=0.0), mask, [Pick(160, 120, keep=True)])
    assert (out[np.hypot(x - 160, y - 120) < 37] == 255).all()
    assert (out[~near(part, 4)] == 0).all()


def test_replay_says_whether_the_last_edit_changed_anything():
    """`Replay.last_changed`: false after a click on nothing to change, true after one
    that changed pixels, and right again after an undo."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    replay = Replay(alpha, photo, mask)
    replay.alpha_for([Pick(10, 10, keep=False)])
    assert not replay.last_changed()
    replay.alpha_for([Pick(10, 10, keep=False), Pick(120, 230, keep=False)])
    assert replay.last_changed()
    replay.alpha_for([Pick(10, 10, keep=False)])
    assert not replay.last_changed()


def test_replay_shows_where_the_last_edit_changed_the_cutout():
    """`Replay.last_change`: a small mask of the pot after a drop click on it (nothing of
    the plant away from where they meet), scaled to the longest side asked; None after a
    click that changed nothing."""
    photo, alpha, mask, plant, pot = plant_and_pot()
    replay = Replay(alpha, photo, mask)
    replay.alpha_for([Pick(120, 230, keep=False)])
    change = replay.last_change(longest=150)
    assert change.shape == (150, 120)
    small = lambda m: np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((120, 150), Image.Resampling.BOX))
    assert (change[small(pot & ~near(plant, 3)) == 255] == 255).all()
    assert not change[small(~near(pot, 4)) > 0].any()
    replay.alpha_for([Pick(120, 230, keep=False), Pick(10, 10, keep=False)])
    assert replay.last_change() is None


def random_edit(rng, height, width):
    if rng.random() < 0.25:
        return Pick(float(rng.uniform(0, width)), float(rng.uniform(0, height)), keep=bool(rng.random() < 0.5))
    count = int(rng.integers(1, 6))
    points = tuple((float(rng.uniform(-10, width + 10)), float(rng.uniform(-10, height + 10))) for _ in range(count))
    return Stroke(str(rng.choice(["restore", "erase"])), points, float(rng.uniform(0.5, 25)),
                  hardness=float(rng.choice([1.0, rng.random()])), snap=bool(rng.random() < 0.3))


@pytest.mark.parametrize("budget", [None, 3000])
def test_replay_equals_apply_edits_over_a_random_sequence(budget):
    """Over a random sequence of appends, undos (a shorter prefix), redos and changed
    branches, `Replay.alpha_for` equals `apply_edits` from scratch bit for bit, also when
    a small memory budget makes it forget old undo entries (and replay from the start)."""
    photo, alpha, mask, plant, pot = plant_and_pot(120, 96)
    rng = np.random.default_rng(4 if budget is None else 5)
    replay = Replay(alpha, photo, mask, budget=budget)
    history, undone = [], []
    for step in range(40):
        choice = rng.random()
        if choice < 0.25 and history:
            undone.append(history.pop())
        elif choice < 0.4 and undone:
            history.append(undone.pop())
        else:
            history.append(random_edit(rng, *alpha.shape))
            undone = []
        got = replay.alpha_for(history)
        assert np.array_equal(got, apply_edits(alpha, photo, mask, history)), f"step {step}"
    if budget:
        assert replay.logged <= budget


def test_edits_round_trip_through_json():
    """to_dict / edit_from_dict and the list form are inverse, through real JSON."""
    edits = [Stroke("erase", ((1, 2.5), (3, 4)), 10, hardness=0.25, snap=True), Pick(5, 6.5, keep=True)]
    text = json.dumps(edits_to_json(edits))
    assert edits_from_json(text) == edits
    assert edits_from_json(json.loads(text)) == edits
    assert edit_from_dict({"kind": "stroke", "mode": "restore", "points": [[1, 2]], "radius": 3}) == \
        Stroke("restore", ((1.0, 2.0),), 3.0, 1.0, False)


@pytest.mark.parametrize("bad, message", [
    ({"kind": "lasso", "points": []}, "unknown edit kind 'lasso'"),
    ({"mode": "restore", "points": [[1, 2]], "radius": 3}, "unknown edit kind None"),
    ({"kind": "stroke", "mode": "paint", "points": [[1, 2]], "radius": 3}, "mode must be one of"),
    ({"kind": "stroke", "mode": "erase", "points": [], "radius": 3}, "1 to 100000 points"),
    ({"kind": "stroke", "mode": "erase", "points": "1,2", "radius": 3}, "list of"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2, 3]], "radius": 3}, "point 0 must be an"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, float("nan")]], "radius": 3}, "point 0 y must be a finite"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]], "radius": 0.1}, "radius must be between 0.5"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]], "radius": 3000}, "radius must be between"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]], "radius": "3"}, "radius must be a finite"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]], "radius": 3, "hardness": 1.5}, "hardness must be"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]], "radius": 3, "snap": 1}, "snap must be true or false"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]]}, "a stroke needs radius"),
    ({"kind": "stroke", "mode": "erase", "points": [[1, 2]], "radius": 3, "colour": 1}, "unknown name.*colour"),
    ({"kind": "pick", "x": 1, "y": True, "keep": True}, "y must be a finite number"),
    ({"kind": "pick", "x": 1, "y": 2, "keep": "yes"}, "keep must be true or false"),
    ({"kind": "pick", "x": 1, "y": 2}, "a pick needs keep"),
    (["pick", 1, 2], "an edit must be an object"),
])
def test_bad_dicts_are_refused_with_a_clear_message(bad, message):
    """Every malformed edit from the page is refused with a ValueError that says what is
    wrong; the list form names the edit's position."""
    with pytest.raises(ValueError, match=message):
        edit_from_dict(bad)
    with pytest.raises(ValueError, match="edit 1: "):
        edits_from_json([{"kind": "pick", "x": 1, "y": 2, "keep": True}, bad])


def test_edits_from_json_refuses_what_is_not_a_list():
    """Not a list, or not JSON at all: refused, saying so."""
    with pytest.raises(ValueError, match="must be a list"):
        edits_from_json({"kind": "pick"})
    with pytest.raises(ValueError, match="not valid JSON"):
        edits_from_json("[{")


def test_uncertainty_shows_broad_doubt_not_the_ordinary_edge():
    """0 where the model was sure, 255 where it said 0.5 over an area, and its ordinary
    one-pixel anti-aliased edge left out; at the photo's size."""
    mask = np.zeros((64, 64), np.float32)
    mask[:, 32:] = 1
    mask[:, 32] = 0.5                           # a crisp edge's one soft column
    mask[10:30, 5:25] = 0.5                     # a broad unsure patch
    mask[40:50, 5:15] = 0.3
    view = uncertainty(mask, (64, 64))
    assert view.shape == (64, 64) and view.dtype == np.uint8
    assert (view[12:28, 7:23] == 255).all()
    assert (view[:, 30:] == 0).all()
    assert (view[42:48, 7:13] > 100).all() and (view[42:48, 7:13] < 200).all()
    assert uncertainty(mask, (200, 150)).shape == (150, 200)
    with pytest.raises(ValueError, match="low < high"):
        uncertainty(mask, (64, 64), low=0.6, high=0.4)


def test_apply_to_cutout_takes_the_photo_colour_only_where_alpha_was_raised():
    """Where the edits raised alpha the colour is the photo's; where they lowered it or
    left it, the refined cutout's colour stays; alpha is the edited one."""
    photo = flat_photo(20, 30, (0.8, 0.2, 0.1))
    refined = np.zeros((20, 30, 4), np.uint8)
    refined[..., :3] = (10, 200, 30)
    refined[:, :15, 3] = 255
    cutout = Image.fromarray(refined, "RGBA")
    alpha = refined[..., 3].copy()
    alpha[:5, 20:] = 255                        # raised: restore
    alpha[10:, :5] = 0                          # lowered: erase
    out = np.asarray(apply_to_cutout(cutout, photo, alpha))
    assert np.array_equal(out[..., 3], alpha)
    assert (out[:5, 20:, :3] == np.asarray(photo)[:5, 20:]).all()
    rest = np.ones((20, 30), bool)
    rest[:5, 20:] = False
    assert (out[rest][:, :3] == (10, 200, 30)).all()
    assert np.array_equal(np.asarray(cutout), refined)         # the input is untouched


def test_strokes_off_the_photo_and_mismatched_inputs():
    """A stroke partly or wholly off the photo paints what lies on it (or nothing); an
    alpha of the wrong size or type is refused."""
    alpha = np.zeros((50, 60), np.uint8)
    photo = flat_photo(50, 60)
    out = apply_edits(alpha, photo, NO_MASK, [Stroke("restore", ((-30, -30), (10, 10)), 5)])
    assert out[5, 5] == 255 and out[40, 50] == 0
    assert np.array_equal(apply_edits(alpha, photo, NO_MASK, [Stroke("restore", ((500, 500),), 5)]), alpha)
    with pytest.raises(ValueError, match="does not match"):
        apply_edits(alpha[:, :59], photo, NO_MASK, [])
    with pytest.raises(ValueError, match="uint8"):
        apply_edits(alpha.astype(np.float32), photo, NO_MASK, [])
