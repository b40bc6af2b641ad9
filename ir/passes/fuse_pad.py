"""Fold a zero ``Pad`` of the spatial axes into the Conv that reads it (Keras'
``ZeroPadding2D`` before a strided convolution): the Conv's own ``pads`` do the same."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Node
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.patterns import GraphView
from tensorbridge.ir.passes.transpose_rules import permuted_type
from tensorbridge.ir.types import TensorType, ValueType


def fuse_pad_into_conv(graph: Graph) -> PassReport:
    report = PassReport("fuse_pad_into_conv")
    view = GraphView(graph)
    for pad in graph.nodes():
        if pad.op_type != "Pad" or pad.domain or graph.opset() < 11:
            continue
        # the Conv may read it through a layout Transpose (NHWC padding at a graph input)
        via = view.user(view.out(pad), "Transpose")
        perm = list(via[0].attr("perm") or []) if via is not None else None
        conv = view.user(view.out(via[0] if via is not None else pad), "Conv")
        spatial = _spatial_pads(graph, view, pad, perm)
        if conv is None or spatial is None or conv[0].attr("auto_pad", "NOTSET") != "NOTSET":
            continue
        node = conv[0]
        if graph.node_inputs(node)[0] is not view.out(via[0] if via is not None else pad):
            continue
        n = len(spatial) // 2
        old = list(node.attr("pads", None) or [0] * (2 * n))
        node.attrs["pads"] = _ints([a + b for a, b in zip(old, spatial)])
        x = graph.node_inputs(pad)[0]
        graph.set_input(via[0] if via is not None else node, 0, x)
        if via is not None and perm is not None:  # the Transpose now moves the unpadded data
            t_out = view.out(via[0])
            t_out.type = _unpadded_type(x.type if x is not None else None, t_out.type, perm)
        graph.remove(pad)
        report.note(f"folded {pad.name} into {node.name}")
    return report


def _unpadded_type(x: ValueType | None, old: ValueType | None, perm: list[int]) -> ValueType | None:
    """The Transpose's output type once it reads the unpadded ``x``: permuted from ``x``'s
    when known, else the old dtype with the shape dropped (never the stale padded dims)."""
    new = permuted_type(x, tuple(perm))
    if isinstance(new, TensorType) and new.shape is not None and len(new.shape) == len(perm):
        return new
    return TensorType(old.dtype) if isinstance(old, TensorType) else None


def _ints(values: list[int]) -> Attr:
    return Attr(AttrKind.INTS, tuple(int(v) for v in values))


def _spatial_pads(graph: Graph, view: GraphView, pad: Node, perm: list[int] | None = None) -> list[int] | None:
    """The Conv-style (begin..., end...) pads of the spatial axes when ``pad`` zero-pads only
    those, by non-negative amounts (seen through the Transpose ``perm`` when given); else None."""
    ins = graph.node_inputs(pad)
    if pad.attr("mode", "constant") != "constant" or len(ins) < 2 or (len(ins) > 3 and ins[3] is not None):
        return None
    pads = view.const(ins[1])
    value = view.const(ins[2]) if len(ins) > 2 and ins[2] is not None else np.zeros(())
    if pads is None or value is None or value.size != 1 or float(value.reshape(-1)[0]) != 0.0:
        return None
    flat = [int(p) for p in pads.reshape(-1)]
    rank = len(flat) // 2
    begin, end = flat[:rank], flat[rank:]
    if perm is not None:
        if sorted(perm) != list(range(rank)):
            return None
        begin, end = [begin[p] for p in perm], [end[p] for p in perm]
    if rank < 3 or any(begin[:2]) or any(end[:2]) or min(flat) < 0:
        return None
    return begin[2:] + end[2:]
