"""Migration of files and to files: ONNX fixtures -> PyTorch / TensorFlow (compared with
the outputs stored next to them, made by the source framework), tb.save of emitted modules
(PyTorch: model.py + model.safetensors that import and load without tensorbridge and
without unpickling; TensorFlow: a SavedModel that reloads), the CLI, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import tensorbridge as tb  # noqa: E402
from tensorbridge.ir.dtypes import DType  # noqa: E402
from tensorbridge.ir.errors import ConversionError  # noqa: E402
from tensorbridge.ir.graph import Graph  # noqa: E402
from tensorbridge.ir.node import Role  # noqa: E402
from tensorbridge.migrate import run_emitted  # noqa: E402
from tests.converters.migrate_harness import assert_close, train_step, trainable_count  # noqa: E402

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _fixture(name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    with np.load(FIXTURES / f"{name}.npz") as data:
        ins = [data[k] for k in sorted(data.files, key=_order) if k.startswith("input_")]
        outs = [data[k] for k in sorted(data.files, key=_order) if k.startswith("output_")]
    return ins, outs


def _order(key: str) -> int:
    return int(key.rsplit("_", 1)[1])


def _onnx_weights(path: Path) -> int:
    """Elements of float initializers with more than one element (ONNX has no 'trainable')."""
    model = onnx.load(path)
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
    return sum(a.size for a in arrays if a.dtype.kind == "f" and a.size > 1)


@pytest.mark.parametrize("to", ["torch", "tensorflow"])
@pytest.mark.parametrize("name", ["tiny_cnn", "tiny_encoder", "control_flow"])
def test_onnx_fixture_migrates(name, to):
    feeds, expected = _fixture(name)
    module = tb.convert(str(FIXTURES / f"{name}.onnx"), to=to)
    assert_close(run_emitted(module, feeds), expected, 1e-4, 1e-5, f"{name} -> {to}")
    assert trainable_count(module) == _onnx_weights(FIXTURES / f"{name}.onnx")
    if trainable_count(module) and name != "control_flow":
        assert train_step(module, feeds, to) > 0


def test_torch_folder_is_standalone_code_and_safetensors(tmp_path):
    feeds, expected = _fixture("tiny_cnn")
    module = tb.convert(str(FIXTURES / "tiny_cnn.onnx"), to="torch")
    out = tb.save(module, tmp_path / "cnn_torch")
    assert sorted(p.name for p in out.iterdir()) == ["model.py", "model.safetensors"]
    assert not list(tmp_path.glob(".cnn_torch*")), "temp folder left behind"
    np.save(tmp_path / "x.npy", feeds[0])
    script = ("import sys, numpy as np, torch; sys.path.insert(0, sys.argv[1]); import model; "
              "m = model.load(); y = m(torch.from_numpy(np.load(sys.argv[2]))); "
              "np.save(sys.argv[3], y.detach().numpy()); "
              "print(sum(p.numel() for p in m.parameters()), 'tensorbridge' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", script, str(out), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    count, imported_tb = run.stdout.split()
    assert int(count) == trainable_count(module) and imported_tb == "False"
    assert_close([np.load(tmp_path / "y.npy")], expected, 1e-4, 1e-5, "model.py")


def test_tensorflow_savedmodel_reloads(tmp_path):
    feeds, expected = _fixture("tiny_cnn")
    module = tb.convert(str(FIXTURES / "tiny_cnn.onnx"), to="tensorflow")
    out = tb.save(module, tmp_path / "cnn_tf")
    loaded = tf.saved_model.load(str(out))
    got = loaded.signatures["serving_default"](tf.constant(feeds[0]))
    assert_close([next(iter(got.values())).numpy()], expected, 1e-4, 1e-5, "SavedModel")
    restored = list(loaded.weights.values())  # the variables, restored with their trainable flags
    assert sum(v.shape.num_elements() for v in restored if v.trainable) == trainable_count(module)


@pytest.mark.parametrize(("to", "files"), [("torch", ["model.py", "model.safetensors"]),
                                           ("tensorflow", ["saved_model.pb", "variables"])])
def test_cli_convert_to_framework(tmp_path, to, files):
    out = tmp_path / f"model_{to}"
    run = subprocess.run([sys.executable, "-m", "tensorbridge", "convert", str(FIXTURES / "cnn.pt2"),
                          "--to", to, "-o", str(out), "--check"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert all((out / f).exists() for f in files), sorted(p.name for p in out.iterdir())
    assert "emitted" in run.stdout


def _graph_with(op_types: list[str]) -> Graph:
    g = Graph("bad", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    for op in op_types:
        [x] = g.add_op(op, [x], provenance=None)
    g.set_outputs([x])
    return g


@pytest.mark.parametrize("to", ["torch", "tensorflow"])
def test_ops_without_emitter_are_all_reported(to, monkeypatch):
    if to == "torch":
        from tensorbridge.converters.pytorch.from_ir.registry import EMITTERS
    else:
        from tensorbridge.converters.tensorflow.from_ir.registry import EMITTERS
    for op in ("Relu", "Sigmoid"):  # pretend two ops have no emitter
        monkeypatch.delitem(EMITTERS._by_op, ("", op))
    with pytest.raises(ConversionError) as err:
        tb.convert(_graph_with(["Relu", "Tanh", "Sigmoid"]), to=to)
    assert "2 problem(s)" in str(err.value) and "Relu" in str(err.value) and "Sigmoid" in str(err.value)


@pytest.mark.parametrize("to", ["torch", "tensorflow"])
def test_integer_weights_are_named_when_they_cannot_train(to):
    g = Graph("int_weights", opset_imports={"": 20})
    x = g.add_input("x", DType.INT64, (3,))
    w = g.add_constant("table.offset", np.arange(3, dtype=np.int64), role=Role.PARAMETER,
                       source_name="table.offset")
    [y] = g.add_op("Add", [x, w])
    g.set_outputs([y])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = tb.convert(g, to=to)
    assert any("table.offset" in str(w.message) for w in caught)
    assert module.frozen_weights == ["table.offset"]
    np.testing.assert_array_equal(run_emitted(module, [np.ones(3, np.int64)])[0], [1, 2, 3])
