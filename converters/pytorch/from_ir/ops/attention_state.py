"""Attention-state emitters: TensorScatter (KV-cache writes), LinearAttention and
CausalConvWithState (recurrent state carried between calls).

Sizes come from the IR types where it knows them (:func:`info`), so tracing needs no
tensor shapes."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    work_dtype,
)
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"


# ------------------------------------------------------------------ attention state


@emits("TensorScatter", since=24)
def tensor_scatter(past_cache: Any, update: Any, write_indices: Any = None, *,
                   axis: int = -2, mode: str = "linear", ctx: EmitContext | None = None) -> Any:
    """TensorScatter-24: write ``update`` into ``past_cache`` along ``axis`` at each batch
    entry's write index (circular mode wraps around) -> present_cache."""
    if mode not in ("linear", "circular"):
        raise UnsupportedOpError(LAYER, "TensorScatter",
                                 hint=f"mode must be 'linear' or 'circular', got {mode!r}")
    cache, upd = T(past_cache), T(update)
    ci, ui = info(cache, ctx), info(upd, ctx, 1)
    axis = norm_axis(axis, ci.rank, "TensorScatter")
    batch, max_len, length = ci.shape[0], ci.shape[axis], ui.shape[axis]
    starts = (torch.zeros(batch, dtype=torch.int64) if write_indices is None
              else T(write_indices).long().reshape(batch))
    pos = starts[:, None] + torch.arange(length)  # [batch, length] cache positions
    if mode == "circular":
        pos = pos % max_len
    # sequence axis next to the batch axis: one scatter along dim 1 writes every slab
    moved = upd.movedim(axis, 1)
    index = pos.reshape(batch, length, *[1] * (ci.rank - 2)).expand(moved.shape)
    return cache.movedim(axis, 1).scatter(1, index, moved).movedim(1, axis)


def _per_head(x: Any, xi: Any, hkv: int, dk: int, name: str) -> Any:
    """decay/beta [B, T, H*dk | H | 1] -> [B, T, H, dk | 1] (float32)."""
    last = xi.shape[-1]
    if not ((last == hkv * dk and name == "decay") or last in (hkv, 1)):
        raise UnsupportedOpError(LAYER, "LinearAttention",
                                 hint=f"{name} has an unsupported last dimension {last}")
    per = dk if last == hkv * dk and name == "decay" else 1
    return T(x).reshape(xi.shape[0], xi.shape[1], -1, per).float()


@emits("LinearAttention", since=27)
def linear_attention(query: Any, key: Any, value: Any, past_state: Any = None,
                     decay: Any = None, beta: Any = None, *, chunk_size: int = 64,
                     kv_num_heads: int, q_num_heads: int, scale: float = 0.0,
                     update_rule: str = "gated_delta", ctx: EmitContext) -> Any:
    """LinearAttention-27: query/key/value [B, T, H*D], past_state?, decay?, beta?
    -> output [B, T, Hq*dv], present_state [B, Hkv, dk, dv]. The exact recurrence, one
    step per token (chunk_size only tunes chunk-parallel kernels)."""
    gated, delta = update_rule in ("gated", "gated_delta"), update_rule in ("delta", "gated_delta")
    if update_rule not in ("linear", "gated", "delta", "gated_delta") or \
            (gated and decay is None) or (delta and beta is None):
        raise UnsupportedOpError(LAYER, "LinearAttention", node=ctx.node_name,
                                 hint=f"update_rule {update_rule!r} needs decay (gated) and beta "
                                 "(delta) inputs")
    qi = info(T(query), ctx)
    batch, steps = qi.shape[:2]
    dk = qi.shape[2] // q_num_heads
    group = q_num_heads // kv_num_heads
    q = T(query).float().reshape(batch, steps, kv_num_heads, group, dk)
    k = T(key).float().reshape(batch, steps, kv_num_heads, dk)
    v = T(value).float().reshape(batch, steps, kv_num_heads, -1)
    dv = info(T(value), ctx, 2).shape[2] // kv_num_heads
    g = _per_head(decay, info(T(decay), ctx, 4), kv_num_heads, dk, "decay") if gated else None
    b = _per_head(beta, info(T(beta), ctx, 5), kv_num_heads, dk, "beta") if delta else None
    state = (torch.zeros(batch, kv_num_heads, dk, dv) if past_state is None
             else T(past_state).float())
    q = q * (scale or 1.0 / math.sqrt(dk))
    outs = []
    for t in range(steps):
        if g is not None:
            state = state * torch.exp(g[:, t])[..., None]  # decay rows of S (the d_k axis)
        kt, vt = k[:, t], v[:, t]
        if b is not None:  # delta rule: write only what the state does not yet predict
            vt = b[:, t] * (vt - torch.einsum("bhkv,bhk->bhv", state, kt))
        state = state + kt[..., :, None] * vt[..., None, :]
        outs.append(torch.matmul(q[:, t], state))  # [B, Hkv, group, dv]
    output = torch.stack(outs, 1).reshape(batch, steps, q_num_heads * dv).to(qi.dtype)
    present = qi.dtype if past_state is None else info(T(past_state), ctx, 3).dtype
    return output, state.to(present)


@emits("CausalConvWithState", since=27)
def causal_conv_with_state(input: Any, weight: Any, bias: Any = None, past_state: Any = None,
                           *, activation: str = "none", ctx: EmitContext) -> Any:
    """CausalConvWithState-27: input[B, C, L], weight[C, 1, k], bias[C]?,
    past_state[B, C, k-1]? -> output[B, C, L], present_state[B, C, k-1]."""
    if activation not in ("none", "silu", "swish"):
        raise UnsupportedOpError(LAYER, "CausalConvWithState", node=ctx.node_name,
                                 hint=f"activation must be none, silu or swish, got {activation!r}")
    x = T(input)
    xi = info(x, ctx)
    batch, channels, length = xi.shape
    k = info(T(weight), ctx, 1).shape[2]
    ct = work_dtype(xi.dtype)
    past = (torch.zeros(batch, channels, k - 1, dtype=ct) if past_state is None
            else T(past_state).to(ct))
    padded = torch.cat((past, x.to(ct)), dim=2)  # [B, C, k-1+L]
    # depthwise cross-correlation: tap j sees position t + j, the last tap the current sample
    out = F.conv1d(padded, T(weight).to(ct), None if bias is None else T(bias).to(ct),
                   groups=channels)
    if activation != "none":
        out = F.silu(out)
    return out.to(xi.dtype), padded.narrow(2, length, k - 1).to(xi.dtype)
