"""Where the photos' work runs: here, one photo after another, or on a Dask cluster (a local
one of N processes started for the run, or an existing one given by its scheduler's address).
Both yield each photo's `Outcome` as it finishes; on Dask at most `in_flight` photos are
submitted at a time, so memory stays flat however many photos there are.

Imports: the standard library, `dask.distributed` (only when a cluster is used) and
`app.cli.catalogue` / `app.cli.work`.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace

from app.cli.catalogue import Photo
from app.cli.work import Outcome, Settings, cut_out, host_of

# Photos submitted per photo a cluster runs at once: each worker has its next photo waiting
# when one finishes, and no more.
IN_FLIGHT_PER_THREAD = 2
CONNECT_TIMEOUT = "30s"   # to reach an existing scheduler
# The environment of a local cluster's workers: Dask's defaults (one thread for the numeric
# libraries: the processes share the cores), but not its MALLOC_TRIM_THRESHOLD_, which turns
# off glibc's adaptive mmap threshold, so every large array is a fresh mmap that the kernel
# zero-fills page by page: measured here, post-processing took 3x as long and system time
# 9x (8.3 s against 0.9 s for 20 devset photos).
WORKER_ENVIRON = {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1}


def run_here(photos: list[Photo], settings: Settings) -> Iterator[Outcome]:
    for photo in photos:
        yield cut_out(str(photo.source.absolute()), str(photo.output.absolute()), settings)


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None):
    """A Dask client: of a local cluster of `workers` processes (one photo at a time each)
    made for the run and closed after it, or connected to the cluster at `scheduler`."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout=CONNECT_TIMEOUT) as client:
            yield client
        return
    with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON,
                          "distributed.worker.preload": ["app.cli.worker_setup"]}), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def cluster_settings(client, settings: Settings) -> Settings:
    """`settings` with the photos each host of the cluster runs at once, so that every
    worker's model session takes its host's fair share of cores (`work.share_of_cores`)."""
    per_host: dict[str, int] = {}
    for address, info in client.scheduler_info()["workers"].items():
        per_host[host_of(address)] = per_host.get(host_of(address), 0) + info["nthreads"]
    return replace(settings, host_threads=tuple(sorted(per_host.items())))


def describe(client) -> str:
    """'2 workers on 1 machine, 1 photo at a time each'."""
    workers = client.scheduler_info()["workers"]
    hosts = {host_of(address) for address in workers}
    threads = sorted({info["nthreads"] for info in workers.values()})
    each = " or ".join(str(n) for n in threads)
    return (f"{len(workers)} worker{'s' * (len(workers) != 1)} on {len(hosts)} machine{'s' * (len(hosts) != 1)}, "
            f"{each} photo{'s' * (threads != [1])} at a time each")


def worker_failure(exc: Exception) -> str:
    """The reason given for a photo whose work never came back."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        return ("The worker processes died while cutting it out, each time it was tried (out of memory? "
                "Run with fewer --workers, or --downscale for very large photos).")
    return f"Its worker failed ({type(exc).__name__}: {exc})."


def run_on_cluster(client, photos: list[Photo], settings: Settings) -> Iterator[Outcome]:
    """Each photo's work submitted to the cluster, at most IN_FLIGHT_PER_THREAD per photo
    it runs at once; outcomes in the order they finish. A photo whose worker died (over and
    over: Dask retries it elsewhere first) is failed with that reason; the rest go on."""
    from distributed import as_completed

    settings = cluster_settings(client, settings)
    in_flight = max(2, IN_FLIGHT_PER_THREAD * sum(count for _, count in settings.host_threads))
    waiting = iter(photos)
    running: dict[str, Photo] = {}
    finished = as_completed()
    keys = (f"cutout-{uuid.uuid4().hex[:8]}-{number}" for number in itertools.count())   # unique on a shared scheduler

    def submit_next() -> None:
        photo = next(waiting, None)
        if photo is None:
            return
        future = client.submit(cut_out, str(photo.source.absolute()), str(photo.output.absolute()), settings,
                               pure=False, key=next(keys))
        running[future.key] = photo
        finished.add(future)

    try:
        for _ in range(in_flight):
            submit_next()
        for future in finished:
            photo = running.pop(future.key)
            try:
                outcome = future.result()
            except Exception as exc:          # the worker died on it, or the cluster went away
                outcome = Outcome(str(photo.source.absolute()), str(photo.output.absolute()), "failed",
                                  reason=worker_failure(exc))
            future.release()
            submit_next()
            yield outcome
    finally:
        for future in list(finished.futures):
            future.cancel()
