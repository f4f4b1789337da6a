"""Changing one's mind: a newer photo while one is worked on, and Cancel, each
followed by what a person does next. The cutout on
screen before (the cat) must be the one that stays, downloadable, and the one an
edge-setting change redoes. Each test opens the app in its own fresh profile.
"""
from __future__ import annotations

import pytest

from app.core.options import Options
from tests import photos
from tests.browser.reference import assert_same_cutout, native_cutout

pytestmark = pytest.mark.browser

REFINING = "Refining the edges at full resolution…"


def test_a_photo_given_while_another_is_worked_on_waits_its_turn(app, tmp_path):
    """Two photos in quick succession: both are cut out, one after the other; the
    download is never the first photo's under the second's name, and at the end the
    newest is on screen, downloadable, and equal to the command line's cutout."""
    older = photos.save(tmp_path / "astronaut.png", "astronaut")
    newer = photos.save(tmp_path / "coffee.png", "coffee")
    app.pick(older)
    app.wait_busy()
    assert app.download_link.is_hidden()
    app.pick(newer)
    cutout = app.cutout_after_pick(tmp_path / "download.png")
    assert app.last_download_name == "coffee-cutout.png"
    assert app.status == "Done.", app.status
    assert [(name, state) for name, state, _ in app.job_states()] == [("astronaut.png", "done"),
                                                                      ("coffee.png", "done")]
    assert_same_cutout(cutout, native_cutout(newer, tmp_path))


def redo_with_shift(app, tmp_path, shift: float):
    """Move "Shift edge" as a person does; returns the redone cutout's download."""
    app.move_slider("Shift edge", shift)
    return app.cutout_after_pick(tmp_path / "redone.png")


def test_cancel_stops_waiting_and_brings_back_the_previous_cutout(first_cutout, tmp_path):
    """Cancel while a photo is in inference: the page is idle at once, says so and
    offers the cat again; a settings change then redoes the cat, never the
    cancelled photo; and the worker really dropped it (it never refined its edges)."""
    app, _ = first_cutout
    app.pick(photos.save(tmp_path / "astronaut.png", "astronaut"))
    app.wait_status("text.startsWith('Finding the subject')")
    cancelled = int(app.page.locator("#result").get_attribute("data-job"))
    app.cancel_button.click()
    app.wait_status("text === 'Cancelled.'", timeout=2000)
    assert not app.busy and app.cancel_button.is_hidden()
    assert app.download_link.is_visible()
    assert app.download_link.get_attribute("download") == "cat-cutout.png"
    assert app.details.startswith("cat.png · "), app.details
    redone = redo_with_shift(app, tmp_path, -4)
    assert app.last_download_name == "cat-cutout.png"
    cat = tmp_path / "cat.png"
    assert_same_cutout(redone, native_cutout(cat, tmp_path, options=Options(shift_edge=-4)))
    # The next photo runs once the cancelled inference is over (one at a time):
    # by then the worker has shown whether it went on with the cancelled photo.
    app.cutout(photos.save(tmp_path / "coffee.png", "coffee"), tmp_path / "next.png")
    stages = [p["stage"] for p in app.worker_progress() if p["phase"] == "work" and p["job"] == cancelled]
    assert "inference" in stages and "postprocess" not in stages, stages


def test_cancel_while_edges_are_refined_never_brings_the_photo_back(first_cutout, tmp_path):
    """Cancel while the page says it is refining a large photo's edges; then move an
    edge slider: the cat is redone, never the cancelled photo (the worker used to keep
    a result that finished as the cancel arrived)."""
    app, _ = first_cutout
    large = photos.save(tmp_path / "coffee-24mp.jpg", "coffee", megapixels=24, quality=90)
    app.pick(large)
    app.wait_status(f"text === '{REFINING}'")
    app.cancel_button.click()
    app.page.wait_for_function("document.querySelector('#result').getAttribute('aria-busy') === 'false'")
    assert app.download_link.get_attribute("download") == "cat-cutout.png"
    redone = redo_with_shift(app, tmp_path, -3)
    assert app.last_download_name == "cat-cutout.png"
    assert redone.size == (451, 300), f"the interrupted {redone.size} photo came back"
    cat = tmp_path / "cat.png"
    assert_same_cutout(redone, native_cutout(cat, tmp_path, options=Options(shift_edge=-3)))
    # Its first look may have shown while it ran; never its finished cutout.
    coffee = [line for line in app.details_log() if line.startswith("coffee-24mp.jpg · ")]
    assert coffee == ["coffee-24mp.jpg · first look; refining…"] * len(coffee), app.details_log()
    assert "looking" not in app.page.locator("#result").get_attribute("class").split()
