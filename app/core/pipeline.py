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
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

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
    # From the file (`preprocess.Photo`): its own alpha, which the cutout never exceeds
    # (what the user made transparent stays so), its colour profile, and notes for the user.
    photo_alpha: np.ndarray | None = field(default=None, repr=False)
    icc_profile: bytes | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()

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
    downscale: bool = False,
) -> Cutout:
    """Cut the main subject out of `photo` (encoded bytes or a Pillow image).

    `infer` maps the (1, 3, S, S) input to the (1, 1, S, S) output. `options`
    tunes post-processing (`Options`, a dict for `Options.from_dict`, or None for
    the defaults; checked before any work starts). `on_stage`
    is called with each stage name before the stage starts; raising there (e.g.
    errors.Cancelled) abandons the run. `downscale`: the user agreed that a photo
    over `preprocess.MAX_PIXELS` is downscaled to fit (else it is refused).
    """
    options = as_options(options)
    stages = _Stages(on_stage)
    if isinstance(photo, Image.Image):
        decoded = preprocess.from_image(photo)
    else:
        decoded = stages.run("decode", preprocess.decode_photo, photo, downscale)
    image = decoded.image
    tensor = stages.run("preprocess", preprocess.to_tensor, image, spec)
    raw = await stages.run_async("inference", infer, tensor)
    reuse = refine.Reuse()
    rgba, mask = stages.run("postprocess", _postprocess, image, raw, options, reuse, decoded.alpha)
    return Cutout(image=rgba, mask=mask, photo=image, timings=stages.timings, reuse=reuse,
                  photo_alpha=decoded.alpha, icc_profile=decoded.icc_profile, notes=decoded.notes)


def restyle(cutout: Cutout, options=None, on_stage: OnStage | None = None) -> Cutout:
    """The same photo and model mask post-processed with other `options`: what a
    change of edge settings costs, without decoding or inference again, and without
    redoing the working-resolution stages whose options did not change."""
    options = as_options(options)
    stages = _Stages(on_stage)
    rgba = stages.run("postprocess", _refine, cutout.photo, cutout.mask, options, cutout.reuse,
                      cutout.photo_alpha)
    return dataclasses.replace(cutout, image=rgba, timings=stages.timings)


def _postprocess(image: Image.Image, raw: np.ndarray, options: Options, reuse: refine.Reuse | None = None,
                 photo_alpha: np.ndarray | None = None):
    """(RGBA cutout at full resolution, (S, S) model mask in [0, 1]); see refine.py."""
    mask = postprocess.normalise_mask(raw)
    return _refine(image, mask, options, reuse, photo_alpha), mask


def _refine(image: Image.Image, mask: np.ndarray, options: Options, reuse: refine.Reuse | None,
            photo_alpha: np.ndarray | None) -> Image.Image:
    """refine.refine's RGBA cutout, never more opaque than the file itself was: the
    model may see a subject where the user had already cut it away."""
    rgba = refine.refine(image, mask, options, reuse=reuse)
    if photo_alpha is not None:
        alpha = np.minimum(np.asarray(rgba.getchannel("A")), photo_alpha)
        rgba.putalpha(Image.fromarray(alpha, mode="L"))
    return rgba


def encode(cutout: Cutout, on_stage: OnStage | None = None, keep_colour_profile: bool = True) -> bytes:
    """PNG bytes of the cutout; adds the `encode` timing. The PNG carries no metadata
    from the photo (no EXIF, GPS, XMP or text), only its colour profile when it has an
    RGB one and `keep_colour_profile` (without it, viewers show the pixels as sRGB)."""
    stages = _Stages(on_stage)
    profile = cutout.icc_profile if keep_colour_profile else None
    png = stages.run("encode", postprocess.encode_png, cutout.image, postprocess.PNG_COMPRESS_LEVEL, profile)
    cutout.timings.update(stages.timings)
    return png
