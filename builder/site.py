"""Site assembly: dist/ from the pages, the app, the verified models and vendored files.

The whole site is built in .cache/dist.new and swapped into place, so a running server
never serves half a build.  Imports builder.*, app.core.spec (standard library only: the
default models) and the standard library.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import json
import shutil
import os
import zipfile
from pathlib import Path

from builder.files import BuildError, copy_file, link_or_copy, log, read_json, sha256_file_listed, write_atomic
from builder.licenses import write_licenses
from builder import bytecode, venvs
from builder.models import make_probe, obtain_models, prepare_models, prepared_files
from builder.npm import ensure_node_modules
from builder.paths import BUILD_VENV, ROOT
from builder.pins import MICROPYTHON_FILES, NPM_PACKAGES, ORT_OPTIONAL_FILES, ORT_REQUIRED_FILES, PYODIDE_FILES, PYODIDE_WHEELS
from builder.webapp import SERVICE_WORKER_SOURCE, make_icons, write_webapp
from builder.wheels import obtain_wheels
from app.core.spec import DEFAULT_MODELS


def app_sources(root: Path) -> list[Path]:
    """Every *.py under app/ (relative to root), sorted, without __pycache__."""
    app = root / "app"
    if not app.is_dir():
        return []
    return sorted(
        p.relative_to(root)
        for p in app.rglob("*.py")
        if "__pycache__" not in p.parts and p.is_file()
    )


ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_deterministic_zip(zip_path: Path, files: dict[str, bytes]) -> None:
    """A zip whose bytes depend only on `files` (sorted names, fixed times and modes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name], compresslevel=9)
    write_atomic(zip_path, buffer.getvalue())


def build_app(root: Path, site: Path) -> None:
    """site/app/**.py, site/models/manifest.json and site/app.zip holding both; and
    site/models/defaults.json (app.core.spec.DEFAULT_MODELS), for the page's early
    download (app/ui/prefetch.py), which runs on MicroPython and cannot import spec.py."""
    files = {p.as_posix(): (root / p).read_bytes() for p in app_sources(root)}
    files["models/manifest.json"] = (root / "models" / "manifest.json").read_bytes()
    for name, data in files.items():
        write_atomic(site / name, data)
    write_deterministic_zip(site / "app.zip", files)
    write_atomic(site / "models" / "defaults.json", (json.dumps(DEFAULT_MODELS) + "\n").encode("utf-8"))


def copy_pages(root: Path, site: Path) -> None:
    """index.html, the top-level *.toml (not pyproject.toml) and static/** (but the service
    worker's source, which builder/webapp.py renders to sw.js)."""
    tops = [root / "index.html"] + sorted(root.glob("*.toml"))
    for path in tops:
        if path.is_file() and path.name != "pyproject.toml":
            copy_file(path, site / path.name)
    static = root / "static"
    if static.is_dir():
        for path in sorted(static.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.relative_to(root).as_posix() != SERVICE_WORKER_SOURCE:
                copy_file(path, site / path.relative_to(root))


def copy_vendor(node_modules: Path, site: Path, wheels: list[Path], compiled: dict[Path, Path]) -> None:
    """The runtimes under site/vendor; the standard library and the wheels as `compiled`
    (builder/bytecode.py), with a pyodide-lock.json that has the wheels' new hashes."""
    vendor = site / "vendor"
    pyscript = node_modules / "@pyscript" / "core" / "dist"
    for path in sorted(pyscript.rglob("*")):
        if path.is_file() and path.suffix != ".map":
            link_or_copy(path, vendor / "pyscript" / path.relative_to(pyscript))
    pyodide = node_modules / "pyodide"
    rewritten = {bytecode.STDLIB, bytecode.LOCK}
    copy_named(pyodide, [name for name in PYODIDE_FILES if name not in rewritten], vendor / "pyodide")
    link_or_copy(compiled[pyodide / bytecode.STDLIB], vendor / "pyodide" / bytecode.STDLIB)
    for wheel in wheels:  # Pyodide loads packages relative to pyodide-lock.json
        link_or_copy(compiled[wheel], vendor / "pyodide" / wheel.name)
    bytecode.write_lock(pyodide / bytecode.LOCK, {wheel.name: compiled[wheel] for wheel in wheels},
                        vendor / "pyodide" / bytecode.LOCK)
    mpy = node_modules / "@micropython" / "micropython-webassembly-pyscript"
    copy_named(mpy, MICROPYTHON_FILES, vendor / "micropython")
    ort = node_modules / "onnxruntime-web" / "dist"
    copy_named(ort, ORT_REQUIRED_FILES, vendor / "ort")
    copy_named(ort, [f for f in ORT_OPTIONAL_FILES if (ort / f).exists()], vendor / "ort")


def copy_named(src_dir: Path, names, dst_dir: Path) -> None:
    for name in names:
        src = src_dir / name
        if not src.is_file():
            raise BuildError(f"{src} is missing (is node_modules complete? try deleting it)")
        link_or_copy(src, dst_dir / name)


def file_list(site: Path) -> list[dict]:
    return [
        {"path": p.relative_to(site).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file_listed(p)}
        for p in sorted(site.rglob("*"), key=lambda p: p.relative_to(site).as_posix())
        if p.is_file()
    ]


def write_build_info(site: Path, manifest: dict) -> None:
    info = {
        "versions": {"npm": NPM_PACKAGES, "pyodide_wheels": PYODIDE_WHEELS},
        "models": [
            {"id": key, "file": m["file"], "path": f"models/{m['file']}", "sha256": m["sha256"], "bytes": m["bytes"]}
            for key, model in manifest.items() for m in prepared_files(model)
        ],
        "files": file_list(site),
    }
    text = json.dumps(info, indent=1, sort_keys=False) + "\n"
    write_atomic(site / "build-info.json", text.encode("utf-8"))


def replace_dir(new: Path, target: Path) -> None:
    """Swap a fully built directory into place (a server keeps serving throughout)."""
    old = new.with_name(new.name.replace(".new", ".old"))
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def build_lock(root: Path):
    """One build at a time per checkout (several people may share this tree)."""
    lock_path = root / ".cache" / "build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another build is running here; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build(root: Path = ROOT, use_cdn: bool = True) -> Path:
    """Build dist/ from scratch; big verified artifacts come from .cache/. Returns dist/."""
    with build_lock(root):
        return _build(root, use_cdn)


def _build(root: Path, use_cdn: bool) -> Path:
    ensure_node_modules(root)
    node_modules = root / "node_modules"
    manifest = read_json(root / "models" / "manifest.json")
    wheels = obtain_wheels(node_modules / "pyodide" / "pyodide-lock.json", use_cdn)
    chunk_dir = node_modules / "@imgly" / "background-removal-data" / "dist"
    raw_models = obtain_models(manifest, chunk_dir, root / ".cache" / "models")
    build_python = functools.partial(venvs.ensure, BUILD_VENV, "build")
    models = prepare_models(manifest, raw_models, root / ".cache" / "models", build_python)
    probe = make_probe(root / ".cache" / "models", build_python)
    icons = make_icons(root / ".cache", build_python)

    site = root / ".cache" / "dist.new"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    copy_pages(root, site)
    build_app(root, site)
    pyodide = node_modules / "pyodide"
    compiled = bytecode.compiled(pyodide, {site / "app.zip": False, pyodide / bytecode.STDLIB: True,
                                           **{wheel: False for wheel in wheels}}, root / ".cache" / "bytecode")
    (site / "app.zip").unlink()
    link_or_copy(compiled[site / "app.zip"], site / "app.zip")
    for model in models:
        link_or_copy(model, site / "models" / model.name)
    for path in sorted(probe.iterdir()):
        link_or_copy(path, site / "models" / "probe" / path.name)
    copy_vendor(node_modules, site, wheels, compiled)
    write_licenses(site / "licenses.txt", node_modules, wheels)
    write_webapp(root, site, icons, [m for model in manifest.values() for m in prepared_files(model)])
    write_build_info(site, manifest)
    dist = root / "dist"
    replace_dir(site, dist)
    return dist
