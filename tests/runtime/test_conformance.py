"""The ONNX node conformance suite (every case shipped in the onnx package) through ONNX
import + the numpy runtime, compared as onnx's runner does (rtol 1e-3, atol 1e-7, exact
dtype and shape): one test per case, named after it (``pytest -k test_resize`` runs the
Resize cases). Cases that cannot match are listed below with the reason; such a case xfails
strictly (it fails the run if it starts passing), so the table stays true, and the pass rate
the table allows is held to a recorded floor."""

from __future__ import annotations

import pytest

import tensorbridge as tb
from tests.conformance import RANDOM_OUTPUT, as_arrays, compare
from tests.conftest import conformance_cases

EXPECTED_FAILURES = {
    # The stored data put the fractional output length (in * scale, e.g. 2.4) into the
    # align_corners formula; the spec text, onnxruntime and PyTorch use the integer output
    # length, and so do we (onnxruntime fails these two cases too).
    "test_resize_downsample_scales_linear_align_corners": "data uses fractional output length",
    "test_resize_downsample_scales_cubic_align_corners": "data uses fractional output length",
}

# Recorded with onnx 1.23.2: 1,884 cases, 8 expected failures (1,876 / 1,884 = 99.58%). A
# green run passes every case not in EXPECTED_FAILURES, so its pass rate is the one the
# table allows; listing one more failure, or an onnx with fewer cases, falls below these.
MIN_CASES = 1884
MIN_PASS_RATE = 1882 / 1884


def run_case(case) -> None:
    graph = tb.load(case.model)
    for inputs, expected in case.data_sets:
        outs = tb.run(graph, *as_arrays(inputs))
        for e, g in zip(as_arrays(expected), outs):
            compare(e, g, random=case.name in RANDOM_OUTPUT)


def _params() -> list:
    out = []
    for case in conformance_cases():
        reason = EXPECTED_FAILURES.get(case.name)
        marks = [pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)] if reason else []
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_conformance_case(case):
    run_case(case)


def test_pass_rate_floor():
    names = [c.name for c in conformance_cases()]
    allowed_failures = [n for n in names if n in EXPECTED_FAILURES]
    rate = 1 - len(allowed_failures) / len(names)
    assert len(names) >= MIN_CASES, f"onnx ships {len(names)} node cases, fewer than {MIN_CASES}"
    assert rate >= MIN_PASS_RATE, (
        f"EXPECTED_FAILURES allows a pass rate of {rate:.4%} ({len(names) - len(allowed_failures)}"
        f"/{len(names)}), below the recorded floor {MIN_PASS_RATE:.4%}: fix the case instead")


def test_expected_failures_name_real_cases():
    names = {c.name for c in conformance_cases()}
    stale = sorted(set(EXPECTED_FAILURES) - names)
    assert not stale, f"EXPECTED_FAILURES names cases onnx does not ship: {stale}"
