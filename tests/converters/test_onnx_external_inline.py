"""External data as onnx writes it: weights go to the data file, but tensors under 1 KiB
(shapes, axes, pads) stay in the .onnx, so shape inference -- and onnx.checker's full
check -- can read them. Before, every initializer went out, and the full check refused a
correct opset-18 model ("Cannot parse data from external tensors" on ReduceMean's axes):
that refusal is how a 1.9 GB timm tf_efficientnet_l2 conversion was refused."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tensorbridge.converters.onnx.external import save_model


def _model() -> onnx.ModelProto:
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("ReduceMean", ["h", "axes"], ["y"], keepdims=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1])],
                              [numpy_helper.from_array(w, "w"),
                               numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_small_tensors_stay_inline_and_the_full_check_passes(tmp_path):
    path = save_model(_model(), tmp_path / "m.onnx", external=True)
    onnx.checker.check_model(str(path), full_check=True)  # raised InferenceError before
    proto = onnx.load(str(path), load_external_data=False)
    where = {t.name: t.data_location for t in proto.graph.initializer}
    assert where == {"w": TensorProto.EXTERNAL, "axes": TensorProto.DEFAULT}
    assert len(numpy_helper.to_array(proto.graph.initializer[1]).tobytes()) < 1024
    loaded = onnx.load(str(path))
    x = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    w = numpy_helper.to_array(loaded.graph.initializer[0])
    np.testing.assert_allclose(w, numpy_helper.to_array(_model().graph.initializer[0]))
    import tensorbridge as tb

    got = tb.run(str(path), x)[0]
    np.testing.assert_allclose(got, (x @ w).mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
