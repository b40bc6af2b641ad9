"""The one conversion route: whatever tb.convert / tb.check / the CLI return or write has been
validated against the source framework; a wrong result raises ParityError naming the layer.

Wrong results are made on purpose by swapping one registered function (an emitter or a
runtime kernel) for a subtly wrong one, as a real translation bug would be."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import tensorbridge as tb
from tensorbridge import cli

ROOT = Path(__file__).resolve().parents[1]


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 8)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


@pytest.fixture
def net() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    return Net().eval(), (torch.randn(4, 6),)


def _swap(monkeypatch: pytest.MonkeyPatch, registry, op: str, wrong) -> None:
    spec = registry._by_op[("", op)]
    monkeypatch.setitem(registry._by_op, ("", op), [dataclasses.replace(s, fn=wrong, wants_ctx=False,
                                                                         attr_names=frozenset())
                                                    for s in spec])


def _leak(X):
    """max(x, 0) + 0.05 * min(x, 0) in whichever framework X belongs to."""
    mod = type(X).__module__
    if mod.startswith("torch"):
        return torch.nn.functional.leaky_relu(X, 0.05)
    if mod.startswith("numpy"):
        return np.where(X > 0, X, X * np.asarray(0.05, X.dtype))
    import tensorflow as tf

    return tf.nn.leaky_relu(X, 0.05)


def _wrong_relu(X, *, consumed_inputs=None):
    return _leak(X)


def test_a_wrong_torch_emitter_raises_naming_the_layer(net, monkeypatch):
    from tensorbridge.converters.pytorch.from_ir.registry import EMITTERS

    _swap(monkeypatch, EMITTERS, "Relu", _wrong_relu)
    with pytest.raises(tb.ParityError) as info:
        tb.convert(*net, to="torch")
    report = info.value.report
    assert not report.ok and report.target == "torch"
    assert report.first_divergence is not None and report.first_divergence.module == "act"
    assert "was not returned" in str(info.value).splitlines()[0]
    # the worst element is measured against the whole allowance the verdict uses
    worst = report.worst()
    assert worst is not None and worst.error_ratio > 1
    assert f"{worst.error_ratio:,.3g}x its allowance atol + rtol*|ref|" in str(info.value)
    # the explicit opt-out hands back the (wrong) module
    module = tb.convert(*net, to="torch", validate=False)
    assert not np.allclose(module(net[1][0]).detach().numpy(), net[0](net[1][0]).detach().numpy())


def test_a_wrong_tensorflow_emitter_raises(net, monkeypatch):
    from tensorbridge.converters.tensorflow.from_ir.registry import EMITTERS

    _swap(monkeypatch, EMITTERS, "Relu", _wrong_relu)
    with pytest.raises(tb.ParityError) as info:
        tb.convert(*net, to="tf")  # any spelling of the target
    assert info.value.report.target == "tensorflow"
    assert info.value.report.first_divergence.module == "act"


def test_a_wrong_ir_is_blamed_before_emission(net, monkeypatch):
    """The runtime runs the IR before a migration is emitted: a front-end or pass bug is
    told apart from an emitter bug."""
    from tensorbridge.runtime.registry import KERNELS

    _swap(monkeypatch, KERNELS, "Relu", _wrong_relu)
    with pytest.raises(tb.ParityError, match="the IR already differs") as info:
        tb.convert(*net, to="torch")
    assert info.value.report.first_divergence.module == "act"
    with pytest.raises(tb.ParityError):  # to ONNX, the artifact runs on the same runtime
        tb.convert(*net)


def test_convert_validates_by_default_and_check_takes_the_same_route(net):
    model = tb.convert(*net, opset=18)
    assert model.opset_import[0].version == 18
    onnx.checker.check_model(model, full_check=True)
    report = tb.check(*net, opset=17, generated=False)
    assert report.ok and report.input_sets == ["example"]
    assert "noise floor" in report.tolerance.reason
    with pytest.raises(tb.TensorbridgeError, match="unknown target"):
        tb.convert(*net, to="jax")
    with pytest.raises(tb.TensorbridgeError, match="validate="):
        tb.convert(*net, validate="yes")


def test_full_validation_adds_generated_inputs(net, monkeypatch):
    from tensorbridge.converters.pytorch.from_ir.registry import EMITTERS

    calls: list[int] = []
    real = EMITTERS._by_op[("", "Relu")][0].fn

    def counting(X, *, consumed_inputs=None):
        calls.append(1)
        return real(X)

    _swap(monkeypatch, EMITTERS, "Relu", counting)
    tb.convert(*net, to="torch")
    example_only = len(calls)
    calls.clear()
    tb.convert(*net, to="torch", validate="full")
    assert len(calls) > example_only


def test_an_onnx_file_that_onnx_checker_refuses_is_not_returned(net):
    """A stale intermediate shape (what a pass that forgets to update shapes leaves) fails
    onnx.checker's full check: the conversion raises instead of returning it."""
    from tensorbridge.ir.types import TensorType

    g = tb.load(*net)
    inner = next(v for v in g.values() if v.role.name == "INTERMEDIATE" and v.shape == (4, 8))
    inner.type = TensorType(inner.dtype, (4, 999))
    with pytest.raises(tb.ParityError, match="full_check"):
        tb.convert(g)


def test_an_onnx_source_without_inputs_is_validated_on_generated_ones():
    model = tb.convert(ROOT / "fixtures" / "tiny_encoder.onnx", to="onnx")
    onnx.checker.check_model(model, full_check=True)
    report = tb.check(ROOT / "fixtures" / "tiny_encoder.onnx", generated=False)
    assert report.ok, report
    assert report.reference == "onnxruntime"


def test_cli_convert_check_checks_the_written_file(net, tmp_path, monkeypatch, capsys):
    """--check validates the bytes written, loaded back: a file damaged after the in-memory
    validation is caught."""
    ep = torch.export.export(*net)
    pt2 = tmp_path / "net.pt2"
    torch.export.save(ep, str(pt2))
    out = tmp_path / "net.onnx"
    assert cli.main(["convert", str(pt2), "-o", str(out), "--check"]) == 0
    assert "validated" in capsys.readouterr().out

    real_save = tb.save

    def damaging_save(model, path, **kw):
        written = real_save(model, path, **kw)
        m = onnx.load(str(written))
        w = next(t for t in m.graph.initializer if t.dims and t.dims[0] == 8)
        arr = onnx.numpy_helper.to_array(w) * 1.01
        w.CopyFrom(onnx.numpy_helper.from_array(arr, w.name))
        Path(written).write_bytes(m.SerializeToString())
        return written

    monkeypatch.setattr(tb, "save", damaging_save)
    assert cli.main(["convert", str(pt2), "-o", str(out), "--check"]) == 1
    out_text = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "FAIL" in out_text and "as written to" in out_text and "first divergence: fc1" in out_text


def test_cli_convert_refuses_to_write_a_wrong_model(net, tmp_path, monkeypatch):
    from tensorbridge.converters.pytorch.from_ir.registry import EMITTERS

    ep = torch.export.export(*net)
    pt2 = tmp_path / "net.pt2"
    torch.export.save(ep, str(pt2))
    _swap(monkeypatch, EMITTERS, "Relu", _wrong_relu)
    out = tmp_path / "net_torch"
    assert cli.main(["convert", str(pt2), "--to", "torch", "-o", str(out)]) == 1
    assert not out.exists()
    assert cli.main(["convert", str(pt2), "--to", "torch", "-o", str(out), "--no-validate"]) == 0
    assert out.is_dir()


@pytest.mark.parametrize("to", ["onnx", "torch", "tensorflow"])
def test_float64_layer_norm_keeps_float64_statistics(to):
    """torch computes a float64 LayerNorm's statistics in float64; ONNX's default stash_type
    is float32, which the float64 tolerance (1e-9) catches."""
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.LayerNorm(16)).double().eval()
    report = tb.check(m, (torch.randn(2, 5, 16, dtype=torch.float64),), to=to, generated=False)
    assert report.ok, report
    assert report.tolerance.rtol <= 1e-9


def test_cli_version_and_inspect_show_symbolic_dims(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and tb.__version__ in capsys.readouterr().out
    m = tb.convert(Net().eval(), (torch.randn(4, 6),), dynamic_shapes={"x": {0: "batch"}})
    onnx.save(m, str(tmp_path / "net.onnx"))
    assert cli.main(["inspect", str(tmp_path / "net.onnx")]) == 0
    assert "[batch,6]" in capsys.readouterr().out


def test_cli_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert cli.main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    with pytest.raises(tb.TensorbridgeError):
        cli.main(["--debug", "inspect", str(bad)])

    def broken(*_a, **_k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("tensorbridge.summary.summarize", broken)
    assert cli.main(["inspect", str(ROOT / "fixtures" / "tiny_cnn.onnx")]) == 3
    assert "internal error: ZeroDivisionError: boom" in " ".join(capsys.readouterr().err.split())


def test_a_model_over_the_protobuf_limit_is_checked_with_external_data(net, monkeypatch):
    """Over 2 GiB a ModelProto cannot be serialized as one message: validation checks it as
    tb.save writes it (external data). The limit is lowered here to exercise that path."""
    monkeypatch.setattr("tensorbridge.converters.onnx.external.EXTERNAL_DATA_THRESHOLD", 0)
    report = tb.check(*net, generated=False)
    assert report.ok, report
    assert "onnx_check_s" in report.timings
