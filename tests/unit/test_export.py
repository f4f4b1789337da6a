"""Encoding the composed image (app/core/export.py): each format decodes to what was
given (alpha exactly where the format keeps it), JPEG flattens on white, the mask is
the alpha, no format carries EXIF, GPS, XMP or comments, the colour profile is kept
when given, and download names follow the page's rule."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.core import export, postprocess
from app.core.compose import Layout, render
from app.core.export import FORMATS, encode, filename
from tests import photos
from tests.helpers import assert_image_equal, assert_image_similar, disc_alpha, gradient_photo
from tests.unit.test_photo_export import png_chunks, srgb_profile


def cutout(width=64, height=48) -> Image.Image:
    """RGBA: the gradient photo with a soft disc as its alpha (0 far out, 255 inside)."""
    rgba = gradient_photo(width, height).convert("RGBA")
    rgba.putalpha(Image.fromarray((disc_alpha((height, width), 14, 6) * 255).astype(np.uint8), mode="L"))
    return rgba


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def with_metadata(image: Image.Image) -> Image.Image:
    """`image` whose .info holds what a camera file brings: EXIF with a maker and a GPS
    position, XMP, a comment and a colour profile."""
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}
    image.info.update(exif=exif.tobytes(), xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>',
                      comment=b"Secret comment", icc_profile=srgb_profile())
    return image


def test_formats_is_one_table_of_label_type_extension_and_alpha():
    """The four formats and their facts, as the page's menu and download link need them."""
    assert list(FORMATS) == ["png", "webp", "jpeg", "mask"]
    assert [(f.label, f.short, f.mime, f.extension, f.keeps_alpha) for f in FORMATS.values()] == [
        ("PNG (transparent)", "PNG", "image/png", "png", True),
        ("WebP (transparent, smaller)", "WebP", "image/webp", "webp", True),
        ("JPEG (on the background)", "JPEG", "image/jpeg", "jpg", False),
        ("Mask (black and white PNG)", "mask", "image/png", "png", False),
    ]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_format_decodes_as_its_mime_type_says(fmt):
    """The bytes are really of the format the table names (Pillow reads it as such)."""
    kinds = {"image/png": "PNG", "image/webp": "WEBP", "image/jpeg": "JPEG"}
    assert decoded(encode(cutout(), fmt)).format == kinds[FORMATS[fmt].mime]


def test_png_is_postprocess_encode_png_and_lossless():
    """The PNG is the cutout's own writer's output byte for byte, and decodes to the image."""
    image = cutout()
    data = encode(image, "png", srgb_profile())
    assert data == postprocess.encode_png(image, postprocess.PNG_COMPRESS_LEVEL, srgb_profile())
    assert_image_equal(decoded(data), image)
    rgb = image.convert("RGB")
    assert_image_equal(decoded(encode(rgb, "png")), rgb)


def test_webp_keeps_alpha_exactly_and_visible_colours_closely():
    """Lossy colour, lossless alpha: the alpha decodes identical; the opaque pixels
    are within a few levels of the image's."""
    image = cutout(96, 72)
    out = decoded(encode(image, "webp"))
    assert out.mode == "RGBA"
    assert (np.asarray(out.getchannel("A")) == np.asarray(image.getchannel("A"))).all()
    opaque = np.asarray(image.getchannel("A")) == 255
    difference = np.abs(np.asarray(out, np.int16)[..., :3] - np.asarray(image, np.int16)[..., :3])
    assert difference[opaque].mean() < 3


def test_webp_does_not_carry_what_was_cut_away():
    """Under fully transparent pixels a cutout still holds the photo's old background;
    the WebP does not keep it (WEBP_EXACT off): decoded there it is far from the
    photo (exact, it would be within 2 levels), and the file is smaller for it."""
    photo = photos.image("cat").resize((160, 120))
    alpha = np.zeros((120, 160), np.uint8)
    alpha[30:90, 50:110] = 255
    image = photo.convert("RGBA")
    image.putalpha(Image.fromarray(alpha, mode="L"))
    data = encode(image, "webp")
    clear = alpha == 0
    hidden = np.abs(np.asarray(decoded(data), np.int16)[clear][:, :3] - np.asarray(photo, np.int16)[clear])
    assert hidden.mean() > 20
    exact = io.BytesIO()
    image.save(exact, "WEBP", quality=export.DEFAULT_QUALITY, method=export.WEBP_METHOD, exact=True)
    assert len(data) < len(exact.getvalue()) / 2


def test_webp_quality_changes_the_size():
    """`quality` reaches the encoder: 30 makes a smaller file than 95."""
    image = cutout(96, 72)
    assert len(encode(image, "webp", quality=30)) < len(encode(image, "webp", quality=95))


def test_jpeg_flattens_a_transparent_image_on_white():
    """RGB; where the cutout is transparent the JPEG is white, inside it the photo."""
    image = cutout()
    out = np.asarray(decoded(encode(image, "jpeg")), np.int16)
    assert out.shape == (48, 64, 3)
    assert (np.abs(out[:4, :4] - 255) <= 3).all()
    photo = np.asarray(image.convert("RGB"), np.int16)
    assert np.abs(out[20:28, 28:36] - photo[20:28, 28:36]).mean() < 4


def test_jpeg_of_a_red_background_is_red_far_from_the_subject():
    """compose on "#ff0000", then JPEG: red wherever the subject is far away."""
    image = render(cutout(), gradient_photo(64, 48), Layout(background="colour", colour="#ff0000"))
    out = np.asarray(decoded(encode(image, "jpeg")), np.int16)
    for corner in (out[:6, :6], out[:6, -6:], out[-6:, :6], out[-6:, -6:]):
        assert (np.abs(corner - (255, 0, 0)) <= 6).all()


def test_mask_is_the_alpha_as_greyscale_png():
    """The mask decodes to an L image equal to the alpha; an image without alpha
    gives all white; it carries no colour profile even when one is given."""
    image = cutout()
    data = encode(image, "mask", srgb_profile())
    out = decoded(data)
    assert out.mode == "L"
    assert_image_equal(out, image.getchannel("A"))
    assert b"iCCP" not in [kind for kind, _ in png_chunks(data)]
    white = decoded(encode(image.convert("RGB"), "mask"))
    assert white.mode == "L" and np.asarray(white).min() == 255


@pytest.mark.parametrize("mode", ["RGBA", "RGB"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_no_exif_gps_xmp_or_comment_in_any_format(fmt, mode):
    """An RGBA or RGB image whose .info holds EXIF (with GPS), XMP, a comment and a
    profile: the file has none of them, not even the profile (only `icc_profile` is
    written)."""
    data = encode(with_metadata(cutout().convert(mode)), fmt)
    for secret in (b"Camera maker", b"Exif", b"xmpmeta", b"Secret comment", srgb_profile()[:64]):
        assert secret not in data
    out = decoded(data)
    assert not out.getexif()
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile"} & set(out.info)


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_the_colour_profile_is_kept_when_given(fmt):
    """PNG (iCCP), WebP (ICCP) and JPEG (APP2) carry the given profile, which decodes
    back identical; still no EXIF beside it."""
    out = decoded(encode(with_metadata(cutout()), fmt, icc_profile=srgb_profile()))
    assert out.info["icc_profile"] == srgb_profile()
    assert not out.getexif()


@pytest.mark.parametrize("name, expected", [
    ("holiday.photo.JPG", "holiday.photo-cutout.{ext}"),
    ("C:\\Users\\me\\cat.webp", "cat-cutout.{ext}"),
    ("folder/sub/dog.png", "dog-cutout.{ext}"),
    ("no-extension", "no-extension-cutout.{ext}"),
    ("", "image-cutout.{ext}"),
    ("   .png", "image-cutout.{ext}"),
])
@pytest.mark.parametrize("fmt, ext", [("png", "png"), ("webp", "webp"), ("jpeg", "jpg")])
def test_filename_is_the_stem_plus_cutout_and_the_format_extension(name, expected, fmt, ext):
    """`<stem>-cutout.<ext>`, directories (/ and \\) dropped, no stem -> image."""
    assert filename(name, fmt) == expected.format(ext=ext)


def test_mask_filename_says_mask():
    """The mask is `<stem>-mask.png`."""
    assert filename("holiday.photo.JPG", "mask") == "holiday.photo-mask.png"
    assert filename("", "mask") == "image-mask.png"


def test_unknown_format_and_bad_quality_are_refused():
    """An unknown format names the known ones; quality must be a whole number 1-100."""
    with pytest.raises(ValueError, match="unknown format 'gif'; known: png, webp, jpeg, mask"):
        encode(cutout(), "gif")
    with pytest.raises(ValueError, match="known: png, webp, jpeg, mask"):
        filename("a.jpg", "tiff")
    for quality in (0, 101, 92.5, True, "92"):
        with pytest.raises(ValueError, match="quality"):
            encode(cutout(), "jpeg", quality=quality)


def test_webp_too_wide_says_to_choose_png():
    """WebP holds at most 16383 px a side: a wider image is refused with a message
    that names the limit and the way out, instead of Pillow's 'encoding error'."""
    wide = Image.new("RGBA", (export.WEBP_MAX_SIDE + 1, 1))
    with pytest.raises(ValueError, match="16383.*choose PNG"):
        encode(wide, "webp")
    assert decoded(encode(wide, "png")).size == wide.size
