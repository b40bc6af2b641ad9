"""Remove ops that do nothing: Identity, Cast to the same type, Reshape/Expand to the same
static shape, Transpose with the identity permutation, Dropout at inference, and
Squeeze/Unsqueeze pairs that cancel; and spell a Reshape that only inserts 1s (Keras'
``Reshape((1, 1, C))`` after pooling, its target computed from ``tf.shape``) as the
Unsqueeze it is, which layout passes can move through. Graph outputs keep their names."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.passes.base import PassReport


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
        if node.op_type == "Reshape" and not node.domain and graph.opset() >= 13:
            _reshape_as_unsqueeze(graph, node, report)
    for node in graph.nodes():
        if node.op_type == "Transpose" and not node.domain and graph.opset() >= 13:
            _transposed_unsqueeze(graph, node, report)
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


def inserted_axes(src: tuple | None, dst: tuple | None) -> list[int] | None:
    """The axes where ``dst`` has 1s inserted into ``src`` (dims known: ints or symbols)."""
    if src is None or dst is None or len(dst) <= len(src) or any(d is None for d in (*src, *dst)):
        return None
    axes, i = [], 0
    for k, d in enumerate(dst):
        if i < len(src) and d == src[i]:
            i += 1
        elif d == 1:
            axes.append(k)
        else:
            return None
    return axes if i == len(src) else None


def _reshape_as_unsqueeze(graph: Graph, node: Node, report: PassReport) -> None:
    x, y = graph.node_inputs(node)[0], graph.node_outputs(node)[0]
    axes = inserted_axes(x.shape if x is not None else None, y.shape if y is not None else None)
    if axes is None or x is None or y is None:
        return
    const = graph.add_constant(f"{node.name}_axes", np.array(axes, np.int64))
    (u,) = graph.add_op("Unsqueeze", [x, const], name=f"{node.name}_unsqueeze", provenance=node.provenance,
                        output_types=[y.type])
    name = y.name
    graph.replace_all_uses(y, u)
    graph.remove(node)
    graph.rename(u, name)
    report.note(f"Reshape {node.name} -> Unsqueeze{axes}")


def _transposed_unsqueeze(graph: Graph, node: Node, report: PassReport) -> None:
    """Transpose(Unsqueeze(v)) that only moves the inserted 1s is Unsqueeze(v) at other axes
    (Keras' squeeze-excite: pooled (N, C) -> (N, 1, 1, C) -> NCHW).

    Decided on the axes, not the shapes: with equal dims (heads == tokens in a relative
    position bias (1, N, N, H) -> (1, H, N, N)) the shapes match while the data moves."""
    u = graph.node_inputs(node)[0]
    unsq = graph.producer(u) if u is not None else None
    y = graph.node_outputs(node)[0]
    if unsq is None or unsq.op_type != "Unsqueeze" or unsq.domain or y is None or u is None:
        return
    if len(graph.consumers(u)) != 1 or u in graph.outputs:
        return
    v = graph.node_inputs(unsq)[0]
    perm = [int(p) for p in node.attr("perm") or []]
    inserted = _unsqueeze_axes(graph, unsq, len(perm))
    if v is None or inserted is None or sorted(perm) != list(range(len(perm))):
        return
    kept = [p for p in perm if p not in inserted]  # v's dims, in the order the output has them
    if kept != sorted(kept):
        return  # the Transpose moves v's own dims
    axes = [k for k, p in enumerate(perm) if p in inserted]
    const = graph.add_constant(f"{node.name}_axes", np.array(axes, np.int64))
    (new,) = graph.add_op("Unsqueeze", [v, const], name=f"{node.name}_unsqueeze", provenance=node.provenance,
                          output_types=[y.type])
    name = y.name
    graph.replace_all_uses(y, new)
    graph.remove(node)
    graph.remove(unsq)
    graph.rename(new, name)
    report.note(f"Transpose {node.name} of Unsqueeze -> Unsqueeze{axes}")


def _unsqueeze_axes(graph: Graph, unsq: Node, rank: int) -> set[int] | None:
    """The (non-negative) axes Unsqueeze ``unsq`` inserts into its rank-``rank`` output."""
    ins = graph.node_inputs(unsq)
    if len(ins) > 1 and ins[1] is not None:
        if not ins[1].is_const:
            return None
        axes = [int(a) for a in np.asarray(ins[1].const_array()).reshape(-1)]
    else:
        axes = [int(a) for a in unsq.attr("axes") or []]
    norm = {a + rank if a < 0 else a for a in axes}
    return norm if axes and len(norm) == len(axes) and all(0 <= a < rank for a in norm) else None


def _cast_target(node: Node) -> object:
    from tensorbridge.ir.dtypes import DType

    to = node.attr("to")
    return DType(to) if to is not None else None


def _static(v: Value) -> bool:
    return v.shape is not None and all(isinstance(d, int) for d in v.shape)
