"""Indexing translations: advanced indexing (index.Tensor, index_put), index_select,
gather / take_along_dim, the scatter family and index_add. Each function's docstring is
the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_shape import (
    INT64_MAX,
    norm_dim,
    same_shape,
    shape_part,
    transpose,
)
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value
from tensorbridge.ir.types import TensorType


# ---------------------------------------------------------------- advanced indexing
@dataclass
class _Adv:
    """Advanced indices normalised to int64, one per indexed dim (bool masks expanded)."""

    dims: list[int]  # indexed dims of self, ascending
    index: list[Value]  # same order; broadcast to one common shape
    rank: int  # rank of the broadcast index shape

    @property
    def adjacent(self) -> bool:
        """torch puts the index dims where the first indexed dim was when the indexed dims
        are consecutive; otherwise they go first."""
        return self.dims == list(range(self.dims[0], self.dims[0] + len(self.dims)))


def _mask_coords(ctx: Ctx, mask: Value) -> list[Value]:
    """A bool mask of rank k as k int64 index vectors: its nonzero coordinates (torch's
    own rewrite of mask indexing). The count is data-dependent, which ONNX allows."""
    nz = ctx.op("NonZero", [ctx.cast(mask, DType.BOOL)])  # (k, n)
    return [ctx.op("Gather", [nz, ctx.const(np.int64(j))], {"axis": 0})
            for j in range(ctx.rank(mask))]


def _advanced(ctx: Ctx, self: Value, indices: Sequence[Value | None]) -> _Adv:
    dims: list[int] = []
    flat: list[Value] = []
    ranks: list[int] = []
    d = 0
    for idx in indices:
        if idx is None:
            d += 1
        elif ctx.dtype(idx) in (DType.BOOL, DType.UINT8):
            coords = _mask_coords(ctx, idx)
            flat += coords
            dims += list(range(d, d + len(coords)))
            ranks.append(1)
            d += len(coords)
        else:
            flat.append(ctx.cast(idx, DType.INT64))
            dims.append(d)
            ranks.append(ctx.rank(idx))
            d += 1
    if not dims:
        raise ctx.fail("indexing with no index tensor")
    given = [i for i in indices if i is not None]
    if not all(same_shape(given[0], t) for t in given[1:]):
        # the sum broadcasts like torch does, so its Shape is the common index shape
        total = flat[0]
        for v in flat[1:]:
            total = ctx.op("Add", [total, v])
        target = ctx.shape_of(total)
        flat = [ctx.op("Expand", [v, target]) for v in flat]
    return _Adv(dims, flat, max(ranks))


def _stacked(ctx: Ctx, adv: _Adv) -> Value:
    """The index tuples as one (*B, k) tensor for GatherND/ScatterND."""
    parts = [ctx.unsqueeze(v, [adv.rank]) for v in adv.index]
    return parts[0] if len(parts) == 1 else ctx.op("Concat", parts, {"axis": -1})


@aten("aten::index.Tensor")
def aten_index(ctx: Ctx, self: Value, indices: Sequence[Value | None]) -> Value:
    """index.Tensor(Tensor self, Tensor?[] indices) -> Tensor"""
    adv = _advanced(ctx, self, indices)
    if len(adv.dims) == 1:  # Gather puts the index dims exactly where torch does
        return ctx.op("Gather", [self, adv.index[0]], {"axis": adv.dims[0]})
    r = ctx.rank(self)
    rest = [i for i in range(r) if i not in adv.dims]
    out = ctx.op("GatherND", [transpose(ctx, self, adv.dims + rest), _stacked(ctx, adv)])  # (*B, *rest)
    p, nb = adv.dims[0], adv.rank
    if adv.adjacent and p > 0:  # rest dims before the indexed block come back to the front
        perm = list(range(nb, nb + p)) + list(range(nb)) + list(range(nb + p, nb + len(rest)))
        out = transpose(ctx, out, perm)
    return out


@aten("aten::index_put.default", "aten::_unsafe_index_put.default")
def aten_index_put(ctx: Ctx, self: Value, indices: Sequence[Value | None], values: Value,
                   accumulate: bool = False) -> Value:
    """index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor"""
    dt = ctx.dtype(self)
    adv = _advanced(ctx, self, indices)
    r = ctx.rank(self)
    rest = [i for i in range(r) if i not in adv.dims]
    perm = adv.dims + rest
    data = transpose(ctx, self, perm)
    p, nb, k = adv.dims[0], adv.rank, len(adv.dims)
    moved = adv.adjacent and p > 0
    # values broadcast to the shape of self[indices] (torch order), then to (*B, *rest) order
    b_shape = ctx.shape_of(adv.index[0])
    rest_shape = shape_part(ctx, data, k)
    if moved:
        before = ctx.op("Slice", [rest_shape, ctx.ints([0]), ctx.ints([p]), ctx.ints([0])])
        after = ctx.op("Slice", [rest_shape, ctx.ints([p]), ctx.ints([INT64_MAX]), ctx.ints([0])])
        target = ctx.op("Concat", [before, b_shape, after], {"axis": 0})
    else:
        target = ctx.op("Concat", [b_shape, rest_shape], {"axis": 0})
    upd = ctx.op("Expand", [ctx.cast(values, dt), target])
    if moved:
        back = list(range(p, p + nb)) + list(range(p)) + list(range(p + nb, nb + len(rest)))
        upd = transpose(ctx, upd, back)
    attrs = {"reduction": "add"} if accumulate else {}
    out = ctx.op("ScatterND", [data, _stacked(ctx, adv), upd], attrs)
    return transpose(ctx, out, list(np.argsort(perm)))


# ---------------------------------------------------------------- gather family
@aten("aten::index_select.default")
def aten_index_select(ctx: Ctx, self: Value, dim: int, index: Value) -> Value:
    """index_select(Tensor self, int dim, Tensor index) -> Tensor"""
    idx = ctx.cast(index, DType.INT64)
    if ctx.rank(index) == 0:  # a 0-d index keeps the dim (size 1)
        idx = ctx.unsqueeze(idx, [0])
    return ctx.op("Gather", [self, idx], {"axis": norm_dim(dim, ctx.rank(self))})


def _fit_to(ctx: Ctx, x: Value, like: Value, skip: int | None = None) -> Value:
    """torch's gather/scatter read ``x`` only at ``like``'s coordinates, and ``x`` may be
    larger in every dim (but ``skip``): ONNX wants equal shapes, so slice ``x`` down."""
    if same_shape(x, like):
        return x
    r = ctx.rank(like)
    axes = [i for i in range(r) if i != skip]
    if not axes:
        return x
    ends = ctx.op("Gather", [ctx.shape_of(like), ctx.ints(axes)], {"axis": 0})
    return ctx.op("Slice", [x, ctx.ints([0] * len(axes)), ends, ctx.ints(axes)])


@aten("aten::gather.default")
def aten_gather(ctx: Ctx, self: Value, dim: int, index: Value, *, sparse_grad: bool = False) -> Value:
    """gather(Tensor self, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor"""
    d = norm_dim(dim, ctx.rank(self))
    if ctx.rank(self) == 0:
        return self
    data = _fit_to(ctx, self, index, skip=d)
    return ctx.op("GatherElements", [data, ctx.cast(index, DType.INT64)], {"axis": d})


def _broadcast_except(ctx: Ctx, a: Value, b: Value, d: int) -> tuple[Value, Value]:
    """Broadcast ``a`` and ``b`` (same rank) to each other in every dim but ``d``."""
    sa, sb = ctx.shape_of(a), ctx.shape_of(b)
    common = ctx.op("Max", [sa, sb])
    r = ctx.rank(a)

    def target(own: Value) -> Value:
        parts = [ctx.op("Slice", [common, ctx.ints([0]), ctx.ints([d]), ctx.ints([0])]),
                 ctx.op("Slice", [own, ctx.ints([d]), ctx.ints([d + 1]), ctx.ints([0])]),
                 ctx.op("Slice", [common, ctx.ints([d + 1]), ctx.ints([r]), ctx.ints([0])])]
        return ctx.op("Concat", parts, {"axis": 0})

    return ctx.op("Expand", [a, target(sa)]), ctx.op("Expand", [b, target(sb)])


@aten("aten::take_along_dim.default")
def aten_take_along_dim(ctx: Ctx, self: Value, indices: Value, dim: int | None = None) -> Value:
    """take_along_dim(Tensor self, Tensor indices, int? dim=None) -> Tensor"""
    idx = ctx.cast(indices, DType.INT64)
    if dim is None:
        flat = [ctx.op("Reshape", [v, ctx.ints([-1])]) for v in (self, idx)]
        return ctx.op("GatherElements", flat, {"axis": 0})
    d = norm_dim(dim, ctx.rank(self))
    data = self
    if not same_shape(self, indices):
        data, idx = _broadcast_except(ctx, self, idx, d)
    return ctx.op("GatherElements", [data, idx], {"axis": d})


# ---------------------------------------------------------------- scatter family
_REDUCTION = {None: "none", "add": "add", "sum": "add", "multiply": "mul", "prod": "mul",
              "amax": "max", "amin": "min"}


def _scatter(ctx: Ctx, self: Value, dim: int, index: Value, src: Any, reduce: str | None) -> Value:
    dt = ctx.dtype(self)
    d = norm_dim(dim, ctx.rank(self))
    idx = ctx.cast(index, DType.INT64)
    if isinstance(src, Value) and ctx.rank(src) > 0:
        upd = _fit_to(ctx, ctx.cast(src, dt), index)
    else:  # a scalar value (or 0-d tensor) written at every index
        upd = ctx.op("Expand", [ctx.tensor(src, dt), ctx.shape_of(index)])
    out = ctx.op("ScatterElements", [self, idx, upd], {"axis": d, "reduction": _REDUCTION[reduce]})
    out.type = TensorType(dt, self.shape)  # later steps of scatter_reduce query it
    return out


@aten("aten::scatter.src", "aten::scatter.value")
def aten_scatter(ctx: Ctx, self: Value, dim: int, index: Value, src: Any) -> Value:
    """scatter.src(Tensor self, int dim, Tensor index, Tensor src) -> Tensor  (and .value)"""
    return _scatter(ctx, self, dim, index, src, None)


@aten("aten::scatter.reduce", "aten::scatter.value_reduce")
def aten_scatter_reduce_legacy(ctx: Ctx, self: Value, dim: int, index: Value, src: Any, *,
                               reduce: str) -> Value:
    """scatter.reduce(Tensor self, int dim, Tensor index, Tensor src, *, str reduce) -> Tensor"""
    return _scatter(ctx, self, dim, index, src, reduce)


@aten("aten::scatter_add.default")
def aten_scatter_add(ctx: Ctx, self: Value, dim: int, index: Value, src: Value) -> Value:
    """scatter_add(Tensor self, int dim, Tensor index, Tensor src) -> Tensor"""
    return _scatter(ctx, self, dim, index, src, "add")


def _identity(dt: DType, reduce: str) -> Any:
    """The value that leaves a ``reduce`` unchanged (include_self=False starts from it)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dt == DType.BOOL:
        return reduce == "amin"
    if dt.is_float:
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dt.np_dtype)
    return info.min if reduce == "amax" else info.max


@aten("aten::scatter_reduce.two")
def aten_scatter_reduce(ctx: Ctx, self: Value, dim: int, index: Value, src: Value, reduce: str, *,
                        include_self: bool = True) -> Value:
    """scatter_reduce.two(Tensor self, int dim, Tensor index, Tensor src, str reduce, *, bool include_self=True) -> Tensor"""
    dt = ctx.dtype(self)
    if reduce in ("amax", "amin") and ctx.opset < 18:
        raise ctx.fail(f"scatter_reduce {reduce!r} needs ScatterElements reduction "
                       "max/min (opset >= 18)")
    base = self
    if not include_self:  # hit positions start from the reduction's identity instead of self
        base = _scatter(ctx, self, dim, index, ctx.const(_identity(dt, reduce), dt), None)
    if reduce != "mean":
        return _scatter(ctx, base, dim, index, src, reduce)
    total = _scatter(ctx, base, dim, index, src, "add")
    ones = ctx.op("Expand", [ctx.const(1, dt), ctx.shape_of(self)])
    ones.type = TensorType(dt, self.shape)
    if not include_self:
        ones = _scatter(ctx, ones, dim, index, ctx.const(0, dt), None)
    count = _scatter(ctx, ones, dim, index, ctx.const(1, dt), "add")
    if dt.is_float:
        return ctx.op("Div", [total, count])
    q = ctx.op("Div", [ctx.cast(total, DType.DOUBLE), ctx.cast(count, DType.DOUBLE)])
    return ctx.cast(ctx.op("Floor", [q]), dt)  # torch floor-divides integer means


@aten("aten::index_add.default")
def aten_index_add(ctx: Ctx, self: Value, dim: int, index: Value, source: Value, *,
                   alpha: Any = 1) -> Value:
    """index_add(Tensor self, int dim, Tensor index, Tensor source, *, Scalar alpha=1) -> Tensor"""
    dt = ctx.dtype(self)
    r = ctx.rank(self)
    if r == 0:
        return ctx.op("Add", [self, ctx.cast(source, dt)])
    d = norm_dim(dim, r)
    src = ctx.cast(source, dt)
    if alpha != 1:
        src = ctx.op("Mul", [src, ctx.const(alpha, dt)])
    # index[i] for every element of source's slice i along dim
    shape = [1] * r
    shape[d] = -1
    idx = ctx.op("Reshape", [ctx.cast(index, DType.INT64), ctx.ints(shape)])
    idx = ctx.op("Expand", [idx, ctx.shape_of(src)])
    return ctx.op("ScatterElements", [self, idx, src], {"axis": d, "reduction": "add"})


@aten("aten::masked_scatter.default")
def aten_masked_scatter(ctx: Ctx, self: Value, mask: Value, source: Value) -> Value:
    """masked_scatter(Tensor self, Tensor mask, Tensor source) -> Tensor"""
    dt = ctx.out_dtype()
    m = ctx.op("Expand", [ctx.cast(mask, DType.BOOL), ctx.shape_of(self)])  # broadcast both ways
    x = ctx.op("Expand", [self, ctx.shape_of(m)])
    flat_m = ctx.op("Reshape", [m, ctx.ints([-1])])
    # k-th True position takes source element k: an inclusive running count minus one
    pos = ctx.op("CumSum", [ctx.cast(flat_m, DType.INT64), ctx.const(np.int64(0))])
    pos = ctx.op("Max", [ctx.op("Sub", [pos, ctx.const(np.int64(1))]), ctx.const(np.int64(0))])
    src = ctx.op("Reshape", [ctx.cast(source, dt), ctx.ints([-1])])
    picked = ctx.op("Reshape", [ctx.op("Gather", [src, pos], {"axis": 0}), ctx.shape_of(m)])
    return ctx.op("Where", [m, picked, x])
