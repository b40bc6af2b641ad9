"""Plan-time fusion: op chains the runtime computes faster as one kernel.

The IR is not changed; the session replaces the chain's steps with one step. Only chains
whose intermediate values nobody else reads are fused, so results and every value that
remains observable are unchanged (sessions that capture intermediates do not fuse).

Recognised: the chains of ``ir.passes.patterns`` (exact and tanh GELU, RMS norm: run by
the Gelu / RMSNormalization kernels whatever the model's opset),
``Add(MatMul(a, W), bias)`` with a constant 1-D bias, added in place into the product, and
attention's ``Softmax(scores + mask)`` with torch's guard ``Where(IsNaN(p), 0, p)`` (a fully
masked row), computed in one buffer; ``LayerNormalization(Add(a, b))`` (a residual
connection) in the sum's buffer; and a GELU of a MatMul + bias in the product's buffer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.passes.patterns import GraphView, find_matches
from tensorbridge.runtime.concat_chain import find_concat_chains
from tensorbridge.runtime.erf import gelu_exact_f32
from tensorbridge.runtime.fuse_conv import find_conv_chains
from tensorbridge.runtime.fuse_norm import find_layer_norms
from tensorbridge.runtime.kernels.activation import gelu
from tensorbridge.runtime.kernels.math import softmax_inplace
from tensorbridge.runtime.kernels.norm import layer_norm
from tensorbridge.runtime.plan_view import Fusion, PlanView
from tensorbridge.runtime.registry import KERNELS, KernelContext


def find_fusions(graph: Graph, known: Mapping[str, np.ndarray] | None = None,
                 folded: Collection[Node] = ()) -> list[Fusion]:
    """Non-overlapping fusions of ``graph``. ``known``: values the planner already folded to
    constants (by name), seen as constants by the matchers; ``folded``: the ops it folded
    (never part of a fusion)."""
    found: list[Fusion] = []
    taken: set[Node] = set(folded)
    view = PlanView(graph, known or {})
    found += find_layer_norms(view, taken)  # before RMS norm: LN's tail looks like an RMS norm of x - mean
    for m in find_matches(graph):
        if taken.intersection(m.nodes):
            continue
        if m.op_type == "Gelu":
            found.append(Fusion(m.nodes, m.inputs, m.output, gelu, dict(m.attrs)))
        elif m.op_type == "RMSNormalization":
            found.append(Fusion(m.nodes, m.inputs, m.output, _rms_norm, dict(m.attrs)))
        else:
            continue  # (a spelled-out BatchNormalization: the per-channel chains below take it)
        taken.update(m.nodes)
    opset = graph.opset()
    found += _gelu_ops(view, taken)
    for node in graph.nodes():
        if node.domain or node in taken:
            continue
        f = (_matmul_bias(view, node) if node.op_type == "MatMul"
             else _softmax_chain(view, node) if node.op_type == "Softmax" and opset >= 13
             else _add_layer_norm(view, node) if node.op_type == "LayerNormalization" else None)
        if f is not None and not taken.intersection(f.nodes):
            found.append(f)
            taken.update(f.nodes)
    found += find_conv_chains(view, taken)
    found += find_concat_chains(view, taken)
    return _merge_bias_gelu(graph, found)


def _gelu_ops(view: PlanView, taken: set[Node]) -> list[Fusion]:
    """Gelu ops (opset 20, torch's dynamo export) as one-node fusions, so that a Gelu of a
    MatMul + bias merges into the product's buffer like the spelled-out chains do."""
    found = []
    for node in view.g.nodes():
        if node.op_type == "Gelu" and not node.domain and node not in taken and view.g.opset() >= 20:
            x = view.operands(node)[0]
            if x is not None:
                found.append(Fusion((node,), (x,), view.out(node), gelu,
                                    {"approximate": node.attr("approximate", "none")}))
                taken.add(node)
    return found


def _merge_bias_gelu(graph: Graph, found: list[Fusion]) -> list[Fusion]:
    """A GELU whose input is a MatMul + bias fusion's private output runs in the product's
    buffer: one step, no second activation-sized array (a transformer's FFN)."""
    by_output = {f.output: f for f in found if f.fn is matmul_add}
    merged: list[Fusion] = []
    absorbed: set[int] = set()
    for f in found:
        if f.fn is not gelu or len(f.inputs) != 1 or f.inputs[0] not in by_output:
            continue
        mm = by_output[f.inputs[0]]
        h = mm.output
        if h in graph.outputs or any(n not in f.nodes for n, _ in graph.consumers(h)):
            continue
        merged.append(Fusion(mm.nodes + f.nodes, mm.inputs, f.output, matmul_add_gelu, dict(f.attrs)))
        absorbed |= {id(f), id(mm)}
    return [f for f in found if id(f) not in absorbed] + merged


def _rms_norm(x: np.ndarray, scale: np.ndarray | None = None, *, axis: int = -1,
              epsilon: float = 1e-5) -> np.ndarray:
    spec = KERNELS.lookup("RMSNormalization", "", 23)
    if scale is None:
        scale = np.ones(x.shape[-1], x.dtype)
    return spec.fn(x, scale, axis=axis, epsilon=epsilon,
                   **({"ctx": KernelContext("rms", 1, 23)} if spec.wants_ctx else {}))


def _matmul_bias(view: GraphView, mm: Node) -> Fusion | None:
    add = view.user(view.out(mm), "Add")
    if add is None:
        return None
    bias = view.const(add[1])
    if bias is None or bias.ndim != 1:
        return None
    a, w = view.operands(mm)
    return Fusion((mm, add[0]), (a, w, add[1]), view.out(add[0]), matmul_add)  # type: ignore[arg-type]


def _softmax_chain(view: GraphView, sm: Node) -> Fusion | None:
    """[Add(x, mask) ->] Softmax [-> Where(IsNaN(p), c, p)], at least one of the two."""
    nodes: list[Node] = []
    x = view.operands(sm)[0]
    inputs: list[Value] = []
    attrs: dict[str, Any] = {"axis": sm.attr("axis", -1)}
    add = view.made_by(x, "Add")
    if add is not None:
        inputs += [v for v in view.operands(add) if v is not None]
        if len(inputs) == 2:
            _scaled_scores(view, inputs, nodes, attrs)
        nodes.append(add)
    else:
        inputs.append(x)  # type: ignore[arg-type]
    nodes.append(sm)
    p = view.out(sm)
    out = p
    users = {n.op_type: n for n, _ in view.g.consumers(p)}
    if len(view.g.consumers(p)) == 2 and set(users) == {"IsNaN", "Where"} and p not in view.g.outputs:
        isnan, where = users["IsNaN"], users["Where"]
        cond, fill, other = view.operands(where)
        c = view.scalar(fill)
        if cond is view.out(isnan) and view.private(cond) and other is p and c is not None and not isnan.domain:
            nodes += [isnan, where]
            out, attrs["fill"] = view.out(where), c
    if len(nodes) == 1 or len(inputs) not in (1, 2):
        return None
    return Fusion(tuple(nodes), tuple(inputs), out, softmax_guarded, attrs)


def _scaled_scores(view: GraphView, inputs: list[Value], nodes: list[Node], attrs: dict[str, Any]) -> None:
    """Attention's ``Add(Div(scores, sqrt(d)) | Mul(scores, 1/sqrt(d)), mask)``: the scaling
    joins the chain (in the same buffer); the scores go first."""
    for i, v in enumerate(inputs):
        for op, key in (("Div", "divisor"), ("Mul", "scale")):
            node = view.made_by(v, op)
            if node is None:
                continue
            a, b = view.operands(node)
            c = view.scalar(b)
            if c is None or a is None or (op == "Div" and c == 0):
                continue
            nodes.append(node)
            attrs[key] = c
            inputs[:] = [a, inputs[1 - i]]
            return


def softmax_guarded(x: np.ndarray, mask: np.ndarray | None = None, *, axis: int = -1,
                    fill: float | None = None, scale: float | None = None,
                    divisor: float | None = None) -> np.ndarray:
    """Softmax(x [* scale | / divisor] [+ mask]) along ``axis``, NaNs (rows that were all
    -inf) set to ``fill``; one fresh buffer, worked in place."""
    if scale is not None or divisor is not None:
        y = np.multiply(x, x.dtype.type(scale)) if scale is not None else np.divide(x, x.dtype.type(divisor))
        if mask is not None:
            if np.broadcast_shapes(y.shape, mask.shape) == y.shape and np.result_type(y, mask) == y.dtype:
                y += mask
            else:
                y = y + mask
    else:
        y = np.add(x, mask) if mask is not None else np.array(x, copy=True)
    softmax_inplace(y, axis)
    if fill is not None:
        nan = np.isnan(y)
        if nan.any():
            y[nan] = fill
    return y


def _add_layer_norm(view: GraphView, ln: Node) -> Fusion | None:
    """LayerNormalization(Add(a, b)) (a residual connection), normalised in the sum's buffer."""
    outs = view.g.node_outputs(ln)
    add = view.made_by(view.operands(ln)[0], "Add")
    if add is None or any(o is not None for o in outs[1:]) or view.g.opset() < 17:
        return None
    a, b = view.operands(add)
    rest = [v for v in view.operands(ln)[1:] if v is not None]
    if a is None or b is None or len(rest) != len(view.operands(ln)) - 1:
        return None  # an omitted Scale would shift B's position
    attrs = {k: ln.attr(k) for k in ("axis", "epsilon", "stash_type") if ln.attr(k) is not None}
    return Fusion((add, ln), (a, b, *rest), view.out(ln), add_layer_norm, attrs)


def add_layer_norm(a: np.ndarray, b: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None,
                   **attrs: Any) -> np.ndarray:
    """LayerNormalization(a + b), the sum a fresh buffer the normalisation overwrites."""
    y = layer_norm(np.add(a, b), scale, bias, overwrite=True, **attrs)
    assert isinstance(y, np.ndarray)
    return y


def matmul_add_gelu(a: np.ndarray, w: np.ndarray, bias: np.ndarray, *, approximate: str = "none") -> np.ndarray:
    """Gelu(MatMul(a, w) + bias), computed in the product's buffer when exact and float32."""
    y = matmul_add(a, w, bias)
    if approximate == "none" and y.dtype == np.float32 and y.flags.c_contiguous:
        return gelu_exact_f32(y, inplace=True)
    return gelu(y, approximate=approximate)


def matmul_add(a: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """MatMul(a, w) + bias (1-D, broadcast over the last axis), added in place."""
    y = np.matmul(a, w)
    if y.ndim and y.shape[-1] == bias.shape[0] and np.result_type(y, bias) == y.dtype:
        y += bias
        return y
    return y + bias
