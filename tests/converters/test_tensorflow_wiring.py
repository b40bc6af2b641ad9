"""The public API and CLI take Keras models, .keras files and SavedModels like any source."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
keras = pytest.importorskip("keras")

import tensorbridge as tb  # noqa: E402
from tensorbridge.cli import main as cli  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x))


def test_load_convert_check_a_keras_model(model, tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype(np.float32)
    g = tb.load(model, (x,))
    assert g.inputs[0].shape[0] == "batch"
    onnx_model = tb.convert(model, (x,))
    np.testing.assert_allclose(tb.run(onnx_model, x)[0], model(x).numpy(), rtol=1e-4, atol=1e-6)
    rep = tb.check(model, (x,))
    assert rep.ok and rep.reference == "tensorflow eager"
    path = tmp_path / "m.keras"
    model.save(path)
    assert cli(["convert", str(path), "-o", str(tmp_path / "m.onnx"), "--check"]) == 0
    assert Path(tmp_path / "m.onnx").is_file()


def test_directory_without_saved_model_is_a_clear_error(tmp_path):
    with pytest.raises(tb.UnsupportedSourceError, match="without saved_model.pb"):
        tb.load(tmp_path)
