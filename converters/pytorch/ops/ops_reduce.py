"""Reductions: sum/mean/prod, amax/amin/max/min, argmax/argmin, var/std (+ _mean forms),
vector norms, logsumexp, all/any, count_nonzero, topk and sort. Reduce* ops go through
``ctx.reduce`` so the axes take the form the opset wants. Each function's docstring is the
ATen schema. ``dim=None`` or ``dim=[]`` reduces every dim, as in torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_math import common_dtype
from tensorbridge.converters.pytorch.ops.ops_shape import dim_size, norm_dim, norm_dims, static_dim
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value

Dims = int | Sequence[int] | None

# ReduceMax/ReduceMin (opset 18) element types; anything else (bool, int16, ...) goes via int32
_MINMAX_TYPES = {DType.FLOAT, DType.DOUBLE, DType.FLOAT16, DType.BFLOAT16, DType.INT32,
                 DType.INT64, DType.INT8, DType.UINT8, DType.UINT32, DType.UINT64}

_TOPK_TYPES = {DType.FLOAT, DType.DOUBLE, DType.INT32, DType.INT64}


def _reduce(ctx: Ctx, op: str, x: Value, dim: Dims, keepdim: bool, rank: int) -> Value:
    if rank == 0:  # torch accepts dim 0 / -1 on a 0-d tensor and returns it unchanged
        return x
    return ctx.reduce(op, x, norm_dims(dim, rank), bool(keepdim))


def _reduce_cast(ctx: Ctx, op: str, self: Value, dim: Dims, keepdim: bool) -> Value:
    """Cast to the result dtype first (bool/int sums are int64, dtype= arguments), reduce."""
    return _reduce(ctx, op, ctx.cast(self, ctx.out_dtype()), dim, keepdim, ctx.rank(self))


def _minmax(ctx: Ctx, op: str, self: Value, dim: Dims, keepdim: bool) -> Value:
    dt = ctx.dtype(self)
    x = self if dt in _MINMAX_TYPES else ctx.cast(self, DType.INT32)
    return ctx.cast(_reduce(ctx, op, x, dim, keepdim, ctx.rank(self)), dt)


# ---------------------------------------------------------------- sum / mean / prod
@aten("aten::sum.dim_IntList")
def aten_sum_dim(ctx: Ctx, self: Value, dim: Dims, keepdim: bool = False, *, dtype: Any = None) -> Value:
    """sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor"""
    return _reduce_cast(ctx, "ReduceSum", self, dim, keepdim)


@aten("aten::sum.default")
def aten_sum(ctx: Ctx, self: Value, *, dtype: Any = None) -> Value:
    """sum(Tensor self, *, ScalarType? dtype=None) -> Tensor"""
    return _reduce_cast(ctx, "ReduceSum", self, None, False)


@aten("aten::mean.dim")
def aten_mean_dim(ctx: Ctx, self: Value, dim: Dims, keepdim: bool = False, *,
                  dtype: Any = None) -> Value:
    """mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor"""
    return _reduce_cast(ctx, "ReduceMean", self, dim, keepdim)


@aten("aten::mean.default")
def aten_mean(ctx: Ctx, self: Value, *, dtype: Any = None) -> Value:
    """mean(Tensor self, *, ScalarType? dtype=None) -> Tensor"""
    return _reduce_cast(ctx, "ReduceMean", self, None, False)


@aten("aten::prod.dim_int")
def aten_prod_dim(ctx: Ctx, self: Value, dim: int, keepdim: bool = False, *, dtype: Any = None) -> Value:
    """prod.dim_int(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor"""
    return _reduce_cast(ctx, "ReduceProd", self, dim, keepdim)


@aten("aten::prod.default")
def aten_prod(ctx: Ctx, self: Value, *, dtype: Any = None) -> Value:
    """prod(Tensor self, *, ScalarType? dtype=None) -> Tensor"""
    return _reduce_cast(ctx, "ReduceProd", self, None, False)


# ---------------------------------------------------------------- extremes
@aten("aten::amax.default")
def aten_amax(ctx: Ctx, self: Value, dim: Dims = (), keepdim: bool = False) -> Value:
    """amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor"""
    return _minmax(ctx, "ReduceMax", self, dim, keepdim)


@aten("aten::amin.default")
def aten_amin(ctx: Ctx, self: Value, dim: Dims = (), keepdim: bool = False) -> Value:
    """amin(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor"""
    return _minmax(ctx, "ReduceMin", self, dim, keepdim)


@aten("aten::max.default")
def aten_max(ctx: Ctx, self: Value) -> Value:
    """max(Tensor self) -> Tensor"""
    return _minmax(ctx, "ReduceMax", self, None, False)


@aten("aten::min.default")
def aten_min(ctx: Ctx, self: Value) -> Value:
    """min(Tensor self) -> Tensor"""
    return _minmax(ctx, "ReduceMin", self, None, False)


def _arg(ctx: Ctx, op: str, self: Value, dim: int | None, keepdim: bool) -> Value:
    """ArgMax/ArgMin; the first extreme wins (select_last_index=0) as on torch's CPU."""
    r = ctx.rank(self)
    x = self if ctx.dtype(self) in _MINMAX_TYPES else ctx.cast(self, DType.INT32)
    if dim is None or r == 0:  # over the flattened tensor; keepdim gives all-ones dims
        flat = ctx.op("Reshape", [x, ctx.ints([-1])])
        idx = ctx.op(op, [flat], {"axis": 0, "keepdims": 0})
        return ctx.op("Reshape", [idx, ctx.ints([1] * r)]) if keepdim and r else idx
    return ctx.op(op, [x], {"axis": norm_dim(dim, r), "keepdims": int(keepdim)})


@aten("aten::argmax.default")
def aten_argmax(ctx: Ctx, self: Value, dim: int | None = None, keepdim: bool = False) -> Value:
    """argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor"""
    return _arg(ctx, "ArgMax", self, dim, keepdim)


@aten("aten::argmin.default")
def aten_argmin(ctx: Ctx, self: Value, dim: int | None = None, keepdim: bool = False) -> Value:
    """argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor"""
    return _arg(ctx, "ArgMin", self, dim, keepdim)


@aten("aten::max.dim")
def aten_max_dim(ctx: Ctx, self: Value, dim: int, keepdim: bool = False) -> tuple[Value, Value]:
    """max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)"""
    return (_minmax(ctx, "ReduceMax", self, dim, keepdim), _arg(ctx, "ArgMax", self, dim, keepdim))


@aten("aten::min.dim")
def aten_min_dim(ctx: Ctx, self: Value, dim: int, keepdim: bool = False) -> tuple[Value, Value]:
    """min.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)"""
    return (_minmax(ctx, "ReduceMin", self, dim, keepdim), _arg(ctx, "ArgMin", self, dim, keepdim))


# ---------------------------------------------------------------- variance
def _count(ctx: Ctx, x: Value, axes: list[int], dt: DType) -> Value | float:
    """Number of reduced elements: a Python number when static, else a 0-d ``dt`` Value."""
    sizes = [static_dim(x, a) for a in axes]
    if all(s is not None for s in sizes):
        return float(np.prod(sizes))
    dims = ctx.op("Gather", [ctx.shape_of(x), ctx.ints(axes)], {"axis": 0})
    return ctx.cast(ctx.reduce("ReduceProd", dims, None, False), dt)


def _var_mean(ctx: Ctx, self: Value, dim: Dims, correction: Any, keepdim: bool) -> tuple[Value, Value]:
    """(var, mean) with torch's divisor max(0, N - correction), correction None meaning 1."""
    dt = ctx.out_dtype()
    x = ctx.cast(self, dt)
    r = ctx.rank(self)
    axes = norm_dims(dim, r) or list(range(r))
    mean = ctx.reduce("ReduceMean", x, axes, True)
    diff = ctx.op("Sub", [x, mean])
    ssq = ctx.reduce("ReduceSum", ctx.op("Mul", [diff, diff]), axes, keepdim)
    c = 1.0 if correction is None else float(correction)
    n = _count(ctx, x, axes, dt)
    if isinstance(n, float):
        denom = ctx.const(max(0.0, n - c), dt)
    else:
        denom = ctx.op("Max", [ctx.op("Sub", [n, ctx.const(c, dt)]), ctx.const(0.0, dt)])
    var = ctx.op("Div", [ssq, denom])
    return var, (mean if keepdim else ctx.squeeze(mean, axes))


@aten("aten::var.correction")
def aten_var(ctx: Ctx, self: Value, dim: Dims = None, *, correction: Any = None,
             keepdim: bool = False) -> Value:
    """var.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> Tensor"""
    return _var_mean(ctx, self, dim, correction, keepdim)[0]


@aten("aten::std.correction")
def aten_std(ctx: Ctx, self: Value, dim: Dims = None, *, correction: Any = None,
             keepdim: bool = False) -> Value:
    """std.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> Tensor"""
    return ctx.op("Sqrt", [_var_mean(ctx, self, dim, correction, keepdim)[0]])


@aten("aten::var_mean.correction")
def aten_var_mean(ctx: Ctx, self: Value, dim: Dims = None, *, correction: Any = None,
                  keepdim: bool = False) -> tuple[Value, Value]:
    """var_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> (Tensor, Tensor)"""
    return _var_mean(ctx, self, dim, correction, keepdim)


@aten("aten::std_mean.correction")
def aten_std_mean(ctx: Ctx, self: Value, dim: Dims = None, *, correction: Any = None,
                  keepdim: bool = False) -> tuple[Value, Value]:
    """std_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> (Tensor, Tensor)"""
    var, mean = _var_mean(ctx, self, dim, correction, keepdim)
    return ctx.op("Sqrt", [var]), mean


# ---------------------------------------------------------------- norms, logsumexp
@aten("aten::linalg_vector_norm.default")
def aten_linalg_vector_norm(ctx: Ctx, self: Value, ord: Any = 2, dim: Dims = None, keepdim: bool = False,
                            *, dtype: Any = None) -> Value:
    """linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor"""
    dt = ctx.out_dtype()
    x = ctx.cast(self, dt)
    r = ctx.rank(self)
    p = float(ord)
    if p == 2.0:
        return _reduce(ctx, "ReduceL2", x, dim, keepdim, r) if r else ctx.op("Abs", [x])
    if p == 1.0:
        return _reduce(ctx, "ReduceL1", x, dim, keepdim, r) if r else ctx.op("Abs", [x])
    if p == 0.0:  # number of non-zeros
        nz = ctx.cast(ctx.cast(x, DType.BOOL), dt)
        return _reduce(ctx, "ReduceSum", nz, dim, keepdim, r)
    ax = ctx.op("Abs", [x])
    if np.isinf(p):
        return _reduce(ctx, "ReduceMax" if p > 0 else "ReduceMin", ax, dim, keepdim, r)
    powered = ctx.op("Pow", [ax, ctx.const(p, dt)])
    total = _reduce(ctx, "ReduceSum", powered, dim, keepdim, r)
    return ctx.op("Pow", [total, ctx.const(1.0 / p, dt)])


@aten("aten::logsumexp.default")
def aten_logsumexp(ctx: Ctx, self: Value, dim: Dims, keepdim: bool = False) -> Value:
    """logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor"""
    return _reduce_cast(ctx, "ReduceLogSumExp", self, dim, keepdim)


# ---------------------------------------------------------------- logical, counting
def _any(ctx: Ctx, b: Value, dim: Dims, keepdim: bool, rank: int) -> Value:
    """True where some element is true: a count > 0 (an empty slice counts 0: False)."""
    n = _reduce(ctx, "ReduceSum", ctx.cast(b, DType.INT64), dim, keepdim, rank)
    return ctx.cast(n, DType.BOOL)


def _all_any(ctx: Ctx, self: Value, dim: Dims, keepdim: bool, want_all: bool) -> Value:
    b = ctx.cast(self, DType.BOOL)
    r = ctx.rank(self)
    if want_all:  # all(x) = not any(not x); an empty slice gives True like torch
        out = ctx.op("Not", [_any(ctx, ctx.op("Not", [b], dtype=DType.BOOL), dim, keepdim, r)])
    else:
        out = _any(ctx, b, dim, keepdim, r)
    return ctx.cast(out, ctx.out_dtype())  # uint8 in, uint8 out


@aten("aten::all.default", "aten::all.dim", "aten::all.dims")
def aten_all(ctx: Ctx, self: Value, dim: Dims = None, keepdim: bool = False) -> Value:
    """all.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor  (also .dim, .default)"""
    return _all_any(ctx, self, dim, keepdim, True)


@aten("aten::any.default", "aten::any.dim", "aten::any.dims")
def aten_any(ctx: Ctx, self: Value, dim: Dims = None, keepdim: bool = False) -> Value:
    """any.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor  (also .dim, .default)"""
    return _all_any(ctx, self, dim, keepdim, False)


@aten("aten::count_nonzero.default", "aten::count_nonzero.dim_IntList")
def aten_count_nonzero(ctx: Ctx, self: Value, dim: Dims = None) -> Value:
    """count_nonzero.dim_IntList(Tensor self, int[] dim) -> Tensor  (.default: int? dim=None)"""
    nz = ctx.cast(ctx.cast(self, DType.BOOL), DType.INT64)
    return _reduce(ctx, "ReduceSum", nz, dim, False, ctx.rank(self))


# ---------------------------------------------------------------- ordering
def _topk(ctx: Ctx, self: Value, k: Value, d: int, largest: bool) -> tuple[Value, Value]:
    """TopK, sorted; equal elements keep their order (lower index first), so this is also
    a stable sort in both directions."""
    dt = ctx.dtype(self)
    # onnxruntime's CPU TopK takes float/double/int32/int64; both casts are exact
    x = self if dt in _TOPK_TYPES else ctx.cast(self, DType.FLOAT if dt.is_float else DType.INT64)
    vals, idx = ctx.op("TopK", [x, k], {"axis": d, "largest": int(largest), "sorted": 1}, n_outputs=2)
    return ctx.cast(vals, dt), idx


@aten("aten::topk.default")
def aten_topk(ctx: Ctx, self: Value, k: Any, dim: int = -1, largest: bool = True,
              sorted: bool = True) -> tuple[Value, Value]:
    """topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor indices)"""
    if ctx.rank(self) == 0:
        return self, ctx.const(np.int64(0))
    d = norm_dim(dim, ctx.rank(self))
    return _topk(ctx, self, ctx.ints([k]), d, largest)


@aten("aten::sort.default", "aten::sort.stable")
def aten_sort(ctx: Ctx, self: Value, dim: int = -1, descending: bool = False, *,
              stable: bool | None = None) -> tuple[Value, Value]:
    """sort.stable(Tensor self, *, bool? stable, int dim=-1, bool descending=False) -> (Tensor values, Tensor indices)"""
    if ctx.rank(self) == 0:
        return self, ctx.const(np.int64(0))
    d = norm_dim(dim, ctx.rank(self))
    return _topk(ctx, self, dim_size(ctx, self, d), d, descending)


# ---------------------------------------------------------------- histogram
@aten("aten::histc.default")
def aten_histc(ctx: Ctx, self: Value, bins: int = 100, min: object = 0, max: object = 0) -> Value:  # noqa: A002
    """histc(Tensor self, int bins=100, Scalar min=0, Scalar max=0) -> Tensor

    Counts of the elements in ``bins`` equal-width bins over [min, max] (the data's own range
    when min == max, widened by 1 each way if that is empty too); elements outside are not
    counted and the last bin includes ``max``. As torch, an element's bin is found against
    the bin edges themselves: the number of left edges at or below it, less one."""
    dt = ctx.out_dtype()
    x = ctx.op("Reshape", [self, ctx.ints([-1])])
    if float(min) == float(max):  # type: ignore[arg-type]
        lo = ctx.op("ReduceMin", [x], {"keepdims": 0})
        hi = ctx.op("ReduceMax", [x], {"keepdims": 0})
        empty = ctx.op("Equal", [lo, hi])
        one = ctx.const(1, dt)
        lo = ctx.op("Where", [empty, ctx.op("Sub", [lo, one]), lo])
        hi = ctx.op("Where", [empty, ctx.op("Add", [hi, one]), hi])
    else:
        lo, hi = ctx.const(float(min), dt), ctx.const(float(max), dt)  # type: ignore[arg-type]
    steps = ctx.const(np.arange(bins), dt)
    width = ctx.op("Div", [ctx.op("Sub", [hi, lo]), ctx.const(bins, dt)])
    left_edges = ctx.op("Add", [lo, ctx.op("Mul", [steps, width])])  # [bins]
    column = ctx.op("Unsqueeze", [x, ctx.ints([1])])  # [N, 1]
    at_or_above = ctx.cast(ctx.op("GreaterOrEqual", [column, left_edges]), DType.INT64)
    index = ctx.op("Sub", [ctx.op("ReduceSum", [at_or_above, ctx.ints([1])], {"keepdims": 0}),
                           ctx.const(1, DType.INT64)])
    inside = ctx.op("And", [ctx.op("GreaterOrEqual", [x, lo]), ctx.op("LessOrEqual", [x, hi])])
    index = ctx.op("Where", [inside, index, ctx.const(-1, DType.INT64)])  # -1 matches no bin
    hits = ctx.op("Equal", [ctx.op("Unsqueeze", [index, ctx.ints([1])]), ctx.const(np.arange(bins), DType.INT64)])
    return ctx.op("ReduceSum", [ctx.cast(hits, dt), ctx.ints([0])], {"keepdims": 0}, dtype=dt)


# ---------------------------------------------------------------- searches in sorted values
@aten("aten::bucketize.Tensor")
def aten_bucketize(ctx: Ctx, self: Value, boundaries: Value, *, out_int32: bool = False,
                   right: bool = False) -> Value:
    """bucketize.Tensor(Tensor self, Tensor boundaries, *, bool out_int32=False, bool right=False) -> Tensor

    The bucket of each element among sorted 1-D ``boundaries``: how many boundaries lie
    below it (``right``: at or below it)."""
    return _count_below(ctx, self, boundaries, right, last_axis=False)


@aten("aten::searchsorted.Tensor")
def aten_searchsorted(ctx: Ctx, sorted_sequence: Value, self: Value, *, out_int32: bool = False,
                      right: bool = False, side: str | None = None, sorter: Value | None = None) -> Value:
    """searchsorted.Tensor(Tensor sorted_sequence, Tensor self, *, bool out_int32=False, bool right=False, str? side=None, Tensor? sorter=None) -> Tensor

    Insertion points of ``self`` into ``sorted_sequence`` (1-D, or rows matching self's
    leading dims): the count of sequence values below each element (``right`` or side
    'right': at or below)."""
    rows = ctx.rank(sorted_sequence) > 1
    if sorter is not None:
        gathered = ctx.op("GatherElements", [sorted_sequence, sorter], {"axis": -1})
        gathered.type = sorted_sequence.type  # the sorter permutes, shape and dtype stay
        sorted_sequence = gathered
    return _count_below(ctx, self, sorted_sequence, right or side == "right", last_axis=rows)


def _count_below(ctx: Ctx, x: Value, edges: Value, right: bool, last_axis: bool) -> Value:
    """sum(edges < x) (``right``: edges <= x) over the edges' last axis, per element of x; x
    and edges compared in the dtype torch promotes them to. A NaN element counts no edge
    (torch puts it past the last one), which the conversion's validation would report."""
    dt = common_dtype(ctx, x, edges)
    column = ctx.op("Unsqueeze", [ctx.cast(x, dt), ctx.ints([-1])])  # [..., K, 1]
    edges = ctx.cast(edges, dt)
    if last_axis:
        edges = ctx.op("Unsqueeze", [edges, ctx.ints([-2])])  # [..., 1, M]
    below = ctx.op("LessOrEqual" if right else "Less", [edges, column])
    count = ctx.op("ReduceSum", [ctx.cast(below, DType.INT64), ctx.ints([-1])], {"keepdims": 0})
    return ctx.cast(count, ctx.out_dtype())
