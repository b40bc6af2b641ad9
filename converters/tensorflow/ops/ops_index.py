"""Indexing: Slice, StridedSlice (all five masks), gathers, one-hot, reverse, top-k,
Where, band parts and rolls. Each function's docstring is the TF op signature."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorbridge.converters.tensorflow.context import INT64_MAX, INT64_MIN, TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value

Item = int | Value  # a static int, or a 1-element int64 tensor


def _vector(ctx: TfCtx, items: list[Item]) -> Value:
    """A 1-D int64 tensor from static ints and 1-element tensors."""
    if all(isinstance(i, int) for i in items):
        return ctx.const(np.array(items, np.int64))
    parts = [ctx.const(np.array([i], np.int64)) if isinstance(i, int) else i for i in items]
    return ctx.op("Concat", parts, {"axis": 0})


def _element(ctx: TfCtx, v: Value, const: np.ndarray | None, i: int) -> Item:
    """Element ``i`` of a 1-D int input: an int when constant, else a 1-element int64 tensor."""
    if const is not None:
        return int(const.reshape(-1)[i])
    picked = ctx.op("Gather", [v, ctx.const(np.array([i], np.int64))], {"axis": 0})
    return ctx.cast(ctx.typed(picked, ctx.dtype(v) if v.dtype else DType.INT32, [1]), DType.INT64)


# ---------------------------------------------------------------- Slice
@tf_op("Slice")
def tf_slice(ctx: TfCtx, input: Value, begin: Value, size: Value, **_: Any) -> Value:
    """Slice(input: T, begin: Index, size: Index) -> output: T  (size -1: to the end)"""
    b, s = ctx.static_value(begin), ctx.static_value(size)
    if b is not None and s is not None:
        starts = [int(x) for x in b.reshape(-1)]
        ends = [INT64_MAX if int(n) == -1 else st + int(n) for st, n in zip(starts, s.reshape(-1))]
        return ctx.op("Slice", [input, ctx.const(np.array(starts, np.int64)), ctx.const(np.array(ends, np.int64))])
    b64, s64 = ctx.ints(begin), ctx.ints(size)
    to_end = ctx.op("Equal", [s64, ctx.const(np.int64(-1))])
    ends = ctx.op("Where", [to_end, ctx.const(np.int64(INT64_MAX)), ctx.op("Add", [b64, s64])])
    return ctx.op("Slice", [input, b64, ends])


# ---------------------------------------------------------------- StridedSlice
@dataclass
class _Spec:
    """A StridedSlice spec resolved against the input rank."""

    axes: list[int] = field(default_factory=list)  # input axes sliced by Slice
    starts: list[Item] = field(default_factory=list)
    ends: list[Item] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    squeeze: list[int] = field(default_factory=list)  # input axes shrunk (static index)
    gathers: list[tuple[int, Value]] = field(default_factory=list)  # input axes shrunk (dynamic index)
    new_axes: list[int] = field(default_factory=list)  # positions in the output


def _resolve(ctx: TfCtx, rank: int, begin: Value, end: Value, strides: list[int], masks: dict[str, int]) -> _Spec:
    b_c, e_c = ctx.static_value(begin), ctx.static_value(end)
    spec, n = _Spec(), len(strides)
    real = sum(1 for i in range(n) if not (masks["ellipsis"] >> i) & 1 and not (masks["new_axis"] >> i) & 1)
    in_axis = out_axis = 0
    for i, step in enumerate(strides):
        bit = 1 << i
        if masks["ellipsis"] & bit:
            k = rank - real
            in_axis, out_axis = in_axis + k, out_axis + k
        elif masks["new_axis"] & bit:
            spec.new_axes.append(out_axis)
            out_axis += 1
        elif masks["shrink"] & bit:
            _shrink(ctx, spec, in_axis, _element(ctx, begin, b_c, i))
            in_axis += 1
        else:
            start = (0 if step > 0 else INT64_MAX) if masks["begin"] & bit else _element(ctx, begin, b_c, i)
            stop = (INT64_MAX if step > 0 else INT64_MIN) if masks["end"] & bit else _element(ctx, end, e_c, i)
            if not (start == 0 and stop == INT64_MAX and step == 1):
                spec.axes.append(in_axis)
                spec.starts.append(start)
                spec.ends.append(stop)
                spec.steps.append(step)
            in_axis, out_axis = in_axis + 1, out_axis + 1
    return spec


def _shrink(ctx: TfCtx, spec: _Spec, axis: int, index: Item) -> None:
    if isinstance(index, int):
        spec.axes.append(axis)
        spec.starts.append(index)
        spec.ends.append(INT64_MAX if index == -1 else index + 1)
        spec.steps.append(1)
        spec.squeeze.append(axis)
    else:
        spec.gathers.append((axis, index))


@tf_op("StridedSlice")
def tf_strided_slice(ctx: TfCtx, input: Value, begin: Value, end: Value, strides: Value, *,
                     begin_mask: int = 0, end_mask: int = 0, ellipsis_mask: int = 0,
                     new_axis_mask: int = 0, shrink_axis_mask: int = 0, **_: Any) -> Value:
    """StridedSlice(input: T, begin: Index, end: Index, strides: Index, *, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0) -> output: T

    -> Slice over the sliced axes, Gather/Squeeze for shrunk axes, Unsqueeze for new axes."""
    masks = {"begin": begin_mask, "end": end_mask, "ellipsis": ellipsis_mask, "new_axis": new_axis_mask,
             "shrink": shrink_axis_mask}
    steps = ctx.static_ints(strides, "the strides")
    spec = _resolve(ctx, ctx.rank(input), begin, end, steps, masks)
    x = input
    if spec.axes:
        x = ctx.op("Slice", [x, _vector(ctx, spec.starts), _vector(ctx, spec.ends),
                             ctx.const(np.array(spec.axes, np.int64)), ctx.const(np.array(spec.steps, np.int64))])
    squeeze = list(spec.squeeze)
    for axis, index in sorted(spec.gathers, key=lambda g: -g[0]):
        x = ctx.op("Gather", [x, ctx.squeeze(index, [0])], {"axis": axis})
        squeeze = [a - 1 if a > axis else a for a in squeeze]
    if squeeze:
        x = ctx.squeeze(x, sorted(squeeze))
    if spec.new_axes:
        x = ctx.unsqueeze(x, spec.new_axes)
    return x if x is not input else ctx.op("Identity", [x])


# ---------------------------------------------------------------- gathers
@tf_op("GatherV2")
def tf_gather_v2(ctx: TfCtx, params: Value, indices: Value, axis: Value, *, batch_dims: int = 0,
                 **_: Any) -> Value:
    """GatherV2(params: Tparams, indices: Tindices, axis: Taxis, *, batch_dims=0) -> output: Tparams"""
    a = ctx.static_int(axis, "the gather axis")
    if batch_dims:
        return _batched_gather(ctx, params, indices, a, batch_dims)
    return ctx.op("Gather", [params, indices], {"axis": a})


@tf_op("Gather", "ResourceGather")
def tf_gather(ctx: TfCtx, params: Value, indices: Value, *, batch_dims: int = 0, **_: Any) -> Value:
    """ResourceGather(resource, indices: Tindices, *, batch_dims=0, validate_indices=true, dtype) -> output: dtype

    (After freezing, the resource is the variable's constant value; Gather v1 is the same.
    With batch_dims, the gathered axis is the first one after the batch axes.)"""
    if batch_dims:
        return _batched_gather(ctx, params, indices, batch_dims, batch_dims)
    return ctx.op("Gather", [params, indices], {"axis": 0})


def _batched_gather(ctx: TfCtx, params: Value, indices: Value, axis: int, batch_dims: int) -> Value:
    """tf.gather with ``batch_dims`` b > 0 along ``axis`` a >= b: ONNX GatherND with
    batch_dims=b gathers axis b with one-element index tuples, so axis a moves to b first
    and the axes b..a-1 it passed move back in front of the index axes afterwards:
    out[B, M, I, R] = params[B, M, indices[B, I], R]."""
    r, m = ctx.rank(params), ctx.rank(indices)
    b = batch_dims + m if batch_dims < 0 else batch_dims
    a = axis + r if axis < 0 else axis
    if not 0 <= b <= m or not b <= a < r:
        raise ctx.fail(f"batch_dims={batch_dims} with axis={axis} for params of rank {r} and indices of "
                       f"rank {m}: TensorFlow needs batch_dims <= axis < rank(params) and batch_dims <= rank(indices)")
    if a > b:
        params = ctx.op("Transpose", [params], {"perm": [*range(b), a, *range(b, a), *range(a + 1, r)]})
    out = ctx.op("GatherND", [params, ctx.unsqueeze(ctx.cast(indices, DType.INT64), [-1])], {"batch_dims": b})
    if a == b:
        return out
    ind, mid = list(range(b, m)), list(range(m, m + a - b))  # axes of out: B, I, M, R
    return ctx.op("Transpose", [out], {"perm": [*range(b), *mid, *ind, *range(m + a - b, m + r - b - 1)]})


@tf_op("GatherNd")
def tf_gather_nd(ctx: TfCtx, params: Value, indices: Value, **_: Any) -> Value:
    """GatherNd(params: Tparams, indices: Tindices) -> output: Tparams"""
    return ctx.op("GatherND", [params, ctx.cast(indices, DType.INT64)])


@tf_op("OneHot")
def tf_one_hot(ctx: TfCtx, indices: Value, depth: Value, on_value: Value, off_value: Value, *,
               axis: int = -1, **_: Any) -> Value:
    """OneHot(indices: TI, depth: int32, on_value: T, off_value: T, *, axis=-1) -> output: T

    TF gives an all-off row for a negative index; ONNX would count it from the end."""
    idx_dtype = ctx.dtype(indices)
    depth_i = ctx.cast(depth, idx_dtype)
    negative = ctx.op("Less", [indices, ctx.const(0, idx_dtype)])
    safe = ctx.op("Where", [negative, depth_i, indices])
    values = ctx.op("Concat", [ctx.unsqueeze(off_value, [0]), ctx.unsqueeze(on_value, [0])], {"axis": 0})
    return ctx.op("OneHot", [safe, ctx.op("Reshape", [depth, ctx.const(np.array([1], np.int64))]), values],
                  {"axis": axis})


# ---------------------------------------------------------------- misc indexing
@tf_op("ReverseV2")
def tf_reverse_v2(ctx: TfCtx, tensor: Value, axis: Value, **_: Any) -> Value:
    """ReverseV2(tensor: T, axis: Tidx) -> output: T"""
    axes = ctx.static_ints(axis, "the reversed axes")
    if not axes:
        return ctx.op("Identity", [tensor])
    n = len(axes)
    return ctx.op("Slice", [tensor, ctx.const(np.full(n, -1, np.int64)), ctx.const(np.full(n, INT64_MIN, np.int64)),
                            ctx.const(np.array(axes, np.int64)), ctx.const(np.full(n, -1, np.int64))])


@tf_op("TopKV2")
def tf_top_k_v2(ctx: TfCtx, input: Value, k: Value, *, sorted: bool = True, index_type: DType = DType.INT32,
                **_: Any) -> list[Value]:
    """TopKV2(input: T, k: Tk, *, sorted=true, index_type=int32) -> (values: T, indices: index_type)"""
    k1 = ctx.op("Reshape", [ctx.ints(k), ctx.const(np.array([1], np.int64))])
    values, idx = ctx.op("TopK", [input, k1], {"axis": -1, "largest": 1, "sorted": 1}, n_outputs=2)
    ctx.typed(idx, DType.INT64)
    return [values, ctx.cast(idx, index_type)]


@tf_op("Where")
def tf_where(ctx: TfCtx, input: Value, **_: Any) -> Value:
    """Where(input: T) -> index: int64  (coordinates of the true / non-zero elements, [N, rank])"""
    return ctx.op("Transpose", [ctx.op("NonZero", [input])], {"perm": [1, 0]})


@tf_op("MatrixBandPart")
def tf_matrix_band_part(ctx: TfCtx, input: Value, num_lower: Value, num_upper: Value, **_: Any) -> Value:
    """MatrixBandPart(input: T, num_lower: Tindex, num_upper: Tindex) -> band: T

    Keeps (i - j <= num_lower) and (j - i <= num_upper), a negative bound keeping the whole
    triangle (tf.linalg.band_part, keras.ops.tril/triu, causal attention masks)."""
    lower = ctx.static_int(num_lower, "num_lower")
    upper = ctx.static_int(num_upper, "num_upper")
    y = input
    if upper >= 0:
        y = ctx.op("Trilu", [y, ctx.const(np.int64(upper))], {"upper": 0})
    if lower >= 0:
        y = ctx.op("Trilu", [y, ctx.const(np.int64(-lower))], {"upper": 1})
    return y if y is not input else ctx.op("Identity", [y])


@tf_op("Roll")
def tf_roll(ctx: TfCtx, input: Value, shift: Value, axis: Value, **_: Any) -> Value:
    """Roll(input: T, shift: Tshift, axis: Taxis) -> output: T  (elements shifted cyclically)"""
    shifts = ctx.static_ints(shift, "the shift")
    axes = ctx.static_ints(axis, "the roll axes")
    x = input
    for s, a in zip(shifts * len(axes) if len(shifts) == 1 else shifts, axes):
        n = _static_dim(ctx, input, a)  # rolling keeps the shape
        k = s % n
        if k == 0:
            continue
        cut = ctx.const(np.array([n - k], np.int64))
        axis1 = ctx.const(np.array([a], np.int64))
        tail = ctx.op("Slice", [x, cut, ctx.const(np.array([INT64_MAX], np.int64)), axis1])
        head = ctx.op("Slice", [x, ctx.const(np.array([0], np.int64)), cut, axis1])
        x = ctx.op("Concat", [tail, head], {"axis": a})
    return x if x is not input else ctx.op("Identity", [x])


def _static_dim(ctx: TfCtx, x: Value, axis: int) -> int:
    shape = x.shape
    d = shape[axis] if shape is not None and -len(shape) <= axis < len(shape) else None
    if not isinstance(d, int):
        raise ctx.fail(f"needs the static size of axis {axis}, got shape {shape}")
    return d
