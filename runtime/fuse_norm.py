"""Plan-time recognition of LayerNormalization spelled out, as exporters write it when the
target opset lacks the op (tf2onnx, torch below opset 17, tensorbridge's own decomposition):

    mean = ReduceMean(x, last axis, keepdims)     d = Sub(x, mean)
    var  = ReduceMean(Pow(d, 2) | Mul(d, d))      std = Sqrt(Add(var, eps))
    n    = Div(d, std) | Mul(d, Reciprocal(std))  [y = Mul(n, gamma)] [y = Add(y, beta)]

run as one LayerNormalization kernel (two passes over x instead of eight). The axes must be
the last one; every inner value must be private to the chain.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.node import Node, Value
from tensorbridge.runtime.kernels.norm import layer_norm
from tensorbridge.runtime.plan_view import Fusion, PlanView


def _last_axis_mean(view: PlanView, node: Node, x: Value) -> bool:
    """``node`` is ReduceMean over x's last axis only, keeping dims."""
    if node.op_type != "ReduceMean" or node.domain or node.attr("keepdims", 1) != 1:
        return False
    ins = view.operands(node)
    if len(ins) > 1 and ins[1] is not None:
        c = view.const(ins[1])
        axes = None if c is None else [int(a) for a in c.reshape(-1)]
    else:
        axes = node.attr("axes", None)
        axes = None if axes is None else [int(a) for a in axes]
    rank = view.rank(x)
    return axes is not None and len(axes) == 1 and (axes[0] == -1 or (rank > 0 and axes[0] == rank - 1))


def _users(view: PlanView, v: Value) -> list[Node]:
    return list(dict.fromkeys(n for n, _ in view.g.consumers(v)))


def _squared(view: PlanView, d: Value, node: Node) -> bool:
    ins = view.operands(node)
    if node.op_type == "Mul":
        return len(ins) == 2 and ins[0] is d and ins[1] is d
    return node.op_type == "Pow" and ins[0] is d and view.is_scalar(ins[1], 2.0)


def layer_norm_chain(view: PlanView, mean: Node) -> Fusion | None:
    x = view.operands(mean)[0]
    if x is None or not _last_axis_mean(view, mean, x):
        return None
    sub = view.user(view.out(mean), "Sub")
    if sub is None or view.operands(sub[0]) != [x, view.out(mean)]:
        return None
    d = view.out(sub[0])
    users = _users(view, d)
    if len(users) != 2 or d in view.g.outputs:
        return None
    sq = next((n for n in users if _squared(view, d, n)), None)
    div = next((n for n in users if n is not sq), None)
    if sq is None or div is None:
        return None
    var = view.user(view.out(sq), "ReduceMean")
    if var is None or not _last_axis_mean(view, var[0], x):
        return None
    add = view.user(view.out(var[0]), "Add")
    eps = view.scalar(add[1]) if add is not None else None
    sqrt = view.user(view.out(add[0]), "Sqrt") if add is not None else None
    if eps is None or sqrt is None or add is None:
        return None
    nodes = [mean, sub[0], sq, var[0], add[0], sqrt[0]]
    normed = _divide(view, d, view.out(sqrt[0]), div, nodes)
    if normed is None:
        return None
    return _affine_tail(view, x, normed, nodes, float(eps))


def _divide(view: PlanView, d: Value, std: Value, div: Node, nodes: list[Node]) -> Value | None:
    """Div(d, std), or Mul(d, Reciprocal(std)): the normalised value."""
    ins = view.operands(div)
    if div.op_type == "Div" and ins == [d, std] and view.private(std):
        nodes.append(div)
        return view.out(div)
    rec = view.user(std, "Reciprocal")
    if div.op_type == "Mul" and rec is not None and view.private(view.out(rec[0])) and set(
            map(id, ins)) == {id(d), id(view.out(rec[0]))}:
        nodes += [rec[0], div]
        return view.out(div)
    return None


def _affine_tail(view: PlanView, x: Value, normed: Value, nodes: list[Node], eps: float) -> Fusion:
    """[* gamma] [+ beta], each a constant vector over the last axis."""
    gamma = beta = None
    out = normed
    mul = view.user(out, "Mul")
    if mul is not None and _last_axis_vector(view, mul[1]):
        gamma, out = mul[1], view.out(mul[0])
        nodes.append(mul[0])
    add = view.user(out, "Add")
    if add is not None and _last_axis_vector(view, add[1]):
        beta, out = add[1], view.out(add[0])
        nodes.append(add[0])
    order = {n: i for i, n in enumerate(view.g.nodes())}
    nodes.sort(key=order.__getitem__)
    ins = tuple(v for v in (x, gamma, beta) if v is not None)
    return Fusion(tuple(nodes), ins, out, layer_norm_decomposed,
                  {"epsilon": eps, "has_scale": gamma is not None, "has_bias": beta is not None})


def _last_axis_vector(view: PlanView, v: Value | None) -> bool:
    c = view.const(v)
    return c is not None and c.dtype.kind == "f" and c.ndim == 1


def layer_norm_decomposed(x: np.ndarray, *params: np.ndarray, epsilon: float, has_scale: bool,
                          has_bias: bool) -> np.ndarray:
    """The spelled-out LayerNormalization over the last axis as one kernel."""
    it = iter(params)
    scale = next(it) if has_scale else np.ones(x.shape[-1], x.dtype)
    bias = next(it) if has_bias else None
    y = layer_norm(x, scale.astype(x.dtype, copy=False), None if bias is None else bias.astype(x.dtype, copy=False),
                   axis=-1, epsilon=epsilon)
    assert isinstance(y, np.ndarray)
    return y


def find_layer_norms(view: PlanView, taken: set[Node]) -> list[Fusion]:
    found: list[Fusion] = []
    for node in view.g.nodes():
        if node.op_type == "ReduceMean" and not node.domain and node not in taken:
            f = layer_norm_chain(view, node)
            if f is not None and not taken.intersection(f.nodes):
                found.append(f)
                taken.update(f.nodes)
    return found
