"""Embeddings: embedding and embedding_bag -> ONNX Gather (and ScatterND / reductions for
the bags). Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_nn import (
    require_unused,
    static_shape,
)
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


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
