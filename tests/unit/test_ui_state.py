"""Unit tests for app.ui.state: the page's queue of photos, run under CPython (the page
runs the same module on MicroPython)."""
from __future__ import annotations

import pytest

from app.ui.state import CANCELLED, DONE, FAILED, WAITING, WORKING, Queue, format_duration


def queue_of(*names):
    queue = Queue()
    batch = queue.new_batch()
    return queue, [queue.add(name, 1000, batch) for name in names]


def test_jobs_are_worked_on_in_the_order_they_came():
    """next_waiting gives the oldest waiting job; a started one is no longer waiting."""
    queue, (a, b, c) = queue_of("a.jpg", "b.jpg", "c.jpg")
    assert queue.next_waiting() is a
    queue.start(a.id, now=0)
    assert queue.working() is a and queue.next_waiting() is b
    queue.finish(a.id, 10, 20, now=3)
    assert (a.state, a.width, a.height, a.seconds) == (DONE, 10, 20, 3)
    assert queue.next_waiting() is b and c.state == WAITING


def test_a_failed_job_keeps_its_reason_and_the_rest_go_on():
    queue, (a, b) = queue_of("bad.jpg", "good.jpg")
    queue.start(a.id, now=0)
    queue.fail(a.id, "bad.jpg is not an image.", downscalable=False)
    assert a.state == FAILED and a.error == "bad.jpg is not an image."
    assert queue.next_waiting() is b


def test_cancel_one_or_all_and_a_finished_job_cannot_be_cancelled():
    queue, (a, b, c) = queue_of("a", "b", "c")
    queue.start(a.id, now=0)
    queue.finish(a.id, 1, 1, now=1)
    assert not queue.cancel(a.id) and a.state == DONE
    assert queue.cancel(b.id) and b.state == CANCELLED
    assert queue.cancel_unfinished() == [c.id] and c.state == CANCELLED
    assert queue.next_waiting() is None


def test_a_result_for_a_cancelled_job_is_ignored():
    """The worker's reply can arrive after the user cancelled: the job stays cancelled."""
    queue, (a,) = queue_of("a")
    queue.start(a.id, now=0)
    queue.cancel(a.id)
    queue.finish(a.id, 5, 5, now=2)
    queue.fail(a.id, "late")
    assert a.state == CANCELLED and a.error == ""


def test_retry_puts_a_failed_job_back_in_line():
    queue, (a,) = queue_of("big.jpg")
    queue.start(a.id, now=0)
    queue.fail(a.id, "too large", downscalable=True)
    queue.retry(a.id)
    assert a.state == WAITING and not a.downscalable and queue.next_waiting() is a


def test_time_left_comes_from_photos_measured_in_this_run():
    """No estimate before anything is measured (unless the page knows last visit's
    time); then the mean time per photo times what is left, minus the current one's
    elapsed time."""
    queue, (a, b, c, d) = queue_of("a", "b", "c", "d")
    assert queue.seconds_left(now=0) is None
    assert queue.seconds_left(now=0, fallback=5) == 20
    queue.start(a.id, now=0)
    queue.finish(a.id, 1, 1, now=4)
    queue.start(b.id, now=4)
    queue.finish(b.id, 1, 1, now=10)      # mean 5 s
    queue.start(c.id, now=10)
    assert queue.seconds_left(now=12) == pytest.approx(5 + 3)
    assert queue.seconds_left(now=30) == pytest.approx(5)     # the current one overran: never negative
    assert queue.summary(now=12) == "2 of 4 done · about 8 s left"


def test_summary_names_failures_and_leaves_out_cancelled_photos():
    queue, (a, b, c) = queue_of("a", "b", "c")
    queue.start(a.id, now=0)
    queue.finish(a.id, 1, 1, now=2)
    queue.start(b.id, now=2)
    queue.fail(b.id, "bad")
    queue.cancel(c.id)
    assert queue.summary(now=3) == "1 of 2 done · 1 failed"


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (59, "59 s"), (60, "1 min"), (130, "2 min 10 s"),
                                           (3725, "1 h 2 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert format_duration(seconds) == text


def test_clearing_the_list_keeps_unfinished_photos_and_the_one_on_screen():
    queue, (a, b, c, d) = queue_of("a", "b", "c", "d")
    for job in (a, b):
        queue.start(job.id, now=0)
        queue.finish(job.id, 1, 1, now=1)
    queue.cancel(c.id)
    assert queue.remove_finished(keep=b.id) == [a.id, c.id]
    assert queue.jobs == [b, d]


def test_edits_undo_and_redo_without_limit_and_a_reset_is_undoable():
    """Every step can be undone back to nothing and redone; a new edit after an undo
    drops the redo steps; reset is one step."""
    from app.ui.state import History

    history = History()
    for n in range(50):
        history.add({"n": n})
    assert len(history.edits) == 50
    for _ in range(50):
        history.undo()
    assert history.edits == [] and not history.can_undo() and history.can_redo()
    history.redo()
    history.redo()
    assert history.edits == [{"n": 0}, {"n": 1}]
    history.add({"n": "new"})
    assert not history.can_redo() and history.edits[-1] == {"n": "new"}
    history.reset()
    assert history.edits == []
    assert history.undo() == [{"n": 0}, {"n": 1}, {"n": "new"}]
    history.reset()
    history.reset()                       # nothing to reset: not a step
    assert history.undo()[-1] == {"n": "new"}


def test_an_edit_that_changed_nothing_is_withdrawn_without_a_redo():
    """A click that found nothing to change is taken back as if never made: the edits
    and the undo steps are those before it, and no redo brings it back; a redo waiting
    before it stays gone (a new edit was made)."""
    from app.ui.state import History

    history = History()
    history.add({"n": 1})
    history.add({"n": 2})
    history.undo()
    history.add({"pick": "nothing"})
    history.withdraw()
    assert history.edits == [{"n": 1}] and not history.can_redo()
    assert history.undo() == [] and history.redo() == [{"n": 1}]


@pytest.mark.parametrize("shown, direction, expected", [
    (0.37, 1, 0.5), (0.37, -1, 0.25), (1.0, 1, 2.0), (1.0, -1, 0.5), (8.0, 1, 8.0), (0.125, -1, 0.125),
    (0.5, 1, 1.0),
])
def test_zoom_steps_go_to_the_next_step_beyond_the_scale_shown(shown, direction, expected):
    """From a fitted scale (0.37) one step in is 50 %, out 25 %; the steps stop at 1/8 and 8x."""
    from app.ui.state import View

    assert View().step(shown, direction) == expected


def test_an_unknown_view_is_refused():
    from app.ui.state import View

    view = View()
    view.set_mode("mask")
    with pytest.raises(ValueError):
        view.set_mode("x-ray")
    assert view.mode == "mask"
