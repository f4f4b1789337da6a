"""Which model file the page downloads while Python starts in the worker, if any.

The worker decides which model runs and where (app/core/backends.py, after a WebGPU check);
the page may only start a download the worker will certainly want: a model that WebGPU
cannot run here. The worker then takes it from the cache, or waits for the download to end
(static/model-store.js), so nothing is downloaded twice.

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
