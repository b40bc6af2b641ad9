"""Emitters of the ai.onnx.ml domain: LinearClassifier, Normalizer, ZipMap (the runtime's
kernels are in runtime/kernels/ml.py; the label rules in ir/ml_math.py).

ZipMap's sequence of maps is, as sequences are here (ops/sequence.py), a Python list: one
dict per row, label (Python int or str) -> the row's score as a 0-d float32 tensor -- the
runtime's list of dicts. Its length is the batch size, which must therefore be static."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.ml_math import (
    coefficient_rows,
    is_binary_classifier,
    post_transform_from,
    zip_map_labels,
)

LAYER = "TensorFlow emitter"
ML = "ai.onnx.ml"


def _rows(X: Any, op_type: str) -> Any:
    """X as float32 rows [N, C] ([C] and a scalar are one row); C must be static."""
    x = tf.cast(X, tf.float32)
    if x.shape.rank is None or (x.shape.rank and x.shape[-1] is None):
        raise UnsupportedOpError(LAYER, op_type, domain=ML, hint="the feature axis (last) needs a "
                                 "static size: give the input a fixed last dimension")
    return tf.reshape(x, [1, -1]) if x.shape.rank <= 1 else tf.reshape(x, [-1, x.shape[-1]])


def _softmax_zero(s: Any) -> Any:
    """Softmax over the last axis that leaves zero scores out (they score 0)."""
    e = tf.where(s == 0, tf.zeros_like(s), tf.exp(s - tf.reduce_max(s, axis=-1, keepdims=True)))
    total = tf.reduce_sum(e, axis=-1, keepdims=True)
    return e / tf.where(total == 0, tf.ones_like(total), total)


_POST = {
    "NONE": lambda s: s,
    "LOGISTIC": tf.math.sigmoid,
    "SOFTMAX": lambda s: tf.nn.softmax(s, axis=-1),
    "SOFTMAX_ZERO": _softmax_zero,
    "PROBIT": lambda p: tf.math.erfinv(2 * p - 1) * (2 ** 0.5),
}


def post_transform_fn(name: str, op_type: str) -> Any:
    """The score transform ``name`` (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT)."""
    return post_transform_from(_POST, name, LAYER, op_type)


def _labels_out(index: Any, ints: Sequence[int] | None, strings: Sequence[str] | None) -> Any:
    """The label of each row's class index (int64, or string)."""
    if strings:
        return tf.gather(tf.constant(list(strings), tf.string), index)
    if ints:
        return tf.gather(tf.constant(list(ints), tf.int64), index)
    return tf.cast(index, tf.int64)


@emits("LinearClassifier", since=1, domain=ML)
def linear_classifier(X: Any, *, classlabels_ints: Sequence[int] | None = None,
                      classlabels_strings: Sequence[str] | None = None,
                      coefficients: Sequence[float] = (), intercepts: Sequence[float] | None = None,
                      multi_class: int = 0, post_transform: str = "NONE") -> tuple[Any, Any]:
    """LinearClassifier-1(X) -> (Y labels, Z scores float32); scores X @ W^T + intercepts."""
    x = _rows(X, "LinearClassifier")
    n_features = int(x.shape[-1])
    n_rows = coefficient_rows(len(coefficients), n_features)
    w = tf.reshape(tf.constant(list(coefficients), tf.float32), [n_rows, n_features])
    scores = tf.matmul(x, w, transpose_b=True)
    if intercepts:
        scores = scores + tf.constant(list(intercepts), tf.float32)
    post = post_transform_fn(post_transform, "LinearClassifier")
    n_labels = len(classlabels_strings or classlabels_ints or ())
    if is_binary_classifier(n_rows, n_labels):
        s = scores[:, 0]
        t = post(s) if post_transform in ("LOGISTIC", "PROBIT") else s
        label = _labels_out(tf.cast(s > 0, tf.int64), classlabels_ints, classlabels_strings)
        return label, tf.stack([1 - t, t], axis=1)
    index = tf.argmax(scores, axis=1, output_type=tf.int64)
    return _labels_out(index, classlabels_ints, classlabels_strings), post(scores)


@emits("Normalizer", since=1, domain=ML)
def normalizer(X: Any, *, norm: str = "MAX") -> Any:
    """Normalizer-1(X [N, C] or [C]) -> Y float32: each row over its MAX, L1 or L2; a row
    whose divisor is 0 stays as it is."""
    x = tf.cast(X, tf.float32)
    if norm == "MAX":
        den = tf.reduce_max(x, axis=-1, keepdims=True)
    elif norm == "L1":
        den = tf.reduce_sum(tf.abs(x), axis=-1, keepdims=True)
    elif norm == "L2":
        den = tf.sqrt(tf.reduce_sum(x * x, axis=-1, keepdims=True))
    else:
        raise UnsupportedOpError(LAYER, "Normalizer", domain=ML, hint=f"unknown norm {norm!r} (MAX, L1 or L2)")
    return x / tf.where(den == 0, tf.ones_like(den), den)


@emits("ZipMap", since=1, domain=ML)
def zip_map(X: Any, *, classlabels_int64s: Sequence[int] | None = None,
            classlabels_strings: Sequence[str] | None = None) -> list[dict[Any, Any]]:
    """ZipMap-1(X [N, C] or [C]) -> a list of N dicts label -> 0-d float32 tensor."""
    labels = zip_map_labels(classlabels_int64s, classlabels_strings)
    x = tf.cast(X, tf.float32)
    rows = tf.reshape(x, [1, -1]) if x.shape.rank == 1 else x
    if rows.shape.rank != 2 or rows.shape[1] != len(labels):
        raise UnsupportedOpError(LAYER, "ZipMap", domain=ML, hint=f"input of shape {x.shape} for "
                                 f"{len(labels)} labels; it must be [N, C] (or [C]) with one column per label")
    if rows.shape[0] is None:
        raise UnsupportedOpError(LAYER, "ZipMap", domain=ML, hint="the output holds one map per row, so "
                                 "the batch size must be static: give the input a fixed first dimension")
    return [dict(zip(labels, tf.unstack(row), strict=True)) for row in tf.unstack(rows)]
