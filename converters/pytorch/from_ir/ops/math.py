"""Math emitters: matrix products, Einsum, cumulative ops, Det, the Softmax family, TopK,
Trilu, the Reduce* ops and ArgMax/ArgMin.

Integer results keep the input's type: torch promotes integer sums and products to int64
unless given ``dtype=``, and has no integer mean, norm or logarithm (those run in float64
and truncate back, as the runtime does). uint16/32/64 go through the int64 images of
``elementwise`` where torch lacks their kernels.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import Host, T, ints, scalar
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    UNSIGNED,
    dtype_of,
    from_ordered,
    known_dtype,
    ordered,
    ordering,
    wrapping,
)
from tensorbridge.converters.pytorch.from_ir.registry import emits

Dims = list[int] | None  # None: every axis


def _rank(x: torch.Tensor, ctx: EmitContext | None, i: int = 0) -> int:
    r = ctx.rank(i) if ctx is not None else None
    return r if r is not None else x.dim()


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """An indexing tuple applying ``index`` to dimension ``axis`` (negative counts from the
    end), so that no rank is needed."""
    if axis >= 0:
        return (slice(None),) * axis + (index,)
    return (..., index) + (slice(None),) * (-axis - 1)


def _float_work(x: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """Integers in float64 (exact for every value the result can hold)."""
    return x if dtype is None or dtype.is_floating_point else x.to(torch.float64)


def _back(y: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """Undo :func:`_float_work` (truncating, as integer reductions do)."""
    return y if dtype is None or dtype.is_floating_point else y.to(dtype)


# --------------------------------------------------------------------------------------
# Matrix products


@emits("MatMul", since=1)
def matmul(A: Any, B: Any, *, ctx: EmitContext) -> Any:
    """MatMul-1/9/13: numpy.matmul semantics (1-D operands promoted, batch dims broadcast)."""
    return wrapping(dtype_of(ctx, 0, A), torch.matmul, T(A), T(B))


def _gemm(A: Any, B: Any, C: Any, alpha: float, beta: float, transA: int, transB: int,
          ctx: EmitContext) -> Any:
    a, b, dtype = T(A), T(B), dtype_of(ctx, 0, A)
    c = None if C is None or beta == 0.0 else T(C)
    if (dtype is None or dtype.is_floating_point) and not transA and transB and alpha == 1.0 and beta == 1.0 \
            and (c is None or ctx.rank(2) == 1):
        return F.linear(a, b, c)  # the nn.Linear layout: B is (out, in), C a bias vector
    a = a.t() if transA else a
    b = b.t() if transB else b
    if dtype is not None and not dtype.is_floating_point:
        y = wrapping(dtype, torch.matmul, a, b)
        if alpha == 1.0 and (c is None or beta == 1.0):
            return y if c is None else y + c
        # Integer Gemm with real coefficients: combine in float64 and truncate once.
        out = y.to(torch.float64) * alpha
        return (out if c is None else out + c.to(torch.float64) * beta).to(dtype)
    if c is None:
        y = torch.matmul(a, b)
        return y if alpha == 1.0 else y * alpha
    return torch.addmm(c, a, b, beta=beta, alpha=alpha)  # C broadcasts to (M, N)


@emits("Gemm", since=1)
def gemm_1(A: Any, B: Any, C: Any, *, alpha: float = 1.0, beta: float = 1.0, broadcast: int = 0,
           transA: int = 0, transB: int = 0, ctx: EmitContext) -> Any:
    """Gemm-1/6: alpha * A' @ B' + beta * C (``broadcast`` only allowed C to broadcast;
    torch broadcasts it anyway)."""
    return _gemm(A, B, C, alpha, beta, transA, transB, ctx)


@emits("Gemm", since=7)
def gemm(A: Any, B: Any, C: Any = None, *, alpha: float = 1.0, beta: float = 1.0,
         transA: int = 0, transB: int = 0, ctx: EmitContext) -> Any:
    """Gemm-7/9/11/13: Y = alpha * A' @ B' + beta * C (C optional from 11)."""
    return _gemm(A, B, C, alpha, beta, transA, transB, ctx)


@emits("Einsum", since=12)
def einsum(*Inputs: Any, equation: str) -> Any:
    """Einsum-12/28: Einstein summation (explicit or implicit form, ellipsis allowed)."""
    return torch.einsum(equation.replace(" ", ""), *[T(x) for x in Inputs])


@emits("Det", since=11)
def det(X: Any, *, ctx: EmitContext) -> Any:
    """Det-11/22: determinant of each trailing square matrix."""
    x, dtype = T(X), dtype_of(ctx, 0, X)
    if dtype in (torch.float16, torch.bfloat16):  # LAPACK has no half-precision kernels
        return torch.linalg.det(x.to(torch.float32)).to(dtype)
    return torch.linalg.det(x)


# --------------------------------------------------------------------------------------
# Cumulative ops


def _cumulative(fn: Callable[..., torch.Tensor], x: torch.Tensor, axis: int, exclusive: int,
                reverse: int, identity: int) -> torch.Tensor:
    if reverse:
        x = x.flip(axis)
    if exclusive:
        # Shift by one along axis: out[0] = identity, out[i] = op(x[0..i-1]).
        head = torch.full_like(x[_along(axis, slice(0, 1))], identity)
        x = torch.cat([head, x[_along(axis, slice(None, -1))]], axis)
    y = fn(x, axis, dtype=x.dtype)  # dtype: torch would widen integer results to int64
    return y.flip(axis) if reverse else y


@emits("CumSum", since=11)
def cum_sum(x: Any, axis: Any, *, exclusive: int = 0, reverse: int = 0) -> Any:
    """CumSum-11/14: running sum along ``axis``, optionally exclusive and/or reversed."""
    return _cumulative(torch.cumsum, T(x), int(scalar(axis)), exclusive, reverse, 0)


@emits("CumProd", since=26)
def cum_prod(x: Any, axis: Any, *, exclusive: int = 0, reverse: int = 0) -> Any:
    """CumProd-26: running product along ``axis``, optionally exclusive and/or reversed."""
    return _cumulative(torch.cumprod, T(x), int(scalar(axis)), exclusive, reverse, 1)


# --------------------------------------------------------------------------------------
# Softmax family. Opsets < 13 flatten the input to 2-D at ``axis`` and normalise each row;
# opset 13 normalises along the single ``axis``.


def _hardmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """One-hot of the first maximum (torch.argmax returns the first)."""
    first = torch.argmax(x, dim, keepdim=True)
    return torch.zeros_like(x).scatter(dim, first, 1)


def _coerced_2d(fn: Callable[[torch.Tensor, int], torch.Tensor], input: Any, axis: int,
                ctx: EmitContext) -> torch.Tensor:
    x = T(input)
    rank = _rank(x, ctx)
    axis = axis + rank if axis < 0 else axis
    if axis == rank - 1:
        return fn(x, -1)  # rows are the last axis already: no reshape needed
    rows = x.reshape(1, -1) if axis == 0 else x.flatten(0, axis - 1).flatten(1)
    return fn(rows, 1).reshape_as(x)


@emits("Softmax", since=1)
def softmax_1(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """Softmax-1/11: softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(F.softmax, input, axis, ctx)


@emits("Softmax", since=13)
def softmax(input: Any, *, axis: int = -1) -> Any:
    """Softmax-13: exp(x) / sum(exp(x)) along ``axis``."""
    return F.softmax(T(input), axis)


@emits("LogSoftmax", since=1)
def log_softmax_1(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """LogSoftmax-1/11: log-softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(F.log_softmax, input, axis, ctx)


@emits("LogSoftmax", since=13)
def log_softmax(input: Any, *, axis: int = -1) -> Any:
    """LogSoftmax-13: x - log(sum(exp(x))) along ``axis``."""
    return F.log_softmax(T(input), axis)


@emits("Hardmax", since=1)
def hardmax_1(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """Hardmax-1/11: one-hot of the first maximum of each row of the 2-D coerced input."""
    return _coerced_2d(_hardmax, input, axis, ctx)


@emits("Hardmax", since=13)
def hardmax(input: Any, *, axis: int = -1) -> Any:
    """Hardmax-13: one-hot of the first maximum along ``axis``."""
    return _hardmax(T(input), axis)


# --------------------------------------------------------------------------------------
# TopK, Trilu


def _top_k(X: Any, k: Any, axis: int, largest: int, ctx: EmitContext) -> tuple[torch.Tensor, torch.Tensor]:
    """ONNX orders equal values lowest index first; torch.topk breaks ties arbitrarily, so
    this takes the head of a stable sort."""
    x, dtype = T(X), dtype_of(ctx, 0, X)

    def sort(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.sort(v, dim=axis, descending=bool(largest), stable=True)

    if dtype in UNSIGNED:
        image, order = sort(ordered(x, dtype))
        values = from_ordered(image, dtype)
    else:
        values, order = sort(x)
    head = _along(axis, slice(0, k))
    return values[head], order[head]


@emits("TopK", since=1)
def top_k_1(X: Any, *, k: int, axis: int = -1, ctx: EmitContext) -> Any:
    """TopK-1: the k largest values along ``axis`` and their indices."""
    return _top_k(X, k, axis, 1, ctx)


@emits("TopK", since=10)
def top_k_10(X: Any, K: Any, *, axis: int = -1, ctx: EmitContext) -> Any:
    """TopK-10: as TopK-1 with k given as a 1-element tensor."""
    return _top_k(X, scalar(K), axis, 1, ctx)


@emits("TopK", since=11)
def top_k(X: Any, K: Any, *, axis: int = -1, largest: int = 1, sorted: int = 1,
          ctx: EmitContext) -> Any:
    """TopK-11/24: k largest (or smallest) values along ``axis``; always returned sorted,
    which the spec allows for sorted=0."""
    return _top_k(X, scalar(K), axis, largest, ctx)


@emits("Trilu", since=14)
def trilu(input: Any, k: Any = None, *, upper: int = 1) -> Any:
    """Trilu-14: keep the upper (or lower) triangle of the last two dims from diagonal k."""
    diag = 0 if k is None else scalar(k)
    return (torch.triu if upper else torch.tril)(T(input), diag)


# --------------------------------------------------------------------------------------
# Reductions. Every Reduce* op exists with ``axes`` as an attribute (opset 1) and as an
# optional input plus ``noop_with_empty_axes`` (ReduceSum 13, the others 18); both resolve
# to a list of dims, None for all. An empty list is the spec's "noop": the composite ops
# still apply their elementwise steps (ReduceL1 -> |x|, ReduceLogSum -> log x, ...).

Body = Callable[[torch.Tensor, Dims, bool, torch.dtype | None, EmitContext], torch.Tensor]


def _attr_axes(axes: tuple[int, ...] | None) -> Dims:
    return list(axes) if axes else None


def _input_axes(axes: Any, noop_with_empty_axes: int) -> Dims:
    dims = ints(axes)
    if not dims:
        return [] if noop_with_empty_axes else None
    return dims


def _sum(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
         ctx: EmitContext) -> torch.Tensor:
    return x if dims == [] else torch.sum(x, dim=dims, keepdim=keep, dtype=dtype)


def _mean(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
          ctx: EmitContext) -> torch.Tensor:
    if dims == []:
        return x
    return _back(torch.mean(_float_work(x, dtype), dim=dims, keepdim=keep), dtype)


def _empty_reduction(x: torch.Tensor, dims: Dims, ctx: EmitContext) -> bool:
    """Whether the IR knows a reduced axis to be empty (max/min then give their identity;
    torch refuses to reduce an empty axis)."""
    shape = ctx.input_shape(0)
    if shape is None:
        return False
    picked = range(len(shape)) if dims is None else dims
    return any(shape[d] == 0 for d in picked)


def _extreme(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None, ctx: EmitContext,
             want_max: bool) -> torch.Tensor:
    if dims == []:
        return x
    if _empty_reduction(x, dims, ctx):
        dtype = known_dtype(ctx, 0, x, "ReduceMax" if want_max else "ReduceMin")
        if dtype == torch.bool:
            identity: bool | float = not want_max
        elif dtype.is_floating_point:
            identity = -float("inf") if want_max else float("inf")
        else:
            info = torch.iinfo(dtype)
            identity = info.min if want_max else info.max
        return torch.full_like(torch.sum(x, dim=dims, keepdim=keep), identity, dtype=dtype)
    fn = torch.amax if want_max else torch.amin
    return ordering(dtype, lambda v: fn(v, dim=() if dims is None else dims, keepdim=keep), x)


def _max(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
         ctx: EmitContext) -> torch.Tensor:
    return _extreme(x, dims, keep, dtype, ctx, True)


def _min(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
         ctx: EmitContext) -> torch.Tensor:
    return _extreme(x, dims, keep, dtype, ctx, False)


def _prod(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
          ctx: EmitContext) -> torch.Tensor:
    if dims == []:
        return x
    if dims is None and not keep:
        return torch.prod(x, dtype=dtype)
    rank = _rank(x, ctx)
    # torch.prod reduces one dim at a time; from the last so the others keep their index.
    for d in sorted((d % rank for d in (dims if dims is not None else range(rank))), reverse=True):
        x = torch.prod(x, d, keepdim=keep, dtype=dtype)
    return x


def _l1(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
        ctx: EmitContext) -> torch.Tensor:
    return _sum(x.abs(), dims, keep, dtype, ctx)


def _l2(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
        ctx: EmitContext) -> torch.Tensor:
    if dims == []:
        return x.abs()
    norm = torch.linalg.vector_norm(_float_work(x, dtype), 2, dim=dims, keepdim=keep)
    return _back(norm, dtype)


def _sum_square(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
                ctx: EmitContext) -> torch.Tensor:
    return _sum(x * x, dims, keep, dtype, ctx)


def _log_sum(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
             ctx: EmitContext) -> torch.Tensor:
    w = _float_work(x, dtype)
    return _back(torch.log(w if dims == [] else torch.sum(w, dim=dims, keepdim=keep)), dtype)


def _log_sum_exp(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
                 ctx: EmitContext) -> torch.Tensor:
    if dims == []:
        return x  # log(exp(x))
    every = list(range(_rank(x, ctx))) if dims is None else dims
    return _back(torch.logsumexp(_float_work(x, dtype), dim=every, keepdim=keep), dtype)


def _host_fold(fn: Callable[[Any, Any], Any], identity: int, data: Host, dims: Dims,
               keepdims: int) -> Host:
    """ReduceSum/ReduceProd of a host value (rank <= 1) stays on the host."""
    if dims == [] or data.scalar:
        return data
    total = reduce(fn, data.items, identity)
    return Host((total,), data.dtype) if keepdims else Host.of(total, data.dtype)


def _reduce(body: Body, data: Any, dims: Dims, keepdims: int, ctx: EmitContext) -> Any:
    return body(T(data), dims, bool(keepdims), dtype_of(ctx, 0, data), ctx)


@emits("ReduceSum", since=1)
def reduce_sum_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                 ctx: EmitContext) -> Any:
    """ReduceSum-1(data) -> reduced; axes attribute."""
    if isinstance(data, Host):
        return _host_fold(operator.add, 0, data, _attr_axes(axes), keepdims)
    return _reduce(_sum, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceSum", since=13)
def reduce_sum_13(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                  ctx: EmitContext) -> Any:
    """ReduceSum-13(data, axes?) -> reduced."""
    dims = _input_axes(axes, noop_with_empty_axes)
    if isinstance(data, Host):
        return _host_fold(operator.add, 0, data, dims, keepdims)
    return _reduce(_sum, data, dims, keepdims, ctx)


@emits("ReduceProd", since=1)
def reduce_prod_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                  ctx: EmitContext) -> Any:
    """ReduceProd-1(data) -> reduced; axes attribute."""
    if isinstance(data, Host):
        return _host_fold(operator.mul, 1, data, _attr_axes(axes), keepdims)
    return _reduce(_prod, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceProd", since=18)
def reduce_prod_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                   ctx: EmitContext) -> Any:
    """ReduceProd-18(data, axes?) -> reduced."""
    dims = _input_axes(axes, noop_with_empty_axes)
    if isinstance(data, Host):
        return _host_fold(operator.mul, 1, data, dims, keepdims)
    return _reduce(_prod, data, dims, keepdims, ctx)


@emits("ReduceMean", since=1)
def reduce_mean_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                  ctx: EmitContext) -> Any:
    """ReduceMean-1(data) -> reduced; axes attribute."""
    return _reduce(_mean, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceMean", since=18)
def reduce_mean_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                   ctx: EmitContext) -> Any:
    """ReduceMean-18(data, axes?) -> reduced."""
    return _reduce(_mean, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceMax", since=1)
def reduce_max_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                 ctx: EmitContext) -> Any:
    """ReduceMax-1(data) -> reduced; axes attribute."""
    return _reduce(_max, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceMax", since=18)
def reduce_max_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                  ctx: EmitContext) -> Any:
    """ReduceMax-18(data, axes?) -> reduced (bool inputs from 20: False < True)."""
    return _reduce(_max, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceMin", since=1)
def reduce_min_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                 ctx: EmitContext) -> Any:
    """ReduceMin-1(data) -> reduced; axes attribute."""
    return _reduce(_min, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceMin", since=18)
def reduce_min_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                  ctx: EmitContext) -> Any:
    """ReduceMin-18(data, axes?) -> reduced (bool inputs from 20: False < True)."""
    return _reduce(_min, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceL1", since=1)
def reduce_l1_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                ctx: EmitContext) -> Any:
    """ReduceL1-1(data) -> reduced; axes attribute."""
    return _reduce(_l1, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceL1", since=18)
def reduce_l1_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                 ctx: EmitContext) -> Any:
    """ReduceL1-18(data, axes?) -> reduced."""
    return _reduce(_l1, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceL2", since=1)
def reduce_l2_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                ctx: EmitContext) -> Any:
    """ReduceL2-1(data) -> reduced; axes attribute."""
    return _reduce(_l2, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceL2", since=18)
def reduce_l2_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                 ctx: EmitContext) -> Any:
    """ReduceL2-18(data, axes?) -> reduced."""
    return _reduce(_l2, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceSumSquare", since=1)
def reduce_sum_square_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                        ctx: EmitContext) -> Any:
    """ReduceSumSquare-1(data) -> reduced; axes attribute."""
    return _reduce(_sum_square, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceSumSquare", since=18)
def reduce_sum_square_18(data: Any, axes: Any = None, *, keepdims: int = 1,
                         noop_with_empty_axes: int = 0, ctx: EmitContext) -> Any:
    """ReduceSumSquare-18(data, axes?) -> reduced."""
    return _reduce(_sum_square, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceLogSum", since=1)
def reduce_log_sum_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                     ctx: EmitContext) -> Any:
    """ReduceLogSum-1(data) -> reduced; axes attribute."""
    return _reduce(_log_sum, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceLogSum", since=18)
def reduce_log_sum_18(data: Any, axes: Any = None, *, keepdims: int = 1,
                      noop_with_empty_axes: int = 0, ctx: EmitContext) -> Any:
    """ReduceLogSum-18(data, axes?) -> reduced."""
    return _reduce(_log_sum, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceLogSumExp", since=1)
def reduce_log_sum_exp_1(data: Any, *, axes: tuple[int, ...] | None = None, keepdims: int = 1,
                         ctx: EmitContext) -> Any:
    """ReduceLogSumExp-1(data) -> reduced; axes attribute."""
    return _reduce(_log_sum_exp, data, _attr_axes(axes), keepdims, ctx)


@emits("ReduceLogSumExp", since=18)
def reduce_log_sum_exp_18(data: Any, axes: Any = None, *, keepdims: int = 1,
                          noop_with_empty_axes: int = 0, ctx: EmitContext) -> Any:
    """ReduceLogSumExp-18(data, axes?) -> reduced."""
    return _reduce(_log_sum_exp, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


# --------------------------------------------------------------------------------------
# ArgMax / ArgMin (torch returns the first extreme, as int64)


def _arg(fn: Callable[..., torch.Tensor], data: Any, axis: int, keepdims: int,
         select_last_index: int, ctx: EmitContext) -> torch.Tensor:
    x, dtype = T(data), dtype_of(ctx, 0, data)

    def first(v: torch.Tensor) -> torch.Tensor:
        return fn(v, dim=axis, keepdim=bool(keepdims))

    if not select_last_index:
        return ordering(dtype, first, x, keep=False)
    # The first hit on the reversed axis is the original last one.
    return (x.shape[axis] - 1) - ordering(dtype, first, x.flip(axis), keep=False)


@emits("ArgMax", since=1)
def arg_max_1(data: Any, *, axis: int = 0, keepdims: int = 1, ctx: EmitContext) -> Any:
    """ArgMax-1(data) -> reduced int64; first index of the maximum."""
    return _arg(torch.argmax, data, axis, keepdims, 0, ctx)


@emits("ArgMax", since=12)
def arg_max_12(data: Any, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0,
               ctx: EmitContext) -> Any:
    """ArgMax-12(data) -> reduced int64; select_last_index picks the last maximum."""
    return _arg(torch.argmax, data, axis, keepdims, select_last_index, ctx)


@emits("ArgMin", since=1)
def arg_min_1(data: Any, *, axis: int = 0, keepdims: int = 1, ctx: EmitContext) -> Any:
    """ArgMin-1(data) -> reduced int64; first index of the minimum."""
    return _arg(torch.argmin, data, axis, keepdims, 0, ctx)


@emits("ArgMin", since=12)
def arg_min_12(data: Any, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0,
               ctx: EmitContext) -> Any:
    """ArgMin-12(data) -> reduced int64; select_last_index picks the last minimum."""
    return _arg(torch.argmin, data, axis, keepdims, select_last_index, ctx)
