"""Quantization emitters: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear and the
integer / quantized matrix products and convolutions.

The framework-independent rules (scale layouts, target and output types, saturation,
rounding half to even, DynamicQuantizeLinear's formula) are ``ir/quant_math.py``'s, run
here with torch ops (:data:`OPS`). Integer products accumulate exactly in int32
(MatMulInteger, QLinearMatMul) or in float64, exact below 2**53 (the convolutions: torch
has no integer conv kernels). Dtype and shape decisions read the IR types first: under
torch.fx tracing a tensor's dtype and sizes are proxies."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.context import to_dtype
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.cast import cast_to, dtype_of, known_dtype
from tensorbridge.converters.pytorch.from_ir.ops.conv import conv
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir import quant_math as qm
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"


class _TorchOps:
    """:class:`~tensorbridge.ir.quant_math.QuantOps` in torch."""

    def cast(self, x: Any, dtype: DType, saturate: int = 1) -> Any:
        return cast_to(x, dtype, saturate)

    def reshape(self, x: Any, shape: list[int]) -> Any:
        return x.reshape(shape)

    def repeat(self, x: Any, repeats: int, axis: int) -> Any:
        return x.repeat_interleave(repeats, dim=axis)

    def narrow(self, x: Any, axis: int, length: Any) -> Any:
        return x.narrow(axis, 0, length)

    def rint(self, x: Any) -> Any:
        return torch.round(x)  # half to even

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        return x.clamp(lo, hi)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return torch.where(cond, a, b)

    def extent(self, x: Any) -> tuple[Any, Any]:
        xv = x.to(torch.float32)
        flat = torch.cat((xv.reshape(-1), xv.new_zeros(1)))  # the 0 also serves empty inputs
        return flat.amin(), flat.amax()


OPS = _TorchOps()


def _checked(fn: Any, op: str, ctx: EmitContext, *args: Any, **kwargs: Any) -> Any:
    """``fn(...)`` from quant_math, its ValueError reported as this layer's error."""
    try:
        return fn(*args, **kwargs, op=op)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, op, node=ctx.node_name, hint=str(e)) from e


def _shape(v: Any, ctx: EmitContext, i: int) -> list[Any]:
    return info(T(v), ctx, i).shape


@emits("QuantizeLinear", since=10)
def quantize_linear(x: Any, y_scale: Any, y_zero_point: Any = None, *, axis: int = 1,
                    block_size: int = 0, output_dtype: int = 0, precision: int = 0,
                    saturate: int = 1, ctx: EmitContext) -> Any:
    """QuantizeLinear-10/13/19/21/23/24/25/28: y = saturate(round(x / y_scale) + y_zero_point);
    each version adds with a default that keeps the earlier meaning: per-axis scales (13),
    float8 targets and ``saturate`` (19), blocked scales, 4-bit targets and
    ``output_dtype`` (21), ``precision``, the type of the x / y_scale division (23)."""
    sdt = dtype_of(ctx, 1, T(y_scale))
    scale = (_shape(y_scale, ctx, 1), to_dtype(sdt) if sdt is not None else DType.FLOAT)
    zp = None if y_zero_point is None else (
        _shape(y_zero_point, ctx, 2),
        to_dtype(known_dtype(ctx, 2, T(y_zero_point), "QuantizeLinear")))
    spec = _checked(qm.quantize_spec, "QuantizeLinear", ctx, _shape(x, ctx, 0), scale, zp,
                    axis=axis, block_size=block_size, output_dtype=output_dtype,
                    precision=precision, saturate=saturate)
    zpv = None if y_zero_point is None else T(y_zero_point)
    return qm.quantize(T(x), T(y_scale), zpv, spec, OPS)


@emits("DequantizeLinear", since=10)
def dequantize_linear(x: Any, x_scale: Any, x_zero_point: Any = None, *, axis: int = 1,
                      block_size: int = 0, output_dtype: int = 0, ctx: EmitContext) -> Any:
    """DequantizeLinear-10/13/19/21/23/24/25/28: y = (x - x_zero_point) * x_scale; each
    version adds with a default that keeps the earlier meaning: per-axis scales (13),
    float8 inputs (19), blocked scales and 4-bit inputs (21), ``output_dtype`` (23)."""
    scale = (_shape(x_scale, ctx, 1),
             to_dtype(known_dtype(ctx, 1, T(x_scale), "DequantizeLinear")))
    zp_shape = None if x_zero_point is None else _shape(x_zero_point, ctx, 2)
    spec = _checked(qm.dequantize_spec, "DequantizeLinear", ctx, _shape(x, ctx, 0), scale,
                    zp_shape, axis=axis, block_size=block_size, output_dtype=output_dtype)
    zpv = None if x_zero_point is None else T(x_zero_point)
    return qm.dequantize(T(x), T(x_scale), zpv, spec, OPS)


@emits("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(x: Any) -> tuple[Any, Any, Any]:
    """DynamicQuantizeLinear-11: uint8 y, scale, zero point from x's range widened to 0."""
    return qm.dynamic_quantize(T(x).to(torch.float32), OPS)


# --------------------------------------------------------------------- integer products


def _matmul_param(p: Any, ctx: EmitContext, i: int, m: Any, im: int, per_row: bool,
                  name: str, op: str) -> Any:
    """Input ``i``, a's (per row) or b's (per column) scale / zero point, shaped to
    broadcast against operand ``m`` (input ``im``)."""
    p = T(p)
    shape = _checked(qm.matmul_param_shape, op, ctx, _shape(p, ctx, i), _shape(m, ctx, im),
                     per_row, name=name)
    return p if shape is None else p.reshape(shape)


@emits("MatMulInteger", since=10)
def matmul_integer(A: Any, B: Any, a_zero_point: Any = None, b_zero_point: Any = None, *,
                   ctx: EmitContext) -> Any:
    """MatMulInteger-10: (A - a_zero_point) @ (B - b_zero_point) accumulated in int32."""
    a, b = T(A).to(torch.int32), T(B).to(torch.int32)
    if a_zero_point is not None:
        a = a - _matmul_param(a_zero_point, ctx, 2, A, 0, True, "a_zero_point",
                              "MatMulInteger").to(torch.int32)
    if b_zero_point is not None:
        b = b - _matmul_param(b_zero_point, ctx, 3, B, 1, False, "b_zero_point",
                              "MatMulInteger").to(torch.int32)
    return torch.matmul(a, b)


@emits("QLinearMatMul", since=10)
def qlinear_matmul(a: Any, a_scale: Any, a_zero_point: Any, b: Any, b_scale: Any,
                   b_zero_point: Any, y_scale: Any, y_zero_point: Any, *,
                   ctx: EmitContext) -> Any:
    """QLinearMatMul-10/21: quantize(dequantize(a) @ dequantize(b), y_scale, y_zero_point)."""
    op = "QLinearMatMul"
    av, bv = T(a), T(b)
    a_zp = _matmul_param(a_zero_point, ctx, 2, av, 0, True, "a_zero_point", op)
    b_zp = _matmul_param(b_zero_point, ctx, 5, bv, 3, False, "b_zero_point", op)
    f32 = torch.float32
    if not any(known_dtype(ctx, i, v, op).is_floating_point for i, v in ((0, av), (3, bv))):
        i32 = torch.int32  # exact integer accumulation, then one real-valued rescale
        acc = torch.matmul(av.to(i32) - a_zp.to(i32), bv.to(i32) - b_zp.to(i32)).to(f32)
    else:  # float8 operands
        acc = torch.matmul(av.to(f32) - a_zp.to(f32), bv.to(f32) - b_zp.to(f32))
    factor = (_matmul_param(a_scale, ctx, 1, av, 0, True, "a_scale", op).to(f32)
              * _matmul_param(b_scale, ctx, 4, bv, 3, False, "b_scale", op).to(f32)
              / T(y_scale).to(f32))
    out = to_dtype(known_dtype(ctx, 7, T(y_zero_point), op))
    return qm.round_saturate(acc * factor, T(y_zero_point).to(f32), out, 1, OPS)


def _conv_ctx(ctx: EmitContext, x: int, w: int) -> EmitContext:
    """``ctx`` seen by Conv: input 0 is x, input 1 is w."""
    types = ctx.input_types
    return dataclasses.replace(ctx, input_types=(types[x], types[w]))


def _conv_param(p: Any, ctx: EmitContext, i: int, name: str, op: str,
                channels: Any = None, trailing: int = 0) -> Any:
    """Input ``i`` as float64: one value, or one per output channel (see
    :func:`~tensorbridge.ir.quant_math.channel_param_shape`)."""
    p = T(p)
    shape = _checked(qm.channel_param_shape, op, ctx, _shape(p, ctx, i), channels, trailing,
                     name=name)
    return p.to(torch.float64).reshape(shape)


def _integer_conv(x: Any, w: Any, x_zero_point: Any, w_zero_point: Any, ctx: EmitContext,
                  iw: int, attrs: dict[str, Any], op: str) -> Any:
    """conv(x - x_zp, w - w_zp) in float64: exact for any realistic 8-bit conv (sums below
    2**53), and torch has no integer conv. Padding zeros after subtracting the zero point
    is padding x with x_zero_point, as the spec asks. ``iw``: w's input index."""
    f64 = torch.float64
    xs = T(x).to(f64)
    if x_zero_point is not None:
        xs = xs - _conv_param(x_zero_point, ctx, 2, "x_zero_point", op)
    ws = T(w).to(f64)
    if w_zero_point is not None:  # scalar, or one per output channel
        w_shape = info(ws, ctx, iw).shape
        ws = ws - _conv_param(w_zero_point, ctx, iw + 2, "w_zero_point", op, w_shape[0],
                              len(w_shape) - 1)
    return conv(xs, ws, None, ctx=_conv_ctx(ctx, 0, iw), **attrs)


@emits("ConvInteger", since=10)
def conv_integer(x: Any, w: Any, x_zero_point: Any = None, w_zero_point: Any = None, *,
                 auto_pad: str = "NOTSET", dilations: tuple[int, ...] | None = None,
                 group: int = 1, kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                 ctx: EmitContext) -> Any:
    """ConvInteger-10: y = conv(x - x_zero_point, w - w_zero_point) as int32."""
    attrs = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                 pads=pads, strides=strides)
    y = _integer_conv(x, w, x_zero_point, w_zero_point, ctx, 1, attrs, "ConvInteger")
    return torch.round(y).to(torch.int32)


@emits("QLinearConv", since=10)
def qlinear_conv(x: Any, x_scale: Any, x_zero_point: Any, w: Any, w_scale: Any,
                 w_zero_point: Any, y_scale: Any, y_zero_point: Any, B: Any = None, *,
                 auto_pad: str = "NOTSET", dilations: tuple[int, ...] | None = None,
                 group: int = 1, kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                 ctx: EmitContext) -> Any:
    """QLinearConv-10: y = saturate(round(x_s * w_s / y_s * (conv_int + B)) + y_zp)."""
    op = "QLinearConv"
    attrs = dict(auto_pad=auto_pad, dilations=dilations, group=group, kernel_shape=kernel_shape,
                 pads=pads, strides=strides)
    acc = _integer_conv(x, w, x_zero_point, w_zero_point, ctx, 3, attrs, op)
    nsp, channels = info(T(x), ctx).rank - 2, info(T(w), ctx, 3).shape[0]
    if B is not None:
        acc = acc + T(B).to(torch.float64).reshape(-1, *[1] * nsp)
    scale = (_conv_param(x_scale, ctx, 1, "x_scale", op)
             * _conv_param(w_scale, ctx, 4, "w_scale", op, channels, nsp)
             / _conv_param(y_scale, ctx, 6, "y_scale", op))
    out = to_dtype(known_dtype(ctx, 7, T(y_zero_point), op))
    zp = _conv_param(y_zero_point, ctx, 7, "y_zero_point", op)
    return qm.round_saturate(acc * scale, zp, out, 1, OPS)
