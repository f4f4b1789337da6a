"""Which model file the page has the inference worker open while Python starts, if any.

The worker decides which model runs and where (app/core/backends.py, after a WebGPU check);
the page may only ask early for a model the worker will certainly want on WebAssembly: one
that WebGPU cannot run here. The inference worker downloads it (or reads it from this
device) and opens it; the worker's own request for it takes that session over
(static/inference-worker.js), so nothing is downloaded or opened twice.

Pure functions; MicroPython- and CPython-compatible (tested under CPython). Imports: nothing.
"""


def early_download(manifest, defaults, chosen, preference, webgpu_available):
    """The manifest entry (file, bytes, sha256) the worker will download first when that
    does not depend on its WebGPU check, else None.

    manifest: models/manifest.json; defaults: app.core.spec.DEFAULT_MODELS; chosen: the
    page's model choice ('' or an unknown name: the default); preference: Settings' Runs on
    (auto, webgpu or wasm); webgpu_available: whether the browser offers a WebGPU adapter.
    """
    gpu_possible = webgpu_available and preference != "wasm"
    if chosen in manifest:
        entry = manifest[chosen]
        return None if gpu_possible and entry.get("webgpu") else entry
    if gpu_possible:
        return None     # the default model itself depends on the check
    return manifest[defaults["wasm"]]
