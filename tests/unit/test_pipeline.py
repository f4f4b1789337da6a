"""Unit tests for app.core.pipeline: orchestration only, with a fake async `infer`
(no model). Checks stage order and names, timings, cancellation, what `infer`
receives, and that its output comes back at full size in display orientation.
"""
from __future__ import annotations

import asyncio
import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from app.core import pipeline
from app.core.options import Options
from app.core.errors import Cancelled, InputError
from app.core.spec import get_spec
from tests.helpers import BLUE, RED, assert_image_equal, encode, gradient_photo, grid_image

SPEC = get_spec()
RUN_STAGES = ["decode", "preprocess", "inference", "postprocess"]


class FakeInfer:
    """An async stand-in for the model: the mask is the input's red channel."""

    def __init__(self):
        self.calls: list[np.ndarray] = []

    async def __call__(self, tensor: np.ndarray) -> np.ndarray:
        self.calls.append(tensor)
        await asyncio.sleep(0)
        return tensor[:, :1].copy()


# Orchestration is tested with plain post-processing (upscale + compose), whose
# answer is exact; refinement has its own tests (test_refine.py and friends).
PLAIN = Options(refine_edges=False, decontaminate=False, remove_specks=False)


def run(photo, infer=None, on_stage=None, options=PLAIN) -> pipeline.Cutout:
    return asyncio.run(pipeline.remove_background(photo, infer or FakeInfer(), SPEC, options, on_stage))


def red_left_blue_right(width: int = 40, height: int = 30) -> Image.Image:
    return grid_image([[RED, BLUE]], block=1).resize((width, height), Image.Resampling.NEAREST)


def test_stage_names_are_stable():
    """The stage names (progress messages, timing keys) are exactly these seven."""
    assert pipeline.STAGES == ("decode", "first_look", "preprocess", "inference", "mirror", "postprocess", "encode")


def test_stages_reported_in_order():
    """on_stage receives exactly decode, preprocess, inference, postprocess, in order."""
    seen = []
    run(encode(gradient_photo(40, 30), "PNG"), on_stage=seen.append)
    assert seen == RUN_STAGES


def test_mirror_asks_the_model_about_the_mirror_image_and_merges_before_refinement():
    """`mirror=True`: a second inference on the mirrored input, its own stage after inference;
    a model that sees a photo and its mirror image alike gives the one-look cutout exactly;
    one that drops a part of the subject in one view only gets it back."""
    photo = encode(gradient_photo(40, 30), "PNG")
    infer, seen = FakeInfer(), []
    twice = asyncio.run(pipeline.remove_background(photo, infer, SPEC, PLAIN, seen.append, mirror=True))
    assert seen == ["decode", "preprocess", "inference", "mirror", "postprocess"]
    assert len(infer.calls) == 2
    np.testing.assert_array_equal(infer.calls[1], infer.calls[0][..., ::-1])
    assert list(twice.timings) == seen
    assert_image_equal(twice.image, run(photo).image)

    class MissesTheLeftEdge(FakeInfer):
        """Drops whatever lies in the left quarter of its input: on a red-left, blue-right
        photo it keeps half the red subject, and all of it in the mirror image."""

        async def __call__(self, tensor):
            out = tensor[:, :1].copy()
            out[..., : tensor.shape[-1] // 4] = out.min()
            return out

    photo = encode(red_left_blue_right(), "PNG")
    whole = run(photo)
    assert not np.array_equal(asyncio.run(pipeline.remove_background(photo, MissesTheLeftEdge(), SPEC, PLAIN)).mask,
                              whole.mask)
    merged = asyncio.run(pipeline.remove_background(photo, MissesTheLeftEdge(), SPEC, PLAIN, mirror=True))
    np.testing.assert_array_equal(merged.mask, whole.mask)    # the red part the first look dropped is back


def test_timings_cover_each_stage():
    """timings has one non-negative float per stage run, keyed by stage name, in order."""
    cutout = run(encode(gradient_photo(40, 30), "PNG"))
    assert list(cutout.timings) == RUN_STAGES
    assert all(isinstance(v, float) and v >= 0 for v in cutout.timings.values())


def test_infer_receives_the_model_input():
    """infer is awaited once with a C-contiguous (1, 3, 1024, 1024) float32 tensor whose
    values are the photo's colour normalised with the spec's mean and std.
    """
    infer = FakeInfer()
    run(encode(Image.new("RGB", (40, 30), (255, 0, 102)), "PNG"), infer)
    (tensor,) = infer.calls
    assert tensor.shape == (1, 3, 1024, 1024)
    assert tensor.dtype == np.float32 and tensor.flags["C_CONTIGUOUS"]
    for channel, value in enumerate((255, 0, 102)):
        expected = (np.float32(value) / np.float32(255) - np.float32(SPEC.mean[channel])) / np.float32(SPEC.std[channel])
        np.testing.assert_array_equal(np.unique(tensor[0, channel]), [expected])


def test_cutout_is_full_size_with_mask_from_infer():
    """The cutout is RGBA at the photo's size, keeps its RGB where it is visible, is
    black where fully transparent (the cut-away background is not in the file), and its
    alpha follows the fake mask (the red channel): left half opaque, right half transparent.
    """
    photo = red_left_blue_right(40, 30)
    cutout = run(encode(photo, "PNG"))
    assert (cutout.image.mode, cutout.image.size) == ("RGBA", (40, 30))
    visible = cutout.alpha > 0
    np.testing.assert_array_equal(np.asarray(cutout.image)[visible][:, :3], np.asarray(photo)[visible])
    np.testing.assert_array_equal(np.asarray(cutout.image)[~visible][:, :3], 0)
    assert visible.sum() > 500 and (~visible).sum() > 500
    alpha = cutout.alpha
    assert alpha.shape == (30, 40) and alpha.dtype == np.uint8
    np.testing.assert_array_equal(alpha[:, :18], 255)
    np.testing.assert_array_equal(alpha[:, 22:], 0)
    np.testing.assert_array_equal(alpha, np.asarray(cutout.image.getchannel("A")))


def test_cutout_mask_is_normalised_model_output():
    """cutout.mask is the (1024, 1024) float32 min-max normalised infer output."""
    cutout = run(encode(red_left_blue_right(40, 30), "PNG"))
    assert cutout.mask.shape == (1024, 1024) and cutout.mask.dtype == np.float32
    np.testing.assert_array_equal(cutout.mask[:, :480], 1.0)
    np.testing.assert_array_equal(cutout.mask[:, 545:], 0.0)


@pytest.mark.parametrize("stage", RUN_STAGES)
def test_cancel_at_stage_abandons_run(stage):
    """on_stage raising Cancelled stops the run there; infer runs only if inference started."""
    infer, seen = FakeInfer(), []

    def on_stage(name):
        seen.append(name)
        if name == stage:
            raise Cancelled("superseded")

    with pytest.raises(Cancelled):
        run(encode(gradient_photo(20, 10), "PNG"), infer, on_stage)
    assert seen == RUN_STAGES[: RUN_STAGES.index(stage) + 1]
    assert len(infer.calls) == (1 if stage == "postprocess" else 0)


def test_bad_bytes_raise_input_error_before_inference():
    """Bytes that are not an image raise InputError and infer is never called."""
    infer = FakeInfer()
    with pytest.raises(InputError, match="not an image"):
        run(b"not an image at all", infer)
    assert infer.calls == []


def test_infer_error_propagates():
    """An exception from infer reaches the caller and postprocess is never reported."""
    async def broken(tensor):
        raise RuntimeError("backend lost")

    seen = []
    with pytest.raises(RuntimeError, match="backend lost"):
        run(encode(gradient_photo(20, 10), "PNG"), broken, seen.append)
    assert seen == ["decode", "preprocess", "inference"]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_pillow_image_skips_decode(mode):
    """A Pillow image (any mode) skips decode: no decode stage or timing, same size, RGB
    kept where visible."""
    image = gradient_photo(24, 16).convert(mode)
    seen = []
    cutout = run(image, on_stage=seen.append)
    assert seen == RUN_STAGES[1:]
    assert list(cutout.timings) == RUN_STAGES[1:]
    assert (cutout.image.mode, cutout.image.size) == ("RGBA", (24, 16))
    visible = cutout.alpha > 0
    np.testing.assert_array_equal(np.asarray(cutout.image)[visible][:, :3],
                                  np.asarray(image.convert("RGB"))[visible])


def test_pillow_image_is_not_modified():
    """The caller's Pillow image stays RGB with its pixels unchanged."""
    image = gradient_photo(24, 16)
    before = image.copy()
    run(image)
    assert image.mode == "RGB"
    assert_image_equal(image, before)


def test_exif_rotated_jpeg_comes_out_in_display_orientation():
    """A 40×30 JPEG with EXIF Orientation 6 gives a 30×40 cutout whose mask follows the
    displayed picture (red on top after a 90° clockwise turn), with no orientation tag left.
    """
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(red_left_blue_right(40, 30), "JPEG", quality=100, subsampling=0, exif=exif)
    cutout = run(data)
    png = Image.open(io.BytesIO(pipeline.encode(cutout)))
    assert png.size == (30, 40)
    assert png.getexif().get(0x0112) in (None, 1)
    alpha = np.asarray(png.getchannel("A"))
    np.testing.assert_array_equal(alpha[:17], 255)
    np.testing.assert_array_equal(alpha[23:], 0)


def test_pillow_image_with_exif_orientation_comes_out_in_display_orientation():
    """An opened (not yet transposed) JPEG with Orientation 6 gives a display-oriented cutout."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(red_left_blue_right(40, 30), "JPEG", quality=100, subsampling=0, exif=exif)
    cutout = run(Image.open(io.BytesIO(data)))
    assert cutout.image.size == (30, 40)


def test_encode_returns_full_size_png_and_adds_timing():
    """encode gives PNG bytes of the whole RGBA cutout, reports 'encode' and adds its timing."""
    cutout = run(encode(red_left_blue_right(40, 30), "PNG"))
    seen = []
    data = pipeline.encode(cutout, on_stage=seen.append)
    assert seen == ["encode"]
    assert list(cutout.timings) == RUN_STAGES + ["encode"]
    assert isinstance(cutout.timings["encode"], float) and cutout.timings["encode"] >= 0
    png = Image.open(io.BytesIO(data))
    assert (png.format, png.mode, png.size) == ("PNG", "RGBA", (40, 30))
    assert_image_equal(png, cutout.image)


def test_encode_can_be_cancelled():
    """on_stage raising Cancelled in encode propagates and records no encode timing."""
    cutout = run(encode(gradient_photo(20, 10), "PNG"))

    def cancel(name):
        raise Cancelled(name)

    with pytest.raises(Cancelled):
        pipeline.encode(cutout, on_stage=cancel)
    assert "encode" not in cutout.timings


def test_restyle_reports_its_stage_and_can_be_cancelled():
    """restyle tells on_stage about its one stage, postprocess (the page shows it and a
    newer request cancels there), times it, and raising there abandons it."""
    cutout = run(encode(gradient_photo(20, 10), "PNG"))
    seen = []
    restyled = pipeline.restyle(cutout, PLAIN, on_stage=seen.append)
    assert seen == ["postprocess"] and list(restyled.timings) == ["postprocess"]

    def cancel(name):
        raise Cancelled(name)

    with pytest.raises(Cancelled, match="postprocess"):
        pipeline.restyle(cutout, PLAIN, on_stage=cancel)


def test_restyle_reuses_the_cutouts_working_results_and_matches_a_fresh_run():
    """A restyled cutout shares its photo's Reuse (a later change reuses it too) and is
    byte for byte what a fresh run with the new options gives."""
    photo = encode(gradient_photo(60, 40), "PNG")
    cutout = run(photo, options=Options())
    for options in (Options(feather=2), Options(feather=2, decontaminate=False), Options(shift_edge=1)):
        cutout = pipeline.restyle(cutout, options)
        assert cutout.reuse.saved                    # the first run's results were kept
        assert cutout.image.tobytes() == run(photo, options=options).image.tobytes(), options


# -- a cutout made again from its kept mask, and exported ---------------------------
def test_a_packed_mask_is_small_and_comes_back_at_16_bits():
    """pack_mask keeps the mask to 1/65535 in far fewer bytes than the float mask."""
    ramp = np.linspace(0, 1, 1024 * 1024, dtype=np.float32).reshape(1024, 1024) ** 3
    packed = pipeline.pack_mask(ramp)
    back = pipeline.unpack_mask(packed)
    assert back.shape == ramp.shape and back.dtype == np.float32
    assert np.abs(back - ramp).max() <= 0.5 / pipeline.MASK_LEVELS + 1e-7
    assert len(packed) < ramp.nbytes / 2
    np.testing.assert_array_equal(pipeline.unpack_mask(pipeline.pack_mask(back)), back)


def test_a_remade_cutout_equals_the_first_without_inference():
    """remake (decode + post-process from the kept mask) gives the very same RGBA as the
    first cutout, with the default edge refinement, and runs no inference."""
    data = encode(gradient_photo(48, 36), "PNG")
    first = run(data, options=Options())
    seen = []
    again = pipeline.remake(data, pipeline.unpack_mask(pipeline.pack_mask(first.mask)), Options(), seen.append)
    assert seen == ["decode", "postprocess"]
    assert_image_equal(again.image, first.image)


def test_the_default_export_is_the_png_and_other_layouts_change_it():
    """export with no layout is byte for byte `encode`'s PNG; a red square JPEG is a red
    square of the asked size."""
    from app.core.compose import Layout

    cutout = run(encode(red_left_blue_right(40, 30), "PNG"))
    assert pipeline.export(cutout) == pipeline.encode(cutout)
    jpeg = pipeline.export(cutout, Layout(background="colour", colour="#00ff00", frame="square", size=64), "jpeg")
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG" and image.size == (64, 64)
    r, g, b = image.convert("RGB").getpixel((63, 0))
    assert g > 240 and r < 20 and b < 20
    assert "encode" in cutout.timings


# -- the first look -------------------------------------------------------------
ANY_SIZE = dataclasses.replace(SPEC, input_multiple=64)


def test_a_first_look_comes_before_the_full_inference_and_changes_nothing_of_the_result():
    """With on_first_look and a model that runs at FIRST_LOOK_INPUT: the model runs once
    at that size, then once at full size; the first look (the photo at most
    FIRST_LOOK_SIDE long, the small mask as its alpha) is given before the full run
    starts; the cutout equals the one made without it."""
    photo = encode(red_left_blue_right(2400, 1200), "PNG")
    infer, events, looks = FakeInfer(), [], []

    def on_first_look(image):
        looks.append(image)
        events.append(("look", len(infer.calls)))

    cutout = asyncio.run(pipeline.remove_background(photo, infer, ANY_SIZE, PLAIN, events.append,
                                                    on_first_look=on_first_look))
    side = pipeline.FIRST_LOOK_INPUT
    assert [t.shape for t in infer.calls] == [(1, 3, side, side), (1, 3, 1024, 1024)]
    assert events == ["decode", "first_look", ("look", 1), "preprocess", "inference", "postprocess"]
    (look,) = looks
    assert look.mode == "RGBA" and look.size == (pipeline.FIRST_LOOK_SIDE, pipeline.FIRST_LOOK_SIDE // 2)
    alpha = np.asarray(look.getchannel("A"))
    assert alpha[:, :400].min() == 255 and alpha[:, -400:].max() == 0     # the red half kept
    assert list(cutout.timings) == ["decode", "first_look", "preprocess", "inference", "postprocess"]
    assert_image_equal(cutout.image, run(photo).image)


def test_a_small_photo_keeps_its_size_in_its_first_look():
    looks = []
    asyncio.run(pipeline.remove_background(encode(red_left_blue_right(40, 30), "PNG"), FakeInfer(), ANY_SIZE,
                                           PLAIN, on_first_look=looks.append))
    assert looks[0].size == (40, 30)


def test_no_first_look_from_a_model_that_runs_at_its_own_size_only():
    infer, looks = FakeInfer(), []
    fixed = dataclasses.replace(SPEC, input_multiple=0)
    asyncio.run(pipeline.remove_background(encode(red_left_blue_right(), "PNG"), infer, fixed, PLAIN,
                                           on_first_look=looks.append))
    assert looks == [] and len(infer.calls) == 1


def test_a_cancel_during_the_first_look_stops_before_the_full_inference():
    infer = FakeInfer()

    def on_first_look(image):
        raise Cancelled()

    with pytest.raises(Cancelled):
        asyncio.run(pipeline.remove_background(encode(red_left_blue_right(), "PNG"), infer, ANY_SIZE, PLAIN,
                                               on_first_look=on_first_look))
    assert len(infer.calls) == 1
