"""Attention and RotaryEmbedding emitters.

Attention runs ``F.scaled_dot_product_attention`` (grouped-query heads included) whenever
the node needs nothing SDPA does not do: no softcap, no qk_matmul_output, a softmax in the
work precision, float32/float64 inputs. Masks, the causal frontier (shifted by the past or
the padded-cache offset), sliding windows and key padding are folded into one additive
bias either way. Otherwise the spec's function body is written out with matmuls; for
float16/bfloat16 it rounds to the input type where the body computes in it."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.nn import Info, info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_HALF = (torch.float16, torch.bfloat16)


def _to_4d(x: Any, xi: Info, heads: int | None, name: str) -> tuple[Any, int, Any]:
    """[B, S, H*D] -> [B, H, S, D] (4-D inputs pass through); also (heads, sequence)."""
    if xi.rank == 4:
        return x, xi.shape[1], xi.shape[2]
    if xi.rank != 3 or not heads:
        raise UnsupportedOpError(LAYER, "Attention", hint=f"{name} must be 4-D, or 3-D with its "
                                 "head-count attribute set")
    return x.unflatten(-1, (heads, -1)).transpose(1, 2), heads, xi.shape[1]


def _grouped_matmul(a: Any, b: Any, hq: int, hkv: int) -> Any:
    """a[B, Hq, L, X] @ b[B, Hkv, X, Y]; query head h uses K/V head h // (Hq // Hkv):
    the query heads of a group fold into its rows, so K/V are never repeated."""
    if hq == hkv:
        return a @ b
    out = a.unflatten(1, (hkv, hq // hkv)).flatten(2, 3) @ b
    return out.unflatten(2, (hq // hkv, -1)).flatten(1, 2)


def _safe_softmax(x: Any) -> Any:
    """Softmax over the last axis; a row that is entirely -inf gives zeros, not NaN."""
    m = x.amax(dim=-1, keepdim=True)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    e = torch.exp(x - m)
    s = e.sum(dim=-1, keepdim=True)
    return e / torch.where(s == 0, torch.ones_like(s), s)


def _pad_mask(mask: Any, mi: Info, total: Any) -> Any:
    """Pad the key axis of a mask shorter than the key count with 'not attended'."""
    short = total - mi.shape[-1]
    if not isinstance(short, int) or short <= 0:
        return mask
    fill = False if mi.dtype == torch.bool else float("-inf")
    return F.pad(mask, [0, short], value=fill)


def _bias(mask: Any, mi: Info | None, q_len: Any, kv_len: Any, offset: Any, is_causal: int,
          left: int, right: int, nonpad: Any, dt: torch.dtype | None) -> Any:
    """Additive bias broadcastable to [B, Hq, L, S]: the float mask plus -inf wherever the
    boolean mask, causal frontier, sliding window or key padding disallows a key."""
    bias = allowed = None
    if mask is not None and mi is not None:
        mask = _pad_mask(mask, mi, kv_len)
        if mi.dtype == torch.bool:
            allowed = mask
        else:
            bias = mask.to(dt)
    j = torch.arange(kv_len)
    # absolute position of each query row: rows come after `offset` keys
    pos = torch.arange(q_len)[:, None] + offset
    rules = []
    if is_causal:
        rules.append(j <= pos)
    if left >= 0:
        rules.append(j >= pos - left)
    if right >= 0:
        rules.append(j <= pos + right)
    if nonpad is not None:
        rules.append(j < T(nonpad).reshape(-1, 1, 1, 1))
    for rule in rules:
        allowed = rule if allowed is None else allowed & rule
    if allowed is not None:
        blocked = torch.where(allowed, 0.0, float("-inf")).to(dt)
        bias = blocked if bias is None else bias + blocked
    return bias


def _outputs(values: tuple[Any, ...], n: int) -> Any:
    return values[0] if n <= 1 else values[:n]


def _attention(Q: Any, K: Any, V: Any, attn_mask: Any, past_key: Any, past_value: Any,
               nonpad_kv_seqlen: Any, *, is_causal: int, kv_num_heads: int | None,
               q_num_heads: int | None, qk_matmul_output_mode: int, scale: float | None,
               softcap: float, softmax_precision: int | None, left: int, right: int,
               ctx: EmitContext) -> Any:
    """Shared body of every Attention version (older ones pass the neutral values)."""
    qi, ki, vi = info(T(Q), ctx, 0), info(T(K), ctx, 1), info(T(V), ctx, 2)
    q, hq, q_len = _to_4d(T(Q), qi, q_num_heads, "Q")
    k, hkv, kv_len = _to_4d(T(K), ki, kv_num_heads, "K")
    v, _, _ = _to_4d(T(V), vi, kv_num_heads, "V")
    offset: Any = 0
    if past_key is not None and past_value is not None:
        k, v = torch.cat((T(past_key), k), dim=2), torch.cat((T(past_value), v), dim=2)
        offset = info(T(past_key), ctx, 4).shape[2]
        kv_len = offset + kv_len
    elif nonpad_kv_seqlen is not None:
        offset = T(nonpad_kv_seqlen).reshape(-1, 1, 1, 1) - q_len
    half = qi.dtype in _HALF
    if half or qi.dtype is None:  # None: untyped under fx, computed in its own type
        dt = qi.dtype
    else:
        dt = torch.float64 if torch.float64 in (qi.dtype, ki.dtype, vi.dtype) else torch.float32
    sm = torch_dtype(DType(softmax_precision)) if softmax_precision is not None else dt
    if not half and sm == torch.float64:
        dt = sm  # only a DOUBLE softmax_precision raises a float32 work precision
    head_dim = qi.shape[-1] if qi.rank == 4 else qi.shape[-1] // hq
    scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
    mi = None if attn_mask is None else info(T(attn_mask), ctx, 3)
    bias = _bias(None if attn_mask is None else T(attn_mask), mi, q_len, kv_len, offset,
                 is_causal, left, right, nonpad_kv_seqlen, dt)
    n_outputs = ctx.n_outputs
    stages = None
    if not half and softcap <= 0 and n_outputs < 4 and sm == dt:
        y = F.scaled_dot_product_attention(q.to(dt), k.to(dt), v.to(dt), attn_mask=bias,
                                           scale=scale, enable_gqa=hq != hkv)
    else:
        y, stages = _attention_body(q, k, v, bias, scale, softcap, (hq, hkv), dt, sm, half)
    if qi.rank == 3:
        y = y.transpose(1, 2).flatten(2)
    qk = None
    if n_outputs >= 4 and stages is not None:
        if not 0 <= qk_matmul_output_mode <= 3:
            raise UnsupportedOpError(LAYER, "Attention", hint="qk_matmul_output_mode must be 0..3")
        qk = stages[qk_matmul_output_mode].to(qi.dtype)
    return _outputs((y.to(qi.dtype), k, v, qk), n_outputs)


def _attention_body(q: Any, k: Any, v: Any, bias: Any, scale: float, softcap: float,
                    heads: tuple[int, int], dt: torch.dtype | None, sm: torch.dtype | None,
                    half: bool) -> tuple[Any, list[Any]]:
    """The function body: scores, softcap, mask, softmax, P·V (and each stage)."""
    kt = k.to(dt).transpose(-1, -2)
    if half:
        # the body scales Q and K each by sqrt(scale) (float32, cast to T) before MatMul
        s = torch.tensor(math.sqrt(scale), dtype=torch.float32).to(dt)
        scores = _grouped_matmul(q * s, kt * s, *heads)
    else:
        scores = _grouped_matmul(q.to(dt) * scale, kt, *heads)
    stages = [scores]
    if softcap > 0:
        scores = softcap * torch.tanh(scores / softcap)
    stages.append(scores)
    if bias is not None:
        scores = scores + bias
    stages.append(scores)
    probs = _safe_softmax(scores.to(sm))
    stages.append(probs)
    return _grouped_matmul(probs.to(dt), v.to(dt), *heads), stages


@emits("Attention", since=23)
def attention_23(Q: Any, K: Any, V: Any, attn_mask: Any = None, past_key: Any = None,
                 past_value: Any = None, *, is_causal: int = 0, kv_num_heads: int | None = None,
                 q_num_heads: int | None = None, qk_matmul_output_mode: int = 0,
                 scale: float | None = None, softcap: float = 0.0,
                 softmax_precision: int | None = None, ctx: EmitContext) -> Any:
    """Attention-23: Q, K, V, attn_mask?, past_key?, past_value?
    -> Y, present_key?, present_value?, qk_matmul_output?"""
    return _attention(Q, K, V, attn_mask, past_key, past_value, None, is_causal=is_causal,
                      kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left=-1, right=-1, ctx=ctx)


@emits("Attention", since=24)
def attention_24(Q: Any, K: Any, V: Any, attn_mask: Any = None, past_key: Any = None,
                 past_value: Any = None, nonpad_kv_seqlen: Any = None, *, is_causal: int = 0,
                 kv_num_heads: int | None = None, q_num_heads: int | None = None,
                 qk_matmul_output_mode: int = 0, scale: float | None = None,
                 softcap: float = 0.0, softmax_precision: int | None = None,
                 ctx: EmitContext) -> Any:
    """Attention-24: adds nonpad_kv_seqlen (valid keys per batch entry of a padded cache)."""
    return _attention(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen,
                      is_causal=is_causal, kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left=-1, right=-1, ctx=ctx)


@emits("Attention", since=25)
def attention_25(Q: Any, K: Any, V: Any, attn_mask: Any = None, past_key: Any = None,
                 past_value: Any = None, nonpad_kv_seqlen: Any = None, *, is_causal: int = 0,
                 kv_num_heads: int | None = None, left_window_size: int = -1,
                 q_num_heads: int | None = None, qk_matmul_output_mode: int = 0,
                 right_window_size: int = -1, scale: float | None = None,
                 softcap: float = 0.0, softmax_precision: int | None = None,
                 ctx: EmitContext) -> Any:
    """Attention-25: adds sliding-window bounds (left/right_window_size)."""
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
    half = rot // 2
    cos, sin = T(cos_cache), T(sin_cache)
    if position_ids is not None:
        pid = T(position_ids).long()
        cos, sin = cos[pid], sin[pid]  # [B, S, half]
    dt = torch.float64 if xi.dtype == torch.float64 else torch.float32
    cos, sin = cos.to(dt).unsqueeze(head_axis), sin.to(dt).unsqueeze(head_axis)
    xr = x[..., :rot].to(dt)
    x1, x2 = (xr[..., 0::2], xr[..., 1::2]) if interleaved else (xr[..., :half], xr[..., half:])
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    rotated = (torch.stack((real, imag), dim=-1).flatten(-2) if interleaved
               else torch.cat((real, imag), dim=-1))
    y = torch.cat((rotated.to(xi.dtype), x[..., rot:]), dim=-1)
    return y.flatten(-2) if xi.rank == 3 else y
