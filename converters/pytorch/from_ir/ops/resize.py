"""Resampling emitters: Resize, Upsample, GridSample, AffineGrid and CenterCropPad.

Resize goes to ``F.interpolate`` when torch's kernel computes exactly the ONNX formula for
the node (mode, coordinate transform, rounding, and the same output size and scale);
everything else runs a separable gather-based resampler written with torch ops: per
resized axis a table of source indices and weights (built from ``torch.arange``, so no
data is read), one ``index_select`` and a weighted sum over the taps."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import Host, T, ints
from tensorbridge.converters.pytorch.from_ir.ops.shape import Info, info, pad_arg
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.resize_math import (
    Axis,
    Options,
    axis_tables,
    extrapolation_mask,
    legacy_plan,
    resize_plan,
    skip_identity_axes,
)

LAYER = "PyTorch emitter"


class _TorchOps:
    """:class:`ResizeOps` in torch: tables are built with torch ops from ``torch.arange``,
    so sizes may be symbolic under torch.export (Python branches on them guard)."""

    def arange(self, n: Any) -> Any:
        return torch.arange(n, dtype=torch.float64)

    def scalar(self, v: Any) -> Any:
        return v

    def select(self, cond: Any, a: Callable[[], Any], b: Callable[[], Any]) -> Any:
        return a() if cond else b()

    floor = staticmethod(torch.floor)
    ceil = staticmethod(torch.ceil)
    abs = staticmethod(torch.abs)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return torch.where(cond, a, b)

    def clip(self, x: Any, lo: Any, hi: Any) -> Any:
        return torch.clamp(x, lo, hi)

    def to_index(self, x: Any) -> Any:
        return x.long()

    def to_float(self, mask: Any) -> Any:
        return mask.to(torch.float64)

    def ceil_count(self, v: Any) -> Any:
        return math.ceil(v)

    def row_sum(self, w: Any) -> Any:
        return w.sum(dim=1, keepdim=True)

    def reshape(self, x: Any, shape: list[int]) -> Any:
        return x.reshape(shape)

    def scaled_size(self, n: Any, s: Any) -> Any:
        return math.floor(n * s)

    def ratio(self, out: Any, n: Any) -> Any:
        return out / n

    def extreme(self, values: list[Any], largest: bool) -> Any:
        return max(values) if largest else min(values)

    def round_size(self, v: Any) -> Any:
        return math.floor(v + 0.5)


OPS = _TorchOps()


def floats(v: Any) -> list[float]:
    """A float-list parameter (scales, roi): host items, or a tensor read eagerly."""
    if v is None:
        return []
    if isinstance(v, Host):
        return [float(i) for i in v.items]
    if isinstance(v, torch.Tensor):
        return [float(i) for i in v.reshape(-1).tolist()]
    return [float(i) for i in np.asarray(v).reshape(-1)]


def _unsupported(op: str, e: ValueError) -> UnsupportedOpError:
    return UnsupportedOpError(LAYER, op, hint=str(e))


# ------------------------------------------------------------------ generic resampler


def _resample_axis(y: Any, axis: int, idx: Any, w: Any, rank: int) -> Any:
    """out[..., i, ...] = sum_t w[i, t] * y[..., idx[i, t], ...] with one gather."""
    n_out, taps = idx.shape
    picked = torch.index_select(y, axis, idx.reshape(-1)).unflatten(axis, (n_out, taps))
    wv = w.reshape(n_out, taps, *[1] * (rank - axis - 1))
    return (picked * wv).sum(dim=axis + 1)


def _resize_generic(x: Any, axes: dict[int, Axis], opt: Options, xi: Info) -> Any:
    coords, tables = axis_tables(axes, opt, OPS)
    if opt.mode == "nearest":
        y = x
        for a, (idx, _) in tables.items():
            y = torch.index_select(y, a, idx)
    else:
        floating = xi.dtype is None or xi.dtype.is_floating_point
        ct = xi.dtype if floating else torch.float32
        y = x.to(ct)
        for a, (idx, w) in tables.items():
            y = _resample_axis(y, a, idx, w.to(ct), xi.rank)
        if not floating and xi.dtype is not None:
            limits = torch.iinfo(xi.dtype)
            y = torch.round(y).clamp(limits.min, limits.max)
        y = y.to(xi.dtype)
    mask = extrapolation_mask(coords, axes, xi.rank, opt, OPS)
    return y if mask is None else torch.where(mask, opt.extrapolation_value, y)


# -------------------------------------------------------------------- F.interpolate path


def _torch_mode(axes: dict[int, Axis], opt: Options, nsp: int) -> tuple[str, bool] | None:
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


def _interpolate(x: Any, axes: dict[int, Axis], opt: Options, xi: Info) -> Any:
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
    full = [axes.get(a, Axis(xi.shape[a], xi.shape[a], 1.0)) for a in range(2, r)]
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


def _resize(X: Any, axes: dict[int, Axis], opt: Options, xi: Info) -> Any:
    x = T(X)
    axes = skip_identity_axes(axes, opt.coord)
    if not axes:
        return x
    if opt.coord != "tf_crop_and_resize" and (xi.dtype is None or xi.dtype.is_floating_point):
        y = _interpolate(x, axes, opt, xi)
        if y is not None:
            return y
    return _resize_generic(x, axes, opt, xi)


def _legacy_resize(X: Any, scales: Sequence[float], mode: str, ctx: EmitContext | None) -> Any:
    """Resize-10 / Upsample: asymmetric coordinates, nearest truncates (ceil shrinking)."""
    xi = info(T(X), ctx)
    try:
        return _resize(X, *legacy_plan(xi.shape, [float(s) for s in scales], mode, OPS), xi)
    except ValueError as e:
        raise _unsupported("Resize", e) from e


@emits("Resize", since=10)
def resize_10(X: Any, scales: Any, *, mode: str = "nearest",
              ctx: EmitContext | None = None) -> Any:
    """Resize-10: like Upsample-9, out = floor(in * scale); nearest truncates (ceil when
    shrinking). Upsample-1/7/9 are rewritten into it by ir/op_versions.py. Resize-11 changed
    the coordinates and nearest rounding, so it has its own emitter."""
    return _legacy_resize(X, floats(scales), mode, ctx)


@emits("Resize", since=11)
def resize(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
           antialias: int = 0, axes: tuple[int, ...] | None = None,
           coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
           exclude_outside: int = 0, extrapolation_value: float = 0.0,
           keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
           nearest_mode: str = "round_prefer_floor", ctx: EmitContext) -> Any:
    """Resize-11/13/18/19: roi?/scales?/sizes? inputs (roi and scales optional from 13);
    antialias, axes and keep_aspect_ratio_policy (18) default to the earlier meaning; the
    coordinate modes allowed are the node's version's (see ``coord_modes``)."""
    opt = Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                  exclude_outside, extrapolation_value, antialias)
    xi = info(T(X), ctx)
    try:
        plans = resize_plan(xi.shape, floats(roi), floats(scales), ints(sizes), axes,
                            keep_aspect_ratio_policy, opt, ctx.opset, OPS)
        return _resize(X, plans, opt, xi)
    except ValueError as e:
        raise _unsupported("Resize", e) from e


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


@emits("GridSample", since=20)
def grid_sample_20(X: Any, grid: Any, *, align_corners: int = 0, mode: str = "linear",
                   padding_mode: str = "zeros", ctx: EmitContext | None = None) -> Any:
    """GridSample-20/22: N-D, modes linear/nearest/cubic."""
    return _grid_sample(X, grid, mode, padding_mode, align_corners, ctx)


@emits("AffineGrid", since=20)
def affine_grid(theta: Any, size: Any, *, align_corners: int = 0) -> Any:
    """AffineGrid-20: theta (N, 2, 3) or (N, 3, 4) applied to the normalised grid of size."""
    return F.affine_grid(T(theta), ints(size), align_corners=bool(align_corners))


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
