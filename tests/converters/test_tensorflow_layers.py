"""Keras 3 layers, one table row each: a Sequential model over a dynamic-batch keras.Input
(weights randomised, so biases and BN statistics matter), converted and compared with
``model(x, training=False)`` on the built-in runtime and onnxruntime."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.converters.tensorflow_harness import check_layer, rand  # noqa: E402

L = keras.layers
R = rand

LAYERS = [
    ("dense_relu", lambda: L.Dense(5, activation="relu"), R(3, 4)),
    ("dense_3d_input", lambda: L.Dense(4), R(2, 3, 5)),
    ("einsum_dense", lambda: L.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d"), R(2, 3, 5)),
    ("conv1d_same_dilated", lambda: L.Conv1D(4, 3, padding="same", dilation_rate=2), R(2, 10, 3)),
    ("conv1d_causal", lambda: L.Conv1D(4, 3, padding="causal"), R(2, 10, 3)),
    ("conv2d_strided_valid", lambda: L.Conv2D(4, 3, strides=2), R(2, 9, 9, 3)),
    ("conv2d_grouped", lambda: L.Conv2D(4, 3, padding="same", groups=2), R(2, 6, 6, 4)),
    ("conv3d", lambda: L.Conv3D(3, 2, padding="same"), R(1, 4, 4, 4, 2)),
    ("depthwise_conv2d", lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), R(2, 6, 6, 3)),
    ("separable_conv2d", lambda: L.SeparableConv2D(4, 3, padding="same"), R(2, 6, 6, 3)),
    ("separable_conv1d", lambda: L.SeparableConv1D(4, 3), R(2, 8, 3)),
    ("conv2d_transpose_same", lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), R(2, 4, 4, 3)),
    ("conv2d_transpose_valid", lambda: L.Conv2DTranspose(2, 3, strides=2), R(2, 4, 5, 3)),
    ("conv1d_transpose", lambda: L.Conv1DTranspose(3, 3, strides=2), R(2, 5, 2)),
    ("max_avg_pool2d", lambda: [L.MaxPooling2D(2, padding="same"), L.AveragePooling2D(2)], R(2, 7, 8, 3)),
    ("pool1d", lambda: [L.MaxPooling1D(2), L.AveragePooling1D(2, padding="same")], R(2, 9, 3)),
    ("global_pools", lambda: [L.Conv2D(3, 1), L.GlobalAveragePooling2D(keepdims=True), L.GlobalMaxPooling2D()],
     R(2, 5, 5, 2)),
    ("batch_norm", lambda: L.BatchNormalization(), R(2, 4, 4, 3)),
    ("layer_norm", lambda: L.LayerNormalization(), R(2, 5, 6)),
    ("rms_norm", lambda: L.RMSNormalization(), R(2, 5, 6)),
    ("group_norm", lambda: L.GroupNormalization(2), R(2, 4, 4, 4)),
    ("dropout_inference", lambda: [L.Dropout(0.5), L.SpatialDropout1D(0.3)], R(2, 5, 6)),
    ("activation_layers", lambda: [L.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.5), L.LeakyReLU(0.2),
                                   L.ELU(0.7), L.PReLU(), L.Softmax()], R(2, 6)),
    ("flatten_reshape_permute", lambda: [L.Permute((2, 1, 3)), L.Reshape((3, -1)), L.Flatten(), L.RepeatVector(2)],
     R(2, 2, 3, 4)),
    ("upsampling2d_nearest", lambda: L.UpSampling2D(2), R(2, 3, 4, 2)),
    ("upsampling2d_bilinear", lambda: L.UpSampling2D(2, interpolation="bilinear"), R(2, 3, 4, 2)),
    ("upsampling1d", lambda: L.UpSampling1D(3), R(2, 3, 2)),
    ("zero_padding_cropping", lambda: [L.ZeroPadding2D(((1, 2), (0, 1))), L.Cropping2D(((1, 0), (0, 2)))],
     R(2, 4, 4, 2)),
    ("resizing", lambda: L.Resizing(6, 7), R(2, 4, 4, 3)),
    ("rescaling_normalization", lambda: [L.Rescaling(1 / 255.0, offset=-0.5),
                                         L.Normalization(mean=[0.1, 0.2], variance=[1.0, 4.0])], R(2, 3, 2)),
]

ACTIVATIONS = ["relu", "relu6", "sigmoid", "tanh", "softmax", "gelu", "swish", "silu", "elu", "selu",
               "leaky_relu", "hard_sigmoid", "hard_silu", "softplus", "softsign", "mish", "log_softmax",
               "exponential", "linear", "celu", "glu", "relu6"]


@pytest.mark.parametrize("name,make,x", LAYERS, ids=[r[0] for r in LAYERS])
def test_layer(name, make, x):
    check_layer(make, (x,))


@pytest.mark.parametrize("activation", sorted(set(ACTIVATIONS)))
def test_activation(activation):
    check_layer(lambda: L.Activation(activation), (R(3, 8, low=-5, high=5),))


def test_gelu_tanh_approximation():
    check_layer(lambda: L.Lambda(lambda t: keras.activations.gelu(t, approximate=True)), (R(3, 8, low=-5, high=5),))


def test_embedding_int_ids():
    ids = np.array([[0, 3, 9, 1], [2, 2, 5, 7]], np.int32)
    check_layer(lambda: [L.Embedding(10, 4), L.GlobalAveragePooling1D()], (ids,))


def test_merge_layers():
    a, b = keras.Input((4,)), keras.Input((4,))
    h = [L.Add()([a, b]), L.Multiply()([a, b]), L.Subtract()([a, b]), L.Maximum()([a, b]), L.Average()([a, b])]
    model = keras.Model([a, b], L.Concatenate()(h))
    from tests.converters.tensorflow_harness import check_tf

    check_tf(model, (R(3, 4), R(3, 4)))


def test_transformer_block_causal_attention_layernorm_gelu():
    from tests.converters.tensorflow_harness import _randomize, check_tf

    x = inp = keras.Input((None, 8))  # dynamic sequence length too
    h = L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    x = L.LayerNormalization()(x + h)
    h = L.Dense(8)(L.Dense(16, activation="gelu")(x))
    model = keras.Model(inp, L.LayerNormalization()(x + h))
    _randomize(model)
    g = check_tf(model, (R(2, 5, 8),), other_feeds=(R(3, 7, 8),))
    assert g.inputs[0].shape == ("batch", "input_dim1", 8)
    assert any(n.op_type == "Trilu" for n in g.nodes())
