"""Which inference back-end runs a model in the browser, and why: WebGPU where it exists,
is a real GPU and has passed its check; WebAssembly otherwise.  Pure logic, so it is unit
tested under CPython; `app/runtime/ort_web.py` feeds it what the browser reports.

Imports: the standard library, NumPy and `app.core.spec`.

    >>> choose(spec, "auto", Support(available=True, f16=True, software=False))
    Choice(backend='webgpu', f16=True, note='')
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.spec import DEFAULT_MODELS, ModelFile, ModelSpec

PREFERENCES = ("auto", "webgpu", "wasm")   # Settings: automatic, graphics card, processor
# How far the WebGPU probe's answer may be from the CPU's (builder/probe_model.py): 32-bit
# kernels agree to rounding; 16-bit ones round every layer (measured on the CPU: 1.1e-3).
# A broken kernel is off by far more: the probe's answer spans 0.0005 to 0.9997.
PROBE_TOLERANCE = {False: 2e-3, True: 2e-2}   # by whether the probe computes in 16-bit


@dataclass(frozen=True)
class Support:
    """What the browser offers: a WebGPU adapter, whether it has shader-f16, whether it is
    a software fallback (a CPU pretending to be a GPU), and if there is none, why not."""

    available: bool
    f16: bool = False
    software: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Choice:
    """The back-end to use, whether WebGPU computes in 16-bit, and a note for the page
    saying why WebGPU is not used ('' when it is, or when nothing needs saying)."""

    backend: str
    f16: bool = False
    note: str = ""


def choose(spec: ModelSpec, preference: str, support: Support, failed_before: str = "") -> Choice:
    """The back-end for `spec` given the user's `preference` (PREFERENCES), the browser's
    `support`, and the reason WebGPU failed its check on this device before ('' if never).

    Automatic uses WebGPU only on a real GPU that has not failed before; choosing WebGPU
    in Settings tries it on any adapter, once more even after a failure."""
    if preference not in PREFERENCES:
        raise ValueError(f"unknown back-end preference {preference!r}; one of {', '.join(PREFERENCES)}")
    if preference == "wasm":
        return Choice("wasm")
    # The device's reasons first: they are why the default model is a WebAssembly one.
    if not support.available:
        return Choice("wasm", note=support.reason or "this browser has no WebGPU")
    if preference == "auto":
        if failed_before:
            return Choice("wasm", note=f"WebGPU failed on this device before ({failed_before})")
        if support.software:
            return Choice("wasm", note="this device's WebGPU is a software fallback, slower than WebAssembly")
    if not spec.webgpu:
        return Choice("wasm", note=f"{spec.label} runs on WebAssembly only")
    return Choice("webgpu", f16=support.f16 and spec.shader_f16 is not None)


def default_model(specs: dict[str, ModelSpec], preference: str, support: Support, failed_before: str = "") -> str:
    """The model that runs when the user has not chosen one: WebGPU's default where `choose`
    would run it on WebGPU, WebAssembly's otherwise."""
    on_gpu = choose(specs[DEFAULT_MODELS["webgpu"]], preference, support, failed_before)
    return DEFAULT_MODELS[on_gpu.backend]


def model_file(spec: ModelSpec, choice: Choice) -> ModelFile:
    """The file to download for `choice`: the 16-bit-compute one only for WebGPU with f16."""
    if choice.backend == "webgpu" and choice.f16 and spec.shader_f16 is not None:
        return spec.shader_f16
    return ModelFile(spec.file, spec.sha256, spec.bytes)


def probe_verdict(output, expected, f16: bool) -> str:
    """'' if the WebGPU probe's `output` matches `expected`, else what is wrong."""
    output = np.asarray(output, dtype=np.float32).ravel()
    expected = np.asarray(expected, dtype=np.float32).ravel()
    if output.shape != expected.shape:
        return f"its answer has {output.size} values, expected {expected.size}"
    if not np.isfinite(output).all():
        return "its answer holds NaN or infinite values"
    difference = float(np.abs(output - expected).max())
    if difference > PROBE_TOLERANCE[f16]:
        return f"its answer is off by up to {difference:.3g} (allowed {PROBE_TOLERANCE[f16]:g})"
    return ""
