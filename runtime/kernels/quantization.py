"""Kernels: linear (de)quantization and the quantized and integer matrix products and
convolutions (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
MatMulInteger, QLinearConv, ConvInteger).

The framework-independent rules (scale layouts, target and output types, saturation,
rounding, DynamicQuantizeLinear's formula) are ``ir/quant_math.py``'s, run here with numpy
(:data:`OPS`); float8 targets use Cast's saturating conversion. Integer products and
convolutions accumulate exactly in float64 BLAS where that is exact, and the convolutions
reuse the conv family's window geometry and im2col GEMM.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir import quant_math as qm
from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.kernels._spatial import Window
from tensorbridge.runtime.kernels.cast import cast_array
from tensorbridge.runtime.kernels.conv import add_bias, check_conv_shapes, conv_nd, conv_window
from tensorbridge.runtime.registry import kernel

_F32 = np.dtype(np.float32)


def _scratch(x: Any) -> bool:
    """A float array quant_math lets us overwrite (rint / clip work in place)."""
    return isinstance(x, np.ndarray) and x.ndim > 0 and x.dtype.kind == "f" and x.flags.writeable


class _NumpyOps:
    """:class:`~tensorbridge.ir.quant_math.QuantOps` for numpy arrays."""

    def cast(self, x: Any, dtype: DType, saturate: int = 1) -> np.ndarray:
        return cast_array(np.asarray(x), dtype.np_dtype, saturate)

    def reshape(self, x: Any, shape: list[int]) -> np.ndarray:
        return np.reshape(x, shape)

    def repeat(self, x: Any, repeats: int, axis: int) -> np.ndarray:
        return np.repeat(x, repeats, axis=axis)

    def narrow(self, x: Any, axis: int, length: Any) -> np.ndarray:
        return x[(slice(None),) * axis + (slice(0, length),)]

    def rint(self, x: Any) -> Any:
        return np.rint(x, out=x) if _scratch(x) else np.rint(x)

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        return np.clip(x, lo, hi, out=x) if _scratch(x) else np.clip(x, lo, hi)

    where = staticmethod(np.where)

    def extent(self, x: Any) -> tuple[Any, Any]:
        zero = np.float32(0)
        return x.min(initial=zero).astype(_F32), x.max(initial=zero).astype(_F32)


OPS = _NumpyOps()


def _dtype(a: np.ndarray) -> DType:
    return DType.from_numpy(a.dtype)


@kernel("QuantizeLinear", since=10)
def quantize_linear(x: np.ndarray, y_scale: np.ndarray, y_zero_point: np.ndarray | None = None,
                    *, axis: int = 1, block_size: int = 0, output_dtype: int = 0,
                    precision: int = 0, saturate: int = 1) -> np.ndarray:
    """QuantizeLinear-10/13/19/21/23/24/25/28: y = saturate(round(x / y_scale) + y_zero_point);
    per-axis scales (13), float8 targets and ``saturate`` (19), blocked scales, 4-bit targets
    and ``output_dtype`` (21), ``precision`` of the division (23). Each addition's default is
    the earlier versions' meaning (a per-tensor scale ignores ``axis``)."""
    zp = None if y_zero_point is None else (y_zero_point.shape, _dtype(y_zero_point))
    spec = qm.quantize_spec(x.shape, (y_scale.shape, _dtype(y_scale)), zp, axis=axis,
                            block_size=block_size, output_dtype=output_dtype,
                            precision=precision, saturate=saturate)
    return np.asarray(qm.quantize(x, y_scale, y_zero_point, spec, OPS))


@kernel("DequantizeLinear", since=10)
def dequantize_linear(x: np.ndarray, x_scale: np.ndarray, x_zero_point: np.ndarray | None = None,
                      *, axis: int = 1, block_size: int = 0, output_dtype: int = 0) -> np.ndarray:
    """DequantizeLinear-10/13/19/21/23/24/25/28: y = (x - x_zero_point) * x_scale; per-axis
    scales (13), float8 inputs (19), blocked scales and 4-bit inputs (21), ``output_dtype``
    (23), each defaulting to the earlier versions' meaning."""
    spec = qm.dequantize_spec(x.shape, (x_scale.shape, _dtype(x_scale)),
                              None if x_zero_point is None else x_zero_point.shape, axis=axis,
                              block_size=block_size, output_dtype=output_dtype)
    return np.asarray(qm.dequantize(x, x_scale, x_zero_point, spec, OPS))


@kernel("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DynamicQuantizeLinear-11: uint8 quantization with scale/zero point from x's range
    (widened to include 0)."""
    y, scale, zero_point = qm.dynamic_quantize(x, OPS)
    return np.asarray(y), np.asarray(scale, dtype=_F32), np.asarray(zero_point)


def _as_float(a: np.ndarray) -> np.ndarray:
    """float32 view of a scale/zero point/quantized value (float64 stays float64)."""
    return a if a.dtype in (_F32, np.float64) else a.astype(np.float32)


def _per_row(p: np.ndarray, m: np.ndarray, name: str, op: str) -> np.ndarray:
    """a's scale / zero point, one per row of ``m`` given as (M,), broadcast as (M, 1)."""
    shape = qm.matmul_param_shape(p.shape, m.shape, True, op, name)
    return p if shape is None else p.reshape(shape)


def _per_column(p: np.ndarray, m: np.ndarray, name: str, op: str) -> np.ndarray:
    """b's scale / zero point: checked, and broadcast as it is."""
    qm.matmul_param_shape(p.shape, m.shape, False, op, name)
    return p


@kernel("QLinearMatMul", since=10)
def qlinear_matmul(a: np.ndarray, a_scale: np.ndarray, a_zero_point: np.ndarray, b: np.ndarray,
                   b_scale: np.ndarray, b_zero_point: np.ndarray, y_scale: np.ndarray,
                   y_zero_point: np.ndarray) -> np.ndarray:
    """QLinearMatMul-10/21: quantize(dequantize(a) @ dequantize(b), y_scale, y_zero_point)."""
    op = "QLinearMatMul"
    a_zp = _per_row(a_zero_point, a, "a_zero_point", op)
    b_zp = _per_column(b_zero_point, b, "b_zero_point", op)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        # Exact integer accumulation, then one real-valued rescale.
        acc = _int_matmul(a.astype(np.int32) - a_zp.astype(np.int32),
                          b.astype(np.int32) - b_zp.astype(np.int32))
        v = acc.astype(np.float32)
    else:
        v = np.matmul(_as_float(a) - _as_float(a_zp), _as_float(b) - _as_float(b_zp))
    a_s = _as_float(_per_row(a_scale, a, "a_scale", op))
    v *= a_s * _as_float(_per_column(b_scale, b, "b_scale", op)) / _as_float(y_scale)
    return np.asarray(qm.round_saturate(v, _as_float(y_zero_point), _dtype(y_zero_point), 1, OPS))


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
        a -= _per_row(a_zero_point, A, "a_zero_point", "MatMulInteger").astype(np.int32)
    if b_zero_point is not None:
        b -= _per_column(b_zero_point, B, "b_zero_point", "MatMulInteger").astype(np.int32)
    return _int_matmul(a, b)


def _param(p: np.ndarray, name: str, op: str, channels: int | None = None,
           trailing: int = 0) -> np.ndarray:
    """A conv scale / zero point as float64: one value, or one per output channel shaped
    to broadcast with ``trailing`` axes after the channel's."""
    shape = qm.channel_param_shape(np.shape(p), channels, trailing, op, name)
    return np.asarray(p, dtype=np.float64).reshape(shape)


def _integer_conv(x: np.ndarray, w: np.ndarray, x_zp: np.ndarray | None,
                  w_zp: np.ndarray | None, win: Window, group: int, op: str) -> np.ndarray:
    """sum((x - x_zp) * (w - w_zp)) exactly, as float64 (exact below 2**53, i.e. any
    realistic 8-bit conv) so the GEMM still runs in BLAS."""
    xs = x.astype(np.float64)
    if x_zp is not None:
        xs -= _param(x_zp, "x_zero_point", op)
    ws = w.astype(np.float64)
    if w_zp is not None:
        ws -= _param(w_zp, "w_zero_point", op, w.shape[0], w.ndim - 1)
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
    y = _integer_conv(x, w, x_zero_point, w_zero_point, win, group, "ConvInteger")
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
    op = "QLinearConv"
    check_conv_shapes(x, w, group, op)
    win = conv_window(x, w, kernel_shape, strides, dilations, pads, auto_pad)
    acc = _integer_conv(x, w, x_zero_point, w_zero_point, win, group, op)
    if B is not None:
        acc = add_bias(acc, B.astype(np.float64))
    w_s = _param(w_scale, "w_scale", op, w.shape[0], x.ndim - 2)
    acc *= _param(x_scale, "x_scale", op) * w_s / _param(y_scale, "y_scale", op)
    zp = _param(y_zero_point, "y_zero_point", op)
    return np.asarray(qm.round_saturate(acc, zp, _dtype(y_zero_point), 1, OPS))
