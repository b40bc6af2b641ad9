"""``inputs_as_nchw`` (tf2onnx's --inputs-as-nchw): a Keras NHWC image model exported to an
ONNX model that takes NCHW, validated against Keras on the same data in NHWC, with the
layout transposes cancelled by the transpose pass."""

from __future__ import annotations

import numpy as np
import pytest

import tensorbridge as tb
from tensorbridge.cli import main as cli


@pytest.fixture(scope="module")
def keras_cnn():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(4, 3)(x)
    out = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, out, name="nchw_cnn")


def test_onnx_model_takes_nchw_and_matches_keras(keras_cnn):
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 3)).astype(np.float32)
    model = tb.convert(keras_cnn, (x,), to="onnx", inputs_as_nchw=["image"])
    (inp,) = model.graph.input
    assert [d.dim_value or d.dim_param for d in inp.type.tensor_type.shape.dim][1:] == [3, 16, 16]
    nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    (y,) = tb.run(model, nchw)
    np.testing.assert_allclose(y, keras_cnn(x).numpy(), rtol=1e-4, atol=1e-5)
    # the NCHW input feeds the first Conv directly: no Transpose is left in the graph
    assert "Transpose" not in {n.op_type for n in model.graph.node}


def test_unknown_input_or_wrong_source_is_a_clear_error(keras_cnn, tmp_path):
    x = np.zeros((1, 16, 16, 3), np.float32)
    with pytest.raises(tb.TensorbridgeError, match="'pixels' is not an input of the model"):
        tb.convert(keras_cnn, (x,), to="onnx", inputs_as_nchw=["pixels"])
    with pytest.raises(tb.TensorbridgeError, match="for a TensorFlow/Keras model exported to ONNX"):
        tb.convert(keras_cnn, (x,), to="torch", inputs_as_nchw=["image"])


def test_cli_flag(keras_cnn, tmp_path):
    keras_cnn.save(tmp_path / "cnn.keras")
    out = tmp_path / "cnn.onnx"
    assert cli(["convert", str(tmp_path / "cnn.keras"), "-o", str(out), "--inputs-as-nchw", "image",
                "--check"]) == 0
    import onnx

    dims = [d.dim_value for d in onnx.load(out).graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [3, 16, 16]
