"""Correcting a cutout as a person does: paint with the Erase brush, undo it with
Ctrl+Z, click a part to drop it, look at the mask alone and at the model's unsure
areas, zoom. Each test opens the app in its own fresh profile and checks the file
the user downloads, not the page's internals.
"""
from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from tests import photos

pytestmark = pytest.mark.browser


def client_point(app, x: float, y: float) -> tuple[float, float]:
    """Where the photo's pixel (x, y) is on the screen now."""
    rect = app.page.locator("#cutout").bounding_box()
    size = app.page.evaluate("[document.querySelector('#cutout').width, document.querySelector('#cutout').height]")
    return rect["x"] + x * rect["width"] / size[0], rect["y"] + y * rect["height"] / size[1]


def choose_tool(app, name: str):
    app.page.get_by_label(name, exact=True).check()


def alpha(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A")).astype(int)


def distance_to_segment(shape, a, b) -> np.ndarray:
    """Each pixel centre's distance to the segment a-b (photo pixels)."""
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]]
    px, py = columns + 0.5, rows + 0.5
    (ax, ay), (bx, by) = a, b
    t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    return np.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


def test_an_erase_stroke_changes_the_download_where_painted_and_undo_restores_it(app, tmp_path):
    """A drag with the Erase brush (hard, no snapping) across the cat: the downloaded
    PNG is transparent along the stroke and unchanged more than a brush radius away;
    Ctrl+Z gives back the first download exactly, Ctrl+Shift+Z the erased one."""
    first = app.cutout(photos.save(tmp_path / "cat.png", "cat"), tmp_path / "first.png")
    choose_tool(app, "Erase")
    app.page.get_by_label("Snap to edges").uncheck()
    app.page.get_by_label("Hardness").fill("1")
    app.page.get_by_label("Brush", exact=True).fill("20")
    start, end = (120.0, 150.0), (330.0, 170.0)
    app.mark()
    app.page.mouse.move(*client_point(app, *start))
    app.page.mouse.down()
    for step in range(1, 11):
        point = (start[0] + (end[0] - start[0]) * step / 10, start[1] + (end[1] - start[1]) * step / 10)
        app.page.mouse.move(*client_point(app, *point))
    app.page.mouse.up()
    erased = app.cutout_after_pick(tmp_path / "erased.png")
    radius = app.page.evaluate(
        "20 / 2 / (document.querySelector('#cutout').getBoundingClientRect().width / document.querySelector('#cutout').width)")
    distance = distance_to_segment(alpha(first).shape, start, end)
    before, after = alpha(first), alpha(erased)
    assert (after[distance < radius - 1.5] == 0).all(), "the stroke left pixels behind"
    assert (before[distance < radius - 1.5] > 0).mean() > 0.9, "the stroke should cross the cat"
    np.testing.assert_array_equal(after[distance > radius + 1.5], before[distance > radius + 1.5])
    app.mark()
    app.page.keyboard.press("Control+z")
    undone = app.cutout_after_pick(tmp_path / "undone.png")
    np.testing.assert_array_equal(np.asarray(undone), np.asarray(first))
    app.mark()
    app.page.keyboard.press("Control+Shift+z")
    redone = app.cutout_after_pick(tmp_path / "redone.png")
    np.testing.assert_array_equal(np.asarray(redone), np.asarray(erased))


def shown_change(app) -> np.ndarray:
    """The "what changed" layer as the user sees it: once shown, its alpha (0 where
    nothing changed), at the layer's own size."""
    app.page.wait_for_function("document.querySelector('#change').classList.contains('shown')")
    encoded = app.page.evaluate("""() => {
        const canvas = document.querySelector('#change');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let bytes = '';
        for (let i = 3; i < data.length; i += 4) bytes += String.fromCharCode(data[i]);
        return [canvas.width, canvas.height, btoa(bytes)];
    }""")
    width, height, data = encoded
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width)


def test_a_click_with_drop_part_takes_the_spoon_and_leaves_the_cup(app, tmp_path):
    """"Drop part", one click on the spoon: the downloaded cutout has no spoon, and the
    cup and saucer are as they were; the page shows where the click changed the cutout
    (the spoon, nothing else); "Keep part" on the same spot brings it back."""
    first = app.cutout(photos.save(tmp_path / "coffee.png", "coffee"), tmp_path / "first.png")
    before = alpha(first)
    spoon, cup, saucer = (365, 290), (290, 60), (120, 250)
    assert before[spoon[1], spoon[0]] > 200, "the model should have kept the spoon"
    choose_tool(app, "Drop part")
    app.mark()
    app.page.mouse.click(*client_point(app, *spoon))
    dropped = alpha(app.cutout_after_pick(tmp_path / "dropped.png"))
    assert dropped[spoon[1], spoon[0]] == 0
    for x, y in (cup, saucer):
        assert dropped[y, x] == before[y, x], (x, y)
    changed = np.abs(dropped - before) > 8
    assert 0 < changed.sum() < 0.15 * (before > 128).sum(), changed.sum()
    marked = shown_change(app) > 0
    assert marked.shape == before.shape
    assert marked[spoon[1], spoon[0]] and not any(marked[y, x] for x, y in (cup, saucer))
    np.testing.assert_array_equal(marked, dropped != before)
    choose_tool(app, "Keep part")
    app.mark()
    app.page.mouse.click(*client_point(app, *spoon))
    kept = alpha(app.cutout_after_pick(tmp_path / "kept.png"))
    assert kept[spoon[1], spoon[0]] > 200


def test_a_click_on_nothing_to_change_says_so_and_is_not_an_edit(app, tmp_path):
    """"Drop part" on the transparent background and "Keep part" on the cup change nothing:
    the page says why in words, the download is the first one bit for bit, no edit is
    counted, and Ctrl+Z has nothing to undo."""
    first = app.cutout(photos.save(tmp_path / "coffee.png", "coffee"), tmp_path / "first.png")
    for tool, where, words in (("Drop part", (20, 380), "Nothing to drop there"),
                               ("Keep part", (290, 60), "Nothing to keep there")):
        choose_tool(app, tool)
        app.mark()
        app.page.mouse.click(*client_point(app, *where))
        app.wait_result()
        assert app.status.startswith(words), app.status
        assert app.page.locator("#change.shown").count() == 0, "nothing changed, nothing to show"
    assert app.page.locator("#undo").is_disabled() and app.page.locator("#redo").is_disabled()
    app.page.keyboard.press("Control+z")
    after = app.download(tmp_path / "after.png")
    np.testing.assert_array_equal(np.asarray(after), np.asarray(first))


def test_the_mask_view_the_unsure_view_and_zoom(app, tmp_path):
    """View → Mask shows the alpha alone (white subject on black); View → Unsure areas
    marks the model's doubts in red over the cutout; "100 %" shows the photo's own
    pixels; Fit brings it back within the page."""
    app.cutout(photos.save(tmp_path / "cat.png", "cat"), tmp_path / "cat-download.png")
    app.page.get_by_label("Mask", exact=True).check()
    overlay = app.page.locator("#overlay")
    overlay.wait_for()
    corner, middle = app.page.evaluate("""() => {
        const context = document.querySelector('#overlay').getContext('2d');
        return [[...context.getImageData(445, 5, 1, 1).data], [...context.getImageData(225, 150, 1, 1).data]];
    }""")
    assert corner[:3] == [0, 0, 0] and middle[:3] == [255, 255, 255], (corner, middle)
    app.page.get_by_label("Unsure areas", exact=True).check()
    app.page.wait_for_function("""() => {
        const data = document.querySelector('#overlay').getContext('2d').getImageData(0, 0, 451, 300).data;
        for (let i = 0; i < data.length; i += 4) if (data[i] > 200 && data[i + 1] < 80 && data[i + 3] > 200) return true;
        return false;
    }""")
    app.page.get_by_role("button", name="100 %").click()
    assert app.page.locator("#cutout").bounding_box()["width"] == pytest.approx(451, abs=1)
    app.page.get_by_role("button", name="Fit").click()
    assert app.page.locator("#cutout").bounding_box()["width"] <= app.page.viewport_size["width"]


def test_copy_puts_the_cutout_on_the_clipboard_and_a_picture_can_be_the_background(app, tmp_path):
    """Background → Your picture (a striped picture of the user's), then Copy: the
    clipboard holds a PNG of the photo's size whose corner is the picture's, not
    transparent; the downloaded file is the same picture."""
    app.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.origin)
    app.cutout(photos.save(tmp_path / "coffee.png", "coffee"), tmp_path / "coffee-download.png")
    stripes = np.zeros((40, 40, 3), np.uint8)
    stripes[:, :, 1] = 200
    stripes[::2, :, 2] = 255
    Image.fromarray(stripes).save(tmp_path / "stripes.png")
    app.page.get_by_label("Background", exact=True).select_option("picture")
    app.mark()
    app.page.get_by_label("Picture", exact=True).set_input_files(str(tmp_path / "stripes.png"))
    app.page.wait_for_function("document.querySelector('#preview').getAttribute('data-wanted') === '1'")
    app.page.get_by_role("button", name="Copy").click()
    app.wait_status("text.startsWith('Copied coffee.png')")
    size, corner = app.page.evaluate("""async () => {
        const items = await navigator.clipboard.read();
        const blob = await items[0].getType('image/png');
        const bitmap = await createImageBitmap(blob);
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext('2d');
        context.drawImage(bitmap, 0, 0);
        return [[bitmap.width, bitmap.height], [...context.getImageData(2, 2, 1, 1).data]];
    }""")
    assert size == [600, 400]
    assert corner[3] == 255 and corner[1] > 150 and corner[0] < 40, corner
    with app.page.expect_download() as download:
        app.download_link.click()
    saved = Image.open(download.value.path())
    assert saved.mode == "RGB" and saved.size == (600, 400)
