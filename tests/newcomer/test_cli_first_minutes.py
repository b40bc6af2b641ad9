"""The README's commands, run as a newcomer runs them: the installed ``tensorbridge`` command
in a fresh folder, on models written here (a bare .onnx without inputs, a Keras .keras and
.h5, a torch.export .pt2), and on the wrong files a newcomer tries first. Each asserts the
exit code, that no traceback is shown, and the message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

TB = [sys.executable, "-m", "tensorbridge"]


def tb_cli(*args: str, cwd: Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*TB, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    shown = done.stdout + done.stderr
    assert "Traceback" not in shown, shown
    assert done.returncode == code, f"exit {done.returncode} (wanted {code}):\n{shown}"
    return done


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A fresh folder holding the newcomer's own models."""
    d = tmp_path_factory.mktemp("newcomer")
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["logits"])]
    graph = helper.make_graph(nodes, "bare", [helper.make_tensor_value_info(
        "image", TensorProto.FLOAT, ["batch", 3, 16, 16])], [helper.make_tensor_value_info(
            "logits", TensorProto.FLOAT, ["batch", 4, 1, 1])], initializer=[w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), d / "bare.onnx")

    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)], name="kcnn")
    model.save(d / "kcnn.keras")
    model.save(d / "kcnn.h5")

    import torch

    class Small(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.conv(x).relu().mean((2, 3)))

    torch.manual_seed(0)
    ep = torch.export.export(Small().eval(), (torch.randn(2, 3, 10, 10),))
    torch.export.save(ep, d / "small.pt2")
    torch.save(Small().state_dict(), d / "small.pt")
    return d


def test_version_and_help(folder):
    assert tb_cli("--version", cwd=folder).stdout.startswith("tensorbridge ")
    assert "convert" in tb_cli("--help", cwd=folder).stdout


def test_inspect_shows_symbolic_dims(folder):
    out = tb_cli("inspect", "bare.onnx", cwd=folder).stdout
    assert "batch" in out and "image" in out and "Conv" in out


def test_run_a_bare_onnx_without_inputs(folder):
    out = tb_cli("run", "bare.onnx", cwd=folder).stdout
    assert "logits" in out and "[2, 4, 1, 1]" in out


def test_check_a_bare_onnx_without_inputs(folder):
    out = tb_cli("check", "bare.onnx", cwd=folder).stdout
    assert "PASS" in out and "resized" in out  # the dynamic batch at a second size


def test_convert_a_bare_onnx_to_each_target_with_check(folder):
    tb_cli("convert", "bare.onnx", "-o", "bare_again.onnx", "--check", cwd=folder)
    assert onnx.load(folder / "bare_again.onnx").graph.node
    tb_cli("convert", "bare.onnx", "--to", "torch", "-o", "bare_torch", "--check", cwd=folder)
    assert (folder / "bare_torch" / "model.py").is_file()


def test_keras_files_convert_with_check(folder):
    for name in ("kcnn.keras", "kcnn.h5"):
        out = Path(name).stem + ("_h5" if name.endswith(".h5") else "") + ".onnx"
        done = tb_cli("convert", name, "-o", out, "--check", cwd=folder)
        assert "validated against the source" in done.stdout and (folder / out).is_file()


def test_pt2_converts_and_migrates(folder):
    tb_cli("convert", "small.pt2", "-o", "small.onnx", "--check", cwd=folder)
    out = tb_cli("check", "small.pt2", "--to", "tensorflow", cwd=folder).stdout
    assert "PASS" in out


def test_check_against_another_onnx(folder):
    tb_cli("convert", "bare.onnx", "-o", "copy.onnx", cwd=folder)
    tb_cli("check", "copy.onnx", "--against", "bare.onnx", cwd=folder)


@pytest.mark.parametrize(("args", "says"), [
    (("convert", "small.pt", "-o", "x.onnx"), "is a torch.save checkpoint"),
    (("convert", "missing.onnx", "-o", "x.onnx"), "missing.onnx"),
    (("check", "bare.onnx", "--inputs", "nothing.npz"), "no such file"),
    (("convert", "bare.onnx", "-o", "no/such/dir/x.onnx"), "does not exist"),
])
def test_wrong_turns_get_advice_and_exit_2(folder, args, says):
    done = tb_cli(*args, cwd=folder, code=2)
    assert says in done.stderr
    assert not (folder / "x.onnx").exists()
