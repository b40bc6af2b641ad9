"""Kernels: cache and recurrent-state ops used around attention (TensorScatter,
CausalConvWithState, LinearAttention).

Imported by :mod:`runtime.kernels.attention`, which is the family's entry point.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.runtime.registry import kernel

Array = np.ndarray


@kernel("TensorScatter", since=24)
def tensor_scatter(past_cache: Array, update: Array, write_indices: Array | None = None, *,
                   axis: int = -2, mode: str = "linear") -> Array:
    """TensorScatter-24: past_cache, update, write_indices? -> present_cache."""
    rank = past_cache.ndim
    axis = norm_axis(axis, rank, "TensorScatter")
    if update.ndim != rank or axis == 0:
        raise ValueError(f"TensorScatter: axis {axis} must name a non-batch axis of rank-{rank} "
                         f"tensors (update has rank {update.ndim})")
    if mode not in ("linear", "circular"):
        raise ValueError(f"TensorScatter mode must be 'linear' or 'circular', got {mode!r}")
    batch, max_len, length = past_cache.shape[0], past_cache.shape[axis], update.shape[axis]
    starts = (np.zeros(batch, np.int64) if write_indices is None
              else write_indices.astype(np.int64).reshape(batch))
    pos = starts[:, None] + np.arange(length)  # [batch, length] cache positions
    if mode == "circular":
        pos %= max_len
    elif length and (pos.min() < 0 or pos.max() >= max_len):
        raise ValueError(f"TensorScatter linear mode: write_indices + update length must stay in "
                         f"[0, {max_len}], got positions up to {pos.max()}")
    present = past_cache.copy()
    # Views with the sequence axis next to the batch axis make one fancy-index assignment
    # write every (batch, position) slab.
    np.moveaxis(present, axis, 1)[np.arange(batch)[:, None], pos] = np.moveaxis(update, axis, 1)
    return present


def _silu(x: Array) -> Array:
    return x * (0.5 * (np.tanh(0.5 * x) + 1.0))


def _work(x: Array) -> Array:
    """Half precision is accumulated in float32."""
    return x.astype(np.float32) if x.dtype.itemsize < 4 else x


@kernel("CausalConvWithState", since=27)
def causal_conv_with_state(input: Array, weight: Array, bias: Array | None = None,
                           past_state: Array | None = None, *,
                           activation: str = "none") -> tuple[Array, Array]:
    """CausalConvWithState-27: input[B, C, L], weight[C, 1, k], bias[C]?, past_state[B, C, k-1]?
    -> output[B, C, L], present_state[B, C, k-1]."""
    if input.ndim != 3 or weight.ndim != 3 or weight.shape[:2] != (input.shape[1], 1):
        raise ValueError(f"CausalConvWithState expects input [B, C, L] and weight [C, 1, k], got "
                         f"{input.shape} and {weight.shape}")
    if activation not in ("none", "silu", "swish"):
        raise ValueError(f"CausalConvWithState activation must be none, silu or swish, got {activation!r}")
    batch, channels, length = input.shape
    k = weight.shape[2]
    x = _work(input)
    if past_state is None:
        past = np.zeros((batch, channels, k - 1), x.dtype)
    elif past_state.shape != (batch, channels, k - 1):
        raise ValueError(f"CausalConvWithState past_state must be {(batch, channels, k - 1)}, "
                         f"got {past_state.shape}")
    else:
        past = past_state.astype(x.dtype, copy=False)
    padded = np.concatenate((past, x), axis=2)  # [B, C, k-1+L]
    w = weight[:, 0, :].astype(x.dtype, copy=False)
    # Cross-correlation as in Conv: tap j sees position t + j of the padded sequence, so the
    # last tap weighs the current sample. Loop over the (few) taps, vectorised over B, C, L.
    out = np.zeros_like(x)
    for j in range(k):
        out += w[:, j, None] * padded[:, :, j:j + length]
    if bias is not None:
        out += bias.astype(x.dtype, copy=False)[:, None]
    if activation != "none":
        out = _silu(out)
    present = padded[:, :, padded.shape[2] - (k - 1):]
    return out.astype(input.dtype, copy=False), present.astype(input.dtype)


def _split_heads(x: Array, heads: int, name: str) -> Array:
    """[B, T, H*D] -> [B, T, H, D]."""
    if x.ndim != 3 or x.shape[2] % heads:
        raise ValueError(f"LinearAttention {name} must be [B, T, {heads}*D], got {x.shape}")
    return x.reshape(x.shape[0], x.shape[1], heads, -1)


def _per_head(x: Array | None, hkv: int, dk: int, name: str) -> Array | None:
    """decay/beta [B, T, H*dk | H | 1] -> [B, T, H, dk | 1] (float32)."""
    if x is None:
        return None
    last = x.shape[-1]
    if last == hkv * dk and name == "decay":
        return x.reshape(x.shape[0], x.shape[1], hkv, dk).astype(np.float32)
    if last in (hkv, 1):
        return x.reshape(x.shape[0], x.shape[1], last, 1).astype(np.float32)
    raise ValueError(f"LinearAttention {name} has an unsupported last dimension {last}")


@kernel("LinearAttention", since=27)
def linear_attention(query: Array, key: Array, value: Array, past_state: Array | None = None,
                     decay: Array | None = None, beta: Array | None = None, *,
                     chunk_size: int = 64, kv_num_heads: int, q_num_heads: int,
                     scale: float = 0.0, update_rule: str = "gated_delta") -> tuple[Array, Array]:
    """LinearAttention-27: query/key/value [B, T, H*D], past_state?, decay?, beta?
    -> output [B, T, Hq*dv], present_state [B, Hkv, dk, dv]. (chunk_size only tunes
    chunk-parallel kernels; this one runs the exact recurrence.)"""
    gated, delta = update_rule in ("gated", "gated_delta"), update_rule in ("delta", "gated_delta")
    if update_rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ValueError(f"LinearAttention update_rule {update_rule!r} is not one of linear, "
                         "gated, delta, gated_delta")
    if (gated and decay is None) or (delta and beta is None):
        raise ValueError(f"LinearAttention update_rule={update_rule!r} needs "
                         f"{'decay' if gated and decay is None else 'beta'}")
    if kv_num_heads <= 0 or q_num_heads % kv_num_heads:
        raise ValueError(f"q_num_heads ({q_num_heads}) must be a multiple of kv_num_heads ({kv_num_heads})")
    q = _split_heads(query, q_num_heads, "query").astype(np.float32)
    k = _split_heads(key, kv_num_heads, "key").astype(np.float32)
    v = _split_heads(value, kv_num_heads, "value").astype(np.float32)
    batch, steps, _, dk = q.shape
    group, dv = q_num_heads // kv_num_heads, v.shape[-1]
    g = _per_head(decay, kv_num_heads, dk, "decay") if gated else None
    b = _per_head(beta, kv_num_heads, dk, "beta") if delta else None
    state = (np.zeros((batch, kv_num_heads, dk, dv), np.float32) if past_state is None
             else past_state.astype(np.float32))
    # Query heads of one K/V group share its state: view q as [B, T, Hkv, group, dk].
    qg = q.reshape(batch, steps, kv_num_heads, group, dk) * np.float32(scale or 1.0 / np.sqrt(dk))
    out = np.empty((batch, steps, kv_num_heads, group, dv), np.float32)
    for t in range(steps):
        if g is not None:
            state = state * np.exp(g[:, t])[..., None]  # decay rows of S (the d_k axis)
        kt, vt = k[:, t], v[:, t]
        if b is not None:
            # Delta rule: write only the part of v the (decayed) state does not yet predict.
            vt = b[:, t] * (vt - np.einsum("bhkv,bhk->bhv", state, kt))
        state = state + kt[..., :, None] * vt[..., None, :]
        out[:, t] = qg[:, t] @ state
    output = out.reshape(batch, steps, q_num_heads * dv).astype(query.dtype, copy=False)
    present_dtype = query.dtype if past_state is None else past_state.dtype
    return output, state.astype(present_dtype, copy=False)
