"""Wires the named pass pipelines of ``ir.passes.pipeline`` to the runtime's kernels (which
constant folding evaluates nodes with)."""

from __future__ import annotations

from ir.graph import Graph
from ir.passes import PassReport
from ir.passes.pipeline import PIPELINES, run_pipeline


def optimize(graph: Graph, pipeline: str = "clean") -> list[PassReport]:
    """Run the named pipeline (``clean``, ``deploy`` or ``migrate``) on ``graph`` in place."""
    from runtime.evaluate import evaluate_node

    return run_pipeline(graph, pipeline, evaluate_node)


__all__ = ["PIPELINES", "optimize"]
