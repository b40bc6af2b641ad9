"""Neural-network layers (3/3): upsampling, pixel (un)shuffle and padding -> ONNX Resize,
DepthToSpace, Reshape/Transpose and Pad. Each function's docstring is the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_nn import n_spatial_from_name as _n_spatial
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.node import Value

# torch interpolation mode -> Resize (mode, coordinate_transformation_mode, nearest_mode)
_NEAREST = ("nearest", "asymmetric", "floor")  # src = floor(dst * in / out)
# src = floor((dst + 0.5) * in / out) = round-half-up of half_pixel's (dst + 0.5) * in / out - 0.5
_NEAREST_EXACT = ("nearest", "half_pixel", "round_prefer_ceil")


def _resize(ctx: Ctx, x: Value, n: int, output_size: Any, scales: Sequence[float | None] | None, mode: str,
            coord: str, nearest_mode: str = "") -> Value:
    """Resize the last ``n`` dims of ``x`` to ``output_size``, or by ``scales`` when torch has
    them (torch then maps coordinates with 1/scale, as Resize does with its scales input)."""
    attrs: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": coord}
    if nearest_mode:
        attrs["nearest_mode"] = nearest_mode
    if mode == "cubic":
        attrs["cubic_coeff_a"] = -0.75  # torch's bicubic kernel (ONNX default too; explicit for clarity)
    rank = ctx.rank(x)
    have_scales = scales is not None and all(s is not None for s in scales)
    # align_corners maps with (in-1)/(out-1) whatever the scale, so sizes are exact there
    if have_scales and (output_size is None or coord != "align_corners"):
        full = [1.0] * (rank - n) + [float(s) for s in scales]
        return ctx.op("Resize", [x, None, ctx.const(np.array(full, np.float32))], attrs)
    if output_size is None:
        raise ctx.fail("interpolation without output_size or scale_factors")
    lead = ctx.op("Shape", [x], {"start": 0, "end": rank - n})
    sizes = ctx.op("Concat", [lead, ctx.ints(list(output_size))], {"axis": 0})
    return ctx.op("Resize", [x, None, None, sizes], attrs)


def _linear(ctx: Ctx, x: Value, output_size: Any, align_corners: bool, scales: Any, mode: str) -> Value:
    """(bi/tri)linear and bicubic: torch's align_corners=False is ONNX half_pixel (torch clamps
    negative source coordinates to 0, as Resize's linear interpolation does)."""
    coord = "align_corners" if align_corners else "half_pixel"
    return _resize(ctx, x, _n_spatial(ctx), output_size, scales, mode, coord)


def _scales_default(*scales: float | None) -> list[float | None] | None:
    return None if all(s is None for s in scales) else list(scales)


# ---------------------------------------------------------------- nearest
@aten("aten::upsample_nearest1d.vec", "aten::upsample_nearest2d.vec", "aten::upsample_nearest3d.vec")
def aten_upsample_nearest_vec(ctx: Ctx, input: Value, output_size: Any, scale_factors: Any) -> Value:
    """upsample_nearest2d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor"""
    return _resize(ctx, input, _n_spatial(ctx), output_size, scale_factors, *_NEAREST)


@aten("aten::upsample_nearest1d.default", "aten::upsample_nearest2d.default", "aten::upsample_nearest3d.default")
def aten_upsample_nearest(ctx: Ctx, self: Value, output_size: Any, *scales: float | None) -> Value:
    """upsample_nearest2d(Tensor self, SymInt[2] output_size, float? scales_h=None, float? scales_w=None) -> Tensor"""
    return _resize(ctx, self, _n_spatial(ctx), output_size, _scales_default(*scales), *_NEAREST)


@aten("aten::_upsample_nearest_exact1d.vec", "aten::_upsample_nearest_exact2d.vec",
      "aten::_upsample_nearest_exact3d.vec")
def aten_upsample_nearest_exact_vec(ctx: Ctx, input: Value, output_size: Any, scale_factors: Any) -> Value:
    """_upsample_nearest_exact2d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor"""
    return _resize(ctx, input, _n_spatial(ctx), output_size, scale_factors, *_NEAREST_EXACT)


@aten("aten::_upsample_nearest_exact1d.default", "aten::_upsample_nearest_exact2d.default",
      "aten::_upsample_nearest_exact3d.default")
def aten_upsample_nearest_exact(ctx: Ctx, self: Value, output_size: Any, *scales: float | None) -> Value:
    """_upsample_nearest_exact2d(Tensor self, SymInt[2] output_size, float? scales_h=None, float? scales_w=None) -> Tensor"""
    return _resize(ctx, self, _n_spatial(ctx), output_size, _scales_default(*scales), *_NEAREST_EXACT)


# ---------------------------------------------------------------- linear / cubic
@aten("aten::upsample_linear1d.vec", "aten::upsample_bilinear2d.vec", "aten::upsample_trilinear3d.vec")
def aten_upsample_linear_vec(ctx: Ctx, input: Value, output_size: Any, align_corners: bool,
                             scale_factors: Any) -> Value:
    """upsample_bilinear2d.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor"""
    return _linear(ctx, input, output_size, align_corners, scale_factors, "linear")


@aten("aten::upsample_linear1d.default", "aten::upsample_bilinear2d.default", "aten::upsample_trilinear3d.default")
def aten_upsample_linear(ctx: Ctx, self: Value, output_size: Any, align_corners: bool,
                         *scales: float | None) -> Value:
    """upsample_bilinear2d(Tensor self, SymInt[2] output_size, bool align_corners, float? scales_h=None, float? scales_w=None) -> Tensor"""
    return _linear(ctx, self, output_size, align_corners, _scales_default(*scales), "linear")


@aten("aten::upsample_bicubic2d.vec")
def aten_upsample_bicubic2d_vec(ctx: Ctx, input: Value, output_size: Any, align_corners: bool,
                                scale_factors: Any) -> Value:
    """upsample_bicubic2d.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor"""
    return _linear(ctx, input, output_size, align_corners, scale_factors, "cubic")


@aten("aten::upsample_bicubic2d.default")
def aten_upsample_bicubic2d(ctx: Ctx, self: Value, output_size: Any, align_corners: bool,
                            scales_h: float | None = None, scales_w: float | None = None) -> Value:
    """upsample_bicubic2d(Tensor self, SymInt[2] output_size, bool align_corners, float? scales_h=None, float? scales_w=None) -> Tensor"""
    return _linear(ctx, self, output_size, align_corners, _scales_default(scales_h, scales_w), "cubic")


def _aa_matrix(aa_op: Any, n_in: int, n_out: int, align_corners: bool, scale: float | None) -> np.ndarray:
    """The (n_out, n_in) matrix torch's antialiased 1-D resampling applies: torch run on the
    identity basis (its 2-D kernel is separable, one pass per axis)."""
    import torch

    basis = torch.eye(n_in, dtype=torch.float64).reshape(1, n_in, 1, n_in)
    if scale is None:
        y = aa_op(basis, [1, n_out], align_corners, None)
    else:  # torch maps coordinates with 1/scale then, not n_in/n_out
        y = aa_op(basis, None, align_corners, [1.0, float(scale)])
    return y.reshape(n_in, n_out).T.numpy()


def _antialiased(ctx: Ctx, x: Value, align_corners: bool, scales: Any, bicubic: bool) -> Value:
    """torch's antialias filter (PIL-style, renormalised at the borders) differs from Resize's
    antialias near the edges, so apply its exact per-axis matrices: A_h @ x @ A_w^T."""
    import torch

    aa_op = torch.ops.aten._upsample_bicubic2d_aa.vec if bicubic else torch.ops.aten._upsample_bilinear2d_aa.vec
    ins, outs = (x.shape or ())[-2:], list(ctx.meta(0).shape[-2:])
    if not all(isinstance(d, int) for d in [*ins, *outs]):
        raise ctx.fail(f"antialiased interpolation needs static spatial sizes, got {ins} -> {outs}")
    sc = list(scales) if scales is not None else [None, None]
    dt = ctx.dtype(x)
    rows = _aa_matrix(aa_op, ins[0], outs[0], align_corners, sc[0])
    cols = _aa_matrix(aa_op, ins[1], outs[1], align_corners, sc[1])
    y = ctx.op("MatMul", [ctx.const(rows, dt), x])
    return ctx.op("MatMul", [y, ctx.const(np.ascontiguousarray(cols.T), dt)])


@aten("aten::_upsample_bilinear2d_aa.vec", "aten::_upsample_bicubic2d_aa.vec")
def aten_upsample_aa_vec(ctx: Ctx, input: Value, output_size: Any, align_corners: bool,
                         scale_factors: Any) -> Value:
    """_upsample_bilinear2d_aa.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor"""
    bicubic = "bicubic" in str(ctx.node.target if ctx.node is not None else "")
    return _antialiased(ctx, input, align_corners, scale_factors, bicubic)


@aten("aten::_upsample_bilinear2d_aa.default", "aten::_upsample_bicubic2d_aa.default")
def aten_upsample_aa(ctx: Ctx, self: Value, output_size: Any, align_corners: bool, scales_h: float | None = None,
                     scales_w: float | None = None) -> Value:
    """_upsample_bilinear2d_aa(Tensor self, SymInt[2] output_size, bool align_corners, float? scales_h=None, float? scales_w=None) -> Tensor"""
    bicubic = "bicubic" in str(ctx.node.target if ctx.node is not None else "")
    return _antialiased(ctx, self, align_corners, _scales_default(scales_h, scales_w), bicubic)


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

