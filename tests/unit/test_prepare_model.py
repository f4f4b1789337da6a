"""builder/prepare_model.py: each change on small graphs with known answers, then the real
prepared models against the raw ones they come from, on a real photo.

Tolerance for the real models: the prepared mask may differ from the raw one by at most
2e-3 anywhere (half of one level of the 8-bit alpha the user downloads) and 1e-5 on average.
Nothing in the preparation changes arithmetic except where values are rounded to fp16:
ONNX Runtime places its fp16 casts differently once the shape nodes are constants
(measured: at most 4.4e-4, mean 4e-6), and the 32-bit variant of the 16-bit model rounds
intermediate values to fp16 nowhere (at most 9.9e-4, mean 1e-5); none for the 8-bit one. A real mistake
(a pooled size off by one, a Resize to the wrong size) moves whole regions by far more.
"""
from __future__ import annotations

import functools
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from app.core.preprocess import to_tensor
from app.core.spec import MANIFEST_PATH, load_specs
from builder import prepare_model
from tests import photos
from tests.helpers import RAW_MODEL_DIR, find_model

MAX_DIFFERENCE = 2e-3
MEAN_DIFFERENCE = 1e-5


def small_isnet_like(size: int = 8, ceil_mode: int = 1, shuffled: bool = False) -> onnx.ModelProto:
    """input -> MaxPool(2, ceil) -> Resize back to the input's size through a
    Shape -> Slice -> Concat chain -> Sigmoid = `output`; a second output `side` from a
    Relu only it needs. The nodes are stored out of order when `shuffled`."""
    nodes = [
        helper.make_node("MaxPool", ["input"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2],
                         ceil_mode=ceil_mode, name="pool"),
        helper.make_node("Shape", ["input"], ["shape"], name="shape"),
        helper.make_node("Constant", [], ["start"], value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Constant", [], ["end"], value=numpy_helper.from_array(np.array([2], np.int64))),
        helper.make_node("Slice", ["shape", "start", "end"], ["batch_channels"], name="slice"),
        helper.make_node("Constant", [], ["hw"], value=numpy_helper.from_array(np.array([size, size], np.int64))),
        helper.make_node("Concat", ["batch_channels", "hw"], ["sizes"], axis=0, name="concat"),
        helper.make_node("Resize", ["pooled", "", "", "sizes"], ["resized"], mode="linear", name="resize"),
        helper.make_node("Sigmoid", ["resized"], ["output"], name="sigmoid"),
        helper.make_node("Relu", ["pooled"], ["side"], name="side_relu"),
    ]
    if shuffled:
        nodes = nodes[::-1]
    graph = helper.make_graph(
        nodes, "small",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, size, size]),
         helper.make_tensor_value_info("side", TensorProto.FLOAT, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ReferenceEvaluator(model).run(["output"], {"input": x})[0]


def test_prepare_keeps_the_answer_and_removes_what_it_promises():
    x = np.random.default_rng(0).normal(size=(1, 1, 8, 8)).astype(np.float32)
    original = small_isnet_like()
    expected = run(original, x)
    model, report = prepare_model.prepare(small_isnet_like(shuffled=True))
    np.testing.assert_array_equal(run(model, x), expected)
    assert [o.name for o in model.graph.output] == ["output"]
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["MaxPool", "Resize", "Sigmoid"]   # in order; the side Relu and the shape chain gone
    assert helper.get_attribute_value(next(a for a in model.graph.node[0].attribute if a.name == "ceil_mode")) == 0
    sizes = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}[model.graph.node[1].input[3]]
    assert sizes.tolist() == [1, 1, 8, 8]
    assert report == {"nodes_before": 10, "nodes_pruned": 1, "maxpools_floored": 1, "nodes_folded": 3,
                      "nodes_after": 3}


def test_a_maxpool_where_ceil_mode_matters_is_refused():
    """At 7x7 a 2x2 pool with ceil gives 4x4 and with floor 3x3: no silent change."""
    with pytest.raises(prepare_model.PrepareError, match="pool.*does not pool evenly"):
        prepare_model.prepare(small_isnet_like(size=7))


def test_a_missing_output_is_named():
    with pytest.raises(prepare_model.PrepareError, match="no output 'mask'"):
        prepare_model.prepare(small_isnet_like(), output="mask")


def test_shape_of_a_tensor_with_unknown_size_is_not_folded():
    model = small_isnet_like(ceil_mode=0)
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    model, report = prepare_model.prepare(model)
    assert report["nodes_folded"] == 0 and "Shape" in [n.op_type for n in model.graph.node]


def test_any_size_resizes_by_scale_and_runs_at_other_sizes_as_a_model_traced_there():
    """The small model traced at 8x8 has a Resize to a constant [8, 8] (as the ISNet export
    does); with any_size it gives the traced answer at 8x8 and, at 16x16 and 32x32, the
    answer of the same model traced at that size."""
    rng = np.random.default_rng(2)
    model, report = prepare_model.prepare(small_isnet_like(8), any_size=True)
    assert report["resizes_by_scale"] == 1
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    scales = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}[resize.input[2]]
    assert scales.tolist() == [1, 1, 2, 2] and len(resize.input) == 3
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[2:]] == ["height", "width"]
    for size in (8, 16, 32):
        x = rng.normal(size=(1, 1, size, size)).astype(np.float32)
        np.testing.assert_array_equal(run(model, x), run(small_isnet_like(size), x))


def test_a_resize_by_other_than_a_whole_factor_is_refused():
    model = small_isnet_like(8)
    hw = next(n for n in model.graph.node if n.output[0] == "hw")
    hw.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array([10, 10], np.int64)))
    model.graph.output[0].type.tensor_type.shape.dim[2].dim_value = 10
    model.graph.output[0].type.tensor_type.shape.dim[3].dim_value = 10
    with pytest.raises(prepare_model.PrepareError, match="resize.*not by a whole factor"):
        prepare_model.prepare(model, any_size=True)


def small_fp16_conv() -> onnx.ModelProto:
    """float input -> Cast to fp16 -> Conv with fp16 weights -> Cast to float = output."""
    weights = np.random.default_rng(1).normal(size=(2, 1, 3, 3)).astype(np.float16)
    nodes = [
        helper.make_node("Cast", ["input"], ["half"], to=TensorProto.FLOAT16),
        helper.make_node("Conv", ["half", "w"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Cast", ["conv"], ["output"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes, "fp16", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, 6, 6])],
        initializer=[numpy_helper.from_array(weights, "w")],
        value_info=[helper.make_tensor_value_info("conv", TensorProto.FLOAT16, [1, 2, 6, 6])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_float32_keeps_16_bit_weights_and_computes_in_32_bit():
    x = np.random.default_rng(2).normal(size=(1, 1, 6, 6)).astype(np.float32)
    half = run(small_fp16_conv(), x)
    model, report = prepare_model.prepare(small_fp16_conv(), float32=True)
    [weights] = model.graph.initializer
    assert weights.data_type == TensorProto.FLOAT16 and report["weights_read_as_float32"] == 1
    assert all(a.i == TensorProto.FLOAT for n in model.graph.node if n.op_type == "Cast" for a in n.attribute)
    full = run(model, x)
    w = numpy_helper.to_array(weights).astype(np.float32)
    expected = run(small_fp16_conv_in_float(w), x)
    np.testing.assert_allclose(full, expected, rtol=1e-6, atol=1e-6)
    assert 0 < np.abs(full - half).max() < 1e-2   # fp16 rounding gone, nothing else


def small_fp16_conv_in_float(w: np.ndarray) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["output"], pads=[1, 1, 1, 1])], "fp32",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, 6, 6])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


# --------------------------------------------------------------------------------------
# The real models (slow: five 1024² inferences)
# --------------------------------------------------------------------------------------
def mask(path, spec) -> np.ndarray:
    """The model at `path` on the rocket photo, natively."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run([spec.output_name], {spec.input_name: to_tensor(photos.image("rocket"), spec)})[0]


@functools.cache
def raw_mask(name: str) -> np.ndarray:
    raw = RAW_MODEL_DIR / json.loads(MANIFEST_PATH.read_text())[name]["raw"]["file"]
    assert raw.is_file(), "build first: python3 build.py"
    return mask(raw, load_specs()[name])


def built(file: str):
    path = find_model(file)
    assert path is not None, "build first: python3 build.py"
    return path


# Every file builder/prepare_model.py makes (the int8 model has its own tests:
# test_quantize_model.py).
MANIFEST = json.loads(MANIFEST_PATH.read_text())
PREPARED_FILES = [(name, file) for name, spec in sorted(load_specs().items())
                  if MANIFEST[name].get("made_by", "builder.prepare_model") == "builder.prepare_model"
                  for file in [spec.file, *([spec.shader_f16.file] if spec.shader_f16 else [])]]


@pytest.mark.model
@pytest.mark.parametrize("name, file", PREPARED_FILES)
def test_prepared_model_gives_the_raw_models_mask_on_a_real_photo(name, file):
    """(The 16-bit model computed in 32-bit differs most: at most 9.9e-4, mean 1e-5.)"""
    masks = [raw_mask(name), mask(built(file), load_specs()[name])]
    difference = np.abs(masks[0] - masks[1])
    assert difference.max() <= MAX_DIFFERENCE and difference.mean() <= MEAN_DIFFERENCE, (
        difference.max(), difference.mean())
    assert masks[0].std() > 0.1  # a real mask with subject and background, not a constant


@pytest.mark.model
@pytest.mark.parametrize("name, file", PREPARED_FILES)
def test_prepared_graph_has_one_output_no_ceil_pooling_and_no_shape_nodes(name, file):
    spec = load_specs()[name]
    graph = onnx.load(str(built(file)), load_external_data=False).graph
    assert [o.name for o in graph.output] == [spec.output_name]
    assert not [n for n in graph.node if n.op_type == "Shape"]
    pools = [n for n in graph.node if n.op_type == "MaxPool"]
    assert len(pools) == 33
    assert all(helper.get_attribute_value(a) == 0 for n in pools for a in n.attribute if a.name == "ceil_mode")
    computes_in = {a.i for n in graph.node if n.op_type == "Cast" for a in n.attribute if a.name == "to"}
    if file == spec.file:   # what WebAssembly, the CLI and WebGPU without shader-f16 run: no fp16 compute
        assert TensorProto.FLOAT16 not in computes_in
