"""Selection (where, masked_fill, lerp, addcmul/addcdiv), matrix products (mm, addmm,
linear -> Gemm/MatMul, einsum), softmax and cumulative ops,
dtype conversion, tensor creation (full, zeros_like, arange, eye, ...), identities
(clone, detach, eval-mode dropout) and the runtime checks torch.export leaves in the
graph. Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
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


# ---------------------------------------------------------------- selection and fused
@aten("aten::where.self", "aten::where.ScalarSelf", "aten::where.ScalarOther", "aten::where.Scalar")
def aten_where(ctx: Ctx, condition: Value, self: object, other: object) -> Value:
    """where.self(Tensor condition, Tensor self, Tensor other) -> Tensor  (and Scalar forms)"""
    dt = ctx.out_dtype()
    cond = ctx.tensor(condition, DType.BOOL)
    return ctx.op("Where", [cond, ctx.tensor(self, dt), ctx.tensor(other, dt)])


@aten("aten::masked_fill.Scalar", "aten::masked_fill.Tensor")
def aten_masked_fill(ctx: Ctx, self: Value, mask: Value, value: object) -> Value:
    """masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor"""
    dt = ctx.out_dtype()
    return ctx.op("Where", [ctx.tensor(mask, DType.BOOL), ctx.tensor(value, dt), ctx.tensor(self, dt)])


@aten("aten::lerp.Scalar", "aten::lerp.Tensor")
def aten_lerp(ctx: Ctx, self: Value, end: Value, weight: object) -> Value:
    """lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor  (self + w * (end - self))"""
    dt = ctx.out_dtype()
    start = ctx.tensor(self, dt)
    diff = ctx.op("Sub", [ctx.tensor(end, dt), start])
    return ctx.op("Add", [start, ctx.op("Mul", [ctx.tensor(weight, dt), diff])])


def _addc(ctx: Ctx, op: str, self: Value, tensor1: Value, tensor2: Value, value: object) -> Value:
    dt = ctx.out_dtype()
    prod = ctx.op(op, [ctx.tensor(tensor1, dt), ctx.tensor(tensor2, dt)])
    if value != 1:
        prod = ctx.op("Mul", [prod, ctx.tensor(value, dt)])
    return ctx.op("Add", [ctx.tensor(self, dt), prod])


@aten("aten::addcmul.default")
def aten_addcmul(ctx: Ctx, self: Value, tensor1: Value, tensor2: Value, *, value: object = 1) -> Value:
    """addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor"""
    return _addc(ctx, "Mul", self, tensor1, tensor2, value)


@aten("aten::addcdiv.default")
def aten_addcdiv(ctx: Ctx, self: Value, tensor1: Value, tensor2: Value, *, value: object = 1) -> Value:
    """addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor"""
    return _addc(ctx, "Div", self, tensor1, tensor2, value)


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


# ---------------------------------------------------------------- dtype and identities
@aten("aten::_to_copy.default")
def aten__to_copy(ctx: Ctx, self: Value, *, dtype: torch.dtype | None = None, layout: Any = None,
                  device: Any = None, pin_memory: bool | None = None, non_blocking: bool = False,
                  memory_format: Any = None) -> Value:
    """_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> Tensor"""
    return ctx.cast(self, ctx.out_dtype())


@aten("aten::to")
def aten_to(ctx: Ctx, self: Value, *args: Any, **kwargs: Any) -> Value:
    """to.dtype(Tensor(a) self, ScalarType dtype, bool non_blocking=False, bool copy=False, MemoryFormat? memory_format=None) -> Tensor(a)

    Every ``to`` overload (dtype, device, other): only the result dtype matters."""
    return ctx.cast(self, ctx.out_dtype())


@aten("aten::type_as.default")
def aten_type_as(ctx: Ctx, self: Value, other: Value) -> Value:
    """type_as(Tensor self, Tensor other) -> Tensor"""
    return ctx.cast(self, ctx.out_dtype())


@aten("aten::clone.default", "aten::alias.default", "aten::detach.default",
      "aten::lift_fresh_copy.default", "aten::contiguous.default")
def aten_clone(ctx: Ctx, self: Value, *, memory_format: Any = None) -> Value:
    """clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor

    Also alias, detach, lift_fresh_copy, contiguous: values are immutable in the IR."""
    return self


@aten("aten::dropout.default")
def aten_dropout(ctx: Ctx, input: Value, p: float, train: bool) -> Value:
    """dropout(Tensor input, float p, bool train) -> Tensor"""
    if train and p > 0:
        raise ctx.fail("training-mode dropout is random; export the model in eval() mode")
    return input


@aten("aten::native_dropout.default")
def aten_native_dropout(ctx: Ctx, input: Value, p: float, train: bool | None) -> tuple[Value, Value]:
    """native_dropout(Tensor input, float p, bool? train) -> (Tensor, Tensor)"""
    if train and p > 0:
        raise ctx.fail("training-mode dropout is random; export the model in eval() mode")
    keep = ctx.op("ConstantOfShape", [ctx.shape_of(input)], {"value": np.array([True])})
    return input, keep


# ---------------------------------------------------------------- runtime checks
@aten("aten::_assert_scalar.default", "aten::_assert_async.default", "aten::_assert_async.msg",
      "aten::_assert_tensor_metadata.default", "aten::sym_constrain_range.default",
      "aten::sym_constrain_range_for_size.default")
def aten__assert_scalar(ctx: Ctx, *args: Any, **kwargs: Any) -> None:
    """_assert_scalar(Scalar self, str assert_msg) -> ()

    Also _assert_async, _assert_tensor_metadata and sym_constrain_range[_for_size]: checks
    torch.export already proved for the traced inputs; ONNX has no assert, so they vanish."""
    return None


# ---------------------------------------------------------------- creation
def _filled(ctx: Ctx, shape: Value, value: object) -> Value:
    """A tensor of ``shape`` (1-D int64) filled with ``value`` in the result dtype."""
    dt = ctx.out_dtype()
    if isinstance(value, Value):  # a SymInt / SymFloat or 0-d tensor
        return ctx.op("Expand", [ctx.tensor(value, dt), shape])
    # ConstantOfShape gained bfloat16 and the float8 types at opset 20
    fill = dt if ctx.opset >= 20 or dt.np_dtype.kind in "biu" or dt in _FLOATS_17 else DType.FLOAT
    y = ctx.op("ConstantOfShape", [shape], {"value": np.array([value], dtype=fill.np_dtype)}, dtype=fill)
    return ctx.cast(y, dt)


_FLOATS_17 = (DType.FLOAT, DType.DOUBLE, DType.FLOAT16)


def _result_shape(ctx: Ctx, like: Value) -> Value:
    """The output's shape: a constant when torch knows it statically, else Shape(like)."""
    dims = ctx.meta().shape
    if all(isinstance(d, int) for d in dims):
        return ctx.ints(list(dims))
    return ctx.shape_of(like)


@aten("aten::full.default")
def aten_full(ctx: Ctx, size: Sequence[Any], fill_value: object, **factory: Any) -> Value:
    """full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return _filled(ctx, ctx.ints(size), fill_value)


@aten("aten::zeros.default", "aten::empty.memory_format")
def aten_zeros(ctx: Ctx, size: Sequence[Any], **factory: Any) -> Value:
    """zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor

    Also empty: uninitialised memory has no meaning in a graph, zeros are deterministic."""
    return _filled(ctx, ctx.ints(size), 0)


@aten("aten::empty_strided.default")
def aten_empty_strided(ctx: Ctx, size: Sequence[Any], stride: Sequence[Any], **factory: Any) -> Value:
    """empty_strided(SymInt[] size, SymInt[] stride, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return _filled(ctx, ctx.ints(size), 0)


@aten("aten::ones.default")
def aten_ones(ctx: Ctx, size: Sequence[Any], **factory: Any) -> Value:
    """ones(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return _filled(ctx, ctx.ints(size), 1)


@aten("aten::full_like.default")
def aten_full_like(ctx: Ctx, self: Value, fill_value: object, **factory: Any) -> Value:
    """full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor"""
    return _filled(ctx, _result_shape(ctx, self), fill_value)


@aten("aten::zeros_like.default", "aten::empty_like.default")
def aten_zeros_like(ctx: Ctx, self: Value, **factory: Any) -> Value:
    """zeros_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor"""
    return _filled(ctx, _result_shape(ctx, self), 0)


@aten("aten::ones_like.default")
def aten_ones_like(ctx: Ctx, self: Value, **factory: Any) -> Value:
    """ones_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor"""
    return _filled(ctx, _result_shape(ctx, self), 1)


@aten("aten::fill.Scalar", "aten::fill.Tensor")
def aten_fill(ctx: Ctx, self: Value, value: object) -> Value:
    """fill.Scalar(Tensor self, Scalar value) -> Tensor"""
    return _filled(ctx, _result_shape(ctx, self), value)


@aten("aten::new_zeros.default", "aten::new_empty.default")
def aten_new_zeros(ctx: Ctx, self: Value, size: Sequence[Any], **factory: Any) -> Value:
    """new_zeros(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return _filled(ctx, ctx.ints(size), 0)


@aten("aten::new_ones.default")
def aten_new_ones(ctx: Ctx, self: Value, size: Sequence[Any], **factory: Any) -> Value:
    """new_ones(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return _filled(ctx, ctx.ints(size), 1)


@aten("aten::new_full.default")
def aten_new_full(ctx: Ctx, self: Value, size: Sequence[Any], fill_value: object, **factory: Any) -> Value:
    """new_full(Tensor self, SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return _filled(ctx, ctx.ints(size), fill_value)


@aten("aten::scalar_tensor.default")
def aten_scalar_tensor(ctx: Ctx, s: object, **factory: Any) -> Value:
    """scalar_tensor(Scalar s, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"""
    return ctx.tensor(s, ctx.out_dtype())


# Range kernels in onnxruntime: these dtypes directly, others via int64 / float32 and a Cast
_RANGE_DTYPES = (DType.FLOAT, DType.DOUBLE, DType.INT16, DType.INT32, DType.INT64)


@aten("aten::arange.default", "aten::arange.start", "aten::arange.start_step")
def aten_arange(ctx: Ctx, start: object, end: object = None, step: object = 1, **factory: Any) -> Value:
    """arange.start_step(Scalar start, Scalar end, Scalar step=1, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor

    Also arange(end) and arange.start(start, end)."""
    if end is None:
        start, end = 0, start
    dt = ctx.out_dtype()
    args = (start, end, step)
    if dt.is_float and not any(isinstance(a, Value) for a in args):
        # torch accumulates float aranges in double; a constant reproduces it bit for bit
        t = torch.arange(*args, dtype=ctx.meta().dtype)  # type: ignore[call-overload]
        if dt == DType.BFLOAT16:
            return ctx.cast(ctx.const(t.float().numpy()), dt)
        return ctx.const(t.numpy(), dt)
    rdt = dt if dt in _RANGE_DTYPES else (DType.FLOAT if dt.is_float else DType.INT64)
    y = ctx.op("Range", [ctx.tensor(a, rdt) for a in args], dtype=rdt)
    return ctx.cast(y, dt)


@aten("aten::eye.default", "aten::eye.m")
def aten_eye(ctx: Ctx, n: object, m: object = None, **factory: Any) -> Value:
    """eye.m(SymInt n, SymInt m, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor

    Also eye(n)."""
    dt = ctx.out_dtype()
    edt = dt if dt in (DType.FLOAT, DType.DOUBLE, DType.INT32, DType.INT64) else DType.FLOAT
    shape = ctx.ints([n, n if m is None else m])
    zeros = ctx.op("ConstantOfShape", [shape], {"value": np.zeros(1, edt.np_dtype)})
    y = ctx.op("EyeLike", [zeros], {"dtype": int(edt)}, dtype=edt)
    return ctx.cast(y, dt)


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
