"""Kernels: resampling (Resize, GridSample, AffineGrid, CenterCropPad; Upsample is Resize-10).

Resize is separable: every resized axis gets a small (out_len, taps) table of source
indices and weights, and the tensor is resampled one axis at a time with one gather per
tap. Nearest mode needs a single gather for all axes (``np.ix_``). GridSample gathers
from a channels-last copy of the input once per interpolation corner (2**r for linear,
4**r for cubic).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.resize_math import (
    NUMPY_OPS,
    Axis,
    Options,
    axis_tables,
    cubic_kernel,
    extrapolation_mask,
    legacy_plan,
    resize_plan,
    skip_identity_axes,
)
from tensorbridge.runtime.kernels._spatial import compute_dtype, pad_spatial
from tensorbridge.runtime.registry import KernelContext, kernel


def _resample_axis(x: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """out[..., i, ...] = sum_t w[i, t] * x[..., idx[i, t], ...] along ``axis``.

    Works through the leading axes in blocks of about 2 MB of output so each block's
    gathers, multiplies and adds run in cache (measured ~2x over whole-tensor passes).
    """
    taps = [t for t in range(w.shape[1]) if np.any(w[:, t])]  # all-zero taps: no gather
    lead = int(np.prod(x.shape[:axis]))
    xs = x.reshape(lead, *x.shape[axis:])
    out = np.empty((lead, idx.shape[0], *x.shape[axis + 1:]), dtype=x.dtype)
    if out.size == 0:
        return out.reshape(*x.shape[:axis], idx.shape[0], *x.shape[axis + 1:])
    wshape = [-1] + [1] * (x.ndim - axis - 1)
    wts = [w[:, t].astype(x.dtype).reshape(wshape) for t in taps]
    step = max(1, (1 << 19) // max(1, out[0].size))
    for s0 in range(0, lead, step):
        src, dst = xs[s0:s0 + step], out[s0:s0 + step]
        np.take(src, idx[:, taps[0]], axis=1, out=dst)
        dst *= wts[0]
        for t, wt in zip(taps[1:], wts[1:], strict=True):
            term = np.take(src, idx[:, t], axis=1)
            term *= wt
            dst += term
    return out.reshape(*x.shape[:axis], idx.shape[0], *x.shape[axis + 1:])


def _resize(X: np.ndarray, axes: dict[int, Axis], opt: Options) -> np.ndarray:
    """Resample the axes in ``axes`` (others are copied through)."""
    axes = skip_identity_axes(axes, opt.coord)
    # Shrinking axes first keeps the intermediate tensors small; among equals the last
    # axis goes first, since its per-element gathers are the expensive ones.
    axes = dict(sorted(axes.items(),
                       key=lambda kv: (kv[1].size_out / max(kv[1].size_in, 1), -kv[0])))
    coords, tables = axis_tables(axes, opt, NUMPY_OPS)
    if opt.mode == "nearest":
        y = X
        for a, (idx, _) in tables.items():  # one take per axis beat a single np.ix_ gather 5-10x
            y = np.take(y, idx, axis=a)
    else:
        y = X.astype(compute_dtype(X.dtype), copy=False)
        for a, (idx, w) in tables.items():
            y = _resample_axis(y, a, idx, w)
        if X.dtype.kind in "iu":
            info = np.iinfo(X.dtype)
            y = np.clip(np.rint(y), info.min, info.max)
        y = y.astype(X.dtype, copy=False)
    mask = extrapolation_mask(coords, axes, X.ndim, opt, NUMPY_OPS)
    if mask is not None:
        y = np.where(mask, np.asarray(opt.extrapolation_value).astype(y.dtype), y)
    return y


def _values(v: np.ndarray | None, kind: type) -> list[Any]:
    """An optional 1-D input as a list of Python numbers (empty when absent)."""
    return [] if v is None else [kind(e) for e in np.asarray(v).reshape(-1)]


@kernel("Resize", since=10)
def resize_10(X: np.ndarray, scales: np.ndarray, *, mode: str = "nearest") -> np.ndarray:
    """Resize-10: asymmetric coordinates, out = floor(in * scale); nearest truncates (ceil
    when shrinking), linear clamps at the edges. Upsample-1/7/9 are rewritten into it by
    ir/op_versions.py. Resize-11 changed nearest rounding, so it has its own kernel."""
    return _resize(X, *legacy_plan(X.shape, _values(scales, float), mode, NUMPY_OPS))


@kernel("Resize", since=11)
def resize(X: np.ndarray, roi: np.ndarray | None = None, scales: np.ndarray | None = None,
           sizes: np.ndarray | None = None, *, antialias: int = 0,
           axes: list[int] | None = None,
           coordinate_transformation_mode: str = "half_pixel",
           cubic_coeff_a: float = -0.75, exclude_outside: int = 0,
           extrapolation_value: float = 0.0, keep_aspect_ratio_policy: str = "stretch",
           mode: str = "nearest", nearest_mode: str = "round_prefer_floor",
           ctx: KernelContext) -> np.ndarray:
    """Resize-11/13/18/19: roi?/scales?/sizes? inputs (roi and scales optional from 13);
    antialias, axes and keep_aspect_ratio_policy (18) default to the earlier meaning; the
    coordinate modes allowed are the node's version's (see ``coord_modes``)."""
    opt = Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                  exclude_outside, extrapolation_value, antialias)
    plans = resize_plan(X.shape, _values(roi, float), _values(scales, float),
                        _values(sizes, int), axes, keep_aspect_ratio_policy, opt, ctx.opset,
                        NUMPY_OPS)
    return _resize(X, plans, opt)


# -------------------------------------------------------------------------- crop / pad


@kernel("CenterCropPad", since=18)
def center_crop_pad(input_data: np.ndarray, shape: np.ndarray, *,
                    axes: list[int] | None = None) -> np.ndarray:
    """CenterCropPad-18: crop or zero-pad each axis in ``axes`` to ``shape``, centred
    (an odd difference puts the extra cell at the end)."""
    r = input_data.ndim
    ax = [a % r for a in axes] if axes else list(range(r))
    target = [int(v) for v in np.asarray(shape).reshape(-1)]
    if len(target) != len(ax):
        raise ValueError(f"CenterCropPad: shape has {len(target)} values for {len(ax)} axes")
    begin, end = [0] * r, [0] * r
    for a, t in zip(ax, target, strict=True):
        diff = t - input_data.shape[a]
        # grow: pad diff // 2 in front; shrink: drop (-diff) // 2 in front
        begin[a] = diff // 2 if diff >= 0 else -((-diff) // 2)
        end[a] = diff - begin[a]
    return pad_spatial(input_data, begin, end, 0)


# ------------------------------------------------------------------------ grid sample


def _unnormalize(g: np.ndarray, size: int, align_corners: int) -> np.ndarray:
    """Grid value in [-1, 1] -> pixel coordinate along an axis of ``size`` cells."""
    if align_corners:
        return (g + 1) / 2 * (size - 1)
    return ((g + 1) * size - 1) / 2


def _reflect(x: np.ndarray, size: int, align_corners: int) -> np.ndarray:
    """Fold coordinates back into the image by mirroring at its borders (the pixel
    centres with align_corners, the pixel edges without), then clamp."""
    lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
    span = hi - lo
    if span <= 0:
        return np.zeros_like(x)
    d = np.abs(x - lo)
    flips = np.floor(d / span)
    extra = d - flips * span
    out = np.where(flips % 2 == 0, lo + extra, hi - extra)
    return np.clip(out, 0, size - 1)


def _grid_taps(x: np.ndarray, size: int, mode: str, padding: str,
               align_corners: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(index, weight) pairs along one axis; weight is 0 for a tap that reads padding."""
    if mode != "cubic" and padding == "border":
        x = np.clip(x, 0, size - 1)
    elif mode != "cubic" and padding == "reflection":
        x = _reflect(x, size, align_corners)
    if mode == "nearest":
        offsets, base = [0], np.rint(x)  # halfway points go to the even index
        weights = [np.ones_like(x)]
    elif mode == "linear":
        base = np.floor(x)
        offsets, weights = [0, 1], [1 - (x - base), x - base]
    else:
        base = np.floor(x)
        k = cubic_kernel(-0.75, NUMPY_OPS)
        offsets = [-1, 0, 1, 2]
        weights = [k(x - (base + o)) for o in offsets]
    taps = []
    for o, w in zip(offsets, weights, strict=True):
        idx = base + o
        if mode == "cubic" and padding == "border":
            idx = np.clip(idx, 0, size - 1)
        elif mode == "cubic" and padding == "reflection":
            idx = np.rint(_reflect(idx, size, align_corners))
        inside = (idx >= 0) & (idx <= size - 1)
        taps.append((np.clip(idx, 0, size - 1).astype(np.int64), w * inside))
    return taps


def _grid_sample(X: np.ndarray, grid: np.ndarray, mode: str, padding: str,
                 align_corners: int) -> np.ndarray:
    nsp = X.ndim - 2
    if grid.ndim != X.ndim or grid.shape[0] != X.shape[0] or grid.shape[-1] != nsp:
        raise ValueError(f"GridSample: grid must be (N, *out, {nsp}) for X {X.shape}, got "
                         f"{grid.shape}")
    if padding not in ("zeros", "border", "reflection"):
        raise ValueError(f"GridSample: unknown padding_mode {padding!r}")
    n, c, in_shape = X.shape[0], X.shape[1], X.shape[2:]
    ct = compute_dtype(X.dtype)
    # channels-last, flattened: one gather per corner fetches all C values at once
    table = np.moveaxis(X.astype(ct, copy=False), 1, -1).reshape(-1, c)
    steps = np.cumprod((1, *in_shape[:0:-1]))[::-1]
    g = grid.astype(np.float64, copy=False)
    per_axis = []
    for a in range(nsp):  # grid's last dim lists the axes innermost first
        x = _unnormalize(g[..., nsp - 1 - a], in_shape[a], align_corners)
        per_axis.append(_grid_taps(x, in_shape[a], mode, padding, align_corners))
    batch = (np.arange(n) * int(np.prod(in_shape))).reshape(n, *([1] * nsp))
    out = np.zeros((*grid.shape[:-1], c), dtype=ct)
    for combo in np.ndindex(*(len(t) for t in per_axis)):
        lin = batch
        w = np.ones(grid.shape[:-1])
        for a, t in enumerate(combo):
            idx, wt = per_axis[a][t]
            lin = lin + idx * int(steps[a])
            w = w * wt
        out += table[lin] * w[..., None].astype(ct)
    return np.moveaxis(out, -1, 1).astype(X.dtype)


@kernel("GridSample", since=20)
def grid_sample(X: np.ndarray, grid: np.ndarray, *, align_corners: int = 0,
                mode: str = "linear", padding_mode: str = "zeros") -> np.ndarray:
    """GridSample-20/22: N-D, modes linear/nearest/cubic. GridSample-16's mode names are
    rewritten by ir/op_versions.py."""
    if mode not in ("linear", "nearest", "cubic"):
        raise ValueError(f"GridSample: mode must be linear, nearest or cubic, got {mode!r}")
    return _grid_sample(X, grid, mode, padding_mode, align_corners)


@kernel("AffineGrid", since=20)
def affine_grid(theta: np.ndarray, size: np.ndarray, *, align_corners: int = 0) -> np.ndarray:
    """AffineGrid-20: theta (N, r, r+1) applied to the normalised pixel-centre grid of
    ``size``; the result lists coordinates innermost axis first, as GridSample reads them."""
    dims = [int(v) for v in np.asarray(size).reshape(-1)]
    nsp = len(dims) - 2
    if nsp not in (2, 3) or theta.shape != (dims[0], nsp, nsp + 1):
        raise ValueError(f"AffineGrid: theta {theta.shape} and size {dims} must be (N, 2, 3) "
                         "with (N, C, H, W), or (N, 3, 4) with (N, C, D, H, W)")
    ct = compute_dtype(theta.dtype)
    axes = []
    for length in dims[2:]:
        if align_corners:
            pos = np.linspace(-1.0, 1.0, length) if length > 1 else np.zeros(1)
        else:
            pos = (2 * np.arange(length) + 1) / length - 1
        axes.append(pos)
    mesh = np.meshgrid(*axes, indexing="ij")  # outermost axis first
    base = np.stack([*mesh[::-1], np.ones_like(mesh[0])], axis=-1).astype(ct)  # (*sp, r+1)
    grid = np.einsum("...k,njk->n...j", base, theta.astype(ct, copy=False))
    return grid.astype(theta.dtype, copy=False)
