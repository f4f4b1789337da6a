"""The bytecode the build ships for Pyodide (builder/bytecode.py): the archives' .pyc are
what Python loads (under CPython here), and in the built site nothing the worker imports
at start is compiled from source (in Pyodide, in Node)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from builder import bytecode, compile_in_pyodide
from builder.files import BuildError
from builder.paths import ROOT

DIST = ROOT / "dist"


def make_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def with_source_replaced(path: Path, name: str, text: str) -> None:
    """The archive at `path` with `name`'s source changed and its bytecode kept."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    entries[name] = text.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)


def import_fresh(name: str, folder: str, monkeypatch):
    monkeypatch.syspath_prepend(folder)
    for module in [m for m in sys.modules if m == name.split(".")[0] or m.startswith(name.split(".")[0] + ".")]:
        monkeypatch.delitem(sys.modules, module)
    return __import__(name, fromlist=["_"])


def test_an_unpacked_archive_is_imported_from_its_bytecode_not_its_source(tmp_path, monkeypatch):
    source = make_zip(tmp_path / "app.zip", {"pkg_b/__init__.py": "", "pkg_b/mod.py": "VALUE = 'compiled'\n",
                                             "pkg_b/data.txt": "kept", "pkg_b/template.py": "def (:"})
    target = tmp_path / "out.zip"
    assert compile_in_pyodide.compile_archive(str(source), str(target)) == 2
    with_source_replaced(target, "pkg_b/mod.py", "VALUE = 'source'\n")
    unpacked = tmp_path / "site"
    zipfile.ZipFile(target).extractall(unpacked)            # as Pyodide installs a wheel
    assert (unpacked / "pkg_b" / "data.txt").read_text() == "kept"
    assert (unpacked / "pkg_b" / "template.py").read_text() == "def (:"
    assert import_fresh("pkg_b.mod", str(unpacked), monkeypatch).VALUE == "compiled"


def test_a_sourceless_archive_is_imported_straight_from_the_zip(tmp_path, monkeypatch):
    source = make_zip(tmp_path / "lib.zip", {"pkg_c/__init__.py": "", "pkg_c/mod.py": "VALUE = 3\n"})
    target = tmp_path / "out.zip"
    compile_in_pyodide.compile_archive(str(source), str(target), sourceless=True)
    assert sorted(zipfile.ZipFile(target).namelist()) == ["pkg_c/__init__.pyc", "pkg_c/mod.pyc"]
    assert import_fresh("pkg_c.mod", str(target), monkeypatch).VALUE == 3


def test_the_same_archive_compiles_to_the_same_bytes(tmp_path):
    source = make_zip(tmp_path / "a.zip", {"m.py": "import os\nX = {1: 'a', 'b': (2.5, None)}\n"})
    compile_in_pyodide.compile_archive(str(source), str(tmp_path / "1.zip"))
    compile_in_pyodide.compile_archive(str(source), str(tmp_path / "2.zip"))
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()


def test_the_shipped_lock_has_the_shipped_wheels_hashes(tmp_path):
    wheel = tmp_path / "w-1.0-py3-none-any.whl"
    wheel.write_bytes(b"compiled wheel")
    lock = {"info": {}, "packages": {"w": {"file_name": wheel.name, "sha256": "0" * 64}, "v": {"file_name": "v.whl", "sha256": "1" * 64}}}
    shipped = bytecode.lock_with(lock, {wheel.name: wheel})
    with pytest.raises(BuildError, match="x.whl"):
        bytecode.lock_with(lock, {wheel.name: wheel, "x.whl": wheel})
    assert shipped["packages"]["w"]["sha256"] == hashlib.sha256(b"compiled wheel").hexdigest()
    assert shipped["packages"]["v"]["sha256"] == "1" * 64 and lock["packages"]["w"]["sha256"] == "0" * 64


STARTUP_CHECK = r"""
import { readFileSync } from "node:fs";
const dist = process.argv[2];
const { loadPyodide } = await import(dist + "/vendor/pyodide/pyodide.mjs");
const pyodide = await loadPyodide({ indexURL: dist + "/vendor/pyodide/" });
await pyodide.loadPackage(["numpy", "pillow"], { messageCallback: () => {} });
pyodide.unpackArchive(new Uint8Array(readFileSync(dist + "/app.zip")), "zip", { extractDir: "/home/pyodide" });
console.log(pyodide.runPython(`
import importlib._bootstrap_external as external, json, sys
compiled = []
to_code = external.SourceLoader.source_to_code
def recording(self, data, path, *args, **kwargs):
    compiled.append(path)
    return to_code(self, data, path, *args, **kwargs)
external.SourceLoader.source_to_code = recording
import zipimport                       # the standard library's zip
zip_compile = zipimport._compile_source
def zip_recording(path, source):
    compiled.append(path)
    return zip_compile(path, source)
zipimport._compile_source = zip_recording
sys.path.insert(0, "/home/pyodide")
import numpy, PIL.Image, asyncio, email.message, app.engine, app.core.pipeline, app.core.compose, app.core.archive
before = sorted(m for m in sys.modules)
json.dumps({"compiled": compiled, "modules": len(before)})
`));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (npm brings it)")
def test_the_built_site_imports_numpy_pillow_and_the_app_without_compiling(tmp_path):
    """Pyodide (as shipped in dist/) starts, loads the wheels and app.zip and imports what
    the worker imports: not one module compiled from source."""
    script = tmp_path / "check.mjs"
    script.write_text(STARTUP_CHECK)
    result = subprocess.run(["node", str(script), str(DIST)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["modules"] > 300
    assert report["compiled"] == []
