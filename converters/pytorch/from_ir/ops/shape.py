"""Shape and layout emitters: Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Concat, Split,
Slice, Expand, Tile, Shape, Size, Identity, DepthToSpace, SpaceToDepth, Pad.

Shape arithmetic stays on the host: Shape gives a :class:`Host`, and Concat / Gather / Slice /
Squeeze / Unsqueeze / Reshape / Expand / Split of host values give host values, so that
``Reshape(x, Concat(Shape(x)[0], -1))`` needs no tensor data under ``torch.export``. Static
dims come from the IR where it knows them (plain ints trace everywhere); the rest are read
from ``x.shape`` (SymInts under export). :class:`Info` / :func:`info` (an input's static
rank, dtype and sizes) and :func:`pad_arg` are shared by the other families."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import Host, T, all_host, ints, scalar
from tensorbridge.converters.pytorch.from_ir.ops.cast import dtype_of
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.axis_math import (
    norm_axes,
    norm_axis,
    python_slice,
    slice_bounds,
    unsqueeze_axes,
)


def rank_of(x: Any, ctx: EmitContext | None, i: int = 0) -> int:
    """The rank of input ``i``: from the host value, the IR, or the tensor."""
    if isinstance(x, Host):
        return 0 if x.scalar else 1
    r = ctx.rank(i) if ctx is not None else None
    return r if r is not None else x.dim()


def dims_of(x: Any, ctx: EmitContext | None, i: int = 0) -> list[Any]:
    """The dims of input ``i``: static ints where the IR knows them, else ``x.shape[k]``."""
    if isinstance(x, Host):
        return [] if x.scalar else [len(x)]
    static = ctx.input_shape(i) if ctx is not None else None
    if static is None:
        return list(x.shape)
    if all(isinstance(d, int) for d in static):
        return list(static)
    shape = x.shape
    return [d if isinstance(d, int) else shape[k] for k, d in enumerate(static)]


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


def pad_arg(begin: Sequence[Any], end: Sequence[Any]) -> list[Any]:
    """F.pad's argument (last axis first) for per-axis begin/end amounts."""
    out: list[Any] = []
    for b, e in zip(reversed(begin), reversed(end), strict=True):
        out += [b, e]
    return out


def pack(outs: list[Any], ctx: EmitContext) -> Any:
    """An op's results as the interpreter takes them: the value itself for a node with one
    output, else a tuple (the spec's outputs; the node may use fewer)."""
    return outs[0] if ctx.n_outputs == 1 else tuple(outs)


def _is(d: Any, value: int) -> bool:
    """``d == value`` for a static dim; a symbolic dim is never taken for a constant."""
    return isinstance(d, int) and d == value


def is_traced(v: Any) -> bool:
    """Under torch.export, torch.compile or fx tracing (tensor data unknown)."""
    return (isinstance(v, torch.fx.Proxy) or torch.compiler.is_compiling()
            or torch.compiler.is_exporting())


# ----------------------------------------------------------------------------- Reshape
def _reshape(data: Any, dims: list[Any], allowzero: int, ctx: EmitContext | None) -> Any:
    if isinstance(data, Host) and len(dims) <= 1:
        return Host(data.items, data.dtype, scalar=not dims)
    x = T(data)
    if not allowzero and any(_is(d, 0) for d in dims):
        # 0 copies the input's dim at that position (allowzero=1 makes it a real 0).
        src = dims_of(x, ctx, 0)
        dims = [src[i] if _is(d, 0) and i < len(src) else d for i, d in enumerate(dims)]
    return x.reshape(dims)


@emits("Reshape", since=5)
def reshape(data: Any, shape: Any, *, allowzero: int = 0, ctx: EmitContext) -> Any:
    """Reshape-5/13/14/...(data, shape) -> reshaped; allowzero=1 (from 14) makes 0 a real
    empty dimension, its default 0 is Reshape-5's meaning."""
    return _reshape(data, ints(shape), allowzero, ctx)


@emits("Transpose", since=1)
def transpose(data: Any, *, perm: tuple[int, ...] | None = None, ctx: EmitContext) -> Any:
    """Transpose-1(data) -> transposed; default perm reverses the axes."""
    if isinstance(data, Host):
        return data  # rank <= 1: nothing to permute
    rank = rank_of(data, ctx, 0)
    return data.permute(list(perm) if perm is not None else list(range(rank))[::-1])


@emits("Flatten", since=1)
def flatten(input: Any, *, axis: int = 1, ctx: EmitContext) -> Any:
    """Flatten-1(input) -> output 2-D [prod(dims[:axis]), prod(dims[axis:])]."""
    x = T(input)
    rank = rank_of(x, ctx, 0)
    axis = norm_axis(axis, rank, "Flatten", allow_rank=True)
    if axis == 0:
        return x.reshape(1, -1)
    x = x.flatten(0, axis - 1)
    return x.flatten(1) if axis < rank else x.unsqueeze(1)


# ----------------------------------------------------------------- Squeeze / Unsqueeze
def _squeeze(data: Any, axes: list[int], ctx: EmitContext) -> Any:
    if isinstance(data, Host):
        if not data.scalar and len(data) == 1 and all(a in (0, -1) for a in axes):
            return Host(data.items, data.dtype, scalar=True)
        if not axes:
            return data  # no dim of size 1
        raise ValueError(f"Squeeze axes {axes} of a value of shape "
                         f"{[] if data.scalar else [len(data)]}")
    rank = rank_of(data, ctx, 0)
    if not axes:
        dims = dims_of(data, ctx, 0)
        if not all(isinstance(d, int) for d in dims):
            return data.squeeze()
        axes = [i for i, d in enumerate(dims) if d == 1]
    return data.squeeze(tuple(norm_axes(axes, rank, "Squeeze")))


@emits("Squeeze", since=13)
def squeeze_13(data: Any, axes: Any = None, *, ctx: EmitContext) -> Any:
    """Squeeze-13(data, axes?) -> squeezed."""
    return _squeeze(data, ints(axes), ctx)


def _unsqueeze(data: Any, axes: list[int], ctx: EmitContext) -> Any:
    if isinstance(data, Host) and data.scalar and len(axes) == 1 and axes[0] in (0, -1):
        return Host(data.items, data.dtype)
    x = T(data)
    for a in unsqueeze_axes(axes, rank_of(data, ctx, 0)):
        x = x.unsqueeze(a)
    return x


@emits("Unsqueeze", since=13)
def unsqueeze_13(data: Any, axes: Any, *, ctx: EmitContext) -> Any:
    """Unsqueeze-13(data, axes) -> expanded."""
    return _unsqueeze(data, ints(axes), ctx)


# ------------------------------------------------------------------------ Concat / Split
def _concat(inputs: tuple[Any, ...], axis: int) -> Any:
    if all_host(*inputs) and not any(v.scalar for v in inputs):
        return Host(tuple(i for v in inputs for i in v.items), inputs[0].dtype)
    return torch.cat([T(v) for v in inputs], dim=axis)


@emits("Concat", since=4)
def concat_4(*inputs: Any, axis: int) -> Any:
    """Concat-4(inputs...) -> concat_result; axis required (negative from 11)."""
    return _concat(inputs, axis)


def _pieces(parts: Any, n: int) -> list[Any]:
    """The ``n`` results of torch.split / chunk, indexed (an fx proxy cannot be iterated)."""
    return [parts[i] for i in range(n)]


def _split(x: Any, sizes: list[Any], axis: int, n: int, uneven: bool, ctx: EmitContext) -> Any:
    """Splits by ``sizes``, else into ``n`` ceil-sized parts, the last smaller (``uneven``,
    opset 18); without ``uneven`` a static dimension must split into equal parts."""
    if not sizes:
        dim = dims_of(x, ctx, 0)[axis]
        if not isinstance(dim, int):
            # torch.chunk makes ceil-sized chunks, which is the spec's rule for both forms.
            return pack(_pieces(torch.chunk(T(x), n, dim=axis), n), ctx)
        if not uneven and dim % n:
            raise ValueError(f"Split before opset 18 splits into equal parts: a dimension of "
                             f"{dim} does not split into {n} outputs (pass split lengths)")
        chunk = -(-dim // n)
        sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
    if isinstance(x, Host) and all(isinstance(s, int) for s in sizes):
        bounds = [sum(sizes[:k]) for k in range(len(sizes) + 1)]
        return pack([Host(x.items[a:b], x.dtype) for a, b in zip(bounds, bounds[1:], strict=False)],
                    ctx)
    return pack(_pieces(torch.split(T(x), sizes, dim=axis), len(sizes)), ctx)


@emits("Split", since=13)
def split(input: Any, split: Any = None, *, axis: int = 0, num_outputs: int | None = None,
          ctx: EmitContext) -> Any:
    """Split-13/18(input, split?) -> outputs...; lengths as input, else num_outputs (18)
    chunks of ceil(dim / n), the last one smaller. Before 18 the node's output count splits
    into equal parts only. Split-1/2/11's attribute is rewritten by ir/op_versions.py."""
    n = num_outputs if num_outputs is not None else ctx.n_outputs
    axis = norm_axis(axis, rank_of(input, ctx, 0), "Split")
    return _split(input, ints(split), axis, n, ctx.opset >= 18, ctx)


# ---------------------------------------------------------------------------------- Slice
def _clamp(v: Any, lo: Any, hi: Any) -> Any:
    return torch.sym_min(torch.sym_max(v, lo), hi)


def _slice_host(data: Host, start: int, end: int, step: int) -> Host:
    return Host(data.items[python_slice(start, end, step, len(data))], data.dtype)


def _slice(data: Any, starts: list[Any], ends: list[Any], axes: list[int], steps: list[int],
           ctx: EmitContext) -> Any:
    n = len(starts)
    axes = axes or list(range(n))
    steps = steps or [1] * n
    if isinstance(data, Host) and all(isinstance(v, int) for v in starts + ends):
        return _slice_host(data, starts[0], ends[0], steps[0]) if n else data
    x = T(data)
    rank = rank_of(x, ctx, 0)
    index: list[Any] = [slice(None)] * rank
    flips = []
    for ax, start, end, step in zip(norm_axes(axes, rank, "Slice"), starts, ends, steps,
                                    strict=True):
        if step > 0:
            # Python's (and torch's) clamping of positive-step bounds is the spec's.
            index[ax] = slice(start, end, step)
            continue
        # torch has no negative steps: slice the flipped axis (index i <-> dim-1-i).
        dim = dims_of(x, ctx, 0)[ax]
        start, end = slice_bounds(start, end, step, dim, clamp=_clamp)
        index[ax] = slice(dim - 1 - start, dim - 1 - end, -step)
        flips.append(ax)
    if flips:
        x = torch.flip(x, flips)
    return x[tuple(index)]


@emits("Slice", since=10)
def slice_10(data: Any, starts: Any, ends: Any, axes: Any = None, steps: Any = None, *,
             ctx: EmitContext) -> Any:
    """Slice-10(data, starts, ends, axes?, steps?) -> output."""
    return _slice(data, ints(starts), ints(ends), ints(axes), ints(steps), ctx)


# ---------------------------------------------------------------------------- Expand / Tile
@emits("Expand", since=8)
def expand(input: Any, shape: Any, *, ctx: EmitContext) -> Any:
    """Expand-8(input, shape) -> output; bidirectional (numpy) broadcasting."""
    dims = ints(shape)
    if isinstance(input, Host) and len(dims) <= 1 and all(isinstance(d, int) for d in dims):
        if not dims or dims[0] == 1 or len(input) == dims[0]:
            return input if input.scalar and not dims else Host(input.items, input.dtype)
        return Host(input.items * dims[0], input.dtype)  # a single item repeated
    x = T(input)
    rank = rank_of(input, ctx, 0)
    dims = [1] * (rank - len(dims)) + dims
    lead = len(dims) - rank
    # torch.expand keeps a dim for -1; a 1 in `shape` keeps the input's dim, as ONNX says.
    return x.expand([-1 if i >= lead and _is(d, 1) else d for i, d in enumerate(dims)])


# Separate: Tile-1 took tiles and axis inputs; 6 takes one repeat count per axis.
@emits("Tile", since=1)
def tile_1(input: Any, tiles: Any, axis: Any, *, ctx: EmitContext) -> Any:
    """Tile-1(input, tiles, axis) -> output; repeats along a single axis."""
    reps: list[Any] = [1] * rank_of(input, ctx, 0)
    reps[int(scalar(axis))] = scalar(tiles)
    return torch.tile(T(input), reps)


@emits("Tile", since=6)
def tile_6(input: Any, repeats: Any) -> Any:
    """Tile-6(input, repeats) -> output."""
    return torch.tile(T(input), ints(repeats))


# ------------------------------------------------------------------- Shape / Size / Identity
@emits("Shape", since=1)
def shape(data: Any, *, start: int = 0, end: int | None = None, ctx: EmitContext) -> Host:
    """Shape-1/13/15/19/21/23(data) -> shape[start:end] int64, a host value; start/end (15)
    default to the whole shape, and Python slicing clamps like the spec."""
    return Host(tuple(dims_of(data, ctx, 0)[start:end]), torch.int64)


@emits("Size", since=1)
def size(data: Any, *, ctx: EmitContext) -> Host:
    """Size-1(data) -> size int64 scalar, a host value."""
    n: Any = 1
    for d in dims_of(data, ctx, 0):
        n = n * d
    return Host.of(n, torch.int64)


@emits("Identity", since=1)
def identity(input: Any) -> Any:
    """Identity-1(input) -> output; tensors, host values, sequences and optionals alike."""
    return input


# ------------------------------------------------------------ DepthToSpace / SpaceToDepth
def _depth_to_space(x: Any, blocksize: int, mode: str, ctx: EmitContext) -> Any:
    if mode == "CRD":
        return F.pixel_shuffle(x, blocksize)  # torch's order is CRD
    if mode != "DCR":
        raise ValueError(f"DepthToSpace: unknown mode {mode!r} (expected DCR or CRD)")
    b, c, h, w = dims_of(x, ctx, 0)
    bs = blocksize
    t = x.reshape(b, bs, bs, c // (bs * bs), h, w).permute(0, 3, 4, 1, 5, 2)
    return t.reshape(b, c // (bs * bs), h * bs, w * bs)


@emits("DepthToSpace", since=1)
def depth_to_space(input: Any, *, blocksize: int, mode: str = "DCR", ctx: EmitContext) -> Any:
    """DepthToSpace-1/11/13(input) -> output; mode (11) DCR (the only order before) or CRD."""
    return _depth_to_space(T(input), blocksize, mode, ctx)


def _space_to_depth(x: Any, blocksize: int, mode: str, ctx: EmitContext) -> Any:
    if mode == "CRD":
        return F.pixel_unshuffle(x, blocksize)  # the inverse of pixel_shuffle (CRD)
    if mode != "DCR":
        raise ValueError(f"SpaceToDepth: unknown mode {mode!r} (expected DCR or CRD)")
    b, c, h, w = dims_of(x, ctx, 0)
    bs = blocksize
    t = x.reshape(b, c, h // bs, bs, w // bs, bs).permute(0, 3, 5, 1, 2, 4)
    return t.reshape(b, c * bs * bs, h // bs, w // bs)


@emits("SpaceToDepth", since=1)
def space_to_depth(input: Any, *, blocksize: int, mode: str = "DCR", ctx: EmitContext) -> Any:
    """SpaceToDepth-1/13/28(input) -> output; mode (28) DCR (the only order before) or CRD."""
    return _space_to_depth(T(input), blocksize, mode, ctx)


# ------------------------------------------------------------------------------------ Pad
def _pad_constant(x: Any, before: list[Any], after: list[Any], value: Any) -> Any:
    pads: list[Any] = []
    for b, a in zip(reversed(before), reversed(after), strict=True):
        pads += [b, a]  # F.pad lists (before, after) from the last axis back; negatives crop
    if isinstance(value, torch.Tensor | torch.fx.Proxy) and is_traced(value):
        # Traced, a tensor's value is unknown: pad with 0 and select the value where padded.
        inside = F.pad(torch.ones_like(x, dtype=torch.bool), pads, value=False)
        fill: Any = value.reshape(()).to(x.dtype)
        return torch.where(inside, F.pad(x, pads), fill)
    return F.pad(x, pads, value=scalar(value) if value is not None else 0)


def _pad_indexed(x: Any, before: list[Any], after: list[Any], mode: str,
                 ctx: EmitContext) -> Any:
    """reflect / edge / wrap on any axes (F.pad handles only the last 1-3 with batch dims):
    crop the negative pads, then gather each padded axis with an index map."""
    dims = dims_of(x, ctx, 0)
    x = x[tuple(slice(-b if _is_neg(b) else None, a if _is_neg(a) else None)
                for b, a in zip(before, after, strict=True))]
    for ax, (b, a) in enumerate(zip(before, after, strict=True)):
        d = dims[ax] + (b if _is_neg(b) else 0) + (a if _is_neg(a) else 0)  # after the crop
        b, a = (0 if _is_neg(b) else b), (0 if _is_neg(a) else a)
        if _is(b, 0) and _is(a, 0):
            continue
        idx = torch.arange(-b, d + a, device=x.device)
        if mode == "edge" or (mode == "reflect" and _is(d, 1)):
            idx = idx.clamp(0, d - 1)
        elif mode == "wrap":
            idx = idx.remainder(d)
        elif mode == "reflect":
            period = 2 * (d - 1)
            idx = idx.remainder(period)
            idx = torch.where(idx >= d, period - idx, idx)
        else:
            raise ValueError(f"Pad: unknown mode {mode!r} (constant, reflect, edge or wrap)")
        x = x.index_select(ax, idx)
    return x


def _is_neg(v: Any) -> bool:
    return isinstance(v, int) and v < 0


def _pad(data: Any, pads: list[Any], mode: str, value: Any, axes: list[int] | None,
         ctx: EmitContext) -> Any:
    x = T(data)
    rank = rank_of(data, ctx, 0)
    axes = list(range(rank)) if not axes else norm_axes(axes, rank, "Pad")
    n = len(axes)
    if len(pads) != 2 * n:
        raise ValueError(f"Pad: {len(pads)} pads for {n} axes (need 2 per axis)")
    before: list[Any] = [0] * rank
    after: list[Any] = [0] * rank
    for i, ax in enumerate(axes):
        before[ax], after[ax] = pads[i], pads[i + n]
    if mode == "constant":
        return _pad_constant(x, before, after, value)
    return _pad_indexed(x, before, after, mode, ctx)


@emits("Pad", since=11)
def pad(data: Any, pads: Any, constant_value: Any = None, axes: Any = None, *,
        mode: str = "constant", ctx: EmitContext) -> Any:
    """Pad-11/13/18/19/...(data, pads, constant_value?, axes?) -> output; the axes input
    (from 18) absent means every axis, Pad-11's meaning."""
    return _pad(data, ints(pads), mode, constant_value, ints(axes), ctx)
