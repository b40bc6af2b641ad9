"""What the planner knows about a graph when it looks for fusions: the pattern matchers'
GraphView, plus the values it folded to constants and every value's rank, propagated
forward once over the graph (typed values, constants, rank-preserving ops, Concat)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.passes.patterns import BROADCAST_RANK, SAME_RANK, GraphView


@dataclass(frozen=True)
class Fusion:
    nodes: tuple[Node, ...]  # replaced ops, in topological order; the step goes at the last
    inputs: tuple[Value, ...]
    output: Value
    fn: Callable[..., Any]
    attrs: dict[str, Any] = field(default_factory=dict)


_MAX_OF_INPUTS = BROADCAST_RANK | {"Sum", "Mean", "Where"}
_FIRST_INPUT = SAME_RANK | {"Concat", "Split", "Slice"}


class PlanView(GraphView):
    """A GraphView that also sees the planner's folded constants, with forward ranks."""

    def __init__(self, graph: Graph, known: Mapping[str, np.ndarray]) -> None:
        super().__init__(graph)
        self.known = known
        self._ranks: dict[str, int] = {}
        for v in graph.values():
            r = self._own_rank(v)
            if r is not None:
                self._ranks[v.name] = r
        for node in graph.nodes():
            self._propagate(node)

    def const(self, v: Value | None) -> np.ndarray | None:
        if v is not None and v.name in self.known:
            c = self.known[v.name]
            return c if isinstance(c, np.ndarray) else None
        return super().const(v)

    def rank(self, v: Value | None, depth: int = 32) -> int:
        """``v``'s rank when known (0: unknown)."""
        if v is None:
            return 0
        return self._ranks.get(v.name) or super().rank(v, depth)

    def _own_rank(self, v: Value) -> int | None:
        if v.shape is not None:
            return len(v.shape)
        c = self.known.get(v.name)
        if isinstance(c, np.ndarray):
            return c.ndim
        return v.const_array().ndim if v.is_const else None

    def _propagate(self, node: Node) -> None:
        if node.domain:
            return
        ins = [self._ranks.get(v.name) if v is not None else None for v in self.g.node_inputs(node)]
        op = node.op_type
        if op in _MAX_OF_INPUTS:
            rank = None if not ins or any(r is None for r in ins) else max(r for r in ins if r is not None)
        elif op in _FIRST_INPUT:
            rank = ins[0] if ins else None
        else:
            return
        if rank is None:
            return
        for v in self.g.node_outputs(node)[:1 if op != "Split" else None]:
            if v is not None:
                self._ranks.setdefault(v.name, rank)
