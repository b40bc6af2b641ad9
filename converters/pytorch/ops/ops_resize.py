"""Upsampling: nearest / nearest-exact / linear / bicubic / antialiased upsample_* ->
ONNX Resize. Each function's docstring first line is the ATen schema."""

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
