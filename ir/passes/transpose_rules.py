"""Transpose optimisation, part 1: permutation algebra and the per-op rules saying how an
op is rewritten when its layout inputs arrive un-transposed (axes, pads, constants). The
planning and rewriting live in ``transpose.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Node, Value
from tensorbridge.ir.types import TensorType, ValueType

Perm = tuple[int, ...]

# --------------------------------------------------------------------------- permutations
def inverse_perm(p: Perm) -> Perm:
    inv = [0] * len(p)
    for i, a in enumerate(p):
        inv[a] = i
    return tuple(inv)


def compose_perms(first: Perm, then: Perm) -> Perm:
    """The perm of ``Transpose(Transpose(x, first), then)``."""
    return tuple(first[i] for i in then)


def is_identity_perm(p: Perm) -> bool:
    return all(i == a for i, a in enumerate(p))


def permuted_type(t: ValueType | None, p: Perm) -> ValueType | None:
    """The type of ``Transpose(x, p)`` for ``x`` of type ``t``."""
    if not isinstance(t, TensorType) or t.shape is None or len(t.shape) != len(p):
        return t
    return TensorType(t.dtype, tuple(t.shape[i] for i in p))


def _axes(axes: Iterable[int], rank: int) -> list[int] | None:
    """``axes`` made non-negative; None when out of range or repeated."""
    given = [int(a) for a in axes]
    out = [a + rank if a < 0 else a for a in given if -rank <= a < rank]
    return out if len(out) == len(given) == len(set(out)) else None


def _removed_perm(p: Perm, removed: Iterable[int]) -> Perm:
    """The output perm once the ``removed`` axes of the transposed view are gone."""
    gone = set(removed)
    kept = [i for i in range(len(p)) if i not in gone]
    order = sorted(p[i] for i in kept)
    return tuple(order.index(p[i]) for i in kept)


def ints_attr(values: Iterable[int]) -> Attr:
    return Attr(AttrKind.INTS, tuple(int(v) for v in values))


# --------------------------------------------------------------------------- op rules
@dataclass
class Rewrite:  # how an op changes when its layout inputs arrive un-transposed
    out_perms: list[Perm]  # the Transpose each output then needs
    attrs: dict[str, Attr] = field(default_factory=dict)
    consts: dict[int, np.ndarray] = field(default_factory=dict)  # new constant inputs


RewriteFn = Callable[[Graph, Node, Perm], Rewrite | None]


@dataclass(frozen=True)
class _Rule:
    layout: tuple[int, ...] | None  # inputs that carry the layout (None: all of them)
    broadcast: bool  # layout inputs broadcast against each other (else: equal ranks)
    rewrite: RewriteFn


class _Rules(dict[str, _Rule]):
    """The ops a Transpose can cross (op_type -> rule), each registered on its rewrite."""

    def register(self, ops: Iterable[str], layout: tuple[int, ...] | None = (0,),
                 broadcast: bool = True) -> Callable[[RewriteFn], RewriteFn]:
        def add(fn: RewriteFn) -> RewriteFn:
            for op in ops:
                if op in self:
                    raise ValueError(f"transpose rule for {op!r} registered twice")
                self[op] = _Rule(layout, broadcast, fn)
            return fn
        return add


RULES = _Rules()

_UNARY = (  # Clip's min/max and CastLike's target are scalars / a type: layout-free
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


@RULES.register(_BROADCASTING, layout=None)
@RULES.register(_UNARY)
def _elementwise(graph: Graph, node: Node, p: Perm) -> Rewrite | None:
    return Rewrite([p])


_SOFTMAX = ("Softmax", "LogSoftmax", "Hardmax")


@RULES.register(("Concat",), layout=None, broadcast=False)
@RULES.register(("Split", "ArgMax", "ArgMin"))
@RULES.register(_SOFTMAX)
def _one_axis(graph: Graph, node: Node, p: Perm) -> Rewrite | None:
    softmax = node.op_type in _SOFTMAX
    if softmax and graph.opset() < 13:  # before 13 they flatten to 2-D at `axis`
        return None
    axes = _axes([node.attr("axis", -1 if softmax else 0)], len(p))
    if axes is None:
        return None
    out = p if node.attr("keepdims", 1) else _removed_perm(p, axes)  # ArgMax/ArgMin
    return Rewrite([out] * node.n_outputs, {"axis": Attr(AttrKind.INT, p[axes[0]])})


def optional_input(graph: Graph, node: Node, index: int) -> Value | None:
    ins = graph.node_inputs(node)
    return ins[index] if index < len(ins) else None


def _const_ints(graph: Graph, node: Node, index: int) -> list[int] | None:
    """The constant integers on input ``index``; None when absent or not constant."""
    v = optional_input(graph, node, index)
    if v is None or not v.is_const or v in graph.inputs:
        return None
    return [int(a) for a in np.asarray(v.const_array()).reshape(-1)]


def _ints_like(graph: Graph, node: Node, index: int, values: Iterable[int]) -> np.ndarray:
    """``values`` in the integer type of input ``index`` (int64 when unknown)."""
    v = optional_input(graph, node, index)
    dtype = v.dtype.np_dtype if v is not None and v.dtype is not None else np.int64
    return np.array(list(values), dtype)


def _axes_of(graph: Graph, node: Node, index: int) -> tuple[list[int] | None, bool]:
    """(axes, given_as_input) from the ``axes`` attribute or input ``index``; a
    non-constant input gives (None, True)."""
    if optional_input(graph, node, index) is not None:
        return _const_ints(graph, node, index), True
    axes = node.attr("axes")
    return (None if axes is None else list(axes)), False


@RULES.register(_REDUCE)
@RULES.register(("Squeeze",))
def _reduce(graph: Graph, node: Node, p: Perm) -> Rewrite | None:
    axes, as_input = _axes_of(graph, node, 1)
    squeeze = node.op_type == "Squeeze"
    if (as_input and axes is None) or (squeeze and not axes):  # squeeze-all: shape-dependent
        return None
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return Rewrite([p])
        # all reduced: a scalar, or all-ones dims that no perm changes
        return Rewrite([tuple(range(len(p))) if node.attr("keepdims", 1) else ()])
    norm = _axes(axes, len(p))
    if norm is None:
        return None
    out = p if node.attr("keepdims", 1) and not squeeze else _removed_perm(p, norm)
    new_axes = sorted(p[a] for a in norm)
    rw = Rewrite([out])
    if as_input:
        rw.consts[1] = _ints_like(graph, node, 1, new_axes)
    else:
        rw.attrs["axes"] = ints_attr(new_axes)
    return rw


@RULES.register(("Unsqueeze",))
def _unsqueeze(graph: Graph, node: Node, p: Perm) -> Rewrite | None:
    axes, _ = _axes_of(graph, node, 1)
    rank = len(p) + len(axes or ())
    norm = _axes(axes, rank) if axes else None
    if norm is None:
        return None
    # the same axes are inserted in the un-transposed tensor; its dims keep their order
    old = [k for k in range(rank) if k not in norm]
    out = list(range(rank))
    for m, k in enumerate(old):
        out[k] = old[p[m]]
    return Rewrite([tuple(out)])


def _moved_axes(graph: Graph, node: Node, p: Perm, axes: Iterable[int] | None,
                like: int) -> Rewrite | None:
    """The op reads the same region once its ``axes`` input (input 3) names NCHW axes."""
    norm = None if axes is None else _axes(axes, len(p))
    new = None if norm is None else _ints_like(graph, node, like, [p[a] for a in norm])
    return None if new is None else Rewrite([p], consts={3: new})


@RULES.register(("Slice",))
def _slice(graph: Graph, node: Node, p: Perm) -> Rewrite | None:
    starts = optional_input(graph, node, 1)
    if starts is None:  # Slice-1: attributes
        norm = _axes(node.attr("axes") or range(len(node.attr("starts") or ())), len(p))
        return None if norm is None else Rewrite([p], {"axes": ints_attr(p[a] for a in norm)})
    if optional_input(graph, node, 3) is not None:
        return _moved_axes(graph, node, p, _const_ints(graph, node, 3), 1)
    n = starts.shape[0] if starts.shape and len(starts.shape) == 1 else None
    return _moved_axes(graph, node, p, range(n) if isinstance(n, int) else None, 1)


@RULES.register(("Pad",))
def _pad(graph: Graph, node: Node, p: Perm) -> Rewrite | None:
    if optional_input(graph, node, 1) is None:  # Pad-1/2: the pads attribute
        pads = node.attr("pads")
        ok = pads is not None and len(pads) == 2 * len(p)
        return Rewrite([p], {"pads": ints_attr(_permuted_pads(list(pads), p))}) if ok else None
    if optional_input(graph, node, 3) is not None:  # Pad-18 axes: the pads stay, the axes move
        return _moved_axes(graph, node, p, _const_ints(graph, node, 3), 3)
    pads = _const_ints(graph, node, 1)
    if pads is None or len(pads) != 2 * len(p):
        return None
    return Rewrite([p], consts={1: np.array(_permuted_pads(pads, p), np.int64)})


def _permuted_pads(pads: list[int], p: Perm) -> list[int]:
    r, inv = len(p), inverse_perm(p)
    return [pads[inv[j]] for j in range(r)] + [pads[r + inv[j]] for j in range(r)]




