"""The ONNX node conformance data as tests use it: onnx's stored arrays as numpy values, and
the comparison onnx's own backend test runner makes (exact dtype and shape, rtol 1e-3 /
atol 1e-7 for floats, exact for the rest). A test helper: moved here from the product
(runtime/compare.py) because only tests use it."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

# onnx's runner: rtol 1e-3, atol 1e-7
RTOL, ATOL = 1e-3, 1e-7


def as_arrays(data: Any) -> list[Any]:
    """A conformance data set (numpy arrays, lists for sequences, None for an empty optional,
    or TensorProtos) as runtime values; strings become object arrays of str."""
    out = []
    for x in data:
        if isinstance(x, onnx.TensorProto):
            x = numpy_helper.to_array(x)
        if isinstance(x, np.ndarray) and x.dtype.kind in "SU":
            x = x.astype(object)
        if isinstance(x, np.ndarray) and x.dtype == object:
            x = np.array([v.decode() if isinstance(v, bytes) else v for v in x.reshape(-1)],
                         dtype=object).reshape(x.shape)
        out.append(x)
    return out


def compare(expected: Any, got: Any, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Raise AssertionError naming the first difference between expected and actual."""
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            raise AssertionError(f"expected a sequence of {len(expected)}, got {type(got).__name__}")
        for e, g in zip(expected, got):
            compare(e, g, rtol, atol)
        return
    if expected is None:
        if got is not None:
            raise AssertionError(f"expected an empty optional, got {type(got).__name__}")
        return
    got = np.asarray(got)
    if got.shape != expected.shape:
        raise AssertionError(f"shape {got.shape} != expected {expected.shape}")
    if got.dtype != expected.dtype:
        raise AssertionError(f"dtype {got.dtype} != expected {expected.dtype}")
    if expected.dtype == object:
        if got.tolist() != expected.tolist():
            raise AssertionError(f"values differ: {got.tolist()} != {expected.tolist()}")
    elif expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        kind = expected.dtype.kind
        cast = (lambda a: a) if kind == "c" else (lambda a: a.astype(np.float64))
        np.testing.assert_allclose(cast(got), cast(expected), rtol=rtol, atol=atol)
