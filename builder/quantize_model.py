"""A statically quantized int8 ISNet, made reproducibly from the 16-bit model.

    python -m builder.quantize_model --source .cache/models/isnet-fp16.onnx --out PATH
                                     [--photo-root DIR ...] [--work DIR]

Run it with the build venv (onnx, onnxruntime, numpy, Pillow). What it does:

1. `builder.prepare_model.keep_only_output`: keeps only the graph output the app reads
   (`output`); the other 11 side outputs (and the 71 nodes only they need) go.
2. `to_float32`: the 16-bit weights become float32 and the model's own Cast nodes go, so
   the quantizer and the calibration see the fp32 graph that WebAssembly computes anyway.
3. `onnxruntime.quantization.quant_pre_process`: shape inference and ORT's basic graph
   optimisations, as the quantizer recommends.
4. Calibration on the photos listed in models/calibration.json (photos shipped inside the
   scikit-image and scikit-learn wheels; never the devset, which judges the result). Each
   photo is checked by the sha256 of its file and of its model input tensor, made exactly
   as the app makes it (`app.core.preprocess`), so a changed photo or a changed
   pre-processing stops the run instead of silently changing the model.
5. onnxruntime's calibrator (CALIBRATION_METHOD) collects every activation's range, one
   photo at a time; each range is clipped to +-RANGE_LIMIT (why: at RANGE_LIMIT).
6. `quantize_static` in QDQ format from those ranges with the choices below, keeping
   the nodes of EXCLUDED_BLOCKS in float.

Imports: onnx, onnxruntime, numpy, Pillow, the standard library, and `app.core.preprocess`
/ `app.core.spec` (NumPy/Pillow only) for the app's exact pre-processing. Nothing else from
app/. onnx and onnxruntime are imported where used, so the calibration-list helpers also
run (and are unit tested) in the project's .venv, which has no onnx.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CALIBRATION_LIST = REPO / "models" / "calibration.json"
SPEC_NAME = "isnet-fp16"          # mean/std/size/input and output names come from its manifest entry
OUTPUT_NAME = "output"

from builder.prepare_model import keep_only_output  # noqa: E402  (needs REPO on sys.path)

# --- The choices, each measured (bench/int8.py; figures in the commit that set them) ---
CALIBRATION_METHOD = "MinMax"     # MinMax | Entropy | Percentile
PER_CHANNEL = True                # per-output-channel weight scales
REDUCE_RANGE = False
ACTIVATION_TYPE = "QUInt8"        # asymmetric uint8 activations (ORT's CPU/WASM QLinearConv path)
WEIGHT_TYPE = "QInt8"             # symmetric int8 weights
# Every calibrated activation range is clipped to [-RANGE_LIMIT, RANGE_LIMIT]. Seven of the 19
# calibration photos (china, flower, camera, grass, gravel, clock_motion, cell) drive ISNet's
# decoder into a saturated mode: activations up to +-600 and side logits down to -1600, where
# ordinary photos stay within about +-15. Ranges wide enough for them leave 8 bits far too
# coarse for everything else (stage1d's last conv: every value of an ordinary photo rounds to
# 0): IoU 0.50 against the 16-bit mask on held-out photos with plain MinMax. Clipped, those
# photos' masks do not change (flower 0.999, china 0.973) and the others recover.
# Swept on held-out photos (bench/int8.py's mirrored crops; mean IoU / MAE against the
# 16-bit mask): no limit 0.50 / 0.204, 40: 0.933, 20: 0.966 / 0.0094, 16: 0.968 / 0.0084,
# 12: 0.956 / 0.0118.
RANGE_LIMIT: float | None = 16.0
EXTRA_OPTIONS: dict = {}
OP_TYPES_TO_QUANTIZE: list[str] = []      # empty: every op type the QDQ quantizer knows
# Blocks kept in float (every node whose name starts with one of these), with why. Measured
# per block with the limited ranges on the held-out photos (mean IoU / MAE vs 16-bit; all
# int8: 0.968 / 0.0084):
#   /conv_in/  the first conv (0.3 % of the 160 GMAC, 1.7k weights): its input x/255 - 0.5
#              falls half-way between uint8 steps (zero point 127.5); alone in int8 it cost
#              IoU 0.937 (every other single block in int8 alone: 0.968-0.99, pools 0.9998)
#   /side1/, /Resize_5, /Sigmoid   the head (0.1 %, 577 weights): the mask itself stays
#              float instead of 256 output levels
#   with both in float: 0.968 / 0.0049, the lowest MAE measured. Also tried: the 16x16
#   bottleneck /stage6/ in float too: 0.969 / 0.0054 and 30 MB more float weights (no gain).
# Everything else (99.6 % of the MACs) runs in int8.
EXCLUDED_BLOCKS: tuple[str, ...] = ("/conv_in/", "/side1/", "/Resize_5", "/Sigmoid")
NODES_TO_EXCLUDE: list[str] | None = None     # None: the nodes of EXCLUDED_BLOCKS


# --------------------------------------------------------------------------- graph edits

def to_float32(model):
    """float16 initializers become float32 and every Cast between float types goes (the
    16-bit export casts its float32 input to fp16, and around each Resize). Tensors are
    renamed so graph inputs and outputs keep their names."""
    import onnx
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    for index, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT16:
            array = numpy_helper.to_array(tensor).astype(np.float32)
            graph.initializer[index].CopyFrom(numpy_helper.from_array(array, tensor.name))
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type == TensorProto.FLOAT16:
                array = numpy_helper.to_array(attribute.t).astype(np.float32)
                attribute.t.CopyFrom(numpy_helper.from_array(array, attribute.t.name))
    float_types = {TensorProto.FLOAT, TensorProto.FLOAT16}
    graph_outputs = {o.name for o in graph.output}
    alias: dict[str, str] = {}      # tensor name -> the name that replaces it
    kept = []
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type == "Cast" and to in float_types:
            source, target = node.input[0], node.output[0]
            if target in graph_outputs:
                alias[source] = target      # the producer writes the graph output itself
            else:
                alias[target] = source
            continue
        kept.append(node)

    def resolve(name: str) -> str:
        seen = set()
        while name in alias and name not in seen:
            seen.add(name)
            name = alias[name]
        return name

    for node in kept:
        for i, name in enumerate(node.input):
            if name:
                node.input[i] = resolve(name)
        for i, name in enumerate(node.output):
            node.output[i] = resolve(name)
    del graph.node[:]
    graph.node.extend(kept)
    del graph.value_info[:]
    for value in list(graph.input) + list(graph.output):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    return onnx.shape_inference.infer_shapes(model)


def float_model(source: Path):
    """The 16-bit ISNet as an fp32 ModelProto with only `output`."""
    import onnx

    return to_float32(keep_only_output(onnx.load(str(source)), OUTPUT_NAME))


# --------------------------------------------------------------------------- calibration photos

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tensor_digest(tensor: np.ndarray) -> str:
    """sha256 of a float32 C-order tensor's bytes, shape included."""
    tensor = np.ascontiguousarray(tensor, dtype=np.float32)
    return sha256_bytes(repr(tensor.shape).encode() + tensor.tobytes())


def default_photo_roots() -> list[Path]:
    """Where the wheels that carry the calibration photos may be installed: this
    interpreter's path, then the project's .venv (the build venv has neither package)."""
    roots = [Path(p) for p in sys.path if p and Path(p).is_dir()]
    roots += sorted((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    return roots


def find_photo(entry: dict, roots: list[Path]) -> Path:
    for root in roots:
        path = root / entry["path"]
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"calibration photo {entry['name']!r} ({entry['path']}, from the {entry['package']} wheel) "
        f"not found under {', '.join(map(str, roots)) or 'no roots'}: pass --photo-root SITE_PACKAGES")


def calibration_tensor(entry: dict, path: Path, spec) -> np.ndarray:
    """The model input for one listed photo: file hash checked, decoded and pre-processed
    exactly as the app does, tensor hash checked."""
    from app.core import preprocess

    data = path.read_bytes()
    digest = sha256_bytes(data)
    if digest != entry["file_sha256"]:
        raise ValueError(f"{path}: sha256 {digest}, models/calibration.json lists {entry['file_sha256']}")
    tensor = preprocess.to_tensor(preprocess.decode(data), spec)
    digest = tensor_digest(tensor)
    if entry.get("tensor_sha256") and digest != entry["tensor_sha256"]:
        raise ValueError(
            f"{entry['name']}: the pre-processed tensor changed (sha256 {digest}, models/calibration.json "
            f"lists {entry['tensor_sha256']}): app.core.preprocess, NumPy or Pillow differ from when the "
            f"list was made")
    return tensor


def load_calibration(list_path: Path = CALIBRATION_LIST, roots: list[Path] | None = None,
                     spec=None) -> list[tuple[str, np.ndarray]]:
    """[(name, tensor)] for every photo in the committed list, in its order."""
    from app.core.spec import get_spec

    spec = spec or get_spec(SPEC_NAME)
    roots = roots if roots is not None else default_photo_roots()
    entries = json.loads(Path(list_path).read_text(encoding="utf-8"))["photos"]
    return [(e["name"], calibration_tensor(e, find_photo(e, roots), spec)) for e in entries]


class TensorReader:
    """onnxruntime's CalibrationDataReader over a list of input tensors; `set_range`
    limits it to a slice (calibration runs one photo at a time)."""

    def __init__(self, input_name: str, tensors: list[np.ndarray]):
        self.input_name = input_name
        self.tensors = tensors
        self.set_range(0, len(tensors))

    def __len__(self):
        return len(self.tensors)

    def set_range(self, start_index: int, end_index: int):
        self._items = iter(self.tensors[start_index:end_index])

    def get_next(self):
        tensor = next(self._items, None)
        return None if tensor is None else {self.input_name: tensor}

    def __iter__(self):
        for tensor in self.tensors:
            yield {self.input_name: tensor}


# --------------------------------------------------------------------------- quantization

def preprocessed(model, work: Path) -> Path:
    """`quant_pre_process` on the fp32 model: shapes inferred, ORT optimisations applied."""
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    work.mkdir(parents=True, exist_ok=True)
    raw = work / "float32.onnx"
    onnx.save(model, str(raw))
    out = work / "float32-pre.onnx"
    quant_pre_process(str(raw), str(out), skip_symbolic_shape=True)
    return out


def operator_types() -> list[str]:
    """The op types quantize_static quantizes by default (QOperator and QDQ registries)."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return sorted(set(QLinearOpsRegistry) | set(QDQRegistry))


def limit_ranges(ranges: dict[str, tuple[float, float]], limit: float | None) -> dict[str, tuple[float, float]]:
    """Calibrated (low, high) per tensor, each clipped to [-limit, limit] (None: unchanged)."""
    if limit is None:
        return dict(ranges)
    return {name: (max(low, -limit), min(high, limit)) for name, (low, high) in ranges.items()}


def calibrate(float_path: Path, tensors: list[np.ndarray], method: str, cache: Path) -> None:
    """onnxruntime's calibrator over `tensors`, its ranges saved to `cache` (JSON)."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator, save_tensors_data

    with tempfile.TemporaryDirectory(prefix="calibrate.") as folder:
        calibrator = create_calibrator(
            Path(float_path), operator_types(), augmented_model_path=str(Path(folder) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, method))
        import onnx

        input_name = onnx.load(str(float_path), load_external_data=False).graph.input[0].name
        reader = TensorReader(input_name, tensors)
        for start in range(len(tensors)):      # one photo at a time: histograms never hold them all
            reader.set_range(start, start + 1)
            calibrator.collect_data(reader)
        save_tensors_data(calibrator.compute_data(), cache)


def excluded_nodes(model, blocks: tuple[str, ...] = EXCLUDED_BLOCKS) -> list[str]:
    """Names of the nodes of `model` (a ModelProto) that EXCLUDED_BLOCKS keeps in float."""
    return [n.name for n in model.graph.node if n.name.startswith(blocks)]


def quantize(float_path: Path, out: Path, tensors: list[np.ndarray], *, method: str = CALIBRATION_METHOD,
             per_channel: bool = PER_CHANNEL, exclude: list[str] | None = None,
             range_limit: float | None = RANGE_LIMIT, cache: Path | None = None,
             activation_type: str = ACTIVATION_TYPE, weight_type: str = WEIGHT_TYPE,
             reduce_range: bool = REDUCE_RANGE, op_types: list[str] | None = None) -> Path:
    """QDQ static quantization of `float_path` into `out`: calibrate on `tensors` (or reuse
    `cache`, the calibrated ranges as JSON), clip every range to +-`range_limit`, quantize."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, load_tensors_data, save_tensors_data

    import onnx

    if exclude is None:
        exclude = NODES_TO_EXCLUDE if NODES_TO_EXCLUDE is not None else excluded_nodes(
            onnx.load(str(float_path), load_external_data=False))
    with tempfile.TemporaryDirectory(prefix="quantize.") as folder:
        cache = Path(cache) if cache is not None else Path(folder) / "calibration.json"
        if not cache.is_file():
            calibrate(float_path, tensors, method, cache)
        data = load_tensors_data(cache)
        ranges = {name: (float(d.range_value[0]), float(d.range_value[1])) for name, d in data.items()}
        for name, (low, high) in limit_ranges(ranges, range_limit).items():
            data[name] = TensorData(lowest=np.float32(low), highest=np.float32(high))
        limited = Path(folder) / "limited.json"
        save_tensors_data(data, limited)
        quantize_static(
            str(float_path), str(out), None,
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=getattr(QuantType, activation_type),
            weight_type=getattr(QuantType, weight_type),
            op_types_to_quantize=list(OP_TYPES_TO_QUANTIZE if op_types is None else op_types),
            nodes_to_exclude=list(exclude),
            calibrate_method=data.calibration_method,
            extra_options=dict(EXTRA_OPTIONS),
            calibration_cache_path=str(limited),
        )
    return out


def build(source: Path, out: Path, work: Path | None = None, roots: list[Path] | None = None) -> Path:
    """The whole recipe: prune, fp32, pre-process, calibrate, quantize into `out`. With
    `work`, the intermediate models and the calibrated ranges are kept there (and the
    ranges reused by the next run with the same `work`)."""
    started = time.perf_counter()
    photos = load_calibration(roots=roots)
    print(f"{len(photos)} calibration photos checked ({time.perf_counter() - started:.1f} s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="quantize.") as scratch:
        folder = Path(work) if work else Path(scratch)
        pre = preprocessed(float_model(source), folder)
        print(f"fp32 model, pruned and pre-processed ({time.perf_counter() - started:.1f} s)", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        quantize(pre, out, [t for _, t in photos], cache=folder / f"calibration-{CALIBRATION_METHOD}.json")
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB, sha256 {sha256_bytes(out.read_bytes())} "
          f"({time.perf_counter() - started:.0f} s)")
    return out


def write_calibration_list(photos: list[tuple[str, str, str]], list_path: Path = CALIBRATION_LIST,
                           roots: list[Path] | None = None) -> None:
    """(Re)write the committed list from (name, package, path under site-packages): the
    hashes of each file and of its pre-processed tensor as this machine makes them."""
    from app.core.spec import get_spec

    spec = get_spec(SPEC_NAME)
    roots = roots if roots is not None else default_photo_roots()
    entries = []
    for name, package, rel in photos:
        entry = {"name": name, "package": package, "path": rel}
        path = find_photo(entry, roots)
        entry["file_sha256"] = sha256_bytes(path.read_bytes())
        entry["tensor_sha256"] = ""
        entry["tensor_sha256"] = tensor_digest(calibration_tensor(entry, path, spec))
        entries.append(entry)
    document = {
        "about": "Calibration photos for builder/quantize_model.py: photos shipped inside wheels the "
                 "project installs (scikit-image, scikit-learn), none from the devset. file_sha256: the "
                 "file as shipped; tensor_sha256: its (1, 3, 1024, 1024) float32 model input made by "
                 "app.core.preprocess (decode, to_tensor), shape repr then bytes.",
        "photos": entries,
    }
    Path(list_path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO / ".cache" / "models" / "isnet-fp16.onnx")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--photo-root", type=Path, action="append", default=None,
                        help="a site-packages folder holding skimage/ and sklearn/ (default: this "
                             "interpreter's path, then the project's .venv)")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the fp32 model and the calibrated ranges here (reused next time)")
    args = parser.parse_args(argv)
    build(args.source, args.out, args.work, args.photo_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
