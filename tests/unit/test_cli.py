"""Unit tests for the `cutout` command (app/cli): what it writes where, its report, its exit
status, resuming, stopping, and the page's export choices as flags.

Most tests replace the onnxruntime session with a fake (the mask is the photo's red
channel), so they check the command's behaviour, not the model. One test, marked
`model`, runs the real default model once on a real photo (tests/photos.py). The Dask
runs, with real processes and the real model, are in tests/cli.
"""
from __future__ import annotations

import csv
import hashlib
import inspect
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app.cli as cli
from app.cli import catalogue, work
from app.core import compose, pipeline
from app.core.options import Options
from app.core.preprocess import decode
from app.core.spec import get_spec
from tests import photos
from tests.helpers import encode, find_model, gradient_photo


class FakeSession:
    """Stands in for NativeSession: records how it was made; the mask is the red channel."""

    made: list[tuple] = []
    spec = get_spec()

    @classmethod
    def from_dir(cls, model_dir, spec, threads=None):
        cls.made.append((Path(model_dir), spec.name, threads))
        return cls()

    async def __call__(self, tensor):
        return tensor[:, :1].copy()


@pytest.fixture
def fake_session(monkeypatch):
    """The fake session in place of the model, in this process (no model file checked)."""
    FakeSession.made = []
    monkeypatch.setattr(work, "NativeSession", FakeSession)
    monkeypatch.setattr(cli, "verify_model_file", lambda path, spec: None)
    monkeypatch.setattr(work, "_SESSIONS", {})
    return FakeSession


PLAIN = ["--no-refine-edges", "--no-decontaminate", "--no-remove-specks"]   # the fake's exact answer


@pytest.fixture
def photo_folder(tmp_path):
    """A shop: two photos at the top, a text file, a broken .jpg, and a photo of the same
    name in two sub-folders."""
    folder = tmp_path / "photos"
    (folder / "shoes").mkdir(parents=True)
    (folder / "bags").mkdir()
    (folder / "first.png").write_bytes(encode(gradient_photo(60, 40), "PNG"))
    (folder / "second.jpg").write_bytes(encode(gradient_photo(30, 50), "JPEG", quality=95))
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "zz-broken.jpg").write_text("this is text with a .jpg name\n")
    (folder / "shoes" / "item.png").write_bytes(encode(gradient_photo(8, 8), "PNG"))
    (folder / "bags" / "item.png").write_bytes(encode(gradient_photo(12, 8), "PNG"))
    return folder


def read_report(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------
# A folder, its report and its exit status
# --------------------------------------------------------------------------------------
def test_a_folder_is_cut_out_into_a_mirrored_tree_with_a_report(fake_session, photo_folder, tmp_path, capsys):
    """Every photo, sub-folders too, is cut out at its size (the fake's exact answer); the
    broken file fails with the decoder's reason, on stderr and in the report; the text
    file is listed as not a photo; exit 1 because a photo failed."""
    out = tmp_path / "out" / "deeper"                 # made by the command
    assert cli.main([str(photo_folder), "--out", str(out), *PLAIN]) == 1
    captured = capsys.readouterr()
    assert files_under(out) == ["bags/item-cutout.png", "cutout-report.csv", "first-cutout.png",
                                "second-cutout.png", "shoes/item-cutout.png"]
    for name, source, size in [("first-cutout.png", "first.png", (60, 40)), ("second-cutout.png", "second.jpg", (30, 50)),
                               ("bags/item-cutout.png", "bags/item.png", (12, 8))]:
        cutout = Image.open(out / name)
        assert (cutout.format, cutout.mode, cutout.size) == ("PNG", "RGBA", size)
        alpha = np.asarray(cutout.getchannel("A"))
        assert alpha[:, 0].max() < 10 and alpha[:, -1].min() > 245   # follows the red ramp
        photo = np.asarray(decode((photo_folder / source).read_bytes()))
        visible = alpha > 0
        np.testing.assert_array_equal(np.asarray(cutout)[..., :3][visible], photo[visible])
    broken = photo_folder / "zz-broken.jpg"
    assert f"{broken}: failed: This file is not an image we can read (JPEG, PNG or WebP)." in captured.err.splitlines()
    assert re.search(rf"^{re.escape(str(photo_folder / 'first.png'))} -> {re.escape(str(out / 'first-cutout.png'))} "
                     r"\(\d+\.\ds: decode .* encode", captured.out, re.M)
    assert "4 cut out, 1 failed, 1 file not a photo" in captured.err
    rows = {Path(row["photo"]).relative_to(photo_folder).as_posix(): row for row in read_report(out / "cutout-report.csv")}
    assert {name: row["status"] for name, row in rows.items()} == {
        "first.png": "done", "second.jpg": "done", "shoes/item.png": "done", "bags/item.png": "done",
        "zz-broken.jpg": "failed", "notes.txt": "not a photo"}
    assert rows["zz-broken.jpg"]["reason"] == "This file is not an image we can read (JPEG, PNG or WebP)."
    assert rows["zz-broken.jpg"]["output"] == ""
    done = rows["shoes/item.png"]
    assert Path(done["output"]) == out / "shoes" / "item-cutout.png"
    assert float(done["seconds"]) > 0 and float(done["inference_s"]) >= 0 and done["encode_s"] != ""
    assert done["worker"].endswith(f":{os.getpid()}")


def test_exit_status_0_when_every_photo_is_cut_out_and_nothing_on_stderr_but_the_summary(fake_session, tmp_path, capsys):
    photo = tmp_path / "only.png"
    photo.write_bytes(encode(gradient_photo(16, 12), "PNG"))
    assert cli.main([str(photo), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[-1].startswith("1 cut out in ")
    assert Image.open(tmp_path / "out" / "only-cutout.png").size == (16, 12)


def test_a_missing_file_fails_with_a_reason(fake_session, tmp_path, capsys):
    missing = tmp_path / "gone.jpg"
    assert cli.main([str(missing), "--out", str(tmp_path / "out")]) == 1
    assert f"{missing}: failed: The file is not there (moved or deleted?)." in capsys.readouterr().err


def test_the_report_can_be_json_lines_anywhere(fake_session, photo_folder, tmp_path):
    report = tmp_path / "logs" / "run.jsonl"
    cli.main([str(photo_folder), "--out", str(tmp_path / "out"), "--report", str(report)])
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(rows) == 6 and set(rows[0]) == set(cli.report.COLUMNS)
    assert sorted(row["status"] for row in rows) == ["done"] * 4 + ["failed", "not a photo"]
    assert not (tmp_path / "out" / "cutout-report.csv").exists()


def test_a_report_that_is_neither_csv_nor_jsonl_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path), "--out", str(tmp_path / "o"), "--report", str(tmp_path / "r.txt")])
    assert caught.value.code == 2 and "--report must end in .csv or .jsonl" in capsys.readouterr().err


def test_a_bug_costs_one_photo_not_the_run(fake_session, photo_folder, tmp_path, monkeypatch):
    """An unexpected error on one photo fails that photo, naming the error; the rest go on."""
    real = pipeline.export

    def export(cutout, *args, **kwargs):
        if cutout.image.size == (30, 50):
            raise ZeroDivisionError("boom")
        return real(cutout, *args, **kwargs)

    monkeypatch.setattr(pipeline, "export", export)
    out = tmp_path / "out"
    assert cli.main([str(photo_folder), "--out", str(out)]) == 1
    rows = {Path(row["photo"]).name: row for row in read_report(out / "cutout-report.csv")}
    assert rows["second.jpg"]["status"] == "failed"
    assert rows["second.jpg"]["reason"].startswith("Internal error: ZeroDivisionError: boom (test_cli.py:")
    assert rows["first.png"]["status"] == "done" and (out / "first-cutout.png").exists()
    assert not (out / "second-cutout.png").exists()


# --------------------------------------------------------------------------------------
# Resuming, stopping, no half-written file
# --------------------------------------------------------------------------------------
def test_a_second_run_keeps_what_is_there_and_makes_only_the_rest(fake_session, photo_folder, tmp_path, capsys):
    out = tmp_path / "out"
    cli.main([str(photo_folder), "--out", str(out)])
    first = (out / "first-cutout.png").stat().st_mtime_ns
    (out / "second-cutout.png").unlink()
    capsys.readouterr()
    assert cli.main([str(photo_folder), "--out", str(out)]) == 1       # the broken file still fails
    captured = capsys.readouterr()
    assert "2 photos to cut out (on this machine, one photo at a time); 3 already there, kept." in captured.out
    assert (out / "first-cutout.png").stat().st_mtime_ns == first
    assert (out / "second-cutout.png").exists()
    statuses = {Path(row["photo"]).relative_to(photo_folder).as_posix(): row["status"]
                for row in read_report(out / "cutout-report.csv")}
    assert statuses == {"first.png": "kept", "shoes/item.png": "kept", "bags/item.png": "kept",
                        "second.jpg": "done", "zz-broken.jpg": "failed", "notes.txt": "not a photo"}
    # --overwrite makes them all again.
    assert cli.main([str(photo_folder), "--out", str(out), "--overwrite"]) == 1
    assert (out / "first-cutout.png").stat().st_mtime_ns != first


def test_ctrl_c_keeps_every_finished_file_and_no_half_written_one(fake_session, photo_folder, tmp_path, monkeypatch, capsys):
    """Ctrl+C while the second photo's file is being written: the first is kept whole, the
    second's is nowhere (neither under its name nor half-written beside it), the report lists
    the rest as not done, exit 130; the same command again finishes the job."""
    out = tmp_path / "out"
    real_replace = os.replace
    calls = []

    def interrupted_replace(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    assert cli.main([str(photo_folder), "--out", str(out)]) == cli.EXIT_STOPPED
    assert files_under(out) == ["cutout-report.csv", "first-cutout.png"]
    statuses = [row["status"] for row in read_report(out / "cutout-report.csv")]
    assert sorted(statuses) == ["done", "not a photo"] + ["not done"] * 4
    assert "1 cut out, 4 not done (stopped; run the same command again to go on)" in capsys.readouterr().err
    monkeypatch.setattr(os, "replace", real_replace)
    assert cli.main([str(photo_folder), "--out", str(out)]) == 1
    assert files_under(out) == ["bags/item-cutout.png", "cutout-report.csv", "first-cutout.png",
                                "second-cutout.png", "shoes/item-cutout.png"]


def test_a_file_finished_as_the_run_stopped_counts_as_done(fake_session, photo_folder, tmp_path, monkeypatch, capsys):
    """Ctrl+C after a worker wrote a photo's file but before its outcome came back: the
    report says done (its times unknown), not "not done"."""
    from app.cli import runners

    def interrupted(photos, settings):
        first, second = photos[:2]
        yield work.cut_out(str(first.source.absolute()), str(first.output.absolute()), settings)
        work.cut_out(str(second.source.absolute()), str(second.output.absolute()), settings)
        raise KeyboardInterrupt

    monkeypatch.setattr(runners, "run_here", interrupted)
    out = tmp_path / "out"
    assert cli.main([str(photo_folder), "--out", str(out)]) == cli.EXIT_STOPPED
    rows = {Path(row["photo"]).relative_to(photo_folder).as_posix(): row for row in read_report(out / "cutout-report.csv")}
    assert rows["first.png"]["status"] == rows["second.jpg"]["status"] == "done"
    assert rows["second.jpg"]["seconds"] == "" and "its times are not known" in rows["second.jpg"]["notes"]
    assert sorted(row["status"] for row in rows.values()) == ["done", "done", "not a photo"] + ["not done"] * 3
    assert "2 cut out, 3 not done" in capsys.readouterr().err


def test_half_written_files_left_by_a_killed_run_are_cleared(fake_session, tmp_path):
    photo = tmp_path / "a.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    out = tmp_path / "out"
    leftover = catalogue.partial_name(out / "a-cutout.png", "999")
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    assert cli.main([str(photo), "--out", str(out)]) == 0
    assert files_under(out) == ["a-cutout.png", "cutout-report.csv"]


def test_a_local_worker_keeps_quiet_about_its_closing_scheduler_and_only_that(monkeypatch, caplog):
    """Ctrl+C closes the command's scheduler while a worker's heartbeat may be on its way:
    Dask's worker then logs a traceback, which the user must not see (it once failed the
    cluster test). Any other error of the worker still shows."""
    import logging
    import signal

    from distributed import worker as dask_worker

    from app.cli import worker_setup

    assert worker_setup.SCHEDULER_GONE in inspect.getsource(dask_worker.Worker.heartbeat)   # still Dask's words
    monkeypatch.setattr(signal, "signal", lambda *args: None)    # this process keeps its Ctrl+C
    logger = logging.getLogger(dask_worker.__name__)
    worker_setup.dask_setup(None)
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            try:
                raise OSError("Stream is closed")
            except OSError:
                logger.exception(worker_setup.SCHEDULER_GONE + ".")
                logger.exception("Compute Failed")
    finally:
        logger.removeFilter(worker_setup.scheduler_gone)
    assert [record.getMessage() for record in caplog.records] == ["Compute Failed"]


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b.png"
    work.write_atomic(target, b"first")
    assert target.read_bytes() == b"first"

    def full_disk(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        work.write_atomic(target, b"second")
    assert target.read_bytes() == b"first" and files_under(tmp_path) == ["a/b.png"]


# --------------------------------------------------------------------------------------
# The page's export choices as flags
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, layout, fmt", [
    ([], compose.Layout(), "png"),
    (["--format", "jpeg", "--background", "#d02020", "--frame", "square", "--size", "200", "--margin", "10"],
     compose.Layout(background="colour", colour="#d02020", frame="square", size=200, margin=10), "jpeg"),
    (["--format", "webp", "--background", "white", "--shadow", "--frame", "subject"],
     compose.Layout(background="colour", colour="#ffffff", shadow=True, frame="subject"), "webp"),
    (["--background", "blur"], compose.Layout(background="blur"), "png"),
    (["--format", "mask"], compose.Layout(), "mask"),
])
def test_export_flags_give_the_pages_file(fake_session, tmp_path, flags, layout, fmt):
    """Each flag set gives exactly the file the core makes for that layout and format
    (the page's export, `pipeline.export`), named as the page names it."""
    photo = tmp_path / "in" / "shoe.jpg"
    photo.parent.mkdir()
    photo.write_bytes(encode(gradient_photo(64, 48), "JPEG", quality=95))
    out = tmp_path / "out"
    assert cli.main([str(photo), "--out", str(out), *flags]) == 0
    import asyncio
    cutout = asyncio.run(pipeline.remove_background(photo.read_bytes(), FakeSession(), get_spec()))
    expected = pipeline.export(cutout, layout, fmt)
    name = cli.export.filename(photo.name, fmt)
    assert (out / name).read_bytes() == expected


def test_a_background_picture(fake_session, tmp_path):
    photo = tmp_path / "shoe.png"
    photo.write_bytes(encode(gradient_photo(64, 48), "PNG"))
    picture = tmp_path / "beach.png"
    picture.write_bytes(encode(Image.new("RGB", (30, 30), (10, 200, 30)), "PNG"))
    assert cli.main([str(photo), "--out", str(tmp_path / "o"), "--background-image", str(picture), "--format", "jpeg"]) == 0
    result = np.asarray(Image.open(tmp_path / "o" / "shoe-cutout.jpg"), dtype=int)
    assert abs(result[24, 0] - (10, 200, 30)).max() < 12       # the background where the subject is not


@pytest.mark.parametrize("flags, message", [
    (["--background", "pink"], "colour must be #rrggbb, not 'pink'"),
    (["--frame", "square", "--size", "10"], "size must be a whole number of pixels from 64 to 8000"),
    (["--margin", "90"], "margin must be between 0 and 40 percent"),
    (["--workers", "0"], "--workers must be 1 or more"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not allowed with argument"),
])
def test_bad_flags_are_usage_errors_before_any_work(tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path), "--out", str(tmp_path / "o"), *flags])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------
# The model and the threads
# --------------------------------------------------------------------------------------
def test_model_dir_and_threads_reach_the_session(fake_session, tmp_path):
    """--model, --model-dir and --threads reach the session; the default model is isnet-int8
    with this process's share of the cores (all of them outside Dask)."""
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    cli.main([str(photo), "--out", str(tmp_path / "o1")])
    cli.main([str(photo), "--out", str(tmp_path / "o2"), "--model", "isnet-fp16",
              "--model-dir", str(tmp_path / "m"), "--threads", "3"])
    assert fake_session.made == [
        (cli.DEFAULT_MODEL_DIR, "isnet-int8", work.cores()),
        (tmp_path / "m", "isnet-fp16", 3),
    ]


def test_one_session_per_process_for_the_whole_run(fake_session, photo_folder, tmp_path):
    cli.main([str(photo_folder), "--out", str(tmp_path / "o")])
    assert len(fake_session.made) == 1


def test_workers_on_one_machine_share_its_cores(monkeypatch):
    """A Dask worker's session gets its host's cores divided by the photos all workers on
    that host run at once; at least one thread."""
    monkeypatch.setattr(work, "cores", lambda: 8)

    class Worker:
        address = "tcp://10.0.0.5:40123"

        class state:
            nthreads = 1

    monkeypatch.setattr("distributed.get_worker", lambda: Worker)
    assert work.share_of_cores({"10.0.0.5": 2, "10.0.0.6": 16}) == 4
    assert work.share_of_cores({"10.0.0.6": 16}) == 8            # not listed: its own threads
    assert work.share_of_cores({"10.0.0.5": 32}) == 1
    assert work.host_of("tcp://[::1]:8786") == "[::1]" and work.host_of("tcp://h:1") == "h"


def test_outside_dask_a_session_takes_every_core(monkeypatch):
    monkeypatch.setattr(work, "cores", lambda: 6)
    assert work.share_of_cores({}) == 6


def test_unknown_model_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path), "--out", str(tmp_path / "o"), "--model", "u2net"])
    assert caught.value.code == 2
    assert "invalid choice: 'u2net' (choose from 'isnet-fp16', 'isnet-int8')" in capsys.readouterr().err


def test_out_is_required(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path)])
    assert caught.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_a_missing_model_file_names_the_build_step(tmp_path, capsys):
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    code = cli.main([str(photo), "--out", str(tmp_path / "o"), "--model-dir", str(tmp_path)])
    assert code == 2
    assert re.search(re.escape(get_spec().file) + r" is missing: run `python3 build\.py`", capsys.readouterr().err)


def test_an_altered_model_file_is_refused_before_any_photo(tmp_path, capsys):
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    (tmp_path / get_spec().file).write_bytes(b"not a model")
    actual = hashlib.sha256(b"not a model").hexdigest()
    code = cli.main([str(photo), "--out", str(tmp_path / "o"), "--model-dir", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / get_spec().file} does not match {get_spec().name}: sha256 {actual}, "
        f"expected {get_spec().sha256}"
    )
    assert not (tmp_path / "o").exists()


def test_the_model_dir_can_come_from_the_environment(fake_session, tmp_path, monkeypatch):
    monkeypatch.setenv("CUTOUT_MODEL_DIR", str(tmp_path / "models"))
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    cli.main([str(photo), "--out", str(tmp_path / "o")])
    assert fake_session.made[0][0] == tmp_path / "models"


# --------------------------------------------------------------------------------------
# main, with the real model (slow: one 1024² inference)
# --------------------------------------------------------------------------------------
# Where the coffee photo (600×400, tests/photos.py) is plainly subject or background,
# judged by eye: (rows, columns).
COFFEE_SUBJECT = {"crema in the cup": (slice(80, 140), slice(160, 260)),
                  "front of the saucer": (slice(330, 350), slice(250, 350))}
COFFEE_TABLE = {"top left": (slice(0, 60), slice(0, 60)), "top right": (slice(0, 60), slice(540, 600)),
                "bottom left": (slice(340, 400), slice(0, 60)), "bottom right": (slice(340, 400), slice(540, 600))}


@pytest.mark.model
def test_main_with_real_model_on_a_real_photo(tmp_path, capsys):
    """The default model cuts out a real photo (a cup of coffee on a table): RGBA at the
    photo's size, opaque pixels in the photo's own colours (decontamination only
    recolours partly transparent ones), the cup and saucer opaque, the table at the
    corners transparent.
    """
    model = find_model(get_spec().file)
    assert model is not None, "the default model is in neither dist/models nor /tmp/models: run build.py"
    photo = photos.save(tmp_path / "coffee.jpg", "coffee", quality=95)
    status = cli.main([str(photo), "--out", str(tmp_path), "--model-dir", str(model.parent)])
    assert status == 0, capsys.readouterr().err
    cutout = Image.open(tmp_path / "coffee-cutout.png")
    assert (cutout.mode, cutout.size) == ("RGBA", (600, 400))
    alpha = np.asarray(cutout.getchannel("A"), dtype=np.float64) / 255
    opaque = alpha == 1
    assert 0.3 < opaque.mean() < 0.6                       # measured: 0.47
    photo_rgb = np.asarray(decode(photo.read_bytes()), dtype=np.int16)
    assert np.abs(np.asarray(cutout, dtype=np.int16)[..., :3] - photo_rgb)[opaque].max() <= 1
    for name, box in COFFEE_SUBJECT.items():
        assert alpha[box].mean() > 0.95, name               # measured: 0.996 and 1.0
    for name, box in COFFEE_TABLE.items():
        assert alpha[box].max() < 0.02, name                # measured: 0.0


def test_edge_flags_reach_the_pipeline(fake_session, monkeypatch, tmp_path):
    """Each Options field has a flag; their values reach remove_background as Options."""
    seen = []
    real = pipeline.remove_background

    async def spy(photo, infer, spec, options=None, on_stage=None, downscale=False, mirror=False):
        seen.append(options)
        return await real(photo, infer, spec, options, on_stage, downscale, mirror=mirror)

    monkeypatch.setattr(pipeline, "remove_background", spy)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(16, 12), "PNG"))
    args = ["--no-decontaminate", "--keep-main-subject", "--shift-edge", "-1.5", "--feather", "2"]
    assert cli.main([str(photo), "--out", str(tmp_path / "o"), *args]) == 0
    assert seen == [Options(decontaminate=False, keep_main_subject=True, shift_edge=-1.5, feather=2.0)]


@pytest.mark.parametrize("flags, looks", [([], 2), (["--no-mirror"], 1), (["--mirror"], 2)])
def test_the_model_looks_at_the_mirror_image_unless_told_not_to(fake_session, monkeypatch, tmp_path, flags, looks):
    """By default each photo is looked at twice (itself and its mirror image); --no-mirror once."""
    runs = []
    real_call = FakeSession.__call__

    async def counted(self, tensor):
        runs.append(tensor.shape)
        return await real_call(self, tensor)

    monkeypatch.setattr(FakeSession, "__call__", counted)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(16, 12), "PNG"))
    assert cli.main([str(photo), "--out", str(tmp_path / "o"), *flags]) == 0
    assert len(runs) == looks


def test_out_of_range_edge_flag_is_a_usage_error(tmp_path, capsys):
    """A value Options refuses is reported like any bad argument (exit 2), before any work."""
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path), "--out", str(tmp_path / "o"), "--feather", "-3"])
    assert caught.value.code == 2
    assert "feather must be between 0 and" in capsys.readouterr().err


def test_a_photo_whose_workers_keep_dying_says_what_to_try():
    from distributed import KilledWorker

    from app.cli.runners import worker_failure

    assert "Run with fewer --workers" in worker_failure(KilledWorker("cutout-1", "tcp://h:1", 3))
    assert worker_failure(OSError("connection lost")) == "Its worker failed (OSError: connection lost)."
