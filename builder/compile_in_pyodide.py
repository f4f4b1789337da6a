"""Run inside Pyodide's own CPython (builder/run_in_pyodide.mjs): Python archives (a
wheel, the standard library's zip, app.zip) rewritten with the bytecode of every module
they hold, so the browser imports them without compiling anything.

The bytecode is an unchecked hash-based .pyc (PEP 552): Python loads it without reading
or hashing the source, which is what makes it fast; the build makes it again whenever an
archive changes. Beside the source it goes where Python looks for it (`__pycache__/NAME.
cpython-312.pyc`); `sourceless` archives keep only the bytecode, as NAME.pyc in the
source's place (what zipimport reads). Entries keep their order and dates; new ones get
`date_time`, so the same archive and Python give the same bytes.

Reads /work/jobs.json: [{"source", "target", "sourceless", "prefix"}], paths under /work. Imports:
the standard library only (it also runs under CPython in tests/unit/test_bytecode.py).
"""
from __future__ import annotations

import importlib.util
import json
import marshal
import sys
import zipfile

UNCHECKED_HASH = 0b01        # PEP 552 flags: hash-based, do not check the source
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def bytecode(source: bytes, filename: str) -> bytes:
    """The .pyc of `source` for the running Python, unchecked hash-based."""
    code = compile(source, filename, "exec", dont_inherit=True)
    return (importlib.util.MAGIC_NUMBER + UNCHECKED_HASH.to_bytes(4, "little")
            + importlib.util.source_hash(source) + marshal.dumps(code))


def cached_name(name: str, sourceless: bool) -> str:
    """Where the bytecode of the archive's `name` (a .py) goes."""
    if sourceless:
        return name + "c"
    folder, slash, stem = name.rpartition("/")
    return f"{folder}{slash}__pycache__/{stem[:-3]}.{sys.implementation.cache_tag}.pyc"


def compile_archive(source: str, target: str, sourceless: bool = False, prefix: str = "") -> int:
    """`target`: the archive `source` with bytecode for each .py (which `sourceless` drops);
    returns how many modules were compiled. A .py that is not valid Python for this
    interpreter (test data, templates) stays as it is. `prefix`: where the archive's
    files will be seen, for tracebacks (Python corrects it for bytecode beside a source,
    not for a sourceless zip)."""
    compiled = 0
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in original.infolist():
            data = original.read(info)
            code = None
            if info.filename.endswith(".py"):
                try:
                    code = bytecode(data, prefix + info.filename)
                except SyntaxError:
                    code = None
            if code is None or not sourceless:
                out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            if code is not None:
                entry = zipfile.ZipInfo(cached_name(info.filename, sourceless), date_time=ZIP_DATE)
                entry.external_attr = 0o644 << 16
                out.writestr(entry, code, compress_type=zipfile.ZIP_DEFLATED)
                compiled += 1
    return compiled


def main(work: str = "/work") -> None:
    with open(f"{work}/jobs.json") as file:
        jobs = json.load(file)
    for job in jobs:
        count = compile_archive(f"{work}/{job['source']}", f"{work}/{job['target']}", job.get("sourceless", False),
                                job.get("prefix", ""))
        print(f"{job['source']}: {count} modules compiled ({sys.version.split()[0]})")


if __name__ == "__main__":
    main(*sys.argv[1:])
