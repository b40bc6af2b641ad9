"""Elementwise emitters: arithmetic, comparison, logic, unary math, Where and Clip
(activations live in ``activation.py``, Cast in ``cast.py``).

Host values stay host values through the integer ops shape arithmetic uses (Add/Sub/Mul/
Div/Mod, comparisons, Where, Not, Neg, Abs, Max/Min/Sum); symbolic items go through
``torch.sym_*`` so that ``torch.export`` does not specialise on them. Dtype decisions read
the IR types (``cast.dtype_of``). uint16/32/64, which torch has few kernels for, run on
int64 images (``cast.wrapping`` / ``cast.ordering``); uint64 division and right shift are
spelled out below.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import (
    Host,
    T,
    all_host,
    host_binary,
    host_unary,
    int_div,
)
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    UNSIGNED,
    dtype_of,
    from_ordered,
    known_dtype,
    ordered,
    ordering,
    wrapping,
)
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import legacy_trailing_ones
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_SIGN = -(2**63)  # the int64 sign bit
_INT64_MAX = 2**63 - 1


def _udiv64(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Unsigned 64-bit a // b on int64 bit views. A divisor >= 2**63 (negative view) divides
    at most once; otherwise halve ``a`` (logical shift, non-negative), divide, double, and
    correct the remainder, which is then below 2 * b."""
    halved = (a >> 1) & _INT64_MAX
    q = torch.div(halved, b, rounding_mode="floor") << 1
    r = a - q * b
    q = q + ((r ^ _SIGN) >= (b ^ _SIGN)).to(torch.int64)
    big = (a ^ _SIGN) >= (b ^ _SIGN)
    return torch.where(b < 0, big.to(torch.int64), q)


def _shr_logical64(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """uint64 x >> y on int64 bit views: the arithmetic shift with the sign copies masked off
    (torch shifts by >= 64 give 0, so y = 0 keeps every bit); y >= 64 gives 0."""
    mask = ~(torch.full_like(x, -1) << (64 - y))
    return torch.where((y >= 0) & (y < 64), (x >> y) & mask, torch.zeros_like(x))


# --------------------------------------------------------------------------------------
# Host helpers


def _is_int(v: Any) -> bool:
    return isinstance(v, int | bool)


def _sym_max(a: Any, b: Any) -> Any:
    return max(a, b) if _is_int(a) and _is_int(b) else torch.sym_max(a, b)


def _sym_min(a: Any, b: Any) -> Any:
    return min(a, b) if _is_int(a) and _is_int(b) else torch.sym_min(a, b)


def _sym_not(v: Any) -> Any:
    return (not v) if _is_int(v) else torch.sym_not(v)


def _select(c: Any, x: Any, y: Any) -> Any:
    if _is_int(c) or type(x) is not type(y):  # sym_ite needs both branches of one type
        return x if c else y
    return torch.sym_ite(c, x, y)


def _host_where(c: Host, x: Host, y: Host) -> Host:
    n = max(len(c), len(x), len(y))

    def spread(h: Host) -> tuple[Any, ...]:
        return h.items * n if len(h) == 1 else h.items

    items = tuple(_select(*t) for t in zip(spread(c), spread(x), spread(y), strict=True))
    return Host(items, x.dtype, scalar=c.scalar and x.scalar and y.scalar)


# --------------------------------------------------------------------------------------
# Binary arithmetic

# The opset-1 versions of the binary ops stay separate (Add-1 ... Less-1): their axis and
# broadcast attributes align B with A from an axis, which numpy broadcasting (7) does not.


def _rank(x: Any, ctx: EmitContext | None, i: int) -> int:
    r = ctx.rank(i) if ctx is not None else None
    return r if r is not None else T(x).dim()


def _legacy_rhs(A: Any, B: Any, axis: int | None, broadcast: int, ctx: EmitContext | None,
                op: str) -> Any:
    """Opset-1..6 broadcasting: B (a contiguous run of A's dims) is aligned with A from
    ``axis``; without ``axis`` it is A's suffix, which is ordinary broadcasting."""
    if not broadcast or axis is None:
        return B
    trailing = legacy_trailing_ones(_rank(A, ctx, 0), _rank(B, ctx, 1), axis, op)
    return T(B)[(..., *([None] * trailing))] if trailing else B


@emits("Add", since=7)
def add(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """Add-7/13/14: A + B."""
    if all_host(A, B):
        return host_binary(operator.add, A, B)
    return wrapping(dtype_of(ctx, 0, A), torch.add, T(A), T(B))


@emits("Add", since=1)
def add_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Add-1/6: A + B with opset-1 broadcasting of B."""
    return add(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Add"), ctx=ctx)


@emits("Sub", since=7)
def sub(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """Sub-7/13/14: A - B."""
    if all_host(A, B):
        return host_binary(operator.sub, A, B)
    return wrapping(dtype_of(ctx, 0, A), torch.sub, T(A), T(B))


@emits("Sub", since=1)
def sub_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Sub-1/6: A - B with opset-1 broadcasting of B."""
    return sub(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Sub"), ctx=ctx)


@emits("Mul", since=7)
def mul(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """Mul-7/13/14: A * B."""
    if all_host(A, B):
        return host_binary(operator.mul, A, B)
    return wrapping(dtype_of(ctx, 0, A), torch.mul, T(A), T(B))


@emits("Mul", since=1)
def mul_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Mul-1/6: A * B with opset-1 broadcasting of B."""
    return mul(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Mul"), ctx=ctx)


@emits("Div", since=7)
def div(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """Div-7/13/14: A / B; integers truncate toward zero."""
    if all_host(A, B):
        return host_binary(operator.truediv if A.dtype.is_floating_point else int_div, A, B)
    a, b, dtype = T(A), T(B), known_dtype(ctx, 0, A, "Div")
    if dtype.is_floating_point:
        return a / b
    if dtype == torch.uint64:
        return _udiv64(a.view(torch.int64), b.view(torch.int64)).view(torch.uint64)
    # Widened unsigned operands are non-negative: truncation is exact in int64.
    return wrapping(dtype, lambda x, y: torch.div(x, y, rounding_mode="trunc"), a, b)


@emits("Div", since=1)
def div_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Div-1/6: A / B with opset-1 broadcasting of B."""
    return div(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Div"), ctx=ctx)


@emits("Pow", since=7)
def pow_(X: Any, Y: Any, *, ctx: EmitContext | None = None) -> Any:
    """Pow-7/12/13/15: X ** Y; the output has X's type."""
    x, y, dtype = T(X), T(Y), known_dtype(ctx, 0, X, "Pow")
    if dtype.is_floating_point:
        return torch.pow(x, y.to(dtype))
    if known_dtype(ctx, 1, Y, "Pow").is_floating_point:
        # Integer base, real exponent: evaluate in float64 and truncate once.
        return torch.pow(x.to(torch.float64), y.to(torch.float64)).to(dtype)
    # Integer powers wrap like multiplication (exponents are taken in the base's type).
    return wrapping(dtype, torch.pow, x, y.to(dtype))


@emits("Pow", since=1)
def pow_1(X: Any, Y: Any, *, axis: int | None = None, broadcast: int = 0,
          ctx: EmitContext) -> Any:
    """Pow-1: X ** Y with opset-1 broadcasting of Y."""
    return pow_(X, _legacy_rhs(X, Y, axis, broadcast, ctx, "Pow"), ctx=ctx)


@emits("Mod", since=10)
def mod(A: Any, B: Any, *, fmod: int = 0, ctx: EmitContext) -> Any:
    """Mod-10/13/28: fmod=0 takes the divisor's sign (Python %), fmod=1 the dividend's (C fmod)."""
    if all_host(A, B):
        return host_binary((lambda a, b: a - int_div(a, b) * b) if fmod else operator.mod, A, B)
    a, b, dtype = T(A), T(B), dtype_of(ctx, 0, A)
    if dtype == torch.uint64:  # both conventions agree on non-negative operands
        x, y = a.view(torch.int64), b.view(torch.int64)
        return (x - _udiv64(x, y) * y).view(torch.uint64)
    return wrapping(dtype, torch.fmod if fmod else torch.remainder, a, b)


@emits("BitShift", since=11)
def bit_shift(X: Any, Y: Any, *, direction: str, ctx: EmitContext) -> Any:
    """BitShift-11/28: X << Y or X >> Y (arithmetic for signed types; a shift by a negative
    amount or by >= the bit width gives 0, or -1 right-shifting a negative X: torch's
    shifts already behave so)."""
    x, y, dtype = T(X), T(Y), dtype_of(ctx, 0, X)
    if direction == "LEFT":
        return wrapping(dtype, torch.bitwise_left_shift, x, y)
    if direction != "RIGHT":
        raise UnsupportedOpError(LAYER, "BitShift", hint=f"direction must be LEFT or RIGHT, got {direction!r}")
    if dtype == torch.uint64:
        return _shr_logical64(x.view(torch.int64), y.view(torch.int64)).view(torch.uint64)
    # Widened uint16/uint32 are non-negative, so the int64 shift is the logical one.
    return wrapping(dtype, torch.bitwise_right_shift, x, y)


@emits("BitwiseAnd", since=18)
def bitwise_and(A: Any, B: Any, *, ctx: EmitContext) -> Any:
    """BitwiseAnd-18: A & B."""
    return wrapping(dtype_of(ctx, 0, A), torch.bitwise_and, T(A), T(B))


@emits("BitwiseOr", since=18)
def bitwise_or(A: Any, B: Any, *, ctx: EmitContext) -> Any:
    """BitwiseOr-18: A | B."""
    return wrapping(dtype_of(ctx, 0, A), torch.bitwise_or, T(A), T(B))


@emits("BitwiseXor", since=18)
def bitwise_xor(A: Any, B: Any, *, ctx: EmitContext) -> Any:
    """BitwiseXor-18: A ^ B."""
    return wrapping(dtype_of(ctx, 0, A), torch.bitwise_xor, T(A), T(B))


@emits("BitwiseNot", since=18)
def bitwise_not(X: Any, *, ctx: EmitContext) -> Any:
    """BitwiseNot-18: ~X."""
    return wrapping(dtype_of(ctx, 0, X), torch.bitwise_not, T(X))


# --------------------------------------------------------------------------------------
# Logic and comparison


def _compare(host_fn: Callable[[Any, Any], Any], torch_fn: Callable[..., Any], A: Any, B: Any,
             ctx: EmitContext | None) -> Any:
    if all_host(A, B):
        return host_binary(host_fn, A, B, torch.bool)
    return ordering(dtype_of(ctx, 0, A), torch_fn, T(A), T(B), keep=False)


@emits("And", since=7)
def and_(A: Any, B: Any) -> Any:
    """And-7: A and B."""
    return torch.logical_and(T(A), T(B))


@emits("And", since=1)
def and_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0, ctx: EmitContext) -> Any:
    """And-1: A and B with opset-1 broadcasting of B."""
    return and_(A, _legacy_rhs(A, B, axis, broadcast, ctx, "And"))


@emits("Or", since=7)
def or_(A: Any, B: Any) -> Any:
    """Or-7: A or B."""
    return torch.logical_or(T(A), T(B))


@emits("Or", since=1)
def or_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0, ctx: EmitContext) -> Any:
    """Or-1: A or B with opset-1 broadcasting of B."""
    return or_(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Or"))


@emits("Xor", since=7)
def xor(A: Any, B: Any) -> Any:
    """Xor-7: A xor B."""
    return torch.logical_xor(T(A), T(B))


@emits("Xor", since=1)
def xor_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0, ctx: EmitContext) -> Any:
    """Xor-1: A xor B with opset-1 broadcasting of B."""
    return xor(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Xor"))


@emits("Not", since=1)
def not_(X: Any) -> Any:
    """Not-1: logical negation."""
    if isinstance(X, Host):
        return host_unary(_sym_not, X, torch.bool)
    return torch.logical_not(X)


@emits("Equal", since=7)
def equal(A: Any, B: Any) -> Any:
    """Equal-7/11/13/19: A == B."""
    if all_host(A, B):
        return host_binary(operator.eq, A, B, torch.bool)
    return torch.eq(T(A), T(B))  # torch compares unsigned types for equality natively


@emits("Equal", since=1)
def equal_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0, ctx: EmitContext) -> Any:
    """Equal-1: A == B with opset-1 broadcasting of B."""
    return equal(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Equal"))


@emits("Greater", since=7)
def greater(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """Greater-7/9/13: A > B."""
    return _compare(operator.gt, torch.gt, A, B, ctx)


@emits("Greater", since=1)
def greater_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0, ctx: EmitContext) -> Any:
    """Greater-1: A > B with opset-1 broadcasting of B."""
    return greater(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Greater"), ctx=ctx)


@emits("Less", since=7)
def less(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """Less-7/9/13: A < B."""
    return _compare(operator.lt, torch.lt, A, B, ctx)


@emits("Less", since=1)
def less_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0, ctx: EmitContext) -> Any:
    """Less-1: A < B with opset-1 broadcasting of B."""
    return less(A, _legacy_rhs(A, B, axis, broadcast, ctx, "Less"), ctx=ctx)


@emits("GreaterOrEqual", since=12)
def greater_or_equal(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """GreaterOrEqual-12/16: A >= B."""
    return _compare(operator.ge, torch.ge, A, B, ctx)


@emits("LessOrEqual", since=12)
def less_or_equal(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """LessOrEqual-12/16: A <= B."""
    return _compare(operator.le, torch.le, A, B, ctx)


# --------------------------------------------------------------------------------------
# Unary math


@emits("Abs", since=1)
def abs_(X: Any, *, consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Abs-1/6/13: |X|."""
    if isinstance(X, Host):
        return host_unary(abs, X)
    return X if dtype_of(ctx, 0, X) in UNSIGNED else torch.abs(X)


@emits("Neg", since=1)
def neg(X: Any, *, consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Neg-1/6/13: -X."""
    if isinstance(X, Host):
        return host_unary(operator.neg, X)
    return wrapping(dtype_of(ctx, 0, X), torch.neg, X)


@emits("Acos", since=7)
def acos(input: Any) -> Any:
    """Acos-7/22: arccos(input)."""
    return torch.acos(T(input))


@emits("Acosh", since=9)
def acosh(input: Any) -> Any:
    """Acosh-9/22: arccosh(input)."""
    return torch.acosh(T(input))


@emits("Asin", since=7)
def asin(input: Any) -> Any:
    """Asin-7/22: arcsin(input)."""
    return torch.asin(T(input))


@emits("Asinh", since=9)
def asinh(input: Any) -> Any:
    """Asinh-9/22: arcsinh(input)."""
    return torch.asinh(T(input))


@emits("Atan", since=7)
def atan(input: Any) -> Any:
    """Atan-7/22: arctan(input)."""
    return torch.atan(T(input))


@emits("Atanh", since=9)
def atanh(input: Any) -> Any:
    """Atanh-9/22: arctanh(input)."""
    return torch.atanh(T(input))


@emits("Cos", since=7)
def cos(input: Any) -> Any:
    """Cos-7/22: cos(input)."""
    return torch.cos(T(input))


@emits("Cosh", since=9)
def cosh(input: Any) -> Any:
    """Cosh-9/22: cosh(input)."""
    return torch.cosh(T(input))


@emits("Sin", since=7)
def sin(input: Any) -> Any:
    """Sin-7/22: sin(input)."""
    return torch.sin(T(input))


@emits("Sinh", since=9)
def sinh(input: Any) -> Any:
    """Sinh-9/22: sinh(input)."""
    return torch.sinh(T(input))


@emits("Tan", since=7)
def tan(input: Any) -> Any:
    """Tan-7/22: tan(input)."""
    return torch.tan(T(input))


@emits("Tanh", since=1)
def tanh(input: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Tanh-1/6/13: tanh(input)."""
    return torch.tanh(T(input))


@emits("Ceil", since=1)
def ceil(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Ceil-1/6/13: ceil(X)."""
    return torch.ceil(T(X))


@emits("Floor", since=1)
def floor(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Floor-1/6/13: floor(X)."""
    return torch.floor(T(X))


@emits("Round", since=11)
def round_(X: Any) -> Any:
    """Round-11/22: round half to even (as torch.round does)."""
    return torch.round(T(X))


@emits("Exp", since=1)
def exp(input: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Exp-1/6/13: e ** input."""
    return torch.exp(T(input))


@emits("Log", since=1)
def log(input: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Log-1/6/13: natural logarithm."""
    return torch.log(T(input))


@emits("Sqrt", since=1)
def sqrt(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Sqrt-1/6/13: square root."""
    return torch.sqrt(T(X))


@emits("Reciprocal", since=1)
def reciprocal(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Reciprocal-1/6/13: 1 / X."""
    return torch.reciprocal(T(X))


@emits("Erf", since=9)
def erf(input: Any, *, ctx: EmitContext) -> Any:
    """Erf-9/13: erf(input); integer inputs keep their type (rounded result)."""
    x, dtype = T(input), known_dtype(ctx, 0, input, "Erf")
    if dtype.is_floating_point:
        return torch.erf(x)
    return torch.round(torch.erf(x.to(torch.float64))).to(dtype)


@emits("Sign", since=9)
def sign(input: Any, *, ctx: EmitContext) -> Any:
    """Sign-9/13: -1, 0 or 1; NaN stays NaN (torch.sign gives 0 for it)."""
    x, dtype = T(input), known_dtype(ctx, 0, input, "Sign")
    if dtype.is_floating_point:
        return torch.where(torch.isnan(x), x, torch.sign(x))
    return wrapping(dtype, torch.sign, x)


@emits("IsNaN", since=9)
def is_nan(X: Any) -> Any:
    """IsNaN-9/13/20: which elements are NaN."""
    return torch.isnan(T(X))


@emits("IsInf", since=10)
def is_inf(X: Any, *, detect_negative: int = 1, detect_positive: int = 1) -> Any:
    """IsInf-10/20: which elements are +inf and/or -inf."""
    x = T(X)
    if detect_negative and detect_positive:
        return torch.isinf(x)
    if detect_positive:
        return torch.isposinf(x)
    if detect_negative:
        return torch.isneginf(x)
    return torch.zeros_like(x, dtype=torch.bool)


# --------------------------------------------------------------------------------------
# Variadic, Where, Clip. Opset 6 required equal shapes and opset 8 added broadcasting;
# broadcasting accepts every opset-6 model, so one emitter serves all versions.


def _fold(host_fn: Callable[[Any, Any], Any], torch_fn: Callable[..., Any],
          data: tuple[Any, ...]) -> Any:
    if all_host(*data):
        return reduce(lambda a, b: host_binary(host_fn, a, b), data)
    return reduce(torch_fn, [T(d) for d in data])


@emits("Max", since=1)
def max_(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Max-1/6/8/12/13: elementwise maximum of the inputs (NaN propagates)."""
    dtype = dtype_of(ctx, 0, data_0[0])
    return _fold(_sym_max, lambda a, b: ordering(dtype, torch.maximum, a, b), data_0)


@emits("Min", since=1)
def min_(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Min-1/6/8/12/13: elementwise minimum of the inputs (NaN propagates)."""
    dtype = dtype_of(ctx, 0, data_0[0])
    return _fold(_sym_min, lambda a, b: ordering(dtype, torch.minimum, a, b), data_0)


@emits("Sum", since=1)
def sum_(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Sum-1/6/8/13: elementwise sum of the inputs."""
    dtype = dtype_of(ctx, 0, data_0[0])
    return _fold(operator.add, lambda a, b: wrapping(dtype, torch.add, a, b), data_0)


@emits("Mean", since=1)
def mean(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Mean-1/6/8/13: elementwise mean of the (floating) inputs."""
    return reduce(torch.add, [T(d) for d in data_0]) / len(data_0)


@emits("Where", since=9)
def where(condition: Any, X: Any, Y: Any) -> Any:
    """Where-9/16: X where condition else Y."""
    if all_host(condition, X, Y):
        return _host_where(condition, X, Y)
    return torch.where(T(condition), T(X), T(Y))


@emits("Clip", since=11)
def clip(input: Any, min: Any = None, max: Any = None, *, ctx: EmitContext) -> Any:
    """Clip-11/12/13: clamp to [min, max]; a missing bound is no bound; min > max gives max
    (torch.clamp's rule too)."""
    x, dtype = T(input), dtype_of(ctx, 0, input)
    if min is None and max is None:
        return x
    # Host bounds become Python scalars (torch's faster scalar clamp).
    lo, hi = (b.items[0] if isinstance(b, Host) else b for b in (min, max))
    if dtype in UNSIGNED:
        lo, hi = (None if b is None else ordered(torch.as_tensor(b, dtype=dtype), dtype) for b in (lo, hi))
        return from_ordered(torch.clamp(ordered(x, dtype), lo, hi), dtype)
    return torch.clamp(x, lo, hi)

