"""Tensor creation: full / zeros / ones / empty_strided and their *_like / new_* forms,
fill, scalar_tensor, arange and eye -> ONNX ConstantOfShape, Expand, Range, EyeLike. Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


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


@aten("aten::zero.default")
def aten_zero(ctx: Ctx, self: Value) -> Value:
    """zero(Tensor self) -> Tensor  (the functional form of ``zero_()``)"""
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
