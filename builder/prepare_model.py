"""Derive the model the app runs from a downloaded ISNet file, without changing its answer.

    python -m builder.prepare_model SOURCE OUT [--output output] [--float32] [--any-size]

Three changes, each checked before it is made (and two more on request):

* only the mask the app reads (`output`) is kept: the other 11 outputs and the 71 nodes that
  only feed them go (5 full-size Resize, 5 Conv, 5 Sigmoid among them);
* MaxPool `ceil_mode=1` becomes 0, which gives the same result when every pooled size is
  divisible by the stride (true at 1024x1024, refused otherwise) and which ONNX Runtime Web's
  WebGPU kernels accept;
* shape computations on tensors whose size is fixed (Shape -> Slice -> Concat into each
  Resize) are folded to constants, so a backend that needs static shapes sees them;
* with --float32, a 16-bit model computes in 32-bit while its weights stay 16-bit in the
  file: the WebGPU path for devices without `shader-f16`;
* with --any-size, every Resize doubles its input by a scale instead of a traced size, and
  the input's height and width become free: the model then runs on any input whose sides
  are multiples of ANY_SIZE_MULTIPLE (the 8-bit model's quick first look at a photo).
  The export traced each Resize's size as a constant of the 1024x1024 trace (`[32, 32]`,
  not the size of the tensor it is joined with), which is why the raw model runs at
  1024x1024 only.

`weights_to_float32` (not part of `prepare`) makes a 16-bit model wholly 32-bit for the
int8 quantizer (builder/quantize_model.py).

Runs in the build's own venv (the `build` group of pyproject.toml); imports onnx, NumPy and the standard
library only, and is never imported by the stdlib-only build modules (builder/models.py runs
it as a subprocess).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

KEPT_OUTPUT = "output"
# Ops folded when all their inputs are known constants: shape arithmetic only, never a
# weight computation (folding DequantizeLinear, say, would store float weights).
FOLDABLE_OPS = {"Shape", "Slice", "Concat", "Gather", "Unsqueeze", "Squeeze", "Cast", "Mul",
                "Div", "Add", "Sub", "Floor", "Ceil", "Reshape", "Range", "Equal", "Where"}
MAX_FOLDED_ELEMENTS = 64  # a shape tensor is tiny; anything larger is data, left alone
# ISNet pools its input six times (1024 -> 16 at the bottleneck) and every pooled size must
# be even for floor pooling to equal the export's ceil pooling: sides that are multiples of
# 2**6 keep the --any-size model's answer the same kind of answer it gives at 1024.
ANY_SIZE_MULTIPLE = 64


class PrepareError(Exception):
    """The model cannot be prepared without changing its answer; the message says why."""


def keep_only_output(model: onnx.ModelProto, name: str = KEPT_OUTPUT) -> onnx.ModelProto:
    """The same graph with one output; nodes and initializers nothing needs are dropped."""
    graph = model.graph
    if name not in [o.name for o in graph.output]:
        raise PrepareError(f"the model has no output {name!r}: {[o.name for o in graph.output]}")
    keep_outputs = [o for o in graph.output if o.name == name]
    del graph.output[:]
    graph.output.extend(keep_outputs)
    remove_unused(graph)
    return model


def remove_unused(graph: onnx.GraphProto) -> None:
    """Drop nodes whose outputs reach no graph output, then initializers no node reads and
    value infos of tensors that are gone."""
    producer = {out: node for node in graph.node for out in node.output}
    needed, wanted, stack = set(), set(), [o.name for o in graph.output]
    while stack:  # walk back from the outputs (node order may not be topological)
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        node = producer.get(name)
        if node is not None and id(node) not in wanted:
            wanted.add(id(node))
            stack.extend(i for i in node.input if i)
    kept = [node for node in graph.node if id(node) in wanted]
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    infos = [v for v in graph.value_info if v.name in needed]   # shapes of tensors still there
    del graph.value_info[:]
    graph.value_info.extend(infos)


def sort_topologically(graph: onnx.GraphProto) -> None:
    """Order the nodes so each comes after the nodes it reads from (the downloaded files
    are not in that order, which the ONNX checker and a single folding pass need)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            raise PrepareError(f"the graph has a cycle or a missing input near {pending[0].name}")
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
        for node in ready:
            ordered.append(node)
            available.update(node.output)
    del graph.node[:]
    graph.node.extend(ordered)


def static_shapes(model: onnx.ModelProto) -> dict[str, list[int | None]]:
    """Each tensor's shape as inferred from the model's fixed input, None for unknown dims."""
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def floor_maxpools(model: onnx.ModelProto) -> int:
    """Set ceil_mode=0 on every MaxPool where it cannot change the output; returns how many.

    Floor and ceil agree when (size + pads - kernel) is a multiple of the stride for every
    spatial axis.  A MaxPool where they could differ is refused, not changed."""
    shapes = static_shapes(model)
    changed = 0
    for node in model.graph.node:
        if node.op_type != "MaxPool":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if not attrs.get("ceil_mode", 0):
            continue
        spatial = shapes.get(node.input[0], [None])[2:]
        kernel = attrs["kernel_shape"]
        strides = attrs.get("strides", [1] * len(kernel))
        pads = attrs.get("pads", [0] * 2 * len(kernel))
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or attrs.get("dilations", [1])[0] != 1:
            raise PrepareError(f"{node.name}: auto_pad or dilation not handled")
        for axis, size in enumerate(spatial):
            span = None if size is None else size + pads[axis] + pads[axis + len(kernel)] - kernel[axis]
            if span is None or span % strides[axis]:
                raise PrepareError(f"{node.name}: input {spatial} does not pool evenly, ceil_mode matters")
        for attribute in node.attribute:
            if attribute.name == "ceil_mode":
                attribute.i = 0
        changed += 1
    return changed


def fold_shape_computations(model: onnx.ModelProto) -> int:
    """Replace Shape of fixed-size tensors, and small shape arithmetic on constants, by
    initializers; returns how many nodes were folded."""
    graph = model.graph
    shapes = static_shapes(model)
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    folded = 0
    kept = []
    for node in graph.node:
        value = None
        if node.op_type == "Constant" and len(node.output) == 1:
            value = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
            if value.size > MAX_FOLDED_ELEMENTS:
                value = None
        elif node.op_type == "Shape" and None not in shapes.get(node.input[0], [None]) and not node.attribute:
            value = np.array(shapes[node.input[0]], dtype=np.int64)
        elif node.op_type in FOLDABLE_OPS and all(i in constants for i in node.input if i):
            value = evaluate(node, constants)
            if value.size > MAX_FOLDED_ELEMENTS:
                value = None
        if value is None:
            kept.append(node)
            continue
        constants[node.output[0]] = value
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        folded += node.op_type != "Constant"
    del graph.node[:]
    graph.node.extend(kept)
    remove_unused(graph)
    return folded


def resize_by_scales(model: onnx.ModelProto) -> int:
    """Each Resize to a constant size (after fold_shape_computations) that is a whole multiple
    of its input's fixed size becomes a Resize by that scale: the same output at the traced
    input size (ONNX Runtime divides the size by the input's size to get the scale) and the
    right one at any other. Returns how many; a Resize by another factor is refused."""
    graph = model.graph
    shapes = static_shapes(model)
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    changed = 0
    for node in graph.node:
        if node.op_type != "Resize":
            continue
        sizes = constants.get(node.input[3]) if len(node.input) > 3 else None
        source = shapes.get(node.input[0])
        if sizes is None or source is None or None in source:
            raise PrepareError(f"{node.name}: its size is not a constant of a fixed input, cannot scale it")
        scales = np.asarray(sizes, dtype=np.float64) / np.asarray(source, dtype=np.float64)
        if np.any(scales != np.round(scales)) or np.any(scales[:2] != 1):
            raise PrepareError(f"{node.name}: resizes {source} to {list(sizes)}, not by a whole factor")
        name = f"{node.name}_scales"
        graph.initializer.append(numpy_helper.from_array(scales.astype(np.float32), name))
        inputs = [node.input[0], node.input[1], name]
        del node.input[:]
        node.input.extend(inputs)
        changed += 1
    remove_unused(graph)
    return changed


def free_input_size(model: onnx.ModelProto) -> None:
    """The input's and output's height and width named instead of fixed, and every
    inferred shape dropped, so nothing in the file assumes the traced size."""
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        for axis, name in ((2, "height"), (3, "width")):
            dims[axis].ClearField("dim_value")
            dims[axis].dim_param = name
    del graph.value_info[:]


def evaluate(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> np.ndarray:
    """One node run by onnx's reference evaluator on constant inputs."""
    inputs = [i for i in node.input if i]
    feeds = {name: constants[name] for name in inputs}
    values = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
              for n, v in feeds.items()]
    out = helper.make_tensor_value_info(node.output[0], onnx.TensorProto.UNDEFINED, None)
    graph = helper.make_graph([node], "fold", values, [out])
    (result,) = ReferenceEvaluator(helper.make_model(graph)).run(None, feeds)
    return np.asarray(result)


def compute_in_float32(model: onnx.ModelProto) -> int:
    """Keep 16-bit weights (the download stays the same size) but compute in 32-bit: each
    fp16 weight is read through a Cast to float (ONNX Runtime folds it once, when the
    session opens) and every Cast to fp16 becomes a Cast to float.  For a WebGPU device
    without `shader-f16`, which cannot run fp16 kernels.  Returns the weights converted."""
    graph = model.graph
    reads = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT16:
            name = init.name
            init.name = name + "_fp16"
            reads.append(helper.make_node("Cast", [init.name], [name], to=TensorProto.FLOAT, name=f"{name}_to_float"))
    for node in graph.node:
        if node.op_type == "Cast":
            for attribute in node.attribute:
                if attribute.name == "to" and attribute.i == TensorProto.FLOAT16:
                    attribute.i = TensorProto.FLOAT
        elif any(a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT16 for a in node.attribute):
            raise PrepareError(f"{node.name}: a 16-bit constant attribute is not handled")
    for value in [*graph.value_info, *graph.input, *graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    graph.node.extend(reads)
    sort_topologically(graph)
    return len(reads)


def weights_to_float32(model: onnx.ModelProto) -> onnx.ModelProto:
    """A 16-bit model made fully 32-bit: fp16 weights and constants become float32 and every
    Cast between float types goes (the 16-bit export casts its input to fp16, and around each
    Resize); tensors are renamed so the graph's inputs and outputs keep their names.  What
    builder/quantize_model.py calibrates and quantizes: the graph ONNX Runtime's CPU kernels
    compute anyway.  (compute_in_float32 is the other way: the same arithmetic, 16-bit weights
    kept in the file.)"""
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
    for value in [*graph.input, *graph.output]:
        if value.type.tensor_type.elem_type == TensorProto.FLOAT16:
            value.type.tensor_type.elem_type = TensorProto.FLOAT
    return shape_inference.infer_shapes(model)


def prepare(model: onnx.ModelProto, output: str = KEPT_OUTPUT, float32: bool = False,
            any_size: bool = False) -> tuple[onnx.ModelProto, dict[str, int]]:
    """The prepared model and what was done: nodes before and after, MaxPools changed,
    shape nodes folded (with `float32`, 16-bit weights read as float32; with `any_size`,
    Resizes by scale and a free input size)."""
    before = len(model.graph.node)
    sort_topologically(model.graph)
    keep_only_output(model, output)
    pruned = before - len(model.graph.node)
    pools = floor_maxpools(model)
    folded = fold_shape_computations(model)
    report = {"nodes_before": before, "nodes_pruned": pruned, "maxpools_floored": pools, "nodes_folded": folded}
    if any_size:
        report["resizes_by_scale"] = resize_by_scales(model)
        free_input_size(model)
    if float32:
        report["weights_read_as_float32"] = compute_in_float32(model)
    onnx.checker.check_model(model, full_check=True)
    return model, {**report, "nodes_after": len(model.graph.node)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--output", default=KEPT_OUTPUT, help="the output to keep (default: output)")
    parser.add_argument("--float32", action="store_true", help="compute in 32-bit, keeping 16-bit weights")
    parser.add_argument("--any-size", action="store_true",
                        help=f"run on any input whose sides are multiples of {ANY_SIZE_MULTIPLE}")
    args = parser.parse_args(argv)
    try:
        model, report = prepare(onnx.load(args.source), args.output, args.float32, args.any_size)
    except PrepareError as e:
        print(f"prepare_model: {args.source}: {e}", file=sys.stderr)
        return 1
    onnx.save(model, args.out)
    print("prepare_model: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
