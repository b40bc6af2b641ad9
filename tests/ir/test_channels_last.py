"""The channels-last rewrite (ir/passes/channels_last.py) on its own: a small NCHW CNN's
Conv / BatchNormalization / pooling become tensorbridge.nhwc twins, the transpose pass then
leaves one Transpose at the input and one before the flatten, weights keep their names and
roles (re-laid out as (k..., I, O)), and the graph verifies. Numerics of the rewritten graph
are checked through the TensorFlow emitter in tests/converters/test_migrate_*.py."""

from __future__ import annotations

from collections import Counter

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Role
from tensorbridge.ir.passes.channels_last import DOMAIN, to_channels_last
from tensorbridge.ir.passes.fold_constants import fold_constants
from tensorbridge.ir.passes.transpose import optimize_transposes
from tensorbridge.ir.verify import verify
from tensorbridge.runtime.evaluate import evaluate_node

RNG = np.random.default_rng(0)


def _cnn() -> Graph:
    g = Graph("cnn", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, ("batch", 3, 8, 8))

    def param(name: str, *shape: int) -> object:
        return g.add_constant(name, RNG.standard_normal(shape).astype(np.float32), role=Role.PARAMETER,
                              source_name=name)

    [y] = g.add_op("Conv", [x, param("conv.weight", 4, 3, 3, 3), param("conv.bias", 4)], {"pads": [1, 1, 1, 1]})
    [y] = g.add_op("BatchNormalization", [y, param("bn.weight", 4), param("bn.bias", 4),
                                          param("bn.mean", 4), param("bn.var", 4)])
    [y] = g.add_op("Relu", [y])
    [y] = g.add_op("MaxPool", [y], {"kernel_shape": [2, 2], "strides": [2, 2]})
    [y] = g.add_op("Conv", [y, param("conv2.weight", 6, 4, 3, 3)], {"group": 1})
    [y] = g.add_op("Flatten", [y])
    g.set_outputs([y])
    return g


def test_cnn_goes_channels_last_with_two_transposes():
    g = _cnn()
    out_name = g.outputs[0].name
    report = to_channels_last(g)
    assert report.changed == 4
    fold_constants(g, evaluate_node)
    optimize_transposes(g)
    verify(g)
    ops = Counter((n.domain, n.op_type) for n in g.nodes())
    assert ops[(DOMAIN, "Conv")] == 2 and ops[(DOMAIN, "BatchNormalization")] == 1
    assert ops[(DOMAIN, "MaxPool")] == 1 and ops[("", "Transpose")] == 2, ops
    w = g.value("conv.weight")
    assert w.role is Role.PARAMETER and w.source_name == "conv.weight" and w.shape == (3, 3, 3, 4)
    assert g.outputs[0].name == out_name


def test_unknown_rank_is_left_alone():
    g = Graph("pool", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, None)
    [y] = g.add_op("GlobalAveragePool", [x])
    g.set_outputs([y])
    assert to_channels_last(g).changed == 0
    verify(g)


def test_twin_schemas_do_not_depend_on_the_first_graph_opset():
    """The twins follow each graph's own ai.onnx opset (ir/schemas.py; nothing process-wide):
    AveragePool's dilations verify at opset 20 and not at 13, whichever graph came first."""
    from tensorbridge.ir import schemas

    for opset in (20, 13):
        assert ("dilations" in schemas.get_schema("AveragePool", DOMAIN, opset).attributes) == (opset >= 19)
        g = Graph("pool", opset_imports={"": opset})
        x = g.add_input("x", DType.FLOAT, (1, 2, 6, 6))
        attrs = {"kernel_shape": [2, 2], **({"dilations": [2, 2]} if opset >= 19 else {})}
        [y] = g.add_op("AveragePool", [x], attrs)
        g.set_outputs([y])
        assert to_channels_last(g).changed == 1
        assert g.opset_imports[DOMAIN] == opset
        verify(g)


def test_rank_through_untyped_values_is_the_data_rank():
    """BatchNormalization after a depthwise conv and a (C, 1, 1) bias Add, nothing typed: the
    data rank is 4, not the bias' 3 (the rank search took the larger of the Add's operand
    ranks even when one of them was unknown)."""
    from tests.ir import pass_harness as H

    g = Graph("dw_bn", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (1, 2, 5, 4))

    def param(name: str, *shape: int) -> object:
        return g.add_constant(name, RNG.standard_normal(shape).astype(np.float32), role=Role.PARAMETER,
                              source_name=name)

    [y] = g.add_op("Conv", [x, param("dw.weight", 4, 1, 1, 1)], {"group": 2, "strides": [2, 2]})
    [y] = g.add_op("Add", [y, param("dw.bias", 4, 1, 1)])
    var = g.add_constant("bn.var", np.ones(4, np.float32), role=Role.BUFFER, source_name="bn.var")
    [y] = g.add_op("BatchNormalization", [y, param("bn.weight", 4), param("bn.bias", 4), param("bn.mean", 4), var])
    g.set_outputs([y])
    feeds = {"x": RNG.standard_normal((1, 2, 5, 4)).astype(np.float32)}
    assert H.check(H.PASSES["to_channels_last"], g, feeds) is None
    to_channels_last(g)
    bn = next(n for n in g.nodes() if n.op_type == "BatchNormalization")
    assert bn.domain == DOMAIN and list(g.producer(g.node_inputs(bn)[0]).attr("perm")) == [0, 2, 3, 1]
