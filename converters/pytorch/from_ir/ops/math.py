"""Math emitters: matrix products, Einsum, cumulative ops, Det, the Softmax family, TopK
and Trilu (the Reduce* ops and ArgMax/ArgMin are in ``reduce.py``).

Integer results keep the input's type (see ``reduce.py``); uint16/32/64 go through the
int64 images of ``cast`` where torch lacks their kernels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T, scalar
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    UNSIGNED,
    dtype_of,
    from_ordered,
    ordered,
    wrapping,
)
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis


def tensor_rank(x: torch.Tensor, ctx: EmitContext | None, i: int = 0) -> int:
    r = ctx.rank(i) if ctx is not None else None
    return r if r is not None else x.dim()


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """An indexing tuple applying ``index`` to dimension ``axis`` (negative counts from the
    end), so that no rank is needed."""
    if axis >= 0:
        return (slice(None),) * axis + (index,)
    return (..., index) + (slice(None),) * (-axis - 1)


def float_work(x: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """Integers in float64 (exact for every value the result can hold)."""
    return x if dtype is None or dtype.is_floating_point else x.to(torch.float64)


def from_float_work(y: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """Undo :func:`float_work` (truncating, as integer reductions do)."""
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


# Separate: Gemm-1/6 require C and carry broadcast; 7 always broadcasts C (optional from 11).
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
                ctx: EmitContext, op: str) -> torch.Tensor:
    x = T(input)
    rank = tensor_rank(x, ctx)
    axis = norm_axis(axis, rank, op)
    if axis == rank - 1:
        return fn(x, -1)  # rows are the last axis already: no reshape needed
    rows = x.reshape(1, -1) if axis == 0 else x.flatten(0, axis - 1).flatten(1)
    return fn(rows, 1).reshape_as(x)


# Separate (Softmax, LogSoftmax, Hardmax): before 13 they work on the input flattened to
# 2-D at axis (default 1); 13 works along one axis (default -1).
@emits("Softmax", since=1)
def softmax_1(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """Softmax-1/11: softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(F.softmax, input, axis, ctx, "Softmax")


@emits("Softmax", since=13)
def softmax(input: Any, *, axis: int = -1) -> Any:
    """Softmax-13: exp(x) / sum(exp(x)) along ``axis``."""
    return F.softmax(T(input), axis)


@emits("LogSoftmax", since=1)
def log_softmax_1(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """LogSoftmax-1/11: log-softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(F.log_softmax, input, axis, ctx, "LogSoftmax")


@emits("LogSoftmax", since=13)
def log_softmax(input: Any, *, axis: int = -1) -> Any:
    """LogSoftmax-13: x - log(sum(exp(x))) along ``axis``."""
    return F.log_softmax(T(input), axis)


@emits("Hardmax", since=1)
def hardmax_1(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """Hardmax-1/11: one-hot of the first maximum of each row of the 2-D coerced input."""
    return _coerced_2d(_hardmax, input, axis, ctx, "Hardmax")


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


@emits("TopK", since=10)
def top_k(X: Any, K: Any, *, axis: int = -1, largest: int = 1, sorted: int = 1,
          ctx: EmitContext) -> Any:
    """TopK-10/11/24: k largest (or smallest, from 11) values along ``axis``; always returned
    sorted, which the spec allows for sorted=0. TopK-10 has neither attribute; their
    defaults are its meaning. (TopK-1's k attribute: ir/op_versions.py.)"""
    return _top_k(X, scalar(K), axis, largest, ctx)


@emits("Trilu", since=14)
def trilu(input: Any, k: Any = None, *, upper: int = 1) -> Any:
    """Trilu-14: keep the upper (or lower) triangle of the last two dims from diagonal k."""
    diag = 0 if k is None else scalar(k)
    return (torch.triu if upper else torch.tril)(T(input), diag)
