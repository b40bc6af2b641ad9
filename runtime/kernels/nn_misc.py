"""Kernels: miscellaneous neural-network ops (non-max suppression, classification losses)."""

from __future__ import annotations

import numpy as np

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


def _nll(log_prob: np.ndarray, target: np.ndarray, weight: np.ndarray | None,
         ignore_index: int | None, reduction: str, op: str) -> np.ndarray:
    """Weighted NLL of log-probabilities [N, C, d...] against class indices [N, d...]."""
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{op} reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
    if log_prob.ndim < 2 or target.shape != log_prob.shape[:1] + log_prob.shape[2:]:
        raise ValueError(f"{op}: target shape {target.shape} must be input shape "
                         f"{log_prob.shape} without the class axis 1")
    classes = log_prob.shape[1]
    valid = None if ignore_index is None else target != ignore_index
    safe = target if valid is None else np.where(valid, target, 0)
    if np.any((safe < 0) | (safe >= classes)):
        raise ValueError(f"{op}: target values must lie in [0, {classes}) or equal ignore_index")
    loss = -np.take_along_axis(log_prob, np.expand_dims(safe, 1), axis=1)[:, 0]
    w = None if weight is None else weight.astype(log_prob.dtype, copy=False)[safe]
    if valid is not None:
        w = valid.astype(log_prob.dtype) if w is None else np.where(valid, w, 0)
    if w is not None:
        loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    # 'mean' divides by the total applied weight, so ignored samples do not dilute it.
    return loss.mean() if w is None else loss.sum() / w.sum()


def _work(x: np.ndarray) -> np.ndarray:
    """Half-precision inputs are reduced in float32 to keep sums accurate."""
    return x.astype(np.float32) if x.dtype.itemsize < 4 else x


@kernel("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input: np.ndarray, target: np.ndarray,
                                 weight: np.ndarray | None = None, *,
                                 ignore_index: int | None = None,
                                 reduction: str = "mean") -> np.ndarray:
    """NegativeLogLikelihoodLoss-12: input[N, C, d...], target[N, d...], weight[C]? -> loss."""
    loss = _nll(_work(input), target, weight, ignore_index, reduction, "NegativeLogLikelihoodLoss")
    return np.asarray(loss).astype(input.dtype, copy=False)


@kernel("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores: np.ndarray, labels: np.ndarray,
                               weights: np.ndarray | None = None, *,
                               ignore_index: int | None = None,
                               reduction: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """SoftmaxCrossEntropyLoss-12: scores[N, C, d...], labels[N, d...], weights[C]?
    -> (output, log_prob)."""
    x = _work(scores)
    shifted = x - x.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, "SoftmaxCrossEntropyLoss")
    return (np.asarray(loss).astype(scores.dtype, copy=False),
            log_prob.astype(scores.dtype, copy=False))
