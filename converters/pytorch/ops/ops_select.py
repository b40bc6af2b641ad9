"""Selection and blends: where, masked_fill, lerp, addcmul / addcdiv -> ONNX Where and
elementwise arithmetic. Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


# ---------------------------------------------------------------- selection and fused
@aten("aten::where.self", "aten::where.ScalarSelf", "aten::where.ScalarOther", "aten::where.Scalar")
def aten_where(ctx: Ctx, condition: Value, self: object, other: object) -> Value:
    """where.self(Tensor condition, Tensor self, Tensor other) -> Tensor  (and Scalar forms)"""
    dt = ctx.out_dtype()
    cond = ctx.tensor(condition, DType.BOOL)
    return ctx.op("Where", [cond, ctx.tensor(self, dt), ctx.tensor(other, dt)])


@aten("aten::masked_fill.Scalar", "aten::masked_fill.Tensor")
def aten_masked_fill(ctx: Ctx, self: Value, mask: Value, value: object) -> Value:
    """masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor"""
    dt = ctx.out_dtype()
    return ctx.op("Where", [ctx.tensor(mask, DType.BOOL), ctx.tensor(value, dt), ctx.tensor(self, dt)])


@aten("aten::lerp.Scalar", "aten::lerp.Tensor")
def aten_lerp(ctx: Ctx, self: Value, end: Value, weight: object) -> Value:
    """lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor  (self + w * (end - self))"""
    dt = ctx.out_dtype()
    start = ctx.tensor(self, dt)
    diff = ctx.op("Sub", [ctx.tensor(end, dt), start])
    return ctx.op("Add", [start, ctx.op("Mul", [ctx.tensor(weight, dt), diff])])


def _addc(ctx: Ctx, op: str, self: Value, tensor1: Value, tensor2: Value, value: object) -> Value:
    dt = ctx.out_dtype()
    prod = ctx.op(op, [ctx.tensor(tensor1, dt), ctx.tensor(tensor2, dt)])
    if value != 1:
        prod = ctx.op("Mul", [prod, ctx.tensor(value, dt)])
    return ctx.op("Add", [ctx.tensor(self, dt), prod])


@aten("aten::addcmul.default")
def aten_addcmul(ctx: Ctx, self: Value, tensor1: Value, tensor2: Value, *, value: object = 1) -> Value:
    """addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor"""
    return _addc(ctx, "Mul", self, tensor1, tensor2, value)


@aten("aten::addcdiv.default")
def aten_addcdiv(ctx: Ctx, self: Value, tensor1: Value, tensor2: Value, *, value: object = 1) -> Value:
    """addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor"""
    return _addc(ctx, "Div", self, tensor1, tensor2, value)
