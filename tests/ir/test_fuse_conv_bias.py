"""fuse_conv_bias: a per-channel Add after a bias-less Conv becomes the Conv's bias (same
numbers, the weight's name and role kept); other Adds are left alone."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Role
from tensorbridge.ir.passes.fold_constants import fold_constants
from tensorbridge.ir.passes.fuse_conv_bias import fuse_conv_bias
from tensorbridge.ir.verify import verify
from tensorbridge.runtime.evaluate import evaluate_node
from tensorbridge.runtime.session import Session

RNG = np.random.default_rng(0)


def _graph(bias_shape: tuple[int, ...]) -> Graph:
    g = Graph("conv_bias", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3, 6, 6))
    w = g.add_constant("conv.weight", RNG.standard_normal((4, 3, 3, 3)).astype(np.float32))
    b = g.add_constant("conv.bias", RNG.standard_normal(bias_shape).astype(np.float32), role=Role.PARAMETER,
                       source_name="conv/bias")
    [y] = g.add_op("Conv", [x, w], {"pads": [1, 1, 1, 1]})
    [y] = g.add_op("Add", [y, b])
    g.set_outputs([y])
    return g


@pytest.mark.parametrize(("shape", "fused"), [((4, 1, 1), True), ((1, 4, 1, 1), True), ((6,), False),
                                              ((1, 4, 6, 1), False)])
def test_per_channel_add_becomes_the_bias(shape, fused):
    g = _graph(shape)
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    expected = Session(g).run([x])[0]
    out_name = g.outputs[0].name
    assert fuse_conv_bias(g).changed == int(fused)
    fold_constants(g, evaluate_node)
    verify(g)
    np.testing.assert_allclose(Session(g).run([x])[0], expected, rtol=1e-6, atol=1e-6)
    assert g.outputs[0].name == out_name
    if fused:
        assert [n.op_type for n in g.nodes()] == ["Conv"]
        bias = g.value("conv.bias")
        assert bias.shape == (4,) and bias.role is Role.PARAMETER and bias.source_name == "conv/bias"


@pytest.mark.parametrize(("pads", "value", "fused"), [
    ([0, 0, 1, 2, 0, 0, 3, 1], 0.0, True),   # spatial only, asymmetric
    ([0, 1, 1, 1, 0, 0, 1, 1], 0.0, False),  # pads the channels too
    ([0, 0, 1, 1, 0, 0, 1, 1], 1.0, False),  # not zero
])
def test_zero_pad_folds_into_the_conv(pads, value, fused):
    from tensorbridge.ir.passes.fuse_pad import fuse_pad_into_conv

    g = Graph("pad_conv", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3, 6, 6))
    p = g.add_constant("pads", np.array(pads, np.int64))
    v = g.add_constant("value", np.array(value, np.float32))
    w = g.add_constant("conv.weight", RNG.standard_normal((4, 3 + pads[1] + pads[5], 3, 3)).astype(np.float32))
    [y] = g.add_op("Pad", [x, p, v])
    [y] = g.add_op("Conv", [y, w], {"pads": [1, 1, 1, 1], "strides": [2, 2]})
    g.set_outputs([y])
    data = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    expected = Session(g).run([data])[0]
    assert fuse_pad_into_conv(g).changed == int(fused)
    verify(g)
    np.testing.assert_allclose(Session(g).run([data])[0], expected, rtol=1e-5, atol=1e-5)
    assert [n.op_type for n in g.nodes()] == (["Conv"] if fused else ["Pad", "Conv"])


def test_nhwc_zero_pad_folds_through_the_layout_transpose():
    from tensorbridge.ir.passes.fuse_pad import fuse_pad_into_conv

    g = Graph("pad_t_conv", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 6, 6, 3))
    p = g.add_constant("pads", np.array([0, 3, 2, 0, 0, 1, 3, 0], np.int64))
    w = g.add_constant("conv.weight", RNG.standard_normal((4, 3, 3, 3)).astype(np.float32))
    [y] = g.add_op("Pad", [x, p])
    [y] = g.add_op("Transpose", [y], {"perm": [0, 3, 1, 2]})
    [y] = g.add_op("Conv", [y, w], {"strides": [2, 2]})
    g.set_outputs([y])
    data = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32)
    expected = Session(g).run([data])[0]
    assert fuse_pad_into_conv(g).changed == 1
    verify(g)
    assert [n.op_type for n in g.nodes()] == ["Transpose", "Conv"]
    np.testing.assert_allclose(Session(g).run([data])[0], expected, rtol=1e-5, atol=1e-5)
