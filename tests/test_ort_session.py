"""tensorbridge.ort.ort_session on a ModelProto over protobuf's 2 GiB limit: SerializeToString
raised EncodeError ("Failed to serialize proto") on a 1.9 GB timm tf_efficientnet_l2 that
tensorbridge had converted and validated. Such a proto is loaded from a temporary
external-data copy that lives as long as the session. The limit is lowered here to exercise
that path; the result is compared with numpy."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("onnxruntime")

from tensorbridge.ort import ort_run, ort_session  # noqa: E402


def _model(w: np.ndarray):
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 512])],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_proto_over_the_limit_runs_from_external_data(monkeypatch):
    monkeypatch.setattr("tensorbridge.converters.onnx.external.EXTERNAL_DATA_THRESHOLD", 1024)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((512, 512)).astype(np.float32)
    x = rng.standard_normal((2, 512)).astype(np.float32)
    model = _model(w)
    sess = ort_session(model)
    folder = Path(sess._tensorbridge_folder.name)
    assert any(p.suffix == ".data" for p in folder.iterdir())  # the weights went to a data file
    got = sess.run(None, {"x": x})[0]
    np.testing.assert_allclose(got, x.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)
    del sess
    gc.collect()
    assert not folder.exists()  # removed with the session
    np.testing.assert_allclose(ort_run(model, [x])[0], got, rtol=0, atol=0)
