"""Convolution and pooling emitters (Conv, ConvTranspose, *Pool, MaxUnpool).

ONNX windows allow what torch's kernels do not (asymmetric or SAME padding, pads wider than
half the kernel, dilated average pooling), so every op has one rule: call the torch kernel
directly when its own padding can express the window, otherwise pad explicitly with
``F.pad`` (negative amounts crop) and call the kernel unpadded. Spatial sizes come from the
IR where it knows them (so fx tracing needs no tensor shapes), else from ``x.shape``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T, ints
from tensorbridge.converters.pytorch.from_ir.ops.elementwise import dtype_of
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"
Kernel = Callable[..., Any]
_CONV: dict[int, Kernel] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T: dict[int, Kernel] = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX: dict[int, Kernel] = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG: dict[int, Kernel] = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@dataclass(frozen=True)
class Info:
    """Static facts about one input, from the IR types first: under torch.fx tracing a
    tensor's rank, dtype and sizes are proxies that Python code cannot branch on."""

    rank: int
    # None: unknown (an untyped IR value under fx tracing); ``x.to(None)`` keeps x's type
    dtype: torch.dtype | None
    shape: list[Any]  # ints where the IR knows them, else the tensor's (symbolic) sizes


def info(x: Any, ctx: EmitContext | None, i: int = 0, rank: int | None = None) -> Info:
    """Facts about input ``i``; ``rank`` (known from attributes) lets an input the IR
    leaves untyped be described without asking the tensor for its rank."""
    shape = ctx.input_shape(i) if ctx is not None else None
    if shape is None:
        sizes = [x.shape[a] for a in range(x.dim() if rank is None else rank)]
    else:
        sizes = [d if isinstance(d, int) else x.shape[a] for a, d in enumerate(shape)]
    return Info(len(sizes), dtype_of(ctx, i, x), sizes)


def _per_axis(values: Sequence[int] | None, n: int, default: int) -> list[int]:
    return list(values) if values else [default] * n


def pad_arg(begin: Sequence[Any], end: Sequence[Any]) -> list[Any]:
    """F.pad's argument (last axis first) for per-axis begin/end amounts."""
    out: list[Any] = []
    for b, e in zip(reversed(begin), reversed(end), strict=True):
        out += [b, e]
    return out


@dataclass(frozen=True)
class Window:
    """A resolved sliding window: pads are what the op asks for; ``end_fit`` is the end
    padding that makes an unpadded floor-mode kernel produce exactly ``out`` positions
    (it is larger than ``end`` for ceil mode and may be smaller, i.e. cropping)."""

    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    begin: list[Any]
    end: list[Any]
    out: list[Any]
    end_fit: list[Any]
    ceil: bool = False  # torch's ceil_mode gives ``out`` with the op's own pads

    @property
    def symmetric(self) -> bool:
        """torch's own padding can express the pads (symmetric, at most half the kernel)."""
        return all(isinstance(b, int) and b == e and 2 * b <= k
                   for b, e, k in zip(self.begin, self.end, self.kernel, strict=True))


def make_window(sizes: Sequence[Any], kernel: Sequence[int], strides: Sequence[int] | None,
                dilations: Sequence[int] | None, pads: Sequence[int] | None, auto_pad: str,
                ceil_mode: int = 0) -> Window:
    """ONNX window geometry (the runtime's rules: SAME gives ceil(in / stride) positions;
    explicit pads use torch's ceil-mode rule that drops a window starting in the end pad)."""
    n = len(kernel)
    st, dl = _per_axis(strides, n, 1), _per_axis(dilations, n, 1)
    ext = [(k - 1) * d + 1 for k, d in zip(kernel, dl, strict=True)]
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-i // s) for i, s in zip(sizes, st, strict=True)]
        total = [_nonneg((o - 1) * s + e - i)
                 for o, s, e, i in zip(out, st, ext, sizes, strict=True)]
        begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin, strict=True)]
    else:
        flat = [0] * (2 * n) if auto_pad == "VALID" or not pads else list(pads)
        begin, end = flat[:n], flat[n:]
        out = []
        for i, b, e, x, s in zip(sizes, begin, end, ext, st, strict=True):
            span = i + b + e - x
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= i + b:
                o -= 1
            out.append(o)
    fit = [(o - 1) * s + x - i - b
           for o, s, x, i, b in zip(out, st, ext, sizes, begin, strict=True)]
    # SAME pads already give exactly ``out`` in floor mode, whatever ceil_mode says
    ceil = bool(ceil_mode) and auto_pad not in ("SAME_UPPER", "SAME_LOWER")
    return Window(list(kernel), st, dl, begin, end, out, fit, ceil)


def _nonneg(v: Any) -> Any:
    return max(v, 0) if isinstance(v, int) else torch.sym_max(v, 0)


def _check_rank(rank: int, op: str) -> int:
    nsp = rank - 2
    if nsp not in (1, 2, 3):
        raise UnsupportedOpError(LAYER, op, hint=f"torch has {op} for 1-3 spatial axes only; "
                                 f"the input has {nsp}")
    return nsp


# ------------------------------------------------------------------------------ conv


@emits("Conv", since=1)
def conv(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
         dilations: tuple[int, ...] | None = None, group: int = 1,
         kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
         strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """Conv-1/11/22: Y = conv(X, W) + B."""
    x, w = T(X), T(W)
    wi = info(w, ctx, 1)
    xi = info(x, ctx, 0, wi.rank)
    nsp = _check_rank(xi.rank, "Conv")
    kernel = list(kernel_shape) if kernel_shape else wi.shape[2:]
    win = make_window(xi.shape[2:], kernel, strides, dilations, pads, auto_pad)
    padding: Any = win.begin
    if not all(isinstance(p, int) and p == e for p, e in zip(win.begin, win.end, strict=True)):
        # torch pads both sides alike: pad here, exactly as ONNX asks (the end never needs
        # more than the op's own pads in floor mode, so end_fit only trims unused cells)
        x = F.pad(x, pad_arg(win.begin, win.end_fit))
        padding = 0
    return _CONV[nsp](x, w, None if B is None else T(B), win.strides, padding, win.dilations, group)


def _transpose_geometry(sizes: Sequence[Any], ext: Sequence[int], st: Sequence[int],
                        out_pad: Sequence[int], auto_pad: str, pads: Sequence[int] | None,
                        output_shape: Sequence[int] | None) -> tuple[list[Any], list[Any]]:
    """(cells cropped at the beginning, cells cropped at the end) of the unpadded transposed
    conv output ``s * (i - 1) + ext``; negative amounts are zero cells added."""
    n = len(sizes)
    full = [s * (i - 1) + e for s, i, e in zip(st, sizes, ext, strict=True)]
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = (list(output_shape)[-n:] if output_shape
               else [i * s for i, s in zip(sizes, st, strict=True)])
        total = [f + p - o for f, p, o in zip(full, out_pad, out, strict=True)]
        # SAME_UPPER puts the odd cell at the end, everything else at the beginning
        begin = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in total]
        return begin, [f - b - o for f, b, o in zip(full, begin, out, strict=True)]
    flat = [0] * (2 * n) if auto_pad == "VALID" or not pads else list(pads)
    return flat[:n], [e - p for e, p in zip(flat[n:], out_pad, strict=True)]


@emits("ConvTranspose", since=1)
def conv_transpose(X: Any, W: Any, B: Any = None, *, auto_pad: str = "NOTSET",
                   dilations: tuple[int, ...] | None = None, group: int = 1,
                   kernel_shape: tuple[int, ...] | None = None,
                   output_padding: tuple[int, ...] | None = None,
                   output_shape: tuple[int, ...] | None = None,
                   pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                   ctx: EmitContext | None = None) -> Any:
    """ConvTranspose-1/11/22: the gradient of Conv w.r.t. its input, plus B (opset-11 SAME
    rule for every version, as runtimes do)."""
    x, w = T(X), T(W)
    wi = info(w, ctx, 1)
    nsp = _check_rank(wi.rank, "ConvTranspose")
    kernel = list(kernel_shape) if kernel_shape else wi.shape[2:]
    st, dl = _per_axis(strides, nsp, 1), _per_axis(dilations, nsp, 1)
    op = _per_axis(output_padding, nsp, 0)
    ext = [(k - 1) * d + 1 for k, d in zip(kernel, dl, strict=True)]
    sizes = info(x, ctx, 0, wi.rank).shape[2:]
    begin, end = _transpose_geometry(sizes, ext, st, op, auto_pad, pads, output_shape)
    bias = None if B is None else T(B)
    native = all(isinstance(b, int) and isinstance(e, int) and b >= 0 and e + p == b
                 and p < max(s, d) for b, e, p, s, d in zip(begin, end, op, st, dl, strict=True))
    if native:
        return _CONV_T[nsp](x, w, bias, st, begin, op, group, dl)
    # torch cannot express these pads: transpose unpadded, crop / zero-extend, add the bias
    y = F.pad(_CONV_T[nsp](x, w, None, st, 0, 0, group, dl),
              pad_arg([-b for b in begin], [-e for e in end]))
    return y if bias is None else y + bias.reshape(-1, *[1] * nsp)


# ------------------------------------------------------------------------------ pools


def _pool_window(x: Any, ctx: EmitContext | None, kernel_shape: tuple[int, ...] | None,
                 strides: tuple[int, ...] | None, dilations: tuple[int, ...] | None,
                 pads: tuple[int, ...] | None, auto_pad: str, ceil_mode: int,
                 op: str) -> Window:
    xi = info(x, ctx, 0, len(kernel_shape) + 2 if kernel_shape else None)
    nsp = _check_rank(xi.rank, op)
    if not kernel_shape or len(kernel_shape) != nsp:
        raise UnsupportedOpError(LAYER, op, hint=f"kernel_shape {kernel_shape} must give one "
                                 f"size per spatial axis ({nsp})")
    return make_window(xi.shape[2:], kernel_shape, strides, dilations, pads, auto_pad,
                       ceil_mode)


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
def max_pool_1(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
               pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
               ctx: EmitContext | None = None) -> Any:
    """MaxPool-1: max over each window (padding never wins)."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, 0, "MaxPool")
    return _max_pool(X, win, 0, ctx)


@emits("MaxPool", since=8)
def max_pool_8(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
               pads: tuple[int, ...] | None = None, storage_order: int = 0,
               strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """MaxPool-8: adds the Indices output (flat argmax, row- or column-major)."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, 0, "MaxPool")
    return _max_pool(X, win, storage_order, ctx)


@emits("MaxPool", since=10)
def max_pool_10(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                dilations: tuple[int, ...] | None = None,
                kernel_shape: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
                storage_order: int = 0, strides: tuple[int, ...] | None = None,
                ctx: EmitContext | None = None) -> Any:
    """MaxPool-10/11/12/22: adds ceil_mode and dilations."""
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
def average_pool_1(X: Any, *, auto_pad: str = "NOTSET",
                   kernel_shape: tuple[int, ...] | None = None,
                   pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                   ctx: EmitContext | None = None) -> Any:
    """AveragePool-1: mean over each window, padding excluded from the count."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, 0, "AveragePool")
    return _average_pool(X, win, 0, ctx)


@emits("AveragePool", since=7)
def average_pool_7(X: Any, *, auto_pad: str = "NOTSET", count_include_pad: int = 0,
                   kernel_shape: tuple[int, ...] | None = None,
                   pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                   ctx: EmitContext | None = None) -> Any:
    """AveragePool-7: adds count_include_pad."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, 0, "AveragePool")
    return _average_pool(X, win, count_include_pad, ctx)


@emits("AveragePool", since=10)
def average_pool_10(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                    count_include_pad: int = 0, kernel_shape: tuple[int, ...] | None = None,
                    pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                    ctx: EmitContext | None = None) -> Any:
    """AveragePool-10/11: adds ceil_mode."""
    win = _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, ceil_mode,
                       "AveragePool")
    return _average_pool(X, win, count_include_pad, ctx)


@emits("AveragePool", since=19)
def average_pool_19(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
                    count_include_pad: int = 0, dilations: tuple[int, ...] | None = None,
                    kernel_shape: tuple[int, ...] | None = None,
                    pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                    ctx: EmitContext | None = None) -> Any:
    """AveragePool-19/22: adds dilations."""
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
def lp_pool_1(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
              p: float = 2.0, pads: tuple[int, ...] | None = None,
              strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """LpPool-1: (sum |x|^p)^(1/p) over each window, p a float."""
    return _lp_pool(X, _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, 0,
                                    "LpPool"), p, ctx)


@emits("LpPool", since=2)
def lp_pool_2(X: Any, *, auto_pad: str = "NOTSET", kernel_shape: tuple[int, ...] | None = None,
              p: int = 2, pads: tuple[int, ...] | None = None,
              strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """LpPool-2/11: p becomes an int."""
    return _lp_pool(X, _pool_window(T(X), ctx, kernel_shape, strides, None, pads, auto_pad, 0,
                                    "LpPool"), p, ctx)


@emits("LpPool", since=18)
def lp_pool_18(X: Any, *, auto_pad: str = "NOTSET", ceil_mode: int = 0,
               dilations: tuple[int, ...] | None = None,
               kernel_shape: tuple[int, ...] | None = None, p: int = 2,
               pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
               ctx: EmitContext | None = None) -> Any:
    """LpPool-18/22: adds ceil_mode and dilations."""
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


def _global_lp(X: Any, p: float, ctx: EmitContext | None) -> Any:
    x = T(X)
    return (x.abs() ** p).sum(dim=_spatial_axes(x, ctx), keepdim=True) ** (1.0 / p)


@emits("GlobalLpPool", since=1)
def global_lp_pool_1(X: Any, *, p: float = 2.0, ctx: EmitContext | None = None) -> Any:
    """GlobalLpPool-1: (sum |x|^p)^(1/p) over all spatial axes, p a float."""
    return _global_lp(X, p, ctx)


@emits("GlobalLpPool", since=2)
def global_lp_pool_2(X: Any, *, p: int = 2, ctx: EmitContext | None = None) -> Any:
    """GlobalLpPool-2/22: p becomes an int."""
    return _global_lp(X, p, ctx)


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
    st, pd = _per_axis(strides, nsp, 1), _per_axis(pads, 2 * nsp, 0)
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
