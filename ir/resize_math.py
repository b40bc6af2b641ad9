"""The ONNX Resize (and Upsample) rules written once: output sizes from scales or sizes,
the coordinate transforms, nearest rounding, the linear / cubic / antialias filter taps and
the extrapolation mask. The runtime kernel and both emitters run this code with their own
array operations (an object following :class:`ResizeOps`); only the gathers that apply the
tables, and the framework shortcuts, stay in each layer.

Sizes, scales and RoI bounds are Python numbers, or scalar tensors when a framework only
knows them at run time (TensorFlow with a computed ``scales`` input); every formula is
written so that both work, and a condition that is a Python bool is decided in Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

COORD_MODES_11 = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                  "tf_half_pixel_for_nn", "tf_crop_and_resize")
COORD_MODES_13 = tuple(m for m in COORD_MODES_11 if m != "tf_half_pixel_for_nn")
COORD_MODES_19 = (*COORD_MODES_13, "half_pixel_symmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
# coordinate modes where an axis of scale 1 and equal lengths maps x_resized to itself
IDENTITY_AT_SCALE_1 = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                       "align_corners", "asymmetric")


class ResizeOps(Protocol):
    """The array operations the Resize maths calls (numpy, torch or TF spellings)."""

    def arange(self, n: Any) -> Any:
        """0, 1, ..., n - 1 as float64."""
    def scalar(self, v: Any) -> Any:
        """A size, scale or RoI bound ready for float64 arithmetic (numbers stay numbers)."""
    def select(self, cond: Any, a: Callable[[], Any], b: Callable[[], Any]) -> Any:
        """a() where cond holds, else b(); a Python bool is decided without computing both."""
    def floor(self, x: Any) -> Any: ...
    def ceil(self, x: Any) -> Any: ...
    def abs(self, x: Any) -> Any: ...
    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Elementwise choice; ``b`` may be a Python number."""
    def clip(self, x: Any, lo: Any, hi: Any) -> Any: ...
    def to_index(self, x: Any) -> Any:
        """Float values (already integral) as int64 indices."""
    def to_float(self, mask: Any) -> Any:
        """A bool mask as float64 0 / 1."""
    def ceil_count(self, v: Any) -> Any:
        """ceil(v) as an integer count (a scalar tensor when v is one)."""
    def row_sum(self, w: Any) -> Any:
        """Sum over axis 1, keeping it."""
    def reshape(self, x: Any, shape: list[int]) -> Any: ...
    def scaled_size(self, n: Any, s: Any) -> Any:
        """floor(n * s) for a size or scale that is not a Python number."""
    def ratio(self, out: Any, n: Any) -> Any:
        """out / n for sizes that are not all Python ints."""
    def extreme(self, values: list[Any], largest: bool) -> Any:
        """max or min of scalar tensors."""
    def round_size(self, v: Any) -> Any:
        """floor(v + 0.5) as a size, for a v that is not a Python number."""


def _static(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) for v in values)


@dataclass(frozen=True)
class Axis:
    """How one axis is resampled: lengths, the scale the coordinate formulas divide by,
    and the normalised RoI (used by tf_crop_and_resize only)."""

    size_in: Any
    size_out: Any
    scale: Any
    roi: tuple[Any, Any] = (0.0, 1.0)


@dataclass(frozen=True)
class Options:
    """Resize's attributes, with the spec's defaults."""

    mode: str = "nearest"
    coord: str = "half_pixel"
    nearest: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: int = 0
    extrapolation_value: float = 0.0
    antialias: int = 0


# ------------------------------------------------------------------- sizes and scales


def coord_modes(opset: int) -> tuple[str, ...]:
    """The coordinate_transformation_mode values of the Resize version an opset imports:
    tf_half_pixel_for_nn only in 11, half_pixel_symmetric from 19."""
    if opset >= 19:
        return COORD_MODES_19
    return COORD_MODES_13 if opset >= 13 else COORD_MODES_11


def check_coord(coord: str, allowed: tuple[str, ...]) -> None:
    if coord not in allowed:
        raise ValueError(f"Resize: coordinate_transformation_mode must be one of {allowed} at "
                         f"this opset, got {coord!r}")


def output_size(n_in: Any, scale: Any, xp: ResizeOps) -> Any:
    """output_dimension = floor(input_dimension * scale), in float32 as onnxruntime
    computes it (0.7f * 10 must give 7). The spec's extra (roi_end - roi_start) factor is
    ignored by onnxruntime and by the ONNX reference alike, so it is ignored here too."""
    if isinstance(n_in, int) and _static(scale):
        return int(np.floor(np.float32(scale) * np.float32(n_in)))
    return xp.scaled_size(n_in, scale)


def policy_sizes(ins: Sequence[Any], sizes: Sequence[Any], policy: str,
                 xp: ResizeOps) -> tuple[list[Any], list[Any]]:
    """(output sizes, scales) for a ``sizes`` input under keep_aspect_ratio_policy:
    stretch keeps the sizes; not_larger / not_smaller take s = min / max(sizes / ins) on
    every axis and out = round_int(s * in), rounding half up."""
    static = all(isinstance(v, int) for v in (*ins, *sizes))
    ratios = [o / i if static else xp.ratio(o, i) for o, i in zip(sizes, ins, strict=True)]
    if policy == "stretch":
        return list(sizes), ratios
    if policy not in ("not_larger", "not_smaller"):
        raise ValueError(f"Resize: keep_aspect_ratio_policy must be stretch, not_larger or "
                         f"not_smaller, got {policy!r}")
    largest = policy == "not_smaller"
    if static:
        s = max(ratios) if largest else min(ratios)
        return [int(np.floor(s * i + 0.5)) for i in ins], [s] * len(ins)
    s = xp.extreme(ratios, largest)
    return [xp.round_size(s * xp.scalar(i)) for i in ins], [s] * len(ins)


def plan_axes(shape: Sequence[Any], roi: Sequence[Any] | None, scales: Sequence[Any] | None,
              sizes: Sequence[Any] | None, axes: Sequence[int] | None, policy: str, coord: str,
              xp: ResizeOps) -> dict[int, Axis]:
    """Resize-11+'s roi / scales / sizes / axes inputs -> {axis: Axis}. ``shape`` is the
    input's shape; the inputs are read into sequences (empty or None when absent)."""
    r = len(shape)
    ax_list = [a % r for a in axes] if axes else list(range(r))
    n = len(ax_list)
    if bool(scales) == bool(sizes):
        raise ValueError("Resize: exactly one of 'scales' and 'sizes' must be given")
    rois: list[tuple[Any, Any]] = [(0.0, 1.0)] * n
    if coord == "tf_crop_and_resize" and roi:
        if len(roi) != 2 * n:
            raise ValueError(f"Resize: roi must have {2 * n} values (starts then ends), "
                             f"got {len(roi)}")
        rois = [(roi[i], roi[i + n]) for i in range(n)]
    ins = [shape[a] for a in ax_list]
    if scales:
        if len(scales) != n or any(_static(s) and s <= 0 for s in scales):
            raise ValueError(f"Resize: scales must be {n} positive values, got {list(scales)}")
        outs, scale_list = [output_size(i, s, xp) for i, s in zip(ins, scales, strict=True)], \
            list(scales)
    else:
        assert sizes is not None
        if len(sizes) != n:
            raise ValueError(f"Resize: sizes must have {n} values, got {list(sizes)}")
        outs, scale_list = policy_sizes(ins, sizes, policy, xp)
    plans = zip(ax_list, ins, outs, scale_list, rois, strict=True)
    return {a: Axis(i, o, s, rv) for a, i, o, s, rv in plans}


def legacy_mode(mode: str) -> str:
    """Resize-10 / Upsample's mode, with Upsample-1's 'bilinear' spelled 'linear'."""
    mode = "linear" if mode == "bilinear" else mode
    if mode not in ("nearest", "linear"):
        raise ValueError(f"Resize-10 / Upsample: mode must be 'nearest' or 'linear', got {mode!r}")
    return mode


def legacy_axes(shape: Sequence[Any], scales: Sequence[Any], xp: ResizeOps) -> dict[int, Axis]:
    """Resize-10 / Upsample: one scale per axis, out = floor(in * scale); axes whose scale
    is a constant 1 are left out."""
    if len(scales) != len(shape) or any(_static(s) and s <= 0 for s in scales):
        raise ValueError(f"Resize-10 / Upsample: scales must be {len(shape)} positive values, "
                         f"got {list(scales)}")
    return {a: Axis(n, output_size(n, s, xp), s)
            for a, (n, s) in enumerate(zip(shape, scales, strict=True))
            if not (_static(s) and s == 1)}


LEGACY_OPTIONS = Options(coord="asymmetric", nearest="simple")


def legacy_plan(shape: Sequence[Any], scales: Sequence[Any], mode: str,
                xp: ResizeOps) -> tuple[dict[int, Axis], Options]:
    """Resize-10 / Upsample's (axes, options): asymmetric coordinates, nearest rounding as
    onnxruntime's 'simple' (truncate, ceil when shrinking), one scale per axis."""
    opt = replace(LEGACY_OPTIONS, mode=legacy_mode(mode))
    return legacy_axes(shape, scales, xp), opt


def resize_plan(shape: Sequence[Any], roi: Sequence[Any] | None, scales: Sequence[Any] | None,
                sizes: Sequence[Any] | None, axes: Sequence[int] | None, policy: str,
                opt: Options, opset: int, xp: ResizeOps) -> dict[int, Axis]:
    """Resize-11+'s axes to resample: checks the coordinate mode against the node's version
    (:func:`coord_modes`), then :func:`plan_axes`."""
    check_coord(opt.coord, coord_modes(opset))
    return plan_axes(shape, roi, scales, sizes, axes, policy, opt.coord, xp)


def skip_identity_axes(axes: dict[int, Axis], coord: str) -> dict[int, Axis]:
    """Drop the axes that these coordinate modes map onto themselves (resampling them
    would be a costly copy)."""
    if coord not in IDENTITY_AT_SCALE_1:
        return axes
    return {a: ax for a, ax in axes.items()
            if not (_static(ax.scale) and ax.scale == 1 and isinstance(ax.size_in, int)
                    and ax.size_in == ax.size_out)}


# ------------------------------------------------------------------------ coordinates


def source_coords(ax: Axis, mode: str, xp: ResizeOps) -> Any:
    """x_original (float64) of every x_resized = 0 .. size_out - 1, per the spec's
    coordinate_transformation_mode:

    - half_pixel: (x_resized + 0.5) / scale - 0.5
    - half_pixel_symmetric: adjustment = output_width_int / output_width,
      center = input_width / 2, offset = center * (1 - adjustment),
      offset + (x_resized + 0.5) / scale - 0.5
    - pytorch_half_pixel: as half_pixel when length_resized > 1, else 0
    - align_corners: x_resized * (length_original - 1) / (length_resized - 1), 0 for length 1
    - asymmetric: x_resized / scale
    - tf_half_pixel_for_nn (opset 11): (x_resized + 0.5) / scale
    - tf_crop_and_resize: start_x * (length_original - 1) + x_resized * (end_x - start_x)
      * (length_original - 1) / (length_resized - 1), or 0.5 * (start_x + end_x) *
      (length_original - 1) when length_resized is 1
    """
    x = xp.arange(ax.size_out)
    n_in, n_out, s = xp.scalar(ax.size_in), xp.scalar(ax.size_out), xp.scalar(ax.scale)
    if mode == "half_pixel":
        return (x + 0.5) / s - 0.5
    if mode == "half_pixel_symmetric":
        # output_width = in * scale, output_width_int = out: centre the rounded-down span
        return n_in / 2 * (1 - n_out / (n_in * s)) + (x + 0.5) / s - 0.5
    if mode == "pytorch_half_pixel":
        return xp.select(n_out > 1, lambda: (x + 0.5) / s - 0.5, lambda: x * 0)
    if mode == "align_corners":
        return xp.select(n_out > 1, lambda: x * (n_in - 1) / (n_out - 1), lambda: x * 0)
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / s
    if mode == "tf_crop_and_resize":
        lo, hi = xp.scalar(ax.roi[0]), xp.scalar(ax.roi[1])
        return xp.select(n_out > 1,
                         lambda: lo * (n_in - 1) + x * (hi - lo) * (n_in - 1) / (n_out - 1),
                         lambda: x * 0 + 0.5 * (lo + hi) * (n_in - 1))
    raise ValueError(f"Resize: unknown coordinate_transformation_mode {mode!r}")


def nearest_index(x: Any, ax: Axis, mode: str, xp: ResizeOps) -> Any:
    """int64 source index of each output for mode=nearest: nearest_mode rounds x_original
    (round_prefer_floor: ceil(x - 0.5); round_prefer_ceil: floor(x + 0.5); floor; ceil;
    'simple', Resize-10 / Upsample as onnxruntime: floor when enlarging, ceil when
    shrinking), then clamps to the input."""
    if mode == "round_prefer_floor":
        idx = xp.ceil(x - 0.5)
    elif mode == "round_prefer_ceil":
        idx = xp.floor(x + 0.5)
    elif mode == "floor":
        idx = xp.floor(x)
    elif mode == "ceil":
        idx = xp.ceil(x)
    elif mode == "simple":
        idx = xp.select(xp.scalar(ax.scale) < 1, lambda: xp.ceil(x), lambda: xp.floor(x))
    else:
        raise ValueError(f"Resize: nearest_mode must be one of {NEAREST_MODES}, got {mode!r}")
    return xp.to_index(xp.clip(idx, 0, xp.scalar(ax.size_in) - 1))


def outside(x: Any, ax: Axis, xp: ResizeOps) -> Any:
    """Outputs whose x_original lies outside the input: tf_crop_and_resize writes
    extrapolation_value there."""
    return (x < 0) | (x > xp.scalar(ax.size_in) - 1)


def outside_mask(coords: dict[int, Any], axes: dict[int, Axis], rank: int,
                 xp: ResizeOps) -> Any:
    """The broadcastable union of :func:`outside` over the resized axes (None if none)."""
    mask = None
    for a, x in coords.items():
        shape = [1] * rank
        shape[a] = -1
        m = xp.reshape(outside(x, axes[a], xp), shape)
        mask = m if mask is None else mask | m
    return mask


# ----------------------------------------------------------------------------- filters


def cubic_kernel(a: float, xp: ResizeOps) -> Callable[[Any], Any]:
    """Keys' cubic convolution kernel with coefficient a (cubic_coeff_a):
    (a + 2)|d|^3 - (a + 3)|d|^2 + 1 for |d| <= 1, a|d|^3 - 5a|d|^2 + 8a|d| - 4a for
    1 < |d| < 2, else 0."""
    def k(d: Any) -> Any:
        d = xp.abs(d)
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        return xp.where(d <= 1, near, xp.where(d < 2, far, 0.0))
    return k


def filter_kernel(opt: Options, xp: ResizeOps) -> tuple[Callable[[Any], Any], float]:
    """(kernel, support) of mode linear (the triangle max(0, 1 - |d|)) or cubic."""
    if opt.mode == "linear":
        return (lambda d: xp.clip(1 - xp.abs(d), 0.0, None)), 1.0
    if opt.mode == "cubic":
        return cubic_kernel(opt.cubic_a, xp), 2.0
    raise ValueError(f"Resize: mode must be nearest, linear or cubic, got {opt.mode!r}")


def filter_taps(x: Any, ax: Axis, opt: Options, xp: ResizeOps) -> tuple[Any, Any]:
    """(indices int64, weights float64), each [size_out, taps], of the separable
    linear / cubic filter at the points ``x``. With antialias, a downsampling axis widens
    the filter by 1 / scale (the kernel is evaluated at d * scale). Taps that fall off the
    input read the edge value, or, with exclude_outside, are dropped and the remaining
    weights renormalised to sum to 1."""
    kern, support = filter_kernel(opt, xp)
    s = xp.scalar(ax.scale)
    stretch = xp.select(opt.antialias and s < 1, lambda: 1.0 / s, lambda: 1.0)
    reach = support * stretch
    taps = (xp.floor(x - reach) + 1)[:, None] + xp.arange(xp.ceil_count(2 * reach) + 1)[None, :]
    w = kern((taps - x[:, None]) / stretch)
    n_in = xp.scalar(ax.size_in)
    if opt.exclude_outside:
        w = w * xp.to_float((taps >= 0) & (taps <= n_in - 1))
    w = w / xp.row_sum(w)
    return xp.to_index(xp.clip(taps, 0, n_in - 1)), w


def axis_tables(axes: dict[int, Axis], opt: Options,
                xp: ResizeOps) -> tuple[dict[int, Any], dict[int, tuple[Any, Any]]]:
    """(x_original of each resized axis, its gather table): for nearest, (int64 source
    index [size_out], None); for linear / cubic, (indices, weights), each [size_out, taps].
    An unknown mode raises before any table is built."""
    coords = {a: source_coords(ax, opt.coord, xp) for a, ax in axes.items()}
    if opt.mode == "nearest":
        return coords, {a: (nearest_index(coords[a], ax, opt.nearest, xp), None)
                        for a, ax in axes.items()}
    filter_kernel(opt, xp)
    return coords, {a: filter_taps(coords[a], ax, opt, xp) for a, ax in axes.items()}


def extrapolation_mask(coords: dict[int, Any], axes: dict[int, Axis], rank: int,
                       opt: Options, xp: ResizeOps) -> Any:
    """Where tf_crop_and_resize writes extrapolation_value (see :func:`outside_mask`);
    None for every other coordinate mode, or when no axis is resized."""
    return outside_mask(coords, axes, rank, xp) if opt.coord == "tf_crop_and_resize" else None


# ----------------------------------------------------------------------- numpy's ops


class NumpyOps:
    """:class:`ResizeOps` for numpy arrays (sizes are always Python numbers here)."""

    def arange(self, n: Any) -> np.ndarray:
        return np.arange(n, dtype=np.float64)

    def scalar(self, v: Any) -> Any:
        return v

    def select(self, cond: Any, a: Callable[[], Any], b: Callable[[], Any]) -> Any:
        return a() if cond else b()

    floor = staticmethod(np.floor)
    ceil = staticmethod(np.ceil)
    abs = staticmethod(np.abs)
    where = staticmethod(np.where)
    clip = staticmethod(np.clip)

    def to_index(self, x: Any) -> np.ndarray:
        return np.asarray(x).astype(np.int64)

    def to_float(self, mask: Any) -> np.ndarray:
        return np.asarray(mask, dtype=np.float64)

    def ceil_count(self, v: Any) -> int:
        return int(math.ceil(v))

    def row_sum(self, w: Any) -> np.ndarray:
        return np.sum(w, axis=1, keepdims=True)

    def reshape(self, x: Any, shape: list[int]) -> np.ndarray:
        return np.reshape(x, shape)

    def scaled_size(self, n: Any, s: Any) -> int:
        return int(np.floor(np.float32(s) * np.float32(n)))

    def ratio(self, out: Any, n: Any) -> float:
        return float(out) / float(n)

    def extreme(self, values: list[Any], largest: bool) -> Any:
        return max(values) if largest else min(values)

    def round_size(self, v: Any) -> int:
        return int(np.floor(v + 0.5))


NUMPY_OPS = NumpyOps()
