"""app/core/backends.py: which back-end runs, with what file, and why; the probe's verdict."""
from __future__ import annotations

import numpy as np
import pytest

from app.core.backends import PROBE_TOLERANCE, Choice, Support, choose, default_model, model_file, probe_verdict
from app.core.spec import ModelFile, load_specs

SPECS = load_specs()
FP16, INT8 = SPECS["isnet-fp16"], SPECS["isnet-int8"]
GPU = Support(available=True, f16=True)
GPU_NO_F16 = Support(available=True, f16=False)
SOFTWARE = Support(available=True, software=True)
NONE = Support(available=False, reason="this browser has no WebGPU")


@pytest.mark.parametrize("spec, preference, support, failed, expected", [
    (FP16, "auto", GPU, "", Choice("webgpu", f16=True)),
    (FP16, "auto", GPU_NO_F16, "", Choice("webgpu", f16=False)),
    (FP16, "auto", NONE, "", Choice("wasm", note="this browser has no WebGPU")),
    (FP16, "auto", SOFTWARE, "", Choice("wasm", note="this device's WebGPU is a software fallback, "
                                                    "slower than WebAssembly")),
    (FP16, "auto", GPU, "X", Choice("wasm", note="WebGPU failed on this device before (X)")),
    (FP16, "webgpu", SOFTWARE, "X", Choice("webgpu", f16=False)),   # asked for: tried again
    (FP16, "webgpu", NONE, "", Choice("wasm", note="this browser has no WebGPU")),
    (FP16, "wasm", GPU, "", Choice("wasm")),
    (INT8, "auto", GPU, "", Choice("wasm", note=f"{INT8.label} runs on WebAssembly only")),
    (INT8, "webgpu", GPU, "", Choice("wasm", note=f"{INT8.label} runs on WebAssembly only")),
    # the device's reason comes first: why the default is the WebAssembly model here
    (INT8, "auto", NONE, "", Choice("wasm", note="this browser has no WebGPU")),
    (INT8, "auto", SOFTWARE, "", Choice("wasm", note="this device's WebGPU is a software fallback, "
                                                    "slower than WebAssembly")),
])
def test_choose(spec, preference, support, failed, expected):
    assert choose(spec, preference, support, failed) == expected


@pytest.mark.parametrize("preference, support, failed, expected", [
    ("auto", GPU, "", "isnet-fp16"),           # a real card: the 16-bit model on WebGPU
    ("auto", GPU_NO_F16, "", "isnet-fp16"),    # computed in 32-bit there
    ("auto", SOFTWARE, "", "isnet-int8"),      # everywhere WebAssembly runs: the int8 model
    ("auto", NONE, "", "isnet-int8"),
    ("auto", GPU, "X", "isnet-int8"),          # failed here before
    ("wasm", GPU, "", "isnet-int8"),
    ("webgpu", SOFTWARE, "", "isnet-fp16"),    # asked for: WebGPU, so its model
    ("webgpu", NONE, "", "isnet-int8"),
])
def test_the_default_model_follows_where_it_will_run(preference, support, failed, expected):
    assert default_model(SPECS, preference, support, failed) == expected


def test_an_unknown_preference_is_refused():
    with pytest.raises(ValueError, match="unknown back-end preference 'gpu'"):
        choose(FP16, "gpu", GPU)


def test_the_16_bit_compute_file_only_for_webgpu_with_f16():
    default = ModelFile(FP16.file, FP16.sha256, FP16.bytes)
    assert model_file(FP16, Choice("webgpu", f16=True)) == FP16.shader_f16
    assert model_file(FP16, Choice("webgpu", f16=False)) == default
    assert model_file(FP16, Choice("wasm")) == default
    assert model_file(INT8, Choice("wasm")).file == INT8.file


def test_probe_verdict():
    expected = np.linspace(0, 1, 64, dtype=np.float32)
    assert probe_verdict(expected + PROBE_TOLERANCE[False] / 2, expected, f16=False) == ""
    assert probe_verdict(expected + 0.01, expected, f16=True) == ""
    assert "off by up to 0.01" in probe_verdict(expected + 0.01, expected, f16=False)
    assert probe_verdict(np.full(64, 0.5, np.float32), expected, f16=True).startswith("its answer is off by up to 0.5")
    broken = expected.copy()
    broken[3] = np.nan
    assert probe_verdict(broken, expected, f16=False) == "its answer holds NaN or infinite values"
    assert probe_verdict(expected[:10], expected, f16=False) == "its answer has 10 values, expected 64"
