"""Channels-last rewriting for back-ends whose kernels want NHWC (TensorFlow on CPU runs
Conv2D, pooling and their transposes only in NHWC).

Each layout-bearing op (Conv, ConvTranspose, pooling, ...) on an NC... tensor becomes
``Transpose(to N...C) -> <op in domain tensorbridge.nhwc> -> Transpose(back)``, its weight
``Transpose(OI... -> ...IO)`` (folded into the named parameter later). The transpose pass
then sinks and cancels the pairs, so a plain CNN keeps one Transpose at each end. The
``tensorbridge.nhwc`` ops follow the standard schemas of the graph's own ai.onnx opset
(tensorbridge's table in ir/schemas.py; nothing is registered with onnx.defs): the graph
imports the domain at its ai.onnx version, so a twin keeps the attributes of the op it
replaces (BatchNormalization-6's is_test, MaxPool-1 without dilations) and still verifies."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir import schemas
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.patterns import GraphView
from tensorbridge.ir.passes.transpose_rules import permuted_type
from tensorbridge.ir.types import TensorType

DOMAIN = schemas.NHWC_DOMAIN
# op -> the input indices holding a weight laid out (O, I, spatial...) / (I, O, spatial...)
OPS: dict[str, tuple[int, ...]] = {
    "Conv": (1,), "ConvTranspose": (1,), "MaxPool": (), "AveragePool": (),
    "GlobalAveragePool": (), "GlobalMaxPool": (), "DepthToSpace": (), "SpaceToDepth": (),
    "BatchNormalization": (),  # per-channel vectors broadcast along the last axis instead
}


# A 2-D Conv whose every group reads one input channel (W is (C * mult, 1, kh, kw)): its
# twin takes the weight in TF's depthwise layout (kh, kw, C, mult), as Keras stores it.
DEPTHWISE = "DepthwiseConv"


def to_channels_last(graph: Graph) -> PassReport:
    """Rewrite the layout-bearing ops of ``graph`` (in place) as channels-last ops between
    Transposes; run the transpose pass afterwards to cancel the pairs."""
    report = PassReport("to_channels_last")
    for node in graph.nodes():
        if node.domain or node.op_type not in OPS or len(graph.node_outputs(node)) != 1:
            continue
        rank = _rank(graph, node)
        if rank < 3:
            continue  # unknown rank: the emitter transposes around the op itself
        _rewrite(graph, node, rank)
        report.note(f"{node.name} ({node.op_type}) channels-last")
    if report.changed:  # the twins follow the schemas of the graph's own ai.onnx opset
        graph.opset_imports[DOMAIN] = graph.opset("")
    return report


def _rank(graph: Graph, node: Node) -> int:
    """The data rank: from its type or producers, else the weight's (Conv) or the window's
    (pooling)."""
    ins = graph.node_inputs(node)
    rank = GraphView(graph).rank(ins[0])
    if rank:
        return rank
    for v in ins[1:2] if OPS[node.op_type] else ():
        if v is not None and v.shape is not None:
            return len(v.shape)
    kernel = node.attr("kernel_shape", None)
    return len(kernel) + 2 if kernel else 0


def _depthwise(node: Node, ins: list[Value | None], rank: int) -> int:
    """The input channel count C when ``node`` is a depthwise 2-D Conv TF can run as one
    (strides and dilations not both above 1), else 0."""
    w = ins[1] if len(ins) > 1 else None
    group = node.attr("group", 1)
    if node.op_type != "Conv" or rank != 4 or group < 2 or w is None or w.shape is None:
        return 0
    if not all(isinstance(d, int) for d in w.shape) or w.shape[1] != 1 or w.shape[0] % group:
        return 0
    strided = max(node.attr("strides", None) or (1,)) > 1
    dilated = max(node.attr("dilations", None) or (1,)) > 1
    return 0 if strided and dilated else int(group)


def _rewrite(graph: Graph, node: Node, rank: int) -> None:
    to_last = (0, *range(2, rank), 1)
    to_first = (0, rank - 1, *range(1, rank - 1))
    weight_perm = (*range(2, rank), 1, 0)  # (O, I, k...) -> (k..., I, O)
    ins = graph.node_inputs(node)
    depthwise = _depthwise(node, ins, rank)
    new_ins: list[Value | None] = []
    for i, v in enumerate(ins):
        if v is None or (i > 0 and i not in OPS[node.op_type]):
            new_ins.append(v)
            continue
        perm = to_last if i == 0 else weight_perm
        [t] = graph.add_op("Transpose", [v], {"perm": list(perm)}, name=f"{node.name}_to_nhwc",
                           output_types=[permuted_type(v.type, perm)])
        if i == 1 and depthwise:  # (kh, kw, 1, C * mult) -> (kh, kw, C, mult)
            out_ch, _, kh, kw = (int(d) for d in v.shape)  # type: ignore[union-attr, arg-type]
            shape = (kh, kw, depthwise, out_ch // depthwise)
            [t] = graph.add_op("Reshape", [t, graph.add_constant(f"{node.name}_dw_shape", np.array(shape))],
                               name=f"{node.name}_depthwise_kernel",
                               output_types=[TensorType(v.dtype, shape)])  # type: ignore[arg-type]
        new_ins.append(t)
    [out] = graph.node_outputs(node)
    assert out is not None  # checked by the caller (one output)
    op_type = DEPTHWISE if depthwise else node.op_type
    [y] = graph.add_op(op_type, new_ins, dict(node.attrs), domain=DOMAIN, name=f"{node.name}_nhwc",
                       provenance=node.provenance, output_types=[permuted_type(out.type, to_last)])
    [back] = graph.add_op("Transpose", [y], {"perm": list(to_first)}, name=f"{node.name}_to_nchw",
                          output_types=[out.type])
    name = out.name
    graph.replace_all_uses(out, back)
    graph.remove(node)
    graph.rename(back, name)  # graph outputs keep their names
