"""Quantization emitters: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the
integer / quantized matrix products and convolutions.

Everything is computed exactly: integer products accumulate in int32 (MatMulInteger,
QLinearMatMul) or in float64, exact below 2**53 (the convolutions: torch has no integer
conv kernels); requantization divides or multiplies in float32 like the spec's formulas,
rounds half to even (``torch.round``) and saturates into the target type. A scale's shape
selects the granularity: scalar (per tensor), 1-D (per ``axis``), or the input's rank
(blocked along ``axis``, ``block_size`` elements per scale)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.context import to_dtype
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.cast import cast_to, dtype_of, known_dtype
from tensorbridge.converters.pytorch.from_ir.ops.conv import conv
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_FLOAT8 = (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz)


def _expand(p: Any, x: Any, ctx: EmitContext, i: int, axis: int, block_size: int) -> Any:
    """Scale or zero point (input ``i``) shaped to broadcast against ``x`` (input 0)."""
    p = T(p)
    rank = info(x, ctx).rank
    prank = ctx.rank(i)
    if prank is None:
        prank = p.dim()
    if block_size > 0:
        if prank != rank:
            raise UnsupportedOpError(LAYER, "QuantizeLinear/DequantizeLinear", node=ctx.node_name,
                                     hint=f"blocked (de)quantization needs a scale of rank {rank}")
        axis %= rank
        p = p.repeat_interleave(block_size, dim=axis)
        return p.narrow(axis, 0, info(x, ctx).shape[axis])
    if prank == 0:
        return p
    # 1-D: one value per entry of ``axis`` (a single value broadcasts the same way)
    return p.reshape(-1, *[1] * (rank - 1 - axis % rank))


def _saturate(v: Any, zero_point: Any, dtype: torch.dtype, saturate: int) -> Any:
    """round(v) + zero_point saturated into ``dtype`` (v float32/64). Rounding comes before
    adding the zero point, as the spec writes it (an odd zero point changes ties)."""
    if dtype in _FLOAT8:  # float targets round in the conversion itself
        v = v if zero_point is None else v + zero_point
        return cast_to(v, to_dtype(dtype), saturate)
    v = torch.round(v)
    if zero_point is not None:
        v = v + zero_point
    lo, hi = torch.iinfo(dtype).min, torch.iinfo(dtype).max
    return v.clamp(lo, hi).to(dtype)


def _quantize(x: Any, y_scale: Any, y_zero_point: Any, ctx: EmitContext, axis: int = 1,
              saturate: int = 1, block_size: int = 0, output_dtype: int = 0,
              precision: int = 0) -> Any:
    if output_dtype:
        out = torch_dtype(DType(output_dtype))
    elif y_zero_point is not None:
        out = known_dtype(ctx, 2, T(y_zero_point), "QuantizeLinear")
    else:
        out = torch.uint8
    sdt = dtype_of(ctx, 1, T(y_scale))
    work = torch_dtype(DType(precision)) if precision else (
        torch.float64 if sdt == torch.float64 else torch.float32)
    xv = T(x)
    scale = _expand(y_scale, xv, ctx, 1, axis, block_size).to(work)
    v = xv.to(work) / scale
    if work != torch.float64:  # a float16/bfloat16 precision still rounds from float32
        v = v.to(torch.float32)
    zp = None if y_zero_point is None else \
        _expand(y_zero_point, xv, ctx, 2, axis, block_size).to(v.dtype)
    return _saturate(v, zp, out, saturate)


@emits("QuantizeLinear", since=10)
def quantize_linear_10(x: Any, y_scale: Any, y_zero_point: Any = None, *,
                       ctx: EmitContext) -> Any:
    """QuantizeLinear-10: y = saturate(round(x / y_scale) + y_zero_point), per tensor."""
    return _quantize(x, y_scale, y_zero_point, ctx)


@emits("QuantizeLinear", since=13)
def quantize_linear_13(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                       ctx: EmitContext) -> Any:
    """QuantizeLinear-13: adds per-axis scales."""
    return _quantize(x, y_scale, y_zero_point, ctx, axis)


@emits("QuantizeLinear", since=19)
def quantize_linear_19(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                       saturate: int = 1, ctx: EmitContext) -> Any:
    """QuantizeLinear-19: adds float8 targets and ``saturate``."""
    return _quantize(x, y_scale, y_zero_point, ctx, axis, saturate)


@emits("QuantizeLinear", since=21)
def quantize_linear_21(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                       block_size: int = 0, output_dtype: int = 0, saturate: int = 1,
                       ctx: EmitContext) -> Any:
    """QuantizeLinear-21: adds blocked scales, 4-bit targets and ``output_dtype``."""
    return _quantize(x, y_scale, y_zero_point, ctx, axis, saturate, block_size, output_dtype)


@emits("QuantizeLinear", since=23)
def quantize_linear(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                    block_size: int = 0, output_dtype: int = 0, precision: int = 0,
                    saturate: int = 1, ctx: EmitContext) -> Any:
    """QuantizeLinear-23/24/25/28: adds ``precision`` (type of the x / y_scale division)."""
    return _quantize(x, y_scale, y_zero_point, ctx, axis, saturate, block_size, output_dtype,
                     precision)


def _dequantize(x: Any, x_scale: Any, x_zero_point: Any, ctx: EmitContext, axis: int = 1,
                block_size: int = 0, output_dtype: int = 0) -> Any:
    xv = T(x)
    out = torch_dtype(DType(output_dtype)) if output_dtype else \
        known_dtype(ctx, 1, T(x_scale), "DequantizeLinear")
    # float16/bfloat16 products are exact in float32: compute there, round once
    v = xv.to(torch.float64 if out == torch.float64 else torch.float32)
    if x_zero_point is not None:
        v = v - _expand(x_zero_point, xv, ctx, 2, axis, block_size).to(v.dtype)
    return (v * _expand(x_scale, xv, ctx, 1, axis, block_size).to(v.dtype)).to(out)


@emits("DequantizeLinear", since=10)
def dequantize_linear_10(x: Any, x_scale: Any, x_zero_point: Any = None, *,
                         ctx: EmitContext) -> Any:
    """DequantizeLinear-10: y = (x - x_zero_point) * x_scale, per tensor."""
    return _dequantize(x, x_scale, x_zero_point, ctx)


@emits("DequantizeLinear", since=13)
def dequantize_linear_13(x: Any, x_scale: Any, x_zero_point: Any = None, *, axis: int = 1,
                         ctx: EmitContext) -> Any:
    """DequantizeLinear-13/19: adds per-axis scales (19: float8 inputs)."""
    return _dequantize(x, x_scale, x_zero_point, ctx, axis)


@emits("DequantizeLinear", since=21)
def dequantize_linear_21(x: Any, x_scale: Any, x_zero_point: Any = None, *, axis: int = 1,
                         block_size: int = 0, ctx: EmitContext) -> Any:
    """DequantizeLinear-21: adds blocked scales and 4-bit inputs."""
    return _dequantize(x, x_scale, x_zero_point, ctx, axis, block_size)


@emits("DequantizeLinear", since=23)
def dequantize_linear(x: Any, x_scale: Any, x_zero_point: Any = None, *, axis: int = 1,
                      block_size: int = 0, output_dtype: int = 0, ctx: EmitContext) -> Any:
    """DequantizeLinear-23/24/25/28: adds ``output_dtype``."""
    return _dequantize(x, x_scale, x_zero_point, ctx, axis, block_size, output_dtype)


@emits("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: Any) -> tuple[Any, Any, Any]:
    """DynamicQuantizeLinear-11: uint8 y, scale, zero point from x's range widened to 0."""
    xv = T(x).to(torch.float32)
    flat = torch.cat((xv.reshape(-1), xv.new_zeros(1)))  # the 0 also serves empty inputs
    lo, hi = flat.amin(), flat.amax()
    scale = (hi - lo) / 255.0
    # an all-zero x gives scale 0: any divisor works there and 1 avoids dividing by zero
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    zp = torch.round(-lo / safe).clamp(0, 255)
    y = (torch.round(xv / safe) + zp).clamp(0, 255).to(torch.uint8)
    return y, scale, zp.to(torch.uint8)


# --------------------------------------------------------------------- integer products


def _row_zero_point(zp: Any, ctx: EmitContext, i: int, rank: int) -> Any:
    """A's zero point: scalar, or one per row of A ((M,) broadcast as (M, 1))."""
    zp = T(zp)
    return zp.reshape(-1, 1) if ctx.rank(i) == 1 and rank >= 2 else zp


@emits("MatMulInteger", since=10)
def matmul_integer(A: Any, B: Any, a_zero_point: Any = None, b_zero_point: Any = None, *,
                   ctx: EmitContext) -> Any:
    """MatMulInteger-10: (A - a_zero_point) @ (B - b_zero_point) accumulated in int32."""
    a, b = T(A).to(torch.int32), T(B).to(torch.int32)
    if a_zero_point is not None:
        a = a - _row_zero_point(a_zero_point, ctx, 2, info(a, ctx).rank).to(torch.int32)
    if b_zero_point is not None:
        b = b - T(b_zero_point).to(torch.int32)  # per column (N,) broadcasts as is
    return torch.matmul(a, b)


@emits("QLinearMatMul", since=10)
def qlinear_matmul(a: Any, a_scale: Any, a_zero_point: Any, b: Any, b_scale: Any,
                   b_zero_point: Any, y_scale: Any, y_zero_point: Any, *,
                   ctx: EmitContext) -> Any:
    """QLinearMatMul-10/21: quantize(dequantize(a) @ dequantize(b), y_scale, y_zero_point)."""
    av, bv = T(a), T(b)
    rank = info(av, ctx).rank
    f32 = torch.float32
    if not any(known_dtype(ctx, i, v, "QLinearMatMul").is_floating_point for i, v in ((0, av), (3, bv))):
        i32 = torch.int32  # exact integer accumulation, then one real-valued rescale
        acc = torch.matmul(av.to(i32) - _row_zero_point(a_zero_point, ctx, 2, rank).to(i32),
                           bv.to(i32) - T(b_zero_point).to(i32)).to(f32)
    else:  # float8 operands
        acc = torch.matmul(av.to(f32) - _row_zero_point(a_zero_point, ctx, 2, rank).to(f32),
                           bv.to(f32) - T(b_zero_point).to(f32))
    factor = _row_zero_point(a_scale, ctx, 1, rank).to(f32) * T(b_scale).to(f32) / T(y_scale).to(f32)
    out = known_dtype(ctx, 7, T(y_zero_point), "QLinearMatMul")
    return _saturate(acc * factor, T(y_zero_point).to(f32), out, 1)


def _conv_ctx(ctx: EmitContext, x: int, w: int) -> EmitContext:
    """``ctx`` seen by Conv: input 0 is x, input 1 is w."""
    types = ctx.input_types
    return dataclasses.replace(ctx, input_types=(types[x], types[w]))


def _integer_conv(x: Any, w: Any, x_zero_point: Any, w_zero_point: Any, ctx: EmitContext,
                  attrs: dict[str, Any]) -> Any:
    """conv(x - x_zp, w - w_zp) in float64: exact for any realistic 8-bit conv (sums below
    2**53), and torch has no integer conv. Padding zeros after subtracting the zero point
    is padding x with x_zero_point, as the spec asks."""
    f64 = torch.float64
    xs = T(x).to(f64)
    if x_zero_point is not None:
        xs = xs - T(x_zero_point).to(f64).reshape(())
    ws = T(w).to(f64)
    if w_zero_point is not None:  # scalar, or one per output channel
        ws = ws - T(w_zero_point).to(f64).reshape(-1, *[1] * (info(ws, ctx, 1).rank - 1))
    return conv(xs, ws, None, ctx=ctx, **attrs)


@emits("ConvInteger", since=10)
def conv_integer(x: Any, w: Any, x_zero_point: Any = None, w_zero_point: Any = None, *,
                 auto_pad: str = "NOTSET", dilations: tuple[int, ...] | None = None,
                 group: int = 1, kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                 ctx: EmitContext) -> Any:
    """ConvInteger-10: y = conv(x - x_zero_point, w - w_zero_point) as int32."""
    attrs = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                 pads=pads, strides=strides)
    y = _integer_conv(x, w, x_zero_point, w_zero_point, _conv_ctx(ctx, 0, 1), attrs)
    return torch.round(y).to(torch.int32)


@emits("QLinearConv", since=10)
def qlinear_conv(x: Any, x_scale: Any, x_zero_point: Any, w: Any, w_scale: Any,
                 w_zero_point: Any, y_scale: Any, y_zero_point: Any, B: Any = None, *,
                 auto_pad: str = "NOTSET", dilations: tuple[int, ...] | None = None,
                 group: int = 1, kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                 ctx: EmitContext) -> Any:
    """QLinearConv-10: y = saturate(round(x_s * w_s / y_s * (conv_int + B)) + y_zp)."""
    attrs = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                 pads=pads, strides=strides)
    acc = _integer_conv(x, w, x_zero_point, w_zero_point, _conv_ctx(ctx, 0, 3), attrs)
    f64, nsp = torch.float64, info(T(x), ctx).rank - 2
    if B is not None:
        acc = acc + T(B).to(f64).reshape(-1, *[1] * nsp)
    scale = (T(x_scale).to(f64).reshape(()) * T(w_scale).to(f64).reshape(-1, *[1] * nsp)
             / T(y_scale).to(f64).reshape(()))
    out = known_dtype(ctx, 7, T(y_zero_point), "QLinearConv")
    return _saturate(acc * scale, T(y_zero_point).to(f64).reshape(()), out, 1)
