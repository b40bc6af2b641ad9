"""dtype conversion (_to_copy, to, type_as), the identities (clone, eval-mode dropout) and
the runtime checks torch.export leaves in the graph (_assert_scalar). Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.node import Value


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
