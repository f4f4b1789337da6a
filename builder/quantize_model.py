"""The statically quantized int8 ISNet the app runs on WebAssembly, made reproducibly from
the 16-bit model.

    python -m builder.quantize_model SOURCE OUT             # the build's step
    python -m builder.quantize_model SOURCE --calibrate     # a developer's: new ranges

SOURCE is the raw 16-bit ISNet (.cache/models/isnet-fp16.onnx). Run in the build venv
(the `build` group of pyproject.toml) or the project's .venv (both pin the same onnx and onnxruntime).

Calibrating (a developer's step, after the photo list, the method or the graph changed):

1. the photos listed in models/calibration.json (shipped inside the scikit-image and
   scikit-learn wheels; never the devset, which judges the result), each checked by the
   sha256 of its file and of its model input tensor made exactly as the app makes it
   (`app.core.preprocess`), so a changed photo or pre-processing stops the run;
2. onnxruntime's calibrator (CALIBRATION_METHOD) collects every activation's range, one
   photo at a time, on the model made as below;
3. the ranges, unclipped, are written to models/int8-ranges.json and committed.

Calibration runs the network on a CPU, whose last bits differ between CPUs, so the build
does not calibrate: it quantizes from the committed ranges, which makes the same file (same
sha256, checked against models/manifest.json) on any machine. The build's step:

1. `builder.prepare_model.prepare`: only `output`, floor pooling, shape chains folded (what
   every model the app runs gets), and any input size (Resizes by scale: the page's quick
   first look runs this model on a small input); `weights_to_float32`: fp16 weights become fp32 and the
   model's own Casts go, so the quantizer sees the fp32 graph WebAssembly computes anyway;
2. `onnxruntime.quantization.quant_pre_process`: shape inference and ORT's basic graph
   optimisations, as the quantizer recommends;
3. every committed range clipped to +-RANGE_LIMIT (why: at RANGE_LIMIT), then
   `quantize_static` in QDQ format with the choices below, keeping EXCLUDED_BLOCKS in float;
4. `fuse_for_runtime`: ONNX Runtime's QDQ fusions (QLinearConv etc.) done once and saved,
   so no browser session redoes them.

Imports: onnx, onnxruntime (where used), numpy, Pillow, the standard library,
`builder.prepare_model`, and `app.core.preprocess` / `app.core.spec` (NumPy/Pillow only) for
the app's exact pre-processing. Nothing else from app/.
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
RANGES_FILE = REPO / "models" / "int8-ranges.json"   # calibrate's result, committed
SPEC_NAME = "isnet-fp16"          # mean/std/size/input and output names come from its manifest entry
OUTPUT_NAME = "output"

from builder.prepare_model import prepare, weights_to_float32  # noqa: E402  (needs REPO on sys.path)

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


def float_model(source: Path):
    """The 16-bit ISNet prepared like every model the app runs (builder.prepare_model: only
    `output`, floor pooling, shape chains folded), for any input size, and made wholly fp32."""
    import onnx

    model, _ = prepare(onnx.load(str(source)), OUTPUT_NAME, any_size=True)
    return weights_to_float32(model)


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


def calibrate(float_path: Path, tensors: list[np.ndarray], method: str = CALIBRATION_METHOD) -> dict[str, tuple[float, float]]:
    """onnxruntime's calibrator over `tensors`: each activation's (low, high), unclipped."""
    import onnx
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    with tempfile.TemporaryDirectory(prefix="calibrate.") as folder:
        calibrator = create_calibrator(
            Path(float_path), operator_types(), augmented_model_path=str(Path(folder) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, method))
        input_name = onnx.load(str(float_path), load_external_data=False).graph.input[0].name
        reader = TensorReader(input_name, tensors)
        for start in range(len(tensors)):      # one photo at a time: histograms never hold them all
            reader.set_range(start, start + 1)
            calibrator.collect_data(reader)
        data = calibrator.compute_data()
    return {name: (float(np.ravel(d.range_value[0])[0]), float(np.ravel(d.range_value[1])[0]))
            for name, d in sorted(data.items())}


def write_ranges(ranges: dict[str, tuple[float, float]], path: Path = RANGES_FILE) -> None:
    """The calibrated ranges as the committed JSON, with what they were made from."""
    document = {
        "about": "Activation ranges of the 16-bit ISNet made fp32 (builder/quantize_model.py calibrate), "
                 "unclipped; the build quantizes from them, clipped to RANGE_LIMIT.",
        "method": CALIBRATION_METHOD,
        "calibration_list_sha256": sha256_bytes(CALIBRATION_LIST.read_bytes()),
        "ranges": {name: [low, high] for name, (low, high) in sorted(ranges.items())},
    }
    text = json.dumps({k: v for k, v in document.items() if k != "ranges"}, indent=1)[:-2]
    lines = [f" {json.dumps(name)}: {json.dumps(pair)}" for name, pair in document["ranges"].items()]
    text += ',\n "ranges": {\n' + ",\n".join(lines) + "\n }\n}\n"     # a range per line
    Path(path).write_text(text, encoding="utf-8")


def read_ranges(path: Path = RANGES_FILE) -> dict[str, tuple[float, float]]:
    """The committed ranges; refused if the calibration list changed since they were made."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    listed = sha256_bytes(CALIBRATION_LIST.read_bytes())
    if document["calibration_list_sha256"] != listed or document["method"] != CALIBRATION_METHOD:
        raise ValueError(f"{path} was calibrated with another photo list or method than models/calibration.json "
                         f"and CALIBRATION_METHOD: run python -m builder.quantize_model calibrate")
    return {name: (float(low), float(high)) for name, (low, high) in document["ranges"].items()}


def excluded_nodes(model, blocks: tuple[str, ...] = EXCLUDED_BLOCKS) -> list[str]:
    """Names of the nodes of `model` (a ModelProto) that EXCLUDED_BLOCKS keeps in float."""
    return [n.name for n in model.graph.node if n.name.startswith(blocks)]


def quantize(float_path: Path, out: Path, ranges: dict[str, tuple[float, float]], *,
             per_channel: bool = PER_CHANNEL, exclude: list[str] | None = None,
             range_limit: float | None = RANGE_LIMIT,
             activation_type: str = ACTIVATION_TYPE, weight_type: str = WEIGHT_TYPE,
             reduce_range: bool = REDUCE_RANGE, op_types: list[str] | None = None) -> Path:
    """QDQ static quantization of `float_path` into `out` from calibrated `ranges`, each
    clipped to +-`range_limit`. Deterministic: no inference runs here."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData, save_tensors_data

    model = onnx.load(str(float_path), load_external_data=False)     # read once: 176 MB of fp32
    graph = model.graph
    tensors = {n for node in graph.node for n in node.output} | {i.name for i in graph.input}
    unknown = sorted(set(ranges) - tensors)
    if unknown:
        raise ValueError(f"{len(unknown)} calibrated tensors are not in the model (e.g. {unknown[0]}): "
                         "the graph changed; run python -m builder.quantize_model calibrate")
    if exclude is None:
        exclude = NODES_TO_EXCLUDE if NODES_TO_EXCLUDE is not None else excluded_nodes(model)
    data = {name: TensorData(lowest=np.float32(low), highest=np.float32(high))
            for name, (low, high) in limit_ranges(ranges, range_limit).items()}
    with tempfile.TemporaryDirectory(prefix="quantize.") as folder:
        limited = Path(folder) / "limited.json"
        save_tensors_data(TensorsData(getattr(CalibrationMethod, CALIBRATION_METHOD), data), limited)
        quantize_static(
            str(float_path), str(out), None,
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=getattr(QuantType, activation_type),
            weight_type=getattr(QuantType, weight_type),
            op_types_to_quantize=list(OP_TYPES_TO_QUANTIZE if op_types is None else op_types),
            nodes_to_exclude=list(exclude),
            calibrate_method=getattr(CalibrationMethod, CALIBRATION_METHOD),
            extra_options=dict(EXTRA_OPTIONS),
            calibration_cache_path=str(limited),
        )
    return out


def fuse_for_runtime(model: Path, out: Path) -> Path:
    """ONNX Runtime's own graph optimisations up to 'extended', saved: every Quantize/
    Dequantize pair around a Conv, Concat or Add fused into QLinearConv, QLinearConcat,
    QLinearAdd, which every ONNX Runtime session otherwise redoes when it opens the model.
    Measured in WebAssembly (bench/int8.py wasm, one loaded run): the session opens in 0.76 s
    instead of 1.6 s, runs as fast, and its mask equals the native one as before (IoU 0.9996).
    Rewrites nodes only (no arithmetic that depends on the CPU), so the file is the same on
    any machine."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out)
    options.intra_op_num_threads = 1
    ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return out


def build(source: Path, out: Path, ranges_file: Path = RANGES_FILE) -> Path:
    """The build's step: prepare, fp32, ORT pre-processing, quantize from the committed
    ranges, ORT's fusions saved."""
    started = time.perf_counter()
    ranges = read_ranges(ranges_file)
    with tempfile.TemporaryDirectory(prefix="quantize.") as folder:
        pre = preprocessed(float_model(source), Path(folder))
        out.parent.mkdir(parents=True, exist_ok=True)
        quantized = quantize(pre, Path(folder) / "qdq.onnx", ranges)
        fuse_for_runtime(quantized, out)
    print(f"quantize_model: {out.name}, {out.stat().st_size / 1e6:.1f} MB "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return out


def recalibrate(source: Path, roots: list[Path] | None = None, ranges_file: Path = RANGES_FILE) -> None:
    """Calibrate on every listed photo and rewrite the committed ranges (a developer's step,
    after a change to the photo list, the method or the graph)."""
    started = time.perf_counter()
    photos = load_calibration(roots=roots)
    print(f"{len(photos)} calibration photos checked ({time.perf_counter() - started:.1f} s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="quantize.") as folder:
        pre = preprocessed(float_model(source), Path(folder))
        write_ranges(calibrate(pre, [t for _, t in photos]), ranges_file)
    print(f"{ranges_file}: written ({time.perf_counter() - started:.0f} s)")


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
    parser.add_argument("source", type=Path, help="the raw 16-bit ISNet (.cache/models/isnet-fp16.onnx)")
    parser.add_argument("out", type=Path, nargs="?", help="where the int8 model goes (omit with --calibrate)")
    parser.add_argument("--calibrate", action="store_true",
                        help="instead: calibrate on the listed photos and rewrite models/int8-ranges.json")
    parser.add_argument("--photo-root", type=Path, action="append", default=None,
                        help="with --calibrate: a site-packages folder holding skimage/ and sklearn/ "
                             "(default: this interpreter's path, then the project's .venv)")
    args = parser.parse_args(argv)
    if args.calibrate:
        recalibrate(args.source, args.photo_root)
    elif args.out is None:
        parser.error("give OUT, or --calibrate")
    else:
        build(args.source, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
