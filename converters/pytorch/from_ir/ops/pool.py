"""Pooling emitters: MaxPool, AveragePool, LpPool, the global pools, MaxUnpool and
MaxRoiPool.

Windows follow the ONNX rules of :mod:`ir.window_math` (via :func:`conv.make_window`):
torch's pooling kernels are called directly when their own padding expresses the window,
otherwise the input is padded explicitly (with the lowest value for max, zeros for sums)
and pooled unpadded. Dilated average pooling, which torch lacks, sums windows with a
depthwise conv of ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T, ints
from tensorbridge.converters.pytorch.from_ir.ops.conv import (
    Window,
    check_rank,
    make_window,
    per_axis,
)
from tensorbridge.converters.pytorch.from_ir.ops.shape import Info, info, pad_arg
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
Kernel = Callable[..., Any]
_CONV: dict[int, Kernel] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX: dict[int, Kernel] = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG: dict[int, Kernel] = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


# ------------------------------------------------------------------------------ pools


def _pool_window(x: Any, ctx: EmitContext | None, kernel_shape: tuple[int, ...] | None,
                 strides: tuple[int, ...] | None, dilations: tuple[int, ...] | None,
                 pads: tuple[int, ...] | None, auto_pad: str, ceil_mode: int,
                 op: str) -> Window:
    xi = info(x, ctx, 0, len(kernel_shape) + 2 if kernel_shape else None)
    check_rank(xi.rank, op)
    return make_window(op, xi.shape[2:], kernel_shape, strides, dilations, pads,
                       auto_pad, ceil_mode)


def _lowest(dtype: torch.dtype | None) -> float:
    if dtype is None or dtype.is_floating_point:
        return float("-inf")
    return float(torch.iinfo(dtype).min)


def _unpadded_max(x: Any, win: Window, dtype: torch.dtype | None, indices: bool) -> Any:
    """Pre-pad with the lowest value so an unpadded floor-mode pool gives the ONNX grid."""
    xp = F.pad(x, pad_arg(win.begin, win.end_fit), value=_lowest(dtype))
    return _MAX[len(win.kernel)](xp, win.kernel, win.strides, 0, win.dilations, False, indices)


def _onnx_indices(idx: Any, xi: Info, padded: Sequence[Any], begin: Sequence[Any],
                  storage_order: int) -> Any:
    """torch's per-(n, c) flat argmax into a (possibly pre-padded) plane -> ONNX's flat
    index into the whole unpadded tensor, row- or column-major (storage_order)."""
    coords, rest = [], idx
    for size in reversed(padded):
        coords.append(rest % size)
        rest = rest // size
    coords = [c - b for c, b in zip(reversed(coords), begin, strict=True)]
    dims = xi.shape[2:]
    order = range(len(dims)) if storage_order == 0 else reversed(range(len(dims)))
    flat: Any = 0
    for a in order:
        flat = flat * dims[a] + coords[a]
    n, c = xi.shape[0], xi.shape[1]
    size = 1
    for d in dims:
        size = size * d
    base = torch.arange(n * c, dtype=torch.int64).reshape(n, c, *[1] * len(dims)) * size
    return flat + base


def _max_pool(X: Any, win: Window, storage_order: int, ctx: EmitContext | None) -> Any:
    x = T(X)
    nsp = len(win.kernel)
    xi = info(x, ctx, 0, nsp + 2)
    want_idx = ctx is not None and ctx.n_outputs > 1
    if want_idx and storage_order not in (0, 1):
        raise UnsupportedOpError(LAYER, "MaxPool",
                                 hint=f"storage_order must be 0 or 1, got {storage_order}")
    if win.symmetric:
        res = _MAX[nsp](x, win.kernel, win.strides, win.begin, win.dilations, win.ceil, want_idx)
        padded, begin = xi.shape[2:], [0] * nsp
    else:
        res = _unpadded_max(x, win, xi.dtype, want_idx)
        begin = win.begin
        padded = [i + b + e for i, b, e in zip(xi.shape[2:], win.begin, win.end_fit, strict=True)]
    if not want_idx:
        return res
    # index the pair: under fx tracing the result is one proxy that cannot be unpacked
    return res[0], _onnx_indices(res[1], xi, padded, begin, storage_order)


@emits("MaxPool", since=1)
def max_pool(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
             dilations: tuple[int, ...] | None = None,
             kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
             storage_order: int = 0, strides: tuple[int, ...] | None = None,
             ctx: EmitContext | None = None) -> Any:
    """MaxPool-1/8/10/11/12/22: max over each window (padding never wins); each version adds
    with a default that keeps the earlier meaning: the Indices output and storage_order (8),
    ceil_mode and dilations (10)."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode,
                       "MaxPool")
    return _max_pool(X, win, storage_order, ctx)


def _window_sum(x: Any, win: Window, channels: Any) -> Any:
    """Sum over every window of ``x`` padded (with zeros) to the ONNX grid."""
    nsp = len(win.kernel)
    xp = F.pad(x, pad_arg(win.begin, win.end_fit))
    if all(d == 1 for d in win.dilations):
        if nsp == 1:  # avg_pool1d has no divisor_override: pool a 2-D view
            return F.avg_pool2d(xp.unsqueeze(-2), [1, *win.kernel], [1, *win.strides],
                                divisor_override=1).squeeze(-2)
        return _AVG[nsp](xp, win.kernel, win.strides, divisor_override=1)
    # avg_pool has no dilations: a depthwise conv with a ones kernel sums dilated windows
    ones = xp.new_ones([channels, 1, *win.kernel])
    return _CONV[nsp](xp, ones, None, win.strides, 0, win.dilations, channels)


def _average_pool(X: Any, win: Window, count_include_pad: int, ctx: EmitContext | None) -> Any:
    x = T(X)
    nsp = len(win.kernel)
    if win.symmetric and all(d == 1 for d in win.dilations):
        return _AVG[nsp](x, win.kernel, win.strides, win.begin, win.ceil, bool(count_include_pad))
    total = _window_sum(x, win, info(x, ctx, 0, nsp + 2).shape[1])
    # The divisor counts real cells (plus the op's own pads with count_include_pad), never
    # the cells ceil mode adds past them: pool a mask built the same way.
    ones = torch.ones_like(x[:1, :1])
    inside = 1.0 if count_include_pad else 0.0
    mask = F.pad(F.pad(ones, pad_arg(win.begin, win.end), value=inside),
                 pad_arg([0] * nsp, [f - e for f, e in zip(win.end_fit, win.end, strict=True)]))
    zero = Window(win.kernel, win.strides, win.dilations, [0] * nsp, [0] * nsp, win.out, [0] * nsp)
    return total / _window_sum(mask, zero, 1)


@emits("AveragePool", since=1)
def average_pool(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                 count_include_pad: int = 0, dilations: tuple[int, ...] | None = None,
                 kernel_shape: tuple[int, ...] | None = None,
                 pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                 ctx: EmitContext | None = None) -> Any:
    """AveragePool-1/7/10/11/19/22: mean over each window; each version adds with a default
    that keeps the earlier meaning: count_include_pad (7, padding excluded by default),
    ceil_mode (10), dilations (19)."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode,
                       "AveragePool")
    return _average_pool(X, win, count_include_pad, ctx)


def _lp_pool(X: Any, win: Window, p: float, ctx: EmitContext | None) -> Any:
    x = T(X)
    # torch's lp_pool raises x (not |x|) to p and pads nothing: sum |x|^p here instead
    powered = x * x if p == 2 else x.abs() ** p
    total = _window_sum(powered, win, info(x, ctx, 0, len(win.kernel) + 2).shape[1])
    return total.sqrt() if p == 2 else total ** (1.0 / p)


@emits("LpPool", since=1)
def lp_pool(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
            dilations: tuple[int, ...] | None = None,
            kernel_shape: tuple[int, ...] | None = None, p: float = 2,
            pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
            ctx: EmitContext | None = None) -> Any:
    """LpPool-1/2/11/18/22: (sum |x|^p)^(1/p) over each window; p is a float in 1 and an int
    from 2; ceil_mode and dilations (18) default to the earlier meaning."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode,
                       "LpPool")
    return _lp_pool(X, win, p, ctx)


def _spatial_axes(x: Any, ctx: EmitContext | None) -> list[int]:
    return list(range(2, info(x, ctx).rank))


@emits("GlobalAveragePool", since=1)
def global_average_pool(X: Any, *, ctx: EmitContext | None = None) -> Any:
    """GlobalAveragePool-1/22: mean over all spatial axes, kept as size-1 axes."""
    x = T(X)
    return x.mean(dim=_spatial_axes(x, ctx), keepdim=True)


@emits("GlobalMaxPool", since=1)
def global_max_pool(X: Any, *, ctx: EmitContext | None = None) -> Any:
    """GlobalMaxPool-1/22: max over all spatial axes, kept as size-1 axes."""
    x = T(X)
    return x.amax(dim=_spatial_axes(x, ctx), keepdim=True)


@emits("GlobalLpPool", since=1)
def global_lp_pool(X: Any, *, p: float = 2, ctx: EmitContext | None = None) -> Any:
    """GlobalLpPool-1/2/22: (sum |x|^p)^(1/p) over all spatial axes; p a float in 1, an int
    from 2."""
    x = T(X)
    return (x.abs() ** p).sum(dim=_spatial_axes(x, ctx), keepdim=True) ** (1.0 / p)


@emits("MaxUnpool", since=9)
def max_unpool(X: Any, I: Any, output_shape: Any = None, *,  # noqa: E741  (the spec's name)
               kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
               strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """MaxUnpool-9/11/22: scatter X to the flat positions I (MaxPool's Indices), zeros
    elsewhere; output_shape only adds or removes cells at the end of each spatial axis."""
    x, idx = T(X), T(I)
    xi = info(x, ctx, 0, len(kernel_shape) + 2 if kernel_shape else None)
    nsp = xi.rank - 2
    if not kernel_shape or len(kernel_shape) != nsp:
        raise UnsupportedOpError(LAYER, "MaxUnpool", hint=f"kernel_shape must have {nsp} values")
    st, pd = per_axis(strides, nsp, 1), per_axis(pads, 2 * nsp, 0)
    plane = [(i - 1) * s + k - pd[a] - pd[a + nsp]
             for a, (i, s, k) in enumerate(zip(xi.shape[2:], st, kernel_shape, strict=True))]
    n, c = xi.shape[0], xi.shape[1]
    total = n * c
    for d in plane:
        total = total * d
    # indices are flat over the whole tensor (batch and channel included), unlike torch's
    flat = x.new_zeros(total).scatter(0, idx.reshape(-1).long(), x.reshape(-1))
    y = flat.reshape(n, c, *plane)
    if output_shape is None:
        return y
    target = ints(output_shape)[2:]
    return F.pad(y, pad_arg([0] * nsp, [t - s for t, s in zip(target, plane, strict=True)]))


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
