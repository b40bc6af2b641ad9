"""Padding (constant_pad_nd, pad, reflection / replication / circular pads) -> ONNX Pad,
and pixel (un)shuffle -> DepthToSpace (CRD) / Reshape-Transpose-Reshape. Each function's docstring first line is the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.node import Value


# ---------------------------------------------------------------- pixel shuffle
def _as_4d(ctx: Ctx, x: Value, what: str) -> tuple[Value, bool]:
    rank = ctx.rank(x)
    if rank == 3:
        return ctx.unsqueeze(x, [0]), True
    if rank != 4:
        raise ctx.fail(f"{what} of a rank-{rank} tensor: only (C, H, W) and (N, C, H, W) are supported")
    return x, False


@aten("aten::pixel_shuffle.default")
def aten_pixel_shuffle(ctx: Ctx, self: Value, upscale_factor: int) -> Value:
    """pixel_shuffle(Tensor self, int upscale_factor) -> Tensor"""
    x, squeeze = _as_4d(ctx, self, "pixel_shuffle")
    y = ctx.op("DepthToSpace", [x], {"blocksize": int(upscale_factor), "mode": "CRD"})
    return ctx.squeeze(y, [0]) if squeeze else y


@aten("aten::pixel_unshuffle.default")
def aten_pixel_unshuffle(ctx: Ctx, self: Value, downscale_factor: int) -> Value:
    """pixel_unshuffle(Tensor self, int downscale_factor) -> Tensor

    SpaceToDepth orders output channels block-major (DCR); torch is channel-major (CRD),
    so this is the explicit reshape / transpose / reshape."""
    x, squeeze = _as_4d(ctx, self, "pixel_unshuffle")
    shape = self.shape or ()
    if not all(isinstance(d, int) for d in shape[-3:]):
        raise ctx.fail(f"pixel_unshuffle needs static C, H, W; input shape is {shape}")
    c, h, w = shape[-3:]
    r = int(downscale_factor)
    split = ctx.op("Reshape", [x, ctx.const(np.array([0, c, h // r, r, w // r, r], np.int64))])
    moved = ctx.op("Transpose", [split], {"perm": [0, 1, 3, 5, 2, 4]})
    y = ctx.op("Reshape", [moved, ctx.const(np.array([0, c * r * r, h // r, w // r], np.int64))])
    return ctx.squeeze(y, [0]) if squeeze else y


# ---------------------------------------------------------------- padding
def _onnx_pads(ctx: Ctx, rank: int, pad: Sequence[Any]) -> Value:
    """torch's (last_begin, last_end, second_last_begin, ...) -> ONNX [begins..., ends...]."""
    if len(pad) % 2 or len(pad) // 2 > rank:
        raise ctx.fail(f"pad list {list(pad)} does not fit a rank-{rank} tensor")
    begins: list[Any] = [0] * rank
    ends: list[Any] = [0] * rank
    for i in range(len(pad) // 2):
        begins[rank - 1 - i], ends[rank - 1 - i] = pad[2 * i], pad[2 * i + 1]
    return ctx.ints(begins + ends)


def _circular(ctx: Ctx, x: Value, pad: Sequence[Any]) -> Value:
    """Wrap padding as slices + concat (Pad's 'wrap' mode exists only from opset 19)."""
    rank = ctx.rank(x)
    for i in range(len(pad) // 2):
        axis, before, after = rank - 1 - i, pad[2 * i], pad[2 * i + 1]
        if any(isinstance(p, Value) or p < 0 for p in (before, after)):
            raise ctx.fail("circular padding with negative or dynamic amounts")
        parts = []
        if before:
            parts.append(_slice(ctx, x, axis, -before, 2**62))
        parts.append(x)
        if after:
            parts.append(_slice(ctx, x, axis, 0, after))
        if len(parts) > 1:
            x = ctx.op("Concat", parts, {"axis": axis})
    return x


def _slice(ctx: Ctx, x: Value, axis: int, start: int, end: int) -> Value:
    c = ctx.const
    return ctx.op("Slice", [x, c(np.array([start], np.int64)), c(np.array([end], np.int64)),
                            c(np.array([axis], np.int64))])


def _pad(ctx: Ctx, x: Value, pad: Sequence[Any], mode: str, value: Any = None) -> Value:
    rank = ctx.rank(x)
    if mode == "circular" and ctx.opset < 19:
        return _circular(ctx, x, pad)
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if onnx_mode is None:
        raise ctx.fail(f"padding mode {mode!r} has no ONNX Pad mode")
    inputs = [x, _onnx_pads(ctx, rank, pad)]
    if onnx_mode == "constant" and value is not None and value != 0:
        inputs.append(ctx.tensor(value, ctx.dtype(x)))
    return ctx.op("Pad", inputs, {"mode": onnx_mode})


@aten("aten::constant_pad_nd.default")
def aten_constant_pad_nd(ctx: Ctx, self: Value, pad: Sequence[Any], value: Any = 0) -> Value:
    """constant_pad_nd(Tensor self, SymInt[] pad, Scalar value=0) -> Tensor"""
    return _pad(ctx, self, pad, "constant", value)


@aten("aten::pad.default")
def aten_pad(ctx: Ctx, self: Value, pad: Sequence[Any], mode: str = "constant", value: float | None = None) -> Value:
    """pad(Tensor self, SymInt[] pad, str mode="constant", float? value=None) -> Tensor"""
    return _pad(ctx, self, pad, mode, value)


@aten("aten::reflection_pad1d.default", "aten::reflection_pad2d.default", "aten::reflection_pad3d.default")
def aten_reflection_pad(ctx: Ctx, self: Value, padding: Sequence[Any]) -> Value:
    """reflection_pad2d(Tensor self, SymInt[4] padding) -> Tensor"""
    return _pad(ctx, self, padding, "reflect")


@aten("aten::replication_pad1d.default", "aten::replication_pad2d.default", "aten::replication_pad3d.default")
def aten_replication_pad(ctx: Ctx, self: Value, padding: Sequence[Any]) -> Value:
    """replication_pad2d(Tensor self, SymInt[4] padding) -> Tensor"""
    return _pad(ctx, self, padding, "replicate")


@aten("aten::_pad_circular.default")
def aten_pad_circular(ctx: Ctx, self: Value, pad: Sequence[Any]) -> Value:
    """_pad_circular(Tensor self, SymInt[] pad) -> Tensor"""
    return _pad(ctx, self, pad, "circular")
