"""Attention-state emitters: TensorScatter (KV-cache writes), CausalConvWithState and
LinearAttention (recurrent state carried between calls).

Half-precision inputs are computed in float32 and cast back, as the runtime kernels do."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.cast import work_precision
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis

LAYER = "TensorFlow emitter"


# ------------------------------------------------------------------ attention state


@emits("TensorScatter", since=24)
def tensor_scatter(past_cache: Any, update: Any, write_indices: Any = None, *, axis: int = -2,
                   mode: str = "linear") -> Any:
    """TensorScatter-24: past_cache, update, write_indices? -> present_cache (each batch
    row's update written from its write index along ``axis``; circular mode wraps)."""
    rank = past_cache.shape.rank
    if mode not in ("linear", "circular"):
        raise ValueError(f"TensorScatter mode must be 'linear' or 'circular', got {mode!r}")
    axis = norm_axis(axis, rank, "TensorScatter")
    perm = [0, axis, *(i for i in range(1, rank) if i != axis)]
    back = [perm.index(i) for i in range(rank)]
    cache, upd = tf.transpose(past_cache, perm), tf.transpose(update, perm)
    batch, max_len, length = tf.shape(cache)[0], tf.shape(cache)[1], tf.shape(upd)[1]
    starts = (tf.zeros([batch], tf.int32) if write_indices is None
              else tf.reshape(tf.cast(write_indices, tf.int32), [-1]))
    pos = starts[:, None] + tf.range(length)[None, :]  # [batch, length]
    if mode == "circular":
        pos = tf.math.floormod(pos, max_len)
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(pos))
    present = tf.tensor_scatter_nd_update(cache, tf.stack([rows, pos], axis=-1), upd)
    return tf.transpose(present, back)


@emits("CausalConvWithState", since=27)
def causal_conv_with_state(input: Any, weight: Any, bias: Any = None, past_state: Any = None,
                           *, activation: str = "none") -> tuple[Any, Any]:
    """CausalConvWithState-27: input[B, C, L], weight[C, 1, k], bias[C]?,
    past_state[B, C, k-1]? -> output[B, C, L], present_state[B, C, k-1]."""
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"CausalConvWithState activation must be none, silu or swish, got {activation!r}")
    k = weight.shape[2]
    x = work_precision(input)
    shape = tf.shape(x)
    if past_state is None:
        past = tf.zeros(tf.stack([shape[0], shape[1], k - 1]), x.dtype)
    else:
        past = tf.cast(past_state, x.dtype)
    padded = tf.concat([past, x], axis=2)  # [B, C, k-1+L]
    w = tf.cast(weight[:, 0, :], x.dtype)
    length = shape[2]
    # cross-correlation as in Conv: tap j sees position t + j of the padded sequence, so
    # the last tap weighs the current sample
    out = tf.add_n([w[:, j, None] * padded[:, :, j:j + length] for j in range(k)])
    if bias is not None:
        out = out + tf.cast(bias, x.dtype)[:, None]
    if activation != "none":
        out = out * tf.sigmoid(out)
    present = padded[:, :, tf.shape(padded)[2] - (k - 1):]
    return tf.cast(out, input.dtype), tf.cast(present, input.dtype)


def _per_head(x: Any, hkv: int, dk: int, name: str) -> Any:
    """decay/beta [B, T, H*dk | H | 1] -> [B, T, H, dk | 1] (float32)."""
    last = x.shape[-1]
    shape = tf.shape(x)
    if last == hkv * dk and name == "decay":
        return tf.cast(tf.reshape(x, tf.stack([shape[0], shape[1], hkv, dk])), tf.float32)
    if last in (hkv, 1):
        return tf.cast(tf.reshape(x, tf.stack([shape[0], shape[1], last, 1])), tf.float32)
    raise ValueError(f"LinearAttention {name} has an unsupported last dimension {last}")


def _heads(x: Any, heads: int) -> Any:
    """[B, T, H*D] -> [T, B, H, D] float32 (time-major for tf.scan)."""
    shape = tf.shape(x)
    x = tf.reshape(tf.cast(x, tf.float32), tf.stack([shape[0], shape[1], heads, -1]))
    return tf.transpose(x, [1, 0, 2, 3])


def _time_major(x: Any) -> Any:
    return tf.transpose(x, [1, 0, *range(2, x.shape.rank)])


@emits("LinearAttention", since=27)
def linear_attention(query: Any, key: Any, value: Any, past_state: Any = None, decay: Any = None,
                     beta: Any = None, *, chunk_size: int = 64, kv_num_heads: int,
                     q_num_heads: int, scale: float = 0.0,
                     update_rule: str = "gated_delta") -> tuple[Any, Any]:
    """LinearAttention-27: query/key/value [B, T, H*D], past_state?, decay?, beta?
    -> output [B, T, Hq*dv], present_state [B, Hkv, dk, dv]. The exact recurrence runs as a
    tf.scan over time (chunk_size only tunes chunk-parallel kernels)."""
    gated, delta = update_rule in ("gated", "gated_delta"), update_rule in ("delta", "gated_delta")
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"LinearAttention update_rule {update_rule!r} is not one of linear, "
                         "gated, delta, gated_delta")
    if (gated and decay is None) or (delta and beta is None):
        raise ValueError(f"LinearAttention update_rule={update_rule!r} needs decay/beta inputs")
    dk, dv = query.shape[-1] // q_num_heads, value.shape[-1] // kv_num_heads
    group = q_num_heads // kv_num_heads
    q, k, v = _heads(query, q_num_heads), _heads(key, kv_num_heads), _heads(value, kv_num_heads)
    steps, batch = tf.shape(q)[0], tf.shape(q)[1]
    # query heads of one K/V group share its state: q as [T, B, Hkv, group, dk]
    qg = tf.reshape(q, tf.stack([steps, batch, kv_num_heads, group, dk]))
    qg = qg * (scale or 1.0 / float(dk) ** 0.5)
    ones = tf.ones(tf.stack([steps, batch, kv_num_heads, 1]), tf.float32)
    g = _time_major(_per_head(decay, kv_num_heads, dk, "decay")) if gated else ones
    b = _time_major(_per_head(beta, kv_num_heads, dk, "beta")) if delta else ones
    state0 = (tf.zeros(tf.stack([batch, kv_num_heads, dk, dv]), tf.float32) if past_state is None
              else tf.cast(past_state, tf.float32))

    def step(carry: tuple[Any, Any], xs: tuple[Any, ...]) -> tuple[Any, Any]:
        state, _ = carry
        qt, kt, vt, gt, bt = xs
        if gated:
            state = state * tf.exp(gt)[..., None]  # decay rows of S (the d_k axis)
        if delta:
            # delta rule: write only the part of v the (decayed) state does not yet predict
            vt = bt * (vt - tf.einsum("bhkv,bhk->bhv", state, kt))
        state = state + kt[..., :, None] * vt[..., None, :]
        return state, tf.matmul(qt, state)

    out0 = tf.zeros(tf.stack([batch, kv_num_heads, group, dv]), tf.float32)
    states, outs = tf.scan(step, (qg, k, v, g, b), initializer=(state0, out0))
    output = tf.reshape(tf.transpose(outs, [1, 0, 2, 3, 4]),
                        tf.stack([batch, steps, q_num_heads * dv]))
    present_dtype = query.dtype if past_state is None else past_state.dtype
    return tf.cast(output, query.dtype), tf.cast(states[-1], present_dtype)
