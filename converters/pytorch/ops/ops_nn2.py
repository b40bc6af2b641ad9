"""Neural-network layers (2/3): normalization, embedding and scaled dot-product attention
-> ONNX BatchNormalization, LayerNormalization, GroupNormalization / InstanceNormalization,
RMSNormalization, Gather, ScatterND and Attention (or their expansions at older opsets).
Each function's docstring is the ATen schema."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_nn import (
    channel_view,
    output_used,
    require_unused,
    static_shape,
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


# ---------------------------------------------------------------- embedding
@aten("aten::embedding.default")
def aten_embedding(ctx: Ctx, weight: Value, indices: Value, padding_idx: int = -1,
                   scale_grad_by_freq: bool = False, sparse: bool = False) -> Value:
    """embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1, bool scale_grad_by_freq=False, bool sparse=False) -> Tensor"""
    # padding_idx only affects gradients
    return ctx.op("Gather", [weight, indices], {"axis": 0})


def _bag_ids(ctx: Ctx, indices: Value, offsets: Value, include_last_offset: bool) -> tuple[Value, Value]:
    """For each of the L indices, the bag it falls in (offsets are ascending starts); and
    the number of bags as a 1-element tensor."""
    if include_last_offset:
        offsets = ctx.op("Slice", [offsets, ctx.const(np.array([0], np.int64)),
                                   ctx.const(np.array([-1], np.int64))])
    offsets = ctx.cast(offsets, DType.INT64)
    n_idx = ctx.op("Shape", [indices])
    positions = ctx.op("Range", [ctx.const(np.int64(0)), ctx.squeeze(n_idx, [0]), ctx.const(np.int64(1))])
    started = ctx.op("LessOrEqual", [ctx.unsqueeze(offsets, [0]), ctx.unsqueeze(positions, [1])])
    count = ctx.reduce("ReduceSum", ctx.op("Cast", [started], {"to": int(DType.INT64)}), [1], keepdims=True)
    return ctx.op("Sub", [count, ctx.const(np.array([1], np.int64))]), ctx.op("Shape", [offsets])


def _embedding_bag(ctx: Ctx, weight: Value, indices: Value, offsets: Value, mode: int,
                   per_sample_weights: Value | None, include_last_offset: bool, padding_idx: int | None) -> Any:
    require_unused(ctx, [1, 2, 3], "offset2bag / bag_size / max_indices")
    if ctx.rank(indices) != 1:
        raise ctx.fail("embedding_bag with 2-D indices should arrive flattened; got a 2-D index tensor")
    dt = ctx.dtype(weight)
    bag, n_bags = _bag_ids(ctx, indices, offsets, include_last_offset)
    rows = ctx.op("Gather", [weight, indices], {"axis": 0})
    if per_sample_weights is not None:
        rows = ctx.op("Mul", [rows, ctx.unsqueeze(per_sample_weights, [1])])
    keep = None
    if padding_idx is not None and padding_idx >= 0:
        keep = ctx.op("Not", [ctx.op("Equal", [indices, ctx.const(padding_idx, ctx.dtype(indices))])])
    width = ctx.const(np.array([static_shape(ctx, weight, "embedding_bag weight")[1]], np.int64))
    out_shape = ctx.op("Concat", [n_bags, width], {"axis": 0})
    ones = ctx.op("Cast", [keep], {"to": int(dt)}) if keep is not None else \
        ctx.op("Expand", [ctx.const(1.0, dt), ctx.op("Shape", [indices])])
    counts = ctx.op("ScatterND", [ctx.op("Expand", [ctx.const(0.0, dt), n_bags]), bag, ones],
                    {"reduction": "add"})
    if mode == 2:
        if ctx.opset < 18:
            raise ctx.fail("embedding_bag mode='max' needs ScatterND reduction='max' (opset >= 18)")
        lowest = ctx.const(float(np.finfo(dt.np_dtype).min), dt)
        if keep is not None:
            rows = ctx.op("Where", [ctx.unsqueeze(keep, [1]), rows, lowest])
        y = ctx.op("ScatterND", [ctx.op("Expand", [lowest, out_shape]), bag, rows], {"reduction": "max"})
        empty = ctx.op("Equal", [counts, ctx.const(0.0, dt)])
        return ctx.op("Where", [ctx.unsqueeze(empty, [1]), ctx.const(0.0, dt), y]), None, None, None
    if keep is not None:
        rows = ctx.op("Mul", [rows, ctx.unsqueeze(ones, [1])])
    y = ctx.op("ScatterND", [ctx.op("Expand", [ctx.const(0.0, dt), out_shape]), bag, rows], {"reduction": "add"})
    if mode == 1:
        y = ctx.op("Div", [y, ctx.unsqueeze(ctx.op("Max", [counts, ctx.const(1.0, dt)]), [1])])
    return y, None, None, None


@aten("aten::embedding_bag.padding_idx")
def aten_embedding_bag_padding_idx(ctx: Ctx, weight: Value, indices: Value, offsets: Value,
                                   scale_grad_by_freq: bool, mode: int, sparse: bool,
                                   per_sample_weights: Value | None, include_last_offset: bool,
                                   padding_idx: int | None) -> Any:
    """embedding_bag.padding_idx(Tensor weight, Tensor indices, Tensor offsets, bool scale_grad_by_freq, int mode, bool sparse, Tensor? per_sample_weights, bool include_last_offset, int? padding_idx) -> (Tensor, Tensor, Tensor, Tensor)"""
    return _embedding_bag(ctx, weight, indices, offsets, mode, per_sample_weights, include_last_offset,
                          padding_idx)


@aten("aten::embedding_bag.default", "aten::_embedding_bag.default")
def aten_embedding_bag(ctx: Ctx, weight: Value, indices: Value, offsets: Value, scale_grad_by_freq: bool = False,
                       mode: int = 0, sparse: bool = False, per_sample_weights: Value | None = None,
                       include_last_offset: bool = False, padding_idx: int = -1) -> Any:
    """embedding_bag(Tensor weight, Tensor indices, Tensor offsets, bool scale_grad_by_freq=False, int mode=0, bool sparse=False, Tensor? per_sample_weights=None, bool include_last_offset=False) -> (Tensor, Tensor, Tensor, Tensor)"""
    return _embedding_bag(ctx, weight, indices, offsets, mode, per_sample_weights, include_last_offset,
                          padding_idx)


# ---------------------------------------------------------------- attention
def _repeat_kv(ctx: Ctx, kv: Value, q_heads: int, kv_heads: int) -> Value:
    """(B, Hkv, S, D) -> (B, Hq, S, D), each kv head repeated Hq/Hkv times (repeat_interleave)."""
    r = q_heads // kv_heads
    shape = ctx.shape_of(kv)
    lead = ctx.op("Slice", [shape, ctx.const(np.array([0], np.int64)), ctx.const(np.array([-3], np.int64))])
    tail = ctx.op("Slice", [shape, ctx.const(np.array([-2], np.int64)), ctx.const(np.array([2**62], np.int64))])
    wide = ctx.op("Concat", [lead, ctx.const(np.array([kv_heads, r], np.int64)), tail], {"axis": 0})
    expanded = ctx.op("Expand", [ctx.unsqueeze(kv, [-3]), wide])
    flat = ctx.op("Concat", [lead, ctx.const(np.array([q_heads], np.int64)), tail], {"axis": 0})
    return ctx.op("Reshape", [expanded, flat])


def _causal_bias(ctx: Ctx, q: Value, k: Value, dt: DType) -> Value:
    """0 where key j <= query i, -inf above the diagonal (torch's top-left aligned tril)."""
    lq, lk = q.shape[-2], k.shape[-2]
    if isinstance(lq, int) and isinstance(lk, int):
        return ctx.const(np.triu(np.full((lq, lk), -np.inf), 1), dt)
    sizes = ctx.op("Concat", [ctx.op("Shape", [q], {"start": -2, "end": -1}),
                              ctx.op("Shape", [k], {"start": -2, "end": -1})], {"axis": 0})
    ones = ctx.op("ConstantOfShape", [sizes], {"value": np.ones(1, np.float32)})
    allowed = ctx.op("Cast", [ctx.op("Trilu", [ones], {"upper": 0})], {"to": int(DType.BOOL)})
    return ctx.op("Where", [allowed, ctx.const(0.0, dt), ctx.const(-np.inf, dt)])


def _mask_bias(ctx: Ctx, mask: Value, dt: DType) -> Value:
    if ctx.dtype(mask) == DType.BOOL:
        return ctx.op("Where", [mask, ctx.const(0.0, dt), ctx.const(-np.inf, dt)])
    return ctx.cast(mask, dt)


def _head_scale(ctx: Ctx, q: Value, scale: float | None, dt: DType) -> Value:
    if scale is not None:
        return ctx.const(scale, dt)
    d = q.shape[-1]
    if isinstance(d, int):
        return ctx.const(1.0 / math.sqrt(d), dt)
    dim = ctx.op("Cast", [ctx.op("Shape", [q], {"start": -1})], {"to": int(dt)})
    return ctx.op("Reciprocal", [ctx.op("Sqrt", [ctx.squeeze(dim, [0])])])


def _sdpa_expanded(ctx: Ctx, q: Value, k: Value, v: Value, mask: Value | None, is_causal: bool,
                   scale: float | None) -> Value:
    dt, rank = ctx.dtype(q), ctx.rank(q)
    kt = ctx.op("Transpose", [k], {"perm": list(range(rank - 2)) + [rank - 1, rank - 2]})
    scores = ctx.op("MatMul", [ctx.op("Mul", [q, _head_scale(ctx, q, scale, dt)]), kt])
    if is_causal:
        scores = ctx.op("Add", [scores, _causal_bias(ctx, q, k, dt)])
    if mask is not None:
        scores = ctx.op("Add", [scores, _mask_bias(ctx, mask, dt)])
    return ctx.op("MatMul", [ctx.op("Softmax", [scores], {"axis": -1}), v])


@aten("aten::scaled_dot_product_attention.default")
def aten_scaled_dot_product_attention(ctx: Ctx, query: Value, key: Value, value: Value,
                                      attn_mask: Value | None = None, dropout_p: float = 0.0,
                                      is_causal: bool = False, *, scale: float | None = None,
                                      enable_gqa: bool = False) -> Value:
    """scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, float dropout_p=0., bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor"""
    if dropout_p:
        raise ctx.fail(f"dropout_p={dropout_p} makes attention random; export with dropout_p=0 (model.eval())")
    rank = ctx.rank(query)
    if ctx.opset >= 23 and rank == 4:
        attrs: dict[str, Any] = {"is_causal": int(bool(is_causal))}
        if scale is not None:
            attrs["scale"] = float(scale)
        mask = attn_mask if attn_mask is None or ctx.dtype(attn_mask) == DType.BOOL \
            else ctx.cast(attn_mask, ctx.dtype(query))
        return ctx.op("Attention", [query, key, value] + ([mask] if mask is not None else []), attrs)
    if enable_gqa:
        hq, hkv = query.shape[-3], key.shape[-3]
        if not (isinstance(hq, int) and isinstance(hkv, int)):
            raise ctx.fail(f"enable_gqa needs static head counts, got query {hq} and key/value {hkv}")
        if hq != hkv:
            key, value = _repeat_kv(ctx, key, hq, hkv), _repeat_kv(ctx, value, hq, hkv)
    return _sdpa_expanded(ctx, query, key, value, attn_mask, is_causal, scale)
