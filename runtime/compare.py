"""Comparison of runtime outputs with expected values, as onnx's backend test runner does
(exact dtype and shape, rtol 1e-3 / atol 1e-7 for floats, exact for the rest)."""

from __future__ import annotations

from typing import Any

import numpy as np

# onnx's runner: rtol 1e-3, atol 1e-7
RTOL, ATOL = 1e-3, 1e-7


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
