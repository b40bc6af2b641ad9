"""Image-layout ops: resizing, and the block rearrangements (SpaceToBatchND /
BatchToSpaceND, which TF wraps around dilated convolutions, and DepthToSpace /
SpaceToDepth). Each function's docstring is the TF op signature."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.converters.tensorflow.context import TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value


# ---------------------------------------------------------------- resize
def _coordinate_mode(align_corners: bool, half_pixel_centers: bool) -> str:
    if align_corners:
        return "align_corners"
    return "half_pixel" if half_pixel_centers else "asymmetric"


def _resize(ctx: TfCtx, images: Value, size: Value, attrs: dict[str, Any]) -> Value:
    """NHWC images -> NCHW Resize to ``size`` (h, w) -> NHWC."""
    x = ctx.to_channels_first(images)
    size64 = ctx.ints(size)
    nc = x.shape[:2] if x.shape is not None else (None, None)
    if size64.is_const and all(isinstance(d, int) for d in nc):
        sizes = ctx.const(np.concatenate([np.array(nc, np.int64), size64.const_array()]))
    else:
        sizes = ctx.op("Concat", [ctx.op("Shape", [x], {"start": 0, "end": 2}), size64], {"axis": 0})
    ins = [x, None, None, sizes]
    y = ctx.op("Resize", ins, attrs)
    return ctx.to_channels_last(y, 4)


@tf_op("ResizeBilinear")
def tf_resize_bilinear(ctx: TfCtx, images: Value, size: Value, *, align_corners: bool = False,
                       half_pixel_centers: bool = False, **_: Any) -> Value:
    """ResizeBilinear(images: T, size: int32, *, align_corners=false, half_pixel_centers=false) -> resized_images: float"""
    images = ctx.cast(images, DType.FLOAT) if images.dtype is not None else images
    attrs = {"mode": "linear", "coordinate_transformation_mode": _coordinate_mode(align_corners, half_pixel_centers)}
    return _resize(ctx, images, size, attrs)


@tf_op("ResizeNearestNeighbor")
def tf_resize_nearest_neighbor(ctx: TfCtx, images: Value, size: Value, *, align_corners: bool = False,
                               half_pixel_centers: bool = False, **_: Any) -> Value:
    """ResizeNearestNeighbor(images: T, size: int32, *, align_corners=false, half_pixel_centers=false) -> resized_images: T

    TF picks floor((i + 0.5) * scale) with half-pixel centers, i.e. ONNX half_pixel with
    round_prefer_ceil; round(i * scale) with align_corners; floor(i * scale) otherwise."""
    nearest = "floor" if not (align_corners or half_pixel_centers) else "round_prefer_ceil"
    attrs = {"mode": "nearest", "nearest_mode": nearest,
             "coordinate_transformation_mode": _coordinate_mode(align_corners, half_pixel_centers)}
    return _resize(ctx, images, size, attrs)


# ---------------------------------------------------------------- block rearrangements
def _static_tail(ctx: TfCtx, x: Value, start: int, what: str) -> list[int]:
    shape = x.shape
    tail = list(shape[start:]) if shape is not None else [None]
    if not all(isinstance(d, int) for d in tail):
        raise ctx.fail(f"{what} needs static non-batch dims, got shape {shape}")
    return [int(d) for d in tail]


def _reshape(ctx: TfCtx, x: Value, dims: list[int]) -> Value:
    return ctx.op("Reshape", [x, ctx.const(np.array(dims, np.int64))])


@tf_op("SpaceToBatchND")
def tf_space_to_batch_nd(ctx: TfCtx, input: Value, block_shape: Value, paddings: Value, **_: Any) -> Value:
    """SpaceToBatchND(input: T, block_shape: Tblock_shape, paddings: Tpaddings) -> output: T

    pad -> reshape (B, S1/b1, b1, ..., rest) -> move the blocks first -> merge them into the batch."""
    blocks = ctx.static_ints(block_shape, "block_shape")
    pads = ctx.static_ints(paddings, "paddings")
    m, rank = len(blocks), ctx.rank(input)
    dims = _static_tail(ctx, input, 1, "SpaceToBatchND")
    onnx_pads = [0] + pads[0::2] + [0] * (rank - 1 - m) + [0] + pads[1::2] + [0] * (rank - 1 - m)
    x = ctx.op("Pad", [input, ctx.const(np.array(onnx_pads, np.int64))], {"mode": "constant"})
    padded = [dims[i] + pads[2 * i] + pads[2 * i + 1] for i in range(m)]
    rest = dims[m:]
    split = [-1] + [v for i in range(m) for v in (padded[i] // blocks[i], blocks[i])] + rest
    x = _reshape(ctx, x, split)
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    x = ctx.op("Transpose", [x], {"perm": perm})
    return _reshape(ctx, x, [-1] + [padded[i] // blocks[i] for i in range(m)] + rest)


@tf_op("BatchToSpaceND")
def tf_batch_to_space_nd(ctx: TfCtx, input: Value, block_shape: Value, crops: Value, **_: Any) -> Value:
    """BatchToSpaceND(input: T, block_shape: Tblock_shape, crops: Tcrops) -> output: T

    split the batch into (b1, ..., bM, B) -> interleave each block with its spatial dim ->
    merge -> crop."""
    blocks = ctx.static_ints(block_shape, "block_shape")
    crop = ctx.static_ints(crops, "crops")
    m = len(blocks)
    dims = _static_tail(ctx, input, 1, "BatchToSpaceND")
    spatial, rest = dims[:m], dims[m:]
    x = _reshape(ctx, input, blocks + [-1] + dims)
    perm = [m] + [v for i in range(m) for v in (m + 1 + i, i)] + list(range(2 * m + 1, 2 * m + 1 + len(rest)))
    x = ctx.op("Transpose", [x], {"perm": perm})
    full = [spatial[i] * blocks[i] for i in range(m)]
    x = _reshape(ctx, x, [-1] + full + rest)
    if not any(crop):
        return x
    starts = [crop[2 * i] for i in range(m)]
    ends = [full[i] - crop[2 * i + 1] for i in range(m)]
    return ctx.op("Slice", [x, ctx.const(np.array(starts, np.int64)), ctx.const(np.array(ends, np.int64)),
                            ctx.const(np.arange(1, m + 1, dtype=np.int64))])


@tf_op("DepthToSpace", "SpaceToDepth")
def tf_depth_to_space(ctx: TfCtx, input: Value, *, block_size: int, data_format: str = "NHWC",
                      **_: Any) -> Value:
    """DepthToSpace(input: T, *, block_size, data_format="NHWC") -> output: T  (and SpaceToDepth)

    TF's channel order is ONNX's DCR mode."""
    attrs: dict[str, Any] = {"blocksize": int(block_size)}
    if ctx.op_type == "DepthToSpace":
        attrs["mode"] = "DCR"
    if data_format != "NHWC":
        return ctx.op(ctx.op_type, [input], attrs)
    y = ctx.op(ctx.op_type, [ctx.to_channels_first(input)], attrs)
    return ctx.to_channels_last(y, 4)
