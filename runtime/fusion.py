"""Plan-time fusion: op chains the runtime computes faster as one kernel.

The IR is not changed; the session replaces the chain's steps with one step. Only chains
whose intermediate values nobody else reads are fused, so results and every value that
remains observable are unchanged (sessions that capture intermediates do not fuse).

Recognised: the chains of ``ir.passes.patterns`` (exact and tanh GELU, RMS norm: run by
the Gelu / RMSNormalization kernels whatever the model's opset), and
``Add(MatMul(a, W), bias)`` with a constant 1-D bias, added in place into the product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.graph import Graph
from ir.node import Node, Value
from ir.passes.patterns import _View, find_matches
from runtime.kernels.activation import gelu
from runtime.registry import KERNELS, KernelContext


@dataclass(frozen=True)
class Fusion:
    nodes: tuple[Node, ...]  # replaced ops, in topological order; the step goes at the last
    inputs: tuple[Value, ...]
    output: Value
    fn: Callable[..., Any]
    attrs: dict[str, Any] = field(default_factory=dict)


def find_fusions(graph: Graph) -> list[Fusion]:
    found: list[Fusion] = []
    taken: set[Node] = set()
    for m in find_matches(graph):
        if m.op_type == "Gelu":
            found.append(Fusion(m.nodes, m.inputs, m.output, gelu, dict(m.attrs)))
        elif m.op_type == "RMSNormalization":
            found.append(Fusion(m.nodes, m.inputs, m.output, _rms_norm, dict(m.attrs)))
        taken.update(m.nodes)
    view = _View(graph)
    for node in graph.nodes():
        if node.op_type == "MatMul" and not node.domain and node not in taken:
            f = _matmul_bias(view, node)
            if f is not None and not taken.intersection(f.nodes):
                found.append(f)
                taken.update(f.nodes)
    return found


def _rms_norm(x: np.ndarray, scale: np.ndarray | None = None, *, axis: int = -1,
              epsilon: float = 1e-5) -> np.ndarray:
    spec = KERNELS.lookup("RMSNormalization", "", 23)
    if scale is None:
        scale = np.ones(x.shape[-1], x.dtype)
    return spec.fn(x, scale, axis=axis, epsilon=epsilon,
                   **({"ctx": KernelContext("rms", 1, 23)} if spec.wants_ctx else {}))


def _matmul_bias(view: _View, mm: Node) -> Fusion | None:
    add = view.user(view.out(mm), "Add")
    if add is None:
        return None
    bias = view.const(add[1])
    if bias is None or bias.ndim != 1:
        return None
    a, w = view.operands(mm)
    return Fusion((mm, add[0]), (a, w, add[1]), view.out(add[0]), matmul_add)  # type: ignore[arg-type]


def matmul_add(a: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """MatMul(a, w) + bias (1-D, broadcast over the last axis), added in place."""
    y = np.matmul(a, w)
    if y.ndim and y.shape[-1] == bias.shape[0] and np.result_type(y, bias) == y.dtype:
        y += bias
        return y
    return y + bias
