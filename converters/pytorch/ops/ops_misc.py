"""Less common layers' ATen ops."""

from __future__ import annotations

import math

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_core import unary as _unary
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.node import Value


@aten("aten::_weight_norm_interface.default")
def aten_weight_norm_interface(ctx: Ctx, v: Value, g: Value, dim: int = 0) -> tuple[Value, Value]:
    """_weight_norm_interface(Tensor v, Tensor g, int dim=0) -> (Tensor, Tensor)

    w = g * v / ||v||, the norm taken over every axis but ``dim`` (weight_norm's
    parametrisation); also returns the norm."""
    rank = ctx.rank(v)
    axes = [a for a in range(rank) if a != dim % rank]
    dt = ctx.dtype(v)
    norm = ctx.op("Sqrt", [ctx.reduce("ReduceSumSquare", v, axes, keepdims=True)], dtype=dt)
    w = ctx.op("Mul", [v, ctx.op("Div", [g, norm], dtype=dt)], dtype=dt)
    return w, norm


# ---------------------------------------------------------------- more unary math
def _register_unary(aten_name: str, onnx_op: str) -> None:
    def translate(ctx: Ctx, self: Value) -> Value:
        return _unary(ctx, onnx_op, self)

    translate.__name__ = f"aten_{aten_name}"
    translate.__doc__ = f"{aten_name}(Tensor self) -> Tensor"
    aten(f"aten::{aten_name}.default")(translate)


# one-to-one elementwise ops (the same ONNX op, dtype promoted as torch does)
for _aten_name, _onnx_op in (("acos", "Acos"), ("acosh", "Acosh"), ("asin", "Asin"), ("asinh", "Asinh"),
                             ("atan", "Atan"), ("atanh", "Atanh"), ("cosh", "Cosh"), ("sinh", "Sinh")):
    _register_unary(_aten_name, _onnx_op)


@aten("aten::expm1.default")
def aten_expm1(ctx: Ctx, self: Value) -> Value:
    """expm1(Tensor self) -> Tensor"""
    dt = ctx.out_dtype()
    return ctx.op("Sub", [_unary(ctx, "Exp", self), ctx.const(1.0, dt)], dtype=dt)


@aten("aten::log10.default")
def aten_log10(ctx: Ctx, self: Value) -> Value:
    """log10(Tensor self) -> Tensor"""
    dt = ctx.out_dtype()
    return ctx.op("Div", [_unary(ctx, "Log", self), ctx.const(math.log(10.0), dt)], dtype=dt)


@aten("aten::atan2.default")
def aten_atan2(ctx: Ctx, self: Value, other: Value) -> Value:
    """atan2(Tensor self, Tensor other) -> Tensor  (quadrant-correct arctan(self / other))"""
    dt = ctx.out_dtype()
    y, x = ctx.tensor(self, dt), ctx.tensor(other, dt)
    zero, pi = ctx.const(0.0, dt), ctx.const(math.pi, dt)
    base = ctx.op("Atan", [ctx.op("Div", [y, x], dtype=dt)], dtype=dt)
    # x < 0: add pi with the sign of y (y == +-0 keeps its sign: +pi for y >= 0)
    y_neg = ctx.op("Less", [y, zero])
    shift = ctx.op("Where", [y_neg, ctx.op("Neg", [pi]), pi], dtype=dt)
    left = ctx.op("Add", [base, shift], dtype=dt)
    out = ctx.op("Where", [ctx.op("Less", [x, zero]), left, base], dtype=dt)
    # x == 0: +-pi/2 by the sign of y, 0 when y == 0 too
    half = ctx.op("Mul", [ctx.op("Sign", [y], dtype=dt), ctx.const(math.pi / 2, dt)], dtype=dt)
    return ctx.op("Where", [ctx.op("Equal", [x, zero]), half, out], dtype=dt)


@aten("aten::nonzero.default")
def aten_nonzero(ctx: Ctx, self: Value) -> Value:
    """nonzero(Tensor self) -> Tensor  ([N, rank] indices; ONNX NonZero gives [rank, N])"""
    return ctx.op("Transpose", [ctx.op("NonZero", [self])], {"perm": [1, 0]})


@aten("aten::grid_sampler_2d.default")
def aten_grid_sampler_2d(ctx: Ctx, input: Value, grid: Value, interpolation_mode: int,
                         padding_mode: int, align_corners: bool) -> Value:
    """grid_sampler_2d(Tensor input, Tensor grid, int interpolation_mode, int padding_mode, bool align_corners) -> Tensor"""
    modes = {0: "linear" if ctx.opset >= 20 else "bilinear", 1: "nearest", 2: "cubic" if ctx.opset >= 20 else "bicubic"}
    pads = {0: "zeros", 1: "border", 2: "reflection"}
    return ctx.op("GridSample", [input, grid], {"mode": modes[interpolation_mode],
                                                "padding_mode": pads[padding_mode],
                                                "align_corners": int(align_corners)})


@aten("aten::copy.default")
def aten_copy(ctx: Ctx, self: Value, src: Value, non_blocking: bool = False) -> Value:
    """copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor  (src, broadcast and cast to self)"""
    value = ctx.cast(src, ctx.dtype(self))
    return ctx.op("Expand", [value, ctx.shape_of(self)])
