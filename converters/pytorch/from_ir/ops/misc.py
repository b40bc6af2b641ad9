"""Emitters of ops that belong to no larger family: Col2Im, DeformConv, CenterCropPad,
MaxRoiPool, SwiGLU, the attention-state ops (TensorScatter, LinearAttention,
CausalConvWithState) and BitCast.

Sizes come from the IR types where it knows them (:func:`info`), so tracing needs no
tensor shapes; per-box and per-sample geometry (MaxRoiPool, DeformConv) is computed with
tensor ops, never read back from the data."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import T, ints
from tensorbridge.converters.pytorch.from_ir.ops.nn import _check_rank, info, make_window, pad_arg
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_HALF = (torch.float16, torch.bfloat16)
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _work(dtype: torch.dtype | None) -> torch.dtype | None:
    """Half precision is accumulated in float32."""
    return torch.float32 if dtype in _HALF else dtype


# ------------------------------------------------------------------------------ Col2Im


@emits("Col2Im", since=18)
def col2im(input: Any, image_shape: Any, block_shape: Any, *,
           dilations: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
           strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """Col2Im-18: sum (N, C * prod(block), L) column blocks back into (N, C, *image_shape)."""
    x = T(input)
    image, block = ints(image_shape), ints(block_shape)
    nsp = _check_rank(len(image) + 2, "Col2Im")
    win = make_window(image, block, strides, dilations, pads, "NOTSET")
    padded = [i + b + e for i, b, e in zip(image, win.begin, win.end, strict=True)]
    taps = math.prod(block)
    n, cb = info(x, ctx).shape[:2]
    if nsp == 2:  # torch's own col2im
        img = F.fold(x, tuple(padded), tuple(block), dilation=tuple(win.dilations),
                     stride=tuple(win.strides))
        full = padded
    else:
        # a transposed conv whose (C * taps, 1, *block) weight puts column row c * taps + k
        # onto tap k of channel c: exactly col2im's scatter-add
        eye = torch.eye(taps, dtype=x.dtype).reshape(taps, 1, *block).repeat(cb // taps, *[1] * (nsp + 1))
        img = _CONV_T[nsp](x.reshape(n, cb, *win.out), eye, None, win.strides, 0, 0, cb // taps,
                           win.dilations)
        full = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in
                zip(win.out, win.strides, block, win.dilations, strict=True)]
    return F.pad(img, pad_arg([-b for b in win.begin],
                              [p - f - e for p, f, e in zip(padded, full, win.end, strict=True)]))


# -------------------------------------------------------------------------- DeformConv


def _sample_coords(offset: Any, win: Any, n: Any, og: int, nsp: int) -> list[Any]:
    """Per spatial axis, the (N, og, taps, *out) input coordinate each sample reads: the
    regular grid position of the tap plus its learned offset."""
    taps = list(itertools.product(*(range(k) for k in win.kernel)))
    off = offset.reshape(n, og, len(taps), nsp, *win.out)
    coords = []
    for a in range(nsp):
        shape = [1] * nsp
        shape[a] = -1
        pos = (torch.arange(win.out[a], dtype=offset.dtype) * win.strides[a] - win.begin[a]).reshape(shape)
        tap = torch.tensor([t[a] * win.dilations[a] for t in taps], dtype=offset.dtype)
        coords.append(off[:, :, :, a] + (pos[None] + tap.reshape(-1, *[1] * nsp)))
    return coords


def _deform_columns(x: Any, coords: list[Any], weight: Any, sizes: Sequence[int]) -> Any:
    """Multilinear samples of x (N, C, *in) at ``coords`` -> (N, C, taps * pixels);
    out-of-image corners read 0. One gather per interpolation corner."""
    n, c = x.shape[0], x.shape[1]
    og = coords[0].shape[1]
    xf = x.reshape(n, og, c // og, -1)
    steps = [math.prod(sizes[a + 1:]) for a in range(len(sizes))]
    floors = [p.floor() for p in coords]
    cols = None
    for corner in itertools.product((0, 1), repeat=len(sizes)):
        wt, lin = weight, torch.zeros_like(weight, dtype=torch.int64)
        for a, bit in enumerate(corner):
            idx = floors[a] + bit
            inside = (idx >= 0) & (idx < sizes[a])
            wt = wt * (1 - (coords[a] - idx).abs()) * inside.to(wt.dtype)
            lin = lin + idx.clamp(0, sizes[a] - 1).long() * steps[a]
        index = lin.reshape(n, og, 1, -1).expand(n, og, c // og, -1)
        term = torch.gather(xf, 3, index) * wt.reshape(n, og, 1, -1)
        cols = term if cols is None else cols + term
    assert cols is not None  # at least one corner
    return cols.reshape(n, c, -1)


@emits("DeformConv", since=19)
def deform_conv(X: Any, W: Any, offset: Any, B: Any = None, mask: Any = None, *,
                dilations: tuple[int, ...] | None = None, group: int = 1,
                kernel_shape: tuple[int, ...] | None = None, offset_group: int = 1,
                pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                ctx: EmitContext) -> Any:
    """DeformConv-19/22: conv whose taps sample X at learned offsets (N-D, multilinear)."""
    x, w = T(X), T(W)
    xi, wi = info(x, ctx), info(w, ctx, 1)
    nsp = xi.rank - 2
    kernel = list(kernel_shape) if kernel_shape else wi.shape[2:]
    win = make_window(xi.shape[2:], kernel, strides, dilations, pads, "NOTSET")
    ct = _work(xi.dtype)
    n, pixels, taps = xi.shape[0], math.prod(win.out), math.prod(kernel)
    weight = torch.ones(n, offset_group, taps, *win.out, dtype=ct)
    if mask is not None:
        weight = weight * T(mask).to(ct).reshape(weight.shape)
    coords = _sample_coords(T(offset).to(ct), win, n, offset_group, nsp)
    cols = _deform_columns(x.to(ct), coords, weight, xi.shape[2:])
    m = wi.shape[0]
    y = torch.matmul(w.to(ct).reshape(group, m // group, -1),
                     cols.reshape(n, group, -1, pixels)).reshape(n, m, *win.out)
    if B is not None:
        y = y + T(B).to(ct).reshape(-1, *[1] * nsp)
    return y.to(xi.dtype)


# ----------------------------------------------------------------------- CenterCropPad


@emits("CenterCropPad", since=18)
def center_crop_pad(input_data: Any, shape: Any, *, axes: tuple[int, ...] | None = None,
                    ctx: EmitContext | None = None) -> Any:
    """CenterCropPad-18: crop or zero-pad each axis in ``axes`` to ``shape``, centred
    (an odd difference puts the extra cell at the end)."""
    x = T(input_data)
    xi = info(x, ctx)
    r = xi.rank
    ax = [a % r for a in axes] if axes else list(range(r))
    begin, end = [0] * r, [0] * r
    for a, t in zip(ax, ints(shape), strict=True):
        diff = t - xi.shape[a]
        # grow: pad diff // 2 in front; shrink: drop (-diff) // 2 in front
        begin[a] = diff // 2 if diff >= 0 else -((-diff) // 2)
        end[a] = diff - begin[a]
    return F.pad(x, pad_arg(begin, end))  # negative amounts crop


# ------------------------------------------------------------------------- MaxRoiPool


def _bin_masks(start: Any, length: Any, pooled: int, size: int) -> Any:
    """(R, pooled, size) membership of each cell in each box's bins along one axis: bin p
    covers [floor(p * w), ceil((p + 1) * w)) + start, w = length / pooled, clipped."""
    width = (length / pooled)[:, None]
    p = torch.arange(pooled, dtype=torch.float64)[None, :]
    lo = ((p * width).floor() + start[:, None]).clamp(0, size)
    hi = (((p + 1) * width).ceil() + start[:, None]).clamp(0, size)
    cells = torch.arange(size, dtype=torch.float64)
    return (cells >= lo[..., None]) & (cells < hi[..., None])


@emits("MaxRoiPool", since=1)
def max_roi_pool(X: Any, rois: Any, *, pooled_shape: tuple[int, ...] | None = None,
                 spatial_scale: float = 1.0, ctx: EmitContext | None = None) -> Any:
    """MaxRoiPool-1/22: max over each of pooled_shape bins of each box (empty bins give 0).
    rois rows are (batch_index, x1, y1, x2, y2); corners are scaled and rounded half away
    from zero, and a box includes both corner cells."""
    if not pooled_shape or len(pooled_shape) != 2:
        raise UnsupportedOpError(LAYER, "MaxRoiPool",
                                 hint=f"pooled_shape must be [height, width], got {pooled_shape}")
    ph, pw = pooled_shape
    x, r = T(X), T(rois)
    xi = info(x, ctx)
    h, w = xi.shape[2:]
    corners = r[:, 1:]
    corners = (torch.sign(corners) * torch.floor(corners.abs() * spatial_scale + 0.5)).double()
    x1, y1, x2, y2 = corners.unbind(1)
    mh = _bin_masks(y1, (y2 - y1 + 1).clamp_min(1), ph, h)  # (R, ph, H)
    mw = _bin_masks(x1, (x2 - x1 + 1).clamp_min(1), pw, w)  # (R, pw, W)
    img = x[r[:, 0].long()]  # (R, C, H, W)
    dtype = xi.dtype
    lowest = float("-inf") if dtype is None or dtype.is_floating_point else torch.iinfo(dtype).min
    cols = img[:, :, :, None, :].masked_fill(~mw[:, None, None], lowest).amax(-1)  # (R, C, H, pw)
    out = cols[:, :, None].masked_fill(~mh[:, None, :, :, None], lowest).amax(3)  # (R, C, ph, pw)
    empty = ~(mh.any(-1)[:, :, None] & mw.any(-1)[:, None, :])  # (R, ph, pw)
    return out.masked_fill(empty[:, None], 0)


# ------------------------------------------------------------------------------ SwiGLU


@emits("SwiGLU", since=28)
def swiglu(A: Any, B: Any, *, alpha: float = 1.0, ctx: EmitContext | None = None) -> Any:
    """SwiGLU-28: Swish_alpha(A) * B, A and B of identical shape."""
    a = T(A)
    dtype = info(a, ctx).dtype
    aw = a.to(_work(dtype))
    gate = F.silu(aw) if alpha == 1.0 else aw * torch.sigmoid(aw * alpha)
    return (gate * T(B).to(aw.dtype)).to(dtype)


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
    axis %= ci.rank
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
    ct = _work(xi.dtype)
    past = (torch.zeros(batch, channels, k - 1, dtype=ct) if past_state is None
            else T(past_state).to(ct))
    padded = torch.cat((past, x.to(ct)), dim=2)  # [B, C, k-1+L]
    # depthwise cross-correlation: tap j sees position t + j, the last tap the current sample
    out = F.conv1d(padded, T(weight).to(ct), None if bias is None else T(bias).to(ct),
                   groups=channels)
    if activation != "none":
        out = F.silu(out)
    return out.to(xi.dtype), padded.narrow(2, length, k - 1).to(xi.dtype)


# ----------------------------------------------------------------------------- BitCast


@emits("BitCast", since=26)
def bit_cast(input: Any, *, to: int, ctx: EmitContext | None = None) -> Any:
    """BitCast-26: reinterpret the bits of each element as type ``to`` (same bit width)."""
    x = T(input)
    dst = torch_dtype(DType(to))
    src = info(x, ctx).dtype
    if src is not None and src.itemsize != dst.itemsize:
        raise UnsupportedOpError(LAYER, "BitCast", hint=f"{src} and {dst} differ in bit width")
    return x.view(dst)  # torch, like the spec, is little endian on every supported CPU
