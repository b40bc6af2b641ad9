"""Kernels: element-wise math, logic, comparison and bitwise ops, Where and Clip.

Most kernels are a single numpy ufunc call: ONNX requires both operands of a binary op to
share one element type, so numpy's promotion never changes the dtype and multidirectional
broadcasting is numpy's own. The exceptions (integer Div, mixed-type Pow, opset-1 broadcast
attributes) are spelled out where they occur.

Opset-1 versions of several ops carry ``consumed_inputs``, a legacy in-place hint with no
effect on values; those kernels accept and ignore it so that one since=1 registration
covers every version whose semantics did not change.

Activations live in ``activation.py``, type conversions in ``cast.py``.
"""

from __future__ import annotations

from functools import reduce

import ml_dtypes
import numpy as np

from tensorbridge.ir.axis_math import legacy_broadcast_shape
from tensorbridge.runtime.erf import erf
from tensorbridge.runtime.registry import kernel

# --------------------------------------------------------------------------------------
# Unary math


@kernel("Abs", since=1)
def abs_(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Abs-1/6/13: |X|."""
    return np.abs(X)


@kernel("Acos", since=7)
def acos(input: np.ndarray) -> np.ndarray:
    """Acos-7/22: arccos(input)."""
    return np.arccos(input)


@kernel("Acosh", since=9)
def acosh(input: np.ndarray) -> np.ndarray:
    """Acosh-9/22: arccosh(input)."""
    return np.arccosh(input)


@kernel("Asin", since=7)
def asin(input: np.ndarray) -> np.ndarray:
    """Asin-7/22: arcsin(input)."""
    return np.arcsin(input)


@kernel("Asinh", since=9)
def asinh(input: np.ndarray) -> np.ndarray:
    """Asinh-9/22: arcsinh(input)."""
    return np.arcsinh(input)


@kernel("Atan", since=7)
def atan(input: np.ndarray) -> np.ndarray:
    """Atan-7/22: arctan(input)."""
    return np.arctan(input)


@kernel("Atanh", since=9)
def atanh(input: np.ndarray) -> np.ndarray:
    """Atanh-9/22: arctanh(input)."""
    return np.arctanh(input)


@kernel("Ceil", since=1)
def ceil(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Ceil-1/6/13: ceil(X)."""
    return np.ceil(X)


@kernel("Cos", since=7)
def cos(input: np.ndarray) -> np.ndarray:
    """Cos-7/22: cos(input)."""
    return np.cos(input)


@kernel("Cosh", since=9)
def cosh(input: np.ndarray) -> np.ndarray:
    """Cosh-9/22: cosh(input)."""
    return np.cosh(input)


@kernel("Erf", since=9)
def erf_(input: np.ndarray) -> np.ndarray:
    """Erf-9/13: erf(input), integer inputs keep their type (rounded result)."""
    if input.dtype.kind in "iu":
        return np.rint(erf(input.astype(np.float64))).astype(input.dtype)
    return erf(input)


@kernel("Exp", since=1)
def exp(input: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Exp-1/6/13: e ** input."""
    return np.exp(input)


@kernel("Floor", since=1)
def floor(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Floor-1/6/13: floor(X)."""
    return np.floor(X)


@kernel("Log", since=1)
def log(input: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Log-1/6/13: natural logarithm."""
    return np.log(input)


@kernel("Neg", since=1)
def neg(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Neg-1/6/13: -X."""
    return np.negative(X)


@kernel("Reciprocal", since=1)
def reciprocal(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Reciprocal-1/6/13: 1 / X."""
    return np.reciprocal(X)


@kernel("Round", since=11)
def round_(X: np.ndarray) -> np.ndarray:
    """Round-11/22: round half to even."""
    return np.round(X)


@kernel("Sign", since=9)
def sign(input: np.ndarray) -> np.ndarray:
    """Sign-9/13: -1, 0 or 1 (NaN stays NaN)."""
    return np.sign(input)


@kernel("Sin", since=7)
def sin(input: np.ndarray) -> np.ndarray:
    """Sin-7/22: sin(input)."""
    return np.sin(input)


@kernel("Sinh", since=9)
def sinh(input: np.ndarray) -> np.ndarray:
    """Sinh-9/22: sinh(input)."""
    return np.sinh(input)


@kernel("Sqrt", since=1)
def sqrt(X: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Sqrt-1/6/13: square root."""
    return np.sqrt(X)


@kernel("Tan", since=7)
def tan(input: np.ndarray) -> np.ndarray:
    """Tan-7/22: tan(input)."""
    return np.tan(input)


@kernel("Tanh", since=1)
def tanh(input: np.ndarray, *, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Tanh-1/6/13: tanh(input)."""
    return np.tanh(input)


@kernel("Not", since=1)
def not_(X: np.ndarray) -> np.ndarray:
    """Not-1: logical negation."""
    return np.logical_not(X)


@kernel("IsInf", since=10)
def is_inf(X: np.ndarray, *, detect_negative: int = 1, detect_positive: int = 1) -> np.ndarray:
    """IsInf-10/20: which elements are +inf and/or -inf."""
    if X.dtype.kind != "f":  # ml_dtypes floats (bfloat16, float8) lack isposinf
        X = X.astype(np.float32)
    if detect_negative and detect_positive:
        return np.isinf(X)
    if detect_positive:
        return np.isposinf(X)
    if detect_negative:
        return np.isneginf(X)
    return np.zeros(X.shape, dtype=np.bool_)


@kernel("IsNaN", since=9)
def is_nan(X: np.ndarray) -> np.ndarray:
    """IsNaN-9/13/20: which elements are NaN."""
    return np.isnan(X)


@kernel("BitwiseNot", since=18)
def bitwise_not(X: np.ndarray) -> np.ndarray:
    """BitwiseNot-18: ~X."""
    return np.invert(X)


# --------------------------------------------------------------------------------------
# Binary arithmetic


def _legacy_rhs(A: np.ndarray, B: np.ndarray, axis: int | None, broadcast: int,
                op: str) -> np.ndarray:
    """Opset-1..6 broadcasting: B (a contiguous run of A's dims) is aligned with A from
    ``axis``; without ``axis`` the run is A's suffix, which is plain numpy broadcasting."""
    if not broadcast:
        if A.shape != B.shape:
            raise ValueError(
                f"{op}: shapes {A.shape} and {B.shape} differ and broadcast=0; set broadcast=1 or "
                "upgrade the model to opset >= 7 (numpy-style broadcasting)"
            )
        return B
    return B.reshape(legacy_broadcast_shape(A.ndim, B.shape, axis, op))


def _exact_in_float64(dtype: np.dtype) -> bool:
    """Integers of at most 32 bits: float64 quotients of them truncate/floor exactly (the
    rounding error |a/b| * 2**-53 stays below the 1/|b| gap to the next integer)."""
    return dtype.kind in "iu" and dtype.itemsize <= 4


def _div(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    if _exact_in_float64(A.dtype):
        # ONNX integer division truncates toward zero like C. numpy's integer division has
        # no SIMD loop; the float64 route is ~4x faster and exact for these widths.
        q = np.divide(A, B, dtype=np.float64)
        return np.trunc(q, out=q).astype(A.dtype)
    if A.dtype.kind == "i":
        # A - fmod(A, B) is an exact multiple of B, so flooring it divides exactly.
        return np.floor_divide(A - np.fmod(A, B), B)
    if A.dtype.kind == "u":
        return np.floor_divide(A, B)
    return np.divide(A, B)


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or dtype == ml_dtypes.bfloat16


def _pow(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    if X.dtype == Y.dtype:
        return np.power(X, Y)
    if _is_float(X.dtype):
        return np.power(X, Y.astype(X.dtype))
    # Integer base, other exponent type: the output keeps the base's type (truncating).
    return np.power(X, Y).astype(X.dtype)


@kernel("Add", since=1)
def add_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Add-1/6: A + B with opset-1 broadcasting of B."""
    return np.add(A, _legacy_rhs(A, B, axis, broadcast, "Add"))


@kernel("Add", since=7)
def add(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Add-7/13/14: A + B."""
    return np.add(A, B)


@kernel("Sub", since=1)
def sub_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Sub-1/6: A - B with opset-1 broadcasting of B."""
    return np.subtract(A, _legacy_rhs(A, B, axis, broadcast, "Sub"))


@kernel("Sub", since=7)
def sub(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Sub-7/13/14: A - B."""
    return np.subtract(A, B)


@kernel("Mul", since=1)
def mul_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Mul-1/6: A * B with opset-1 broadcasting of B."""
    return np.multiply(A, _legacy_rhs(A, B, axis, broadcast, "Mul"))


@kernel("Mul", since=7)
def mul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Mul-7/13/14: A * B."""
    return np.multiply(A, B)


@kernel("Div", since=1)
def div_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Div-1/6: A / B with opset-1 broadcasting of B."""
    return _div(A, _legacy_rhs(A, B, axis, broadcast, "Div"))


@kernel("Div", since=7)
def div(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Div-7/13/14: A / B; integers truncate toward zero."""
    return _div(A, B)


@kernel("Pow", since=1)
def pow_1(X: np.ndarray, Y: np.ndarray, *, axis: int | None = None,
          broadcast: int = 0) -> np.ndarray:
    """Pow-1: X ** Y with opset-1 broadcasting of Y."""
    return _pow(X, _legacy_rhs(X, Y, axis, broadcast, "Pow"))


@kernel("Pow", since=7)
def pow_(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Pow-7/12/13/15: X ** Y; the output has X's type."""
    return _pow(X, Y)


@kernel("Mod", since=10)
def mod(A: np.ndarray, B: np.ndarray, *, fmod: int = 0) -> np.ndarray:
    """Mod-10/13/28: fmod=0 takes the divisor's sign (Python %), fmod=1 the dividend's (C fmod)."""
    if _exact_in_float64(A.dtype):
        # A - B * round(A / B), exact in float64 and ~4x faster than numpy's integer loops.
        q = np.asarray(np.divide(A, B, dtype=np.float64))  # 0-d inputs give a numpy scalar
        (np.trunc if fmod else np.floor)(q, out=q)
        q *= B
        return np.subtract(A, q, out=q).astype(A.dtype)
    return np.fmod(A, B) if fmod else np.mod(A, B)


@kernel("BitShift", since=11)
def bit_shift(X: np.ndarray, Y: np.ndarray, *, direction: str) -> np.ndarray:
    """BitShift-11/28: X << Y or X >> Y (arithmetic for signed types).

    numpy already gives the opset-28 results for shifts >= the bit width (0, or -1 for a
    negative X shifted right)."""
    if direction == "LEFT":
        return np.left_shift(X, Y)
    if direction == "RIGHT":
        return np.right_shift(X, Y)
    raise ValueError(f"BitShift direction must be 'LEFT' or 'RIGHT', got {direction!r}")


@kernel("BitwiseAnd", since=18)
def bitwise_and(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """BitwiseAnd-18: A & B."""
    return np.bitwise_and(A, B)


@kernel("BitwiseOr", since=18)
def bitwise_or(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """BitwiseOr-18: A | B."""
    return np.bitwise_or(A, B)


@kernel("BitwiseXor", since=18)
def bitwise_xor(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """BitwiseXor-18: A ^ B."""
    return np.bitwise_xor(A, B)


# --------------------------------------------------------------------------------------
# Logical and comparison


@kernel("And", since=1)
def and_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None,
          broadcast: int = 0) -> np.ndarray:
    """And-1: A and B with opset-1 broadcasting of B."""
    return np.logical_and(A, _legacy_rhs(A, B, axis, broadcast, "And"))


@kernel("And", since=7)
def and_(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """And-7: A and B."""
    return np.logical_and(A, B)


@kernel("Or", since=1)
def or_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None,
         broadcast: int = 0) -> np.ndarray:
    """Or-1: A or B with opset-1 broadcasting of B."""
    return np.logical_or(A, _legacy_rhs(A, B, axis, broadcast, "Or"))


@kernel("Or", since=7)
def or_(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Or-7: A or B."""
    return np.logical_or(A, B)


@kernel("Xor", since=1)
def xor_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None,
          broadcast: int = 0) -> np.ndarray:
    """Xor-1: A xor B with opset-1 broadcasting of B."""
    return np.logical_xor(A, _legacy_rhs(A, B, axis, broadcast, "Xor"))


@kernel("Xor", since=7)
def xor(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Xor-7: A xor B."""
    return np.logical_xor(A, B)


@kernel("Equal", since=1)
def equal_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None,
            broadcast: int = 0) -> np.ndarray:
    """Equal-1: A == B with opset-1 broadcasting of B."""
    return np.equal(A, _legacy_rhs(A, B, axis, broadcast, "Equal"))


@kernel("Equal", since=7)
def equal(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Equal-7/11/13/19: A == B (strings included)."""
    return np.equal(A, B)


@kernel("Greater", since=1)
def greater_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None,
              broadcast: int = 0) -> np.ndarray:
    """Greater-1: A > B with opset-1 broadcasting of B."""
    return np.greater(A, _legacy_rhs(A, B, axis, broadcast, "Greater"))


@kernel("Greater", since=7)
def greater(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Greater-7/9/13: A > B."""
    return np.greater(A, B)


@kernel("Less", since=1)
def less_1(A: np.ndarray, B: np.ndarray, *, axis: int | None = None,
           broadcast: int = 0) -> np.ndarray:
    """Less-1: A < B with opset-1 broadcasting of B."""
    return np.less(A, _legacy_rhs(A, B, axis, broadcast, "Less"))


@kernel("Less", since=7)
def less(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Less-7/9/13: A < B."""
    return np.less(A, B)


@kernel("GreaterOrEqual", since=12)
def greater_or_equal(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """GreaterOrEqual-12/16: A >= B."""
    return np.greater_equal(A, B)


@kernel("LessOrEqual", since=12)
def less_or_equal(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """LessOrEqual-12/16: A <= B."""
    return np.less_equal(A, B)


# --------------------------------------------------------------------------------------
# Variadic, Where, Clip
# Opset 6 required equal shapes and opset 8 added broadcasting; broadcasting accepts every
# opset-6 model, so one kernel serves all versions.


@kernel("Max", since=1)
def max_(*data_0: np.ndarray, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Max-1/6/8/12/13: element-wise maximum of the inputs (NaN propagates)."""
    return reduce(np.maximum, data_0)


@kernel("Min", since=1)
def min_(*data_0: np.ndarray, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Min-1/6/8/12/13: element-wise minimum of the inputs (NaN propagates)."""
    return reduce(np.minimum, data_0)


@kernel("Sum", since=1)
def sum_(*data_0: np.ndarray, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Sum-1/6/8/13: element-wise sum of the inputs."""
    return reduce(np.add, data_0)


@kernel("Mean", since=1)
def mean(*data_0: np.ndarray, consumed_inputs: list[int] | None = None) -> np.ndarray:
    """Mean-1/6/8/13: element-wise mean of the inputs."""
    total = reduce(np.add, data_0)
    # A Python int divisor is a weak scalar: float16/32 stay in their own type.
    return np.divide(total, len(data_0)).astype(total.dtype, copy=False)


@kernel("Where", since=9)
def where(condition: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Where-9/16: X where condition else Y."""
    return np.where(condition, X, Y)


@kernel("Clip", since=11)
def clip(input: np.ndarray, min: np.ndarray | float | None = None,
         max: np.ndarray | float | None = None) -> np.ndarray:
    """Clip-11/12/13: clamp to [min, max]; a missing bound is the type's lowest/max value
    (so +-inf become the finite extremes, as the spec says); min > max gives max. Clip-1/6's
    attributes are rewritten by ir/op_versions.py."""
    if min is None and max is None:
        return input
    # Both bounds are always passed: np.clip's SIMD loop needs them (one-sided is ~4x slower).
    info = np.iinfo(input.dtype) if input.dtype.kind in "iu" else ml_dtypes.finfo(input.dtype)
    lowest = info.min if min is None else min
    highest = info.max if max is None else max
    # astype: numpy promotes ml_dtypes' bfloat16 (and float bounds) to float32/64.
    return np.clip(input, lowest, highest).astype(input.dtype, copy=False)
