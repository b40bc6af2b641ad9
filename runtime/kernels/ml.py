"""Kernels: the ``ai.onnx.ml`` domain (ArrayFeatureExtractor, Binarizer, LabelEncoder,
Normalizer, Scaler, OneHotEncoder, Imputer, LinearClassifier, LinearRegressor, ZipMap) and
the score post-transforms shared with the tree ensembles in ``ml_tree.py``.

A sequence of maps (ZipMap's output) is a Python list with one dict per row: keys the
Python labels (int or str), values Python floats -- what onnxruntime returns. The emitters
use the same list of dicts, their values the framework's 0-d float32 tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.ml_math import coefficient_rows, is_binary_classifier, zip_map_labels
from tensorbridge.runtime.registry import kernel

ML = "ai.onnx.ml"


def _acklam_probit(p: np.ndarray) -> np.ndarray:
    """Inverse standard-normal CDF (Acklam's rational approximation, rel. error < 1.2e-9);
    numpy has no erfinv and scipy is not a dependency."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)
    p = np.asarray(p, dtype=np.float64)
    q = np.sqrt(-2 * np.log(np.where(p < 0.5, p, 1 - p).clip(1e-300, 1.0)))
    tail = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    tail = np.where(p < 0.5, tail, -tail)
    r = (p - 0.5) ** 2
    mid = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * (p - 0.5) / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    out = np.where((p > 0.02425) & (p < 0.97575), mid, tail)
    # Exact ends; outside [0, 1] the inverse CDF is undefined.
    out = np.where(p == 0, -np.inf, np.where(p == 1, np.inf, out))
    return np.where((p < 0) | (p > 1), np.nan, out)


def apply_post_transform(scores: np.ndarray, name: str) -> np.ndarray:
    """Apply an ML post_transform (NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO, PROBIT) row-wise."""
    if name == "NONE":
        return scores
    if name == "LOGISTIC":
        return 1.0 / (1.0 + np.exp(-scores))
    if name in ("SOFTMAX", "SOFTMAX_ZERO"):
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        if name == "SOFTMAX_ZERO":
            e = np.where(scores == 0, 0, e)  # zero scores stay out of the distribution
        total = e.sum(axis=-1, keepdims=True)
        return e / np.where(total == 0, 1, total)
    if name == "PROBIT":
        return _acklam_probit(scores).astype(scores.dtype, copy=False)
    raise ValueError(f"unknown post_transform {name!r} "
                     "(NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT)")


def apply_post_transform_f32(scores: np.ndarray, name: str) -> np.ndarray:
    """apply_post_transform, then float32 (the type of every classic ML score output)."""
    return apply_post_transform(scores, name).astype(np.float32, copy=False)


POST_TRANSFORMS = ("NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT")  # v5 int codes


@kernel("ArrayFeatureExtractor", since=1, domain=ML)
def array_feature_extractor(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """ArrayFeatureExtractor-1(X, Y) -> Z; picks the Y indices along X's last axis."""
    idx = Y.reshape(-1)
    try:
        z = np.take(X, idx, axis=-1)
    except IndexError as e:
        raise ValueError(f"ArrayFeatureExtractor: index out of range: {e}") from e
    return z.reshape(1, -1) if X.ndim == 1 else z


@kernel("Binarizer", since=1, domain=ML)
def binarizer(X: np.ndarray, *, threshold: float = 0.0) -> np.ndarray:
    """Binarizer-1(X) -> Y; 1 where X > threshold else 0, in X's type."""
    return (X > threshold).astype(X.dtype)


def _label_map(X: np.ndarray, keys: np.ndarray, values: np.ndarray, default: Any,
               nan_matches: bool = False) -> np.ndarray:
    if keys.size == 0:
        return np.full(X.shape, default, dtype=values.dtype)
    if X.dtype == object or keys.dtype == object:
        table = dict(zip(keys.tolist(), values.tolist(), strict=True))
        out = [table.get(x, default) for x in X.reshape(-1).tolist()]
        res = np.empty(len(out), dtype=values.dtype)
        res[:] = out
        return res.reshape(X.shape)
    # Numeric keys: one sorted lookup instead of a Python dict per element.
    order = np.argsort(keys, kind="stable")
    sk, sv = keys[order], values[order]
    pos = np.searchsorted(sk, X).clip(0, sk.size - 1)
    hit = sk[pos] == X
    if nan_matches and sk.dtype.kind == "f":  # LabelEncoder-4: a NaN key matches NaN
        hit |= np.isnan(sk[pos]) & np.isnan(X)
    return np.where(hit, sv[pos], np.asarray(default, dtype=values.dtype))


@kernel("LabelEncoder", since=1, domain=ML)
def label_encoder_1(X: np.ndarray, *, classes_strings: list[str] | None = None,
                    default_int64: int = -1, default_string: str = "_Unused") -> np.ndarray:
    """LabelEncoder-1(X) -> Y; string -> its index in classes_strings, or int64 -> string."""
    classes = np.array(classes_strings or [], dtype=object)
    ids = np.arange(classes.size, dtype=np.int64)
    if X.dtype == object:
        return _label_map(X, classes, ids, default_int64)
    return _label_map(X.astype(np.int64), ids, classes, default_string)


def _keys_values(keys: list[Any] | np.ndarray, kind: str) -> np.ndarray:
    if isinstance(keys, np.ndarray):
        return keys.reshape(-1)
    dtype = {"strings": object, "int64s": np.int64, "floats": np.float32}[kind]
    arr = np.empty(len(keys), dtype=dtype)
    arr[:] = keys
    return arr


def _pick(given: dict[str, Any]) -> tuple[str, Any]:
    present = [(k, v) for k, v in given.items() if v is not None]
    if len(present) != 1:
        raise ValueError(f"LabelEncoder needs exactly one of {sorted(given)}, "
                         f"got {[k for k, _ in present]}")
    return present[0]


def _label_encode(X: np.ndarray, keys: dict[str, Any], values: dict[str, Any],
                  defaults: dict[str, Any], default_tensor: np.ndarray | None,
                  nan_matches: bool) -> np.ndarray:
    kname, kv = _pick(keys)
    vname, vv = _pick(values)
    k = _keys_values(kv, kname.rsplit("_", 1)[-1])
    v = _keys_values(vv, vname.rsplit("_", 1)[-1])
    if k.size != v.size:
        raise ValueError(f"LabelEncoder: {k.size} keys but {v.size} values")
    if default_tensor is not None:
        default = default_tensor.reshape(-1)[0]
    elif v.dtype == object:
        default = defaults["string"]
    elif v.dtype.kind == "f":
        default = defaults["float"]
    else:
        default = defaults["int64"]
    if k.dtype != object and X.dtype != k.dtype:
        X = X.astype(k.dtype)
    return _label_map(X, k, v, default, nan_matches)


@kernel("LabelEncoder", since=2, domain=ML)
def label_encoder_2(X: np.ndarray, *, default_float: float = -0.0, default_int64: int = -1,
                    default_string: str = "_Unused", keys_floats: list[float] | None = None,
                    keys_int64s: list[int] | None = None, keys_strings: list[str] | None = None,
                    values_floats: list[float] | None = None,
                    values_int64s: list[int] | None = None,
                    values_strings: list[str] | None = None) -> np.ndarray:
    """LabelEncoder-2(X) -> Y; maps keys_* to values_*, unknown keys to default_*."""
    return _label_encode(
        X, {"keys_floats": keys_floats, "keys_int64s": keys_int64s, "keys_strings": keys_strings},
        {"values_floats": values_floats, "values_int64s": values_int64s,
         "values_strings": values_strings},
        {"float": default_float, "int64": default_int64, "string": default_string}, None,
        False)


@kernel("LabelEncoder", since=4, domain=ML)
def label_encoder_4(X: np.ndarray, *, default_float: float = -0.0, default_int64: int = -1,
                    default_string: str = "_Unused", default_tensor: np.ndarray | None = None,
                    keys_floats: list[float] | None = None, keys_int64s: list[int] | None = None,
                    keys_strings: list[str] | None = None, keys_tensor: np.ndarray | None = None,
                    values_floats: list[float] | None = None,
                    values_int64s: list[int] | None = None,
                    values_strings: list[str] | None = None,
                    values_tensor: np.ndarray | None = None) -> np.ndarray:
    """LabelEncoder-4(X) -> Y; keys/values also as typed tensors, default_tensor."""
    return _label_encode(
        X, {"keys_floats": keys_floats, "keys_int64s": keys_int64s,
            "keys_strings": keys_strings, "keys_tensor": keys_tensor},
        {"values_floats": values_floats, "values_int64s": values_int64s,
         "values_strings": values_strings, "values_tensor": values_tensor},
        {"float": default_float, "int64": default_int64, "string": default_string},
        default_tensor, True)


def _as_float(X: np.ndarray) -> np.ndarray:
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float32)


@kernel("Normalizer", since=1, domain=ML)
def normalizer(X: np.ndarray, *, norm: str = "MAX") -> np.ndarray:
    """Normalizer-1(X [N, C] or [C]) -> Y float32; divides each row by its MAX, L1 or L2
    (a row whose divisor is 0 stays as it is, as onnxruntime does)."""
    x = X.astype(np.float32)
    if norm == "MAX":
        den = x.max(axis=-1, keepdims=True)
    elif norm == "L1":
        den = np.abs(x).sum(axis=-1, keepdims=True)
    elif norm == "L2":
        den = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    else:
        raise ValueError(f"Normalizer: unknown norm {norm!r} (MAX, L1 or L2)")
    return x / np.where(den == 0, np.float32(1), den)


@kernel("Scaler", since=1, domain=ML)
def scaler(X: np.ndarray, *, offset: list[float] | None = None,
           scale: list[float] | None = None) -> np.ndarray:
    """Scaler-1(X) -> Y float32 = (X - offset) * scale, per feature or one value for all."""
    off = np.asarray(offset if offset else [0.0], dtype=np.float32)
    sc = np.asarray(scale if scale else [1.0], dtype=np.float32)
    return ((X.astype(np.float32) - off) * sc).astype(np.float32, copy=False)


@kernel("OneHotEncoder", since=1, domain=ML)
def one_hot_encoder(X: np.ndarray, *, cats_int64s: list[int] | None = None,
                    cats_strings: list[str] | None = None, zeros: int = 1) -> np.ndarray:
    """OneHotEncoder-1(X) -> Y float32 X.shape + [n_cats]."""
    if cats_strings is not None:
        cats = np.array(cats_strings, dtype=object)
        x = X.astype(object)
    elif cats_int64s is not None:
        cats, x = np.asarray(cats_int64s, dtype=np.int64), X.astype(np.int64)
    else:
        raise ValueError("OneHotEncoder needs cats_int64s or cats_strings")
    hot = x[..., None] == cats
    if not zeros and not hot.any(axis=-1).all():
        raise ValueError("OneHotEncoder: input has a category outside cats (zeros=0)")
    return hot.astype(np.float32)


@kernel("Imputer", since=1, domain=ML)
def imputer(X: np.ndarray, *, imputed_value_floats: list[float] | None = None,
            imputed_value_int64s: list[int] | None = None, replaced_value_float: float = 0.0,
            replaced_value_int64: int = 0) -> np.ndarray:
    """Imputer-1(X) -> Y; replaced_value_* becomes imputed_value_* (per feature or one)."""
    if X.dtype.kind == "f":
        fill = np.asarray(imputed_value_floats or [], dtype=X.dtype)
        missing = np.isnan(X) if np.isnan(replaced_value_float) else X == replaced_value_float
    else:
        fill = np.asarray(imputed_value_int64s or [], dtype=X.dtype)
        missing = X == replaced_value_int64
    if fill.size not in (1, X.shape[-1]):
        raise ValueError(f"Imputer: {fill.size} imputed values for {X.shape[-1]} features")
    return np.where(missing, fill, X)


def _linear(X: np.ndarray, coefficients: list[float], intercepts: list[float] | None,
            n_out: int) -> np.ndarray:
    x = _as_float(X).reshape(-1, X.shape[-1]) if X.ndim else _as_float(X).reshape(1, -1)
    coef = np.asarray(coefficients, dtype=np.float32)
    if coef.size != n_out * x.shape[1]:
        raise ValueError(f"{coef.size} coefficients for {n_out} outputs x {x.shape[1]} features")
    scores = x.astype(np.float32) @ coef.reshape(n_out, x.shape[1]).T
    if intercepts:
        scores = scores + np.asarray(intercepts, dtype=np.float32)
    return scores


@kernel("LinearRegressor", since=1, domain=ML)
def linear_regressor(X: np.ndarray, *, coefficients: list[float] | None = None,
                     intercepts: list[float] | None = None, post_transform: str = "NONE",
                     targets: int = 1) -> np.ndarray:
    """LinearRegressor-1(X) -> Y float32 [N, targets] = X @ W^T + intercepts."""
    y = _linear(X, coefficients or [], intercepts, targets)
    return apply_post_transform_f32(y, post_transform)


@kernel("LinearClassifier", since=1, domain=ML)
def linear_classifier(X: np.ndarray, *, classlabels_ints: list[int] | None = None,
                      classlabels_strings: list[str] | None = None,
                      coefficients: list[float], intercepts: list[float] | None = None,
                      multi_class: int = 0,
                      post_transform: str = "NONE") -> tuple[np.ndarray, np.ndarray]:
    """LinearClassifier-1(X) -> (Y labels, Z scores float32).

    One coefficient row with two labels is the binary form (ir/ml_math.py).
    """
    labels = (np.array(classlabels_strings, dtype=object) if classlabels_strings
              else np.asarray(classlabels_ints or [], dtype=np.int64))
    n_rows = coefficient_rows(len(coefficients), X.shape[-1] if X.ndim else 1)
    scores = _linear(X, coefficients, intercepts, n_rows)
    if is_binary_classifier(n_rows, labels.size):
        s = scores[:, 0]
        label = labels[(s > 0).astype(np.intp)]
        t = apply_post_transform_f32(s, post_transform) if post_transform in ("LOGISTIC", "PROBIT") \
            else s
        return label, np.stack([1 - t, t], axis=1).astype(np.float32)
    label = labels[np.argmax(scores, axis=1)] if labels.size else np.argmax(scores, axis=1)
    return label, apply_post_transform_f32(scores, post_transform)


@kernel("ZipMap", since=1, domain=ML)
def zip_map(X: np.ndarray, *, classlabels_int64s: list[int] | None = None,
            classlabels_strings: list[str] | None = None) -> list[dict[Any, float]]:
    """ZipMap-1(X [N, C] or [C] float) -> Z seq(map(int64 | string, float)); one map per
    row, label -> score."""
    labels = zip_map_labels(classlabels_int64s, classlabels_strings)
    rows = X.reshape(1, -1) if X.ndim == 1 else X
    if rows.ndim != 2 or rows.shape[1] != len(labels):
        raise ValueError(f"ZipMap: input of shape {list(X.shape)} for {len(labels)} labels; it "
                         "must be [N, C] (or [C]) with one column per label")
    return [dict(zip(labels, row, strict=True)) for row in rows.astype(np.float32).tolist()]
