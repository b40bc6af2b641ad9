"""Quantization emitters: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the
integer products MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv.

The framework-independent rules (scale layouts, target and output types, saturation,
rounding half to even, DynamicQuantizeLinear's formula) are ``ir/quant_math.py``'s, run
here with TF ops (:data:`OPS`); float8 targets go through Cast's saturating conversion.
Integer products accumulate exactly (int32 matmul; convolutions in float64, exact far
beyond int32 sums of 8-bit products)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.dtypes import to_dtype
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.ops.cast import cast_to
from tensorbridge.converters.tensorflow.from_ir.ops.conv import conv
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir import quant_math as qm
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"
# TensorFlow names these types but has no Cast (nor Bitcast) kernels to produce or read them.
_NO_KERNELS = frozenset((DType.INT4, DType.UINT4, DType.INT2, DType.UINT2, DType.FLOAT4E2M1,
                         DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2FNUZ))


class _TfOps:
    """:class:`~tensorbridge.ir.quant_math.QuantOps` in TensorFlow."""

    def cast(self, x: Any, dtype: DType, saturate: int = 1) -> Any:
        return cast_to(x, tf_dtype(dtype), saturate, "QuantizeLinear")

    def reshape(self, x: Any, shape: list[int]) -> Any:
        return tf.reshape(x, shape)

    def repeat(self, x: Any, repeats: int, axis: int) -> Any:
        return tf.repeat(x, repeats, axis=axis)

    def narrow(self, x: Any, axis: int, length: Any) -> Any:
        size = [-1] * x.shape.rank
        size[axis] = length
        return tf.slice(x, [0] * x.shape.rank, size)

    def rint(self, x: Any) -> Any:
        return tf.round(x)  # half to even

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        return tf.clip_by_value(x, tf.cast(lo, x.dtype), tf.cast(hi, x.dtype))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return tf.where(cond, tf.cast(a, b.dtype), b)

    def extent(self, x: Any) -> tuple[Any, Any]:
        xf = tf.cast(x, tf.float32)
        # reduce_min of an empty x is +inf: the widening to 0 serves it too
        return tf.minimum(tf.reduce_min(xf), 0.0), tf.maximum(tf.reduce_max(xf), 0.0)


OPS = _TfOps()


def _shape(x: Any) -> list[Any]:
    """Static dims where known, else the run-time size (a scalar tensor)."""
    dims = x.shape.as_list()
    if any(d is None for d in dims):
        dynamic = tf.shape(x)
        return [dynamic[a] if d is None else d for a, d in enumerate(dims)]
    return dims


def _checked(fn: Callable[..., Any], op: str, *args: Any, **kwargs: Any) -> Any:
    """``fn(...)`` from quant_math, its ValueError reported as this layer's error."""
    try:
        return fn(*args, **kwargs, op=op)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, op, hint=str(e)) from e


def _pair(v: Any) -> tuple[list[Any], DType]:
    return _shape(v), to_dtype(v.dtype)


@emits("QuantizeLinear", since=10)
def quantize_linear(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                    block_size: int = 0, output_dtype: int = 0, precision: int = 0,
                    saturate: int = 1) -> Any:
    """QuantizeLinear-10/13/19/21/23/24/25/28: y = saturate(round(x / y_scale) + y_zero_point);
    each version adds with a default that keeps the earlier meaning: per-axis scales (13),
    float8 targets and ``saturate`` (19), blocked scales, 4-bit targets and
    ``output_dtype`` (21), ``precision``, the type of the x / y_scale division (23)."""
    zp = None if y_zero_point is None else _pair(y_zero_point)
    spec = _checked(qm.quantize_spec, "QuantizeLinear", _shape(x), _pair(y_scale), zp,
                    axis=axis, block_size=block_size, output_dtype=output_dtype,
                    precision=precision, saturate=saturate)
    if spec.target in _NO_KERNELS:
        name = tf_dtype(spec.target).name
        raise UnsupportedOpError(LAYER, "QuantizeLinear",
                                 hint=f"TensorFlow has no kernels producing {name}; "
                                 "run the model with the tensorbridge runtime")
    return qm.quantize(x, y_scale, y_zero_point, spec, OPS)


@emits("DequantizeLinear", since=10)
def dequantize_linear(x: Any, x_scale: Any, x_zero_point: Any = None, *, axis: int = 1,
                      block_size: int = 0, output_dtype: int = 0) -> Any:
    """DequantizeLinear-10/13/19/21/23/24/25/28: y = (x - x_zero_point) * x_scale; each
    version adds with a default that keeps the earlier meaning: per-axis scales (13),
    float8 inputs (19), blocked scales and 4-bit inputs (21), ``output_dtype`` (23)."""
    zp = None if x_zero_point is None else _shape(x_zero_point)
    spec = _checked(qm.dequantize_spec, "DequantizeLinear", _shape(x), _pair(x_scale), zp,
                    axis=axis, block_size=block_size, output_dtype=output_dtype)
    return qm.dequantize(x, x_scale, x_zero_point, spec, OPS)


@emits("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: Any) -> tuple[Any, Any, Any]:
    """DynamicQuantizeLinear-11: uint8 quantization with scale/zero point from x's range
    (widened to include 0); float32 arithmetic throughout, as the spec's formulas."""
    return qm.dynamic_quantize(x, OPS)


# ------------------------------------------------------------------------- integer products


def _as_float(a: Any) -> Any:
    """float32 view of a scale/zero point/quantized value (float64 stays float64)."""
    return a if a.dtype in (tf.float32, tf.float64) else tf.cast(a, tf.float32)


def _matmul_param(p: Any, m: Any, per_row: bool, name: str, op: str) -> Any:
    """a's (per row, (M,) -> (M, 1)) or b's (per column) scale / zero point, shaped to
    broadcast against its operand ``m``."""
    shape = _checked(qm.matmul_param_shape, op, _shape(p), _shape(m), per_row, name=name)
    return p if shape is None else tf.reshape(p, shape)


def _centered(m: Any, zero_point: Any, per_row: bool, name: str, op: str) -> Any:
    m32 = tf.cast(m, tf.int32)
    if zero_point is None:
        return m32
    return m32 - tf.cast(_matmul_param(zero_point, m, per_row, name, op), tf.int32)


@emits("MatMulInteger", since=10)
def matmul_integer(A: Any, B: Any, a_zero_point: Any = None, b_zero_point: Any = None) -> Any:
    """MatMulInteger-10: (A - a_zero_point) @ (B - b_zero_point) accumulated in int32."""
    op = "MatMulInteger"
    return tf.matmul(_centered(A, a_zero_point, True, "a_zero_point", op),
                     _centered(B, b_zero_point, False, "b_zero_point", op))


@emits("QLinearMatMul", since=10)
def qlinear_matmul(a: Any, a_scale: Any, a_zero_point: Any, b: Any, b_scale: Any,
                   b_zero_point: Any, y_scale: Any, y_zero_point: Any) -> Any:
    """QLinearMatMul-10/21: quantize(dequantize(a) @ dequantize(b), y_scale, y_zero_point)."""
    op = "QLinearMatMul"
    if a.dtype.is_integer and b.dtype.is_integer:
        # exact integer accumulation, then one real-valued rescale
        acc = tf.matmul(_centered(a, a_zero_point, True, "a_zero_point", op),
                        _centered(b, b_zero_point, False, "b_zero_point", op))
        v = tf.cast(acc, tf.float32)
    else:
        v = tf.matmul(_as_float(a) - _as_float(_matmul_param(a_zero_point, a, True,
                                                             "a_zero_point", op)),
                      _as_float(b) - _as_float(_matmul_param(b_zero_point, b, False,
                                                             "b_zero_point", op)))
    factor = (_as_float(_matmul_param(a_scale, a, True, "a_scale", op))
              * _as_float(_matmul_param(b_scale, b, False, "b_scale", op)) / _as_float(y_scale))
    return qm.round_saturate(v * factor, _as_float(y_zero_point), to_dtype(y_zero_point.dtype),
                             1, OPS)


def _conv_param(p: Any, name: str, op: str, channels: Any = None, trailing: int = 0) -> Any:
    """A conv scale / zero point as float64: one value, or one per output channel (see
    :func:`~tensorbridge.ir.quant_math.channel_param_shape`)."""
    shape = _checked(qm.channel_param_shape, op, _shape(p), channels, trailing, name=name)
    return tf.reshape(tf.cast(p, tf.float64), shape)


def _conv_int(x: Any, w: Any, x_zero_point: Any, w_zero_point: Any, attrs: dict[str, Any],
              op: str) -> Any:
    """conv(x - x_zero_point, w - w_zero_point) in float64 (exact for 8-bit operands)."""
    xf = tf.cast(x, tf.float64)
    if x_zero_point is not None:
        xf = xf - _conv_param(x_zero_point, "x_zero_point", op)
    wf = tf.cast(w, tf.float64)
    if w_zero_point is not None:
        wf = wf - _conv_param(w_zero_point, "w_zero_point", op, _shape(w)[0], w.shape.rank - 1)
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
    y = _conv_int(x, w, x_zero_point, w_zero_point, attrs, "ConvInteger")
    return tf.cast(tf.round(y), tf.int32)


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
    op = "QLinearConv"
    acc = _conv_int(x, w, x_zero_point, w_zero_point, attrs, op)
    nsp = x.shape.rank - 2
    if B is not None:
        acc = acc + tf.reshape(tf.cast(B, tf.float64), [-1] + [1] * nsp)
    scale = (_conv_param(x_scale, "x_scale", op)
             * _conv_param(w_scale, "w_scale", op, _shape(w)[0], nsp)
             / _conv_param(y_scale, "y_scale", op))
    zp = _conv_param(y_zero_point, "y_zero_point", op)
    return qm.round_saturate(acc * scale, zp, to_dtype(y_zero_point.dtype), 1, OPS)
