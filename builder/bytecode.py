"""Bytecode made at build time for the browser: Pyodide's standard library, the NumPy
and Pillow wheels and app.zip are shipped with a .pyc of every module, compiled by
Pyodide's own CPython in Node (builder/run_in_pyodide.mjs, builder/compile_in_pyodide.py),
so a visit imports without compiling. Measured in Node: loadPyodide 2.0-2.2 s -> 0.9 s,
`import numpy` 0.38-0.49 s -> 0.14-0.16 s.

The standard library is shipped as bytecode only (it is CPython's own; a traceback
through it shows no source lines), the wheels and the app with their sources. A wheel
gains __pycache__ entries its RECORD does not list (Pyodide does not check it); its new
sha256 goes into the pyodide-lock.json the site ships. Results are kept in
.cache/bytecode by the inputs' hashes (those of the last build only).

Imports builder.files, builder.pins and the standard library.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from builder.files import BuildError, link_or_copy, log, read_json, sha256_file, write_atomic
from builder.pins import PYODIDE_VERSION

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "run_in_pyodide.mjs"
COMPILER = HERE / "compile_in_pyodide.py"
STDLIB = "python_stdlib.zip"
LOCK = "pyodide-lock.json"
STDLIB_MOUNT = "/lib/python312.zip/"     # where Pyodide mounts STDLIB: its modules' file names


def _job(archive: Path, sourceless: bool) -> dict:
    """How `archive` is compiled (builder/compile_in_pyodide.py's job, less its paths)."""
    return {"sourceless": sourceless, "prefix": STDLIB_MOUNT if archive.name == STDLIB else ""}


def _key(archive: Path, sourceless: bool, compiler: str) -> str:
    """The cache folder of `archive` compiled by the compiler whose sha256 is `compiler`."""
    parts = [PYODIDE_VERSION, sha256_file(archive), compiler, json.dumps(_job(archive, sourceless), sort_keys=True)]
    return hashlib.sha256(" ".join(parts).encode()).hexdigest()[:32]


def compiled(pyodide_dir: Path, archives: dict[Path, bool], cache: Path) -> dict[Path, Path]:
    """Each archive (-> sourceless?) with its bytecode: archive -> the compiled copy in
    `cache` (named as the archive), made in one Node run for those not there yet."""
    compiler = hashlib.sha256(COMPILER.read_bytes()).hexdigest()
    targets = {archive: cache / _key(archive, sourceless, compiler) / archive.name
               for archive, sourceless in archives.items()}
    missing = [archive for archive, target in targets.items() if not target.is_file()]
    if missing:
        node = shutil.which("node")
        if node is None:
            raise BuildError("node is needed to compile bytecode for Pyodide (it comes with npm)")
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as work:
            jobs = []
            for number, archive in enumerate(missing):
                link_or_copy(archive, Path(work) / f"in-{number}")
                jobs.append({"source": f"in-{number}", "target": f"out-{number}", **_job(archive, archives[archive])})
            write_atomic(Path(work) / "jobs.json", json.dumps(jobs).encode())
            log(f"compiling bytecode for Pyodide: {', '.join(a.name for a in missing)}")
            result = subprocess.run([node, str(RUNNER), str(pyodide_dir), str(COMPILER), work],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                raise BuildError(f"compiling bytecode in Pyodide failed:\n{result.stdout}{result.stderr}")
            for number, archive in enumerate(missing):
                targets[archive].parent.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(work) / f"out-{number}", targets[archive])
    for stale in set(cache.iterdir()) - {target.parent for target in targets.values()}:
        if stale.is_dir():          # an older app.zip's (the others change with Pyodide only)
            shutil.rmtree(stale, ignore_errors=True)
    return targets


def lock_with(lock: dict, wheels: dict[str, Path]) -> dict:
    """pyodide-lock.json's content with the sha256 of each wheel (file name -> path) we
    ship in place of the original's."""
    lock = json.loads(json.dumps(lock))
    found = set()
    for package in lock["packages"].values():
        if package["file_name"] in wheels:
            package["sha256"] = sha256_file(wheels[package["file_name"]])
            found.add(package["file_name"])
    if found != set(wheels):
        raise BuildError(f"pyodide-lock.json does not list {sorted(set(wheels) - found)}")
    return lock


def write_lock(original: Path, wheels: dict[str, Path], target: Path) -> None:
    write_atomic(target, (json.dumps(lock_with(read_json(original), wheels)) + "\n").encode())
