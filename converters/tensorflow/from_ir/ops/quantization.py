"""Quantization emitters: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the
integer products MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv.

A scale and its zero point share one shape, which selects the granularity: a scalar (or
1-element) is per tensor, a 1-D tensor is per ``axis``, and a tensor of the input's rank is
blocked along ``axis`` with ``block_size`` elements per scale. Integer targets round half
to even (``tf.round``'s rule) *before* the zero point is added, as the spec writes it, and
saturate; float8 targets go through Cast's saturating conversion. Integer products
accumulate exactly (int32 matmul; convolutions in float64, exact far beyond int32 sums of
8-bit products)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.ops.cast import cast_to
from tensorbridge.converters.tensorflow.from_ir.ops.conv import conv
from tensorbridge.converters.tensorflow.from_ir.registry import emits, out_dtype
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

# TensorFlow names these types but has no Cast (nor Bitcast) kernels to produce or read them.
_NO_KERNELS = frozenset(("int4", "uint4", "int2", "uint2", "float4_e2m1fn", "float8_e4m3fnuz",
                         "float8_e5m2fnuz"))

_INT_TARGETS = (tf.int8, tf.uint8, tf.int16, tf.uint16, tf.int32, tf.uint32)


def _expand(p: Any, x: Any, axis: int, block_size: int) -> Any:
    """Scale or zero point reshaped/repeated to broadcast against ``x``."""
    rank = x.shape.rank
    prank = p.shape.rank
    if block_size > 0:
        axis %= rank
        rep = tf.repeat(p, block_size, axis=axis)
        return tf.slice(rep, [0] * rank, tf.shape(x))  # the last block may be short
    if prank == 0 or (prank == 1 and p.shape[0] == 1):
        return tf.reshape(p, [])
    axis %= rank
    return tf.reshape(p, [-1] + [1] * (rank - 1 - axis))


def _as_float(a: Any) -> Any:
    """float32 view of a scale/zero point/quantized value (float64 stays float64)."""
    return a if a.dtype in (tf.float32, tf.float64) else tf.cast(a, tf.float32)


def _round_saturate(v: Any, zero_point: Any, dtype: Any, saturate: int) -> Any:
    """round(v) + zero_point saturated into ``dtype`` (v is float32/64)."""
    if dtype.is_integer:
        v = tf.round(v)
    if zero_point is not None:
        v = v + tf.cast(zero_point, v.dtype)
    if not dtype.is_integer:
        return cast_to(v, dtype, saturate, "QuantizeLinear")
    return tf.cast(tf.clip_by_value(v, tf.cast(dtype.min, v.dtype), tf.cast(dtype.max, v.dtype)), dtype)


def _quantize(x: Any, y_scale: Any, y_zero_point: Any, ctx: EmitContext, axis: int = 1,
              saturate: int = 1, block_size: int = 0, output_dtype: int = 0,
              precision: int = 0) -> Any:
    if output_dtype:
        out = tf_dtype(DType(output_dtype))
    elif y_zero_point is not None:
        out = y_zero_point.dtype
    else:
        out = out_dtype(ctx) or tf.uint8
    if out.name in _NO_KERNELS:
        raise UnsupportedOpError("TensorFlow emitter", "QuantizeLinear",
                                 hint=f"TensorFlow has no kernels producing {out.name}; "
                                 "run the model with the tensorbridge runtime")
    if precision:
        work = tf_dtype(DType(precision))
    else:
        work = tf.float64 if y_scale.dtype == tf.float64 else tf.float32
    v = tf.cast(x, work) / tf.cast(_expand(y_scale, x, axis, block_size), work)
    if v.dtype != tf.float64:
        v = tf.cast(v, tf.float32)
    zp = None if y_zero_point is None else _expand(_as_float(y_zero_point), x, axis, block_size)
    return _round_saturate(v, zp, out, saturate)


@emits("QuantizeLinear", since=10)
def quantize_linear(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                    block_size: int = 0, output_dtype: int = 0, precision: int = 0,
                    saturate: int = 1, ctx: EmitContext) -> Any:
    """QuantizeLinear-10/13/19/21/23/24/25/28: y = saturate(round(x / y_scale) + y_zero_point);
    each version adds with a default that keeps the earlier meaning: per-axis scales (13),
    float8 targets and ``saturate`` (19), blocked scales, 4-bit targets and
    ``output_dtype`` (21), ``precision``, the type of the x / y_scale division (23)."""
    return _quantize(x, y_scale, y_zero_point, ctx, axis=axis, saturate=saturate,
                     block_size=block_size, output_dtype=output_dtype, precision=precision)


def _dequantize(x: Any, x_scale: Any, x_zero_point: Any, axis: int = 1, block_size: int = 0,
                output_dtype: int = 0) -> Any:
    if output_dtype:
        out = tf_dtype(DType(output_dtype))
    else:
        out = x_scale.dtype
    # Products of float16/bfloat16 values are exact in float32: compute there, round once.
    work = tf.float64 if out == tf.float64 else tf.float32
    v = cast_to(x, work, op_type="DequantizeLinear")
    if x_zero_point is not None:
        zp = cast_to(x_zero_point, work, op_type="DequantizeLinear")
        v = v - _expand(zp, x, axis, block_size)
    v = v * _expand(tf.cast(x_scale, work), x, axis, block_size)
    return tf.cast(v, out)


@emits("DequantizeLinear", since=10)
def dequantize_linear(x: Any, x_scale: Any, x_zero_point: Any = None, *, axis: int = 1,
                      block_size: int = 0, output_dtype: int = 0) -> Any:
    """DequantizeLinear-10/13/19/21/23/24/25/28: y = (x - x_zero_point) * x_scale; each
    version adds with a default that keeps the earlier meaning: per-axis scales (13),
    float8 inputs (19), blocked scales and 4-bit inputs (21), ``output_dtype`` (23)."""
    return _dequantize(x, x_scale, x_zero_point, axis=axis, block_size=block_size,
                       output_dtype=output_dtype)


@emits("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: Any) -> tuple[Any, Any, Any]:
    """DynamicQuantizeLinear-11: uint8 quantization with scale/zero point from x's range
    (widened to include 0); float32 arithmetic throughout, as the spec's formulas."""
    lo = tf.minimum(tf.reduce_min(x), 0.0)
    hi = tf.maximum(tf.reduce_max(x), 0.0)
    scale = (hi - lo) / 255.0
    # all zeros: scale 0 would divide by zero; every result is then 0 anyway
    zp = tf.clip_by_value(tf.round(tf.math.divide_no_nan(-lo, scale)), 0.0, 255.0)
    y = tf.clip_by_value(tf.round(tf.math.divide_no_nan(x, scale)) + zp, 0.0, 255.0)
    return tf.cast(y, tf.uint8), scale, tf.cast(zp, tf.uint8)


# ------------------------------------------------------------------------- integer products


def _per_row(p: Any, m: Any) -> Any:
    """A per-row scale/zero point given as (M,) for a matrix broadcasts as (M, 1)."""
    if p.shape.rank == 1 and p.shape[0] != 1 and m.shape.rank >= 2:
        return tf.reshape(p, [-1, 1])
    return p


def _centered(a: Any, zero_point: Any, per_row: bool) -> Any:
    a = tf.cast(a, tf.int32)
    if zero_point is None:
        return a
    zp = tf.cast(_per_row(zero_point, a) if per_row else zero_point, tf.int32)
    return a - zp


@emits("MatMulInteger", since=10)
def matmul_integer(A: Any, B: Any, a_zero_point: Any = None, b_zero_point: Any = None) -> Any:
    """MatMulInteger-10: (A - a_zero_point) @ (B - b_zero_point) accumulated in int32."""
    return tf.matmul(_centered(A, a_zero_point, True), _centered(B, b_zero_point, False))


@emits("QLinearMatMul", since=10)
def qlinear_matmul(a: Any, a_scale: Any, a_zero_point: Any, b: Any, b_scale: Any,
                   b_zero_point: Any, y_scale: Any, y_zero_point: Any) -> Any:
    """QLinearMatMul-10/21: quantize(dequantize(a) @ dequantize(b), y_scale, y_zero_point)."""
    if a.dtype.is_integer and b.dtype.is_integer:
        # exact integer accumulation, then one real-valued rescale
        acc = tf.matmul(_centered(a, a_zero_point, True), _centered(b, b_zero_point, False))
        v = tf.cast(acc, tf.float32)
    else:
        v = tf.matmul(_as_float(a) - _per_row(_as_float(a_zero_point), a),
                      _as_float(b) - _as_float(b_zero_point))
    v = v * (_per_row(_as_float(a_scale), a) * _as_float(b_scale) / _as_float(y_scale))
    return _round_saturate(v, _as_float(y_zero_point), y_zero_point.dtype, 1)


def _conv_int(x: Any, w: Any, x_zero_point: Any, w_zero_point: Any, attrs: dict[str, Any]) -> Any:
    """conv(x - x_zero_point, w - w_zero_point) in float64 (exact for 8-bit operands)."""
    xf = tf.cast(x, tf.float64)
    if x_zero_point is not None:
        xf = xf - tf.reshape(tf.cast(x_zero_point, tf.float64), [])
    wf = tf.cast(w, tf.float64)
    if w_zero_point is not None:
        wz = tf.cast(w_zero_point, tf.float64)
        per_channel = wz.shape.rank == 1 and wz.shape[0] != 1
        wf = wf - tf.reshape(wz, [-1] + [1] * (w.shape.rank - 1) if per_channel else [])
    return conv(xf, wf, **attrs)


@emits("ConvInteger", since=10)
def conv_integer(x: Any, w: Any, x_zero_point: Any = None, w_zero_point: Any = None, *,
                 auto_pad: str = "NOTSET", dilations: tuple[int, ...] | None = None,
                 group: int = 1, kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None,
                 strides: tuple[int, ...] | None = None) -> Any:
    """ConvInteger-10: y = conv(x - x_zero_point, w - w_zero_point) as int32."""
    attrs = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                 pads=pads, strides=strides)
    return tf.cast(tf.round(_conv_int(x, w, x_zero_point, w_zero_point, attrs)), tf.int32)


@emits("QLinearConv", since=10)
def qlinear_conv(x: Any, x_scale: Any, x_zero_point: Any, w: Any, w_scale: Any,
                 w_zero_point: Any, y_scale: Any, y_zero_point: Any, B: Any = None, *,
                 auto_pad: str = "NOTSET", dilations: tuple[int, ...] | None = None,
                 group: int = 1, kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None,
                 strides: tuple[int, ...] | None = None) -> Any:
    """QLinearConv-10: y = saturate(round(x_s * w_s / y_s * (conv_int + B)) + y_zp); the
    rescale runs in float64, as the runtime's."""
    attrs = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                 pads=pads, strides=strides)
    acc = _conv_int(x, w, x_zero_point, w_zero_point, attrs)
    rank = x.shape.rank
    if B is not None:
        acc = acc + tf.reshape(tf.cast(B, tf.float64), [-1] + [1] * (rank - 2))
    w_s = tf.reshape(tf.cast(w_scale, tf.float64), [-1] + [1] * (rank - 2))
    scale = tf.reshape(tf.cast(x_scale, tf.float64), []) * w_s / tf.reshape(
        tf.cast(y_scale, tf.float64), [])
    return _round_saturate(acc * scale, tf.reshape(y_zero_point, []), y_zero_point.dtype, 1)
