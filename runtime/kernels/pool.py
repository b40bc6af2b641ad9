"""Kernels: sliding-window and global pooling (AveragePool, MaxPool, LpPool, Global*Pool,
MaxUnpool, MaxRoiPool).

The input is padded once; each kernel tap is then a strided view of the whole output grid,
so a pool is one vectorised update per tap (a 3x3 max pool is 9 ``np.maximum`` calls
whatever the image size). Average-pool divisors are separable, so they are computed per
axis and broadcast instead of pooling a mask. MaxRoiPool loops over the boxes (a small,
data-sized batch) and is vectorised over channels and bins inside each box.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

import numpy as np

from tensorbridge.runtime.kernels import _compiled
from tensorbridge.runtime.kernels._spatial import (
    Window,
    compute_dtype,
    make_window,
    pad_for_window,
    pad_spatial,
    prod,
)
from tensorbridge.runtime.kernels.reduce import trailing_mean
from tensorbridge.runtime.registry import KernelContext, kernel


def _window(x: np.ndarray, kernel_shape: list[int] | None, strides: list[int] | None,
            dilations: list[int] | None, pads: list[int] | None, auto_pad: str,
            ceil_mode: int, op: str) -> Window:
    if x.ndim < 3:
        raise ValueError(f"{op}: X must be (N, C, spatial...), got shape {x.shape}")
    return make_window(x.shape[2:], kernel_shape, strides=strides, dilations=dilations,
                       pads=pads, auto_pad=auto_pad, ceil_mode=ceil_mode, op=op)


def _lowest(dtype: np.dtype) -> float | int:
    """The padding value a max never picks."""
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).min)
    return -np.inf


@lru_cache(maxsize=1024)
def _axis_counts(win: Window, include_pad: bool) -> np.ndarray:
    """How many taps of each window land on real (or padded, with include_pad) cells;
    the product over axes is the average-pool divisor. Cells that only exist because
    ceil_mode stretched the last window never count. Cached per window (read-only): it
    cost 17-30 us of a 100-300 us pool on every call."""
    total = None
    nsp = len(win.kernel)
    for a in range(nsp):
        pos = (np.arange(win.out_shape[a])[:, None] * win.strides[a]
               + np.arange(win.kernel[a])[None, :] * win.dilations[a])
        if include_pad:
            valid = pos < win.in_shape[a] + win.pads_begin[a] + win.pads_end[a]
        else:
            valid = (pos >= win.pads_begin[a]) & (pos < win.pads_begin[a] + win.in_shape[a])
        shape = [1] * nsp
        shape[a] = -1
        cnt = valid.sum(axis=1).reshape(shape)
        total = cnt if total is None else total * cnt
    assert total is not None  # _window rejects an empty kernel_shape, so nsp >= 1
    counts = np.maximum(total, 1)
    counts.flags.writeable = False
    return counts


def _reduce_windows(xp: np.ndarray, win: Window, ufunc: np.ufunc, dtype: np.dtype) -> np.ndarray:
    """Reduce every window of padded ``xp`` with ``ufunc`` (np.add / np.maximum).

    Both reductions are separable, so this reduces one spatial axis at a time: k1 + k2
    passes instead of k1 * k2 for a 2-D window. The outer axes go first because their
    taps are whole rows (contiguous, SIMD-friendly); only the last pass reads with a
    stride, and by then the array is already shrunk by the other axes.
    """
    nsp = len(win.kernel)
    if xp.shape[xp.ndim - nsp:] == tuple(win.kernel) and all(d == 1 for d in win.dilations):
        # One window over the whole (padded) image, as a network's final pool: a single
        # contiguous reduction (2048x7x7: ~7x faster than a pass per tap).
        flat = xp.reshape(*xp.shape[:xp.ndim - nsp], -1)
        return ufunc.reduce(flat, axis=-1, dtype=dtype).reshape(*flat.shape[:-1], *([1] * nsp))
    arr = xp
    for a in range(nsp):
        k, d, s, o = win.kernel[a], win.dilations[a], win.strides[a], win.out_shape[a]
        lead = (slice(None),) * (arr.ndim - nsp + a)
        taps = [arr[(*lead, slice(t * d, t * d + (o - 1) * s + 1, s))] for t in range(k)]
        acc = taps[0].astype(dtype, copy=True)
        for tap in taps[1:]:
            ufunc(acc, tap, out=acc)
        arr = acc
    return arr


# 2-D float pools with at least this many outputs per image run the compiled loop: it
# compiles once per window geometry (~0.5 s), which small pools do not pay back.
COMPILED_MIN_OUTPUTS = 8192


def _compiled_applies(X: np.ndarray, win: Window) -> bool:
    """Whether the compiled loop (with numba) pools X: 2-D float pools, measured 1.4-2.4x
    faster than the passes per tap (3x3 windows, 7x7 to 111x111 images, 24-544 channels),
    but not a single window over the whole image, which :func:`_reduce_windows` reduces in
    one contiguous numpy call."""
    return (_compiled.pool2d_applies(X) and any(o > 1 for o in win.out_shape)
            and X.shape[1] * prod(win.out_shape) >= COMPILED_MIN_OUTPUTS)


def _compiled_pool(X: np.ndarray, win: Window, is_max: bool,
                   divisor: np.ndarray | None = None) -> np.ndarray:
    return _compiled.pool2d(X, win.kernel, win.strides, win.dilations, win.pads_begin,
                            win.out_shape, is_max, divisor)


def _average_pool(X: np.ndarray, win: Window, count_include_pad: int) -> np.ndarray:
    if _compiled_applies(X, win):
        return _compiled_pool(X, win, False, _axis_counts(win, bool(count_include_pad)))
    ct = compute_dtype(X.dtype)
    acc = _reduce_windows(pad_for_window(X, win, 0), win, np.add, ct)
    acc /= _axis_counts(win, bool(count_include_pad)).astype(ct)
    return acc.astype(X.dtype, copy=False)


def _lp_pool(X: np.ndarray, win: Window, p: float) -> np.ndarray:
    ct = compute_dtype(X.dtype)
    x = X.astype(ct, copy=False)
    x = x * x if p == 2 else np.abs(x) ** p
    acc = _reduce_windows(pad_for_window(x, win, 0), win, np.add, ct)
    out = np.sqrt(acc) if p == 2 else acc ** (1.0 / p)
    return out.astype(X.dtype, copy=False)


def _max_pool(X: np.ndarray, win: Window) -> np.ndarray:
    if _compiled_applies(X, win):
        return _compiled_pool(X, win, True)
    return _reduce_windows(pad_for_window(X, win, _lowest(X.dtype)), win, np.maximum, X.dtype)


def max_pool_window(X: np.ndarray, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                    dilations: list[int] | None = None, kernel_shape: list[int] | None = None,
                    pads: list[int] | None = None, strides: list[int] | None = None) -> Window:
    """The window a MaxPool with these attributes slides over ``X``."""
    return _window(X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "MaxPool")


def max_pool_of(X: np.ndarray, win: Window) -> np.ndarray:
    """MaxPool's Y over a window from :func:`max_pool_window`."""
    return _max_pool(X, win)


@lru_cache(maxsize=256)
def windows_read_the_image(win: Window) -> bool:
    """Whether every window has a cell inside the image (none lies in padding only): then
    a max pool commutes with any non-decreasing per-channel function applied before it."""
    for n, k, s, d, pb, o in zip(win.in_shape, win.kernel, win.strides, win.dilations, win.pads_begin,
                                 win.out_shape, strict=True):
        for i in range(o):
            start = i * s - pb
            if not any(0 <= start + j * d < n for j in range(k)):
                return False
    return True


def _flat_steps(in_shape: tuple[int, ...], storage_order: int) -> list[int]:
    """Flat-index step of each spatial axis: row-major, or column-major (first axis fastest)."""
    dims = in_shape if storage_order == 0 else in_shape[::-1]
    steps = [int(v) for v in np.cumprod((1, *dims[:0:-1]))[::-1]]
    return steps if storage_order == 0 else steps[::-1]


def _max_pool_with_indices(X: np.ndarray, win: Window,
                           storage_order: int) -> tuple[np.ndarray, np.ndarray]:
    """Max and flat argmax (into X, batch and channel included).

    Separable like `_reduce_windows`, but innermost axis first, and each pass keeps the
    first maximum along its axis, so ties resolve to the first element of the window in
    row-major order (onnxruntime's rule). Every pass carries the winners' coordinates
    along the axes already reduced.
    """
    nsp = len(win.kernel)
    best = pad_for_window(X, win, _lowest(X.dtype))
    coords: dict[int, np.ndarray] = {}
    for a in reversed(range(nsp)):
        k, d, s, o = win.kernel[a], win.dilations[a], win.strides[a], win.out_shape[a]
        lead = (slice(None),) * (2 + a)

        def take(arr: np.ndarray, t: int, lead: tuple = lead, d: int = d, s: int = s,
                 o: int = o) -> np.ndarray:
            return arr[(*lead, slice(t * d, t * d + (o - 1) * s + 1, s))]

        vals, carried = best, coords
        best = take(vals, 0).copy()
        for t in range(1, k):
            np.maximum(best, take(vals, t), out=best)
        # Branch-free bookkeeping: masked copies (np.copyto(where=), np.where) measured
        # ~40x slower than these arithmetic updates on random data.
        tap = np.zeros(best.shape, dtype=np.int32)
        for t in reversed(range(k)):
            tap -= (tap - np.int32(t)) * (take(vals, t) == best)
        coords = {}
        for j, c in carried.items():
            coords[j] = take(c, 0) * (tap == 0)
            for t in range(1, k):
                coords[j] += take(c, t) * (tap == t)
        shape = [1] * nsp
        shape[a] = -1
        start = (np.arange(o, dtype=np.int32) * s - win.pads_begin[a]).reshape(shape)
        coords[a] = tap * np.int32(d) + start
    steps = _flat_steps(win.in_shape, storage_order)
    n, c = X.shape[:2]
    idx = (np.arange(n * c, dtype=np.int64) * prod(win.in_shape)).reshape(n, c, *([1] * nsp))
    for a in range(nsp):
        idx = idx + coords[a].astype(np.int64) * steps[a]
    return best, idx


@kernel("AveragePool", since=1)
def average_pool(X: np.ndarray, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                 count_include_pad: int = 0, dilations: list[int] | None = None,
                 kernel_shape: list[int] | None = None, pads: list[int] | None = None,
                 strides: list[int] | None = None) -> np.ndarray:
    """AveragePool-1/7/10/11/19/22: mean over each window, padding excluded from the count
    unless count_include_pad (7); ceil_mode (10) and dilations (19) default to the earlier
    meaning."""
    win = _window(X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "AveragePool")
    return _average_pool(X, win, count_include_pad)


def _max_pool_outputs(X: np.ndarray, win: Window, storage_order: int,
                      ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    if ctx.n_outputs < 2:
        return _max_pool(X, win)  # the argmax bookkeeping costs ~3x; skip it when unused
    if storage_order not in (0, 1):
        raise ValueError(f"MaxPool: storage_order must be 0 or 1, got {storage_order}")
    return _max_pool_with_indices(X, win, storage_order)


@kernel("MaxPool", since=1)
def max_pool(X: np.ndarray, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
             dilations: list[int] | None = None, kernel_shape: list[int] | None = None,
             pads: list[int] | None = None, storage_order: int = 0,
             strides: list[int] | None = None,
             ctx: KernelContext) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """MaxPool-1/8/10/11/12/22: max over each window (padding never wins); the Indices output
    (8, flat argmax, row- or column-major), ceil_mode and dilations (10) default to the
    earlier meaning (12 adds int8/uint8)."""
    win = _window(X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "MaxPool")
    return _max_pool_outputs(X, win, storage_order, ctx)


@kernel("LpPool", since=1)
def lp_pool(X: np.ndarray, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
            dilations: list[int] | None = None, kernel_shape: list[int] | None = None,
            p: float = 2, pads: list[int] | None = None,
            strides: list[int] | None = None) -> np.ndarray:
    """LpPool-1/2/11/18/22: (sum |x|^p)^(1/p) over each window; p is a float in 1 and an int
    from 2, ceil_mode and dilations (18) default to the earlier meaning."""
    win = _window(X, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode, "LpPool")
    return _lp_pool(X, win, p)


def _spatial_axes(X: np.ndarray, op: str) -> tuple[int, ...]:
    if X.ndim < 3:
        raise ValueError(f"{op}: X must be (N, C, spatial...), got shape {X.shape}")
    return tuple(range(2, X.ndim))


@kernel("GlobalAveragePool", since=1)
def global_average_pool(X: np.ndarray) -> np.ndarray:
    """GlobalAveragePool-1/22: mean over all spatial axes, kept as size-1 axes."""
    axes = _spatial_axes(X, "GlobalAveragePool")
    fast = trailing_mean(X, len(axes), True)
    if fast is not None:
        return fast
    return X.mean(axis=axes, keepdims=True, dtype=compute_dtype(X.dtype)).astype(X.dtype)


@kernel("GlobalMaxPool", since=1)
def global_max_pool(X: np.ndarray) -> np.ndarray:
    """GlobalMaxPool-1/22: max over all spatial axes, kept as size-1 axes."""
    return X.max(axis=_spatial_axes(X, "GlobalMaxPool"), keepdims=True)


@kernel("GlobalLpPool", since=1)
def global_lp_pool(X: np.ndarray, *, p: float = 2) -> np.ndarray:
    """GlobalLpPool-1/2/22: (sum |x|^p)^(1/p) over all spatial axes; p a float in 1, an int
    from 2."""
    axes = _spatial_axes(X, "GlobalLpPool")
    x = X.astype(compute_dtype(X.dtype), copy=False)
    s = (np.abs(x) ** p).sum(axis=axes, keepdims=True)
    return (s ** (1.0 / p)).astype(X.dtype)


@kernel("MaxUnpool", since=9)
def max_unpool(X: np.ndarray, I: np.ndarray,  # noqa: E741  (the spec's input name)
               output_shape: np.ndarray | None = None, *,
               kernel_shape: list[int] | None = None, pads: list[int] | None = None,
               strides: list[int] | None = None) -> np.ndarray:
    """MaxUnpool-9/11/22: scatter X to the flat positions I (MaxPool's Indices); zeros elsewhere.

    I indexes the tensor the attributes describe; an explicit output_shape then only adds
    (or removes) cells at the end of each spatial axis, which keeps every value at the
    coordinates its index names.
    """
    if X.shape != I.shape:
        raise ValueError(f"MaxUnpool: X {X.shape} and I {I.shape} must have the same shape")
    nsp = X.ndim - 2
    if not kernel_shape or len(kernel_shape) != nsp:
        raise ValueError(f"MaxUnpool: kernel_shape {kernel_shape} must have {nsp} values")
    st = strides or [1] * nsp
    pd = pads or [0] * (2 * nsp)
    shape = [*X.shape[:2]] + [
        (i - 1) * s + k - pd[a] - pd[a + nsp]
        for a, (i, s, k) in enumerate(zip(X.shape[2:], st, kernel_shape, strict=True))
    ]
    out = np.zeros(int(np.prod(shape)), dtype=X.dtype)
    flat = I.reshape(-1).astype(np.int64, copy=False)
    if flat.size and (flat.min() < 0 or flat.max() >= out.size):
        raise ValueError(f"MaxUnpool: indices must lie in [0, {out.size}) for shape {shape}")
    out[flat] = X.reshape(-1)
    out = out.reshape(shape)
    if output_shape is None:
        return out
    target = [int(v) for v in np.asarray(output_shape).reshape(-1)]
    if len(target) != X.ndim or target[:2] != shape[:2]:
        raise ValueError(f"MaxUnpool: output_shape {target} must be (N, C, spatial...) with "
                         f"N, C = {shape[:2]}")
    return pad_spatial(out, [0] * nsp, [t - s for t, s in zip(target[2:], shape[2:], strict=True)])


def _bin_masks(start: int, length: int, pooled: int, size: int) -> np.ndarray:
    """(pooled, size) membership of each input cell in MaxRoiPool's bins along one axis:
    bin p covers [floor(p * w), ceil((p + 1) * w)) + start with w = length / pooled,
    clipped to the image."""
    width = length / pooled
    p = np.arange(pooled)
    lo = np.clip(np.floor(p * width).astype(np.int64) + start, 0, size)
    hi = np.clip(np.ceil((p + 1) * width).astype(np.int64) + start, 0, size)
    cells = np.arange(size)
    return (cells[None, :] >= lo[:, None]) & (cells[None, :] < hi[:, None])


@kernel("MaxRoiPool", since=1)
def max_roi_pool(X: np.ndarray, rois: np.ndarray, *, pooled_shape: list[int] | None = None,
                 spatial_scale: float = 1.0) -> np.ndarray:
    """MaxRoiPool-1/22: max over each of pooled_shape bins of each box (empty bins give 0).

    rois rows are (batch_index, x1, y1, x2, y2) in input coordinates; corners are scaled
    and rounded, and the box includes both corner cells.
    """
    if X.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"MaxRoiPool: X must be (N, C, H, W) and rois (R, 5), got {X.shape} "
                         f"and {rois.shape}")
    if not pooled_shape or len(pooled_shape) != 2:
        raise ValueError(f"MaxRoiPool: pooled_shape must be [height, width], got {pooled_shape}")
    ph, pw = (int(v) for v in pooled_shape)
    _, c, h, w = X.shape
    y = np.zeros((rois.shape[0], c, ph, pw), dtype=X.dtype)
    lowest = np.array(-np.inf if X.dtype.kind == "f" else np.iinfo(X.dtype).min, dtype=X.dtype)
    for r, roi in enumerate(rois):
        # round half away from zero, like C's round()
        x1, y1, x2, y2 = (int(np.sign(v) * np.floor(abs(v) * spatial_scale + 0.5)) for v in roi[1:])
        mh = _bin_masks(y1, max(y2 - y1 + 1, 1), ph, h)  # (ph, H)
        mw = _bin_masks(x1, max(x2 - x1 + 1, 1), pw, w)  # (pw, W)
        if not 0 <= int(roi[0]) < X.shape[0]:
            raise ValueError(f"MaxRoiPool: roi {r} names batch {int(roi[0])}, X has {X.shape[0]}")
        img = X[int(roi[0])]
        cols = np.where(mw[None, None], img[:, :, None, :], lowest).max(axis=-1)  # (C, H, pw)
        out = np.where(mh[None, :, :, None], cols[:, None], lowest).max(axis=2)  # (C, ph, pw)
        empty = ~(cast(np.ndarray, mh.any(axis=1))[:, None] & cast(np.ndarray, mw.any(axis=1))[None, :])
        out[:, empty] = 0
        y[r] = out
    return y
