"""ONNX Runtime Web from Python: the only module that talks to the JS bridge
(`static/ort-bridge.js`, loaded as the `ort_bridge` JS module in the worker).

Imports: NumPy, `js`, `pyodide.ffi`, `pyscript.js_modules`, `app.core.spec`,
`app.core.errors`.
Runs only inside the Pyodide worker.

    >>> session = await WebSession.load(spec, on_bytes)
    >>> output = await session(tensor)           # (1, 1, 1024, 1024) float32
"""
from __future__ import annotations

import numpy as np
import js
from pyodide.ffi import JsException, create_proxy, to_js
from pyscript.js_modules import ort_bridge

from app.core.errors import ModelError
from app.core.spec import ModelSpec


class WebSession:
    """One ONNX Runtime Web session; call it like the native back-end."""

    def __init__(self, spec: ModelSpec, js_session):
        self.spec = spec
        self._session = js_session
        info = ort_bridge.backendInfo().to_py()
        self.backend = info["backend"]
        self.threads = int(info["threads"])
        self.isolated = bool(info["isolated"])
        self.ort_version = str(info["version"])

    @classmethod
    async def load(cls, spec: ModelSpec, on_bytes) -> "WebSession":
        """Download `models/<file>` (with `on_bytes(received, total)` progress),
        verify its size and SHA-256, and open it. A failure is a ModelError whose
        message is the bridge's own (what failed, expected and actual values)."""
        progress = create_proxy(on_bytes)
        try:
            model = await ort_bridge.fetchModel(f"models/{spec.file}", spec.bytes, spec.sha256, progress)
            return cls(spec, await ort_bridge.createSession(model))
        except JsException as exc:
            raise ModelError(str(getattr(exc, "message", "") or exc)) from None
        finally:
            progress.destroy()

    async def release(self) -> None:
        await ort_bridge.releaseSession(self._session)

    async def __call__(self, tensor: np.ndarray) -> np.ndarray:
        flat = np.ascontiguousarray(tensor, dtype=np.float32).reshape(-1)
        js_input = js.Float32Array.new(flat.size)
        js_input.assign(flat)                               # one copy in
        dims = to_js(list(tensor.shape))
        js_output = await ort_bridge.run(
            self._session, self.spec.input_name, self.spec.output_name, js_input, dims
        )
        size = self.spec.input_size
        output = np.empty(size * size, dtype=np.float32)
        js_output.assign_to(output)                         # one copy out
        return output.reshape(1, 1, size, size)
