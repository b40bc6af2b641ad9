"""The Resize plan and table helpers every layer calls (ir/resize_math.py: coord_modes,
resize_plan, legacy_plan, axis_tables, extrapolation_mask), checked against onnx's own
schemas and onnx.reference's Resize / Upsample: the tables are applied here with plain
numpy gathers, independently of any layer's resampler."""

from __future__ import annotations

import re

import numpy as np
import onnx
import onnx.defs
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from tensorbridge.ir.resize_math import (
    NUMPY_OPS,
    Options,
    axis_tables,
    coord_modes,
    extrapolation_mask,
    legacy_plan,
    resize_plan,
)

RNG = np.random.default_rng(7)


def _reference(op: str, opset: int, x: np.ndarray, inputs: dict[str, np.ndarray],
               **attrs: object) -> np.ndarray:
    """onnx.reference's ``op`` at ``opset`` on x with the given constant inputs."""
    inits = [helper.make_tensor(n, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape),
                                v.reshape(-1).tolist()) for n, v in inputs.items()]
    node = helper.make_node(op, ["x", *inputs], ["y"], **attrs)
    graph = helper.make_graph([node], op.lower(), [helper.make_tensor_value_info(
        "x", TensorProto.DOUBLE, list(x.shape))], [helper.make_tensor_value_info(
            "y", TensorProto.DOUBLE, [None] * x.ndim)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def _apply(x: np.ndarray, tables: dict[int, tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
    """Each axis's table applied with an explicit gather and weighted sum."""
    y = x
    for a, (idx, w) in tables.items():
        moved = np.moveaxis(y, a, -1)
        out = moved[..., idx] if w is None else (moved[..., idx] * w).sum(axis=-1)
        y = np.moveaxis(out, -1, a)
    return y


@pytest.mark.parametrize("opset", [11, 13, 18, 19, 21])
def test_coord_modes_are_the_schema_s(opset: int) -> None:
    """The modes the version's attribute description quotes (its "roi" is an input name)."""
    schema = onnx.defs.get_schema("Resize", opset, "")
    doc = schema.attributes["coordinate_transformation_mode"].description
    assert set(coord_modes(opset)) == set(re.findall(r'"([a-z_]+)"', doc)) - {"roi"}


def test_resize_plan_checks_the_coordinate_mode_against_the_version() -> None:
    opt = Options("nearest", "tf_half_pixel_for_nn")
    plans = resize_plan((1, 1, 3, 4), [], [1.0, 1.0, 2.0, 1.5], [], None, "stretch", opt, 11,
                        NUMPY_OPS)
    assert {a: p.size_out for a, p in plans.items()} == {0: 1, 1: 1, 2: 6, 3: 6}
    with pytest.raises(ValueError, match="tf_half_pixel_for_nn"):
        resize_plan((1, 1, 3, 4), [], [1.0, 1.0, 2.0, 1.5], [], None, "stretch", opt, 13,
                    NUMPY_OPS)


CASES = [
    ({"mode": "nearest", "nearest_mode": "round_prefer_ceil"}, [1.0, 1.0, 1.5, 0.5], None),
    ({"mode": "linear"}, [1.0, 1.0, 0.75, 2.0], None),
    ({"mode": "cubic", "coordinate_transformation_mode": "align_corners"}, None, [1, 2, 5, 3]),
    ({"mode": "linear", "antialias": 1, "exclude_outside": 1}, [1.0, 1.0, 0.5, 0.625], None),
    ({"mode": "nearest", "coordinate_transformation_mode": "half_pixel_symmetric"},
     [1.0, 1.0, 1.25, 3.0], None),
]


@pytest.mark.parametrize(("attrs", "scales", "sizes"), CASES)
def test_axis_tables_resample_as_the_reference(attrs: dict, scales: list | None,
                                               sizes: list | None) -> None:
    x = RNG.standard_normal((1, 2, 4, 8))
    opt = Options(attrs["mode"], attrs.get("coordinate_transformation_mode", "half_pixel"),
                  attrs.get("nearest_mode", "round_prefer_floor"), -0.75,
                  attrs.get("exclude_outside", 0), 0.0, attrs.get("antialias", 0))
    plans = resize_plan(x.shape, [], scales or [], sizes or [], None, "stretch", opt, 19,
                        NUMPY_OPS)
    coords, tables = axis_tables(plans, opt, NUMPY_OPS)
    assert set(coords) == set(tables) == set(plans)
    assert extrapolation_mask(coords, plans, x.ndim, opt, NUMPY_OPS) is None
    given = {"roi": np.zeros(0, np.float32), "scales": np.array(scales or [], np.float32)}
    if sizes is not None:
        given["sizes"] = np.array(sizes, np.int64)
    np.testing.assert_allclose(_apply(x, tables), _reference("Resize", 19, x, given, **attrs),
                               rtol=1e-12, atol=1e-12)


def test_extrapolation_mask_marks_what_the_reference_fills() -> None:
    x = RNG.standard_normal((1, 1, 5, 6)) + 10.0  # nowhere near the fill value
    roi = [0.0, 0.0, -0.3, 0.2, 1.0, 1.0, 0.9, 1.4]
    opt = Options("linear", "tf_crop_and_resize", extrapolation_value=-1.0)
    plans = resize_plan(x.shape, roi, [], [1, 1, 4, 7], None, "stretch", opt, 19, NUMPY_OPS)
    coords, tables = axis_tables(plans, opt, NUMPY_OPS)
    mask = extrapolation_mask(coords, plans, x.ndim, opt, NUMPY_OPS)
    ref = _reference("Resize", 19, x, {"roi": np.array(roi, np.float32),
                                       "scales": np.zeros(0, np.float32),
                                       "sizes": np.array([1, 1, 4, 7], np.int64)},
                     mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                     extrapolation_value=-1.0)
    filled = np.broadcast_to(mask, ref.shape)
    assert filled.any() and not filled.all()
    np.testing.assert_array_equal(filled, ref == -1.0)
    # the reference reads the float32 roi in float32
    np.testing.assert_allclose(_apply(x, tables)[~filled], ref[~filled], rtol=1e-6)


def _onnxruntime_legacy(op: str, opset: int, x: np.ndarray, scales: list[float],
                        mode: str) -> np.ndarray:
    """onnxruntime's Upsample-9 / Resize-10 (onnx.reference's Upsample handles integer
    nearest factors only)."""
    import onnxruntime as ort

    node = helper.make_node(op, ["x", "scales"], ["y"], mode=mode)
    graph = helper.make_graph([node], "upsample", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, list(x.shape))], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)],
        [helper.make_tensor("scales", TensorProto.FLOAT, [len(scales)], scales)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize(("op", "opset", "scales"), [("Upsample", 9, [1.0, 1.0, 2.0, 1.5]),
                                                     ("Resize", 10, [1.0, 1.0, 2.0, 1.5]),
                                                     ("Resize", 10, [1.0, 1.0, 0.5, 0.75])])
def test_legacy_plan_resamples_as_onnxruntime(mode: str, op: str, opset: int,
                                              scales: list[float]) -> None:
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    plans, opt = legacy_plan(x.shape, scales, mode, NUMPY_OPS)
    assert set(plans) == {2, 3}  # scale-1 axes are left out
    _, tables = axis_tables(plans, opt, NUMPY_OPS)
    np.testing.assert_allclose(_apply(x.astype(np.float64), tables),
                               _onnxruntime_legacy(op, opset, x, scales, mode), rtol=1e-5, atol=1e-6)


def test_legacy_plan_spells_upsample_1_bilinear_as_linear_and_refuses_cubic() -> None:
    _, opt = legacy_plan((1, 1, 2, 2), [1.0, 1.0, 2.0, 2.0], "bilinear", NUMPY_OPS)
    assert (opt.mode, opt.coord) == ("linear", "asymmetric")
    with pytest.raises(ValueError, match="'nearest' or 'linear'"):
        legacy_plan((1, 1, 2, 2), [1.0, 1.0, 2.0, 2.0], "cubic", NUMPY_OPS)


def test_axis_tables_refuse_an_unknown_mode_before_building_anything() -> None:
    with pytest.raises(ValueError, match="nearest, linear or cubic"):
        axis_tables({}, Options("area"), NUMPY_OPS)
