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
