"""Unit tests for app.core.spec: the manifest is read faithfully, unknown names and
bad values fail loudly.
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from app.core.spec import DEFAULT_MODEL, MANIFEST_PATH, ModelFile, ModelSpec, get_spec, load_specs

SPEC_FIELDS = ("file", "sha256", "bytes", "label", "input_name", "output_name", "input_size")


def make_spec(**overrides) -> ModelSpec:
    values = dict(
        name="tiny", file="tiny.onnx", sha256="0" * 64, bytes=1, label="Tiny",
        input_name="input", output_name="output", input_size=4,
        mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0),
    )
    values.update(overrides)
    return ModelSpec(**values)


def write_manifest(tmp_path, **entries) -> str:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def manifest_entry(**overrides) -> dict:
    entry = {
        "file": "m.onnx", "sha256": "ab" * 32, "bytes": "123", "label": "M",
        "input_name": "in", "output_name": "out", "input_size": "8",
        "mean": [0.1, 0.2, 0.3], "std": [1, 2, 4],
    }
    entry.update(overrides)
    return entry


def test_manifest_has_both_isnet_models():
    """load_specs() reads exactly the two shipped models from models/manifest.json."""
    assert sorted(load_specs()) == ["isnet-fp16", "isnet-int8"]


@pytest.mark.parametrize("name", ["isnet-fp16", "isnet-int8"])
def test_specs_equal_manifest_values(name):
    """Every spec field equals the manifest entry (read independently with json)."""
    raw = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))[name]
    spec = load_specs()[name]
    assert spec.name == name
    for field in SPEC_FIELDS:
        assert getattr(spec, field) == raw[field], field
    assert spec.mean == tuple(raw["mean"])
    assert spec.std == tuple(raw["std"])
    f16 = raw.get("shader_f16")
    assert spec.shader_f16 == (f16 and ModelFile(f16["file"], f16["sha256"], f16["bytes"]))


def test_manifest_model_files_and_shapes():
    """The app runs prepared 1024² ISNet files named after the model, with 64-hex hashes;
    the 16-bit one derived from the raw file of its name, the int8 one quantized from it."""
    raw = json.loads(MANIFEST_PATH.read_text())
    for name, spec in load_specs().items():
        assert spec.file.startswith(f"{name}") and raw[name]["raw"]["file"] == "isnet-fp16.onnx"
        assert spec.input_size == 1024
        assert (spec.input_name, spec.output_name) == ("input", "output")
        assert len(spec.sha256) == 64 and int(spec.sha256, 16) >= 0
    assert load_specs()["isnet-fp16"].shader_f16.file == "isnet-fp16-compute16.onnx"
    assert load_specs()["isnet-int8"].shader_f16 is None   # 8-bit: no 16-bit compute to offer
    assert raw["isnet-fp16"]["raw"]["bytes"] == 88_188_479
    assert raw["isnet-int8"]["made_by"] == "builder.quantize_model"
    assert raw["isnet-int8"]["raw"] == raw["isnet-fp16"]["raw"]


def test_load_specs_converts_types(tmp_path):
    """load_specs turns string numbers into int and lists into float tuples."""
    spec = load_specs(write_manifest(tmp_path, m=manifest_entry()))["m"]
    assert spec == ModelSpec(
        name="m", file="m.onnx", sha256="ab" * 32, bytes=123, label="M", input_name="in",
        output_name="out", input_size=8, mean=(0.1, 0.2, 0.3), std=(1.0, 2.0, 4.0),
    )
    assert type(spec.bytes) is int and type(spec.input_size) is int
    assert all(type(v) is float for v in spec.mean + spec.std)


def test_load_specs_validates_entries(tmp_path):
    """A manifest entry with a zero std is refused with ValueError naming the model."""
    path = write_manifest(tmp_path, broken=manifest_entry(std=[1, 0, 1]))
    with pytest.raises(ValueError, match="^broken: mean/std"):
        load_specs(path)


def test_default_model_is_in_manifest():
    """get_spec() with no argument returns the default model, which the manifest lists."""
    assert DEFAULT_MODEL == "isnet-int8"
    assert get_spec() == load_specs()[DEFAULT_MODEL]


def test_get_spec_unknown_name_lists_known_models():
    """get_spec of an unknown name raises KeyError naming it and the known models, sorted."""
    with pytest.raises(KeyError) as caught:
        get_spec("u2net")
    assert caught.value.args[0] == "unknown model 'u2net'; known models: isnet-fp16, isnet-int8"


def test_get_spec_reads_given_manifest(tmp_path):
    """get_spec(name, path) reads that manifest, not the default one."""
    path = write_manifest(tmp_path, only=manifest_entry())
    assert get_spec("only", path).input_size == 8
    with pytest.raises(KeyError, match="known models: only"):
        get_spec(DEFAULT_MODEL, path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"input_size": 0}, "tiny: input_size must be positive"),
        ({"input_size": -1024}, "tiny: input_size must be positive"),
        ({"mean": (0.5, 0.5)}, "tiny: mean/std must be three numbers, std > 0"),
        ({"std": (1.0, 1.0, 1.0, 1.0)}, "tiny: mean/std must be three numbers, std > 0"),
        ({"std": (1.0, 0.0, 1.0)}, "tiny: mean/std must be three numbers, std > 0"),
        ({"std": (1.0, 1.0, -0.5)}, "tiny: mean/std must be three numbers, std > 0"),
    ],
)
def test_model_spec_rejects_bad_values(overrides, message):
    """ModelSpec refuses a non-positive size, wrong-length mean/std and std <= 0, by name."""
    with pytest.raises(ValueError) as caught:
        make_spec(**overrides)
    assert str(caught.value) == message


def test_model_spec_accepts_valid_values_and_is_frozen():
    """A valid ModelSpec keeps its values and cannot be changed afterwards."""
    spec = make_spec(input_size=2, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))
    assert (spec.input_size, spec.mean, spec.std) == (2, (0.1, 0.2, 0.3), (0.5, 0.25, 2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.input_size = 1024


def test_a_model_runs_at_its_size_and_at_multiples_of_its_input_multiple_only():
    fixed = make_spec(input_size=1024)
    free = make_spec(input_size=1024, input_multiple=64)
    assert fixed.runs_at(1024) and not fixed.runs_at(320)
    assert free.runs_at(1024) and free.runs_at(320) and free.runs_at(64)
    assert not free.runs_at(300) and not free.runs_at(0)
    with pytest.raises(ValueError, match="multiple of input_multiple"):
        make_spec(input_size=1000, input_multiple=64)


def test_the_8_bit_model_runs_at_any_multiple_of_64_and_the_16_bit_one_at_1024_only():
    specs = load_specs()
    assert specs["isnet-int8"].input_multiple == 64 and specs["isnet-fp16"].input_multiple == 0
