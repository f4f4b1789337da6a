"""Unit tests for what a run of `cutout` works on and where each result goes
(app/cli/catalogue.py): folders walked to any depth, the output tree mirroring the input
tree, and no two photos ever sharing an output name.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.cli import catalogue


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def outputs(plan: catalogue.Plan, out: Path) -> dict[str, str]:
    """source (relative to cwd) -> output (relative to out), in the plan's order."""
    return {str(photo.source): str(photo.output.relative_to(out)) for photo in plan.photos}


def test_a_folder_is_walked_to_any_depth_files_before_sub_folders_names_sorted(tmp_path):
    touch(tmp_path / "shop", "b.JPG", "a.png", "shoes/red.webp", "shoes/deep/er/blue.tiff", "bags/tote.jpeg",
          "c.heic", "d.pdf", "e.svg")
    plan = catalogue.plan_run([tmp_path / "shop"], tmp_path / "out", "png")
    shop = tmp_path / "shop"
    assert [str(p.source.relative_to(shop)) for p in plan.photos] == [
        "a.png", "b.JPG", "c.heic", "d.pdf", "e.svg", "bags/tote.jpeg", "shoes/red.webp", "shoes/deep/er/blue.tiff"]
    assert [str(p.output.relative_to(tmp_path / "out")) for p in plan.photos] == [
        "a-cutout.png", "b-cutout.png", "c-cutout.png", "d-cutout.png", "e-cutout.png",
        "bags/tote-cutout.png", "shoes/red-cutout.png", "shoes/deep/er/blue-cutout.png"]


def test_other_files_are_listed_as_not_photos_and_hidden_ones_left_out(tmp_path):
    touch(tmp_path, "a.jpg", "notes.txt", "sheet.csv", "noext", ".DS_Store", ".hidden.jpg",
          ".thumbnails/t.jpg", "sub/readme.md", "sub/.partial.png")
    plan = catalogue.plan_run([tmp_path], tmp_path / "out", "png")
    assert [p.source.name for p in plan.photos] == ["a.jpg"]
    assert sorted(str(p.relative_to(tmp_path)) for p in plan.not_photos) == [
        "noext", "notes.txt", "sheet.csv", "sub/readme.md"]


def test_the_output_folder_inside_the_input_is_not_taken_for_photos(tmp_path):
    """`cutout photos --out photos/cutouts` twice must not cut out the cutouts."""
    touch(tmp_path, "a.jpg", "cutouts/a-cutout.png", "cutouts/more/b-cutout.png")
    plan = catalogue.plan_run([tmp_path], tmp_path / "cutouts", "png")
    assert [p.source.name for p in plan.photos] == ["a.jpg"]


def test_the_tree_mirrors_the_inputs_below_their_common_folder(tmp_path, monkeypatch):
    touch(tmp_path, "shop/a/one.jpg", "shop/b/photo.jpg", "shop/c/photo.jpg", "loose.png")
    monkeypatch.chdir(tmp_path)
    out = Path("out")
    # One folder: its own tree.
    assert outputs(catalogue.plan_run([Path("shop/a")], out, "png"), out) == {"shop/a/one.jpg": "one-cutout.png"}
    # Folders side by side: each under its name (two photo.jpg from two folders stay apart).
    assert outputs(catalogue.plan_run([Path("shop/b"), Path("shop/c")], out, "png"), out) == {
        "shop/b/photo.jpg": "b/photo-cutout.png", "shop/c/photo.jpg": "c/photo-cutout.png"}
    # Two files in different folders given together: the same.
    assert outputs(catalogue.plan_run([Path("shop/b/photo.jpg"), Path("shop/c/photo.jpg")], out, "png"), out) == {
        "shop/b/photo.jpg": "b/photo-cutout.png", "shop/c/photo.jpg": "c/photo-cutout.png"}
    # A file alone: straight into out.
    assert outputs(catalogue.plan_run([Path("loose.png")], out, "webp"), out) == {"loose.png": "loose-cutout.webp"}
    # A file and a folder: below their common folder.
    assert outputs(catalogue.plan_run([Path("loose.png"), Path("shop")], out, "mask"), out) == {
        "loose.png": "loose-mask.png", "shop/a/one.jpg": "shop/a/one-mask.png",
        "shop/b/photo.jpg": "shop/b/photo-mask.png", "shop/c/photo.jpg": "shop/c/photo-mask.png"}


def test_photos_whose_names_would_clash_keep_their_own_suffix(tmp_path):
    """photo.gif and photo.webp both became photo-cutout.png once, one replacing the other."""
    touch(tmp_path, "photo.gif", "photo.webp", "other.jpg")
    plan = catalogue.plan_run([tmp_path], tmp_path / "out", "png")
    assert outputs(plan, tmp_path / "out") == {
        str(tmp_path / "other.jpg"): "other-cutout.png",
        str(tmp_path / "photo.gif"): "photo-gif-cutout.png",
        str(tmp_path / "photo.webp"): "photo-webp-cutout.png"}


def test_names_are_compared_as_a_case_insensitive_file_system_would(tmp_path):
    touch(tmp_path, "Photo.JPG", "photo.jpg", "PHOTO.jpeg")
    names = [p.output.name for p in catalogue.plan_run([tmp_path], tmp_path / "out", "png").photos]
    assert len({name.casefold() for name in names}) == 3, names
    assert names == ["PHOTO-jpeg-cutout.png", "Photo-jpg-cutout.png", "photo-jpg-cutout-2.png"]


def test_a_clash_left_after_the_suffixes_is_numbered_in_order(tmp_path):
    """a.png and a.jpg keep their suffixes: a-png-cutout.png is then also a-png.jpg's name,
    so the later of the two in the plan's order is numbered."""
    touch(tmp_path, "a.png", "a.jpg", "a-png.jpg")
    plan = catalogue.plan_run([tmp_path], tmp_path / "out", "png")
    assert {p.source.name: p.output.name for p in plan.photos} == {
        "a-png.jpg": "a-png-cutout.png", "a.jpg": "a-jpg-cutout.png", "a.png": "a-png-cutout-2.png"}


def test_the_same_photo_given_twice_is_taken_once(tmp_path, monkeypatch):
    touch(tmp_path, "shop/a.jpg", "shop/b.jpg")
    monkeypatch.chdir(tmp_path)
    plan = catalogue.plan_run([Path("shop"), Path("shop/a.jpg"), Path("./shop/a.jpg")], Path("out"), "png")
    assert [str(p.source) for p in plan.photos] == ["shop/a.jpg", "shop/b.jpg"]


def test_a_missing_file_given_by_name_is_still_planned_so_its_failure_is_reported(tmp_path):
    plan = catalogue.plan_run([tmp_path / "gone.jpg"], tmp_path / "out", "png")
    assert [p.output.name for p in plan.photos] == ["gone-cutout.png"]


def test_planning_is_deterministic(tmp_path):
    touch(tmp_path, *(f"{folder}/{name}.{ext}" for folder in "ab" for name in ("x", "X", "y") for ext in ("jpg", "png")))
    first = catalogue.plan_run([tmp_path], tmp_path / "out", "png")
    assert catalogue.plan_run([tmp_path], tmp_path / "out", "png") == first
    outputs_ = [str(p.output).casefold() for p in first.photos]
    assert len(set(outputs_)) == len(outputs_) == 12


@pytest.mark.parametrize("names", [
    ["photo.gif", "photo.webp", "photo.GIF.png", "photo-gif.jpg", "Photo-GIF.png", "photo-gif-cutout.png"],
    ["a.jpg", "A.JPG", "a.jpeg", "a-jpg.png", "a-jpg-cutout.png", "a-jpg-cutout-2.png", "A-JPG.bmp"],
])
def test_no_two_photos_ever_share_an_output_name(tmp_path, names):
    touch(tmp_path, *names)
    outputs_ = [str(p.output).casefold() for p in catalogue.plan_run([tmp_path], tmp_path / "out", "png").photos]
    assert len(outputs_) == len(names) and len(set(outputs_)) == len(outputs_), outputs_


def test_partial_files_are_hidden_beside_their_output_and_found_after_an_interruption(tmp_path):
    output = tmp_path / "out" / "shoes" / "red-cutout.png"
    partial = catalogue.partial_name(output, "1234")
    assert partial.parent == output.parent and partial.name == ".red-cutout.png.1234.partial"
    assert catalogue.is_partial(partial) and not catalogue.is_partial(output)
    touch(tmp_path, "out/shoes/.red-cutout.png.1234.partial", "out/shoes/red-cutout.png", "out/.x.9.partial")
    assert sorted(os.path.relpath(p, tmp_path) for p in catalogue.leftover_partials(tmp_path / "out")) == [
        "out/.x.9.partial", "out/shoes/.red-cutout.png.1234.partial"]
    assert catalogue.leftover_partials(tmp_path / "nowhere") == []
