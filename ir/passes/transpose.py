"""Transpose optimisation: merge and cancel Transposes, and sink them through ops that do
not care about layout, so that layout changes (NHWC <-> NCHW) meet and cancel.

A front-end translating NHWC ops emits ``Transpose -> NCHW op -> Transpose back`` around
every op. This pass moves each Transpose below the layout-agnostic ops that follow it
(elementwise math with broadcast-aware constants, Concat/Split, Pad, reductions, Slice,
Squeeze/Unsqueeze, Softmax, ArgMax...), rewriting their axes, pads and constants, until it
meets another Transpose to merge with or an op it cannot cross. A push is made only when a
short look-ahead finds that it does not add Transposes (pushing one Transpose shared by
several users is a duplication, made only when it pays). The pass runs to a fixed point,
removes identity Transposes, recurses into If/Loop/Scan bodies and keeps numerics, graph
input/output names and shapes: a graph output fed by a moved Transpose keeps one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ir.graph import Graph
from ir.node import Attr, AttrKind, LazyTensor, Node, Role, Value
from ir.passes.base import PassReport
from ir.types import TensorType, ValueType

Perm = tuple[int, ...]

_LOOKAHEAD = 4  # ops a push may look through to find the Transposes it will cancel
_MAX_SWEEPS = 64  # a guard: sweeps normally reach the fixed point in two or three


# --------------------------------------------------------------------------- permutations
def _inverse(p: Perm) -> Perm:
    inv = [0] * len(p)
    for i, a in enumerate(p):
        inv[a] = i
    return tuple(inv)


def _compose(first: Perm, then: Perm) -> Perm:
    """The perm of ``Transpose(Transpose(x, first), then)``."""
    return tuple(first[i] for i in then)


def _is_identity(p: Perm) -> bool:
    return all(i == a for i, a in enumerate(p))


def _permuted_type(t: ValueType | None, p: Perm) -> ValueType | None:
    """The type of ``Transpose(x, p)`` for ``x`` of type ``t``."""
    if not isinstance(t, TensorType) or t.shape is None or len(t.shape) != len(p):
        return t
    return TensorType(t.dtype, tuple(t.shape[i] for i in p))


def _axis(axis: int, rank: int) -> int | None:
    return axis + rank if -rank <= axis < 0 else (axis if 0 <= axis < rank else None)


def _axes(axes: Iterable[int], rank: int) -> list[int] | None:
    given = list(axes)
    out = [a for a in (_axis(int(x), rank) for x in given) if a is not None]
    return out if len(out) == len(given) == len(set(out)) else None


def _removed_perm(p: Perm, removed: Iterable[int]) -> Perm:
    """Output perm once ``removed`` axes (of the transposed view) are reduced away."""
    kept = [i for i in range(len(p)) if i not in set(removed)]
    order = sorted(p[i] for i in kept)
    return tuple(order.index(p[i]) for i in kept)


def _ints(values: Iterable[int]) -> Attr:
    return Attr(AttrKind.INTS, tuple(int(v) for v in values))


def _int(value: int) -> Attr:
    return Attr(AttrKind.INT, int(value))


# --------------------------------------------------------------------------- op rules
@dataclass
class _Rewrite:
    """How an op changes when its layout inputs arrive un-transposed."""

    out_perms: list[Perm]  # the Transpose to put on each output
    attrs: dict[str, Attr] = field(default_factory=dict)
    consts: dict[int, np.ndarray] = field(default_factory=dict)  # new constant inputs


RewriteFn = Callable[[Graph, Node, Perm], _Rewrite | None]


@dataclass(frozen=True)
class _Rule:
    layout: tuple[int, ...] | None  # inputs that carry the layout (None: all of them)
    broadcast: bool  # layout inputs broadcast against each other (else: equal ranks)
    rewrite: RewriteFn


class _Rules:
    """The ops a Transpose can be pushed through, each registered on its rewrite function."""

    def __init__(self) -> None:
        self._rules: dict[str, _Rule] = {}

    def register(self, ops: Iterable[str], layout: tuple[int, ...] | None = (0,),
                 broadcast: bool = True) -> Callable[[RewriteFn], RewriteFn]:
        def add(fn: RewriteFn) -> RewriteFn:
            for op in ops:
                if op in self._rules:
                    raise ValueError(f"transpose rule for {op!r} registered twice")
                self._rules[op] = _Rule(layout, broadcast, fn)
            return fn
        return add

    def get(self, op_type: str) -> _Rule | None:
        return self._rules.get(op_type)

    def __contains__(self, op_type: str) -> bool:
        return op_type in self._rules


RULES = _Rules()

_UNARY = (
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "BitwiseNot", "Cast", "CastLike",
    "Ceil", "Celu", "Clip", "Cos", "Cosh", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid",
    "HardSwish", "Identity", "IsInf", "IsNaN", "LeakyRelu", "Log", "Mish", "Neg", "Not",
    "Reciprocal", "Relu", "Round", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh",
    "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu",
)
_BROADCASTING = (
    "Add", "And", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Div", "Equal",
    "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul",
    "Or", "Pow", "PRelu", "Sub", "Sum", "Where", "Xor",
)
_REDUCE = (
    "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
    "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare",
)


@RULES.register(_UNARY)  # Clip's min/max, CastLike's target: scalars / type only
def _unary(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    return _Rewrite([p])


@RULES.register(_BROADCASTING, layout=None)
def _elementwise(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    return _Rewrite([p])


@RULES.register(("Concat",), layout=None, broadcast=False)
def _concat(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    axis = _axis(node.attr("axis", 0), len(p))
    return None if axis is None else _Rewrite([p], {"axis": _int(p[axis])})


@RULES.register(("Split",))
def _split(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    axis = _axis(node.attr("axis", 0), len(p))
    return None if axis is None else _Rewrite([p] * node.n_outputs, {"axis": _int(p[axis])})


@RULES.register(("Softmax", "LogSoftmax", "Hardmax"))
def _softmax(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    if graph.opset() < 13:  # before 13 these flatten to 2-D at `axis`: layout-dependent
        return None
    axis = _axis(node.attr("axis", -1), len(p))
    return None if axis is None else _Rewrite([p], {"axis": _int(p[axis])})


@RULES.register(("ArgMax", "ArgMin"))
def _arg_reduce(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    axis = _axis(node.attr("axis", 0), len(p))
    if axis is None:
        return None
    out = p if node.attr("keepdims", 1) else _removed_perm(p, [axis])
    return _Rewrite([out], {"axis": _int(p[axis])})


def _const_input(graph: Graph, node: Node, index: int) -> list[int] | None:
    """A constant integer list on input ``index``; None when absent or not constant."""
    ins = graph.node_inputs(node)
    v = ins[index] if index < len(ins) else None
    if v is None or not v.is_const or v in graph.inputs:
        return None
    return [int(a) for a in np.asarray(v.const_array()).reshape(-1)]


def _has_input(graph: Graph, node: Node, index: int) -> bool:
    ins = graph.node_inputs(node)
    return index < len(ins) and ins[index] is not None


def _axes_of(graph: Graph, node: Node, index: int) -> tuple[list[int] | None, bool]:
    """(axes, given_as_input): from the ``axes`` attribute or the constant input ``index``.
    Axes given by a non-constant input come back as (None, True)."""
    if _has_input(graph, node, index):
        return _const_input(graph, node, index), True
    axes = node.attr("axes")
    return (None if axes is None else list(axes)), False


def _with_axes(rw: _Rewrite, axes: list[int], as_input: bool, index: int) -> _Rewrite:
    if as_input:
        rw.consts[index] = np.array(axes, np.int64)
    else:
        rw.attrs["axes"] = _ints(axes)
    return rw


@RULES.register(_REDUCE)
def _reduce(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    axes, as_input = _axes_of(graph, node, 1)
    if as_input and axes is None:
        return None
    keep = bool(node.attr("keepdims", 1))
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return _Rewrite([p])
        # everything reduced: a scalar, or all-ones dims that no perm changes
        return _Rewrite([tuple(range(len(p))) if keep else ()])
    norm = _axes(axes, len(p))
    if norm is None:
        return None
    out = p if keep else _removed_perm(p, norm)
    return _with_axes(_Rewrite([out]), sorted(p[a] for a in norm), as_input, 1)


@RULES.register(("Squeeze",))
def _squeeze(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    axes, as_input = _axes_of(graph, node, 1)
    norm = None if not axes else _axes(axes, len(p))
    if norm is None:  # squeezing "all size-1 dims" depends on shapes: leave it
        return None
    return _with_axes(_Rewrite([_removed_perm(p, norm)]), sorted(p[a] for a in norm), as_input, 1)


@RULES.register(("Unsqueeze",))
def _unsqueeze(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    axes, _ = _axes_of(graph, node, 1)
    rank = len(p) + len(axes or ())
    norm = None if not axes else _axes(axes, rank)
    if norm is None:
        return None
    # the same axes are inserted in the un-transposed tensor; old dims keep their order
    old = [k for k in range(rank) if k not in norm]
    out = [k if k in norm else -1 for k in range(rank)]
    for m, k in enumerate(old):
        out[k] = old[p[m]]
    return _Rewrite([tuple(out)])


@RULES.register(("Slice",))
def _slice(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    if not _has_input(graph, node, 1):  # Slice-1: starts/ends/axes attributes
        starts = node.attr("starts") or ()
        norm = _axes(node.attr("axes") or range(len(starts)), len(p))
        return None if norm is None else _Rewrite([p], {"axes": _ints(p[a] for a in norm)})
    if _has_input(graph, node, 3):
        axes = _const_input(graph, node, 3)
    else:
        starts = graph.node_inputs(node)[1]
        shape = starts.shape if starts is not None else None
        axes = list(range(shape[0])) if shape and isinstance(shape[0], int) else None
    norm = None if axes is None else _axes(axes, len(p))
    if norm is None:
        return None
    starts = graph.node_inputs(node)[1]
    dtype = starts.dtype.np_dtype if starts is not None and starts.dtype is not None else np.int64
    return _Rewrite([p], consts={3: np.array([p[a] for a in norm], dtype)})


@RULES.register(("Pad",))
def _pad(graph: Graph, node: Node, p: Perm) -> _Rewrite | None:
    r = len(p)
    if not _has_input(graph, node, 1):  # Pad-1/2: pads attribute
        pads = node.attr("pads")
        if pads is None or len(pads) != 2 * r:
            return None
        return _Rewrite([p], {"pads": _ints(_permuted_pads(list(pads), p))})
    if _has_input(graph, node, 3):  # Pad-18 axes: pads stay, axes move
        axes = _const_input(graph, node, 3)
        norm = None if axes is None else _axes(axes, r)
        return None if norm is None else _Rewrite([p], consts={3: np.array([p[a] for a in norm], np.int64)})
    pads = _const_input(graph, node, 1)
    if pads is None or len(pads) != 2 * r:
        return None
    return _Rewrite([p], consts={1: np.array(_permuted_pads(pads, p), np.int64)})


def _permuted_pads(pads: list[int], p: Perm) -> list[int]:
    r, inv = len(p), _inverse(p)
    return [pads[inv[j]] for j in range(r)] + [pads[r + inv[j]] for j in range(r)]


# --------------------------------------------------------------------------- planning
class _Kind(enum.Enum):
    CANCEL = "cancel"  # produced by Transpose(x, p): read x
    GIVEN = "given"  # assumed produced by Transpose(x, p) (look-ahead only)
    KEEP = "keep"  # all dims 1: layout-free, read as is
    CONST = "const"  # a constant, re-laid out
    REUSE = "reuse"  # an existing Transpose(v, p^-1) of it: read that
    INSERT = "insert"  # needs a new Transpose(v, p^-1)


@dataclass(frozen=True, eq=False)
class _Operand:
    kind: _Kind
    value: Value
    data: np.ndarray | None = None
    source: Node | None = None  # the Transpose a CANCEL operand bypasses


@dataclass
class _Plan:
    perm: Perm
    operands: dict[int, _Operand]
    rewrite: _Rewrite
    delta: int = 0  # Transposes added minus removed at the inputs
    removes: bool = False  # some input Transpose disappears
    inserts: bool = False


@dataclass
class _Ctx:
    graph: Graph
    report: PassReport
    outer: set[str]  # names subgraphs read: uses the graph's edges do not show
    dead: set[Node] = field(default_factory=set)
    cache: dict[tuple[Value, Perm, int], int] = field(default_factory=dict)
    relaid: dict[tuple[Value, Perm, bool], Value] = field(default_factory=dict)


def _perm(ctx: _Ctx, node: Node) -> Perm | None:
    """The perm of a live default-domain Transpose; None for anything else."""
    if node.op_type != "Transpose" or node.domain or node in ctx.dead:
        return None
    perm = node.attr("perm")
    if perm is not None:
        return tuple(int(a) for a in perm)
    x = ctx.graph.node_inputs(node)[0]
    return None if x is None or x.shape is None else tuple(reversed(range(len(x.shape))))


def _transposed(ctx: _Ctx, v: Value) -> tuple[Node, Perm] | None:
    t = ctx.graph.producer(v)
    p = None if t is None else _perm(ctx, t)
    return None if t is None or p is None else (t, p)


def _users(ctx: _Ctx, v: Value) -> list[Node]:
    return list(dict.fromkeys(n for n, _ in ctx.graph.consumers(v)))


def _implicit(ctx: _Ctx, v: Value) -> bool:
    """Used as a graph output or from a subgraph."""
    return v in ctx.graph.outputs or v.name in ctx.outer


def _is_const(ctx: _Ctx, v: Value) -> bool:
    return isinstance(v.const, np.ndarray | LazyTensor) and v not in ctx.graph.inputs


def _relayout(data: np.ndarray, p: Perm, broadcast: bool) -> np.ndarray | None:
    """``c`` such that ``Transpose(c, p)`` equals ``data`` (numpy-broadcast when allowed):
    a per-channel [C] in NHWC becomes [C,1,1] in NCHW."""
    r = len(p)
    if data.ndim > r or (not broadcast and data.ndim != r):
        return None
    out = np.transpose(data.reshape((1,) * (r - data.ndim) + data.shape), _inverse(p))
    while broadcast and out.ndim and out.shape[0] == 1:
        out = out[0]
    return np.ascontiguousarray(out)


def _operand(ctx: _Ctx, v: Value, p: Perm, broadcast: bool, given: Mapping[Value, Perm]) -> _Operand | None:
    """How layout input ``v`` reaches the op once the op runs in the un-transposed layout."""
    if v in given:
        return _Operand(_Kind.GIVEN, v) if given[v] == p else None
    src = _transposed(ctx, v)
    if src is not None and src[1] == p:
        x = ctx.graph.node_inputs(src[0])[0]
        return None if x is None else _Operand(_Kind.CANCEL, x, source=src[0])
    r, shape = len(p), v.shape
    if shape is not None and all(d == 1 for d in shape) and (len(shape) <= r if broadcast else len(shape) == r):
        return _Operand(_Kind.KEEP, v)
    if _is_const(ctx, v):
        data = _relayout(v.const_array(), p, broadcast)
        return None if data is None else _Operand(_Kind.CONST, v, data)
    if shape is None or len(shape) != r:
        return None
    inv = _inverse(p)
    for user in _users(ctx, v):
        if _perm(ctx, user) == inv and ctx.graph.node_outputs(user)[0] is not None:
            return _Operand(_Kind.REUSE, ctx.graph.node_outputs(user)[0])  # type: ignore[arg-type]
    return _Operand(_Kind.INSERT, v)


def _plan(ctx: _Ctx, node: Node, p: Perm, given: Mapping[Value, Perm]) -> _Plan | None:
    """How to run ``node`` on un-transposed inputs, or None when it cannot."""
    rule = RULES.get(node.op_type) if not node.domain else None
    if rule is None or node.subgraphs() or node in ctx.dead:
        return None
    ins = ctx.graph.node_inputs(node)
    ports = rule.layout if rule.layout is not None else range(len(ins))
    operands: dict[int, _Operand] = {}
    for i in ports:
        v = ins[i] if i < len(ins) else None
        if v is not None:
            op = _operand(ctx, v, p, rule.broadcast, given)
            if op is None:
                return None
            operands[i] = op
    if not any(o.kind in (_Kind.CANCEL, _Kind.GIVEN) for o in operands.values()):
        return None
    rewrite = rule.rewrite(ctx.graph, node, p)
    if rewrite is None:
        return None
    plan = _Plan(p, operands, rewrite)
    sources = {o.source for o in operands.values() if o.source is not None}
    dying = [t for t in sources if _dies_with(ctx, t, node)]
    inserted = {o.value for o in operands.values() if o.kind is _Kind.INSERT}
    plan.delta, plan.removes, plan.inserts = len(inserted) - len(dying), bool(dying), bool(inserted)
    return plan


def _dies_with(ctx: _Ctx, t: Node, node: Node) -> bool:
    """Transpose ``t`` is unused once ``node`` stops reading it."""
    (y,) = ctx.graph.node_outputs(t)[:1]
    return y is not None and not _implicit(ctx, y) and all(u is node for u in _users(ctx, y))


def _cost(ctx: _Ctx, node: Node, plan: _Plan, depth: int) -> int:
    outs = ctx.graph.node_outputs(node)
    return plan.delta + sum(_est(ctx, o, q, depth) for o, q in zip(outs, plan.rewrite.out_perms)
                            if o is not None)


def _est(ctx: _Ctx, v: Value, q: Perm, depth: int) -> int:
    """Estimated change in the Transpose count when ``v`` becomes ``Transpose(v', q)``:
    users that are Transposes merge with it (and vanish when they undo it), users that
    accept it may take it further; it is materialised once if anyone else needs it."""
    if _is_identity(q):
        return 0
    key = (v, q, depth)
    if key not in ctx.cache:
        need, merged, pushes = _implicit(ctx, v), 0, []
        for user in _users(ctx, v):
            if user.op_type == "Transpose" and not user.domain:
                r = _perm(ctx, user)
                need = need or r is None
                merged -= r is not None and _is_identity(_compose(q, r))
                continue
            plan = _plan(ctx, user, q, {v: q}) if depth > 0 else None
            if plan is None:
                need = True
            else:
                pushes.append(_cost(ctx, user, plan, depth - 1))
        gain = sum(min(0, c) for c in pushes)
        best = 1 + gain if need else min(1 + gain, sum(pushes))
        ctx.cache[key] = merged + best
    return ctx.cache[key]


# --------------------------------------------------------------------------- rewriting
def _drop_if_dead(ctx: _Ctx, t: Node) -> None:
    outs = [v for v in ctx.graph.node_outputs(t) if v is not None]
    if t not in ctx.dead and not any(ctx.graph.is_used(v) or v.name in ctx.outer for v in outs):
        ctx.graph.remove(t)
        ctx.dead.add(t)


def _rename_pair(ctx: _Ctx, inner: Value, outer: Value) -> None:
    """``outer`` took over ``inner``'s uses: it takes its name too (an interface name)."""
    name = inner.name
    ctx.graph.rename(inner, f"{name}_relaid")
    ctx.graph.rename(outer, name)


def _add_transpose(ctx: _Ctx, x: Value, p: Perm, like: Node) -> Value:
    (y,) = ctx.graph.add_op("Transpose", [x], {"perm": _ints(p)}, name=f"{like.name}_transpose",
                            provenance=like.provenance)
    y.type = _permuted_type(x.type, p)
    return y


def _transpose_output(ctx: _Ctx, node: Node, o: Value, q: Perm) -> None:
    """Put ``Transpose(q)`` after output ``o`` of a pushed op, for its users."""
    if _is_identity(q):
        return
    g = ctx.graph
    old_type = o.type
    o.type = _permuted_type(old_type, _inverse(q))
    y = _add_transpose(ctx, o, q, node)
    y.type = old_type
    interface = _implicit(ctx, o)
    g.replace_all_uses(o, y)
    if interface:
        _rename_pair(ctx, o, y)


def _relaid_const(ctx: _Ctx, old: Value, data: np.ndarray, key: tuple[Value, Perm, bool]) -> Value:
    new = ctx.relaid.get(key)
    if new is None or not ctx.graph.has_value(new.name) or ctx.graph.value(new.name) is not new:
        new = ctx.graph.add_constant(f"{old.name}_relaid", data)
        new.doc = f"{old.name} re-laid out for a pushed Transpose"
        ctx.relaid[key] = new
    return new


def _adopt(ctx: _Ctx, old: Value, new: Value) -> None:
    """A constant nobody reads any more hands its name, role and source key to its
    replacement (a named weight stays named, stored in the layout the graph uses)."""
    g = ctx.graph
    if g.is_used(old) or old in g.inputs or old.name in ctx.outer or g.producer(old) is not None:
        return
    name, role, source = old.name, old.role, old.source_name
    g.remove(old)
    g.rename(new, name)
    new.role, new.source_name = role, source


def _operand_value(ctx: _Ctx, node: Node, op: _Operand, p: Perm, broadcast: bool) -> Value:
    if op.kind is _Kind.CONST and op.data is not None:
        return _relaid_const(ctx, op.value, op.data, (op.value, p, broadcast))
    if op.kind is _Kind.INSERT:
        return _add_transpose(ctx, op.value, _inverse(p), node)
    return op.value


def _rewire(ctx: _Ctx, node: Node, plan: _Plan, broadcast: bool) -> None:
    """Point the layout inputs at their un-transposed forms."""
    g = ctx.graph
    ins = g.node_inputs(node)
    done: dict[Value, Value] = {}
    for i, op in plan.operands.items():
        old = ins[i]
        if old is None:
            continue
        if old not in done:
            done[old] = _operand_value(ctx, node, op, plan.perm, broadcast)
        g.set_input(node, i, done[old])
    for i, op in plan.operands.items():
        old = ins[i]
        if op.kind is _Kind.CONST and old is not None:
            _adopt(ctx, old, done[old])


def _set_const_input(ctx: _Ctx, node: Node, index: int, data: np.ndarray) -> None:
    """Replace constant input ``index`` (axes, pads) with ``data``."""
    g = ctx.graph
    ins = g.node_inputs(node)
    old = ins[index] if index < len(ins) else None
    new = g.add_constant(f"{old.name if old is not None else node.name + '_axes'}_relaid", data)
    g.set_input(node, index, new)
    if old is not None and old.role is Role.CONSTANT and not old.source_name:
        _adopt(ctx, old, new)


def _apply(ctx: _Ctx, node: Node, plan: _Plan) -> None:
    rule = RULES.get(node.op_type)
    _rewire(ctx, node, plan, rule.broadcast if rule is not None else True)
    for i, data in plan.rewrite.consts.items():
        _set_const_input(ctx, node, i, data)
    node.attrs.update(plan.rewrite.attrs)
    for t in dict.fromkeys(o.source for o in plan.operands.values() if o.source is not None):
        _drop_if_dead(ctx, t)
    for o, q in zip(ctx.graph.node_outputs(node), plan.rewrite.out_perms):
        if o is not None:
            _transpose_output(ctx, node, o, q)


def _bypass(ctx: _Ctx, t: Node, x: Value) -> None:
    """Remove Transpose ``t`` (now an identity): its users read ``x``. An interface value
    (graph output, read by a subgraph) keeps its name: on ``x`` when ``x`` is a plain
    intermediate, else on a new Identity."""
    g = ctx.graph
    (y,) = g.node_outputs(t)[:1]
    if y is None:
        return
    keep, name, vtype = _implicit(ctx, y), y.name, y.type
    if keep and (x.role is not Role.INTERMEDIATE or g.producer(x) is None or _implicit(ctx, x)):
        (x,) = g.add_op("Identity", [x], name=f"{t.name}_identity", provenance=t.provenance)
        x.type = vtype
    g.replace_all_uses(y, x)
    g.remove(t)
    ctx.dead.add(t)
    if keep:
        g.rename(x, name)
        x.type = vtype if vtype is not None else x.type


def _visit_transpose(ctx: _Ctx, t: Node) -> bool:
    """Merge ``t`` into the Transpose feeding it; remove it if it is then an identity."""
    g = ctx.graph
    p = _perm(ctx, t)
    x = g.node_inputs(t)[0]
    if p is None or x is None:
        return False
    src = _transposed(ctx, x)
    if src is not None:
        first, q = src
        p = _compose(q, p)
        x = g.node_inputs(first)[0]
        g.set_input(t, 0, x)
        t.attrs["perm"] = _ints(p)
        _drop_if_dead(ctx, first)
        ctx.report.note(f"merged Transpose {first.name} into {t.name}")
    if x is not None and _is_identity(p):
        ctx.report.note(f"removed identity Transpose {t.name}")
        _bypass(ctx, t, x)
        return True
    return src is not None


def _visit(ctx: _Ctx, node: Node) -> bool:
    if node.op_type == "Transpose" and not node.domain:
        return _visit_transpose(ctx, node)
    if node.op_type not in RULES or node.domain:
        return False
    best: tuple[int, _Plan] | None = None
    sources = [_transposed(ctx, v) for v in ctx.graph.node_inputs(node) if v is not None]
    for p in dict.fromkeys(s[1] for s in sources if s is not None):
        plan = _plan(ctx, node, p, {})
        if plan is None:
            continue
        cost = _cost(ctx, node, plan, _LOOKAHEAD)
        if (cost < 0 or (cost == 0 and plan.removes and not plan.inserts)) and (best is None or cost < best[0]):
            best = (cost, plan)
    if best is None:
        return False
    _apply(ctx, node, best[1])
    ctx.report.note(f"pushed Transpose{list(best[1].perm)} through {node.name} ({node.op_type})")
    return True


def _outer_names(graph: Graph) -> set[str]:
    names: set[str] = set()
    for node in graph.nodes():
        for sub in node.subgraphs():
            names |= {v.name for v in sub.outer_refs()} | _outer_names(sub)
    return names


def _sweep(ctx: _Ctx) -> bool:
    changed = False
    for node in ctx.graph.nodes():
        if node not in ctx.dead and _visit(ctx, node):
            ctx.cache.clear()
            changed = True
    return changed


def _optimize(graph: Graph, report: PassReport) -> None:
    for node in graph.nodes():
        for sub in node.subgraphs():
            _optimize(sub, report)
    ctx = _Ctx(graph, report, _outer_names(graph))
    for _ in range(_MAX_SWEEPS):
        if not _sweep(ctx):
            return
    report.details.append(f"stopped after {_MAX_SWEEPS} sweeps in graph {graph.name!r}")


def optimize_transposes(graph: Graph) -> PassReport:
    """Cancel, merge and sink Transposes in ``graph`` (in place) and its subgraphs.

    Transposes move below layout-agnostic ops (see ``RULES``) when that does not add
    Transposes; pairs that undo each other cancel, consecutive ones merge, identities go.
    Numerics, graph input/output names and shapes are kept."""
    report = PassReport("optimize_transposes")
    _optimize(graph, report)
    return report
