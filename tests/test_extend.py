"""The public registration API (tensorbridge/extend.py), used from outside the package.

A plugin module written into a temporary folder declares a custom PyTorch op with
torch.library, a custom ONNX op in domain "com.example" (tb.register_schema), its PyTorch
translation, its runtime kernel and its PyTorch emitter. A fresh interpreter (so the
process-wide registrations do not leak into other tests) imports it from that folder,
converts a model using the op to ONNX and back to PyTorch, each conversion validated by
tb.convert, and compares both with the model's eager output."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tensorbridge as tb

PLUGIN = '''
import numpy as np
import torch
from onnx.defs import OpSchema

import tensorbridge as tb

LIB = torch.library.Library("tbexample", "DEF")
LIB.define("scaled_softsign(Tensor x, float alpha) -> Tensor")


@torch.library.impl(LIB, "scaled_softsign", "CompositeExplicitAutograd")
def _scaled_softsign(x, alpha):
    return alpha * x / (1 + x.abs())


@torch.library.register_fake("tbexample::scaled_softsign")
def _scaled_softsign_fake(x, alpha):
    return torch.empty_like(x)


tb.register_schema(OpSchema(
    "ScaledSoftsign", "com.example", 1, doc="alpha * x / (1 + |x|)",
    inputs=[OpSchema.FormalParameter("X", "T")], outputs=[OpSchema.FormalParameter("Y", "T")],
    type_constraints=[("T", ["tensor(float)", "tensor(double)"], "float tensors")],
    attributes=[OpSchema.Attribute("alpha", OpSchema.AttrType.FLOAT, "the scale", required=False)]))


@tb.register_torch_translation("tbexample::scaled_softsign.default")
def scaled_softsign(ctx, x, alpha):
    """scaled_softsign(Tensor x, float alpha) -> Tensor"""
    return ctx.op("ScaledSoftsign", [x], {"alpha": float(alpha)}, domain="com.example")


@tb.register_kernel("ScaledSoftsign", domain="com.example")
def scaled_softsign_kernel(x, *, alpha=1.0):
    return (alpha * x / (1 + np.abs(x))).astype(x.dtype)


@tb.register_torch_emitter("ScaledSoftsign", domain="com.example")
def scaled_softsign_emitter(x, *, alpha=1.0):
    return torch.ops.tbexample.scaled_softsign(x, alpha)
'''

SCRIPT = '''
import json
import numpy as np
import onnx
import torch

import tensorbridge as tb
import example_plugin  # noqa: F401  (registers the op in every layer)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(6, 6)

    def forward(self, x):
        return torch.relu(torch.ops.tbexample.scaled_softsign(self.linear(x), 1.5))


torch.manual_seed(0)
model, x = Model().eval(), torch.randn(3, 6)
expected = model(x).detach().numpy()
m = tb.convert(model, (x,), to="onnx")  # validated against eager (the plugin's kernel runs it)
onnx.checker.check_model(m, full_check=True)
custom = [n for n in m.graph.node if n.domain == "com.example"]
runtime_err = float(np.abs(tb.run(m, x.numpy())[0] - expected).max())
back = tb.convert(m, None, to="torch")  # validated against the ONNX source
with torch.no_grad():
    migrated = back(x)
try:
    @tb.register_kernel("ScaledSoftsign", domain="com.example")
    def again(x, *, alpha=1.0):
        return x
    duplicate = "no error"
except ValueError as e:
    duplicate = str(e)

@tb.register_kernel("ScaledSoftsign", domain="com.example", replace=True)
def wrong(x, *, alpha=1.0):
    return x
try:
    tb.convert(model, (x,), to="onnx")
    replaced = "no error"
except tb.ParityError as e:
    replaced = type(e).__name__
print(json.dumps({
    "custom": [(n.op_type, [a.name for a in n.attribute]) for n in custom],
    "opsets": {o.domain: o.version for o in m.opset_import},
    "onnx_runtime_err": runtime_err,
    "torch_err": float(np.abs(migrated.numpy() - expected).max()),
    "duplicate": duplicate,
    "replaced": replaced,
}))
'''


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "example_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (folder / "use_plugin.py").write_text(textwrap.dedent(SCRIPT))
    done = subprocess.run([sys.executable, "use_plugin.py"], cwd=folder, capture_output=True, text=True,
                          timeout=300, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_plugin_op_converts_to_onnx_and_back_to_torch(plugin_run: dict) -> None:
    assert plugin_run["custom"] == [["ScaledSoftsign", ["alpha"]]]
    assert plugin_run["opsets"]["com.example"] == 1
    assert plugin_run["onnx_runtime_err"] < 1e-6
    assert plugin_run["torch_err"] < 1e-6


def test_registering_a_key_twice_raises_unless_replace(plugin_run: dict) -> None:
    assert "registered twice" in plugin_run["duplicate"] and "replace=True" in plugin_run["duplicate"]
    # the replaced (wrong) kernel is the one validation runs: the conversion is refused
    assert plugin_run["replaced"] == "ParityError"


def test_builtin_keys_are_protected() -> None:
    with pytest.raises(ValueError, match="replace=True"):
        tb.register_kernel("Relu")(lambda x: x)
    with pytest.raises(ValueError, match="domain"):
        import onnx.defs

        tb.register_schema(onnx.defs.get_schema("Relu", 14))
    with pytest.raises(TypeError, match="OpSchema"):
        tb.register_schema("Relu")  # type: ignore[arg-type]


def test_readme_and_docs_describe_the_api() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    for name in tb.extend.__all__:
        assert name in docs, name
