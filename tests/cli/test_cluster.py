"""The `cutout` command end to end, as a user runs it: real processes, the real default
model, real photos (tests/photos.py), on a local Dask cluster it starts and on one the test
starts itself with the `dask scheduler` and `dask worker` commands.

Each test makes its own folder: a shop of a few photos, a broken file, a text file and a
photo of the same name in two sub-folders.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import photos
from tests.helpers import find_model

pytestmark = pytest.mark.model
BIN = Path(sys.executable).parent                 # the project's .venv/bin: cutout, dask
MODEL = find_model("isnet-int8.onnx")
CUTOUTS = ["bags/item-cutout.png", "coffee-cutout.png", "rocket-cutout.png", "shoes/item-cutout.png"]
EXPECTED = sorted([*CUTOUTS, "cutout-report.csv"])


@pytest.fixture
def shop(tmp_path) -> Path:
    folder = tmp_path / "shop"
    (folder / "shoes").mkdir(parents=True)
    (folder / "bags").mkdir()
    photos.save(folder / "coffee.jpg", "coffee", quality=92)
    photos.save(folder / "rocket.jpg", "rocket", quality=92)
    photos.save(folder / "shoes" / "item.png", "cat")
    photos.save(folder / "bags" / "item.jpg", "astronaut", quality=90)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (folder / "list.txt").write_text("prices\n")
    return folder


def cutout(*args, timeout=300, **popen) -> subprocess.CompletedProcess:
    assert MODEL is not None, "the default model is not built: run build.py"
    command = [str(BIN / "cutout"), *map(str, args), "--model-dir", str(MODEL.parent)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **popen)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def report(folder: Path) -> dict[str, dict]:
    with (folder / "cutout-report.csv").open(newline="") as handle:
        return {row["photo"]: row for row in csv.DictReader(handle)}


def statuses(folder: Path, shop: Path) -> dict[str, str]:
    return {str(Path(name).relative_to(shop)): row["status"] for name, row in report(folder).items()}


SHOP_STATUSES = {"coffee.jpg": "done", "rocket.jpg": "done", "shoes/item.png": "done", "bags/item.jpg": "done",
                 "broken.jpg": "failed", "list.txt": "not a photo"}


def test_two_local_workers_write_exactly_what_one_process_writes(shop, tmp_path):
    """`--workers 2` (a local Dask cluster) and the default single process give the same
    files byte for byte; both report the broken file and exit 1; the two workers are other
    processes than the command."""
    alone = cutout(shop, "--out", tmp_path / "alone")
    assert alone.returncode == 1, alone.stderr
    cluster = cutout(shop, "--out", tmp_path / "cluster", "--workers", "2")
    assert cluster.returncode == 1, cluster.stderr
    assert "(2 workers on 1 machine, 1 photo at a time each)" in cluster.stdout
    one, two = files(tmp_path / "alone"), files(tmp_path / "cluster")
    assert sorted(one) == sorted(two) == EXPECTED
    for name in CUTOUTS:
        assert one[name] == two[name], name
    for out in ("alone", "cluster"):
        assert statuses(tmp_path / out, shop) == SHOP_STATUSES
    workers = {row["worker"] for row in report(tmp_path / "cluster").values() if row["status"] == "done"}
    alone_worker = {row["worker"] for row in report(tmp_path / "alone").values() if row["status"] == "done"}
    assert len(alone_worker) == 1 and not workers & alone_worker and all(":" in w for w in workers)
    assert "broken.jpg: failed: " in cluster.stderr


def test_an_existing_cluster_does_the_work_on_its_workers(shop, tmp_path):
    """With `--scheduler`, the photos are cut out by the workers of a cluster started apart
    (`dask scheduler`, `dask worker --nworkers 2`): the report names their processes."""
    scheduler_file = tmp_path / "scheduler.json"
    started = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--scheduler-file", str(scheduler_file),
                                 "--port", "0", "--dashboard-address", ":0", "--host", "127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file),
                                         "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        pids = worker_pids(address, 2)
        result = cutout(shop, "--out", tmp_path / "out", "--scheduler", address)
        assert result.returncode == 1, result.stderr
        assert f"Connecting to {address}" in result.stdout
        assert sorted(files(tmp_path / "out")) == EXPECTED
        assert statuses(tmp_path / "out", shop) == SHOP_STATUSES
        done = [row for row in report(tmp_path / "out").values() if row["status"] == "done"]
        assert {int(row["worker"].rsplit(":", 1)[1]) for row in done} <= pids
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


def worker_pids(address: str, count: int) -> set[int]:
    """The process ids of the cluster's workers, once `count` have joined."""
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(count, timeout=120)
        return set(client.run(os.getpid).values())


def test_ctrl_c_stops_a_cluster_run_cleanly_and_the_next_run_goes_on(shop, tmp_path):
    """Ctrl+C (SIGINT to the command's whole process group, as a terminal sends it) once
    the first file is written: exit 130, every file there complete, none half-written, the
    report saying what was not done; the same command again finishes with files equal to an
    uninterrupted run's."""
    more = shop / "more"               # sorted after the first files: work left when the first is done
    more.mkdir()
    for number in range(8):
        photos.save(more / f"coffee-{number}.jpg", "coffee", megapixels=2, quality=90 + number)
    expected = sorted([*EXPECTED, *(f"more/coffee-{number}-cutout.png" for number in range(8))])
    out = tmp_path / "out"
    command = [str(BIN / "cutout"), str(shop), "--out", str(out), "--workers", "2", "--model-dir", str(MODEL.parent)]
    # As from a terminal: Ctrl+C not ignored, even where the test runs as a background job
    # (which starts its children with SIGINT ignored, so Python would never see it).
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not any(out.rglob("*-cutout.png")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "not done (stopped; run the same command again to go on)" in stderr
    assert "Traceback" not in stderr
    assert not [p for p in out.rglob(".*")], "a half-written file was left"
    found = statuses(out, shop)
    assert "not done" in found.values() and "done" in found.values()
    again = cutout(shop, "--out", out, "--workers", "2")
    assert again.returncode == 1, again.stderr
    assert "already there, kept" in again.stdout
    whole = cutout(shop, "--out", tmp_path / "whole")
    finished, reference = files(out), files(tmp_path / "whole")
    assert sorted(finished) == sorted(reference) == expected
    for name in expected:
        if name != "cutout-report.csv":
            assert finished[name] == reference[name], name
