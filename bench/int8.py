"""The static int8 ISNet (builder/quantize_model.py) against the 16-bit and dynamic 8-bit models.

    .venv/bin/python bench/int8.py wasm MODEL.onnx... [--runs 3] [--threads 2]
    .venv/bin/python bench/int8.py native MODEL.onnx... [--runs 3] [--threads 2]
    .venv/bin/python bench/int8.py robust MODEL.onnx... [DEVSET]
    .cache/build-venv/bin/python bench/int8.py layers [--method MinMax] [--mode only|without]

wasm    ms per session.run in WebAssembly: ONNX Runtime Web from dist/vendor/ort
        (ort.wasm.min.mjs, the build the page loads, same session options as
        static/ort-bridge.js), `--threads` threads, cross-origin isolated page served by
        builder.serve, Debian's Chromium via Playwright; every model's session in one page
        and the runs interleaved, so changing machine load hits all models alike. Input: the astronaut photo made by
        app.core.preprocess. Also prints how far each model's WASM mask is from its own
        native mask (IoU at 0.5, mean abs difference), since WASM and x86 int8 kernels differ.
native  the same with onnxruntime under CPython.
robust  on the devset photos (16-bit model as reference), per model: IoU and MAE of the
        normalised raw mask against the 16-bit one; stability under a one-level input change
        (every pixel value + 1, clipped, through the whole pipeline: IoU and mean |diff| of
        the final alpha); speckle: background islands the model finds that the 16-bit model
        does not (final alpha > 0.5 outside the 16-bit mask dilated by 8 px, in connected
        components of at most 2 % of the photo, per megapixel).
layers  per node group (conv_in, stage1..6, stage5d..1d, head, top-level ops): quantize only
        that group (or everything but it) with the cached calibration ranges and measure the
        final mask against the 16-bit model on held-out photos (mirrored 80 % crops of
        scikit-image / scikit-learn photos): which layers cannot take 8 bits.

Imports: NumPy, Pillow, `app`, onnxruntime; Playwright for `wasm`; onnx and
builder.quantize_model for `layers` (build venv).
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, OUT, REPO, load_pairs  # noqa: E402

from app.core import preprocess  # noqa: E402
from app.core.spec import get_spec  # noqa: E402

SPEC = get_spec("isnet-fp16")
ORT_DIR = REPO / "dist" / "vendor" / "ort"
FP16 = REPO / ".cache" / "models" / "isnet-fp16.onnx"
UINT8 = REPO / ".cache" / "models" / "isnet-uint8.onnx"


# --------------------------------------------------------------------------- photos and masks

def site_photo(name: str) -> Path:
    """A photo shipped in the scikit-image or scikit-learn wheel of this interpreter."""
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    if path.is_file():
        return path
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images" / name


HELD_OUT = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
            "flower.jpg", "china.jpg", "horse.png")


def held_out_tensors(names=HELD_OUT) -> dict[str, np.ndarray]:
    """Model inputs the calibration never saw: each photo mirrored and cropped to its
    central 80 % (other content scale, other position of everything)."""
    out = {}
    for name in names:
        image = preprocess.decode(site_photo(name).read_bytes())
        w, h = image.size
        crop = ImageOps.mirror(image.crop((w // 10, h // 10, w - w // 10, h - h // 10)))
        out[name.split(".")[0]] = preprocess.to_tensor(crop, SPEC)
    return out


def session(path: Path, threads: int = 2):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, tensor: np.ndarray) -> np.ndarray:
    return sess.run([SPEC.output_name], {SPEC.input_name: tensor})[0][0, 0]


def normalised(mask: np.ndarray) -> np.ndarray:
    low, high = float(mask.min()), float(mask.max())
    return (mask - low) / max(high - low, 1e-8)


def agreement(reference: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(IoU at 0.5, mean absolute difference) of two min-max normalised masks."""
    a, b = normalised(reference), normalised(mask)
    union = ((a > 0.5) | (b > 0.5)).sum()
    iou = float(((a > 0.5) & (b > 0.5)).sum() / union) if union else 1.0
    return iou, float(np.abs(a - b).mean())


# --------------------------------------------------------------------------- WASM timing

PAGE = """<!doctype html><meta charset="utf-8"><title>int8 bench</title>
<script type="module">
import * as ort from "./ort/ort.wasm.min.mjs";
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
const sessions = [];
let feeds = null;
window.load = async (model, threads) => {
  ort.env.wasm.numThreads = threads;
  if (!feeds) {
    const input = new Float32Array(await (await fetch("input.bin")).arrayBuffer());
    feeds = new ort.Tensor("float32", input, [1, 3, 1024, 1024]);
  }
  const started = performance.now();
  const bytes = new Uint8Array(await (await fetch(model)).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, {executionProviders: ["wasm"], graphOptimizationLevel: "all"});
  sessions.push(session);
  return {index: sessions.length - 1, create: performance.now() - started, threads: ort.env.wasm.numThreads,
          isolated: crossOriginIsolated};
};
window.runOnce = async (index, withMask) => {
  const session = sessions[index];
  const started = performance.now();
  const result = await session.run({[session.inputNames[0]]: feeds}, ["output"]);
  const ms = performance.now() - started;
  if (!withMask) return {ms};
  const output = result.output.data;
  let low = Infinity, high = -Infinity;
  for (const v of output) { if (v < low) low = v; if (v > high) high = v; }
  const bytesOut = new Uint8Array(output.length);
  for (let i = 0; i < output.length; i++) bytesOut[i] = Math.round(255 * (output[i] - low) / Math.max(high - low, 1e-8));
  let text = ""; for (let i = 0; i < bytesOut.length; i += 32768) text += String.fromCharCode(...bytesOut.subarray(i, i + 32768));
  return {ms, mask: btoa(text)};
};
window.ready = true;
</script>"""


def wasm_times(models: list[Path], runs: int, threads: int, photo: str = "astronaut.png") -> dict:
    """All models' sessions in one cross-origin isolated page; runs interleaved (one warm-up
    each, then round after round of one run per model), so a machine whose load changes
    slows every model alike."""
    from playwright.sync_api import sync_playwright

    from builder.serve import serving
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    tensor = preprocess.to_tensor(preprocess.decode(site_photo(photo).read_bytes()), SPEC)
    results = {str(m): {"times": []} for m in models}
    with tempfile.TemporaryDirectory(prefix="int8-bench.") as folder:
        root = Path(folder)
        (root / "index.html").write_text(PAGE, encoding="utf-8")
        (root / "input.bin").write_bytes(tensor.tobytes())
        (root / "ort").symlink_to(ORT_DIR)
        for i, model in enumerate(models):
            (root / f"m{i}.onnx").symlink_to(Path(model).resolve())
        with serving(root, csp=False) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(0)
            page.goto(url + "index.html")
            page.wait_for_function("window.ready === true")
            for i, model in enumerate(models):
                info = page.evaluate(f"load('m{i}.onnx', {threads})")
                warm = page.evaluate(f"runOnce({info['index']}, true)")
                mask = np.frombuffer(base64.b64decode(warm["mask"]), np.uint8).reshape(1024, 1024)
                results[str(model)].update(info, warm=warm["ms"], mask=mask.astype(np.float32) / 255)
            for _ in range(runs):
                for i, model in enumerate(models):
                    results[str(model)]["times"].append(page.evaluate(f"runOnce({i}, false)")["ms"])
            browser.close()
    for model in models:
        result = results[str(model)]
        print(f"  {Path(model).name}: {statistics.median(result['times']):.0f} ms per run "
              f"(runs {', '.join(f'{t:.0f}' for t in result['times'])}; first {result['warm']:.0f}; "
              f"session {result['create']:.0f} ms; {result['threads']} threads, isolated "
              f"{result['isolated']})", flush=True)
    return results


def native_times(models: list[Path], runs: int, threads: int, photo: str = "astronaut.png") -> dict:
    tensor = preprocess.to_tensor(preprocess.decode(site_photo(photo).read_bytes()), SPEC)
    results = {}
    for model in models:
        sess = session(Path(model), threads)
        run(sess, tensor)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            mask = run(sess, tensor)
            times.append((time.perf_counter() - started) * 1000)
        results[str(model)] = {"times": times, "mask": normalised(mask)}
        print(f"  {Path(model).name}: {statistics.median(times):.0f} ms per run "
              f"(runs {', '.join(f'{t:.0f}' for t in times)}; {threads} threads)", flush=True)
    return results


def cmd_speed(args, where: str) -> int:
    models = [Path(m) for m in args.models] or [FP16, UINT8]
    print(f"## {where}: ms per session.run, 1x3x1024x1024, median of {args.runs} after one warm-up")
    if where == "wasm":
        results = wasm_times(models, args.runs, args.threads)
        print("## WASM mask vs the same model's native mask (IoU at 0.5, mean |diff|)")
        for model in models:
            native = normalised(run(session(model, args.threads), preprocess.to_tensor(
                preprocess.decode(site_photo("astronaut.png").read_bytes()), SPEC)))
            iou, mae = agreement(native, results[str(model)]["mask"])
            print(f"  {model.name}: IoU {iou:.4f}, MAE {mae:.4f}")
    else:
        native_times(models, args.runs, args.threads)
    return 0


# --------------------------------------------------------------------------- robustness on the devset

def speckle(alpha: np.ndarray, reference: np.ndarray) -> float:
    """Background islands per megapixel: components of `alpha` > 0.5 lying wholly outside
    the reference mask (> 0.5) dilated by 8 px, each at most 2 % of the photo."""
    from scipy import ndimage

    fore = alpha > 0.5
    allowed = ndimage.binary_dilation(reference > 0.5, iterations=8)
    labels, count = ndimage.label(fore)
    if not count:
        return 0.0
    sizes = np.bincount(labels.ravel())
    inside = np.bincount(labels.ravel(), weights=allowed.ravel().astype(float))
    islands = [i for i in range(1, count + 1) if inside[i] == 0 and sizes[i] <= 0.02 * fore.size]
    return float(sum(sizes[i] for i in islands) / fore.size * 1e6)


def cmd_robust(args) -> int:
    from app.core import pipeline
    from app.core.options import Options

    models = [Path(m) for m in args.models] or [FP16, UINT8]
    pairs = load_pairs(args.devset)
    reference = session(FP16)
    sessions = {m: (reference if m.resolve() == FP16.resolve() else session(m)) for m in models}
    options = Options()
    rows = {m: [] for m in models}
    print(f"## robustness on {len(pairs)} devset photos: raw vs 16-bit, one-level stability, speckle")
    for pair in pairs:
        image, truth = pair.load()
        truth = truth.astype(np.float64) / 255
        shifted = Image.fromarray(np.clip(np.asarray(image, np.int16) + 1, 0, 255).astype(np.uint8))
        tensor = preprocess.to_tensor(image, SPEC)
        ref_raw = run(reference, tensor)
        ref_alpha = np.asarray(pipeline._postprocess(image, ref_raw[None, None], options)[0].getchannel("A")) / 255
        for model in models:
            raw = ref_raw if sessions[model] is reference else run(sessions[model], tensor)
            raw_shift = run(sessions[model], preprocess.to_tensor(shifted, SPEC))
            alpha = ref_alpha if raw is ref_raw else np.asarray(
                pipeline._postprocess(image, raw[None, None], options)[0].getchannel("A")) / 255
            alpha_shift = np.asarray(
                pipeline._postprocess(shifted, raw_shift[None, None], options)[0].getchannel("A")) / 255
            iou, mae = agreement(ref_raw, raw)
            a, b = alpha > 0.5, alpha_shift > 0.5
            union = (a | b).sum()
            rows[model].append({
                "pair": pair.name, "iou": iou, "mae": mae, "pmae": float(np.abs(alpha - truth).mean()),
                "stab_iou": float((a & b).sum() / union) if union else 1.0,
                "stab_mad": float(np.abs(alpha - alpha_shift).mean() * 255),
                "speckle": speckle(alpha, ref_alpha),
            })
        print(f"  {pair.name:<24}" + "".join(
            f"  {m.stem[:14]:>14}: IoU {rows[m][-1]['iou']:.3f} stab {rows[m][-1]['stab_iou']:.3f}/"
            f"{rows[m][-1]['stab_mad']:.2f} spk {rows[m][-1]['speckle']:.0f}" for m in models), flush=True)
    print("\nIoU/MAE: raw mask vs the 16-bit one; pMAE: final alpha (Options()) vs ground truth; "
          "stab: final alpha after +1 on every pixel value vs before (IoU at 0.5, mean |diff| in levels); "
          "speckle: px per MP of background islands")
    print(f"{'model':<28}{'IoU mean':>9}{'IoU min':>9}{'MAE':>8}{'pMAE':>8}{'stab IoU min':>13}"
          f"{'stab |d| mean':>14}{'stab |d| max':>13}{'speckle/MP sum':>15}")
    for model in models:
        r = rows[model]
        print(f"{model.name:<28}{np.mean([x['iou'] for x in r]):>9.4f}{min(x['iou'] for x in r):>9.4f}"
              f"{np.mean([x['mae'] for x in r]):>8.4f}{np.mean([x['pmae'] for x in r]):>8.4f}"
              f"{min(x['stab_iou'] for x in r):>13.4f}"
              f"{np.mean([x['stab_mad'] for x in r]):>14.3f}{max(x['stab_mad'] for x in r):>13.3f}"
              f"{sum(x['speckle'] for x in r):>15.0f}")
    (OUT / "int8").mkdir(parents=True, exist_ok=True)
    (OUT / "int8" / "robust.json").write_text(json.dumps({str(k): v for k, v in rows.items()}, indent=1))
    return 0


# --------------------------------------------------------------------------- per-layer sensitivity

def node_groups(model) -> dict[str, list[str]]:
    """Node names by block: conv_in, stage1..6, stage5d..1d, pool12..56, head (side1 conv,
    last Resize, Sigmoid), top (the decoder's top-level Resize/Concat)."""
    groups: dict[str, list[str]] = {}
    for node in model.graph.node:
        parts = node.name.split("/")
        if len(parts) > 2:
            key = "head" if parts[1] == "side1" else parts[1]
        elif node.name in ("/Resize_5", "/Sigmoid"):
            key = "head"
        else:
            key = "top"
        groups.setdefault(key, []).append(node.name)
    return groups


def cmd_layers(args) -> int:
    import onnx

    from builder import quantize_model as qm

    work = Path(args.work)
    float_path = work / "float32-pre.onnx"
    if not float_path.is_file():
        qm.preprocessed(qm.float_model(FP16), work)
    if args.method == qm.CALIBRATION_METHOD:
        ranges = qm.read_ranges()
    else:
        ranges = qm.calibrate(float_path, [t for _, t in qm.load_calibration()], args.method)
    model = onnx.load(str(float_path))
    names = [n.name for n in model.graph.node]
    held = held_out_tensors()
    reference = session(float_path)
    refs = {k: run(reference, t) for k, t in held.items()}
    print(f"## quantize {args.mode} one group ({args.method}); mask vs fp32 on {len(held)} held-out photos")
    for group, members in node_groups(model).items():
        if args.groups and group not in args.groups.split(","):
            continue
        exclude = [n for n in names if n not in members] if args.mode == "only" else members
        out = work / "layer-probe.onnx"
        qm.quantize(float_path, out, ranges, exclude=exclude)
        sess = session(out)
        scores = [agreement(refs[k], run(sess, t)) for k, t in held.items()]
        print(f"  {args.mode} {group:<9} ({len(members):>3} nodes): IoU mean {np.mean([s[0] for s in scores]):.4f} "
              f"min {min(s[0] for s in scores):.4f}, MAE {np.mean([s[1] for s in scores]):.4f}", flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("wasm", "native"):
        p = sub.add_parser(name)
        p.add_argument("models", nargs="*")
        p.add_argument("--runs", type=int, default=3)
        p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("robust")
    p.add_argument("models", nargs="*")
    p.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    p = sub.add_parser("layers")
    p.add_argument("--method", default="MinMax")
    p.add_argument("--mode", choices=("only", "without"), default="only")
    p.add_argument("--groups", default="")
    p.add_argument("--work", default=str(REPO / ".cache" / "quantize"))
    args = parser.parse_args(argv)
    if args.command in ("wasm", "native"):
        return cmd_speed(args, args.command)
    if args.command == "robust":
        return cmd_robust(args)
    return cmd_layers(args)


if __name__ == "__main__":
    sys.exit(main())
