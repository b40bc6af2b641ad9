"""fold_constants on its own: ops reading only anonymous constants become constants (the
runtime's kernels compute them); named weights are re-laid out in place (name, role and
source key kept) only by their sole layout op, never folded into anonymous tensors; graph
outputs, random ops and results much larger than their inputs stay computed."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir import DType, Graph, Role, verify
from tensorbridge.ir.passes.fold_constants import fold_constants
from tensorbridge.runtime.evaluate import evaluate_node
from tensorbridge.runtime.session import Session


def _run(g: Graph, *feeds: np.ndarray) -> list[np.ndarray]:
    return Session(g, fuse=False).run(list(feeds))


def test_constant_chain_folds_to_one_constant():
    g = Graph("chain", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    a = g.add_constant("a", np.arange(6, dtype=np.float32).reshape(3, 2))
    t = g.add_op("Transpose", [a], {"perm": [1, 0]})[0]
    s = g.add_op("Add", [t, g.add_constant("one", np.float32(1.0))])[0]
    g.set_outputs([g.add_op("Mul", [x, s])[0]])
    feed = np.ones((2, 3), np.float32)
    before = _run(g, feed)
    report = fold_constants(g, evaluate_node)
    verify(g)
    assert report.changed == 2 and [n.op_type for n in g.nodes()] == ["Mul"]
    np.testing.assert_array_equal(_run(g, feed)[0], before[0])
    assert fold_constants(g, evaluate_node).changed == 0


def test_static_shape_query_folds_symbolic_does_not():
    g = Graph("shape", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3, 4))
    y = g.add_input("y", DType.FLOAT, ("batch", 3))
    s = g.add_op("Shape", [x], {"start": 1})[0]
    r = g.add_op("Reshape", [x, g.add_op("Concat", [g.add_constant("m1", np.array([-1])), s], {"axis": 0})[0]])[0]
    n = g.add_op("Size", [y])[0]
    g.set_outputs([r, n])
    fold_constants(g, evaluate_node)
    verify(g)
    assert sorted(n.op_type for n in g.nodes()) == ["Reshape", "Size"]
    out = _run(g, np.zeros((2, 3, 4), np.float32), np.zeros((5, 3), np.float32))
    assert out[0].shape == (2, 3, 4) and out[1] == 15


def test_named_weight_is_relaid_in_place_only_by_its_sole_layout_op():
    g = Graph("weights", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    w = g.add_constant("fc.weight", np.arange(12, dtype=np.float32).reshape(4, 3), role=Role.PARAMETER,
                       source_name="fc.weight")
    wt = g.add_op("Transpose", [w], {"perm": [1, 0]})[0]
    y = g.add_op("MatMul", [x, wt])[0]
    shared = g.add_constant("shared", np.ones(3, np.float32), role=Role.BUFFER, source_name="shared")
    z = g.add_op("Add", [x, g.add_op("Neg", [shared])[0]])[0]  # not a layout op: stays
    g.set_outputs([y, g.add_op("Mul", [z, shared])[0]])
    feed = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = _run(g, feed)
    fold_constants(g, evaluate_node)
    verify(g)
    w = g.value("fc.weight")
    assert w.role is Role.PARAMETER and w.source_name == "fc.weight" and w.shape == (3, 4)
    assert sorted(n.op_type for n in g.nodes()) == ["Add", "MatMul", "Mul", "Neg"]
    for a, b in zip(_run(g, feed), before):
        np.testing.assert_array_equal(a, b)


def test_outputs_random_ops_and_big_results_stay():
    g = Graph("kept", opset_imports={"": 20})
    c = g.add_constant("c", np.ones(4, np.float32))
    out = g.add_op("Neg", [c])[0]  # a graph output: keeps its op (and name)
    shape = g.add_constant("shape", np.array([2048, 2048], np.int64))
    big = g.add_op("Expand", [g.add_constant("one", np.float32(1.0)), shape])[0]  # 16 MB from 4 bytes
    rnd = g.add_op("RandomUniformLike", [c])[0]
    g.set_outputs([out, g.add_op("ReduceSum", [big], {"keepdims": 0})[0], rnd])
    assert fold_constants(g, evaluate_node).changed == 0
    verify(g)


def test_a_kernel_error_leaves_the_op_for_run_time():
    g = Graph("bad", opset_imports={"": 20})
    a = g.add_constant("a", np.ones((2, 3), np.float32))
    b = g.add_constant("b", np.ones((4, 5), np.float32))
    x = g.add_input("x", DType.FLOAT, (1,))
    g.set_outputs([g.add_op("Add", [x, g.add_op("MatMul", [a, b])[0]])[0]])
    assert fold_constants(g, evaluate_node).changed == 0
