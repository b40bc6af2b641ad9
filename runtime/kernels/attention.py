"""Kernels: scaled dot-product attention (Attention, ai.onnx.preview FlexAttention) and
RotaryEmbedding.

The KV-cache and recurrent-state ops (TensorScatter, CausalConvWithState, LinearAttention)
live in :mod:`runtime.kernels.attention_state`, imported below so that importing this family
registers all of it.

Attention on float16/bfloat16 inputs runs the way a low-precision engine runs the spec's
function body: every intermediate (scaled Q and K, Q·K^T, softcap, mask add, softmax, P·V) is
rounded to the input type where the body casts or computes in it; matmuls still accumulate in
float32 (BLAS) and round once. float32/float64 inputs skip those roundings. Grouped-query
attention never copies K/V per query head: query heads are folded into the row dimension of
their K/V group so one batched matmul serves the whole group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.attention_math import (
    attention_body,
    check_qk_mode,
    default_scale,
    key_bias,
    kv_group_size,
    needs_split,
    rotate,
    safe_softmax,
    work_types,
)
from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.kernels import attention_state  # noqa: F401  (registers the state/cache ops)
from tensorbridge.runtime.kernels.cast import HALF_FLOATS
from tensorbridge.runtime.registry import KernelContext, kernel

Array = np.ndarray


def _work_dtype(*xs: Array) -> np.dtype:
    """float64 if any input is double, else float32 (also for the half-precision types)."""
    return np.dtype(np.float64) if any(x.dtype == np.float64 for x in xs) else np.dtype(np.float32)


# Input types whose Attention intermediates are rounded step by step (see the module docstring).


class _NumpyOps:
    """:class:`AttentionOps` for numpy arrays."""

    def arange(self, n: Any) -> Array:
        return np.arange(n)

    def reshape(self, x: Any, shape: list[int]) -> Array:
        return np.reshape(x, shape)

    def to_int64(self, x: Any) -> Array:
        return np.asarray(x).astype(np.int64)

    def cast(self, x: Array, dt: np.dtype) -> Array:
        return x.astype(dt, copy=False)

    def const(self, value: float, dt: np.dtype) -> Any:
        return dt.type(value)

    def pad_keys(self, mask: Array, short: int, fill: Any) -> Array:
        pad = np.full(mask.shape[:-1] + (short,), fill, dtype=mask.dtype)
        return np.concatenate((mask, pad), axis=-1)

    def blocked(self, allowed: Array, dt: np.dtype) -> Array:
        return np.where(allowed, dt.type(0), dt.type(-np.inf))

    where = staticmethod(np.where)
    isneginf = staticmethod(np.isneginf)
    exp = staticmethod(np.exp)
    tanh = staticmethod(np.tanh)

    def row_max(self, x: Array) -> Array:
        return x.max(axis=-1, keepdims=True)

    def row_sum(self, x: Array) -> Array:
        return x.sum(axis=-1, keepdims=True)

    def swap_last(self, x: Array) -> Array:
        return x.swapaxes(-1, -2)

    def sqrt_scale(self, scale: float, dt: np.dtype) -> Any:
        return dt.type(np.sqrt(np.float32(scale)))

    def matmul(self, a: Array, b: Array, heads: tuple[int, int]) -> Array:
        return _grouped_matmul(a, b)

    def half_matmul(self, a: Array, b: Array, heads: tuple[int, int], dt: np.dtype) -> Array:
        return _half_matmul(a, b, dt)

    def interleave(self, a: Array, b: Array) -> Array:
        return np.stack((a, b), axis=-1).reshape(*a.shape[:-1], 2 * a.shape[-1])

    def concat_last(self, a: Array, b: Array) -> Array:
        return np.concatenate((a, b), axis=-1)


OPS = _NumpyOps()


def _grouped_matmul(a: Array, b: Array) -> Array:
    """a[B, Hq, L, X] @ b[B, Hkv, X, Y] with query head h using K/V head h // (Hq // Hkv):
    the query heads of a group fold into its rows, so K/V are never repeated."""
    batch, hq, rows, inner = a.shape
    hkv = b.shape[1]
    if hq == hkv:
        return a @ b
    out = a.reshape(batch, hkv, kv_group_size(hq, hkv) * rows, inner) @ b
    return out.reshape(batch, hq, rows, b.shape[-1])


def _half_matmul(a: Array, b: Array, out: np.dtype) -> Array:
    """Grouped matmul of half-precision operands: accumulated in float32 (numpy has no BLAS
    path for float16/bfloat16) and rounded once to `out`, as a low-precision MatMul does."""
    work = _work_dtype(a, b)
    return _grouped_matmul(a.astype(work), b.astype(work, copy=False)).astype(out)


def _to_4d(x: Array, num_heads: int | None, name: str) -> Array:
    """[B, S, H*D] -> [B, H, S, D]; 4-D inputs pass through."""
    if not needs_split(x.ndim, num_heads, x.shape[-1], name):
        return x
    b, s, hidden = x.shape
    assert num_heads is not None
    return x.reshape(b, s, num_heads, hidden // num_heads).transpose(0, 2, 1, 3)


def _with_past(k: Array, v: Array, past_key: Array | None,
               past_value: Array | None) -> tuple[Array, Array]:
    """Append the incoming keys/values to the internal cache (these are also the present_*)."""
    if (past_key is None) != (past_value is None):
        raise ValueError("Attention past_key and past_value must be given together")
    if past_key is None or past_value is None:
        return k, v
    return np.concatenate((past_key, k), axis=2), np.concatenate((past_value, v), axis=2)


def _attention(Q: Array, K: Array, V: Array, attn_mask: Array | None, past_key: Array | None,
               past_value: Array | None, nonpad_kv_seqlen: Array | None, *, is_causal: int,
               kv_num_heads: int | None, q_num_heads: int | None, qk_matmul_output_mode: int,
               scale: float | None, softcap: float, softmax_precision: int | None,
               left_window_size: int, right_window_size: int,
               n_outputs: int) -> tuple[Array, Array, Array, Array | None]:
    """Shared body of every Attention version (older versions pass the neutral values)."""
    check_qk_mode(qk_matmul_output_mode)
    q = _to_4d(Q, q_num_heads, "Q")
    k, v = _with_past(_to_4d(K, kv_num_heads, "K"), _to_4d(V, kv_num_heads, "V"), past_key, past_value)
    half = Q.dtype in HALF_FLOATS
    dt, sm_dt = work_types(half, np.float64 in (Q.dtype, K.dtype, V.dtype), softmax_precision,
                           Q.dtype, lambda t: t.np_dtype)
    if attn_mask is not None and attn_mask.ndim > 4:
        raise ValueError(f"Attention attn_mask must have rank <= 4, got shape {attn_mask.shape}")
    bias = key_bias(attn_mask, None if attn_mask is None else attn_mask.shape[-1],
                    attn_mask is not None and attn_mask.dtype == np.bool_, q.shape[2], k.shape[2],
                    None if past_key is None else past_key.shape[2], nonpad_kv_seqlen, is_causal,
                    left_window_size, right_window_size, dt, OPS)
    y, stages = attention_body(q, k, v, bias, default_scale(q.shape[-1], scale), softcap,
                               (q.shape[1], k.shape[1]), dt, sm_dt, half, OPS)
    if Q.ndim == 3:
        b, h, s, d = y.shape
        y = y.transpose(0, 2, 1, 3).reshape(b, s, h * d)
    qk = stages[qk_matmul_output_mode].astype(Q.dtype, copy=False) if n_outputs >= 4 else None
    return y.astype(Q.dtype, copy=False), k, v, qk


@kernel("Attention", since=23)
def attention(Q: Array, K: Array, V: Array, attn_mask: Array | None = None,
              past_key: Array | None = None, past_value: Array | None = None,
              nonpad_kv_seqlen: Array | None = None, *, is_causal: int = 0,
              kv_num_heads: int | None = None, left_window_size: int = -1,
              q_num_heads: int | None = None, qk_matmul_output_mode: int = 0,
              right_window_size: int = -1, scale: float | None = None,
              softcap: float = 0.0, softmax_precision: int | None = None,
              ctx: KernelContext) -> tuple[Array, Array, Array, Array | None]:
    """Attention-23/24/25: Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen? (24)
    -> Y, present_key?, present_value?, qk_matmul_output?; the sliding-window bounds
    left/right_window_size (25) default to -1, unbounded as before."""
    return _attention(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen,
                      is_causal=is_causal, kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left_window_size=left_window_size,
                      right_window_size=right_window_size, n_outputs=ctx.n_outputs)


@kernel("FlexAttention", since=1, domain="ai.onnx.preview")
def flex_attention(Q: Array, K: Array, V: Array, *, prob_mod: Any = None, scale: float | None = None,
                   score_mod: Any = None, softmax_precision: int | None = None,
                   ctx: KernelContext) -> Array:
    """FlexAttention-1 (ai.onnx.preview): Q[B, Hq, L, D], K[B, Hkv, S, D], V[B, Hkv, S, Dv]
    -> Y[B, Hq, L, Dv], with optional score_mod / prob_mod subgraphs."""
    if Q.ndim != 4 or K.ndim != 4 or V.ndim != 4:
        raise ValueError(f"FlexAttention inputs must be rank 4, got {Q.shape}, {K.shape}, {V.shape}")
    if softmax_precision is not None:
        dt = DType(softmax_precision).np_dtype
    else:
        dt = np.dtype(np.float64) if Q.dtype == np.float64 else np.dtype(np.float32)
    scale = default_scale(Q.shape[-1], scale)
    scores = _grouped_matmul(Q.astype(dt), K.astype(dt).swapaxes(-1, -2)) * dt.type(scale)
    if score_mod is not None:
        scores = _run_modifier(score_mod, scores, ctx, "score_mod")
    probs = safe_softmax(scores, OPS)
    if prob_mod is not None:
        probs = _run_modifier(prob_mod, probs, ctx, "prob_mod")
    return _grouped_matmul(probs, V.astype(dt)).astype(Q.dtype, copy=False)


def _run_modifier(graph: Any, x: Array, ctx: KernelContext, name: str) -> Array:
    """Apply a one-input, one-output modifier subgraph and check it kept the shape."""
    if ctx.run_subgraph is None:
        raise ValueError(f"FlexAttention {name} needs a session that can run subgraphs")
    out = np.asarray(ctx.run_subgraph(graph, [x])[0])
    if out.shape != x.shape:
        raise ValueError(f"FlexAttention {name} must preserve the shape {x.shape}, got {out.shape}")
    return out.astype(x.dtype, copy=False)


@kernel("RotaryEmbedding", since=23)
def rotary_embedding(X: Array, cos_cache: Array, sin_cache: Array,
                     position_ids: Array | None = None, *, interleaved: int = 0,
                     num_heads: int | None = None, rotary_embedding_dim: int = 0) -> Array:
    """RotaryEmbedding-23: X[B, H, S, D] or [B, S, H*D], cos/sin caches, position_ids?
    -> Y (same shape as X)."""
    if X.ndim == 4:
        x = X  # [B, H, S, D]; caches broadcast over the head axis 1
        head_axis = 1
    elif X.ndim == 3 and num_heads and X.shape[2] % num_heads == 0:
        x = X.reshape(X.shape[0], X.shape[1], num_heads, -1)  # [B, S, H, D]
        head_axis = 2
    else:
        raise ValueError(f"RotaryEmbedding input must be 4-D, or 3-D with num_heads dividing the "
                         f"hidden size; got shape {X.shape}, num_heads={num_heads}")
    rot = rotary_embedding_dim or x.shape[-1]
    half = rot // 2
    cos = cos_cache if position_ids is None else cos_cache[position_ids]  # [B, S, half]
    sin = sin_cache if position_ids is None else sin_cache[position_ids]
    if cos.shape[-1] != half or sin.shape[-1] != half:
        raise ValueError(f"RotaryEmbedding caches must have last dimension {half} "
                         f"(rotary_embedding_dim / 2), got {cos.shape[-1]} and {sin.shape[-1]}")
    dt = _work_dtype(X)
    cos = np.expand_dims(cos.astype(dt, copy=False), head_axis)
    sin = np.expand_dims(sin.astype(dt, copy=False), head_axis)
    rotated = rotate(x[..., :rot].astype(dt), rot, cos, sin, interleaved, OPS)
    out = np.concatenate((rotated.astype(X.dtype, copy=False), x[..., rot:]), axis=-1)
    return out.reshape(X.shape)
