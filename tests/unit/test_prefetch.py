"""app/ui/prefetch.py: the page downloads early only a model the worker will certainly want."""
from __future__ import annotations

import json

import pytest

from app.core import backends
from app.core.backends import Support
from app.core.spec import DEFAULT_MODELS, MANIFEST_PATH, load_specs
from app.ui.prefetch import early_download

MANIFEST = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


@pytest.mark.parametrize("chosen, preference, webgpu, expected", [
    ("", "auto", False, DEFAULT_MODELS["wasm"]),          # no WebGPU: WebAssembly's default
    ("", "wasm", True, DEFAULT_MODELS["wasm"]),           # the processor asked for
    ("", "auto", True, None),                             # the default waits for the check
    ("", "webgpu", True, None),
    ("isnet-uint8", "auto", False, DEFAULT_MODELS["wasm"]),   # a stale choice: the default
    ("isnet-int8", "auto", True, "isnet-int8"),           # WebGPU cannot run it anyway
    ("isnet-fp16", "auto", True, None),                   # may run on WebGPU: another file
    ("isnet-fp16", "auto", False, "isnet-fp16"),
    ("isnet-fp16", "wasm", True, "isnet-fp16"),
])
def test_early_download(chosen, preference, webgpu, expected):
    entry = early_download(MANIFEST, DEFAULT_MODELS, chosen, preference, webgpu)
    assert entry == (MANIFEST[expected] if expected else None)


@pytest.mark.parametrize("preference", backends.PREFERENCES)
@pytest.mark.parametrize("chosen", ["", *MANIFEST])
@pytest.mark.parametrize("support", [Support(available=False), Support(available=True, f16=True),
                                     Support(available=True, software=True)])
@pytest.mark.parametrize("failed", ["", "X"])
def test_whatever_is_downloaded_early_is_the_file_the_worker_opens(chosen, preference, support, failed):
    """Against the worker's own rules (app.core.backends): an early download is always the
    file the worker then asks for (never a wasted one)."""
    entry = early_download(MANIFEST, DEFAULT_MODELS, chosen, preference, support.available)
    if entry is None:
        return
    specs = load_specs()
    name = chosen or backends.default_model(specs, preference, support, failed)
    choice = backends.choose(specs[name], preference, support, failed)
    assert backends.model_file(specs[name], choice).file == entry["file"]
