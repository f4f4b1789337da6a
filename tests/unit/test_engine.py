"""Unit tests for app.engine: the worker's state under CPython, with a fake session
loader (the mask is the photo's red channel) and the real pipeline.

Messages from the page reach the Pyodide worker only between its steps: while
NumPy works, nothing else runs; a cancel lands at an `await` (the model
download, inference) or between two calls. The tests deliver a cancel at each
of those places, by wrapping the pipeline's stage functions, and check what the
page would get and what an edge-setting change would redo afterwards.
"""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

from app.core import compose, pipeline, preprocess
from app.core.compose import Layout
from app.core.errors import Cancelled, InputError
from app.core.options import Options
from app.core.spec import load_specs
from app.engine import KEEP_RESULTS, Engine
from tests.helpers import encode, gradient_photo

SPECS = load_specs()
DEFAULT = "isnet-int8"
OTHER = "isnet-fp16"
PLAIN = Options(refine_edges=False, decontaminate=False, remove_specks=False)


class FakeSession:
    """A model session: the mask is the input's red channel; `gate` (if set) holds
    inference until the test opens it."""

    def __init__(self, spec):
        self.spec = spec
        self.runs = 0
        self.sides: list[int] = []          # the input's side, run by run
        self.released = False
        self.gate: asyncio.Event | None = None
        self.on_run = None

    async def __call__(self, tensor):
        assert not self.released, "inference on a released session"
        self.runs += 1
        self.sides.append(tensor.shape[-1])
        if self.on_run is not None:
            self.on_run()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        return tensor[:, :1].copy()

    async def release(self):
        self.released = True


class FakeLoader:
    """Opens FakeSessions; `download` (if set) holds each download until it is set."""

    def __init__(self):
        self.loads: list[str] = []
        self.sessions: list[FakeSession] = []
        self.download: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def __call__(self, spec, on_bytes, on_stage):
        self.loads.append(spec.name)
        on_stage("check:fake")
        on_bytes(spec.bytes // 2, spec.bytes)
        if self.download is not None:
            await self.download.wait()
        if self.fail_with is not None:
            raise self.fail_with
        on_bytes(spec.bytes, spec.bytes)
        session = FakeSession(spec)
        self.sessions.append(session)
        return session


def photo(width: int, height: int = 30) -> bytes:
    """A PNG photo; its width tells the results apart."""
    return encode(gradient_photo(width, height), "PNG")


def make_engine():
    loader = FakeLoader()
    return Engine(SPECS, loader, DEFAULT), loader


def run(coroutine):
    return asyncio.run(coroutine)


def width_of(result) -> int:
    return result[1].image.width


async def cut(engine, request, width, model="", options=PLAIN):
    return await engine.cutout(request, photo(width), model, options)


# -- model ---------------------------------------------------------------------
def test_the_default_model_is_loaded_once_and_kept():
    """'' means the default model; a second photo reuses the open session."""
    engine, loader = make_engine()

    async def scenario():
        await cut(engine, 1, 40)
        await cut(engine, 2, 50)

    run(scenario())
    assert loader.loads == [DEFAULT]
    assert engine.session.spec.name == DEFAULT and engine.session.runs == 2


def test_concurrent_callers_share_one_download():
    """prepare() and a photo asking for the model during its download wait for the
    same download: one load, one session, and both get it."""
    engine, loader = make_engine()
    loader.download = asyncio.Event()

    async def scenario():
        first = asyncio.ensure_future(engine.session_for(""))
        second = asyncio.ensure_future(engine.session_for(DEFAULT))
        await asyncio.sleep(0.01)
        assert engine.progress["stage"] == "fetch:model"
        assert engine.progress["received"] == SPECS[DEFAULT].bytes // 2
        loader.download.set()
        return await first, await second

    first, second = run(scenario())
    assert first is second and loader.loads == [DEFAULT]
    assert engine.progress["phase"] == "ready" and engine.progress["stage"] == ""


def test_a_failed_download_reaches_every_waiter_and_can_be_retried():
    """A download that fails fails every caller waiting for it, leaves the progress
    idle, and the next call downloads again."""
    engine, loader = make_engine()
    loader.download = asyncio.Event()
    loader.fail_with = RuntimeError("HTTP 404")

    async def scenario():
        waiters = [asyncio.ensure_future(engine.session_for("")) for _ in range(2)]
        await asyncio.sleep(0.01)
        loader.download.set()
        outcomes = await asyncio.gather(*waiters, return_exceptions=True)
        assert engine.progress["stage"] == ""
        loader.fail_with = None
        return outcomes, await engine.session_for("")

    outcomes, session = run(scenario())
    assert [str(error) for error in outcomes] == ["HTTP 404", "HTTP 404"]
    assert loader.loads == [DEFAULT, DEFAULT] and session.spec.name == DEFAULT


def test_switching_models_releases_the_old_session():
    """A photo with the other model opens it and releases the first session; the
    photo is cut out by the new one."""
    engine, loader = make_engine()

    async def scenario():
        await cut(engine, 1, 40)
        return await cut(engine, 2, 50, model=OTHER)

    session, result = run(scenario())
    assert loader.loads == [DEFAULT, OTHER]
    first, second = loader.sessions
    assert first.released and not second.released
    assert session is second and second.runs == 1 and result.image.width == 50


async def start_a_gated_photo(engine, loader):
    """The default session open, and photo 1 held in its inference until the returned
    session's gate is set; returns (session, the photo's future)."""
    await engine.session_for("")
    first = loader.sessions[0]
    first.gate = asyncio.Event()
    running = asyncio.ensure_future(cut(engine, 1, 40))
    await asyncio.sleep(0.01)
    return first, running


def test_a_model_switch_during_inference_waits_for_it():
    """Switching models while a photo is in inference never releases the session
    under it: the new session is opened once that photo is done."""
    engine, loader = make_engine()

    async def scenario():
        first, running = await start_a_gated_photo(engine, loader)
        switching = asyncio.ensure_future(cut(engine, 2, 50, model=OTHER))
        await asyncio.sleep(0.01)
        assert loader.loads == [DEFAULT] and not first.released
        first.gate.set()
        return await asyncio.gather(running, switching, return_exceptions=True)

    older, newer = run(scenario())
    assert width_of(older) == 40 and older[0].spec.name == DEFAULT
    assert width_of(newer) == 50 and newer[0].spec.name == OTHER


def test_forgetting_the_session_waits_for_inference_then_the_model_opens_anew():
    """A back-end change (forget_session) never releases a session under a running
    photo; the next photo opens the model again."""
    engine, loader = make_engine()

    async def scenario():
        first, running = await start_a_gated_photo(engine, loader)
        forgetting = asyncio.ensure_future(engine.forget_session())
        await asyncio.sleep(0.01)
        assert not first.released and not forgetting.done()
        first.gate.set()
        await asyncio.gather(running, forgetting)
        assert first.released
        return await cut(engine, 2, 50)

    session, result = run(scenario())
    assert loader.loads == [DEFAULT, DEFAULT] and session is loader.sessions[1] and result.image.width == 50


def test_an_unknown_model_is_an_input_error():
    engine, _ = make_engine()
    with pytest.raises(InputError, match="Unknown model 'nope'"):
        run(engine.session_for("nope"))


def test_the_default_model_must_exist():
    with pytest.raises(ValueError, match="not among"):
        Engine(SPECS, FakeLoader(), "nope")


# -- requests --------------------------------------------------------------------
def test_a_photo_becomes_a_cutout_with_timings_and_a_png():
    """The result is the photo's cutout with a total time; its PNG decodes to it."""
    engine, _ = make_engine()
    _, result = run(cut(engine, 1, 40))
    assert result.image.size == (40, 30) and result.image.mode == "RGBA"
    assert set(result.timings) == {"decode", "preprocess", "inference", "postprocess", "total"}
    assert result.timings["total"] >= sum(result.timings[stage] for stage in ("decode", "preprocess", "inference", "postprocess"))
    png, seconds = engine.export(1, Layout(), "png")
    assert seconds >= 0
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(result.image))
    assert engine.progress["phase"] == "ready" and engine.progress["stage"] == ""


def test_a_bad_photo_is_an_input_error_and_the_engine_stays_usable():
    engine, _ = make_engine()

    async def scenario():
        with pytest.raises(InputError):
            await engine.cutout(1, b"not a photo", "", PLAIN)
        assert engine.progress["stage"] == ""
        return await cut(engine, 2, 40)

    assert width_of(run(scenario())) == 40


def test_a_job_cancelled_in_inference_stops_there():
    """Job 1 is cancelled while in inference (the page took a newer photo): 1 stops at
    its next stage (post-processing never runs for it), job 2 is cut out."""
    engine, loader = make_engine()

    async def scenario():
        await engine.session_for("")
        loader.sessions[0].gate = asyncio.Event()
        older = asyncio.ensure_future(cut(engine, 1, 40))
        await asyncio.sleep(0.01)
        engine.cancel(1)
        newer = asyncio.ensure_future(cut(engine, 2, 50))
        await asyncio.sleep(0.01)
        loader.sessions[0].gate.set()
        return await asyncio.gather(older, newer, return_exceptions=True)

    older, newer = run(scenario())
    assert isinstance(older, Cancelled) and width_of(newer) == 50
    with pytest.raises(Cancelled):
        engine.export(1, Layout(), "png")


def test_jobs_run_in_order_and_a_job_cancelled_while_waiting_never_runs():
    """Three queued jobs: 2 waits for 1's inference and is cancelled before its turn,
    so the model runs for 1 and 3 only, in the order they came."""
    engine, loader = make_engine()

    async def scenario():
        await engine.session_for("")
        session = loader.sessions[0]
        session.gate = asyncio.Event()
        order = []
        session.on_run = lambda: order.append(engine.progress["job"])
        tasks = [asyncio.ensure_future(cut(engine, job, width)) for job, width in ((1, 40), (2, 50), (3, 60))]
        await asyncio.sleep(0.01)
        engine.cancel(2)
        session.gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True), session.runs, order

    (first, second, third), runs, order = run(scenario())
    assert width_of(first) == 40 and isinstance(second, Cancelled) and width_of(third) == 60
    assert runs == 2 and order == [1, 3]


def cancel_during(monkeypatch, engine, target, name, job):
    """Make `target.name` deliver a cancel of `job` while it runs."""
    original = getattr(target, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        engine.cancel(job)
        return result

    monkeypatch.setattr(target, name, wrapped)


@pytest.mark.parametrize("stage, target, name", [
    ("decode", preprocess, "decode_photo"),
    ("preprocess", preprocess, "to_tensor"),
    ("postprocess", pipeline, "_postprocess"),
])
def test_cancel_during_a_stage_drops_the_photo(monkeypatch, stage, target, name):
    """A cancel of job 2 arriving while it is in `stage`: its cutout is never handed
    out, and job 1 (on screen) can still be restyled."""
    engine, _ = make_engine()
    run(cut(engine, 1, 40))
    engine.export(1, Layout(), "png")                              # the page shows photo 1
    cancel_during(monkeypatch, engine, target, name, job=2)
    with pytest.raises(Cancelled):
        run(cut(engine, 2, 50))
    monkeypatch.undo()
    with pytest.raises(Cancelled):
        engine.export(2, Layout(), "png")
    _, restyled = engine.restyle(1, Options(shift_edge=-1))
    assert restyled.image.width == 40, f"cancelled during {stage}, yet its photo came back"


def test_cancel_during_inference_drops_the_photo():
    """Cancel while job 2 is in inference: the model finishes (it cannot stop),
    nothing after it runs, and job 1 is kept."""
    engine, loader = make_engine()

    async def scenario():
        await cut(engine, 1, 40)
        engine.export(1, Layout(), "png")
        loader.sessions[0].on_run = lambda: engine.cancel(2)
        with pytest.raises(Cancelled):
            await cut(engine, 2, 50)

    run(scenario())
    assert list(engine.results) == [1]
    _, restyled = engine.restyle(1, PLAIN)
    assert restyled.image.width == 40


def test_cancel_after_the_result_left_the_worker_drops_it():
    """Job 2 finished and its reply is on its way, then the page's cancel arrives:
    its cutout can no longer be encoded or restyled (the bug the old "newest request"
    bookkeeping let through), and job 1 is untouched."""
    engine, _ = make_engine()
    run(cut(engine, 1, 40))
    engine.export(1, Layout(), "png")
    run(cut(engine, 2, 50))
    engine.cancel(2)
    for call in (lambda: engine.export(2, Layout(), "png"), lambda: engine.restyle(2, PLAIN)):
        with pytest.raises(Cancelled):
            call()
    _, restyled = engine.restyle(1, PLAIN)
    assert restyled.image.width == 40


def test_each_job_keeps_its_own_cutout():
    """Two finished jobs are encoded and restyled each as itself, in any order."""
    engine, _ = make_engine()
    run(cut(engine, 1, 40))
    run(cut(engine, 2, 50))
    assert Image.open(io.BytesIO(engine.export(1, Layout(), "png")[0])).width == 40
    assert Image.open(io.BytesIO(engine.export(2, Layout(), "png")[0])).width == 50
    assert engine.restyle(1, PLAIN)[1].image.width == 40


def test_memory_is_bounded_however_many_jobs_finish():
    """Only the newest KEEP_RESULTS cutouts stay in memory; a forgotten one is freed at
    once, and asking for a freed one is Cancelled, not a crash."""
    engine, _ = make_engine()
    for job in range(1, 8):
        run(cut(engine, job, 30 + job))
    assert list(engine.results) == list(range(8 - KEEP_RESULTS, 8))
    engine.forget(7)
    assert 7 not in engine.results
    with pytest.raises(Cancelled):
        engine.export(1, Layout(), "png")


def test_restyle_redoes_the_cutout_without_inference():
    """A settings change redoes the job's photo from its stored mask: no model
    run, same size, fewer opaque pixels with the edge shifted in."""
    engine, loader = make_engine()
    _, before = run(cut(engine, 1, 40, options=Options()))
    engine.export(1, Layout(), "png")
    _, after = engine.restyle(1, Options(shift_edge=-3))
    assert loader.sessions[0].runs == 1
    assert after.image.size == before.image.size
    assert (after.alpha > 127).sum() < (before.alpha > 127).sum()
    assert set(after.timings) == {"postprocess", "total"}
    engine.export(1, Layout(), "png")
    _, again = engine.restyle(1, Options(shift_edge=-3))
    np.testing.assert_array_equal(again.alpha, after.alpha)


def test_restyle_before_any_cutout_is_cancelled():
    engine, _ = make_engine()
    with pytest.raises(Cancelled):
        engine.restyle(1, PLAIN)


def test_an_unknown_job_cannot_be_encoded():
    engine, _ = make_engine()
    run(cut(engine, 1, 40))
    with pytest.raises(Cancelled):
        engine.export(7, Layout(), "png")


# -- progress ------------------------------------------------------------------------
def test_progress_is_pushed_at_every_step():
    """The page cannot poll a worker busy with NumPy, so every change is pushed: the
    loader's own steps, the model's bytes, then opening it, then each stage of the photo with its job,
    then idle."""
    pushed = []
    engine = Engine(SPECS, FakeLoader(), DEFAULT, on_progress=pushed.append)
    run(cut(engine, 7, 40))
    engine.export(7, Layout(), "png")
    total = SPECS[DEFAULT].bytes
    steps = [(p["phase"], p["stage"], p["received"], p["job"]) for p in pushed]
    assert steps == [
        ("download", "find:model", 0, 0),
        ("download", "check:fake", 0, 0),
        ("download", "fetch:model", total // 2, 0),
        ("download", "open:model", total, 0),
        ("ready", "", total, 0),
        ("work", "decode", total, 7),
        ("work", "preprocess", total, 7),
        ("work", "inference", total, 7),
        ("work", "postprocess", total, 7),
        ("ready", "", total, 7),
        ("work", "encode", total, 7),
        ("ready", "", total, 7),
    ]
    pushed[0]["stage"] = "changed"
    assert engine.progress["stage"] == "", "the page gets copies, not the engine's own dict"


# -- made again, exported --------------------------------------------------------------
def test_a_freed_cutout_is_made_again_from_its_mask_without_inference():
    """Once a job's full-resolution cutout is freed, remake gives the same cutout from the
    photo's bytes and the kept mask, and the model does not run again."""
    engine, loader = make_engine()
    data = photo(40)
    _, first = run(engine.cutout(1, data, "", Options()))
    engine.forget(1)
    again = engine.remake(1, data, Options())
    assert loader.sessions[0].runs == 1
    np.testing.assert_array_equal(np.asarray(again.image), np.asarray(first.image))
    assert engine.remake(1, b"not used: the cutout is kept", Options()) is again
    shifted = engine.remake(1, b"", Options(shift_edge=-2))     # other settings: restyled
    assert (shifted.alpha > 127).sum() < (again.alpha > 127).sum() and loader.sessions[0].runs == 1


def test_a_cancelled_job_cannot_be_made_again():
    engine, _ = make_engine()
    run(cut(engine, 1, 40))
    engine.cancel(1)
    with pytest.raises(Cancelled):
        engine.remake(1, photo(40), PLAIN)


def test_export_lays_out_and_encodes_the_job():
    """A square JPEG of job 2 while job 1 is kept too: each job exports as itself."""
    engine, _ = make_engine()
    run(cut(engine, 1, 40))
    run(cut(engine, 2, 50))
    data, seconds = engine.export(2, Layout(background="colour", frame="square", size=80), "jpeg")
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (80, 80) and seconds >= 0
    png, _ = engine.export(1, Layout(), "png")
    assert Image.open(io.BytesIO(png)).size == (40, 30)


# -- mask edits ------------------------------------------------------------------------
def test_mask_edits_apply_to_the_job_and_undo_returns_the_cutout_exactly():
    """An erase stroke makes its footprint transparent (and black: nothing hidden stays),
    the cutout elsewhere is unchanged; no edits (undo) is the kept cutout again; the
    download carries the edits; a change of edge settings keeps them."""
    from app.core.edits import Stroke

    engine, _ = make_engine()
    _, base = run(engine.cutout(1, photo(40), "", PLAIN))
    erase = [Stroke("erase", ((35.0, 5.0),), 3.0, 1.0)]
    edited = engine.edited(1, erase)
    alpha, before = edited.alpha, base.alpha
    assert before[5, 35] > 200 and alpha[5, 35] == 0 and (alpha != before).sum() < 40
    assert np.asarray(edited.image)[5, 35, :3].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(alpha[12:], before[12:])
    assert engine.edited(1, []) is engine.result(1)
    png, _ = engine.export(1, Layout(), "png", edits=erase)
    assert np.asarray(Image.open(io.BytesIO(png)).getchannel("A"))[5, 35] == 0
    engine.restyle(1, Options(shift_edge=-1))
    assert engine.edited(1, erase).alpha[5, 35] == 0


def test_edited_cutouts_remade_in_the_changed_box_equal_ones_made_whole():
    """The engine remakes an edited cutout only where the replay changed it; through
    strokes, picks, undo, redo, a branch and no edits at all, every result is exactly
    the kept cutout with that edit list made from scratch."""
    from app.core.edits import Pick, Stroke, apply_edits, apply_to_cutout

    engine, _ = make_engine()
    _, base = run(engine.cutout(1, photo(40), "", PLAIN))
    a = Stroke("erase", ((35.0, 5.0), (30.0, 12.0)), 3.0, 1.0)
    b = Stroke("restore", ((4.0, 25.0),), 4.0, 1.0)
    c = Pick(20.0, 15.0, keep=False)
    d = Stroke("erase", ((10.0, 10.0),), 2.0, 0.5)
    for edits in ([a], [a, b], [a, b, c], [a, b], [a], [a, d], [], [a, d], [b]):
        made = engine.edited(1, edits)
        if not edits:
            assert made is engine.result(1)
            continue
        alpha = apply_edits(base.alpha, base.photo, base.mask, edits)
        whole = pipeline.clear_hidden(apply_to_cutout(base.image, base.photo, alpha))
        np.testing.assert_array_equal(np.asarray(made.image), np.asarray(whole), err_msg=str(edits))


def test_a_subject_box_comes_from_the_kept_cutout_or_else_from_its_mask():
    """Exact from a kept cutout; once freed, from the kept model mask, at most a model
    pixel (in photo pixels) larger on each side; None for a job never made."""
    engine, _ = make_engine()
    _, result = run(engine.cutout(1, photo(40), "", PLAIN))
    exact = engine.subject_box(1, (40, 30))
    assert exact == compose.subject_box(result.image.getchannel("A"))
    engine.forget(1)
    rough = engine.subject_box(1, (40, 30))
    assert all(abs(a - b) <= 1 for a, b in zip(rough, exact)), (rough, exact)
    assert engine.subject_box(9, (40, 30)) is None


# -- first look -------------------------------------------------------------------
def test_a_job_that_asks_gets_its_first_look_before_its_cutout_and_others_do_not():
    """The 8-bit model runs at the first look's size: a job with first_look=True hands
    (job, rough cutout) to on_first_look before its full inference; a job without it, or
    an engine with no listener, runs the model once."""
    engine, loader = make_engine()
    looks = []
    engine.on_first_look = lambda job, image: looks.append((job, image.size, loader.sessions[0].runs))

    async def scenario():
        await engine.cutout(1, photo(40), "", PLAIN, first_look=True)
        await engine.cutout(2, photo(50), "", PLAIN)
        engine.on_first_look = None
        await engine.cutout(3, photo(60), "", PLAIN, first_look=True)

    run(scenario())
    assert looks == [(1, (40, 30), 1)]
    assert loader.sessions[0].runs == 4


def test_a_job_cancelled_by_the_time_its_first_look_is_ready_never_shows_it_or_runs_in_full():
    engine, loader = make_engine()
    looks = []
    engine.on_first_look = lambda job, image: looks.append(job)

    async def scenario():
        await engine.session_for("")
        loader.sessions[0].on_run = lambda: engine.cancel(1)
        with pytest.raises(Cancelled):
            await engine.cutout(1, photo(40), "", PLAIN, first_look=True)

    run(scenario())
    assert looks == [] and loader.sessions[0].runs == 1 and 1 not in engine.results


# -- warm-up -------------------------------------------------------------------
def test_the_warm_up_runs_the_model_at_the_first_looks_size_only_and_leaves_nothing():
    engine, loader = make_engine()
    pushed = []
    engine.on_progress = pushed.append
    run(engine.session_for(""))
    pushed.clear()
    assert run(engine.warm_up()) is True
    assert loader.sessions[0].sides == [pipeline.FIRST_LOOK_INPUT] and loader.loads == [DEFAULT]
    assert pushed == [] and engine.results == {} and engine.masks == {} and not engine.warming


def test_a_photo_chosen_during_the_warm_up_stops_it_and_runs_at_once():
    """The warm-up holds its model run at the gate; a photo asked for meanwhile makes it
    give way at its next stage: one model run for the warm-up, the photo's own after it."""
    engine, loader = make_engine()

    async def scenario():
        await engine.session_for("")
        session = loader.sessions[0]
        session.gate = asyncio.Event()
        warming = asyncio.ensure_future(engine.warm_up())
        await asyncio.sleep(0.01)
        assert session.runs == 1                      # the warm-up's first look, held
        photo_run = asyncio.ensure_future(cut(engine, 1, 40))
        await asyncio.sleep(0.01)
        session.gate.set()
        return await warming, await photo_run, session.runs

    warmed, result, runs = run(scenario())
    assert warmed is False and width_of(result) == 40
    assert runs == 2                                  # the warm-up's one, then the photo's
    assert list(engine.results) == [1]


def test_a_warm_up_asked_for_after_a_photo_waits_its_turn_and_runs_after_it():
    engine, loader = make_engine()

    async def scenario():
        first, running = await start_a_gated_photo(engine, loader)
        warming = asyncio.ensure_future(engine.warm_up())
        await asyncio.sleep(0.01)
        first.gate.set()
        return await running, await warming

    result, warmed = run(scenario())
    assert width_of(result) == 40 and warmed is True
