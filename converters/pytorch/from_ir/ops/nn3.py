"""Resampling emitters (Resize, Upsample, GridSample, AffineGrid).

Resize goes to ``F.interpolate`` when torch's kernel computes exactly the ONNX formula for
the node (mode, coordinate transform, rounding, and the same output size and scale);
everything else runs a separable gather-based resampler written with torch ops: per
resized axis a table of source indices and weights (built from ``torch.arange``, so no
data is read), one ``index_select`` and a weighted sum over the taps."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import Host, T, ints
from tensorbridge.converters.pytorch.from_ir.ops.nn import Info, info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
_COORD_11 = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
             "tf_half_pixel_for_nn", "tf_crop_and_resize")
_COORD_13 = tuple(m for m in _COORD_11 if m != "tf_half_pixel_for_nn")
_COORD_19 = (*_COORD_13, "half_pixel_symmetric")
# coordinate modes for which an axis with scale 1 and equal sizes is the identity
_IDENTITY_AT_1 = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                  "asymmetric")


@dataclass(frozen=True)
class _Axis:
    """One resized axis: lengths, the scale the coordinate formulas divide by, the RoI."""

    size_in: int
    size_out: int
    scale: float
    roi: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class _Options:
    mode: str = "nearest"
    coord: str = "half_pixel"
    nearest: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: int = 0
    extrapolation_value: float = 0.0
    antialias: int = 0


def floats(v: Any) -> list[float]:
    """A float-list parameter (scales, roi): host items, or a tensor read eagerly."""
    if v is None:
        return []
    if isinstance(v, Host):
        return [float(i) for i in v.items]
    if isinstance(v, torch.Tensor):
        return [float(i) for i in v.reshape(-1).tolist()]
    return [float(i) for i in np.asarray(v).reshape(-1)]


# ------------------------------------------------------------------ generic resampler


def _source_coords(ax: _Axis, mode: str) -> Any:
    """x_original of every output index (float64), per coordinate_transformation_mode."""
    x = torch.arange(ax.size_out, dtype=torch.float64)
    n_in, n_out, s = ax.size_in, ax.size_out, ax.scale
    if mode == "half_pixel":
        return (x + 0.5) / s - 0.5
    if mode == "half_pixel_symmetric":
        # centre the sampled span when the output length was rounded from in * scale
        return n_in / 2 * (1 - n_out / (n_in * s)) + (x + 0.5) / s - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / s - 0.5 if n_out > 1 else torch.zeros_like(x)
    if mode == "align_corners":
        return x * ((n_in - 1) / (n_out - 1)) if n_out > 1 else torch.zeros_like(x)
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / s
    if mode == "tf_crop_and_resize":
        lo, hi = ax.roi
        if n_out == 1:
            return torch.full_like(x, 0.5 * (lo + hi) * (n_in - 1))
        return lo * (n_in - 1) + x * ((hi - lo) * (n_in - 1) / (n_out - 1))
    raise UnsupportedOpError(LAYER, "Resize",
                             hint=f"unknown coordinate_transformation_mode {mode!r}")


def _nearest_index(x: Any, mode: str, downsampling: bool, size: int) -> Any:
    if mode == "round_prefer_floor":
        idx = torch.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        idx = torch.floor(x + 0.5)
    elif mode == "floor":
        idx = torch.floor(x)
    elif mode == "ceil":
        idx = torch.ceil(x)
    elif mode == "simple":  # Resize-10 / Upsample: truncate enlarging, ceil shrinking
        idx = torch.ceil(x) if downsampling else torch.floor(x)
    else:
        raise UnsupportedOpError(LAYER, "Resize", hint=f"unknown nearest_mode {mode!r}")
    return idx.clamp(0, size - 1).long()


def _cubic(a: float) -> Callable[[Any], Any]:
    """Keys' cubic convolution kernel with coefficient a."""
    def k(d: Any) -> Any:
        d = d.abs()
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))
    return k


def _linear(d: Any) -> Any:
    return (1 - d.abs()).clamp_min(0.0)


def _filter_taps(x: Any, size: int, kern: Callable[[Any], Any], support: float, stretch: float,
                 exclude_outside: int) -> tuple[Any, Any]:
    """(indices, weights), each [len(x), taps]; ``stretch`` > 1 widens the filter for
    antialiased downsampling. Off-image taps read the edge, or are dropped and the rest
    renormalised with exclude_outside."""
    reach = support * stretch
    taps = (torch.floor(x - reach) + 1)[:, None] + torch.arange(
        int(math.ceil(2 * reach)) + 1, dtype=torch.float64)[None, :]
    w = kern((taps - x[:, None]) / stretch)
    if exclude_outside:
        w = w * ((taps >= 0) & (taps <= size - 1))
    w = w / w.sum(dim=1, keepdim=True)
    return taps.clamp(0, size - 1).long(), w


def _resample_axis(y: Any, axis: int, idx: Any, w: Any, rank: int) -> Any:
    """out[..., i, ...] = sum_t w[i, t] * y[..., idx[i, t], ...] with one gather."""
    n_out, taps = idx.shape
    picked = torch.index_select(y, axis, idx.reshape(-1)).unflatten(axis, (n_out, taps))
    wv = w.reshape(n_out, taps, *[1] * (rank - axis - 1))
    return (picked * wv).sum(dim=axis + 1)


def _resize_generic(x: Any, axes: dict[int, _Axis], opt: _Options, xi: Info) -> Any:
    coords = {a: _source_coords(ax, opt.coord) for a, ax in axes.items()}
    if opt.mode == "nearest":
        y = x
        for a, ax in axes.items():
            y = torch.index_select(y, a, _nearest_index(coords[a], opt.nearest, ax.scale < 1,
                                                         ax.size_in))
    else:
        kern = _linear if opt.mode == "linear" else _cubic(opt.cubic_a)
        support = 1.0 if opt.mode == "linear" else 2.0
        floating = xi.dtype is None or xi.dtype.is_floating_point
        ct = xi.dtype if floating else torch.float32
        y = x.to(ct)
        for a, ax in axes.items():
            stretch = 1.0 / ax.scale if opt.antialias and ax.scale < 1 else 1.0
            idx, w = _filter_taps(coords[a], ax.size_in, kern, support, stretch,
                                  opt.exclude_outside)
            y = _resample_axis(y, a, idx, w.to(ct), xi.rank)
        if not floating and xi.dtype is not None:
            limits = torch.iinfo(xi.dtype)
            y = torch.round(y).clamp(limits.min, limits.max)
        y = y.to(xi.dtype)
    if opt.coord == "tf_crop_and_resize":
        outside = torch.zeros([1] * xi.rank, dtype=torch.bool)
        for a, c in coords.items():
            shape = [1] * xi.rank
            shape[a] = -1
            outside = outside | ((c < 0) | (c > axes[a].size_in - 1)).reshape(shape)
        y = torch.where(outside, opt.extrapolation_value, y)
    return y


# -------------------------------------------------------------------- F.interpolate path


def _torch_mode(axes: dict[int, _Axis], opt: _Options, nsp: int) -> tuple[str, bool] | None:
    """(F.interpolate mode, align_corners) computing exactly this resize, or None."""
    out_gt_1 = all(ax.size_out > 1 for ax in axes.values())
    half = opt.coord == "half_pixel" or (opt.coord == "pytorch_half_pixel" and out_gt_1)
    if opt.mode == "nearest":
        if opt.coord == "asymmetric" and (opt.nearest == "floor" or (
                opt.nearest == "simple" and all(ax.scale >= 1 for ax in axes.values()))):
            return "nearest", False
        if half and opt.nearest == "round_prefer_ceil":
            return "nearest-exact", False
        return None
    # torch's antialias drops off-image taps (exclude_outside=1) where ONNX's default
    # repeats the edge, so antialiased resizes take the generic path
    if opt.exclude_outside or (opt.antialias and any(ax.scale < 1 for ax in axes.values())):
        return None
    if opt.mode == "linear" and (half or opt.coord == "align_corners"):
        return {1: "linear", 2: "bilinear", 3: "trilinear"}[nsp], opt.coord == "align_corners"
    if opt.mode == "cubic" and nsp == 2 and opt.cubic_a == -0.75 and (
            half or opt.coord == "align_corners"):
        return "bicubic", opt.coord == "align_corners"
    return None


def _interpolate(x: Any, axes: dict[int, _Axis], opt: _Options, xi: Info) -> Any:
    """F.interpolate when it matches exactly, else None."""
    r = xi.rank
    nsp = r - 2
    if not 1 <= nsp <= 3 or any(a < 2 for a in axes) or any(
            not isinstance(ax.size_in, int) for ax in axes.values()):
        return None
    found = _torch_mode(axes, opt, nsp)
    if found is None:
        return None
    mode, align = found
    full = [axes.get(a, _Axis(xi.shape[a], xi.shape[a], 1.0)) for a in range(2, r)]
    kw: dict[str, Any] = {"mode": mode}
    if mode not in ("nearest", "nearest-exact"):
        kw["align_corners"] = align
    # torch's coordinates use 1/scale_factor when given, else in/out: pick the argument
    # whose arithmetic reproduces both the ONNX scale and the ONNX output size
    if all(math.floor(ax.size_in * ax.scale) == ax.size_out for ax in full):
        return F.interpolate(x, scale_factor=[ax.scale for ax in full],
                             recompute_scale_factor=False, **kw)
    if all(ax.size_out / ax.size_in == ax.scale for ax in full):
        return F.interpolate(x, size=[ax.size_out for ax in full], **kw)
    return None


def _resize(X: Any, axes: dict[int, _Axis], opt: _Options, xi: Info) -> Any:
    x = T(X)
    if opt.coord in _IDENTITY_AT_1:  # resampling these axes would be a costly copy
        axes = {a: ax for a, ax in axes.items()
                if not (ax.size_in == ax.size_out and ax.scale == 1.0)}
    if not axes:
        return x
    if opt.coord != "tf_crop_and_resize" and (xi.dtype is None or xi.dtype.is_floating_point):
        y = _interpolate(x, axes, opt, xi)
        if y is not None:
            return y
    return _resize_generic(x, axes, opt, xi)


# ------------------------------------------------------------------ sizes and scales


def _out_size(size_in: Any, scale: float) -> Any:
    """floor(in * scale) in float32, as onnxruntime: 0.7f * 10 must give 7."""
    if isinstance(size_in, int):
        return int(np.floor(np.float32(scale) * np.float32(size_in)))
    return math.floor(size_in * scale)


def _apply_policy(ins: list[Any], sizes: list[int], policy: str) -> tuple[list[Any], list[float]]:
    if policy == "stretch":
        return sizes, [o / i for o, i in zip(sizes, ins, strict=True)]
    ratios = [o / i for o, i in zip(sizes, ins, strict=True)]
    if policy not in ("not_larger", "not_smaller"):
        raise UnsupportedOpError(LAYER, "Resize",
                                 hint=f"unknown keep_aspect_ratio_policy {policy!r}")
    s = min(ratios) if policy == "not_larger" else max(ratios)
    return [math.floor(s * i + 0.5) for i in ins], [s] * len(ins)  # the spec's round_int


def _resize_axes(xi: Info, roi: Any, scales: Any, sizes: Any, axes: Sequence[int] | None,
                 policy: str, coord: str) -> dict[int, _Axis]:
    r = xi.rank
    ax_list = [a % r for a in axes] if axes else list(range(r))
    n = len(ax_list)
    sc, sz = floats(scales), ints(sizes)
    if bool(sc) == bool(sz):
        raise UnsupportedOpError(LAYER, "Resize",
                                 hint="exactly one of scales and sizes must be given")
    rois = [(0.0, 1.0)] * n
    rv = floats(roi) if coord == "tf_crop_and_resize" else []
    if rv:
        rois = [(rv[i], rv[i + n]) for i in range(n)]
    ins = [xi.shape[a] for a in ax_list]
    if sc:
        outs, scale_list = [_out_size(i, s) for i, s in zip(ins, sc, strict=True)], sc
    else:
        outs, scale_list = _apply_policy(ins, sz, policy)
    return {a: _Axis(i, o, s, rr) for a, i, o, s, rr in
            zip(ax_list, ins, outs, scale_list, rois, strict=True)}


def _legacy_resize(X: Any, scales: Sequence[float], mode: str, ctx: EmitContext | None) -> Any:
    """Resize-10 / Upsample: asymmetric coordinates, nearest truncates (ceil shrinking)."""
    xi = info(T(X), ctx)
    mode = "linear" if mode == "bilinear" else mode  # Upsample-1's spelling
    if mode not in ("nearest", "linear") or len(scales) != xi.rank:
        raise UnsupportedOpError(LAYER, "Resize", hint=f"mode must be nearest or linear with one "
                                 f"scale per axis; got {mode!r} and {list(scales)}")
    axes = {a: _Axis(xi.shape[a], _out_size(xi.shape[a], s), float(s))
            for a, s in enumerate(scales) if s != 1.0}
    return _resize(X, axes, _Options(mode=mode, coord="asymmetric", nearest="simple"), xi)


def _check_coord(coord: str, allowed: tuple[str, ...]) -> None:
    if coord not in allowed:
        raise UnsupportedOpError(LAYER, "Resize", hint=f"coordinate_transformation_mode {coord!r} "
                                 f"is not one of {allowed} at this opset")


@emits("Resize", since=10)
def resize_10(X: Any, scales: Any, *, mode: str = "nearest",
              ctx: EmitContext | None = None) -> Any:
    """Resize-10: like Upsample-9, out = floor(in * scale)."""
    return _legacy_resize(X, floats(scales), mode, ctx)


@emits("Resize", since=11)
def resize_11(X: Any, roi: Any, scales: Any, sizes: Any = None, *,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0, mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor", ctx: EmitContext | None = None) -> Any:
    """Resize-11: roi/scales/sizes inputs, coordinate modes incl. tf_half_pixel_for_nn."""
    _check_coord(coordinate_transformation_mode, _COORD_11)
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value)
    xi = info(T(X), ctx)
    return _resize(X, _resize_axes(xi, roi, scales, sizes, None, "stretch", opt.coord), opt, xi)


@emits("Resize", since=13)
def resize_13(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0, mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor", ctx: EmitContext | None = None) -> Any:
    """Resize-13: roi and scales optional; tf_half_pixel_for_nn removed."""
    _check_coord(coordinate_transformation_mode, _COORD_13)
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value)
    xi = info(T(X), ctx)
    return _resize(X, _resize_axes(xi, roi, scales, sizes, None, "stretch", opt.coord), opt, xi)


def _resize_18(X: Any, roi: Any, scales: Any, sizes: Any, opt: _Options,
               axes: Sequence[int] | None, policy: str, allowed: tuple[str, ...],
               ctx: EmitContext | None) -> Any:
    _check_coord(opt.coord, allowed)
    xi = info(T(X), ctx)
    return _resize(X, _resize_axes(xi, roi, scales, sizes, axes, policy, opt.coord), opt, xi)


@emits("Resize", since=18)
def resize_18(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
              antialias: int = 0, axes: tuple[int, ...] | None = None,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0,
              keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor", ctx: EmitContext | None = None) -> Any:
    """Resize-18: adds antialias, axes and keep_aspect_ratio_policy."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value, antialias)
    return _resize_18(X, roi, scales, sizes, opt, axes, keep_aspect_ratio_policy, _COORD_13, ctx)


@emits("Resize", since=19)
def resize_19(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
              antialias: int = 0, axes: tuple[int, ...] | None = None,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0,
              keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor", ctx: EmitContext | None = None) -> Any:
    """Resize-19: adds the half_pixel_symmetric coordinate mode."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value, antialias)
    return _resize_18(X, roi, scales, sizes, opt, axes, keep_aspect_ratio_policy, _COORD_19, ctx)


@emits("Upsample", since=1)
def upsample_1(X: Any, *, height_scale: float | None = None, width_scale: float | None = None,
               mode: str = "nearest", ctx: EmitContext | None = None) -> Any:
    """Upsample-1 (experimental): 4-D NCHW input, scales for H and W only."""
    if height_scale is None or width_scale is None:
        raise UnsupportedOpError(LAYER, "Upsample",
                                 hint="height_scale and width_scale are required")
    return _legacy_resize(X, [1.0, 1.0, height_scale, width_scale], mode, ctx)


@emits("Upsample", since=7)
def upsample_7(X: Any, *, mode: str = "nearest", scales: tuple[float, ...] | None = None,
               ctx: EmitContext | None = None) -> Any:
    """Upsample-7: scales as an attribute."""
    if scales is None:
        raise UnsupportedOpError(LAYER, "Upsample", hint="the scales attribute is required")
    return _legacy_resize(X, scales, mode, ctx)


@emits("Upsample", since=9)
def upsample_9(X: Any, scales: Any, *, mode: str = "nearest",
               ctx: EmitContext | None = None) -> Any:
    """Upsample-9/10: scales as an input."""
    return _legacy_resize(X, floats(scales), mode, ctx)


# ---------------------------------------------------------------------- grid sample


_GRID_MODES = {"bilinear": "bilinear", "linear": "bilinear", "nearest": "nearest",
               "bicubic": "bicubic", "cubic": "bicubic"}


def _grid_sample(X: Any, grid: Any, mode: str, padding_mode: str, align_corners: int,
                 ctx: EmitContext | None) -> Any:
    x, g = T(X), T(grid)
    xi = info(x, ctx)
    tm = _GRID_MODES.get(mode)
    if tm is None or xi.rank not in (4, 5) or (xi.rank == 5 and tm == "bicubic"):
        raise UnsupportedOpError(LAYER, "GridSample", hint="torch's grid_sample takes 4-D input "
                                 "(linear/nearest/cubic) or 5-D input (linear/nearest); got rank "
                                 f"{xi.rank} with mode {mode!r}")
    ct = xi.dtype if xi.dtype in (None, torch.float32, torch.float64) else torch.float32
    y = F.grid_sample(x.to(ct), g.to(ct), mode=tm, padding_mode=padding_mode,
                      align_corners=bool(align_corners))
    return y.to(xi.dtype)


@emits("GridSample", since=16)
def grid_sample_16(X: Any, grid: Any, *, align_corners: int = 0, mode: str = "bilinear",
                   padding_mode: str = "zeros", ctx: EmitContext | None = None) -> Any:
    """GridSample-16: 4-D only, modes bilinear/nearest/bicubic."""
    return _grid_sample(X, grid, mode, padding_mode, align_corners, ctx)


@emits("GridSample", since=20)
def grid_sample_20(X: Any, grid: Any, *, align_corners: int = 0, mode: str = "linear",
                   padding_mode: str = "zeros", ctx: EmitContext | None = None) -> Any:
    """GridSample-20/22: N-D, modes linear/nearest/cubic."""
    return _grid_sample(X, grid, mode, padding_mode, align_corners, ctx)


@emits("AffineGrid", since=20)
def affine_grid(theta: Any, size: Any, *, align_corners: int = 0) -> Any:
    """AffineGrid-20: theta (N, 2, 3) or (N, 3, 4) applied to the normalised grid of size."""
    return F.affine_grid(T(theta), ints(size), align_corners=bool(align_corners))
