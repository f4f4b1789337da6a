"""The page stays responsive while a camera-sized photo is worked on: decoding,
NumPy and inference run in the worker, so the page's own thread only draws.

Bounds are what a person perceives, in milliseconds, not scaled by anything
measured in the run: a reaction within 100 ms feels instant (RAIL's input
budget), and a main-thread task of 200 ms or more is a visible hitch (the limit
of a "good" Interaction to Next Paint). Measured on this 2-core machine with
both cores busy: longest task about 150 ms (receiving and drawing the 48 MB
result), click input delay under 20 ms. bench/speed.py reports the
figures; this test only holds the line.
"""
from __future__ import annotations

import time

import pytest

from tests import photos

pytestmark = pytest.mark.browser

INSTANT_MS = 100       # input delay a person does not notice
HITCH_MS = 200         # a main-thread task this long is a visible stutter


def test_the_page_answers_at_once_while_a_large_photo_is_worked_on(app, tmp_path):
    """While a 12 MP photo goes through every stage, a person keeps opening and
    closing Settings: every click is handled within 100 ms and takes effect, and no
    main-thread task reaches 200 ms, until the PNG has been downloaded."""
    path = photos.save(tmp_path / "coffee-12mp.jpg", "coffee", megapixels=12, quality=90)
    since = app.now_ms()
    settings = app.page.get_by_text("Settings", exact=True)
    app.pick(path)
    app.wait_busy()
    clicks = 0
    while app.busy:
        was_open = app.page.locator("#settings").evaluate("details => details.open")
        settings.click()
        assert app.page.locator("#settings").evaluate("details => details.open") != was_open
        clicks += 1
        time.sleep(0.25)
    app.cutout_after_pick(tmp_path / "download.png")

    assert clicks >= 10, f"only {clicks} clicks while the photo was worked on"
    # Clicks that reached Settings or the download link. (When the result appears and moves
    # Settings down just as Playwright clicks, Playwright sees its click would land elsewhere,
    # swallows it and clicks again: the swallowed one still passes this page's recorder.)
    handled = [event for event in app.inputs(since) if event["type"] == "click"
               and event["where"] in ("settings", "download")]
    assert len(handled) == clicks + 1, (len(handled), clicks, app.inputs(since))   # and the download's click
    delays = sorted(round(event["delay"]) for event in handled)
    assert all(delay < INSTANT_MS for delay in delays), f"click input delays (ms): {delays}"
    tasks = sorted(round(task["duration"]) for task in app.long_tasks(since))
    assert all(task < HITCH_MS for task in tasks), f"main-thread tasks over 50 ms: {tasks}"
    print(f"{clicks} clicks, input delay max {max(delays, default=0)} ms; long tasks (ms): {tasks}")
