"""``tensorbridge check B.onnx --against A.onnx``: B is compared with A on inputs generated
from A's types (no inputs needed); a changed weight fails, a re-serialised copy passes, a
different signature is a clear usage error."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tensorbridge.cli import main as cli


def _mlp(w1: np.ndarray, input_name: str = "x") -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    w2 = rng.standard_normal((8, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", [input_name, "w1"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture
def models(tmp_path):
    w1 = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    paths = {}
    for name, model in {"a": _mlp(w1), "same": _mlp(w1.copy()),
                        "changed": _mlp(w1 + np.float32(1e-2)), "renamed": _mlp(w1, "input")}.items():
        paths[name] = tmp_path / f"{name}.onnx"
        onnx.save(model, paths[name])
    return paths


def test_a_copy_passes_against_its_original(models, capsys):
    assert cli(["check", str(models["same"]), "--against", str(models["a"])]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out or "pass" in out


def test_a_changed_weight_fails(models, tmp_path, capsys):
    report = tmp_path / "r.json"
    assert cli(["check", str(models["changed"]), "--against", str(models["a"]), "--json", str(report)]) == 1
    assert "Traceback" not in capsys.readouterr().err
    import json

    data = json.loads(report.read_text())
    assert data["ok"] is False
    # the difference is real: numpy's own evaluation of both models disagrees too
    x = np.ones((2, 5), np.float32)
    ws = {n: {i.name: numpy_helper.to_array(i) for i in onnx.load(models[n]).graph.initializer}
          for n in ("a", "changed")}
    ya, yb = (np.maximum(x @ w["w1"], 0) @ w["w2"] for w in ws.values())
    assert np.abs(ya - yb).max() > 1e-3


def test_a_different_signature_is_a_usage_error(models, capsys):
    assert cli(["check", str(models["renamed"]), "--against", str(models["a"])]) == 2
    err = capsys.readouterr().err
    assert "do not have the same signature" in err and "'input'" in err and "Traceback" not in err
