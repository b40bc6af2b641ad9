"""scaled_dot_product_attention -> ONNX Attention (opset 23+) or its expansion
(MatMul, Softmax and the mask / causal biases) at older opsets. Each function's docstring first line is the ATen schema."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


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
