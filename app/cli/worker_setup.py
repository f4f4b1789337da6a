"""Loaded by each worker of the local cluster `cutout --workers N` starts (Dask's worker
preload): the worker ignores Ctrl+C and keeps quiet about its scheduler going away. A
terminal sends Ctrl+C to every process of the command; the command itself stops the run and
closes its cluster, so the workers need not print a traceback each while they go.

Imports: the standard library.
"""
import logging
import signal

# What a worker logs, with a traceback, when its heartbeat meets a scheduler that has just
# closed. The scheduler of a local cluster lives in the command's own process, so it closes
# only when the command does (Ctrl+C, or the end of the run): never news to the user.
SCHEDULER_GONE = "Failed to communicate with scheduler during heartbeat"


def scheduler_gone(record: logging.LogRecord) -> bool:
    """False (drop it) for the heartbeat's complaint about a closed scheduler."""
    return not str(record.msg).startswith(SCHEDULER_GONE)


def dask_setup(worker) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker").addFilter(scheduler_gone)
