"""remove_no_ops (ir/passes/simplify.py) on its own: no-ops go, graph outputs keep their
names, and Transpose(Unsqueeze(v)) becomes one Unsqueeze only when the Transpose moves the
inserted 1s alone -- decided on the axes, not on shapes that happen to be equal."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, TensorType, Value, verify
from tensorbridge.ir.passes.simplify import remove_no_ops
from tensorbridge.runtime.session import Session

RNG = np.random.default_rng(0)


def _t(dims: tuple[int, ...]) -> TensorType:
    return TensorType(DType.FLOAT, dims)


def _unsqueeze_transpose(v_shape: tuple[int, ...], axes: list[int], perm: list[int]) -> Graph:
    g = Graph("ut", opset_imports={"": 20})
    v = g.add_input("v", DType.FLOAT, v_shape)
    u_shape = list(v_shape)
    for a in sorted(axes):
        u_shape.insert(a, 1)
    [u] = g.add_op("Unsqueeze", [v, g.add_constant("axes", np.array(axes, np.int64))],
                   output_types=[_t(tuple(u_shape))])
    [y] = g.add_op("Transpose", [u], {"perm": perm}, output_types=[_t(tuple(u_shape[p] for p in perm))])
    g.set_outputs([g.add_op("Relu", [y])[0]])
    return g


@pytest.mark.parametrize(("v_shape", "axes", "perm", "rewritten"), [
    ((3, 4), [1, 2], [0, 3, 1, 2], True),  # squeeze-excite: (N, 1, 1, C) -> (N, C, 1, 1)
    ((4, 4, 4), [0], [0, 3, 1, 2], False),  # relative-position bias, heads == tokens: data moves
    ((2, 2), [0], [0, 2, 1], False),  # a square transpose behind an inserted 1
    ((2, 3), [0], [1, 0, 2], True),  # only the 1 moves
])
def test_transposed_unsqueeze(v_shape, axes, perm, rewritten):
    g = _unsqueeze_transpose(v_shape, axes, perm)
    data = RNG.standard_normal(v_shape).astype(np.float32)
    expected = Session(g).run([data])[0]
    remove_no_ops(g)
    verify(g)
    ops = [n.op_type for n in g.nodes()]
    assert ops == (["Unsqueeze", "Relu"] if rewritten else ["Unsqueeze", "Transpose", "Relu"]), ops
    np.testing.assert_array_equal(Session(g).run([data])[0], expected)


def test_unsqueeze_that_is_a_graph_output_stays():
    g = _unsqueeze_transpose((3, 4), [1, 2], [0, 3, 1, 2])
    g.set_outputs([*g.outputs, g.value("unsqueeze")])
    remove_no_ops(g)
    verify(g)
    assert [n.op_type for n in g.nodes()] == ["Unsqueeze", "Transpose", "Relu"]


def _no_op_graph() -> tuple[Graph, Value]:
    g = Graph("noops", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    y = g.add_op("Identity", [x])[0]
    y = g.add_op("Cast", [y], {"to": int(DType.FLOAT)}, output_types=[_t((2, 3))])[0]
    y = g.add_op("Transpose", [y], {"perm": [0, 1]}, output_types=[_t((2, 3))])[0]
    y = g.add_op("Reshape", [y, g.add_constant("s", np.array([2, 3]))], output_types=[_t((2, 3))])[0]
    y = g.add_op("Dropout", [y])[0]
    out = g.add_op("Identity", [y])[0]  # a graph output: keeps its op and name
    g.set_outputs([out])
    return g, x


def test_no_ops_go_and_outputs_keep_their_names():
    g, _ = _no_op_graph()
    data = RNG.standard_normal((2, 3)).astype(np.float32)
    assert remove_no_ops(g).changed == 5
    verify(g)
    assert [n.op_type for n in g.nodes()] == ["Identity"] and g.outputs[0].name == "identity_1"
    np.testing.assert_array_equal(Session(g).run([data])[0], data)
