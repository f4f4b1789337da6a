"""Settings: edge settings redo the photo on screen without a second inference and
are remembered; another model chosen in Settings redoes the photo with it.
Each test opens the app in its own fresh profile with a cutout on screen first.
"""
from __future__ import annotations

import pytest

from app.core.options import Options
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
