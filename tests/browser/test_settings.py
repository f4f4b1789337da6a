"""Settings: edge settings redo the photo on screen without a second inference and
are remembered; another model chosen in Settings redoes the photo with it; the download
keeps the colour profile (and no other metadata) unless told not to.
Each test opens the app in its own fresh profile with a cutout on screen first.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.core.options import Options
from tests.unit.test_photo_export import photo_with_metadata, png_chunks
from tests.browser.reference import assert_same_cutout, native_cutout

pytestmark = pytest.mark.browser


def test_edge_settings_redo_the_cutout_without_inference_and_are_remembered(first_cutout, tmp_path):
    """"Shift edge" to -6 redoes the cat from its stored mask (no inference): the
    result is the command line's `--shift-edge -6` cutout; the setting survives a
    reload; "Reset edges" brings back the default cutout."""
    app, before = first_cutout
    cat = tmp_path / "cat.png"
    app.move_slider("Shift edge", -6)
    shifted = app.cutout_after_pick(tmp_path / "shifted.png")
    assert app.last_download_name == "cat-cutout.png"
    timings = app.timings()
    assert "postprocess" in timings and "inference" not in timings, timings
    assert_same_cutout(shifted, native_cutout(cat, tmp_path, options=Options(shift_edge=-6)))
    assert app.page.locator("#shift_edge-value").text_content() == "-6 px"

    app.page.reload()
    app.wait_ready()
    app.open_settings()
    assert app.page.get_by_label("Shift edge").input_value() == "-6"
    assert app.page.locator("#shift_edge-value").text_content() == "-6 px"

    redone = app.cutout(cat, tmp_path / "after-reload.png")
    assert_same_cutout(redone, native_cutout(cat, tmp_path, options=Options(shift_edge=-6)))
    app.mark()
    app.page.get_by_role("button", name="Reset edges").click()
    reset = app.cutout_after_pick(tmp_path / "reset.png")
    assert app.page.get_by_label("Shift edge").input_value() == "0"
    assert_same_cutout(reset, native_cutout(cat, tmp_path))
    assert_same_cutout(reset, before, max_mae=0.1 / 255, min_iou=0.9999, max_colour=0.01)


def test_choosing_the_other_model_redoes_the_photo_with_it(first_cutout, tmp_path):
    """Settings → Model → 16-bit: the model downloads, the engine line says so, and the
    cat on screen is cut out again by it (the command line's `--model isnet-fp16`)."""
    app, _ = first_cutout
    cat = tmp_path / "cat.png"
    app.mark()
    app.choose_model("isnet-fp16")
    redone = app.cutout_after_pick(tmp_path / "fp16.png")
    assert app.engine.startswith("ISNet, 16-bit"), app.engine
    assert "inference" in app.timings()
    assert_same_cutout(redone, native_cutout(cat, tmp_path, "isnet-fp16"))
    assert app.page.evaluate("localStorage.getItem('cutout.model')") == "isnet-fp16"


def test_the_download_keeps_only_the_colour_profile_and_can_drop_it(app, tmp_path):
    """A JPEG with a colour profile, EXIF with GPS, and XMP: the downloaded PNG has the
    profile and no other metadata; unticking "Keep the photo's colour profile" offers
    the same pixels without it, and the choice survives a reload."""
    path = tmp_path / "trip.jpg"
    path.write_bytes(photo_with_metadata())
    kept = app.cutout(path, tmp_path / "kept.png")
    kinds = [kind for kind, _ in png_chunks((tmp_path / "kept.png").read_bytes())]
    assert kinds[0] == b"IHDR" and b"iCCP" in kinds and kinds[-1] == b"IEND", kinds
    assert not {b"eXIf", b"tEXt", b"iTXt", b"zTXt"} & set(kinds), kinds
    assert kept.info["icc_profile"] == Image.open(path).info["icc_profile"]

    app.open_settings()
    first_url = app.download_link.get_attribute("href")
    app.page.get_by_label("Keep the photo's colour profile").uncheck()
    app.page.wait_for_function(
        "url => document.querySelector('#download').href !== url", arg=first_url)
    dropped = app.download(tmp_path / "dropped.png")
    assert b"iCCP" not in [kind for kind, _ in png_chunks((tmp_path / "dropped.png").read_bytes())]
    assert (np.asarray(dropped) == np.asarray(kept)).all()

    app.page.reload()
    app.wait_ready()
    app.open_settings()
    assert not app.page.get_by_label("Keep the photo's colour profile").is_checked()
