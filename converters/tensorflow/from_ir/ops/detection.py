"""Detection emitters: NonMaxSuppression and RoiAlign (half-precision inputs computed in
float32 and cast back, as the runtime kernels do)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.ops.cast import work_precision
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError

LAYER = "TensorFlow emitter"


def _scalar_int(v: Any) -> Any:
    return tf.reshape(tf.cast(v, tf.int64), [-1])[0]


# ---------------------------------------------------------------------- non-max suppression


def _corners(boxes: Any, center_point_box: int) -> Any:
    """[..., 4] boxes -> (lo0, lo1, hi0, hi1) corners (tf's NMS orders diagonal corners itself)."""
    if center_point_box == 0:
        return boxes
    if center_point_box == 1:
        center, half = boxes[..., 0:2], boxes[..., 2:4] / 2
        return tf.concat([center - half, center + half], axis=-1)
    raise ValueError(f"NonMaxSuppression center_point_box must be 0 or 1, got {center_point_box}")


@emits("NonMaxSuppression", since=10)
def non_max_suppression(boxes: Any, scores: Any, max_output_boxes_per_class: Any = None,
                        iou_threshold: Any = None, score_threshold: Any = None, *,
                        center_point_box: int = 0) -> Any:
    """NonMaxSuppression-10/11: boxes[B, n, 4], scores[B, C, n] -> selected_indices[k, 3]
    (greedy per batch and class with tf.image.non_max_suppression)."""
    n_batch, n_class = scores.shape[0], scores.shape[1]
    if n_batch is None or n_class is None:
        raise UnsupportedOpError(LAYER, "NonMaxSuppression", hint="the batch and class counts "
                                 "of scores must be static; give the model static input shapes")
    if max_output_boxes_per_class is None:
        return tf.zeros([0, 3], tf.int64)
    max_out = tf.cast(tf.maximum(_scalar_int(max_output_boxes_per_class), 0), tf.int32)
    iou = 0.0 if iou_threshold is None else tf.reshape(tf.cast(iou_threshold, tf.float32), [-1])[0]
    # tf keeps scores > threshold (strict, as onnxruntime); None keeps every box
    score = (float("-inf") if score_threshold is None
             else tf.reshape(tf.cast(score_threshold, tf.float32), [-1])[0])
    corners = tf.cast(_corners(boxes, center_point_box), tf.float32)
    rows = []
    for b in range(n_batch):
        for c in range(n_class):
            kept = tf.image.non_max_suppression(corners[b], tf.cast(scores[b, c], tf.float32),
                                                max_out, iou, score)
            kept = tf.cast(kept, tf.int64)[:, None]
            fixed = tf.broadcast_to(tf.constant([[b, c]], tf.int64), [tf.shape(kept)[0], 2])
            rows.append(tf.concat([fixed, kept], axis=1))
    return tf.concat(rows, axis=0)


def _sample_axis(start: Any, extent: Any, pooled: int, grid: int, size: Any) -> tuple[Any, Any]:
    """RoiAlign's bilinear taps along one axis for every roi: (R, pooled, size) weight
    matrices of the low and high cell, the samples of one bin summed (avg) or kept apart."""
    dt = start.dtype
    bin_size = extent / pooled  # (R,)
    p = tf.range(pooled, dtype=dt)[:, None]
    g = (tf.range(grid, dtype=dt)[None, :] + 0.5) / grid
    pos = start[:, None, None] + (p + g)[None] * bin_size[:, None, None]  # (R, pooled, grid)
    fsize = tf.cast(size, dt)
    valid = tf.cast((pos >= -1.0) & (pos <= fsize), dt)
    pos = tf.maximum(pos, 0.0)
    low = tf.floor(pos)
    at_edge = low >= fsize - 1
    low = tf.where(at_edge, fsize - 1, low)
    high = tf.where(at_edge, fsize - 1, low + 1)
    frac = tf.where(at_edge, tf.zeros_like(pos), pos - low)
    w_low = tf.one_hot(tf.cast(low, tf.int32), size, dtype=dt) * ((1.0 - frac) * valid)[..., None]
    w_high = tf.one_hot(tf.cast(high, tf.int32), size, dtype=dt) * (frac * valid)[..., None]
    return w_low, w_high  # (R, pooled, grid, size)


def _roi_align(X: Any, rois: Any, batch_indices: Any, mode: str, output_height: int,
               output_width: int, sampling_ratio: int, spatial_scale: float,
               half_pixel: bool) -> Any:
    if mode not in ("avg", "max"):
        raise ValueError(f"RoiAlign: mode must be 'avg' or 'max', got {mode!r}")
    if sampling_ratio <= 0:
        raise UnsupportedOpError(LAYER, "RoiAlign", hint="sampling_ratio=0 (adaptive per-roi "
                                 "sample counts) is not supported; set a positive sampling_ratio")
    x = work_precision(X)
    img = tf.gather(x, tf.cast(batch_indices, tf.int32))  # (R, C, H, W)
    boxes = tf.cast(rois, x.dtype) * spatial_scale - (0.5 if half_pixel else 0.0)
    x1, y1, x2, y2 = tf.unstack(boxes, axis=1)
    rh, rw = y2 - y1, x2 - x1
    if not half_pixel:  # the legacy mode forces boxes to be at least one cell
        rh, rw = tf.maximum(rh, 1.0), tf.maximum(rw, 1.0)
    h, w = tf.shape(x)[2], tf.shape(x)[3]
    g = sampling_ratio
    ylo, yhi = _sample_axis(y1, rh, output_height, g, h)
    xlo, xhi = _sample_axis(x1, rw, output_width, g, w)
    if mode == "avg":
        ay = tf.reduce_sum(ylo + yhi, axis=2) / (g * g)
        ax = tf.reduce_sum(xlo + xhi, axis=2)
        y = tf.einsum("rph,rchw,rqw->rcpq", ay, img, ax)
    else:
        # max: the maximum over samples of the largest weighted corner (onnxruntime's rule,
        # which the ONNX conformance data follows), not of the interpolated value
        corners = [tf.einsum("rpih,rchw,rqjw->rcpiqj", wy, img, wx)
                   for wy in (ylo, yhi) for wx in (xlo, xhi)]
        y = tf.reduce_max(tf.reduce_max(tf.stack(corners), axis=0), axis=[3, 5])
    return tf.cast(y, X.dtype)


@emits("RoiAlign", since=16)
def roi_align(X: Any, rois: Any, batch_indices: Any, *,
              coordinate_transformation_mode: str = "half_pixel", mode: str = "avg",
              output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
              spatial_scale: float = 1.0) -> Any:
    """RoiAlign-16/22: bilinear RoI pooling of boxes (x1, y1, x2, y2), with the half-pixel
    shift unless "output_half_pixel" (RoiAlign-10, rewritten so by ir/op_versions.py)."""
    if coordinate_transformation_mode not in ("half_pixel", "output_half_pixel"):
        raise ValueError("RoiAlign: coordinate_transformation_mode must be 'half_pixel' or "
                         f"'output_half_pixel', got {coordinate_transformation_mode!r}")
    return _roi_align(X, rois, batch_indices, mode, output_height, output_width,
                      sampling_ratio, spatial_scale,
                      half_pixel=coordinate_transformation_mode == "half_pixel")
