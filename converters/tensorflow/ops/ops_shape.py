"""Shape manipulation: reshape, transpose, concat/pack/unpack/split, tile, expand/squeeze,
shape queries, fill/range/broadcast, padding, and the identity-like ops. Each function's
docstring is the TF op signature."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.converters.tensorflow.context import TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


# ---------------------------------------------------------------- identity-like
@tf_op("Identity", "StopGradient", "Snapshot", "PreventGradient", "EnsureShape", "CheckNumerics",
       "CheckNumericsV2", "PlaceholderWithDefault")
def tf_identity(ctx: TfCtx, input: Value, **_: Any) -> Value:
    """Identity(input: T) -> output: T  (also StopGradient, Snapshot, EnsureShape, CheckNumerics,
    PlaceholderWithDefault: at inference each passes its input through)"""
    return input


@tf_op("IdentityN")
def tf_identity_n(ctx: TfCtx, *input: Value, **_: Any) -> list[Value]:
    """IdentityN(input: T (list)) -> output: T (list)"""
    return list(input)


@tf_op("NoOp")
def tf_no_op(ctx: TfCtx, **_: Any) -> list[Value]:
    """NoOp()  (only orders side effects; the frozen graph has none)"""
    return []


# ---------------------------------------------------------------- reshape / transpose
def _weight_view(ctx: TfCtx, x: Value) -> Value | None:
    """A reshaped *weight* (Keras reshapes BatchNormalization's statistics and conv biases
    to broadcast): a new initializer keeping the Keras name and role, not a run-time op,
    so that later passes see a constant (and can move layouts through it)."""
    shape = ctx.out_shape()
    if not (x.is_const and x.source_name) or shape is None or not all(isinstance(d, int) for d in shape):
        return None
    return ctx.reshaped_weight(x, [int(d) for d in shape])


@tf_op("Reshape")
def tf_reshape(ctx: TfCtx, tensor: Value, shape: Value, **_: Any) -> Value:
    """Reshape(tensor: T, shape: Tshape) -> output: T"""
    view = _weight_view(ctx, tensor)
    if view is not None:
        return view
    const = ctx.static_value(shape)
    if const is not None:
        dims = [int(d) for d in const.reshape(-1)]
        allowzero = int(0 in dims)  # TF's 0 is an empty dim, ONNX's default 0 copies the input dim
        return ctx.op("Reshape", [tensor, ctx.const(np.array(dims, np.int64))], {"allowzero": allowzero})
    return ctx.op("Reshape", [tensor, ctx.ints(shape)])


@tf_op("Transpose", "ConjugateTranspose")
def tf_transpose(ctx: TfCtx, x: Value, perm: Value, **_: Any) -> Value:
    """Transpose(x: T, perm: Tperm) -> y: T"""
    return ctx.op("Transpose", [x], {"perm": ctx.static_ints(perm, "the permutation")})


@tf_op("ExpandDims")
def tf_expand_dims(ctx: TfCtx, input: Value, dim: Value, **_: Any) -> Value:
    """ExpandDims(input: T, dim: Tdim) -> output: T"""
    view = _weight_view(ctx, input)
    if view is not None:
        return view
    axis = ctx.static_int(dim, "the new axis")
    return ctx.unsqueeze(input, [axis if axis >= 0 else axis + ctx.rank(input) + 1])


@tf_op("Squeeze")
def tf_squeeze(ctx: TfCtx, input: Value, *, squeeze_dims: tuple[int, ...] = (), **_: Any) -> Value:
    """Squeeze(input: T, *, squeeze_dims=[]) -> output: T  (no dims: every size-1 dim)"""
    view = _weight_view(ctx, input)
    if view is not None:
        return view
    return ctx.squeeze(input, list(squeeze_dims) if squeeze_dims else None)


# ---------------------------------------------------------------- concat / pack / split
@tf_op("ConcatV2")
def tf_concat_v2(ctx: TfCtx, *args: Value, **_: Any) -> Value:
    """ConcatV2(values: N * T, axis: Tidx) -> output: T"""
    axis = ctx.static_int(args[-1], "the concat axis")
    return _concat(ctx, list(args[:-1]), axis)


@tf_op("Concat")
def tf_concat(ctx: TfCtx, concat_dim: Value, *values: Value, **_: Any) -> Value:
    """Concat(concat_dim: int32, values: N * T) -> output: T"""
    return _concat(ctx, list(values), ctx.static_int(concat_dim, "the concat axis"))


def _concat(ctx: TfCtx, values: list[Value], axis: int) -> Value:
    if len(values) == 1:
        return ctx.op("Identity", values)
    return ctx.op("Concat", values, {"axis": axis})


@tf_op("Pack")
def tf_pack(ctx: TfCtx, *values: Value, axis: int = 0, **_: Any) -> Value:
    """Pack(values: N * T, *, axis=0) -> output: T"""
    rank = len(ctx.out_shape() or ()) or ctx.rank(values[0]) + 1
    axis = axis if axis >= 0 else axis + rank
    parts = [ctx.unsqueeze(v, [axis]) for v in values]
    return parts[0] if len(parts) == 1 else ctx.op("Concat", parts, {"axis": axis})


def _split(ctx: TfCtx, x: Value, sizes: list[int], axis: int) -> list[Value]:
    if len(sizes) == 1:
        return [ctx.op("Identity", [x])]
    outs = ctx.op("Split", [x, ctx.const(np.array(sizes, np.int64))], {"axis": axis}, n_outputs=len(sizes))
    return list(outs)


def _dim(ctx: TfCtx, x: Value, axis: int, what: str) -> int:
    shape = x.shape
    d = shape[axis] if shape is not None and -len(shape) <= axis < len(shape) else None
    if not isinstance(d, int):
        raise ctx.fail(f"{what} needs the static size of axis {axis}, got shape {shape}")
    return d


@tf_op("Unpack")
def tf_unpack(ctx: TfCtx, value: Value, *, num: int, axis: int = 0, **_: Any) -> list[Value]:
    """Unpack(value: T, *, num, axis=0) -> output: num * T"""
    axis = axis if axis >= 0 else axis + ctx.rank(value)
    return [ctx.squeeze(p, [axis]) for p in _split(ctx, value, [1] * num, axis)]


@tf_op("Split")
def tf_split(ctx: TfCtx, axis: Value, value: Value, *, num_split: int, **_: Any) -> list[Value]:
    """Split(axis: int32, value: T, *, num_split) -> output: num_split * T"""
    ax = ctx.static_int(axis, "the split axis")
    shape = value.shape
    d = shape[ax] if shape is not None else None
    if isinstance(d, int):
        return _split(ctx, value, [d // num_split] * num_split, ax)
    if ctx.opset < 18:
        raise ctx.fail("splitting a dynamic axis into equal parts needs opset 18+")
    return list(ctx.op("Split", [value], {"axis": ax, "num_outputs": num_split}, n_outputs=num_split))


@tf_op("SplitV")
def tf_split_v(ctx: TfCtx, value: Value, size_splits: Value, axis: Value, *, num_split: int,
               **_: Any) -> list[Value]:
    """SplitV(value: T, size_splits: Tlen, axis: int32, *, num_split) -> output: num_split * T"""
    ax = ctx.static_int(axis, "the split axis")
    sizes = ctx.static_ints(size_splits, "the split sizes")
    if -1 in sizes:
        rest = _dim(ctx, value, ax, "a -1 split size") - sum(s for s in sizes if s != -1)
        sizes = [rest if s == -1 else s for s in sizes]
    return _split(ctx, value, sizes, ax)


@tf_op("Tile")
def tf_tile(ctx: TfCtx, input: Value, multiples: Value, **_: Any) -> Value:
    """Tile(input: T, multiples: Tmultiples) -> output: T"""
    return ctx.op("Tile", [input, ctx.ints(multiples)])


# ---------------------------------------------------------------- shape queries and creation
@tf_op("Shape")
def tf_shape(ctx: TfCtx, input: Value, *, out_type: DType = DType.INT32, **_: Any) -> Value:
    """Shape(input: T, *, out_type=int32) -> output: out_type"""
    return ctx.cast(ctx.op("Shape", [input], dtype=DType.INT64), out_type)


@tf_op("Size")
def tf_size(ctx: TfCtx, input: Value, *, out_type: DType = DType.INT32, **_: Any) -> Value:
    """Size(input: T, *, out_type=int32) -> output: out_type"""
    return ctx.cast(ctx.op("Size", [input], dtype=DType.INT64), out_type)


@tf_op("Rank")
def tf_rank(ctx: TfCtx, input: Value, **_: Any) -> Value:
    """Rank(input: T) -> output: int32"""
    if input.shape is not None:
        return ctx.const(np.int32(len(input.shape)))
    size = ctx.op("Size", [ctx.op("Shape", [input])], dtype=DType.INT64)
    return ctx.cast(size, DType.INT32)


@tf_op("Fill")
def tf_fill(ctx: TfCtx, dims: Value, value: Value, **_: Any) -> Value:
    """Fill(dims: index_type, value: T) -> output: T"""
    return ctx.op("Expand", [value, ctx.ints(dims)])


@tf_op("BroadcastTo")
def tf_broadcast_to(ctx: TfCtx, input: Value, shape: Value, **_: Any) -> Value:
    """BroadcastTo(input: T, shape: Tidx) -> output: T"""
    return ctx.op("Expand", [input, ctx.ints(shape)])


@tf_op("Range")
def tf_range(ctx: TfCtx, start: Value, limit: Value, delta: Value, **_: Any) -> Value:
    """Range(start: Tidx, limit: Tidx, delta: Tidx) -> output: Tidx"""
    return ctx.op("Range", [start, limit, delta])


# ---------------------------------------------------------------- padding
def _onnx_pads(ctx: TfCtx, paddings: Value) -> Value:
    """TF paddings ``[rank, 2]`` (before, after per dim) -> ONNX pads (all befores, all afters)."""
    const = ctx.static_value(paddings)
    if const is not None:
        return ctx.const(np.asarray(const, np.int64).T.reshape(-1))
    t = ctx.op("Transpose", [ctx.ints(paddings)], {"perm": [1, 0]})
    return ctx.op("Reshape", [t, ctx.const(np.array([-1], np.int64))])


@tf_op("Pad")
def tf_pad(ctx: TfCtx, input: Value, paddings: Value, **_: Any) -> Value:
    """Pad(input: T, paddings: Tpaddings) -> output: T"""
    return ctx.op("Pad", [input, _onnx_pads(ctx, paddings)], {"mode": "constant"})


@tf_op("PadV2")
def tf_pad_v2(ctx: TfCtx, input: Value, paddings: Value, constant_values: Value, **_: Any) -> Value:
    """PadV2(input: T, paddings: Tpaddings, constant_values: T) -> output: T"""
    return ctx.op("Pad", [input, _onnx_pads(ctx, paddings), constant_values], {"mode": "constant"})


@tf_op("MirrorPad")
def tf_mirror_pad(ctx: TfCtx, input: Value, paddings: Value, *, mode: str, **_: Any) -> Value:
    """MirrorPad(input: T, paddings: Tpaddings, *, mode) -> output: T  (mode REFLECT|SYMMETRIC)"""
    if mode.upper() == "REFLECT":
        return ctx.op("Pad", [input, _onnx_pads(ctx, paddings)], {"mode": "reflect"})
    return _symmetric_pad(ctx, input, ctx.static_ints(paddings, "SYMMETRIC paddings"))


def _symmetric_pad(ctx: TfCtx, x: Value, flat: list[int]) -> Value:
    """SYMMETRIC mirror padding (edge included; ONNX has no such mode): per padded axis,
    concatenate reversed slices of the borders."""
    for axis in range(len(flat) // 2):
        before, after = flat[2 * axis], flat[2 * axis + 1]
        if not before and not after:
            continue
        parts = []
        if before:
            parts.append(_reversed_slice(ctx, x, axis, before - 1, -1))
        parts.append(x)
        if after:
            parts.append(_reversed_slice(ctx, x, axis, -1, -after - 1))
        x = ctx.op("Concat", parts, {"axis": axis})
    return x


def _reversed_slice(ctx: TfCtx, x: Value, axis: int, start: int, end: int) -> Value:
    big = np.iinfo(np.int64).min
    args = [x, ctx.const(np.array([start], np.int64)), ctx.const(np.array([end if end != -1 else big], np.int64)),
            ctx.const(np.array([axis], np.int64)), ctx.const(np.array([-1], np.int64))]
    return ctx.op("Slice", args)

