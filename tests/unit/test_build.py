"""Unit tests for the build (builder/): verification, fallbacks, caching, the app zip, the dev server.

Synthetic data in tmp_path only: no network, no npm, no pip.
"""

import hashlib
import json
import re
import socket
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from builder import csp, files, models, npm, pins, serve, site, testenv, venvs, verify, wheels
from tests.conftest import ROOT


def sha(data: bytes) -> str:
    """An independent reference for the hashes build.py computes."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Models from chunks
# --------------------------------------------------------------------------------------
def make_chunks(tmp_path, payload: bytes, chunk_size: int):
    """A fake data-package dist/ folder: sha256-named chunk files plus resources.json."""
    chunk_dir = tmp_path / "chunks"
    chunk_dir.mkdir()
    chunks = []
    for start in range(0, len(payload), chunk_size):
        part = payload[start:start + chunk_size]
        (chunk_dir / sha(part)).write_bytes(part)
        chunks.append({"hash": sha(part), "offsets": [start, start + len(part)]})
    resources = {"/models/tiny": {"chunks": chunks, "size": len(payload), "mime": "application/octet-stream"}}
    (chunk_dir / "resources.json").write_text(json.dumps(resources))
    model = {
        "file": "tiny-prepared.onnx",
        "sha256": sha(prepared(payload)),
        "bytes": len(prepared(payload)),
        "prepare_args": [],
        "raw": {"file": "tiny.onnx", "sha256": sha(payload), "bytes": len(payload)},
        "source": {"npm": "@imgly/background-removal-data", "version": pins.MODEL_DATA_VERSION,
                   "resource": "/models/tiny"},
    }
    return chunk_dir, resources, model


def prepared(raw: bytes) -> bytes:
    """What the fake preparation below makes of a raw file."""
    return b"prepared:" + raw


PAYLOAD = bytes(range(256)) * 40  # 10240 bytes -> 3 chunks of 4096


def test_assemble_model_accepts_good_chunks(tmp_path):
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    out = models.assemble_model(model["raw"], model["source"], resources, chunk_dir, tmp_path / "out" / "tiny.onnx")
    assert out.read_bytes() == PAYLOAD
    assert len(resources["/models/tiny"]["chunks"]) == 3


def test_assemble_model_refuses_a_corrupted_chunk(tmp_path):
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    bad = chunk_dir / resources["/models/tiny"]["chunks"][1]["hash"]
    data = bytearray(bad.read_bytes())
    data[7] ^= 0xFF
    bad.write_bytes(bytes(data))
    out = tmp_path / "out" / "tiny.onnx"
    with pytest.raises(files.BuildError) as info:
        models.assemble_model(model["raw"], model["source"], resources, chunk_dir, out)
    message = str(info.value)
    assert "tiny.onnx" in message and bad.name in message and sha(bytes(data)) in message
    assert not out.exists()


def test_assemble_model_refuses_a_wrong_whole_file_hash(tmp_path):
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    model["raw"]["sha256"] = "0" * 64
    out = tmp_path / "out" / "tiny.onnx"
    with pytest.raises(files.BuildError) as info:
        models.assemble_model(model["raw"], model["source"], resources, chunk_dir, out)
    message = str(info.value)
    assert "tiny.onnx" in message and "0" * 64 in message and sha(PAYLOAD) in message
    assert not out.exists()


def test_obtain_models_reuses_a_verified_model_and_replaces_a_bad_one(tmp_path):
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    cache = tmp_path / "cache"
    path = models.obtain_models({"tiny": model}, chunk_dir, cache)["tiny"]
    first = path.stat().st_mtime_ns
    for chunk in chunk_dir.glob("[0-9a-f]" * 8 + "*"):
        chunk.unlink()  # a rebuild from chunks would now fail
    again = models.obtain_models({"tiny": model}, chunk_dir, cache)["tiny"]
    assert again.stat().st_mtime_ns == first and again.read_bytes() == PAYLOAD
    path.write_bytes(b"x" * len(PAYLOAD))  # same size, wrong content: must not be trusted
    with pytest.raises(files.BuildError, match="missing"):
        models.obtain_models({"tiny": model}, chunk_dir, cache)


def fake_preparer(tmp_path, transform=prepared) -> Path:
    """An interpreter stand-in for the build venv's python: `-m builder.prepare_model SRC OUT`
    writes transform(SRC) to OUT, and each call is counted in calls.log."""
    script = tmp_path / "fake-python"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import sys\n"
        f"open({str(tmp_path / 'calls.log')!r}, 'a').write('x')\n"
        "data = open(sys.argv[3], 'rb').read() + b' '.join(a.encode() for a in sys.argv[5:])\n"
        f"open(sys.argv[4], 'wb').write({transform(b'@')!r}.replace(b'@', data))\n"
    )
    script.chmod(0o755)
    return script


def test_prepare_models_makes_a_verified_model_once(tmp_path):
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    cache = tmp_path / "cache"
    raw = models.obtain_models({"tiny": model}, chunk_dir, cache)
    python = fake_preparer(tmp_path)
    [path] = models.prepare_models({"tiny": model}, raw, cache, lambda: python)
    assert path == cache / "tiny-prepared.onnx" and path.read_bytes() == prepared(PAYLOAD)
    [again] = models.prepare_models({"tiny": model}, raw, cache, lambda: pytest.fail("made again"))
    assert again == path and (tmp_path / "calls.log").read_text() == "x"


def test_prepare_models_makes_each_file_with_its_own_arguments(tmp_path):
    """A model with a file for shader-f16 devices: both are made, each from the raw file
    with the arguments the manifest gives it."""
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    model["prepare_args"] = ["--float32"]
    model["sha256"], model["bytes"] = sha(prepared(PAYLOAD + b"--float32")), len(prepared(PAYLOAD + b"--float32"))
    model["shader_f16"] = {"file": "tiny-f16.onnx", "sha256": sha(prepared(PAYLOAD)), "bytes": len(prepared(PAYLOAD)),
                           "prepare_args": []}
    cache = tmp_path / "cache"
    raw = models.obtain_models({"tiny": model}, chunk_dir, cache)
    paths = models.prepare_models({"tiny": model}, raw, cache, lambda: fake_preparer(tmp_path))
    assert [p.name for p in paths] == ["tiny-prepared.onnx", "tiny-f16.onnx"]
    assert paths[0].read_bytes() == prepared(PAYLOAD + b"--float32") and paths[1].read_bytes() == prepared(PAYLOAD)


def test_prepare_models_refuses_a_result_the_manifest_does_not_name(tmp_path):
    chunk_dir, resources, model = make_chunks(tmp_path, PAYLOAD, 4096)
    cache = tmp_path / "cache"
    raw = models.obtain_models({"tiny": model}, chunk_dir, cache)
    python = fake_preparer(tmp_path, transform=lambda data: b"changed:" + data)
    with pytest.raises(files.BuildError) as info:
        models.prepare_models({"tiny": model}, raw, cache, lambda: python)
    message = str(info.value)
    assert "tiny-prepared.onnx" in message and sha(b"changed:" + PAYLOAD) in message and model["sha256"] in message
    assert list(cache.glob("tiny-prepared*")) == []


# --------------------------------------------------------------------------------------
# Wheels: sources in order, every candidate verified
# --------------------------------------------------------------------------------------
class FakeSource:
    def __init__(self, name, data=None, error=None):
        self.name, self.data, self.error, self.calls = name, data, error, []

    def fetch(self, filename):
        self.calls.append(filename)
        if self.error:
            raise verify.SourceError(self.error)
        return self.data


WHEEL = b"PK not really a wheel" * 100


def test_wheel_falls_back_to_the_next_source_on_a_bad_hash(tmp_path):
    corrupt = FakeSource("corrupt mirror", WHEEL[:-1] + b"!")
    good = FakeSource("good mirror", WHEEL)
    path = verify.obtain_verified("w.whl", sha(WHEEL), tmp_path / "cache", [corrupt, good])
    assert path == tmp_path / "cache" / "w.whl" and path.read_bytes() == WHEEL
    assert corrupt.calls == ["w.whl"] and good.calls == ["w.whl"]


def test_wheel_error_lists_every_source_and_the_expected_hash(tmp_path):
    sources = [FakeSource("offline cdn", error="no answer within 10 s"), FakeSource("bad pypi", b"junk")]
    with pytest.raises(files.BuildError) as info:
        verify.obtain_verified("w.whl", sha(WHEEL), tmp_path / "cache", sources)
    message = str(info.value)
    for part in ("w.whl", sha(WHEEL), "offline cdn", "no answer", "bad pypi", sha(b"junk"), "cache"):
        assert part in message
    assert not (tmp_path / "cache" / "w.whl").exists()


def test_cached_verified_wheel_is_reused_without_calling_a_source(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "w.whl").write_bytes(WHEEL)
    source = FakeSource("must not be used", error="called")
    path = verify.obtain_verified("w.whl", sha(WHEEL), tmp_path / "cache", [source])
    assert path.read_bytes() == WHEEL and source.calls == []


def test_corrupted_cache_entry_is_replaced(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "w.whl").write_bytes(b"truncated")
    path = verify.obtain_verified("w.whl", sha(WHEEL), tmp_path / "cache", [FakeSource("good", WHEEL)])
    assert path.read_bytes() == WHEEL


def test_url_source_fetches_and_gives_up_fast_on_a_silent_server(tmp_path):
    (tmp_path / "w.whl").write_bytes(WHEEL)
    with serve.serving(tmp_path) as url:
        assert verify.UrlSource(url, timeout=5).fetch("w.whl") == WHEEL
        with pytest.raises(verify.SourceError, match="404"):
            verify.UrlSource(url, timeout=5).fetch("missing.whl")
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(verify.SourceError, match="no answer within 0.5 s"):
            verify.UrlSource(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout=0.5).fetch("w.whl")
        assert time.monotonic() - started < 3


def test_pyodide_wheel_specs_read_the_lock_and_check_versions(tmp_path):
    lock = tmp_path / "pyodide-lock.json"
    packages = {
        "numpy": {"version": "2.0.2", "file_name": "numpy.whl", "sha256": "a" * 64},
        "pillow": {"version": "10.2.0", "file_name": "pillow.whl", "sha256": "b" * 64},
    }
    lock.write_text(json.dumps({"packages": packages}))
    assert wheels.pyodide_wheel_specs(lock) == [("numpy.whl", "a" * 64), ("pillow.whl", "b" * 64)]
    packages["numpy"]["version"] = "2.1.0"
    lock.write_text(json.dumps({"packages": packages}))
    with pytest.raises(files.BuildError, match="numpy"):
        wheels.pyodide_wheel_specs(lock)


def test_pip_source_reads_the_member_from_a_downloaded_wheel(tmp_path):
    carrier = tmp_path / "carrier-1.0-py3-none-any.whl"
    with zipfile.ZipFile(carrier, "w") as z:
        z.writestr("carrier/assets/pyodide/w.whl", WHEEL)
    source = wheels.PipWheelSource("carrier==1.0", "carrier/assets/pyodide/{file}")
    source._wheel = carrier  # as if pip had downloaded it
    assert source.fetch("w.whl") == WHEEL
    with pytest.raises(verify.SourceError, match="no member"):
        source.fetch("other.whl")


# --------------------------------------------------------------------------------------
# app.zip
# --------------------------------------------------------------------------------------
def make_project(root: Path):
    (root / "app" / "core" / "__pycache__").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "worker.py").write_text("print('w')\n")
    (root / "app" / "core" / "spec.py").write_text("X = 1\n")
    (root / "app" / "core" / "__pycache__" / "spec.cpython-311.pyc").write_bytes(b"\0")
    (root / "app" / "notes.txt").write_text("not python")
    (root / "models").mkdir()
    (root / "models" / "manifest.json").write_text("{}\n")


def test_app_zip_is_deterministic_and_has_the_expected_paths(tmp_path):
    make_project(tmp_path / "p")
    site.build_app(tmp_path / "p", tmp_path / "site1")
    site.build_app(tmp_path / "p", tmp_path / "site2")
    first = (tmp_path / "site1" / "app.zip").read_bytes()
    assert first == (tmp_path / "site2" / "app.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "site1" / "app.zip") as z:
        assert z.namelist() == [
            "app/__init__.py", "app/core/spec.py", "app/worker.py", "models/manifest.json",
        ]
        assert z.read("app/worker.py") == b"print('w')\n"
        assert {info.date_time for info in z.infolist()} == {site.ZIP_DATE}
    assert (tmp_path / "site1" / "app" / "core" / "spec.py").read_text() == "X = 1\n"
    assert (tmp_path / "site1" / "models" / "manifest.json").exists()
    assert not (tmp_path / "site1" / "app" / "notes.txt").exists()


def test_copy_pages_takes_index_tomls_and_static_but_not_pyproject(tmp_path):
    root = tmp_path / "p"
    (root / "static" / "icons").mkdir(parents=True)
    (root / "index.html").write_text("<html></html>")
    (root / "pyscript.toml").write_text("name = 'x'")
    (root / "pyproject.toml").write_text("[project]")
    (root / "static" / "icons" / "i.svg").write_text("<svg/>")
    (root / "static" / "service-worker.js").write_text("/*{{BUILD}}*/")  # rendered to sw.js instead
    site.copy_pages(root, tmp_path / "site")
    names = sorted(p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*") if p.is_file())
    assert names == ["index.html", "pyscript.toml", "static/icons/i.svg"]


def test_build_info_lists_every_file_with_size_and_hash(tmp_path):
    out = tmp_path / "site"
    (out / "a").mkdir(parents=True)
    (out / "a" / "x.bin").write_bytes(b"12345")
    (out / "b.txt").write_bytes(b"hi")
    site.write_build_info(out, {"m": {"file": "m.onnx", "sha256": "c" * 64, "bytes": 3}})
    info = json.loads((out / "build-info.json").read_text())
    assert info["files"] == [
        {"path": "a/x.bin", "bytes": 5, "sha256": sha(b"12345")},
        {"path": "b.txt", "bytes": 2, "sha256": sha(b"hi")},
    ]
    assert info["models"][0]["sha256"] == "c" * 64
    assert info["versions"]["npm"]["pyodide"] == pins.PYODIDE_VERSION


# --------------------------------------------------------------------------------------
# Versions agree everywhere
# --------------------------------------------------------------------------------------
def test_package_json_version_mismatch_is_refused(tmp_path):
    package_json = tmp_path / "package.json"
    deps = dict(pins.NPM_PACKAGES)
    package_json.write_text(json.dumps({"dependencies": deps}))
    npm.check_package_json(package_json)
    deps["onnxruntime-web"] = "1.29.0"
    package_json.write_text(json.dumps({"dependencies": deps}))
    with pytest.raises(files.BuildError) as info:
        npm.check_package_json(package_json)
    assert "onnxruntime-web" in str(info.value) and "1.29.0" in str(info.value)
    assert pins.ORT_WEB_VERSION in str(info.value)


def test_committed_package_json_matches_the_pins():
    npm.check_package_json(ROOT / "package.json")
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name, version in pins.NPM_PACKAGES.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def requirement_pins(requirements: list[str]) -> dict[str, str]:
    return dict(re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", line).groups() for line in requirements)


@pytest.mark.parametrize("venv", ["the project", "the build"])
def test_python_dependencies_pin_the_browser_versions(venv):
    required = requirement_pins(venvs.project_dependencies() if venv == "the project" else venvs.group("build"))
    assert required["numpy"] == pins.PYODIDE_WHEELS["numpy"]
    assert required["pillow"] == pins.PYODIDE_WHEELS["pillow"]
    assert required["onnxruntime"] == pins.ORT_WEB_VERSION


def test_the_tests_read_models_with_the_onnx_the_build_prepares_them_with():
    assert requirement_pins(venvs.group("test"))["onnx"] == requirement_pins(venvs.group("build"))["onnx"]


# Each venv the project makes, by what pyproject.toml installs into it (builder/venvs.py).
VENVS = {".venv": ("project", "test"), "build": ("build",), "bench-rembg": ("bench-rembg",)}


@pytest.mark.parametrize("venv", VENVS)
def test_every_python_dependency_of_a_venv_is_pinned_once(venv):
    """Exact versions everywhere; within one venv no package pinned twice differently, by
    pyproject.toml or constraints.txt (which every install is held to); and constraints.txt,
    the lock of what the project's and the build's direct dependencies pulled in, never
    repeats one of theirs (one place per fact)."""
    lines = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    locked = {name.lower(): version for name, version in requirement_pins(lines).items()}
    pinned: dict[str, str] = {}
    for source in VENVS[venv]:
        requirements = venvs.project_dependencies() if source == "project" else venvs.group(source)
        for name, version in requirement_pins(requirements).items():
            assert pinned.setdefault(name.lower(), version) == version, f"{name} pinned twice differently"
    for name, version in pinned.items():
        assert locked.get(name, version) == version, f"{name}: {version} here, {locked[name]} in constraints.txt"
    if venv != "bench-rembg":
        assert locked and not set(locked) & set(pinned), "constraints.txt repeats a direct pin"


# --------------------------------------------------------------------------------------
# The dev server
# --------------------------------------------------------------------------------------
def fetch_headers(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers, response.read()


def test_server_sends_isolation_headers_and_mime_types(tmp_path):
    (tmp_path / "m.wasm").write_bytes(b"\0asm\1\0\0\0")
    (tmp_path / "x.mjs").write_text("export {};")
    (tmp_path / "c.toml").write_text("a = 1")
    (tmp_path / "n.onnx").write_bytes(b"onnx")
    with serve.serving(tmp_path) as url:
        base = url.replace("localhost", "127.0.0.1")
        status, headers, body = fetch_headers(base + "m.wasm")
        assert status == 200 and body == b"\0asm\1\0\0\0"
        assert headers["Content-Type"] == "application/wasm"
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-cache"
        assert headers["Content-Security-Policy"] == csp.policy()
        assert fetch_headers(base + "x.mjs")[1]["Content-Type"] == "text/javascript"
        assert fetch_headers(base + "c.toml")[1]["Content-Type"].startswith("text/plain")
        assert fetch_headers(base + "n.onnx")[1]["Content-Type"] == "application/octet-stream"


def test_server_leaves_out_the_apps_csp_for_a_page_that_is_not_the_app(tmp_path):
    (tmp_path / "index.html").write_text("<script>inline</script>")
    with serve.serving(tmp_path, csp=False) as url:
        headers = fetch_headers(url.replace("localhost", "127.0.0.1") + "index.html")[1]
    assert "Content-Security-Policy" not in headers
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"


def test_start_server_picks_a_free_port_and_stops(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    first = serve.start_server(tmp_path)
    second = serve.start_server(tmp_path)
    try:
        assert first.server_address[1] != second.server_address[1]
        assert first.url.endswith(f":{first.server_address[1]}/")
    finally:
        for server in (first, second):
            server.shutdown()
            server.server_close()


def test_test_command_runs_unit_then_cli_then_browser_unless_paths_are_given():
    """`build.py test` runs tests/unit, then tests/cli, then tests/browser; named paths
    replace them, while options and their values (`-m "not model"`, `-k name`) keep the defaults."""
    tiers = ["tests/unit", "tests/cli", "tests/browser"]
    assert testenv.pytest_command_args([]) == tiers
    assert testenv.pytest_command_args(["-m", "not model", "-x"]) == [*tiers, "-m", "not model", "-x"]
    assert testenv.pytest_command_args(["tests/unit", "-m", "not model"]) == ["tests/unit", "-m", "not model"]
    assert testenv.pytest_command_args(["tests/unit/test_build.py::test_zip"]) == ["tests/unit/test_build.py::test_zip"]


def test_test_command_runs_each_tier_on_its_own_and_shuffled():
    """By default each tier is its own pytest run, in order, each shuffled; named paths
    are one run; an order the caller chose is kept."""
    shuffle = "--random-order-bucket=global"
    tiers = ["tests/unit", "tests/cli", "tests/browser"]
    assert testenv.pytest_runs([]) == [[tier, shuffle] for tier in tiers]
    assert testenv.pytest_runs(["-m", "not model"]) == [[tier, "-m", "not model", shuffle] for tier in tiers]
    assert testenv.pytest_runs(["tests/browser/test_photo.py"]) == [["tests/browser/test_photo.py", shuffle]]
    assert testenv.pytest_runs(["--random-order-seed=7"]) == [[tier, "--random-order-seed=7"] for tier in tiers]
    assert testenv.pytest_runs(["tests/unit", "-p", "no:random_order"]) == [["tests/unit", "-p", "no:random_order"]]


def test_chromium_is_needed_only_when_browser_tests_run():
    """`test tests/unit` on a fresh machine does not install a browser."""
    needs = lambda args: testenv.runs_browser_tests(testenv.pytest_command_args(args))
    assert needs([]) and needs(["-x"]) and needs(["tests"]) and needs(["tests/browser/test_parity.py::x"])
    assert not needs(["tests/unit", "-m", "not model"])
    assert not needs(["tests/unit/test_build.py"])
