"""PyTorch front-end: core arithmetic, weights, names, provenance, dynamic shapes, errors."""

from __future__ import annotations

import pytest
import torch

from tests.converters.pytorch_harness import Fn, check_module

R = torch.randn


@pytest.mark.parametrize("name,fn,inputs", [
    ("add", lambda a, b: a + b, (R(2, 3), R(2, 3))),
    ("add_alpha_broadcast", lambda a, b: torch.add(a, b, alpha=2.5), (R(2, 3), R(3))),
    ("sub_scalar", lambda a: a - 1.5, (R(4),)),
    ("rsub", lambda a: 2 - a, (R(4),)),
    ("mul_int_float_promotion", lambda a, b: a * b, (torch.arange(6).reshape(2, 3), R(2, 3))),
    ("div_int_true_division", lambda a, b: a / b, (torch.arange(1, 7), torch.arange(6, 0, -1))),
])
def test_core_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)


class TwoLayer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 2)
        self.register_buffer("offset", torch.tensor([0.5, -0.5]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)) + self.offset


def test_weights_keep_state_dict_names_and_ops_carry_provenance():
    from tensorbridge.converters.onnx import from_ir
    from tensorbridge.ir import Role

    g = check_module(TwoLayer(), (R(3, 4),))
    inits = {v.name: v for v in g.initializers()}
    assert {"encoder.0.weight", "encoder.0.bias", "head.weight", "head.bias", "offset"} <= set(inits)
    assert inits["head.weight"].role is Role.PARAMETER and inits["offset"].role is Role.BUFFER
    gemm = [n for n in g.nodes() if n.provenance.module == "encoder.0"]
    assert gemm and gemm[0].provenance.source_op.startswith("aten.linear")
    assert "test_pytorch_core.py" in gemm[0].provenance.location
    model = from_ir(g)
    props = {p.key: p.value for n in model.graph.node for p in n.metadata_props}
    assert props.get("tensorbridge.module") in {"encoder.0", "encoder.1", "head"}


class Dyn(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1).softmax(-1)


def test_dynamic_batch_becomes_named_dim_param():
    from tensorbridge.converters.onnx import from_ir

    g = check_module(Dyn(), (R(2, 3, 4),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(R(5, 3, 4),))
    assert g.inputs[0].shape == ("batch", 3, 4)
    assert g.outputs[0].shape == ("batch", 12)
    model = from_ir(g)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert any(k.startswith("tensorbridge.dim_range.batch") for k in g.metadata)


class ForcesStatic(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(2, 12)


def test_specialised_dynamic_dim_is_loud():
    from tensorbridge.converters.pytorch.to_ir import ShapeSpecializationError, to_ir

    with pytest.raises(ShapeSpecializationError, match=r"input 'x' dim 0 \('batch'\) was specialised to 2"):
        to_ir(ForcesStatic(), (R(2, 3, 4),), dynamic_shapes={"x": {0: "batch"}})
    with pytest.warns(UserWarning, match="specialised"):
        g = to_ir(ForcesStatic(), (R(2, 3, 4),), dynamic_shapes={"x": {0: "batch"}}, strict_shapes=False)
    assert g.inputs[0].shape == (2, 3, 4)


class Unsupported(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.special.bessel_j0(x)
        b = torch.special.bessel_j1(x)
        return a + b


def test_all_unsupported_ops_reported_at_once_with_source_lines():
    from tensorbridge.converters.pytorch.to_ir import to_ir
    from tensorbridge.ir import ConversionError

    with pytest.raises(ConversionError) as e:
        to_ir(Unsupported(), (R(3),))
    text = str(e.value)
    assert len(e.value.errors) == 2
    assert "bessel_j0" in text and "bessel_j1" in text and "test_pytorch_core.py:" in text


class DataDependent(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x - 1


def test_capture_failure_is_short_and_hints():
    from tensorbridge.converters.pytorch.capture import CaptureError
    from tensorbridge.converters.pytorch.to_ir import to_ir

    with pytest.raises(CaptureError) as e:
        to_ir(DataDependent(), (R(3),))
    text = str(e.value)
    assert "torch.cond" in text and len(text.splitlines()) < 30


def test_opset_range_and_unmeetable_request():
    from tensorbridge.converters.pytorch.to_ir import to_ir
    from tensorbridge.ir import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="opsets 17"):
        to_ir(TwoLayer(), (R(3, 4),), opset=13)
    for opset in (17, 18, 21):
        g = check_module(TwoLayer(), (R(3, 4),), opset=opset)
        assert g.opset() == opset
    with pytest.raises(Exception, match="needs opset >= 18"):
        to_ir(Fn(lambda a, b: a & b), (torch.arange(4), torch.arange(4)), opset=17)


def test_pt2_file_convert_and_check_cli(tmp_path, capsys):
    import onnx

    from tensorbridge.cli import main as cli

    ep = torch.export.export(TwoLayer().eval(), (R(3, 4),))
    path = tmp_path / "model.pt2"
    torch.export.save(ep, str(path))
    out = tmp_path / "model.onnx"
    assert cli(["convert", str(path), "-o", str(out), "--check"]) == 0
    text = capsys.readouterr().out
    assert "PASS" in text and "pytorch eager" in text
    onnx.checker.check_model(str(out), full_check=True)
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip")
    assert cli(["convert", str(bad), "-o", str(tmp_path / "x.onnx")]) == 2
    assert not (tmp_path / "x.onnx").exists()


def test_tb_check_catches_a_wrong_conversion(monkeypatch):
    import tensorbridge as tb
    from tensorbridge.converters.pytorch.registry import ATEN

    rep = tb.check(TwoLayer(), (R(3, 4),))
    assert rep.ok and {c.runtime for c in rep.comparisons} == {"tensorbridge", "onnxruntime"}
    # a wrong translation (softplus for relu, close but not equal) must fail the check
    monkeypatch.setitem(ATEN._fns, "aten::relu.default", lambda ctx, x: ctx.op("Softplus", [x]))
    bad = tb.check(TwoLayer(), (R(3, 4),))
    assert not bad.ok and all(not c.ok for c in bad.comparisons)
    assert "FAIL" in str(bad) and '"ok": false' in bad.to_json()


def test_pt2_loading_refuses_pickled_globals():
    import os
    import pickle

    from tensorbridge.converters.pytorch.capture import (
        UnsafePickleError,
        _SafePickleModule,
        no_arbitrary_unpickling,
    )

    payload = pickle.dumps(os.getcwd)  # a pickled global: would be looked up and callable
    with pytest.raises(UnsafePickleError, match="os"):
        _SafePickleModule.loads(payload)
    assert _SafePickleModule.loads(pickle.dumps({"a": [1, 2.5]})) == {"a": [1, 2.5]}
    with no_arbitrary_unpickling():
        with pytest.raises(pickle.UnpicklingError):
            import io

            torch.load(io.BytesIO(pickle.dumps(os.getcwd)))
    assert torch.load.__name__ == "load"  # restored
