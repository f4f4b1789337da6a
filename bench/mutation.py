"""Does the unit suite catch broken code? Mutation testing of the small `app/core` modules.

    .venv/bin/python bench/mutation.py [MODULE...] [--max-children N] [--survivors] [--no-run]

MODULE is a module of `app/core` (`options`, `spec`, `errors`, `postprocess`,
`preprocess`, `cleanup`, `filters`, `pipeline`; default: all of these). mutmut
(3.8, configured in pyproject.toml's [tool.mutmut] section) copies the tree into
`mutants/`, makes many small changes ("mutants") to those modules' functions
(`<` for `<=`, `+ 1`, `None` for a value, a dropped argument...) and runs the
CPython unit tests (`tests/unit`, `-m "not model"`, without test_build.py) that
reach each changed function. A mutant is killed when a test fails, survives when
they all pass. The big numeric modules (matting, laplacian, refine) are not
mutated (pyproject.toml's do_not_mutate): their tests are slow and their arithmetic
has many mutants no output can tell apart.

Prints a table per module: mutants, killed, survived, timeout (the mutant made the
tests hang: caught, as in mutmut's own score), no tests (no test runs the
function) and the survival share, (survived + no tests) / mutants; then the total.
With --survivors it also prints each surviving mutant's diff (`mutmut show`).

Each run starts from an empty `mutants/`, so the figures are those of the tree as
it is; --no-run prints the last run's table (and survivors) again. All modules
take 10-20 minutes at --max-children 2 on a 2-core machine (survivors cost most:
they run every test that reaches them); the default is 1, as the machine is
shared. mutmut's own output goes to bench/out/mutation.log.

Imports: standard library and mutmut's table of exit codes; runs mutmut (from the
project's .venv) in a subprocess. Not a test: it measures the tests.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "app" / "core"
MUTANTS = REPO / "mutants"
LOG = REPO / "bench" / "out" / "mutation.log"
DEFAULT_MODULES = ("options", "spec", "errors", "postprocess", "preprocess", "cleanup", "filters", "pipeline")
NOT_MUTATED = ("matting", "laplacian", "refine", "__init__")       # pyproject.toml do_not_mutate

# mutmut's exit codes (mutmut.stats.status_by_exit_code), folded into the table's columns.
KILLED, SURVIVED, TIMEOUT, NO_TESTS, OTHER = "killed", "survived", "timeout", "no tests", "other"
COLUMN_BY_STATUS = {
    "killed": KILLED, "caught by type check": KILLED,
    "survived": SURVIVED, "timeout": TIMEOUT, "no tests": NO_TESTS,
}
# Running mutmut through its console entry point (not `python -m mutmut`, which it
# warns re-executes its main module).
MUTMUT = "import sys; from mutmut.__main__ import cli; sys.argv[0] = 'mutmut'; cli()"


def module_name(arg: str) -> str:
    """`options`, `options.py`, `app/core/options.py` or `app.core.options` -> `options`."""
    name = Path(arg.replace("app.core.", "")).name.removesuffix(".py")
    if not (CORE / f"{name}.py").is_file():
        raise SystemExit(f"no module app/core/{name}.py")
    if name in NOT_MUTATED:
        raise SystemExit(f"app/core/{name}.py is not mutated (pyproject.toml do_not_mutate)")
    return name


def has_functions(name: str) -> bool:
    """Whether the module defines a function (mutmut mutates only inside functions)."""
    tree = ast.parse((CORE / f"{name}.py").read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) for node in ast.walk(tree))


def run_mutmut(modules: list[str], max_children: int) -> float:
    """`mutmut run` on the modules' mutants; returns the seconds it took. Output goes to LOG."""
    patterns = [f"app.core.{name}.*" for name in modules]
    command = [sys.executable, "-c", MUTMUT, "run", "--max-children", str(max_children), *patterns]
    LOG.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with LOG.open("w", encoding="utf-8") as log:
        status = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"}).returncode
    seconds = time.perf_counter() - started
    if status != 0:
        tail = LOG.read_text(encoding="utf-8", errors="replace").replace("\r", "\n").splitlines()[-30:]
        raise SystemExit("mutmut failed (exit {}); the end of {}:\n{}".format(status, LOG, "\n".join(tail)))
    return seconds


def results(name: str) -> dict[str, str]:
    """Status by mutant name of one module, from mutmut's `mutants/app/core/<name>.py.meta`."""
    from mutmut.stats import status_by_exit_code

    meta = MUTANTS / "app" / "core" / f"{name}.py.meta"
    if not meta.is_file():
        return {}
    codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    return {key: status_by_exit_code[code] for key, code in codes.items()}


def tally(statuses: dict[str, str]) -> Counter:
    counts = Counter(COLUMN_BY_STATUS.get(status, OTHER) for status in statuses.values())
    counts["mutants"] = len(statuses)
    return counts


def print_table(rows: list[tuple[str, Counter]]) -> None:
    columns = ("mutants", KILLED, SURVIVED, TIMEOUT, NO_TESTS, OTHER)
    show = [c for c in columns if c != OTHER or any(counts[OTHER] for _, counts in rows)]
    print(f"{'module':<14}" + "".join(f"{c:>10}" for c in show) + f"{'survival':>10}")
    total = Counter()
    for name, counts in rows:
        total.update(counts)
    for name, counts in [*rows, ("total", total)]:
        if name == "total":
            print("-" * (14 + 10 * (len(show) + 1)))
        undetected = counts[SURVIVED] + counts[NO_TESTS]
        share = f"{100 * undetected / counts['mutants']:.1f} %" if counts["mutants"] else "-"
        print(f"{name:<14}" + "".join(f"{counts[c]:>10}" for c in show) + f"{share:>10}")


def show_survivors(modules: list[str], statuses: dict[str, dict[str, str]]) -> None:
    for name in modules:
        for key, status in sorted(statuses[name].items()):
            if status in ("survived", "no tests"):
                diff = subprocess.run([sys.executable, "-c", MUTMUT, "show", key], cwd=REPO,
                                      capture_output=True, text=True).stdout
                print(f"\n{diff.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="app/core modules (default: the small ones)")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--no-run", action="store_true", help="report the last run's results in mutants/")
    parser.add_argument("--survivors", action="store_true", help="print the diff of every surviving mutant")
    args = parser.parse_args(argv)
    modules = list(dict.fromkeys(module_name(m) for m in args.modules or DEFAULT_MODULES))

    os.chdir(REPO)                            # mutmut reads pyproject.toml and writes mutants/ here
    if args.no_run:
        print(f"Mutation testing of app/core with tests/unit: the last run's results in {MUTANTS}")
    else:
        if MUTANTS.exists():
            shutil.rmtree(MUTANTS)
        mutated = [name for name in modules if has_functions(name)]
        seconds = run_mutmut(mutated, args.max_children) if mutated else 0.0
        print(f"Mutation testing of app/core with tests/unit (mutmut, {args.max_children} at a time, {seconds:.0f} s)")
    statuses = {name: results(name) for name in modules}
    print_table([(name, tally(statuses[name])) for name in modules])
    if args.survivors:
        show_survivors(modules, statuses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
