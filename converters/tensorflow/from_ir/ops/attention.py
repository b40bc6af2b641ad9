"""Attention emitters (Attention 23/24/25, RotaryEmbedding).

Attention follows the runtime kernel step by step: scaled Q·K^T, softcap, one additive bias
holding the float mask and -inf wherever the boolean mask, causal frontier, sliding window
or key padding blocks a key, a softmax whose fully-masked rows give zeros, then P·V.
float16/bfloat16 inputs round each intermediate to the input type where the op's function
body does (matmuls accumulate in float32). Grouped-query attention folds the query heads of
a K/V group into the row axis, so K/V are never copied per query head."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.dtypes import tf_dtype
from tensorbridge.converters.tensorflow.from_ir.registry import emits
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

_HALF = (tf.float16, tf.bfloat16)


def _work_dtype(*xs: Any) -> Any:
    return tf.float64 if any(x.dtype == tf.float64 for x in xs) else tf.float32


def _to_4d(x: Any, num_heads: int | None, name: str) -> Any:
    """[B, S, H*D] -> [B, H, S, D]; 4-D inputs pass through."""
    if not needs_split(x.shape.rank, num_heads, x.shape[-1] if x.shape.rank == 3 else None,
                       name):
        return x
    shape = tf.shape(x)
    x = tf.reshape(x, tf.concat([shape[:2], [num_heads, -1]], 0))
    return tf.transpose(x, [0, 2, 1, 3])


def _grouped_matmul(a: Any, b: Any, hq: int, hkv: int) -> Any:
    """a[B, Hq, L, X] @ b[B, Hkv, X, Y], query head h using K/V head h // (Hq // Hkv)."""
    if hq == hkv:
        return tf.matmul(a, b)
    group = kv_group_size(hq, hkv)
    sa = tf.shape(a)
    folded = tf.reshape(a, tf.stack([sa[0], hkv, group * sa[2], sa[3]]))
    out = tf.matmul(folded, b)
    return tf.reshape(out, tf.stack([sa[0], hq, sa[2], tf.shape(b)[-1]]))


_SEQUENTIAL_SUM_MAX = 64


def _row_sum(e: Any) -> Any:
    """Sum over the last axis, rounded as the reference rounds it: float16 is summed in
    float32 and rounded once; bfloat16 is added one key at a time, each partial sum rounded
    to bfloat16 (numpy's ml_dtypes add). That chain costs one op per key, so rows longer
    than _SEQUENTIAL_SUM_MAX keys accumulate in float32 instead (more accurate, not
    bit-identical)."""
    n = e.shape[-1]
    if e.dtype == tf.bfloat16 and n is not None and n <= _SEQUENTIAL_SUM_MAX:
        acc = e[..., :1]
        for j in range(1, n):
            acc = acc + e[..., j:j + 1]
        return acc
    return tf.cast(tf.reduce_sum(tf.cast(e, tf.float32) if e.dtype in _HALF else e, axis=-1,
                                 keepdims=True), e.dtype)


class _TfOps:
    """:class:`AttentionOps` in TF."""

    def arange(self, n: Any) -> Any:
        return tf.range(n, dtype=tf.int64)

    def reshape(self, x: Any, shape: list[int]) -> Any:
        return tf.reshape(x, shape)

    def to_int64(self, x: Any) -> Any:
        return tf.cast(x, tf.int64)

    def cast(self, x: Any, dt: Any) -> Any:
        return tf.cast(x, dt)

    def const(self, value: float, dt: Any) -> Any:
        return tf.constant(value, dt)

    def pad_keys(self, mask: Any, short: Any, fill: Any) -> Any:
        paddings = tf.concat([tf.zeros([mask.shape.rank - 1, 2], tf.int32),
                              [[0, tf.maximum(tf.cast(short, tf.int32), 0)]]], 0)
        return tf.pad(mask, paddings, constant_values=tf.cast(fill, mask.dtype))

    def blocked(self, allowed: Any, dt: Any) -> Any:
        return tf.where(allowed, tf.constant(0, dt), tf.constant(float("-inf"), dt))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return tf.where(cond, tf.cast(a, b.dtype) if isinstance(a, (int, float)) else a, b)

    def isneginf(self, x: Any) -> Any:
        return tf.math.is_inf(x) & (x < 0)

    exp = staticmethod(tf.exp)
    tanh = staticmethod(tf.tanh)

    def row_max(self, x: Any) -> Any:
        return tf.reduce_max(x, axis=-1, keepdims=True)

    def row_sum(self, x: Any) -> Any:
        return _row_sum(x)

    def swap_last(self, x: Any) -> Any:
        return tf.transpose(x, [0, 1, 3, 2])

    def sqrt_scale(self, scale: float, dt: Any) -> Any:
        return tf.cast(tf.sqrt(tf.constant(scale, tf.float32)), dt)

    def matmul(self, a: Any, b: Any, heads: tuple[int, int]) -> Any:
        return _grouped_matmul(a, b, *heads)

    def half_matmul(self, a: Any, b: Any, heads: tuple[int, int], dt: Any) -> Any:
        f32 = tf.float32
        return tf.cast(_grouped_matmul(tf.cast(a, f32), tf.cast(b, f32), *heads), dt)

    def interleave(self, a: Any, b: Any) -> Any:
        shape = tf.shape(a)
        return tf.reshape(tf.stack([a, b], axis=-1), tf.concat([shape[:-1], [2 * shape[-1]]], 0))

    def concat_last(self, a: Any, b: Any) -> Any:
        return tf.concat([a, b], axis=-1)


OPS = _TfOps()


def _length(x: Any, axis: int) -> Any:
    d = x.shape[axis]
    return int(d) if d is not None else tf.shape(x, out_type=tf.int64)[axis]


def _attention(Q: Any, K: Any, V: Any, attn_mask: Any, past_key: Any, past_value: Any,
               nonpad: Any, *, is_causal: int, kv_num_heads: int | None,
               q_num_heads: int | None, qk_matmul_output_mode: int, scale: float | None,
               softcap: float, softmax_precision: int | None, left: int, right: int,
               n_outputs: int) -> Any:
    """Shared body of every Attention version (older versions pass the neutral values)."""
    check_qk_mode(qk_matmul_output_mode)
    q = _to_4d(Q, q_num_heads, "Q")
    k, v = _to_4d(K, kv_num_heads, "K"), _to_4d(V, kv_num_heads, "V")
    if past_key is not None and past_value is not None:
        k, v = tf.concat([past_key, k], axis=2), tf.concat([past_value, v], axis=2)
    hq, hkv = q.shape[1] or q_num_heads, k.shape[1] or kv_num_heads
    if hq is None or hkv is None:
        raise ValueError("Attention needs static head counts (4-D shapes or the *_num_heads "
                         "attributes)")
    half = Q.dtype in _HALF
    dt, sm_dt = work_types(half, tf.float64 in (Q.dtype, K.dtype, V.dtype), softmax_precision,
                           Q.dtype, tf_dtype)
    bias = key_bias(attn_mask, None if attn_mask is None else _length(attn_mask, -1),
                    attn_mask is not None and attn_mask.dtype == tf.bool, _length(q, 2),
                    _length(k, 2), None if past_key is None else _length(past_key, 2), nonpad,
                    is_causal, left, right, dt, OPS)
    y, stages = attention_body(q, k, v, bias, default_scale(q.shape[-1], scale), softcap,
                               (hq, hkv), dt, sm_dt, half, OPS)
    if Q.shape.rank == 3:
        y = tf.transpose(y, [0, 2, 1, 3])
        y = tf.reshape(y, tf.concat([tf.shape(y)[:2], [-1]], 0))
    qk = tf.cast(stages[qk_matmul_output_mode], Q.dtype) if n_outputs >= 4 else None
    y = tf.cast(y, Q.dtype)
    return y if n_outputs <= 1 else (y, k, v, qk)[:n_outputs]


@emits("Attention", since=23)
def attention(Q: Any, K: Any, V: Any, attn_mask: Any = None, past_key: Any = None,
              past_value: Any = None, nonpad_kv_seqlen: Any = None, *, is_causal: int = 0,
              kv_num_heads: int | None = None, left_window_size: int = -1,
              q_num_heads: int | None = None, qk_matmul_output_mode: int = 0,
              right_window_size: int = -1, scale: float | None = None,
              softcap: float = 0.0, softmax_precision: int | None = None,
              ctx: EmitContext) -> Any:
    """Attention-23/24/25: Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen?
    -> Y, present_key?, present_value?, qk_matmul_output?; each version adds with a default
    that keeps the earlier meaning: nonpad_kv_seqlen (24, valid keys per batch entry), the
    sliding-window bounds left/right_window_size (25, -1: unbounded)."""
    return _attention(Q, K, V, attn_mask, past_key, past_value, nonpad_kv_seqlen,
                      is_causal=is_causal, kv_num_heads=kv_num_heads, q_num_heads=q_num_heads,
                      qk_matmul_output_mode=qk_matmul_output_mode, scale=scale, softcap=softcap,
                      softmax_precision=softmax_precision, left=left_window_size,
                      right=right_window_size, n_outputs=ctx.n_outputs)


@emits("RotaryEmbedding", since=23)
def rotary_embedding(X: Any, cos_cache: Any, sin_cache: Any, position_ids: Any = None, *,
                     interleaved: int = 0, num_heads: int | None = None,
                     rotary_embedding_dim: int = 0) -> Any:
    """RotaryEmbedding-23: X[B, H, S, D] or [B, S, H*D], cos/sin caches, position_ids?
    -> Y (same shape as X)."""
    shape = tf.shape(X)
    if X.shape.rank == 4:
        x, head_axis = X, 1  # [B, H, S, D]; the caches broadcast over the head axis
    elif X.shape.rank == 3 and num_heads:
        x, head_axis = tf.reshape(X, tf.concat([shape[:2], [num_heads, -1]], 0)), 2
    else:
        raise ValueError("RotaryEmbedding input must be 4-D, or 3-D with num_heads")
    rot = rotary_embedding_dim or x.shape[-1]
    cos, sin = cos_cache, sin_cache
    if position_ids is not None:
        cos, sin = tf.gather(cos, position_ids), tf.gather(sin, position_ids)  # [B, S, half]
    dt = _work_dtype(X)
    cos = tf.expand_dims(tf.cast(cos, dt), head_axis)
    sin = tf.expand_dims(tf.cast(sin, dt), head_axis)
    rotated = rotate(tf.cast(x[..., :rot], dt), rot, cos, sin, interleaved, OPS)
    out = tf.concat([tf.cast(rotated, X.dtype), x[..., rot:]], axis=-1)
    return tf.reshape(out, shape)
