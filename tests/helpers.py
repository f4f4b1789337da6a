"""Shared test helpers: image comparison that leaves evidence, and small images
made by code (no binary fixtures in the repository).

Imports: NumPy, Pillow, standard library. Never imports onnxruntime.

    >>> from tests.helpers import assert_image_similar, encode
    >>> assert_image_similar(Image.open(io.BytesIO(encode(img, "PNG"))), img, 0)

On failure the comparison writes both images (and their difference) to
`test-artifacts/<test id>/` for a person to look at.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
MODEL_DIRS = (REPO_ROOT / "dist" / "models", Path("/tmp/models"))
RAW_MODEL_DIR = REPO_ROOT / ".cache" / "models"  # the build's verified downloads (manifest "raw")

# Named colours for small, asymmetric test images.
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
CYAN, MAGENTA, YELLOW = (0, 255, 255), (255, 0, 255), (255, 255, 0)


# A soft-edged disc of a known colour on a known background (float scenes in [0, 1]).
FORE = np.array([0.95, 0.55, 0.10], np.float32)     # orange subject
BACK = np.array([0.15, 0.35, 0.85], np.float32)     # blue background


def disc_alpha(size, radius, softness, centre=None):
    """A disc whose alpha falls linearly from 1 to 0 over `softness` pixels."""
    height, width = size
    cy, cx = centre or (height / 2, width / 2)
    y, x = np.mgrid[:height, :width].astype(np.float32) + 0.5
    distance = np.hypot(y - cy, x - cx)
    return np.clip((radius + softness / 2 - distance) / softness, 0, 1).astype(np.float32)


def composite(alpha, back=BACK):
    """I = alpha F + (1 - alpha) B, float (H, W, 3)."""
    back = np.broadcast_to(np.asarray(back, np.float32), alpha.shape + (3,))
    return alpha[..., None] * FORE + (1 - alpha[..., None]) * back


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    """`image` saved in `fmt` (e.g. "PNG", "JPEG") to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def grid_image(rows: list[list[tuple[int, int, int]]], block: int = 1) -> Image.Image:
    """An RGB image of solid `block`×`block` squares, one per colour in `rows`."""
    pixels = np.asarray(rows, dtype=np.uint8)
    pixels = pixels.repeat(block, axis=0).repeat(block, axis=1)
    return Image.fromarray(pixels, mode="RGB")


def block_colours(image: Image.Image, block: int) -> np.ndarray:
    """The colour at the centre of every `block`×`block` square: (rows, cols, 3) int."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    centre = block // 2
    return pixels[centre::block, centre::block]


def gradient_photo(width: int, height: int) -> Image.Image:
    """A deterministic RGB 'photo': red rises left to right, green top to bottom."""
    x = np.linspace(0, 255, width, dtype=np.float64)[np.newaxis, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height, dtype=np.float64)[:, np.newaxis].repeat(width, axis=1)
    pixels = np.dstack([x, y, np.full_like(x, 90)]).round().astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def find_model(file_name: str) -> Path | None:
    """The built model file (dist/models), else the fetched one (/tmp/models), else None."""
    for folder in MODEL_DIRS:
        if (folder / file_name).is_file():
            return folder / file_name
    return None


def _artifact_dir() -> Path:
    test_id = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split(" ")[0]
    return ARTIFACTS_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_id)


def save_artifacts(**images: Image.Image) -> Path:
    """Write named images as PNG into this test's artifact folder; returns the folder."""
    folder = _artifact_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        image.save(folder / f"{name}.png")
    return folder


def image_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel value (0-255) between two same-size images."""
    pa = np.asarray(a, dtype=np.float64)
    pb = np.asarray(b, dtype=np.float64)
    return float(np.abs(pa - pb).mean())


def assert_image_similar(a: Image.Image, b: Image.Image, epsilon: float, msg: str = "") -> None:
    """Assert same mode and size, and a mean absolute difference per channel value
    (0-255 scale) of at most `epsilon`; on failure write a, b and |a-b| to test-artifacts/.
    """
    problem = None
    if a.mode != b.mode:
        problem = f"modes differ: {a.mode} != {b.mode}"
    elif a.size != b.size:
        problem = f"sizes differ: {a.size} != {b.size}"
    else:
        difference = image_difference(a, b)
        if difference > epsilon:
            problem = f"mean difference {difference:.4f} > epsilon {epsilon}"
    if problem is None:
        return
    images = {"a": a, "b": b}
    if a.mode == b.mode and a.size == b.size:
        diff = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))
        images["diff"] = Image.fromarray(diff.astype(np.uint8), mode=a.mode if a.mode in ("L", "RGB", "RGBA") else None)
    folder = save_artifacts(**images)
    raise AssertionError(f"{msg + ': ' if msg else ''}{problem} (images saved in {folder})")


def assert_image_equal(a: Image.Image, b: Image.Image, msg: str = "") -> None:
    """Assert pixel-identical images (same mode and size); saves artifacts on failure."""
    assert_image_similar(a, b, 0, msg)
