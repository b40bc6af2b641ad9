"""The ``onnx.backend`` adapter (tensorbridge/backend.py): the interface itself, and onnx's
own backend runner on its real-model tests (the light Model Zoo architectures, IR 3 files
whose initializers are listed as inputs, checked against the outputs stored with them)."""

from __future__ import annotations

import unittest

import numpy as np
import onnx.backend.test
from onnx import TensorProto, helper

from tensorbridge import backend
from tensorbridge.backend import TensorbridgeBackend

REAL_MODELS = r"test_(bvlc_alexnet|densenet121|inception_v1|inception_v2|resnet50|shufflenet|squeezenet|vgg19|zfnet512)_cpu"


def test_backend_interface_runs_a_node_and_a_model():
    node = helper.make_node("Relu", ["x"], ["y"])
    (out,) = TensorbridgeBackend.run_node(node, [np.array([-1.0, 2.0], np.float32)], opset_version=18)
    np.testing.assert_array_equal(out, [0.0, 2.0])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    rep = backend.prepare(model)
    np.testing.assert_array_equal(rep.run([np.array([3.0, -3.0], np.float32)])[0], [3.0, 0.0])
    np.testing.assert_array_equal(rep.run({"x": np.array([-3.0, 3.0], np.float32)})[0], [0.0, 3.0])
    assert backend.supports_device("CPU") and not backend.supports_device("CUDA")


def test_onnx_backend_runner_real_models_pass(tmp_path, monkeypatch):
    """onnx's BackendTest with our backend module: the 9 light models, each prepared once and
    run on the runner's inputs, compared with the stored outputs at the runner's tolerances
    (about 20 s in all on this machine)."""
    monkeypatch.setenv("ONNX_HOME", str(tmp_path))  # the runner writes its test data there
    runner = onnx.backend.test.BackendTest(backend, __name__)
    runner.include(REAL_MODELS)
    suite = unittest.TestSuite()
    for case in runner.test_cases.values():
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))
    result = unittest.TextTestRunner(stream=_Sink(), verbosity=0).run(suite)
    problems = [f"{t.id()}: {msg.strip().splitlines()[-1]}" for t, msg in result.failures + result.errors]
    assert not problems, "\n".join(problems)
    assert result.testsRun - len(result.skipped) == 9


class _Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
