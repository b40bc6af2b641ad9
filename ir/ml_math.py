"""Label rules of the ai.onnx.ml classifiers written once, used by the runtime's kernels
and both emitters (plain Python: the labels are attributes, not data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tensorbridge.ir.errors import UnsupportedOpError


def zip_map_labels(classlabels_int64s: Sequence[int] | None,
                   classlabels_strings: Sequence[str] | None) -> list[Any]:
    """ZipMap's keys: exactly one of the two label attributes, as Python ints or strs."""
    if (classlabels_int64s is None) == (classlabels_strings is None):
        raise ValueError("ZipMap needs exactly one of classlabels_int64s and classlabels_strings")
    if classlabels_strings is not None:
        return [str(s) for s in classlabels_strings]
    return [int(i) for i in classlabels_int64s or ()]


def is_binary_classifier(n_rows: int, n_labels: int) -> bool:
    """LinearClassifier's binary form: one coefficient row and two labels. The row's score s
    picks the second label when s > 0, and the scores are [1 - t, t] with t = s after
    LOGISTIC or PROBIT (the softmax transforms leave one score as it is)."""
    return n_rows == 1 and n_labels == 2


def coefficient_rows(n_coefficients: int, n_features: int) -> int:
    """How many score rows LinearClassifier's flat coefficients hold."""
    if n_features <= 0 or n_coefficients % n_features:
        raise ValueError(f"LinearClassifier: {n_coefficients} coefficients do not split into rows of "
                         f"{n_features} features; give classes x features coefficients")
    return n_coefficients // n_features


def post_transform_from(table: Mapping[str, Any], name: str, layer: str, op_type: str) -> Any:
    """A layer's implementation of the ML post_transform ``name`` from its ``table``; an
    unknown name is an UnsupportedOpError naming the known ones."""
    try:
        return table[name]
    except KeyError:
        raise UnsupportedOpError(layer, op_type, domain="ai.onnx.ml", hint=f"unknown post_transform "
                                 f"{name!r} (one of {', '.join(table)})") from None
