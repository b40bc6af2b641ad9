"""Elementwise math: arithmetic, comparisons, logic, unary functions, casts and selects.
Each function's docstring is the TF op signature (inputs, then ``*`` and the attributes
the translation reads; TF's type attributes such as ``T`` arrive as IR DTypes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from converters.tensorflow.context import TfCtx
from converters.tensorflow.registry import tf_op
from ir.dtypes import DType
from ir.node import Value


def _binary(ctx: TfCtx, op: str, x: Value, y: Value) -> Value:
    return ctx.op(op, [x, y])


# ---------------------------------------------------------------- arithmetic
@tf_op("AddV2", "Add")
def tf_add(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """AddV2(x: T, y: T) -> z: T"""
    if ctx.out_dtype() == DType.STRING:
        raise ctx.fail("string concatenation has no ONNX op")
    return _binary(ctx, "Add", x, y)


@tf_op("Sub")
def tf_sub(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Sub(x: T, y: T) -> z: T"""
    return _binary(ctx, "Sub", x, y)


@tf_op("Mul")
def tf_mul(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Mul(x: T, y: T) -> z: T"""
    if ctx.out_dtype() == DType.BOOL:
        return _binary(ctx, "And", x, y)
    return _binary(ctx, "Mul", x, y)


@tf_op("RealDiv", "Div")
def tf_div(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """RealDiv(x: T, y: T) -> z: T  (Div on integers truncates, as ONNX Div does)"""
    return _binary(ctx, "Div", x, y)


@tf_op("DivNoNan")
def tf_div_no_nan(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """DivNoNan(x: T, y: T) -> z: T  (0 where y == 0)"""
    zero = ctx.const(0, ctx.out_dtype())
    safe = ctx.op("Where", [ctx.op("Equal", [y, zero]), ctx.const(1, ctx.out_dtype()), y])
    return ctx.op("Where", [ctx.op("Equal", [y, zero]), zero, ctx.op("Div", [x, safe])])


@tf_op("FloorDiv")
def tf_floor_div(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """FloorDiv(x: T, y: T) -> z: T"""
    if ctx.out_dtype().is_float:
        return ctx.op("Floor", [ctx.op("Div", [x, y])])
    q = ctx.op("Div", [x, y])  # truncates: step down where the remainder is non-zero and signs differ
    r = ctx.op("Sub", [x, ctx.op("Mul", [q, y])])
    zero = ctx.const(0, ctx.out_dtype())
    fix = ctx.op("And", [ctx.op("Not", [ctx.op("Equal", [r, zero])]),
                         ctx.op("Xor", [ctx.op("Less", [x, zero]), ctx.op("Less", [y, zero])])])
    return ctx.op("Sub", [q, ctx.op("Cast", [fix], {"to": int(ctx.out_dtype())})])


@tf_op("FloorMod")
def tf_floor_mod(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """FloorMod(x: T, y: T) -> z: T  (result has the sign of y)"""
    if ctx.out_dtype().is_float:
        floor = ctx.op("Floor", [ctx.op("Div", [x, y])])
        return ctx.op("Sub", [x, ctx.op("Mul", [floor, y])])
    return ctx.op("Mod", [x, y], {"fmod": 0})


@tf_op("Maximum")
def tf_maximum(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Maximum(x: T, y: T) -> z: T"""
    return _binary(ctx, "Max", x, y)


@tf_op("Minimum")
def tf_minimum(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Minimum(x: T, y: T) -> z: T"""
    return _binary(ctx, "Min", x, y)


@tf_op("Pow")
def tf_pow(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Pow(x: T, y: T) -> z: T"""
    return _binary(ctx, "Pow", x, y)


@tf_op("SquaredDifference")
def tf_squared_difference(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """SquaredDifference(x: T, y: T) -> z: T  ((x - y) * (x - y))"""
    d = ctx.op("Sub", [x, y])
    return ctx.op("Mul", [d, d])


@tf_op("AddN")
def tf_add_n(ctx: TfCtx, *inputs: Value, **_: Any) -> Value:
    """AddN(inputs: N * T) -> sum: T"""
    return inputs[0] if len(inputs) == 1 else ctx.op("Sum", list(inputs))


@tf_op("BiasAdd", "BiasAddV1")
def tf_bias_add(ctx: TfCtx, value: Value, bias: Value, *, data_format: str = "NHWC", **_: Any) -> Value:
    """BiasAdd(value: T, bias: T, *, data_format="NHWC") -> output: T"""
    if data_format.startswith("NC") and ctx.rank(value) > 2:
        bias = ctx.unsqueeze(bias, list(range(1, ctx.rank(value) - 1)))
    return ctx.op("Add", [value, bias])


# ---------------------------------------------------------------- unary
_UNARY = {
    "Abs": "Abs", "Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Sign": "Sign",
    "Floor": "Floor", "Ceil": "Ceil", "Round": "Round", "Reciprocal": "Reciprocal", "Inv": "Reciprocal",
    "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin", "Acos": "Acos", "Atan": "Atan",
    "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh", "Atanh": "Atanh",
    "Erf": "Erf", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Relu": "Relu", "Elu": "Elu",
    "Selu": "Selu", "Softplus": "Softplus", "Softsign": "Softsign", "IsNan": "IsNaN",
    "LogicalNot": "Not",
}


def _unary(ctx: TfCtx, x: Value) -> Value:
    return ctx.op(_UNARY[ctx.op_type], [x])


@tf_op(*_UNARY)
def tf_unary(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """Abs|Neg|Exp|Log|Sqrt|Sign|Floor|Ceil|Round|Reciprocal|Sin|...|Erf|Sigmoid|Tanh|Relu|Elu|Selu|Softplus|Softsign|IsNan|LogicalNot(x: T) -> y: T

    One ONNX op each with the same semantics (TF Round and ONNX Round both round half to
    even; TF Selu and Elu use ONNX's default constants)."""
    return _unary(ctx, x)


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


@tf_op("IsInf")
def tf_is_inf(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """IsInf(x: T) -> y: bool"""
    return ctx.op("IsInf", [x])


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


@tf_op("ClipByValue")
def tf_clip_by_value(ctx: TfCtx, t: Value, clip_value_min: Value, clip_value_max: Value, **_: Any) -> Value:
    """ClipByValue(t: T, clip_value_min: T, clip_value_max: T) -> output: T"""
    return ctx.op("Min", [ctx.op("Max", [t, clip_value_min]), clip_value_max])


# ---------------------------------------------------------------- comparisons and logic
_COMPARE = {"Greater": "Greater", "Less": "Less", "Equal": "Equal", "GreaterEqual": "GreaterOrEqual",
            "LessEqual": "LessOrEqual", "LogicalAnd": "And", "LogicalOr": "Or"}


@tf_op(*_COMPARE)
def tf_compare(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Greater|Less|Equal|GreaterEqual|LessEqual|LogicalAnd|LogicalOr(x: T, y: T) -> z: bool"""
    return ctx.op(_COMPARE[ctx.op_type], [x, y])


@tf_op("NotEqual")
def tf_not_equal(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """NotEqual(x: T, y: T, *, incompatible_shape_error=true) -> z: bool"""
    return ctx.op("Not", [ctx.op("Equal", [x, y])])


@tf_op("Select", "SelectV2")
def tf_select(ctx: TfCtx, condition: Value, t: Value, e: Value, **_: Any) -> Value:
    """SelectV2(condition: bool, t: T, e: T) -> output: T

    (Select, v1, broadcasts a vector condition over the first dim.)"""
    if ctx.op_type == "Select" and ctx.rank(condition) == 1 and ctx.rank(t) > 1:
        condition = ctx.unsqueeze(condition, list(range(1, ctx.rank(t))))
    return ctx.op("Where", [condition, t, e])


# ---------------------------------------------------------------- casts
@tf_op("Cast")
def tf_cast(ctx: TfCtx, x: Value, *, DstT: DType | None = None, Truncate: bool = False, **_: Any) -> Value:
    """Cast(x: SrcT, *, SrcT, DstT, Truncate=false) -> y: DstT"""
    if DstT is None:
        raise ctx.fail("the target dtype has no ONNX equivalent")
    return ctx.op("Cast", [x], {"to": int(DstT)})


@tf_op("ZerosLike", "OnesLike")
def tf_zeros_like(ctx: TfCtx, x: Value, **_: Any) -> Value:
    """ZerosLike(x: T) -> y: T  (and OnesLike)"""
    fill = 0 if ctx.op_type == "ZerosLike" else 1
    value = np.array([fill], dtype=ctx.out_dtype().np_dtype)
    return ctx.op("ConstantOfShape", [ctx.op("Shape", [x])], {"value": value})
