"""Fold a per-channel ``Add`` after a bias-less Conv / ConvTranspose into the op's bias input,
as TF front-ends leave it (Conv2D then BiasAdd): one op instead of two, and a Conv that a
following BatchNormalization can fold into. The added tensor must broadcast over the
channel axis only ((C, 1, ..., 1) or (1, C, 1, ..., 1)); it is reshaped to (C,) -- a named
weight keeps its name, the reshape folding into it -- so a trainable bias stays trainable."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.patterns import GraphView
from tensorbridge.ir.types import TensorType


def fuse_conv_bias(graph: Graph) -> PassReport:
    report = PassReport("fuse_conv_bias")
    view = GraphView(graph)
    for node in graph.nodes():
        if node.op_type not in ("Conv", "ConvTranspose") or node.domain or len(graph.node_inputs(node)) > 2:
            continue
        found = _bias_add(graph, view, node)
        if found is not None:
            _fold(graph, node, *found)
            report.note(f"folded {found[0].name} into {node.name}")
    return report


def _bias_add(graph: Graph, view: GraphView, conv: Node) -> tuple[Node, Value, int] | None:
    """(the Add, the per-channel tensor, C) when the conv's only use adds a bias to it."""
    y = graph.node_outputs(conv)[0]
    if y is None or len(graph.consumers(y)) != 1 or y in graph.outputs:
        return None
    add, port = graph.consumers(y)[0]
    if add.op_type != "Add" or add.domain:
        return None
    b = graph.node_inputs(add)[1 - port]
    rank = view.rank(y)
    vector = _viewed_vector(graph, b)
    if vector is not None and b is not None and b.shape is not None and rank >= 3 \
            and (y.dtype is None or vector.dtype == y.dtype):
        n = int(np.prod(np.asarray(vector.shape, dtype=np.int64)))  # ints: checked by _viewed_vector
        if tuple(b.shape) in ((n,) + (1,) * (rank - 2), (1, n) + (1,) * (rank - 2)):
            return add, vector, n  # the weight keeps its source shape; only a (C,) view is added
    if b is None or not b.is_const or b.shape is None or rank < 3 or b.dtype != y.dtype and y.dtype:
        return None
    shape = tuple(b.shape)
    channel = (len(shape) == rank - 1 and all(d == 1 for d in shape[1:])) or (
        len(shape) == rank and shape[0] == 1 and all(d == 1 for d in shape[2:]))
    c = shape[0] if len(shape) == rank - 1 else shape[1] if len(shape) > 1 else None
    if not channel or not isinstance(c, int):
        return None
    return add, b, c


def _viewed_vector(graph: Graph, b: Value | None) -> Value | None:
    """The constant of C elements that ``b`` is a chain of Reshape / Unsqueeze / Squeeze of
    (a named bias a migration keeps in its source shape, read through views), else None."""
    v = b
    while v is not None and not v.is_const:
        node = graph.producer(v)
        if node is None or node.domain or node.op_type not in ("Reshape", "Unsqueeze", "Squeeze", "Flatten") \
                or len(graph.consumers(v)) != 1:
            return None
        v = graph.node_inputs(node)[0]
    if v is None or v is b or v.shape is None or not all(isinstance(d, int) for d in v.shape):
        return None
    return v


def _fold(graph: Graph, conv: Node, add: Node, b: Value, channels: int) -> None:
    if tuple(b.shape or ()) != (channels,):
        (b,) = graph.add_op("Reshape", [b, graph.add_constant(f"{b.name}_as_vector", np.array([channels]))],
                            name=f"{b.name}_vector",
                            output_types=[TensorType(b.dtype, (channels,)) if b.dtype else None])
    graph.set_input(conv, 2, b)
    out = graph.node_outputs(add)[0]
    y = graph.node_outputs(conv)[0]
    assert out is not None and y is not None  # checked by _bias_add
    name = out.name
    graph.replace_all_uses(out, y)
    graph.remove(add)
    if y in graph.outputs:
        graph.rename(y, name)
