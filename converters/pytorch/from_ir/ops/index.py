"""Index-driven emitters: Gather, GatherElements, GatherND, Scatter, ScatterElements,
ScatterND, OneHot, NonZero, Unique, Compress, ReverseSequence.

ONNX indices may be negative (counting from the back). torch's advanced indexing accepts
that, as numpy does; torch.gather / scatter / index_put do not, so their indices are
wrapped first. Gather of a host value by host indices stays on the host (shape arithmetic)."""

from __future__ import annotations

from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import Host, T, index_list, scalar
from tensorbridge.converters.pytorch.from_ir.ops.shape import dims_of, pack, rank_of
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis

# ONNX reduction -> torch.scatter_reduce's name
_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


def _wrap(idx: Any, dim: Any) -> Any:
    """Negative indices counted from the back, as torch.gather / scatter need them."""
    return torch.where(idx < 0, idx + dim, idx)


@emits("Gather", since=1)
def gather(data: Any, indices: Any, *, axis: int = 0, ctx: EmitContext) -> Any:
    """Gather-1(data, indices) -> output; take along axis (negative indices from 11)."""
    if (isinstance(data, Host) and isinstance(indices, Host)
            and all(isinstance(i, int) for i in indices.items)):
        picked = tuple(index_list(data.items, i, "Gather") for i in indices.items)
        return Host(picked, data.dtype, scalar=indices.scalar)
    x = T(data)
    axis = norm_axis(axis, rank_of(data, ctx, 0), "Gather")
    if isinstance(indices, Host) and indices.scalar:
        return x.select(axis, indices.items[0])
    # One advanced index at `axis`: the result is data.shape[:axis] + indices.shape + rest.
    return x[(slice(None),) * axis + (T(indices),)]


@emits("GatherElements", since=11)
def gather_elements(data: Any, indices: Any, *, axis: int = 0, ctx: EmitContext) -> Any:
    """GatherElements-11(data, indices) -> output; out[i][j] = data[indices[i][j]][j] (axis 0)."""
    x = T(data)
    axis = norm_axis(axis, rank_of(data, ctx, 0), "GatherElements")
    idx = _wrap(T(indices), dims_of(x, ctx, 0)[axis])
    return torch.gather(x, axis, idx.long())


def _index_depth(ctx: EmitContext, idx: Any) -> int:
    """The length of an index tuple (the last dim of ``indices``)."""
    shape = ctx.input_shape(1)
    k = shape[-1] if shape else None
    return k if isinstance(k, int) else int(idx.shape[-1])


def _columns(idx: Any, k: int) -> list[Any]:
    """The k components of the index tuples (``idx[..., j]``; an fx proxy cannot unbind)."""
    return [idx[..., j] for j in range(k)]


def _gather_nd(data: Any, indices: Any, batch_dims: int, ctx: EmitContext) -> Any:
    x, idx = T(data), T(indices)
    b = batch_dims
    n_query = rank_of(indices, ctx, 1) - 1 - b
    dims = dims_of(x, ctx, 0)
    # Batch dim i is indexed by an arange broadcast against the index tuples: all the
    # advanced indices are adjacent, so the result is batch + query + data.shape[b + k:].
    batch = [torch.arange(dims[i], device=x.device).reshape([1] * i + [-1] + [1] * (b - 1 - i + n_query))
             for i in range(b)]
    return x[(*batch, *_columns(idx, _index_depth(ctx, idx)))]


@emits("GatherND", since=11)
def gather_nd(data: Any, indices: Any, *, batch_dims: int = 0, ctx: EmitContext) -> Any:
    """GatherND-11/12/13(data, indices) -> output; the leading batch_dims (12) dims are shared."""
    return _gather_nd(data, indices, batch_dims, ctx)


def _scatter_elements(data: Any, indices: Any, updates: Any, axis: int, reduction: str,
                      ctx: EmitContext) -> Any:
    x = T(data)
    axis = norm_axis(axis, rank_of(data, ctx, 0), "ScatterElements")
    idx = _wrap(T(indices), dims_of(x, ctx, 0)[axis]).long()
    upd = T(updates)
    if reduction == "none":
        return torch.scatter(x, axis, idx, upd)  # duplicates: the spec leaves the winner open
    if reduction not in _REDUCE:
        raise ValueError(f"unknown reduction {reduction!r} (none, add, mul, max or min)")
    return torch.scatter_reduce(x, axis, idx, upd, _REDUCE[reduction], include_self=True)


@emits("Scatter", since=9)
def scatter(data: Any, indices: Any, updates: Any, *, axis: int = 0, ctx: EmitContext) -> Any:
    """Scatter-9(data, indices, updates) -> output; deprecated alias of ScatterElements."""
    return _scatter_elements(data, indices, updates, axis, "none", ctx)


@emits("ScatterElements", since=11)
def scatter_elements(data: Any, indices: Any, updates: Any, *, axis: int = 0,
                     reduction: str = "none", ctx: EmitContext) -> Any:
    """ScatterElements-11/13/16/18(data, indices, updates) -> output; reduction (16)
    none/add/mul, max/min from 18."""
    return _scatter_elements(data, indices, updates, axis, reduction, ctx)


def _scatter_nd(data: Any, indices: Any, updates: Any, reduction: str, ctx: EmitContext) -> Any:
    x, idx, upd = T(data), T(indices).long(), T(updates)
    dims = dims_of(x, ctx, 0)
    k = _index_depth(ctx, idx)
    parts = [_wrap(p, dims[j]) for j, p in enumerate(_columns(idx, k))]
    if reduction in ("none", "add"):
        return x.index_put(tuple(parts), upd, accumulate=reduction == "add")
    if reduction not in _REDUCE:
        raise ValueError(f"unknown reduction {reduction!r} (none, add, mul, max or min)")
    # index_put only sums: scatter_reduce over the linear index of the first k dims.
    lin = parts[0]
    for j in range(1, k):
        lin = lin * dims[j] + parts[j]
    rest = dims[k:]
    lin = lin.reshape([-1] + [1] * len(rest)).expand([-1, *rest])
    flat = x.reshape([-1, *rest])
    out = flat.scatter_reduce(0, lin, upd.reshape([-1, *rest]), _REDUCE[reduction],
                              include_self=True)
    return out.reshape(dims)


@emits("ScatterND", since=11)
def scatter_nd(data: Any, indices: Any, updates: Any, *, reduction: str = "none",
               ctx: EmitContext) -> Any:
    """ScatterND-11/13/16/18(data, indices, updates) -> output; reduction (16) none/add/mul,
    max/min from 18."""
    return _scatter_nd(data, indices, updates, reduction, ctx)


@emits("OneHot", since=9)
def one_hot(indices: Any, depth: Any, values: Any, *, axis: int = -1, ctx: EmitContext) -> Any:
    """OneHot-9(indices, depth, values) -> output; values = [off_value, on_value]."""
    d = scalar(depth)
    d = int(d) if isinstance(d, float) else d
    ind = T(indices).long()  # float indices truncate, as the spec's cast does
    ind = _wrap(ind, d)  # out-of-range ones then match no position: all off
    hot = ind.unsqueeze(-1) == torch.arange(d, device=ind.device)
    hot = hot.movedim(-1, norm_axis(axis, rank_of(indices, ctx, 0) + 1, "OneHot"))
    v = T(values).reshape(-1)
    return torch.where(hot, v[1], v[0])


@emits("NonZero", since=9)
def non_zero(X: Any, *, ctx: EmitContext) -> Any:
    """NonZero-9(X) -> Y int64 [rank, nnz]; a scalar counts as a 1-element vector."""
    x = T(X)
    if rank_of(X, ctx, 0) == 0:
        x = x.reshape(1)
    return torch.nonzero(x).t()


@emits("Unique", since=11)
def unique(X: Any, *, axis: int | None = None, sorted: int = 1, ctx: EmitContext) -> Any:
    """Unique-11(X) -> (Y, indices, inverse_indices, counts); sorted or first-occurrence order."""
    x = T(X)
    dim = 0 if axis is None else norm_axis(axis, rank_of(X, ctx, 0), "Unique")
    if axis is None:
        x = x.reshape(-1)
    y, inverse, counts = torch.unique(x, sorted=True, return_inverse=True, return_counts=True,
                                      dim=dim)
    inverse = inverse.reshape(-1)
    # The first occurrence of each unique value: the smallest position mapping to it.
    positions = torch.arange(inverse.shape[0], device=x.device)
    first = torch.zeros_like(counts).scatter_reduce(0, inverse, positions, "amin",
                                                    include_self=False)
    if not sorted:
        # Reorder by first occurrence, and renumber the inverse to match.
        order = torch.argsort(first, stable=True)
        y, first, counts = y.index_select(dim, order), first[order], counts[order]
        inverse = torch.argsort(order)[inverse]
    return pack([y, first, inverse, counts], ctx)


@emits("Compress", since=9)
def compress(input: Any, condition: Any, *, axis: int | None = None, ctx: EmitContext) -> Any:
    """Compress-9(input, condition) -> output; flattened input when axis is absent."""
    x = T(input)
    keep = torch.nonzero(T(condition).reshape(-1)).reshape(-1)
    if axis is None:
        return x.reshape(-1).index_select(0, keep)
    return x.index_select(norm_axis(axis, rank_of(input, ctx, 0), "Compress"), keep)


@emits("ReverseSequence", since=10)
def reverse_sequence(input: Any, sequence_lens: Any, *, batch_axis: int = 1, time_axis: int = 0,
                     ctx: EmitContext) -> Any:
    """ReverseSequence-10(input, sequence_lens) -> Y; reverses the first lens[b] time steps."""
    if {batch_axis, time_axis} != {0, 1}:
        raise ValueError("ReverseSequence: batch_axis and time_axis must be 0 and 1")
    x = T(input)
    dims = dims_of(x, ctx, 0)
    t = torch.arange(dims[time_axis], device=x.device).unsqueeze(1)  # [T, 1]
    lens = T(sequence_lens).long().unsqueeze(0)  # [1, B]
    src = torch.where(t < lens, lens - 1 - t, t)  # the source time step, [T, B]
    if time_axis == 1:
        src = src.t()
    src = src.reshape(dims[:2] + [1] * (len(dims) - 2)).expand(dims)
    return torch.gather(x, time_axis, src)
