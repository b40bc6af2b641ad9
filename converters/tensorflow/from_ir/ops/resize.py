"""Resampling emitters: Resize (Upsample is rewritten to Resize-10 by ir/op_versions.py),
GridSample, AffineGrid and CenterCropPad.

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
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.layout import (
    to_channels_first,
    to_channels_last,
)
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.resize_math import (
    Axis,
    Options,
    axis_tables,
    cubic_kernel,
    extrapolation_mask,
    legacy_plan,
    resize_plan,
    skip_identity_axes,
)

F64 = tf.float64


def _f(v: Any) -> Any:
    return tf.cast(v, F64)


def _number(v: Any) -> bool:
    return isinstance(v, (bool, int, float, np.bool_))


class _TfOps:
    """:class:`ResizeOps` in TF. Sizes and scales are Python numbers when ``scales`` /
    ``sizes`` are constants (the tables fold and the output shape stays static) and
    scalar tensors otherwise, where a Python branch becomes ``tf.where``."""

    def arange(self, n: Any) -> Any:
        return _f(tf.range(n))

    def scalar(self, v: Any) -> Any:
        return v if _number(v) else _f(v)

    def select(self, cond: Any, a: Callable[[], Any], b: Callable[[], Any]) -> Any:
        if _number(cond):
            return a() if cond else b()
        return tf.where(cond, _f(a()), _f(b()))

    floor = staticmethod(tf.math.floor)
    ceil = staticmethod(tf.math.ceil)
    abs = staticmethod(tf.abs)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return tf.where(cond, a, tf.cast(b, a.dtype) if _number(b) else b)

    def clip(self, x: Any, lo: Any, hi: Any) -> Any:
        return tf.maximum(x, lo) if hi is None else tf.clip_by_value(x, _f(lo), _f(hi))

    def to_index(self, x: Any) -> Any:
        return tf.cast(x, tf.int64)

    def to_float(self, mask: Any) -> Any:
        return _f(mask)

    def ceil_count(self, v: Any) -> Any:
        return int(-(-v // 1)) if _number(v) else tf.cast(tf.math.ceil(v), tf.int32)

    def row_sum(self, w: Any) -> Any:
        return tf.reduce_sum(w, axis=1, keepdims=True)

    def reshape(self, x: Any, shape: list[int]) -> Any:
        return tf.reshape(x, shape)

    def scaled_size(self, n: Any, s: Any) -> Any:
        return tf.cast(tf.math.floor(tf.cast(s, tf.float32) * tf.cast(n, tf.float32)), tf.int64)

    def ratio(self, out: Any, n: Any) -> Any:
        return _f(out) / _f(n)

    def extreme(self, values: list[Any], largest: bool) -> Any:
        return (tf.reduce_max if largest else tf.reduce_min)(values)

    def round_size(self, v: Any) -> Any:
        return tf.cast(tf.math.floor(v + 0.5), tf.int64)


OPS = _TfOps()


def _resample_axis(x: Any, axis: int, idx: Any, w: Any) -> Any:
    """out[..., i, ...] = sum_t w[i, t] * x[..., idx[i, t], ...] along ``axis``."""
    g = tf.gather(x, idx, axis=axis)  # [..., out, taps, ...]
    w = tf.reshape(tf.cast(w, x.dtype), tf.concat([tf.shape(w), [1] * (x.shape.rank - axis - 1)],
                                                  0))
    return tf.reduce_sum(g * w, axis=axis + 1)


def _repeat_factor(ax: Axis, opt: Options) -> int | None:
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


def _bilinear_fast(X: Any, axes: dict[int, Axis], opt: Options) -> Any | None:
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


def _resize(X: Any, axes: dict[int, Axis], opt: Options) -> Any:
    """Resample the axes in ``axes`` (the others are copied through)."""
    axes = skip_identity_axes(axes, opt.coord)
    fast = _bilinear_fast(X, axes, opt)
    if fast is not None:
        return fast
    y = X if opt.mode == "nearest" or X.dtype == F64 else tf.cast(X, tf.float32)
    repeats = {a: _repeat_factor(ax, opt) for a, ax in axes.items()} if opt.mode == "nearest" \
        else {}
    for a, factor in repeats.items():
        if factor is not None and factor != 1:
            y = tf.repeat(y, factor, axis=a)
    coords, tables = axis_tables({a: ax for a, ax in axes.items() if repeats.get(a) is None},
                                 opt, OPS)
    for a, (idx, w) in tables.items():
        y = tf.gather(y, idx, axis=a) if w is None else _resample_axis(y, a, idx, w)
    if X.dtype.is_integer and opt.mode != "nearest":
        y = tf.clip_by_value(tf.round(y), X.dtype.min, X.dtype.max)
    y = tf.cast(y, X.dtype)
    mask = extrapolation_mask(coords, axes, X.shape.rank, opt, OPS)
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


def _entries(v: Any, n: int) -> list[Any]:
    """An optional 1-D input as a list: Python numbers when constant, else ``n`` scalar
    tensors (the op fixes how many a computed input holds)."""
    if not _given(v):
        return []
    vals = _values(v)
    if isinstance(vals, list):
        return vals
    return [tf.reshape(vals, [-1])[i] for i in range(n)]


@emits("Resize", since=10)
def resize_10(X: Any, scales: Any, *, mode: str = "nearest") -> Any:
    """Resize-10: asymmetric coordinates, out = floor(in * scale); nearest truncates (ceil
    when shrinking), linear clamps at the edges; axes with a constant scale of 1 are
    skipped. Upsample-1/7/9 are rewritten to this by ir/op_versions.py."""
    r = X.shape.rank
    sc = list(scales) if isinstance(scales, (list, tuple)) else _entries(scales, r)
    return _resize(X, *legacy_plan([_dim(X, a) for a in range(r)], sc, mode, OPS))


@emits("Resize", since=11)
def resize(X: Any, roi: Any = None, scales: Any = None, sizes: Any = None, *,
           antialias: int = 0, axes: tuple[int, ...] | None = None,
           coordinate_transformation_mode: str = "half_pixel", cubic_coeff_a: float = -0.75,
           exclude_outside: int = 0, extrapolation_value: float = 0.0,
           keep_aspect_ratio_policy: str = "stretch", mode: str = "nearest",
           nearest_mode: str = "round_prefer_floor", ctx: EmitContext) -> Any:
    """Resize-11/13/18/19: roi?/scales?/sizes? inputs (roi and scales optional from 13);
    antialias, axes and keep_aspect_ratio_policy (18) default to the earlier meaning; the
    coordinate modes allowed are the node's version's (tf_half_pixel_for_nn only in 11,
    half_pixel_symmetric from 19)."""
    opt = Options(mode, coordinate_transformation_mode, nearest_mode, cubic_coeff_a,
                  exclude_outside, extrapolation_value, antialias)
    r = X.shape.rank
    n = len(axes) if axes else r
    plans = resize_plan([_dim(X, a) for a in range(r)], _entries(roi, 2 * n),
                        [] if _given(sizes) else _entries(scales, n), _entries(sizes, n), axes,
                        keep_aspect_ratio_policy, opt, ctx.opset, OPS)
    return _resize(X, plans, opt)


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
        k = cubic_kernel(-0.75, OPS)
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


@emits("GridSample", since=20)
def grid_sample(X: Any, grid: Any, *, align_corners: int = 0, mode: str = "linear",
                padding_mode: str = "zeros") -> Any:
    """GridSample-20/22: N-D, modes linear/nearest/cubic (GridSample-16's 4-D bilinear/
    nearest/bicubic are renamed to these by ir/op_versions.py)."""
    if mode not in ("linear", "nearest", "cubic"):
        raise ValueError(f"GridSample: mode must be linear, nearest or cubic, got {mode!r}")
    return _grid_sample(X, grid, mode, padding_mode, align_corners)


@emits("CenterCropPad", since=18)
def center_crop_pad(input_data: Any, shape: Any, *, axes: Sequence[int] | None = None) -> Any:
    """CenterCropPad-18/21: crop or zero-pad each axis in ``axes`` to ``shape``, centred
    (an odd difference puts the extra cell at the end)."""
    rank = input_data.shape.rank
    ax = [a % rank for a in axes] if axes else list(range(rank))
    target = tf.reshape(tf.cast(shape, tf.int32), [-1])
    x = input_data
    for i, a in enumerate(ax):
        size = tf.shape(x)[a]
        diff = target[i] - size
        begin = tf.truncatediv(diff, 2)  # grow: pad diff // 2 in front; shrink: drop (-diff) // 2
        end = diff - begin
        start = [0] * rank
        start[a] = tf.maximum(-begin, 0)
        length = tf.tensor_scatter_nd_update(tf.shape(x), [[a]],
                                             [size - tf.maximum(-begin, 0) - tf.maximum(-end, 0)])
        x = tf.slice(x, tf.stack(start), length)
        pads = tf.tensor_scatter_nd_update(tf.zeros([rank, 2], tf.int32), [[a]],
                                           [tf.stack([tf.maximum(begin, 0), tf.maximum(end, 0)])])
        x = tf.pad(x, pads)
    return x


@emits("AffineGrid", since=20)
def affine_grid(theta: Any, size: Any, *, align_corners: int = 0) -> Any:
    """AffineGrid-20: theta (N, r, r+1) applied to the normalised pixel-centre grid of
    ``size``; coordinates are listed innermost axis first, as GridSample reads them."""
    nsp = theta.shape[1]
    dims = tf.reshape(tf.cast(size, tf.int32), [-1])
    t = theta if theta.dtype == tf.float64 else tf.cast(theta, tf.float32)
    axes = []
    for a in range(nsp):
        length = dims[2 + a]
        i = tf.range(length, dtype=t.dtype)
        n = tf.cast(length, t.dtype)
        if align_corners:
            pos = tf.where(length > 1, -1.0 + 2.0 * tf.math.divide_no_nan(i, n - 1.0), tf.zeros_like(i))
        else:
            pos = (2.0 * i + 1.0) / n - 1.0
        axes.append(pos)
    mesh = tf.meshgrid(*axes, indexing="ij")  # outermost axis first
    base = tf.stack([*mesh[::-1], tf.ones_like(mesh[0])], axis=-1)  # (*sp, r+1)
    grid = tf.einsum("...k,njk->n...j", base, t)
    return tf.cast(grid, theta.dtype)
