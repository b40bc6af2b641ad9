"""Run the ONNX node conformance cases (``onnx.backend.test.case.node``) through
ONNX import + the numpy runtime, comparing as onnx's own runner does."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

# onnx's runner: rtol 1e-3, atol 1e-7
RTOL, ATOL = 1e-3, 1e-7


@dataclass
class CaseResult:
    name: str
    ok: bool
    error: str = ""


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


def run_case(case: Any) -> None:
    from converters.onnx import to_ir
    from runtime.session import Session

    session = Session(to_ir(case.model))
    for inputs, expected in case.data_sets:
        outs = session.run(list(inputs))
        for e, g in zip(expected, outs):
            compare(e, g)


def run_cases(cases: Iterable[Any]) -> list[CaseResult]:
    results = []
    for case in cases:
        try:
            run_case(case)
            results.append(CaseResult(case.name, True))
        except Exception as e:  # a sweep reports every failure instead of stopping
            results.append(CaseResult(case.name, False, f"{type(e).__name__}: {e}"))
    return results
