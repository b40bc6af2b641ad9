"""Gather / scatter and other index-driven emitters (Gather, GatherElements, GatherND,
Scatter, ScatterElements, ScatterND, OneHot, NonZero, Unique, Compress, ReverseSequence).

ONNX indices may be negative (counting from the back); TF's CPU kernels reject them, so
they are normalised with the dimension first."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.ops.shape import (
    I64,
    LAYER,
    axis_of,
    norm_index,
    rank_of,
    results,
)
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.ir.errors import UnsupportedOpError


@emits("Gather", since=1)
def gather(data: Any, indices: Any, *, axis: int = 0) -> Any:
    """Gather-1(data, indices) -> output; np.take along axis (negative indices from 11)."""
    axis = axis_of(data, axis, "Gather")
    dim = tf.shape(data, out_type=indices.dtype)[axis]
    return tf.gather(data, norm_index(indices, dim), axis=axis)


def _coords(indices: Any, axis: int, dim: Any) -> Any:
    """The full coordinates [..., rank] of every element of ``indices``, with the (normalised)
    index itself on ``axis``: turns the elementwise ops into gather_nd / scatter_nd."""
    rank = rank_of(indices, "GatherElements")
    shape = tf.shape(indices, out_type=I64)
    grids = tf.meshgrid(*[tf.range(shape[i]) for i in range(rank)], indexing="ij")
    grids[axis] = norm_index(tf.cast(indices, I64), dim)
    return tf.stack(grids, axis=-1)


@emits("GatherElements", since=11)
def gather_elements(data: Any, indices: Any, *, axis: int = 0) -> Any:
    """GatherElements-11(data, indices) -> output; out[i][j] = data[indices[i][j]][j] (axis 0).
    Indices may be smaller than data on the other axes, so this is no batched tf.gather."""
    axis = norm_axis(axis, rank_of(data, "GatherElements"), "GatherElements")
    dim = tf.shape(data, out_type=I64)[axis]
    return tf.gather_nd(data, _coords(indices, axis, dim))


def _norm_nd(data: Any, indices: Any, batch_dims: int) -> Any:
    k = indices.shape[-1]
    if k is None:
        raise UnsupportedOpError(LAYER, "GatherND", hint="the last dimension of indices (the "
                                 "index tuple length) must be static")
    dim = tf.shape(data, out_type=indices.dtype)[batch_dims:batch_dims + k]
    return norm_index(indices, dim)


@emits("GatherND", since=11)
def gather_nd(data: Any, indices: Any, *, batch_dims: int = 0) -> Any:
    """GatherND-11/12/13(data, indices) -> output; the leading batch_dims (12) dims are
    shared."""
    return tf.gather_nd(data, _norm_nd(data, indices, batch_dims), batch_dims=batch_dims)


def _scatter_mul(data: Any, indices: Any, updates: Any) -> Any:
    """TF has no tensor_scatter_nd_mul: multiply all updates of each target slice together
    (segment product, 1 where nothing lands) and multiply data by that."""
    k = indices.shape[-1]
    shape = tf.shape(data, out_type=I64)
    idx = tf.reshape(tf.cast(indices, I64), [-1, k])
    flat = idx[:, 0]
    for j in range(1, k):  # row-major linear index into the first k dims
        flat = flat * shape[j] + idx[:, j]
    slices = tf.reshape(updates, tf.concat([[-1], shape[k:]], 0))
    prod = tf.math.unsorted_segment_prod(slices, flat, tf.reduce_prod(shape[:k]))
    return data * tf.reshape(prod, shape)


_SCATTER = {"none": tf.tensor_scatter_nd_update, "add": tf.tensor_scatter_nd_add,
            "max": tf.tensor_scatter_nd_max, "min": tf.tensor_scatter_nd_min,
            "mul": _scatter_mul}


def _scatter(op_type: str, data: Any, indices: Any, updates: Any, reduction: str) -> Any:
    if reduction not in _SCATTER:
        raise UnsupportedOpError(LAYER, op_type, hint=f"unknown reduction {reduction!r} "
                                 "(none, add, mul, max or min)")
    # duplicates with reduction none: the spec leaves the winner undefined
    return _SCATTER[reduction](data, indices, updates)


def _scatter_elements(data: Any, indices: Any, updates: Any, axis: int, reduction: str) -> Any:
    axis = norm_axis(axis, rank_of(data, "ScatterElements"), "ScatterElements")
    dim = tf.shape(data, out_type=I64)[axis]
    return _scatter("ScatterElements", data, _coords(indices, axis, dim), updates, reduction)


@emits("Scatter", since=9)
def scatter(data: Any, indices: Any, updates: Any, *, axis: int = 0) -> Any:
    """Scatter-9(data, indices, updates) -> output; deprecated alias of ScatterElements."""
    return _scatter_elements(data, indices, updates, axis, "none")


@emits("ScatterElements", since=11)
def scatter_elements(data: Any, indices: Any, updates: Any, *, axis: int = 0,
                     reduction: str = "none") -> Any:
    """ScatterElements-11/13/16/18(data, indices, updates) -> output; reduction (16)
    none/add/mul, max/min from 18."""
    return _scatter_elements(data, indices, updates, axis, reduction)


@emits("ScatterND", since=11)
def scatter_nd(data: Any, indices: Any, updates: Any, *, reduction: str = "none") -> Any:
    """ScatterND-11/13/16/18(data, indices, updates) -> output; reduction (16) none/add/mul,
    max/min from 18."""
    return _scatter("ScatterND", data, _norm_nd(data, indices, 0), updates, reduction)


@emits("OneHot", since=9)
def one_hot(indices: Any, depth: Any, values: Any, *, axis: int = -1) -> Any:
    """OneHot-9(indices, depth, values) -> output; values = [off_value, on_value]."""
    d = tf.cast(tf.reshape(depth, [-1])[0], I64)
    ind = tf.cast(indices, I64)  # float indices truncate, as the spec's casts do
    ind = tf.where(ind < 0, ind + d, ind)  # still out of range: matches no position, all off
    axis = norm_axis(axis, rank_of(indices, "OneHot") + 1, "OneHot")
    if axis == rank_of(indices, "OneHot"):
        axis = -1  # tf.one_hot takes -1 for "last", not the positive spelling
    vals = tf.reshape(values, [-1])
    return tf.one_hot(ind, tf.cast(d, tf.int32), on_value=vals[1], off_value=vals[0], axis=axis,
                      dtype=values.dtype)


@emits("NonZero", since=9)
def non_zero(X: Any) -> Any:
    """NonZero-9(X) -> Y int64 [rank, nnz]; a scalar counts as a 1-element vector."""
    if X.shape.rank == 0:
        X = tf.reshape(X, [1])
    mask = X if X.dtype == tf.bool else tf.not_equal(X, tf.zeros_like(X))
    return tf.transpose(tf.where(mask))


@emits("Compress", since=9)
def compress(input: Any, condition: Any, *, axis: int | None = None) -> Any:
    """Compress-9(input, condition) -> output; flattened input when axis is absent. The
    condition may be shorter than the axis, so gather the true positions (no boolean_mask)."""
    if axis is None:
        input, axis = tf.reshape(input, [-1]), 0
    keep = tf.where(tf.reshape(tf.cast(condition, tf.bool), [-1]))[:, 0]
    return tf.gather(input, keep, axis=axis)


@emits("ReverseSequence", since=10)
def reverse_sequence(input: Any, sequence_lens: Any, *, batch_axis: int = 1,
                     time_axis: int = 0) -> Any:
    """ReverseSequence-10(input, sequence_lens) -> Y; reverses the first lens[b] time steps."""
    return tf.reverse_sequence(input, tf.cast(sequence_lens, I64), seq_axis=time_axis,
                               batch_axis=batch_axis)


def _sort_order(y: Any, axis: int | None) -> Any:
    """The permutation that sorts the unique values (or slices along ``axis``,
    lexicographically) ascending."""
    if axis is None:
        key = tf.cast(y, tf.float64) if y.dtype.is_floating else tf.cast(y, I64)
        return tf.argsort(key, stable=True)
    rows = tf.reshape(tf.experimental.numpy.moveaxis(y, axis, 0), [tf.shape(y)[axis], -1])
    a, b = rows[:, None, :], rows[None, :, :]
    differ = tf.not_equal(a, b)  # [n, n, cols]: the first differing column decides
    first = tf.argmax(tf.cast(differ, tf.int32), axis=-1, output_type=tf.int32)
    less = tf.gather(tf.less(a, b), first, batch_dims=2) & tf.reduce_any(differ, axis=-1)
    rank = tf.reduce_sum(tf.cast(less, tf.int32), axis=0)  # how many slices sort before each
    return tf.math.invert_permutation(rank)


@emits("Unique", since=11)
def unique(X: Any, *, axis: int | None = None, sorted: int = 1, ctx: EmitContext) -> Any:
    """Unique-11(X) -> (Y, indices, inverse_indices, counts); sorted or first-occurrence order.
    tf.unique gives first-occurrence order; sorting reorders and renumbers it."""
    if axis is None:
        x = tf.reshape(X, [-1])
        y, inverse = tf.unique(x, out_idx=I64)
    else:
        axis = norm_axis(axis, rank_of(X, "Unique"), "Unique")
        x = X
        y, inverse = tf.raw_ops.UniqueV2(x=X, axis=tf.constant([axis], I64), out_idx=I64)
    n_unique = tf.shape(y, out_type=I64)[axis or 0]
    n = tf.shape(x, out_type=I64)[axis or 0]
    first = tf.math.unsorted_segment_min(tf.range(n), inverse, n_unique)
    counts = tf.math.unsorted_segment_sum(tf.ones_like(inverse), inverse, n_unique)
    if sorted:
        order = tf.cast(_sort_order(y, axis), I64)
        y = tf.gather(y, order, axis=axis or 0)
        first, counts = tf.gather(first, order), tf.gather(counts, order)
        inverse = tf.gather(tf.math.invert_permutation(order), inverse)
    return results((y, first, inverse, counts), ctx)

