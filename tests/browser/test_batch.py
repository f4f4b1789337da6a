"""Many photos at once, and what a seller does with them: drop a handful (one of them
broken), watch each one's progress, cancel one, download every cutout in one ZIP in
the chosen format, and a square JPEG on a colour for a marketplace. Each test opens the
app in its own fresh profile.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from app.core.compose import Layout, render, subject_box
from tests import photos
from tests.browser.reference import assert_same_cutout, native_cutout

pytestmark = pytest.mark.browser


def png_of(name: str) -> bytes:
    return photos.encoded(name, "PNG")


def test_a_dropped_handful_is_cut_out_one_by_one_and_zipped(app, tmp_path):
    """Three photos and a broken file dropped at once: each gets its entry in the list,
    the broken one fails with its reason and the others go on; "Download all" gives one
    ZIP with a cutout per photo (each equal to the command line's) and a report that
    names the broken file."""
    names = ["cat", "coffee", "astronaut"]
    files = [(f"{name}.png", "image/png", png_of(name)) for name in names]
    files.insert(1, ("broken.jpg", "image/jpeg", b"\xff\xd8 this is not a JPEG"))
    app.drop_files(files)
    app.page.wait_for_selector("#queue:not([hidden])")
    assert [name for name, _, _ in app.job_states()] == ["cat.png", "broken.jpg", "coffee.png", "astronaut.png"]
    status = app.wait_result()
    states = app.job_states()
    assert [state for _, state, _ in states] == ["done", "failed", "done", "done"], states
    assert states[1][2].startswith("Failed: This file is not an image"), states[1]
    assert status == "Done: 3 photos cut out, 1 failed (see the list).", status
    summary = app.page.locator("#queue-summary").text_content()
    assert summary == "3 of 4 done · 1 failed", summary
    # Each photo's line in the list, then one ZIP of them all.
    with app.page.expect_download() as download:
        app.page.get_by_role("button", name="Download all (ZIP)").click()
    assert download.value.suggested_filename == "cutouts.zip"
    archive = zipfile.ZipFile(download.value.path())
    assert archive.namelist() == ["cat-cutout.png", "coffee-cutout.png", "astronaut-cutout.png", "report.txt"]
    report = archive.read("report.txt").decode()
    assert "broken.jpg" in report and "cat.png" not in report, report
    for name in names:
        path = photos.save(tmp_path / f"{name}.png", name)
        cutout = Image.open(io.BytesIO(archive.read(f"{name}-cutout.png")))
        assert_same_cutout(cutout, native_cutout(path, tmp_path), label=name)
    app.wait_status("text.startsWith('Saved 3 photos in cutouts.zip')")


def test_a_photo_cancelled_in_the_list_never_runs(app, tmp_path):
    """Three photos; the third is cancelled from its entry while the first is worked on:
    it is marked cancelled, the worker never starts it, and the others are done."""
    app.drop_files([(f"{name}.png", "image/png", png_of(name)) for name in ("cat", "coffee", "astronaut")])
    app.wait_busy()
    app.page.get_by_role("button", name="Cancel astronaut.png").click()
    app.wait_result()
    assert [state for _, state, _ in app.job_states()] == ["done", "done", "cancelled"]
    third = int(app.page.locator("#jobs li").nth(2).get_attribute("data-job"))
    assert not [p for p in app.worker_progress() if p.get("job") == third], "the cancelled photo ran"
    assert app.page.locator("#queue-summary").text_content() == "2 of 2 done"


def test_a_square_jpeg_on_a_colour_for_a_marketplace(app, tmp_path):
    """Background: a colour, size: square 1000 px, format: JPEG. The download is a
    1000 × 1000 JPEG of that colour with the subject centred and 5 % margin: the core's
    own layout of the command line's cutout, to JPEG's precision. It is the preview on
    screen too, and the choices survive a reload."""
    path = photos.save(tmp_path / "coffee.png", "coffee")
    app.cutout(path, tmp_path / "coffee.download.png")
    app.page.get_by_label("Background", exact=True).select_option("colour")
    app.page.get_by_label("Colour", exact=True).fill("#d02020")
    app.page.get_by_label("Size", exact=True).select_option("square-1000")
    app.page.get_by_label("Format", exact=True).select_option("jpeg")
    link = app.page.get_by_role("link", name="Download JPEG")
    link.wait_for()
    app.page.wait_for_function("document.querySelector('#download').download === 'coffee-cutout.jpg'")
    with app.page.expect_download() as download:
        link.click()
    image = Image.open(download.value.path())
    assert (image.format, image.size) == ("JPEG", (1000, 1000))
    pixels = np.asarray(image.convert("RGB")).astype(int)
    assert np.abs(pixels[5, 5] - [208, 32, 32]).max() <= 6, pixels[5, 5]
    native = native_cutout(path, tmp_path)
    photo = Image.open(path).convert("RGB")
    square = Layout(background="colour", colour="#d02020", frame="square", size=1000, margin=5)
    expected = np.asarray(render(native, photo, square)).astype(int)
    assert np.abs(pixels - expected).mean() < 3, np.abs(pixels - expected).mean()
    placed = render(native, photo, Layout(frame="square", size=1000, margin=5))
    left, top, right, bottom = subject_box(placed.getchannel("A"))
    assert abs((left + right) / 2 - 500) <= 1 and abs((top + bottom) / 2 - 500) <= 1, (left, top, right, bottom)
    assert max(right - left, bottom - top) == pytest.approx(900, abs=1)
    assert app.page.locator("#preview").is_visible() and app.page.locator("#cutout").is_hidden()
    app.page.reload()
    app.wait_ready()
    assert app.page.get_by_label("Format", exact=True).input_value() == "jpeg"
    assert app.page.get_by_label("Size", exact=True).input_value() == "square-1000"


def test_same_scale_draws_every_subject_of_a_batch_at_one_scale(app, tmp_path):
    """Square 1000 px with "Same scale for every photo": in the ZIP each subject is drawn
    at the same scale (its size in the square over its size in the photo), the one at
    which the largest just fits; without it each one fills the square."""
    names = ["coffee", "astronaut"]
    app.drop_files([(f"{name}.png", "image/png", png_of(name)) for name in names])
    app.wait_result()
    app.page.get_by_label("Size", exact=True).select_option("square-1000")
    app.page.get_by_label("Same scale for every photo").check()

    def scales():
        with app.page.expect_download() as download:
            app.page.get_by_role("button", name="Download all (ZIP)").click()
        archive = zipfile.ZipFile(download.value.path())
        found = []
        for name in names:
            square = Image.open(io.BytesIO(archive.read(f"{name}-cutout.png")))
            assert square.size == (1000, 1000)
            inside = subject_box(square.getchannel("A"))
            source = subject_box(native_cutout(photos.save(tmp_path / f"{name}.png", name), tmp_path).getchannel("A"))
            found.append(((inside[2] - inside[0]) / (source[2] - source[0]),
                          max(inside[2] - inside[0], inside[3] - inside[1])))
        return found

    (first, first_side), (second, second_side) = scales()
    assert first == pytest.approx(second, rel=0.02), (first, second)
    assert max(first_side, second_side) == pytest.approx(900, abs=4)
    app.page.get_by_label("Same scale for every photo").uncheck()
    (_, first_side), (_, second_side) = scales()
    assert first_side == pytest.approx(900, abs=4) and second_side == pytest.approx(900, abs=4)


def test_an_image_dragged_from_another_site_is_explained(app):
    """A drop that holds only a link (an image dragged from another site's page) gets a
    message saying to save the file first; nothing is fetched and nothing is queued."""
    before = len(app.requests)
    app.page.evaluate("""() => {
        const transfer = new DataTransfer();
        transfer.setData('text/uri-list', 'https://photos.example/cat.jpg');
        document.querySelector('#drop-zone').dispatchEvent(
            new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""")
    status = app.wait_status("text.startsWith('That was a link')", timeout=5000)
    assert app.status_is_error and "Save the image" in status, status
    assert app.page.locator("#jobs li").count() == 0
    assert not [r.url for r in app.requests[before:] if "example" in r.url]
