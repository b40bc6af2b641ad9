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


# Cases whose outputs are random draws (Bernoulli): onnx stored one draw of its generator, so
# a correct kernel agrees with it only by chance (test_bernoulli_double: about 1 run in 20).
# They are compared by dtype, shape and support ({0, 1}) instead of values; the statistics
# are checked in tests/runtime/test_random_ops.py and the emitters' random-op tests.
RANDOM_OUTPUT = frozenset(f"test_bernoulli{kind}{expanded}" for kind in ("", "_double", "_seed")
                          for expanded in ("", "_expanded"))


def compare(expected: Any, got: Any, rtol: float = RTOL, atol: float = ATOL,
            random: bool = False) -> None:
    """Raise AssertionError naming the first difference between expected and actual. With
    ``random`` (a Bernoulli draw) the values are checked to be 0 or 1, not equal."""
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            raise AssertionError(f"expected a sequence of {len(expected)}, got {type(got).__name__}")
        for e, g in zip(expected, got):
            compare(e, g, rtol, atol, random)
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
    if random:
        outside = np.setdiff1d(np.unique(got.astype(np.float64)), [0.0, 1.0])
        if outside.size:
            raise AssertionError(f"a Bernoulli draw holds values other than 0 and 1: {outside[:5]}")
    elif expected.dtype == object:
        if got.tolist() != expected.tolist():
            raise AssertionError(f"values differ: {got.tolist()} != {expected.tolist()}")
    elif expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        kind = expected.dtype.kind
        cast = (lambda a: a) if kind == "c" else (lambda a: a.astype(np.float64))
        np.testing.assert_allclose(cast(got), cast(expected), rtol=rtol, atol=atol)
