"""Reductions, arg-reductions, cumulative sums and matrix products (MatMul, BatchMatMul,
Einsum). Each function's docstring is the TF op signature."""

from __future__ import annotations

from typing import Any

from tensorbridge.converters.tensorflow.context import TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


def _reduce(ctx: TfCtx, op_type: str, x: Value, axes: Value, keepdims: bool) -> Value:
    """Reduce over ``axes`` (constant, or dynamic when the opset takes axes as an input).
    TF reduces nothing for an empty axes list; ONNX's default reduces everything."""
    const = ctx.static_value(axes)
    if const is not None:
        dims = [int(a) for a in const.reshape(-1)]
        if not dims:
            return ctx.op("Identity", [x])
        return ctx.reduce(op_type, x, dims, keepdims)
    if ctx.opset < (13 if op_type == "ReduceSum" else 18):
        raise ctx.fail(f"reduction axes computed at run time need opset {18 if op_type != 'ReduceSum' else 13}+")
    flat = ctx.op("Reshape", [ctx.ints(axes), ctx.const([-1], DType.INT64)])
    return ctx.op(op_type, [x, flat], {"keepdims": int(keepdims), "noop_with_empty_axes": 1})


@tf_op("Mean")
def tf_mean(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """Mean(input: T, reduction_indices: Tidx, *, keep_dims=false) -> output: T"""
    return _reduce(ctx, "ReduceMean", input, reduction_indices, keep_dims)


@tf_op("Sum")
def tf_sum(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """Sum(input: T, reduction_indices: Tidx, *, keep_dims=false) -> output: T"""
    return _reduce(ctx, "ReduceSum", input, reduction_indices, keep_dims)


@tf_op("Max")
def tf_max(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """Max(input: T, reduction_indices: Tidx, *, keep_dims=false) -> output: T"""
    return _reduce(ctx, "ReduceMax", input, reduction_indices, keep_dims)


@tf_op("Min")
def tf_min(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """Min(input: T, reduction_indices: Tidx, *, keep_dims=false) -> output: T"""
    return _reduce(ctx, "ReduceMin", input, reduction_indices, keep_dims)


@tf_op("Prod")
def tf_prod(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """Prod(input: T, reduction_indices: Tidx, *, keep_dims=false) -> output: T"""
    return _reduce(ctx, "ReduceProd", input, reduction_indices, keep_dims)


@tf_op("EuclideanNorm")
def tf_euclidean_norm(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False,
                      **_: Any) -> Value:
    """EuclideanNorm(input: T, reduction_indices: Tidx, *, keep_dims=false) -> output: T"""
    return _reduce(ctx, "ReduceL2", input, reduction_indices, keep_dims)


def _bool_reduce(ctx: TfCtx, op_type: str, input: Value, axes: Value, keepdims: bool) -> Value:
    """Booleans reduced as int32 (ONNX Reduce* take no bool)."""
    as_int = ctx.op("Cast", [input], {"to": int(DType.INT32)})
    return ctx.op("Cast", [_reduce(ctx, op_type, as_int, axes, keepdims)], {"to": int(DType.BOOL)})


@tf_op("All")
def tf_all(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """All(input: bool, reduction_indices: Tidx, *, keep_dims=false) -> output: bool"""
    return _bool_reduce(ctx, "ReduceMin", input, reduction_indices, keep_dims)


@tf_op("Any")
def tf_any(ctx: TfCtx, input: Value, reduction_indices: Value, *, keep_dims: bool = False, **_: Any) -> Value:
    """Any(input: bool, reduction_indices: Tidx, *, keep_dims=false) -> output: bool"""
    return _bool_reduce(ctx, "ReduceMax", input, reduction_indices, keep_dims)


def _arg_reduce(ctx: TfCtx, op_type: str, input: Value, dimension: Value, output_type: DType) -> Value:
    axis = ctx.static_int(dimension, "the reduction dimension")
    y = ctx.op(op_type, [input], {"axis": axis, "keepdims": 0}, dtype=DType.INT64)
    return ctx.cast(y, output_type)  # ONNX: int64; ties pick the first index, as TF does


@tf_op("ArgMax")
def tf_arg_max(ctx: TfCtx, input: Value, dimension: Value, *, output_type: DType = DType.INT64,
               **_: Any) -> Value:
    """ArgMax(input: T, dimension: Tidx, *, output_type=int64) -> output: output_type"""
    return _arg_reduce(ctx, "ArgMax", input, dimension, output_type)


@tf_op("ArgMin")
def tf_arg_min(ctx: TfCtx, input: Value, dimension: Value, *, output_type: DType = DType.INT64,
               **_: Any) -> Value:
    """ArgMin(input: T, dimension: Tidx, *, output_type=int64) -> output: output_type"""
    return _arg_reduce(ctx, "ArgMin", input, dimension, output_type)


@tf_op("Cumsum")
def tf_cumsum(ctx: TfCtx, x: Value, axis: Value, *, exclusive: bool = False, reverse: bool = False,
              **_: Any) -> Value:
    """Cumsum(x: T, axis: Tidx, *, exclusive=false, reverse=false) -> out: T"""
    return ctx.op("CumSum", [x, axis], {"exclusive": int(exclusive), "reverse": int(reverse)})


# ---------------------------------------------------------------- matrix products
def _swap_last(ctx: TfCtx, x: Value) -> Value:
    r = ctx.rank(x)
    perm = [*range(r - 2), r - 1, r - 2]
    return ctx.permuted_weight(x, perm)


@tf_op("MatMul")
def tf_matmul(ctx: TfCtx, a: Value, b: Value, *, transpose_a: bool = False, transpose_b: bool = False,
              **_: Any) -> Value:
    """MatMul(a: T, b: T, *, transpose_a=false, transpose_b=false) -> product: T"""
    if transpose_a:
        a = _swap_last(ctx, a)
    if transpose_b:
        b = _swap_last(ctx, b)
    return ctx.op("MatMul", [a, b])


@tf_op("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def tf_batch_matmul(ctx: TfCtx, x: Value, y: Value, *, adj_x: bool = False, adj_y: bool = False,
                    **_: Any) -> Value:
    """BatchMatMulV2(x: T, y: T, *, adj_x=false, adj_y=false) -> output: T

    (V3 has separate input and output types: the inputs are cast to ``Tout``.)"""
    out = ctx.out_dtype()
    x, y = ctx.cast(x, out) if x.dtype is not None else x, ctx.cast(y, out) if y.dtype is not None else y
    if adj_x:
        x = _swap_last(ctx, x)
    if adj_y:
        y = _swap_last(ctx, y)
    return ctx.op("MatMul", [x, y])


@tf_op("Einsum")
def tf_einsum(ctx: TfCtx, *inputs: Value, equation: str, **_: Any) -> Value:
    """Einsum(inputs: N * T, *, equation) -> output: T"""
    return ctx.op("Einsum", list(inputs), {"equation": equation.replace(" ", "")})
