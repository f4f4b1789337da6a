"""Unit tests for app.core.mirror: the two views of the model merged, the photo's colours
settling the regions where they disagree. Exact answers on drawn masks and photos."""
from __future__ import annotations

import numpy as np
import pytest

from app.core import mirror

RED, BLUE, PURPLE, GREEN = (220, 30, 30), (30, 30, 220), (125, 30, 125), (30, 200, 60)
SIDE = 64


def photo_and_own(part_colour=RED) -> tuple[np.ndarray, np.ndarray]:
    """A red subject on the left half, blue background on the right; rows 10-21 of the
    subject's middle drawn in `part_colour` (the part the two views will argue about)."""
    pixels = np.zeros((SIDE, SIDE, 3), np.uint8)
    pixels[:, :SIDE // 2] = RED
    pixels[:, SIDE // 2:] = BLUE
    pixels[10:22, 8:24] = part_colour
    own = np.zeros((SIDE, SIDE), np.float32)
    own[:, :SIDE // 2] = 1
    return pixels / np.float32(255), own


def without_part(mask):
    dropped = mask.copy()
    dropped[10:22, 8:24] = 0
    return dropped


def test_where_the_views_agree_the_mask_is_their_mean():
    image, own = photo_and_own()
    other = own * np.float32(0.9) + np.float32(0.05)      # differs by at most 0.1 everywhere
    np.testing.assert_allclose(mirror.merge(image, own, other), (own + other) / 2, atol=1e-6)


@pytest.mark.parametrize("who_is_right", ["own", "mirrored"])
def test_a_part_one_view_dropped_is_kept_when_its_colours_are_the_subjects(who_is_right):
    """The part is red like the subject: the view that kept it wins the whole part (not half of it)."""
    image, whole = photo_and_own()
    own, mirrored = (whole, without_part(whole)) if who_is_right == "own" else (without_part(whole), whole)
    np.testing.assert_array_equal(mirror.merge(image, own, mirrored), whole)


@pytest.mark.parametrize("who_is_right", ["own", "mirrored"])
def test_a_part_one_view_kept_is_dropped_when_its_colours_are_the_backgrounds(who_is_right):
    image, whole = photo_and_own(part_colour=BLUE)
    dropped = without_part(whole)
    own, mirrored = (dropped, whole) if who_is_right == "own" else (whole, dropped)
    np.testing.assert_array_equal(mirror.merge(image, own, mirrored), dropped)


def test_where_the_colours_cannot_tell_the_photos_own_view_stands():
    """The part's colour is halfway between the subject's and the background's and seen in
    neither sample: whichever view dropped it, the photo's own view stands."""
    image, whole = photo_and_own(part_colour=PURPLE)
    np.testing.assert_array_equal(mirror.merge(image, whole, without_part(whole)), whole)
    np.testing.assert_array_equal(mirror.merge(image, without_part(whole), whole), without_part(whole))


@pytest.mark.parametrize("own_keeps", [True, False])
def test_where_the_referees_disagree_the_photos_own_view_stands(own_keeps):
    """A two-coloured subject (red above, green below, on blue) and a green part next to
    the red: the histograms know green as the subject's, the local colours (red nearby,
    blue beyond) do not; without both, the mirror image does not overturn the photo's view."""
    image, whole = photo_and_own()
    image[40:, :SIDE // 2] = np.array(GREEN) / 255
    image[10:22, 8:24] = np.array(GREEN) / 255
    own, mirrored = (whole, without_part(whole)) if own_keeps else (without_part(whole), whole)
    np.testing.assert_array_equal(mirror.merge(image, own, mirrored), own)


def test_two_disputes_are_settled_each_on_its_own_colours():
    """One disputed part is the subject's colour, one the background's, far apart: each
    region takes its own verdict."""
    pixels = np.zeros((SIDE, SIDE, 3), np.uint8)
    pixels[:, :SIDE // 2] = RED
    pixels[:, SIDE // 2:] = BLUE
    pixels[40:52, 40:56] = BLUE        # background-coloured, kept by own only
    own = np.zeros((SIDE, SIDE), np.float32)
    own[:, :SIDE // 2] = 1
    own[40:52, 40:56] = 1
    mirrored = own.copy()
    mirrored[40:52, 40:56] = 0
    mirrored[10:22, 8:24] = 0          # subject-coloured, dropped by mirrored only
    truth = own.copy()
    truth[40:52, 40:56] = 0
    np.testing.assert_array_equal(mirror.merge(pixels / np.float32(255), own, mirrored), truth)


def test_flip_swaps_left_and_right_of_the_last_axis():
    values = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(mirror.flip(values)[0, 0, 0], [3, 2, 1, 0])
    np.testing.assert_array_equal(mirror.flip(mirror.flip(values)), values)
