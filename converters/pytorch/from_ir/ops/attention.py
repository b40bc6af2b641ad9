"""Attention and RotaryEmbedding emitters.

Attention runs ``F.scaled_dot_product_attention`` (grouped-query heads included) whenever
the node needs nothing SDPA does not do: no softcap, no qk_matmul_output, a softmax in the
work precision, float32/float64 inputs. Masks, the causal frontier (shifted by the past or
the padded-cache offset), sliding windows and key padding are folded into one additive
bias either way. Otherwise the spec's function body is written out with matmuls; for
float16/bfloat16 it rounds to the input type where the body computes in it."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.shape import Info, info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.attention_math import (
    attention_body,
    check_qk_mode,
    default_scale,
    key_bias,
    kv_group_size,
    needs_split,
    rotate,
    work_types,
)
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_HALF = (torch.float16, torch.bfloat16)


class _TorchOps:
    """:class:`AttentionOps` in torch (``dt`` may be None: an untyped value under fx
    tracing, computed in its own type)."""

    def arange(self, n: Any) -> Any:
        return torch.arange(n)

    def reshape(self, x: Any, shape: list[int]) -> Any:
        return T(x).reshape(shape)

    def to_int64(self, x: Any) -> Any:
        return T(x).long()

    def cast(self, x: Any, dt: Any) -> Any:
        return x.to(dt)

    def const(self, value: float, dt: Any) -> float:
        return value  # a Python number takes the tensor's type

    def pad_keys(self, mask: Any, short: Any, fill: Any) -> Any:
        # a symbolic shortfall (dynamic key length) is left to broadcasting, as before
        return F.pad(mask, [0, short], value=fill) if isinstance(short, int) else mask

    def blocked(self, allowed: Any, dt: Any) -> Any:
        return torch.where(allowed, 0.0, float("-inf")).to(dt)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return torch.where(cond, torch.full_like(b, a) if isinstance(a, (int, float)) else a, b)

    isneginf = staticmethod(torch.isneginf)
    exp = staticmethod(torch.exp)
    tanh = staticmethod(torch.tanh)

    def row_max(self, x: Any) -> Any:
        return x.amax(dim=-1, keepdim=True)

    def row_sum(self, x: Any) -> Any:
        return x.sum(dim=-1, keepdim=True)

    def swap_last(self, x: Any) -> Any:
        return x.transpose(-1, -2)

    def sqrt_scale(self, scale: float, dt: Any) -> Any:
        return torch.sqrt(torch.tensor(scale, dtype=torch.float32)).to(dt)

    def matmul(self, a: Any, b: Any, heads: tuple[int, int]) -> Any:
        return _grouped_matmul(a, b, *heads)

    def half_matmul(self, a: Any, b: Any, heads: tuple[int, int], dt: Any) -> Any:
        # torch's half-precision matmul accumulates in float32 and rounds once
        return _grouped_matmul(a.to(dt), b.to(dt), *heads)

    def interleave(self, a: Any, b: Any) -> Any:
        return torch.stack((a, b), dim=-1).flatten(-2)

    def concat_last(self, a: Any, b: Any) -> Any:
        return torch.cat((a, b), dim=-1)


OPS = _TorchOps()


def _to_4d(x: Any, xi: Info, heads: int | None, name: str) -> tuple[Any, int, Any]:
    """[B, S, H*D] -> [B, H, S, D] (4-D inputs pass through); also (heads, sequence)."""
    try:
        split = needs_split(xi.rank, heads, xi.shape[-1] if xi.rank == 3 else None, name)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, "Attention", hint=str(e)) from e
    if not split:
        return x, xi.shape[1], xi.shape[2]
    assert heads is not None
    return x.unflatten(-1, (heads, -1)).transpose(1, 2), heads, xi.shape[1]


def _grouped_matmul(a: Any, b: Any, hq: int, hkv: int) -> Any:
    """a[B, Hq, L, X] @ b[B, Hkv, X, Y]; query head h uses K/V head h // (Hq // Hkv):
    the query heads of a group fold into its rows, so K/V are never repeated."""
    if hq == hkv:
        return a @ b
    group = kv_group_size(hq, hkv)
    out = a.unflatten(1, (hkv, group)).flatten(2, 3) @ b
    return out.unflatten(2, (group, -1)).flatten(1, 2)


def _outputs(values: tuple[Any, ...], n: int) -> Any:
    return values[0] if n <= 1 else values[:n]


def _attention(Q: Any, K: Any, V: Any, attn_mask: Any, past_key: Any, past_value: Any,
               nonpad_kv_seqlen: Any, *, is_causal: int, kv_num_heads: int | None,
               q_num_heads: int | None, qk_matmul_output_mode: int, scale: float | None,
               softcap: float, softmax_precision: int | None, left: int, right: int,
               ctx: EmitContext) -> Any:
    """The body of Attention-23/24/25 (a node of an older version has the neutral defaults)."""
    qi, ki, vi = info(T(Q), ctx, 0), info(T(K), ctx, 1), info(T(V), ctx, 2)
    q, hq, q_len = _to_4d(T(Q), qi, q_num_heads, "Q")
    k, hkv, kv_len = _to_4d(T(K), ki, kv_num_heads, "K")
    v, _, _ = _to_4d(T(V), vi, kv_num_heads, "V")
    past_len = None
    if past_key is not None and past_value is not None:
        k, v = torch.cat((T(past_key), k), dim=2), torch.cat((T(past_value), v), dim=2)
        past_len = info(T(past_key), ctx, 4).shape[2]
        kv_len = past_len + kv_len
    half = qi.dtype in _HALF
    # an untyped input under fx (dtype None) is computed in its own type, like half ones
    dt, sm = work_types(half or qi.dtype is None, torch.float64 in (qi.dtype, ki.dtype, vi.dtype),
                        softmax_precision, qi.dtype, torch_dtype)
    scale = default_scale(qi.shape[-1] if qi.rank == 4 else qi.shape[-1] // hq, scale)
    check_qk_mode(qk_matmul_output_mode)
    mi = None if attn_mask is None else info(T(attn_mask), ctx, 3)
    bias = key_bias(None if attn_mask is None else T(attn_mask),
                    None if mi is None else mi.shape[-1], mi is not None and mi.dtype == torch.bool,
                    q_len, kv_len, past_len, nonpad_kv_seqlen, is_causal, left, right, dt, OPS)
    n_outputs = ctx.n_outputs
    stages = None
    if not half and softcap <= 0 and n_outputs < 4 and sm == dt:
        y = F.scaled_dot_product_attention(q.to(dt), k.to(dt), v.to(dt), attn_mask=bias,
                                           scale=scale, enable_gqa=hq != hkv)
    else:
        y, stages = attention_body(q, k, v, bias, scale, softcap, (hq, hkv), dt, sm, half, OPS)
    if qi.rank == 3:
        y = y.transpose(1, 2).flatten(2)
    qk = None
    if n_outputs >= 4 and stages is not None:
        qk = stages[qk_matmul_output_mode].to(qi.dtype)
    return _outputs((y.to(qi.dtype), k, v, qk), n_outputs)


@emits("Attention", since=23)
def attention(Q: Any, K: Any, V: Any, attn_mask: Any = None, past_key: Any = None,
              past_value: Any = None, nonpad_kv_seqlen: Any = None, *, is_causal: int = 0,
              kv_num_heads: int | None = None, left_window_size: int = -1,
              q_num_heads: int | None = None, qk_matmul_output_mode: int = 0,
              right_window_size: int = -1, scale: float | None = None,
              softcap: float = 0.0, softmax_precision: int | None = None,
              ctx: EmitContext) -> Any:
    """Attention-23/24/25: Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen? (24)
    -> Y, present_key?, present_value?, qk_matmul_output?; the sliding-window bounds
    left/right_window_size (25) default to -1, unbounded as before."""
    return _attention(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen,
                      is_causal=is_causal, kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left=left_window_size,
                      right=right_window_size, ctx=ctx)


@emits("RotaryEmbedding", since=23)
def rotary_embedding(X: Any, cos_cache: Any, sin_cache: Any, position_ids: Any = None, *,
                     interleaved: int = 0, num_heads: int | None = None,
                     rotary_embedding_dim: int = 0, ctx: EmitContext | None = None) -> Any:
    """RotaryEmbedding-23: X[B, H, S, D] or [B, S, H*D], cos/sin caches, position_ids?"""
    x0 = T(X)
    xi = info(x0, ctx)
    if xi.rank == 4:
        x, head_axis, head_dim = x0, 1, xi.shape[-1]  # caches broadcast over the head axis
    elif xi.rank == 3 and num_heads:
        x, head_axis, head_dim = x0.unflatten(-1, (num_heads, -1)), 2, xi.shape[-1] // num_heads
    else:
        raise UnsupportedOpError(LAYER, "RotaryEmbedding", hint="X must be 4-D, or 3-D with "
                                 "num_heads set")
    rot = rotary_embedding_dim or head_dim
    cos, sin = T(cos_cache), T(sin_cache)
    if position_ids is not None:
        pid = T(position_ids).long()
        cos, sin = cos[pid], sin[pid]  # [B, S, half]
    dt = torch.float64 if xi.dtype == torch.float64 else torch.float32
    cos, sin = cos.to(dt).unsqueeze(head_axis), sin.to(dt).unsqueeze(head_axis)
    rotated = rotate(x[..., :rot].to(dt), rot, cos, sin, interleaved, OPS)
    y = torch.cat((rotated.to(xi.dtype), x[..., rot:]), dim=-1)
    return y.flatten(-2) if xi.rank == 3 else y
