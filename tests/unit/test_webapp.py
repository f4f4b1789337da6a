"""Unit tests for the installable, offline app's build step (builder/webapp.py, builder/csp.py,
builder/icons.py): the precache list, the rendered service worker, the manifest, the CSP.

Synthetic sites in tmp_path, plus the committed sources (static/*.js, static/icon.svg).
"""

import hashlib
import json
import re

import pytest

from builder import csp, icons, pins, webapp
from tests.conftest import ROOT

BUILD_LINE = re.compile(r"^const BUILD = (\{.*?\n\});$", re.S | re.M)


def make_site(root):
    files = {
        "index.html": b"<html></html>",
        "static/offline.js": b"// page",
        "vendor/pyodide/pyodide.asm.wasm": b"\0asm-pyodide",
        "vendor/ort/ort-wasm-simd-threaded.wasm": b"\0asm-cpu",
        "vendor/ort/ort-wasm-simd-threaded.asyncify.wasm": b"\0asm-gpu",
        "vendor/ort/ort.webgpu.min.mjs": b"export {}",
        "models/isnet-int8.onnx": b"model",
        "models/manifest.json": b"{}",
        "sw.js": b"// an older render",
    }
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return files


def test_precache_lists_every_file_but_models_the_worker_itself_and_gpu_runtimes(tmp_path):
    files = make_site(tmp_path)
    listed = webapp.precache_list(tmp_path)
    assert [entry["path"] for entry in listed] == [
        "index.html", "models/manifest.json", "static/offline.js", "vendor/ort/ort-wasm-simd-threaded.wasm",
        "vendor/ort/ort.webgpu.min.mjs", "vendor/pyodide/pyodide.asm.wasm",
    ]
    for entry in listed:
        data = files[entry["path"]]
        assert entry == {"path": entry["path"], "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_the_version_changes_with_any_file_and_only_then(tmp_path):
    make_site(tmp_path)
    first = webapp.service_worker_build(tmp_path, [])["version"]
    assert webapp.service_worker_build(tmp_path, [])["version"] == first
    (tmp_path / "models" / "isnet-int8.onnx").write_bytes(b"another model")   # not precached
    assert webapp.service_worker_build(tmp_path, [])["version"] == first
    (tmp_path / "static" / "offline.js").write_bytes(b"// changed")
    assert webapp.service_worker_build(tmp_path, [])["version"] != first


def test_rendered_service_worker_carries_the_list_models_headers_and_csp(tmp_path):
    make_site(tmp_path)
    models = [{"sha256": "b" * 64}, {"sha256": "a" * 64}]
    build = webapp.service_worker_build(tmp_path, models)
    source = (ROOT / webapp.SERVICE_WORKER_SOURCE).read_text()
    rendered = webapp.render_service_worker(source, build)
    parsed = json.loads(BUILD_LINE.search(rendered).group(1))
    assert parsed == build
    assert parsed["models"] == ["a" * 64, "b" * 64]
    assert parsed["headers"]["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert parsed["headers"]["Content-Security-Policy"] == csp.policy()
    assert webapp.BUILD_PLACEHOLDER not in rendered
    with pytest.raises(webapp.BuildError):
        webapp.render_service_worker("no placeholder", build)


def test_the_caches_are_named_alike_in_every_script():
    """The model cache and the channels: static/model-store.js, static/offline.js and the
    service worker must agree, or offline use silently breaks."""
    worker = (ROOT / "static" / "service-worker.js").read_text()
    store = (ROOT / "static" / "model-store.js").read_text()
    page = (ROOT / "static" / "offline.js").read_text()
    model_cache = re.search(r'const CACHE_NAME = "([^"]+)"', store).group(1)
    assert f'const MODEL_CACHE = "{model_cache}"' in worker
    shared = re.search(r'const SHARED_CACHE = "([^"]+)"', worker).group(1)
    assert f'const SHARED_CACHE = "{shared}"' in page
    offline_channel = re.search(r'const OFFLINE_CHANNEL = "([^"]+)"', store).group(1)
    for script in (worker, page):
        assert f'BroadcastChannel("{offline_channel}")' in script
    assert 'BroadcastChannel("cutout-requests")' in worker and 'BroadcastChannel("cutout-requests")' in page


def test_manifest_is_installable_and_accepts_photos():
    manifest = webapp.web_manifest("#2457d6")
    assert manifest["display"] == "standalone" and manifest["start_url"] == "./"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"][:-1]:
        assert icon["src"].startswith(webapp.ICON_DIR + "/") and icon["src"][len(webapp.ICON_DIR) + 1:] in icons.ICONS
    assert set(manifest["file_handlers"][0]["accept"]) == {"image/jpeg", "image/png", "image/webp"}
    assert manifest["share_target"]["action"] == "./" + webapp.SHARE_TARGET
    assert manifest["share_target"]["params"]["files"][0]["name"] == "photos"


def test_fill_page_writes_csp_and_theme_into_a_copy(tmp_path):
    page = tmp_path / "index.html"
    page.write_text(f'<meta content="{webapp.CSP_PLACEHOLDER}"><meta content="{webapp.THEME_PLACEHOLDER}">')
    webapp.fill_page(tmp_path, "#123456")
    assert page.read_text() == f'<meta content="{csp.policy(meta=True)}"><meta content="#123456">'
    page.write_text("<html></html>")
    with pytest.raises(webapp.BuildError):
        webapp.fill_page(tmp_path, "#123456")


def test_committed_page_has_each_placeholder_once():
    html = (ROOT / "index.html").read_text()
    assert html.count(webapp.CSP_PLACEHOLDER) == 1 and html.count(webapp.THEME_PLACEHOLDER) == 1


def test_csp_allows_connections_only_to_the_origin_and_meta_leaves_out_header_only_parts():
    directives = dict(part.split(" ", 1) for part in csp.policy().split("; "))
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert "frame-ancestors" in directives
    assert "frame-ancestors" not in csp.policy(meta=True)
    assert "http" not in csp.policy()       # no other host, ever


def test_icon_background_is_the_theme_and_the_maskable_icon_fills_the_square():
    svg = (ROOT / webapp.ICON_SOURCE).read_text()
    assert icons.background_colour(svg) == "#2457d6"
    bleed = icons.full_bleed(svg)
    assert 'viewBox="-8.0 -8.0 80.0 80.0"' in bleed                 # 64 / 0.8: the safe zone
    assert '<rect x="-8.0" y="-8.0" width="80.0" height="80.0" fill="#2457d6"/>' in bleed
    with pytest.raises(ValueError):
        icons.background_colour('<svg viewBox="0 0 1 1"><circle r="1"/></svg>')


def test_gpu_runtimes_left_out_of_the_precache_are_the_pinned_optional_files():
    for name in pins.ORT_OPTIONAL_FILES:
        assert webapp.is_precached(f"vendor/ort/{name}") == (not name.endswith(".wasm"))
    assert webapp.is_precached("vendor/ort/ort-wasm-simd-threaded.wasm")
