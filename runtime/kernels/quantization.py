"""Kernels: linear (de)quantization and the quantized and integer matrix products and
convolutions (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
MatMulInteger, QLinearConv, ConvInteger).

A scale and its zero point share one shape, which selects the granularity: a scalar (or
1-element) is per tensor, a 1-D tensor is per ``axis``, and a tensor of the input's rank is
blocked along ``axis`` with ``block_size`` elements per scale. ``_expand`` turns any of
them into an array that broadcasts against the input.

Integer targets round half to even and saturate to the type's range; float8 targets use
Cast's saturating conversion; float4e2m1 always saturates. Integer products and
convolutions accumulate exactly in float64 BLAS where that is exact, and the convolutions
reuse the conv family's window geometry and im2col GEMM.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.kernels._spatial import Window
from tensorbridge.runtime.kernels.cast import cast_array, onnx_dtype
from tensorbridge.runtime.kernels.conv import add_bias, check_conv_shapes, conv_nd, conv_window
from tensorbridge.runtime.registry import kernel

_F32 = np.dtype(np.float32)


def _expand(p: np.ndarray, x: np.ndarray, axis: int, block_size: int) -> np.ndarray:
    """Scale or zero point reshaped/repeated to broadcast against ``x``."""
    if block_size > 0:
        if p.ndim != x.ndim:
            raise ValueError(
                f"blocked quantization needs a scale of the input's rank {x.ndim}, got shape {p.shape}"
            )
        axis %= x.ndim
        n = x.shape[axis]
        if not p.shape[axis] * block_size >= n > (p.shape[axis] - 1) * block_size:
            raise ValueError(
                f"block_size {block_size} does not fit scale length {p.shape[axis]} to input "
                f"length {n} on axis {axis}"
            )
        return np.repeat(p, block_size, axis=axis)[(slice(None),) * axis + (slice(0, n),)]
    if p.size == 1 and p.ndim <= 1:
        return p.reshape(())
    if p.ndim == 1:
        axis %= x.ndim
        if p.shape[0] != x.shape[axis]:
            raise ValueError(
                f"per-axis scale has {p.shape[0]} values but axis {axis} of the input has {x.shape[axis]}"
            )
        return p.reshape((-1,) + (1,) * (x.ndim - 1 - axis))
    raise ValueError(
        f"scale of shape {p.shape} is neither scalar, 1-D (per axis) nor of the input's rank "
        "(blocked; set block_size)"
    )


def _as_float(a: np.ndarray) -> np.ndarray:
    """float32 view of a scale/zero point/quantized value (float64 stays float64)."""
    return a if a.dtype in (_F32, np.float64) else a.astype(np.float32)


def _int_range(dtype: np.dtype) -> tuple[int, int] | None:
    """(min, max) of an integer type, None for float types."""
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    try:
        small = ml_dtypes.iinfo(dtype)  # int4/uint4/int2/uint2
    except (ValueError, TypeError):
        return None
    return int(small.min), int(small.max)


def _round_saturate(v: np.ndarray, zero_point: np.ndarray | None, dtype: np.dtype,
                    saturate: int) -> np.ndarray:
    """round(v) + zero_point saturated into ``dtype``; ``v`` is float32/64 scratch we own.

    Rounding comes before adding the zero point, as the spec writes it: with an odd zero
    point, round-half-even of v + zp would pick the other neighbour."""
    bounds = _int_range(dtype)
    if bounds is not None:
        np.rint(v, out=v)
    if zero_point is not None:
        v += zero_point
    if bounds is None:  # float8 / float4 targets
        return cast_array(v, dtype, saturate)
    np.clip(v, bounds[0], bounds[1], out=v)
    return v.astype(dtype)


def _quantize(x: np.ndarray, y_scale: np.ndarray, y_zero_point: np.ndarray | None, *, axis: int = 1,
              saturate: int = 1, block_size: int = 0, output_dtype: int = 0,
              precision: int = 0) -> np.ndarray:
    if output_dtype:
        out = onnx_dtype(output_dtype)
        if y_zero_point is not None and y_zero_point.dtype != out:
            raise ValueError(f"output_dtype {out} differs from y_zero_point's type {y_zero_point.dtype}")
    else:
        out = y_zero_point.dtype if y_zero_point is not None else np.dtype(np.uint8)
    work = onnx_dtype(precision) if precision else np.result_type(_as_float(y_scale), _F32)
    scale = _expand(y_scale, x, axis, block_size).astype(work)
    v = np.asarray(np.divide(x.astype(work, copy=False), scale))
    if v.dtype != np.float64:
        v = v.astype(np.float32, copy=False)
    zero_point = None if y_zero_point is None else _expand(_as_float(y_zero_point), x, axis, block_size)
    return _round_saturate(v, zero_point, out, saturate)


@kernel("QuantizeLinear", since=10)
def quantize_linear(x: np.ndarray, y_scale: np.ndarray, y_zero_point: np.ndarray | None = None,
                    *, axis: int = 1, block_size: int = 0, output_dtype: int = 0,
                    precision: int = 0, saturate: int = 1) -> np.ndarray:
    """QuantizeLinear-10/13/19/21/23/24/25/28: y = saturate(round(x / y_scale) + y_zero_point);
    per-axis scales (13), float8 targets and ``saturate`` (19), blocked scales, 4-bit targets
    and ``output_dtype`` (21), ``precision`` of the division (23). Each addition's default is
    the earlier versions' meaning (a per-tensor scale ignores ``axis``)."""
    return _quantize(x, y_scale, y_zero_point, axis=axis, saturate=saturate,
                     block_size=block_size, output_dtype=output_dtype, precision=precision)


def _dequantize(x: np.ndarray, x_scale: np.ndarray, x_zero_point: np.ndarray | None, *,
                axis: int = 1, block_size: int = 0, output_dtype: int = 0) -> np.ndarray:
    if output_dtype:
        out = onnx_dtype(output_dtype)
    elif x_scale.dtype == DType.FLOAT8E8M0.np_dtype:
        out = _F32  # an e8m0 scale is no output type; float32 is the natural one
    else:
        out = x_scale.dtype
    # Products of float16/bfloat16 values are exact in float32, so computing there and
    # rounding once gives the output type's own multiplication.
    v = x.astype(np.float64 if out == np.float64 else np.float32)
    if x_zero_point is not None:
        np.subtract(v, _expand(_as_float(x_zero_point), x, axis, block_size), out=v)
    np.multiply(v, _expand(_as_float(x_scale), x, axis, block_size), out=v)
    return v.astype(out, copy=False)


@kernel("DequantizeLinear", since=10)
def dequantize_linear(x: np.ndarray, x_scale: np.ndarray, x_zero_point: np.ndarray | None = None,
                      *, axis: int = 1, block_size: int = 0, output_dtype: int = 0) -> np.ndarray:
    """DequantizeLinear-10/13/19/21/23/24/25/28: y = (x - x_zero_point) * x_scale; per-axis
    scales (13), float8 inputs (19), blocked scales and 4-bit inputs (21), ``output_dtype``
    (23), each defaulting to the earlier versions' meaning."""
    return _dequantize(x, x_scale, x_zero_point, axis=axis, block_size=block_size,
                       output_dtype=output_dtype)


@kernel("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DynamicQuantizeLinear-11: uint8 quantization with scale/zero point from x's range
    (widened to include 0)."""
    # float32 arithmetic throughout, as the spec's formulas are written for float32 x.
    lo = x.min(initial=np.float32(0))
    hi = x.max(initial=np.float32(0))
    scale = np.asarray((hi - lo) / np.float32(255), dtype=np.float32)
    if scale == 0:  # all zeros: any scale works; 0 would divide by zero
        return np.zeros(x.shape, np.uint8), scale, np.zeros((), np.uint8)
    zero_point = np.asarray(np.clip(np.rint(-lo / scale), 0, 255)).astype(np.uint8)
    y = np.asarray(np.divide(x, scale))
    return _round_saturate(y, zero_point, np.dtype(np.uint8), 1), scale, zero_point


def _per_row(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """A per-row scale/zero point given as (M,) for a 2-D matrix broadcasts as (M, 1)."""
    return p.reshape(-1, 1) if p.ndim == 1 and p.size > 1 and m.ndim >= 2 else p


@kernel("QLinearMatMul", since=10)
def qlinear_matmul(a: np.ndarray, a_scale: np.ndarray, a_zero_point: np.ndarray, b: np.ndarray,
                   b_scale: np.ndarray, b_zero_point: np.ndarray, y_scale: np.ndarray,
                   y_zero_point: np.ndarray) -> np.ndarray:
    """QLinearMatMul-10/21: quantize(dequantize(a) @ dequantize(b), y_scale, y_zero_point)."""
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        # Exact integer accumulation, then one real-valued rescale.
        acc = _int_matmul(a.astype(np.int32) - _per_row(a_zero_point, a).astype(np.int32),
                         b.astype(np.int32) - b_zero_point.astype(np.int32))
        v = acc.astype(np.float32)
    else:
        v = np.matmul(_as_float(a) - _per_row(_as_float(a_zero_point), a),
                      _as_float(b) - _as_float(b_zero_point))
    v *= _per_row(_as_float(a_scale), a) * _as_float(b_scale) / _as_float(y_scale)
    return _round_saturate(v, _as_float(y_zero_point), y_zero_point.dtype, 1)


def _int_matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Integer product accumulated in int32 (wrapping on overflow, as the spec allows).

    numpy's integer matmul has no BLAS path; float64 BLAS is exact while every partial sum
    stays below 2**31, which the bound below guarantees."""
    bound = float(np.abs(A).max(initial=0)) * float(np.abs(B).max(initial=0)) * A.shape[-1]
    if bound < 2**31 - 1:
        return np.matmul(A.astype(np.float64), B.astype(np.float64)).astype(np.int32)
    return np.matmul(A.astype(np.int64), B.astype(np.int64)).astype(np.int32)


@kernel("MatMulInteger", since=10)
def matmul_integer(A: np.ndarray, B: np.ndarray, a_zero_point: np.ndarray | None = None,
                   b_zero_point: np.ndarray | None = None) -> np.ndarray:
    """MatMulInteger-10: (A - a_zero_point) @ (B - b_zero_point) accumulated in int32."""
    a = A.astype(np.int32)
    b = B.astype(np.int32)
    if a_zero_point is not None:
        a -= _per_row(a_zero_point, A).astype(np.int32)
    if b_zero_point is not None:
        b -= b_zero_point.astype(np.int32)  # per-column (N,) broadcasts as is
    return _int_matmul(a, b)


def _zero_point(zp: np.ndarray | None, what: str, channels: int | None = None) -> np.ndarray:
    """A zero point (or scale) as a float64 vector: one value, or one per output channel."""
    if zp is None:
        return np.zeros(1)
    z = np.asarray(zp, dtype=np.float64)
    if z.size == 1:
        return z.reshape(1)
    if channels is not None and z.shape == (channels,):
        return z
    allowed = "a scalar" if channels is None else f"a scalar or shape ({channels},)"
    raise ValueError(f"{what} must be {allowed}, got shape {z.shape}")


def _integer_conv(x: np.ndarray, w: np.ndarray, x_zp: np.ndarray | None,
                  w_zp: np.ndarray | None, win: Window, group: int) -> np.ndarray:
    """sum((x - x_zp) * (w - w_zp)) exactly, as float64 (exact below 2**53, i.e. any
    realistic 8-bit conv) so the GEMM still runs in BLAS."""
    m = w.shape[0]
    xs = x.astype(np.float64) - _zero_point(x_zp, "x_zero_point")[0]
    wz = _zero_point(w_zp, "w_zero_point", m).reshape(-1, *([1] * (w.ndim - 1)))
    ws = w.astype(np.float64) - wz
    # Padding with 0 after subtracting the zero point is padding x with x_zero_point.
    return conv_nd(xs, ws, win, group)


@kernel("ConvInteger", since=10)
def conv_integer(x: np.ndarray, w: np.ndarray, x_zero_point: np.ndarray | None = None,
                 w_zero_point: np.ndarray | None = None, *, auto_pad: str = "NOTSET",
                 dilations: list[int] | None = None, group: int = 1,
                 kernel_shape: list[int] | None = None, pads: list[int] | None = None,
                 strides: list[int] | None = None) -> np.ndarray:
    """ConvInteger-10: y = conv(x - x_zero_point, w - w_zero_point) as int32."""
    check_conv_shapes(x, w, group, "ConvInteger")
    win = conv_window(x, w, kernel_shape, strides, dilations, pads, auto_pad)
    y = _integer_conv(x, w, x_zero_point, w_zero_point, win, group)
    return np.rint(y).astype(np.int32)


@kernel("QLinearConv", since=10)
def qlinear_conv(x: np.ndarray, x_scale: np.ndarray, x_zero_point: np.ndarray, w: np.ndarray,
                 w_scale: np.ndarray, w_zero_point: np.ndarray, y_scale: np.ndarray,
                 y_zero_point: np.ndarray, B: np.ndarray | None = None, *,
                 auto_pad: str = "NOTSET", dilations: list[int] | None = None,
                 group: int = 1, kernel_shape: list[int] | None = None,
                 pads: list[int] | None = None,
                 strides: list[int] | None = None) -> np.ndarray:
    """QLinearConv-10: y = saturate(round(x_s * w_s / y_s * (conv_int + B)) + y_zp)."""
    check_conv_shapes(x, w, group, "QLinearConv")
    win = conv_window(x, w, kernel_shape, strides, dilations, pads, auto_pad)
    acc = _integer_conv(x, w, x_zero_point, w_zero_point, win, group)
    if B is not None:
        acc = add_bias(acc, B.astype(np.float64))
    m = w.shape[0]
    w_s = _zero_point(w_scale, "w_scale", m).reshape(1, -1, *([1] * (x.ndim - 2)))
    x_s = float(np.asarray(x_scale).reshape(-1)[0])
    scale = x_s * w_s / float(np.asarray(y_scale).reshape(-1)[0])
    out_t = np.asarray(y_zero_point).dtype
    info = np.iinfo(out_t)
    y = np.rint(acc * scale) + float(np.asarray(y_zero_point).reshape(-1)[0])
    return np.clip(y, info.min, info.max).astype(out_t)
