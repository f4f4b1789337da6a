"""Unit tests for the command line (`cutout`, app/cli).

Most tests replace the onnxruntime session with a fake (the mask is the photo's red
channel), so they check the command's behaviour, not the model. One test, marked
`model`, runs the real fp16 model once on a real photo (tests/photos.py).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app.cli as cli
from app.core.options import Options
from app.core.errors import InputError
from app.core.preprocess import decode
from app.core.spec import get_spec
from tests import photos
from tests.helpers import encode, find_model, gradient_photo


class FakeSession:
    """Stands in for NativeSession: records how it was made; the mask is the red channel."""

    made: list[tuple] = []

    @classmethod
    def from_dir(cls, model_dir, spec, threads=None):
        cls.made.append((Path(model_dir), spec.name, threads))
        return cls()

    async def __call__(self, tensor):
        return tensor[:, :1].copy()


@pytest.fixture
def fake_session(monkeypatch):
    FakeSession.made = []
    monkeypatch.setattr(cli, "NativeSession", FakeSession)
    return FakeSession


@pytest.fixture
def photo_folder(tmp_path):
    """Two photos (PNG 60×40, JPEG 30×50), a text file, a broken .jpg and a sub-folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "first.png").write_bytes(encode(gradient_photo(60, 40), "PNG"))
    (folder / "second.jpg").write_bytes(encode(gradient_photo(30, 50), "JPEG", quality=95))
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "zz-broken.jpg").write_text("this is text with a .jpg name\n")
    (folder / "nested").mkdir()
    (folder / "nested" / "inner.png").write_bytes(encode(gradient_photo(8, 8), "PNG"))
    return folder


# --------------------------------------------------------------------------------------
# find_photos and output_name
# --------------------------------------------------------------------------------------
def test_find_photos_in_folder_sorted_by_suffix_not_recursive(tmp_path):
    """A folder yields its photo files (any case of suffix), sorted, skipping other files
    and sub-folders.
    """
    for name in ["b.JPG", "a.png", "c.webp", "d.jpeg", "e.txt", "f", "g.tiff", "h.onnx"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.png").write_bytes(b"x")
    names = [p.name for p in cli.find_photos([tmp_path])]
    assert names == ["a.png", "b.JPG", "c.webp", "d.jpeg", "g.tiff"]


def test_find_photos_skips_folder_named_like_photo(tmp_path):
    """A sub-folder called 'album.jpg' is not taken for a photo."""
    (tmp_path / "album.jpg").mkdir()
    (tmp_path / "a.png").write_bytes(b"x")
    assert [p.name for p in cli.find_photos([tmp_path])] == ["a.png"]


def test_find_photos_keeps_given_files_in_order(tmp_path):
    """Files named on the command line are kept as given, whatever their suffix, in order,
    with folder contents spliced in at the folder's position.
    """
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"x")
    given = [tmp_path / "z.txt", folder, tmp_path / "a.jpg"]
    assert cli.find_photos(given) == [tmp_path / "z.txt", folder / "x.png", tmp_path / "a.jpg"]


def test_find_photos_empty():
    """No paths give no photos."""
    assert cli.find_photos([]) == []


@pytest.mark.parametrize(
    "photo, name",
    [
        ("cat.jpg", "cat-cutout.png"),
        ("dir/Holiday.Photo.JPEG", "Holiday.Photo-cutout.png"),
        ("/abs/path/scan.png", "scan-cutout.png"),
        ("no_suffix", "no_suffix-cutout.png"),
    ],
)
def test_output_name(photo, name):
    """The cutout of `<dir>/<stem>.<ext>` is named `<stem>-cutout.png` (no folder)."""
    assert cli.output_name(Path(photo)) == name


# --------------------------------------------------------------------------------------
# main, with a fake session
# --------------------------------------------------------------------------------------
def test_main_cuts_out_folder_and_reports_bad_file(fake_session, photo_folder, tmp_path, capsys):
    """A folder with two photos, a text file and a broken .jpg: two RGBA cutouts of the
    photos' sizes with a non-constant alpha, the broken file reported on stderr, exit 1.
    """
    out = tmp_path / "out" / "deeper"                 # created by the command
    plain = ["--no-refine-edges", "--no-decontaminate", "--no-remove-specks"]   # exact answer
    status = cli.main([str(photo_folder), "--out", str(out), *plain])
    captured = capsys.readouterr()
    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == ["first-cutout.png", "second-cutout.png"]
    for name, size in [("first", (60, 40)), ("second", (30, 50))]:
        cutout = Image.open(out / f"{name}-cutout.png")
        assert (cutout.format, cutout.mode, cutout.size) == ("PNG", "RGBA", size)
        alpha = np.asarray(cutout.getchannel("A"))
        assert alpha[:, 0].max() < 10 and alpha[:, -1].min() > 245   # follows the red ramp
        photo = decode((photo_folder / f"{name}.{'png' if name == 'first' else 'jpg'}").read_bytes())
        np.testing.assert_array_equal(np.asarray(cutout)[..., :3], np.asarray(photo))
    assert captured.err.splitlines() == [
        f"{photo_folder / 'zz-broken.jpg'}: skipped: "
        "This file is not an image we can read (JPEG, PNG or WebP)."
    ]
    lines = captured.out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{photo_folder / 'first.png'} -> {out / 'first-cutout.png'} (")
    assert lines[1].startswith(f"{photo_folder / 'second.jpg'} -> {out / 'second-cutout.png'} (")
    assert "decode" in lines[0] and "encode" in lines[0]


def test_main_returns_0_when_all_succeed(fake_session, tmp_path, capsys):
    """Only good photos: exit status 0 and nothing on stderr."""
    photo = tmp_path / "only.png"
    photo.write_bytes(encode(gradient_photo(16, 12), "PNG"))
    assert cli.main([str(photo), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == ""
    assert Image.open(tmp_path / "out" / "only-cutout.png").size == (16, 12)


def test_main_reports_missing_file(fake_session, tmp_path, capsys):
    """A named file that does not exist is reported and counted as a failure."""
    missing = tmp_path / "gone.jpg"
    assert cli.main([str(missing), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{missing}: skipped: ") and "No such file" in err


def test_main_passes_model_dir_and_threads(fake_session, tmp_path):
    """--model, --model-dir and --threads reach the session; the default model is isnet-int8."""
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    cli.main([str(photo), "--out", str(tmp_path / "o1")])
    cli.main([str(photo), "--out", str(tmp_path / "o2"), "--model", "isnet-fp16",
              "--model-dir", str(tmp_path / "m"), "--threads", "3"])
    assert fake_session.made == [
        (cli.DEFAULT_MODEL_DIR, "isnet-int8", None),
        (tmp_path / "m", "isnet-fp16", 3),
    ]


def test_main_rejects_unknown_model(fake_session, tmp_path, capsys):
    """--model with an unknown name exits with status 2 listing the valid choices."""
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path), "--out", str(tmp_path / "o"), "--model", "u2net"])
    assert caught.value.code == 2
    assert "invalid choice: 'u2net' (choose from 'isnet-fp16', 'isnet-int8')" in capsys.readouterr().err


def test_main_requires_out(fake_session, tmp_path, capsys):
    """Without --out the command exits with status 2 and says --out is required."""
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path)])
    assert caught.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_main_missing_model_file_names_build_step(tmp_path, capsys):
    """With no model file in --model-dir the CLI exits 2, pointing at build.py."""
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    code = cli.main([str(photo), "--out", str(tmp_path / "o"), "--model-dir", str(tmp_path)])
    assert code == 2
    assert re.search(re.escape(get_spec().file) + r" is missing: run `python3 build\.py`",
                     capsys.readouterr().err)


def test_main_refuses_altered_model_file(tmp_path, capsys):
    """A model file whose sha256 differs from the manifest is refused before any photo,
    naming the file, the actual and the expected hash.
    """
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(8, 8), "PNG"))
    (tmp_path / get_spec().file).write_bytes(b"not a model")
    actual = hashlib.sha256(b"not a model").hexdigest()
    code = cli.main([str(photo), "--out", str(tmp_path / "o"), "--model-dir", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / get_spec().file} does not match {get_spec().name}: sha256 {actual}, "
        f"expected {get_spec().sha256}"
    )
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------------------
# main, with the real model (slow: one 1024² inference)
# --------------------------------------------------------------------------------------
# Where the coffee photo (600×400, tests/photos.py) is plainly subject or background,
# judged by eye: (rows, columns).
COFFEE_SUBJECT = {"crema in the cup": (slice(80, 140), slice(160, 260)),
                  "front of the saucer": (slice(330, 350), slice(250, 350))}
COFFEE_TABLE = {"top left": (slice(0, 60), slice(0, 60)), "top right": (slice(0, 60), slice(540, 600)),
                "bottom left": (slice(340, 400), slice(0, 60)), "bottom right": (slice(340, 400), slice(540, 600))}


@pytest.mark.model
def test_main_with_real_model_on_a_real_photo(tmp_path, capsys):
    """The default model cuts out a real photo (a cup of coffee on a table): RGBA at the
    photo's size, opaque pixels in the photo's own colours (decontamination only
    recolours partly transparent ones), the cup and saucer opaque, the table at the
    corners transparent.
    """
    model = find_model(get_spec().file)
    assert model is not None, "the default model is in neither dist/models nor /tmp/models: run build.py"
    photo = photos.save(tmp_path / "coffee.jpg", "coffee", quality=95)
    status = cli.main([str(photo), "--out", str(tmp_path), "--model-dir", str(model.parent)])
    assert status == 0, capsys.readouterr().err
    cutout = Image.open(tmp_path / "coffee-cutout.png")
    assert (cutout.mode, cutout.size) == ("RGBA", (600, 400))
    alpha = np.asarray(cutout.getchannel("A"), dtype=np.float64) / 255
    opaque = alpha == 1
    assert 0.3 < opaque.mean() < 0.6                       # measured: 0.47
    photo_rgb = np.asarray(decode(photo.read_bytes()), dtype=np.int16)
    assert np.abs(np.asarray(cutout, dtype=np.int16)[..., :3] - photo_rgb)[opaque].max() <= 1
    for name, box in COFFEE_SUBJECT.items():
        assert alpha[box].mean() > 0.95, name               # measured: 0.996 and 1.0
    for name, box in COFFEE_TABLE.items():
        assert alpha[box].max() < 0.02, name                # measured: 0.0


def test_edge_flags_reach_the_pipeline(fake_session, monkeypatch, tmp_path):
    """Each Options field has a flag; their values reach remove_background as Options."""
    seen = []
    real = cli.pipeline.remove_background

    async def spy(photo, infer, spec, options=None, on_stage=None, downscale=False):
        seen.append(options)
        return await real(photo, infer, spec, options, on_stage, downscale)

    monkeypatch.setattr(cli.pipeline, "remove_background", spy)
    photo = tmp_path / "p.png"
    photo.write_bytes(encode(gradient_photo(16, 12), "PNG"))
    args = ["--no-decontaminate", "--keep-main-subject", "--shift-edge", "-1.5", "--feather", "2"]
    assert cli.main([str(photo), "--out", str(tmp_path / "o"), *args]) == 0
    assert seen == [Options(decontaminate=False, keep_main_subject=True, shift_edge=-1.5, feather=2.0)]


def test_out_of_range_edge_flag_is_a_usage_error(tmp_path, capsys):
    """A value Options refuses is reported like any bad argument (exit 2), before any work."""
    with pytest.raises(SystemExit) as caught:
        cli.main([str(tmp_path), "--out", str(tmp_path / "o"), "--feather", "-3"])
    assert caught.value.code == 2
    assert "feather must be between 0 and" in capsys.readouterr().err
