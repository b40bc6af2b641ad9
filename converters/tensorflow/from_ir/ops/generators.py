"""Tensor generator emitters: Constant, ConstantOfShape, Range, EyeLike."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.ops.shape import I64, LAYER, dims, rank_of
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.generator_math import constant_value


@emits("Constant", since=1)
def constant(*, value: np.ndarray | None = None, sparse_value: Any = None,
             value_float: float | None = None, value_floats: tuple[float, ...] | None = None,
             value_int: int | None = None, value_ints: tuple[int, ...] | None = None,
             value_string: str | None = None,
             value_strings: tuple[str, ...] | None = None) -> Any:
    """Constant-1/9/11/12/13/19/21/23/24/25() -> output; exactly one of value, sparse_value
    (11, densified) or value_* (12)."""
    try:
        array = constant_value(value, sparse_value, value_float=value_float,
                               value_floats=value_floats, value_int=value_int,
                               value_ints=value_ints, value_string=value_string,
                               value_strings=value_strings)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, "Constant", hint=str(e)) from e
    return tf.constant(array, tf.string) if array.dtype == object else tf.constant(array)


@emits("ConstantOfShape", since=9)
def constant_of_shape(input: Any, *, value: np.ndarray | None = None) -> Any:
    """ConstantOfShape-9(input) -> output; fill value defaults to float32 0."""
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    return tf.fill(tf.cast(tf.reshape(input, [-1]), I64), tf.constant(value.reshape(-1)[0]))


_HALF = (tf.float16, tf.bfloat16)


def _range(start: Any, limit: Any, delta: Any, exact: bool) -> Any:
    dtype = start.dtype
    # the spec asks for scalars; 1-element tensors are accepted, as by the runtime
    start, limit, delta = (tf.reshape(v, []) for v in (start, limit, delta))
    if dtype.is_integer:
        # int64 holds every narrower integer range exactly
        out = tf.range(tf.cast(start, I64), tf.cast(limit, I64), tf.cast(delta, I64))
        return tf.cast(out, dtype)
    wide = [tf.cast(v, tf.float64) for v in (start, limit, delta)]
    n = tf.maximum(tf.cast(tf.math.ceil((wide[1] - wide[0]) / wide[2]), I64), 0)
    # start + i*delta, computed wide so large ranges stay exact, unless the model asked for
    # half-precision arithmetic (Range-27 stash_type=0)
    work = dtype if not exact and dtype in _HALF else tf.float64
    s, d = tf.cast(start, work), tf.cast(delta, work)
    return tf.cast(s + tf.cast(tf.range(n), work) * d, dtype)


@emits("Range", since=11)
def range_(start: Any, limit: Any, delta: Any, *, stash_type: int = 1) -> Any:
    """Range-11/27(start, limit, delta) -> output [start, start+delta, ...) up to limit;
    stash_type (27) other than 1 keeps half-precision arithmetic."""
    return _range(start, limit, delta, stash_type == 1)


@emits("EyeLike", since=9)
def eye_like(input: Any, *, dtype: int | None = None, k: int = 0) -> Any:
    """EyeLike-9(input) -> output 2-D with ones on diagonal k; dtype defaults to input's.
    tf.eye has no diagonal offset, so compare column - row with k."""
    if rank_of(input, "EyeLike") != 2:
        raise ValueError(f"EyeLike needs a 2-D input, got shape {input.shape}")
    rows, cols = dims(input)
    out = input.dtype if dtype is None else tf_dtype(DType(dtype))
    diag = tf.equal(tf.range(cols, dtype=I64)[None, :] - tf.range(rows, dtype=I64)[:, None], k)
    return tf.cast(diag, out)
