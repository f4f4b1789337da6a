"""The development server: dist/ with exact MIME types, the Content-Security-Policy and
cross-origin isolation headers.

Imports builder.csp, builder.files, builder.paths and the standard library.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from pathlib import Path

from builder.csp import policy
from builder.files import BuildError
from builder.paths import DIST


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
    """Static files with exact MIME types, revalidated on every load, the app's CSP (unless
    `csp` is false: a page that is not the app, like the benchmark's IMG.LY page) and
    (unless `isolated` is false: a host that cannot send them) the isolation headers; quiet."""

    protocol_version = "HTTP/1.1"  # keep-alive: the page loads dozens of files

    def __init__(self, *args, isolated: bool = True, csp: bool = True, **kwargs):
        self.isolated, self.csp = isolated, csp  # set before the base class handles the request
        super().__init__(*args, **kwargs)

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        if self.csp:
            self.send_header("Content-Security-Policy", policy())
        for name, value in ISOLATION_HEADERS.items() if self.isolated else ():
            self.send_header(name, value)
        super().end_headers()

    def guess_type(self, path):
        return MIME_TYPES.get(Path(str(path)).suffix.lower()) or super().guess_type(path)

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


def start_server(
    directory: Path | str = DIST, host: str = "127.0.0.1", port: int = 0, isolated: bool = True,
    csp: bool = True,
) -> http.server.ThreadingHTTPServer:
    """Serve `directory` in a daemon thread; port 0 picks a free port; `isolated`
    false leaves out the cross-origin isolation headers (tests of such hosts), `csp`
    false the app's Content-Security-Policy (pages that are not the app).

    The returned server has `.url` (e.g. "http://127.0.0.1:41234/").  Stop it with
    `server.shutdown(); server.server_close()`, or use `serving(...)`.
    """
    handler = functools.partial(SiteHandler, directory=str(directory), isolated=isolated, csp=csp)
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "") else host
    server.url = f"http://{shown}:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, args=(0.1,), name="cutout-server", daemon=True).start()
    return server


@contextlib.contextmanager
def serving(directory: Path | str = DIST, host: str = "127.0.0.1", port: int = 0, isolated: bool = True,
            csp: bool = True):
    """`with serving(dist) as url:` ... the server stops when the block ends."""
    server = start_server(directory, host, port, isolated, csp)
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
