"""ai.onnx.ml LinearClassifier / Normalizer / ZipMap and StringNormalizer: the runtime's
kernels and both emitters (IR -> nn.Module, IR -> tf.Module) against onnxruntime on small
models built with onnx.helper (onnx's node test data has no ZipMap, LinearClassifier or
Normalizer case; StringNormalizer's cases run in test_emitter_conformance.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

import tensorbridge as tb

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

ML = "ai.onnx.ml"
X = np.array([[1.0, -3.0, 2.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -0.5], [0.25, 4.0, -1.5]], np.float32)


def _model(node: Any, inputs: list[Any], outputs: list[Any]) -> Any:
    graph = helper.make_graph([node], "g", inputs, outputs)
    return helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17),
                                                                  helper.make_opsetid(ML, 3)])


def _ort(model: Any, *feeds: np.ndarray) -> list[Any]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: f for i, f in zip(sess.get_inputs(), feeds, strict=True)})


def _plain(v: Any) -> Any:
    """Framework outputs as numpy / Python: tensors to arrays (tf.string decoded to str),
    lists and dicts element-wise, 0-d values to Python floats."""
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: float(_plain(x)) for k, x in v.items()}
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    if isinstance(v, tf.Tensor):
        a = v.numpy()
        return np.vectorize(lambda b: b.decode(), otypes=[object])(a) if v.dtype == tf.string else a
    return v


def _emitted(model: Any, *feeds: np.ndarray) -> dict[str, list[Any]]:
    """The runtime's outputs and both emitted modules' outputs, by layer."""
    from tensorbridge.converters.pytorch.from_ir import from_ir
    from tensorbridge.converters.tensorflow.from_ir import from_ir as tf_from_ir

    graph = tb.load(model)
    pt = from_ir(graph)(*[x if x.dtype == object else torch.from_numpy(x) for x in feeds])
    tfo = tf_from_ir(tb.load(model))(*[tf.constant(x) for x in feeds])
    return {"runtime": tb.run(model, *feeds), "torch": _plain(pt if isinstance(pt, tuple) else [pt]),
            "tensorflow": _plain(tfo if isinstance(tfo, tuple) else [tfo])}


def _same(want: Any, got: Any, where: str) -> None:
    if isinstance(want, list):  # a sequence of maps
        assert isinstance(got, list) and len(got) == len(want), where
        for w, g in zip(want, got, strict=True):
            assert w.keys() == g.keys(), where
            np.testing.assert_allclose([g[k] for k in w], [w[k] for k in w], rtol=1e-6, atol=1e-6, err_msg=where)
        return
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (where, got.shape, got.dtype, want.shape, want.dtype)
    if want.dtype.kind in "OSU" or want.dtype.kind in "iu":
        assert got.tolist() == want.tolist(), where
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=where)


def _check(model: Any, *feeds: np.ndarray) -> None:
    want = _ort(model, *feeds)
    for layer, outs in _emitted(model, *feeds).items():
        assert len(outs) == len(want), layer
        for i, (w, g) in enumerate(zip(want, outs, strict=True)):
            _same(w, g, f"{layer} output {i}")


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
@pytest.mark.parametrize("shape", [(4, 3), (3,)])
def test_normalizer(norm, shape):
    x = X if len(shape) == 2 else X[3]
    node = helper.make_node("Normalizer", ["X"], ["Y"], domain=ML, norm=norm)
    _check(_model(node, [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(shape))],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, list(shape))]), x)


def test_normalizer_int_input():
    node = helper.make_node("Normalizer", ["X"], ["Y"], domain=ML, norm="L1")
    _check(_model(node, [helper.make_tensor_value_info("X", TensorProto.INT64, [4, 3])],
                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4, 3])]), (X * 4).astype(np.int64))


_CLASSIFIERS = [  # labels, number of coefficient rows, post_transform
    ({"classlabels_ints": [5, 6, 7]}, 3, "NONE"),
    ({"classlabels_ints": [5, 6, 7]}, 3, "SOFTMAX"),
    ({"classlabels_ints": [5, 6, 7]}, 3, "LOGISTIC"),
    ({"classlabels_ints": [5, 6, 7]}, 3, "SOFTMAX_ZERO"),
    ({"classlabels_strings": ["cat", "dog", "eel"]}, 3, "SOFTMAX"),
    ({"classlabels_ints": [0, 1]}, 1, "NONE"),  # the binary form: one row, two labels
    ({"classlabels_ints": [0, 1]}, 1, "LOGISTIC"),
    ({"classlabels_strings": ["no", "yes"]}, 1, "LOGISTIC"),
    ({"classlabels_ints": [3, 9]}, 2, "SOFTMAX"),
]


@pytest.mark.parametrize(("labels", "rows", "post"), _CLASSIFIERS, ids=lambda v: str(v))
def test_linear_classifier(labels, rows, post):
    rng = np.random.default_rng(rows)
    coef = rng.standard_normal(rows * 3).round(3).tolist()
    node = helper.make_node("LinearClassifier", ["X"], ["Y", "Z"], domain=ML, coefficients=coef,
                            intercepts=rng.standard_normal(rows).round(3).tolist(), post_transform=post, **labels)
    label_type = TensorProto.STRING if "classlabels_strings" in labels else TensorProto.INT64
    model = _model(node, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3])],
                   [helper.make_tensor_value_info("Y", label_type, [4]),
                    helper.make_tensor_value_info("Z", TensorProto.FLOAT, [4, None])])
    _check(model, X)


@pytest.mark.parametrize("labels", [{"classlabels_int64s": [10, 20, 30]},
                                    {"classlabels_strings": ["a", "b", "c"]}], ids=["int64", "string"])
def test_zip_map(labels):
    key = TensorProto.STRING if "classlabels_strings" in labels else TensorProto.INT64
    seq = helper.make_sequence_type_proto(helper.make_map_type_proto(key, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    node = helper.make_node("ZipMap", ["X"], ["Z"], domain=ML, **labels)
    _check(_model(node, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3])],
                  [helper.make_value_info("Z", seq)]), X)


def test_zip_map_label_count_mismatch_is_a_clear_error():
    seq = helper.make_sequence_type_proto(helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    node = helper.make_node("ZipMap", ["X"], ["Z"], domain=ML, classlabels_int64s=[1, 2])
    model = _model(node, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3])],
                   [helper.make_value_info("Z", seq)])
    with pytest.raises(tb.TensorbridgeError, match="one column per label"):
        tb.run(model, X)


@pytest.mark.parametrize("attrs", [
    {"case_change_action": "LOWER", "stopwords": ["the", "AND"]},
    {"case_change_action": "UPPER", "is_case_sensitive": 1, "stopwords": ["The"]},
    {"case_change_action": "NONE", "stopwords": ["x", "y", "the", "and", "cat", "dog"]},  # all dropped
], ids=["lower", "upper_case_sensitive", "all_stopwords"])
@pytest.mark.parametrize("shape", [(6,), (1, 6)])
def test_string_normalizer(attrs, shape):
    words = np.array(["The", "cat", "AND", "the", "Dog", "and"], dtype=object).reshape(shape)
    # locale "C": onnxruntime builds the (default en_US.UTF-8) locale, which a bare machine lacks
    node = helper.make_node("StringNormalizer", ["X"], ["Y"], locale="C", **attrs)
    _check(_model(node, [helper.make_tensor_value_info("X", TensorProto.STRING, list(shape))],
                  [helper.make_tensor_value_info("Y", TensorProto.STRING, None)]), words)
