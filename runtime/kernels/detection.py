"""Kernels: object-detection ops (NonMaxSuppression, RoiAlign).

RoiAlign loops over the boxes (a small, data-sized batch) and is vectorised over channels
and bins inside each box.
"""

from __future__ import annotations

import numpy as np

from tensorbridge.runtime.kernels._spatial import compute_dtype
from tensorbridge.runtime.registry import kernel


def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """[..., 4] boxes -> [..., 4] as (lo0, lo1, hi0, hi1) with lo <= hi on both axes."""
    if center_point_box == 0:
        # Any diagonal pair of corners is allowed, so order each axis explicitly.
        a, b = boxes[..., 0:2], boxes[..., 2:4]
        return np.concatenate((np.minimum(a, b), np.maximum(a, b)), axis=-1)
    if center_point_box == 1:
        center, half = boxes[..., 0:2], boxes[..., 2:4] / 2
        return np.concatenate((center - half, center + half), axis=-1)
    raise ValueError(f"NonMaxSuppression center_point_box must be 0 or 1, got {center_point_box}")


def _iou_matrix(c: np.ndarray) -> np.ndarray:
    """Pairwise IoU of [n, 4] corner boxes -> [n, n]; boxes with zero union score 0."""
    lo = np.maximum(c[:, None, :2], c[None, :, :2])
    hi = np.minimum(c[:, None, 2:], c[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = np.prod(c[:, 2:] - c[:, :2], axis=-1)
    union = area[:, None] + area[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def _nms_one(corners: np.ndarray, scores: np.ndarray, max_out: int, iou_thr: float,
             score_thr: float | None) -> list[int]:
    """Greedy NMS of one (batch, class): indices of kept boxes in selection order."""
    order = np.argsort(-scores, kind="stable")
    if score_thr is not None:
        # Strict '>' as onnxruntime and TensorFlow do: a box scoring exactly the threshold goes.
        order = order[scores[order] > score_thr]
    iou = _iou_matrix(corners[order])
    suppressed = np.zeros(order.size, dtype=bool)
    kept: list[int] = []
    # Greedy selection is inherently sequential; each step is vectorised over the candidates.
    for i in range(order.size):
        if suppressed[i]:
            continue
        kept.append(int(order[i]))
        if len(kept) >= max_out:
            break
        suppressed |= iou[i] > iou_thr
    return kept


@kernel("NonMaxSuppression", since=10)
def non_max_suppression(boxes: np.ndarray, scores: np.ndarray,
                        max_output_boxes_per_class: np.ndarray | None = None,
                        iou_threshold: np.ndarray | None = None,
                        score_threshold: np.ndarray | None = None, *,
                        center_point_box: int = 0) -> np.ndarray:
    """NonMaxSuppression-10: boxes[B, n, 4], scores[B, C, n] -> selected_indices[k, 3]."""
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or scores.ndim != 3:
        raise ValueError(f"NonMaxSuppression expects boxes [B, n, 4] and scores [B, C, n], got "
                         f"{boxes.shape} and {scores.shape}")
    if boxes.shape[0] != scores.shape[0] or boxes.shape[1] != scores.shape[2]:
        raise ValueError(f"NonMaxSuppression: boxes {boxes.shape} and scores {scores.shape} disagree")
    max_out = 0 if max_output_boxes_per_class is None else int(np.asarray(max_output_boxes_per_class).reshape(-1)[0])
    iou_thr = 0.0 if iou_threshold is None else float(np.asarray(iou_threshold).reshape(-1)[0])
    score_thr = None if score_threshold is None else float(np.asarray(score_threshold).reshape(-1)[0])
    rows: list[tuple[int, int, int]] = []
    if max_out > 0:
        corners = _corners(boxes.astype(np.float64), center_point_box)
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                kept = _nms_one(corners[b], scores[b, c], max_out, iou_thr, score_thr)
                rows.extend((b, c, k) for k in kept)
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _sample_axis(start: float, extent: float, pooled: int, grid: int,
                 size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis for RoiAlign's regular sampling grid.

    Returns the low and high cell of every sample, shape (pooled * grid,), and their
    weights, shape (2, pooled * grid). Samples more than one cell outside the image get
    zero weights; the others are clamped into it.
    """
    bin_size = extent / pooled
    pos = (start + np.arange(pooled)[:, None] * bin_size
           + (np.arange(grid)[None, :] + 0.5) * bin_size / grid).reshape(-1)
    valid = (pos >= -1.0) & (pos <= size)
    pos = np.clip(pos, 0.0, None)
    low = np.floor(pos).astype(np.int64)
    at_edge = low >= size - 1
    low = np.where(at_edge, size - 1, low)
    high = np.where(at_edge, size - 1, low + 1)
    frac = np.where(at_edge, 0.0, pos - low)
    return low, high, np.stack([(1.0 - frac) * valid, frac * valid])


def _roi_align_one(img: np.ndarray, box: np.ndarray, out_hw: tuple[int, int], ratio: int,
                   half_pixel: bool, mode: str) -> np.ndarray:
    """RoiAlign of one box over img (C, H, W) -> (C, out_h, out_w)."""
    oh, ow = out_hw
    c, h, w = img.shape
    shift = 0.5 if half_pixel else 0.0
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, y1, x2, y2 = x1 - shift, y1 - shift, x2 - shift, y2 - shift
    rh, rw = y2 - y1, x2 - x1
    if not half_pixel:  # the legacy mode forces boxes to be at least one cell
        rh, rw = max(rh, 1.0), max(rw, 1.0)
    gh = ratio if ratio > 0 else int(np.ceil(rh / oh))
    gw = ratio if ratio > 0 else int(np.ceil(rw / ow))
    gh, gw = max(gh, 1), max(gw, 1)
    ylo, yhi, wy = _sample_axis(y1, rh, oh, gh, h)
    xlo, xhi, wx = _sample_axis(x1, rw, ow, gw, w)
    if mode == "avg":
        # Bilinear sampling is separable: one (oh*gh, H) and one (ow*gw, W) weight matrix.
        ay = np.zeros((oh * gh, h))
        np.add.at(ay, (np.arange(oh * gh), ylo), wy[0])
        np.add.at(ay, (np.arange(oh * gh), yhi), wy[1])
        ax = np.zeros((ow * gw, w))
        np.add.at(ax, (np.arange(ow * gw), xlo), wx[0])
        np.add.at(ax, (np.arange(ow * gw), xhi), wx[1])
        ay = ay.reshape(oh, gh, h).sum(axis=1) / (gh * gw)
        ax = ax.reshape(ow, gw, w).sum(axis=1)
        ct = img.dtype
        return np.einsum("ph,chw,qw->cpq", ay.astype(ct), img, ax.astype(ct), optimize=True)
    # max: the maximum over samples of the largest weighted corner (onnxruntime's rule,
    # which the ONNX conformance data follows), not of the interpolated value.
    rows = np.stack([ylo, yhi])  # (2, oh*gh)
    cols = np.stack([xlo, xhi])  # (2, ow*gw)
    vals = img[:, rows[:, :, None, None], cols[None, None, :, :]]  # (C, 2, oh*gh, 2, ow*gw)
    wts = wy[:, :, None, None] * wx[None, None, :, :]
    corner = (vals * wts.astype(img.dtype)).max(axis=(1, 3))  # (C, oh*gh, ow*gw)
    return corner.reshape(c, oh, gh, ow, gw).max(axis=(2, 4))


def _roi_align(X: np.ndarray, rois: np.ndarray, batch_indices: np.ndarray, mode: str,
               output_height: int, output_width: int, sampling_ratio: int,
               spatial_scale: float, half_pixel: bool) -> np.ndarray:
    if X.ndim != 4 or rois.ndim != 2 or rois.shape[1] != 4:
        raise ValueError(f"RoiAlign: X must be (N, C, H, W) and rois (R, 4), got {X.shape} "
                         f"and {rois.shape}")
    if batch_indices.shape != (rois.shape[0],):
        raise ValueError(f"RoiAlign: batch_indices must have shape ({rois.shape[0]},), got "
                         f"{batch_indices.shape}")
    if mode not in ("avg", "max"):
        raise ValueError(f"RoiAlign: mode must be 'avg' or 'max', got {mode!r}")
    ct = compute_dtype(X.dtype)
    x = X.astype(ct, copy=False)
    y = np.empty((rois.shape[0], X.shape[1], output_height, output_width), dtype=ct)
    boxes = rois.astype(np.float64) * spatial_scale
    if batch_indices.size and (batch_indices.min() < 0 or batch_indices.max() >= X.shape[0]):
        raise ValueError(f"RoiAlign: batch_indices must lie in [0, {X.shape[0]})")
    for r in range(rois.shape[0]):
        y[r] = _roi_align_one(x[int(batch_indices[r])], boxes[r], (output_height, output_width),
                              sampling_ratio, half_pixel, mode)
    return y.astype(X.dtype, copy=False)


@kernel("RoiAlign", since=16)
def roi_align(X: np.ndarray, rois: np.ndarray, batch_indices: np.ndarray, *,
              coordinate_transformation_mode: str = "half_pixel", mode: str = "avg",
              output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
              spatial_scale: float = 1.0) -> np.ndarray:
    """RoiAlign-16/22: bilinear RoI pooling of boxes (x1, y1, x2, y2), with the half-pixel
    shift unless coordinate_transformation_mode is "output_half_pixel" (which RoiAlign-10
    is rewritten to by ir/op_versions.py)."""
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise ValueError("RoiAlign: coordinate_transformation_mode must be 'half_pixel' or "
                         f"'output_half_pixel', got {coordinate_transformation_mode!r}")
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width,
                      sampling_ratio, spatial_scale,
                      half_pixel=coordinate_transformation_mode == "half_pixel")
