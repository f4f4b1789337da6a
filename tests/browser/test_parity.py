"""The browser's cutout equals the command line's (native onnxruntime) for real photos.

Both decode and pre-process with the same `app.core` code and the same NumPy and
Pillow versions, so the model input is bit-identical; only the inference kernels
differ (WebAssembly SIMD vs native MLAS), which moves the float output by ~1e-6
and so flips at most a few alpha values by one 8-bit step. The tolerance is
therefore tight: mean absolute alpha difference under 1/255 and IoU at 0.5 above
0.99. The 8-bit model is known to swing a lot with small input changes
(an IoU of 0.52 after a slightly different resize), so this test would catch any
pre-processing drift between the page and the command line.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.browser.app_page import AppPage
from tests.browser.photos import photo
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

UINT8_PHOTOS = ["animals/sod_100080.jpg", "fur_soft/am_GT05.jpg", "people/sod_15004.jpg"]
FP16_PHOTOS = ["hair_soft/am_GT03.jpg"]


def native_cutouts(photos, model, out_dir):
    """Run the command line exactly as a user would; returns {photo stem: RGBA image}."""
    subprocess.run(
        [sys.executable, "-m", "app", *map(str, photos), "--out", str(out_dir), "--model", model],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return {path.stem: Image.open(out_dir / f"{path.stem}-cutout.png") for path in photos}


def alpha_agreement(browser_png: Image.Image, native_png: Image.Image):
    a = np.asarray(browser_png.getchannel("A"), dtype=np.float64) / 255
    b = np.asarray(native_png.getchannel("A"), dtype=np.float64) / 255
    mae = np.abs(a - b).mean()
    union = ((a > 0.5) | (b > 0.5)).sum()
    iou = ((a > 0.5) & (b > 0.5)).sum() / union if union else 1.0
    return mae, iou


@pytest.fixture(scope="module")
def app(browser, server_url):
    page = AppPage(browser, server_url)
    page.wait_ready()
    yield page
    page.close()


def check_parity(app, relatives, model, tmp_path):
    photos = [photo(relative) for relative in relatives]
    native = native_cutouts(photos, model, tmp_path / "native")
    for path in photos:
        browser_png = app.cutout(path, tmp_path / f"browser-{path.stem}.png")
        assert browser_png.size == native[path.stem].size
        mae, iou = alpha_agreement(browser_png, native[path.stem])
        print(f"{model} {path.name}: alpha MAE {mae * 255:.4f}/255, IoU {iou:.5f}")
        assert mae < 1 / 255 and iou > 0.99, (path.name, mae, iou)


def test_8bit_model_matches_the_command_line(app, tmp_path):
    """isnet-uint8 (the WebAssembly default) in the page vs `python -m app --model isnet-uint8`."""
    check_parity(app, UINT8_PHOTOS, "isnet-uint8", tmp_path)


def test_16bit_model_matches_the_command_line(app, tmp_path):
    """Switching to isnet-fp16 in Settings loads it; its cutout matches `python -m app`."""
    app.choose_model("isnet-fp16")
    app.page.wait_for_function(
        "document.querySelector('#engine').textContent.includes('16-bit')", timeout=180_000
    )
    check_parity(app, FP16_PHOTOS, "isnet-fp16", tmp_path)
