"""Unit tests for app.core.archive: the streamed ZIP of "Download all"."""
from __future__ import annotations

import io
import zipfile

from app.core.archive import ZipStream


def test_the_pieces_make_one_zip_with_every_file_intact():
    """Joined, the returned pieces are a valid ZIP holding each file byte for byte, and
    each `add` hands out that file at once (the writer keeps nothing back)."""
    files = {"a-cutout.png": b"\x89PNG" + bytes(range(256)) * 40, "b-cutout.jpg": b"\xff\xd8" * 999,
             "report.txt": "Failed: c.heic\n".encode()}
    archive = ZipStream()
    pieces = []
    for name, data in files.items():
        piece = archive.add(name, data)
        assert len(piece) >= len(data)
        pieces.append(piece)
    pieces.append(archive.close())
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as opened:
        assert opened.testzip() is None
        assert opened.namelist() == list(files)
        assert {name: opened.read(name) for name in files} == files


def test_the_same_name_twice_gets_a_number():
    """Two photos called the same (from two folders) both arrive, neither overwritten."""
    archive = ZipStream()
    pieces = [archive.add("IMG_1-cutout.png", b"1"), archive.add("img_1-cutout.png", b"2"),
              archive.add("IMG_1-cutout.png", b"3"), archive.add("README", b"4"), archive.add("README", b"5")]
    pieces.append(archive.close())
    with zipfile.ZipFile(io.BytesIO(b"".join(pieces))) as opened:
        assert opened.namelist() == ["IMG_1-cutout.png", "img_1-cutout (2).png", "IMG_1-cutout (3).png",
                                     "README", "README (2)"]
        assert [opened.read(name) for name in opened.namelist()] == [b"1", b"2", b"3", b"4", b"5"]


def test_an_empty_archive_is_still_a_zip():
    with zipfile.ZipFile(io.BytesIO(ZipStream().close())) as opened:
        assert opened.namelist() == []
