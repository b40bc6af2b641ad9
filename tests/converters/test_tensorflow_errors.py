"""Bad input for the TensorFlow front-end: every unsupported op reported at once with its
node and Keras layer, unreadable files, SavedModels without a serving signature, models
without input shapes. Plus the registry, the lazy package entry points and the eager
reference used by parity checks."""

from __future__ import annotations

import os
import subprocess
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tensorbridge.converters.tensorflow.to_ir import to_ir  # noqa: E402
from tensorbridge.ir.errors import (  # noqa: E402
    ConversionError,
    ModelLoadError,
    TensorbridgeError,
    UnsupportedOpError,
)
from tests.converters.tensorflow_harness import rand  # noqa: E402

L = keras.layers


def test_all_unsupported_ops_are_listed_with_nodes_and_layers():
    inp = keras.Input((4, 4))
    det = L.Lambda(lambda t: tf.linalg.det(t), name="determinant")(inp)
    lg = L.Lambda(lambda t: tf.math.lgamma(t + 3.0), name="log_gamma")(inp)
    seq = L.Lambda(lambda t: tf.switch_case(tf.cast(tf.reduce_sum(t) > 0, tf.int32),
                                            [lambda: t[:, 0] * 2.0, lambda: t[:, 0] - 1.0]),
                   name="recurrent")(inp)
    out = L.Concatenate()([L.Reshape((1,))(det), L.Flatten()(lg), seq])
    model = keras.Model(inp, L.Dense(2)(out), name="bad")
    with pytest.raises(ConversionError) as info:
        to_ir(model)
    errors = info.value.errors
    ops = {e.op_type for e in errors}
    assert {"MatrixDeterminant", "Lgamma"} <= ops and ops & {"Case", "Merge"}
    assert all(isinstance(e, UnsupportedOpError) and e.node for e in errors)
    assert "Identity" not in ops and "Dense" not in str(info.value)  # no cascade from failures
    by_op = {e.op_type: e for e in errors}
    assert by_op["MatrixDeterminant"].node.endswith("determinant_1/MatrixDeterminant")
    assert by_op["MatrixDeterminant"].source == "layer determinant"
    assert by_op["Lgamma"].source == "layer log_gamma"
    lstm = [e for e in errors if e.op_type in ("Case", "_SwitchN", "Merge")]
    assert lstm and all(e.source == "layer recurrent" for e in lstm)

def test_ops_off_the_data_path_are_not_translated():
    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def checked(x):
        tf.debugging.assert_all_finite(x, "finite")  # CheckNumerics, its result unused
        with tf.control_dependencies([tf.debugging.assert_positive(tf.shape(x)[0])]):  # Assert op
            return x * 2.0

    g = to_ir(checked)
    assert [n.op_type for n in g.nodes()] == ["Mul"]


def test_unsupported_attribute_combination_names_the_node():
    fn = tf.function(lambda x: tf.compat.v1.nn.fused_batch_norm(
        x, np.ones(2, np.float32), np.zeros(2, np.float32), is_training=True)[0],
        input_signature=[tf.TensorSpec([1, 3, 3, 2], tf.float32)])
    with pytest.raises(ConversionError, match="is_training=True.*training=False"):
        to_ir(fn)


def test_unreadable_keras_file(tmp_path):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ModelLoadError, match="not a readable .keras archive"):
        to_ir(str(path))


def test_missing_path_and_unknown_suffix(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        to_ir(str(tmp_path / "absent.keras"))
    empty = tmp_path / "model.h5"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="is not an HDF5 file"):
        to_ir(empty)
    other = tmp_path / "model.tflite2"
    other.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="Pass a .keras or .h5 file or a SavedModel directory"):
        to_ir(other)
    with pytest.raises(ModelLoadError, match="not a SavedModel directory"):
        to_ir(tmp_path)


def test_saved_model_without_serving_signature(tmp_path):
    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "sm"))
    with pytest.raises(ModelLoadError, match="no serving_default signature"):
        to_ir(str(tmp_path / "sm"))


def test_unknown_source_and_tf_function_without_signature():
    with pytest.raises(TensorbridgeError, match="cannot capture a builtins.int"):
        to_ir(3)
    with pytest.raises(TensorbridgeError, match="needs example_inputs"):
        to_ir(tf.function(lambda x: x * 2))
    g = to_ir(tf.function(lambda x: x * 2), (rand(2, 3),))
    assert g.inputs[0].shape == (2, 3)  # example inputs without a signature: static shapes


def test_model_that_cannot_be_traced():
    class NeedsNumpy(keras.Model):
        def call(self, x):
            return x * float(np.asarray(x).sum())  # a concrete value: impossible in graph mode

    model = NeedsNumpy()
    model(rand(1, 2))
    with pytest.raises(TensorbridgeError, match="could not trace"):
        to_ir(model, (rand(1, 2),))


def test_inputs_as_nchw_unknown_name():
    fn = tf.function(lambda x: x + 1.0, input_signature=[tf.TensorSpec([1, 4, 4, 3], tf.float32, name="x")])
    with pytest.raises(TensorbridgeError, match=r"inputs_as_nchw names \['y'\]"):
        to_ir(fn, inputs_as_nchw=["y"])


def test_duplicate_translation_raises():
    from tensorbridge.converters.tensorflow.registry import TfOpRegistry

    reg = TfOpRegistry()
    reg.register("Foo")(lambda ctx, x: x)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("Foo")(lambda ctx, x: x)


def test_unknown_op_lists_close_matches():
    from tensorbridge.converters.tensorflow.registry import TF_OPS

    assert "Conv2D" in TF_OPS.close_matches("Conv2d")
    err = UnsupportedOpError("tensorflow", "Conv2d", node="n", close=TF_OPS.close_matches("Conv2d"))
    assert "close matches: Conv2D" in str(err)


def test_coverage_table_lists_every_translation():
    from tensorbridge.converters.tensorflow.coverage import coverage_markdown
    from tensorbridge.converters.tensorflow.registry import TF_OPS

    table = coverage_markdown()
    assert all(f"`{k}`" in table for k in TF_OPS.keys())
    assert "| `Conv2D` |" in table


def test_is_tensorflow_model_and_path(tmp_path):
    from tensorbridge.converters.tensorflow import is_tensorflow_model, is_tensorflow_path

    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    fn = tf.function(lambda x: x, input_signature=[tf.TensorSpec([1], tf.float32)])
    assert is_tensorflow_model(model) and is_tensorflow_model(fn)
    assert is_tensorflow_model(fn.get_concrete_function())
    assert not is_tensorflow_model(np.zeros(2)) and not is_tensorflow_model("model.keras")
    assert is_tensorflow_path("m.keras") and not is_tensorflow_path("m.onnx")
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert is_tensorflow_path(tmp_path)


def test_package_import_does_not_import_tensorflow():
    code = ("import sys, converters.tensorflow as t; "
            "assert 'tensorflow' not in sys.modules; assert not t.is_tensorflow_model(object())")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_eager_outputs_reference(tmp_path):
    from tensorbridge.converters.tensorflow.eager import eager_outputs

    model = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    x = rand(4, 3)
    arrays, outs = eager_outputs(model, x)
    np.testing.assert_allclose(outs[0], model(x).numpy())
    tf.saved_model.save(model, str(tmp_path / "sm"))
    _, outs = eager_outputs(str(tmp_path / "sm"), (x,))
    np.testing.assert_allclose(outs[0], model(x).numpy(), rtol=1e-6)
