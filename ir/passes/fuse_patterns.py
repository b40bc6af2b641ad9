"""Replace recognised op chains (see ``patterns.py``) with the ONNX op they spell, where the
graph's opset has it: Gelu (opset 20+, exact or tanh), RMSNormalization (23+),
BatchNormalization (inference form, as TF/Keras spell it out)."""

from __future__ import annotations

import dataclasses

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Value
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.patterns import GraphView, Match, find_matches
from tensorbridge.ir.passes.transpose_rules import permuted_type
from tensorbridge.ir.types import TensorType

MIN_OPSET = {"Gelu": 20, "RMSNormalization": 23, "BatchNormalization": 15}


def fuse_patterns(graph: Graph) -> PassReport:
    report = PassReport("fuse_patterns")
    opset = graph.opset("")
    fused: dict[Value, Value] = {}  # a replaced chain's output -> the fused op's
    for m in find_matches(graph):
        if opset < MIN_OPSET[m.op_type]:
            continue
        # a chain may read the output of one fused before it (Gelu(Gelu(x)))
        m = dataclasses.replace(m, inputs=tuple(fused.get(v, v) for v in m.inputs))
        new = _apply(graph, m)
        if new is not None:
            fused[m.output] = new
            report.note(f"{len(m.nodes)} ops from {m.nodes[0].name} -> {m.op_type}")
    return report


def _bn_vectors(graph: Graph, inputs: list) -> None:
    """BatchNormalization takes (C,) vectors: reshape per-channel weights kept broadcastable
    ((1, 1, 1, C): folded into the named weight later) and supply a missing gamma / beta."""
    var = inputs[4]
    n = int(np.prod(var.shape))
    dtype = var.dtype.np_dtype if var.dtype else np.float32
    for i in range(1, 5):
        v = inputs[i]
        if v is not None and tuple(v.shape or ()) != (n,):
            (inputs[i],) = graph.add_op("Reshape", [v, graph.add_constant(f"{v.name}_as_vector", np.array([n]))],
                                        name=f"{v.name}_vector", output_types=[TensorType(v.dtype, (n,))])
    for i, (what, fill) in enumerate((("scale", 1.0), ("bias", 0.0)), start=1):
        if inputs[i] is None:
            inputs[i] = graph.add_constant(f"{var.name}_bn_{what}", np.full(n, fill, dtype))


def _apply(graph: Graph, m: Match) -> Value | None:
    inputs = list(m.inputs)
    if m.op_type == "RMSNormalization" and len(inputs) == 1:
        last = (inputs[0].shape or (None,))[-1]
        if not isinstance(last, int) or inputs[0].dtype is None:
            return None  # a scale of ones needs the static size
        inputs.append(graph.add_constant("rms_scale", np.ones(last, inputs[0].dtype.np_dtype)))
    if m.op_type == "BatchNormalization":
        _bn_vectors(graph, inputs)
    name, was_output, vtype = m.output.name, m.output in graph.outputs, m.output.type
    rank = GraphView(graph).rank(inputs[0])
    if m.channels_last:  # the op wants channels on axis 1: Transposes the transpose pass can cancel
        perm = (0, rank - 1, *range(1, rank - 1))
        (inputs[0],) = graph.add_op("Transpose", [inputs[0]], {"perm": perm}, name=f"{m.nodes[0].name}_to_nchw",
                                    output_types=[permuted_type(inputs[0].type, perm)])
    (new,) = graph.add_op(m.op_type, inputs, m.attrs, provenance=m.nodes[0].provenance,
                          name=f"{m.nodes[0].name}_{m.op_type.lower()}")
    if m.channels_last:
        new.type = permuted_type(vtype, perm)
        (new,) = graph.add_op("Transpose", [new], {"perm": [0, *range(2, rank), 1]},
                              name=f"{m.nodes[0].name}_to_nhwc")
    new.type = vtype
    graph.replace_all_uses(m.output, new)
    for node in reversed(m.nodes):
        graph.remove(node)
    if was_output:
        graph.rename(new, name)
    return new
