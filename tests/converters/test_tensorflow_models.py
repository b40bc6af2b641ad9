"""Keras models and TF sources end to end: every source kind (Sequential, functional,
subclassed, tf.function, .keras file, SavedModel directory), weight names and provenance,
dynamic batch, the call inlining that Keras' XLA helpers need, and layout options. Models
are built once per module (TF tracing is the slow part)."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tensorbridge.converters.onnx import from_ir  # noqa: E402
from tensorbridge.ir import Role  # noqa: E402
from tests.converters.tensorflow_harness import check_tf, rand  # noqa: E402

L = keras.layers
R = rand


def _randomized(model: keras.Model) -> keras.Model:
    from tests.converters.tensorflow_harness import _randomize

    _randomize(model)
    return model


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    return _randomized(keras.Sequential([
        keras.Input((12, 12, 3)), L.Conv2D(8, 3, padding="same", name="conv_a"), L.BatchNormalization(name="bn_a"),
        L.ReLU(), L.MaxPooling2D(name="pool"), L.Conv2D(8, 3, strides=2, name="conv_b"), L.BatchNormalization(),
        L.Activation("relu"), L.Flatten(name="flat"), L.Dense(10, name="logits"), L.Softmax()], name="cnn"))


@pytest.fixture(scope="module")
def two_inputs() -> keras.Model:
    image, meta = keras.Input((8, 8, 2), name="image"), keras.Input((5,), name="meta")
    h = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu")(image))
    h = L.Concatenate()([h, L.Dense(6, activation="tanh")(meta)])
    return _randomized(keras.Model([image, meta], L.Dense(3, name="head")(h), name="two_inputs"))


@pytest.fixture(scope="module")
def separable_net() -> keras.Model:
    x = inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    x = L.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    x = L.SeparableConv2D(12, 3, padding="same", activation="swish")(x)
    x = L.GlobalAveragePooling2D()(x)
    return _randomized(keras.Model(inp, L.Dense(4)(x), name="separable_net"))


@pytest.fixture(scope="module")
def mlp() -> keras.Model:
    return _randomized(keras.Sequential([
        keras.Input((16,)), L.Dense(32, activation="gelu"), L.Dropout(0.3), L.LayerNormalization(),
        L.Dense(32), L.Activation(lambda t: keras.activations.gelu(t, approximate=True)), L.Dropout(0.1),
        L.LayerNormalization(epsilon=1e-3), L.Dense(3)], name="mlp"))


@pytest.fixture(scope="module")
def embedding_model() -> keras.Model:
    return _randomized(keras.Sequential([
        keras.Input((7,), dtype="int32"), L.Embedding(50, 8, name="embed"), L.GlobalAveragePooling1D(), L.Dense(2)],
        name="bag_of_words"))


def test_sequential_cnn(cnn):
    check_tf(cnn, (R(2, 12, 12, 3),))


def test_weights_keep_keras_paths_and_ops_carry_layers(cnn):
    g = check_tf(cnn, (R(1, 12, 12, 3),))
    inits = {v.name: v for v in g.initializers() if v.source_name}
    assert {w.path for w in cnn.weights} == set(inits)
    assert inits["cnn/conv_a/kernel"].shape == (8, 3, 3, 3)  # re-laid out OIHW, name kept
    assert inits["cnn/conv_a/kernel"].role is Role.PARAMETER
    assert inits["cnn/bn_a/moving_mean"].role is Role.BUFFER
    convs = [n for n in g.nodes() if n.op_type == "Conv"]
    assert [n.provenance.module for n in convs] == ["cnn/conv_a", "cnn/conv_b"]
    assert all(n.provenance.framework == "tensorflow" and n.provenance.source_op == "Conv2D" for n in convs)
    assert {n.provenance.module for n in g.nodes()} >= {"cnn/logits", "cnn/pool", "cnn/flat"}
    props = {p.key: p.value for n in from_ir(g).graph.node for p in n.metadata_props}
    assert props.get("tensorbridge.module", "").startswith("cnn/")


def test_reshaped_weights_stay_named_initializers():
    """Keras reshapes BN statistics (axis=3, as in ResNet) and conv biases to broadcast: the
    reshaped weight is an initializer with the Keras name, not a run-time Reshape."""
    model = _randomized(keras.Sequential([keras.Input((5, 5, 3)), L.Conv2D(4, 3, name="conv"),
                                          L.BatchNormalization(axis=3, name="bn")], name="rn"))
    g = check_tf(model, (R(2, 5, 5, 3),))
    inits = {v.name: v for v in g.initializers()}
    assert inits["rn/bn/gamma"].shape == (1, 1, 1, 4) and inits["rn/bn/gamma"].role is Role.PARAMETER
    assert inits["rn/conv/bias"].shape == (4,)
    assert not any(n.op_type in ("Reshape", "Squeeze") for n in g.nodes())


def test_functional_two_inputs_concatenate(two_inputs):
    g = check_tf(two_inputs, (R(2, 8, 8, 2), R(2, 5)))
    assert [v.name for v in g.inputs] == ["image", "meta"]
    assert g.inputs[0].shape == ("batch", 8, 8, 2) and g.inputs[1].shape == ("batch", 5)


def test_dict_inputs_and_outputs():
    b, a = keras.Input((3,), name="zeta"), keras.Input((2,), name="alpha")
    h = L.Concatenate()([L.Dense(4)(a), L.Dense(4)(b)])
    model = _randomized(keras.Model({"zeta": b, "alpha": a}, {"score": L.Dense(1)(h), "emb": h}))
    g = check_tf(model, (R(2, 2), R(2, 3)))
    assert [v.name for v in g.inputs] == ["alpha", "zeta"]  # tf.nest order: sorted keys
    assert [v.name for v in g.outputs] == ["emb", "score"]
    from tensorbridge.converters.tensorflow.eager import eager_outputs

    _, outs = eager_outputs(model, (R(1, 2), R(1, 3)))
    assert [o.shape for o in outs] == [(1, 8), (1, 1)]


def test_depthwise_separable_net(separable_net):
    g = check_tf(separable_net, (R(2, 16, 16, 3),))
    groups = sorted(n.attr("group") for n in g.nodes() if n.op_type == "Conv")
    assert groups == [1, 1, 8, 8]  # stem, pointwise; depthwise, separable's depthwise


def test_mlp_dropout_layernorm_gelu(mlp):
    g = check_tf(mlp, (R(4, 16),))
    assert not any(n.op_type in ("Dropout", "RandomUniform") for n in g.nodes())


def test_embedding_global_average(embedding_model):
    ids = np.random.default_rng(1).integers(0, 50, size=(3, 7)).astype(np.int32)
    g = check_tf(embedding_model, (ids,))
    assert any(v.source_name == "bag_of_words/embed/embeddings" for v in g.initializers())


def test_dynamic_batch_named_dim_runs_at_two_batch_sizes(cnn):
    g = check_tf(cnn, (R(1, 12, 12, 3),), other_feeds=(R(5, 12, 12, 3),))
    assert g.inputs[0].shape == ("batch", 12, 12, 3)
    assert g.outputs[0].shape == ("batch", 10)  # through Flatten's shape arithmetic
    model = from_ir(g)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_none_inner_dims_get_input_named_symbols():
    fn = tf.function(lambda x: tf.reduce_sum(x, axis=1),
                     input_signature=[tf.TensorSpec([None, None, 3], tf.float32, name="tokens")])
    g = check_tf(fn, (R(2, 4, 3),), other_feeds=(R(3, 6, 3),))
    assert g.inputs[0].shape == ("batch", "tokens_dim1", 3)
    assert g.outputs[0].shape == ("batch", 3)


def test_tf_function_with_input_signature(mlp):
    @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.float32, name="features")])
    def serve(features):
        return {"probs": tf.nn.softmax(mlp(features, training=False)), "argmax": tf.argmax(features, axis=1)}

    g = check_tf(serve, (R(3, 16),))
    assert [v.name for v in g.outputs] == ["argmax", "probs"]  # tf.nest order: sorted keys
    assert g.inputs[0].name == "features"
    assert {n.provenance.module for n in g.nodes() if n.op_type == "MatMul"} == {
        f"mlp/{layer.name}" for layer in mlp.layers if isinstance(layer, L.Dense)}


def test_subclassed_model_with_example_inputs():
    class Block(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="block")
            self.proj, self.norm = L.Dense(6), L.LayerNormalization()

        def call(self, x):
            return self.norm(tf.nn.relu(self.proj(x)) + x[:, :1])

    model = Block()
    with pytest.raises(Exception, match="pass example_inputs"):
        from tensorbridge.converters.tensorflow.to_ir import to_ir

        to_ir(model)
    x = R(2, 4)
    model(x)
    g = check_tf(model, (x,), example_inputs=(x,), other_feeds=(R(5, 4),))
    assert g.inputs[0].shape == ("batch", 4)
    assert {w.path for w in model.weights} <= {v.name for v in g.initializers()}


@pytest.fixture(scope="module")
def saved_dir(tmp_path_factory, two_inputs):
    path = tmp_path_factory.mktemp("tf") / "two_inputs_savedmodel"
    tf.saved_model.save(two_inputs, str(path))
    return path


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside Keras' saving
def test_keras_file(tmp_path, separable_net):
    path = tmp_path / "net.keras"
    separable_net.save(path)
    g = check_tf(str(path), (R(2, 16, 16, 3),), reference=separable_net)
    assert "dw/kernel" in {v.name for v in g.initializers()}


def test_saved_model_directory(saved_dir, two_inputs):
    loaded = tf.saved_model.load(str(saved_dir))  # keep the object: it owns the variables
    feeds = (R(2, 8, 8, 2), R(2, 5))
    g = check_tf(str(saved_dir), feeds, reference=loaded.signatures["serving_default"])
    np.testing.assert_allclose(check_outputs(g, feeds)[0], two_inputs(list(feeds)).numpy(), rtol=1e-4, atol=1e-5)
    assert not any(n.op_type.endswith("PartitionedCall") for n in g.nodes())
    assert any(v.source_name == "head/kernel" for v in g.initializers())
    assert g.name == "two_inputs_savedmodel"


def check_outputs(g, feeds):
    from tensorbridge.runtime.session import Session

    return Session(g).run(list(feeds))


def test_grouped_conv_xla_call_is_inlined():
    """Keras runs grouped convolutions on CPU through a jit_compile'd tf.function (as in
    ConvNeXt); freezing leaves that StatefulPartitionedCall in the graph."""
    x = inp = keras.Input((8, 8, 8))
    x = L.Conv2D(8, 7, padding="same", groups=8, name="dwconv")(x)
    x = L.LayerNormalization(epsilon=1e-6)(x)
    x = L.Dense(16, activation="gelu")(x)
    model = _randomized(keras.Model(inp, L.Dense(8)(x) + inp, name="convnext_block"))
    from tensorbridge.converters.tensorflow.capture import capture

    cap = capture(model)
    assert not [n.name for n in cap.graph_def.node if n.op.endswith("PartitionedCall")]
    g = check_tf(model, (R(2, 8, 8, 8),))
    conv = [n for n in g.nodes() if n.op_type == "Conv"]
    assert conv[0].attr("group") == 8 and conv[0].provenance.module == "dwconv"  # functional: layer paths
    assert "dwconv/kernel" in {v.name for v in g.initializers()}


def test_shared_layer_weights_are_stored_once():
    conv = L.Conv2D(4, 3, name="shared_conv")
    a, b = keras.Input((6, 6, 2)), keras.Input((6, 6, 2))
    model = _randomized(keras.Model([a, b], L.Subtract()([conv(a), conv(b)]), name="siamese"))
    g = check_tf(model, (R(2, 6, 6, 2), R(2, 6, 6, 2)))
    kernels = [v for v in g.initializers() if v.source_name == "shared_conv/kernel"]
    assert [v.name for v in kernels] == ["shared_conv/kernel"]
    assert sum(n.op_type == "Conv" for n in g.nodes()) == 2


def test_same_model_same_bytes(cnn):
    from tensorbridge.converters.tensorflow.to_ir import to_ir

    first, second = (from_ir(to_ir(cnn)).SerializeToString(deterministic=True) for _ in range(2))
    assert first == second


def test_graph_names():
    from tensorbridge.converters.tensorflow.to_ir import to_ir

    @tf.function(input_signature=[tf.TensorSpec([2], tf.float32)])
    def serve(x):
        return x * 2.0

    assert to_ir(serve).name == "serve" and to_ir(serve.get_concrete_function()).name == "serve"


def test_inputs_as_nchw(cnn):
    from tensorbridge.converters.tensorflow.to_ir import to_ir
    from tensorbridge.runtime.session import Session

    g = to_ir(cnn, inputs_as_nchw=["input"])
    assert g.inputs[0].shape == ("batch", 3, 12, 12)
    x = R(2, 12, 12, 3)
    got = Session(g).run([np.ascontiguousarray(x.transpose(0, 3, 1, 2))])[0]
    np.testing.assert_allclose(got, cnn(x, training=False).numpy(), rtol=1e-4, atol=1e-5)
    onnx.checker.check_model(from_ir(g), full_check=True)


def test_opset_choice_and_range(mlp):
    from tensorbridge.converters.tensorflow.to_ir import to_ir
    from tensorbridge.ir.errors import UnsupportedOpError

    check_tf(mlp, (R(2, 16),), opset=17)
    assert to_ir(mlp, opset=18).opset() == 18
    with pytest.raises(UnsupportedOpError, match="opsets 17"):
        to_ir(mlp, opset=9)


def test_ir_cleanup_pipeline_keeps_numerics(cnn):
    """What tb.load/convert run after the front-end (folding, CSE, DCE, Conv+BN fusion)."""
    from tensorbridge.converters.tensorflow.to_ir import to_ir
    from tensorbridge.pipeline import optimize
    from tensorbridge.runtime.session import Session

    g = to_ir(cnn)
    before = len(g)
    optimize(g, "deploy")
    assert len(g) < before
    x = R(3, 12, 12, 3)
    np.testing.assert_allclose(Session(g).run([x])[0], cnn(x, training=False).numpy(), rtol=1e-4, atol=1e-5)
