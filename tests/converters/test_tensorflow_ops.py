"""TF op translations, one table row per op case: a tf.function of the op, converted,
written as ONNX (full checker), run on the built-in runtime and onnxruntime, compared with
TensorFlow eager."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.converters.tensorflow_harness import check_fn, rand  # noqa: E402

R = rand
POS = dict(low=0.5, high=3.0)
I32 = np.int32

MATH = [
    ("add_broadcast", lambda a, b: a + b, (R(2, 3), R(3))),
    ("sub", lambda a, b: a - b, (R(2, 3), R(2, 3))),
    ("mul_int", lambda a, b: a * b, (R(2, 3, dtype=I32, low=-5, high=5), R(2, 3, dtype=I32, low=-5, high=5))),
    ("mul_bool", lambda a: tf.cast(a, tf.bool) & tf.cast(a - 1, tf.bool), (R(4, dtype=I32, low=0, high=3),)),
    ("realdiv", lambda a, b: a / b, (R(4), R(4, **POS))),
    ("div_int_truncates", lambda a, b: tf.raw_ops.Div(x=a, y=b), (np.array([-7, 7, 6], I32), np.array([2, -2, 4], I32))),
    ("div_no_nan", lambda a, b: tf.math.divide_no_nan(a, b), (R(4), np.array([0, 1, 2, 0], np.float32))),
    ("floordiv_float", lambda a, b: a // b, (R(6), R(6, **POS))),
    ("floordiv_int", lambda a, b: a // b, (np.array([7, -7, 6, -6, 0], I32), np.array([2, 2, -4, 4, 3], I32))),
    ("floordiv_int_extremes", lambda a, b: a // b,
     (np.array([-2**31, 2**31 - 1, -7], I32), np.array([3, -2, 2], I32))),
    ("floormod_float", lambda a, b: tf.math.floormod(a, b), (R(6), R(6, **POS))),
    ("floormod_int", lambda a, b: a % b, (np.array([7, -7, 6, -6], I32), np.array([3, 3, -4, 4], I32))),
    ("maximum_minimum", lambda a, b: tf.maximum(a, b) - tf.minimum(a, b), (R(3, 4), R(4))),
    ("pow", lambda a, b: tf.pow(a, b), (R(5, **POS), R(5))),
    ("square_sqrt_rsqrt", lambda a: tf.square(a) + tf.sqrt(a) + tf.math.rsqrt(a), (R(5, **POS),)),
    ("exp_log_neg_abs", lambda a: tf.exp(a) - tf.math.log(tf.abs(a) + 1.0) - tf.negative(a), (R(6),)),
    ("squared_difference", lambda a, b: tf.math.squared_difference(a, b), (R(2, 3), R(3))),
    ("add_n", lambda a, b: tf.add_n([a, b, a]), (R(3), R(3))),
    ("bias_add_nchw", lambda a, b: tf.nn.bias_add(a, b, data_format="NCHW"), (R(2, 3, 4, 4), R(3))),
    ("erf_erfc", lambda a: tf.math.erf(a) + tf.math.erfc(a) * 2.0, (R(8),)),
    ("log1p_expm1", lambda a: tf.math.log1p(a) + tf.math.expm1(a), (R(5, **POS),)),
    ("round_floor_ceil_sign", lambda a: tf.round(a) + tf.floor(a) * 2 + tf.math.ceil(a) * 3 + tf.sign(a),
     (np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3], np.float32),)),
    ("trig", lambda a: tf.sin(a) + tf.cos(a) + tf.tan(a * 0.3) + tf.atan(a) + tf.sinh(a) + tf.cosh(a), (R(6),)),
    ("reciprocal", lambda a: tf.math.reciprocal(a), (R(4, **POS),)),
    ("is_nan_inf_finite", lambda a: tf.stack([tf.math.is_nan(a), tf.math.is_inf(a), tf.math.is_finite(a)]),
     (np.array([1.0, np.nan, np.inf, -np.inf], np.float32),)),
    ("compare", lambda a, b: tf.stack([a > b, a < b, a >= b, a <= b, tf.equal(a, b), tf.not_equal(a, b)]),
     (np.array([1, 2, 3], np.float32), np.array([2, 2, 2], np.float32))),
    ("logical", lambda a, b: tf.logical_and(a > 0, b > 0) | tf.logical_not(a > b), (R(6), R(6))),
    ("select_v2", lambda c, a, b: tf.where(c > 0, a, b), (R(2, 3), R(2, 3), R(3))),
    ("clip_by_value", lambda a: tf.clip_by_value(a, -0.5, 1.0), (R(6),)),
    ("cast_float_int_bool", lambda a: tf.cast(a, tf.int32) + tf.cast(tf.cast(a, tf.bool), tf.int32), (R(6) * 3,)),
    ("zeros_ones_like", lambda a: tf.zeros_like(a) + tf.ones_like(a) * 2, (R(2, 3),)),
]

ACTIVATIONS = [
    ("relu", tf.nn.relu), ("relu6", tf.nn.relu6), ("sigmoid", tf.sigmoid), ("tanh", tf.tanh),
    ("elu", tf.nn.elu), ("selu", tf.nn.selu), ("softplus", tf.nn.softplus), ("softsign", tf.nn.softsign),
    ("leaky_relu", lambda x: tf.nn.leaky_relu(x, alpha=0.3)), ("swish", tf.nn.silu),
    ("gelu_exact", lambda x: tf.nn.gelu(x, approximate=False)), ("gelu_tanh", lambda x: tf.nn.gelu(x, approximate=True)),
    ("softmax", tf.nn.softmax), ("log_softmax", tf.nn.log_softmax),
]

REDUCE = [
    ("mean_keepdims", lambda a: tf.reduce_mean(a, axis=[1, 2], keepdims=True), (R(2, 3, 4, 5),)),
    ("sum_negative_axis", lambda a: tf.reduce_sum(a, axis=-1), (R(2, 3, 4),)),
    ("max_min_prod", lambda a: tf.reduce_max(a, 0) + tf.reduce_min(a, 0) + tf.reduce_prod(a, 0), (R(3, 4),)),
    ("sum_all", lambda a: tf.reduce_sum(a), (R(3, 4),)),
    ("any_all", lambda a: tf.stack([tf.reduce_any(a > 0, 1), tf.reduce_all(a > -1, 1)]), (R(3, 4),)),
    ("argmax_argmin", lambda a: tf.argmax(a, 1) + tf.cast(tf.argmin(a, 0, output_type=tf.int32), tf.int64)[:1],
     (R(3, 3),)),
    ("cumsum_exclusive_reverse", lambda a: tf.cumsum(a, axis=1, exclusive=True, reverse=True), (R(2, 5),)),
    ("matmul_transposes", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True), (R(4, 3), R(5, 4))),
    ("batch_matmul_broadcast", lambda a, b: tf.matmul(a, b), (R(2, 3, 4, 5), R(3, 5, 2))),
    ("batch_matmul_adjoint", lambda a, b: tf.linalg.matmul(a, b, adjoint_b=True), (R(2, 3, 4), R(2, 5, 4))),
    ("einsum", lambda a, b: tf.einsum("bij,bjk->bik", a, b), (R(2, 3, 4), R(2, 4, 5))),
    ("einsum_ellipsis", lambda a, b: tf.einsum("...ij,jk->...ik", a, b), (R(2, 3, 4), R(4, 2))),
]

SHAPE = [
    ("reshape", lambda a: tf.reshape(a, [3, -1]), (R(2, 3, 2),)),
    ("reshape_dynamic", lambda a: tf.reshape(a, tf.stack([tf.shape(a)[0], -1])), (R(2, 3, 2),)),
    ("transpose", lambda a: tf.transpose(a, [2, 0, 1]), (R(2, 3, 4),)),
    ("concat", lambda a, b: tf.concat([a, b, a], axis=-1), (R(2, 3), R(2, 1))),
    ("pack_unpack", lambda a: tf.stack(tf.unstack(a, axis=1)[::-1], axis=-1), (R(2, 3, 4),)),
    ("split_equal", lambda a: tf.split(a, 2, axis=1)[1], (R(2, 4, 3),)),
    ("split_v_inferred", lambda a: tf.split(a, [1, -1, 2], axis=0)[1], (R(6, 2),)),
    ("tile", lambda a: tf.tile(a, [2, 1, 3]), (R(2, 3, 1),)),
    ("expand_squeeze", lambda a: tf.squeeze(tf.expand_dims(a, -1), axis=[0]), (R(1, 3, 4),)),
    ("squeeze_all", lambda a: tf.squeeze(a), (R(1, 3, 1, 2),)),
    ("shape_size_rank", lambda a: tf.concat([tf.shape(a), [tf.size(a), tf.rank(a)]], 0), (R(2, 3, 4),)),
    ("shape_int64", lambda a: tf.shape(a, out_type=tf.int64), (R(2, 3),)),
    ("fill", lambda a: tf.fill(tf.shape(a), 2.5) + a, (R(2, 3),)),
    ("broadcast_to", lambda a: tf.broadcast_to(a, [2, 3, 4]), (R(3, 1),)),
    ("range", lambda a: tf.cast(tf.range(1, tf.shape(a)[0] * 2, 2), tf.float32) + a, (R(4),)),
    ("range_float", lambda a: tf.range(0.5, 3.0, 0.5) + a, (R(5),)),
    ("pad", lambda a: tf.pad(a, [[1, 0], [2, 1]]), (R(2, 3),)),
    ("pad_v2_constant", lambda a: tf.pad(a, [[0, 1], [1, 1]], constant_values=7.0), (R(2, 3),)),
    ("mirror_pad_reflect", lambda a: tf.pad(a, [[1, 1], [2, 1]], mode="REFLECT"), (R(3, 4),)),
    ("mirror_pad_symmetric", lambda a: tf.pad(a, [[1, 2], [0, 2]], mode="SYMMETRIC"), (R(3, 4),)),
    ("stop_gradient_identity", lambda a: tf.stop_gradient(a) + tf.identity(a), (R(3),)),
]

INDEX = [
    ("slice", lambda a: tf.slice(a, [1, 0, 1], [1, -1, 2]), (R(3, 4, 5),)),
    ("slice_dynamic", lambda a: tf.slice(a, tf.shape(a)[:2] - 2, [-1, 1]), (R(3, 4),)),
    ("strided_basic", lambda a: a[1:, ::2, 3:0:-1], (R(3, 4, 5),)),
    ("strided_shrink_newaxis_ellipsis", lambda a: a[..., 1, tf.newaxis, :2], (R(2, 3, 4, 5),)),
    ("strided_negative_shrink", lambda a: a[-1, :, -1], (R(2, 3, 4),)),
    ("strided_ellipsis_middle", lambda a: a[0, ..., ::-1], (R(2, 3, 4),)),
    ("strided_dynamic_begin", lambda a: a[tf.shape(a)[0] - 1, 1:], (R(3, 4),)),
    ("gather", lambda a: tf.gather(a, [2, 0, 2], axis=1), (R(2, 4, 3),)),
    ("gather_runtime_indices", lambda a, i: tf.gather(a, i), (R(5, 3), np.array([[4, 0], [1, 1]], I32))),
    ("gather_nd", lambda a: tf.gather_nd(a, [[0, 1], [1, 2]]), (R(2, 3, 4),)),
    ("one_hot", lambda i: tf.one_hot(i, 4, on_value=2.0, off_value=-1.0), (np.array([0, 3, -1, 5, 2], I32),)),
    ("one_hot_axis0", lambda i: tf.one_hot(i, 3, axis=0), (np.array([[0, 2], [1, 1]], np.int64),)),
    ("reverse", lambda a: tf.reverse(a, [0, 2]), (R(2, 3, 4),)),
    ("top_k", lambda a: tf.math.top_k(a, 2)[0] + tf.cast(tf.math.top_k(a, 2)[1], tf.float32), (R(3, 5),)),
    ("band_part_tril_triu", lambda a: tf.linalg.band_part(a, -1, 0) + tf.linalg.band_part(a, 1, 2) * 3,
     (R(2, 4, 5),)),
    ("roll", lambda a: tf.roll(a, [1, -2], [0, 2]), (R(3, 2, 5),)),
    ("where_coordinates", lambda a: tf.where(a > 0), (np.array([[1, -1], [0, 2]], np.float32),)),
]

NN = [
    ("conv2d_same_strided", lambda x, w: tf.nn.conv2d(x, w, 2, "SAME"), (R(1, 7, 6, 3), R(3, 3, 3, 4))),
    ("conv2d_valid_dilated", lambda x, w: tf.nn.conv2d(x, w, 1, "VALID", dilations=2), (R(2, 8, 8, 2), R(3, 2, 2, 3))),
    ("conv2d_explicit", lambda x, w: tf.nn.conv2d(x, w, 1, [[0, 0], [1, 2], [0, 1], [0, 0]]), (R(1, 5, 5, 2), R(2, 2, 2, 3))),
    ("conv2d_runtime_filter", lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), (R(1, 5, 5, 2), R(3, 3, 2, 2))),
    ("conv3d", lambda x, w: tf.nn.conv3d(x, w, [1, 1, 2, 1, 1], "SAME"), (R(1, 4, 5, 5, 2), R(2, 3, 3, 2, 3))),
    ("depthwise", lambda x, w: tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME"), (R(1, 6, 6, 3), R(3, 3, 3, 2))),
    ("conv2d_transpose_same", lambda x, w: tf.nn.conv2d_transpose(x, w, [1, 8, 8, 2], 2, "SAME"),
     (R(1, 4, 4, 3), R(3, 3, 2, 3))),
    ("conv2d_transpose_valid_odd", lambda x, w: tf.nn.conv2d_transpose(x, w, [1, 9, 9, 2], 2, "VALID"),
     (R(1, 4, 4, 3), R(3, 3, 2, 3))),
    ("max_pool_same", lambda x: tf.nn.max_pool2d(x, 3, 2, "SAME"), (R(2, 7, 7, 3),)),
    ("avg_pool_same_excludes_pad", lambda x: tf.nn.avg_pool2d(x, 3, 2, "SAME"), (R(1, 6, 5, 2),)),
    ("avg_pool_valid", lambda x: tf.nn.avg_pool2d(x, 2, 2, "VALID"), (R(1, 6, 6, 2),)),
    ("max_pool3d", lambda x: tf.nn.max_pool3d(x, 2, 2, "VALID"), (R(1, 4, 4, 4, 2),)),
    ("fused_batch_norm", lambda x: tf.compat.v1.nn.fused_batch_norm(
        x, np.array([1.0, 2.0, 0.5], np.float32), np.array([0.1, 0.0, -0.3], np.float32),
        mean=np.array([0.2, -0.1, 0.0], np.float32), variance=np.array([1.5, 0.5, 2.0], np.float32),
        epsilon=1e-3, is_training=False)[0], (R(2, 4, 4, 3),)),
    ("lrn", lambda x: tf.nn.local_response_normalization(x, 2, 1.0, 0.5, 0.75), (R(1, 3, 3, 8),)),
    ("resize_bilinear_half_pixel", lambda x: tf.image.resize(x, [7, 5]), (R(1, 4, 3, 2),)),
    ("resize_bilinear_align_corners", lambda x: tf.compat.v1.image.resize_bilinear(x, [7, 5], align_corners=True),
     (R(1, 4, 3, 2),)),
    ("resize_bilinear_legacy", lambda x: tf.compat.v1.image.resize_bilinear(x, [8, 6]), (R(1, 4, 3, 2),)),
    ("resize_nearest_half_pixel", lambda x: tf.image.resize(x, [7, 5], method="nearest"), (R(1, 4, 3, 2),)),
    ("resize_nearest_legacy", lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [7, 5]), (R(1, 4, 3, 2),)),
    ("resize_nearest_align_corners",
     lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [7, 5], align_corners=True), (R(1, 4, 3, 2),)),
    ("space_batch_nd", lambda x: tf.nn.conv2d(x, np.ones((2, 2, 2, 3), np.float32), 1, "SAME", dilations=[1, 2, 3, 1]),
     (R(2, 9, 8, 2),)),
    ("space_to_batch_crops", lambda x: tf.batch_to_space(tf.space_to_batch(x, [2, 2], [[1, 1], [0, 2]]), [2, 2],
                                                         [[1, 0], [0, 1]]), (R(2, 4, 4, 3),)),
    ("depth_to_space", lambda x: tf.nn.depth_to_space(x, 2), (R(1, 2, 3, 8),)),
    ("space_to_depth", lambda x: tf.nn.space_to_depth(x, 2), (R(1, 4, 6, 2),)),
]


@pytest.mark.parametrize("name,fn,inputs", MATH, ids=[r[0] for r in MATH])
def test_math(name, fn, inputs):
    check_fn(fn, inputs)


@pytest.mark.parametrize("name,fn", ACTIVATIONS, ids=[r[0] for r in ACTIVATIONS])
def test_activations(name, fn):
    check_fn(fn, (R(3, 7, low=-6, high=6),))


@pytest.mark.parametrize("name,fn,inputs", REDUCE, ids=[r[0] for r in REDUCE])
def test_reduce_and_matmul(name, fn, inputs):
    check_fn(fn, inputs)


@pytest.mark.parametrize("name,fn,inputs", SHAPE, ids=[r[0] for r in SHAPE])
def test_shape(name, fn, inputs):
    check_fn(fn, inputs)


@pytest.mark.parametrize("name,fn,inputs", INDEX, ids=[r[0] for r in INDEX])
def test_index(name, fn, inputs):
    check_fn(fn, inputs)


@pytest.mark.parametrize("name,fn,inputs", NN, ids=[r[0] for r in NN])
def test_nn(name, fn, inputs):
    check_fn(fn, inputs)


def test_nhwc_ops_are_wrapped_in_transposes():
    g = check_fn(lambda x, w: tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME")), (R(1, 5, 5, 2), R(3, 3, 2, 4)))
    ops = [n.op_type for n in g.nodes()]
    i = ops.index("Conv")
    assert ops[i - 1] == "Transpose" and ops[i + 1] == "Transpose"
    perms = [n.attr("perm") for n in g.nodes() if n.op_type == "Transpose"]
    assert (0, 3, 1, 2) in perms and (0, 2, 3, 1) in perms
