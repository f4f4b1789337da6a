"""The whole cutout, orchestrated: decode → (first look) → pre-process → inference →
post-process.

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
import io
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import compose, export as formats, mirror as second_look, postprocess, preprocess, refine
from .options import Options, as_options
from .spec import ModelSpec

# Stable stage names, reported to progress callbacks and used as timing keys.
STAGES = ("decode", "first_look", "preprocess", "inference", "mirror", "postprocess", "encode")
MIRROR = "mirror"          # the second look, at the mirror image (`mirror=True`), and the merge
FIRST_LOOK = "first_look"     # the one stage only the page asks for (`on_first_look`)

# The first look (`first_look`): the model on a small square input, shown while the full
# cutout is made. 320 costs about a tenth of the 1024 run (natively 0.10x, 256: 0.07x).
# Its mask against the 1024 one (IoU at 0.5, the int8 model, natively): devset median 0.90
# at 320, 0.87 at 256, 0.94 at 512; held out (the 19 calibration photos, many of them
# textures with no clear subject) median 0.66 at 320, 0.48 at 256. On some photos the
# model sees another subject at this size: the full cutout that replaces it is the answer.
FIRST_LOOK_INPUT = 320
# The first look's longest side in pixels: a screen's worth, cheap to make and to send.
FIRST_LOOK_SIDE = 1024

# The model's mask is kept at 16 bits (`pack_mask`): a cutout made again from it later,
# without inference, is the same as the first, which used the same levels.
MASK_LEVELS = 65535

Infer = Callable[[np.ndarray], Awaitable[np.ndarray]]
OnStage = Callable[[str], None]
OnFirstLook = Callable[[Image.Image], None]


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
    on_first_look: OnFirstLook | None = None,
    mirror: bool = False,
) -> Cutout:
    """Cut the main subject out of `photo` (encoded bytes or a Pillow image).

    `infer` maps the (1, 3, S, S) input to the (1, 1, S, S) output. `options`
    tunes post-processing (`Options`, a dict for `Options.from_dict`, or None for
    the defaults; checked before any work starts). `on_stage`
    is called with each stage name before the stage starts; raising there (e.g.
    errors.Cancelled) abandons the run. `downscale`: the user agreed that a photo
    over `preprocess.MAX_PIXELS` is downscaled to fit (else it is refused).
    `on_first_look`, if the model runs at FIRST_LOOK_INPUT: called with `first_look`'s
    rough cutout after decoding, before the full inference. `mirror`: the model also looks
    at the photo's mirror image, and the two masks are merged (`mirror.merge`) before
    refinement: twice the inference, better hair, fur and thin parts.
    """
    options = as_options(options)
    stages = _Stages(on_stage)
    if isinstance(photo, Image.Image):
        decoded = preprocess.from_image(photo)
    else:
        decoded = stages.run("decode", preprocess.decode_photo, photo, downscale)
    image = decoded.image
    if on_first_look is not None and spec.runs_at(FIRST_LOOK_INPUT):
        on_first_look(await stages.run_async(FIRST_LOOK, first_look, image, infer, spec))
    tensor = stages.run("preprocess", preprocess.to_tensor, image, spec)
    raw = await stages.run_async("inference", infer, tensor)
    if mirror:
        raw = await stages.run_async(MIRROR, _look_twice, raw, tensor, infer, spec)
    reuse = refine.Reuse()
    rgba, mask = stages.run("postprocess", _postprocess, image, raw, options, reuse, decoded.alpha)
    return Cutout(image=rgba, mask=mask, photo=image, timings=stages.timings, reuse=reuse,
                  photo_alpha=decoded.alpha, icc_profile=decoded.icc_profile, notes=decoded.notes)


async def _look_twice(raw: np.ndarray, tensor: np.ndarray, infer: Infer, spec: ModelSpec) -> np.ndarray:
    """The model's output for `tensor` (`raw`) merged with its output for the mirror image;
    the input's colours settle where the two disagree."""
    mirrored = second_look.flip(postprocess.normalise_mask(await infer(second_look.flip(tensor))))
    return second_look.merge(preprocess.colours_of(tensor, spec), postprocess.normalise_mask(raw), mirrored)[None, None]


async def first_look(image: Image.Image, infer: Infer, spec: ModelSpec) -> Image.Image:
    """A rough cutout to show at once: the photo, at most FIRST_LOOK_SIDE pixels long, with
    the model's mask at FIRST_LOOK_INPUT (`spec` must run at that size) stretched over it as
    its alpha; no edge refinement."""
    scale = min(1.0, FIRST_LOOK_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # One pass over the full photo: the model's small input is made from the shown size.
    shown = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0) if size != image.size else image
    small = dataclasses.replace(spec, input_size=FIRST_LOOK_INPUT)
    mask = postprocess.normalise_mask(await infer(preprocess.to_tensor(shown, small)))
    return postprocess.compose_rgba(shown, postprocess.upscale_mask(mask, size))


# The made-up photo `warm_up` cuts out: big enough for every stage to take its real path
# (first look, working resolution below the photo's, an edge band).
WARM_UP_SIZE = (480, 360)


def _soft_disc(height: int, width: int, softness: float) -> np.ndarray:
    """(height, width) float32: 1 inside a centred disc a third of the height across in
    radius, falling to 0 over `softness` pixels."""
    y, x = np.mgrid[:height, :width].astype(np.float32)
    return np.clip((height / 3 - np.hypot(x - width / 2, y - height / 2)) / softness, 0, 1)


def warm_up_photo() -> bytes:
    """A small JPEG of a soft-edged disc on a gradient, made here (nothing is fetched)."""
    width, height = WARM_UP_SIZE
    y, x = np.mgrid[:height, :width].astype(np.float32)
    disc = _soft_disc(height, width, 1)[..., None]
    background = np.stack([x / width, y / height, np.full_like(x, 0.5)], axis=-1)
    pixels = (255 * (disc * np.float32([0.9, 0.4, 0.2]) + (1 - disc) * background)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


async def warm_up(infer: Infer, spec: ModelSpec, on_stage: OnStage | None = None) -> Cutout:
    """Every stage of a cutout once, PNG included, on `warm_up_photo`, so that the first
    real photo does not pay for the first calls of each path (NumPy's and Pillow's, and the
    model's first run at the first look's size). The model runs only at FIRST_LOOK_INPUT
    (a tenth of the full run); the full-size stages get a made-up mask, the disc. `on_stage`
    may raise (errors.Cancelled) to stop it between stages."""
    photo = warm_up_photo()
    disc = _soft_disc(spec.input_size, spec.input_size, 4)[None, None]

    async def first_look_only(tensor: np.ndarray) -> np.ndarray:
        return await infer(tensor) if tensor.shape[-1] == FIRST_LOOK_INPUT else disc

    cutout = await remove_background(photo, first_look_only, spec, None, on_stage,
                                     on_first_look=lambda image: None)
    encode(cutout, on_stage)
    return cutout


def remake(photo: bytes, mask: np.ndarray, options=None, on_stage: OnStage | None = None,
           downscale: bool = False) -> Cutout:
    """The cutout of `photo` from a mask the model made for it before (`unpack_mask`):
    decode and post-process only, no inference. Equal to the first cutout with the same
    options."""
    options = as_options(options)
    stages = _Stages(on_stage)
    decoded = stages.run("decode", preprocess.decode_photo, photo, downscale)
    reuse = refine.Reuse()
    rgba = stages.run("postprocess", _refine, decoded.image, mask, options, reuse, decoded.alpha)
    return Cutout(image=rgba, mask=mask, photo=decoded.image, timings=stages.timings, reuse=reuse,
                  photo_alpha=decoded.alpha, icc_profile=decoded.icc_profile, notes=decoded.notes)


def pack_mask(mask: np.ndarray) -> bytes:
    """The (S, S) model mask in a few hundred kB at most (16-bit levels, compressed): what
    a queue keeps of each finished photo instead of its full-resolution buffers."""
    side = np.asarray(mask.shape, dtype="<u4").tobytes()
    levels = np.round(mask * MASK_LEVELS).astype("<u2")
    return side + zlib.compress(levels.tobytes(), 1)


def unpack_mask(packed: bytes) -> np.ndarray:
    shape = tuple(int(n) for n in np.frombuffer(packed[:8], dtype="<u4"))
    levels = np.frombuffer(zlib.decompress(packed[8:]), dtype="<u2").reshape(shape)
    return levels.astype(np.float32) / np.float32(MASK_LEVELS)


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
    mask = unpack_mask(pack_mask(postprocess.normalise_mask(raw)))
    return _refine(image, mask, options, reuse, photo_alpha), mask


def _refine(image: Image.Image, mask: np.ndarray, options: Options, reuse: refine.Reuse | None,
            photo_alpha: np.ndarray | None) -> Image.Image:
    """refine.refine's RGBA cutout, never more opaque than the file itself was (the
    model may see a subject where the user had already cut it away), black where
    fully transparent."""
    return refine.refine(image, mask, options, reuse=reuse, ceiling=photo_alpha)


def clear_hidden(rgba: Image.Image) -> Image.Image:
    """A copy of `rgba` with fully transparent pixels made black (postprocess.clear_hidden)."""
    return Image.fromarray(postprocess.clear_hidden(np.array(rgba)), mode="RGBA")


def encode(cutout: Cutout, on_stage: OnStage | None = None, keep_colour_profile: bool = True) -> bytes:
    """PNG bytes of the cutout; adds the `encode` timing. The PNG carries no metadata
    from the photo (no EXIF, GPS, XMP or text), only its colour profile when it has an
    RGB one and `keep_colour_profile` (without it, viewers show the pixels as sRGB)."""
    stages = _Stages(on_stage)
    profile = cutout.icc_profile if keep_colour_profile else None
    png = stages.run("encode", postprocess.encode_png, cutout.image, postprocess.PNG_COMPRESS_LEVEL, profile)
    cutout.timings.update(stages.timings)
    return png


def export(cutout: Cutout, layout: "compose.Layout | None" = None, fmt: str = "png",
           keep_colour_profile: bool = True, on_stage: OnStage | None = None,
           background_image: Image.Image | None = None, scale: float | None = None) -> bytes:
    """The file the user downloads: the cutout laid out (`compose.render`: background,
    shadow, frame; `background_image` for the "image" background; `scale` for a square
    drawn at a batch's common scale) and encoded as `fmt`
    (`export.FORMATS`); adds the `encode` timing. The default layout and "png" give
    exactly `encode`'s PNG."""
    layout = layout or compose.Layout()
    stages = _Stages(on_stage)
    profile = cutout.icc_profile if keep_colour_profile else None

    def make():
        if layout == compose.Layout():
            image = cutout.image
        else:
            image = compose.render(cutout.image, cutout.photo, layout, background_image, scale)
        return formats.encode(image, fmt, profile)

    data = stages.run("encode", make)
    cutout.timings.update(stages.timings)
    return data
