"""Shape and layout emitters (Reshape, Transpose, Concat, Split, Slice, Pad, Squeeze,
Unsqueeze, Expand, Tile, Flatten, Shape, Size, Identity, DepthToSpace, SpaceToDepth); the
tensor generators are in generators.py. The helpers here serve the index, control-flow and
sequence emitters too.

Parameter inputs (shape, axes, pads, starts...) are tf tensors. When they are IR constants they
arrive as eager constants, and ``tf.get_static_value`` gives their numpy value while tracing:
the emitters then build the op from Python ints (a clean graph with static shapes). Otherwise
they fall back to shape arithmetic on tensors, so graphs with dynamic shapes still trace."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.axis_math import (
    broadcast_shape,
    norm_axes,
    norm_axis,
    slice_bounds,
    unsqueeze_axes,
)
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"
I64 = tf.int64
# strided_slice clamps ends into the dimension: this end means "through the last element".
END = np.iinfo(np.int64).max

Dim = int | Any  # a Python int when static, else an int64 scalar tensor


# ---- helpers shared by the shape, index and control-flow emitters ------------------------

def static(v: Any) -> np.ndarray | None:
    """The numpy value of ``v`` when it is known while tracing (an IR constant), else None.
    Weights (variables) are never static: training may change them."""
    if v is None or isinstance(v, tf.Variable):
        return None
    if isinstance(v, np.ndarray | np.generic | int | float | list | tuple):
        return np.asarray(v)
    got = tf.get_static_value(v)
    return None if got is None else np.asarray(got)


def static_ints(v: Any) -> list[int] | None:
    got = static(v)
    return None if got is None else [int(i) for i in got.reshape(-1)]


def dims(x: Any) -> list[Dim]:
    """The dims of ``x`` (rank must be known): ints where static, scalar tensors elsewhere."""
    known = x.shape.as_list()
    if all(d is not None for d in known):
        return known
    dyn = tf.shape(x, out_type=I64)
    return [d if d is not None else dyn[i] for i, d in enumerate(known)]


def shape_vector(parts: list[Dim]) -> Any:
    """A list of ints stays a list (static); otherwise one int64 vector."""
    if all(isinstance(p, int | np.integer) for p in parts):
        return [int(p) for p in parts]
    return tf.stack([tf.cast(p, I64) if tf.is_tensor(p) else tf.constant(p, I64) for p in parts])


def rank_of(x: Any, op_type: str) -> int:
    r = x.shape.rank
    if r is None:
        raise UnsupportedOpError(LAYER, op_type, hint="the input's rank must be known; give the "
                                 "graph input a shape (its rank) before converting")
    return int(r)


def axis_of(x: Any, axis: int, op_type: str, *, allow_rank: bool = False) -> int:
    """``axis`` counted from 0, checked when the rank is known; only a negative axis needs
    the rank (an unknown one is then refused)."""
    rank = x.shape.rank if axis >= 0 else rank_of(x, op_type)
    return norm_axis(axis, rank, op_type, allow_rank=allow_rank)


def norm_index(idx: Any, dim: Any) -> Any:
    """ONNX indices may count from the back; TF's CPU kernels reject negative indices."""
    got = static(idx)
    if got is not None and (got.size == 0 or got.min() >= 0):
        return idx
    dim = tf.cast(dim, idx.dtype)
    return tf.where(idx < 0, idx + dim, idx)


def as_tensor(v: Any) -> Any:
    """Weights come as variables; control flow wants plain tensors."""
    return tf.convert_to_tensor(v) if isinstance(v, tf.Variable) else v


def results(outs: list[Any] | tuple[Any, ...], ctx: EmitContext) -> Any:
    """One value for a one-output node (the interpreter stores it as is), else a tuple."""
    outs = tuple(outs)
    return outs[0] if ctx.n_outputs == 1 else outs


# ---- reshaping ---------------------------------------------------------------------------

def _reshape(data: Any, shape: Any, allowzero: int) -> Any:
    target = static_ints(shape)
    if target is not None and data.shape.rank is not None:
        if not allowzero and 0 in target:
            # 0 copies the input's dimension at the same position (not an empty dimension)
            have = dims(data)
            target = [have[i] if d == 0 and i < len(have) else d for i, d in enumerate(target)]
        return tf.reshape(data, shape_vector(target))
    shape = tf.cast(tf.reshape(shape, [-1]), I64)
    if not allowzero:
        src = tf.concat([tf.shape(data, out_type=I64), tf.zeros_like(shape)], 0)[:tf.size(shape)]
        shape = tf.where(tf.equal(shape, 0), src, shape)
    return tf.reshape(data, shape)


@emits("Reshape", since=5)
def reshape(data: Any, shape: Any, *, allowzero: int = 0) -> Any:
    """Reshape-5/14(data, shape) -> reshaped; allowzero=1 (from 14) makes 0 a real empty
    dimension. Reshape-1 (shape attribute) is rewritten to this by ir/op_versions.py."""
    return _reshape(data, shape, allowzero)


@emits("Transpose", since=1)
def transpose(data: Any, *, perm: tuple[int, ...] | None = None) -> Any:
    """Transpose-1(data) -> transposed; default perm reverses the axes (as tf's does)."""
    return tf.transpose(data, perm=list(perm) if perm is not None else None)


@emits("Flatten", since=1)
def flatten(input: Any, *, axis: int = 1) -> Any:
    """Flatten-1(input) -> output 2-D [prod(dims[:axis]), prod(dims[axis:])]."""
    axis = axis_of(input, axis, "Flatten", allow_rank=True)
    if input.shape.is_fully_defined():
        d = input.shape.as_list()
        return tf.reshape(input, [int(np.prod(d[:axis])), int(np.prod(d[axis:]))])
    shp = tf.shape(input, out_type=I64)
    return tf.reshape(input, tf.stack([tf.reduce_prod(shp[:axis]), tf.reduce_prod(shp[axis:])]))


def _squeeze(data: Any, axes: list[int] | None) -> Any:
    if not axes:
        return tf.squeeze(data)
    return tf.squeeze(data, axis=norm_axes(axes, rank_of(data, "Squeeze"), "Squeeze"))


@emits("Squeeze", since=13)
def squeeze(data: Any, axes: Any = None) -> Any:
    """Squeeze-13(data, axes?) -> squeezed (Squeeze-1/11's axes attribute is rewritten to
    the input by ir/op_versions.py)."""
    if axes is None:
        return tf.squeeze(data)
    known = static_ints(axes)
    if known is not None:
        return _squeeze(data, known)
    # axes known only at run time: drop the listed dims from the shape
    rank = rank_of(data, "Squeeze")
    axes = tf.reshape(tf.cast(axes, I64), [-1])
    axes = tf.where(axes < 0, axes + rank, axes)
    drop = tf.reduce_any(tf.equal(tf.range(rank, dtype=I64)[:, None], axes[None, :]), axis=1)
    return tf.reshape(data, tf.boolean_mask(tf.shape(data, out_type=I64), ~drop))


def _unsqueeze(data: Any, axes: list[int]) -> Any:
    # only negative axes need the rank (which may be unknown)
    rank = rank_of(data, "Unsqueeze") if min(axes, default=0) < 0 else data.shape.rank
    for a in unsqueeze_axes(axes, rank):
        data = tf.expand_dims(data, a)
    return data


@emits("Unsqueeze", since=13)
def unsqueeze(data: Any, axes: Any) -> Any:
    """Unsqueeze-13(data, axes) -> expanded (Unsqueeze-1/11's axes attribute is rewritten to
    the input by ir/op_versions.py)."""
    known = static_ints(axes)
    if known is not None:
        return _unsqueeze(data, known)
    n_new = axes.shape.num_elements()
    if n_new is None:
        raise UnsupportedOpError(LAYER, "Unsqueeze", hint="the number of axes must be known")
    out_rank = rank_of(data, "Unsqueeze") + n_new
    axes = tf.reshape(tf.cast(axes, I64), [-1])
    axes = tf.where(axes < 0, axes + out_rank, axes)
    new = tf.reduce_any(tf.equal(tf.range(out_rank, dtype=I64)[:, None], axes[None, :]), axis=1)
    keep = tf.where(~new)  # positions of the input's dims in the output, [rank, 1]
    shape = tf.tensor_scatter_nd_update(tf.ones([out_rank], I64), keep,
                                        tf.shape(data, out_type=I64))
    return tf.reshape(data, shape)


# ---- joining, splitting, slicing ---------------------------------------------------------

@emits("Concat", since=4)
def concat(*inputs: Any, axis: int) -> Any:
    """Concat-4(inputs...) -> concat_result; axis required (negative from 11). Concat-1's
    default axis 1 is filled in by ir/op_versions.py."""
    return tf.concat(list(inputs), axis=axis)


def _split(x: Any, sizes: Any, axis: int, ctx: EmitContext) -> Any:
    """``sizes`` a list of ints, an int64 vector, or None for ctx.n_outputs equal parts."""
    n = ctx.n_outputs
    known = sizes if isinstance(sizes, list) else static_ints(sizes)
    if known is not None and len(known):
        parts = tf.split(x, known, axis=axis)
    elif sizes is None or known is not None:
        parts = tf.split(x, n, axis=axis)
    else:
        parts = tf.split(x, tf.cast(sizes, I64), num=n, axis=axis)
    return results(parts, ctx)


@emits("Split", since=13)
def split(input: Any, split: Any = None, *, axis: int = 0, num_outputs: int | None = None,
          ctx: EmitContext) -> Any:
    """Split-13/18(input, split?) -> outputs...; lengths as input, else equal parts, or (18)
    num_outputs chunks, the last one smaller. Split-1/2/11's split attribute is rewritten
    to the input by ir/op_versions.py."""
    if split is not None or num_outputs is None:
        return _split(input, split, axis, ctx)
    axis = axis_of(input, axis, "Split")
    dim = dims(input)[axis] if input.shape.rank is not None else tf.shape(input, out_type=I64)[axis]
    chunk = -(-dim // num_outputs)  # ceil, for an int or a tensor alike
    sizes = shape_vector([chunk] * (num_outputs - 1) + [dim - chunk * (num_outputs - 1)])
    return _split(input, sizes, axis, ctx)


def _static_slice(data: Any, rank: int, st: list[int], en: list[int], ax: list[int],
                  sp: list[int]) -> Any:
    """Bounds clamped as ONNX says (ir/axis_math.py) where the dim is static; else
    tf.strided_slice's own (Python's) clamping, which differs only for a negative step from
    a start before the first element. Axes left alone slice [0, END) step 1."""
    begin, end, stride = [0] * rank, [END] * rank, [1] * rank
    through_first = 0  # end_mask bits: a negative step running through index 0
    for s, e, a, k in zip(st, en, norm_axes(ax, rank, "Slice"), sp, strict=True):
        dim = data.shape[a]
        s, e = slice_bounds(s, e, k, dim)
        if k < 0 and e == -1 and dim is not None:
            through_first |= 1 << a
        begin[a], end[a], stride[a] = s, e, k
    return tf.strided_slice(data, tf.constant(begin, I64), tf.constant(end, I64),
                            tf.constant(stride, I64), end_mask=through_first)


def _slice(data: Any, starts: Any, ends: Any, axes: Any, steps: Any) -> Any:
    rank = rank_of(data, "Slice")
    st, en = static_ints(starts), static_ints(ends)
    ax = list(range(len(st or en or []))) if axes is None else static_ints(axes)
    sp = [1] * len(ax or []) if steps is None else static_ints(steps)
    if st is not None and en is not None and ax is not None and sp is not None:
        return _static_slice(data, rank, st, en, ax, sp)
    starts = tf.reshape(tf.cast(starts, I64), [-1])
    n = tf.size(starts)
    axes = tf.range(n, dtype=I64) if axes is None else tf.reshape(tf.cast(axes, I64), [-1])
    axes = tf.where(axes < 0, axes + rank, axes)[:, None]
    steps = tf.ones([n], I64) if steps is None else tf.reshape(tf.cast(steps, I64), [-1])
    begin = tf.tensor_scatter_nd_update(tf.zeros([rank], I64), axes, starts)
    end = tf.tensor_scatter_nd_update(tf.fill([rank], tf.constant(END, I64)), axes,
                                      tf.reshape(tf.cast(ends, I64), [-1]))
    stride = tf.tensor_scatter_nd_update(tf.ones([rank], I64), axes, steps)
    return tf.strided_slice(data, begin, end, stride)


@emits("Slice", since=10)
def slice_(data: Any, starts: Any, ends: Any, axes: Any = None, steps: Any = None) -> Any:
    """Slice-10(data, starts, ends, axes?, steps?) -> output (Slice-1's attributes are
    rewritten to inputs by ir/op_versions.py)."""
    return _slice(data, starts, ends, axes, steps)


def _broadcast_static(x: Any, shape: Any) -> list[int | None] | None:
    """What tracing can know of Expand's output shape (TF's shape inference loses the rank
    when the target shape is computed at run time)."""
    n = shape.shape.num_elements() if shape.shape.rank == 1 else None
    if n is None or x.shape.rank is None:
        return None
    part = tf.get_static_value(shape, partial=True) if not isinstance(shape, tf.Variable) else None
    want = [None] * n if part is None else [None if d is None else int(d) for d in part]
    return broadcast_shape(x.shape.as_list(), want, op="Expand")


@emits("Expand", since=8)
def expand(input: Any, shape: Any) -> Any:
    """Expand-8(input, shape) -> output; bidirectional (numpy) broadcasting, which
    tf.broadcast_to alone does not do (it only grows the input)."""
    known = static_ints(shape)
    if known is not None and input.shape.is_fully_defined():
        target = broadcast_shape(input.shape.as_list(), known, op="Expand")
        return tf.identity(input) if target == input.shape.as_list() else \
            tf.broadcast_to(input, target)
    target = tf.broadcast_dynamic_shape(tf.shape(input, out_type=I64),
                                        tf.reshape(tf.cast(shape, I64), [-1]))
    out = tf.broadcast_to(input, target)
    hint = _broadcast_static(input, shape)
    if hint is not None:
        out.set_shape(hint)
    return out


@emits("Tile", since=1)
def tile_1(input: Any, tiles: Any, axis: Any) -> Any:
    """Tile-1(input, tiles, axis) -> output; repeats along a single axis."""
    rank = rank_of(input, "Tile")
    axis = tf.reshape(tf.cast(axis, I64), [])
    tiles = tf.reshape(tf.cast(tiles, I64), [])
    return tf.tile(input, 1 + (tiles - 1) * tf.one_hot(axis, rank, dtype=I64))


@emits("Tile", since=6)
def tile_6(input: Any, repeats: Any) -> Any:
    """Tile-6(input, repeats) -> output."""
    known = static_ints(repeats)
    return tf.tile(input, known if known is not None else tf.cast(repeats, I64))


# ---- padding -----------------------------------------------------------------------------

def _pad_amounts(rank: int, pads: Any, axes: Any) -> tuple[Any, Any]:
    """Per-dim (before, after): lists of ints when static, else int64 vectors of ``rank``."""
    p = static_ints(pads)
    ax = list(range(rank)) if axes is None else static_ints(axes)
    if p is not None and ax is not None:
        n = len(ax)
        if len(p) != 2 * n:
            raise ValueError(f"Pad: {len(p)} pads for {n} axes (need 2 per axis)")
        before, after = [0] * rank, [0] * rank
        for i, a in enumerate(norm_axes(ax, rank, "Pad")):
            before[a], after[a] = p[i], p[i + n]
        return before, after
    pads = tf.reshape(tf.cast(pads, I64), [2, -1])
    idx = tf.range(rank, dtype=I64) if axes is None else tf.reshape(tf.cast(axes, I64), [-1])
    idx = tf.where(idx < 0, idx + rank, idx)[:, None]
    zeros = tf.zeros([rank], I64)
    return (tf.tensor_scatter_nd_update(zeros, idx, pads[0]),
            tf.tensor_scatter_nd_update(zeros, idx, pads[1]))


def _crop(data: Any, before: Any, after: Any) -> Any:
    """Negative pads remove elements: slice them off (end -k counts from the back)."""
    if isinstance(before, list):
        if min(before + after) >= 0:
            return data
        begin = [max(-b, 0) for b in before]
        end = [-a if a < 0 else END for a in after]
        return tf.strided_slice(data, tf.constant(begin, I64), tf.constant(end, I64))
    return tf.strided_slice(data, tf.maximum(-before, 0),
                            tf.where(after < 0, after, tf.constant(END, I64)))


def _pad_by_index(data: Any, before: Any, after: Any, mode: str) -> Any:
    """edge and wrap (tf.pad has neither): gather each padded axis with computed indices."""
    for ax in range(len(data.shape)):
        b, a = before[ax], after[ax]
        if isinstance(b, int) and isinstance(a, int) and b == a == 0:
            continue
        d = tf.shape(data, out_type=I64)[ax]
        i = tf.range(-tf.cast(b, I64), d + tf.cast(a, I64))
        i = tf.clip_by_value(i, 0, d - 1) if mode == "edge" else tf.math.floormod(i, d)
        data = tf.gather(data, i, axis=ax)
    return data


def _pad(data: Any, pads: Any, mode: str, value: Any, axes: Any) -> Any:
    rank = rank_of(data, "Pad")
    before, after = _pad_amounts(rank, pads, axes)
    data = _crop(data, before, after)
    if isinstance(before, list):
        before, after = [max(b, 0) for b in before], [max(a, 0) for a in after]
    else:
        before, after = tf.maximum(before, 0), tf.maximum(after, 0)
    if mode in ("edge", "wrap"):
        return _pad_by_index(data, before, after, mode)
    paddings = tf.stack([before, after], axis=1) if not isinstance(before, list) else \
        [[b, a] for b, a in zip(before, after, strict=True)]
    if mode == "reflect":
        return tf.pad(data, paddings, mode="REFLECT")
    if mode != "constant":
        raise UnsupportedOpError(LAYER, "Pad", hint=f"unknown mode {mode!r} "
                                 "(constant, reflect, edge or wrap)")
    if value is None:
        return tf.pad(data, paddings)
    return tf.pad(data, paddings, constant_values=tf.cast(tf.reshape(value, [-1])[0], data.dtype))


@emits("Pad", since=11)
def pad(data: Any, pads: Any, constant_value: Any = None, axes: Any = None, *,
        mode: str = "constant") -> Any:
    """Pad-11/18/19/21(data, pads, constant_value?, axes? (18)) -> output; modes constant,
    reflect, edge and wrap (19). Pad-1/2's attributes are rewritten to inputs by
    ir/op_versions.py."""
    return _pad(data, pads, mode, constant_value, axes)


# ---- shape queries -----------------------------------------------------------------------

@emits("Shape", since=1)
def shape(data: Any, *, start: int = 0, end: int | None = None) -> Any:
    """Shape-1/15(data) -> shape[start:end] int64 (start/end from 15; Python slicing clamps
    like the spec).
    A fully static shape becomes a constant, so later ops see static values."""
    if data.shape.is_fully_defined():
        return tf.constant(data.shape.as_list()[start:end], I64, shape=None)
    if data.shape.rank is not None:
        # clamp here: grappler's layout pass logs errors on out-of-range shape slices
        start, end, _ = slice(start, end).indices(data.shape.rank)
        end = max(start, end)
    return tf.shape(data, out_type=I64)[start:end]


@emits("Size", since=1)
def size(data: Any) -> Any:
    """Size-1(data) -> size int64 scalar."""
    if data.shape.is_fully_defined():
        return tf.constant(data.shape.num_elements(), I64)
    return tf.size(data, out_type=I64)


@emits("Identity", since=1)
def identity(input: Any) -> Any:
    """Identity-1(input) -> output; tensors, sequences (14: lists) and optionals (16: None)."""
    if input is None:
        return None
    if isinstance(input, list):
        return list(input)
    return tf.identity(input)


# ---- depth <-> space ---------------------------------------------------------------------

def _depth_to_space(x: Any, bs: int, mode: str) -> Any:
    if rank_of(x, "DepthToSpace") != 4:
        raise ValueError(f"DepthToSpace needs a 4-D input, got {x.shape}")
    b, c, h, w = dims(x)
    if mode == "DCR":
        t = tf.reshape(x, shape_vector([b, bs, bs, c // (bs * bs), h, w]))
        t = tf.transpose(t, [0, 3, 4, 1, 5, 2])
    elif mode == "CRD":
        t = tf.reshape(x, shape_vector([b, c // (bs * bs), bs, bs, h, w]))
        t = tf.transpose(t, [0, 1, 4, 2, 5, 3])
    else:
        raise UnsupportedOpError(LAYER, "DepthToSpace", hint=f"unknown mode {mode!r} (DCR or CRD)")
    return tf.reshape(t, shape_vector([b, c // (bs * bs), h * bs, w * bs]))


@emits("DepthToSpace", since=1)
def depth_to_space(input: Any, *, blocksize: int, mode: str = "DCR") -> Any:
    """DepthToSpace-1/11/13(input) -> output; mode (from 11) DCR or CRD, DCR before."""
    return _depth_to_space(input, blocksize, mode)


def _space_to_depth(x: Any, bs: int, mode: str) -> Any:
    if rank_of(x, "SpaceToDepth") != 4:
        raise ValueError(f"SpaceToDepth needs a 4-D input, got {x.shape}")
    b, c, h, w = dims(x)
    t = tf.reshape(x, shape_vector([b, c, h // bs, bs, w // bs, bs]))
    # the inverse permutations of DepthToSpace's DCR and CRD orders
    if mode == "DCR":
        t = tf.transpose(t, [0, 3, 5, 1, 2, 4])
    elif mode == "CRD":
        t = tf.transpose(t, [0, 1, 3, 5, 2, 4])
    else:
        raise UnsupportedOpError(LAYER, "SpaceToDepth", hint=f"unknown mode {mode!r} (DCR or CRD)")
    return tf.reshape(t, shape_vector([b, c * bs * bs, h // bs, w // bs]))


@emits("SpaceToDepth", since=1)
def space_to_depth(input: Any, *, blocksize: int, mode: str = "DCR") -> Any:
    """SpaceToDepth-1/13/28(input) -> output; mode (from 28) DCR or CRD, DCR before."""
    return _space_to_depth(input, blocksize, mode)
