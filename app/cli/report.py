"""The run's report: one row per file found, written as each photo finishes (so a run that
is stopped still has the rows of everything it finished), as CSV for a spreadsheet or JSON
lines for a program, chosen by the report's suffix (.csv or .jsonl).

Statuses: done, failed (the reason says why), kept (its output was already there from an
earlier run), not a photo (a file in a folder that is not an image), not done (the run was
stopped first).

Imports: the standard library and `app.cli.work` (Outcome), `app.core.pipeline` (stage names).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from app.cli.work import Outcome
from app.core.pipeline import FIRST_LOOK, STAGES

# The command line never asks for a first look: no column that would always be empty.
REPORTED_STAGES = tuple(stage for stage in STAGES if stage != FIRST_LOOK)
COLUMNS = ("photo", "status", "reason", "output", "seconds", *(f"{stage}_s" for stage in REPORTED_STAGES),
           "notes", "worker")
FORMATS = (".csv", ".jsonl")


def row(outcome: Outcome) -> dict:
    """The report's row for one outcome: times in seconds to the millisecond, '' where none."""
    values = {
        "photo": outcome.source, "status": outcome.status, "reason": outcome.reason,
        "output": outcome.output if outcome.status in ("done", "kept") else "",
        "seconds": round(outcome.seconds, 3) if outcome.status == "done" and outcome.seconds else "",
        "notes": " ".join(outcome.notes), "worker": outcome.worker,
    }
    for stage in REPORTED_STAGES:
        values[f"{stage}_s"] = round(outcome.stages[stage], 3) if stage in outcome.stages else ""
    return values


class Report:
    """Appends rows to the report file, flushed row by row."""

    def __init__(self, path: Path):
        if path.suffix.lower() not in FORMATS:
            raise ValueError(f"the report must end in {' or '.join(FORMATS)}, not {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("w", newline="", encoding="utf-8")
        self._csv = None
        if path.suffix.lower() == ".csv":
            self._csv = csv.DictWriter(self._file, COLUMNS)
            self._csv.writeheader()

    def add(self, outcome: Outcome) -> None:
        values = row(outcome)
        if self._csv is not None:
            self._csv.writerow(values)
        else:
            self._file.write(json.dumps(values, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
