"""The shared Resize maths (ir/resize_math.py) against onnx.reference: coordinates, output
sizes, nearest rounding, filter tables and the extrapolation mask on small 1-D / 2-D cases;
then the torch and TF spellings of the array operations against the numpy one, including
TF's tensor-valued sizes and scales."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.ops.op_resize import _compute_x_ori

from tensorbridge.ir.resize_math import (
    NUMPY_OPS,
    Axis,
    Options,
    filter_taps,
    nearest_index,
    outside_mask,
    plan_axes,
    source_coords,
)

RNG = np.random.default_rng(0)


def _reference_resize(x: np.ndarray, *, scales: list[float] | None = None,
                      sizes: list[int] | None = None, roi: list[float] | None = None,
                      **attrs: object) -> np.ndarray:
    """onnx.reference's Resize-19 on ``x``."""
    inits = [helper.make_tensor("roi", TensorProto.FLOAT, [len(roi or [])], roi or []),
             helper.make_tensor("scales", TensorProto.FLOAT, [len(scales or [])], scales or [])]
    names = ["x", "roi", "scales"]
    if sizes is not None:
        inits.append(helper.make_tensor("sizes", TensorProto.INT64, [len(sizes)], sizes))
        names.append("sizes")
    node = helper.make_node("Resize", names, ["y"], **attrs)
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info(
        "x", TensorProto.DOUBLE, list(x.shape))], [helper.make_tensor_value_info(
            "y", TensorProto.DOUBLE, [None] * x.ndim)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    onnx.checker.check_model(model)
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def _apply_taps(x: np.ndarray, idx: np.ndarray, w: np.ndarray, axis: int = 0) -> np.ndarray:
    """``x`` resampled along ``axis`` by a (size_out, taps) table:
    out[..., i, ...] = sum_t w[i, t] * x[..., idx[i, t], ...]."""
    moved = np.moveaxis(x, axis, -1)
    return np.moveaxis((moved[..., idx] * w).sum(axis=-1), -1, axis)


# ----------------------------------------------------------------------- coordinates


@pytest.mark.parametrize("mode", ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                  "align_corners", "asymmetric", "tf_crop_and_resize"])
@pytest.mark.parametrize(("n_in", "scale"), [(4, 2.0), (5, 0.6), (7, 1.5), (3, 3.0), (6, 0.5)])
def test_source_coords_match_the_reference(mode, n_in, scale):
    n_out = int(np.floor(np.float32(scale) * np.float32(n_in)))
    roi = (0.2, 0.9)
    ours = source_coords(Axis(n_in, n_out, scale, roi), mode, NUMPY_OPS)
    # the reference's align_corners and tf_crop_and_resize divide by the fractional length
    # (see the conformance xfail): hand them the integer one, as onnxruntime uses
    width = n_out if mode in ("align_corners", "tf_crop_and_resize") else n_in * scale
    ref, _ = _compute_x_ori(mode, np.arange(n_out, dtype=np.float64), scale, n_in, width,
                            n_out, list(roi))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_single_output_coordinates_follow_the_spec():
    """Length 1: pytorch_half_pixel and align_corners give 0; tf_crop_and_resize the RoI
    centre, 0.5 * (start + end) * (in - 1)."""
    for mode in ("pytorch_half_pixel", "align_corners"):
        assert source_coords(Axis(5, 1, 0.2), mode, NUMPY_OPS).tolist() == [0.0]
    centre = source_coords(Axis(5, 1, 0.2, (0.2, 0.6)), "tf_crop_and_resize", NUMPY_OPS)
    np.testing.assert_allclose(centre, [0.5 * (0.2 + 0.6) * 4])


def test_tf_half_pixel_for_nn_is_offset_by_half_a_cell():
    np.testing.assert_allclose(source_coords(Axis(3, 6, 2.0), "tf_half_pixel_for_nn", NUMPY_OPS),
                               (np.arange(6) + 0.5) / 2.0)


# ------------------------------------------------------------------- sizes and scales


@pytest.mark.parametrize(("sizes", "policy", "axes"), [
    ([7, 3], "stretch", None), ([7, 3], "not_larger", None), ([7, 3], "not_smaller", None),
    ([9], "stretch", [1]), ([2, 9], "not_smaller", [0, 1]), ([5, 4], "not_larger", [1, 0])])
def test_sizes_and_policy_give_the_reference_shape(sizes, policy, axes):
    x = RNG.standard_normal((4, 6))
    plans = plan_axes(x.shape, [], [], sizes, axes, policy, "half_pixel", NUMPY_OPS)
    shape = [plans[a].size_out if a in plans else n for a, n in enumerate(x.shape)]
    attrs = {"keep_aspect_ratio_policy": policy, "mode": "linear"}
    if axes is not None:
        attrs["axes"] = axes
    assert shape == list(_reference_resize(x, sizes=sizes, **attrs).shape)


@pytest.mark.parametrize("scales", [[0.5, 2.5], [1.0, 0.34], [3.0, 1.5]])
def test_scales_give_the_reference_shape(scales):
    x = RNG.standard_normal((10, 6))
    plans = plan_axes(x.shape, [], scales, [], None, "stretch", "asymmetric", NUMPY_OPS)
    ref = _reference_resize(x, scales=scales, mode="nearest",
                            coordinate_transformation_mode="asymmetric")
    assert [p.size_out for p in plans.values()] == list(ref.shape)
    assert [p.scale for p in plans.values()] == scales


def test_scaled_length_is_floored_in_float32_as_onnxruntime_does():
    """floor(10 * 0.7) is 6 in float64 but 7 in float32, where onnxruntime computes it
    (onnx.reference says 6; the conformance data follow onnxruntime)."""
    ort = pytest.importorskip("onnxruntime")
    x = RNG.standard_normal((10, 3)).astype(np.float32)
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")
    graph = helper.make_graph([node], "resize", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [10, 3])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [None, None])],
        [helper.make_tensor("scales", TensorProto.FLOAT, [2], [0.7, 1.0])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    plans = plan_axes(x.shape, [], [0.7, 1.0], [], None, "stretch", "half_pixel", NUMPY_OPS)
    assert [p.size_out for p in plans.values()] == list(sess.run(None, {"x": x})[0].shape)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scales": [], "sizes": []}, "exactly one"),
    ({"scales": [2.0, 2.0], "sizes": [3, 3]}, "exactly one"),
    ({"scales": [2.0], "sizes": []}, "2 positive values"),
    ({"scales": [2.0, -1.0], "sizes": []}, "2 positive values"),
    ({"scales": [], "sizes": [3]}, "must have 2 values")])
def test_bad_scales_and_sizes_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_axes((4, 5), [], kwargs["scales"], kwargs["sizes"], None, "stretch", "half_pixel",
                  NUMPY_OPS)


# -------------------------------------------------------------------- nearest, filters


@pytest.mark.parametrize("nearest", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
@pytest.mark.parametrize(("coord", "n_in", "size"), [("half_pixel", 5, 8), ("asymmetric", 8, 5),
                                                     ("align_corners", 4, 7),
                                                     ("half_pixel", 6, 4)])
def test_nearest_index_matches_the_reference(nearest, coord, n_in, size):
    x = RNG.standard_normal(n_in)
    ax = plan_axes(x.shape, [], [], [size], None, "stretch", coord, NUMPY_OPS)[0]
    ours = x[nearest_index(source_coords(ax, coord, NUMPY_OPS), ax, nearest, NUMPY_OPS)]
    ref = _reference_resize(x, sizes=[size], mode="nearest", nearest_mode=nearest,
                            coordinate_transformation_mode=coord)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("opt", [
    Options("linear"), Options("cubic"), Options("cubic", cubic_a=-0.5),
    Options("cubic", exclude_outside=1), Options("linear", antialias=1),
    Options("cubic", antialias=1), Options("cubic", antialias=1, exclude_outside=1),
    Options("linear", coord="align_corners"), Options("cubic", coord="asymmetric"),
    Options("linear", coord="half_pixel_symmetric")])
@pytest.mark.parametrize(("n_in", "size"), [(6, 11), (11, 4), (9, 9), (8, 3)])
def test_filter_taps_match_the_reference(opt, n_in, size):
    x = RNG.standard_normal(n_in)
    ax = plan_axes(x.shape, [], [], [size], None, "stretch", opt.coord, NUMPY_OPS)[0]
    idx, w = filter_taps(source_coords(ax, opt.coord, NUMPY_OPS), ax, opt, NUMPY_OPS)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    ref = _reference_resize(x, sizes=[size], mode=opt.mode, cubic_coeff_a=opt.cubic_a,
                            exclude_outside=opt.exclude_outside, antialias=opt.antialias,
                            coordinate_transformation_mode=opt.coord)
    # onnx.reference evaluates the cubic polynomial in float32 (cubic_coeff_a arrives as
    # a float32 scalar), hence the tolerance; a wrong tap is off by ~0.1
    np.testing.assert_allclose(_apply_taps(x, idx, w), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_crop_and_resize_extrapolates_where_the_reference_does(mode):
    x = RNG.standard_normal((5, 6))
    roi = [-0.25, 0.125, 0.875, 1.25]  # exact in float32, the reference's roi type
    plans = plan_axes(x.shape, roi, [], [4, 7], None, "stretch", "tf_crop_and_resize", NUMPY_OPS)
    coords = {a: source_coords(ax, "tf_crop_and_resize", NUMPY_OPS) for a, ax in plans.items()}
    if mode == "nearest":
        y = x[np.ix_(*(nearest_index(coords[a], plans[a], "round_prefer_floor", NUMPY_OPS)
                       for a in (0, 1)))]
    else:
        y = x
        for a in (0, 1):
            idx, w = filter_taps(coords[a], plans[a], Options("linear"), NUMPY_OPS)
            y = _apply_taps(y, idx, w, a)
    y = np.where(outside_mask(coords, plans, 2, NUMPY_OPS), -7.0, y)
    ref = _reference_resize(x, sizes=[4, 7], roi=roi, mode=mode, extrapolation_value=-7.0,
                            coordinate_transformation_mode="tf_crop_and_resize")
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------- the framework array namespaces


def _tables(ops, to_numpy, n_in, n_out, scale, opt):
    ax = Axis(n_in, n_out, scale, (0.1, 0.8))
    x = source_coords(ax, opt.coord, ops)
    if opt.mode == "nearest":
        return [to_numpy(x), to_numpy(nearest_index(x, ax, opt.nearest, ops))]
    return [to_numpy(x), *map(to_numpy, filter_taps(x, ax, opt, ops))]


_NAMESPACE_CASES = [Options("nearest", "half_pixel"), Options("nearest", "asymmetric", "simple"),
                    Options("linear", "align_corners"), Options("cubic", "pytorch_half_pixel",
                                                                exclude_outside=1),
                    Options("linear", "half_pixel_symmetric", antialias=1),
                    Options("cubic", "tf_crop_and_resize", antialias=1)]


@pytest.mark.parametrize("opt", _NAMESPACE_CASES)
@pytest.mark.parametrize(("n_in", "n_out", "scale"), [(5, 8, 1.6), (9, 4, 0.45), (4, 1, 0.25)])
def test_torch_ops_build_the_numpy_tables(opt, n_in, n_out, scale):
    pytest.importorskip("torch")
    from tensorbridge.converters.pytorch.from_ir.ops.resize import OPS

    expected = _tables(NUMPY_OPS, np.asarray, n_in, n_out, scale, opt)
    got = _tables(OPS, lambda t: t.numpy(), n_in, n_out, scale, opt)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("opt", _NAMESPACE_CASES)
@pytest.mark.parametrize(("n_in", "n_out", "scale"), [(5, 8, 1.6), (9, 4, 0.45), (4, 1, 0.25)])
def test_tf_ops_build_the_numpy_tables_from_tensors_too(opt, n_in, n_out, scale):
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.converters.tensorflow.from_ir.ops.resize import OPS

    expected = _tables(NUMPY_OPS, np.asarray, n_in, n_out, scale, opt)
    static = _tables(OPS, lambda t: t.numpy(), n_in, n_out, scale, opt)
    # sizes and scale only known at run time, as with a computed scales input
    dynamic = _tables(OPS, lambda t: t.numpy(), tf.constant(n_in, tf.int64),
                      tf.constant(n_out, tf.int64), tf.constant(scale, tf.float64), opt)
    for e, s, d in zip(expected, static, dynamic, strict=True):
        np.testing.assert_allclose(s, e, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(d, e, rtol=1e-12, atol=1e-12)


def test_tf_policy_sizes_from_tensors_round_half_up():
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.converters.tensorflow.from_ir.ops.resize import OPS

    for policy in ("not_larger", "not_smaller", "stretch"):
        expected = plan_axes((4, 6), [], [], [7, 3], None, policy, "half_pixel", NUMPY_OPS)
        got = plan_axes((tf.constant(4, tf.int64), 6), [], [], [tf.constant(7, tf.int64), 3],
                        None, policy, "half_pixel", OPS)
        for a, ax in expected.items():
            assert int(got[a].size_out) == ax.size_out
            assert float(got[a].scale) == pytest.approx(ax.scale, rel=1e-12)


@pytest.mark.parametrize(("attrs", "scales", "sizes"), [
    ({"mode": "linear"}, [1.0, 1.0, 1.5, 0.5], None),
    ({"mode": "cubic", "antialias": 1}, [1.0, 1.0, 0.75, 0.375], None),
    ({"mode": "nearest", "coordinate_transformation_mode": "align_corners"}, None, [1, 2, 3, 9]),
    ({"mode": "linear", "keep_aspect_ratio_policy": "not_larger", "axes": [2, 3]}, None, [8, 9]),
    ({"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
      "extrapolation_value": 3.0}, [1.0, 1.0, 1.5, 0.75], None)])
def test_tf_emitter_with_computed_scales_and_sizes_matches_the_reference(attrs, scales, sizes):
    """Sizes, scales and the input's H, W unknown while tracing: every table is built from
    tensors through the shared maths. (Scales times lengths are exact, so that the
    reference's fractional output length equals the integer one.)"""
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.converters.emitting import EmitContext
    from tensorbridge.converters.tensorflow.from_ir.ops.resize import resize

    x = RNG.standard_normal((1, 2, 4, 8))
    roi = [0.0, 0.0, -0.25, 0.125, 1.0, 1.0, 0.875, 1.25] \
        if "crop" in str(attrs) else None
    given = np.array(scales if scales else sizes, np.float32 if scales else np.int64)

    @tf.function(input_signature=[tf.TensorSpec([1, 2, None, None], tf.float64),
                                  tf.TensorSpec([None], tf.as_dtype(given.dtype))])
    def emitted(x, v):
        return resize(x, None if roi is None else tf.constant(roi, tf.float32),
                      v if scales else None, None if scales else v,
                      ctx=EmitContext(node_name="resize", n_outputs=1, opset=19),
                      **{k: tuple(a) if k == "axes" else a for k, a in attrs.items()})

    ref = _reference_resize(x, scales=scales, sizes=sizes, roi=roi, **attrs)
    np.testing.assert_allclose(emitted(x, given).numpy(), ref, rtol=1e-5, atol=1e-6)
