"""Unary elementwise ops: math functions and activations. Most are one ONNX op with the
same semantics; the rest are short compositions. Each function's docstring is the TF op
signature."""

from __future__ import annotations

from typing import Any

from tensorbridge.converters.tensorflow.context import TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.node import Value


# ---------------------------------------------------------------- one ONNX op each
@tf_op("Abs")
def tf_abs(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Abs(x: T) -> y: T"""
    return ctx.op("Abs", [x])


@tf_op("Neg")
def tf_neg(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Neg(x: T) -> y: T"""
    return ctx.op("Neg", [x])


@tf_op("Exp")
def tf_exp(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Exp(x: T) -> y: T"""
    return ctx.op("Exp", [x])


@tf_op("Log")
def tf_log(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Log(x: T) -> y: T"""
    return ctx.op("Log", [x])


@tf_op("Sqrt")
def tf_sqrt(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Sqrt(x: T) -> y: T"""
    return ctx.op("Sqrt", [x])


@tf_op("Sign")
def tf_sign(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Sign(x: T) -> y: T"""
    return ctx.op("Sign", [x])


@tf_op("Floor")
def tf_floor(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Floor(x: T) -> y: T"""
    return ctx.op("Floor", [x])


@tf_op("Ceil")
def tf_ceil(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Ceil(x: T) -> y: T"""
    return ctx.op("Ceil", [x])


@tf_op("Round")
def tf_round(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Round(x: T) -> y: T  (half to even, as ONNX Round)"""
    return ctx.op("Round", [x])


@tf_op("Reciprocal", "Inv")
def tf_reciprocal(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Reciprocal(x: T) -> y: T  (and Inv, its old name)"""
    return ctx.op("Reciprocal", [x])


@tf_op("Sin")
def tf_sin(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Sin(x: T) -> y: T"""
    return ctx.op("Sin", [x])


@tf_op("Cos")
def tf_cos(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Cos(x: T) -> y: T"""
    return ctx.op("Cos", [x])


@tf_op("Tan")
def tf_tan(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Tan(x: T) -> y: T"""
    return ctx.op("Tan", [x])


@tf_op("Asin")
def tf_asin(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Asin(x: T) -> y: T"""
    return ctx.op("Asin", [x])


@tf_op("Acos")
def tf_acos(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Acos(x: T) -> y: T"""
    return ctx.op("Acos", [x])


@tf_op("Atan")
def tf_atan(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Atan(x: T) -> y: T"""
    return ctx.op("Atan", [x])


@tf_op("Sinh")
def tf_sinh(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Sinh(x: T) -> y: T"""
    return ctx.op("Sinh", [x])


@tf_op("Cosh")
def tf_cosh(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Cosh(x: T) -> y: T"""
    return ctx.op("Cosh", [x])


@tf_op("Asinh")
def tf_asinh(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Asinh(x: T) -> y: T"""
    return ctx.op("Asinh", [x])


@tf_op("Acosh")
def tf_acosh(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Acosh(x: T) -> y: T"""
    return ctx.op("Acosh", [x])


@tf_op("Atanh")
def tf_atanh(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Atanh(x: T) -> y: T"""
    return ctx.op("Atanh", [x])


@tf_op("Erf")
def tf_erf(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Erf(x: T) -> y: T"""
    return ctx.op("Erf", [x])


@tf_op("IsNan")
def tf_is_nan(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """IsNan(x: T) -> y: bool"""
    return ctx.op("IsNaN", [x])


@tf_op("IsInf")
def tf_is_inf(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """IsInf(x: T) -> y: bool"""
    return ctx.op("IsInf", [x])


@tf_op("LogicalNot")
def tf_logical_not(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """LogicalNot(x: T) -> y: bool"""
    return ctx.op("Not", [x])

# ---------------------------------------------------------------- activations
@tf_op("Sigmoid")
def tf_sigmoid(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Sigmoid(features: T) -> activations: T"""
    return ctx.op("Sigmoid", [features])


@tf_op("Tanh")
def tf_tanh(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Tanh(x: T) -> y: T"""
    return ctx.op("Tanh", [x])


@tf_op("Relu")
def tf_relu(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Relu(features: T) -> activations: T"""
    return ctx.op("Relu", [features])


@tf_op("Elu")
def tf_elu(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Elu(features: T) -> activations: T  (alpha 1, ONNX Elu's default)"""
    return ctx.op("Elu", [features])


@tf_op("Selu")
def tf_selu(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Selu(features: T) -> activations: T  (TF's constants are ONNX Selu's defaults)"""
    return ctx.op("Selu", [features])


@tf_op("Softplus")
def tf_softplus(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Softplus(features: T) -> activations: T"""
    return ctx.op("Softplus", [features])


@tf_op("Softsign")
def tf_softsign(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Softsign(features: T) -> activations: T"""
    return ctx.op("Softsign", [features])


# ---------------------------------------------------------------- compositions
@tf_op("Square")
def tf_square(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Square(x: T) -> y: T"""
    return ctx.op("Mul", [x, x])


@tf_op("Rsqrt")
def tf_rsqrt(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Rsqrt(x: T) -> y: T"""
    return ctx.op("Reciprocal", [ctx.op("Sqrt", [x])])


@tf_op("Erfc")
def tf_erfc(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Erfc(x: T) -> y: T  (1 - erf(x); ONNX has no Erfc)"""
    return ctx.op("Sub", [ctx.const(1, ctx.out_dtype()), ctx.op("Erf", [x])])


@tf_op("Log1p")
def tf_log1p(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Log1p(x: T) -> y: T"""
    return ctx.op("Log", [ctx.op("Add", [x, ctx.const(1, ctx.out_dtype())])])


@tf_op("Expm1")
def tf_expm1(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Expm1(x: T) -> y: T"""
    return ctx.op("Sub", [ctx.op("Exp", [x]), ctx.const(1, ctx.out_dtype())])


@tf_op("IsFinite")
def tf_is_finite(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """IsFinite(x: T) -> y: bool"""
    bad = ctx.op("Or", [ctx.op("IsInf", [x]), ctx.op("IsNaN", [x])])
    return ctx.op("Not", [bad])


@tf_op("Relu6")
def tf_relu6(ctx: TfCtx, features: Value, **_: Any) -> Value:
    """Relu6(features: T) -> activations: T"""
    dt = ctx.out_dtype()
    return ctx.op("Clip", [features, ctx.const(0, dt), ctx.const(6, dt)])


@tf_op("LeakyRelu")
def tf_leaky_relu(ctx: TfCtx, features: Value, *, alpha: float = 0.2, **_: Any) -> Value:
    """LeakyRelu(features: T, *, alpha=0.2) -> activations: T"""
    return ctx.op("LeakyRelu", [features], {"alpha": float(alpha)})
