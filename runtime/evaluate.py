"""Evaluate one IR op on constant inputs with the runtime's kernels (what the IR's
constant-folding pass is given as its ``evaluate`` callback)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorbridge.runtime.kernels  # noqa: F401  (registers every kernel)
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node
from tensorbridge.runtime.registry import KERNELS, KernelContext


def evaluate_node(graph: Graph, node: Node, inputs: Sequence[Any]) -> list[Any] | None:
    spec = KERNELS.lookup(node.op_type, node.domain, graph.opset(node.domain), where=node.name)
    attrs: dict[str, Any] = {k: (list(a.value) if isinstance(a.value, tuple) else a.value)
                             for k, a in node.attrs.items() if not a.ref}
    if set(attrs) - spec.attr_names:
        return None
    if spec.wants_ctx:
        attrs["ctx"] = KernelContext(node_name=node.name, n_outputs=node.n_outputs, opset=graph.opset(node.domain))
    res = spec.fn(*inputs, **attrs)
    return list(res) if isinstance(res, tuple) else [res]
