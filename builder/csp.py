"""The Content-Security-Policy: the one place it is written, with the reason for each allowance.

The development server sends it as a header, the build puts it in index.html's <meta> (for
static hosts that cannot send headers) and the service worker adds it to every response it
serves (workers take their policy from their own response, never from the page's <meta>).
`connect-src 'self'` is the privacy guarantee: the browser itself refuses any fetch, XHR,
WebSocket or beacon to another origin, whatever a library tries.

Imports nothing.
"""

from __future__ import annotations

# directive -> (sources, why each source beyond 'self' or 'none' is needed)
DIRECTIVES = {
    # Nothing not listed below: no fonts, media, frames or objects.
    "default-src": ("'none'", ""),
    # 'wasm-unsafe-eval': Pyodide, MicroPython and ONNX Runtime compile WebAssembly.
    # 'unsafe-eval': PyScript (polyscript) builds its JS<->Python calls with Function();
    # without it the page never starts. Scripts still come from this origin only.
    "script-src": ("'self' 'wasm-unsafe-eval' 'unsafe-eval'", "PyScript's Function() calls"),
    # blob:: PyScript starts its Python worker from a blob: URL it makes from its own code.
    "worker-src": ("'self' blob:", "PyScript's worker bootstrap"),
    # Only this origin: the page, its workers and ONNX Runtime fetch the app's own files.
    "connect-src": ("'self'", ""),
    # blob:: the preview of the download (a background, a square) is the file itself, made
    # on this device and shown from a blob: URL; nothing is fetched for it.
    "img-src": ("'self' blob:", "the download's preview"),
    "style-src": ("'self'", ""),
    "manifest-src": ("'self'", ""),
    "base-uri": ("'none'", ""),
    # The share target posts shared photos to this origin's service worker.
    "form-action": ("'self'", ""),
    # Header only (a <meta> policy cannot say it): no other site may frame the app.
    "frame-ancestors": ("'none'", ""),
}

HEADER_ONLY = {"frame-ancestors"}  # ignored (with a console warning) in a <meta> policy


def policy(meta: bool = False) -> str:
    """The policy as one header value; `meta` leaves out what a <meta> tag cannot carry."""
    return "; ".join(
        f"{name} {sources}" for name, (sources, _why) in DIRECTIVES.items()
        if not (meta and name in HEADER_ONLY)
    )
