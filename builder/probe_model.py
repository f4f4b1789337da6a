"""The WebGPU probe: a small network with every kind of layer ISNet has, its input, and the
answer native ONNX Runtime gives, so a device's WebGPU can be checked in milliseconds
before the real model (seconds to minutes) is trusted to it.

    python -m builder.probe_model OUT_DIR

writes probe-float32.onnx and probe-float16.onnx (the same network computing in 32 and in
16 bit, as the two prepared ISNet files do), probe-input.bin and probe-expected.bin (float32,
little-endian; the answer of the 32-bit network on the CPU).  The layers: Conv with padding
and bias, Relu, MaxPool 2x2 (ceil_mode 0), Resize (linear, half_pixel) to sizes given as a
constant, Concat along channels, Add, Cast, Sigmoid: all ISNet uses.  Weights are random
from a fixed seed, scaled so that no layer saturates and a broken kernel cannot pass.

Runs in the build's own venv; imports onnx, onnxruntime, NumPy and the standard library.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64          # the probe's input is 1x3xSIZExSIZE
SEED = 20261201
GAIN = 12.0        # of the last layers: the mask spans most of 0..1, as a real one does
FILES = {"float32": "probe-float32.onnx", "float16": "probe-float16.onnx"}
INPUT_FILE, EXPECTED_FILE = "probe-input.bin", "probe-expected.bin"


def probe_network(dtype: int) -> onnx.ModelProto:
    """input (float32) -> Cast -> Conv/Relu -> MaxPool -> Conv/Relu -> Resize back up ->
    Concat with the first features -> Conv -> Add a skip -> Cast to float32 -> Sigmoid."""
    rng = np.random.default_rng(SEED)
    np_type = np.float16 if dtype == TensorProto.FLOAT16 else np.float32

    def weight(name, *shape, gain=1.0):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return numpy_helper.from_array((gain * rng.normal(size=shape) / np.sqrt(fan_in)).astype(np_type), name)

    initializers = [
        weight("w1", 8, 3, 3, 3), weight("b1", 8),
        weight("w2", 8, 8, 3, 3), weight("b2", 8),
        weight("w3", 1, 16, 3, 3, gain=GAIN), weight("b3", 1),
        weight("w4", 1, 8, 1, 1, gain=GAIN), weight("b4", 1),
        numpy_helper.from_array(np.array([1, 8, SIZE, SIZE], np.int64), "sizes"),
    ]
    nodes = [
        helper.make_node("Cast", ["input"], ["x"], to=dtype),
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=0),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Cast", ["r2"], ["r2_float"], to=TensorProto.FLOAT),   # ISNet resizes in 32-bit
        helper.make_node("Resize", ["r2_float", "", "", "sizes"], ["up_float"], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Cast", ["up_float"], ["up"], to=dtype),
        helper.make_node("Concat", ["r1", "up"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["r1", "w4", "b4"], ["skip"]),
        helper.make_node("Add", ["c3", "skip"], ["sum"]),
        helper.make_node("Cast", ["sum"], ["sum_float"], to=TensorProto.FLOAT),
        helper.make_node("Sigmoid", ["sum_float"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "webgpu-probe",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], producer_name="cutout-probe")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def probe_input() -> np.ndarray:
    """A photo-like input in ISNet's range (-0.5..0.5): smooth shapes plus fine texture."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    channels = [np.sin(6 * x + 2 * c) * np.cos(5 * y - c) for c in range(3)]
    disc = ((x - 0.5) ** 2 + (y - 0.45) ** 2 < 0.08).astype(np.float64)
    texture = np.random.default_rng(SEED + 1).normal(scale=0.05, size=(3, SIZE, SIZE))
    image = 0.35 * np.stack(channels) + 0.3 * disc - 0.15 + texture
    return np.clip(image, -0.5, 0.5).astype(np.float32)[None]


def write(out_dir: Path) -> dict[str, float]:
    """Write the probe files; returns how far the 16-bit network is from the expected answer
    on the CPU (the check's tolerance for 16-bit must be above it)."""
    import onnxruntime as ort

    out_dir.mkdir(parents=True, exist_ok=True)
    x = probe_input()
    outputs = {}
    for name, dtype in (("float32", TensorProto.FLOAT), ("float16", TensorProto.FLOAT16)):
        model = probe_network(dtype)
        onnx.save(model, out_dir / FILES[name])
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs[name] = session.run(["output"], {"input": x})[0]
    (out_dir / INPUT_FILE).write_bytes(x.astype("<f4").tobytes())
    (out_dir / EXPECTED_FILE).write_bytes(outputs["float32"].astype("<f4").tobytes())
    expected = outputs["float32"]
    return {"float16_max_difference": float(np.abs(outputs["float16"] - expected).max()),
            "expected_spread": float(expected.std())}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    report = write(Path(args[0]))
    print("probe_model: " + ", ".join(f"{k.replace('_', ' ')} {v:.2e}" for k, v in report.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
