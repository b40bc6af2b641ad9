"""TF functional control flow -> ONNX If / Loop, tensor lists, and Keras' While-loop RNNs
(recognised as ONNX LSTM by the IR cleanups). Every case is checked against TF eager."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tensorbridge.converters.onnx import from_ir  # noqa: E402
from tensorbridge.converters.tensorflow.to_ir import to_ir  # noqa: E402
from tensorbridge.ir.errors import ConversionError  # noqa: E402
from tensorbridge.ort import ort_run  # noqa: E402
from tensorbridge.pipeline import optimize  # noqa: E402
from tensorbridge.runtime.session import Session  # noqa: E402
from tests.converters.tensorflow_harness import _randomize, assert_close, check_tf, rand, tf_eager  # noqa: E402

L = keras.layers
F32 = tf.float32


def _ops(graph):
    return [n.op_type for n in graph.nodes()]


def test_cond_runs_both_branches():
    @tf.function(input_signature=[tf.TensorSpec([None, 4], F32)])
    def f(x):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0 + 1.0, lambda: tf.nn.relu(x) - 3.0)

    g = check_tf(f, [np.abs(rand(2, 4))], other_feeds=[-np.abs(rand(3, 4))])
    assert "If" in _ops(g)


def test_cond_on_int_predicate_and_branch_returning_its_input():
    @tf.function(input_signature=[tf.TensorSpec([3], F32), tf.TensorSpec([], tf.int32)])
    def f(x, k):
        return tf.cond(tf.cast(k, tf.bool), lambda: x, lambda: tf.exp(x))

    check_tf(f, [rand(3), np.array(1, np.int32)], other_feeds=[rand(3), np.array(0, np.int32)])


def test_while_with_data_dependent_condition_and_maximum_iterations():
    @tf.function(input_signature=[tf.TensorSpec([None, 4], F32)])
    def f(x):
        def body(i, y):
            return i + 1, tf.tanh(y) * 1.5 + x

        return tf.while_loop(lambda i, y: tf.reduce_max(y) < 5.0, body, (tf.constant(0), x),
                             maximum_iterations=10)

    g = check_tf(f, [rand(2, 4, low=0, high=1)], other_feeds=[rand(3, 4, low=3, high=4)])
    assert "Loop" in _ops(g)


def test_tensor_array_of_run_time_size_unwritten_items_are_zeros():
    @tf.function(input_signature=[tf.TensorSpec([None, 4], F32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.int32)])
    def f(x, size, steps):
        ta = tf.TensorArray(F32, size=size, element_shape=[None, 4])

        def body(i, y, ta):
            y = y * 0.5 + 1.0
            return i + 1, y, ta.write(i, y)

        _, y, ta = tf.while_loop(lambda i, y, ta: i < steps, body, (0, x, ta))
        return y, ta.stack()

    check_tf(f, [rand(2, 4), np.array(5, np.int32), np.array(5, np.int32)],
             other_feeds=[rand(3, 4), np.array(6, np.int32), np.array(4, np.int32)])


def test_nested_loops_with_cond_inside():
    @tf.function(input_signature=[tf.TensorSpec([3, 4], F32)])
    def f(x):
        def outer(i, acc):
            def inner(j, a):
                return j + 1, tf.cond(j % 2 == 0, lambda: a + x, lambda: a * 0.9)

            _, acc = tf.while_loop(lambda j, a: j < i, inner, (0, acc))
            return i + 1, acc

        return tf.while_loop(lambda i, a: i < 4, outer, (0, tf.zeros_like(x)))[1]

    check_tf(f, [rand(3, 4)])


def test_loop_reading_a_sequence_by_index():
    @tf.function(input_signature=[tf.TensorSpec([6, None, 3], F32)])
    def f(xs):
        items = tf.TensorArray(F32, size=6).unstack(xs)

        def body(t, acc):
            return t + 1, acc * 0.5 + items.read(t)

        return tf.while_loop(lambda t, acc: t < 6, body, (0, tf.zeros_like(xs[0])))[1]

    g = check_tf(f, [rand(6, 2, 3)], other_feeds=[rand(6, 5, 3)])
    loop = next(n for n in g.nodes() if n.op_type == "Loop")
    assert g.node_inputs(loop)[0].const_array() == 6  # the trip count is static: no condition per step


RNNS = {
    "lstm_sequences": lambda: L.LSTM(6, return_sequences=True),
    "lstm_last": lambda: L.LSTM(6),
    "lstm_backwards_state": lambda: L.LSTM(6, go_backwards=True, return_state=True),
    "gru": lambda: L.GRU(6, return_sequences=True),
    "gru_no_reset_after": lambda: L.GRU(6, reset_after=False),
    "simple_rnn": lambda: L.SimpleRNN(6, return_sequences=True),
    "bidirectional_lstm": lambda: L.Bidirectional(L.LSTM(5, return_sequences=True)),
    "stacked": lambda: [L.LSTM(6, return_sequences=True), L.GRU(4)],
}


def _rnn_model(name: str, time: int | None = 7) -> keras.Model:
    inp = keras.Input((time, 5))
    x = inp
    layers = RNNS[name]()
    for layer in layers if isinstance(layers, list) else [layers]:
        x = layer(x)
    model = keras.Model(inp, x, name=name)
    _randomize(model)
    return model


@pytest.mark.parametrize("name", sorted(RNNS))
def test_keras_rnn_without_unroll(name):
    """Front-end alone (a Loop), then the IR cleanups (LSTM / GRU loops -> ONNX LSTM / GRU)."""
    model = _rnn_model(name)
    x, x2 = rand(2, 7, 5), rand(3, 7, 5)
    g = check_tf(model, [x], other_feeds=[x2])
    n_loops = sum(1 for n in g.nodes() if n.op_type == "Loop")
    optimize(g, "deploy")
    fused = {"LSTM": "lstm" in name or name == "stacked", "GRU": "gru" in name or name == "stacked",
             "RNN": name == "simple_rnn"}
    for op, expected in fused.items():
        assert (op in _ops(g)) == expected, f"{op} expected: {expected}"
    assert "Loop" not in _ops(g), f"{n_loops} loops before"
    if name == "gru_no_reset_after":  # r multiplies h before the recurrent MatMul
        assert next(n for n in g.nodes() if n.op_type == "GRU").attr("linear_before_reset") == 0
    model_proto = from_ir(g)
    onnx.checker.check_model(model_proto, full_check=True)
    for feed in ([x], [x2]):
        expected = tf_eager(model, feed)
        assert_close(Session(g).run(feed), expected, 1e-4, 1e-5, "tensorbridge runtime")
        assert_close(ort_run(model_proto, feed), expected, 1e-4, 1e-5, "onnxruntime")


@pytest.mark.parametrize("name", ["lstm_sequences", "gru", "simple_rnn", "bidirectional_lstm"])
def test_keras_rnn_with_dynamic_time(name):
    """Input((None, 5)): the trip count is the run-time sequence length (Loop's M from the
    bounds, no condition per step), which the fusion proves equal to the sequence's dim 0
    (also through go_backwards' reversal)."""
    model = _rnn_model(name, time=None)
    x, x2 = rand(2, 4, 5), rand(3, 9, 5)
    g = check_tf(model, [x], other_feeds=[x2])
    assert all(len(n.attr("body").nodes()) and g.node_inputs(n)[0] is not None
               for n in g.nodes() if n.op_type == "Loop")  # M given: no condition per step
    optimize(g, "deploy")
    assert "Loop" not in _ops(g)
    model_proto = from_ir(g)
    for feed in ([x], [x2]):
        expected = tf_eager(model, feed)
        assert_close(Session(g).run(feed), expected, 1e-4, 1e-5, "tensorbridge runtime")
        assert_close(ort_run(model_proto, feed), expected, 1e-4, 1e-5, "onnxruntime")


def test_lstm_fusion_reads_gates_by_role_not_position():
    """A hand-written cell with Keras' blocks in another order (f, o, g, i), no bias and a
    ReLU cell activation: the fused LSTM must compute the same."""
    units, feat, steps = 4, 3, 5
    rng = np.random.default_rng(1)
    kernel = tf.constant(rng.normal(size=(feat, 4 * units)).astype(np.float32))
    recurrent = tf.constant(rng.normal(size=(units, 4 * units)).astype(np.float32) * 0.5)

    @tf.function(input_signature=[tf.TensorSpec([steps, None, feat], F32)])
    def f(xs):
        items = tf.TensorArray(F32, size=steps).unstack(xs)
        out = tf.TensorArray(F32, size=steps)
        zeros = tf.zeros([tf.shape(xs)[1], units])

        def body(t, h, c, out):
            z = tf.matmul(items.read(t), kernel) + tf.matmul(h, recurrent)
            f_, o, g, i = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f_) * c + tf.sigmoid(i) * tf.nn.relu(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return t + 1, h, c, out.write(t, h)

        _, h, c, out = tf.while_loop(lambda t, *_: t < steps, body, (0, zeros, zeros, out))
        return out.stack(), c

    xs = rand(steps, 2, feat, low=-1, high=1)
    g = to_ir(f)
    optimize(g, "deploy")
    lstm = [n for n in g.nodes() if n.op_type == "LSTM"]
    assert len(lstm) == 1 and "Loop" not in _ops(g)
    assert list(lstm[0].attr("activations")) == ["Sigmoid", "Relu", "Tanh"]
    expected = [t.numpy() for t in f(tf.constant(xs))]
    assert_close(Session(g).run([xs]), expected, 1e-5, 1e-6, "tensorbridge runtime")
    assert_close(ort_run(from_ir(g), [xs]), expected, 1e-5, 1e-6, "onnxruntime")


def test_gru_fusion_reads_blocks_by_role():
    """A hand-written reset-after GRU whose input blocks are (h, z, r) (split) and whose
    recurrent blocks are (r, h, z) (slices), biases as rows of one [2, 3H] weight."""
    units, feat, steps = 4, 3, 6
    rng = np.random.default_rng(4)
    kernel = tf.constant(rng.normal(size=(feat, 3 * units)).astype(np.float32))
    recurrent = tf.constant(rng.normal(size=(units, 3 * units)).astype(np.float32) * 0.5)
    bias = tf.constant(rng.normal(size=(2, 3 * units)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([steps, None, feat], F32)])
    def f(xs):
        items = tf.TensorArray(F32, size=steps).unstack(xs)
        out = tf.TensorArray(F32, size=steps)
        b_x, b_h = tf.unstack(bias)

        def body(t, h, out):
            xh, xz, xr = tf.split(tf.matmul(items.read(t), kernel) + b_x, 3, axis=-1)
            inner = tf.matmul(h, recurrent) + b_h
            hr, hh, hz = inner[:, :units], inner[:, units:2 * units], inner[:, 2 * units:]
            z, r = tf.sigmoid(xz + hz), tf.sigmoid(xr + hr)
            h = z * h + (1.0 - z) * tf.tanh(xh + r * hh)
            return t + 1, h, out.write(t, h)

        _, h, out = tf.while_loop(lambda t, *_: t < steps, body, (0, tf.zeros([tf.shape(xs)[1], units]), out))
        return out.stack(), h

    xs = rand(steps, 2, feat, low=-1, high=1)
    g = to_ir(f)
    optimize(g, "deploy")
    assert "GRU" in _ops(g) and "Loop" not in _ops(g)
    expected = [t.numpy() for t in f(tf.constant(xs))]
    assert_close(Session(g).run([xs]), expected, 1e-5, 1e-6, "tensorbridge runtime")
    assert_close(ort_run(from_ir(g), [xs]), expected, 1e-5, 1e-6, "onnxruntime")


def test_loop_with_an_op_outside_the_cell_is_not_fused():
    units, steps = 3, 4
    kernel = tf.constant(np.random.default_rng(2).normal(size=(2, 4 * units)).astype(np.float32))
    recurrent = tf.constant(np.random.default_rng(3).normal(size=(units, 4 * units)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec([steps, 2, 2], F32)])
    def f(xs):
        items = tf.TensorArray(F32, size=steps).unstack(xs)

        def body(t, h, c):
            z = tf.matmul(items.read(t), kernel) + tf.matmul(h, recurrent)
            i, f_, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f_) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c) + 0.1 * h  # a residual: not an LSTM
            return t + 1, h, c

        return tf.while_loop(lambda t, *_: t < steps, body, (0, tf.zeros([2, units]), tf.zeros([2, units])))[1]

    xs = rand(steps, 2, 2, low=-1, high=1)
    g = to_ir(f)
    optimize(g, "deploy")
    assert "LSTM" not in _ops(g) and "Loop" in _ops(g)
    assert_close(Session(g).run([xs]), [f(tf.constant(xs)).numpy()], 1e-5, 1e-6, "tensorbridge runtime")


def test_keras_lstm_migrates_as_the_frameworks_lstm():
    torch = pytest.importorskip("torch")
    import tensorbridge as tb

    model = _rnn_model("bidirectional_lstm")
    x = rand(2, 7, 5)
    module = tb.convert(model, to="torch")
    assert sum(p.numel() for p in module.parameters()) == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    got = module(torch.from_numpy(x))
    got = got[0] if isinstance(got, tuple | list) else got
    np.testing.assert_allclose(got.detach().numpy(), tf_eager(model, [x])[0], rtol=1e-4, atol=1e-5)


def test_growing_tensor_array():
    @tf.function(input_signature=[tf.TensorSpec([None], F32)])
    def f(x):
        ta = tf.TensorArray(F32, size=0, dynamic_size=True)

        def body(i, ta):
            return i + 1, ta.write(i, tf.reduce_sum(x) * tf.cast(i, F32))

        return tf.while_loop(lambda i, ta: i < 3, body, (0, ta))[1].stack()

    check_tf(f, [rand(4)], other_feeds=[rand(2)])


def test_switch_case_is_reported_with_its_layer():
    inp = keras.Input((3,))
    branch = L.Lambda(lambda t: tf.switch_case(tf.cast(tf.reduce_sum(t) > 0, tf.int32),
                                               [lambda: t * 2.0, lambda: t - 1.0]), name="branches")(inp)
    with pytest.raises(ConversionError) as info:
        to_ir(keras.Model(inp, branch))
    errors = info.value.errors  # TF lowers switch_case to _SwitchN / Merge
    assert {e.op_type for e in errors} & {"Case", "StatelessCase", "Merge"}
    assert all(e.source == "layer branches" and "tf.cond" in str(e) for e in errors)
