"""onnxruntime under CPython: the reference back-end for tests, benchmarks and
the command line.

Imports: NumPy, onnxruntime, `app.core`. Never used in the browser.

    >>> session = NativeSession.from_dir("dist/models", get_spec("isnet-fp16"))
    >>> output = asyncio.run(session(tensor))        # (1, 1, 1024, 1024) float32
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from app.core.errors import ModelError
from app.core.spec import ModelSpec

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "dist" / "models"


def verify_model_file(path: Path, spec: ModelSpec) -> None:
    """Refuse a missing or altered model file, naming what was expected."""
    if not path.is_file():
        raise ModelError(f"{path} is missing: run `python3 build.py` to assemble the models")
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    if digest.hexdigest() != spec.sha256:
        raise ModelError(
            f"{path} does not match {spec.name}: sha256 {digest.hexdigest()}, expected {spec.sha256}"
        )


class NativeSession:
    """An onnxruntime session for one model; call it like the browser back-end."""

    backend = "onnxruntime (CPU)"

    def __init__(self, model_path: Path | str, spec: ModelSpec, threads: int | None = None):
        import onnxruntime

        model_path = Path(model_path)
        verify_model_file(model_path, spec)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.spec = spec
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_dir(cls, model_dir: Path | str, spec: ModelSpec, threads: int | None = None):
        return cls(Path(model_dir) / spec.file, spec, threads)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        (output,) = self._session.run([self.spec.output_name], {self.spec.input_name: tensor})
        return output

    async def __call__(self, tensor: np.ndarray) -> np.ndarray:
        return self.run(tensor)
