"""Shape and layout translations: view/reshape, permute, squeeze, expand, repeat, cat,
split, slice, select, flip, roll. Sizes may mix ints and SymInt Values (0-d int64); each
function's docstring is the ATen schema.

The small helpers at the top (dim normalisation, one dim's size as a Value, static dims
from the IR type) are shared with ops_index.py and ops_reduce.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value
from tensorbridge.ir.types import TensorType

INT64_MAX = 2**63 - 1  # torch's "to the end" sentinel (x[1:] exports end=INT64_MAX)
INT64_MIN = -(2**63)


# ---------------------------------------------------------------- shared helpers
def norm_dim(dim: int, rank: int) -> int:
    """A possibly negative torch dim as an index in [0, rank); 0-d tensors accept 0 / -1."""
    r = max(rank, 1)
    if not -r <= dim < r:
        raise IndexError(f"dim {dim} out of range for rank {rank}")
    return dim % r


def norm_dims(dims: int | Sequence[int] | None, rank: int) -> list[int] | None:
    """Reduction-style dims: None or [] means every dim."""
    if dims is None:
        return None
    if isinstance(dims, int):
        dims = [dims]
    if len(dims) == 0:
        return None
    return sorted({norm_dim(int(d), rank) for d in dims})


def static_dim(v: Value, d: int) -> int | None:
    """The size of dim ``d`` when the IR type knows it as an int."""
    shape = v.shape
    if shape is None or d >= len(shape):
        return None
    s = shape[d]
    return s if isinstance(s, int) else None


def static_shape(shape: Any) -> list[int] | None:
    """``shape`` (torch.Size or IR shape) as ints, None if any dim is symbolic."""
    if shape is None or not all(isinstance(s, int) for s in shape):
        return None
    return [int(s) for s in shape]


def same_shape(a: Value, b: Value) -> bool:
    """True when both IR shapes are known and equal (symbolic dims compare by name)."""
    return a.shape is not None and b.shape is not None and tuple(a.shape) == tuple(b.shape)


def dim_size(ctx: Ctx, x: Value, d: int) -> Value:
    """Size of dim ``d`` as a 1-D int64 [n] (a constant when static)."""
    s = static_dim(x, d)
    if s is not None:
        return ctx.const(np.array([s], np.int64))
    return ctx.op("Shape", [x], {"start": d, "end": d + 1}, dtype=DType.INT64)


def dim_size0(ctx: Ctx, x: Value, d: int) -> Value:
    """Size of dim ``d`` as a 0-d int64 (a SymInt-like Value)."""
    s = static_dim(x, d)
    if s is not None:
        return ctx.const(np.int64(s))
    out = ctx.squeeze(dim_size(ctx, x, d), [0])
    out.type = TensorType(DType.INT64, ())
    return out


def shape_part(ctx: Ctx, x: Value, start: int, end: int | None = None) -> Value:
    """``x.shape[start:end]`` as a 1-D int64 (constant when static)."""
    shape = static_shape(x.shape)
    if shape is not None:
        return ctx.const(np.array(shape[start:end], np.int64))
    attrs = {"start": start} if end is None else {"start": start, "end": end}
    return ctx.op("Shape", [x], attrs, dtype=DType.INT64)


def n_results(ctx: Ctx) -> int:
    """How many tensors the current node returns (split/unbind/chunk: from torch's meta)."""
    val = ctx.node.meta.get("val") if ctx.node is not None else None
    if not isinstance(val, list | tuple):
        raise ctx.fail("the number of results is unknown (no torch meta on the node)")
    return len(val)


def transpose(ctx: Ctx, x: Value, perm: Sequence[int]) -> Value:
    if list(perm) == list(range(len(perm))):
        return x
    return ctx.op("Transpose", [x], {"perm": [int(p) for p in perm]})


def int_list(ctx: Ctx, xs: Sequence[Any] | Value) -> Value:
    """``ctx.ints``, but a lone SymInt becomes [n] with one Unsqueeze (no 1-input Concat)."""
    if isinstance(xs, Value):
        return xs
    if len(xs) == 1 and isinstance(xs[0], Value):
        return ctx.unsqueeze(ctx.cast(xs[0], DType.INT64), [0])
    return ctx.ints(list(xs))


def slice_(ctx: Ctx, x: Value, starts: Any, ends: Any, axes: Sequence[int],
           steps: Sequence[int] | None = None) -> Value:
    ins = [x, int_list(ctx, starts), int_list(ctx, ends), ctx.ints(list(axes))]
    if steps is not None:
        ins.append(ctx.ints(list(steps)))
    return ctx.op("Slice", ins)


def _reshape(ctx: Ctx, x: Value, size: Sequence[Any]) -> Value:
    """Reshape to the node's output shape when torch knows it statically, else to ``size``
    (ints, -1 and SymInts). A literal 0 means size zero in torch, so allowzero=1 then."""
    shape = static_shape(ctx.meta().shape) or list(size)
    if static_shape(x.shape) == shape:
        return x
    attrs = {"allowzero": 1} if any(isinstance(s, int) and s == 0 for s in shape) else {}
    return ctx.op("Reshape", [x, ctx.ints(shape)], attrs)


# ---------------------------------------------------------------- reshape family
@aten("aten::view.default", "aten::reshape.default", "aten::_unsafe_view.default",
      "aten::view_copy.default", "aten::_reshape_alias.default")
def aten_view(ctx: Ctx, self: Value, size: Sequence[Any], *_strides: Any) -> Value:
    """view(Tensor(a) self, SymInt[] size) -> Tensor(a)"""
    return _reshape(ctx, self, size)


@aten("aten::flatten.using_ints")
def aten_flatten(ctx: Ctx, self: Value, start_dim: int = 0, end_dim: int = -1) -> Value:
    """flatten.using_ints(Tensor(a) self, int start_dim=0, int end_dim=-1) -> Tensor(a)"""
    r = ctx.rank(self)
    if r == 0:
        return _reshape(ctx, self, [1])
    s, e = norm_dim(start_dim, r), norm_dim(end_dim, r)
    if static_shape(ctx.meta().shape) is not None or s == e:
        return _reshape(ctx, self, list(ctx.meta().shape))
    shape = ctx.op("Concat", [shape_part(ctx, self, 0, s), ctx.ints([-1]),
                              shape_part(ctx, self, e + 1)], {"axis": 0})
    return ctx.op("Reshape", [self, shape])


@aten("aten::unflatten.int")
def aten_unflatten(ctx: Ctx, self: Value, dim: int, sizes: Sequence[Any]) -> Value:
    """unflatten.int(Tensor(a) self, int dim, SymInt[] sizes) -> Tensor(a)"""
    r = ctx.rank(self)
    d = norm_dim(dim, r)
    if static_shape(ctx.meta().shape) is not None:
        return _reshape(ctx, self, list(ctx.meta().shape))
    shape = ctx.op("Concat", [shape_part(ctx, self, 0, d), ctx.ints(list(sizes)),
                              shape_part(ctx, self, d + 1)], {"axis": 0})
    return ctx.op("Reshape", [self, shape])


@aten("aten::permute.default", "aten::permute_copy.default")
def aten_permute(ctx: Ctx, self: Value, dims: Sequence[int]) -> Value:
    """permute(Tensor(a) self, int[] dims) -> Tensor(a)"""
    r = ctx.rank(self)
    return transpose(ctx, self, [norm_dim(d, r) for d in dims])


@aten("aten::transpose.int", "aten::transpose_copy.int", "aten::swapaxes.default", "aten::swapdims.default")
def aten_transpose(ctx: Ctx, self: Value, dim0: int, dim1: int) -> Value:
    """transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)"""
    r = ctx.rank(self)
    if r < 2:
        return self
    perm = list(range(r))
    a, b = norm_dim(dim0, r), norm_dim(dim1, r)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(ctx, self, perm)


@aten("aten::t.default")
def aten_t(ctx: Ctx, self: Value) -> Value:
    """t(Tensor(a) self) -> Tensor(a)"""
    return aten_transpose(ctx, self, 0, 1)


@aten("aten::numpy_T.default")
def aten_numpy_t(ctx: Ctx, self: Value) -> Value:
    """numpy_T(Tensor(a) self) -> Tensor(a)"""
    return transpose(ctx, self, list(range(ctx.rank(self)))[::-1])


@aten("aten::mT.default")
def aten_mt(ctx: Ctx, self: Value) -> Value:
    """mT(Tensor(a) self) -> Tensor(a)"""
    return aten_transpose(ctx, self, -2, -1)


@aten("aten::movedim.int", "aten::movedim.intlist")
def aten_movedim(ctx: Ctx, self: Value, source: Any, destination: Any) -> Value:
    """movedim.intlist(Tensor(a) self, int[] source, int[] destination) -> Tensor(a)"""
    r = ctx.rank(self)
    src = [norm_dim(s, r) for s in ([source] if isinstance(source, int) else source)]
    dst = [norm_dim(d, r) for d in ([destination] if isinstance(destination, int) else destination)]
    perm: list[int | None] = [None] * r
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(i for i in range(r) if i not in src)
    return transpose(ctx, self, [p if p is not None else next(rest) for p in perm])


@aten("aten::squeeze.default", "aten::squeeze.dim", "aten::squeeze.dims",
      "aten::squeeze_copy.default", "aten::squeeze_copy.dim", "aten::squeeze_copy.dims")
def aten_squeeze(ctx: Ctx, self: Value, dim: int | Sequence[int] | None = None) -> Value:
    """squeeze.dims(Tensor(a) self, int[] dim) -> Tensor(a)  (also .dim and no-dim forms)"""
    r = ctx.rank(self)
    if r == 0:
        return self
    given = range(r) if dim is None else [dim] if isinstance(dim, int) else dim
    dims = [norm_dim(d, r) for d in given]
    # torch silently keeps dims whose size is not 1; symbolic dims are assumed >= 2 by export
    axes = sorted({d for d in dims if static_dim(self, d) == 1})
    return ctx.squeeze(self, axes) if axes else self


@aten("aten::unsqueeze.default", "aten::unsqueeze_copy.default")
def aten_unsqueeze(ctx: Ctx, self: Value, dim: int) -> Value:
    """unsqueeze(Tensor(a) self, int dim) -> Tensor(a)"""
    return ctx.unsqueeze(self, [norm_dim(dim, ctx.rank(self) + 1)])


@aten("aten::expand.default", "aten::expand_copy.default")
def aten_expand(ctx: Ctx, self: Value, size: Sequence[Any], *, implicit: bool = False) -> Value:
    """expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)"""
    out = static_shape(ctx.meta().shape)
    if out is not None and out == static_shape(self.shape):
        return self
    # ONNX Expand broadcasts both ways, so 1 keeps the input's dim exactly like torch's -1
    # (no Shape op needed); static output shapes are taken from torch directly.
    target = out if out is not None else [1 if isinstance(s, int) and s == -1 else s for s in size]
    return ctx.op("Expand", [self, ctx.ints(target)])


@aten("aten::expand_as.default")
def aten_expand_as(ctx: Ctx, self: Value, other: Value) -> Value:
    """expand_as(Tensor(a) self, Tensor other) -> Tensor(a)"""
    if same_shape(self, other):
        return self
    return ctx.op("Expand", [self, ctx.shape_of(other)])


@aten("aten::reshape_as.default", "aten::view_as.default")
def aten_reshape_as(ctx: Ctx, self: Value, other: Value) -> Value:
    """reshape_as(Tensor(a) self, Tensor other) -> Tensor(a)"""
    if same_shape(self, other):
        return self
    return ctx.op("Reshape", [self, ctx.shape_of(other)])


@aten("aten::repeat.default")
def aten_repeat(ctx: Ctx, self: Value, repeats: Sequence[Any]) -> Value:
    """repeat(Tensor self, SymInt[] repeats) -> Tensor"""
    extra = len(repeats) - ctx.rank(self)
    x = ctx.unsqueeze(self, list(range(extra))) if extra > 0 else self
    return ctx.op("Tile", [x, ctx.ints(list(repeats))])


# ---------------------------------------------------------------- join / split
@aten("aten::cat.default", "aten::concat.default", "aten::concatenate.default")
def aten_cat(ctx: Ctx, tensors: Sequence[Value], dim: int = 0) -> Value:
    """cat(Tensor[] tensors, int dim=0) -> Tensor"""
    dt = ctx.out_dtype()
    # torch (legacy) skips 1-D empty tensors whatever the other operands' rank
    kept = [t for t in tensors if t.shape is None or tuple(t.shape) != (0,)] or list(tensors[:1])
    parts = [ctx.cast(t, dt) for t in kept]
    if len(parts) == 1:
        return parts[0]
    return ctx.op("Concat", parts, {"axis": norm_dim(dim, ctx.rank(kept[0]))})


@aten("aten::stack.default")
def aten_stack(ctx: Ctx, tensors: Sequence[Value], dim: int = 0) -> Value:
    """stack(Tensor[] tensors, int dim=0) -> Tensor"""
    dt = ctx.out_dtype()
    d = norm_dim(dim, ctx.rank(tensors[0]) + 1)
    parts = [ctx.unsqueeze(ctx.cast(t, dt), [d]) for t in tensors]
    return parts[0] if len(parts) == 1 else ctx.op("Concat", parts, {"axis": d})


def _split(ctx: Ctx, x: Value, sizes: Sequence[Any], d: int) -> list[Value]:
    if len(sizes) == 1:
        return [x]
    outs = ctx.op("Split", [x, ctx.ints(list(sizes))], {"axis": d}, n_outputs=len(sizes))
    return list(outs)


def _even_sizes(ctx: Ctx, x: Value, split_size: Any, d: int, n: int) -> list[Any]:
    """torch's chunking: n pieces of ``split_size``, the last one possibly smaller."""
    s = static_dim(x, d)
    if isinstance(split_size, int) and s is not None:
        return [min(split_size, s - i * split_size) for i in range(n)]
    if isinstance(split_size, int):
        used = ctx.const(np.int64(split_size * (n - 1)))
    else:
        used = ctx.op("Mul", [ctx.tensor(split_size, DType.INT64), ctx.const(np.int64(n - 1))],
                      dtype=DType.INT64)
    last = ctx.op("Sub", [dim_size0(ctx, x, d), used], dtype=DType.INT64)
    return [split_size] * (n - 1) + [last]


@aten("aten::split.Tensor", "aten::split_copy.Tensor", "aten::unsafe_split.Tensor")
def aten_split(ctx: Ctx, self: Value, split_size: Any, dim: int = 0) -> list[Value]:
    """split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]"""
    d = norm_dim(dim, ctx.rank(self))
    return _split(ctx, self, _even_sizes(ctx, self, split_size, d, n_results(ctx)), d)


@aten("aten::split_with_sizes.default", "aten::split_with_sizes_copy.default",
      "aten::unsafe_split_with_sizes.default")
def aten_split_with_sizes(ctx: Ctx, self: Value, split_sizes: Sequence[Any],
                          dim: int = 0) -> list[Value]:
    """split_with_sizes(Tensor(a -> *) self, SymInt[] split_sizes, int dim=0) -> Tensor(a)[]"""
    return _split(ctx, self, split_sizes, norm_dim(dim, ctx.rank(self)))


@aten("aten::chunk.default")
def aten_chunk(ctx: Ctx, self: Value, chunks: int, dim: int = 0) -> list[Value]:
    """chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]"""
    d = norm_dim(dim, ctx.rank(self))
    s = static_dim(self, d)
    if s is not None:
        step: Any = -(-s // chunks)
    else:  # ceil(size / chunks); sizes are non-negative so ONNX Div (truncating) is floor
        plus = ctx.op("Add", [dim_size0(ctx, self, d), ctx.const(np.int64(chunks - 1))])
        step = ctx.op("Div", [plus, ctx.const(np.int64(chunks))])
    return _split(ctx, self, _even_sizes(ctx, self, step, d, n_results(ctx)), d)


@aten("aten::unbind.int", "aten::unbind_copy.int")
def aten_unbind(ctx: Ctx, self: Value, dim: int = 0) -> list[Value]:
    """unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]"""
    d = norm_dim(dim, ctx.rank(self))
    n = n_results(ctx)
    return [ctx.squeeze(p, [d]) for p in _split(ctx, self, [1] * n, d)]


# ---------------------------------------------------------------- slicing
@aten("aten::slice.Tensor", "aten::slice_copy.Tensor")
def aten_slice(ctx: Ctx, self: Value, dim: int = 0, start: Any = None, end: Any = None,
               step: Any = 1) -> Value:
    """slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor(a)"""
    d = norm_dim(dim, ctx.rank(self))
    start = 0 if start is None else start
    end = INT64_MAX if end is None else end
    size = static_dim(self, d)
    full_end = isinstance(end, int) and (end >= INT64_MAX or (size is not None and end >= size))
    if isinstance(start, int) and start == 0 and full_end and step == 1:
        return self  # x[:, 0:] and friends are no-ops; ONNX Slice clamps the rest like torch
    return slice_(ctx, self, [start], [end], [d], [step])


@aten("aten::slice_scatter.default")
def aten_slice_scatter(ctx: Ctx, self: Value, src: Value, dim: int = 0, start: Any = None, end: Any = None,
                       step: Any = 1) -> Value:
    """slice_scatter(Tensor self, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor"""
    rank = ctx.rank(self)
    d = norm_dim(dim, rank)
    # the positions the slice covers, clamped exactly as the slice itself: Slice of a Range
    size = ctx.op("Gather", [ctx.shape_of(self), ctx.const(np.int64(d))])
    positions = ctx.op("Range", [ctx.const(np.int64(0)), size, ctx.const(np.int64(1))])
    positions = slice_(ctx, positions, [0 if start is None else start], [INT64_MAX if end is None else end],
                       [0], [step])
    along = [1] * rank
    along[d] = -1
    index = ctx.op("Reshape", [positions, ctx.const(np.array(along, np.int64))])
    index = ctx.op("Expand", [index, ctx.shape_of(src)])
    return ctx.op("ScatterElements", [self, index, ctx.cast(src, ctx.dtype(self))], {"axis": d})


@aten("aten::select_scatter.default")
def aten_select_scatter(ctx: Ctx, self: Value, src: Value, dim: int, index: Any) -> Value:
    """select_scatter(Tensor self, Tensor src, int dim, SymInt index) -> Tensor

    ``self`` with ``self.select(dim, index)`` replaced by ``src``: the slice_scatter of the
    one-element slice at ``index`` (a negative index counts from the end)."""
    d = norm_dim(dim, ctx.rank(self))
    if not isinstance(index, int):
        raise ctx.fail("select_scatter needs a constant index")
    end = INT64_MAX if index == -1 else index + 1
    return aten_slice_scatter(ctx, self, ctx.unsqueeze(src, [d]), d, index, end)


@aten("aten::select.int", "aten::select_copy.int")
def aten_select(ctx: Ctx, self: Value, dim: int, index: Any) -> Value:
    """select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)"""
    d = norm_dim(dim, ctx.rank(self))
    idx = ctx.tensor(index, DType.INT64) if isinstance(index, Value) else ctx.const(np.int64(index))
    return ctx.op("Gather", [self, idx], {"axis": d})  # 0-d index drops the dim; negatives wrap


@aten("aten::narrow.default", "aten::narrow_copy.default")
def aten_narrow(ctx: Ctx, self: Value, dim: int, start: Any, length: Any) -> Value:
    """narrow(Tensor(a) self, int dim, SymInt start, SymInt length) -> Tensor(a)"""
    d = norm_dim(dim, ctx.rank(self))
    size = static_dim(self, d)
    if isinstance(start, int) and isinstance(length, int) and (start >= 0 or size is not None):
        begin = start % size if start < 0 and size else start
        return slice_(ctx, self, [begin], [begin + length], [d])
    begin = ctx.tensor(start, DType.INT64)
    if isinstance(start, int) and start < 0:
        begin = ctx.op("Add", [dim_size0(ctx, self, d), begin], dtype=DType.INT64)
    finish = ctx.op("Add", [begin, ctx.tensor(length, DType.INT64)], dtype=DType.INT64)
    return slice_(ctx, self, [begin], [finish], [d])


@aten("aten::unfold.default")
def aten_unfold(ctx: Ctx, self: Value, dimension: int, size: int, step: int) -> Value:
    """unfold(Tensor(a) self, int dimension, int size, int step) -> Tensor(a)

    Every window of ``size`` elements along ``dimension``, ``step`` apart: that dimension
    becomes the window count (len - size) // step + 1 and a last dimension of ``size`` is
    added. One Gather of a [windows, size] index table (window starts by Range when the
    length is dynamic), then the window's own axis moved last."""
    rank = ctx.rank(self)
    if rank == 0 or size < 0 or step <= 0:
        raise ctx.fail(f"unfold needs a tensor of rank >= 1, size >= 0 and step > 0 "
                       f"(got rank {rank}, size {size}, step {step})")
    d = norm_dim(dimension, rank)
    taps = np.arange(size, dtype=np.int64)[None, :]
    length = static_dim(self, d)
    if length is not None:
        if size > length:
            raise ctx.fail(f"unfold: size {size} exceeds dimension {d} of length {length}")
        starts = np.arange(0, length - size + 1, step, dtype=np.int64)[:, None]
        index = ctx.const(starts + taps)
    else:
        limit = ctx.op("Sub", [dim_size0(ctx, self, d), ctx.const(np.int64(size - 1))], dtype=DType.INT64)
        starts = ctx.op("Range", [ctx.const(np.int64(0)), limit, ctx.const(np.int64(step))])
        index = ctx.op("Add", [ctx.op("Unsqueeze", [starts, ctx.ints([1])]), ctx.const(taps)])
    windows = ctx.op("Gather", [self, index], {"axis": d})  # self[:d] + [windows, size] + self[d+1:]
    perm = [*range(d + 1), *range(d + 2, rank + 1), d + 1]
    return ctx.op("Transpose", [windows], {"perm": perm}) if d + 1 != rank else windows


@aten("aten::flip.default")
def aten_flip(ctx: Ctx, self: Value, dims: Sequence[int]) -> Value:
    """flip(Tensor self, int[] dims) -> Tensor"""
    r = ctx.rank(self)
    axes = sorted({norm_dim(d, r) for d in dims})
    if not axes or r == 0:
        return self
    k = len(axes)
    return slice_(ctx, self, [-1] * k, [INT64_MIN] * k, axes, [-1] * k)


def _roll1(ctx: Ctx, x: Value, shift: Any, d: int, size: int | None) -> Value:
    """Roll along one dim: the last ``shift`` elements move to the front."""
    if isinstance(shift, int) and size is not None:
        k = shift % size if size else 0
        if k == 0:
            return x
        cut: Any = [size - k]
    else:
        n = dim_size(ctx, x, d)
        k_v = ctx.op("Mod", [int_list(ctx, [shift]), n], {"fmod": 0})  # sign of divisor: in [0, n)
        cut = ctx.op("Sub", [n, k_v])
    tail = slice_(ctx, x, cut, [INT64_MAX], [d])
    head = slice_(ctx, x, [0], cut, [d])
    return ctx.op("Concat", [tail, head], {"axis": d})


@aten("aten::roll.default")
def aten_roll(ctx: Ctx, self: Value, shifts: Sequence[Any], dims: Sequence[int] = ()) -> Value:
    """roll(Tensor self, SymInt[1] shifts, int[1] dims=[]) -> Tensor"""
    r = ctx.rank(self)
    if not dims:  # roll the flattened tensor, then restore the shape
        numel = ctx.meta().numel()
        flat = ctx.op("Reshape", [self, ctx.ints([-1])])
        rolled = _roll1(ctx, flat, shifts[0], 0, numel if isinstance(numel, int) else None)
        return ctx.op("Reshape", [rolled, ctx.shape_of(self)])
    x = self
    for shift, dim in zip(shifts, dims):
        d = norm_dim(dim, r)
        x = _roll1(ctx, x, shift, d, static_dim(self, d))
    return x
