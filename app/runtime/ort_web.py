"""ONNX Runtime Web from Python: the only module that talks to the JS bridge
(`static/ort-bridge.js`, loaded as the `ort_bridge` JS module in the worker).

Imports: NumPy, `js`, `pyodide.ffi`, `pyscript.js_modules`, `app.core.spec`,
`app.core.backends`, `app.core.errors`.
Runs only inside the Pyodide worker.

    >>> use_inference_worker(name)                 # the page's inference worker, if any
    >>> session = await WebSession.load(spec, on_bytes, on_stage, "auto", failed_before="")
    >>> output = await session(tensor)           # (1, 1, 1024, 1024) float32 (as the input's side)
"""
from __future__ import annotations

import numpy as np
import js
from pyodide.ffi import JsException, create_proxy, to_js
from pyscript.js_modules import ort_bridge

from app.core import backends
from app.core.backends import Choice, Support, model_file
from app.core.errors import ModelError
from app.core.spec import ModelFile, ModelSpec


class WebSession:
    """One ONNX Runtime Web session; call it like the native back-end.

    `backend` is what runs ("webgpu" or "wasm"), `f16` whether WebGPU computes in 16-bit,
    `note` why WebGPU is not used (for the page), `webgpu_failed` the reason WebGPU failed
    on this device just now ('' if it did not: the page remembers it)."""

    def __init__(self, spec: ModelSpec, handle, choice: Choice, webgpu_failed: str = ""):
        self.spec = spec
        self._handle = handle
        info = ort_bridge.backendInfo(handle).to_py()
        self.backend = info["backend"]
        self.threads = int(info["threads"])
        self.isolated = bool(info["isolated"])
        self.ort_version = str(info["version"])
        self.f16 = choice.f16
        self.note = choice.note
        self.webgpu_failed = webgpu_failed

    @staticmethod
    async def default_model(specs: dict[str, ModelSpec], preference: str = "auto", failed_before: str = "") -> str:
        """The model to run when the user has not chosen one, for this browser's WebGPU."""
        return backends.default_model(specs, preference, await _support(), failed_before)

    @classmethod
    async def load(cls, spec: ModelSpec, on_bytes, on_stage, preference: str = "auto",
                   failed_before: str = "") -> "WebSession":
        """Choose the back-end (app.core.backends), check WebGPU with the probe before
        trusting the model to it, download `models/<file>` (with `on_bytes(received, total)`
        progress), verify its size and SHA-256, and open it. WebGPU that fails its check or
        cannot open the model gives way to WebAssembly, saying why. A failure is a
        ModelError whose message is the bridge's own (what failed, expected and actual)."""
        choice = backends.choose(spec, preference, await _support(), failed_before)
        failed = ""
        if choice.backend == "webgpu":
            on_stage("check:webgpu")
            failed = await _probe_failure(choice.f16)
            if not failed:
                try:
                    return cls(spec, await _open(model_file(spec, choice), on_bytes, "webgpu"), choice)
                except ModelError as exc:
                    failed = f"it could not open the model: {exc}"
            choice = Choice("wasm", note=f"WebGPU failed its check on this device: {failed}")
        return cls(spec, await _open(model_file(spec, choice), on_bytes, "wasm"), choice, failed)

    async def release(self) -> None:
        await ort_bridge.releaseSession(self._handle)

    async def __call__(self, tensor: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(tensor, dtype=np.float32).reshape(-1)
        js_input = js.Float32Array.new(flat.size)
        js_input.assign(flat)                               # one copy in
        dims = to_js(list(tensor.shape))
        try:
            js_output = await ort_bridge.run(
                self._handle, self.spec.input_name, self.spec.output_name, js_input, dims
            )
        except JsException as exc:
            raise ModelError(f"{self.backend}: {_message(exc)}") from None
        height, width = tensor.shape[2:]
        output = np.empty(height * width, dtype=np.float32)
        js_output.assign_to(output)                         # one copy out
        return output.reshape(1, 1, height, width)


def use_inference_worker(name: str) -> None:
    """Run the sessions in the inference worker the page started (`name`; the first name
    given counts) instead of one the bridge would start itself."""
    ort_bridge.useInferenceWorker(name)


async def _support() -> Support:
    """What this browser's WebGPU offers (an adapter query, about 0.03 s)."""
    return Support(**(await ort_bridge.webgpuSupport()).to_py())


def _message(exc: JsException) -> str:
    return str(getattr(exc, "message", "") or exc)


async def _open(file: ModelFile, on_bytes, backend: str):
    """A bridge handle: `models/<file>` downloaded or read from this device's cache, its
    size and SHA-256 checked, and opened on `backend`, reporting `on_bytes(received, total)`
    while it downloads; a failure is a ModelError."""
    progress = create_proxy(on_bytes)
    try:
        return await ort_bridge.openModel(f"models/{file.file}", file.bytes, file.sha256, progress, backend)
    except JsException as exc:
        raise ModelError(_message(exc)) from None
    finally:
        progress.destroy()


async def _probe_failure(f16: bool) -> str:
    """'' if WebGPU computes the probe right, else what went wrong."""
    try:
        result = await ort_bridge.runProbe(f16)
    except JsException as exc:
        return f"it could not run the probe network: {_message(exc)}"
    output = np.empty(result.output.length, dtype=np.float32)
    result.output.assign_to(output)
    expected = np.empty(result.expected.length, dtype=np.float32)
    result.expected.assign_to(expected)
    verdict = backends.probe_verdict(output, expected, f16)
    return f"the probe network: {verdict}" if verdict else ""
