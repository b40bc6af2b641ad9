"""Loss emitters: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (torch's
``F.nll_loss``; float16/bfloat16 computed in float32 and cast back)."""

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


# ------------------------------------------------------------------------------ losses


def _nll(log_prob: Any, target: Any, weight: Any, ignore_index: int | None,
         reduction: str, dtype: torch.dtype | None) -> Any:
    if reduction not in ("none", "sum", "mean"):
        raise UnsupportedOpError(LAYER, "NegativeLogLikelihoodLoss",
                                 hint=f"reduction must be none, sum or mean, got {reduction!r}")
    w = None if weight is None else T(weight).to(dtype)
    # torch's default ignore_index (-100) is never a valid ONNX class index
    ii = -100 if ignore_index is None else ignore_index
    return F.nll_loss(log_prob, T(target).long(), w, ignore_index=ii, reduction=reduction)


@emits("NegativeLogLikelihoodLoss", since=12)
def negative_log_likelihood_loss(input: Any, target: Any, weight: Any = None, *,
                                 ignore_index: int | None = None,
                                 reduction: str = "mean", ctx: EmitContext | None = None) -> Any:
    """NegativeLogLikelihoodLoss-12/13/22: input[N, C, d...], target[N, d...], weight[C]?"""
    x = T(input)
    dtype = info(x, ctx).dtype
    ct = work_dtype(dtype)
    return _nll(x.to(ct), target, weight, ignore_index, reduction, ct).to(dtype)


@emits("SoftmaxCrossEntropyLoss", since=12)
def softmax_cross_entropy_loss(scores: Any, labels: Any, weights: Any = None, *,
                               ignore_index: int | None = None,
                               reduction: str = "mean", ctx: EmitContext) -> Any:
    """SoftmaxCrossEntropyLoss-12/13: -> output[, log_prob]."""
    x = T(scores)
    dtype = info(x, ctx).dtype
    ct = work_dtype(dtype)
    log_prob = F.log_softmax(x.to(ct), dim=1)
    loss = _nll(log_prob, labels, weights, ignore_index, reduction, ct)
    if ctx.n_outputs < 2:
        return loss.to(dtype)
    return loss.to(dtype), log_prob.to(dtype)
