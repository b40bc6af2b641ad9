"""Reduction emitters: the Reduce* ops and ArgMax/ArgMin.

Integer results keep the input's type: torch promotes integer sums and products to int64
unless given ``dtype=``, and has no integer mean, norm or logarithm (those run in float64
and truncate back, as the runtime does). uint16/32/64 go through the int64 images of
``cast`` where torch lacks their kernels."""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import reduce
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import Host, T, ints
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    dtype_of,
    known_dtype,
    ordering,
)
from tensorbridge.converters.pytorch.from_ir.ops.math import (
    float_work,
    from_float_work,
    tensor_rank,
)
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axes

# --------------------------------------------------------------------------------------
# Reductions. Every Reduce* op exists with ``axes`` as an attribute (opset 1) and as an
# optional input plus ``noop_with_empty_axes`` (ReduceSum 13, the others 18); both resolve
# to a list of dims, None for all. An empty list is the spec's "noop": the composite ops
# still apply their elementwise steps (ReduceL1 -> |x|, ReduceLogSum -> log x, ...).

Dims = list[int] | None  # None: every axis
Body = Callable[[torch.Tensor, Dims, bool, torch.dtype | None, EmitContext], torch.Tensor]


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
    return from_float_work(torch.mean(float_work(x, dtype), dim=dims, keepdim=keep), dtype)


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
    rank = tensor_rank(x, ctx)
    # torch.prod reduces one dim at a time; from the last so the others keep their index.
    for d in sorted(norm_axes(dims if dims is not None else range(rank), rank, "ReduceProd"),
                    reverse=True):
        x = torch.prod(x, d, keepdim=keep, dtype=dtype)
    return x


def _l1(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
        ctx: EmitContext) -> torch.Tensor:
    return _sum(x.abs(), dims, keep, dtype, ctx)


def _l2(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
        ctx: EmitContext) -> torch.Tensor:
    if dims == []:
        return x.abs()
    norm = torch.linalg.vector_norm(float_work(x, dtype), 2, dim=dims, keepdim=keep)
    return from_float_work(norm, dtype)


def _sum_square(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
                ctx: EmitContext) -> torch.Tensor:
    return _sum(x * x, dims, keep, dtype, ctx)


def _log_sum(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
             ctx: EmitContext) -> torch.Tensor:
    w = float_work(x, dtype)
    return from_float_work(torch.log(w if dims == [] else torch.sum(w, dim=dims, keepdim=keep)), dtype)


def _log_sum_exp(x: torch.Tensor, dims: Dims, keep: bool, dtype: torch.dtype | None,
                 ctx: EmitContext) -> torch.Tensor:
    if dims == []:
        return x  # log(exp(x))
    every = list(range(tensor_rank(x, ctx))) if dims is None else dims
    return from_float_work(torch.logsumexp(float_work(x, dtype), dim=every, keepdim=keep), dtype)


def _host_fold(fn: Callable[[Any, Any], Any], identity: int, data: Host, dims: Dims,
               keepdims: int) -> Host:
    """ReduceSum/ReduceProd of a host value (rank <= 1) stays on the host."""
    if dims == [] or data.scalar:
        return data
    total = reduce(fn, data.items, identity)
    return Host((total,), data.dtype) if keepdims else Host.of(total, data.dtype)


def _reduce(body: Body, data: Any, dims: Dims, keepdims: int, ctx: EmitContext) -> Any:
    return body(T(data), dims, bool(keepdims), dtype_of(ctx, 0, data), ctx)


@emits("ReduceSum", since=13)
def reduce_sum_13(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                  ctx: EmitContext) -> Any:
    """ReduceSum-13(data, axes?) -> reduced."""
    dims = _input_axes(axes, noop_with_empty_axes)
    if isinstance(data, Host):
        return _host_fold(operator.add, 0, data, dims, keepdims)
    return _reduce(_sum, data, dims, keepdims, ctx)


@emits("ReduceProd", since=18)
def reduce_prod_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                   ctx: EmitContext) -> Any:
    """ReduceProd-18(data, axes?) -> reduced."""
    dims = _input_axes(axes, noop_with_empty_axes)
    if isinstance(data, Host):
        return _host_fold(operator.mul, 1, data, dims, keepdims)
    return _reduce(_prod, data, dims, keepdims, ctx)


@emits("ReduceMean", since=18)
def reduce_mean_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                   ctx: EmitContext) -> Any:
    """ReduceMean-18(data, axes?) -> reduced."""
    return _reduce(_mean, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceMax", since=18)
def reduce_max_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                  ctx: EmitContext) -> Any:
    """ReduceMax-18(data, axes?) -> reduced (bool inputs from 20: False < True)."""
    return _reduce(_max, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceMin", since=18)
def reduce_min_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                  ctx: EmitContext) -> Any:
    """ReduceMin-18(data, axes?) -> reduced (bool inputs from 20: False < True)."""
    return _reduce(_min, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceL1", since=18)
def reduce_l1_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                 ctx: EmitContext) -> Any:
    """ReduceL1-18(data, axes?) -> reduced."""
    return _reduce(_l1, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceL2", since=18)
def reduce_l2_18(data: Any, axes: Any = None, *, keepdims: int = 1, noop_with_empty_axes: int = 0,
                 ctx: EmitContext) -> Any:
    """ReduceL2-18(data, axes?) -> reduced."""
    return _reduce(_l2, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceSumSquare", since=18)
def reduce_sum_square_18(data: Any, axes: Any = None, *, keepdims: int = 1,
                         noop_with_empty_axes: int = 0, ctx: EmitContext) -> Any:
    """ReduceSumSquare-18(data, axes?) -> reduced."""
    return _reduce(_sum_square, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


@emits("ReduceLogSum", since=18)
def reduce_log_sum_18(data: Any, axes: Any = None, *, keepdims: int = 1,
                      noop_with_empty_axes: int = 0, ctx: EmitContext) -> Any:
    """ReduceLogSum-18(data, axes?) -> reduced."""
    return _reduce(_log_sum, data, _input_axes(axes, noop_with_empty_axes), keepdims, ctx)


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
def arg_max(data: Any, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0,
            ctx: EmitContext) -> Any:
    """ArgMax-1/11/12/13(data) -> reduced int64; select_last_index (from 12) picks the last
    maximum, its default 0 (the first one) is the earlier versions' meaning."""
    return _arg(torch.argmax, data, axis, keepdims, select_last_index, ctx)


@emits("ArgMin", since=1)
def arg_min(data: Any, *, axis: int = 0, keepdims: int = 1, select_last_index: int = 0,
            ctx: EmitContext) -> Any:
    """ArgMin-1/11/12/13(data) -> reduced int64; select_last_index (from 12) picks the last
    minimum, its default 0 (the first one) is the earlier versions' meaning."""
    return _arg(torch.argmin, data, axis, keepdims, select_last_index, ctx)
