"""The IR cleanups run between a front-end and a back-end: constant folding (with the
runtime's kernels), no-op removal, common-subexpression and dead-code elimination. Each
pass is verified; the reports say what changed."""

from __future__ import annotations

from ir.graph import Graph
from ir.passes import PassReport, eliminate_common_subexpressions, eliminate_dead_code
from ir.passes.fold_constants import fold_constants
from ir.passes.simplify import remove_no_ops
from ir.verify import verify


def optimize(graph: Graph) -> list[PassReport]:
    from runtime.evaluate import evaluate_node

    reports = [
        fold_constants(graph, evaluate_node),
        remove_no_ops(graph),
        eliminate_common_subexpressions(graph),
        eliminate_dead_code(graph),
    ]
    verify(graph)
    return reports
