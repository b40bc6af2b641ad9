"""Recognisers for op chains that mean one higher-level op (exact and tanh GELU, RMS norm),
as exporters spell them when the target opset lacks the op or the model writes the formula
by hand. Used by the IR fusion pass (to emit the ONNX op) and by the runtime (to run the
chain as one kernel). A match only covers values nobody else reads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value

# ops whose output rank is their first input's (or, broadcasting, the larger of the first two)
SAME_RANK = frozenset({
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh",
    "HardSigmoid", "HardSwish", "Elu", "Selu", "Gelu", "Erf", "Exp", "Neg", "Abs", "Sqrt", "Identity",
    "Cast", "Transpose", "Pad", "Resize", "Softmax", "Dropout", "PRelu", "Mish", "Conv", "ConvTranspose",
    "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
    "InstanceNormalization", "LayerNormalization", "DepthToSpace", "SpaceToDepth", "LRN"})

# of those, the ones whose output rank is the largest of all their inputs' (broadcasting)
BROADCAST_RANK = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"})


@dataclass(frozen=True)
class Match:
    op_type: str
    nodes: tuple[Node, ...]  # the chain, in topological order
    inputs: tuple[Value, ...]
    output: Value
    attrs: dict[str, Any] = field(default_factory=dict)
    channels_last: bool = False  # the data's channel axis is its last (wrap the op in Transposes)


class GraphView:
    """Small graph queries for pattern matching."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph

    def const(self, v: Value | None) -> np.ndarray | None:
        """Constant data of ``v`` (initializer or Constant op, through Identity ops)."""
        while v is not None:
            if v.is_const:
                return v.const_array()
            p = self.g.producer(v)
            if p is None:
                return None
            if p.op_type == "Constant" and "value" in p.attrs:
                return np.asarray(p.attr("value"))
            if p.op_type != "Identity":
                return None
            v = self.g.node_inputs(p)[0]
        return None

    def scalar(self, v: Value | None) -> float | None:
        c = self.const(v)
        return float(c.reshape(-1)[0]) if c is not None and c.size == 1 and c.dtype.kind in "fiu" else None

    def is_scalar(self, v: Value | None, target: float, rtol: float = 1e-5) -> bool:
        s = self.scalar(v)
        return s is not None and abs(s - target) <= rtol * max(abs(target), 1e-12)

    def private(self, v: Value | None) -> bool:
        return v is not None and len(self.g.consumers(v)) == 1 and v not in self.g.outputs

    def made_by(self, v: Value | None, op: str) -> Node | None:
        """The producer of ``v`` if it is a standard-domain ``op`` whose output only one op reads."""
        if v is None or not self.private(v):
            return None
        p = self.g.producer(v)
        return p if p is not None and p.op_type == op and not p.domain else None

    def user(self, v: Value | None, op: str) -> tuple[Node, Value | None] | None:
        """The sole consumer of ``v`` if it is ``op``, with the other operand of a binary op."""
        if not self.private(v):
            return None
        node, port = self.g.consumers(v)[0]  # type: ignore[arg-type]
        if node.op_type != op or node.domain:
            return None
        ins = self.g.node_inputs(node)
        return node, (ins[1 - port] if len(ins) == 2 and port < 2 else None)

    def rank(self, v: Value | None, depth: int = 32) -> int:
        """``v``'s rank: from its type, else through rank-preserving producers (0: unknown)."""
        return self._rank(v, depth) or 0

    def _rank(self, v: Value | None, depth: int) -> int | None:
        if v is None:
            return None
        if v.shape is not None:
            return len(v.shape)
        p = self.g.producer(v)
        # (the channels-last twins keep their standard op's rank too)
        if p is None or depth == 0 or p.domain not in ("", "tensorbridge.nhwc") or (
                p.op_type not in SAME_RANK and p.op_type != "DepthwiseConv"):
            return None
        ins = self.g.node_inputs(p)
        if p.op_type in BROADCAST_RANK:  # known only when every operand's is
            ranks = [self._rank(i, depth - 1) for i in ins]
            return None if not ranks or any(r is None for r in ranks) else max(r for r in ranks if r is not None)
        first = self._rank(ins[0], depth - 1) if ins else None
        if first is None and p.op_type in ("Conv", "ConvTranspose", "DepthwiseConv") and len(ins) > 1:
            return self._rank(ins[1], depth - 1)  # the weight has the data's rank
        return first  # (Pad's pads, Clip's bounds, a norm's scale: not the data's rank)

    def out(self, node: Node) -> Value:
        return self.g.node_outputs(node)[0]  # type: ignore[return-value]

    def operands(self, node: Node) -> list[Value | None]:
        return self.g.node_inputs(node)


def find_matches(graph: Graph) -> list[Match]:
    """Every non-overlapping match in ``graph`` (not its subgraphs)."""
    view, found = GraphView(graph), []
    taken: set[Node] = set()
    for node in graph.nodes():
        if node.domain or node in taken:
            continue
        m = None
        if node.op_type == "Erf":
            m = gelu_erf(view, node)
        elif node.op_type == "Tanh":
            m = gelu_tanh(view, node)
        elif node.op_type == "ReduceMean":
            m = rms_norm(view, node)
        elif node.op_type == "Sqrt":
            m = batch_norm(view, node)
        if m is not None and not taken.intersection(m.nodes):
            found.append(m)
            taken.update(m.nodes)
    return found


def _times_half(view: GraphView, v: Value, x: Value) -> tuple[list[Node], Value] | None:
    """``v * x * 0.5`` in either association: Mul(Mul(x, v), 0.5) or Mul(Mul(x, 0.5), v)."""
    step = view.user(v, "Mul")
    if step is None:
        return None
    mul, other = step
    if other is x:
        half = view.user(view.out(mul), "Mul")
        if half is not None and view.is_scalar(half[1], 0.5):
            return [mul, half[0]], view.out(half[0])
        return None
    pre = view.made_by(other, "Mul")
    if pre is not None and set(map(id, view.operands(pre))) >= {id(x)}:
        k = [o for o in view.operands(pre) if o is not x]
        if k and view.is_scalar(k[0], 0.5):
            return [pre, mul], view.out(mul)
    return None


def gelu_erf(view: GraphView, erf: Node) -> Match | None:
    """0.5 * x * (1 + erf(x / sqrt(2)))  (also x * (1/sqrt(2)) inside)."""
    (u,) = view.operands(erf)
    scale = view.made_by(u, "Div") or view.made_by(u, "Mul")
    if scale is None:
        return None
    x, c = view.operands(scale)
    want = math.sqrt(2.0) if scale.op_type == "Div" else 1 / math.sqrt(2.0)
    if x is None or not view.is_scalar(c, want):
        return None
    plus = view.user(view.out(erf), "Add")
    if plus is None or not view.is_scalar(plus[1], 1.0):
        return None
    tail = _times_half(view, view.out(plus[0]), x)
    if tail is None:
        return None
    nodes = [scale, erf, plus[0], *tail[0]]
    return Match("Gelu", tuple(_ordered(view, nodes)), (x,), tail[1], {"approximate": "none"})


def gelu_tanh(view: GraphView, tanh: Node) -> Match | None:
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    (u,) = view.operands(tanh)
    outer = view.made_by(u, "Mul")
    if outer is None:
        return None
    a, b = view.operands(outer)
    inner_sum = b if view.is_scalar(a, math.sqrt(2 / math.pi)) else a
    if not view.is_scalar(b if inner_sum is a else a, math.sqrt(2 / math.pi)):
        return None
    add = view.made_by(inner_sum, "Add")
    if add is None:
        return None
    for x, cube_term in (view.operands(add), view.operands(add)[::-1]):
        m = _cube_times(view, cube_term, x)
        if m is not None:
            plus = view.user(view.out(tanh), "Add")
            if plus is None or not view.is_scalar(plus[1], 1.0):
                return None
            tail = _times_half(view, view.out(plus[0]), x)  # type: ignore[arg-type]
            if tail is None:
                return None
            nodes = [*m, add, outer, tanh, plus[0], *tail[0]]
            return Match("Gelu", tuple(_ordered(view, nodes)), (x,), tail[1], {"approximate": "tanh"})  # type: ignore[arg-type]
    return None


def _cube_times(view: GraphView, v: Value | None, x: Value | None) -> list[Node] | None:
    """``0.044715 * x**3`` -> its nodes."""
    mul = view.made_by(v, "Mul")
    if mul is None:
        return None
    p, q = view.operands(mul)
    cube = q if view.is_scalar(p, 0.044715) else p
    if not view.is_scalar(q if cube is p else p, 0.044715):
        return None
    pw = view.made_by(cube, "Pow")
    if pw is None or view.operands(pw)[0] is not x or not view.is_scalar(view.operands(pw)[1], 3.0):
        return None
    return [pw, mul]


def rms_norm(view: GraphView, mean: Node) -> Match | None:
    """w * (x * 1/sqrt(mean(x^2, last axis, keepdims) + eps)); w optional."""
    ins = view.operands(mean)
    axes = view.const(ins[1]) if len(ins) > 1 else np.asarray(mean.attr("axes", []))
    sq = view.made_by(ins[0], "Pow")
    if axes is None or axes.size != 1 or not mean.attr("keepdims", 1) or sq is None:
        return None
    x = view.operands(sq)[0]
    rank = len(x.shape) if x is not None and x.shape is not None else None
    axis = int(axes.reshape(-1)[0])
    if not view.is_scalar(view.operands(sq)[1], 2.0) or not (axis == -1 or (rank and axis == rank - 1)):
        return None
    plus = view.user(view.out(mean), "Add")
    eps = view.scalar(plus[1]) if plus is not None else None
    sqrt = view.user(view.out(plus[0]), "Sqrt") if plus is not None else None
    recip = view.user(view.out(sqrt[0]), "Reciprocal") if sqrt is not None else None
    scaled = view.user(view.out(recip[0]), "Mul") if recip is not None else None
    if eps is None or scaled is None or scaled[1] is not x:
        return None
    nodes = [sq, mean, plus[0], sqrt[0], recip[0], scaled[0]]  # type: ignore[index]
    out, weight = view.out(scaled[0]), None
    by_w = view.user(out, "Mul")
    if by_w is not None and (w := view.const(by_w[1])) is not None and w.ndim == 1:
        nodes.append(by_w[0])
        out, weight = view.out(by_w[0]), by_w[1]
    inputs = (x,) if weight is None else (x, weight)
    return Match("RMSNormalization", tuple(_ordered(view, nodes)), inputs, out,  # type: ignore[arg-type]
                 {"axis": -1, "epsilon": float(eps)})


def batch_norm(view: GraphView, sqrt: Node) -> Match | None:
    """Inference batch norm spelled out, as TF/Keras lower it:
    ``m = gamma / sqrt(var + eps)``; ``y = x * m + (beta - mean * m)``, with m and the shift
    broadcast over the channel axis (1); gamma and beta may be missing (scale / center off)."""
    g = view.g
    plus = view.made_by(view.operands(sqrt)[0], "Add")
    recip = view.user(view.out(sqrt), "Reciprocal")
    if plus is None or recip is None:
        return None
    var, eps_v = view.operands(plus)
    eps = view.scalar(eps_v)
    channels = _channel_vector(var)
    if eps is None or var is None or channels is None:
        return None
    nodes, m = [plus, sqrt, recip[0]], view.out(recip[0])
    gamma = None
    by_gamma = view.user(m, "Mul")
    if by_gamma is not None:
        nodes.append(by_gamma[0])
        m, gamma = view.out(by_gamma[0]), by_gamma[1]
    users = g.consumers(m)
    if len(users) != 2 or m in g.outputs:
        return None
    shift_mul = next((n for n, _ in users if n.op_type == "Mul" and not n.domain and _is_vector(
        view, next(v for v in view.operands(n) if v is not m), var)), None)
    scale_use = next((n for n, _ in users if n is not shift_mul), None)
    if shift_mul is None or scale_use is None:
        return None
    mean = next(v for v in view.operands(shift_mul) if v is not m)
    shift = _bn_shift(view, view.out(shift_mul))
    scaled = _bn_broadcast(view, scale_use, m)
    if shift is None or scaled is None:
        return None
    (sub, beta), (scale_nodes, mul_x, x, k) = shift, scaled
    add = view.user(view.out(mul_x), "Add")
    rank = view.rank(x)
    if add is None or x is None or mul_x.op_type != "Mul" or rank < 2 or (k and len(var.shape or ()) != 1):
        return None
    bshape = (*var.shape, *([1] * k))  # type: ignore[misc]  # the per-channel factor, as broadcast
    axis = rank - len(bshape) + channels
    if axis not in (1, rank - 1) or len(bshape) > rank:
        return None
    if not view.private(view.out(sub)):
        return None  # the shift is read elsewhere too: it must stay
    shift_use = add[0] if add[1] is view.out(sub) else g.producer(add[1]) if add[1] is not None else None
    shifted = _bn_broadcast(view, shift_use, view.out(sub))
    if shifted is None or shifted[3] != k or shifted[1] is not add[0]:
        return None
    nodes += [shift_mul, sub, *scale_nodes, mul_x, *shifted[0], add[0]]
    # a missing gamma / beta is None here: the fusion pass supplies ones / zeros
    return Match("BatchNormalization", tuple(_ordered(view, nodes)), (x, gamma, beta, mean, var),  # type: ignore[arg-type]
                 view.out(add[0]), {"epsilon": float(eps)}, channels_last=axis == rank - 1 and rank > 2)


def _channel_vector(v: Value | None) -> int | None:
    """The index of the one non-1 dim of a per-channel weight ((C,), (1, 1, 1, C), ...)."""
    if v is None or v.shape is None or not all(isinstance(d, int) for d in v.shape):
        return None
    big = [i for i, d in enumerate(v.shape) if d != 1]
    return big[0] if len(big) == 1 else None


def _is_vector(view: GraphView, v: Value | None, like: Value) -> bool:
    return v is not None and v.shape is not None and tuple(v.shape) == tuple(like.shape or ())


def _bn_shift(view: GraphView, mean_m: Value) -> tuple[Node, Value | None] | None:
    """``beta - mean*m`` (Sub) or ``-(mean*m)`` (Neg): (the node, beta)."""
    sub = view.user(mean_m, "Sub")
    if sub is not None and view.operands(sub[0])[1] is mean_m:
        return sub[0], sub[1]
    neg = view.user(mean_m, "Neg")
    return (neg[0], None) if neg is not None else None


def _bn_broadcast(view: GraphView, use: Node | None,
                  vec: Value) -> tuple[list[Node], Node, Value | None, int] | None:
    """``vec`` (per channel) reaching a Mul/Add with the data: directly (2-D data), or through
    one Unsqueeze to (C, 1, ..., 1). Returns (unsqueeze nodes, the Mul/Add, the data, the
    number of trailing 1 axes)."""
    if use is None:
        return None
    if use.op_type == "Unsqueeze" and not use.domain:
        ins = view.operands(use)
        axes = view.const(ins[1]) if len(ins) > 1 else np.asarray(use.attr("axes", []))
        if axes is None or list(axes.reshape(-1)) != list(range(1, 1 + axes.size)):
            return None
        if not view.private(view.out(use)):
            return None
        nxt = view.g.consumers(view.out(use))
        if nxt[0][0].op_type not in ("Mul", "Add"):
            return None
        data = [v for v in view.operands(nxt[0][0]) if v is not view.out(use)]
        return [use], nxt[0][0], data[0] if data else None, int(axes.size)
    if use.op_type in ("Mul", "Add") and not use.domain:
        data = [v for v in view.operands(use) if v is not vec]
        return [], use, data[0] if data else None, 0
    return None


def _ordered(view: GraphView, nodes: list[Node]) -> list[Node]:
    order = {n: i for i, n in enumerate(view.g.nodes())}
    return sorted(nodes, key=order.__getitem__)
