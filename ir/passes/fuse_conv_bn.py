"""Fold an inference BatchNormalization into the Conv that feeds it:
W' = W * s, B' = (B - mean) * s + beta with s = scale / sqrt(var + eps), per output channel.

For deployment export only (the folded weights no longer equal the source's parameters; a
migrated, trainable model must keep them apart). The folded weights keep the conv's
weight name and source key."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import LazyTensor, Node, Provenance, Role, Value
from tensorbridge.ir.passes.base import PassReport


def fuse_conv_batchnorm(graph: Graph) -> PassReport:
    report = PassReport("fuse_conv_batchnorm")
    for bn in graph.nodes():
        if bn.op_type != "BatchNormalization" or bn.domain or bn.attr("training_mode", 0):
            continue
        conv = _conv_feeding(graph, bn)
        if conv is None:
            continue
        _fold(graph, conv, bn)
        report.note(f"folded {bn.name} into {conv.name}")
    return report


def _conv_feeding(graph: Graph, bn: Node) -> Node | None:
    ins = graph.node_inputs(bn)
    outs = [v for v in graph.node_outputs(bn) if v is not None]
    x = ins[0]
    if x is None or len(outs) != 1:
        return None
    if any(v is None or not v.is_const for v in ins[1:5]):
        return None
    conv = graph.producer(x)
    if conv is None or conv.op_type != "Conv" or conv.domain or len(graph.consumers(x)) != 1 or x in graph.outputs:
        return None
    cins = graph.node_inputs(conv)
    w = cins[1]
    if w is None or not w.is_const or len(graph.consumers(w)) != 1:
        return None
    if len(cins) > 2 and cins[2] is not None and (not cins[2].is_const or len(graph.consumers(cins[2])) != 1):
        return None
    return conv


def _fold(graph: Graph, conv: Node, bn: Node) -> None:
    x, scale, beta, mean, var = graph.node_inputs(bn)[:5]
    eps = float(bn.attr("epsilon", 1e-5))
    cins = graph.node_inputs(conv)
    w = cins[1]
    b = cins[2] if len(cins) > 2 else None
    # _conv_feeding checked these are wired (and constant)
    assert w is not None and scale is not None and beta is not None
    assert mean is not None and var is not None
    wd = w.const_array()
    s = scale.const_array().astype(np.float64) / np.sqrt(var.const_array().astype(np.float64) + eps)
    factor = s.astype(wd.dtype).reshape(-1, *([1] * (wd.ndim - 1)))
    # The folded weight is computed when it is read (by the serializer, one layer at a
    # time), so an export never holds the folded copy of every conv at once.
    new_w = LazyTensor(DType.from_numpy(wd.dtype), tuple(wd.shape), lambda: wd * factor,
                       origin=f"{w.name} * BatchNormalization scale")
    b0 = b.const_array().astype(np.float64) if b is not None else np.zeros(len(s))
    new_b = ((b0 - mean.const_array()) * s + beta.const_array()).astype(wd.dtype)
    w_name = w.name
    w_val = _replace_const(graph, w, new_w)
    if b is not None:
        b_val = _replace_const(graph, b, new_b)
    else:  # a new weight, the BN's shift folded: named after it, never an anonymous
        # constant (CSE would merge the equal biases of fresh BNs into one shared tensor)
        role = beta.role if beta.role is not Role.CONSTANT or beta.source_name else w_val.role
        b_val = graph.add_constant(_bias_name(w_name), new_b, role=role, source_name=beta.source_name)
    graph.set_input(conv, 1, w_val)
    graph.set_input(conv, 2, b_val)
    (y,) = [v for v in graph.node_outputs(bn) if v is not None]
    (conv_out,) = graph.node_outputs(conv)
    assert conv_out is not None  # it is x, the input of bn
    y_name, was_output = y.name, y in graph.outputs
    graph.replace_all_uses(y, conv_out)
    # The conv now computes the BatchNorm layer's output: it belongs to that layer, so a
    # parity check compares it with the BN layer's output, never with the raw convolution's.
    conv.provenance = Provenance(conv.provenance.framework or bn.provenance.framework, bn.provenance.module,
                                 " + ".join(p for p in (conv.provenance.source_op, bn.provenance.source_op) if p),
                                 conv.provenance.location or bn.provenance.location)
    graph.remove(bn)
    if was_output:  # the graph output keeps its name
        graph.rename(conv_out, y_name)


def _bias_name(weight: str) -> str:
    """``conv.weight`` -> ``conv.bias``; any other name -> ``<name>_bias``."""
    return weight[: -len("weight")] + "bias" if weight.endswith("weight") else f"{weight}_bias"


def _replace_const(graph: Graph, old: Value, data: np.ndarray | LazyTensor) -> Value:
    name, role, source = old.name, old.role, old.source_name
    graph.rename(old, f"{name}_unfolded")
    new = graph.add_constant(name, data, role=role, source_name=source)
    return new
