"""Plan-time fusion: op chains the runtime computes faster as one kernel.

The IR is not changed; the session replaces the chain's steps with one step. Only chains
whose intermediate values nobody else reads are fused, so results and every value that
remains observable are unchanged (sessions that capture intermediates do not fuse).

Recognised today:
- exact GELU as exporters spell it for opsets without ``Gelu``:
  ``Mul(Mul(x, Add(Erf(Div(x, sqrt(2))), 1)), 0.5)`` (operand order of Add/Mul free);
- ``Add(MatMul(a, W), bias)`` with a constant bias: the bias is added in place into the
  product instead of allocating a second tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.graph import Graph
from ir.node import Node, Value
from runtime.kernels.activation import gelu


@dataclass(frozen=True)
class Fusion:
    nodes: tuple[Node, ...]  # replaced ops, in topological order; the step goes at the last
    inputs: tuple[Value, ...]
    output: Value
    fn: Callable[..., Any]
    attrs: dict[str, Any] = field(default_factory=dict)


def find_fusions(graph: Graph) -> list[Fusion]:
    found = []
    taken: set[Node] = set()
    for node in graph.nodes():
        f = None
        if node.domain or node in taken:
            continue
        if node.op_type == "Erf":
            f = _gelu_erf(graph, node)
        elif node.op_type == "MatMul":
            f = _matmul_bias(graph, node)
        if f is not None and not taken.intersection(f.nodes):
            found.append(f)
            taken.update(f.nodes)
    return found


def _const(graph: Graph, v: Value | None) -> np.ndarray | None:
    """The value's data when it is an initializer or a Constant op's ``value`` (looking
    through Identity ops, which exporters put on shared weights)."""
    while v is not None:
        if v.is_const:
            return v.const_array()
        p = graph.producer(v)
        if p is None:
            return None
        if p.op_type == "Constant" and "value" in p.attrs:
            return np.asarray(p.attr("value"))
        if p.op_type != "Identity":
            return None
        v = graph.node_inputs(p)[0]
    return None


def _is_scalar(graph: Graph, v: Value | None, target: float, rtol: float = 1e-6) -> bool:
    c = _const(graph, v)
    return c is not None and c.size == 1 and c.dtype.kind == "f" and abs(float(c.reshape(-1)[0]) - target) <= rtol * abs(target)


def _sole_user(graph: Graph, v: Value | None, op: str) -> tuple[Node, Value] | None:
    """The only consumer of ``v`` if it is an ``op``, with the other operand of a binary op."""
    if v is None or any(o is v for o in graph.outputs):
        return None
    users = graph.consumers(v)
    if len(users) != 1 or users[0][0].op_type != op or users[0][0].domain:
        return None
    node, port = users[0]
    ins = graph.node_inputs(node)
    other = ins[1 - port] if len(ins) == 2 else None
    if len(ins) == 2 and ins[0] is ins[1]:
        return None
    return node, other  # type: ignore[return-value]


def _gelu_erf(graph: Graph, erf: Node) -> Fusion | None:
    (u,) = graph.node_inputs(erf)
    div = graph.producer(u) if u is not None else None
    if div is None or div.op_type != "Div" or len(graph.consumers(u)) != 1:
        return None
    x, c = graph.node_inputs(div)
    if not _is_scalar(graph, c, float(np.sqrt(2.0))):
        return None
    (e,) = graph.node_outputs(erf)
    add = _sole_user(graph, e, "Add")
    if add is None or not _is_scalar(graph, add[1], 1.0):
        return None
    mul = _sole_user(graph, graph.node_outputs(add[0])[0], "Mul")
    if mul is None or mul[1] is not x:
        return None
    half = _sole_user(graph, graph.node_outputs(mul[0])[0], "Mul")
    if half is None or not _is_scalar(graph, half[1], 0.5):
        return None
    (out,) = graph.node_outputs(half[0])
    return Fusion((div, erf, add[0], mul[0], half[0]), (x,), out, gelu, {"approximate": "none"})


def _matmul_bias(graph: Graph, mm: Node) -> Fusion | None:
    (y,) = graph.node_outputs(mm)
    add = _sole_user(graph, y, "Add")
    if add is None:
        return None
    bias = _const(graph, add[1])
    if bias is None or bias.ndim != 1:
        return None
    a, w = graph.node_inputs(mm)
    (out,) = graph.node_outputs(add[0])
    return Fusion((mm, add[0]), (a, w, add[1]), out, matmul_add)  # type: ignore[arg-type]


def matmul_add(a: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """MatMul(a, w) + bias (1-D, broadcast over the last axis), added in place."""
    y = np.matmul(a, w)
    if y.ndim and y.shape[-1] == bias.shape[0] and np.result_type(y, bias) == y.dtype:
        y += bias
        return y
    return y + bias
