"""The installable, offline app: icons, the web app manifest, the service worker and the
Content-Security-Policy in index.html, all written into the assembled site from its real files.

The service worker (static/service-worker.js, rendered to sw.js at the site root so that its
scope is the whole app) gets BUILD: the files it precaches, each with its sha256, a version
made from that list (its cache is named after it, so a new build means a new cache and the
old one is deleted on activate), the models' hashes (their cache belongs to
static/model-store.js: the service worker only deletes versions no longer listed) and the
CSP and isolation headers it adds to what it serves.

Imports builder.*, app.core.spec (standard library only) and the standard library.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from builder.csp import policy
from builder.files import BuildError, log, sha256_bytes, sha256_file_listed, write_atomic
from builder.icons import ICONS, background_colour
from builder.paths import ROOT
from builder.pins import ORT_OPTIONAL_FILES
from builder import venvs
from builder.serve import ISOLATION_HEADERS, MIME_TYPES
from builder.shell import run

ICON_SOURCE = "static/icon.svg"
SERVICE_WORKER_SOURCE = "static/service-worker.js"  # rendered to sw.js, never copied as is
SERVICE_WORKER = "sw.js"
WEB_MANIFEST = "manifest.webmanifest"
ICON_DIR = "icons"
CSP_PLACEHOLDER = "{{CONTENT_SECURITY_POLICY}}"
THEME_PLACEHOLDER = "{{THEME_COLOUR}}"
BUILD_PLACEHOLDER = "/*{{BUILD}}*/"

# Not precached: the models (static/model-store.js keeps the one in use, by hash) and ONNX
# Runtime's builds for graphics cards (27-28 MB each; kept by the service worker the first
# time a device uses them).
def is_precached(path: str) -> bool:
    if path.endswith(".onnx") or path == SERVICE_WORKER:
        return False
    folder, name = os.path.split(path)
    return not (folder == "vendor/ort" and name.endswith(".wasm") and name in ORT_OPTIONAL_FILES)


IMAGE_TYPES = {  # what an installed app accepts from the system ("Open with", share)
    "image/jpeg": [".jpg", ".jpeg"],
    "image/png": [".png"],
    "image/webp": [".webp"],
}
SHARE_TARGET = "share-target"  # the service worker answers this POST (static/service-worker.js)


def make_icons(cache_dir: Path, python) -> Path:
    """The PNG icons (builder/icons.py, in the build's venv) in a folder named after the hash
    of their source, the script and the build's requirements; rendered once per version."""
    parts = [ROOT / ICON_SOURCE, ROOT / "builder" / "icons.py"]
    key = sha256_bytes(b"".join(p.read_bytes() for p in parts) + venvs.requirements_key("build"))[:16]
    folder = cache_dir / f"icons-{key}"
    if not folder.is_dir():
        part = folder.with_name(folder.name + ".part")
        log("rendering the icons")
        run([str(python()), "-m", "builder.icons", str(ROOT / ICON_SOURCE), str(part)], cwd=ROOT)
        os.replace(part, folder)
    return folder


def web_manifest(theme_colour: str) -> dict:
    icons = [{"src": f"{ICON_DIR}/{name}", "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
             for name, (size, purpose) in ICONS.items() if purpose]
    icons.append({"src": ICON_SOURCE, "sizes": "any", "type": "image/svg+xml", "purpose": "any"})
    return {
        "id": "./",
        "name": "Cutout: background remover",
        "short_name": "Cutout",
        "description": "Remove the background from photos on your own device. Nothing is uploaded; works offline.",
        "start_url": "./",
        "scope": "./",
        "display": "standalone",
        "theme_color": theme_colour,
        "background_color": "#ffffff",
        "categories": ["photo", "productivity", "utilities"],
        "icons": icons,
        "file_handlers": [{"action": "./", "accept": IMAGE_TYPES}],
        "share_target": {
            "action": f"./{SHARE_TARGET}",
            "method": "POST",
            "enctype": "multipart/form-data",
            "params": {"files": [{"name": "photos", "accept": sorted(IMAGE_TYPES)}]},
        },
    }


def precache_list(site: Path) -> list[dict]:
    """Every file of the site the app may need offline, with its size and sha256."""
    entries = []
    for path in sorted(site.rglob("*"), key=lambda p: p.relative_to(site).as_posix()):
        relative = path.relative_to(site).as_posix()
        if path.is_file() and is_precached(relative):
            entries.append({"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file_listed(path)})
    return entries


def service_worker_build(site: Path, models: list[dict]) -> dict:
    files = precache_list(site)
    return {
        "version": sha256_bytes(json.dumps(files, sort_keys=True).encode())[:16],
        "files": files,
        "models": sorted(m["sha256"] for m in models),
        "headers": {**ISOLATION_HEADERS, "Content-Security-Policy": policy()},
        "types": MIME_TYPES,  # the dev server's content types, by suffix: one list for both
        "shareTarget": SHARE_TARGET,
    }


def render_service_worker(source: str, build: dict) -> str:
    if source.count(BUILD_PLACEHOLDER) != 1:
        raise BuildError(f"{SERVICE_WORKER_SOURCE} must contain {BUILD_PLACEHOLDER} once")
    return source.replace(BUILD_PLACEHOLDER, f"const BUILD = {json.dumps(build, indent=1)};")


def fill_page(site: Path, theme_colour: str) -> None:
    """index.html's <meta> Content-Security-Policy (for hosts that cannot send the header)
    and theme colour (the icon's background)."""
    page = site / "index.html"
    html = page.read_text(encoding="utf-8")
    for placeholder, value in ((CSP_PLACEHOLDER, policy(meta=True)), (THEME_PLACEHOLDER, theme_colour)):
        if html.count(placeholder) != 1:
            raise BuildError(f"index.html must contain {placeholder} once")
        html = html.replace(placeholder, value)
    write_atomic(page, html.encode("utf-8"))


def write_webapp(root: Path, site: Path, icons: Path, models: list[dict]) -> None:
    """Icons, manifest.webmanifest and the CSP into `site`, then sw.js listing the result
    (written last: it lists every other file)."""
    for path in sorted(icons.iterdir()):
        write_atomic(site / ICON_DIR / path.name, path.read_bytes())
    svg = (root / ICON_SOURCE).read_text(encoding="utf-8")
    theme_colour = background_colour(svg)
    write_atomic(site / WEB_MANIFEST, (json.dumps(web_manifest(theme_colour), indent=1) + "\n").encode("utf-8"))
    fill_page(site, theme_colour)
    source = (root / SERVICE_WORKER_SOURCE).read_text(encoding="utf-8")
    build = service_worker_build(site, models)
    write_atomic(site / SERVICE_WORKER, render_service_worker(source, build).encode("utf-8"))
