"""The ONNX node conformance suite through the emitters: every case whose ops all have a
PyTorch (TensorFlow) emitter is imported, emitted as an nn.Module (tf.Module), run, and
compared with onnx's stored outputs (rtol 1e-3, atol 1e-7, exact dtype and shape). Cases
that cannot pass are listed per family in ``emit_xfail/`` with the reason; a listed case
that passes fails the test too, so the tables stay true."""

from __future__ import annotations

import pytest

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
    reason = EXPECTED[target].get(case.name)
    if reason is None:
        run_emitted(case, target)
        return
    try:
        run_emitted(case, target)
    except Exception:
        pytest.xfail(reason)
    pytest.fail(f"{case.name} now passes on {target}: remove it from its emit_xfail table")
