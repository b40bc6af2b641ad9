"""Reduction emitters: the Reduce* ops and ArgMax/ArgMin.

Parameter inputs (axes) usually are constants in the IR, which arrive as eager tensors:
they are read with ``tf.get_static_value`` so TensorFlow sees plain Python ints; computed
ones stay tensors and go to the tf ops that accept tensor arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.elementwise import wide
from tensorbridge.converters.tensorflow.from_ir.ops.math import cast_back
from tensorbridge.converters.tensorflow.from_ir.registry import emits

# --------------------------------------------------------------------------------------
# Reductions: ``axes`` is an optional int64 input plus ``noop_with_empty_axes`` (ReduceSum 13,
# the others 18); ir/op_versions.py rewrites the earlier INTS attribute to that input. The
# axes resolve to None (all axes), a tuple, or an int64 tensor when they are computed. An empty axis list makes TF reduce over nothing, which is the spec's "noop" (the
# composite ops still apply their elementwise steps: ReduceL1 -> |x|, ReduceLogSum -> log x).

Axes = Any  # None | tuple[int, ...] | tf.Tensor
Body = Callable[[Any, Any, bool], Any]


def _input_axes(data: Any, axes: Any, noop_with_empty_axes: int) -> Axes:
    if axes is None:
        return () if noop_with_empty_axes else None
    static = tf.get_static_value(axes)
    if static is not None:
        flat = tuple(int(a) for a in np.asarray(static).reshape(-1))
        return flat if flat or noop_with_empty_axes else None
    axes = tf.reshape(tf.cast(axes, tf.int64), [-1])
    if noop_with_empty_axes:
        return axes
    every = tf.range(tf.cast(tf.rank(data), tf.int64))
    return tf.cond(tf.size(axes) > 0, lambda: axes, lambda: every)


def _tf_axis(axes: Axes) -> Any:
    if isinstance(axes, tuple):
        return list(axes) if axes else tf.constant([], tf.int32)
    return axes


def _sum(x: Any, axis: Any, keepdims: bool) -> Any:
    # float16/bfloat16 sums accumulate in float32: half precision loses digits fast.
    return cast_back(tf.reduce_sum(wide(x), axis, keepdims), x.dtype)


def _mean(x: Any, axis: Any, keepdims: bool) -> Any:
    if x.dtype.is_floating:
        return cast_back(tf.reduce_mean(wide(x), axis, keepdims), x.dtype)
    # Integers: the float64 mean truncated; the mean of nothing is 0 (no NaN in integers).
    m = tf.reduce_mean(tf.cast(x, tf.float64), axis, keepdims)
    return tf.cast(tf.where(tf.math.is_nan(m), tf.zeros_like(m), m), x.dtype)


def _max(x: Any, axis: Any, keepdims: bool) -> Any:
    # The max of nothing is TF's -inf / the type's lowest: the spec's identity.
    if x.dtype == tf.bool:
        return tf.reduce_any(x, axis, keepdims)
    return tf.reduce_max(x, axis, keepdims)


def _min(x: Any, axis: Any, keepdims: bool) -> Any:
    if x.dtype == tf.bool:
        return tf.reduce_all(x, axis, keepdims)
    return tf.reduce_min(x, axis, keepdims)


def _prod(x: Any, axis: Any, keepdims: bool) -> Any:
    return cast_back(tf.reduce_prod(wide(x), axis, keepdims), x.dtype)


def _l1(x: Any, axis: Any, keepdims: bool) -> Any:
    magnitude = x if x.dtype.is_unsigned else tf.abs(wide(x))
    return cast_back(tf.reduce_sum(magnitude, axis, keepdims), x.dtype)


def _float_work(x: Any) -> Any:
    """Log/sqrt reductions run in float64 for integers, float32 for 16-bit floats."""
    return wide(x) if x.dtype.is_floating else tf.cast(x, tf.float64)


def _l2(x: Any, axis: Any, keepdims: bool) -> Any:
    w = _float_work(x)
    return cast_back(tf.sqrt(tf.reduce_sum(w * w, axis, keepdims)), x.dtype)


def _sum_square(x: Any, axis: Any, keepdims: bool) -> Any:
    w = wide(x)
    return cast_back(tf.reduce_sum(w * w, axis, keepdims), x.dtype)


def _log_sum(x: Any, axis: Any, keepdims: bool) -> Any:
    # log(0) = -inf is the spec's answer for the empty set
    return cast_back(tf.math.log(tf.reduce_sum(_float_work(x), axis, keepdims)), x.dtype)


def _log_sum_exp(x: Any, axis: Any, keepdims: bool) -> Any:
    # tf's version shifts by the (finite) max, so exp never overflows; of nothing it is -inf.
    return cast_back(tf.math.reduce_logsumexp(_float_work(x), axis, keepdims), x.dtype)


def _reduce(body: Body, data: Any, axes: Any, keepdims: int, noop_with_empty_axes: int) -> Any:
    return body(data, _tf_axis(_input_axes(data, axes, noop_with_empty_axes)), bool(keepdims))


def _reduction(op_type: str, since: int, body: Body) -> Callable[..., Any]:
    """The emitter of ``op_type``-``since``: ``body`` over the resolved axes."""

    def emit(data: Any, axes: Any = None, *, keepdims: int = 1,
             noop_with_empty_axes: int = 0) -> Any:
        return _reduce(body, data, axes, keepdims, noop_with_empty_axes)

    emit.__qualname__ = emit.__name__ = f"{op_type.lower()}_{since}"
    emit.__doc__ = (f"{op_type}-{since}(data, axes?) -> reduced (the axes attribute of earlier "
                    "versions is rewritten to the input by ir/op_versions.py).")
    return emit


# op, the version whose axes are an input, its body. ReduceMax/Min take bool inputs from
# 20 (False < True), which the bodies handle.
_REDUCTIONS: tuple[tuple[str, int, Body], ...] = (
    ("ReduceSum", 13, _sum),
    ("ReduceMean", 18, _mean),
    ("ReduceMax", 18, _max),
    ("ReduceMin", 18, _min),
    ("ReduceProd", 18, _prod),
    ("ReduceL1", 18, _l1),
    ("ReduceL2", 18, _l2),
    ("ReduceSumSquare", 18, _sum_square),
    ("ReduceLogSum", 18, _log_sum),
    ("ReduceLogSumExp", 18, _log_sum_exp),
)


def _register_reductions() -> None:
    for op_type, since, body in _REDUCTIONS:
        emits(op_type, since=since)(_reduction(op_type, since, body))


_register_reductions()


def _arg_extreme(fn: Callable[..., Any], data: Any, axis: int, keepdims: int,
                 select_last_index: int) -> Any:
    # tf.argmax/argmin return the first extreme on CPU, as the spec asks.
    if select_last_index:
        # On the reversed axis the first hit is the original last one.
        n = tf.shape(data, out_type=tf.int64)[axis]
        idx = (n - 1) - fn(tf.reverse(data, [axis]), axis=axis, output_type=tf.int64)
    else:
        idx = fn(data, axis=axis, output_type=tf.int64)
    return tf.expand_dims(idx, axis) if keepdims else idx


@emits("ArgMax", since=1)
def arg_max(data: Any, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0) -> Any:
    """ArgMax-1/11/12/13(data) -> reduced int64; the first index of the maximum, or (from 12)
    the last with select_last_index."""
    return _arg_extreme(tf.argmax, data, axis, keepdims, select_last_index)


@emits("ArgMin", since=1)
def arg_min(data: Any, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0) -> Any:
    """ArgMin-1/11/12/13(data) -> reduced int64; the first index of the minimum, or (from 12)
    the last with select_last_index."""
    return _arg_extreme(tf.argmin, data, axis, keepdims, select_last_index)
