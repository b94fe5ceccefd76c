"""Rewrite an fp32 ONNX graph so its convolutions run in fp16, with the precision in the graph.

TensorRT 11 has no FP16 builder flag: a strongly typed network runs each layer in the dtype the
ONNX gives it. StyleGAN-family decoders overflow fp16 in the modulation/demodulation math
(stylegan2-ada pre-normalizes for this reason), so only the convolution path goes to fp16:
Conv/ConvTranspose, and the cheap element-wise ops that consume their outputs. The style
affine (Gemm/MatMul), the demodulation (ReduceSum, Sqrt, Reciprocal, Pow), the mapping network
(not in the graph at all: w is a decoder input) and the graph inputs/outputs stay fp32.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Ops that start an fp16 region whenever they take a float input.
FP16_SEEDS = frozenset({"Conv", "ConvTranspose"})
# Ops that stay in fp16 when one of their float inputs is already fp16 (cheap, range-safe).
FP16_FOLLOWERS = frozenset({
    "Add", "Sub", "Mul", "Div", "LeakyRelu", "Relu", "Sigmoid", "Tanh", "Neg", "Clip", "Identity",
    "Pad", "Reshape", "Flatten", "Transpose", "Concat", "Slice", "Squeeze", "Unsqueeze",
})
FP16_MAX = 65504.0


def _float_tensors(model: onnx.ModelProto) -> set[str]:
    """Names of every float32 tensor in the graph (after shape inference)."""
    graph = model.graph
    typed = [*graph.input, *graph.output, *graph.value_info]
    names = {v.name for v in typed if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    names |= {t.name for t in graph.initializer if t.data_type == TensorProto.FLOAT}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].t.data_type == TensorProto.FLOAT:
            names.add(node.output[0])
    return names


class _Rewriter:
    """One pass in topological order, tracking for each float tensor its fp32 and fp16 names."""

    def __init__(self, model: onnx.ModelProto) -> None:
        graph = model.graph
        self.floats = _float_tensors(model)
        self.initializers = {t.name: t for t in graph.initializer}
        self.outputs = {v.name for v in graph.output}
        self.single = {v.name: v.name for v in graph.input} | {n: n for n in self.initializers}
        self.half: dict[str, str] = {}
        self.produced_half: set[str] = set()  # outputs of fp16 nodes (a cast copy does not count)
        self.new_initializers: list[onnx.TensorProto] = []
        self.nodes: list[onnx.NodeProto] = []

    def _cast(self, source: str, target: str, to: int) -> None:
        self.nodes.append(helper.make_node("Cast", [source], [target], to=to, name=f"{target}_cast"))

    def as_half(self, name: str) -> str:
        if name not in self.half:
            target = f"{name}__fp16"
            if name in self.initializers:
                values = numpy_helper.to_array(self.initializers[name])
                values = np.clip(values, -FP16_MAX, FP16_MAX).astype(np.float16)
                self.new_initializers.append(numpy_helper.from_array(values, target))
            else:
                self._cast(self.single[name], target, TensorProto.FLOAT16)
            self.half[name] = target
        return self.half[name]

    def as_single(self, name: str) -> str:
        if name not in self.single:
            target = f"{name}__fp32"
            self._cast(self.half[name], target, TensorProto.FLOAT)
            self.single[name] = target
        return self.single[name]

    def runs_in_half(self, node: onnx.NodeProto) -> bool:
        float_inputs = [n for n in node.input if n in self.floats]
        if node.op_type in FP16_SEEDS:
            return bool(float_inputs)
        return node.op_type in FP16_FOLLOWERS and any(n in self.produced_half for n in float_inputs)

    def visit(self, node: onnx.NodeProto) -> None:
        half = self.runs_in_half(node)
        convert = self.as_half if half else self.as_single
        inputs = [convert(n) if n in self.floats else n for n in node.input]
        del node.input[:]
        node.input.extend(inputs)
        cast_after = []
        for i, name in enumerate(node.output):
            if not half or name not in self.floats:
                self.single[name] = name
                continue
            internal = f"{name}__fp16" if name in self.outputs else name
            node.output[i] = internal
            self.half[name] = internal
            self.produced_half.add(name)
            if name in self.outputs:  # graph outputs stay fp32
                cast_after.append((internal, name))
        self.nodes.append(node)
        for internal, name in cast_after:
            self._cast(internal, name, TensorProto.FLOAT)
            self.single[name] = name


def convert_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` with the convolution path in fp16; inputs and outputs stay fp32."""
    model = onnx.shape_inference.infer_shapes(model)
    rewriter = _Rewriter(model)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in rewriter.floats:
            rewriter.initializers[node.output[0]] = node.attribute[0].t  # converted like an initializer
        rewriter.visit(node)
    graph = model.graph
    del graph.node[:]
    graph.node.extend(rewriter.nodes)
    graph.initializer.extend(rewriter.new_initializers)
    used = {n for node in graph.node for n in node.input}
    kept = [t for t in graph.initializer if t.name in used]  # fp32 originals only the fp16 path used
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.value_info[:]  # stale dtypes: recomputed below
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    return model
