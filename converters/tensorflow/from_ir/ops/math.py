"""Math emitters: matrix products, Einsum, cumulative ops, Det, the Softmax family, TopK,
and Trilu (the Reduce* ops and ArgMax/ArgMin are in ``reduce.py``).

Parameter inputs (axes, k, axis) usually are constants in the IR, which arrive as eager
tensors: they are read with ``tf.get_static_value`` so TensorFlow sees plain Python ints;
computed ones stay tensors and go to the tf ops that accept tensor arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.ops.elementwise import wide
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis

# MatMul/Einsum kernels exist for floats and int32/int64 only. Products and sums wrap the
# same way in a wider integer type, so the low bits the cast back keeps are exact.
_INT_WORK = {tf.int8: tf.int32, tf.uint8: tf.int32, tf.int16: tf.int32, tf.uint16: tf.int32,
             tf.uint32: tf.int64, tf.uint64: tf.int64}


def _work(x: Any) -> Any:
    if x.dtype in _INT_WORK:
        return tf.cast(x, _INT_WORK[x.dtype])
    return wide(x)


def cast_back(y: Any, dtype: Any) -> Any:
    return tf.cast(y, dtype) if y.dtype != dtype else y


def scalar(v: Any) -> Any:
    """A 1-element parameter input as a Python int, or as a scalar tensor when not static."""
    static = tf.get_static_value(v)
    if static is not None:
        return int(np.asarray(static).reshape(-1)[0])
    return tf.reshape(v, [])


def _rank(x: Any, ctx: EmitContext | None, i: int = 0, required: bool = True) -> Any:
    """x's rank: from the traced tensor, else from the IR (values out of control flow may
    reach the emitter without a static rank); None if neither knows and not ``required``."""
    rank = x.shape.rank
    if rank is None and ctx is not None:
        rank = ctx.rank(i)
    if rank is None and required:
        raise ValueError("the input's rank is unknown; give the model's inputs static ranks")
    return None if rank is None else int(rank)


# --------------------------------------------------------------------------------------
# Matrix products


def _matmul(A: Any, B: Any, transA: bool = False, transB: bool = False) -> Any:
    return cast_back(tf.linalg.matmul(_work(A), _work(B), transpose_a=transA, transpose_b=transB),
                 A.dtype)


def _vector_matmul(A: Any, B: Any, a1: bool, b1: bool) -> Any:
    """matmul with 1-D operands promoted to matrices (a1/b1) and the added dims removed."""
    y = _matmul(tf.expand_dims(A, 0) if a1 else A, tf.expand_dims(B, -1) if b1 else B)
    if a1:
        y = tf.squeeze(y, -2)
    if b1:
        y = tf.squeeze(y, -1)
    return y


@emits("MatMul", since=1)
def matmul(A: Any, B: Any, *, ctx: EmitContext | None = None) -> Any:
    """MatMul-1/9/13: numpy.matmul semantics (1-D operands promoted, batch dims broadcast)."""
    ra, rb = _rank(A, ctx, 0, required=False), _rank(B, ctx, 1, required=False)
    if ra is not None and rb is not None:
        return _vector_matmul(A, B, ra == 1, rb == 1)
    # A rank first known when the graph runs (e.g. an If output): choose the case then.
    a_opts = [ra == 1] if ra is not None else [False, True]
    b_opts = [rb == 1] if rb is not None else [False, True]
    index = tf.constant(0)
    if ra is None:
        index += tf.cast(tf.equal(tf.rank(A), 1), tf.int32) * len(b_opts)
    if rb is None:
        index += tf.cast(tf.equal(tf.rank(B), 1), tf.int32)
    branches = [lambda a=a, b=b: _vector_matmul(A, B, a, b) for a in a_opts for b in b_opts]
    return tf.switch_case(index, branches)


def _gemm(A: Any, B: Any, C: Any, alpha: float, beta: float, transA: int, transB: int) -> Any:
    y = _matmul(A, B, bool(transA), bool(transB))
    bias = None if C is None or beta == 0.0 else C
    if bias is not None and bias.shape.rank == 2 and bias.shape[0] == 1:
        # Same broadcast against the 2-D product, and it dodges a TF grappler bug: a
        # transpose_a MatMul + Add of a (1, N) bias is fused into a BiasAdd that rejects it.
        bias = tf.reshape(bias, [-1])
    if y.dtype.is_integer and (alpha != 1.0 or (bias is not None and beta != 1.0)):
        # Integer Gemm with real coefficients: combine in float64 and truncate once.
        out = tf.cast(y, tf.float64) * alpha
        if bias is not None:
            out += tf.cast(bias, tf.float64) * beta
        return tf.cast(out, y.dtype)
    if alpha != 1.0:
        y = y * alpha
    if bias is not None:
        y = y + (bias if beta == 1.0 else bias * beta)
    return y


@emits("Gemm", since=1)
def gemm_1(A: Any, B: Any, C: Any, *, alpha: float = 1.0, beta: float = 1.0,
           broadcast: int = 0, transA: int = 0, transB: int = 0) -> Any:
    """Gemm-1/6: alpha * A' @ B' + beta * C; C broadcasts only when ``broadcast`` is set
    (a C of the full shape broadcasts trivially, so one path serves both)."""
    return _gemm(A, B, C, alpha, beta, transA, transB)


@emits("Gemm", since=7)
def gemm(A: Any, B: Any, C: Any = None, *, alpha: float = 1.0, beta: float = 1.0,
         transA: int = 0, transB: int = 0) -> Any:
    """Gemm-7/9/11/13: Y = alpha * A' @ B' + beta * C (C optional from 11)."""
    return _gemm(A, B, C, alpha, beta, transA, transB)


def _explicit(equation: str) -> str:
    """The equation with its output spelled out: implicit mode outputs the labels used
    once, alphabetically, after the broadcast dims."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        return eq
    labels = eq.replace("...", "").replace(",", "")
    out = "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    return f"{eq}->{'...' if '...' in eq else ''}{out}"


@emits("Einsum", since=12)
def einsum(*Inputs: Any, equation: str) -> Any:
    """Einsum-12/28: Einstein summation (explicit or implicit form, ellipsis allowed)."""
    y = tf.einsum(_explicit(equation), *[_work(x) for x in Inputs])
    return cast_back(y, Inputs[0].dtype)


@emits("Det", since=11)
def det(X: Any) -> Any:
    """Det-11/22: determinant of each trailing square matrix."""
    return cast_back(tf.linalg.det(wide(X)), X.dtype)


# --------------------------------------------------------------------------------------
# Cumulative ops


@emits("CumSum", since=11)
def cum_sum(x: Any, axis: Any, *, exclusive: int = 0, reverse: int = 0) -> Any:
    """CumSum-11/14: running sum along ``axis``, optionally exclusive and/or reversed."""
    return tf.math.cumsum(x, scalar(axis), exclusive=bool(exclusive), reverse=bool(reverse))


@emits("CumProd", since=26)
def cum_prod(x: Any, axis: Any, *, exclusive: int = 0, reverse: int = 0) -> Any:
    """CumProd-26: running product along ``axis``, optionally exclusive and/or reversed."""
    return tf.math.cumprod(x, scalar(axis), exclusive=bool(exclusive), reverse=bool(reverse))


# --------------------------------------------------------------------------------------
# Softmax family. Opsets < 13 flatten the input to 2-D at ``axis`` and normalise each row;
# opset 13 normalises along the single ``axis``.


def _half_sum(e: Any, axis: int) -> Any:
    """The sum along ``axis`` (kept) rounded as the ONNX reference data are: float16 sums
    accumulate in float32, bfloat16 ones element by element in bfloat16. TF's reduce_sum
    accumulates bfloat16 in float32; its cumsum adds sequentially in bfloat16, and its last
    entry is that sum."""
    if e.dtype == tf.float16:
        return tf.cast(tf.reduce_sum(tf.cast(e, tf.float32), axis, keepdims=True), tf.float16)
    last = tf.shape(e)[axis] - 1
    return tf.gather(tf.math.cumsum(e, axis), tf.reshape(last, [1]), axis=axis)


def _softmax(x: Any, axis: int) -> Any:
    if x.dtype not in (tf.float16, tf.bfloat16):
        return tf.nn.softmax(x, axis=axis)
    # 16-bit floats step by step in their own type, as the reference (one ulp matters).
    e = tf.exp(x - tf.reduce_max(x, axis, keepdims=True))
    return e / _half_sum(e, axis)


def _log_softmax(x: Any, axis: int) -> Any:
    if x.dtype not in (tf.float16, tf.bfloat16):
        return tf.nn.log_softmax(x, axis=axis)
    y = x - tf.reduce_max(x, axis, keepdims=True)
    return y - tf.math.log(_half_sum(tf.exp(y), axis))


def _hardmax(x: Any, axis: int, ctx: EmitContext | None = None) -> Any:
    axis = axis if axis == -1 else norm_axis(axis, _rank(x, ctx), "Hardmax")
    # tf.argmax returns the first maximum on CPU, which is the spec's choice.
    return tf.one_hot(tf.argmax(x, axis), tf.shape(x)[axis], axis=axis, dtype=x.dtype)


def _coerced_2d(fn: Callable[[Any, int], Any], x: Any, axis: int, ctx: EmitContext | None,
                op: str) -> Any:
    axis = norm_axis(axis, _rank(x, ctx, required=axis < 0), op)
    shape = tf.shape(x)
    rows, cols = tf.reduce_prod(shape[:axis]), tf.reduce_prod(shape[axis:])
    return tf.reshape(fn(tf.reshape(x, tf.stack([rows, cols])), 1), shape)


@emits("Softmax", since=1)
def softmax_1(input: Any, *, axis: int = 1, ctx: EmitContext | None = None) -> Any:
    """Softmax-1/11: softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(_softmax, input, axis, ctx, "Softmax")


@emits("Softmax", since=13)
def softmax(input: Any, *, axis: int = -1) -> Any:
    """Softmax-13: exp(x) / sum(exp(x)) along ``axis``."""
    return _softmax(input, axis)


@emits("LogSoftmax", since=1)
def log_softmax_1(input: Any, *, axis: int = 1, ctx: EmitContext | None = None) -> Any:
    """LogSoftmax-1/11: log-softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(_log_softmax, input, axis, ctx, "LogSoftmax")


@emits("LogSoftmax", since=13)
def log_softmax(input: Any, *, axis: int = -1) -> Any:
    """LogSoftmax-13: x - log(sum(exp(x))) along ``axis``."""
    return _log_softmax(input, axis)


@emits("Hardmax", since=1)
def hardmax_1(input: Any, *, axis: int = 1, ctx: EmitContext | None = None) -> Any:
    """Hardmax-1/11: one-hot of the first maximum of each row of the 2-D coerced input."""
    return _coerced_2d(_hardmax, input, axis, ctx, "Hardmax")


@emits("Hardmax", since=13)
def hardmax(input: Any, *, axis: int = -1, ctx: EmitContext | None = None) -> Any:
    """Hardmax-13: one-hot of the first maximum along ``axis``."""
    return _hardmax(input, axis, ctx)


# --------------------------------------------------------------------------------------
# TopK, Trilu


def _top_k(X: Any, k: Any, axis: int, largest: int,
           ctx: EmitContext | None) -> tuple[Any, Any]:
    rank = _rank(X, ctx)
    axis = norm_axis(axis, rank, "TopK")
    perm = [d for d in range(rank) if d != axis] + [axis]  # tf.math.top_k works on the last axis
    x = tf.transpose(X, perm) if axis != rank - 1 else X
    key = x
    if not largest:
        # An order-reversing key: ties still come out lowest index first. Integers use ~x
        # (-x - 1), which cannot overflow.
        key = tf.negative(x) if x.dtype.is_floating else tf.bitwise.invert(x)
    if key.dtype in _INT_WORK and key.dtype != tf.uint64:  # no TopKV2 kernel; widening keeps order
        key = tf.cast(key, tf.int64)
    _, idx = tf.math.top_k(key, k, sorted=True)
    values = tf.gather(x, idx, batch_dims=rank - 1)
    idx = tf.cast(idx, tf.int64)
    if axis != rank - 1:
        inv = list(np.argsort(perm))
        values, idx = tf.transpose(values, inv), tf.transpose(idx, inv)
    return values, idx


@emits("TopK", since=10)
def top_k(X: Any, K: Any, *, axis: int = -1, largest: int = 1,
          sorted: int = 1, ctx: EmitContext | None = None) -> tuple[Any, Any]:
    """TopK-10/11/24: k largest (or, from 11, smallest) values along ``axis``; always
    returned sorted, which the spec allows for sorted=0. TopK-1's k attribute is rewritten
    to the input by ir/op_versions.py."""
    return _top_k(X, scalar(K), axis, largest, ctx)


@emits("Trilu", since=14)
def trilu(input: Any, k: Any = None, *, upper: int = 1) -> Any:
    """Trilu-14: keep the upper (or lower) triangle of the last two dims from diagonal k."""
    diag = 0 if k is None else tf.cast(scalar(k), tf.int64)
    shape = tf.shape(input, out_type=tf.int64)
    offset = tf.range(shape[-1])[None, :] - tf.range(shape[-2])[:, None]  # column - row
    keep = offset >= diag if upper else offset <= diag
    return tf.where(keep, input, tf.zeros_like(input))
