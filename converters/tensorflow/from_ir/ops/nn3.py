"""Resampling emitters (Resize, Upsample, GridSample).

Resize is separable: each resized axis gets a (out_len, taps) table of source indices and
weights built with tf ops from the op's coordinate rules, and the tensor is resampled one
axis at a time with one gather. The tables are built from Python numbers when ``scales`` /
``sizes`` are constants (TF folds them, and the output shape stays static) and from tensors
otherwise. Two exact shortcuts skip the gathers: nearest upsampling by an integer factor
whose coordinate rule makes it a repeat, and 4-D bilinear resizing of H and W that
``tf.image.resize`` computes with the same formula."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.nn import to_channels_first, to_channels_last
from tensorbridge.converters.tensorflow.from_ir.registry import emits

F64 = tf.float64


@dataclass(frozen=True)
class _Axis:
    """How one axis is resampled. Sizes and scale are Python numbers or scalar tensors."""

    axis: int
    size_in: Any
    size_out: Any
    scale: Any
    roi: tuple[Any, Any] = (0.0, 1.0)


@dataclass(frozen=True)
class _Options:
    mode: str = "nearest"
    coord: str = "half_pixel"
    nearest: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: int = 0
    extrapolation_value: float = 0.0
    antialias: int = 0


def _f(v: Any) -> Any:
    return tf.cast(v, F64)


def _source_coords(ax: _Axis, mode: str) -> Any:
    """x_original (float64) for every output index, per coordinate_transformation_mode."""
    x = _f(tf.range(ax.size_out))
    n_in, n_out, s = _f(ax.size_in), _f(ax.size_out), _f(ax.scale)
    wide = n_out > 1
    if mode == "half_pixel":
        return (x + 0.5) / s - 0.5
    if mode == "half_pixel_symmetric":
        # centre the sampled span when the output length was rounded down from in * scale
        return n_in / 2 * (1 - n_out / (n_in * s)) + (x + 0.5) / s - 0.5
    if mode == "pytorch_half_pixel":
        return tf.where(wide, (x + 0.5) / s - 0.5, tf.zeros_like(x))
    if mode == "align_corners":
        return tf.where(wide, x * (n_in - 1) / tf.maximum(n_out - 1, 1), tf.zeros_like(x))
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / s
    if mode == "tf_crop_and_resize":
        lo, hi = _f(ax.roi[0]), _f(ax.roi[1])
        spread = lo * (n_in - 1) + x * (hi - lo) * (n_in - 1) / tf.maximum(n_out - 1, 1)
        return tf.where(wide, spread, 0.5 * (lo + hi) * (n_in - 1) + tf.zeros_like(x))
    raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")


def _nearest_index(x: Any, ax: _Axis, mode: str) -> Any:
    if mode == "round_prefer_floor":
        idx = tf.math.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        idx = tf.math.floor(x + 0.5)
    elif mode == "floor":
        idx = tf.math.floor(x)
    elif mode == "ceil":
        idx = tf.math.ceil(x)
    elif mode == "simple":  # Resize-10 / Upsample: truncate enlarging, ceil shrinking
        idx = tf.where(_f(ax.scale) < 1, tf.math.ceil(x), tf.math.floor(x))
    else:
        raise ValueError(f"Resize: unknown nearest_mode {mode!r}")
    return tf.cast(tf.clip_by_value(idx, 0.0, _f(ax.size_in) - 1), tf.int64)


def _cubic_kernel(a: float) -> Callable[[Any], Any]:
    """Keys' cubic convolution kernel with coefficient a."""
    def k(d: Any) -> Any:
        d = tf.abs(d)
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return tf.where(d <= 1, near, tf.where(d < 2, far, tf.zeros_like(d)))
    return k


def _linear_kernel(d: Any) -> Any:
    return tf.maximum(1 - tf.abs(d), 0.0)


def _filter_taps(x: Any, ax: _Axis, opt: _Options) -> tuple[Any, Any]:
    """(indices [out, taps], weights [out, taps]) of the separable filter. Antialiased
    downsampling widens the filter by 1/scale; off-image taps read the edge value, or are
    dropped and the rest renormalised with exclude_outside."""
    kern = _linear_kernel if opt.mode == "linear" else _cubic_kernel(opt.cubic_a)
    support = 1.0 if opt.mode == "linear" else 2.0
    stretch: Any = 1.0
    if opt.antialias:
        s = ax.scale
        stretch = (1.0 / s if s < 1 else 1.0) if isinstance(s, (int, float)) else \
            tf.where(_f(s) < 1, 1.0 / _f(s), tf.constant(1.0, F64))
    reach = support * stretch
    n_taps = tf.cast(tf.math.ceil(_f(2 * reach)), tf.int32) + 1 \
        if not isinstance(reach, float) else int(-(-2 * reach // 1)) + 1
    taps = (tf.math.floor(x - reach) + 1)[:, None] + _f(tf.range(n_taps))[None, :]
    w = kern((taps - x[:, None]) / stretch)
    n_in = _f(ax.size_in)
    if opt.exclude_outside:
        w = w * _f((taps >= 0) & (taps <= n_in - 1))
    w = w / tf.reduce_sum(w, axis=1, keepdims=True)
    return tf.cast(tf.clip_by_value(taps, 0.0, n_in - 1), tf.int64), w


def _resample_axis(x: Any, axis: int, idx: Any, w: Any) -> Any:
    """out[..., i, ...] = sum_t w[i, t] * x[..., idx[i, t], ...] along ``axis``."""
    g = tf.gather(x, idx, axis=axis)  # [..., out, taps, ...]
    w = tf.reshape(tf.cast(w, x.dtype), tf.concat([tf.shape(w), [1] * (x.shape.rank - axis - 1)],
                                                  0))
    return tf.reduce_sum(g * w, axis=axis + 1)


def _repeat_factor(ax: _Axis, opt: _Options) -> int | None:
    """The integer factor when nearest resampling of ``ax`` is exactly a repeat."""
    s, n_in, n_out = ax.scale, ax.size_in, ax.size_out
    if not all(isinstance(v, (int, float)) for v in (s, n_in, n_out)) or s < 1 or s != int(s):
        return None
    if n_out != n_in * s:
        return None
    if opt.coord in ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel"):
        return int(s)  # (x + 0.5) / s - 0.5 lies strictly within half a cell of x // s
    if opt.coord == "asymmetric" and (opt.nearest in ("floor", "simple") or s == 1):
        return int(s)
    return None


def _extrapolated(x: Any, ax: _Axis, rank: int) -> Any:
    """Broadcastable mask of outputs whose source point lies outside the input."""
    out = (x < 0) | (x > _f(ax.size_in) - 1)
    return tf.reshape(out, [-1 if i == ax.axis else 1 for i in range(rank)])


def _bilinear_fast(X: Any, axes: dict[int, _Axis], opt: _Options) -> Any | None:
    """tf.image.resize's bilinear when it computes exactly the op's formula: 4-D input,
    only H and W resized, half_pixel/align_corners/asymmetric coordinates with scale ==
    out / in (TF derives the scale from the sizes), no antialias or exclude_outside."""
    if (opt.mode != "linear" or opt.antialias or X.shape.rank != 4 or set(axes) != {2, 3}
            or opt.coord not in ("half_pixel", "align_corners", "asymmetric")
            or X.dtype not in (tf.float32, tf.float16, tf.bfloat16, tf.float64)):
        return None
    for ax in axes.values():
        if not all(isinstance(v, (int, float)) for v in (ax.scale, ax.size_in, ax.size_out)):
            return None
        if opt.coord != "align_corners" and ax.size_out != ax.size_in * ax.scale:
            return None
    size = [axes[2].size_out, axes[3].size_out]
    x = to_channels_last(X, 4)
    y = tf.compat.v1.image.resize_bilinear(x, size, align_corners=opt.coord == "align_corners",
                                           half_pixel_centers=opt.coord == "half_pixel")
    return to_channels_first(tf.cast(y, X.dtype), 4)


_IDENTITY_AT_SCALE_1 = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                        "align_corners", "asymmetric")


def _resize(X: Any, axes: dict[int, _Axis], opt: _Options) -> Any:
    """Resample the axes in ``axes`` (the others are copied through)."""
    if opt.coord in _IDENTITY_AT_SCALE_1:
        # x_original == x_resized on these axes: resampling them would be a costly copy
        axes = {a: ax for a, ax in axes.items()
                if not (isinstance(ax.scale, (int, float)) and ax.scale == 1
                        and isinstance(ax.size_in, int) and ax.size_in == ax.size_out)}
    fast = _bilinear_fast(X, axes, opt)
    if fast is not None:
        return fast
    y = X if opt.mode == "nearest" or X.dtype == F64 else tf.cast(X, tf.float32)
    mask = None
    for a, ax in axes.items():
        if opt.mode == "nearest" and _repeat_factor(ax, opt) is not None:
            y = tf.repeat(y, _repeat_factor(ax, opt), axis=a) if ax.scale != 1 else y
            continue
        coords = _source_coords(ax, opt.coord)
        if opt.mode == "nearest":
            y = tf.gather(y, _nearest_index(coords, ax, opt.nearest), axis=a)
        elif opt.mode in ("linear", "cubic"):
            y = _resample_axis(y, a, *_filter_taps(coords, ax, opt))
        else:
            raise ValueError(f"Resize: mode must be nearest, linear or cubic, got {opt.mode!r}")
        if opt.coord == "tf_crop_and_resize":
            m = _extrapolated(coords, ax, X.shape.rank)
            mask = m if mask is None else mask | m
    if X.dtype.is_integer and opt.mode != "nearest":
        y = tf.clip_by_value(tf.round(y), X.dtype.min, X.dtype.max)
    y = tf.cast(y, X.dtype)
    if mask is not None:
        y = tf.where(mask, tf.cast(opt.extrapolation_value, X.dtype), y)
    return y


# --------------------------------------------------------------------- sizes and scales


def _values(v: Any) -> Any:
    """A constant's values as a Python list, else the tensor itself."""
    static = tf.get_static_value(v)
    return [x.item() for x in static.reshape(-1)] if static is not None else v


def _given(v: Any) -> bool:
    """An optional input that is present and not an empty placeholder tensor."""
    return v is not None and v.shape.num_elements() != 0


def _dim(X: Any, a: int) -> Any:
    d = X.shape[a]
    return int(d) if d is not None else tf.shape(X, out_type=tf.int64)[a]


def _scaled_size(n: Any, s: Any) -> Any:
    """floor(in * scale) in float32, as onnxruntime computes it (0.7f * 10 gives 7)."""
    if isinstance(n, int) and isinstance(s, (int, float)):
        return int(np.floor(np.float32(s) * np.float32(n)))
    return tf.cast(tf.math.floor(tf.cast(s, tf.float32) * tf.cast(n, tf.float32)), tf.int64)


def _entry(v: Any, i: int) -> Any:
    return v[i] if isinstance(v, list) else tf.reshape(v, [-1])[i]


def _resize_axes(X: Any, roi: Any, scales: Any, sizes: Any, axes: Sequence[int] | None,
                 policy: str, coord: str) -> dict[int, _Axis]:
    """Resize's roi/scales/sizes/axes inputs -> per-axis plans."""
    r = X.shape.rank
    ax_list = [a % r for a in axes] if axes else list(range(r))
    n = len(ax_list)
    ins = [_dim(X, a) for a in ax_list]
    rois: list[tuple[Any, Any]] = [(0.0, 1.0)] * n
    if coord == "tf_crop_and_resize" and _given(roi):
        rv = _values(roi)
        rois = [(_entry(rv, i), _entry(rv, i + n)) for i in range(n)]
    if _given(sizes):
        sz = _values(sizes)
        outs, scl = _apply_policy(ins, [_entry(sz, i) for i in range(n)], policy)
    else:
        sc = _values(scales)
        scl = [_entry(sc, i) for i in range(n)]
        outs = [_scaled_size(i, s) for i, s in zip(ins, scl)]
    return {a: _Axis(a, i, o, s, rv) for a, i, o, s, rv in zip(ax_list, ins, outs, scl, rois)}


def _apply_policy(ins: list[Any], sizes: list[Any], policy: str) -> tuple[list[Any], list[Any]]:
    """Output sizes and scales for a ``sizes`` input under keep_aspect_ratio_policy."""
    static = all(isinstance(v, int) for v in (*ins, *sizes))
    ratios = [o / i if static else _f(o) / _f(i) for o, i in zip(sizes, ins)]
    if policy == "stretch":
        return sizes, ratios
    if policy not in ("not_larger", "not_smaller"):
        raise ValueError(f"Resize: unknown keep_aspect_ratio_policy {policy!r}")
    pick = (min if policy == "not_larger" else max) if static else \
        (tf.reduce_min if policy == "not_larger" else tf.reduce_max)
    s = pick(ratios)
    if static:  # round half up, as the spec's round_int
        return [int(s * i + 0.5) for i in ins], [s] * len(ins)
    return [tf.cast(tf.math.floor(s * _f(i) + 0.5), tf.int64) for i in ins], [s] * len(ins)


_COORD_MODES_11 = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                   "tf_half_pixel_for_nn", "tf_crop_and_resize")
_COORD_MODES_13 = tuple(m for m in _COORD_MODES_11 if m != "tf_half_pixel_for_nn")
_COORD_MODES_19 = (*_COORD_MODES_13, "half_pixel_symmetric")


def _legacy_resize(X: Any, scales: Any, mode: str) -> Any:
    """Resize-10 / Upsample: asymmetric coordinates, nearest truncates (ceil when
    shrinking), linear clamps at the edges; axes with a constant scale of 1 are skipped."""
    sc = _values(scales) if not isinstance(scales, (list, tuple)) else list(scales)
    mode = "linear" if mode == "bilinear" else mode  # Upsample-1's spelling
    if mode not in ("nearest", "linear"):
        raise ValueError(f"mode must be 'nearest' or 'linear', got {mode!r}")
    axes = {}
    for a in range(X.shape.rank):
        s = _entry(sc, a)
        if isinstance(s, (int, float)) and s == 1:
            continue
        n = _dim(X, a)
        axes[a] = _Axis(a, n, _scaled_size(n, s), s)
    return _resize(X, axes, _Options(mode=mode, coord="asymmetric", nearest="simple"))


def _resize_11_plus(X: Any, roi: Any, scales: Any, sizes: Any, opt: _Options,
                    allowed: tuple[str, ...], axes: Sequence[int] | None = None,
                    policy: str = "stretch") -> Any:
    if opt.coord not in allowed:
        raise ValueError(f"Resize: coordinate_transformation_mode must be one of {allowed} at "
                         f"this opset, got {opt.coord!r}")
    return _resize(X, _resize_axes(X, roi, scales, sizes, axes, policy, opt.coord), opt)


@emits("Resize", since=10)
def resize_10(X: Any, scales: Any, *, mode: str = "nearest") -> Any:
    """Resize-10: like Upsample-9 (asymmetric coordinates), out = floor(in * scale)."""
    return _legacy_resize(X, scales, mode)


@emits("Resize", since=11)
def resize_11(X: Any, roi: Any, scales: Any, sizes: Any = None, *,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0,
              mode: str = "nearest", nearest_mode: str = "round_prefer_floor") -> Any:
    """Resize-11: roi/scales/sizes inputs, coordinate modes incl. tf_half_pixel_for_nn."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_11)


@emits("Resize", since=13)
def resize_13(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0,
              mode: str = "nearest", nearest_mode: str = "round_prefer_floor") -> Any:
    """Resize-13: roi and scales become optional; tf_half_pixel_for_nn is gone."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_13)


@emits("Resize", since=18)
def resize_18(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
              antialias: int = 0, axes: tuple[int, ...] | None = None,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0,
              keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor") -> Any:
    """Resize-18: adds antialias, axes and keep_aspect_ratio_policy."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value, antialias)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_13, axes,
                           keep_aspect_ratio_policy)


@emits("Resize", since=19)
def resize_19(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
              antialias: int = 0, axes: tuple[int, ...] | None = None,
              coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
              exclude_outside: int = 0, extrapolation_value: float = 0.0,
              keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
              nearest_mode: str = "round_prefer_floor") -> Any:
    """Resize-19: adds the half_pixel_symmetric coordinate mode."""
    opt = _Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                   exclude_outside, extrapolation_value, antialias)
    return _resize_11_plus(X, roi, scales, sizes, opt, _COORD_MODES_19, axes,
                           keep_aspect_ratio_policy)


@emits("Upsample", since=1)
def upsample_1(X: Any, *, height_scale: float | None = None, width_scale: float | None = None,
               mode: str = "nearest") -> Any:
    """Upsample-1 (experimental): 4-D NCHW input, scales for H and W only."""
    if X.shape.rank != 4 or height_scale is None or width_scale is None:
        raise ValueError("Upsample-1 needs a 4-D input and both height_scale and width_scale")
    return _legacy_resize(X, [1.0, 1.0, height_scale, width_scale], mode)


@emits("Upsample", since=7)
def upsample_7(X: Any, *, mode: str = "nearest", scales: tuple[float, ...] | None = None) -> Any:
    """Upsample-7: scales as an attribute (one per axis, >= 1)."""
    if scales is None:
        raise ValueError("Upsample-7: the scales attribute is required")
    return _legacy_resize(X, list(scales), mode)


@emits("Upsample", since=9)
def upsample_9(X: Any, scales: Any, *, mode: str = "nearest") -> Any:
    """Upsample-9/10: scales as an input."""
    return _legacy_resize(X, scales, mode)


# -------------------------------------------------------------------------- grid sample


def _unnormalize(g: Any, size: int, align_corners: int) -> Any:
    """Grid value in [-1, 1] -> pixel coordinate along an axis of ``size`` cells."""
    if align_corners:
        return (g + 1) / 2 * (size - 1)
    return ((g + 1) * size - 1) / 2


def _reflect(x: Any, size: int, align_corners: int) -> Any:
    """Fold coordinates back into the image by mirroring at its borders (the pixel centres
    with align_corners, the pixel edges without), then clamp."""
    lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
    span = hi - lo
    if span <= 0:
        return tf.zeros_like(x)
    d = tf.abs(x - lo)
    flips = tf.math.floor(d / span)
    extra = d - flips * span
    out = tf.where(tf.math.floormod(flips, 2) == 0, lo + extra, hi - extra)
    return tf.clip_by_value(out, 0.0, size - 1.0)


def _grid_taps(x: Any, size: int, mode: str, padding: str,
               align_corners: int) -> list[tuple[Any, Any]]:
    """(index, weight) pairs along one axis; the weight is 0 for a tap reading padding."""
    if mode != "cubic" and padding == "border":
        x = tf.clip_by_value(x, 0.0, size - 1.0)
    elif mode != "cubic" and padding == "reflection":
        x = _reflect(x, size, align_corners)
    if mode == "nearest":
        offsets, base = [0], tf.round(x)  # halfway points go to the even index
        weights = [tf.ones_like(x)]
    elif mode == "linear":
        base = tf.math.floor(x)
        offsets, weights = [0, 1], [1 - (x - base), x - base]
    else:
        base = tf.math.floor(x)
        k = _cubic_kernel(-0.75)
        offsets = [-1, 0, 1, 2]
        weights = [k(x - (base + o)) for o in offsets]
    taps = []
    for o, w in zip(offsets, weights):
        idx = base + o
        if mode == "cubic" and padding == "border":
            idx = tf.clip_by_value(idx, 0.0, size - 1.0)
        elif mode == "cubic" and padding == "reflection":
            idx = tf.round(_reflect(idx, size, align_corners))
        inside = tf.cast((idx >= 0) & (idx <= size - 1), w.dtype)
        taps.append((tf.cast(tf.clip_by_value(idx, 0.0, size - 1.0), tf.int64), w * inside))
    return taps


def _grid_sample(X: Any, grid: Any, mode: str, padding: str, align_corners: int) -> Any:
    """One gather per interpolation corner from a channels-last, flattened copy of X."""
    nsp = X.shape.rank - 2
    in_shape = [int(s) for s in X.shape[2:]]
    if padding not in ("zeros", "border", "reflection"):
        raise ValueError(f"GridSample: unknown padding_mode {padding!r}")
    ct = F64 if X.dtype == F64 else tf.float32
    c = tf.shape(X)[1]
    table = tf.reshape(to_channels_last(tf.cast(X, ct), nsp + 2), tf.stack([-1, c]))
    g = tf.cast(grid, F64)
    per_axis = [_grid_taps(_unnormalize(g[..., nsp - 1 - a], in_shape[a], align_corners),
                           in_shape[a], mode, padding, align_corners) for a in range(nsp)]
    steps = [1] * nsp
    for a in range(nsp - 2, -1, -1):
        steps[a] = steps[a + 1] * in_shape[a + 1]
    n = tf.shape(grid, out_type=tf.int64)[0]
    batch = tf.reshape(tf.range(n) * (steps[0] * in_shape[0]), [-1, *([1] * nsp)])
    terms = []
    for combo in itertools.product(*per_axis):
        lin, w = batch, None
        for a, (idx, wt) in enumerate(combo):
            lin = lin + idx * steps[a]
            w = wt if w is None else w * wt
        terms.append(tf.gather(table, lin) * tf.cast(w, ct)[..., None])
    out = tf.add_n(terms)  # [N, *out, C]
    return tf.cast(to_channels_first(out, nsp + 2), X.dtype)


@emits("GridSample", since=16)
def grid_sample_16(X: Any, grid: Any, *, align_corners: int = 0, mode: str = "bilinear",
                   padding_mode: str = "zeros") -> Any:
    """GridSample-16: 4-D only, modes bilinear/nearest/bicubic."""
    names = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}
    if X.shape.rank != 4 or mode not in names:
        raise ValueError(f"GridSample-16 takes 4-D X and mode bilinear/nearest/bicubic, got "
                         f"rank {X.shape.rank} and {mode!r}")
    return _grid_sample(X, grid, names[mode], padding_mode, align_corners)


@emits("GridSample", since=20)
def grid_sample_20(X: Any, grid: Any, *, align_corners: int = 0, mode: str = "linear",
                   padding_mode: str = "zeros") -> Any:
    """GridSample-20/22: N-D, modes linear/nearest/cubic."""
    if mode not in ("linear", "nearest", "cubic"):
        raise ValueError(f"GridSample: mode must be linear, nearest or cubic, got {mode!r}")
    return _grid_sample(X, grid, mode, padding_mode, align_corners)
