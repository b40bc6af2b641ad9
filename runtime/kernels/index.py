"""Kernels: gather / scatter and other index-driven ops (Gather, GatherElements, GatherND,
Scatter, ScatterElements, ScatterND, OneHot, NonZero, Unique, Compress, ReverseSequence).

Negative indices count from the back everywhere in ONNX, which is also what numpy fancy
indexing does, so indices go to numpy unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.runtime.registry import kernel


@kernel("Gather", since=1)
def gather(data: np.ndarray, indices: np.ndarray, *, axis: int = 0) -> np.ndarray:
    """Gather-1(data, indices) -> output; np.take along axis (negative indices from 11)."""
    try:
        return np.take(data, indices, axis=axis)
    except IndexError as e:
        raise ValueError(f"Gather: index out of range for axis {axis} of shape "
                         f"{data.shape}: {e}") from e


@kernel("GatherElements", since=11)
def gather_elements(data: np.ndarray, indices: np.ndarray, *, axis: int = 0) -> np.ndarray:
    """GatherElements-11(data, indices) -> output; out[i][j] = data[indices[i][j]][j] (axis 0).
    The output has the shape of ``indices``, whose other dims may be smaller than data's
    (np.take_along_axis would broadcast them up instead: cut data to them first)."""
    axis = norm_axis(axis, data.ndim, "GatherElements")
    if indices.ndim == data.ndim:
        data = data[tuple(slice(None) if i == axis else slice(0, n) for i, n in enumerate(indices.shape))]
    try:
        return np.take_along_axis(data, indices.astype(np.intp, copy=False), axis=axis)
    except IndexError as e:
        raise ValueError(f"GatherElements: index out of range: {e}") from e


def _gather_nd(data: np.ndarray, indices: np.ndarray, batch_dims: int) -> np.ndarray:
    b = batch_dims
    k = indices.shape[-1]
    if k > data.ndim - b:
        raise ValueError(f"GatherND: index tuples of length {k} exceed the rank {data.ndim} "
                         f"of data minus batch_dims {b}")
    batch_shape = data.shape[:b]
    query_shape = indices.shape[b:-1]
    nb = int(np.prod(batch_shape))
    nq = int(np.prod(query_shape))
    # Flatten the batch dims to one, so a single fancy index covers every batch at once.
    flat = data.reshape((nb,) + data.shape[b:])
    idx = indices.reshape(nb, nq, k)
    picked = flat[(np.arange(nb)[:, None],) + tuple(idx[..., j] for j in range(k))]
    return picked.reshape(batch_shape + query_shape + data.shape[b + k:])


@kernel("GatherND", since=11)
def gather_nd(data: np.ndarray, indices: np.ndarray, *, batch_dims: int = 0) -> np.ndarray:
    """GatherND-11/12/13(data, indices) -> output; the leading batch_dims (12) dims are shared."""
    return _gather_nd(data, indices, batch_dims)


_REDUCE: dict[str, Callable[..., None]] = {
    "add": np.add.at, "mul": np.multiply.at, "max": np.maximum.at, "min": np.minimum.at,
}


def _apply(out: np.ndarray, index: tuple[np.ndarray, ...], updates: np.ndarray,
           reduction: str) -> np.ndarray:
    if reduction == "none":
        out[index] = updates  # duplicates: the spec leaves the winner undefined
    elif reduction in _REDUCE:
        # ufunc.at applies duplicated indices one after the other, as the spec asks.
        _REDUCE[reduction](out, index, updates)
    else:
        raise ValueError(f"unknown reduction {reduction!r} (none, add, mul, max or min)")
    return out


def _scatter_elements(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, axis: int,
                      reduction: str) -> np.ndarray:
    if indices.shape != updates.shape:
        raise ValueError(f"indices {indices.shape} and updates {updates.shape} differ in shape")
    axis = norm_axis(axis, data.ndim, "ScatterElements")
    index: list[np.ndarray] = list(np.indices(indices.shape, sparse=True))
    index[axis] = indices
    try:
        return _apply(data.copy(), tuple(index), updates, reduction)
    except IndexError as e:
        raise ValueError(f"ScatterElements: index out of range: {e}") from e


@kernel("Scatter", since=9)
def scatter(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, *,
            axis: int = 0) -> np.ndarray:
    """Scatter-9(data, indices, updates) -> output; deprecated alias of ScatterElements."""
    return _scatter_elements(data, indices, updates, axis, "none")


@kernel("ScatterElements", since=11)
def scatter_elements(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, *,
                     axis: int = 0, reduction: str = "none") -> np.ndarray:
    """ScatterElements-11/13/16/18(data, indices, updates) -> output; reduction (16)
    none/add/mul, max/min from 18."""
    return _scatter_elements(data, indices, updates, axis, reduction)


def _scatter_nd(data: np.ndarray, indices: np.ndarray, updates: np.ndarray,
                reduction: str) -> np.ndarray:
    k = indices.shape[-1]
    expect = indices.shape[:-1] + data.shape[k:]
    if k > data.ndim or updates.shape != expect:
        raise ValueError(f"ScatterND: updates shape {updates.shape} should be {expect}")
    index = tuple(indices[..., j] for j in range(k))
    try:
        return _apply(data.copy(), index, updates, reduction)
    except IndexError as e:
        raise ValueError(f"ScatterND: index out of range: {e}") from e


@kernel("ScatterND", since=11)
def scatter_nd(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, *,
               reduction: str = "none") -> np.ndarray:
    """ScatterND-11/13/16/18(data, indices, updates) -> output; reduction (16) none/add/mul,
    max/min from 18."""
    return _scatter_nd(data, indices, updates, reduction)


@kernel("OneHot", since=9)
def one_hot(indices: np.ndarray, depth: np.ndarray, values: np.ndarray, *,
            axis: int = -1) -> np.ndarray:
    """OneHot-9(indices, depth, values) -> output; values = [off_value, on_value]."""
    d = int(np.asarray(depth).reshape(-1)[0])
    if d <= 0:
        raise ValueError(f"OneHot: depth must be positive, got {d}")
    ind = indices.astype(np.int64)  # float indices truncate, as the spec's casts do
    ind = np.where(ind < 0, ind + d, ind)  # out-of-range ones match no position: all off
    axis = norm_axis(axis, indices.ndim + 1, "OneHot")
    hot = np.moveaxis(ind[..., None] == np.arange(d), -1, axis)
    off, on = values.reshape(-1)[:2]
    return np.where(hot, on, off).astype(values.dtype, copy=False)


@kernel("NonZero", since=9)
def non_zero(X: np.ndarray) -> np.ndarray:
    """NonZero-9(X) -> Y int64 [rank, nnz]; a scalar counts as a 1-element vector."""
    return np.array(np.nonzero(np.atleast_1d(X)), dtype=np.int64)


@kernel("Unique", since=11)
def unique(X: np.ndarray, *, axis: int | None = None,
           sorted: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique-11(X) -> (Y, indices, inverse_indices, counts); sorted or first-occurrence order."""
    if axis is not None:
        axis = norm_axis(axis, X.ndim, "Unique")
    y, first, inverse, counts = np.unique(X, return_index=True, return_inverse=True,
                                          return_counts=True, axis=axis)
    inverse = inverse.reshape(-1)
    if not sorted:
        # Reorder the sorted uniques by where they first occur, and renumber the inverse.
        order = np.argsort(first, kind="stable")
        y = np.take(y, order, axis=0 if axis is None else axis)
        first, counts = first[order], counts[order]
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        inverse = rank[inverse]
    i64 = np.int64
    return y, first.astype(i64), inverse.astype(i64), counts.astype(i64)


@kernel("Compress", since=9)
def compress(input: np.ndarray, condition: np.ndarray, *, axis: int | None = None) -> np.ndarray:
    """Compress-9(input, condition) -> output; flattened input when axis is absent."""
    try:
        return np.compress(condition.astype(bool, copy=False).reshape(-1), input, axis=axis)
    except IndexError as e:
        raise ValueError(f"Compress: condition longer than the axis: {e}") from e


@kernel("ReverseSequence", since=10)
def reverse_sequence(input: np.ndarray, sequence_lens: np.ndarray, *, batch_axis: int = 1,
                     time_axis: int = 0) -> np.ndarray:
    """ReverseSequence-10(input, sequence_lens) -> Y; reverses the first lens[b] time steps."""
    if {batch_axis, time_axis} != {0, 1}:
        raise ValueError("ReverseSequence: batch_axis and time_axis must be 0 and 1")
    t = np.arange(input.shape[time_axis])[:, None]  # [T, 1]
    lens = sequence_lens.astype(np.int64)[None, :]  # [1, B]
    src = np.where(t < lens, lens - 1 - t, t)  # source time step, [T, B]
    if time_axis == 1:
        src = src.T
    src = src.reshape(src.shape + (1,) * (input.ndim - 2))
    return np.take_along_axis(input, src, axis=time_axis)
