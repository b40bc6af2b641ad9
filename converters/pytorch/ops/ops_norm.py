"""Normalization layers: batch / layer / group / instance / RMS norm -> ONNX
BatchNormalization, LayerNormalization, GroupNormalization / InstanceNormalization and
RMSNormalization (or their expansions at older opsets). Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_nn import (
    channel_view,
    output_used,
    require_unused,
)
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


def _or_fill(ctx: Ctx, v: Value | None, shape: Sequence[int], fill: float, dtype: DType) -> Value:
    """``v``, or a constant of ``shape`` filled with ``fill`` (absent affine weight/bias)."""
    return v if v is not None else ctx.const(np.full(tuple(shape), fill), dtype)


def _channels(ctx: Ctx, x: Value) -> int:
    shape = x.shape
    if shape is None or len(shape) < 2 or not isinstance(shape[1], int):
        raise ctx.fail(f"normalization needs a static channel dim, input shape is {shape}")
    return int(shape[1])


def _affine(ctx: Ctx, y: Value, weight: Value | None, bias: Value | None, rank: int) -> Value:
    """y * weight + bias with per-channel (dim 1) weight and bias, each optional."""
    if weight is not None:
        y = ctx.op("Mul", [y, channel_view(ctx, weight, rank)])
    if bias is not None:
        y = ctx.op("Add", [y, channel_view(ctx, bias, rank)])
    return y


# ---------------------------------------------------------------- batch norm
def _batch_norm_eval(ctx: Ctx, x: Value, weight: Value | None, bias: Value | None, mean: Value,
                     var: Value, eps: float) -> Value:
    c, dt = _channels(ctx, x), ctx.dtype(x)
    return ctx.op("BatchNormalization", [x, _or_fill(ctx, weight, [c], 1.0, dt), _or_fill(ctx, bias, [c], 0.0, dt),
                                         mean, var], {"epsilon": float(eps)})


def _batch_norm_batch_stats(ctx: Ctx, x: Value, weight: Value | None, bias: Value | None, eps: float) -> Value:
    """Normalise with the batch's own statistics (BatchNorm without running stats)."""
    rank, dt = ctx.rank(x), ctx.dtype(x)
    axes = [0] + list(range(2, rank))
    mean = ctx.reduce("ReduceMean", x, axes, keepdims=True)
    centred = ctx.op("Sub", [x, mean])
    var = ctx.reduce("ReduceMean", ctx.op("Mul", [centred, centred]), axes, keepdims=True)
    std = ctx.op("Sqrt", [ctx.op("Add", [var, ctx.const(eps, dt)])])
    return _affine(ctx, ctx.op("Div", [centred, std]), weight, bias, rank)


@aten("aten::_native_batch_norm_legit_no_training.default")
def aten_native_batch_norm_legit_no_training(ctx: Ctx, input: Value, weight: Value | None, bias: Value | None,
                                             running_mean: Value, running_var: Value, momentum: float,
                                             eps: float) -> tuple[Value, None, None]:
    """_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, Tensor running_mean, Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)"""
    require_unused(ctx, [1, 2], "saved mean / inverse std")
    return _batch_norm_eval(ctx, input, weight, bias, running_mean, running_var, eps), None, None


@aten("aten::_native_batch_norm_legit.no_stats")
def aten_native_batch_norm_legit_no_stats(ctx: Ctx, input: Value, weight: Value | None, bias: Value | None,
                                          training: bool, momentum: float, eps: float) -> tuple[Value, None, None]:
    """_native_batch_norm_legit.no_stats(Tensor input, Tensor? weight, Tensor? bias, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)"""
    require_unused(ctx, [1, 2], "saved mean / inverse std")
    return _batch_norm_batch_stats(ctx, input, weight, bias, eps), None, None


@aten("aten::batch_norm.default")
def aten_batch_norm(ctx: Ctx, input: Value, weight: Value | None, bias: Value | None, running_mean: Value | None,
                    running_var: Value | None, training: bool, momentum: float, eps: float,
                    cudnn_enabled: bool) -> Value:
    """batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, Tensor? running_var, bool training, float momentum, float eps, bool cudnn_enabled) -> Tensor"""
    if training or running_mean is None or running_var is None:
        return _batch_norm_batch_stats(ctx, input, weight, bias, eps)
    return _batch_norm_eval(ctx, input, weight, bias, running_mean, running_var, eps)


# ---------------------------------------------------------------- layer / group / instance / RMS norm
def _layer_norm(ctx: Ctx, x: Value, normalized_shape: Sequence[int], weight: Value | None, bias: Value | None,
                eps: float, n_outputs: int) -> Any:
    ns = [int(d) for d in normalized_shape]
    scale = _or_fill(ctx, weight, ns, 1.0, ctx.dtype(x))
    inputs = [x, scale] + ([bias] if bias is not None else [])
    attrs: dict[str, Any] = {"axis": -len(ns), "epsilon": float(eps)}
    if ctx.dtype(x) is DType.DOUBLE:  # torch keeps float64 statistics; ONNX's default stash is float32
        attrs["stash_type"] = int(DType.DOUBLE)
    return ctx.op("LayerNormalization", inputs, attrs, n_outputs=n_outputs)


@aten("aten::layer_norm.default")
def aten_layer_norm(ctx: Ctx, input: Value, normalized_shape: Sequence[int], weight: Value | None = None,
                    bias: Value | None = None, eps: float = 1e-05, cudnn_enable: bool = True) -> Value:
    """layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, Tensor? bias=None, float eps=1e-05, bool cudnn_enable=True) -> Tensor"""
    return _layer_norm(ctx, input, normalized_shape, weight, bias, eps, 1)


@aten("aten::native_layer_norm.default")
def aten_native_layer_norm(ctx: Ctx, input: Value, normalized_shape: Sequence[int], weight: Value | None,
                           bias: Value | None, eps: float) -> tuple[Value, Value | None, Value | None]:
    """native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) -> (Tensor, Tensor, Tensor)"""
    if not (output_used(ctx, 1) or output_used(ctx, 2)):
        return _layer_norm(ctx, input, normalized_shape, weight, bias, eps, 1), None, None
    # ONNX Mean / InvStdDev keep the normalised dims as 1s, like torch's mean / rstd
    return tuple(_layer_norm(ctx, input, normalized_shape, weight, bias, eps, 3))


def _group_norm(ctx: Ctx, x: Value, groups: int, weight: Value | None, bias: Value | None, eps: float) -> Value:
    c, dt, rank = _channels(ctx, x), ctx.dtype(x), ctx.rank(x)
    if ctx.opset >= 21:  # GroupNormalization-18 takes per-group scale/bias: different semantics
        return ctx.op("GroupNormalization", [x, _or_fill(ctx, weight, [c], 1.0, dt),
                                             _or_fill(ctx, bias, [c], 0.0, dt)],
                      {"num_groups": int(groups), "epsilon": float(eps)})
    grouped = ctx.op("Reshape", [x, ctx.const(np.array([0, groups, -1], np.int64))])
    normed = ctx.op("InstanceNormalization", [grouped, ctx.const(np.ones(groups), dt),
                                              ctx.const(np.zeros(groups), dt)], {"epsilon": float(eps)})
    y = ctx.op("Reshape", [normed, ctx.shape_of(x)])
    return _affine(ctx, y, weight, bias, rank)


@aten("aten::group_norm.default")
def aten_group_norm(ctx: Ctx, input: Value, num_groups: int, weight: Value | None = None, bias: Value | None = None,
                    eps: float = 1e-05, cudnn_enabled: bool = True) -> Value:
    """group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, float eps=1e-05, bool cudnn_enabled=True) -> Tensor"""
    return _group_norm(ctx, input, num_groups, weight, bias, eps)


@aten("aten::native_group_norm.default")
def aten_native_group_norm(ctx: Ctx, input: Value, weight: Value | None, bias: Value | None, N: Any, C: Any,
                           HxW: Any, group: int, eps: float) -> tuple[Value, None, None]:
    """native_group_norm(Tensor input, Tensor? weight, Tensor? bias, SymInt N, SymInt C, SymInt HxW, int group, float eps) -> (Tensor, Tensor, Tensor)"""
    require_unused(ctx, [1, 2], "group mean / inverse std")
    return _group_norm(ctx, input, group, weight, bias, eps), None, None


@aten("aten::instance_norm.default")
def aten_instance_norm(ctx: Ctx, input: Value, weight: Value | None, bias: Value | None,
                       running_mean: Value | None, running_var: Value | None, use_input_stats: bool,
                       momentum: float, eps: float, cudnn_enabled: bool) -> Value:
    """instance_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, Tensor? running_var, bool use_input_stats, float momentum, float eps, bool cudnn_enabled) -> Tensor"""
    if not use_input_stats and running_mean is not None and running_var is not None:
        return _batch_norm_eval(ctx, input, weight, bias, running_mean, running_var, eps)
    c, dt = _channels(ctx, input), ctx.dtype(input)
    return ctx.op("InstanceNormalization", [input, _or_fill(ctx, weight, [c], 1.0, dt),
                                            _or_fill(ctx, bias, [c], 0.0, dt)], {"epsilon": float(eps)})


@aten("aten::rms_norm.default")
def aten_rms_norm(ctx: Ctx, input: Value, normalized_shape: Sequence[int], weight: Value | None = None,
                  eps: float | None = None) -> Value:
    """rms_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, float? eps=None) -> Tensor"""
    ns, dt = [int(d) for d in normalized_shape], ctx.dtype(input)
    if eps is None:
        eps = float(torch.finfo(ctx.meta(0).dtype).eps)
    if ctx.opset >= 23:
        return ctx.op("RMSNormalization", [input, _or_fill(ctx, weight, ns, 1.0, dt)],
                      {"axis": -len(ns), "epsilon": float(eps)})
    axes = list(range(-len(ns), 0))
    ms = ctx.reduce("ReduceMean", ctx.op("Mul", [input, input]), axes, keepdims=True)
    inv = ctx.op("Reciprocal", [ctx.op("Sqrt", [ctx.op("Add", [ms, ctx.const(eps, dt)])])])
    y = ctx.op("Mul", [input, inv])
    return ctx.op("Mul", [y, weight]) if weight is not None else y
