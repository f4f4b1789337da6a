"""Model specifications, read from `models/manifest.json` (the single source of
file names, hashes, sizes and normalisation for every model we ship).

Imports: standard library only (build tooling may read it too).

    >>> from app.core.spec import load_specs, DEFAULT_MODELS
    >>> load_specs()[DEFAULT_MODELS["wasm"]].input_size
    1024
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "models" / "manifest.json"

# The default model for each inference back-end, chosen by measurement (README.md, "Which
# model runs by default"). WebAssembly and the command line: the statically quantized 8-bit
# model (builder/quantize_model.py), faster than the 16-bit one (in WebAssembly 6.6 s vs 9.6 s
# a run, natively 2.4x) and no worse on the devset's edges. WebGPU: the 16-bit model, whose
# float kernels a graphics card runs natively (app.core.backends.default_model chooses).
DEFAULT_MODELS = {"wasm": "isnet-int8", "webgpu": "isnet-fp16", "native": "isnet-int8"}
DEFAULT_MODEL = DEFAULT_MODELS["native"]


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its name in models/, sha256 and size."""

    file: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class ModelSpec:
    """What the pipeline needs to know about one model: the file every back-end runs and,
    for WebGPU devices with shader-f16, a file that computes in 16-bit."""

    name: str
    file: str
    sha256: str
    bytes: int
    label: str
    input_name: str
    output_name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    shader_f16: ModelFile | None = None
    webgpu: bool = False     # whether WebGPU can run it (the 8-bit model's integer ops cannot)
    # Besides input_size, the model runs on any square input whose side is a multiple of
    # this (builder/prepare_model.py --any-size); 0: on input_size only.
    input_multiple: int = 0

    def runs_at(self, side: int) -> bool:
        """Whether the model runs on a `side` x `side` input."""
        return side == self.input_size or bool(self.input_multiple and side > 0 and side % self.input_multiple == 0)

    def __post_init__(self):
        if self.input_size <= 0:
            raise ValueError(f"{self.name}: input_size must be positive")
        if self.input_multiple < 0 or (self.input_multiple and self.input_size % self.input_multiple):
            raise ValueError(f"{self.name}: input_size must be a multiple of input_multiple")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"{self.name}: mean/std must be three numbers, std > 0")


def load_specs(path: Path | str = MANIFEST_PATH) -> dict[str, ModelSpec]:
    """All model specs in the manifest, by name."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        name: ModelSpec(
            name=name,
            file=entry["file"],
            sha256=entry["sha256"],
            bytes=int(entry["bytes"]),
            label=entry["label"],
            input_name=entry["input_name"],
            output_name=entry["output_name"],
            input_size=int(entry["input_size"]),
            mean=tuple(float(v) for v in entry["mean"]),
            std=tuple(float(v) for v in entry["std"]),
            shader_f16=ModelFile(entry["shader_f16"]["file"], entry["shader_f16"]["sha256"],
                                 int(entry["shader_f16"]["bytes"])) if "shader_f16" in entry else None,
            webgpu=bool(entry.get("webgpu", False)),
            input_multiple=int(entry.get("input_multiple", 0)),
        )
        for name, entry in raw.items()
    }


def get_spec(name: str = DEFAULT_MODEL, path: Path | str = MANIFEST_PATH) -> ModelSpec:
    """One model's spec; a clear error naming the known models otherwise."""
    specs = load_specs(path)
    if name not in specs:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(specs))}")
    return specs[name]
