"""Detection emitters: NonMaxSuppression and RoiAlign.

Per-box geometry is computed with tensor ops (vectorised over batch, class and box), never
read back from the data; only NonMaxSuppression's final ``nonzero`` is data-sized."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.ops.cast import (
    work_dtype,
)
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "PyTorch emitter"


# -------------------------------------------------------------------- NMS / RoiAlign


def _corners(boxes: Any, center_point_box: int) -> Any:
    """[..., 4] boxes -> (lo0, lo1, hi0, hi1) with lo <= hi on both axes."""
    a, b = boxes[..., 0:2], boxes[..., 2:4]
    if center_point_box == 0:  # any diagonal pair of corners is allowed
        return torch.cat((torch.minimum(a, b), torch.maximum(a, b)), dim=-1)
    if center_point_box == 1:
        return torch.cat((a - b / 2, a + b / 2), dim=-1)
    raise UnsupportedOpError(LAYER, "NonMaxSuppression",
                             hint=f"center_point_box must be 0 or 1, got {center_point_box}")


def _iou(c: Any) -> Any:
    """Pairwise IoU of [..., n, 4] corner boxes -> [..., n, n] (zero union scores 0)."""
    lo = torch.maximum(c[..., :, None, :2], c[..., None, :, :2])
    hi = torch.minimum(c[..., :, None, 2:], c[..., None, :, 2:])
    inter = (hi - lo).clamp_min(0).prod(-1)
    area = (c[..., 2:] - c[..., :2]).prod(-1)
    union = area[..., :, None] + area[..., None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, 1.0), 0.0)


@emits("NonMaxSuppression", since=10)
def non_max_suppression(boxes: Any, scores: Any, max_output_boxes_per_class: Any = None,
                        iou_threshold: Any = None, score_threshold: Any = None, *,
                        center_point_box: int = 0, ctx: EmitContext | None = None) -> Any:
    """NonMaxSuppression-10/11: boxes[B, n, 4], scores[B, C, n] -> selected[k, 3].

    Greedy selection over the n boxes in score order, vectorised over batch and class;
    the thresholds stay tensors (no reads), only the final nonzero is data-sized."""
    bx, sc = T(boxes).double(), T(scores)
    nb, nc, n = info(sc, ctx, 1).shape
    order = torch.argsort(sc, dim=-1, descending=True, stable=True)  # [B, C, n]
    ranked = torch.gather(sc, 2, order)
    corners = _corners(bx, center_point_box)[:, None].expand(nb, nc, n, 4)
    iou = _iou(torch.gather(corners, 2, order[..., None].expand(nb, nc, n, 4)))
    limit = 0 if max_output_boxes_per_class is None else T(max_output_boxes_per_class).reshape(())
    thr = 0.0 if iou_threshold is None else T(iou_threshold).reshape(()).double()
    # strict '>' as onnxruntime: a box scoring exactly the threshold is dropped
    ok = torch.ones_like(ranked, dtype=torch.bool) if score_threshold is None else \
        ranked > T(score_threshold).reshape(())
    suppressed = torch.zeros_like(ok)
    count = torch.zeros(nb, nc, dtype=torch.int64)
    keep = [torch.zeros(nb, nc, 0, dtype=torch.bool)]
    for i in range(n):  # greedy NMS is sequential in the boxes, static in their number
        take = ok[..., i] & ~suppressed[..., i] & (count < limit)
        keep.append(take[..., None])
        suppressed = suppressed | (take[..., None] & (iou[..., i, :] > thr))
        count = count + take.long()
    picked = torch.cat(keep, dim=-1).nonzero()  # rows (b, c, rank), in selection order
    index = order[picked[:, 0], picked[:, 1], picked[:, 2]]
    return torch.stack((picked[:, 0], picked[:, 1], index), dim=1)


def _sample_axis(start: Any, extent: Any, pooled: int, grid: int, size: int) -> tuple[Any, ...]:
    """Bilinear taps of RoiAlign's regular sampling grid along one axis, per box:
    (low cell, high cell, low weight, high weight), each [R, pooled * grid]. Samples more
    than one cell outside the image weigh 0; the others are clamped into it."""
    f64 = torch.float64  # the boxes are converted to float64
    steps = (torch.arange(pooled, dtype=f64)[:, None]
             + (torch.arange(grid, dtype=f64)[None, :] + 0.5) / grid).reshape(-1)
    pos = start[:, None] + steps[None, :] * (extent / pooled)[:, None]
    valid = ((pos >= -1.0) & (pos <= size)).to(f64)
    pos = pos.clamp_min(0.0)
    low = pos.floor()
    edge = low >= size - 1
    low = torch.where(edge, size - 1.0, low)
    high = torch.where(edge, size - 1.0, low + 1)
    frac = torch.where(edge, 0.0, pos - low)
    return low.long(), high.long(), (1 - frac) * valid, frac * valid


def _roi_align(X: Any, rois: Any, batch_indices: Any, mode: str, oh: int, ow: int,
               sampling_ratio: int, spatial_scale: float, half_pixel: bool,
               ctx: EmitContext) -> Any:
    if mode not in ("avg", "max"):
        raise UnsupportedOpError(LAYER, "RoiAlign", hint=f"mode must be avg or max, got {mode!r}")
    if sampling_ratio <= 0:
        raise UnsupportedOpError(LAYER, "RoiAlign", hint="sampling_ratio=0 sizes the sampling "
                                 "grid from each box's data; set a fixed sampling_ratio > 0")
    x = T(X)
    xi = info(x, ctx)
    h, w = xi.shape[2:]
    boxes = T(rois).double() * spatial_scale - (0.5 if half_pixel else 0.0)
    rh, rw = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    if not half_pixel:  # the legacy mode forces boxes to be at least one cell
        rh, rw = rh.clamp_min(1.0), rw.clamp_min(1.0)
    g = sampling_ratio
    ylo, yhi, wy0, wy1 = _sample_axis(boxes[:, 1], rh, oh, g, h)
    xlo, xhi, wx0, wx1 = _sample_axis(boxes[:, 0], rw, ow, g, w)
    ct = work_dtype(xi.dtype)
    feats = x[T(batch_indices).long()].to(ct)  # [R, C, H, W]
    rows = [F.one_hot(i, h).to(ct) * wt[..., None].to(ct) for i, wt in ((ylo, wy0), (yhi, wy1))]
    cols = [F.one_hot(i, w).to(ct) * wt[..., None].to(ct) for i, wt in ((xlo, wx0), (xhi, wx1))]
    if mode == "avg":  # separable: one row and one column interpolation matrix per box
        ay = (rows[0] + rows[1]).unflatten(1, (oh, g)).sum(2) / (g * g)
        ax = (cols[0] + cols[1]).unflatten(1, (ow, g)).sum(2)
        return torch.einsum("rph,rchw,rqw->rcpq", ay, feats, ax).to(xi.dtype)
    # max: the maximum over samples of the largest weighted corner (onnxruntime's rule)
    corners = [torch.einsum("rph,rchw,rqw->rcpq", ay, feats, ax) for ay in rows for ax in cols]
    best = torch.stack(corners).amax(0).unflatten(3, (ow, g)).unflatten(2, (oh, g))
    return best.amax(dim=(3, 5)).to(xi.dtype)


@emits("RoiAlign", since=16)
def roi_align_16(X: Any, rois: Any, batch_indices: Any, *,
                 coordinate_transformation_mode: str = "half_pixel", mode: str = "avg",
                 output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
                 spatial_scale: float = 1.0, ctx: EmitContext) -> Any:
    """RoiAlign-16/22: adds coordinate_transformation_mode (half_pixel by default)."""
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise UnsupportedOpError(LAYER, "RoiAlign", hint="coordinate_transformation_mode must be "
                                 "half_pixel or output_half_pixel, got "
                                 f"{coordinate_transformation_mode!r}")
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width, sampling_ratio,
                      spatial_scale, coordinate_transformation_mode == "half_pixel", ctx)
