"""Kernels: resampling (Resize, Upsample, GridSample, AffineGrid, CenterCropPad).

Resize is separable: every resized axis gets a small (out_len, taps) table of source
indices and weights, and the tensor is resampled one axis at a time with one gather per
tap. Nearest mode needs a single gather for all axes (``np.ix_``). GridSample gathers
from a channels-last copy of the input once per interpolation corner (2**r for linear,
4**r for cubic).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tensorbridge.runtime.kernels._spatial import compute_dtype, pad_spatial
from tensorbridge.runtime.registry import kernel

_COORD_MODES_11 = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                   "tf_half_pixel_for_nn", "tf_crop_and_resize")
_COORD_MODES_13 = tuple(m for m in _COORD_MODES_11 if m != "tf_half_pixel_for_nn")
_COORD_MODES_19 = (*_COORD_MODES_13, "half_pixel_symmetric")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple")


@dataclass(frozen=True)
class _Axis:
    """How one axis is resampled: lengths, the scale the coordinate formulas divide by,
    and the normalised RoI (used by tf_crop_and_resize only)."""

    size_in: int
    size_out: int
    scale: float
    roi: tuple[float, float] = (0.0, 1.0)


def _source_coords(ax: _Axis, mode: str) -> np.ndarray:
    """x_original for every output index (float64), per coordinate_transformation_mode."""
    x = np.arange(ax.size_out, dtype=np.float64)
    n_in, n_out, s = ax.size_in, ax.size_out, ax.scale
    if mode == "half_pixel":
        return (x + 0.5) / s - 0.5
    if mode == "half_pixel_symmetric":
        # Centre the sampled span when the output length was rounded down from in * scale.
        offset = n_in / 2 * (1 - n_out / (n_in * s))
        return offset + (x + 0.5) / s - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / s - 0.5 if n_out > 1 else np.zeros(n_out)
    if mode == "align_corners":
        return x * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / s
    if mode == "tf_crop_and_resize":
        lo, hi = ax.roi
        if n_out == 1:
            return np.full(1, 0.5 * (lo + hi) * (n_in - 1))
        return lo * (n_in - 1) + x * (hi - lo) * (n_in - 1) / (n_out - 1)
    raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")


def _nearest_index(x: np.ndarray, mode: str, downsampling: bool, size: int) -> np.ndarray:
    if mode == "round_prefer_floor":
        idx = np.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        idx = np.floor(x + 0.5)
    elif mode == "floor":
        idx = np.floor(x)
    elif mode == "ceil":
        idx = np.ceil(x)
    elif mode == "simple":
        # Resize-10 / Upsample: truncate when enlarging, ceil when shrinking (onnxruntime).
        idx = np.ceil(x) if downsampling else np.floor(x)
    else:
        raise ValueError(f"Resize: nearest_mode must be one of {_NEAREST_MODES[:4]}, got {mode!r}")
    return np.clip(idx, 0, size - 1).astype(np.int64)


def _cubic_kernel(a: float) -> Callable[[np.ndarray], np.ndarray]:
    """Keys' cubic convolution kernel with coefficient a."""
    def k(d: np.ndarray) -> np.ndarray:
        d = np.abs(d)
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return np.where(d <= 1, near, np.where(d < 2, far, 0.0))
    return k


def _linear_kernel(d: np.ndarray) -> np.ndarray:
    return np.clip(1 - np.abs(d), 0.0, None)


def _filter_taps(x: np.ndarray, size: int, kern: Callable[[np.ndarray], np.ndarray],
                 support: float, stretch: float,
                 exclude_outside: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), each (len(x), taps), of a separable resampling filter.

    ``stretch`` > 1 widens the filter for antialiased downsampling. Taps that fall off
    the image read the edge value, or are dropped and the rest renormalised when
    ``exclude_outside`` is set.
    """
    reach = support * stretch
    first = np.floor(x - reach) + 1
    taps = first[:, None] + np.arange(int(np.ceil(2 * reach)) + 1)[None, :]
    w = kern((taps - x[:, None]) / stretch)
    inside = (taps >= 0) & (taps <= size - 1)
    if exclude_outside:
        w = w * inside
    w = w / w.sum(axis=1, keepdims=True)
    return np.clip(taps, 0, size - 1).astype(np.int64), w


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


@dataclass(frozen=True)
class _Options:
    mode: str = "nearest"
    coord: str = "half_pixel"
    nearest: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: int = 0
    extrapolation_value: float = 0.0
    antialias: int = 0


def _extrapolated(axes: dict[int, _Axis], coords: dict[int, np.ndarray], ndim: int) -> np.ndarray:
    """Broadcastable mask of outputs whose source point lies outside the input."""
    mask = np.zeros([1] * ndim, dtype=bool)
    for a, x in coords.items():
        shape = [1] * ndim
        shape[a] = -1
        mask = mask | ((x < 0) | (x > axes[a].size_in - 1)).reshape(shape)
    return mask


_IDENTITY_AT_SCALE_1 = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                        "align_corners", "asymmetric")


def _resize(X: np.ndarray, axes: dict[int, _Axis], opt: _Options) -> np.ndarray:
    """Resample the axes in ``axes`` (others are copied through)."""
    if opt.coord in _IDENTITY_AT_SCALE_1:
        # x_original == x_resized on these axes: resampling them would be a costly copy.
        axes = {a: ax for a, ax in axes.items()
                if not (ax.size_in == ax.size_out and ax.scale == 1.0)}
    # Shrinking axes first keeps the intermediate tensors small; among equals the last
    # axis goes first, since its per-element gathers are the expensive ones.
    axes = dict(sorted(axes.items(),
                       key=lambda kv: (kv[1].size_out / max(kv[1].size_in, 1), -kv[0])))
    coords = {a: _source_coords(ax, opt.coord) for a, ax in axes.items()}
    if opt.mode == "nearest":
        y = X
        for a, ax in axes.items():  # one take per axis beat a single np.ix_ gather 5-10x
            y = np.take(y, _nearest_index(coords[a], opt.nearest, ax.scale < 1, ax.size_in),
                        axis=a)
    elif opt.mode in ("linear", "cubic"):
        kern = _linear_kernel if opt.mode == "linear" else _cubic_kernel(opt.cubic_a)
        support = 1.0 if opt.mode == "linear" else 2.0
        ct = compute_dtype(X.dtype)
        y = X.astype(ct, copy=False)
        for a, ax in axes.items():
            stretch = 1.0 / ax.scale if opt.antialias and ax.scale < 1 else 1.0
            idx, w = _filter_taps(coords[a], ax.size_in, kern, support, stretch,
                                  opt.exclude_outside)
            y = _resample_axis(y, a, idx, w)
        if X.dtype.kind in "iu":
            info = np.iinfo(X.dtype)
            y = np.clip(np.rint(y), info.min, info.max)
        y = y.astype(X.dtype, copy=False)
    else:
        raise ValueError(f"Resize: mode must be nearest, linear or cubic, got {opt.mode!r}")
    if opt.coord == "tf_crop_and_resize":
        fill = np.asarray(opt.extrapolation_value).astype(y.dtype)
        y = np.where(_extrapolated(axes, coords, X.ndim), fill, y)
    return y


# ------------------------------------------------------------------- sizes and scales


def _resize_axes(X: np.ndarray, roi: np.ndarray | None, scales: np.ndarray | None,
                 sizes: np.ndarray | None, axes: list[int] | None, policy: str,
                 coord: str) -> dict[int, _Axis]:
    """Turn Resize's roi/scales/sizes/axes inputs into per-axis plans."""
    r = X.ndim
    ax_list = [a % r for a in axes] if axes else list(range(r))
    have_scales = scales is not None and np.asarray(scales).size > 0
    have_sizes = sizes is not None and np.asarray(sizes).size > 0
    if have_scales == have_sizes:
        raise ValueError("Resize: exactly one of 'scales' and 'sizes' must be given")
    n = len(ax_list)
    rois = [(0.0, 1.0)] * n
    if coord == "tf_crop_and_resize" and roi is not None and np.asarray(roi).size:
        rv = np.asarray(roi, dtype=np.float64).reshape(-1)
        if rv.size != 2 * n:
            raise ValueError(f"Resize: roi must have {2 * n} values, got {rv.size}")
        rois = [(float(rv[i]), float(rv[i + n])) for i in range(n)]
    ins = [X.shape[a] for a in ax_list]
    if have_scales:
        sc = np.asarray(scales, dtype=np.float64).reshape(-1)
        if sc.size != n or np.any(sc <= 0):
            raise ValueError(f"Resize: scales must be {n} positive values, got {sc.tolist()}")
        # floor(in * scale) in float32, as onnxruntime computes it: 0.7f * 10 must give 7.
        # The spec's extra (roi_end - roi_start) factor is ignored by onnxruntime and by
        # the ONNX reference alike, so it is ignored here too.
        outs = [int(np.floor(np.float32(s) * np.float32(i))) for i, s in zip(ins, sc, strict=True)]
        scale_list = [float(s) for s in sc]
    else:
        sz = np.asarray(sizes, dtype=np.int64).reshape(-1)
        if sz.size != n:
            raise ValueError(f"Resize: sizes must have {n} values, got {sz.tolist()}")
        outs, scale_list = _apply_policy(ins, [int(v) for v in sz], policy)
    plans = zip(ax_list, ins, outs, scale_list, rois, strict=True)
    return {a: _Axis(i, o, s, rv) for a, i, o, s, rv in plans}


def _apply_policy(ins: list[int], sizes: list[int], policy: str) -> tuple[list[int], list[float]]:
    """Output sizes and scales for a ``sizes`` input under keep_aspect_ratio_policy."""
    if policy == "stretch":
        return sizes, [o / i for o, i in zip(sizes, ins, strict=True)]
    ratios = [o / i for o, i in zip(sizes, ins, strict=True)]
    if policy == "not_larger":
        s = min(ratios)
    elif policy == "not_smaller":
        s = max(ratios)
    else:
        raise ValueError(f"Resize: keep_aspect_ratio_policy must be stretch, not_larger or "
                         f"not_smaller, got {policy!r}")
    # round half up, as the spec's round_int
    return [int(np.floor(s * i + 0.5)) for i in ins], [s] * len(ins)


def _check_coord(coord: str, allowed: tuple[str, ...]) -> None:
    if coord not in allowed:
        raise ValueError(f"Resize: coordinate_transformation_mode must be one of {allowed} at "
                         f"this opset, got {coord!r}")


def _legacy_resize(X: np.ndarray, scales: np.ndarray | list[float], mode: str) -> np.ndarray:
    """Resize-10 / Upsample: asymmetric coordinates, nearest truncates (ceil when
    shrinking), linear clamps at the edges."""
    sc = np.asarray(scales, dtype=np.float64).reshape(-1)
    if sc.size != X.ndim or np.any(sc <= 0):
        raise ValueError(f"scales must be {X.ndim} positive values, got {sc.tolist()}")
    if mode == "bilinear":  # Upsample-1's spelling
        mode = "linear"
    if mode not in ("nearest", "linear"):
        raise ValueError(f"mode must be 'nearest' or 'linear', got {mode!r}")
    axes = {a: _Axis(n, int(np.floor(np.float32(s) * np.float32(n))), float(s))
            for a, (n, s) in enumerate(zip(X.shape, sc, strict=True))
            if s != 1.0}
    return _resize(X, axes, _Options(mode=mode, coord="asymmetric", nearest="simple"))


@kernel("Resize", since=10)
def resize_10(X: np.ndarray, scales: np.ndarray, *, mode: str = "nearest") -> np.ndarray:
    """Resize-10: like Upsample-9 (asymmetric coordinates), out = floor(in * scale)."""
    return _legacy_resize(X, scales, mode)


def _resize_11_plus(X: np.ndarray, roi: np.ndarray | None, scales: np.ndarray | None,
                    sizes: np.ndarray | None, opt: _Options, allowed: tuple[str, ...],
                    axes: list[int] | None = None, policy: str = "stretch") -> np.ndarray:
    _check_coord(opt.coord, allowed)
    return _resize(X, _resize_axes(X, roi, scales, sizes, axes, policy, opt.coord), opt)


@kernel("Resize", since=11)
def resize_11(X: np.ndarray, roi: np.ndarray | None, scales: np.ndarray | None,
              sizes: np.ndarray | None = None, *,
              coordinate_transformation_mode: str = "half_pixel",
              cubic_coeff_a: float = -0.75, exclude_outside: int = 0,
              extrapolation_value: float = 0.0, mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor") -> np.ndarray:
    """Resize-11: roi/scales/sizes inputs, coordinate modes incl. tf_half_pixel_for_nn."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_11)


@kernel("Resize", since=13)
def resize_13(X: np.ndarray, roi: np.ndarray | None = None, scales: np.ndarray | None = None,
              sizes: np.ndarray | None = None, *,
              coordinate_transformation_mode: str = "half_pixel",
              cubic_coeff_a: float = -0.75, exclude_outside: int = 0,
              extrapolation_value: float = 0.0, mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor") -> np.ndarray:
    """Resize-13: roi and scales become optional; tf_half_pixel_for_nn is gone."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_13)


@kernel("Resize", since=18)
def resize_18(X: np.ndarray, roi: np.ndarray | None = None, scales: np.ndarray | None = None,
              sizes: np.ndarray | None = None, *, antialias: int = 0,
              axes: list[int] | None = None,
              coordinate_transformation_mode: str = "half_pixel",
              cubic_coeff_a: float = -0.75, exclude_outside: int = 0,
              extrapolation_value: float = 0.0, keep_aspect_ratio_policy: str = "stretch",
              mode: str = "nearest", nearest_mode: str = "round_prefer_floor") -> np.ndarray:
    """Resize-18: adds antialias, axes and keep_aspect_ratio_policy."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value, antialias)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_13, axes,
                           keep_aspect_ratio_policy)


@kernel("Resize", since=19)
def resize_19(X: np.ndarray, roi: np.ndarray | None = None, scales: np.ndarray | None = None,
              sizes: np.ndarray | None = None, *, antialias: int = 0,
              axes: list[int] | None = None,
              coordinate_transformation_mode: str = "half_pixel",
              cubic_coeff_a: float = -0.75, exclude_outside: int = 0,
              extrapolation_value: float = 0.0, keep_aspect_ratio_policy: str = "stretch",
              mode: str = "nearest", nearest_mode: str = "round_prefer_floor") -> np.ndarray:
    """Resize-19: adds the half_pixel_symmetric coordinate mode."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value, antialias)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_19, axes,
                           keep_aspect_ratio_policy)


@kernel("Upsample", since=1)
def upsample_1(X: np.ndarray, *, height_scale: float | None = None,
               width_scale: float | None = None, mode: str = "nearest") -> np.ndarray:
    """Upsample-1 (experimental): 4-D NCHW input, scales for H and W only."""
    if X.ndim != 4 or height_scale is None or width_scale is None:
        raise ValueError("Upsample-1 needs a 4-D input and both height_scale and width_scale")
    return _legacy_resize(X, [1.0, 1.0, height_scale, width_scale], mode)


@kernel("Upsample", since=7)
def upsample_7(X: np.ndarray, *, mode: str = "nearest",
               scales: list[float] | None = None) -> np.ndarray:
    """Upsample-7: scales as an attribute (one per axis, >= 1)."""
    if scales is None:
        raise ValueError("Upsample-7: the scales attribute is required")
    return _legacy_resize(X, scales, mode)


@kernel("Upsample", since=9)
def upsample_9(X: np.ndarray, scales: np.ndarray, *, mode: str = "nearest") -> np.ndarray:
    """Upsample-9/10: scales as an input."""
    return _legacy_resize(X, scales, mode)


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
        k = _cubic_kernel(-0.75)
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


@kernel("GridSample", since=16)
def grid_sample_16(X: np.ndarray, grid: np.ndarray, *, align_corners: int = 0,
                   mode: str = "bilinear", padding_mode: str = "zeros") -> np.ndarray:
    """GridSample-16: 4-D only, modes bilinear/nearest/bicubic."""
    names = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}
    if X.ndim != 4 or mode not in names:
        raise ValueError(f"GridSample-16 takes 4-D X and mode bilinear/nearest/bicubic, got "
                         f"rank {X.ndim} and {mode!r}")
    return _grid_sample(X, grid, names[mode], padding_mode, align_corners)


@kernel("GridSample", since=20)
def grid_sample_20(X: np.ndarray, grid: np.ndarray, *, align_corners: int = 0,
                   mode: str = "linear", padding_mode: str = "zeros") -> np.ndarray:
    """GridSample-20/22: N-D, modes linear/nearest/cubic."""
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
