"""Cast emitters: Cast, CastLike and BitCast, with ONNX Cast semantics (float8
saturation, string conversions as onnxruntime prints them), and :func:`work_precision`, the
float32 computation type the other families use for the narrow floats."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.ops.elementwise import wide
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"


def work_precision(x: Any) -> Any:
    """float16/bfloat16 (any float narrower than 32 bits) as float32, so sums stay
    accurate; wider types unchanged."""
    return tf.cast(x, tf.float32) if x.dtype.size < 4 else x


# --------------------------------------------------------------------------------------
# Cast

# TensorFlow names these types but has no Cast kernels for them.
_NO_CAST_KERNEL = frozenset(("int4", "uint4", "int2", "uint2", "float4_e2m1fn",
                             "float8_e4m3fnuz", "float8_e5m2fnuz"))
_FLOAT8_MAX = {"float8_e4m3fn": 448.0, "float8_e5m2": 57344.0}


def _to_string(x: Any) -> Any:
    """Text as onnxruntime prints it: integers in full, bools as 1/0, floats with 8
    significant digits and the spec's INF/-INF/NaN literals."""
    if x.dtype == tf.bool:
        return tf.where(x, "1", "0")
    if x.dtype.is_integer:
        return tf.strings.as_string(x)
    f = tf.cast(x, tf.float64)
    text = tf.strings.as_string(f, precision=8, shortest=True)
    text = tf.where(tf.math.is_nan(f), "NaN", text)
    return tf.where(tf.equal(f, np.inf), "INF", tf.where(tf.equal(f, -np.inf), "-INF", text))


def _from_string(x: Any, dtype: Any) -> Any:
    if dtype in (tf.float32, tf.float64, tf.int32, tf.int64):
        return tf.strings.to_number(x, dtype)
    f = tf.strings.to_number(x, tf.float64)
    return tf.not_equal(f, 0) if dtype == tf.bool else tf.cast(f, dtype)


def cast_to(x: Any, dtype: Any, saturate: int = 1, op_type: str = "Cast") -> Any:
    """``x`` converted to tf ``dtype`` with ONNX Cast semantics."""
    if dtype.name in _NO_CAST_KERNEL or x.dtype.name in _NO_CAST_KERNEL:
        raise UnsupportedOpError(LAYER, op_type, hint=f"TensorFlow has no Cast kernel between "
                                 f"{x.dtype.name} and {dtype.name}; cast in the source model "
                                 "or run it with the tensorbridge runtime")
    if x.dtype == dtype:
        return x
    if x.dtype == tf.string:
        return _from_string(x, dtype)
    if dtype == tf.string:
        return _to_string(x)
    limit = _FLOAT8_MAX.get(dtype.name)
    if limit is not None and saturate:
        # Saturation: out-of-range values (and +-inf) become the largest finite value.
        x = tf.clip_by_value(wide(x), -limit, limit)
    return tf.cast(x, dtype)


@emits("Cast", since=6)
def cast(input: Any, *, to: int, saturate: int = 1, round_mode: str = "up") -> Any:
    """Cast-6/9/13/19/21/23/24/25/28: convert to element type ``to``; ``saturate`` (19)
    clamps float8 overflow to the max; ``round_mode`` (24) only concerns float8e8m0, which
    TF lacks. Cast-1's type name is rewritten to its number by ir/op_versions.py."""
    return cast_to(input, tf_dtype(to), saturate)


@emits("CastLike", since=15)
def cast_like(input: Any, target_type: Any, *, saturate: int = 1, round_mode: str = "up") -> Any:
    """CastLike-15/19/21/23/24/25: convert to target_type's element type; ``saturate`` (19)
    clamps float8 overflow; ``round_mode`` (24) only concerns float8e8m0."""
    return cast_to(input, target_type.dtype, saturate, "CastLike")


# ------------------------------------------------------------------------------- elementwise


@emits("BitCast", since=26)
def bit_cast(input: Any, *, to: int) -> Any:
    """BitCast-26: reinterpret the bits of each element as type ``to`` (same bit width)."""
    dst = tf_dtype(DType(to))
    if input.dtype == dst:
        return input
    if tf.bool in (input.dtype, dst):
        # a bool byte holds 0 or 1, the same bits an 8-bit integer 0/1 has (tf.bitcast
        # refuses bool)
        if dst == tf.bool:
            return tf.not_equal(input, tf.zeros_like(input))
        return tf.cast(input, dst)
    return tf.bitcast(input, dst)
