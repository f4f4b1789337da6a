"""One photo's work, wherever it runs: in the `cutout` process itself or in a Dask worker on
this or another machine. The photo is read from its path there and its file written there
(a temporary name first, renamed into place when complete), so only paths, settings and a
small `Outcome` travel between processes, never pixels.

Each process keeps one model session (and the background picture, decoded once), made on
its first photo with the threads its share of the machine allows: a process that runs k
photos at once on n cores gives each session n // k threads, so processes never
oversubscribe the cores between them.

Imports: the standard library, `app.core`, `app.runtime.ort_native` and `app.cli.catalogue`.
"""
from __future__ import annotations

import asyncio
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from app.cli.catalogue import partial_name
from app.core import compose, pipeline
from app.core.errors import InputError, ModelError, TooLargeError
from app.core.options import Options
from app.core.spec import ModelSpec
from app.runtime.ort_native import NativeSession

# Said after the size message of a photo that `--downscale` would let through.
DOWNSCALE_HINT = " Run again with --downscale to downscale it to fit."


@dataclass(frozen=True)
class Settings:
    """Everything a photo's work needs besides its paths: the same for every photo of a run."""

    model: ModelSpec                       # sent along: a worker needs no manifest of its own
    model_dir: str
    options: Options = Options()
    layout: compose.Layout = compose.Layout()
    fmt: str = "png"
    keep_colour_profile: bool = True
    downscale: bool = False
    mirror: bool = True                   # the model also looks at each photo's mirror image
    background_image: str | None = None   # a picture's path, for the "image" background
    threads: int | None = None            # per session; None: this process's share of the cores
    # Of a Dask cluster: how many photos all its workers on each host run at once (by host
    # address), so that workers sharing a machine share its cores (`share_of_cores`).
    host_threads: tuple[tuple[str, int], ...] = ()


@dataclass
class Outcome:
    """What became of one photo: "done" or "failed" (with the reason, said for a person),
    the seconds it took and per stage, notes on how it was read, and who did it."""

    source: str
    output: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    worker: str = ""


def cut_out(source: str, output: str, settings: Settings) -> Outcome:
    """Cut out the photo at `source` into `output`; never raises for a bad photo (its
    Outcome says why). An interruption leaves no half-written file under `output`'s name."""
    started = time.perf_counter()
    outcome = Outcome(source, output, "failed", worker=_this_process())
    try:
        session = session_for(settings)
        cutout = asyncio.run(pipeline.remove_background(Path(source).read_bytes(), session, session.spec,
                                                        settings.options, downscale=settings.downscale,
                                                        mirror=settings.mirror))
        data = pipeline.export(cutout, settings.layout, settings.fmt, settings.keep_colour_profile,
                               background_image=background_for(settings))
        write_atomic(Path(output), data)
    except TooLargeError as exc:
        outcome.reason = str(exc) + (DOWNSCALE_HINT if exc.downscalable else "")
    except (InputError, ModelError) as exc:
        outcome.reason = str(exc)
    except FileNotFoundError:
        outcome.reason = "The file is not there (moved or deleted?)."
    except OSError as exc:
        outcome.reason = f"{exc.strerror or exc} ({exc.filename or source})"
    except MemoryError:
        outcome.reason = "There was not enough memory for this photo; run with fewer --workers."
    except Exception as exc:       # a bug must cost one photo, not the run: say what it was
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        outcome.reason = (f"Internal error: {type(exc).__name__}: {exc} "
                          f"({Path(frame.filename).name}:{frame.lineno}); please report it.")
    else:
        outcome.status = "done"
        outcome.stages = dict(cutout.timings)
        outcome.notes = tuple(cutout.notes)
    outcome.seconds = time.perf_counter() - started
    return outcome


def write_atomic(path: Path, data: bytes) -> None:
    """`data` into `path`, which either keeps what it had or holds all of `data`: written to
    a temporary name beside it, flushed, then renamed; never a half-written file there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_name(path, str(os.getpid()))
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# This process's model session and background picture, made once (first photo) and kept.
_SESSIONS: dict[tuple, object] = {}
_PICTURES: dict[str, object] = {}


def session_for(settings: Settings):
    threads = settings.threads or share_of_cores(dict(settings.host_threads))
    key = (settings.model.name, settings.model_dir, threads)
    if key not in _SESSIONS:
        _SESSIONS.clear()      # one model per process: a new run's settings replace the old
        _SESSIONS[key] = NativeSession.from_dir(settings.model_dir, settings.model, threads)
    return _SESSIONS[key]


def background_for(settings: Settings):
    if settings.layout.background != "image":
        return None
    path = settings.background_image
    if path not in _PICTURES:
        _PICTURES.clear()
        _PICTURES[path] = compose.read_background(Path(path).read_bytes())
    return _PICTURES[path]


def share_of_cores(host_threads: dict[str, int]) -> int:
    """Inference threads for a session here: this machine's cores divided by the photos
    run at once on it (all the Dask workers' threads on this host; 1 outside Dask)."""
    return max(1, cores() // _photos_at_once_here(host_threads))


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _photos_at_once_here(host_threads: dict[str, int]) -> int:
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return 1                   # not in a Dask worker: this process alone
    return max(1, host_threads.get(host_of(worker.address), worker.state.nthreads))


def host_of(address: str) -> str:
    """'tcp://10.0.0.5:40123' -> '10.0.0.5'."""
    return address.split("://")[-1].rsplit(":", 1)[0]


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
