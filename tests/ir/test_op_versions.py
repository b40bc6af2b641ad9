"""Old spellings rewritten once (ir/op_versions.py): each one runs on the runtime and in
both emitters with the old node's own meaning, checked against onnx.reference (which
implements every version itself) or, where it has no kernel for that version, a numpy
expression of the spec; and no layer still carries a function for a version an upgrade
rewrites (it would be dead code)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tensorbridge as tb
from tensorbridge.ir.op_versions import UPGRADES
from tests.version_cases import Case, case_model, expected_outputs

RNG = np.random.default_rng(5)


def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def _linear_upsample_2x(x: np.ndarray) -> np.ndarray:
    """Asymmetric linear resampling by 2 on H and W (in = out / 2, clamped at the edge)."""
    def axis(a: np.ndarray, ax: int) -> np.ndarray:
        n = a.shape[ax]
        pos = np.arange(2 * n) / 2.0
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        w = (pos - lo).reshape([-1 if i == ax else 1 for i in range(a.ndim)])
        return np.take(a, lo, axis=ax) * (1 - w) + np.take(a, hi, axis=ax) * w
    return axis(axis(x, 2), 3).astype(np.float32)


def _grid_sample_20(x: np.ndarray, grid: np.ndarray) -> list[np.ndarray]:
    """onnx.reference implements GridSample's opset-20 mode names only: the same sampling
    spelled "cubic" at opset 20."""
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node("GridSample", ["x", "grid"], ["y"], mode="cubic", align_corners=0)
    g = helper.make_graph([node], "gs20", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
                                            helper.make_tensor_value_info("grid", TensorProto.FLOAT, grid.shape)],
                          [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)
    return list(ReferenceEvaluator(model).run(None, {"x": x, "grid": grid}))


CASES = [
    Case("squeeze_1_axes", "Squeeze", 1, {"x": _x(3, 1, 4)}, {"axes": [1]}),
    Case("squeeze_11_all", "Squeeze", 11, {"x": _x(1, 3, 1)}),
    Case("unsqueeze_11", "Unsqueeze", 11, {"x": _x(3, 4)}, {"axes": [0, -1]}),
    Case("reduce_mean_13", "ReduceMean", 13, {"x": _x(2, 3, 4)}, {"axes": [1], "keepdims": 0}),
    Case("reduce_max_1_all", "ReduceMax", 1, {"x": _x(2, 3)}),
    Case("reduce_sum_11", "ReduceSum", 11, {"x": _x(2, 3, 4)}, {"axes": [-1, 0]}),
    Case("reduce_log_sum_exp_13", "ReduceLogSumExp", 13, {"x": _x(2, 5)}, {"axes": [1]}),
    Case("top_k_1", "TopK", 1, {"x": _x(3, 6)}, {"k": 2, "axis": 1}, n_out=2),
    Case("reshape_1", "Reshape", 1, {"x": _x(2, 6)}, {"shape": [0, 3, 2]},
         oracle=lambda x: [x.reshape(2, 3, 2)]),
    Case("split_2_lengths", "Split", 2, {"x": _x(2, 5)}, {"split": [2, 3], "axis": 1}, n_out=2),
    Case("split_11_equal", "Split", 11, {"x": _x(6, 2)}, n_out=3),
    Case("slice_1", "Slice", 1, {"x": _x(4, 5)}, {"starts": [1, 1], "ends": [3, 1000], "axes": [0, 1]},
         oracle=lambda x: [x[1:3, 1:]]),
    Case("pad_2_constant", "Pad", 2, {"x": _x(2, 3)}, {"pads": [0, 1, 1, 2], "value": 1.5}),
    Case("pad_2_reflect", "Pad", 2, {"x": _x(3, 4)}, {"pads": [1, 2, 1, 2], "mode": "reflect"}),
    Case("pad_1_paddings", "Pad", 1, {"x": _x(2, 2)}, {"paddings": [1, 0, 0, 1], "value": -2.0},
         oracle=lambda x: [np.pad(x, [(1, 0), (0, 1)], constant_values=-2.0)]),
    Case("clip_6_both", "Clip", 6, {"x": _x(4, 4)}, {"min": -0.5, "max": 0.25}),
    Case("clip_6_max_only", "Clip", 6, {"x": _x(4, 4)}, {"max": 0.1}),
    Case("dft_17", "DFT", 17, {"x": _x(2, 8, 1)}, {"axis": 1}),
    Case("cast_1_name", "Cast", 1, {"x": _x(3, 2)}, {"to": "DOUBLE"},
         oracle=lambda x: [x.astype(np.float64)]),
    Case("grid_sample_16", "GridSample", 16, {"x": _x(1, 2, 4, 5), "grid": RNG.uniform(-1, 1, (1, 3, 3, 2)).astype(np.float32)},
         {"mode": "bicubic", "align_corners": 0}, oracle=_grid_sample_20),
    Case("concat_1_default_axis", "Concat", 1, {"a": _x(2, 3), "b": _x(2, 2)},
         oracle=lambda a, b: [np.concatenate([a, b], axis=1)]),
    Case("upsample_7_nearest", "Upsample", 7, {"x": _x(1, 2, 2, 3)}, {"scales": [1.0, 1.0, 2.0, 3.0]},
         oracle=lambda x: [x.repeat(2, axis=2).repeat(3, axis=3)]),
    Case("upsample_9_input", "Upsample", 9, {"x": _x(1, 1, 2, 2), "scales": np.array([1, 1, 2, 2], np.float32)},
         {"mode": "nearest"}, oracle=lambda x, s: [x.repeat(2, axis=2).repeat(2, axis=3)]),
    Case("upsample_1_bilinear", "Upsample", 1, {"x": _x(1, 1, 3, 3)},
         {"height_scale": 2.0, "width_scale": 2.0, "mode": "bilinear"},
         oracle=lambda x: [_linear_upsample_2x(x)]),
]


def _run(layer: str, model: onnx.ModelProto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    graph = tb.load(model, optimize=False)
    if layer == "runtime":
        return [np.asarray(o) for o in tb.run(graph, *inputs)]
    if layer == "torch":
        import torch

        from tensorbridge.converters.pytorch.from_ir import from_ir

        with torch.no_grad():
            outs = from_ir(graph)(*[torch.from_numpy(x) for x in inputs])
    else:
        import tensorflow as tf

        from tensorbridge.converters.tensorflow.from_ir import from_ir as tf_from_ir

        outs = tf_from_ir(graph)(*[tf.constant(x) for x in inputs])
    outs = outs if isinstance(outs, tuple | list) else (outs,)
    return [np.asarray(o.numpy()) for o in outs]


@pytest.mark.parametrize("layer", ["runtime", "torch", "tf"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_old_spelling_keeps_its_meaning(case: Case, layer: str) -> None:
    if layer != "runtime":
        pytest.importorskip("torch" if layer == "torch" else "tensorflow")
    model = case_model(case)
    expected = expected_outputs(case, model)
    got = _run(layer, model, list(case.inputs.values()))
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert g.shape == np.shape(e) and g.dtype == np.asarray(e).dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_roi_align_10_is_roi_align_16_without_half_pixel() -> None:
    """RoiAlign-10 against the same node at opset 16 with "output_half_pixel" (onnx.reference)."""
    from onnx.reference import ReferenceEvaluator

    x = _x(1, 2, 6, 6)
    rois = np.array([[0.5, 0.5, 4.0, 3.5], [1.0, 0.0, 5.5, 5.0]], np.float32)
    idx = np.zeros(2, np.int64)

    def model(opset: int, **extra: Any) -> onnx.ModelProto:
        node = helper.make_node("RoiAlign", ["x", "rois", "idx"], ["y"], output_height=2, output_width=3,
                                sampling_ratio=2, spatial_scale=1.0, **extra)
        g = helper.make_graph([node], "roi", [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
            helper.make_tensor_value_info("rois", TensorProto.FLOAT, rois.shape),
            helper.make_tensor_value_info("idx", TensorProto.INT64, idx.shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)

    [expected] = ReferenceEvaluator(model(16, coordinate_transformation_mode="output_half_pixel")).run(
        None, {"x": x, "rois": rois, "idx": idx})
    for layer in ("runtime", "torch", "tf"):
        [got] = _run(layer, model(10), [x, rois, idx])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=layer)


def _registries() -> dict[str, Any]:
    import tensorbridge.runtime.kernels  # noqa: F401
    from tensorbridge.runtime.registry import KERNELS

    out: dict[str, Any] = {"runtime": KERNELS}
    try:
        from tensorbridge.converters.pytorch.from_ir.module import EMITTERS as TORCH

        out["torch"] = TORCH
    except ImportError:
        pass
    try:
        from tensorbridge.converters.tensorflow.from_ir.module import EMITTERS as TF

        out["tf"] = TF
    except ImportError:
        pass
    return out


def test_no_layer_implements_a_rewritten_version() -> None:
    dead = [f"{layer}: {op}-{since} (rewritten below opset {UPGRADES[op].below})"
            for layer, reg in _registries().items()
            for domain, op, since in reg.keys()
            if domain == "" and op in UPGRADES and since < UPGRADES[op].below]
    assert not dead, "delete these functions (ir/op_versions.py rewrites their nodes): " + "; ".join(dead)


def test_every_upgrade_has_a_target_in_every_layer() -> None:
    for layer, reg in _registries().items():
        for up in UPGRADES.values():
            spec = reg.lookup(up.op_type, "", up.below - 1)
            assert spec.fn.__name__.startswith(up.op_type.lower()), (layer, up.op_type)
