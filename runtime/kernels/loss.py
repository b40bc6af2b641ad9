"""Kernels: classification losses (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss)."""

from __future__ import annotations

import numpy as np

from tensorbridge.runtime.registry import kernel


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
