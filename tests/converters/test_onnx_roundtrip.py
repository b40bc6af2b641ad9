"""Every ONNX node conformance model survives to_ir -> verify -> from_ir: the result passes
the full checker and, run in onnx.reference, gives the expected outputs wherever the
original model does."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

from tensorbridge.converters.onnx import from_ir, to_ir
from tensorbridge.ir import verify
from tests.conformance import compare
from tests.conftest import conformance_cases

# The original model already fails the full checker (onnx's own function-body inference bug).
ORIGINAL_FAILS_CHECKER = {"test_mvn"}


def _reference_ok(model: onnx.ModelProto, case) -> bool:
    try:
        ref = ReferenceEvaluator(model)
        for inputs, expected in case.data_sets:
            feeds = {vi.name: x for vi, x in zip(model.graph.input, inputs)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs = ref.run(None, feeds)
            for e, g in zip(expected, outs):
                compare(e, g)
        return True
    except Exception:
        return False


@pytest.mark.slow
def test_conformance_models_round_trip():
    cases = conformance_cases()
    assert len(cases) >= 1884
    bad_checker, bad_numerics, nondeterministic = [], [], []
    for case in cases:
        graph = to_ir(case.model)
        verify(graph)
        model = from_ir(graph)
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:
            if case.name not in ORIGINAL_FAILS_CHECKER:
                bad_checker.append(f"{case.name}: {e}")
        if from_ir(to_ir(case.model)).SerializeToString(deterministic=True) != model.SerializeToString(
                deterministic=True):
            nondeterministic.append(case.name)
        if not _reference_ok(model, case) and _reference_ok(case.model, case):
            bad_numerics.append(case.name)
    assert not bad_checker, bad_checker[:10]
    assert not nondeterministic, nondeterministic[:10]
    assert not bad_numerics, bad_numerics[:10]


def test_original_checker_failure_is_real():
    """Keep the exemption list honest: those originals must still fail the checker."""
    for case in conformance_cases():
        if case.name in ORIGINAL_FAILS_CHECKER:
            with pytest.raises(onnx.shape_inference.InferenceError):
                onnx.checker.check_model(case.model, full_check=True)


def test_two_conversions_give_identical_bytes(fixtures_dir):
    for name in ("tiny_cnn", "tiny_encoder", "control_flow"):
        path = fixtures_dir / f"{name}.onnx"
        a = from_ir(to_ir(path)).SerializeToString(deterministic=True)
        b = from_ir(to_ir(path)).SerializeToString(deterministic=True)
        assert a == b


def test_round_trip_keeps_everything(fixtures_dir):
    path = fixtures_dir / "tiny_cnn.onnx"
    original = onnx.load(path)
    model = from_ir(to_ir(path))
    assert [n.op_type for n in model.graph.node] == [n.op_type for n in original.graph.node]
    # in the graph's order, though the writer fills them largest first
    assert [t.name for t in model.graph.initializer] == [t.name for t in original.graph.initializer]
    assert model.graph.input[0].type == original.graph.input[0].type  # dim_param "batch" kept
    assert {(o.domain, o.version) for o in model.opset_import} == {(o.domain, o.version) for o in original.opset_import}
    for a, b in zip(model.graph.initializer, original.graph.initializer):
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(a), onnx.numpy_helper.to_array(b))


def test_subgraph_with_outer_scope_reference(fixtures_dir):
    g = to_ir(fixtures_dir / "control_flow.onnx")
    loop = g.nodes()[0]
    (body,) = loop.subgraphs()
    assert [v.name for v in body.outer_refs()] == ["W", "two"]
    if_node = [n for n in body.nodes() if n.op_type == "If"][0]
    then = if_node.attr("then_branch")
    assert [v.name for v in then.outer_refs()] == ["h_new", "one"]
    onnx.checker.check_model(from_ir(g), full_check=True)


def test_functions_metadata_sparse_and_sequence_types():
    from onnx import TensorProto, helper

    f = helper.make_function("local", "Twice", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                             [helper.make_opsetid("", 18)])
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sv", TensorProto.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("si", TensorProto.INT64, [2], [0, 3]), [4])
    graph = helper.make_graph(
        [helper.make_node("Twice", ["x"], ["y"], domain="local"),
         helper.make_node("Constant", [], ["c"], sparse_value=sparse),
         helper.make_node("Add", ["y", "c"], ["z"]),
         helper.make_node("SequenceConstruct", ["z", "z"], ["s"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [4])],
        sparse_initializer=[sparse])
    model = helper.make_model(graph, functions=[f], opset_imports=[helper.make_opsetid("", 18),
                                                                    helper.make_opsetid("local", 1)])
    model.metadata_props.add(key="author", value="me")
    g = to_ir(model)
    assert ("local", "Twice") in g.functions and g.metadata == {"author": "me"}
    out = from_ir(g)
    onnx.checker.check_model(out, full_check=True)
    assert out.functions[0].name == "Twice" and out.metadata_props[0].value == "me"
    assert out.graph.sparse_initializer[0].values.name == "sv"  # unused, kept as written
    from tensorbridge.runtime.session import Session

    (seq,) = Session(g).run([np.arange(4, dtype=np.float32)])
    np.testing.assert_array_equal(seq[1], [1, 2, 4, 8])
