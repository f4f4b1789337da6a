"""What the exported image looks like (app/core/compose.py): the layout's checks, the
subject's box, the square's scale for one photo and for a batch, and each
background, frame and the shadow, on small images made here."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from app.core import compose
from app.core.compose import Layout, common_scale, fit_scale, render, subject_box
from tests import photos
from tests.helpers import BLUE, RED, assert_image_equal, disc_alpha, gradient_photo, grid_image


def cutout_of(photo: Image.Image, alpha: np.ndarray) -> Image.Image:
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.fromarray(alpha, mode="L"))
    return rgba


def rectangle(size, box, value=255) -> np.ndarray:
    """(H, W) uint8 alpha: `value` inside box (left, top, right, bottom), 0 elsewhere."""
    width, height = size
    alpha = np.zeros((height, width), np.uint8)
    left, top, right, bottom = box
    alpha[top:bottom, left:right] = value
    return alpha


def scene(size=(120, 90), box=(40, 20, 70, 70)):
    """(cutout, photo): the gradient photo with an opaque rectangle as its subject."""
    photo = gradient_photo(*size)
    return cutout_of(photo, rectangle(size, box)), photo


def alpha_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A"))


# Layout


def test_layout_defaults_round_trip_through_plain_values():
    """The defaults are the documented ones and survive to_dict/from_dict unchanged."""
    layout = Layout()
    assert layout.to_dict() == {"background": "transparent", "colour": "#ffffff", "shadow": False,
                                "frame": "photo", "margin": 5.0, "size": 2000}
    assert Layout.from_dict(layout.to_dict()) == layout
    assert Layout.from_dict(None) == layout
    assert Layout(colour="#FF8000").rgb == (255, 128, 0)
    assert compose.SQUARE_SIZES == (1000, 1600, 2000)
    assert all(compose.MIN_SIZE <= size <= compose.MAX_SIZE for size in compose.SQUARE_SIZES)


def test_layout_from_dict_refuses_unknown_names():
    """A misspelt setting from the page is an error that names it and the known ones."""
    with pytest.raises(ValueError, match="unknown layout setting.*bakground.*known: background"):
        Layout.from_dict({"bakground": "blur"})


@pytest.mark.parametrize("values", [
    {"background": "gradient"}, {"background": None},
    {"colour": "red"}, {"colour": "#fff"}, {"colour": "#12345g"}, {"colour": "#1234567"}, {"colour": 0xFFFFFF},
    {"shadow": 1}, {"shadow": "yes"},
    {"frame": "circle"},
    {"margin": -1}, {"margin": 40.5}, {"margin": True}, {"margin": float("nan")}, {"margin": "5"},
    {"size": 63}, {"size": 8001}, {"size": 1000.0}, {"size": True},
])
def test_layout_refuses_values_outside_its_choices_and_limits(values):
    """Every field is checked against the module's one list of choices and limits."""
    with pytest.raises(ValueError):
        Layout(**values)


def test_layout_accepts_the_limits_themselves():
    """The limits are inclusive: margin 0 and 40, size 64 and 8000."""
    Layout(margin=0, size=compose.MIN_SIZE)
    Layout(margin=compose.MAX_MARGIN, size=compose.MAX_SIZE)


# The subject's box and the square's scale


def test_subject_box_is_the_opaque_pixels_right_and_bottom_exclusive():
    """Like Pillow's getbbox; the same from an array and from an L image; None when empty."""
    alpha = rectangle((50, 40), (10, 5, 31, 22))
    assert subject_box(alpha) == (10, 5, 31, 22)
    assert subject_box(Image.fromarray(alpha, mode="L")) == (10, 5, 31, 22)
    assert subject_box(np.zeros((40, 50), np.uint8)) is None
    assert subject_box(Image.new("L", (50, 40), 0)) is None


def test_faint_haze_does_not_stretch_the_box():
    """A speck just under HAZE_LEVEL in the corner is ignored; at the level it counts."""
    alpha = rectangle((50, 40), (10, 5, 31, 22))
    alpha[0, 0] = compose.HAZE_LEVEL - 1
    alpha[39, 49] = compose.HAZE_LEVEL - 1
    assert subject_box(alpha) == (10, 5, 31, 22)
    assert subject_box(Image.fromarray(alpha, mode="L")) == (10, 5, 31, 22)
    alpha[39, 49] = compose.HAZE_LEVEL
    assert subject_box(alpha) == (10, 5, 50, 40)
    assert subject_box(Image.fromarray(alpha, mode="L")) == (10, 5, 50, 40)


def test_fit_scale_fits_the_larger_side_inside_the_margin():
    """A 50 px tall subject in a 1000 px square with 10 % margins becomes 800 px tall."""
    layout = Layout(frame="square", size=1000, margin=10)
    assert fit_scale((0, 0, 20, 50), layout) == pytest.approx(16.0)
    assert fit_scale((5, 5, 205, 105), layout) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        fit_scale((3, 3, 3, 3), layout)


def test_common_scale_is_the_one_at_which_the_largest_subject_fits():
    """The smallest fit scale of the batch; empty masks are skipped; none at all is 1."""
    layout = Layout(frame="square", size=1000, margin=10)
    boxes = [(0, 0, 20, 50), None, (5, 5, 205, 105)]
    assert common_scale(boxes, layout) == pytest.approx(4.0)
    assert common_scale([None], layout) == 1.0


# Frames


@pytest.mark.parametrize("size, margin", [(compose.SQUARE_SIZES[0], 5), (compose.MIN_SIZE, 20), (500, 0)])
def test_square_centres_the_subject_and_fits_it_inside_the_margin(size, margin):
    """Exactly size x size; the subject's box is centred to within 1 px; its height
    and width through the centre (pixels at least half covered) are size * (1 - 2
    margin / 100) and 30/50 of that to within 1 px, enlarged or reduced; no faint
    halo lies beyond the resampling filter's reach."""
    cutout, photo = scene()
    layout = Layout(frame="square", size=size, margin=margin)
    out = render(cutout, photo, layout)
    assert out.size == (size, size) and out.mode == "RGBA"
    alpha = alpha_of(out)
    left, top, right, bottom = subject_box(alpha)
    assert abs((left + right) / 2 - size / 2) <= 1 and abs((top + bottom) / 2 - size / 2) <= 1
    side = size * (1 - 2 * margin / 100)
    assert abs((alpha[:, size // 2] >= 128).sum() - side) <= 1
    assert abs((alpha[size // 2] >= 128).sum() - side * 30 / 50) <= 1
    scale = fit_scale((40, 20, 70, 70), layout)
    reach = scale + 1 if scale > 1 else compose.FILTER_SUPPORT + 1    # Hamming: 1 source px
    assert left >= size / 2 - side * 30 / 100 - reach and top >= size / 2 - side / 2 - reach


def test_an_enlarged_subject_has_no_halo_and_no_rim():
    """A one-colour subject enlarged 18x: every pixel it covers keeps its colour (no
    brighter rim inside the edge, which bicubic gives), and no faint alpha lies more
    than one source pixel beyond its edge (Lanczos leaves a halo there)."""
    photo = Image.new("RGB", (120, 90), (100, 150, 200))
    cutout = cutout_of(photo, rectangle((120, 90), (40, 20, 70, 70)))
    out = render(cutout, photo, Layout(frame="square", size=1000, margin=5))
    rgba = np.asarray(out).astype(int)
    covered = rgba[..., 3] >= 64     # below, premultiplied rounding alone moves colours by more
    assert (np.abs(rgba[covered][:, :3] - (100, 150, 200)) <= 3).all()
    left, top, right, bottom = subject_box(alpha_of(out), level=1)     # the edge: 230, 50, 770, 950
    assert left >= 230 - 19 and top >= 50 - 19 and right <= 770 + 19 and bottom <= 950 + 19


def test_the_subject_frame_is_the_box_plus_the_margin_exactly():
    """A 30 x 50 subject with a 10 % margin: 5 px (10 % of 50) on each side, the
    pixels those of the photo's crop."""
    cutout, photo = scene(box=(40, 20, 70, 70))
    out = render(cutout, photo, Layout(frame="subject", margin=10))
    assert out.size == (30 + 2 * 5, 50 + 2 * 5)
    assert_image_equal(out, cutout.crop((35, 15, 75, 75)))


def test_the_subject_frame_stops_at_the_photo_edge():
    """A subject touching the photo's bottom and left edges gets its margin only where
    the photo has pixels: no empty band is invented."""
    cutout, photo = scene(box=(0, 50, 40, 90))
    out = render(cutout, photo, Layout(frame="subject", margin=10))
    assert_image_equal(out, cutout.crop((0, 46, 44, 90)))


def test_transparent_photo_frame_is_the_cutout_itself_and_a_new_image():
    """Background transparent, frame photo, no shadow: every channel, alpha too, equals
    the cutout's (soft edges included), in an image of its own."""
    photo = gradient_photo(64, 48)
    cutout = cutout_of(photo, (disc_alpha((48, 64), 15, 6) * 255).astype(np.uint8))
    out = render(cutout, photo, Layout())
    assert out is not cutout
    assert_image_equal(out, cutout)


def test_an_empty_mask_frames_the_whole_photo():
    """Nothing found: "subject" is the whole photo, "square" fits the whole photo."""
    photo = gradient_photo(80, 40)
    cutout = cutout_of(photo, np.zeros((40, 80), np.uint8))
    assert render(cutout, photo, Layout(frame="subject", background="colour")).size == (80, 40)
    out = render(cutout, photo, Layout(frame="square", size=100, margin=10, background="blur"))
    assert out.size == (100, 100)


# One scale for a batch


def test_common_scale_draws_two_subjects_at_the_same_pixel_scale():
    """Subjects 50 and 25 px tall drawn with the batch's scale: 800 and 400 px tall,
    each centred; without it both would be 800 px."""
    layout = Layout(frame="square", size=1000, margin=10)
    big = scene(box=(40, 20, 70, 70))
    small = scene(box=(50, 30, 65, 55))
    scale = common_scale([subject_box(alpha_of(big[0])), subject_box(alpha_of(small[0]))], layout)
    heights = []
    for cutout, photo in (big, small):
        left, top, right, bottom = subject_box(alpha_of(render(cutout, photo, layout, scale=scale)), 128)
        assert abs((top + bottom) / 2 - 500) <= 1
        heights.append(bottom - top)
    assert abs(heights[0] - 800) <= 1 and abs(heights[1] - 400) <= 1
    own = subject_box(alpha_of(render(*small, layout)), 128)
    assert abs(own[3] - own[1] - 800) <= 1


def test_a_scale_larger_than_the_fit_never_leaves_the_canvas():
    """A scale that would draw the subject 4 x too large is held to its own fit."""
    layout = Layout(frame="square", size=200, margin=10)
    cutout, photo = scene()
    too_big = 4 * fit_scale(subject_box(alpha_of(cutout)), layout)
    assert_image_equal(render(cutout, photo, layout, scale=too_big), render(cutout, photo, layout))


# Backgrounds


def test_colour_background_fills_everything_but_the_subject():
    """RGB; the chosen colour away from the subject; the subject's opaque pixels the photo's."""
    cutout, photo = scene()
    out = render(cutout, photo, Layout(background="colour", colour="#20c040"))
    assert out.mode == "RGB" and out.size == photo.size
    pixels = np.asarray(out)
    assert (pixels[:15] == (0x20, 0xC0, 0x40)).all()
    assert (pixels[20:70, 40:70] == np.asarray(photo)[20:70, 40:70]).all()


def test_image_background_covers_the_output_centred():
    """A 200 x 100 picture, red | green | green | blue in quarters, behind a 100 x 100
    square: cover scale 1, the middle half shown, so green everywhere but the subject."""
    picture = grid_image([[RED, (0, 255, 0), (0, 255, 0), BLUE]], block=50).resize((200, 100))
    cutout, photo = scene()
    out = render(cutout, photo, Layout(background="image", frame="square", size=100, margin=40), picture)
    pixels = np.asarray(out).astype(int)
    assert out.size == (100, 100)
    for corner in (pixels[:5, :5], pixels[:5, -5:], pixels[-5:, :5], pixels[-5:, -5:]):
        assert (np.abs(corner - (0, 255, 0)) <= 1).all()
    # A square twice as large: the picture enlarged 2x, still the middle half, whose
    # edges are the quarters' borders (a mix there), green inside.
    wide = np.asarray(render(cutout, photo, Layout(background="image", frame="square", size=200, margin=40),
                             picture)).astype(int)
    assert (np.abs(wide[:, 8:30] - (0, 255, 0)) <= 2).all() and (np.abs(wide[:, -30:-8] - (0, 255, 0)) <= 2).all()
    assert wide[100, 0, 0] > 5 and wide[100, 0, 2] == 0
    assert wide[100, -1, 2] > 5 and wide[100, -1, 0] == 0


def test_image_background_with_transparency_sits_on_the_colour():
    """A fully transparent picture shows the layout's colour."""
    cutout, photo = scene()
    picture = Image.new("RGBA", (30, 30), (255, 0, 0, 0))
    out = render(cutout, photo, Layout(background="image", colour="#0000ff"), picture)
    assert tuple(np.asarray(out)[0, 0]) == (0, 0, 255)


def test_blur_background_is_the_photo_blurred():
    """With nothing cut out, the "blur" background is the photo itself, smoothed:
    close to the photo blurred directly at BLUR_FRACTION, correlated with the photo,
    and with far less detail (pixel-to-pixel differences)."""
    photo = photos.image("cat")
    cutout = cutout_of(photo, np.zeros((photo.height, photo.width), np.uint8))
    out = render(cutout, photo, Layout(background="blur"))
    assert out.mode == "RGB" and out.size == photo.size
    sigma = compose.BLUR_FRACTION * max(photo.size)
    reference = np.asarray(photo.filter(ImageFilter.GaussianBlur(sigma)), np.float32)
    got = np.asarray(out, np.float32)
    original = np.asarray(photo, np.float32)
    assert np.abs(got - reference).mean() < 4
    assert np.corrcoef(got.ravel(), original.ravel())[0, 1] > 0.8

    def detail(values):
        return np.abs(np.diff(values, axis=1)).mean()

    assert detail(got) < detail(original) / 5


def test_blur_background_carries_the_photo_on_where_the_square_is_wider():
    """A square wider than the photo as drawn is filled with the photo's edge
    colours, not black: a one-colour photo gives one colour everywhere."""
    photo = Image.new("RGB", (40, 200), (100, 150, 200))
    cutout = cutout_of(photo, rectangle((40, 200), (10, 20, 30, 180)))
    out = render(cutout, photo, Layout(background="blur", frame="square", size=300))
    assert (np.abs(np.asarray(out).astype(int) - (100, 150, 200)) <= 1).all()


# Shadow


def shadowed(background: str):
    layout = Layout(background=background, colour="#ffffff", frame="subject", margin=40)
    cutout, photo = scene(size=(160, 200), box=(55, 40, 105, 120))
    return render(cutout, photo, layout), render(cutout, photo, Layout(**{**layout.to_dict(), "shadow": True}))


def test_shadow_darkens_below_and_around_the_subject_only():
    """On white: the subject's opaque pixels are unchanged; the band just below it is
    darker, more so than the sides; far above it nothing changes."""
    plain, shadow = (np.asarray(image).astype(int) for image in shadowed("colour"))
    # The subject is at (32, 32)-(82, 112) of the 114 x 144 crop (margin 32 px).
    assert (shadow[32:112, 32:82] == plain[32:112, 32:82]).all()
    below = shadow[112:118, 40:74].mean()
    side = shadow[50:100, 84:90].mean()
    assert below < 235 and below < side < 255
    assert (shadow[:20] == 255).all() and (shadow[:, :20] == 255).all()
    assert (shadow <= plain).all()


def test_shadow_on_transparent_is_semi_transparent_black():
    """Transparent: under the subject the shadow is black with partial alpha; the
    subject's own pixels (colour and alpha) are the cutout's; far away alpha stays 0."""
    plain, shadow = shadowed("transparent")
    assert shadow.mode == "RGBA"
    rgba, before = np.asarray(shadow).astype(int), np.asarray(plain).astype(int)
    assert (rgba[32:112, 32:82] == before[32:112, 32:82]).all()
    below = rgba[112:118, 40:74]
    assert (below[..., :3] == 0).all() and 20 < below[..., 3].mean() < 200
    assert (rgba[:20, ..., 3] == 0).all()


# Checks


def test_render_refuses_what_it_cannot_use():
    """A non-RGBA cutout, a photo of another size, an image background without the
    image, a non-positive scale: each a ValueError before any work."""
    cutout, photo = scene()
    with pytest.raises(ValueError, match="RGBA"):
        render(photo, photo, Layout())
    with pytest.raises(ValueError, match="size"):
        render(cutout, photo.resize((60, 45)), Layout())
    with pytest.raises(ValueError, match="background_image"):
        render(cutout, photo, Layout(background="image"))
    with pytest.raises(ValueError, match="scale"):
        render(cutout, photo, Layout(frame="square"), scale=0)
