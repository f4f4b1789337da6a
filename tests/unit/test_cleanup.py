"""Connected components and speck removal: specks go, holes and nearby pieces stay."""
import numpy as np
import pytest

from app.core.cleanup import clean, islands_to_remove, label


def flood_count(mask):
    """Brute-force 8-connected component count."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        count += 1
        stack = [start]
        seen[start] = True
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
    return count


@pytest.mark.parametrize("seed", range(4))
def test_label_matches_a_flood_fill(seed):
    """Same component count as a flood fill; every component is one id, areas add up."""
    rng = np.random.default_rng(seed)
    mask = rng.random((40, 50)) > 0.6
    ids, areas = label(mask)
    assert len(areas) == flood_count(mask)
    assert areas.sum() == mask.sum()
    assert (ids[~mask] == -1).all() and (ids[mask] >= 0).all()


def test_label_of_a_long_snake_is_one_component():
    """A one-pixel-wide serpentine (worst case for propagation) is found as one piece."""
    mask = np.zeros((64, 64), bool)
    mask[::4] = True
    for row in range(0, 60, 8):
        mask[row:row + 5, -1] = True
        mask[row + 4:row + 9, 0] = True
    ids, areas = label(mask)
    assert len(areas) == flood_count(mask) == 1


def scene():
    """A 200x200 alpha: a big square subject with a hole, a far speck, a near piece."""
    alpha = np.zeros((200, 200), np.float32)
    alpha[40:160, 40:140] = 1
    alpha[80:100, 70:90] = 0             # a real hole (a cup's handle)
    alpha[20:23, 180:183] = 0.8          # a speck far from the subject
    alpha[60:64, 143:146] = 1            # a small piece right next to it (a hair clump)
    alpha[150:190, 170:195] = 1          # a second, sizeable subject
    return alpha


def test_speck_far_away_is_removed_with_its_rim_hole_kept():
    """The speck and its faint rim go; the hole stays open; the nearby piece and the
    second subject stay."""
    alpha = scene()
    alpha[19, 179:184] = 0.1             # faint rim of the speck
    cleaned = clean(alpha, remove_specks=True, keep_main_subject=False)
    assert cleaned[18:25, 178:185].max() == 0
    assert cleaned[80:100, 70:90].max() == 0
    np.testing.assert_array_equal(cleaned[60:64, 143:146], 1)
    np.testing.assert_array_equal(cleaned[150:190, 170:195], 1)
    np.testing.assert_array_equal(cleaned[40:160, 40:140], alpha[40:160, 40:140])


def test_keep_main_subject_drops_the_second_subject_but_not_attached_pieces():
    """Only what touches the largest component's neighbourhood survives."""
    cleaned = clean(scene(), remove_specks=True, keep_main_subject=True)
    assert cleaned[150:190, 170:195].max() == 0
    np.testing.assert_array_equal(cleaned[60:64, 143:146], 1)
    assert cleaned[80:100, 70:90].max() == 0 and cleaned[45, 45] == 1


def test_nothing_to_do_returns_the_input():
    """One component, or both switches off, leaves alpha untouched."""
    alpha = scene()
    assert clean(alpha, remove_specks=False, keep_main_subject=False) is alpha
    single = np.zeros((50, 50), np.float32)
    single[10:20, 10:20] = 1
    assert not islands_to_remove(single, True, True).any()
    assert not islands_to_remove(np.zeros((50, 50), np.float32), True, True).any()


def test_large_masks_are_labelled_downsampled_but_specks_survive_pooling():
    """On a 1500x1000 alpha a 2x2 speck is still found and removed."""
    alpha = np.zeros((1000, 1500), np.float32)
    alpha[200:800, 300:1000] = 1
    alpha[50:52, 1400:1402] = 1
    cleaned = clean(alpha)
    assert cleaned[50:52, 1400:1402].max() == 0
    assert cleaned[500, 500] == 1


# --------------------------------------------------------------------------------------
# Exact answers at the limits (found by mutation testing, bench/mutation.py).
# --------------------------------------------------------------------------------------
from app.core.cleanup import SPECK_FRACTION, SUBJECT_LEVEL  # noqa: E402


def rectangle(shape, rows, cols):
    """A bool mask that is True on rows[0]:rows[1], cols[0]:cols[1]."""
    mask = np.zeros(shape, bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    return mask


@pytest.mark.parametrize("shape, subject, speck, dropped", [
    # at most 512 px: labelled at full size, the speck grows by 1 + 1 px
    ((200, 200), ((40, 160), (40, 140)), ((100, 102), (180, 182)), ((98, 104), (178, 184))),
    # 1000 px: labelled at half size, the speck's 2x2 blocks (rows 50-53) grow by 2 + 1
    ((600, 1000), ((100, 500), (100, 600)), ((51, 53), (901, 903)), ((47, 57), (897, 907))),
    # 1500 px: labelled at a third, its 3x3 block grows by 3 + 1
    ((1000, 1500), ((200, 800), (300, 1000)), ((51, 53), (1401, 1403)), ((47, 58), (1397, 1408))),
    # 8200 px long side: labelled at 1/17; a single pixel still marks its block
    ((10, 8200), ((0, 10), (100, 4000)), ((5, 6), (8000, 8001)), ((0, 10), (7972, 8025))),
])
def test_dropped_region_is_the_speck_grown_by_one_labelling_block(shape, subject, speck, dropped):
    """islands_to_remove returns exactly the speck's labelling blocks grown by
    (block + 1) pixels, as a bool mask of the alpha's shape."""
    alpha = np.zeros(shape, np.float32)
    alpha[rectangle(shape, *subject)] = 1
    alpha[rectangle(shape, *speck)] = 1
    drop = islands_to_remove(alpha, remove_specks=True, keep_main_subject=False)
    assert drop.dtype == bool and drop.shape == shape
    np.testing.assert_array_equal(drop, rectangle(shape, *dropped))


def test_nothing_to_drop_is_an_all_false_mask_of_the_alpha_shape():
    """With one component, or two that both stay, the answer is a (H, W) bool mask of False."""
    alpha = np.zeros((60, 80), np.float32)
    alpha[5:25, 5:25] = 1
    for remove_specks, keep_main_subject in ((True, True), (True, False)):
        drop = islands_to_remove(alpha, remove_specks, keep_main_subject)
        assert drop.dtype == bool and drop.shape == (60, 80) and not drop.any()
    alpha[40:55, 50:70] = 1                       # a second, sizeable subject
    drop = islands_to_remove(alpha, remove_specks=True, keep_main_subject=False)
    assert drop.dtype == bool and drop.shape == (60, 80) and not drop.any()


def test_soft_rim_around_the_subject_is_kept_when_a_speck_goes():
    """Faint alpha (below the subject level) around the main subject, several pixels
    wide, is not touched when a far speck is removed."""
    alpha = np.zeros((120, 120), np.float32)
    alpha[30:80, 30:80] = 1
    for step, level in enumerate((0.2, 0.15, 0.1, 0.05, 0.02)):        # a 5 px soft edge
        ring = rectangle(alpha.shape, (29 - step, 81 + step), (29 - step, 81 + step))
        alpha[ring & (alpha == 0)] = level
    alpha[110:112, 110:112] = 1                                         # far speck
    expected = alpha.copy()
    expected[110:112, 110:112] = 0
    np.testing.assert_array_equal(clean(alpha), expected)


def test_speck_rim_stops_one_pixel_short_of_a_kept_island_listed_first():
    """A speck's grown rim never comes within one pixel of a kept island, also when that
    island is the first component in reading order (id 0)."""
    alpha = np.zeros((200, 200), np.float32)
    alpha[40:160, 40:140] = 1                       # main subject
    alpha[5:40, 170:195] = 1                        # second subject, top right: id 0
    alpha[20:22, 166:168] = 1                       # speck, 2 px left of it
    drop = islands_to_remove(alpha, remove_specks=True, keep_main_subject=False)
    # Grown by 2 px: rows 18-23, columns 164-169; column 169 touches the kept island.
    np.testing.assert_array_equal(drop, rectangle(alpha.shape, (18, 24), (164, 169)))


def test_piece_near_the_main_subject_stays_when_it_is_listed_first():
    """keep_main_subject keeps a small piece just above the main subject (the first
    component in reading order) and drops a far one."""
    alpha = np.zeros((200, 200), np.float32)
    alpha[40:160, 40:140] = 1
    alpha[35:38, 60:63] = 1                         # 2 px above the subject: near
    alpha[170:190, 170:190] = 1                     # far, not small
    cleaned = clean(alpha, remove_specks=False, keep_main_subject=True)
    np.testing.assert_array_equal(cleaned[35:38, 60:63], 1)
    assert cleaned[170:190, 170:190].max() == 0


def test_alpha_at_the_subject_level_is_not_subject():
    """An island at exactly SUBJECT_LEVEL is not a component (it stays); just above, it
    is a speck and goes."""
    alpha = np.zeros((100, 100), np.float32)
    alpha[20:80, 20:80] = 1
    alpha[90:93, 90:93] = SUBJECT_LEVEL
    np.testing.assert_array_equal(clean(alpha), alpha)
    alpha[90:93, 90:93] = np.nextafter(np.float32(SUBJECT_LEVEL), np.float32(1))
    assert clean(alpha)[90:93, 90:93].max() == 0


def test_speck_size_limit_is_strict():
    """An island of exactly SPECK_FRACTION of the main subject's area stays; one pixel
    smaller, it goes."""
    assert SPECK_FRACTION * 2500 == 50
    alpha = np.zeros((150, 150), np.float32)
    alpha[10:60, 10:60] = 1                         # main subject: 2500 px
    alpha[120:125, 120:130] = 1                     # 50 px, far away
    np.testing.assert_array_equal(clean(alpha), alpha)
    alpha[124, 129] = 0                             # 49 px
    assert clean(alpha)[120:125, 120:130].max() == 0


def test_clean_defaults_keep_other_subjects_and_return_float32():
    """By default specks go but a second subject stays; the result is float32 also for a
    float64 alpha."""
    alpha = np.zeros((200, 200), np.float64)
    alpha[40:160, 40:140] = 1
    alpha[150:190, 170:195] = 1
    alpha[20:23, 180:183] = 0.8
    cleaned = clean(alpha)
    assert cleaned.dtype == np.float32
    np.testing.assert_array_equal(cleaned[150:190, 170:195], 1)
    assert cleaned[20:23, 180:183].max() == 0


def test_label_of_an_empty_mask_and_of_a_number_mask():
    """An empty mask gives all -1 (int32, the mask's shape) and no areas (int64); ids
    are int32; a 0/1 integer mask is labelled like the bool mask."""
    ids, areas = label(np.zeros((3, 4), bool))
    assert ids.dtype == np.int32 and ids.shape == (3, 4) and (ids == -1).all()
    assert areas.dtype == np.int64 and areas.shape == (0,)
    mask = np.random.default_rng(7).random((20, 30)) > 0.6
    expected_ids, expected_areas = label(mask)
    assert expected_ids.dtype == np.int32
    ids, areas = label(mask.astype(np.uint8))
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(areas, expected_areas)
