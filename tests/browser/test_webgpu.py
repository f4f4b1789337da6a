"""WebGPU, in Chromium's SwiftShader WebGPU (a CPU standing in for a graphics card:
correct, far too slow to time, and too slow for a whole 1024x1024 photo here; the full
model on WebGPU is checked outside the suite). What is tested:

- the probe network (builder/probe_model.py: every kind of layer ISNet has) gives the
  CPU's answer on WebGPU and on WebAssembly, through the page's own bridge;
- asked to run on WebGPU, the page checks it, opens the model there, and says so;
- WebGPU that fails its check gives way to WebAssembly, says why, and the device
  remembers it: the next visit goes straight to WebAssembly.
"""
from __future__ import annotations

import numpy as np
import pytest

from app.core.backends import PROBE_TOLERANCE
from app.core.spec import get_spec
from builder.serve import serving
from tests.browser.app_page import AppPage
from tests.browser.site_copy import linked_copy, replace
from tests.conftest import CHROMIUM, CHROMIUM_ARGS

SWIFTSHADER_WEBGPU = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
                      "--use-webgpu-adapter=swiftshader"]
FP16 = get_spec("isnet-fp16")


@pytest.fixture(scope="module")
def gpu_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + SWIFTSHADER_WEBGPU)
    yield browser
    browser.close()


def test_the_probe_gives_the_cpus_answer_on_webgpu_and_on_webassembly(gpu_browser, server_url, site):
    page = gpu_browser.new_context().new_page()
    try:
        page.goto(server_url + "build-info.json")
        outputs = page.evaluate("""async () => {
            const bridge = await import(new URL("static/ort-bridge.js", location.href).href);
            const support = await bridge.webgpuSupport();
            const gpu = await bridge.runProbe(false);
            const model = new Uint8Array(await (await fetch("models/probe/probe-float32.onnx")).arrayBuffer());
            const input = new Float32Array(await (await fetch("models/probe/probe-input.bin")).arrayBuffer());
            const handle = await bridge.createSession(model, "wasm");
            const size = Math.round(Math.sqrt(input.length / 3));
            const wasm = await bridge.run(handle, "input", "output", input, [1, 3, size, size]);
            return {support, gpu: Array.from(gpu.output), wasm: Array.from(wasm), expected: Array.from(gpu.expected),
                    backend: bridge.backendInfo(handle).backend};
        }""")
    finally:
        page.context.close()
    assert outputs["support"]["available"] and outputs["support"]["software"], outputs["support"]
    expected = np.frombuffer((site / "models" / "probe" / "probe-expected.bin").read_bytes(), "<f4")
    gpu, wasm = np.array(outputs["gpu"], np.float32), np.array(outputs["wasm"], np.float32)
    assert np.array_equal(np.array(outputs["expected"], np.float32), expected)
    assert expected.min() < 0.01 and expected.max() > 0.99   # an answer a broken kernel cannot match
    assert np.abs(gpu - expected).max() <= PROBE_TOLERANCE[False]
    assert np.abs(wasm - expected).max() <= PROBE_TOLERANCE[False]
    assert outputs["backend"] == "wasm"


def test_asked_to_run_on_webgpu_the_page_checks_it_and_runs_there(gpu_browser, server_url):
    """Settings' "Graphics card" (here through `?backend=webgpu`): the page says it checks
    the graphics card, downloads the 32-bit-compute model (SwiftShader has no shader-f16),
    opens it on WebGPU and names it; Settings shows the choice."""
    app = AppPage(gpu_browser, server_url, "?backend=webgpu")
    try:
        app.wait_ready()
        assert app.engine == f"{FP16.label} · WebGPU, 32-bit", app.engine
        assert "Checking that the graphics card (WebGPU) computes correctly…" in app.status_log()
        assert app.requested(f"/models/{FP16.file}") and not app.requested(f"/models/{FP16.shader_f16.file}")
        assert app.page.get_by_label("Runs on").input_value() == "webgpu"
        assert app.status.startswith("Ready."), app.status
    finally:
        app.close()


@pytest.fixture
def site_with_a_failing_probe(site, tmp_path):
    """A copy of the site whose probe expects another answer: a GPU that computes wrong."""
    copy = linked_copy(site, tmp_path / "site")
    expected = copy / "models" / "probe" / "probe-expected.bin"
    replace(expected, (1 - np.frombuffer(expected.read_bytes(), "<f4")).astype("<f4").tobytes())
    with serving(copy) as url:
        yield url


def test_webgpu_that_fails_its_check_gives_way_to_webassembly_and_is_remembered(gpu_browser,
                                                                                site_with_a_failing_probe):
    app = AppPage(gpu_browser, site_with_a_failing_probe, "?backend=webgpu")
    try:
        app.wait_ready()
        assert app.engine.startswith(f"{FP16.label} · WebAssembly, {app.expected_threads()} threads. "
                                     "Not on WebGPU: WebGPU failed its check on this device: the probe network: "
                                     "its answer is off by up to 0.99"), app.engine
        assert app.status.startswith("Ready."), app.status
        remembered = app.page.evaluate("localStorage.getItem('cutout.webgpu-failed')")
        assert remembered.startswith("the probe network: its answer is off by up to 0.99"), remembered
        # The next visit on this device, on automatic: straight to WebAssembly, saying why.
        app.page.evaluate("localStorage.removeItem('cutout.backend')")
        app.page.goto(site_with_a_failing_probe)
        app.page.wait_for_function("document.querySelector('#engine').textContent.length > 0", timeout=300_000)
        assert app.engine.endswith(f"Not on WebGPU: WebGPU failed on this device before ({remembered}).")
        assert app.page.get_by_label("Runs on").input_value() == "auto"
    finally:
        app.close()
