"""Dead-code and common-subexpression elimination, numerically checked on the runtime."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir import DType, Graph, Role, verify
from tensorbridge.ir.passes import eliminate_common_subexpressions, eliminate_dead_code
from tensorbridge.runtime.session import Session


def _graph() -> Graph:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (3,))
    c1 = g.add_constant("c1", np.array([1, 2, 3], np.float32))
    c2 = g.add_constant("c2", np.array([1, 2, 3], np.float32))
    g.add_constant("unused_weight", np.zeros(5, np.float32), role=Role.PARAMETER, source_name="w")
    a = g.add_op("Add", [x, c1])[0]
    b = g.add_op("Add", [x, c2])[0]
    dead = g.add_op("Exp", [a])[0]
    g.add_op("Neg", [dead])
    s = g.add_op("Mul", [a, b])[0]
    g.set_outputs([s])
    return g


def test_dce_removes_dead_ops_and_unused_initializers():
    g = _graph()
    x = np.array([0.5, -1.0, 2.0], np.float32)
    before = Session(g).run([x])[0]
    report = eliminate_dead_code(g)
    verify(g)
    assert report.changed == 3 and [n.op_type for n in g.nodes()] == ["Add", "Add", "Mul"]
    assert not g.has_value("unused_weight")
    np.testing.assert_array_equal(Session(g).run([x])[0], before)
    assert eliminate_dead_code(g).changed == 0


def test_cse_merges_equal_constants_and_ops():
    g = _graph()
    x = np.array([0.5, -1.0, 2.0], np.float32)
    expected = (x + np.array([1, 2, 3], np.float32)) ** 2
    report = eliminate_common_subexpressions(g)
    eliminate_dead_code(g)
    verify(g)
    assert report.changed == 2  # c2 into c1, second Add into the first
    assert [n.op_type for n in g.nodes()] == ["Add", "Mul"]
    np.testing.assert_allclose(Session(g).run([x])[0], expected)


def test_cse_leaves_random_ops_alone():
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (3,))
    a = g.add_op("RandomUniformLike", [x])[0]
    b = g.add_op("RandomUniformLike", [x])[0]
    g.set_outputs([g.add_op("Sub", [a, b])[0]])
    assert eliminate_common_subexpressions(g).changed == 0


def test_reshape_inserting_ones_and_its_transpose_become_one_unsqueeze():
    """Keras' squeeze-excite: pooled (N, C) -> Reshape (N, 1, 1, C) -> Transpose to NCHW is
    Unsqueeze at axes (2, 3); numbers unchanged."""
    import numpy as np

    from tensorbridge.ir.dtypes import DType
    from tensorbridge.ir.graph import Graph
    from tensorbridge.ir.passes.simplify import remove_no_ops
    from tensorbridge.ir.types import TensorType
    from tensorbridge.ir.verify import verify
    from tensorbridge.runtime.session import Session

    g = Graph("se", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, ("batch", 4))
    shape = g.add_constant("shape", np.array([-1, 1, 1, 4], np.int64))
    [r] = g.add_op("Reshape", [x, shape], output_types=[TensorType(DType.FLOAT, ("batch", 1, 1, 4))])
    [t] = g.add_op("Transpose", [r], {"perm": [0, 3, 1, 2]}, output_types=[TensorType(DType.FLOAT, ("batch", 4, 1, 1))])
    [y] = g.add_op("Relu", [t])
    g.set_outputs([y])
    data = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    expected = Session(g).run([data])[0]
    remove_no_ops(g)
    verify(g)
    ops = [n.op_type for n in g.nodes()]
    assert ops == ["Unsqueeze", "Relu"], ops
    np.testing.assert_array_equal(Session(g).run([data])[0], expected)


def test_cse_never_merges_named_weights():
    """Equal data is not the same weight: parameters, buffers and tensors with a source key
    keep their identity (merging three zero conv biases tied them in a migrated model);
    only anonymous constants merge."""
    import numpy as np

    g = Graph()
    x = g.add_input("x", DType.FLOAT, (3,))
    zeros = np.zeros(3, np.float32)
    weights = [g.add_constant("a.bias", zeros, role=Role.PARAMETER, source_name="a.bias"),
               g.add_constant("b.bias", zeros, role=Role.PARAMETER, source_name="b.bias"),
               g.add_constant("c.mean", zeros, role=Role.BUFFER, source_name="c.mean"),
               g.add_constant("d.const", zeros, source_name="d.const"),  # a lifted tensor constant
               g.add_constant("anon1", zeros), g.add_constant("anon2", zeros)]
    y = x
    for w in weights:
        y = g.add_op("Add", [g.add_op("Relu", [y])[0], w])[0]
    g.set_outputs([y])
    report = eliminate_common_subexpressions(g)
    verify(g)
    assert report.details == ["merged constant anon2 into anon1"]
    assert all(g.has_value(n) for n in ("a.bias", "b.bias", "c.mean", "d.const"))
