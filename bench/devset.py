"""Shared helpers for the benchmarks: the devset layout and a disk cache of model masks.

The devset (`../shared/devset`, see its README) holds `<category>/<name>.jpg` photos
with `<name>.gt.png` ground truth; `manifest.json` gives each pair's `gt_type`
("alpha": soft matte, "binary": hand-drawn mask). Inference costs seconds per photo,
so the raw (1, 1, S, S) model outputs are cached under `bench/out/masks/<model>/`,
keyed by the model's sha256 and the photo's bytes (or, for a photo made in memory such
as a devset photo enlarged to camera size, its size and pixels); experiments with post-processing
then run without the model.

Imports: NumPy, Pillow, `app`; onnxruntime only when a mask is not cached yet.
"""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.core import preprocess  # noqa: E402
from app.core.spec import ModelSpec  # noqa: E402

DEFAULT_DEVSET = REPO.parent / "shared" / "devset"
DEFAULT_MODEL_DIR = REPO / "dist" / "models"
OUT = REPO / "bench" / "out"
CATEGORY_ORDER = ("people", "animals", "hair_soft", "fur_soft", "objects", "thin_holes", "hard")


@dataclass(frozen=True)
class Pair:
    """One photo with its ground truth."""

    name: str
    category: str
    gt_type: str          # "alpha" or "binary"
    photo: Path
    gt: Path

    def load(self) -> tuple[Image.Image, np.ndarray]:
        """(RGB photo in display orientation, (H, W) uint8 ground truth)."""
        image = preprocess.decode(self.photo.read_bytes())
        gt = np.asarray(Image.open(self.gt).convert("L"))
        if gt.shape != (image.height, image.width):
            raise ValueError(f"{self.gt}: {gt.shape} does not match the photo {image.size}")
        return image, gt


def load_pairs(root: Path | str = DEFAULT_DEVSET) -> list[Pair]:
    """Every pair under `root`, in category order then by name."""
    root = Path(root)
    manifest = root / "manifest.json"
    gt_types = {}
    if manifest.is_file():
        gt_types = {p["name"]: p["gt_type"] for p in json.loads(manifest.read_text())["pairs"]}
    pairs = []
    for gt in sorted(root.glob("*/*.gt.png")):
        name = gt.name[: -len(".gt.png")]
        photo = gt.with_name(name + ".jpg")
        if not photo.is_file():
            continue
        gt_type = gt_types.get(name)
        if gt_type is None:    # no manifest entry: a matte has values other than 0/255
            values = np.unique(np.asarray(Image.open(gt).convert("L")))
            gt_type = "binary" if set(values.tolist()) <= {0, 255} else "alpha"
        pairs.append(Pair(name, gt.parent.name, gt_type, photo, gt))
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    pairs.sort(key=lambda p: (order.get(p.category, len(order)), p.category, p.name))
    return pairs


class MaskCache:
    """Raw model outputs for photos, computed once per (model, photo) and kept as .npy."""

    def __init__(self, spec: ModelSpec, model_dir: Path | str, cache_dir: Path | str = OUT / "masks"):
        self.spec = spec
        self.model_dir = Path(model_dir)
        self.dir = Path(cache_dir) / spec.name
        self._session = None

    def _path(self, *content: bytes) -> Path:
        key = self.spec.sha256 + ("@%d" % self.spec.input_size if "@" in self.spec.name else "")
        digest = hashlib.sha256(key.encode())
        for part in content:
            digest.update(part)
        return self.dir / f"{digest.hexdigest()[:20]}.npy"

    def raw(self, photo: Path, image: Image.Image | None = None) -> np.ndarray:
        """The (1, 1, S, S) float32 model output for `photo`, keyed by the file's bytes."""
        data = photo.read_bytes()
        return self._cached(self._path(data), lambda: image if image is not None else preprocess.decode(data))

    def raw_image(self, image: Image.Image) -> np.ndarray:
        """The (1, 1, S, S) float32 model output for an in-memory RGB `image` (e.g. a devset
        photo enlarged to camera size), keyed by its size and pixels."""
        header = f"pixels:{image.mode}:{image.width}x{image.height}:".encode()
        return self._cached(self._path(header, image.tobytes()), lambda: image)

    def _cached(self, path: Path, image) -> np.ndarray:
        if path.is_file():
            return np.load(path)
        if self._session is None:
            from app.runtime.ort_native import NativeSession

            self._session = NativeSession.from_dir(self.model_dir, self.spec)
        output = self._session.run(preprocess.to_tensor(image(), self.spec)).astype(np.float32)
        self.dir.mkdir(parents=True, exist_ok=True)
        np.save(path, output)
        return output


def model_spec(name: str) -> ModelSpec:
    """The manifest model `name`, or `name@SIDE`: that model run on a SIDE x SIDE input
    instead of its own size (it must run there: `ModelSpec.runs_at`), its masks cached
    apart."""
    from dataclasses import replace

    from app.core.spec import get_spec

    base, _, side = name.partition("@")
    spec = get_spec(base)
    if not side:
        return spec
    if not spec.runs_at(int(side)):
        raise SystemExit(f"{base} does not run on a {side} x {side} input")
    return replace(spec, name=name, input_size=int(side))


def file_spec(path: Path | str, like: str = "isnet-fp16") -> ModelSpec:
    """A spec for a model file outside the manifest (e.g. the static int8 model of
    builder/quantize_model.py): named after the file, hashed as it is now, with the
    input, output and normalisation of manifest model `like`. Use it with
    `MaskCache(spec, path.parent)`; masks are cached under its own hash."""
    from dataclasses import replace

    from app.core.spec import get_spec

    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"--model-file: {path} is not a file")
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    return replace(get_spec(like), name=path.stem, file=path.name, sha256=digest.hexdigest(),
                   bytes=path.stat().st_size, label=f"{path.name} (not in the manifest)")


def parse_options(pairs: list[str]):
    """`Options()` with `key=value` overrides (switches: true/false); a wrong name or value
    stops the run with `Options`' own message."""
    from app.core.options import Options

    defaults = Options().to_dict()
    words = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}
    values = {}
    for item in pairs:
        key, _, text = item.partition("=")
        default = defaults.get(key)
        try:
            values[key] = words[text.lower()] if isinstance(default, bool) else float(text)
        except (KeyError, ValueError):
            raise SystemExit(f"--set {item}: not a valid value for {key}") from None
    try:
        return Options.from_dict(values)
    except ValueError as error:
        raise SystemExit(f"--set: {error}") from None
