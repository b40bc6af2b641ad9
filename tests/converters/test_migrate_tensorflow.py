"""Keras / TensorFlow sources migrated with tb.convert(..., to="torch" | "tensorflow"): the
emitted model matches TensorFlow eager within 1e-4 relative (also at another batch size:
Keras' None batch stays dynamic), keeps the trainable parameter count, and trains. The
Keras -> IR -> TensorFlow round trip runs channels-last without transposes inside."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tensorbridge as tb  # noqa: E402
from tests.converters.migrate_harness import check_migration, trainable_count  # noqa: E402
from tests.converters.tensorflow_harness import _randomize, rand, tf_eager  # noqa: E402

pytest.importorskip("torch")
L = keras.layers
TARGETS = ["torch", "tensorflow"]


def _cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((12, 12, 3)), L.Conv2D(8, 3, padding="same", name="conv_a"), L.BatchNormalization(),
        L.ReLU(), L.MaxPooling2D(), L.DepthwiseConv2D(3, padding="same"), L.Conv2D(8, 3, strides=2),
        L.Activation("relu"), L.Flatten(), L.Dense(10, name="logits"), L.Softmax()], name="cnn")


def _mlp() -> keras.Model:
    x = inp = keras.Input((20,), name="features")
    x = L.Dense(32, activation="gelu")(x)
    x = L.LayerNormalization()(x)
    x = L.Dropout(0.1)(x)
    return keras.Model(inp, L.Dense(4, activation="sigmoid")(x), name="mlp")


def _attention() -> keras.Model:
    x = inp = keras.Input((6, 16))
    a = L.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = L.LayerNormalization()(x + a)
    x = L.Dense(16, activation="gelu")(x)
    return keras.Model(inp, L.GlobalAveragePooling1D()(x), name="attention")


def _conv1d() -> keras.Model:
    return keras.Sequential([
        keras.Input((20, 4)), L.Conv1D(8, 3, padding="same", activation="relu"),
        L.SeparableConv1D(8, 3, padding="same"), L.Conv1DTranspose(6, 3, strides=2, padding="same"),
        L.GlobalMaxPooling1D()], name="conv1d")


def _recurrent() -> keras.Model:
    # Keras' While-loop RNNs become ONNX LSTM / GRU / RNN ops (the framework's own RNN ops
    # when emitted; GRU(reset_after=False), ONNX's linear_before_reset=0, a cell loop)
    return keras.Sequential([keras.Input((7, 5)), L.Bidirectional(L.LSTM(6, return_sequences=True)),
                             L.GRU(8, return_sequences=True), L.GRU(5, reset_after=False, return_sequences=True),
                             L.SimpleRNN(4), L.Dense(3)], name="recurrent")


MODELS = {"cnn": (_cnn, (12, 12, 3)), "mlp": (_mlp, (20,)), "attention": (_attention, (6, 16)),
          "conv1d": (_conv1d, (20, 4)), "recurrent": (_recurrent, (7, 5))}


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_model_migrates(name, to):
    make, shape = MODELS[name]
    model = make()
    _randomize(model)
    x2, x3 = rand(2, *shape), rand(3, *shape)
    check_migration(model, None, [x2], tf_eager(model, [x2]), to, trainable=trainable_count(model),
                    other=([x3], tf_eager(model, [x3])))


def test_keras_cnn_round_trip_is_channels_last():
    """Keras (NHWC) -> IR (NCHW ops) -> TensorFlow: the layout pass puts the convolutions
    back in NHWC, so no Transpose is left between them."""
    model = _cnn()
    _randomize(model)
    module = tb.convert(model, to="tensorflow")
    ops = [n.op_type for n in module.graph.nodes()]
    assert ops.count("Transpose") <= 2, ops
    x = rand(2, 12, 12, 3)
    np.testing.assert_allclose(module(x).numpy(), tf_eager(model, [x])[0], rtol=1e-4, atol=1e-5)


def test_keras_round_trip_keeps_weight_paths_and_check_passes():
    """Keras -> IR -> TensorFlow: one variable per Keras weight, named by its path, in
    Keras' own layout; tb.check(to=...) compares the emitted model with Keras eager."""
    model = _cnn()
    _randomize(model)
    module = tb.convert(model, to="tensorflow")
    assert set(module.weights) == {w.path for w in model.weights}
    for w in model.weights:
        assert tuple(module.weights[w.path].shape) == tuple(w.shape), w.path
        assert module.weights[w.path].trainable == w.trainable, w.path
    for to in ("tensorflow", "torch"):
        report = tb.check(model, (rand(2, 12, 12, 3),), to=to)
        assert report.ok, report
        assert all(c.runtime == f"{'tensorflow' if to == 'tensorflow' else 'torch'} (emitted)"
                   for c in report.comparisons)


@pytest.mark.parametrize("to", TARGETS)
def test_keras_rnns_with_dynamic_time_migrate(to):
    """Input((None, F)): the emitted module runs sequences of any length (ONNX LSTM / GRU
    whose trip count was the run-time sequence length)."""
    inp = keras.Input((None, 5))
    x = L.Bidirectional(L.LSTM(4, return_sequences=True))(inp)
    model = keras.Model(inp, L.Dense(2)(L.GRU(3)(x)), name="recurrent_dynamic")
    _randomize(model)
    x6, x9 = rand(2, 6, 5), rand(3, 9, 5)
    check_migration(model, None, [x6], tf_eager(model, [x6]), to, trainable=trainable_count(model),
                    other=([x9], tf_eager(model, [x9])))
