"""optimize_transposes on NHWC front-end patterns and elementwise ops: chains collapse to one
Transpose per graph input and output (checks in transpose_helpers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, Role, Value, format_graph
from tests.ir.transpose_helpers import (
    NCHW,
    NHWC,
    SHAPE,
    _const,
    _nhwc_conv,
    _op,
    _residual,
    _t,
    count,
    optimize_checked,
    single,
    transposes_at_the_edges,
)


# ----------------------------------------------------------------------------- CNN chains
def _cnn(g: Graph) -> None:
    x = g.add_input("image", DType.FLOAT, SHAPE)
    h = _op(g, "Relu", _nhwc_conv(g, x, 3, 4, 1))
    h = _op(g, "Add", _nhwc_conv(g, h, 4, 4, 2), _const(g, "bias", np.arange(4) / 4))
    h = _op(g, "Sigmoid", h)
    h = _op(g, "Clip", _nhwc_conv(g, h, 4, 4, 3), _const(g, "lo", 0.1), _const(g, "hi", 0.9))
    g.set_outputs([_op(g, "Mul", _nhwc_conv(g, h, 4, 2, 4), _const(g, "two", 2.0))])


def _cnn_two_outputs(g: Graph) -> None:
    x = g.add_input("image", DType.FLOAT, SHAPE)
    h = _op(g, "LeakyRelu", _nhwc_conv(g, x, 3, 4, 1), alpha=0.1)
    a = _op(g, "Tanh", _nhwc_conv(g, h, 4, 4, 2))
    b = _op(g, "Elu", _nhwc_conv(g, h, 4, 4, 3))
    g.set_outputs([a, _op(g, "Neg", b)])


def _two_branches(g: Graph) -> None:
    """A residual Add of two transposed branches."""
    x = g.add_input("image", DType.FLOAT, SHAPE)
    a = _nhwc_conv(g, x, 3, 4, 1)
    b = _op(g, "Relu", _nhwc_conv(g, x, 3, 4, 2))
    g.set_outputs([_nhwc_conv(g, _op(g, "Add", a, b), 4, 2, 3)])


def _swish(g: Graph) -> None:
    """x * sigmoid(x) between convs: a diamond on the transposed value."""
    x = g.add_input("image", DType.FLOAT, SHAPE)
    h = _nhwc_conv(g, x, 3, 4, 1)
    h = _op(g, "Mul", h, _op(g, "Sigmoid", h))
    g.set_outputs([_nhwc_conv(g, h, 4, 2, 2)])


def _scaled_swish_head(g: Graph) -> None:
    """x * sigmoid(beta * x) (Keras' swish in EfficientNet) before global pooling: the
    Transpose feeds both arms of the diamond and must leave the graph."""
    x = g.add_input("image", DType.FLOAT, SHAPE)
    h = _nhwc_conv(g, x, 3, 4, 1)
    h = _op(g, "Mul", h, _op(g, "Sigmoid", _op(g, "Mul", _const(g, "beta", 1.5), h)))
    axes = g.add_constant("hw", np.array([1, 2], np.int64))
    g.set_outputs([_op(g, "ReduceMean", h, axes, keepdims=0)])


def _concat_cnn(g: Graph) -> None:
    x = g.add_input("image", DType.FLOAT, SHAPE)
    a, b = _nhwc_conv(g, x, 3, 4, 1), _nhwc_conv(g, x, 3, 2, 2)
    g.set_outputs([_nhwc_conv(g, _op(g, "Concat", a, b, axis=-1), 6, 3, 3)])


def _head(g: Graph) -> None:
    """Conv -> global average over H, W (ReduceMean) -> per-class bias -> Softmax."""
    x = g.add_input("image", DType.FLOAT, SHAPE)
    h = _op(g, "Relu", _nhwc_conv(g, x, 3, 4, 1))
    axes = g.add_constant("hw", np.array([1, 2], np.int64))
    pooled = _op(g, "ReduceMean", h, axes, keepdims=0)
    g.set_outputs([_op(g, "Softmax", _op(g, "Add", pooled, _const(g, "b", [1, 2, 3, 4])), axis=-1)])


@dataclass
class Case:
    build: Callable[[Graph], None]
    before: int  # Transposes built
    after: int  # Transposes left


CNN_CASES = {
    "chain": Case(_cnn, 8, 2),
    "fan_out_to_two_outputs": Case(_cnn_two_outputs, 6, 3),
    "residual_blocks": Case(_residual, 8, 2),
    "add_of_two_transposed_branches": Case(_two_branches, 6, 2),
    "swish_diamond": Case(_swish, 4, 2),
    "concat": Case(_concat_cnn, 6, 2),
    "reduce_mean_head": Case(_head, 2, 1),
    "scaled_swish_head": Case(_scaled_swish_head, 2, 1),
}


@pytest.mark.parametrize("name", list(CNN_CASES))
def test_nhwc_cnn_collapses_to_edge_transposes(name: str) -> None:
    case = CNN_CASES[name]
    g = Graph()
    case.build(g)
    assert count(g) == case.before
    report = optimize_checked(g)
    assert count(g) == case.after, format_graph(g)
    assert report.changed > 0 and transposes_at_the_edges(g)


def test_chain_ops_run_in_nchw_and_bias_becomes_per_channel_column() -> None:
    g = Graph()
    _cnn(g)
    optimize_checked(g)
    bias = g.value("bias")  # the re-laid constant keeps its name
    assert bias.shape == (4, 1, 1) and bias.role is Role.CONSTANT
    ops = [n.op_type for n in g.nodes()]
    assert ops == ["Transpose", "Conv", "Relu", "Conv", "Add", "Sigmoid", "Conv", "Clip", "Conv",
                   "Mul", "Transpose"]


def test_concat_axis_is_remapped() -> None:
    g = Graph()
    _concat_cnn(g)
    optimize_checked(g)
    assert single(g, "Concat").attr("axis") == 1


def test_residual_skip_reuses_the_input_transpose() -> None:
    g = Graph()
    _residual(g)
    optimize_checked(g)
    (first,) = [n for n in g.nodes() if n.op_type == "Transpose" and g.node_inputs(n)[0] in g.inputs]
    assert len(g.consumers(g.node_outputs(first)[0])) == 2  # the first conv and the first Add


# ----------------------------------------------------------------------------- elementwise table
UNARY = {
    "Relu": {}, "Sigmoid": {}, "Tanh": {}, "Elu": {"alpha": 0.5}, "LeakyRelu": {"alpha": 0.2},
    "Selu": {}, "Erf": {}, "Exp": {}, "Log": {}, "Abs": {}, "Neg": {}, "Sqrt": {},
    "Reciprocal": {}, "HardSigmoid": {}, "Softplus": {}, "Gelu": {}, "Identity": {},
    "Cast": {"to": int(DType.DOUBLE)}, "Floor": {}, "Sin": {}, "HardSwish": {},
}


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_ops_let_a_transpose_pair_cancel(op: str) -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    g.set_outputs([_t(g, _op(g, op, _t(g, x, NCHW), **UNARY[op]), NHWC)])
    optimize_checked(g)
    assert count(g) == 0 and [n.op_type for n in g.nodes()] == [op]
    assert g.outputs[0].name == "transpose_1"


def _other(kind: str, g: Graph) -> Value:
    """The second operand of a binary op whose first operand is Transpose(x, NCHW)."""
    if kind == "same_transpose":
        return _t(g, g.add_input("y", DType.FLOAT, SHAPE), NCHW)
    data = {"scalar": 1.5, "per_channel": [[[0.5]], [[1.0]], [[2.0]]],  # NCHW [C,1,1]
            "full_rank": np.linspace(0.5, 2, 2 * 3 * 5 * 6).reshape(2, 3, 5, 6),
            "row": np.linspace(0.5, 2, 6)}[kind]  # broadcasts along W
    return _const(g, f"c_{kind}", np.asarray(data))


BINARY = [(op, kind) for op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu")
          for kind in ("same_transpose", "scalar", "per_channel", "full_rank", "row")
          if not (op == "PRelu" and kind == "same_transpose")]


@pytest.mark.parametrize(("op", "kind"), BINARY)
def test_binary_ops_cancel_with_transposed_or_constant_operands(op: str, kind: str) -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    y = _op(g, op, _t(g, x, NCHW), _other(kind, g))
    g.set_outputs([_t(g, y, NHWC)])
    optimize_checked(g)
    assert count(g) == 0


def test_per_channel_parameter_keeps_name_role_and_source() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    bias = _const(g, "dense/bias", [1.0, 2.0, 3.0], role=Role.PARAMETER, source_name="dense/bias:0")
    h = _op(g, "Add", _nhwc_conv(g, x, 3, 3, 1), bias)  # NHWC semantics: bias is per channel
    g.set_outputs([_nhwc_conv(g, h, 3, 2, 2)])
    optimize_checked(g)
    new = g.value("dense/bias")
    assert new.shape == (3, 1, 1) and new.role is Role.PARAMETER and new.source_name == "dense/bias:0"
    assert count(g) == 2


@pytest.mark.parametrize("opset", [11, 21])  # Unsqueeze axes: attribute, then input
def test_computed_per_channel_vector_is_unsqueezed(opset: int) -> None:
    """TF's inference BatchNormalization: x * scale + shift, both computed from named weights
    (which constant folding keeps): not constants, but 1-D, so [C] -> Unsqueeze -> [C,1,1]."""
    g = Graph(opset_imports={"": opset})
    x = g.add_input("x", DType.FLOAT, SHAPE)
    gamma = _const(g, "bn/gamma", [1.0, 2.0, 3.0], role=Role.PARAMETER, source_name="bn/gamma")
    var = _const(g, "bn/var", [0.5, 1.0, 2.0], role=Role.BUFFER, source_name="bn/moving_variance")
    scale = _op(g, "Mul", _op(g, "Reciprocal", _op(g, "Sqrt", var)), gamma)
    h = _op(g, "Add", _op(g, "Mul", _nhwc_conv(g, x, 3, 3, 1), scale), _op(g, "Neg", gamma))
    g.set_outputs([_nhwc_conv(g, h, 3, 2, 2)])
    optimize_checked(g)
    assert count(g) == 2 and count(g, "Unsqueeze") == 2
    assert all(g.node_outputs(n)[0].shape == (3, 1, 1) for n in g.nodes() if n.op_type == "Unsqueeze")


def test_comparison_and_where_and_variadic() -> None:
    g = Graph()
    a, b = (g.add_input(n, DType.FLOAT, SHAPE) for n in ("a", "b"))
    ta, tb = _t(g, a, NCHW), _t(g, b, NCHW)
    cond = _op(g, "Greater", ta, _const(g, "one", 1.2))
    w = _op(g, "Where", cond, ta, tb)
    s = _op(g, "Sum", w, ta, _const(g, "ch", [[[1.0]], [[2.0]], [[3.0]]]))
    g.set_outputs([_t(g, s, NHWC), _t(g, _op(g, "Equal", ta, tb), NHWC)])
    optimize_checked(g)
    assert count(g) == 0


@pytest.mark.parametrize("shape", [(3, 1, 1), (1, 3, 1, 1), (3, 2, 1)])
def test_shared_named_weight_is_relaid_by_ops_not_copied(shape):
    """A parameter read inside an NHWC sandwich and, as it is, by another op (a Keras layer
    applied twice): pushing the Transpose must not leave an anonymous re-laid-out copy (a
    second, frozen tensor in a migrated model); the weight keeps one identity."""
    from tensorbridge.ir import verify
    from tensorbridge.ir.passes.transpose import optimize_transposes
    from tensorbridge.runtime.session import Session
    from tests.ir import pass_harness as H

    g = Graph("shared", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (1, 2, 1, 3) if shape == (3, 2, 1) else (1, 2, 2, 3))
    z = g.add_input("z", DType.FLOAT, (1, 3, 2, 1) if shape == (3, 2, 1) else (1, 3, 2, 2))
    w = g.add_constant("w", np.arange(1, 1 + np.prod(shape), dtype=np.float32).reshape(shape),
                       role=Role.PARAMETER, source_name="layer/w")
    y = _t(g, _op(g, "Mul", _t(g, x, NCHW), w), NHWC)
    g.set_outputs([y, _op(g, "Sub", z, w)])
    rng = np.random.default_rng(0)
    feeds = {v.name: rng.standard_normal(v.shape).astype(np.float32) for v in g.inputs}
    expected = Session(g).run(feeds)
    assert H.check(H.PASSES["optimize_transposes"], g, feeds) is None
    optimize_transposes(g)
    verify(g)
    assert [v.name for v in g.initializers() if v.dtype is DType.FLOAT] == ["w"], format_graph(g)
    assert count(g, "Transpose") <= 1
    for a, b in zip(Session(g).run(feeds), expected):
        np.testing.assert_array_equal(a, b)
