"""Emitters of the ai.onnx.ml domain: LinearClassifier, Normalizer, ZipMap (the runtime's
kernels are in runtime/kernels/ml.py; the label rules in ir/ml_math.py).

PyTorch has no string tensors: string labels come out as numpy object arrays of ``str``, the
runtime's representation, so a classifier with string labels runs eagerly only. ZipMap's
sequence of maps is a Python list with one dict per row, label -> the row's score as a 0-d
float32 tensor (the runtime's list of dicts, values kept as tensors so gradients flow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.from_ir.host import T
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.ml_math import (
    coefficient_rows,
    is_binary_classifier,
    post_transform_from,
    zip_map_labels,
)

LAYER = "PyTorch emitter"
ML = "ai.onnx.ml"


def _rows(X: Any) -> Any:
    """X as float32 rows [N, C] ([C] and a scalar are one row)."""
    x = T(X).to(torch.float32)
    return x.reshape(1, -1) if x.dim() <= 1 else x.reshape(-1, x.shape[-1])


def _probit(p: Any) -> Any:
    return torch.special.erfinv(2 * p - 1) * (2 ** 0.5)


def _softmax_zero(s: Any) -> Any:
    """Softmax over the last axis that leaves zero scores out (they score 0)."""
    e = torch.where(s == 0, torch.zeros_like(s), torch.exp(s - s.amax(dim=-1, keepdim=True)))
    total = e.sum(dim=-1, keepdim=True)
    return e / torch.where(total == 0, torch.ones_like(total), total)


_POST = {
    "NONE": lambda s: s,
    "LOGISTIC": torch.sigmoid,
    "SOFTMAX": lambda s: torch.softmax(s, dim=-1),
    "SOFTMAX_ZERO": _softmax_zero,
    "PROBIT": _probit,
}


def post_transform_fn(name: str, op_type: str) -> Any:
    """The score transform ``name`` (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT)."""
    return post_transform_from(_POST, name, LAYER, op_type)


def _labels_out(index: Any, ints: Sequence[int] | None, strings: Sequence[str] | None) -> Any:
    """The label of each row's class index: int64 tensor, or a numpy array of str."""
    if strings:
        return np.array(list(strings), dtype=object)[index.detach().cpu().numpy()]
    if ints:
        return torch.tensor(list(ints), dtype=torch.int64, device=index.device)[index]
    return index.to(torch.int64)


@emits("LinearClassifier", since=1, domain=ML)
def linear_classifier(X: Any, *, classlabels_ints: Sequence[int] | None = None,
                      classlabels_strings: Sequence[str] | None = None,
                      coefficients: Sequence[float] = (), intercepts: Sequence[float] | None = None,
                      multi_class: int = 0, post_transform: str = "NONE") -> tuple[Any, Any]:
    """LinearClassifier-1(X) -> (Y labels, Z scores float32); scores X @ W^T + intercepts."""
    x = _rows(X)
    n_rows = coefficient_rows(len(coefficients), x.shape[1])
    w = torch.tensor(list(coefficients), dtype=torch.float32, device=x.device).reshape(n_rows, x.shape[1])
    scores = x @ w.T
    if intercepts:
        scores = scores + torch.tensor(list(intercepts), dtype=torch.float32, device=x.device)
    post = post_transform_fn(post_transform, "LinearClassifier")
    n_labels = len(classlabels_strings or classlabels_ints or ())
    if is_binary_classifier(n_rows, n_labels):
        s = scores[:, 0]
        t = post(s) if post_transform in ("LOGISTIC", "PROBIT") else s
        return _labels_out((s > 0).to(torch.int64), classlabels_ints, classlabels_strings), \
            torch.stack([1 - t, t], dim=1)
    index = torch.argmax(scores, dim=1)
    return _labels_out(index, classlabels_ints, classlabels_strings), post(scores)


@emits("Normalizer", since=1, domain=ML)
def normalizer(X: Any, *, norm: str = "MAX") -> Any:
    """Normalizer-1(X [N, C] or [C]) -> Y float32: each row over its MAX, L1 or L2; a row
    whose divisor is 0 stays as it is."""
    x = T(X).to(torch.float32)
    if norm == "MAX":
        den = x.amax(dim=-1, keepdim=True)
    elif norm == "L1":
        den = x.abs().sum(dim=-1, keepdim=True)
    elif norm == "L2":
        den = torch.sqrt((x * x).sum(dim=-1, keepdim=True))
    else:
        raise UnsupportedOpError(LAYER, "Normalizer", domain=ML, hint=f"unknown norm {norm!r} (MAX, L1 or L2)")
    return x / torch.where(den == 0, torch.ones_like(den), den)


@emits("ZipMap", since=1, domain=ML)
def zip_map(X: Any, *, classlabels_int64s: Sequence[int] | None = None,
            classlabels_strings: Sequence[str] | None = None) -> list[dict[Any, Any]]:
    """ZipMap-1(X [N, C] or [C]) -> a list of N dicts label -> 0-d float32 tensor."""
    labels = zip_map_labels(classlabels_int64s, classlabels_strings)
    x = T(X).to(torch.float32)
    rows = x.reshape(1, -1) if x.dim() == 1 else x
    if rows.dim() != 2 or rows.shape[1] != len(labels):
        raise ValueError(f"ZipMap: input of shape {list(x.shape)} for {len(labels)} labels; it must be "
                         "[N, C] (or [C]) with one column per label")
    return [dict(zip(labels, row.unbind(0), strict=True)) for row in rows.unbind(0)]
