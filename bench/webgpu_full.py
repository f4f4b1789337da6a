"""The whole model on WebGPU, checked once outside the test suite (too slow for it here).

    .venv/bin/python bench/webgpu_full.py [--photo astronaut] [--timeout-minutes 60]

Chromium's SwiftShader WebGPU (a CPU standing in for a graphics card: correct, not
fast) runs the prepared 16-bit model computing in 32-bit (what a card without
shader-f16 runs) through the page's own bridge, on one real photo (tests/photos.py),
and WebAssembly runs the same file on the same input in the same page. Prints how
long each took and how far the two masks are apart (max and mean difference, IoU at
0.5). The suite checks WebGPU with the probe network; this checks the real model.

Imports: NumPy, Playwright, `app.core`, `builder.serve`, `tests.photos`, `tests.conftest`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.preprocess import to_tensor  # noqa: E402
from app.core.spec import get_spec  # noqa: E402
from builder.serve import serving  # noqa: E402
from tests import photos  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SWIFTSHADER_WEBGPU = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
                      "--use-webgpu-adapter=swiftshader"]

RUN_BOTH = """async (model) => {
  const bridge = await import(new URL("static/ort-bridge.js", location.href).href);
  const input = new Float32Array(await (await fetch("input.bin")).arrayBuffer());
  const data = new Uint8Array(await (await fetch("models/" + model)).arrayBuffer());
  const result = {};
  for (const backend of ["wasm", "webgpu"]) {
    let started = performance.now();
    const handle = await bridge.createSession(data, backend);
    const opened = performance.now() - started;
    started = performance.now();
    const mask = await bridge.run(handle, "input", "output", input, [1, 3, 1024, 1024]);
    result[backend] = {opened, ran: performance.now() - started, mask: Array.from(mask)};
    await bridge.releaseSession(handle);
  }
  return result;
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default="astronaut", choices=sorted(photos.SOURCES))
    parser.add_argument("--timeout-minutes", type=float, default=60)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    spec = get_spec("isnet-fp16")
    site = ROOT / "dist"
    with tempfile.TemporaryDirectory() as folder:
        tensor = to_tensor(photos.image(args.photo), spec)
        (Path(folder) / "input.bin").write_bytes(tensor.astype("<f4").tobytes())
        with serving(site, csp=False) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + SWIFTSHADER_WEBGPU)
            page = browser.new_page()
            page.route("**/input.bin", lambda route: route.fulfill(path=str(Path(folder) / "input.bin")))
            page.goto(url + "build-info.json")
            page.set_default_timeout(args.timeout_minutes * 60_000)
            result = page.evaluate(RUN_BOTH, spec.file)
            browser.close()
    wasm = np.array(result["wasm"]["mask"], np.float32)
    gpu = np.array(result["webgpu"]["mask"], np.float32)
    difference = np.abs(wasm - gpu)
    union = ((wasm > 0.5) | (gpu > 0.5)).sum()
    iou = ((wasm > 0.5) & (gpu > 0.5)).sum() / union if union else 1.0
    print(f"{spec.file} on {args.photo}: WebAssembly vs SwiftShader WebGPU (32-bit compute)")
    print(f"{'backend':<10} {'open s':>8} {'run s':>8}")
    for backend in ("wasm", "webgpu"):
        print(f"{backend:<10} {result[backend]['opened'] / 1000:8.1f} {result[backend]['ran'] / 1000:8.1f}")
    print(f"masks: max difference {difference.max():.2e}, mean {difference.mean():.2e}, IoU at 0.5 {iou:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
