"""Wires the named pass pipelines of ``ir.passes.pipeline`` to the runtime's kernels (which
constant folding evaluates nodes with)."""

from __future__ import annotations

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.passes import PassReport
from tensorbridge.ir.passes.pipeline import PIPELINES, run_pipeline


def optimize(graph: Graph, pipeline: str = "clean") -> list[PassReport]:
    """Run the named pipeline (``clean``, ``deploy`` or ``migrate``) on ``graph`` in place."""
    from tensorbridge.runtime.evaluate import evaluate_node

    return run_pipeline(graph, pipeline, evaluate_node)


__all__ = ["PIPELINES", "optimize"]
