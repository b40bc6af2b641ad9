"""Kernels: shape and layout ops (Reshape, Transpose, Concat, Split, Slice, Pad, Squeeze,
Unsqueeze, Expand, Tile, Flatten, Shape, Size, Identity, DepthToSpace, SpaceToDepth).

Reshape, Transpose, Slice, Squeeze, Unsqueeze and Flatten return numpy *views* where numpy
can: they sit on the hot path of transformer models and copying there costs more than the
ops themselves. Kernels never write into their inputs, so sharing memory is safe.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from tensorbridge.ir.axis_math import (
    broadcast_shape,
    flatten_dims,
    norm_axes,
    norm_axis,
    python_slice,
    unsqueeze_shape,
)
from tensorbridge.runtime.registry import KernelContext, kernel


def _reshape(data: np.ndarray, dims: list[int], allowzero: int) -> np.ndarray:
    if not allowzero and 0 in dims:
        # 0 copies the input's dimension at the same position (not an empty dimension).
        rank = data.ndim
        dims = [data.shape[i] if d == 0 and i < rank else d for i, d in enumerate(dims)]
    try:
        return data.reshape(dims)
    except ValueError as e:
        raise ValueError(f"cannot reshape {data.shape} to {dims}: {e}") from e


@kernel("Reshape", since=5)
def reshape(data: np.ndarray, shape: np.ndarray, *, allowzero: int = 0) -> np.ndarray:
    """Reshape-5/14(data, shape) -> reshaped; allowzero=1 (14) makes 0 a real empty dimension.
    Reshape-1's shape attribute is rewritten by ir/op_versions.py."""
    return _reshape(data, shape.tolist(), allowzero)


@kernel("Transpose", since=1)
def transpose(data: np.ndarray, *, perm: list[int] | None = None) -> np.ndarray:
    """Transpose-1(data) -> transposed; default perm reverses the axes. Returns a view."""
    return np.transpose(data, perm)


@kernel("Concat", since=4)
def concat(*inputs: np.ndarray, axis: int) -> np.ndarray:
    """Concat-4/11/13(inputs...) -> concat_result; axis required (negative from 11).
    Concat-1's optional axis is rewritten by ir/op_versions.py."""
    return np.concatenate(inputs, axis=axis)


def _split_sizes(x: np.ndarray, sizes: list[int], axis: int) -> tuple[np.ndarray, ...]:
    if sum(sizes) != x.shape[axis] or min(sizes, default=0) < 0:
        raise ValueError(f"split sizes {sizes} do not add up to dimension {x.shape[axis]} "
                         f"of axis {axis}")
    lead = (slice(None),) * axis
    outs, pos = [], 0
    for n in sizes:
        outs.append(x[lead + (slice(pos, pos + n),)])
        pos += n
    return tuple(outs)


@kernel("Split", since=13)
def split(input: np.ndarray, split: np.ndarray | None = None, *, axis: int = 0,
          num_outputs: int | None = None, ctx: KernelContext) -> tuple[np.ndarray, ...]:
    """Split-13/18(input, split?) -> outputs...; lengths as input, else num_outputs (18)
    chunks of ceil(dim / n), the last one smaller. Before 18 the node's output count splits
    into equal parts only. Split-1/2/11's attribute is rewritten by ir/op_versions.py."""
    axis = norm_axis(axis, input.ndim, "Split")
    if split is not None and split.size:
        return _split_sizes(input, split.tolist(), axis)
    dim = input.shape[axis]
    n = num_outputs if num_outputs is not None else ctx.n_outputs
    if n <= 0 or (ctx.opset < 18 and dim % n):
        raise ValueError(f"cannot split a dimension of {dim} into {n} equal outputs"
                         if n > 0 else f"cannot split a dimension of {dim} into {n} outputs")
    chunk = -(-dim // n)  # ceil
    last = dim - chunk * (n - 1)
    if last < 0:
        raise ValueError(f"cannot split a dimension of {dim} into {n} outputs")
    return _split_sizes(input, [chunk] * (n - 1) + [last], axis)


def _slice(data: np.ndarray, starts: list[int], ends: list[int], axes: list[int] | None,
           steps: list[int] | None) -> np.ndarray:
    """ONNX's clamping of starts/ends (ir/axis_math.py). One flat loop: Slice runs per token
    in decoder models."""
    if len(starts) != len(ends):
        raise ValueError(f"Slice: {len(starts)} starts but {len(ends)} ends")
    if axes is not None and len(axes) != len(starts):
        raise ValueError(f"Slice: {len(axes)} axes for {len(starts)} starts (one axis each)")
    rank = data.ndim
    index = [slice(None)] * rank
    ax_list = norm_axes(axes, rank, "Slice") if axes is not None else range(len(starts))
    for i, ax in enumerate(ax_list):
        step = steps[i] if steps is not None else 1
        index[ax] = python_slice(starts[i], ends[i], step, data.shape[ax])
    return data[tuple(index)]


@kernel("Slice", since=10)
def slice_(data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           axes: np.ndarray | None = None, steps: np.ndarray | None = None) -> np.ndarray:
    """Slice-10/11/13(data, starts, ends, axes?, steps?) -> output (a view). Slice-1's
    attributes are rewritten by ir/op_versions.py."""
    return _slice(data, starts.tolist(), ends.tolist(),
                  None if axes is None else axes.tolist(),
                  None if steps is None else steps.tolist())


def _squeeze(data: np.ndarray, axes: list[int] | None) -> np.ndarray:
    if not axes:
        return np.squeeze(data)
    try:
        return np.squeeze(data, axis=tuple(axes))
    except ValueError as e:
        raise ValueError(f"Squeeze axes {axes} of shape {data.shape}: {e}") from e


@kernel("Squeeze", since=13)
def squeeze(data: np.ndarray, axes: np.ndarray | None = None) -> np.ndarray:
    """Squeeze-13/21/23(data, axes?) -> squeezed (all size-1 axes when absent). Squeeze-1/11's
    axes attribute is rewritten by ir/op_versions.py."""
    return _squeeze(data, None if axes is None else axes.tolist())


def _unsqueeze(data: np.ndarray, axes: list[int]) -> np.ndarray:
    return data.reshape(unsqueeze_shape(data.shape, axes))


@kernel("Unsqueeze", since=13)
def unsqueeze(data: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Unsqueeze-13/21/23(data, axes) -> expanded. Unsqueeze-1/11's axes attribute is
    rewritten by ir/op_versions.py."""
    return _unsqueeze(data, axes.reshape(-1).tolist())


@kernel("Expand", since=8)
def expand(input: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Expand-8(input, shape) -> output; bidirectional (numpy) broadcasting."""
    target = tuple(broadcast_shape(input.shape, shape.tolist(), op="Expand"))
    if target == input.shape:
        return input
    # A real array, not a read-only zero-stride view: the result may be a graph output.
    return np.broadcast_to(input, target).copy()


@kernel("Tile", since=1)
def tile_1(input: np.ndarray, tiles: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Tile-1(input, tiles, axis) -> output; repeats along a single axis."""
    reps = [1] * input.ndim
    reps[int(axis)] = int(tiles)
    return np.tile(input, reps)


@kernel("Tile", since=6)
def tile_6(input: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    """Tile-6(input, repeats) -> output."""
    return np.tile(input, repeats.tolist())


@kernel("Flatten", since=1)
def flatten(input: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Flatten-1(input) -> output 2-D [prod(dims[:axis]), prod(dims[axis:])]."""
    return input.reshape(flatten_dims(input.shape, axis))


@kernel("Shape", since=1)
def shape(data: np.ndarray, *, start: int = 0, end: int | None = None) -> np.ndarray:
    """Shape-1/13/15/19/21/23(data) -> shape[start:end] int64; start/end (15) default to the
    whole shape, and Python slicing clamps like the spec."""
    return np.array(data.shape[start:end], dtype=np.int64)


@kernel("Size", since=1)
def size(data: np.ndarray) -> np.ndarray:
    """Size-1(data) -> size int64 scalar."""
    return np.array(data.size, dtype=np.int64)


@kernel("Identity", since=1)
def identity(input: Any) -> Any:
    """Identity-1(input) -> output; tensors, sequences (14) and optionals (16) alike."""
    return input


def _depth_to_space(x: np.ndarray, blocksize: int, mode: str) -> np.ndarray:
    b, c, h, w = x.shape
    bs = blocksize
    if c % (bs * bs):
        raise ValueError(f"DepthToSpace: channels {c} not divisible by blocksize^2 {bs * bs}")
    if mode == "DCR":
        t = x.reshape(b, bs, bs, c // (bs * bs), h, w).transpose(0, 3, 4, 1, 5, 2)
    elif mode == "CRD":
        t = x.reshape(b, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        raise ValueError(f"DepthToSpace: unknown mode {mode!r} (expected DCR or CRD)")
    return t.reshape(b, c // (bs * bs), h * bs, w * bs)


@kernel("DepthToSpace", since=1)
def depth_to_space(input: np.ndarray, *, blocksize: int, mode: str = "DCR") -> np.ndarray:
    """DepthToSpace-1/11/13(input) -> output; mode (11) DCR (the only order before) or CRD."""
    return _depth_to_space(input, blocksize, mode)


def _space_to_depth(x: np.ndarray, blocksize: int, mode: str) -> np.ndarray:
    b, c, h, w = x.shape
    bs = blocksize
    if h % bs or w % bs:
        raise ValueError(f"SpaceToDepth: spatial dims {h}x{w} not divisible by {bs}")
    t = x.reshape(b, c, h // bs, bs, w // bs, bs)
    # The inverse permutations of DepthToSpace's DCR and CRD orders.
    if mode == "DCR":
        t = t.transpose(0, 3, 5, 1, 2, 4)
    elif mode == "CRD":
        t = t.transpose(0, 1, 3, 5, 2, 4)
    else:
        raise ValueError(f"SpaceToDepth: unknown mode {mode!r} (expected DCR or CRD)")
    return t.reshape(b, c * bs * bs, h // bs, w // bs)


@kernel("SpaceToDepth", since=1)
def space_to_depth(input: np.ndarray, *, blocksize: int, mode: str = "DCR") -> np.ndarray:
    """SpaceToDepth-1/13/28(input) -> output; mode (28) DCR (the only order before) or CRD."""
    return _space_to_depth(input, blocksize, mode)


# ONNX's non-constant pad modes have numpy's meaning and spelling.
_NP_PAD_MODES: dict[str, Literal["reflect", "edge", "wrap"]] = {
    "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


def _pad(data: np.ndarray, pads: list[int], mode: str, value: Any,
         axes: list[int] | None) -> np.ndarray:
    rank = data.ndim
    axes = list(range(rank)) if axes is None else norm_axes(axes, rank, "Pad")
    n = len(axes)
    if len(pads) != 2 * n:
        raise ValueError(f"Pad: {len(pads)} pads for {n} axes (need 2 per axis)")
    before, after = [0] * rank, [0] * rank
    for i, ax in enumerate(axes):
        before[ax], after[ax] = pads[i], pads[i + n]
    if min(before + after, default=0) < 0:
        # Negative pads remove elements: crop first, then pad what is left.
        data = data[tuple(slice(max(-b, 0), d - max(-a, 0))
                          for b, a, d in zip(before, after, data.shape, strict=True))]
        before = [max(b, 0) for b in before]
        after = [max(a, 0) for a in after]
    if mode == "constant":
        # np.full + one assignment is several times cheaper than np.pad.
        out = np.full([b + d + a for b, d, a in zip(before, data.shape, after, strict=True)], value,
                      dtype=data.dtype)
        out[tuple(slice(b, b + d) for b, d in zip(before, data.shape, strict=True))] = data
        return out
    if mode not in _NP_PAD_MODES:
        raise ValueError(f"Pad: unknown mode {mode!r} (constant, reflect, edge or wrap)")
    return np.pad(data, list(zip(before, after, strict=True)), mode=_NP_PAD_MODES[mode])


def _pad_value(data: np.ndarray, constant_value: np.ndarray | float | None) -> Any:
    if constant_value is None:
        return "" if data.dtype == object else 0
    if isinstance(constant_value, np.ndarray):
        return constant_value.reshape(-1)[0] if constant_value.size else 0
    return constant_value


@kernel("Pad", since=11)
def pad(data: np.ndarray, pads: np.ndarray, constant_value: np.ndarray | None = None,
        axes: np.ndarray | None = None, *, mode: str = "constant") -> np.ndarray:
    """Pad-11/13/18/19/21/23(data, pads, constant_value?, axes?) -> output; axes (18) default
    to all, mode wrap from 19. Pad-1/2's attributes are rewritten by ir/op_versions.py."""
    return _pad(data, pads.tolist(), mode, _pad_value(data, constant_value),
                None if axes is None else axes.tolist())
