"""The ONNX node conformance suite through the emitters: every case whose ops all have a
PyTorch (TensorFlow) emitter is imported, emitted as an nn.Module (tf.Module), run, and
compared with onnx's stored outputs (rtol 1e-3, atol 1e-7, exact dtype and shape). Cases
that cannot pass are listed per family in ``emit_xfail/`` with the reason and the exception
(type and message pattern) that reason raises; a listed case that fails otherwise, or
passes, fails the test, so the tables stay true."""

from __future__ import annotations

import pytest

from tensorbridge.ir.errors import UnsupportedOpError
from tests.conftest import conformance_cases
from tests.converters.emit_xfail import (
    tf_elementwise_math,
    tf_extra,
    tf_nn_rnn,
    tf_shape_index_control,
    torch_elementwise_math,
    torch_extra,
    torch_nn_rnn,
    torch_shape_index_control,
)
from tests.converters.emitter_conformance import covered, run_emitted

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

EXPECTED = {
    "torch": {**torch_elementwise_math.EXPECTED, **torch_nn_rnn.EXPECTED,
              **torch_shape_index_control.EXPECTED, **torch_extra.EXPECTED},
    "tf": {**tf_elementwise_math.EXPECTED, **tf_nn_rnn.EXPECTED, **tf_shape_index_control.EXPECTED,
           **tf_extra.EXPECTED},
}


def _params() -> list:
    cases = conformance_cases()
    return [pytest.param(target, case, id=f"{target}-{case.name}")
            for target in ("torch", "tf") for case in covered(cases, target)]


@pytest.mark.parametrize(("target", "case"), _params())
def test_emitted_case(target, case):
    xfail = EXPECTED[target].get(case.name)
    if xfail is None:
        run_emitted(case, target)
        return
    try:
        run_emitted(case, target)
    except Exception as e:  # which exception it is, is checked next
        if not xfail.explains(e):
            pytest.fail(f"{case.name} on {target} is listed as failing because {xfail.reason!r} "
                        f"(expected {xfail.expected()}), but failed otherwise: "
                        f"{type(e).__name__}: {str(e)[:500]}")
        pytest.xfail(xfail.reason)
    pytest.fail(f"{case.name} now passes on {target}: remove it from its emit_xfail table")


def test_every_listed_case_exists_and_is_covered():
    """A table entry that names no conformance case (misspelled, or removed from onnx) or a case
    the emitter does not cover (so it is never run) would sit unchecked."""
    cases = conformance_cases()
    for target, table in EXPECTED.items():
        covered_names = {c.name for c in covered(cases, target)}
        stale = sorted(set(table) - covered_names)
        assert not stale, f"{target} emit_xfail entries that are never run: {stale}"


@pytest.mark.parametrize("error", [
    UnsupportedOpError("PyTorch emitter", "Cast", hint="some other reason"),
    RuntimeError("dtype UINT4. PyTorch has no tensor type"),
])
def test_an_xfail_refuses_another_failure(error):
    """An entry explains its own failure only: another message, or the right message with
    another exception type, is a regression."""
    entry = torch_elementwise_math.EXPECTED["test_cast_FLOAT_to_UINT4"]
    assert entry.explains(UnsupportedOpError("PyTorch emitter", "dtype UINT4",
                                             hint="PyTorch has no tensor type for it"))
    assert not entry.explains(error)
