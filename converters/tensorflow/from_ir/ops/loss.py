"""Loss emitters: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
(half-precision inputs computed in float32 and cast back, as the runtime kernels do)."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.ops.cast import work_precision
from tensorbridge.converters.tensorflow.from_ir.registry import emits

LAYER = "TensorFlow emitter"


# -------------------------------------------------------------------------------- losses


def _nll(log_prob: Any, target: Any, weight: Any, ignore_index: int | None,
         reduction: str, op: str) -> Any:
    """Weighted NLL of log-probabilities [N, C, d...] against class indices [N, d...]."""
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{op} reduction must be 'none', 'sum' or 'mean', got {reduction!r}")
    rank = log_prob.shape.rank
    target = tf.cast(target, tf.int64)
    valid = None if ignore_index is None else tf.not_equal(target, ignore_index)
    safe = target if valid is None else tf.where(valid, target, tf.zeros_like(target))
    classes_last = tf.transpose(log_prob, [0, *range(2, rank), 1])
    loss = -tf.gather(classes_last, safe, axis=rank - 1, batch_dims=rank - 1)
    w = None if weight is None else tf.gather(tf.cast(weight, log_prob.dtype), safe)
    if valid is not None:
        w = tf.cast(valid, log_prob.dtype) if w is None else tf.where(valid, w, tf.zeros_like(w))
    if w is not None:
        loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return tf.reduce_sum(loss)
    # 'mean' divides by the total applied weight, so ignored samples do not dilute it
    return tf.reduce_mean(loss) if w is None else tf.reduce_sum(loss) / tf.reduce_sum(w)


@emits("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input: Any, target: Any, weight: Any = None, *,
                                 ignore_index: int | None = None,
                                 reduction: str = "mean") -> Any:
    """NegativeLogLikelihoodLoss-12/13/22: input[N, C, d...], target[N, d...], weight[C]?
    -> loss."""
    loss = _nll(work_precision(input), target, weight, ignore_index, reduction, "NegativeLogLikelihoodLoss")
    return tf.cast(loss, input.dtype)


@emits("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores: Any, labels: Any, weights: Any = None, *,
                               ignore_index: int | None = None, reduction: str = "mean",
                               ctx: EmitContext) -> Any:
    """SoftmaxCrossEntropyLoss-12/13: scores[N, C, d...], labels[N, d...], weights[C]?
    -> (output, log_prob?)."""
    log_prob = tf.nn.log_softmax(work_precision(scores), axis=1)
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, "SoftmaxCrossEntropyLoss")
    loss = tf.cast(loss, scores.dtype)
    if ctx.n_outputs < 2:
        return loss
    return loss, tf.cast(log_prob, scores.dtype)
