"""The public API and CLI on the bundled fixtures, checked against the source framework's
outputs stored with each fixture."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

import tensorbridge as tb
from tensorbridge.cli import main as cli

FIXTURES = ("tiny_cnn", "tiny_encoder", "control_flow")


def _io(fixtures_dir, name):
    with np.load(fixtures_dir / f"{name}.npz") as d:
        ins = [d[k] for k in sorted(d.files) if k.startswith("input_")]
        outs = [d[k] for k in sorted(d.files) if k.startswith("output_")]
    return ins, outs


@pytest.mark.parametrize("name", FIXTURES)
def test_load_run_matches_source_framework(fixtures_dir, name):
    ins, outs = _io(fixtures_dir, name)
    got = tb.run(tb.load(fixtures_dir / f"{name}.onnx"), *ins)
    for g, e in zip(got, outs):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_convert_and_save(tmp_path, fixtures_dir):
    model = tb.convert(fixtures_dir / "tiny_cnn.onnx", None, to="onnx")
    assert isinstance(model, onnx.ModelProto)
    out = tb.save(model, tmp_path / "m.onnx")
    onnx.checker.check_model(str(out), full_check=True)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_convert_to_other_opset(fixtures_dir):
    model = tb.convert(fixtures_dir / "tiny_cnn.onnx", None, to="onnx", opset=18)
    assert {o.domain: o.version for o in model.opset_import}[""] == 18
    ins, outs = _io(fixtures_dir, "tiny_cnn")
    np.testing.assert_allclose(tb.run(model, *ins)[0], outs[0], rtol=1e-4, atol=1e-5)


def test_unknown_target_and_source_are_clear_errors(tmp_path):
    with pytest.raises(tb.TensorbridgeError, match="unknown target 'caffe'"):
        tb.convert(tmp_path / "x.onnx", None, to="caffe")
    with pytest.raises(tb.UnsupportedSourceError, match="this version reads ONNX models"):
        tb.load(object())


def test_import_tensorbridge_imports_no_framework():
    code = ("import sys, tensorbridge, runtime.session, converters.onnx; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_inspect_convert_run(tmp_path, fixtures_dir, capsys):
    assert cli(["inspect", str(fixtures_dir / "tiny_cnn.onnx")]) == 0
    text = capsys.readouterr().out
    assert "Conv" in text and "parameters" in text and "x0" in text
    out = tmp_path / "c.onnx"
    assert cli(["convert", str(fixtures_dir / "tiny_cnn.onnx"), "-o", str(out)]) == 0
    assert out.is_file()
    ins, outs = _io(fixtures_dir, "tiny_cnn")
    np.savez(tmp_path / "in.npz", x0=ins[0])
    assert cli(["run", str(out), "--inputs", str(tmp_path / "in.npz"), "-o", str(tmp_path / "o.npz")]) == 0
    with np.load(tmp_path / "o.npz") as d:
        np.testing.assert_allclose(d[d.files[0]], outs[0], rtol=1e-4, atol=1e-5)


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nonsense")
    assert cli(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.onnx" in err and "Traceback" not in err


def test_run_takes_inputs_by_name(fixtures_dir):
    g = tb.load(fixtures_dir / "tiny_cnn.onnx")
    name = g.inputs[0].name
    x = np.random.default_rng(0).standard_normal(
        [d if isinstance(d, int) else 2 for d in g.inputs[0].shape]).astype(np.float32)
    np.testing.assert_array_equal(tb.run(g, {name: x})[0], tb.run(g, x)[0])
    with pytest.raises(tb.TensorbridgeError, match="unknown input name"):
        tb.run(g, {"nope": x})
