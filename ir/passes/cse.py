"""Common-subexpression elimination: two ops with the same type, domain, attributes and
inputs compute the same values; keep the first, reroute users of the second. Equal
constants are merged too. Ops with randomness or subgraphs are left alone."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Node, Role, Value
from tensorbridge.ir.passes.base import PassReport

_NONDETERMINISTIC = frozenset({
    "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
    "Multinomial", "Dropout",
})


def eliminate_common_subexpressions(graph: Graph) -> PassReport:
    report = PassReport("cse")
    _merge_constants(graph, report)
    seen: dict[Hashable, Node] = {}
    for node in graph.nodes():
        key = _key(graph, node)
        if key is None:
            continue
        first = seen.setdefault(key, node)
        if first is node:
            continue
        for old, new in zip(graph.node_outputs(node), graph.node_outputs(first)):
            if old is not None and new is not None:
                graph.replace_all_uses(old, new)
            elif old is not None:
                break  # the first op omitted an output this one produces: keep both
        else:
            graph.remove(node)
            report.note(f"merged {node.name} into {first.name} ({node.op_type})")
    return report


def _key(graph: Graph, node: Node) -> Hashable | None:
    if node.op_type in _NONDETERMINISTIC or node.subgraphs():
        return None
    ins = tuple(id(v) if v is not None else None for v in graph.node_inputs(node))
    attrs = tuple(sorted((k, _attr_key(a)) for k, a in node.attrs.items()))
    return (node.domain, node.op_type, ins, attrs, node.n_outputs)


def _attr_key(a: Attr) -> Hashable:
    if a.kind == AttrKind.TENSOR:
        return ("tensor", a.value.dtype.str, a.value.shape, a.value.tobytes())
    if a.kind == AttrKind.TENSORS:
        return tuple(_attr_key(Attr(AttrKind.TENSOR, t)) for t in a.value)
    if a.kind in (AttrKind.SPARSE_TENSOR, AttrKind.SPARSE_TENSORS):
        return ("id", id(a.value))
    return (a.kind, a.value, a.ref)


def _merge_constants(graph: Graph, report: PassReport) -> None:
    """Merge anonymous, small, equal constants (never named weights: they keep their names)."""
    seen: dict[Hashable, Value] = {}
    for v in graph.initializers():
        if v.role is not Role.CONSTANT or v.source_name or not isinstance(v.const, np.ndarray):
            continue
        if v.const.size > 1024 or v in graph.inputs or v in graph.outputs:
            continue
        key = (v.const.dtype.str, v.const.shape, v.const.tobytes())
        first = seen.setdefault(key, v)
        if first is not v:
            graph.replace_all_uses(v, first)
            graph.remove(v)
            report.note(f"merged constant {v.name} into {first.name}")
