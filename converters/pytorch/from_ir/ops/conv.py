"""Convolution emitters: Conv, ConvTranspose, DeformConv and Col2Im, and the torch form
(:class:`Window`, :func:`make_window`) of the ONNX window geometry of
:mod:`ir.window_math` that the pooling emitters share.

ONNX windows allow what torch's kernels do not (asymmetric or SAME padding, pads wider than
half the kernel), so every op has one rule: call the torch kernel directly when its own
padding can express the window, otherwise pad explicitly with ``F.pad`` (negative amounts
crop) and call the kernel unpadded. Spatial sizes come from the IR where it knows them (so
fx tracing needs no tensor shapes), else from ``x.shape``; DeformConv's per-sample geometry
is computed with tensor ops, never read back from the data."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T, ints
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    work_dtype,
)
from tensorbridge.converters.pytorch.from_ir.ops.shape import info, pad_arg
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.window_math import (
    SlidingWindow,
    WindowAttrs,
    conv_transpose_window,
    explicit_out,
    fit_extra,
    resolve_window,
    same_out,
    split_total,
    window_attrs,
)

LAYER = "PyTorch emitter"
Kernel = Callable[..., Any]
_CONV: dict[int, Kernel] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T: dict[int, Kernel] = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def per_axis(values: Sequence[int] | None, n: int, default: int) -> list[int]:
    return list(values) if values else [default] * n


@dataclass(frozen=True)
class Window:
    """A resolved sliding window: pads are what the op asks for; ``end_fit`` is the end
    padding that makes an unpadded floor-mode kernel produce exactly ``out`` positions
    (it is larger than ``end`` for ceil mode and may be smaller, i.e. cropping). Sizes are
    ints, or symbolic sizes when the spatial size is only known at run time."""

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


def make_window(op: str, sizes: Sequence[Any], kernel: Sequence[int] | None,
                strides: Sequence[int] | None, dilations: Sequence[int] | None,
                pads: Sequence[int] | None, auto_pad: str, ceil_mode: int = 0) -> Window:
    """The ONNX window of ``op`` (:mod:`ir.window_math`'s rules) over spatial ``sizes``.
    Bad attributes raise an UnsupportedOpError naming the op."""
    try:
        attrs = window_attrs(op, len(sizes), kernel, strides=strides, dilations=dilations,
                             pads=pads, auto_pad=auto_pad, ceil_mode=ceil_mode)
        if all(isinstance(i, int) for i in sizes):
            return _static_window(attrs, resolve_window(attrs, sizes))
    except ValueError as e:
        raise UnsupportedOpError(LAYER, op, hint=str(e)) from e
    return _symbolic_window(attrs, sizes)


def _static_window(attrs: WindowAttrs, win: SlidingWindow) -> Window:
    # SAME pads already give exactly ``out`` in floor mode, whatever ceil_mode says
    return Window(list(win.kernel), list(win.strides), list(win.dilations),
                  list(win.pads_begin), list(win.pads_end), list(win.out_shape),
                  list(win.fit_end), attrs.ceil_mode and not attrs.same)


def _symbolic_window(attrs: WindowAttrs, sizes: Sequence[Any]) -> Window:
    """A window over sizes known only at run time (torch SymInts): explicit pads run
    ir/window_math's per-axis formulas on them (plain arithmetic; ceil_mode's comparison
    becomes a guard); SAME's clamp at zero is torch's symbolic max."""
    st, ext = list(attrs.strides), list(attrs.extents)
    if attrs.same:
        out = [same_out(i, s) for i, s in zip(sizes, st, strict=True)]
        split = [split_total(torch.sym_max((o - 1) * s + e - i, 0), attrs.auto_pad)
                 for o, s, e, i in zip(out, st, ext, sizes, strict=True)]
        begin, end = [b for b, _ in split], [e for _, e in split]
        fit = list(end)  # SAME's floor-mode length is exactly out
    else:
        begin, end = list(attrs.pads_begin), list(attrs.pads_end)
        out = [explicit_out(i, b, e, x, s, attrs.ceil_mode)
               for i, b, e, x, s in zip(sizes, begin, end, ext, st, strict=True)]
        fit = [e + fit_extra(i, b, e, x, s, o)
               for i, b, e, x, s, o in zip(sizes, begin, end, ext, st, out, strict=True)]
    return Window(list(attrs.kernel), st, list(attrs.dilations), begin, end, out, fit,
                  attrs.ceil_mode and not attrs.same)


def check_rank(rank: int, op: str) -> int:
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
    nsp = check_rank(xi.rank, "Conv")
    kernel = list(kernel_shape) if kernel_shape else wi.shape[2:]
    win = make_window("Conv", xi.shape[2:], kernel, strides, dilations, pads, auto_pad)
    padding: Any = win.begin
    if not all(isinstance(p, int) and p == e for p, e in zip(win.begin, win.end, strict=True)):
        # torch pads both sides alike: pad here, exactly as ONNX asks (the end never needs
        # more than the op's own pads in floor mode, so end_fit only trims unused cells)
        x = F.pad(x, pad_arg(win.begin, win.end_fit))
        padding = 0
    return _CONV[nsp](x, w, None if B is None else T(B), win.strides, padding, win.dilations, group)


def _transpose_crops(sizes: Sequence[Any], kernel: Sequence[int], strides: Sequence[int] | None,
                     dilations: Sequence[int] | None, pads: Sequence[int] | None, auto_pad: str,
                     output_padding: Sequence[int] | None,
                     output_shape: Sequence[int] | None) -> tuple[list[Any], list[Any]]:
    """(cells cropped at the beginning, cells cropped at the end) of the transposed conv
    output without output_padding; negative amounts are zero cells added. Static sizes use
    :func:`ir.window_math.conv_transpose_window`; symbolic ones its split on SymInts."""
    op = "ConvTranspose"
    n = len(kernel)
    try:
        if all(isinstance(i, int) for i in sizes):
            geo = conv_transpose_window(op, sizes, kernel, strides=strides,
                                        dilations=dilations, pads=pads, auto_pad=auto_pad,
                                        output_padding=output_padding, output_shape=output_shape)
            begin, crop_end = list(geo.crop_begin), list(geo.crop_end)
        else:
            attrs = window_attrs(op, n, kernel, strides=strides, dilations=dilations, pads=pads,
                                 auto_pad=auto_pad)
            begin, crop_end = _symbolic_transpose_crops(attrs, sizes, output_padding, output_shape)
    except ValueError as e:
        raise UnsupportedOpError(LAYER, op, hint=str(e)) from e
    out_pad = per_axis(output_padding, n, 0)
    return begin, [e - p for e, p in zip(crop_end, out_pad, strict=True)]


def _symbolic_transpose_crops(attrs: WindowAttrs, sizes: Sequence[Any],
                              output_padding: Sequence[int] | None,
                              output_shape: Sequence[int] | None) -> tuple[list[Any], list[Any]]:
    if not output_shape and not attrs.same:
        return list(attrs.pads_begin), list(attrs.pads_end)
    n = len(sizes)
    out_pad = per_axis(output_padding, n, 0)
    target = (list(output_shape)[-n:] if output_shape
              else [i * s for i, s in zip(sizes, attrs.strides, strict=True)])
    split = [split_total(s * (i - 1) + p + e - o, attrs.auto_pad) for s, i, p, e, o in
             zip(attrs.strides, sizes, out_pad, attrs.extents, target, strict=True)]
    return [b for b, _ in split], [e for _, e in split]


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
    nsp = check_rank(wi.rank, "ConvTranspose")
    kernel = list(kernel_shape) if kernel_shape else wi.shape[2:]
    st, dl = per_axis(strides, nsp, 1), per_axis(dilations, nsp, 1)
    op = per_axis(output_padding, nsp, 0)
    sizes = info(x, ctx, 0, wi.rank).shape[2:]
    begin, end = _transpose_crops(sizes, kernel, strides, dilations, pads, auto_pad,
                                  output_padding, output_shape)
    bias = None if B is None else T(B)
    native = all(isinstance(b, int) and isinstance(e, int) and b >= 0 and e + p == b
                 and p < max(s, d) for b, e, p, s, d in zip(begin, end, op, st, dl, strict=True))
    if native:
        return _CONV_T[nsp](x, w, bias, st, begin, op, group, dl)
    # torch cannot express these pads: transpose unpadded, crop / zero-extend, add the bias
    y = F.pad(_CONV_T[nsp](x, w, None, st, 0, 0, group, dl),
              pad_arg([-b for b in begin], [-e for e in end]))
    return y if bias is None else y + bias.reshape(-1, *[1] * nsp)


# ------------------------------------------------------------------------------ Col2Im


@emits("Col2Im", since=18)
def col2im(input: Any, image_shape: Any, block_shape: Any, *,
           dilations: tuple[int, ...] | None = None, pads: tuple[int, ...] | None = None,
           strides: tuple[int, ...] | None = None, ctx: EmitContext | None = None) -> Any:
    """Col2Im-18: sum (N, C * prod(block), L) column blocks back into (N, C, *image_shape)."""
    x = T(input)
    image, block = ints(image_shape), ints(block_shape)
    nsp = check_rank(len(image) + 2, "Col2Im")
    win = make_window("Col2Im", image, block, strides, dilations, pads, "NOTSET")
    padded = [i + b + e for i, b, e in zip(image, win.begin, win.end, strict=True)]
    taps = math.prod(block)
    n, cb = info(x, ctx).shape[:2]
    if nsp == 2:  # torch's own col2im
        img = F.fold(x, tuple(padded), tuple(block), dilation=tuple(win.dilations),
                     stride=tuple(win.strides))
        full = padded
    else:
        # a transposed conv whose (C * taps, 1, *block) weight puts column row c * taps + k
        # onto tap k of channel c: exactly col2im's scatter-add
        eye = torch.eye(taps, dtype=x.dtype).reshape(taps, 1, *block).repeat(cb // taps, *[1] * (nsp + 1))
        img = _CONV_T[nsp](x.reshape(n, cb, *win.out), eye, None, win.strides, 0, 0, cb // taps,
                           win.dilations)
        full = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in
                zip(win.out, win.strides, block, win.dilations, strict=True)]
    return F.pad(img, pad_arg([-b for b in win.begin],
                              [p - f - e for p, f, e in zip(padded, full, win.end, strict=True)]))


# -------------------------------------------------------------------------- DeformConv


def _sample_coords(offset: Any, win: Any, n: Any, og: int, nsp: int) -> list[Any]:
    """Per spatial axis, the (N, og, taps, *out) input coordinate each sample reads: the
    regular grid position of the tap plus its learned offset."""
    taps = list(itertools.product(*(range(k) for k in win.kernel)))
    off = offset.reshape(n, og, len(taps), nsp, *win.out)
    coords = []
    for a in range(nsp):
        shape = [1] * nsp
        shape[a] = -1
        pos = (torch.arange(win.out[a], dtype=offset.dtype) * win.strides[a] - win.begin[a]).reshape(shape)
        tap = torch.tensor([t[a] * win.dilations[a] for t in taps], dtype=offset.dtype)
        coords.append(off[:, :, :, a] + (pos[None] + tap.reshape(-1, *[1] * nsp)))
    return coords


def _deform_columns(x: Any, coords: list[Any], weight: Any, sizes: Sequence[int]) -> Any:
    """Multilinear samples of x (N, C, *in) at ``coords`` -> (N, C, taps * pixels);
    out-of-image corners read 0. One gather per interpolation corner."""
    n, c = x.shape[0], x.shape[1]
    og = coords[0].shape[1]
    xf = x.reshape(n, og, c // og, -1)
    steps = [math.prod(sizes[a + 1:]) for a in range(len(sizes))]
    floors = [p.floor() for p in coords]
    cols = None
    for corner in itertools.product((0, 1), repeat=len(sizes)):
        wt, lin = weight, torch.zeros_like(weight, dtype=torch.int64)
        for a, bit in enumerate(corner):
            idx = floors[a] + bit
            inside = (idx >= 0) & (idx < sizes[a])
            wt = wt * (1 - (coords[a] - idx).abs()) * inside.to(wt.dtype)
            lin = lin + idx.clamp(0, sizes[a] - 1).long() * steps[a]
        index = lin.reshape(n, og, 1, -1).expand(n, og, c // og, -1)
        term = torch.gather(xf, 3, index) * wt.reshape(n, og, 1, -1)
        cols = term if cols is None else cols + term
    assert cols is not None  # at least one corner
    return cols.reshape(n, c, -1)


@emits("DeformConv", since=19)
def deform_conv(X: Any, W: Any, offset: Any, B: Any = None, mask: Any = None, *,
                dilations: tuple[int, ...] | None = None, group: int = 1,
                kernel_shape: tuple[int, ...] | None = None, offset_group: int = 1,
                pads: tuple[int, ...] | None = None, strides: tuple[int, ...] | None = None,
                ctx: EmitContext) -> Any:
    """DeformConv-19/22: conv whose taps sample X at learned offsets (N-D, multilinear)."""
    x, w = T(X), T(W)
    xi, wi = info(x, ctx), info(w, ctx, 1)
    nsp = xi.rank - 2
    kernel = list(kernel_shape) if kernel_shape else wi.shape[2:]
    win = make_window("DeformConv", xi.shape[2:], kernel, strides, dilations, pads, "NOTSET")
    ct = work_dtype(xi.dtype)
    n, pixels, taps = xi.shape[0], math.prod(win.out), math.prod(kernel)
    weight = torch.ones(n, offset_group, taps, *win.out, dtype=ct)
    if mask is not None:
        weight = weight * T(mask).to(ct).reshape(weight.shape)
    coords = _sample_coords(T(offset).to(ct), win, n, offset_group, nsp)
    cols = _deform_columns(x.to(ct), coords, weight, xi.shape[2:])
    m = wi.shape[0]
    y = torch.matmul(w.to(ct).reshape(group, m // group, -1),
                     cols.reshape(n, group, -1, pixels)).reshape(n, m, *win.out)
    if B is not None:
        y = y + T(B).to(ct).reshape(-1, *[1] * nsp)
    return y.to(xi.dtype)
