"""Dead-code elimination: drop ops none of whose outputs reach a graph output, and values
(initializers included) nobody reads. Recurses into subgraphs."""

from __future__ import annotations

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Role
from tensorbridge.ir.passes.base import PassReport

# ops whose effect is not only their outputs: never dropped even when unused
_SIDE_EFFECTS: frozenset[str] = frozenset()


def eliminate_dead_code(graph: Graph, *, keep_weights: bool = False) -> PassReport:
    """``keep_weights``: keep unused parameters and buffers (a migrated model carries every
    weight of its source, e.g. a pooler the exported outputs do not use)."""
    report = PassReport("dce")
    _run(graph, report, keep_weights)
    return report


def _run(graph: Graph, report: PassReport, keep_weights: bool = False) -> None:
    read_inside: set[str] = set()  # names the kept ops' subgraphs read from this scope
    for node in reversed(graph.nodes()):
        outs = [v for v in graph.node_outputs(node) if v is not None]
        if node.op_type not in _SIDE_EFFECTS and not any(
                graph.is_used(v) or v.name in read_inside for v in outs):
            graph.remove(node)
            report.note(f"removed op {node.name} ({node.op_type})")
            continue
        for sub in node.subgraphs():
            _run(sub, report, keep_weights)
            read_inside |= sub.outer_names()
    for v in graph.values():
        if v.role in (Role.INPUT,) or graph.is_used(v) or graph.producer(v) is not None:
            continue
        if v.name in read_inside or (keep_weights and v.role in (Role.PARAMETER, Role.BUFFER)):
            continue
        graph.remove(v)
        report.note(f"removed unused {v.role.value} {v.name}")
