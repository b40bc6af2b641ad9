"""Validation of models whose outputs are sequences or maps (ai.onnx.ml ZipMap's list of
dicts): compared element by element against onnxruntime, and a wrong structure or value
fails."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import tensorbridge as tb
from tensorbridge.runtime.parity.compare import compare_output, default_tolerance


def _classifier():
    n1 = helper.make_node("LinearClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml",
                          coefficients=[0.5, -1.0, 2.0, 1.0, 0.3, -0.2], intercepts=[0.1, -0.1],
                          classlabels_ints=[0, 1])
    n2 = helper.make_node("ZipMap", ["scores"], ["probs"], domain="ai.onnx.ml", classlabels_int64s=[0, 1])
    seq = helper.make_sequence_type_proto(helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    g = helper.make_graph([n1, n2], "clf", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])],
                          [helper.make_tensor_value_info("label", TensorProto.INT64, [4]),
                           helper.make_value_info("probs", seq)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])


@pytest.mark.parametrize("to", ["onnx", "torch", "tensorflow"])
def test_zipmap_outputs_are_checked_against_onnxruntime(to):
    x = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    report = tb.check(_classifier(), (x,), to=to)
    assert report.ok, report.verdict()
    probs = [c for c in report.comparisons if c.output == "probs"]
    assert probs and all(c.dtype == "sequence" and c.shape == [4] for c in probs)


def test_a_wrong_value_or_structure_in_a_sequence_fails():
    tol = default_tolerance("float32")
    ref = [{0: np.float32(0.25), 1: np.float32(0.75)}, {0: np.float32(0.5), 1: np.float32(0.5)}]
    same = [{k: np.float32(v) for k, v in row.items()} for row in ref]
    assert compare_output("s", "rt", "probs", same, ref, tol).ok
    off = [dict(r) for r in ref]
    off[1][1] = np.float32(0.51)
    bad = compare_output("s", "rt", "probs", off, ref, tol)
    assert not bad.ok and bad.error_ratio > 1
    short = compare_output("s", "rt", "probs", ref[:1], ref, tol)
    assert not short.ok and "structure differs" in short.detail
