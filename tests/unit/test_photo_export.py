"""What the cutout keeps of the photo's file, and what it never keeps (issue 9): the
file's own transparency, its colour profile (on request, on by default), no EXIF, GPS,
XMP or text; the notes on how the file was read and the consent to downscale, through
the pipeline, the engine and the command line. A fake `infer` stands in for the model.
"""
from __future__ import annotations

import asyncio
import functools
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

import app.cli as cli
from app.core import pipeline, preprocess
from app.core.errors import TooLargeError
from app.core.options import Options
from app.core.spec import get_spec
from tests.helpers import RED, encode, gradient_photo
from tests.unit.test_cli import FakeSession, fake_session  # noqa: F401 (a fixture)

SPEC = get_spec()
PLAIN = Options(refine_edges=False, decontaminate=False, remove_specks=False)


async def opaque(tensor: np.ndarray) -> np.ndarray:
    """A model that sees the subject everywhere but in the top-left pixel (a constant
    output would be normalised to nothing)."""
    mask = np.ones((1, 1) + tensor.shape[2:], np.float32)
    mask[..., 0, 0] = 0
    return mask


async def ramp(tensor: np.ndarray) -> np.ndarray:
    """A model whose mask rises left to right (not constant, so min-max keeps it)."""
    size = tensor.shape[-1]
    return np.broadcast_to(np.linspace(0, 1, size, dtype=np.float32), (1, 1, size, size)).copy()


def cut(data: bytes, infer=ramp, options=PLAIN, downscale=False) -> pipeline.Cutout:
    return asyncio.run(pipeline.remove_background(data, infer, SPEC, options, downscale=downscale))


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, in order."""
    chunks, at = [], 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        chunks.append((kind, png[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


@functools.cache
def srgb_profile() -> bytes:
    """One sRGB profile for the whole run (a new one carries the current time, so two made
    a second apart differ)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo_with_metadata() -> bytes:
    """A JPEG with EXIF (camera, GPS position), XMP and an RGB colour profile."""
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    return encode(gradient_photo(40, 30), "JPEG", quality=90, exif=exif, xmp=xmp, icc_profile=srgb_profile())


def test_the_png_keeps_no_exif_gps_xmp_or_text():
    """The cutout of a JPEG with EXIF, GPS and XMP: the PNG has only IHDR, the profile
    (iCCP), IDAT and IEND; nothing of the EXIF's text or position is anywhere in it."""
    png = pipeline.encode(cut(photo_with_metadata()))
    kinds = [kind for kind, _ in png_chunks(png)]
    assert kinds[:2] == [b"IHDR", b"iCCP"] and kinds[-1] == b"IEND"
    assert set(kinds[2:-1]) == {b"IDAT"}
    assert b"Camera maker" not in png and b"xmpmeta" not in png
    with Image.open(__import__("io").BytesIO(png)) as image:
        assert not image.getexif() and "exif" not in image.info and "XML:com.adobe.xmp" not in image.info


def test_the_colour_profile_is_kept_by_default_and_can_be_dropped():
    """iCCP holds the photo's own profile (zlib, as PNG says), which viewers then apply;
    keep_colour_profile=False leaves the PNG with no metadata at all."""
    cutout = cut(photo_with_metadata())
    chunks = dict(png_chunks(pipeline.encode(cutout)))
    name, rest = chunks[b"iCCP"].split(b"\0", 1)
    assert name == b"ICC profile" and rest[0] == 0
    assert zlib.decompress(rest[1:]) == srgb_profile()
    with Image.open(__import__("io").BytesIO(pipeline.encode(cutout))) as image:
        assert image.info["icc_profile"] == srgb_profile()
    bare = pipeline.encode(cutout, keep_colour_profile=False)
    assert [kind for kind, _ in png_chunks(bare)] == [b"IHDR", b"IDAT", b"IDAT", b"IEND"]


def test_a_photo_without_a_profile_gets_none():
    assert b"iCCP" not in pipeline.encode(cut(encode(gradient_photo(20, 10), "PNG")))


def transparent_left_half() -> bytes:
    """A 40×30 RGBA PNG: the left half fully transparent, the right half opaque, one soft column."""
    rgba = np.dstack([np.asarray(gradient_photo(40, 30)), np.full((30, 40), 255, np.uint8)])
    rgba[:, :20, 3] = 0
    rgba[:, 20, 3] = 100
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


@pytest.mark.parametrize("options", [PLAIN, Options()], ids=["plain", "refined"])
def test_what_the_file_made_transparent_stays_transparent(options):
    """A model that sees the subject everywhere cannot bring back pixels the user had
    already cut away: the cutout's alpha is never above the file's own."""
    cutout = cut(transparent_left_half(), opaque, options)
    alpha = cutout.alpha
    assert alpha[:, :20].max() == 0
    assert alpha[:, 20].max() <= 100
    assert alpha[:, 21:].min() == 255


def test_restyle_keeps_the_files_transparency_and_notes():
    """Other edge settings redo the cutout within the file's alpha, with the same notes."""
    frames = [Image.new("RGBA", (40, 30), (255, 0, 0, 0)), Image.new("RGBA", (40, 30), RED + (255,))]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    cutout = cut(data, opaque)
    assert cutout.notes == (preprocess.NOTE_ANIMATED,)
    restyled = pipeline.restyle(cutout, Options(feather=2))
    assert restyled.alpha.max() == 0 and restyled.notes == cutout.notes


def test_the_model_alone_decides_for_an_opaque_photo():
    """A photo with no transparency is cut out exactly as before (no alpha of its own)."""
    cutout = cut(encode(gradient_photo(40, 30), "PNG"))
    assert cutout.photo_alpha is None and cutout.alpha.min() < 50 and cutout.alpha.max() > 200


def test_downscale_consent_reaches_decode(monkeypatch):
    """Over the limit: refused without consent, downscaled to fit with it, and said."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 600)
    data = encode(gradient_photo(40, 30), "PNG")
    with pytest.raises(TooLargeError):
        cut(data)
    cutout = cut(data, downscale=True)
    assert cutout.image.size == (28, 21)
    assert cutout.notes == ("Downscaled from 40×30 to 28×21 to fit the 0 MP limit.",)


def test_cli_says_the_limit_and_how_to_downscale(fake_session, monkeypatch, tmp_path, capsys):
    """Without --downscale a photo over the limit is skipped with the size, the limit and
    the flag to use; with it, it is downscaled and the note printed."""
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 600)
    photo = tmp_path / "big.png"
    photo.write_bytes(encode(gradient_photo(40, 30), "PNG"))
    assert cli.main([str(photo), "--out", str(tmp_path / "o")]) == 1
    assert ("big.png: failed: The photo is 40×30 (0 MP); the largest we can process is 0 MP. "
            "Run again with --downscale to downscale it to fit.") in capsys.readouterr().err
    assert cli.main([str(photo), "--out", str(tmp_path / "o"), "--downscale"]) == 0
    assert "big.png: note: Downscaled from 40×30 to 28×21" in capsys.readouterr().out
    assert Image.open(tmp_path / "o" / "big-cutout.png").size == (28, 21)


def test_cli_prints_the_animation_note_and_can_drop_the_profile(fake_session, tmp_path, capsys):
    frames = [Image.new("RGB", (20, 10), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    photo = tmp_path / "moving.gif"
    photo.write_bytes(encode(frames[0], "GIF", save_all=True, append_images=frames[1:]))
    still = tmp_path / "profiled.jpg"
    still.write_bytes(photo_with_metadata())
    assert cli.main([str(photo), str(still), "--out", str(tmp_path / "o"), "--no-colour-profile"]) == 0
    assert "moving.gif: note: Animated image: the first frame was used." in capsys.readouterr().out
    assert b"iCCP" not in (tmp_path / "o" / "profiled-cutout.png").read_bytes()
