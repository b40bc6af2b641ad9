"""IR -> PyTorch: one emitter serves every ONNX version of an op whose later versions only
added defaulted attributes or inputs. Each row is a node of an *older* version (or of a
later one using what it added), run through the PyTorch emitter and compared with
onnx.reference (which implements every version itself) or onnxruntime; a version whose
meaning the collapsed emitter must still tell apart by opset is checked to refuse."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tensorbridge as tb

pytest.importorskip("torch")

import torch  # noqa: E402

from tensorbridge.converters.pytorch.from_ir import from_ir  # noqa: E402
from tests.version_cases import Case, case_model, expected_outputs  # noqa: E402

RNG = np.random.default_rng(16)


def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _i(values: Any) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _rnn_inputs(gates: int, hidden: int = 3, size: int = 4) -> dict[str, np.ndarray]:
    return {"X": _x(5, 2, size), "W": _x(1, gates * hidden, size),
            "R": _x(1, gates * hidden, hidden), "B": _x(1, 2 * gates * hidden)}


CASES = [
    Case("gather_nd_11", "GatherND", 11, {"x": _x(3, 4, 2), "i": _i([[0, 1], [2, 3]])}),
    Case("gather_nd_12_batch", "GatherND", 12, {"x": _x(2, 3, 4), "i": _i([[[1]], [[2]]])},
         {"batch_dims": 1}),
    Case("scatter_elements_11", "ScatterElements", 11,
         {"x": _x(3, 4), "i": _i([[1, 0, 2, 1]]), "u": _x(1, 4)}, {"axis": 0}),
    Case("scatter_elements_16_add", "ScatterElements", 16,
         {"x": _x(3, 4), "i": _i([[1, 1], [0, 0]]), "u": _x(2, 2)},
         {"axis": 1, "reduction": "add"}),
    Case("scatter_nd_11", "ScatterND", 11, {"x": _x(4, 3), "i": _i([[2], [0]]), "u": _x(2, 3)}),
    Case("scatter_nd_16_mul", "ScatterND", 16,
         {"x": _x(4, 3), "i": _i([[1], [1]]), "u": _x(2, 3)}, {"reduction": "mul"}),
    Case("shape_1", "Shape", 1, {"x": _x(2, 3, 4)}),
    Case("shape_15_slice", "Shape", 15, {"x": _x(2, 3, 4)}, {"start": 1, "end": -1}),
    Case("depth_to_space_1", "DepthToSpace", 1, {"x": _x(1, 8, 2, 3)}, {"blocksize": 2}),
    Case("depth_to_space_11_crd", "DepthToSpace", 11, {"x": _x(1, 8, 2, 3)},
         {"blocksize": 2, "mode": "CRD"}),
    Case("space_to_depth_1", "SpaceToDepth", 1, {"x": _x(1, 2, 4, 6)}, {"blocksize": 2}),
    Case("constant_1", "Constant", 1, {},
         {"value": helper.make_tensor("v", TensorProto.FLOAT, [2, 2], [1.0, 2.5, -3.0, 4.0])}),
    Case("constant_12_floats", "Constant", 12, {}, {"value_floats": [0.5, -1.5, 2.0]}),
    Case("range_11", "Range", 11, {"s": np.array(1.5, np.float32), "l": np.array(7.0, np.float32),
                                   "d": np.array(1.25, np.float32)}),
    Case("instance_norm_1", "InstanceNormalization", 1,
         {"x": _x(2, 3, 4, 5), "s": _x(3), "b": _x(3)}, {"epsilon": 1e-3}),
    Case("instance_norm_6", "InstanceNormalization", 6, {"x": _x(2, 3, 7), "s": _x(3), "b": _x(3)}),
    Case("batch_norm_7", "BatchNormalization", 7,
         {"x": _x(2, 3, 4), "s": _x(3), "b": _x(3), "m": _x(3), "v": np.abs(_x(3)) + 0.5},
         oracle="onnxruntime"),
    Case("batch_norm_9", "BatchNormalization", 9,
         {"x": _x(2, 3, 2, 2), "s": _x(3), "b": _x(3), "m": _x(3), "v": np.abs(_x(3)) + 0.5},
         oracle="onnxruntime"),  # onnx.reference's BN-9 normalises by the batch statistics
    Case("dropout_6_test", "Dropout", 6, {"x": _x(3, 4)}, {"is_test": 1, "ratio": 0.3},
         oracle="identity"),
    Case("rnn_7", "RNN", 7, _rnn_inputs(1), {"hidden_size": 3}, n_out=2, oracle="onnxruntime"),
    Case("gru_7_linear_before_reset", "GRU", 7, _rnn_inputs(3),
         {"hidden_size": 3, "linear_before_reset": 1}, n_out=2, oracle="onnxruntime"),
    Case("gru_7", "GRU", 7, _rnn_inputs(3), {"hidden_size": 3}, n_out=2, oracle="onnxruntime"),
    Case("lstm_7", "LSTM", 7, _rnn_inputs(4), {"hidden_size": 3}, n_out=3, oracle="onnxruntime"),
    Case("resize_11_tf_half_pixel_for_nn", "Resize", 11,
         {"x": _x(1, 1, 3, 4), "roi": np.zeros(0, np.float32),
          "scales": np.array([1, 1, 2, 1.5], np.float32)},
         {"coordinate_transformation_mode": "tf_half_pixel_for_nn"},
         oracle="onnxruntime"),  # onnx.reference lacks this Resize-11-only mode
    Case("resize_13_linear", "Resize", 13,
         {"x": _x(1, 2, 3, 4), "roi": np.zeros(0, np.float32),
          "scales": np.array([1, 1, 0.5, 2], np.float32)}, {"mode": "linear"}),
    Case("resize_18_axes", "Resize", 18,
         {"x": _x(1, 2, 3, 4), "roi": np.zeros(0, np.float32),
          "scales": np.array([2, 0.5], np.float32)}, {"axes": [2, 3], "mode": "linear"}),
    Case("split_18_uneven", "Split", 18, {"x": _x(7, 2)}, {"num_outputs": 3}, n_out=3),
    Case("attention_23", "Attention", 23, {"q": _x(1, 2, 3, 4), "k": _x(1, 2, 5, 4),
                                           "v": _x(1, 2, 5, 4)}, {"is_causal": 1}),
]


def _emitted(model: onnx.ModelProto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    module = from_ir(tb.load(model, optimize=False))
    with torch.no_grad():
        outs = module(*[torch.from_numpy(x) for x in inputs])
    outs = outs if isinstance(outs, tuple | list) else (outs,)
    return [np.asarray(o) for o in outs]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_old_version_node_runs_on_the_one_emitter(case: Case) -> None:
    model = case_model(case)
    expected = expected_outputs(case, model)
    got = _emitted(model, list(case.inputs.values()))
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert g.shape == np.shape(e) and g.dtype == np.asarray(e).dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_split_before_18_refuses_an_uneven_split() -> None:
    case = Case("split_13_uneven", "Split", 13, {"x": _x(7, 2)}, n_out=3)
    with pytest.raises(Exception, match="equal parts"):
        _emitted(case_model(case), [case.inputs["x"]])


def test_resize_13_refuses_the_mode_only_11_had() -> None:
    case = Case("resize_13_tf_half_pixel_for_nn", "Resize", 13,
                {"x": _x(1, 1, 3, 4), "roi": np.zeros(0, np.float32),
                 "scales": np.array([1, 1, 2, 2], np.float32)},
                {"coordinate_transformation_mode": "tf_half_pixel_for_nn"})
    with pytest.raises(Exception, match="tf_half_pixel_for_nn"):
        _emitted(case_model(case), list(case.inputs.values()))
