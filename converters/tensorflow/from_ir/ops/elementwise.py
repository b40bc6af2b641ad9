"""Elementwise emitters: unary math, arithmetic, comparison, logic, bitwise ops, the
variadic Max/Min/Sum/Mean, Where and Clip. Activations live in ``activation.py``, Cast in
``cast.py``.

ONNX binary ops take operands of one element type and broadcast like numpy, which is what
TensorFlow's binary ops do, so most emitters are one call. Opset-1 versions carry the legacy
``axis``/``broadcast`` attributes (B aligned with A from ``axis``) and ``consumed_inputs``
(an in-place hint without effect on values); they are registered separately, as the runtime
does, and ignore ``consumed_inputs``."""

from __future__ import annotations

from functools import reduce
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.shape import rank_of
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.axis_math import legacy_trailing_ones
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"
_NARROW = (tf.float16, tf.bfloat16)
_UNSIGNED = (tf.uint8, tf.uint16, tf.uint32, tf.uint64)


def wide(x: Any) -> Any:
    """float16/bfloat16 as float32: chains of ops stay within the narrow type's rounding
    (the result is rounded once when cast back)."""
    return tf.cast(x, tf.float32) if x.dtype in _NARROW else x


def _legacy_rhs(A: Any, B: Any, axis: int | None, broadcast: int, op: str) -> Any:
    """Opset-1..6 broadcasting: B is a contiguous run of A's dims starting at ``axis``;
    without ``axis`` it is A's suffix, which is TensorFlow's own broadcasting."""
    if not broadcast or axis is None:
        return B
    trailing = legacy_trailing_ones(rank_of(A, op), rank_of(B, op), axis, op)
    if not trailing:
        return B
    return tf.reshape(B, tf.concat([tf.shape(B), tf.ones([trailing], tf.int32)], 0))


# --------------------------------------------------------------------------------------
# Unary math


@emits("Abs", since=1)
def abs_(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Abs-1/6/13: |X| (TF has no Abs kernel for unsigned types, where it is the identity)."""
    return X if X.dtype in _UNSIGNED else tf.abs(X)


@emits("Acos", since=7)
def acos(input: Any) -> Any:
    """Acos-7/22: arccos(input)."""
    return tf.acos(input)


@emits("Acosh", since=9)
def acosh(input: Any) -> Any:
    """Acosh-9/22: arccosh(input)."""
    return tf.acosh(input)


@emits("Asin", since=7)
def asin(input: Any) -> Any:
    """Asin-7/22: arcsin(input)."""
    return tf.asin(input)


@emits("Asinh", since=9)
def asinh(input: Any) -> Any:
    """Asinh-9/22: arcsinh(input)."""
    return tf.asinh(input)


@emits("Atan", since=7)
def atan(input: Any) -> Any:
    """Atan-7/22: arctan(input)."""
    return tf.atan(input)


@emits("Atanh", since=9)
def atanh(input: Any) -> Any:
    """Atanh-9/22: arctanh(input)."""
    return tf.atanh(input)


@emits("Ceil", since=1)
def ceil(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Ceil-1/6/13: ceil(X)."""
    return tf.math.ceil(X)


@emits("Cos", since=7)
def cos(input: Any) -> Any:
    """Cos-7/22: cos(input)."""
    return tf.cos(input)


@emits("Cosh", since=9)
def cosh(input: Any) -> Any:
    """Cosh-9/22: cosh(input)."""
    return tf.cosh(input)


@emits("Erf", since=9)
def erf(input: Any) -> Any:
    """Erf-9/13: erf(input); integer inputs keep their type (rounded result)."""
    if input.dtype.is_integer:
        return tf.cast(tf.round(tf.math.erf(tf.cast(input, tf.float64))), input.dtype)
    return tf.math.erf(input)


@emits("Exp", since=1)
def exp(input: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Exp-1/6/13: e ** input."""
    return tf.exp(input)


@emits("Floor", since=1)
def floor(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Floor-1/6/13: floor(X)."""
    return tf.floor(X)


@emits("Log", since=1)
def log(input: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Log-1/6/13: natural logarithm."""
    return tf.math.log(input)


@emits("Neg", since=1)
def neg(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Neg-1/6/13: -X."""
    return tf.negative(X)


@emits("Reciprocal", since=1)
def reciprocal(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Reciprocal-1/6/13: 1 / X."""
    return tf.math.reciprocal(X)


@emits("Round", since=11)
def round_(X: Any) -> Any:
    """Round-11/22: round half to even (tf.round's rule too)."""
    return tf.round(X)


@emits("Sign", since=9)
def sign(input: Any) -> Any:
    """Sign-9/13: -1, 0 or 1 (NaN stays NaN)."""
    if input.dtype in _UNSIGNED:  # no TF kernel; unsigned signs are 0 or 1
        return tf.cast(input > 0, input.dtype)
    return tf.sign(input)


@emits("Sin", since=7)
def sin(input: Any) -> Any:
    """Sin-7/22: sin(input)."""
    return tf.sin(input)


@emits("Sinh", since=9)
def sinh(input: Any) -> Any:
    """Sinh-9/22: sinh(input)."""
    return tf.sinh(input)


@emits("Sqrt", since=1)
def sqrt(X: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Sqrt-1/6/13: square root."""
    return tf.sqrt(X)


@emits("Tan", since=7)
def tan(input: Any) -> Any:
    """Tan-7/22: tan(input)."""
    return tf.tan(input)


@emits("Tanh", since=1)
def tanh(input: Any, *, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Tanh-1/6/13: tanh(input)."""
    return tf.tanh(input)


@emits("Not", since=1)
def not_(X: Any) -> Any:
    """Not-1: logical negation."""
    return tf.logical_not(X)


@emits("IsInf", since=10)
def is_inf(X: Any, *, detect_negative: int = 1, detect_positive: int = 1) -> Any:
    """IsInf-10/20: which elements are +inf and/or -inf."""
    x = wide(X) if X.dtype.is_floating else tf.cast(X, tf.float32)
    if detect_negative and detect_positive:
        return tf.math.is_inf(x)
    if detect_positive:
        return tf.equal(x, np.inf)
    if detect_negative:
        return tf.equal(x, -np.inf)
    return tf.zeros_like(x, dtype=tf.bool)


@emits("IsNaN", since=9)
def is_nan(X: Any) -> Any:
    """IsNaN-9/13/20: which elements are NaN."""
    return tf.math.is_nan(wide(X))


@emits("BitwiseNot", since=18)
def bitwise_not(X: Any) -> Any:
    """BitwiseNot-18: ~X."""
    return tf.bitwise.invert(X)


# --------------------------------------------------------------------------------------
# Binary arithmetic


def _div(A: Any, B: Any) -> Any:
    # ONNX integer division truncates toward zero, like C (tf's // floors).
    return tf.truncatediv(A, B) if A.dtype.is_integer else tf.divide(A, B)


def _pow(X: Any, Y: Any) -> Any:
    if X.dtype.is_floating:
        return tf.pow(X, tf.cast(Y, X.dtype))
    if Y.dtype.is_floating:
        # Integer base, float exponent: computed in float64, the output keeps the base's
        # type (truncating).
        return tf.cast(tf.pow(tf.cast(X, tf.float64), tf.cast(Y, tf.float64)), X.dtype)
    if X.dtype == Y.dtype and X.dtype in (tf.int32, tf.int64):
        return tf.pow(X, Y)
    # Other integer pairs: int64 products wrap like the narrower/unsigned ones, so the
    # low bits (all that the cast back keeps) are the same.
    return tf.cast(tf.pow(tf.cast(X, tf.int64), tf.cast(Y, tf.int64)), X.dtype)


@emits("Add", since=1)
def add_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Add-1/6: A + B with opset-1 broadcasting of B."""
    return tf.add(A, _legacy_rhs(A, B, axis, broadcast, "Add"))


@emits("Add", since=7)
def add(A: Any, B: Any) -> Any:
    """Add-7/13/14: A + B."""
    return tf.add(A, B)


@emits("Sub", since=1)
def sub_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Sub-1/6: A - B with opset-1 broadcasting of B."""
    return tf.subtract(A, _legacy_rhs(A, B, axis, broadcast, "Sub"))


@emits("Sub", since=7)
def sub(A: Any, B: Any) -> Any:
    """Sub-7/13/14: A - B."""
    return tf.subtract(A, B)


@emits("Mul", since=1)
def mul_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Mul-1/6: A * B with opset-1 broadcasting of B."""
    return tf.multiply(A, _legacy_rhs(A, B, axis, broadcast, "Mul"))


@emits("Mul", since=7)
def mul(A: Any, B: Any) -> Any:
    """Mul-7/13/14: A * B."""
    return tf.multiply(A, B)


@emits("Div", since=1)
def div_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0,
          consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Div-1/6: A / B with opset-1 broadcasting of B."""
    return _div(A, _legacy_rhs(A, B, axis, broadcast, "Div"))


@emits("Div", since=7)
def div(A: Any, B: Any) -> Any:
    """Div-7/13/14: A / B; integers truncate toward zero."""
    return _div(A, B)


@emits("Pow", since=1)
def pow_1(X: Any, Y: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """Pow-1: X ** Y with opset-1 broadcasting of Y."""
    return _pow(X, _legacy_rhs(X, Y, axis, broadcast, "Pow"))


@emits("Pow", since=7)
def pow_(X: Any, Y: Any) -> Any:
    """Pow-7/12/13/15: X ** Y; the output has X's type."""
    return _pow(X, Y)


@emits("Mod", since=10)
def mod(A: Any, B: Any, *, fmod: int = 0) -> Any:
    """Mod-10/13/28: fmod=0 takes the divisor's sign (Python %), fmod=1 the dividend's (C fmod)."""
    if not fmod or A.dtype in _UNSIGNED:  # unsigned: both rules agree
        return tf.math.floormod(A, B)
    # TruncateMod has kernels for int32/int64/float32/float64 only; widening is exact.
    work = {tf.int8: tf.int32, tf.int16: tf.int32, tf.float16: tf.float32,
            tf.bfloat16: tf.float32}.get(A.dtype, A.dtype)
    return tf.cast(tf.truncatemod(tf.cast(A, work), tf.cast(B, work)), A.dtype)


@emits("BitShift", since=11)
def bit_shift(X: Any, Y: Any, *, direction: str) -> Any:
    """BitShift-11/28: X << Y or X >> Y (arithmetic for signed types); shifts of the bit
    width or more, or negative, give 0 (-1 for a negative X shifted right); TF leaves
    them undefined."""
    if direction not in ("LEFT", "RIGHT"):
        raise UnsupportedOpError(LAYER, "BitShift", hint=f"direction must be 'LEFT' or "
                                 f"'RIGHT', got {direction!r}")
    bits = X.dtype.size * 8
    over = tf.greater_equal(Y, tf.cast(bits, Y.dtype))
    if not Y.dtype.is_unsigned:
        over = tf.logical_or(over, tf.less(Y, tf.zeros_like(Y)))
    safe = tf.where(over, tf.zeros_like(Y), Y)
    if direction == "LEFT":
        return tf.where(over, tf.zeros_like(X), tf.bitwise.left_shift(X, safe))
    shifted = tf.bitwise.right_shift(X, safe)
    fill = tf.bitwise.right_shift(X, tf.cast(bits - 1, X.dtype))  # 0 or -1: the sign
    return tf.where(over, fill if not X.dtype.is_unsigned else tf.zeros_like(X), shifted)


@emits("BitwiseAnd", since=18)
def bitwise_and(A: Any, B: Any) -> Any:
    """BitwiseAnd-18: A & B."""
    return tf.bitwise.bitwise_and(A, B)


@emits("BitwiseOr", since=18)
def bitwise_or(A: Any, B: Any) -> Any:
    """BitwiseOr-18: A | B."""
    return tf.bitwise.bitwise_or(A, B)


@emits("BitwiseXor", since=18)
def bitwise_xor(A: Any, B: Any) -> Any:
    """BitwiseXor-18: A ^ B."""
    return tf.bitwise.bitwise_xor(A, B)


# --------------------------------------------------------------------------------------
# Logical and comparison


@emits("And", since=1)
def and_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """And-1: A and B with opset-1 broadcasting of B."""
    return tf.logical_and(A, _legacy_rhs(A, B, axis, broadcast, "And"))


@emits("And", since=7)
def and_(A: Any, B: Any) -> Any:
    """And-7: A and B."""
    return tf.logical_and(A, B)


@emits("Or", since=1)
def or_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """Or-1: A or B with opset-1 broadcasting of B."""
    return tf.logical_or(A, _legacy_rhs(A, B, axis, broadcast, "Or"))


@emits("Or", since=7)
def or_(A: Any, B: Any) -> Any:
    """Or-7: A or B."""
    return tf.logical_or(A, B)


@emits("Xor", since=1)
def xor_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """Xor-1: A xor B with opset-1 broadcasting of B."""
    return tf.math.logical_xor(A, _legacy_rhs(A, B, axis, broadcast, "Xor"))


@emits("Xor", since=7)
def xor(A: Any, B: Any) -> Any:
    """Xor-7: A xor B."""
    return tf.math.logical_xor(A, B)


@emits("Equal", since=1)
def equal_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """Equal-1: A == B with opset-1 broadcasting of B."""
    return tf.equal(A, _legacy_rhs(A, B, axis, broadcast, "Equal"))


@emits("Equal", since=7)
def equal(A: Any, B: Any) -> Any:
    """Equal-7/11/13/19: A == B (strings included)."""
    return tf.equal(A, B)


@emits("Greater", since=1)
def greater_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """Greater-1: A > B with opset-1 broadcasting of B."""
    return tf.greater(A, _legacy_rhs(A, B, axis, broadcast, "Greater"))


@emits("Greater", since=7)
def greater(A: Any, B: Any) -> Any:
    """Greater-7/9/13: A > B."""
    return tf.greater(A, B)


@emits("Less", since=1)
def less_1(A: Any, B: Any, *, axis: int | None = None, broadcast: int = 0) -> Any:
    """Less-1: A < B with opset-1 broadcasting of B."""
    return tf.less(A, _legacy_rhs(A, B, axis, broadcast, "Less"))


@emits("Less", since=7)
def less(A: Any, B: Any) -> Any:
    """Less-7/9/13: A < B."""
    return tf.less(A, B)


@emits("GreaterOrEqual", since=12)
def greater_or_equal(A: Any, B: Any) -> Any:
    """GreaterOrEqual-12/16: A >= B."""
    return tf.greater_equal(A, B)


@emits("LessOrEqual", since=12)
def less_or_equal(A: Any, B: Any) -> Any:
    """LessOrEqual-12/16: A <= B."""
    return tf.less_equal(A, B)


# --------------------------------------------------------------------------------------
# Variadic, Where, Clip
# Opset 6 required equal shapes and opset 8 added broadcasting; broadcasting accepts every
# opset-6 model, so one emitter serves all versions.


@emits("Max", since=1)
def max_(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Max-1/6/8/12/13: element-wise maximum of the inputs (NaN propagates)."""
    return reduce(tf.maximum, data_0)


@emits("Min", since=1)
def min_(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Min-1/6/8/12/13: element-wise minimum of the inputs (NaN propagates)."""
    return reduce(tf.minimum, data_0)


@emits("Sum", since=1)
def sum_(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Sum-1/6/8/13: element-wise sum of the inputs."""
    return reduce(tf.add, data_0)


@emits("Mean", since=1)
def mean(*data_0: Any, consumed_inputs: tuple[int, ...] | None = None) -> Any:
    """Mean-1/6/8/13: element-wise mean of the inputs."""
    total = reduce(tf.add, data_0)
    return total / tf.cast(len(data_0), total.dtype)


@emits("Where", since=9)
def where(condition: Any, X: Any, Y: Any) -> Any:
    """Where-9/16: X where condition else Y (broadcasting all three)."""
    return tf.where(condition, X, Y)


@emits("Clip", since=11)
def clip(input: Any, min: Any = None, max: Any = None) -> Any:
    """Clip-11/12/13: clamp to [min, max]; a missing bound is no bound; min > max gives max.
    Clip-1/6's attribute bounds are rewritten to inputs by ir/op_versions.py."""
    y = input
    if min is not None:
        y = tf.maximum(y, min)
    if max is not None:
        y = tf.minimum(y, max)
    return y
