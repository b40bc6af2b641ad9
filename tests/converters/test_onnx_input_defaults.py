"""IR version < 4 semantics: an ONNX file of IR 3 lists every initializer as a graph input
too (here before the data input). Such inputs are optional inputs with a default: the IR
records them (``Graph.required_inputs`` / ``defaulted_inputs``), the runtime and both
emitters take the required inputs positionally and the defaulted ones by name, and a round
trip writes a file the full checker accepts. Expected values are computed with numpy from
the model's own weights (an independent computation), or by onnxruntime on the source file."""

from __future__ import annotations

import inspect

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tensorbridge.converters.onnx import from_ir, to_ir
from tensorbridge.ir import verify
from tensorbridge.runtime.session import InputError, Session

RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal((3,)).astype(np.float32)
SHAPE = np.array([3, 2], np.int64)


def ir3_model(graph_name: str = "gemm_relu") -> onnx.ModelProto:
    """y = Reshape(Relu(x @ W + B), [3, 2]): W, B and the shape are initializers listed as
    inputs before the data input x, as IR 3 files do."""
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["g"]),
             helper.make_node("Relu", ["g"], ["r"]),
             helper.make_node("Reshape", ["r", "shape"], ["y"])]
    inits = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B"),
             numpy_helper.from_array(SHAPE, "shape")]
    inputs = [helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 3]),
              helper.make_tensor_value_info("B", TensorProto.FLOAT, [3]),
              helper.make_tensor_value_info("shape", TensorProto.INT64, [2]),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])]
    graph = helper.make_graph(nodes, graph_name, inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)])
    model.ir_version = 3
    onnx.checker.check_model(model, full_check=True)
    return model


def expected(x: np.ndarray, w: np.ndarray = W, b: np.ndarray = B) -> np.ndarray:
    return np.maximum(x @ w + b, 0).reshape(3, 2)


X = RNG.standard_normal((2, 4)).astype(np.float32)


def test_front_end_records_which_inputs_have_a_default():
    g = to_ir(ir3_model())
    verify(g)
    assert [v.name for v in g.inputs] == ["W", "B", "shape", "x"]
    assert [v.name for v in g.required_inputs] == ["x"]
    assert [v.name for v in g.defaulted_inputs] == ["W", "B", "shape"]
    np.testing.assert_array_equal(g.value("W").const_array(), W)


def test_runtime_binds_positional_inputs_to_the_required_ones():
    g = to_ir(ir3_model())
    np.testing.assert_allclose(Session(g).run([X])[0], expected(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(Session(g).run({"x": X})[0], expected(X), rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match=r"missing input\(s\) \['x'\].*3 input\(s\) with a default"):
        Session(g).run([])
    with pytest.raises(InputError, match="got 2 inputs, graph 'gemm_relu' takes 1 positionally"):
        Session(g).run([X, W])


def test_runtime_defaulted_input_can_be_overridden_by_name():
    g = to_ir(ir3_model())
    w2 = RNG.standard_normal((4, 3)).astype(np.float32)
    got = Session(g).run({"x": X, "W": w2})[0]  # W feeds Gemm directly: not folded
    np.testing.assert_allclose(got, expected(X, w2), rtol=1e-6, atol=1e-6)
    s = Session(g, fold_constants=False, fuse=False)
    np.testing.assert_allclose(s.run({"x": X, "B": -B})[0], expected(X, b=-B), rtol=1e-6, atol=1e-6)


def test_runtime_refuses_an_override_its_plan_folded():
    model = ir3_model()
    # B only reaches Gemm through Neg(B): a constant subgraph the session folds at plan time
    model.graph.node.insert(0, helper.make_node("Neg", ["B"], ["nb"]))
    model.graph.node[1].input[2] = "nb"
    g = to_ir(model)
    with pytest.raises(InputError, match=r"input 'B' .* fold_constants=False, fuse=False"):
        Session(g).run({"x": X, "B": B})
    got = Session(g, fold_constants=False, fuse=False).run({"x": X, "B": -B})[0]
    np.testing.assert_allclose(got, expected(X, b=B), rtol=1e-6, atol=1e-6)


def test_round_trip_of_an_ir3_file_is_a_valid_current_file():
    import onnxruntime as ort

    out = from_ir(to_ir(ir3_model()))
    onnx.checker.check_model(out, full_check=True)
    assert out.ir_version >= 4
    assert [vi.name for vi in out.graph.input] == ["x"]
    assert {t.name for t in out.graph.initializer} == {"W", "B", "shape"}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(out.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": X})[0], expected(X), rtol=1e-6, atol=1e-6)


def test_round_trip_keeps_deliberate_defaults_of_a_current_file():
    model = ir3_model()
    model.ir_version = 8  # IR >= 4: an initializer listed as an input is an overridable input
    out = from_ir(to_ir(model))
    onnx.checker.check_model(out, full_check=True)
    assert [vi.name for vi in out.graph.input] == ["W", "B", "shape", "x"]


def test_torch_forward_takes_required_inputs_and_defaults_by_keyword():
    torch = pytest.importorskip("torch")
    from tensorbridge.converters.pytorch.from_ir import from_ir as torch_from_ir

    m = torch_from_ir(to_ir(ir3_model()))
    params = inspect.signature(m.forward).parameters
    assert [p for p, v in params.items() if v.kind is v.POSITIONAL_OR_KEYWORD] == ["x"]
    assert [p for p, v in params.items() if v.kind is v.KEYWORD_ONLY] == ["W", "B", "shape"]
    with torch.no_grad():
        np.testing.assert_allclose(m(torch.from_numpy(X)).numpy(), expected(X), rtol=1e-5, atol=1e-6)
        w2 = RNG.standard_normal((4, 3)).astype(np.float32)
        got = m(torch.from_numpy(X), W=torch.from_numpy(w2)).numpy()
    np.testing.assert_allclose(got, expected(X, w2), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError):
        m(torch.from_numpy(X), Q=torch.from_numpy(w2))


def test_tensorflow_call_takes_required_inputs_and_defaults_by_keyword():
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.migrate import emit

    m = emit(to_ir(ir3_model()), "tensorflow")
    assert [s.shape.as_list() for s in m.serve.input_signature] == [[2, 4]]
    np.testing.assert_allclose(m(tf.constant(X)).numpy(), expected(X), rtol=1e-5, atol=1e-6)
    assert {"W", "B"} <= set(m.input_defaults)
    w2 = RNG.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(m(tf.constant(X), W=w2).numpy(), expected(X, w2), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="unknown keyword argument"):
        m(tf.constant(X), Q=w2)


@pytest.mark.parametrize("to", ["torch", "tensorflow"])
def test_migration_of_an_ir3_file_with_a_hex_graph_name(to, tmp_path):
    pytest.importorskip("torch" if to == "torch" else "tensorflow")
    import tensorbridge as tb
    from tensorbridge.migrate import run_emitted

    path = tmp_path / "model.onnx"
    onnx.save(ir3_model("3f2a9c0e-77b1"), path)
    module = tb.convert(str(path), (X,), to=to)
    np.testing.assert_allclose(run_emitted(module, [X])[0], expected(X), rtol=1e-5, atol=1e-6)
    if to == "tensorflow":
        assert module.name.isidentifier()
