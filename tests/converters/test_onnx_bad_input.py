"""Bad ONNX input gets one clear tensorbridge error naming the file and what to do."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tensorbridge as tb
from tensorbridge.converters.onnx import to_ir


def _model(nodes, inputs=("x",), outputs=("y",), inits=(), opset=18) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in inputs],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in outputs],
                          initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _write(tmp_path, model: onnx.ModelProto, name="m.onnx"):
    p = tmp_path / name
    p.write_bytes(model.SerializeToString())
    return p


def test_truncated_file(tmp_path, fixtures_dir):
    data = (fixtures_dir / "tiny_cnn.onnx").read_bytes()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(tb.ModelLoadError, match=r"cut\.onnx.*(truncated or corrupt|not a valid)"):
        tb.load(p)


def test_garbage_and_missing_file(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\xff\xfe this is not protobuf \x00\x01")
    with pytest.raises(tb.ModelLoadError, match="junk.onnx"):
        tb.load(p)
    with pytest.raises(tb.ModelLoadError, match="no such file"):
        tb.load(tmp_path / "absent.onnx")


def test_cyclic_graph(tmp_path):
    m = _model([helper.make_node("Add", ["x", "b"], ["a"]), helper.make_node("Relu", ["a"], ["b"]),
                helper.make_node("Identity", ["a"], ["y"])])
    with pytest.raises(tb.ModelLoadError, match=r"m\.onnx.*node 'a'|'b'.*not defined before"):
        tb.load(_write(tmp_path, m))


def test_edge_to_missing_value(tmp_path):
    m = _model([helper.make_node("Add", ["x", "ghost"], ["y"], name="adder")])
    with pytest.raises(tb.ModelLoadError, match=r"node 'adder' input 1 refers to 'ghost'"):
        tb.load(_write(tmp_path, m))


def test_unknown_op_and_domain(tmp_path):
    m = _model([helper.make_node("Relux", ["x"], ["y"], name="act")])
    with pytest.raises(tb.ModelLoadError, match=r"op 'act' \(Relux\).*Did you mean Relu"):
        tb.load(_write(tmp_path, m))
    m2 = _model([helper.make_node("Frob", ["x"], ["y"], name="f", domain="com.acme")])
    m2.opset_import.append(helper.make_opsetid("com.acme", 1))
    with pytest.raises(tb.ModelLoadError, match="custom domain 'com.acme'"):
        tb.load(_write(tmp_path, m2, "d.onnx"))
    m3 = _model([helper.make_node("Frob", ["x"], ["y"], name="f", domain="com.acme")])
    with pytest.raises(tb.ModelLoadError, match="not in the graph's opset imports"):
        tb.load(_write(tmp_path, m3, "e.onnx"))


def test_attribute_of_wrong_type(tmp_path):
    node = helper.make_node("Softmax", ["x"], ["y"], name="sm")
    node.attribute.append(helper.make_attribute("axis", 1.5))
    with pytest.raises(tb.ModelLoadError, match=r"op 'sm'.*attribute 'axis' is FLOAT.*requires INT"):
        tb.load(_write(tmp_path, _model([node])))


def _external_model(tmp_path, location: str) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.arange(2, dtype=np.float32), "w")
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    for k, v in (("location", location), ("offset", "0"), ("length", "8")):
        w.external_data.add(key=k, value=v)
    return _model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w])


def test_external_data_path_traversal_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00" * 8)
    sub = tmp_path / "model"
    sub.mkdir()
    p = _write(sub, _external_model(tmp_path, "../secret.bin"))
    with pytest.raises(tb.ModelLoadError, match="outside the model's directory"):
        tb.load(p)
    p2 = _write(sub, _external_model(tmp_path, str(secret)), "abs.onnx")
    with pytest.raises(tb.ModelLoadError, match="path traversal"):
        tb.load(p2)


def test_missing_external_data_file(tmp_path):
    p = _write(tmp_path, _external_model(tmp_path, "weights.bin"))
    with pytest.raises(tb.ModelLoadError, match=r"'weights.bin' is missing.*Copy the data file"):
        tb.load(p)


def test_external_data_loads_lazily_and_round_trips(tmp_path):
    (tmp_path / "weights.bin").write_bytes(np.array([10.0, 20.0], np.float32).tobytes())
    p = _write(tmp_path, _external_model(tmp_path, "weights.bin"))
    g = to_ir(p)
    np.testing.assert_array_equal(tb.run(g, np.ones(2, np.float32))[0], [11.0, 21.0])
    out = tb.save(g, tmp_path / "again.onnx", external_data=True)
    # 8 bytes: kept in the .onnx, as onnx's own writer keeps tensors under 1 KiB
    assert not list(tmp_path.glob("again.onnx.*.data"))
    np.testing.assert_array_equal(tb.run(out, np.ones(2, np.float32))[0], [11.0, 21.0])


def test_failed_save_leaves_no_partial_file(tmp_path, monkeypatch):
    g = tb.load(_model([helper.make_node("Relu", ["x"], ["y"])]))
    target = tmp_path / "out.onnx"
    target.write_bytes(b"previous good model")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pathlib.Path.write_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        tb.save(g, target)
    monkeypatch.undo()
    assert target.read_bytes() == b"previous good model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx"]
