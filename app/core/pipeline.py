"""The whole cutout, orchestrated: decode → pre-process → inference → post-process.

The inference back-end is injected, so the same pipeline runs in the browser
worker (ONNX Runtime Web) and under CPython (onnxruntime). Encoding is a separate
step so a caller can show the result before paying for PNG compression.

Imports: NumPy, Pillow, `app.core` only.

    >>> import asyncio
    >>> from app.core.spec import get_spec
    >>> from app.runtime.ort_native import NativeSession
    >>> spec = get_spec()
    >>> session = NativeSession.from_dir("dist/models", spec)
    >>> cutout = asyncio.run(remove_background(open("cat.jpg", "rb").read(), session, spec))
    >>> cutout.image.mode, cutout.timings["inference"] > 0
    ('RGBA', True)
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from . import postprocess, preprocess, refine
from .options import Options, as_options
from .spec import ModelSpec

# Stable stage names, reported to progress callbacks and used as timing keys.
STAGES = ("decode", "preprocess", "inference", "postprocess", "encode")

Infer = Callable[[np.ndarray], Awaitable[np.ndarray]]
OnStage = Callable[[str], None]


@dataclass
class Cutout:
    """A finished cutout at the photo's full resolution."""

    image: Image.Image                 # RGBA, display orientation
    mask: np.ndarray                   # (S, S) float32 model mask in [0, 1], before upscaling
    photo: Image.Image                 # the decoded RGB photo, for `restyle`
    timings: dict[str, float] = field(default_factory=dict)   # seconds per stage
    # Working-resolution results of this photo and mask, which `restyle` reuses.
    reuse: refine.Reuse = field(default_factory=refine.Reuse, repr=False)

    @property
    def alpha(self) -> np.ndarray:
        """(H, W) uint8 alpha channel."""
        return np.asarray(self.image.getchannel("A"))


class _Stages:
    """Reports each stage before it starts and records how long it took."""

    def __init__(self, on_stage: OnStage | None):
        self.on_stage = on_stage
        self.timings: dict[str, float] = {}

    def run(self, name: str, work, *args):
        with self._timed(name):
            return work(*args)

    async def run_async(self, name: str, work, *args):
        with self._timed(name):
            return await work(*args)

    @contextlib.contextmanager
    def _timed(self, name: str):
        assert name in STAGES, name
        if self.on_stage is not None:
            self.on_stage(name)    # may raise errors.Cancelled
        started = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - started


async def remove_background(
    photo: bytes | Image.Image,
    infer: Infer,
    spec: ModelSpec,
    options=None,
    on_stage: OnStage | None = None,
) -> Cutout:
    """Cut the main subject out of `photo` (encoded bytes or a Pillow image).

    `infer` maps the (1, 3, S, S) input to the (1, 1, S, S) output. `options`
    tunes post-processing (`Options`, a dict for `Options.from_dict`, or None for
    the defaults; checked before any work starts). `on_stage`
    is called with each stage name before the stage starts; raising there (e.g.
    errors.Cancelled) abandons the run.
    """
    options = as_options(options)
    stages = _Stages(on_stage)
    if isinstance(photo, Image.Image):
        image = preprocess.to_rgb(ImageOps.exif_transpose(photo))
    else:
        image = stages.run("decode", preprocess.decode, photo)
    tensor = stages.run("preprocess", preprocess.to_tensor, image, spec)
    raw = await stages.run_async("inference", infer, tensor)
    reuse = refine.Reuse()
    rgba, mask = stages.run("postprocess", _postprocess, image, raw, options, reuse)
    return Cutout(image=rgba, mask=mask, photo=image, timings=stages.timings, reuse=reuse)


def restyle(cutout: Cutout, options=None, on_stage: OnStage | None = None) -> Cutout:
    """The same photo and model mask post-processed with other `options`: what a
    change of edge settings costs, without decoding or inference again, and without
    redoing the working-resolution stages whose options did not change."""
    options = as_options(options)
    stages = _Stages(on_stage)
    rgba = stages.run("postprocess", refine.refine, cutout.photo, cutout.mask, options, None, cutout.reuse)
    return Cutout(image=rgba, mask=cutout.mask, photo=cutout.photo, timings=stages.timings,
                  reuse=cutout.reuse)


def _postprocess(image: Image.Image, raw: np.ndarray, options: Options, reuse: refine.Reuse | None = None):
    """(RGBA cutout at full resolution, (S, S) model mask in [0, 1]); see refine.py."""
    mask = postprocess.normalise_mask(raw)
    return refine.refine(image, mask, options, reuse=reuse), mask


def encode(cutout: Cutout, on_stage: OnStage | None = None) -> bytes:
    """PNG bytes of the cutout; adds the `encode` timing."""
    stages = _Stages(on_stage)
    png = stages.run("encode", postprocess.encode_png, cutout.image)
    cutout.timings.update(stages.timings)
    return png
