"""Loaded by each worker of the local cluster `cutout --workers N` starts (Dask's worker
preload): the worker ignores Ctrl+C. A terminal sends it to every process of the command;
the command itself stops the run and closes its cluster, so the workers need not print a
traceback each while they go.

Imports: the standard library.
"""
import signal


def dask_setup(worker) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
