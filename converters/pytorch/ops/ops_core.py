"""Core translations every model needs: elementwise arithmetic and the SymInt arithmetic
torch.export emits for dynamic shapes. Each function's docstring is the ATen schema."""

from __future__ import annotations

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


def unary(ctx: Ctx, op: str, x: Value, attrs: dict[str, object] | None = None) -> Value:
    """``op`` on ``x`` cast to the node's result dtype (ints promote to float for exp, sin, ...)."""
    dt = ctx.out_dtype()
    return ctx.op(op, [ctx.tensor(x, dt)], attrs, dtype=dt)


def binary(ctx: Ctx, op: str, a: object, b: object, dt: DType | None = None,
           attrs: dict[str, object] | None = None) -> Value:
    """Elementwise op with PyTorch's type promotion: both operands are brought to the
    node's result dtype (torch computed it; or ``dt``), Python scalars included."""
    dt = dt or ctx.out_dtype()
    return ctx.op(op, [ctx.tensor(a, dt), ctx.tensor(b, dt)], attrs, dtype=dt)


def _scaled(ctx: Ctx, other: object, alpha: object) -> object:
    if alpha is None or alpha == 1:
        return other
    if isinstance(other, Value):
        dt = ctx.out_dtype()
        return ctx.op("Mul", [ctx.tensor(other, dt), ctx.const(alpha, dt)], dtype=dt)
    return other * alpha  # type: ignore[operator]


@aten("aten::add.Tensor", "aten::add.Scalar")
def aten_add(ctx: Ctx, self: object, other: object, *, alpha: object = 1) -> Value:
    """add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"""
    return binary(ctx, "Add", self, _scaled(ctx, other, alpha))


@aten("aten::sub.Tensor", "aten::sub.Scalar")
def aten_sub(ctx: Ctx, self: object, other: object, *, alpha: object = 1) -> Value:
    """sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"""
    return binary(ctx, "Sub", self, _scaled(ctx, other, alpha))


@aten("aten::rsub.Scalar", "aten::rsub.Tensor")
def aten_rsub(ctx: Ctx, self: object, other: object, alpha: object = 1) -> Value:
    """rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor"""
    return binary(ctx, "Sub", other, _scaled(ctx, self, alpha))


@aten("aten::mul.Tensor", "aten::mul.Scalar")
def aten_mul(ctx: Ctx, self: object, other: object) -> Value:
    """mul.Tensor(Tensor self, Tensor other) -> Tensor"""
    if ctx.out_dtype() == DType.BOOL:
        return ctx.op("And", [ctx.tensor(self, DType.BOOL), ctx.tensor(other, DType.BOOL)])
    return binary(ctx, "Mul", self, other)


@aten("aten::div.Tensor", "aten::div.Scalar")
def aten_div(ctx: Ctx, self: object, other: object) -> Value:
    """div.Tensor(Tensor self, Tensor other) -> Tensor  (true division)"""
    return binary(ctx, "Div", self, other)


# ---------------------------------------------------------------- SymInt arithmetic
def _int_binary(ctx: Ctx, op: str, a: object, b: object) -> Value:
    return binary(ctx, op, a, b, DType.INT64)


@aten("aten::sym_size.int")
def aten_sym_size(ctx: Ctx, self: Value, dim: int) -> Value:
    """sym_size.int(Tensor self, int dim) -> SymInt"""
    d = dim % ctx.rank(self)
    return ctx.squeeze(ctx.op("Shape", [self], {"start": d, "end": d + 1}), [0])


@aten("operator::add")
def op_add(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt + SymInt"""
    return _int_binary(ctx, "Add", a, b)


@aten("operator::sub")
def op_sub(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt - SymInt"""
    return _int_binary(ctx, "Sub", a, b)


@aten("operator::mul")
def op_mul(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt * SymInt"""
    return _int_binary(ctx, "Mul", a, b)


@aten("operator::floordiv")
def op_floordiv(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt // SymInt (floor division: differs from ONNX Div for negative operands)"""
    return ctx.floor_div(ctx.tensor(a, DType.INT64), ctx.tensor(b, DType.INT64), DType.INT64)


def _compare(ctx: Ctx, op: str, a: object, b: object, negate: bool = False) -> Value:
    a_v, b_v = ctx.tensor(a, DType.INT64), ctx.tensor(b, DType.INT64)
    out = ctx.op(op, [a_v, b_v], dtype=DType.BOOL)
    return ctx.op("Not", [out], dtype=DType.BOOL) if negate else out


@aten("operator::eq")
def op_eq(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt == SymInt"""
    return _compare(ctx, "Equal", a, b)


@aten("operator::ne")
def op_ne(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt != SymInt"""
    return _compare(ctx, "Equal", a, b, negate=True)


@aten("operator::lt")
def op_lt(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt < SymInt"""
    return _compare(ctx, "Less", a, b)


@aten("operator::le")
def op_le(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt <= SymInt"""
    return _compare(ctx, "LessOrEqual", a, b)


@aten("operator::gt")
def op_gt(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt > SymInt"""
    return _compare(ctx, "Greater", a, b)


@aten("operator::ge")
def op_ge(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt >= SymInt"""
    return _compare(ctx, "GreaterOrEqual", a, b)


@aten("operator::neg")
def op_neg(ctx: Ctx, a: object) -> Value:
    """-SymInt"""
    return ctx.op("Neg", [ctx.tensor(a, DType.INT64)])


@aten("operator::mod")
def op_mod(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt % SymInt (Python: sign of the divisor)"""
    return _int_binary(ctx, "Mod", a, b)


@aten("operator::truediv")
def op_truediv(ctx: Ctx, a: object, b: object) -> Value:
    """SymInt / SymInt -> SymFloat"""
    return ctx.op("Div", [ctx.tensor(a, DType.DOUBLE), ctx.tensor(b, DType.DOUBLE)])


@aten("torch::sym_max")
def sym_max(ctx: Ctx, a: object, b: object) -> Value:
    """sym_max(SymInt a, SymInt b) -> SymInt"""
    return _int_binary(ctx, "Max", a, b)


@aten("torch::sym_min")
def sym_min(ctx: Ctx, a: object, b: object) -> Value:
    """sym_min(SymInt a, SymInt b) -> SymInt"""
    return _int_binary(ctx, "Min", a, b)
