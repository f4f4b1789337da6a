"""One photo, the way people bring it: picked in the file dialog (a camera JPEG
with EXIF rotation, a 12-megapixel photo, a phone's 48-megapixel one), dropped or pasted. Each result is
downloaded and compared with the command line's cutout of the same file.
Each test opens the app in its own fresh browser profile.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests import photos
from tests.browser.reference import assert_same_cutout, native_cutout

pytestmark = pytest.mark.browser


def test_a_picked_camera_photo_becomes_its_full_resolution_cutout(app, tmp_path, artifacts):
    """A JPEG stored sideways with EXIF orientation 6: busy with no stale download
    while working, then an upright RGBA PNG named after the photo, equal to the
    command line's cutout of the same file (its chroma is subsampled, as in camera
    JPEGs, which the two JPEG decoders upsample differently: hence a bound on the
    mean colour difference instead of equality; see test_parity.py)."""
    path = photos.with_exif_orientation("astronaut", tmp_path / "portrait.jpg", 6)
    upright = photos.displayed(path)
    assert upright.size == (512, 512) and photos.image("astronaut").size == upright.size

    app.pick(path)
    app.wait_busy()
    assert app.download_link.is_hidden()
    assert app.cancel_button.is_visible()
    cutout = app.cutout_after_pick(tmp_path / "download.png")

    assert app.last_download_name == "portrait-cutout.png"
    assert_same_cutout(cutout, native_cutout(path, tmp_path), max_colour=1.5)
    assert not app.busy and app.cancel_button.is_hidden()
    assert app.status == "Done.", app.status
    assert set(app.timings()) >= {"decode", "preprocess", "inference", "postprocess", "encode", "total"}
    assert app.details.startswith("portrait.jpg · 512×512 · Done in "), app.details
    app.page.screenshot(path=str(artifacts / "photo-result-desktop.png"), full_page=True)
    app.page.get_by_label("black").check()
    assert app.page.locator("#result .stage").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 0, 0)"
    app.page.set_viewport_size({"width": 360, "height": 780})
    app.page.screenshot(path=str(artifacts / "photo-result-360px-on-black.png"), full_page=True)


def test_a_camera_sized_photo_takes_the_large_photo_path(app, tmp_path):
    """A 12-megapixel photo (the model works at 1024 px, colours are solved at a
    reduced size, then carried to every pixel): the page's cutout is the command
    line's, pixel for pixel in size, within the same bounds as small photos."""
    path = photos.save(tmp_path / "coffee-12mp.png", "coffee", megapixels=12)
    cutout = app.cutout(path, tmp_path / "download.png")
    assert cutout.size == (4243, 2828)
    assert_same_cutout(cutout, native_cutout(path, tmp_path))


def test_a_48_megapixel_photo_completes_without_losing_the_tab(app, tmp_path):
    """An 8000×6000 JPEG (48 MP, a phone's full-resolution photo): the tab survives, the
    cutout is shown and downloadable at full size, and the page stays usable for the next
    photo (its peak memory is in bench/speed.py's table: `--sizes 48`)."""
    path = tmp_path / "phone-48mp.jpg"
    photos.image("coffee").resize((8000, 6000), Image.Resampling.BILINEAR).save(path, quality=90)
    big = app.cutout(path, tmp_path / "big.png")
    assert big.size == (8000, 6000) and big.mode == "RGBA"
    alpha = np.asarray(big.getchannel("A"))
    assert 0.05 < (alpha > 127).mean() < 0.95, (alpha > 127).mean()      # a subject, not all or nothing
    small = photos.save(tmp_path / "coffee.png", "coffee")
    assert_same_cutout(app.cutout(small, tmp_path / "next.png"), native_cutout(small, tmp_path))


@pytest.mark.parametrize("how, name, mime, fmt, params", [
    ("drop", "dropped.webp", "image/webp", "WEBP", {"lossless": True}),
    ("paste", "image.png", "image/png", "PNG", {}),
])
def test_dropping_or_pasting_a_photo_works_like_picking(app, tmp_path, how, name, mime, fmt, params):
    """A WebP dropped on the drop zone, or a PNG pasted: cut out, offered under its
    own name, equal to the command line's cutout of the same bytes."""
    data = photos.encoded("coffee", fmt, **params)
    app.deliver(how, name, mime, data)
    cutout = app.cutout_after_pick(tmp_path / "download.png")
    assert app.last_download_name == name.rsplit(".", 1)[0] + "-cutout.png"
    original = tmp_path / name
    original.write_bytes(data)
    assert_same_cutout(cutout, native_cutout(original, tmp_path))


# What a canvas of the page holds, read back: its alpha channel, drawn at `longest` px
# on its long side at most (a 12 MP canvas would be 12 million numbers to send).
READ_ALPHA = """([id, longest]) => {
    const source = document.getElementById(id);
    const scale = Math.min(1, longest / Math.max(source.width, source.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(source.width * scale);
    canvas.height = Math.round(source.height * scale);
    const context = canvas.getContext('2d');
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const alpha = new Array(data.length / 4);
    for (let i = 0; i < alpha.length; i++) alpha[i] = data[4 * i + 3];
    return {width: canvas.width, height: canvas.height, alpha};
}"""


def canvas_alpha(app, canvas_id: str, longest: int = 1024) -> np.ndarray:
    read = app.page.evaluate(READ_ALPHA, [canvas_id, longest])
    return np.asarray(read["alpha"], np.uint8).reshape(read["height"], read["width"])


def test_a_first_look_shows_at_once_and_a_cancel_brings_back_the_cutout_underneath(first_cutout, tmp_path,
                                                                                  artifacts):
    """With the cat's cutout on screen, a 12-megapixel photo is picked: a rough cutout of it
    (the model's first look, at most 1024 px long) is on screen while the model runs in
    full, the status naming that, and the cat's canvas untouched underneath. Cancel: the
    cat is back, pixel for pixel. Picked again: the first look, then the full cutout in its
    place, whose subject the first look had found (IoU of the two alphas at 0.5)."""
    app, _ = first_cutout
    cat = canvas_alpha(app, "cutout")
    path = photos.save(tmp_path / "coffee-12mp.jpg", "coffee", megapixels=12, quality=92)

    app.pick(path)
    app.page.wait_for_selector("#result.looking", timeout=60_000)
    assert app.page.locator("#first-look").is_visible() and not app.page.locator("#cutout").is_visible()
    # Read before the canvas: reading 1024 px of canvas takes seconds on a busy machine.
    assert app.busy and "first look" in app.details, app.details
    look = canvas_alpha(app, "first-look")
    assert look.shape == (683, 1024), look.shape
    app.page.screenshot(path=str(artifacts / "first-look-desktop.png"), full_page=True)
    app.cancel_button.click()
    app.page.wait_for_function("!document.querySelector('#result').classList.contains('looking')")
    assert app.page.locator("#cutout").is_visible() and not app.page.locator("#first-look").is_visible()
    np.testing.assert_array_equal(canvas_alpha(app, "cutout"), cat)
    assert app.details.startswith("cat.png · "), app.details

    app.pick(path)
    app.page.wait_for_selector("#result.looking", timeout=60_000)
    look = canvas_alpha(app, "first-look")
    app.wait_result()
    assert app.page.evaluate("document.querySelector('#result').classList.contains('looking')") is False
    assert app.details.startswith("coffee-12mp.jpg · 4243×2828 · "), app.details
    # The first look came before the model's full run: "Finding the subject" follows it.
    details, log = app.page.evaluate("window.__detailsLog"), app.page.evaluate("window.__statusLog")
    looked_at = [entry["at"] for entry in details if entry["text"] == "coffee-12mp.jpg · first look; refining…"]
    assert len(looked_at) == 2, details
    assert any(entry["text"].startswith("Finding the subject") and entry["at"] > looked_at[1] for entry in log), log
    final = canvas_alpha(app, "cutout")
    assert final.shape == look.shape
    kept = final > 127, look > 127
    iou = (kept[0] & kept[1]).sum() / (kept[0] | kept[1]).sum()
    assert iou >= 0.85, iou
    assert "first_look" in app.timings()
