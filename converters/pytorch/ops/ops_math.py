"""Elementwise math: unary functions, activations, clamps, powers and remainders,
comparisons and logical/bitwise ops.

Type promotion follows torch: the node's result dtype (``ctx.out_dtype()``, computed by
torch) is what operands are cast to; comparisons use the operands' common dtype. Each
function's docstring first line is the ATen schema."""

from __future__ import annotations

import math
from typing import Any

import torch

from tensorbridge.converters.pytorch.context import TORCH_TO_DTYPE, Ctx, to_dtype
from tensorbridge.converters.pytorch.ops.ops_core import binary as _bin
from tensorbridge.converters.pytorch.ops.ops_core import unary as _unary
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value

_FROM_DTYPE = {v: k for k, v in TORCH_TO_DTYPE.items()}


def _dummy(ctx: Ctx, x: object) -> Any:
    """A stand-in for ``torch.result_type``: 0-d tensors promote like scalars in torch."""
    if isinstance(x, Value):
        return torch.empty((1,) * min(ctx.rank(x), 1), dtype=_FROM_DTYPE[ctx.dtype(x)])
    return x


def common_dtype(ctx: Ctx, a: object, b: object) -> DType:
    """The dtype torch computes ``a <op> b`` in (tensor/scalar category rules included)."""
    return to_dtype(torch.result_type(_dummy(ctx, a), _dummy(ctx, b)))


def _k(ctx: Ctx, value: float, dt: DType | None = None) -> Value:
    return ctx.const(value, dt or ctx.out_dtype())


# ---------------------------------------------------------------- unary math
@aten("aten::abs.default")
def aten_abs(ctx: Ctx, self: Value) -> Value:
    """abs(Tensor self) -> Tensor"""
    return self if ctx.dtype(self) == DType.BOOL else _unary(ctx, "Abs", self)


@aten("aten::neg.default")
def aten_neg(ctx: Ctx, self: Value) -> Value:
    """neg(Tensor self) -> Tensor"""
    return _unary(ctx, "Neg", self)


@aten("aten::exp.default")
def aten_exp(ctx: Ctx, self: Value) -> Value:
    """exp(Tensor self) -> Tensor"""
    return _unary(ctx, "Exp", self)


@aten("aten::log.default")
def aten_log(ctx: Ctx, self: Value) -> Value:
    """log(Tensor self) -> Tensor"""
    return _unary(ctx, "Log", self)


@aten("aten::log2.default")
def aten_log2(ctx: Ctx, self: Value) -> Value:
    """log2(Tensor self) -> Tensor"""
    return ctx.op("Mul", [_unary(ctx, "Log", self), _k(ctx, 1 / math.log(2))])


@aten("aten::log1p.default")
def aten_log1p(ctx: Ctx, self: Value) -> Value:
    """log1p(Tensor self) -> Tensor"""
    # log(1 + x) loses x when |x| < eps; Goldberg's trick: x * log(u) / (u - 1), u = 1 + x.
    dt = ctx.out_dtype()
    x = ctx.tensor(self, dt)
    u = ctx.op("Add", [x, _k(ctx, 1)])
    d = ctx.op("Sub", [u, _k(ctx, 1)])
    tiny = ctx.op("Equal", [d, _k(ctx, 0)])
    safe_d = ctx.op("Where", [tiny, _k(ctx, 1), d])  # no 0/0 in the branch Where discards
    ratio = ctx.op("Div", [ctx.op("Mul", [x, ctx.op("Log", [u])]), safe_d])
    return ctx.op("Where", [tiny, x, ratio])


@aten("aten::sqrt.default")
def aten_sqrt(ctx: Ctx, self: Value) -> Value:
    """sqrt(Tensor self) -> Tensor"""
    return _unary(ctx, "Sqrt", self)


@aten("aten::rsqrt.default")
def aten_rsqrt(ctx: Ctx, self: Value) -> Value:
    """rsqrt(Tensor self) -> Tensor"""
    return ctx.op("Reciprocal", [_unary(ctx, "Sqrt", self)])


@aten("aten::reciprocal.default")
def aten_reciprocal(ctx: Ctx, self: Value) -> Value:
    """reciprocal(Tensor self) -> Tensor"""
    return _unary(ctx, "Reciprocal", self)


@aten("aten::sin.default")
def aten_sin(ctx: Ctx, self: Value) -> Value:
    """sin(Tensor self) -> Tensor"""
    return _unary(ctx, "Sin", self)


@aten("aten::cos.default")
def aten_cos(ctx: Ctx, self: Value) -> Value:
    """cos(Tensor self) -> Tensor"""
    return _unary(ctx, "Cos", self)


@aten("aten::tan.default")
def aten_tan(ctx: Ctx, self: Value) -> Value:
    """tan(Tensor self) -> Tensor"""
    return _unary(ctx, "Tan", self)


@aten("aten::tanh.default")
def aten_tanh(ctx: Ctx, self: Value) -> Value:
    """tanh(Tensor self) -> Tensor"""
    return _unary(ctx, "Tanh", self)


@aten("aten::sigmoid.default")
def aten_sigmoid(ctx: Ctx, self: Value) -> Value:
    """sigmoid(Tensor self) -> Tensor"""
    return _unary(ctx, "Sigmoid", self)


@aten("aten::erf.default")
def aten_erf(ctx: Ctx, self: Value) -> Value:
    """erf(Tensor self) -> Tensor"""
    return _unary(ctx, "Erf", self)


def _rounding(ctx: Ctx, op: str, x: Value) -> Value:
    """Floor/Ceil/Round of an integer tensor is the tensor itself (ONNX has no int kernels)."""
    return _unary(ctx, op, x) if ctx.out_dtype().is_float else x


@aten("aten::floor.default")
def aten_floor(ctx: Ctx, self: Value) -> Value:
    """floor(Tensor self) -> Tensor"""
    return _rounding(ctx, "Floor", self)


@aten("aten::ceil.default")
def aten_ceil(ctx: Ctx, self: Value) -> Value:
    """ceil(Tensor self) -> Tensor"""
    return _rounding(ctx, "Ceil", self)


@aten("aten::round.default")
def aten_round(ctx: Ctx, self: Value) -> Value:
    """round(Tensor self) -> Tensor  (half to even, like ONNX Round)"""
    return _rounding(ctx, "Round", self)


@aten("aten::round.decimals")
def aten_round_decimals(ctx: Ctx, self: Value, *, decimals: int) -> Value:
    """round.decimals(Tensor self, *, int decimals) -> Tensor"""
    if decimals == 0 or not ctx.out_dtype().is_float:
        return _rounding(ctx, "Round", self)
    # torch: nearbyint(x * 10^d) / 10^d, or nearbyint(x / 10^-d) * 10^-d for d < 0
    scale = _k(ctx, 10.0 ** abs(decimals))
    first, then = ("Mul", "Div") if decimals > 0 else ("Div", "Mul")
    return ctx.op(then, [ctx.op("Round", [ctx.op(first, [self, scale])]), scale])


@aten("aten::trunc.default")
def aten_trunc(ctx: Ctx, self: Value) -> Value:
    """trunc(Tensor self) -> Tensor"""
    if not ctx.out_dtype().is_float:
        return self
    neg = ctx.op("Less", [self, _k(ctx, 0)])
    return ctx.op("Where", [neg, ctx.op("Ceil", [self]), ctx.op("Floor", [self])])


@aten("aten::sign.default")
def aten_sign(ctx: Ctx, self: Value) -> Value:
    """sign(Tensor self) -> Tensor"""
    return self if ctx.dtype(self) == DType.BOOL else _unary(ctx, "Sign", self)


def _float_test(ctx: Ctx, op: str, x: Value) -> Value:
    if ctx.dtype(x).is_float:
        return ctx.op(op, [x])
    return ctx.op("Not", [ctx.op("Equal", [x, x])])  # all False for integers


@aten("aten::isnan.default")
def aten_isnan(ctx: Ctx, self: Value) -> Value:
    """isnan(Tensor self) -> Tensor"""
    return _float_test(ctx, "IsNaN", self)


@aten("aten::isinf.default")
def aten_isinf(ctx: Ctx, self: Value) -> Value:
    """isinf(Tensor self) -> Tensor"""
    return _float_test(ctx, "IsInf", self)


# ---------------------------------------------------------------- activations
@aten("aten::relu.default")
def aten_relu(ctx: Ctx, self: Value) -> Value:
    """relu(Tensor self) -> Tensor"""
    if ctx.out_dtype().is_float:
        return _unary(ctx, "Relu", self)
    return ctx.op("Max", [self, _k(ctx, 0)])  # onnxruntime has no integer Relu


@aten("aten::hardtanh.default")
def aten_hardtanh(ctx: Ctx, self: Value, min_val: float = -1, max_val: float = 1) -> Value:
    """hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor"""
    return ctx.op("Clip", [self, _k(ctx, min_val), _k(ctx, max_val)])


@aten("aten::relu6.default")
def aten_relu6(ctx: Ctx, self: Value) -> Value:
    """relu6(Tensor self) -> Tensor"""
    return aten_hardtanh(ctx, self, 0, 6)


@aten("aten::leaky_relu.default")
def aten_leaky_relu(ctx: Ctx, self: Value, negative_slope: float = 0.01) -> Value:
    """leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor"""
    return _unary(ctx, "LeakyRelu", self, {"alpha": float(negative_slope)})


@aten("aten::elu.default")
def aten_elu(ctx: Ctx, self: Value, alpha: float = 1, scale: float = 1, input_scale: float = 1) -> Value:
    """elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor"""
    if input_scale == 1:
        y = _unary(ctx, "Elu", self, {"alpha": float(alpha)})
        return y if scale == 1 else ctx.op("Mul", [y, _k(ctx, scale)])
    # x > 0: scale * x;  else scale * alpha * (exp(input_scale * x) - 1)
    e = ctx.op("Exp", [ctx.op("Mul", [self, _k(ctx, input_scale)])])
    neg = ctx.op("Mul", [ctx.op("Sub", [e, _k(ctx, 1)]), _k(ctx, alpha)])
    y = ctx.op("Where", [ctx.op("Greater", [self, _k(ctx, 0)]), self, neg])
    return ctx.op("Mul", [y, _k(ctx, scale)])


@aten("aten::selu.default")
def aten_selu(ctx: Ctx, self: Value) -> Value:
    """selu(Tensor self) -> Tensor  (ONNX Selu's default alpha/gamma are torch's constants)"""
    return _unary(ctx, "Selu", self)


@aten("aten::celu.default")
def aten_celu(ctx: Ctx, self: Value, alpha: float = 1.0) -> Value:
    """celu(Tensor self, Scalar alpha=1.) -> Tensor"""
    return _unary(ctx, "Celu", self, {"alpha": float(alpha)})


@aten("aten::gelu.default")
def aten_gelu(ctx: Ctx, self: Value, *, approximate: str = "none") -> Value:
    """gelu(Tensor self, *, str approximate="none") -> Tensor"""
    if ctx.opset >= 20:
        return _unary(ctx, "Gelu", self, {"approximate": approximate})
    x = ctx.tensor(self, ctx.out_dtype())
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ctx.op("Mul", [ctx.op("Mul", [x, x]), x])
        inner = ctx.op("Add", [x, ctx.op("Mul", [cube, _k(ctx, 0.044715)])])
        t = ctx.op("Tanh", [ctx.op("Mul", [inner, _k(ctx, math.sqrt(2 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = ctx.op("Erf", [ctx.op("Mul", [x, _k(ctx, math.sqrt(0.5))])])
    half_x = ctx.op("Mul", [x, _k(ctx, 0.5)])
    return ctx.op("Mul", [half_x, ctx.op("Add", [t, _k(ctx, 1)])])


@aten("aten::silu.default")
def aten_silu(ctx: Ctx, self: Value) -> Value:
    """silu(Tensor self) -> Tensor"""
    return ctx.op("Mul", [self, ctx.op("Sigmoid", [self])])


@aten("aten::mish.default")
def aten_mish(ctx: Ctx, self: Value) -> Value:
    """mish(Tensor self) -> Tensor"""
    if ctx.opset >= 18:
        return _unary(ctx, "Mish", self)
    return ctx.op("Mul", [self, ctx.op("Tanh", [ctx.op("Softplus", [self])])])


@aten("aten::softplus.default")
def aten_softplus(ctx: Ctx, self: Value, beta: float = 1, threshold: float = 20) -> Value:
    """softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor"""
    # torch: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold
    x = ctx.tensor(self, ctx.out_dtype())
    bx = x if beta == 1 else ctx.op("Mul", [x, _k(ctx, beta)])
    sp = ctx.op("Softplus", [bx])
    if beta != 1:
        sp = ctx.op("Div", [sp, _k(ctx, beta)])
    return ctx.op("Where", [ctx.op("Greater", [bx, _k(ctx, threshold)]), x, sp])


@aten("aten::hardswish.default")
def aten_hardswish(ctx: Ctx, self: Value) -> Value:
    """hardswish(Tensor self) -> Tensor"""
    return _unary(ctx, "HardSwish", self)


@aten("aten::hardsigmoid.default")
def aten_hardsigmoid(ctx: Ctx, self: Value) -> Value:
    """hardsigmoid(Tensor self) -> Tensor  (relu6(x + 3) / 6; ONNX's default alpha is 0.2)"""
    return _unary(ctx, "HardSigmoid", self, {"alpha": 1 / 6, "beta": 0.5})


@aten("aten::log_sigmoid.default")
def aten_log_sigmoid(ctx: Ctx, self: Value) -> Value:
    """log_sigmoid(Tensor self) -> Tensor  (-softplus(-x): no overflow for large |x|)"""
    return ctx.op("Neg", [ctx.op("Softplus", [_unary(ctx, "Neg", self)])])


# ---------------------------------------------------------------- clamps
@aten("aten::clamp.default")
def aten_clamp(ctx: Ctx, self: Value, min: float | None = None, max: float | None = None) -> Value:
    """clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor"""
    dt = ctx.out_dtype()
    if dt == DType.BOOL:
        raise ctx.fail("clamp of a bool tensor")
    lo = None if min is None else ctx.tensor(min, dt)
    hi = None if max is None else ctx.tensor(max, dt)
    return ctx.op("Clip", [ctx.tensor(self, dt), lo, hi])


@aten("aten::clamp.Tensor")
def aten_clamp_tensor(ctx: Ctx, self: Value, min: Value | None = None, max: Value | None = None) -> Value:
    """clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor"""
    # Tensor bounds broadcast, Clip wants scalars: max(min(...)) in torch's order (min first).
    y = ctx.tensor(self, ctx.out_dtype())
    if min is not None:
        y = _bin(ctx, "Max", y, min)
    if max is not None:
        y = _bin(ctx, "Min", y, max)
    return y


@aten("aten::clamp_min.default")
def aten_clamp_min(ctx: Ctx, self: Value, min: float) -> Value:
    """clamp_min(Tensor self, Scalar min) -> Tensor"""
    return aten_clamp(ctx, self, min, None)


@aten("aten::clamp_max.default")
def aten_clamp_max(ctx: Ctx, self: Value, max: float) -> Value:
    """clamp_max(Tensor self, Scalar max) -> Tensor"""
    return aten_clamp(ctx, self, None, max)


@aten("aten::clamp_min.Tensor")
def aten_clamp_min_tensor(ctx: Ctx, self: Value, min: Value) -> Value:
    """clamp_min.Tensor(Tensor self, Tensor min) -> Tensor"""
    return _bin(ctx, "Max", self, min)


@aten("aten::clamp_max.Tensor")
def aten_clamp_max_tensor(ctx: Ctx, self: Value, max: Value) -> Value:
    """clamp_max.Tensor(Tensor self, Tensor max) -> Tensor"""
    return _bin(ctx, "Min", self, max)


@aten("aten::maximum.default")
def aten_maximum(ctx: Ctx, self: Value, other: Value) -> Value:
    """maximum(Tensor self, Tensor other) -> Tensor"""
    return _bin(ctx, "Or" if ctx.out_dtype() == DType.BOOL else "Max", self, other)


@aten("aten::minimum.default")
def aten_minimum(ctx: Ctx, self: Value, other: Value) -> Value:
    """minimum(Tensor self, Tensor other) -> Tensor"""
    return _bin(ctx, "And" if ctx.out_dtype() == DType.BOOL else "Min", self, other)


# ---------------------------------------------------------------- powers and remainders
@aten("aten::pow.Tensor_Tensor", "aten::pow.Tensor_Scalar", "aten::pow.Scalar")
def aten_pow(ctx: Ctx, self: object, exponent: object) -> Value:
    """pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor  (also Tensor_Scalar, Scalar)"""
    return _bin(ctx, "Pow", self, exponent)


def _float_remainder(ctx: Ctx, a: Value, b: Value) -> Value:
    """Python-style remainder for floats (sign of the divisor), as torch computes it:
    r = fmod(a, b); r + b where r != 0 and r, b differ in sign."""
    dt = ctx.out_dtype()
    r = ctx.op("Mod", [a, b], {"fmod": 1}, dtype=dt)
    zero = _k(ctx, 0)
    signs_differ = ctx.op("Xor", [ctx.op("Less", [r, zero]), ctx.op("Less", [b, zero])])
    fix = ctx.op("And", [ctx.op("Not", [ctx.op("Equal", [r, zero])]), signs_differ])
    return ctx.op("Where", [fix, ctx.op("Add", [r, b]), r])


@aten("aten::remainder.Tensor", "aten::remainder.Scalar", "aten::remainder.Scalar_Tensor")
def aten_remainder(ctx: Ctx, self: object, other: object) -> Value:
    """remainder.Tensor(Tensor self, Tensor other) -> Tensor  (sign of the divisor)"""
    dt = ctx.out_dtype()
    a, b = ctx.tensor(self, dt), ctx.tensor(other, dt)
    if dt.is_float:
        return _float_remainder(ctx, a, b)
    return ctx.op("Mod", [a, b], {"fmod": 0})


@aten("aten::fmod.Tensor", "aten::fmod.Scalar")
def aten_fmod(ctx: Ctx, self: Value, other: object) -> Value:
    """fmod.Tensor(Tensor self, Tensor other) -> Tensor  (sign of the dividend)"""
    return _bin(ctx, "Mod", self, other, attrs={"fmod": 1})


def _floor_div(ctx: Ctx, self: object, other: object) -> Value:
    dt = ctx.out_dtype()
    return ctx.floor_div(ctx.tensor(self, dt), ctx.tensor(other, dt), dt)


@aten("aten::floor_divide.default", "aten::floor_divide.Scalar")
def aten_floor_divide(ctx: Ctx, self: Value, other: object) -> Value:
    """floor_divide(Tensor self, Tensor other) -> Tensor  (rounds toward -inf since torch 1.13)"""
    return _floor_div(ctx, self, other)


@aten("aten::div.Tensor_mode", "aten::div.Scalar_mode")
def aten_div_mode(ctx: Ctx, self: Value, other: object, *, rounding_mode: str | None = None) -> Value:
    """div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor"""
    if rounding_mode == "floor":
        return _floor_div(ctx, self, other)
    q = _bin(ctx, "Div", self, other)  # integer Div truncates already
    if rounding_mode == "trunc" and ctx.out_dtype().is_float:
        neg = ctx.op("Less", [q, _k(ctx, 0)])
        return ctx.op("Where", [neg, ctx.op("Ceil", [q]), ctx.op("Floor", [q])])
    return q


# ---------------------------------------------------------------- comparisons
def _compare(ctx: Ctx, op: str, a: object, b: object, negate: bool = False) -> Value:
    dt = common_dtype(ctx, a, b)
    if dt == DType.BOOL and op != "Equal":
        dt = DType.INT32  # ONNX orders numbers only
    y = ctx.op(op, [ctx.tensor(a, dt), ctx.tensor(b, dt)], dtype=DType.BOOL)
    return ctx.op("Not", [y]) if negate else y


@aten("aten::eq.Tensor", "aten::eq.Scalar")
def aten_eq(ctx: Ctx, self: Value, other: object) -> Value:
    """eq.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _compare(ctx, "Equal", self, other)


@aten("aten::ne.Tensor", "aten::ne.Scalar")
def aten_ne(ctx: Ctx, self: Value, other: object) -> Value:
    """ne.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _compare(ctx, "Equal", self, other, negate=True)


@aten("aten::lt.Tensor", "aten::lt.Scalar")
def aten_lt(ctx: Ctx, self: Value, other: object) -> Value:
    """lt.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _compare(ctx, "Less", self, other)


@aten("aten::le.Tensor", "aten::le.Scalar")
def aten_le(ctx: Ctx, self: Value, other: object) -> Value:
    """le.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _compare(ctx, "LessOrEqual", self, other)


@aten("aten::gt.Tensor", "aten::gt.Scalar")
def aten_gt(ctx: Ctx, self: Value, other: object) -> Value:
    """gt.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _compare(ctx, "Greater", self, other)


@aten("aten::ge.Tensor", "aten::ge.Scalar")
def aten_ge(ctx: Ctx, self: Value, other: object) -> Value:
    """ge.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _compare(ctx, "GreaterOrEqual", self, other)


# ---------------------------------------------------------------- logical and bitwise
@aten("aten::logical_not.default")
def aten_logical_not(ctx: Ctx, self: Value) -> Value:
    """logical_not(Tensor self) -> Tensor"""
    y = ctx.op("Not", [ctx.tensor(self, DType.BOOL)], dtype=DType.BOOL)
    return ctx.cast(y, ctx.out_dtype())


def _logical(ctx: Ctx, op: str, a: Value, b: Value) -> Value:
    y = ctx.op(op, [ctx.tensor(a, DType.BOOL), ctx.tensor(b, DType.BOOL)], dtype=DType.BOOL)
    return ctx.cast(y, ctx.out_dtype())


@aten("aten::logical_and.default")
def aten_logical_and(ctx: Ctx, self: Value, other: Value) -> Value:
    """logical_and(Tensor self, Tensor other) -> Tensor"""
    return _logical(ctx, "And", self, other)


@aten("aten::logical_or.default")
def aten_logical_or(ctx: Ctx, self: Value, other: Value) -> Value:
    """logical_or(Tensor self, Tensor other) -> Tensor"""
    return _logical(ctx, "Or", self, other)


@aten("aten::logical_xor.default")
def aten_logical_xor(ctx: Ctx, self: Value, other: Value) -> Value:
    """logical_xor(Tensor self, Tensor other) -> Tensor"""
    return _logical(ctx, "Xor", self, other)


def _bitwise(ctx: Ctx, op: str, *xs: object) -> Value:
    """And/Or/Xor/Not for bool results, Bitwise* (opset 18+) for integers."""
    if ctx.out_dtype() != DType.BOOL:
        if ctx.opset < 18:
            raise ctx.fail(f"bitwise {op.lower()} of integers needs opset >= 18 (Bitwise{op})")
        op = f"Bitwise{op}"
    dt = ctx.out_dtype()
    return ctx.op(op, [ctx.tensor(x, dt) for x in xs], dtype=dt)


@aten("aten::bitwise_not.default")
def aten_bitwise_not(ctx: Ctx, self: Value) -> Value:
    """bitwise_not(Tensor self) -> Tensor"""
    return _bitwise(ctx, "Not", self)


@aten("aten::bitwise_and.Tensor", "aten::bitwise_and.Scalar", "aten::bitwise_and.Scalar_Tensor",
      "aten::__and__.Tensor", "aten::__and__.Scalar")
def aten_bitwise_and(ctx: Ctx, self: object, other: object) -> Value:
    """bitwise_and.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _bitwise(ctx, "And", self, other)


@aten("aten::bitwise_or.Tensor", "aten::bitwise_or.Scalar", "aten::bitwise_or.Scalar_Tensor",
      "aten::__or__.Tensor", "aten::__or__.Scalar")
def aten_bitwise_or(ctx: Ctx, self: object, other: object) -> Value:
    """bitwise_or.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _bitwise(ctx, "Or", self, other)


@aten("aten::bitwise_xor.Tensor", "aten::bitwise_xor.Scalar", "aten::bitwise_xor.Scalar_Tensor",
      "aten::__xor__.Tensor", "aten::__xor__.Scalar")
def aten_bitwise_xor(ctx: Ctx, self: object, other: object) -> Value:
    """bitwise_xor.Tensor(Tensor self, Tensor other) -> Tensor"""
    return _bitwise(ctx, "Xor", self, other)
