"""Old-opset ONNX models migrate to TensorFlow: the channels-last twins keep the attributes
of their node's own opset (BatchNormalization-6's is_test, MaxPool-1 / AveragePool-1 without
dilations) instead of failing verification against another version's schema. Checked on
onnx's own test data (pytorch-converted opset 6 files, the light model zoo) against their
stored outputs, and on a model built with onnx.helper against onnx.reference
(onnxruntime has no BatchNormalization-6 kernel; tb.convert validates the other migrations
against onnxruntime)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tensorbridge as tb
from tensorbridge.migrate import run_emitted

pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
RNG = np.random.default_rng(11)


def _stored(folder: Path, name: str) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(str(folder / "test_data_set_0" / name)))


@pytest.mark.parametrize("case", ["test_BatchNorm1d_3d_input_eval", "test_BatchNorm3d_eval", "test_MaxPool2d",
                                  "test_MaxPool1d_stride", "test_AvgPool2d_stride", "test_Conv2d_depthwise_strided"])
def test_pytorch_converted_opset6_file_migrates(case):
    folder = DATA / "pytorch-converted" / case
    model = onnx.load(str(folder / "model.onnx"))
    assert {o.domain: o.version for o in model.opset_import}[""] == 6
    x = _stored(folder, "input_0.pb")
    module = tb.convert(str(folder / "model.onnx"), (x,), to="tensorflow")
    np.testing.assert_allclose(run_emitted(module, [x])[0], _stored(folder, "output_0.pb"), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["squeezenet",
                                  pytest.param("inception_v1", marks=pytest.mark.slow),
                                  pytest.param("vgg19", marks=pytest.mark.slow)])
def test_light_model_zoo_file_migrates(name):
    path = DATA / "light" / f"light_{name}.onnx"
    model = onnx.load(str(path))
    inits = {i.name for i in model.graph.initializer}
    [data] = [i for i in model.graph.input if i.name not in inits]
    x = RNG.standard_normal([d.dim_value for d in data.type.tensor_type.shape.dim]).astype(np.float32)
    module = tb.convert(str(path), (x,), to="tensorflow")  # validated against onnxruntime
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {data.name: x})[0]
    np.testing.assert_allclose(run_emitted(module, [x])[0], expected, rtol=1e-3, atol=1e-5)


def _opset6_cnn() -> onnx.ModelProto:
    """Conv -> BatchNormalization-6 (is_test) -> Relu -> MaxPool-1 -> AveragePool-1, IR 4."""
    def init(name: str, *shape: int, low: float = -1.0) -> onnx.TensorProto:
        return numpy_helper.from_array(RNG.uniform(low, low + 2, shape).astype(np.float32), name)

    inits = [init("w", 4, 3, 3, 3), init("b", 4), init("s", 4), init("o", 4), init("m", 4), init("v", 4, low=0.5)]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["n"], is_test=1, epsilon=1e-3),
             helper.make_node("Relu", ["n"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             # no pads: onnx.reference counts AveragePool-1's pads in the average, the spec
             # (and onnxruntime's AveragePool-7 default) leave them out
             helper.make_node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "old_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 2, 2])], inits)
    model = helper.make_model(graph, ir_version=4, opset_imports=[helper.make_opsetid("", 6)])
    onnx.checker.check_model(model, full_check=True)
    return model


def test_opset6_model_built_with_helper_migrates():
    from onnx.reference import ReferenceEvaluator

    model = _opset6_cnn()
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    module = tb.convert(model, (x,), to="tensorflow")
    got = run_emitted(module, [x])[0]
    np.testing.assert_allclose(got, ReferenceEvaluator(model).run(None, {"x": x})[0], rtol=1e-4, atol=1e-5)
    ops = {(n.domain, n.op_type) for n in module.graph.nodes()}
    assert ("tensorbridge.nhwc", "BatchNormalization") in ops and ("tensorbridge.nhwc", "MaxPool") in ops
    assert module.graph.opset_imports["tensorbridge.nhwc"] == 6
