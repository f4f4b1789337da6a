"""Files that are not photos we can cut out: each gets a clear message naming the
file and what is wrong, and never costs the cutout already on screen; a photo over
the size limit is offered a downscale, and an animation's first frame is said.
Each test opens the app in its own fresh profile with a cutout on screen first.
"""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

from tests import photos
from tests.browser.reference import assert_same_cutout, native_cutout

pytestmark = pytest.mark.browser


def _damaged_jpeg(path):
    photos.truncated_copy(photos.save(path.with_name("whole.jpg"), "coffee"), path, 3000)


def _huge_jpeg(path):
    """9000×6000 (54 MP, over the 50 MP limit), flat so that it is under 1 MB."""
    Image.new("RGB", (9000, 6000), (90, 120, 160)).save(path, quality=80)


BAD_FILES = [
    ("notes.txt", lambda path: path.write_text("not a photo"), "is not an image"),
    ("empty.png", lambda path: path.write_bytes(b""), "The file is empty"),
    ("noise.png", lambda path: photos.noise(path), "not an image we can read"),
    ("cut.jpg", _damaged_jpeg, "damaged or incomplete"),
    ("huge.jpg", _huge_jpeg, "The photo is 9000×6000 (54 MP); the largest we can process is 50 MP."),
]


@pytest.mark.parametrize("name, make, message", BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_file_gets_a_clear_message_and_the_cutout_stays(first_cutout, tmp_path, name, make, message):
    """The page names the file and what is wrong, as an error; the cat's cutout stays
    on screen with its details, and its download is still the cat's PNG."""
    app, before = first_cutout
    path = tmp_path / name
    make(path)
    app.pick(path)
    status = app.wait_result()
    assert message in status and name in status, status
    assert app.status_is_error
    assert app.page.get_by_role("alert").text_content() == status    # said at once to screen readers
    assert not app.busy
    assert app.details.startswith("cat.png · "), app.details
    assert app.download_link.get_attribute("download") == "cat-cutout.png"
    again = app.download(tmp_path / "again.png")
    np.testing.assert_array_equal(np.asarray(again), np.asarray(before))


def test_after_a_bad_file_the_next_photo_works(first_cutout, tmp_path):
    """A damaged file, then a good photo: the good one is cut out as usual and the
    error gives way to "Done."."""
    app, _ = first_cutout
    bad = tmp_path / "cut.jpg"
    _damaged_jpeg(bad)
    app.pick(bad)
    assert "damaged or incomplete" in app.wait_result()
    good = photos.save(tmp_path / "astronaut.png", "astronaut")
    cutout = app.cutout(good, tmp_path / "download.png")
    assert app.status == "Done." and not app.status_is_error, app.status
    assert_same_cutout(cutout, native_cutout(good, tmp_path))


def test_a_photo_over_the_limit_is_downscaled_when_asked_and_an_animation_says_its_frame(app, tmp_path):
    """A 54 MP JPEG: the size message as an error, and a "Downscale and continue" button;
    clicking it cuts the same file out at 8660×5773 (50 MP), and the status says so.
    Then an animated GIF: its first frame is cut out, and the status says that."""
    huge = tmp_path / "huge.jpg"
    _huge_jpeg(huge)
    app.pick(huge)
    status = app.wait_result()
    assert "the largest we can process is 50 MP" in status and app.status_is_error, status
    offer = app.page.get_by_role("button", name="Downscale and continue")
    assert offer.is_visible()
    app.mark()
    offer.click()
    status = app.wait_result()
    assert status == "Done. Downscaled from 9000×6000 to 8660×5773 to fit the 50 MP limit.", status
    assert not app.status_is_error and not offer.is_visible()
    assert app.details.startswith("huge.jpg · 8660×5773 · "), app.details
    assert app.download_link.is_visible()

    frames = [Image.new("RGB", (64, 48), colour) for colour in ((200, 40, 40), (40, 40, 200))]
    moving = tmp_path / "moving.gif"
    frames[0].save(moving, save_all=True, append_images=frames[1:], duration=200, loop=0)
    app.pick(moving)
    assert app.wait_result() == "Done. Animated image: the first frame was used.", app.status
    assert app.details.startswith("moving.gif · 64×48 · "), app.details


def _zip_named_jpg(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("photo.jpg", b"not really")


MESSY_FILES = [  # name, how it arrives, its bytes, what the page says
    ("holiday.jpg", "pick", _zip_named_jpg, "This is a ZIP archive, not an image."),
    ("logo.svg", "drop", lambda path: path.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>'),
     "This is an SVG drawing"),
    ("IMG_0001.heic", "paste",
     lambda path: path.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64)), "This is a HEIC/HEIF photo"),
    ("scan.png", "beside", lambda path: path.write_bytes(b"%PDF-1.7\n" + bytes(64)), "This is a PDF document"),
]


def test_messy_files_each_get_their_own_message_however_they_arrive(first_cutout, tmp_path):
    """A ZIP renamed .jpg (picked), an SVG (dropped), an iPhone HEIC (pasted), a PDF named
    .png (dropped beside the drop zone): each gets a message that says what it really is,
    in the alert region, and the cat's cutout stays; then a 16×16 photo and a CMYK JPEG
    are cut out at their own size."""
    app, _ = first_cutout
    for name, how, make, message in MESSY_FILES:
        path = tmp_path / name
        make(path)
        if how == "pick":
            app.pick(path)
        elif how == "beside":
            app.mark()
            app.page.evaluate("""([name, bytes]) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
                document.querySelector("footer").dispatchEvent(
                    new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }""", [name, list(path.read_bytes())])
        else:
            app.deliver(how, name, "image/svg+xml" if name.endswith(".svg") else "image/heic", path.read_bytes())
        status = app.wait_result()
        assert message in status and name in status and app.status_is_error, (name, status)
        assert app.page.get_by_role("alert").text_content() == status
        assert app.details.startswith("cat.png · "), app.details

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (16, 16), (200, 60, 60)).save(tiny)
    app.pick(tiny)
    assert app.wait_result() == "Done.", app.status
    assert app.details.startswith("tiny.png · 16×16 · "), app.details
    assert app.page.get_by_role("alert").text_content() == ""

    cmyk = tmp_path / "print.jpg"
    photos.image("coffee").convert("CMYK").save(cmyk, quality=95)
    app.pick(cmyk)
    assert app.wait_result() == "Done.", app.status
    width, height = photos.image("coffee").size
    assert app.details.startswith(f"print.jpg · {width}×{height} · "), app.details
