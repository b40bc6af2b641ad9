"""Elementwise math: arithmetic, comparisons, logic, unary functions, casts and selects.
Each function's docstring is the TF op signature (inputs, then ``*`` and the attributes
the translation reads; TF's type attributes such as ``T`` arrive as IR DTypes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.converters.tensorflow.context import TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


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
    y_is_0 = ctx.op("Equal", [y, zero])
    safe = ctx.op("Where", [y_is_0, ctx.const(1, ctx.out_dtype()), y])
    return ctx.op("Where", [y_is_0, zero, ctx.op("Div", [x, safe])])


@tf_op("FloorDiv")
def tf_floor_div(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """FloorDiv(x: T, y: T) -> z: T"""
    return ctx.floor_div(x, y, ctx.out_dtype())


@tf_op("FloorMod")
def tf_floor_mod(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """FloorMod(x: T, y: T) -> z: T  (result has the sign of y)"""
    if ctx.out_dtype().is_float:
        return ctx.op("Sub", [x, ctx.op("Mul", [ctx.floor_div(x, y, ctx.out_dtype()), y])])
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


@tf_op("ClipByValue")
def tf_clip_by_value(ctx: TfCtx, t: Value, clip_value_min: Value, clip_value_max: Value, **_: Any) -> Value:
    """ClipByValue(t: T, clip_value_min: T, clip_value_max: T) -> output: T"""
    return ctx.op("Min", [ctx.op("Max", [t, clip_value_min]), clip_value_max])


# ---------------------------------------------------------------- comparisons and logic
@tf_op("Greater")
def tf_greater(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Greater(x: T, y: T) -> z: bool"""
    return _binary(ctx, "Greater", x, y)


@tf_op("GreaterEqual")
def tf_greater_equal(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """GreaterEqual(x: T, y: T) -> z: bool"""
    return _binary(ctx, "GreaterOrEqual", x, y)


@tf_op("Less")
def tf_less(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Less(x: T, y: T) -> z: bool"""
    return _binary(ctx, "Less", x, y)


@tf_op("LessEqual")
def tf_less_equal(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """LessEqual(x: T, y: T) -> z: bool"""
    return _binary(ctx, "LessOrEqual", x, y)


@tf_op("Equal")
def tf_equal(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """Equal(x: T, y: T, *, incompatible_shape_error=true) -> z: bool"""
    return _binary(ctx, "Equal", x, y)


@tf_op("LogicalAnd")
def tf_logical_and(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """LogicalAnd(x: bool, y: bool) -> z: bool"""
    return _binary(ctx, "And", x, y)


@tf_op("LogicalOr")
def tf_logical_or(ctx: TfCtx, x: Value, y: Value, **_: Any) -> Value:
    """LogicalOr(x: bool, y: bool) -> z: bool"""
    return _binary(ctx, "Or", x, y)


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
