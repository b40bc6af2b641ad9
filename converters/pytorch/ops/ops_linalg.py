"""Matrix products (mm, mv, addmm, baddbmm, addmv, linear -> Gemm/MatMul, einsum, outer),
softmax / log_softmax, cumulative sums and products, and triu / tril: the ops that lower
to the ONNX math family (MatMul, Gemm, Einsum, Softmax, CumSum, Trilu), and the
mixture-of-experts grouped matmul (transformers::grouped_mm_fallback, aten::_grouped_mm). Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_shape import dim_size, static_dim
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.node import Value

# onnxruntime's CPU Gemm only has float kernels; other dtypes use MatMul (+ Add)
_GEMM_DTYPES = (DType.FLOAT, DType.DOUBLE)


def _scale(ctx: Ctx, x: Value, factor: object, dt: DType) -> Value:
    return x if factor == 1 else ctx.op("Mul", [x, ctx.tensor(factor, dt)], dtype=dt)


def _beta_self_plus(ctx: Ctx, self: Value, prod: Value, beta: float, alpha: float) -> Value:
    """beta * self + alpha * prod; self is ignored when beta == 0 (torch: nan * 0 is not read)."""
    dt = ctx.out_dtype()
    prod = _scale(ctx, prod, alpha, dt)
    if beta == 0:
        return prod
    return ctx.op("Add", [_scale(ctx, ctx.tensor(self, dt), beta, dt), prod])


# ---------------------------------------------------------------- matrix products
@aten("aten::mm.default", "aten::bmm.default", "aten::matmul.default")
def aten_matmul(ctx: Ctx, self: Value, other: Value) -> Value:
    """matmul(Tensor self, Tensor other) -> Tensor  (also mm, bmm)"""
    dt = ctx.out_dtype()
    return ctx.op("MatMul", [ctx.tensor(self, dt), ctx.tensor(other, dt)], dtype=dt)


@aten("aten::mv.default", "aten::dot.default")
def aten_mv(ctx: Ctx, self: Value, vec: Value) -> Value:
    """mv(Tensor self, Tensor vec) -> Tensor  (also dot; MatMul has numpy's 1-D rules)"""
    return aten_matmul(ctx, self, vec)


@aten("aten::addmm.default")
def aten_addmm(ctx: Ctx, self: Value, mat1: Value, mat2: Value, *, beta: float = 1,
               alpha: float = 1) -> Value:
    """addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor"""
    dt = ctx.out_dtype()
    if dt in _GEMM_DTYPES:
        c = None if beta == 0 else ctx.tensor(self, dt)
        return ctx.op("Gemm", [mat1, mat2, c], {"alpha": float(alpha), "beta": float(beta)})
    return _beta_self_plus(ctx, self, aten_matmul(ctx, mat1, mat2), beta, alpha)


@aten("aten::baddbmm.default")
def aten_baddbmm(ctx: Ctx, self: Value, batch1: Value, batch2: Value, *, beta: float = 1,
                 alpha: float = 1) -> Value:
    """baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> Tensor"""
    return _beta_self_plus(ctx, self, aten_matmul(ctx, batch1, batch2), beta, alpha)


@aten("aten::addmv.default")
def aten_addmv(ctx: Ctx, self: Value, mat: Value, vec: Value, *, beta: float = 1,
               alpha: float = 1) -> Value:
    """addmv(Tensor self, Tensor mat, Tensor vec, *, Scalar beta=1, Scalar alpha=1) -> Tensor"""
    return _beta_self_plus(ctx, self, aten_matmul(ctx, mat, vec), beta, alpha)


@aten("aten::linear.default")
def aten_linear(ctx: Ctx, input: Value, weight: Value, bias: Value | None = None) -> Value:
    """linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor"""
    dt = ctx.out_dtype()
    if ctx.rank(input) == 2 and ctx.rank(weight) == 2 and dt in _GEMM_DTYPES:
        return ctx.op("Gemm", [input, weight, bias], {"transB": 1})
    # The weight keeps its state_dict name; the Transpose of a constant folds away in
    # onnxruntime and in the constant-folding pass.
    w_t = weight if ctx.rank(weight) == 1 else ctx.op("Transpose", [weight], {"perm": [1, 0]})
    y = ctx.op("MatMul", [input, w_t], dtype=dt)
    return y if bias is None else ctx.op("Add", [y, bias])


@aten("transformers::grouped_mm_fallback.default")
def transformers_grouped_mm(ctx: Ctx, input: Value, weight: Value, offs: Value) -> Value:
    """grouped_mm_fallback(Tensor input, Tensor weight, Tensor offs) -> Tensor

    transformers' mixture-of-experts matmul: ``input`` (S, K) holds rows sorted by expert,
    ``offs`` (E,) each expert's cumulative end row, ``weight`` (E, K, N); row r of expert e
    (offs[e-1] <= r < offs[e]) gives ``input[r] @ weight[e]``, rows past offs[-1] are zero.
    Unrolled over the E experts (a static count): one Slice + MatMul per expert and a
    Concat, so no (S, K, N) gather of per-row weights is built."""
    return _grouped_mm(ctx, input, weight, offs)


@aten("aten::_grouped_mm.default")
def aten__grouped_mm(ctx: Ctx, self: Value, mat2: Value, offs: Value | None = None,
                     bias: Value | None = None, out_dtype: Any = None) -> Value:
    """_grouped_mm(Tensor self, Tensor mat2, Tensor? offs=None, Tensor? bias=None, ScalarType? out_dtype=None) -> Tensor"""
    if offs is None or ctx.rank(self) != 2 or ctx.rank(mat2) != 3:
        raise UnsupportedOpError("pytorch", "aten::_grouped_mm", hint="only the 2-D x 3-D form with "
                                 "offs (mixture-of-experts rows grouped by expert) is translated")
    out = _grouped_mm(ctx, self, mat2, offs, bias)
    return ctx.cast(out, ctx.out_dtype()) if out_dtype is not None else out


def _grouped_mm(ctx: Ctx, rows: Value, weight: Value, offs: Value, bias: Value | None = None) -> Value:
    experts = static_dim(weight, 0)
    if experts is None:
        raise UnsupportedOpError("pytorch", "grouped matmul", hint="the number of experts "
                                 "(weight.shape[0]) must be static")
    ends = ctx.cast(offs, DType.INT64)
    start = ctx.const(np.array([0], np.int64))
    zero_axis = ctx.ints([0])
    pieces = []
    for e in range(experts):
        end = ctx.op("Slice", [ends, ctx.ints([e]), ctx.ints([e + 1])])
        block = ctx.op("Slice", [rows, start, end, zero_axis])
        w = ctx.op("Gather", [weight, ctx.const(np.array(e, np.int64))], {"axis": 0})
        y = ctx.op("MatMul", [block, w])
        if bias is not None:
            y = ctx.op("Add", [y, ctx.op("Gather", [bias, ctx.const(np.array(e, np.int64))], {"axis": 0})])
        pieces.append(y)
        start = end
    # rows past the last expert's end stay zero
    n_rows = dim_size(ctx, rows, 0)
    tail = ctx.op("Concat", [ctx.op("Sub", [n_rows, start]), dim_size(ctx, weight, 2)], {"axis": 0})
    zeros = ctx.op("ConstantOfShape", [tail], {"value": np.zeros(1, ctx.out_dtype().np_dtype)})
    return ctx.op("Concat", [*pieces, zeros], {"axis": 0}, dtype=ctx.out_dtype())


@aten("aten::einsum.default")
def aten_einsum(ctx: Ctx, equation: str, tensors: Sequence[Value], *,
                path: Sequence[int] | None = None) -> Value:
    """einsum(str equation, Tensor[] tensors, *, int[]? path=None) -> Tensor"""
    dt = ctx.out_dtype()
    return ctx.op("Einsum", [ctx.tensor(t, dt) for t in tensors], {"equation": equation.replace(" ", "")})


@aten("aten::outer.default")
def aten_outer(ctx: Ctx, self: Value, vec2: Value) -> Value:
    """outer(Tensor self, Tensor vec2) -> Tensor"""
    dt = ctx.out_dtype()
    col = ctx.unsqueeze(ctx.tensor(self, dt), [1])
    return ctx.op("Mul", [col, ctx.unsqueeze(ctx.tensor(vec2, dt), [0])])


# ---------------------------------------------------------------- softmax and scans
def _softmax(ctx: Ctx, op: str, x: Value, dim: int) -> Value:
    dt = ctx.out_dtype()  # torch computed it from dtype= / half_to_float
    x = ctx.tensor(x, dt)
    if ctx.rank(x) == 0:  # softmax of a scalar is 1 (log_softmax: 0)
        return ctx.op("Mul", [ctx.op("Sub", [x, x]), ctx.const(1, dt)]) if op == "Softmax" \
            else ctx.op("Sub", [x, x])
    return ctx.op(op, [x], {"axis": dim})


@aten("aten::_softmax.default")
def aten__softmax(ctx: Ctx, self: Value, dim: int, half_to_float: bool) -> Value:
    """_softmax(Tensor self, int dim, bool half_to_float) -> Tensor"""
    return _softmax(ctx, "Softmax", self, dim)


@aten("aten::softmax.int")
def aten_softmax_int(ctx: Ctx, self: Value, dim: int, dtype: torch.dtype | None = None) -> Value:
    """softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor"""
    return _softmax(ctx, "Softmax", self, dim)


@aten("aten::_log_softmax.default")
def aten__log_softmax(ctx: Ctx, self: Value, dim: int, half_to_float: bool) -> Value:
    """_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor"""
    return _softmax(ctx, "LogSoftmax", self, dim)


@aten("aten::log_softmax.int")
def aten_log_softmax_int(ctx: Ctx, self: Value, dim: int, dtype: torch.dtype | None = None) -> Value:
    """log_softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor"""
    return _softmax(ctx, "LogSoftmax", self, dim)


@aten("aten::cumsum.default")
def aten_cumsum(ctx: Ctx, self: Value, dim: int, *, dtype: torch.dtype | None = None) -> Value:
    """cumsum(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor  (ints/bool -> int64)"""
    x = ctx.tensor(self, ctx.out_dtype())
    if ctx.rank(self) == 0:
        return x
    return ctx.op("CumSum", [x, ctx.const(np.int64(dim))])


@aten("aten::cumprod.default")
def aten_cumprod(ctx: Ctx, self: Value, dim: int, *, dtype: torch.dtype | None = None) -> Value:
    """cumprod(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor"""
    # No ONNX op: sign * exp(cumsum(log|x|)), with the sign from the count of negatives and
    # zeros sticking once seen. Integers go through float64 (exact below 2**53) and Round.
    out = ctx.out_dtype()
    dt = out if out in (DType.FLOAT, DType.DOUBLE) else DType.DOUBLE
    x = ctx.tensor(self, dt)
    if ctx.rank(self) == 0:
        return ctx.cast(x, out)
    axis = ctx.const(np.int64(dim))

    def cum(v: Value) -> Value:
        return ctx.op("CumSum", [v, axis])

    zero, one, two = ctx.const(0, dt), ctx.const(1, dt), ctx.const(2, dt)
    is_zero = ctx.op("Equal", [x, zero])
    abs_x = ctx.op("Where", [is_zero, one, ctx.op("Abs", [x])])  # log(0) never evaluated
    mag = ctx.op("Exp", [cum(ctx.op("Log", [abs_x]))])
    negs = cum(ctx.cast(ctx.op("Less", [x, zero]), dt))
    sign = ctx.op("Sub", [one, ctx.op("Mul", [ctx.op("Mod", [negs, two], {"fmod": 1}), two])])
    seen_zero = ctx.op("Greater", [cum(ctx.cast(is_zero, dt)), zero])
    y = ctx.op("Where", [seen_zero, zero, ctx.op("Mul", [mag, sign])])
    if out != dt:
        y = ctx.op("Round", [y]) if not out.is_float else y
        y = ctx.op("Cast", [y], {"to": int(out)})
    return y


def _trilu(ctx: Ctx, x: Value, diagonal: object, upper: int) -> Value:
    return ctx.op("Trilu", [x, ctx.tensor(diagonal, DType.INT64)], {"upper": upper})


@aten("aten::triu.default")
def aten_triu(ctx: Ctx, self: Value, diagonal: object = 0) -> Value:
    """triu(Tensor self, SymInt diagonal=0) -> Tensor"""
    return _trilu(ctx, self, diagonal, 1)


@aten("aten::tril.default")
def aten_tril(ctx: Ctx, self: Value, diagonal: object = 0) -> Value:
    """tril(Tensor self, SymInt diagonal=0) -> Tensor"""
    return _trilu(ctx, self, diagonal, 0)
